//! Background workers. The deadline worker runs [`run_deadlines`] every minute: it marks reports whose
//! verification or follow-up deadline passed, flags those unresolved 60 days after verification, and
//! completes those whose reply window closed. Each change is an ordinary lifecycle transition by `system`
//! through [`author::change`], so it is on the timeline, signed, and can never race an officer (versions
//! guard every write). The federation tasks are started here too.

use std::time::Duration;

use crate::domain::{lifecycle, Actor};
use crate::federation::author::{self, Attempt};
use crate::federation::FedError;
use crate::node::Node;
use crate::tasks::spawn_named;

/// How often the deadline worker looks.
pub const DEADLINE_INTERVAL: Duration = Duration::from_secs(60);

/// Reports read per round of a deadline pass.
const DUE_BATCH: i64 = 500;

/// One pass of the deadline worker at the current time: marks overdue reports, escalates, auto-completes.
/// Returns how many changes it made. Reports of other nodes (their owner runs their deadlines) and reports
/// on their way to another node are left alone.
pub async fn run_deadlines(node: &Node) -> Result<usize, FedError> {
    let now = node.now();
    let mut changed = 0;
    loop {
        let due = node.store.report_due(now, DUE_BATCH).await?;
        let mut progressed = 0;
        for report in &due {
            // Each due command is its own change; the next one is decided on the state after it.
            for _ in 0..lifecycle::due_commands(report, now).len() {
                let step = author::change(node, move || async move {
                    let id = &report.id;
                    if !node.owns(id).await?
                        || crate::federation::transfer::open_transfer(node, id)
                            .await?
                            .is_some()
                    {
                        return Ok(Attempt::Done(false));
                    }
                    let Some(current) = node.store.report_get(id).await? else {
                        return Ok(Attempt::Done(false));
                    };
                    for cmd in lifecycle::due_commands(&current, now) {
                        match lifecycle::apply(&current, cmd, &Actor::System, now, &node.calendar) {
                            Ok(t) => {
                                return Ok(Attempt::Commit {
                                    transition: Box::new(t),
                                    consumes: None,
                                    then: true,
                                })
                            }
                            Err(e) => {
                                tracing::warn!(report.id = %current.id, error = %e, "deadline command refused");
                            }
                        }
                    }
                    Ok::<_, FedError>(Attempt::Done(false))
                })
                .await;
                match step {
                    Ok(true) => {
                        changed += 1;
                        progressed += 1;
                    }
                    // Nothing more due, or busy or moved meanwhile: the next pass sees the new state.
                    Ok(false)
                    | Err(
                        FedError::Busy | FedError::NotOwner(_) | FedError::TransferPending { .. },
                    ) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        if due.len() < DUE_BATCH as usize || progressed == 0 {
            break;
        }
    }
    Ok(changed)
}

/// Starts the deadline worker; it stops when `shutdown` fires.
pub fn start_deadline_worker(node: Node, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    spawn_named("deadline-worker", async move {
        let mut tick = tokio::time::interval(DEADLINE_INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            if !node.lease("deadlines").await {
                continue;
            }
            match run_deadlines(&node).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(changes = n, "deadline worker applied changes"),
                Err(e) => {
                    tracing::warn!(error = %e, "deadline worker pass failed; retrying next minute");
                }
            }
        }
    });
}

/// How often the recap worker looks whether the monthly recap is due.
pub const RECAP_INTERVAL: Duration = Duration::from_secs(600);

/// Starts the recap worker: every ten minutes it asks [`App::recap_due`](crate::app::App::recap_due),
/// which on the first working day of a month makes and keeps the previous month's (and quarter's) recap
/// once; it stops when `shutdown` fires.
pub fn start_recap_worker(app: crate::app::App, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    spawn_named("recap-worker", async move {
        let mut tick = tokio::time::interval(RECAP_INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            if !app.node().lease("recap").await {
                continue;
            }
            match app.recap_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "recap worker kept the monthly recap"),
                Err(e) => {
                    tracing::warn!(error = %e, "recap worker failed; retrying in ten minutes");
                }
            }
        }
    });
}

/// Starts the federation tasks: the applier, the contribution, transfer and identity-handover workers, the supervisor (which starts one
/// push worker per peer and, on a regional node, refreshes the directory and catches up from the hub).
/// They run until the process ends; everything they do is durable step by step, so a kill at any point
/// resumes cleanly.
pub fn start_federation(node: &Node) {
    use crate::federation::{apply, contributions, identity, push, transfer};
    spawn_named("fed-applier", apply::run_applier(node.clone()));
    spawn_named(
        "fed-contributions",
        contributions::run_contributions(node.clone()),
    );
    spawn_named("fed-transfers", transfer::run_transfers(node.clone()));
    spawn_named("fed-identities", identity::run_handover(node.clone()));
    spawn_named("fed-supervisor", push::run_supervisor(node.clone()));
    let publisher = node.clone();
    spawn_named("fed-agencies", async move {
        // One process of the node publishes (the others would author the same event again).
        if !publisher.lease("agencies").await {
            return;
        }
        if let Err(e) = crate::federation::agencies::publish(&publisher).await {
            tracing::error!(error = %e, "publishing this node's agencies failed");
        }
    });
}
