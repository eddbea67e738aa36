#![doc = include_str!("../README.md")]

pub mod attachments;
pub mod bench;
pub mod cli;
pub mod cli_fed;
pub mod config;
pub mod domain;
pub mod federation;
pub mod http;
pub mod routing;
pub mod service;
pub mod storage;
pub mod tasks;
pub mod web;
pub mod workers;
