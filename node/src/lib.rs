#![doc = include_str!("../README.md")]

pub mod app;
pub mod attachments;
pub mod backup;
pub mod channels;
pub mod cli;
pub mod config;
pub mod domain;
pub mod federation;
pub mod http;
pub mod leases;
pub mod lock;
pub mod node;
pub mod notify;
pub mod open311;
pub mod routing;
pub mod stats;
pub mod storage;
pub mod tasks;
pub mod web;
pub mod workers;

/// This build's version and git commit, as `lapor --version` prints it (e.g. `0.1.0 (a1b2c3d4e5f6)`; `unknown`
/// when built outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LAPOR_GIT_COMMIT"),
    ")"
);
