//! What an operator needs to see of the federation, gathered in one place from storage and the process
//! counters: per peer the cursor, backlog, lag and last error; per origin the head and whether it is frozen;
//! the inbox, quarantine and equivocations. `/metrics` and `lapor federation status` render the same
//! snapshot, so they can never disagree.

use std::sync::atomic::Ordering;

use super::Counters;
use crate::domain::Millis;
use crate::node::Node;
use crate::storage::{EquivocationRow, OriginHead, PeerRecord, QuarantineRow, StorageError};

/// One peer as the push side sees it.
#[derive(Debug, Clone)]
pub struct PeerStatus {
    /// The stored record (cursor, failures, last error, refusals).
    pub peer: PeerRecord,
    /// Events queued for it and not yet acknowledged.
    pub backlog: i64,
    /// Age of the oldest of them, in milliseconds (0 when none).
    pub lag_ms: i64,
}

/// How many events of one origin the authorisation rules refused with one code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    /// The origin that authored them.
    pub origin: String,
    /// The refusal code.
    pub code: String,
    /// How many are in quarantine.
    pub count: usize,
}

fn refusals_of(quarantine: &[QuarantineRow]) -> Vec<Refusals> {
    let mut by: std::collections::BTreeMap<(&str, &str), usize> = std::collections::BTreeMap::new();
    for q in quarantine {
        if super::authorise::CODES.contains(&q.code.as_str())
            || q.code == crate::storage::BROKEN_CHAIN
        {
            *by.entry((q.origin.as_str(), q.code.as_str())).or_default() += 1;
        }
    }
    let mut out: Vec<Refusals> = by
        .into_iter()
        .map(|((origin, code), count)| Refusals {
            origin: origin.to_owned(),
            code: code.to_owned(),
            count,
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.count));
    out
}

/// The process counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterValues {
    /// Events accepted into the inbox from pushes.
    pub received: u64,
    /// Events refused at receipt.
    pub rejected: u64,
    /// Push requests refused as a whole.
    pub rejected_requests: u64,
    /// Events applied.
    pub applied: u64,
    /// Events quarantined.
    pub quarantined: u64,
    /// Equivocations detected.
    pub equivocations: u64,
    /// Events sent and acknowledged.
    pub sent: u64,
    /// Pushes that failed.
    pub push_failures: u64,
    /// Received pushes refused as stale.
    pub stale_requests: u64,
    /// Received pushes refused as replayed.
    pub replayed_requests: u64,
}

impl CounterValues {
    fn of(c: &Counters) -> Self {
        let v = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Self {
            received: v(&c.received),
            rejected: v(&c.rejected),
            rejected_requests: v(&c.rejected_requests),
            applied: v(&c.applied),
            quarantined: v(&c.quarantined),
            equivocations: v(&c.equivocations),
            sent: v(&c.sent),
            push_failures: v(&c.push_failures),
            stale_requests: v(&c.stale_requests),
            replayed_requests: v(&c.replayed_requests),
        }
    }
}

/// The federation state of this node at `now`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When it was taken.
    pub now: Millis,
    /// Every peer.
    pub peers: Vec<PeerStatus>,
    /// Every origin's head.
    pub heads: Vec<OriginHead>,
    /// Received events waiting to be applied (counted only when asked: it reads the inbox).
    pub inbox: Option<usize>,
    /// Events in quarantine.
    pub quarantined: usize,
    /// The latest quarantined events (at most `recent`).
    pub recent_quarantine: Vec<QuarantineRow>,
    /// Events refused by the authorisation rules ([`super::authorise`]) or as a fork of their origin's log
    /// (`broken_chain`), per origin and code, most first.
    pub refusals: Vec<Refusals>,
    /// Recorded equivocations.
    pub equivocations: Vec<EquivocationRow>,
    /// Events waiting for a step of this node, each with its reason.
    pub pending: Vec<super::pending::PendingEvent>,
    /// Reporter identities still on their way to this node (it owns the reports now) or whose former owners
    /// have not confirmed erasing their copy ([`super::identity`]).
    pub handovers: Vec<crate::storage::HandoverRow>,
    /// Process counters since start.
    pub counters: CounterValues,
}

/// Takes a snapshot, listing at most `recent` quarantined events and counting the inbox with `count_inbox`.
pub async fn snapshot(
    node: &Node,
    recent: usize,
    count_inbox: bool,
) -> Result<Snapshot, StorageError> {
    let now = node.now();
    let mut peers = Vec::new();
    for peer in node.store.peer_list().await? {
        let (backlog, oldest) = node
            .store
            .outbox_backlog(&peer.node_id, peer.push_cursor)
            .await?;
        peers.push(PeerStatus {
            lag_ms: oldest.map_or(0, |t| (now - t).max(0)),
            backlog,
            peer,
        });
    }
    let quarantine = node.store.quarantine_list(1_000_000).await?;
    Ok(Snapshot {
        now,
        peers,
        heads: node.store.origin_heads().await?,
        inbox: if count_inbox {
            Some(
                node.store
                    .inbox_counts()
                    .await?
                    .iter()
                    .map(|(_, n)| usize::try_from(*n).unwrap_or(0))
                    .sum(),
            )
        } else {
            None
        },
        quarantined: quarantine.len(),
        refusals: refusals_of(&quarantine),
        recent_quarantine: quarantine.into_iter().take(recent).collect(),
        equivocations: node.store.equivocation_list().await?,
        pending: super::pending::pending(node).await?,
        handovers: node.store.handover_open().await?,
        counters: CounterValues::of(&node.fed.counters),
    })
}
