//! `lapor federation status`: the sync state of this node as text, from the same snapshot `/metrics` renders.

use std::fmt::Write as _;

use clap::Subcommand;

use crate::config::Config;
use crate::federation::status::{self, Snapshot};
use crate::node::Node;

/// `lapor federation …`
#[derive(Debug, Subcommand)]
pub enum FederationAction {
    /// Per peer: cursor, backlog, lag, last error; per origin: head and frozen state; quarantine.
    Status,
    /// Lift the freeze of an origin after its equivocation was investigated (see docs/OPERATIONS.md): its
    /// next events apply again; the equivocation stays on record. A running node picks it up at once.
    Unfreeze {
        /// The origin node id.
        origin: String,
    },
}

fn ago(now: i64, t: i64) -> i64 {
    (now - t).max(0) / 1000
}

/// The text of `lapor federation status` for a snapshot.
pub fn status_text(node: &Node, s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "node {} ({:?}), key {}",
        node.id(),
        node.fed.role,
        node.fed.keys().key_id
    );
    let _ = writeln!(out, "\npeers:");
    for ps in &s.peers {
        let p = &ps.peer;
        let last = p
            .last_success_at
            .map_or_else(|| "never".to_owned(), |t| format!("{}s ago", ago(s.now, t)));
        let _ = writeln!(
            out,
            "  {} [{}] {}\n    cursor {}  backlog {}  lag {}s  last success {}  failures {}  refused {}\n    last error: {}",
            p.node_id,
            p.role,
            p.base_url,
            p.push_cursor,
            ps.backlog,
            ps.lag_ms / 1000,
            last,
            p.failures,
            p.rejected_total,
            p.last_error.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(out, "\norigins:");
    for h in &s.heads {
        let frozen = if h.frozen {
            format!("  FROZEN: {}", h.frozen_reason.clone().unwrap_or_default())
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {}  head {}{frozen}", h.origin, h.head_seq);
    }
    let _ = writeln!(
        out,
        "\ninbox: {} waiting\nquarantine ({} in all, latest {}):",
        s.inbox.unwrap_or(0),
        s.quarantined,
        s.recent_quarantine.len()
    );
    for q in &s.recent_quarantine {
        let _ = writeln!(
            out,
            "  {} {}#{}  {}: {}",
            q.event_id, q.origin, q.origin_seq, q.code, q.reason
        );
    }
    if !s.refusals.is_empty() {
        let _ = writeln!(
            out,
            "REFUSED by the authorisation rules or as a fork of the origin's log (per origin):"
        );
        for r in &s.refusals {
            let _ = writeln!(out, "  {}  {} x {}", r.origin, r.code, r.count);
        }
    }
    let _ = writeln!(out, "pending: {} waiting for a step here", s.pending.len());
    for p in &s.pending {
        let _ = writeln!(out, "  {} {} {}: {}", p.id, p.kind, p.report_id, p.reason);
    }
    let _ = writeln!(
        out,
        "identity handovers: {} open (reporter identities coming from a former owner, or its copy not yet erased)",
        s.handovers.len()
    );
    for h in &s.handovers {
        let _ = writeln!(
            out,
            "  IDENTITY {} {} epoch {}: {} attempts{}",
            h.state.as_deref().unwrap_or("fetching"),
            h.report_id,
            h.epoch,
            h.attempts,
            h.last_error
                .as_deref()
                .map_or_else(String::new, |e| format!(", last error: {e}"))
        );
    }
    let _ = writeln!(out, "equivocations: {}", s.equivocations.len());
    for e in &s.equivocations {
        let _ = writeln!(
            out,
            "  {}#{}: {} vs {}",
            e.origin, e.origin_seq, e.first_id, e.second_id
        );
    }
    out
}

/// Runs `lapor federation …`.
pub async fn run(config: Config, action: FederationAction) -> anyhow::Result<()> {
    let node = super::open_node(config).await?;
    match action {
        FederationAction::Status => {
            let s = status::snapshot(&node, 20, true).await?;
            print!("{}", status_text(&node, &s));
            print!(
                "\nnotifications (outbox by channel and state)\n{}",
                crate::notify::status::summary(&node.store).await?
            );
        }
        FederationAction::Unfreeze { origin } => {
            if !node.store.origin_unfreeze(&origin, node.now()).await? {
                anyhow::bail!(
                    "origin {origin:?} is not frozen here (see `lapor federation status`)"
                );
            }
            node.fed.apply_wake.notify_one();
            println!(
                "origin {origin} unfrozen: its next events apply again (the equivocation stays on record)"
            );
        }
    }
    Ok(())
}
