//! The command line: `lapor serve | migrate | backup | restore | backup-key | keys | peers | federation | open311 | bench |
//! config`. This file parses
//! and dispatches; each command lives in its own file.

mod backup;
mod bench;
mod federation;
mod keys;
mod open311;
mod peers;
mod serve;

pub use federation::{status_text, FederationAction};
pub use keys::KeysAction;
pub use open311::Open311Action;
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
#[command(name = "lapor", version = crate::VERSION, about)]
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
    /// Write a backup of the database, keys and attachments (mode 0600), optionally encrypted.
    Backup {
        /// The backup file to write (must not exist).
        #[arg(long, short)]
        out: PathBuf,
        /// Encrypt to this operator public key (64 hex digits, from `lapor backup-key`).
        #[arg(long)]
        encrypt_to: Option<String>,
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Restore a backup into this node's database and data directory; refuses while the node runs.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// The operator's secret key file, for an encrypted backup.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Generate an operator key pair for encrypted backups (secret into a file, public key printed).
    BackupKey {
        /// Where to write the secret key (mode 0600; keep it off the node).
        #[arg(long, short)]
        out: PathBuf,
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
    /// Open311 GeoReport v2: API keys of client apps.
    Open311 {
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: Open311Action,
    },
    /// The benchmark suite: each part prints its figures beside the machine's limits measured in the same run.
    Bench {
        /// Which part.
        #[command(subcommand)]
        part: bench::Part,
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
    /// Load the configuration (file and environment) and every file it names, and report problems.
    Check,
    /// Print every key with its default, environment variable and meaning.
    Keys {
        /// As a Markdown table (what docs/OPERATIONS.md holds).
        #[arg(long)]
        markdown: bool,
    },
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

/// Logs go to standard error (standard output carries what commands print), in colour only on a terminal, as
/// JSON lines with `log.format = "json"`.
fn init_tracing(config: &Config) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "json" {
        builder.json().with_ansi(false).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
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
    if let Command::Config {
        action: ConfigAction::Keys { markdown },
    } = &cli.command
    {
        let table = Config::keys_markdown()?;
        if *markdown {
            print!("{table}");
        } else {
            // The same rows without the Markdown decoration.
            for line in table.lines().skip(2) {
                let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
                println!("{}", cells.join("\t").replace('`', ""));
            }
        }
        return Ok(());
    }
    if let Command::BackupKey { out } = &cli.command {
        return backup::keygen(out);
    }
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config {
            action: ConfigAction::Example | ConfigAction::Keys { .. },
        }
        | Command::BackupKey { .. } => unreachable!("handled above"),
        Command::Backup {
            out,
            encrypt_to,
            data_dir,
        } => {
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            backup::backup(&config, &out, encrypt_to.as_deref())
        }
        Command::Restore {
            file,
            key,
            data_dir,
        } => {
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            runtime()?.block_on(backup::restore(&config, &file, key.as_deref()))
        }
        Command::Config {
            action: ConfigAction::Check,
        } => {
            config.check_files()?;
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
        Command::Open311 { data_dir, action } => {
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            runtime()?.block_on(open311::run(config, action))
        }
        Command::Bench { part } => runtime()?.block_on(bench::run(part)),
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
