//! What peers call, without HTTP: the handlers in `http/federation.rs` authenticate the request, call these
//! and turn a [`ReceiveError`] into a problem document.
//!
//! A push is authenticated by its own signature, every event in it is verified on arrival (so the answer can
//! name each refusal), and the good ones are stored in the durable inbox with the answer, in one transaction,
//! before the answer leaves. Applying happens later, in the applier. Pulls, catch-up, histories and blobs are
//! signed requests (see [`lapor_federation::request`]).

use std::collections::BTreeMap;

use lapor_federation::envelope::{verify_push, EnvelopeError};
use lapor_federation::request::{
    self as signed, RequestRefused, HEADER_NODE, HEADER_SIGNATURE, HEADER_TIME,
};
use lapor_federation::transport::PUSH_PATH;
use lapor_federation::wire::{CatchUpRequest, LogPage, PushResponse, Rejected};
use lapor_federation::KeyError;

use super::verify::{check_events, inbox_event, learn_keys, verify_signatures, MAX_HISTORY};
use super::Counters;
use crate::domain::tracking;
use crate::node::Node;
use crate::storage::{PushOutcome, StorageError};

/// Most received events of one origin that may wait in the inbox (PROTOCOL section 7: a node holds a bounded
/// number of events beyond a gap); a push that would add to a full origin is refused with 503 `inbox_full`.
pub const MAX_HELD_PER_ORIGIN: i64 = 10_000;

/// Most events one pull or catch-up page returns.
pub const MAX_PAGE: i64 = 1000;

/// Why a peer's request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The push envelope (size, signature, destination, format) is not acceptable.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The push is signed with a key the sender revoked.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The push's `lapor-request-v1` headers (time window, replay, signature) are missing or refused.
    #[error(transparent)]
    Request(#[from] RequestRefused),
    /// The sender is not an enrolled peer.
    #[error("node {0:?} is not in this node's peer list")]
    UnknownPeer(String),
    /// The request body is not what the route takes.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// Nothing of that (`report`, `blob`) here.
    #[error("no such {0} here")]
    NotFound(&'static str),
    /// A report history longer than a transfer may carry.
    #[error("history longer than {MAX_HISTORY} events")]
    HistoryTooLong,
    /// This node is not the hub (only the hub serves the directory).
    #[error("this node is not a hub")]
    NotHub,
    /// This node already holds [`MAX_HELD_PER_ORIGIN`] received events of an origin that wait to be applied
    /// (a gap that does not fill): the push is refused as a whole, to be retried later.
    #[error("{held} events of {origin} already wait in this node's inbox (at most {MAX_HELD_PER_ORIGIN})")]
    InboxFull {
        /// The origin.
        origin: String,
        /// How many of its events wait.
        held: i64,
    },
    /// Storage failed; the peer should retry.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Anything else.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The time window of a push (PROTOCOL section 8.3): its `lapor-request-v1` headers, signed by the sender over
/// the same body at a time within [`signed::MAX_SKEW_MS`] of this node's clock, seen once; `log` holds the keys
/// the push's own key events announced (a freshly rotated key signs its first push). A stale or replayed
/// request is refused and counted.
fn request_window<'h>(
    node: &Node,
    log: &lapor_federation::KeyLog,
    header: &impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    sender: &str,
    now: i64,
) -> Result<(), ReceiveError> {
    let f = &node.fed;
    let outcome = signed::verify(log, header, "POST", PUSH_PATH, body, now).and_then(|node_id| {
        if node_id != sender {
            return Err(RequestRefused {
                code: "sender_mismatch",
                detail: format!("the headers are signed by {node_id}, the push by {sender}"),
            });
        }
        let time: i64 = header(HEADER_TIME)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let sig = header(HEADER_SIGNATURE).unwrap_or_default();
        f.replay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .check(sig, time, now)
    });
    if let Err(e) = &outcome {
        match e.code {
            "request_time_skew" => Counters::add(&f.counters.stale_requests, 1),
            "replayed_request" => Counters::add(&f.counters.replayed_requests, 1),
            _ => {}
        }
        tracing::warn!(peer.node = %sender, code = e.code, detail = %e.detail, "push refused");
    }
    Ok(outcome?)
}

/// `POST /federation/v1/push`: verifies a signed batch and stores its good events in the inbox; the answer
/// (JSON bytes) names every refused event. A retried transaction gets the first answer again.
pub async fn push(
    node: &Node,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<Vec<u8>, ReceiveError> {
    let f = &node.fed;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // The cheapest refusal first: a sender that is not an enrolled peer costs no signature check at all.
    let claimed = header(HEADER_NODE).ok_or_else(|| RequestRefused {
        code: "unsigned_request",
        detail: format!("missing header {HEADER_NODE}"),
    })?;
    if f.peer(claimed).is_none() {
        return Err(ReceiveError::UnknownPeer(claimed.to_owned()));
    }
    let verified = {
        let mut log = f.keylog_snapshot()?;
        let verified = match verify_push(body, &f.node_id, &log) {
            // A sender that rotated its key signs with the new key, announced by a `key.rotated` event in
            // this very push: learn the keys the push's own valid events announce, then check again.
            // An unknown sender is refused before any of its events costs a signature check.
            Err(EnvelopeError::UnknownKey { node, .. }) if f.peer(&node).is_none() => {
                return Err(ReceiveError::UnknownPeer(node));
            }
            Err(EnvelopeError::UnknownKey { .. }) => {
                learn_keys(&mut log, &f.node_id, body);
                verify_push(body, &f.node_id, &log)
            }
            other => other,
        }
        .inspect_err(|e| tracing::warn!(error = %e, code = e.code(), "push refused"))?;
        // The signature verifies with any registered key; a revoked one may not sign a push any more.
        log.check_push_key(&verified.sender, &verified.key_id)
            .inspect_err(|e| {
                tracing::warn!(peer.node = %verified.sender, error = %e, "push signed with a revoked key");
            })?;
        (verified, log)
    };
    let (verified, learnt) = verified;
    if f.peer(&verified.sender).is_none() {
        return Err(ReceiveError::UnknownPeer(verified.sender));
    }
    let now = node.now();
    request_window(node, &learnt, &header, body, &verified.sender, now)?;
    let _ = node
        .store
        .peer_push_result(&verified.sender, PushOutcome::Contact, now)
        .await;
    f.peer_wake(&verified.sender).notify_one();
    if let Some(previous) = node
        .store
        .push_txn_get(&verified.sender, &verified.txn)
        .await?
    {
        return Ok(previous.into_bytes());
    }
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    let mut inbox = Vec::new();
    // Signatures first, over every core; then, in order, key validity with the key changes seen in this push
    // applying to its later events (the stored log changes when they are applied).
    let mut log = f.keylog_snapshot()?;
    let events = std::sync::Arc::new(verified.events);
    let signatures = verify_signatures(
        std::sync::Arc::new(log.clone()),
        std::sync::Arc::clone(&events),
    )
    .await;
    let checked = check_events(&mut log, &f.node_id, &events, signatures);
    for (index, (bytes, checked)) in events.iter().zip(checked).enumerate() {
        match checked {
            Ok(signed) => {
                accepted.push(signed.id().to_string());
                inbox.push(inbox_event(&signed, bytes));
            }
            Err((id, code, reason)) => {
                tracing::warn!(peer.node = %verified.sender, index, code, %reason, "event refused");
                rejected.push(Rejected {
                    index: index as u64,
                    id,
                    code: code.to_owned(),
                    reason,
                });
            }
        }
    }
    if !inbox.is_empty() {
        let held: BTreeMap<String, i64> = node.store.inbox_counts().await?.into_iter().collect();
        let mut adding: BTreeMap<&str, i64> = BTreeMap::new();
        for e in &inbox {
            *adding.entry(e.origin.as_str()).or_default() += 1;
        }
        for (origin, n) in adding {
            let now_held = held.get(origin).copied().unwrap_or(0);
            if now_held + n > MAX_HELD_PER_ORIGIN {
                tracing::warn!(peer.node = %verified.sender, %origin, held = now_held, "inbox full for this origin; push refused");
                return Err(ReceiveError::InboxFull {
                    origin: origin.to_owned(),
                    held: now_held,
                });
            }
        }
    }
    let response = PushResponse {
        txn: verified.txn.clone(),
        accepted,
        rejected,
    };
    let text = serde_json::to_string(&response)
        .map_err(|e| anyhow::anyhow!("encoding the answer: {e}"))?;
    match node
        .store
        .inbox_insert(&verified.sender, &verified.txn, &text, &inbox, now)
        .await
    {
        Ok(()) => {}
        Err(StorageError::Conflict(_)) => {
            // The same transaction arrived twice at once; the first one's answer stands.
            if let Some(previous) = node
                .store
                .push_txn_get(&verified.sender, &verified.txn)
                .await?
            {
                return Ok(previous.into_bytes());
            }
        }
        Err(e) => return Err(e.into()),
    }
    Counters::add(&f.counters.received, inbox.len() as u64);
    Counters::add(&f.counters.rejected, response.rejected.len() as u64);
    f.apply_wake.notify_one();
    Ok(text.into_bytes())
}

fn page(mut events: Vec<Vec<u8>>, limit: i64) -> Vec<u8> {
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    LogPage { events, more }.encode()
}

/// `GET /federation/v1/log/{origin}?after=N&limit=M`: an origin's log after a sequence number.
pub async fn log(
    node: &Node,
    origin: &str,
    after: i64,
    limit: Option<i64>,
) -> Result<Vec<u8>, ReceiveError> {
    let limit = limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let events = node
        .store
        .events_after(origin, after.max(0), limit + 1)
        .await?;
    Ok(page(events, limit))
}

/// `GET /federation/v1/reports/{key}/history`: every signed event of one report this node holds (by report
/// id or tracking code), for a transfer's target and for tracking lookups on other nodes.
pub async fn history(node: &Node, key: &str) -> Result<Vec<u8>, ReceiveError> {
    let id = if key.contains(':') {
        Some(key.to_owned())
    } else {
        node.store
            .report_by_tracking_code(&tracking::normalise_tracking_code(key))
            .await?
            .map(|r| r.id)
    };
    let events = match id {
        Some(id) => node.store.report_history(&id).await?,
        None => Vec::new(),
    };
    if events.is_empty() {
        return Err(ReceiveError::NotFound("report"));
    }
    if events.len() > MAX_HISTORY {
        return Err(ReceiveError::HistoryTooLong);
    }
    Ok(super::history::history_page(&events))
}

/// `POST /federation/v1/catch-up`: everything after what the caller has of each origin, in one round trip.
/// Origins the caller does not list are included from the start when they are this node's own log.
pub async fn catch_up(node: &Node, body: &[u8]) -> Result<Vec<u8>, ReceiveError> {
    let req: CatchUpRequest =
        serde_json::from_slice(body).map_err(|e| ReceiveError::Malformed(e.to_string()))?;
    let mut have: BTreeMap<String, u64> = req.have;
    have.entry(node.id().to_owned()).or_insert(0);
    let limit = i64::try_from(req.limit)
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let mut events = Vec::new();
    for (origin, after) in &have {
        let room = limit + 1 - events.len() as i64;
        if room <= 0 {
            break;
        }
        let after = i64::try_from(*after).unwrap_or(i64::MAX);
        events.extend(node.store.events_after(origin, after, room).await?);
    }
    Ok(page(events, limit))
}

/// `GET /federation/v1/blobs/{hash}`: a sealed blob (only peers; it is sealed anyway).
pub async fn blob(node: &Node, hash: &str) -> Result<Vec<u8>, ReceiveError> {
    node.store
        .blob_get(hash)
        .await?
        .ok_or(ReceiveError::NotFound("blob"))
}

/// `GET /federation/v1/directory[?v=2]`: the hub's signed directory in format `version` (1 when not asked).
pub async fn directory(node: &Node, version: Option<u64>) -> Result<Vec<u8>, ReceiveError> {
    if !node.is_hub() {
        return Err(ReceiveError::NotHub);
    }
    let version = version.unwrap_or(1);
    if !(1..=super::directory::VERSION).contains(&version) {
        return Err(ReceiveError::Malformed(format!(
            "directory version {version} is not served here (1..={})",
            super::directory::VERSION
        )));
    }
    Ok(super::directory::build(node, version).await?)
}

/// Largest body of a signed request other than a push (a catch-up asks with one head per origin).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
