//! `lapor serve`: opens storage, builds the application, prints the bootstrap secret while no account
//! exists, starts the workers and serves HTTP until SIGTERM or SIGINT.

use std::sync::Arc;

use anyhow::Context;

use crate::app::App;
use crate::config::Config;
use crate::domain::SystemClock;
use crate::{http, storage, workers};

/// Runs the node until SIGTERM or SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Every configuration problem before anything is created: no data directory or keys for a node that
    // cannot start.
    config.check_files()?;
    let url = config.database_url()?;
    std::fs::create_dir_all(&config.node.data_dir)
        .with_context(|| format!("creating node.data_dir {}", config.node.data_dir.display()))?;
    // Held until the process ends: `lapor restore` and a second `serve` on this directory refuse meanwhile.
    // On PostgreSQL several processes of one node may share the directory (docs/OPERATIONS.md, "Several hub
    // processes"); the workers that must run once are coordinated by leases in the database (`leases`).
    let _lock = if url.starts_with("postgres") {
        crate::lock::DataDirLock::acquire_shared(&config.node.data_dir)?
    } else {
        crate::lock::DataDirLock::acquire(&config.node.data_dir)?
    };
    tracing::info!(database = %storage::redact_url(&url), node.id = %config.node.id, "opening storage");
    let store = storage::open_with(&url, &config.storage)
        .await
        .with_context(|| format!("opening {}", storage::redact_url(&url)))?;
    let listen = config.http.listen;
    let app = App::new(config, store, Arc::new(SystemClock))?;
    let bootstrap = app
        .init()
        .await
        .map_err(|e| anyhow::anyhow!("initialising storage: {e}"))?;
    // Before this node serves (and so signs) anything: take back from the hub whatever of its own log a
    // restored database lacks.
    crate::federation::recover::recover_at_start(
        app.node(),
        std::time::Duration::from_secs(app.config().federation.request_timeout_secs.max(5)),
    )
    .await;
    // The statistics aggregates follow the calendar: the first start after migration 0013 fills them
    // from every report held (the backfill), a start after the holidays changed recomputes them.
    app.stats_calendars()
        .await
        .map_err(|e| anyhow::anyhow!("preparing the statistics aggregates: {e}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    println!(
        "LAPOR! node `{}` listening on http://{addr}/ ({})",
        app.config().node.id,
        app.node().store.backend()
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
    crate::notify::start(app.node().clone(), stop_rx.clone())?;
    workers::start_recap_worker(app.clone(), stop_rx.clone());
    workers::start_deadline_worker(app.node().clone(), stop_rx);
    workers::start_federation(app.node());
    let node = app.node().clone();
    let header_timeout =
        std::time::Duration::from_secs(app.config().federation.header_timeout_secs.max(1));
    http::listen::serve(listener, http::router(app), header_timeout, async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await;
    node.leases.release_all(&node.store).await;
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
