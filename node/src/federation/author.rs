//! Authoring this node's events: the drafts every change signs, and the one loop that changes a report.
//!
//! Every change of a report this node owns goes through [`change`]: decide on the freshest state (the pure
//! lifecycle), check that this node owns the report, sign the event, and commit state, timeline, event and
//! outbox in one transaction guarded by the report's version, which also refuses the change while a transfer
//! of the report is open (`storage::decide::change_may_commit`). When someone changed
//! the report in between, the decision is taken again on the new state. Officers' actions, the deadline
//! worker, contributions from other nodes and a transferred report's arrival all use it, so the ownership
//! and transfer rules cannot be forgotten by one of them.

use std::future::Future;

use lapor_federation::{ContributionKind, EventKind, Value};
use serde::Serialize;

use super::error::{FedError, FedResult};
use super::payload::{self, ContributionPayload, IdentityRef, ReportPayload};
use crate::domain::{Command, Report, ReporterIdentity, TimelineRecord, Transition};
use crate::node::Node;
use crate::storage::Conflict;
use crate::storage::{EventDraft, StorageError};

/// How often [`change`] decides again after losing a race.
pub const ATTEMPTS: usize = 5;

/// Encodes a payload struct as a canonical value.
pub fn encode<T: Serialize>(payload: &T) -> FedResult<Value> {
    payload::encode(payload).map_err(|e| FedError::Internal(anyhow::anyhow!(e)))
}

/// A draft of an event of this node about `report_id`, sent to this node's destinations.
pub fn draft(node: &Node, kind: EventKind, report_id: &str, payload: Value) -> EventDraft {
    EventDraft::new(
        node.fed.signer.clone(),
        kind.to_string(),
        report_id,
        payload,
        node.now(),
        node.fed.destinations(),
    )
}

/// The signed event that goes with a change of a report this node owns: the timeline entry and the whole
/// state after it; a non-anonymous report's identity (only given at intake) sealed to this node's key and
/// carried as a blob referenced by hash.
pub fn report_draft(
    node: &Node,
    report: &Report,
    entry: &TimelineRecord,
    identity: Option<&ReporterIdentity>,
) -> FedResult<EventDraft> {
    let mut blobs = Vec::new();
    let identity = match identity {
        Some(id) if !report.anonymous => {
            let plain = serde_json::json!({"name": id.name, "phone": id.phone, "email": id.email});
            let sealed = lapor_federation::seal::seal(
                &node.fed.keys().enc.public(),
                plain.to_string().as_bytes(),
                report.id.as_bytes(),
            )
            .map_err(|e| FedError::Internal(anyhow::anyhow!("sealing the identity: {e}")))?;
            let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&sealed));
            blobs.push((hash.clone(), sealed));
            Some(IdentityRef {
                blob: hash,
                sealed_to: node.fed.keys().key_id.clone(),
            })
        }
        _ => None,
    };
    let body = ReportPayload {
        entry: payload::entry_payload(entry),
        state: payload::state_payload(report),
        identity,
    };
    Ok(draft(
        node,
        EventKind::Report(entry.action),
        &report.id,
        encode(&body)?,
    )
    .blobs(blobs)
    .authored_at(entry.at))
}

/// The `contribution.*` event that carries a reporter's reply, acceptance or rating made here on another
/// node's report to its owner, with the reporter's tracking secret sealed to the owner as proof
/// ([`super::proof`]). Other commands are the owner's alone.
pub fn contribution_draft(
    node: &Node,
    report: &Report,
    owner: &str,
    cmd: &Command,
    secret: Option<&str>,
) -> FedResult<EventDraft> {
    let (kind, note, score, comment) = match cmd {
        Command::Reply { note } => (ContributionKind::Reply, Some(note.clone()), None, None),
        Command::Accept { note } => (ContributionKind::Accept, note.clone(), None, None),
        Command::Rate { score, comment } => {
            (ContributionKind::Rate, None, Some(*score), comment.clone())
        }
        _ => return Err(FedError::NotOwner(owner.to_owned())),
    };
    let mut body = ContributionPayload {
        owner: owner.to_owned(),
        tracking_code: report.tracking_code.clone(),
        note,
        score,
        comment,
        at_ms: node.now(),
        proof: None,
        via: None,
    };
    let kind = EventKind::Contribution(kind);
    if let Some(secret) = secret {
        body.proof = super::proof::make(node, owner, &report.id, &kind.to_string(), &body, secret)
            .map_err(FedError::Internal)?;
    }
    Ok(draft(node, kind, &report.id, encode(&body)?))
}

/// Sends what a reporter did here on another node's report to its owner.
pub async fn forward_contribution(
    node: &Node,
    report: &Report,
    owner: &str,
    cmd: &Command,
    secret: Option<&str>,
) -> FedResult<()> {
    // While the report moves, no node acknowledges a reporter's action on it (PROTOCOL 9.3): its owner is
    // about to change, and the action would reach a report reset by its arrival at the new owner.
    if let Some(t) = super::transfer::open_transfer(node, &report.id).await? {
        return Err(FedError::TransferPending { to: t.to_node });
    }
    let d = contribution_draft(node, report, owner, cmd, secret)?;
    node.store.event_append(&d).await?;
    node.fed.push_wake.notify_waiters();
    tracing::info!(report.id = %report.id, %owner, kind = %d.kind, "contribution forwarded to the owner");
    Ok(())
}

/// What one attempt of a [`change`] decided on the state it read.
pub enum Attempt<T> {
    /// Commit this transition as this node's signed change, consuming the pending event `consumes` (a
    /// contribution or transfer step) in the same transaction; then answer `then`.
    Commit {
        /// The change.
        transition: Box<Transition>,
        /// Pending event the change applies.
        consumes: Option<String>,
        /// The answer once committed.
        then: T,
    },
    /// Nothing to write: answer this.
    Done(T),
    /// Not yet (the attempt fetched something first): decide again.
    Again,
}

/// Changes a report this node owns: runs `attempt` on fresh state until its transition commits, at most
/// [`ATTEMPTS`] times. Refuses with [`FedError::NotOwner`] for another node's report and
/// [`FedError::TransferPending`] while a transfer is open; [`FedError::AlreadyConsumed`] when the consumed
/// event was applied by an earlier run; [`FedError::Busy`] when every attempt lost a race.
pub async fn change<T, E, F, Fut>(node: &Node, mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, E>>,
    E: From<FedError>,
{
    for _ in 0..ATTEMPTS {
        let (transition, consumes, then) = match attempt().await? {
            Attempt::Done(v) => return Ok(v),
            Attempt::Again => continue,
            Attempt::Commit {
                transition,
                consumes,
                then,
            } => (transition, consumes, then),
        };
        let transition = *transition;
        let id = &transition.report.id;
        let owner = node.owner_of(id).await.map_err(FedError::from)?;
        if owner != node.id() {
            return Err(FedError::NotOwner(owner).into());
        }
        let mut d = report_draft(node, &transition.report, &transition.entry, None)?;
        d.consumes = consumes;
        // The open-transfer check is the storage's, inside the transaction that commits the change: a transfer
        // opened by a concurrent request after this decision is seen there.
        match node.store.report_transition(&transition, Some(&d)).await {
            Ok(()) => {
                node.fed.push_wake.notify_waiters();
                return Ok(then);
            }
            Err(StorageError::Conflict(Conflict::TransferPending)) => {
                let to = super::transfer::open_transfer(node, id)
                    .await
                    .map_err(FedError::from)?
                    .map(|t| t.to_node)
                    .unwrap_or_default();
                return Err(FedError::TransferPending { to }.into());
            }
            Err(StorageError::Conflict(Conflict::NotPending(_))) => {
                return Err(FedError::AlreadyConsumed.into())
            }
            // Someone changed the report in between: decide again on the new state.
            Err(StorageError::Conflict(_)) => {}
            Err(e) => return Err(FedError::from(e).into()),
        }
    }
    Err(FedError::Busy.into())
}
