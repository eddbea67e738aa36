//! The command line: `lapor serve | migrate | keys | peers | federation | bench | config`. This file parses
//! and dispatches; each command lives in its own file.

mod bench;
mod bench_stats;
mod federation;
mod keys;
mod peers;
mod serve;

pub use federation::{status_text, FederationAction};
pub use keys::KeysAction;
pub use peers::PeersAction;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::domain::SystemClock;
use crate::node::Node;
use crate::storage;

/// Federated SP4N-LAPOR! node.
#[derive(Debug, Parser)]
#[command(name = "lapor", version, about)]
pub struct Cli {
    /// Configuration file (default: ./lapor.toml when it exists).
    #[arg(long, short, global = true, env = "LAPOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node (embedded SQLite under ./lapor-data unless configured otherwise).
    Serve {
        /// Address to listen on (overrides http.listen).
        #[arg(long, env = "LAPOR_LISTEN")]
        listen: Option<SocketAddr>,
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate {
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// This node's keys.
    Keys {
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Peer nodes.
    Peers {
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: PeersAction,
    },
    /// Sync state.
    Federation {
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: FederationAction,
    },
    /// Measure federation ingest (verify + store + apply) against the raw ed25519 verify rate.
    Bench {
        /// Events per run.
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        /// Database: `sqlite` (a temporary file) or a `postgres://` URL to create a scratch database next to.
        #[arg(long, default_value = "sqlite")]
        database: String,
        /// Instead of ingest: load this many reports with realistic timelines and time the statistics (one
        /// agency's dashboard, the national monthly recap, the public page) beside the 50 ms target.
        #[arg(long)]
        stats: Option<usize>,
    },
    /// Print the example configuration, or check one.
    Config {
        /// `example` or `check`.
        #[command(subcommand)]
        action: ConfigAction,
    },
}

/// `lapor config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the documented default configuration.
    Example,
    /// Load the configuration (file and environment) and report problems.
    Check,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lapor: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // The example is the documented defaults: it must not depend on (or fail because of) a local config.
    if let Command::Config {
        action: ConfigAction::Example,
    } = cli.command
    {
        print!("{}", Config::example()?);
        return Ok(());
    }
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config {
            action: ConfigAction::Example,
        } => unreachable!("handled above"),
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let url = config.database_url()?;
            println!(
                "configuration is valid; node {} ({}), database {}",
                config.node.id,
                config.node.code,
                storage::redact_url(&url)
            );
            Ok(())
        }
        Command::Migrate { data_dir } => {
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            init_tracing(&config);
            runtime()?.block_on(async {
                let store = storage::open(&config.database_url()?).await?;
                store.migrate().await?;
                println!("migrations applied ({})", store.backend());
                Ok(())
            })
        }
        Command::Keys { data_dir, action } => {
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            runtime()?.block_on(keys::run(config, action))
        }
        Command::Peers { data_dir, action } => {
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            runtime()?.block_on(peers::run(config, action))
        }
        Command::Federation { data_dir, action } => {
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            runtime()?.block_on(federation::run(config, action))
        }
        Command::Bench {
            events,
            database,
            stats: Some(n),
        } => {
            let _ = events;
            runtime()?.block_on(bench_stats::run(n, &database))
        }
        Command::Bench {
            events, database, ..
        } => runtime()?.block_on(bench::run(events, &database)),
        Command::Serve { listen, data_dir } => {
            if let Some(l) = listen {
                config.http.listen = l;
            }
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            init_tracing(&config);
            runtime()?.block_on(serve::run(config))
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Opens the node a command works on: its database (migrated) and its keys, without serving.
async fn open_node(config: Config) -> anyhow::Result<Node> {
    let url = config.database_url()?;
    let store = storage::open(&url)
        .await
        .with_context(|| format!("opening {}", storage::redact_url(&url)))?;
    let node = Node::new(config, store, Arc::new(SystemClock))?;
    node.init().await.context("initialising storage")?;
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
