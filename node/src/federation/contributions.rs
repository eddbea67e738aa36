//! The contribution worker: a reply, acceptance or rating a reporter made on another node arrives here as a
//! pending `contribution.*` event and is run through this node's (the owner's) lifecycle, consuming the event
//! in the same transaction as the change, so it is applied exactly once. A refusal (the lifecycle says no,
//! or the report is not here) quarantines the event; anything else is retried.

use super::apply::parse_event;
use super::author::{self, Attempt};
use super::error::FedError;
use super::payload::{self, ContributionPayload};
use lapor_federation::{ContributionKind, EventClass, EventKind};

use super::Counters;
use crate::domain::{lifecycle, Actor, Command};
use crate::node::Node;

fn command_for(kind: &str, c: &ContributionPayload) -> Option<Command> {
    let EventKind::Contribution(kind) = EventKind::parse(kind)? else {
        return None;
    };
    match kind {
        ContributionKind::Reply => Some(Command::Reply {
            note: c.note.clone()?,
        }),
        ContributionKind::Accept => Some(Command::Accept {
            note: c.note.clone(),
        }),
        ContributionKind::Rate => Some(Command::Rate {
            score: c.score?,
            comment: c.comment.clone(),
        }),
    }
}

/// Runs `cmd` by `actor` on a report this node owns, for an event from node `via`, consuming that event.
pub async fn apply_as_owner(
    node: &Node,
    report_id: &str,
    cmd: Command,
    actor: &Actor,
    consumes: &str,
    via: &str,
) -> Result<(), FedError> {
    let cmd = &cmd;
    let outcome = author::change(node, move || async move {
        let report = node
            .store
            .report_get(report_id)
            .await?
            .ok_or(FedError::NotFound("report"))?;
        let mut t = lifecycle::apply(&report, cmd.clone(), actor, node.now(), &node.calendar)?;
        t.entry.note = Some(match t.entry.note.take() {
            Some(n) => format!("{n} (via {via})"),
            None => format!("via {via}"),
        });
        Ok(Attempt::Commit {
            transition: Box::new(t),
            consumes: Some(consumes.to_owned()),
            then: (),
        })
    })
    .await;
    match outcome {
        Ok(()) | Err(FedError::AlreadyConsumed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Applies pending contributions through this node's lifecycle. Returns how many were settled.
pub async fn contributions_once(node: &Node) -> anyhow::Result<usize> {
    let pending = node
        .store
        .events_pending(EventClass::Contribution.prefix(), 100)
        .await?;
    let mut settled = 0;
    for stored in pending {
        let refuse = |code: &'static str, reason: String| (code, reason);
        let outcome = async {
            let event =
                parse_event(&stored.wire).map_err(|e| refuse("bad_payload", e.to_string()))?;
            let c: ContributionPayload =
                payload::decode(&event.payload).map_err(|e| refuse("bad_payload", e.0))?;
            let cmd = command_for(&event.kind, &c)
                .ok_or_else(|| refuse("bad_payload", format!("{} lacks its fields", event.kind)))?;
            let actor = Actor::Reporter { user_id: None };
            match apply_as_owner(
                node,
                &event.report_id,
                cmd,
                &actor,
                &stored.id,
                &event.origin,
            )
            .await
            {
                Ok(()) => Ok(()),
                Err(FedError::Domain(e)) => Err(refuse("contribution_refused", e.to_string())),
                Err(FedError::NotFound(_)) => {
                    Err(refuse("unknown_report", "no such report here".into()))
                }
                Err(e) => Err(refuse("retry", e.to_string())),
            }
        }
        .await;
        match outcome {
            Ok(()) => settled += 1,
            Err(("retry", reason)) => {
                tracing::info!(event.id = %stored.id, %reason, "contribution will be retried");
            }
            Err((code, reason)) => {
                tracing::warn!(event.id = %stored.id, code, %reason, "contribution refused");
                node.store
                    .event_quarantine(&stored.id, code, &reason, node.now())
                    .await?;
                Counters::add(&node.fed.counters.quarantined, 1);
                settled += 1;
            }
        }
    }
    Ok(settled)
}

/// The contribution loop.
pub async fn run_contributions(node: Node) {
    let poll = std::time::Duration::from_millis(node.fed.config.poll_ms);
    loop {
        match contributions_once(&node).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "applying contributions failed"),
        }
        let _ = tokio::time::timeout(poll, node.fed.contribution_wake.notified()).await;
    }
}
