//! Background workers. The deadline worker runs [`App::run_deadlines`] every minute: it marks reports whose
//! verification or follow-up deadline passed, flags those unresolved 60 days after verification, and
//! completes those whose reply window closed. Each change is an ordinary lifecycle transition by `system`,
//! so it is on the timeline and can never race an officer (versions guard every write).

use std::time::Duration;

use crate::service::App;
use crate::tasks::spawn_named;

/// How often the deadline worker looks.
pub const DEADLINE_INTERVAL: Duration = Duration::from_secs(60);

/// Starts the deadline worker; it stops when `shutdown` fires.
pub fn start_deadline_worker(app: App, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    spawn_named("deadline-worker", async move {
        let mut tick = tokio::time::interval(DEADLINE_INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            match app.run_deadlines().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(changes = n, "deadline worker applied changes"),
                Err(e) => {
                    tracing::warn!(error = %e, "deadline worker pass failed; retrying next minute");
                }
            }
        }
    });
}

/// Starts the federation tasks: the applier, the contribution and transfer workers, the supervisor (which starts one
/// push worker per peer and, on a regional node, refreshes the directory and catches up from the hub).
/// They run until the process ends; everything they do is durable step by step, so a kill at any point
/// resumes cleanly.
pub fn start_federation(app: &App) {
    spawn_named(
        "fed-applier",
        crate::federation::apply::run_applier(app.clone()),
    );
    spawn_named(
        "fed-contributions",
        crate::federation::apply::run_contributions(app.clone()),
    );
    spawn_named(
        "fed-transfers",
        crate::federation::transfer::run_transfers(app.clone()),
    );
    spawn_named(
        "fed-supervisor",
        crate::federation::push::run_supervisor(app.clone()),
    );
    let publisher = app.clone();
    spawn_named("fed-agencies", async move {
        if let Err(e) = crate::federation::agencies::publish(&publisher).await {
            tracing::error!(error = %e, "publishing this node's agencies failed");
        }
    });
}
