#![doc = include_str!("../README.md")]

pub mod attachments;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod service;
pub mod storage;
pub mod tasks;
pub mod web;
pub mod workers;
