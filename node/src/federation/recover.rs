//! Self-healing after a restore from an older backup.
//!
//! A regional node's database restored from a backup holds less of its own log than the hub does: it would
//! re-issue sequence numbers the hub already holds, and the hub would refuse everything after them (a fork).
//! So before this node serves and signs again, it asks its hub for its own events after the head it holds,
//! verifies them like any received event, and applies them: the reports, timelines and ownership changed after
//! the backup come back, and the next event continues at the right sequence number.
//!
//! If the hub cannot be reached the node starts anyway (it must keep working when its island is cut off) and
//! logs a warning; if it then signs at sequence numbers the hub holds, the hub records the fork (quarantine
//! code `broken_chain` or an equivocation) and shows it in `/metrics` and `lapor federation status`.

use std::time::Duration;

use lapor_federation::{verify_received, SignedEvent};

use super::apply::accept_verified;
use crate::node::Node;
use crate::storage::AcceptOutcome;

/// Most events asked for per page.
const PAGE: u64 = 1000;

/// The head of this node's own log as stored here.
async fn own_head(node: &Node) -> anyhow::Result<u64> {
    Ok(node
        .store
        .origin_heads()
        .await?
        .into_iter()
        .find(|h| h.origin == node.id())
        .map_or(0, |h| h.head_seq.max(0) as u64))
}

/// Fetches and applies this node's own events that a hub holds beyond the local head. Returns how many were
/// recovered. Fails when the hub's copy of this node's log does not chain onto the local one (the local
/// database holds events the hub never got and the hub holds others: a fork that needs a person).
pub async fn recover_own_log(node: &Node) -> anyhow::Result<u64> {
    if node.is_hub() {
        return Ok(0);
    }
    let hubs: Vec<_> = node
        .fed
        .peer_list()
        .into_iter()
        .filter(|p| p.role == "hub")
        .collect();
    let mut recovered = 0;
    for hub in hubs {
        loop {
            let head = own_head(node).await?;
            let page = super::client::log_after(node, &hub.base_url, node.id(), head, PAGE)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("asking hub {} for this node's log: {e}", hub.node_id)
                })?;
            if page.events.is_empty() {
                break;
            }
            let keys = node.fed.keylog_snapshot()?;
            let mut good: Vec<(SignedEvent, Vec<u8>)> = Vec::with_capacity(page.events.len());
            for bytes in &page.events {
                let signed = verify_received(bytes, &keys).map_err(|e| {
                    anyhow::anyhow!("an event of this node from the hub does not verify: {e}")
                })?;
                keys.check(signed.event())
                    .map_err(|e| anyhow::anyhow!("an event of this node from the hub: {e}"))?;
                anyhow::ensure!(
                    signed.event().origin == node.id(),
                    "the hub answered events of {} for this node's log",
                    signed.event().origin
                );
                good.push((signed, bytes.clone()));
            }
            let outcomes = accept_verified(node, &good).await?;
            for (o, (signed, _)) in outcomes.iter().zip(&good) {
                match o {
                    AcceptOutcome::Applied
                    | AcceptOutcome::Stored
                    | AcceptOutcome::Pending
                    | AcceptOutcome::Quarantined => recovered += 1,
                    AcceptOutcome::Duplicate => {}
                    other => anyhow::bail!(
                        "this node's log forks from the copy hub {} holds at sequence number {} ({other:?}): the \
                         local database holds events the hub never received; do not sign until a person compared \
                         them (`lapor federation status` on both)",
                        hub.node_id,
                        signed.event().origin_seq
                    ),
                }
            }
            if !page.more {
                break;
            }
        }
    }
    Ok(recovered)
}

/// Runs [`recover_own_log`] within `limit` and logs what happened; never stops the start.
pub async fn recover_at_start(node: &Node, limit: Duration) {
    match tokio::time::timeout(limit, recover_own_log(node)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::warn!(
            events = n,
            "recovered this node's own events from the hub: the database was older than the federation's copy \
             of its log (restored from a backup?)"
        ),
        Ok(Err(e)) => tracing::error!(error = %e, "could not check this node's own log at the hub"),
        Err(_) => tracing::warn!(
            seconds = limit.as_secs(),
            "the hub did not answer in time; starting without checking this node's own log against it"
        ),
    }
}
