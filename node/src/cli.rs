//! The command line: `lapor serve | migrate | config`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::domain::SystemClock;
use crate::service::App;
use crate::{http, storage, workers};

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
        action: crate::cli_fed::KeysAction,
    },
    /// Peer nodes.
    Peers {
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: crate::cli_fed::PeersAction,
    },
    /// Sync state.
    Federation {
        /// Data directory (overrides node.data_dir).
        #[arg(long, env = "LAPOR_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        action: crate::cli_fed::FederationAction,
    },
    /// Measure federation ingest (verify + store + apply) against the raw ed25519 verify rate.
    Bench {
        /// Events per run.
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        /// Database: `sqlite` (a temporary file) or a `postgres://` URL to create a scratch database next to.
        #[arg(long, default_value = "sqlite")]
        database: String,
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
            runtime()?.block_on(crate::cli_fed::keys(config, action))
        }
        Command::Peers { data_dir, action } => {
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            runtime()?.block_on(crate::cli_fed::peers(config, action))
        }
        Command::Federation { data_dir, action } => {
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            runtime()?.block_on(crate::cli_fed::federation(config, action))
        }
        Command::Bench { events, database } => {
            runtime()?.block_on(crate::bench::run(events, &database))
        }
        Command::Serve { listen, data_dir } => {
            if let Some(l) = listen {
                config.http.listen = l;
            }
            if let Some(d) = data_dir {
                config.node.data_dir = d;
            }
            init_tracing(&config);
            runtime()?.block_on(serve(config))
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let url = config.database_url()?;
    tracing::info!(database = %storage::redact_url(&url), node.id = %config.node.id, "opening storage");
    let store = storage::open(&url)
        .await
        .with_context(|| format!("opening {}", storage::redact_url(&url)))?;
    let listen = config.http.listen;
    let app = App::new(config, store, Arc::new(SystemClock))?;
    let bootstrap = app
        .init()
        .await
        .map_err(|e| anyhow::anyhow!("initialising storage: {e}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    println!(
        "LAPOR! node `{}` listening on http://{addr}/ ({})",
        app.config.node.id,
        app.store.backend()
    );
    if let Some(secret) = bootstrap {
        println!(
            "\nNo account exists yet. Create the first admin with this one-time bootstrap secret:\n\n  \
             curl -X POST http://{addr}/api/v1/auth/bootstrap -H 'content-type: application/json' \\\n    \
             -d '{{\"secret\":\"{secret}\",\"username\":\"admin\",\"password\":\"<choose one, 10+ chars>\",\"display_name\":\"Admin\"}}'\n\n\
             The secret works once and is replaced at every start until an account exists.\n"
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    workers::start_deadline_worker(app.clone(), stop_rx);
    workers::start_federation(&app);
    axum::serve(listener, http::router(app))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
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
