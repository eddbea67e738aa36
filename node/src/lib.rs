#![doc = include_str!("../README.md")]

pub mod app;
pub mod attachments;
pub mod cli;
pub mod config;
pub mod domain;
pub mod federation;
pub mod http;
pub mod node;
pub mod routing;
pub mod stats;
pub mod storage;
pub mod tasks;
pub mod web;
pub mod workers;
