//! Transfers: moving a report to the node that must act on it, without ever leaving it with two owners or
//! none.
//!
//! ```text
//!  owner O ── transfer.offer ──> hub: checks (owner, epoch, no open transfer, target known, cooldown)
//!  hub ── transfer.forwarded (or transfer.refused) ──> every node; target T fetches the report's whole
//!       signed history from the hub, imports it as pending
//!  T ── transfer.accept ──> hub ── transfer.committed (epoch + 1) ──> every node: ownership moves to T
//!  T: report.transferred (first event of the new epoch)     O: transfer.tombstone (points at T)
//!  hub: transfer.refused {code: expired} when T does not accept in time; the report stays with O
//! ```
//!
//! The hub is the only node that decides (forwards, refuses, commits, expires), one transaction per decision
//! with the report's ownership row locked, so of two concurrent offers exactly one commits. Every step that a
//! node still has to take is a stored event in state `pending` (an offer or accept at the hub, a forward at
//! the target, a commit at the old and new owner), consumed in the same transaction that takes the step:
//! a crash at any point repeats nothing and loses nothing. While a transfer is open the owner takes no
//! lifecycle action on the report (409 `transfer_pending`).

use lapor_federation::canonical::from_value;
use lapor_federation::{Event, EventClass, EventKind, TransferKind};
use lapor_schemas::{ReportStatus, TimelineAction};

use super::apply::parse_event;
use super::author::{self, Attempt};
use super::error::{FedError, FedResult};
use super::history::refresh;
pub use lapor_schemas::events::TransferPayload;

use crate::domain::{lifecycle, Millis, Report, TimelineRecord, Transition};
use crate::node::Node;
use crate::storage::Conflict;
use crate::storage::{Effect, EventDraft, StorageError, StoredEvent, TransferChange, TransferRow};

/// Reasons a transfer may give. `ombudsman`: an escalation the reporter consented to; its target must be a
/// node enrolled in the `ombudsman` role.
pub const REASONS: [&str; 4] = ["routing", "not_authority", "misrouted", "ombudsman"];

/// Whether `to` may receive a transfer for `reason`: an escalation only goes to an Ombudsman node.
fn target_fits(node: &Node, to: &str, reason: &str) -> bool {
    reason != "ombudsman" || node.fed.peer(to).is_some_and(|p| p.role == "ombudsman")
}

fn quarantine(code: &str, reason: impl Into<String>) -> Effect {
    Effect::Quarantine {
        code: code.to_owned(),
        reason: reason.into(),
    }
}

fn row_of(
    p: &TransferPayload,
    offer_id: &str,
    report_id: &str,
    state: &str,
    now: Millis,
) -> TransferRow {
    TransferRow {
        offer_id: offer_id.to_owned(),
        report_id: report_id.to_owned(),
        from_node: p.from.clone(),
        to_node: p.to.clone(),
        epoch: p.epoch,
        agency_id: p.agency_id.clone(),
        reason: p.reason.clone(),
        note: p.note.clone(),
        state: state.to_owned(),
        code: p.code.clone(),
        expires_at: p.expires_at_ms,
        created_at: now,
        updated_at: now,
    }
}

/// What accepting a received `transfer.*` event does on this node, once [`super::authorise`] let it through.
pub fn effect_for(
    node: &Node,
    event: &Event,
    id: &str,
    kind: TransferKind,
    p: &TransferPayload,
) -> Effect {
    if !REASONS.contains(&p.reason.as_str()) || p.from == p.to || p.epoch < 1 {
        return quarantine(
            "bad_transfer",
            "unknown reason, or a transfer to the same node",
        );
    }
    let me = node.id();
    let hub_here = node.is_hub();
    let offer_id = p.offer.clone().unwrap_or_else(|| id.to_owned());
    let now = node.now();
    if kind == TransferKind::Released {
        // The hub's commit step looks for it among the report's events.
        return Effect::Store;
    }
    let (state, pending, commit) = match kind {
        TransferKind::Offer => ("offered", hub_here, false),
        // The target accepts; the owner of a report the hub moves without its offer releases it.
        TransferKind::Forwarded => (
            "forwarded",
            p.to == me || (p.from == me && p.offer.is_none()),
            false,
        ),
        TransferKind::Accept => ("accepted", hub_here, false),
        TransferKind::Committed => ("committed", p.to == me || p.from == me, true),
        TransferKind::Refused => (
            if p.code.as_deref() == Some("expired") {
                "expired"
            } else {
                "refused"
            },
            false,
            false,
        ),
        TransferKind::Tombstone | TransferKind::Released => ("committed", false, false),
    };
    Effect::Transfer {
        change: Box::new(TransferChange {
            row: row_of(p, &offer_id, &event.report_id, state, now),
            open: false,
            commit,
        }),
        pending,
    }
}

fn draft(
    node: &Node,
    kind: TransferKind,
    report_id: &str,
    p: &TransferPayload,
) -> FedResult<EventDraft> {
    Ok(author::draft(
        node,
        EventKind::Transfer(kind),
        report_id,
        author::encode(p)?,
    ))
}

/// The stable code of a storage refusal to open a transfer.
fn refusal(e: &StorageError) -> Option<&'static str> {
    match e {
        StorageError::Conflict(c @ (Conflict::TransferPending | Conflict::StaleEpoch)) => {
            Some(c.code())
        }
        _ => None,
    }
}

/// Opens a transfer of a report to `to` (from an admin's request or from routing at intake). On the owner
/// this is a `transfer.offer` for the hub to check; on the hub (owner or not) it is decided at once.
pub async fn open(
    node: &Node,
    report: &Report,
    to: &str,
    reason: &str,
    note: Option<String>,
    agency_id: Option<String>,
) -> FedResult<TransferRow> {
    let owner = node.owner_of(&report.id).await?;
    let held = node.store.report_owner(&report.id).await?;
    let epoch = held.as_ref().map_or(0, |o| o.epoch) + 1;
    let me = node.id().to_owned();
    if to == owner {
        return Err(FedError::TransferRefused("same_node"));
    }
    if to != me && node.fed.peer(to).is_none() {
        return Err(FedError::TransferRefused("unknown_node"));
    }
    if !target_fits(node, to, reason) {
        return Err(FedError::TransferRefused("not_ombudsman"));
    }
    // The hub checks again when it decides; checking here gives the admin the answer at once.
    if in_cooldown(node, &report.id, to).await? {
        return Err(FedError::TransferRefused("cooldown"));
    }
    let p = TransferPayload {
        offer: None,
        from: owner.clone(),
        to: to.to_owned(),
        epoch,
        reason: reason.to_owned(),
        note,
        agency_id,
        expires_at_ms: None,
        code: None,
        last_event: None,
    };
    let hub = node.is_hub();
    let mut d = if hub && owner != me {
        // The hub moves another node's report itself: the forward opens the transfer.
        let p = TransferPayload {
            expires_at_ms: Some(node.now() + expiry_ms(node)),
            ..p
        };
        let mut d = draft(node, TransferKind::Forwarded, &report.id, &p)?;
        d.pending = to == me;
        d.transfer = Some(change(&p, "", &report.id, "forwarded", node.now(), true));
        d
    } else if owner == me {
        let mut d = draft(node, TransferKind::Offer, &report.id, &p)?;
        // On the hub its own offer waits for its own decision, like any other.
        d.pending = hub;
        d.transfer = Some(change(&p, "", &report.id, "offered", node.now(), true));
        d
    } else {
        return Err(FedError::NotOwner(owner));
    };
    d.authored_at = node.now();
    let signed = match node.store.event_append(&d).await {
        Ok(s) => s,
        Err(e) => return Err(refusal(&e).map_or(FedError::Storage(e), FedError::TransferRefused)),
    };
    node.fed.push_wake.notify_waiters();
    node.fed.transfer_wake.notify_one();
    let id = signed.id().to_string();
    tracing::info!(report.id = %report.id, from = %owner, %to, reason, offer = %id, "transfer opened");
    node.store
        .transfer_get(&id)
        .await?
        .ok_or(FedError::NotFound("transfer"))
}

fn change(
    p: &TransferPayload,
    offer_id: &str,
    report_id: &str,
    state: &str,
    now: Millis,
    open: bool,
) -> TransferChange {
    TransferChange {
        row: row_of(p, offer_id, report_id, state, now),
        open,
        commit: false,
    }
}

fn expiry_ms(node: &Node) -> i64 {
    i64::try_from(node.config.routing.transfer_expiry_secs)
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(1000)
}

/// Whether the report left `to` less than the cooldown ago (no ping-pong back to it).
async fn in_cooldown(node: &Node, report_id: &str, to: &str) -> Result<bool, StorageError> {
    let cooldown = i64::try_from(node.config.routing.transfer_cooldown_secs)
        .unwrap_or(0)
        .saturating_mul(1000);
    let since = node.now() - cooldown;
    Ok(node
        .store
        .transfers_of_report(report_id)
        .await?
        .into_iter()
        .any(|t| t.state == "committed" && t.from_node == to && t.updated_at > since))
}

fn payload_of(stored: &StoredEvent) -> anyhow::Result<(Event, TransferPayload)> {
    let event = parse_event(&stored.wire)?;
    let p: TransferPayload = from_value(event.payload.clone())?;
    Ok((event, p))
}

/// Hub: decides on an offer (forward it to the target, or refuse it), consuming it.
async fn decide(node: &Node, stored: &StoredEvent) -> anyhow::Result<()> {
    let (event, p) = payload_of(stored)?;
    let me = node.id().to_owned();
    // The offer names the agency as its author knows it; the hub's own events name it as the hub does.
    let base = TransferPayload {
        offer: Some(stored.id.clone()),
        agency_id: super::agencies::localize_opt(&me, &event.origin, p.agency_id.as_ref()),
        ..p.clone()
    };
    let refused = |code: &str| TransferPayload {
        code: Some(code.to_owned()),
        ..base.clone()
    };
    let verdict = if p.to != me && node.fed.peer(&p.to).is_none() {
        Err("unknown_node".to_owned())
    } else if !target_fits(node, &p.to, &p.reason) {
        Err("not_ombudsman".to_owned())
    } else if in_cooldown(node, &event.report_id, &p.to).await? {
        Err("cooldown".to_owned())
    } else {
        Ok(())
    };
    if verdict.is_ok() {
        let fwd = TransferPayload {
            expires_at_ms: Some(node.now() + expiry_ms(node)),
            ..base.clone()
        };
        let mut d = draft(node, TransferKind::Forwarded, &event.report_id, &fwd)?;
        d.consumes = Some(stored.id.clone());
        d.pending = p.to == me;
        d.transfer = Some(change(
            &fwd,
            &stored.id,
            &event.report_id,
            "forwarded",
            node.now(),
            true,
        ));
        match node.store.event_append(&d).await {
            Ok(_) => {
                tracing::info!(report.id = %event.report_id, to = %p.to, "transfer forwarded to its target");
                return Ok(());
            }
            Err(e) if refusal(&e).is_some() => {
                let code = refusal(&e).unwrap_or_default();
                return refuse(node, &event.report_id, &stored.id, &refused(code)).await;
            }
            Err(StorageError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    let code = verdict.err().unwrap_or_default();
    refuse(node, &event.report_id, &stored.id, &refused(&code)).await
}

async fn refuse(
    node: &Node,
    report_id: &str,
    consumes: &str,
    p: &TransferPayload,
) -> anyhow::Result<()> {
    let offer = p.offer.clone().unwrap_or_default();
    let state = if p.code.as_deref() == Some("expired") {
        "expired"
    } else {
        "refused"
    };
    let mut d = draft(node, TransferKind::Refused, report_id, p)?;
    d.consumes = (!consumes.is_empty()).then(|| consumes.to_owned());
    d.transfer = Some(change(p, &offer, report_id, state, node.now(), false));
    match node.store.event_append(&d).await {
        Ok(_) | Err(StorageError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(report.id = %report_id, code = ?p.code, "transfer refused");
    Ok(())
}

/// Whether the old owner closed its epoch for this transfer: it offered the report itself (its offer follows
/// every event it authored at that epoch in its log, and it takes no action while the transfer is open), or it
/// released a report the hub moves. The hub applies an origin's log in order, so once this holds, the hub
/// holds every event the old owner authored at its epoch.
pub async fn old_owner_closed(node: &Node, row: &TransferRow) -> anyhow::Result<bool> {
    if row.from_node == node.id() {
        return Ok(true);
    }
    let opened_by = node.store.event_get(&row.offer_id).await?;
    if opened_by.is_some_and(|e| e.kind == EventKind::Transfer(TransferKind::Offer)) {
        return Ok(true);
    }
    for e in node.store.report_events(&row.report_id).await? {
        if e.origin != row.from_node || e.kind != EventKind::Transfer(TransferKind::Released) {
            continue;
        }
        if payload_of(&e).is_ok_and(|(_, p)| p.offer.as_deref() == Some(row.offer_id.as_str())) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Hub: commits an accepted transfer (the next epoch belongs to the target), consuming the accept, once the
/// old owner closed its epoch ([`old_owner_closed`]). Returns whether it took a step (`false`: it waits).
async fn commit(node: &Node, stored: &StoredEvent) -> anyhow::Result<bool> {
    let (event, p) = payload_of(stored)?;
    let offer = p.offer.clone().unwrap_or_default();
    let row = node.store.transfer_get(&offer).await?;
    let Some(row) = row.filter(|r| r.state == "accepted") else {
        node.store
            .event_quarantine(
                &stored.id,
                "transfer_closed",
                "the transfer is no longer open",
                node.now(),
            )
            .await?;
        return Ok(true);
    };
    if !old_owner_closed(node, &row).await? {
        return Ok(false);
    }
    let held = node.store.report_owner(&event.report_id).await?;
    let me = node.id().to_owned();
    let c = TransferPayload {
        last_event: held.and_then(|o| o.last_event_id),
        expires_at_ms: None,
        code: None,
        ..p.clone()
    };
    let mut d = draft(node, TransferKind::Committed, &event.report_id, &c)?;
    d.consumes = Some(stored.id.clone());
    d.epoch = Some(row.epoch);
    d.pending = c.to == me || c.from == me;
    d.transfer = Some(TransferChange {
        row: row_of(&c, &offer, &event.report_id, "committed", node.now()),
        open: false,
        commit: true,
    });
    match node.store.event_append(&d).await {
        Ok(_) | Err(StorageError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(report.id = %event.report_id, from = %c.from, to = %c.to, epoch = row.epoch, "transfer committed");
    Ok(true)
}

/// Owner of a report the hub moves without its offer: stops acting on it (the open transfer refuses every
/// change here) and says so with `transfer.released`, naming its latest event of the report, consuming the
/// forward. The hub commits only after it holds this, so no action this node acknowledged is left behind.
async fn release(node: &Node, stored: &StoredEvent) -> anyhow::Result<()> {
    let (event, p) = payload_of(stored)?;
    let held = node.store.report_owner(&event.report_id).await?;
    let Some(held) = held.filter(|h| h.owner == node.id() && h.epoch == p.epoch - 1) else {
        node.store.event_settle(&stored.id).await?;
        return Ok(());
    };
    let r = TransferPayload {
        offer: Some(stored.id.clone()),
        last_event: held.last_event_id.clone(),
        expires_at_ms: None,
        code: None,
        ..p.clone()
    };
    let mut d = draft(node, TransferKind::Released, &event.report_id, &r)?;
    d.consumes = Some(stored.id.clone());
    match node.store.event_append(&d).await {
        Ok(_) | Err(StorageError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(report.id = %event.report_id, to = %p.to, "report released to the hub's transfer");
    Ok(())
}

/// Target: imports the report's history and accepts, consuming the forward.
async fn accept(node: &Node, stored: &StoredEvent) -> anyhow::Result<()> {
    let (event, p) = payload_of(stored)?;
    refresh(node, &event.report_id).await?;
    let offer = p.offer.clone().unwrap_or_else(|| stored.id.clone());
    let a = TransferPayload {
        offer: Some(offer.clone()),
        expires_at_ms: None,
        ..p.clone()
    };
    let mut d = draft(node, TransferKind::Accept, &event.report_id, &a)?;
    d.consumes = Some(stored.id.clone());
    d.pending = node.is_hub();
    d.transfer = Some(change(
        &a,
        &offer,
        &event.report_id,
        "accepted",
        node.now(),
        false,
    ));
    match node.store.event_append(&d).await {
        Ok(_) | Err(StorageError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(report.id = %event.report_id, from = %p.from, "transfer accepted; history imported");
    Ok(())
}

/// Old owner: writes the tombstone; new owner: opens its epoch with `report.transferred`. Consumes the
/// commit.
async fn settle(node: &Node, stored: &StoredEvent) -> anyhow::Result<()> {
    let (event, p) = payload_of(stored)?;
    let me = node.id().to_owned();
    if p.from == me {
        let mut d = draft(
            node,
            TransferKind::Tombstone,
            &event.report_id,
            &TransferPayload {
                last_event: None,
                ..p.clone()
            },
        )?;
        d.consumes = Some(stored.id.clone());
        match node.store.event_append(&d).await {
            Ok(_) | Err(StorageError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(report.id = %event.report_id, to = %p.to, "tombstone written; the report moved");
        return Ok(());
    }
    // The new owner, unless a later commit (in the same batch, say) moved the report on: then the epoch of
    // this commit is not this node's to sign in any more, and there is nothing to open.
    let held = node.store.report_owner(&event.report_id).await?;
    if !held
        .as_ref()
        .is_some_and(|h| h.owner == me && h.epoch == p.epoch)
    {
        node.store.event_settle(&stored.id).await?;
        tracing::info!(report.id = %event.report_id, epoch = p.epoch,
            "commit overtaken by a later one; nothing to open here");
        return Ok(());
    }
    // Make sure it holds everything the hub had when it committed (the import merges even though this node
    // owns the report now: it has authored nothing at this epoch yet).
    let have_last = node
        .store
        .report_history(&event.report_id)
        .await?
        .iter()
        .any(|h| Some(&h.id) == p.last_event.as_ref());
    if !have_last && p.last_event.is_some() && !node.is_hub() {
        refresh(node, &event.report_id).await?;
    }
    let (consumed, event, p) = (&stored.id, &event, &p);
    let outcome = author::change(node, move || async move {
        let Some(report) = node.store.report_get(&event.report_id).await? else {
            refresh(node, &event.report_id).await?;
            return Ok::<_, anyhow::Error>(Attempt::Again);
        };
        Ok(Attempt::Commit {
            transition: Box::new(arrival(node, &report, p).await?),
            consumes: Some(consumed.clone()),
            then: (),
        })
    })
    .await;
    match outcome {
        Ok(()) => {
            tracing::info!(report.id = %event.report_id, from = %p.from, epoch = ?held.map(|h| h.epoch),
                "transferred report received; it waits for verification here");
            Ok(())
        }
        Err(e) if matches!(e.downcast_ref(), Some(FedError::AlreadyConsumed)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The first change of the new owner: back to its admin queue, the verification clock restarted, the
/// suggested agency kept when it is one of this node's.
async fn arrival(node: &Node, report: &Report, p: &TransferPayload) -> anyhow::Result<Transition> {
    let now = node.now();
    let mut next = report.clone();
    // The commit is the hub's: its agency id is in the hub's namespace.
    let hub = node
        .hub_peer()
        .map_or_else(|| node.id().to_owned(), |h| h.node_id);
    let agency = match super::agencies::localize_opt(node.id(), &hub, p.agency_id.as_ref()) {
        Some(id) => node
            .store
            .agency_get(&id)
            .await?
            .filter(|a| a.node_id.is_none() && a.active),
        None => None,
    };
    next.agency_id = agency.as_ref().map(|a| a.id.clone());
    next.agency_path = agency.map(|a| a.path);
    next.status = ReportStatus::Submitted;
    next.verified_at = None;
    next.responded_at = None;
    next.followup_due_at = None;
    next.followup_overdue = false;
    next.autocomplete_at = None;
    next.verification_overdue = false;
    next.verification_due_at = Some(
        node.calendar
            .add_working_days(now, lifecycle::VERIFY_WORKING_DAYS),
    );
    next.updated_at = now;
    next.version = report.version + 1;
    let from_name = node
        .fed
        .peer(&p.from)
        .map_or_else(|| p.from.clone(), |n| n.name);
    let note = match &p.note {
        Some(n) => format!("Dialihkan dari {from_name} ({}): {n}", p.reason),
        None => format!("Dialihkan dari {from_name} ({})", p.reason),
    };
    Ok(Transition {
        entry: TimelineRecord {
            report_id: report.id.clone(),
            seq: 0,
            at: now,
            action: TimelineAction::Transferred,
            actor_role: "system".into(),
            actor_id: None,
            actor_name: None,
            agency_id: next.agency_id.clone(),
            from_status: Some(report.status),
            to_status: Some(ReportStatus::Submitted),
            note: Some(note),
        },
        report: next,
        erase_identity: false,
    })
}

/// Hub: expires forwarded transfers whose target did not accept in time.
async fn expire(node: &Node) -> anyhow::Result<usize> {
    let now = node.now();
    let mut n = 0;
    for row in node.store.transfers_list(true, 500).await? {
        // Forwarded and not accepted in time, or accepted while the old owner never released it.
        let waiting = match row.state.as_str() {
            "forwarded" => true,
            "accepted" => !old_owner_closed(node, &row).await?,
            _ => false,
        };
        if !waiting || row.expires_at.is_none_or(|e| e > now) {
            continue;
        }
        let p = TransferPayload {
            offer: Some(row.offer_id.clone()),
            from: row.from_node.clone(),
            to: row.to_node.clone(),
            epoch: row.epoch,
            reason: row.reason.clone(),
            note: None,
            agency_id: row.agency_id.clone(),
            expires_at_ms: None,
            code: Some("expired".into()),
            last_event: None,
        };
        refuse(node, &row.report_id, "", &p).await?;
        tracing::warn!(report.id = %row.report_id, to = %row.to_node, "transfer expired; the report stays with its owner");
        n += 1;
    }
    Ok(n)
}

/// One pass of the transfer worker. Returns how many steps were taken.
pub async fn transfers_once(node: &Node) -> anyhow::Result<usize> {
    let mut done = 0;
    for stored in node
        .store
        .events_pending(EventClass::Transfer.prefix(), 100)
        .await?
    {
        let step = match EventKind::parse(&stored.kind) {
            Some(EventKind::Transfer(TransferKind::Offer)) => decide(node, &stored).await,
            Some(EventKind::Transfer(TransferKind::Accept)) => match commit(node, &stored).await {
                Ok(false) => continue,
                other => other.map(|_| ()),
            },
            Some(EventKind::Transfer(TransferKind::Forwarded)) => match payload_of(&stored) {
                Ok((_, p)) if p.to != node.id() => release(node, &stored).await,
                _ => accept(node, &stored).await,
            },
            Some(EventKind::Transfer(TransferKind::Committed)) => settle(node, &stored).await,
            _ => {
                tracing::warn!(kind = %stored.kind, "no transfer step for this event");
                node.store
                    .event_quarantine(&stored.id, "unknown_type", "no transfer step", node.now())
                    .await?;
                Ok(())
            }
        };
        match step {
            Ok(()) => done += 1,
            Err(e) => tracing::info!(event.id = %stored.id, kind = %stored.kind, error = %e,
                "transfer step will be retried"),
        }
    }
    if node.is_hub() {
        done += expire(node).await?;
    }
    if done > 0 {
        node.fed.push_wake.notify_waiters();
    }
    Ok(done)
}

/// The transfer loop.
pub async fn run_transfers(node: Node) {
    let poll = std::time::Duration::from_millis(node.fed.config.poll_ms);
    loop {
        if !node.lease("transfers").await {
            tokio::time::sleep(poll).await;
            continue;
        }
        match transfers_once(&node).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "transfer worker failed"),
        }
        let _ = tokio::time::timeout(poll, node.fed.transfer_wake.notified()).await;
    }
}

/// The open transfer of a report, if any.
pub async fn open_transfer(
    node: &Node,
    report_id: &str,
) -> Result<Option<TransferRow>, StorageError> {
    Ok(node
        .store
        .transfers_of_report(report_id)
        .await?
        .into_iter()
        .find(TransferRow::is_open))
}
