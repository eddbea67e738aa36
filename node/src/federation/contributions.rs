//! The contribution worker: a reply, acceptance or rating a reporter made on another node arrives here as a
//! pending `contribution.*` event and is run through this node's (the owner's) lifecycle, consuming the event
//! in the same transaction as the change, so it is applied exactly once. A refusal (the lifecycle says no,
//! or the report is not here) quarantines the event; anything else is retried.

use super::apply::parse_event;
use super::author::{self, Attempt};
use super::error::FedError;
use super::payload::{self, ContributionPayload};
use lapor_federation::{ContributionKind, Event, EventClass, EventKind};

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

/// Hub: passes a regional node's contribution on to the node it is addressed to, in the hub's own log (which
/// every regional node receives), naming its author in `via` (the proof is bound to the author), consuming
/// it.
async fn relay(
    node: &Node,
    consumes: &str,
    event: &Event,
    c: &ContributionPayload,
) -> Result<(), FedError> {
    let body = ContributionPayload {
        via: Some(event.origin.clone()),
        ..c.clone()
    };
    let kind = EventKind::parse(&event.kind).ok_or(FedError::NotFound("event type"))?;
    let mut d = author::draft(node, kind, &event.report_id, author::encode(&body)?);
    d.consumes = Some(consumes.to_owned());
    match node.store.event_append(&d).await {
        Ok(_) => {}
        Err(crate::storage::StorageError::Conflict(_)) => return Err(FedError::AlreadyConsumed),
        Err(e) => return Err(e.into()),
    }
    node.fed.push_wake.notify_waiters();
    tracing::info!(report.id = %event.report_id, owner = %c.owner, author = %event.origin,
        "contribution relayed to its owner");
    Ok(())
}

/// A contribution addressed to this node for a report that moved on (a transfer committed before it was
/// applied here, e.g. while the transfer was open): sent on to the new owner as this node's contribution,
/// with the reporter's tracking secret (opened from its proof) sealed to the new owner, consuming it. Returns
/// `Ok(false)` when it must wait (the new owner's key is unknown here yet).
async fn readdress(
    node: &Node,
    consumes: &str,
    event: &Event,
    c: &ContributionPayload,
    owner: &str,
) -> Result<bool, (&'static str, String)> {
    let report = match node.store.report_get(&event.report_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(("unknown_report", "no such report here".into())),
        Err(e) => return Err(("retry", e.to_string())),
    };
    let secret = super::proof::open_secret(node, event, c, &report.secret_hash)
        .map_err(|r| (r.code, r.reason))?;
    let mut body = ContributionPayload {
        owner: owner.to_owned(),
        proof: None,
        via: None,
        ..c.clone()
    };
    match &secret {
        Some(secret) => {
            body.proof =
                super::proof::make(node, owner, &event.report_id, &event.kind, &body, secret)
                    .map_err(|e| ("retry", e.to_string()))?;
            if body.proof.is_none() {
                return Ok(false);
            }
        }
        // The report's own origin needs no proof; a hub may pass that on naming it.
        None if node.is_hub() => {
            body.via = super::proof::author_of(node, event, c).map(str::to_owned);
        }
        None => {
            return Err((
                "owner_moved",
                format!(
                    "the report moved to {owner}; a contribution without proof cannot be sent on from here"
                ),
            ))
        }
    }
    let kind = EventKind::parse(&event.kind).ok_or(("bad_payload", "unknown type".to_owned()))?;
    let encoded = author::encode(&body).map_err(|e| ("retry", e.to_string()))?;
    let mut d = author::draft(node, kind, &event.report_id, encoded);
    d.consumes = Some(consumes.to_owned());
    match node.store.event_append(&d).await {
        Ok(_) | Err(crate::storage::StorageError::Conflict(_)) => {}
        Err(e) => return Err(("retry", e.to_string())),
    }
    node.fed.push_wake.notify_waiters();
    tracing::info!(report.id = %event.report_id, %owner, "contribution sent on to the report's new owner");
    Ok(true)
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
            if c.owner != node.id() {
                return match relay(node, &stored.id, &event, &c).await {
                    Ok(()) | Err(FedError::AlreadyConsumed) => Ok(()),
                    Err(e) => Err(refuse("retry", e.to_string())),
                };
            }
            let actor = Actor::Reporter { user_id: None };
            let author = super::proof::author_of(node, &event, &c)
                .unwrap_or(&event.origin)
                .to_owned();
            match apply_as_owner(node, &event.report_id, cmd, &actor, &stored.id, &author).await {
                Ok(()) => Ok(()),
                // Waits, pending, until the transfer closes (PROTOCOL 9.3): the status shows why.
                Err(e @ FedError::TransferPending { .. }) => Err(refuse("wait", e.to_string())),
                Err(FedError::NotOwner(owner)) => {
                    match readdress(node, &stored.id, &event, &c, &owner).await {
                        Ok(true) => Ok(()),
                        Ok(false) => Err(refuse(
                            "wait",
                            format!("the key of {owner} is not known yet"),
                        )),
                        Err(e) => Err(e),
                    }
                }
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
            Err(("wait", reason)) => {
                tracing::debug!(event.id = %stored.id, %reason, "contribution waits");
            }
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
        if !node.lease("contributions").await {
            tokio::time::sleep(poll).await;
            continue;
        }
        match contributions_once(&node).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "applying contributions failed"),
        }
        let _ = tokio::time::timeout(poll, node.fed.contribution_wake.notified()).await;
    }
}
