//! Sending: one push worker per peer, in outbox order, with a durable cursor and a backoff that never gives
//! up; the catch-up that asks the hub for everything missed; and signed requests to peers.
//!
//! A worker reads the outbox after the peer's cursor, signs a push of up to 200 events (within 2 MiB), and
//! moves the cursor only when the peer answered: every event is then either stored in the peer's inbox or
//! refused for good. The transaction id names the outbox range, so a retry after a lost answer is answered
//! from the peer's record instead of being processed twice (and the events are idempotent by id anyway).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use lapor_federation::envelope::{
    sign_push, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, PUSH_ENVELOPE_RESERVE,
};
use lapor_federation::wire::CatchUpRequest;

use super::client;
use super::Counters;
use crate::node::Node;
use crate::storage::PushOutcome;

/// Sends one batch to `peer`. Returns the number of events the peer answered for (0: nothing to send).
pub async fn push_once(node: &Node, peer: &str) -> anyhow::Result<usize> {
    let Some(record) = node.store.peer_get(peer).await? else {
        return Ok(0);
    };
    let rows = node
        .store
        .outbox_after(peer, record.push_cursor, MAX_BATCH_EVENTS as i64)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut events = Vec::new();
    let mut bytes = 0;
    let mut last = record.push_cursor;
    for (pos, wire) in rows {
        if !events.is_empty() && bytes + wire.len() + 1 > MAX_BATCH_BYTES - PUSH_ENVELOPE_RESERVE {
            break;
        }
        bytes += wire.len() + 1;
        last = pos;
        events.push(wire);
    }
    let first = record.push_cursor + 1;
    // Outbox positions alone would repeat after a restore from a backup, and the peer would answer the new
    // batch with its stored answer to the old one: the digest of the batch's bytes makes the id unique.
    let digest = {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for e in &events {
            h.update(e);
        }
        hex::encode(&h.finalize()[..8])
    };
    let txn = format!("{}-{first}-{last}-{digest}", node.fed.node_id);
    let f = &node.fed;
    let keys = f.keys();
    let wires: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    let body = sign_push(&txn, &f.node_id, peer, &keys.key_id, &wires, &keys.signing)?;
    let now = node.now();
    let result = client::push(node, &record.base_url, body).await;
    match result {
        Ok(answer) => {
            let rejected = answer.rejected.len() as i64;
            let error = answer
                .rejected
                .last()
                .map(|r| format!("event {} refused: {} ({})", r.index, r.code, r.reason));
            if let Some(e) = &error {
                tracing::error!(%peer, rejected, error = %e, "peer refused events");
            }
            node.store
                .peer_push_result(
                    peer,
                    PushOutcome::Sent {
                        cursor: last,
                        rejected,
                        error,
                    },
                    now,
                )
                .await?;
            Counters::add(&node.fed.counters.sent, answer.accepted.len() as u64);
            Ok(events.len())
        }
        Err(e) => {
            Counters::add(&node.fed.counters.push_failures, 1);
            node.store
                .peer_push_result(
                    peer,
                    PushOutcome::Failed {
                        error: e.to_string(),
                    },
                    now,
                )
                .await?;
            Err(e.into())
        }
    }
}

/// The push worker of one peer: runs until the process ends or the peer is removed (`lapor peers remove`),
/// never gives up.
///
/// Every event this node authors wakes it ([`super::AuthoredSignal`]: a wake-up that arrives while it is busy
/// sending is kept for its next wait). After a failure it waits its backoff: a new local event does not wake
/// it (a dead peer is retried at the backoff, not at the rate this node authors events); contact does, which
/// shows the peer is back and resets the backoff: a request from that peer, or, when the failure was that the
/// peer could not be reached at all (no HTTP answer, as in a partition), a probe of its `/healthz` every
/// [`PROBE_EVERY`] that answers. A peer that answers with an error (overloaded, inbox full) gets the whole
/// backoff: the probe is only for peers nothing reached.
pub async fn run_push_worker(node: Node, peer: String) {
    let poll = Duration::from_millis(node.fed.config.poll_ms);
    let contact = node.fed.peer_wake(&peer);
    let mut authored = node.fed.push_wake.subscribe();
    let lease = crate::leases::push_lease(&peer);
    loop {
        if !node.fed.destinations().contains(&peer) {
            tracing::info!(%peer, "peer removed; its push worker stops");
            return;
        }
        // Another process of this node pushes to the peer: wait, and take over if it stops.
        if !node.lease(&lease).await {
            tokio::time::sleep(poll).await;
            continue;
        }
        // Whatever was authored before this point is in the outbox `push_once` reads.
        authored.borrow_and_update();
        let (wait, unreachable) = match push_once(&node, &peer).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    changed = authored.changed() => {
                        if changed.is_err() {
                            tokio::time::sleep(poll).await;
                        }
                    }
                    () = contact.notified() => {}
                }
                continue;
            }
            Err(e) => {
                let failures = node
                    .store
                    .peer_get(&peer)
                    .await
                    .ok()
                    .flatten()
                    .map_or(1, |p| p.failures);
                let wait = node.fed.backoff(failures - 1);
                let unreachable = e
                    .downcast_ref::<client::PeerError>()
                    .is_some_and(nothing_reached);
                // Said at warning level on the first failures and then at every doubling, not every probe.
                if failures <= 3 || (failures as u64).is_power_of_two() {
                    tracing::warn!(%peer, failures, retry_in_ms = wait.as_millis() as u64, error = %e, "push failed");
                } else {
                    tracing::debug!(%peer, failures, retry_in_ms = wait.as_millis() as u64, error = %e, "push failed");
                }
                (wait, unreachable)
            }
        };
        let probe = async {
            if !unreachable {
                return std::future::pending().await;
            }
            let every = PROBE_EVERY.min(poll).max(Duration::from_millis(50));
            loop {
                tokio::time::sleep(every).await;
                if let Some(base) = node.fed.peer(&peer).map(|p| p.base_url) {
                    if answers(&node, &base).await {
                        tracing::info!(%peer, "peer reachable again; backoff ends");
                        return;
                    }
                }
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = contact.notified() => {}
            () = probe => {}
        }
    }
}

/// How often a push worker checks whether a peer it could not reach at all answers again.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Whether a failed request reached nobody (no connection, no answer): retrying costs the peer nothing.
fn nothing_reached(e: &client::PeerError) -> bool {
    matches!(
        e,
        client::PeerError::Connect(_)
            | client::PeerError::Timeout(_)
            | client::PeerError::Request(_)
    )
}

/// Whether the node at `base` answers its health check (`GET /healthz`, unauthenticated) within 2 s.
async fn answers(node: &Node, base: &str) -> bool {
    let url = format!("{}/healthz", base.trim_end_matches('/'));
    let req = node
        .fed
        .client
        .http()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send();
    matches!(req.await, Ok(r) if r.status().is_success())
}

/// Asks the hub(s) for everything this node lacks of the origins it follows, in one round trip per page.
pub async fn catch_up_once(node: &Node) -> anyhow::Result<usize> {
    let hubs: Vec<_> = node
        .fed
        .peer_list()
        .into_iter()
        .filter(|p| p.role == "hub")
        .collect();
    let mut total = 0;
    for hub in hubs {
        let mut have: BTreeMap<String, u64> = node
            .store
            .origin_heads()
            .await?
            .into_iter()
            .filter(|h| h.origin != node.fed.node_id)
            .map(|h| (h.origin, h.head_seq as u64))
            .collect();
        have.entry(hub.node_id.clone()).or_insert(0);
        let req = CatchUpRequest { have, limit: 1000 };
        let page = client::catch_up(node, &hub.base_url, &req).await?;
        let n = super::apply::store_pulled(node, &hub.node_id, "catch-up", &page.events).await?;
        total += n;
    }
    Ok(total)
}

/// Starts a push worker for every peer that should receive this node's events, and keeps the peer list,
/// the directory and the catch-up fresh. Runs until the process ends.
pub async fn run_supervisor(node: Node) {
    let mut started: HashSet<String> = HashSet::new();
    let mut last_directory = 0;
    let mut last_catch_up = 0;
    let poll = Duration::from_millis(node.fed.config.poll_ms);
    loop {
        if let Err(e) = node.fed.reload(&node.store).await {
            tracing::error!(error = %e, "reloading peers and keys failed");
        }
        let now = node.now();
        if !node.is_hub() {
            if now - last_directory >= (node.fed.config.directory_refresh_secs * 1000) as i64 {
                match super::directory::refresh(&node).await {
                    Ok(()) => last_directory = now,
                    Err(e) => {
                        tracing::warn!(error = %e, "directory refresh failed; using the cached one");
                    }
                }
            }
            if now - last_catch_up >= poll.as_millis() as i64 * 6 {
                match catch_up_once(&node).await {
                    Ok(n) => {
                        last_catch_up = now;
                        if n > 0 {
                            tracing::info!(events = n, "caught up from the hub");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "catch-up failed"),
                }
            }
        }
        let destinations = node.fed.destinations();
        // A removed peer's worker stops by itself; forget it so that enrolling it again starts a new one.
        started.retain(|p| destinations.contains(p));
        for peer in destinations {
            if started.insert(peer.clone()) {
                tracing::info!(%peer, "starting push worker");
                crate::tasks::spawn_named("push-worker", run_push_worker(node.clone(), peer));
            }
        }
        tokio::time::sleep(poll.min(Duration::from_secs(5))).await;
    }
}
