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

use std::collections::BTreeMap;

use lapor_federation::canonical::from_value;
use lapor_federation::wire::LogPage;
use lapor_federation::Event;
use serde::{Deserialize, Serialize};

use super::apply::parse_event;
use super::payload::{self, ReportPayload};
use crate::config::NodeRole;
use crate::domain::{lifecycle, Millis, Report, TimelineRecord, Transition};
use crate::service::{App, AppError, AppResult};
use crate::storage::{
    Effect, EventDraft, HistoryEvent, OwnerRow, ReportImport, StorageError, StoredEvent,
    TransferChange, TransferRow,
};
use lapor_schemas::{ReportStatus, TimelineAction};

/// Payload of every `transfer.*` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferPayload {
    /// Id of the event that opened the transfer; absent on that event itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// Owner giving the report up.
    pub from: String,
    /// Node taking it over.
    pub to: String,
    /// The epoch the transfer creates (the held one + 1).
    pub epoch: i64,
    /// `routing`, `not_authority` or `misrouted`.
    pub reason: String,
    /// Officer's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Agency of the target suggested for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
    /// `transfer.forwarded`: when the hub stops waiting for the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
    /// `transfer.refused`: why (`transfer_pending`, `stale_epoch`, `unknown_node`, `same_node`, `cooldown`,
    /// `expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `transfer.committed`: the report's latest event the hub held when it committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<String>,
}

/// Reasons a transfer may give.
pub const REASONS: [&str; 3] = ["routing", "not_authority", "misrouted"];

/// Most events of one report's history served or imported.
pub const MAX_HISTORY: usize = 5000;

fn quarantine(code: &str, reason: impl Into<String>) -> Effect {
    Effect::Quarantine {
        code: code.to_owned(),
        reason: reason.into(),
    }
}

fn is_hub(app: &App, node: &str) -> bool {
    if node == app.fed.node_id {
        return app.fed.role == NodeRole::Hub;
    }
    app.fed.peer(node).is_some_and(|p| p.role == "hub")
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

/// What accepting a received `transfer.*` event does on this node.
pub fn effect_for(app: &App, event: &Event, id: &str) -> Effect {
    let p: TransferPayload = match payload::decode(&event.payload) {
        Ok(p) => p,
        Err(e) => return quarantine("bad_payload", e.0),
    };
    if !REASONS.contains(&p.reason.as_str()) || p.from == p.to || p.epoch < 1 {
        return quarantine(
            "bad_transfer",
            "unknown reason, or a transfer to the same node",
        );
    }
    let me = app.fed.node_id.as_str();
    let hub_here = app.fed.role == NodeRole::Hub;
    let offer_id = p.offer.clone().unwrap_or_else(|| id.to_owned());
    let now = app.now();
    let (state, author_ok, pending, commit) = match event.kind.as_str() {
        "transfer.offer" => (
            "offered",
            event.origin == p.from && event.report_epoch as i64 == p.epoch - 1 && p.offer.is_none(),
            hub_here,
            false,
        ),
        "transfer.forwarded" => ("forwarded", is_hub(app, &event.origin), p.to == me, false),
        "transfer.accept" => (
            "accepted",
            event.origin == p.to && p.offer.is_some(),
            hub_here,
            false,
        ),
        "transfer.committed" => (
            "committed",
            is_hub(app, &event.origin) && event.report_epoch as i64 == p.epoch && p.offer.is_some(),
            p.to == me || p.from == me,
            true,
        ),
        "transfer.refused" => (
            if p.code.as_deref() == Some("expired") {
                "expired"
            } else {
                "refused"
            },
            is_hub(app, &event.origin) && p.offer.is_some(),
            false,
            false,
        ),
        "transfer.tombstone" => (
            "committed",
            event.origin == p.from && p.offer.is_some(),
            false,
            false,
        ),
        other => return quarantine("unknown_type", format!("unknown event type {other}")),
    };
    if !author_ok {
        return quarantine(
            "bad_transfer",
            format!(
                "{} from {} is not allowed for this transfer",
                event.kind, event.origin
            ),
        );
    }
    Effect::Transfer {
        change: Box::new(TransferChange {
            row: row_of(&p, &offer_id, &event.report_id, state, now),
            open: false,
            commit,
        }),
        pending,
    }
}

fn draft(app: &App, kind: &str, report_id: &str, p: &TransferPayload) -> AppResult<EventDraft> {
    Ok(EventDraft {
        signer: app.fed.signer.clone(),
        kind: kind.to_owned(),
        report_id: report_id.to_owned(),
        payload: payload::encode(p).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?,
        blobs: Vec::new(),
        authored_at: app.now(),
        destinations: app.fed.destinations(),
        consumes: None,
        epoch: None,
        transfer: None,
        pending: false,
    })
}

/// Why a transfer could not be opened.
fn refusal(code: &str) -> AppError {
    let text = match code {
        "transfer_pending" => "laporan ini sedang dalam proses pengalihan / this report is already being transferred",
        "stale_epoch" => "laporan ini sudah berpindah pemilik / this report changed owner meanwhile",
        "unknown_node" => "node tujuan tidak dikenal / unknown target node",
        "same_node" => "laporan sudah berada di node tujuan / the report is already at that node",
        "cooldown" => "laporan baru saja dialihkan dari node itu; tunggu masa jeda / the report just came from that node; wait for the cooldown",
        _ => "pengalihan ditolak / transfer refused",
    };
    AppError::Conflict(format!("{code}: {text}"))
}

/// Opens a transfer of a report to `to` (from an admin's request or from routing at intake). On the owner
/// this is a `transfer.offer` for the hub to check; on the hub (owner or not) it is decided at once.
pub async fn open(
    app: &App,
    report: &Report,
    to: &str,
    reason: &str,
    note: Option<String>,
    agency_id: Option<String>,
) -> AppResult<TransferRow> {
    let owner = app.owner_of(&report.id).await?;
    let held = app.store.report_owner(&report.id).await?;
    let epoch = held.as_ref().map_or(0, |o| o.epoch) + 1;
    let me = app.fed.node_id.clone();
    if to == owner {
        return Err(refusal("same_node"));
    }
    if to != me && app.fed.peer(to).is_none() {
        return Err(refusal("unknown_node"));
    }
    // The hub checks again when it decides; checking here gives the admin the answer at once.
    check_cooldown(app, &report.id, to).await?;
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
    let hub = app.fed.role == NodeRole::Hub;
    let mut d = if hub && owner != me {
        // The hub moves another node's report itself: the forward opens the transfer.
        let p = TransferPayload {
            expires_at_ms: Some(app.now() + expiry_ms(app)),
            ..p
        };
        let mut d = draft(app, "transfer.forwarded", &report.id, &p)?;
        d.pending = to == me;
        d.transfer = Some(change(&p, "", &report.id, "forwarded", app.now(), true));
        d
    } else if owner == me {
        let mut d = draft(app, "transfer.offer", &report.id, &p)?;
        // On the hub its own offer waits for its own decision, like any other.
        d.pending = hub;
        d.transfer = Some(change(&p, "", &report.id, "offered", app.now(), true));
        d
    } else {
        return Err(AppError::NotOwner(owner));
    };
    d.authored_at = app.now();
    let signed = match app.store.event_append(&d).await {
        Ok(s) => s,
        Err(StorageError::Conflict(code)) => return Err(refusal(&code)),
        Err(e) => return Err(e.into()),
    };
    app.fed.push_wake.notify_waiters();
    app.fed.transfer_wake.notify_one();
    let id = signed.id().to_string();
    tracing::info!(report.id = %report.id, from = %owner, %to, reason, offer = %id, "transfer opened");
    app.store
        .transfer_get(&id)
        .await?
        .ok_or(AppError::NotFound("transfer"))
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

fn expiry_ms(app: &App) -> i64 {
    i64::try_from(app.config.routing.transfer_expiry_secs)
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(1000)
}

async fn check_cooldown(app: &App, report_id: &str, to: &str) -> AppResult<()> {
    let cooldown = i64::try_from(app.config.routing.transfer_cooldown_secs)
        .unwrap_or(0)
        .saturating_mul(1000);
    let since = app.now() - cooldown;
    let recent = app
        .store
        .transfers_of_report(report_id)
        .await?
        .into_iter()
        .any(|t| t.state == "committed" && t.from_node == to && t.updated_at > since);
    if recent {
        return Err(refusal("cooldown"));
    }
    Ok(())
}

fn payload_of(stored: &StoredEvent) -> anyhow::Result<(Event, TransferPayload)> {
    let event = parse_event(&stored.wire)?;
    let p: TransferPayload = from_value(event.payload.clone())?;
    Ok((event, p))
}

/// Hub: decides on an offer (forward it to the target, or refuse it), consuming it.
async fn decide(app: &App, stored: &StoredEvent) -> anyhow::Result<()> {
    let (event, p) = payload_of(stored)?;
    let me = app.fed.node_id.clone();
    let base = TransferPayload {
        offer: Some(stored.id.clone()),
        ..p.clone()
    };
    let refused = |code: &str| TransferPayload {
        code: Some(code.to_owned()),
        ..base.clone()
    };
    let verdict = if p.to != me && app.fed.peer(&p.to).is_none() {
        Err("unknown_node".to_owned())
    } else {
        match check_cooldown(app, &event.report_id, &p.to).await {
            Err(_) => Err("cooldown".to_owned()),
            Ok(()) => Ok(()),
        }
    };
    if verdict.is_ok() {
        let fwd = TransferPayload {
            expires_at_ms: Some(app.now() + expiry_ms(app)),
            ..base.clone()
        };
        let mut d = draft(app, "transfer.forwarded", &event.report_id, &fwd)?;
        d.consumes = Some(stored.id.clone());
        d.pending = p.to == me;
        d.transfer = Some(change(
            &fwd,
            &stored.id,
            &event.report_id,
            "forwarded",
            app.now(),
            true,
        ));
        match app.store.event_append(&d).await {
            Ok(_) => {
                tracing::info!(report.id = %event.report_id, to = %p.to, "transfer forwarded to its target");
                return Ok(());
            }
            Err(StorageError::Conflict(code))
                if code == "transfer_pending" || code == "stale_epoch" =>
            {
                return refuse(app, &event.report_id, &stored.id, &refused(&code)).await;
            }
            Err(StorageError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    let code = verdict.err().unwrap_or_default();
    refuse(app, &event.report_id, &stored.id, &refused(&code)).await
}

async fn refuse(
    app: &App,
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
    let mut d = draft(app, "transfer.refused", report_id, p)?;
    d.consumes = (!consumes.is_empty()).then(|| consumes.to_owned());
    d.transfer = Some(change(p, &offer, report_id, state, app.now(), false));
    match app.store.event_append(&d).await {
        Ok(_) | Err(StorageError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(report.id = %report_id, code = ?p.code, "transfer refused");
    Ok(())
}

/// Hub: commits an accepted transfer (the next epoch belongs to the target), consuming the accept.
async fn commit(app: &App, stored: &StoredEvent) -> anyhow::Result<()> {
    let (event, p) = payload_of(stored)?;
    let offer = p.offer.clone().unwrap_or_default();
    let row = app.store.transfer_get(&offer).await?;
    let Some(row) = row.filter(|r| r.state == "accepted") else {
        app.store
            .event_quarantine(
                &stored.id,
                "transfer_closed",
                "the transfer is no longer open",
                app.now(),
            )
            .await?;
        return Ok(());
    };
    let held = app.store.report_owner(&event.report_id).await?;
    let me = app.fed.node_id.clone();
    let c = TransferPayload {
        last_event: held.and_then(|o| o.last_event_id),
        expires_at_ms: None,
        code: None,
        ..p.clone()
    };
    let mut d = draft(app, "transfer.committed", &event.report_id, &c)?;
    d.consumes = Some(stored.id.clone());
    d.epoch = Some(row.epoch);
    d.pending = c.to == me || c.from == me;
    d.transfer = Some(TransferChange {
        row: row_of(&c, &offer, &event.report_id, "committed", app.now()),
        open: false,
        commit: true,
    });
    match app.store.event_append(&d).await {
        Ok(_) | Err(StorageError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(report.id = %event.report_id, from = %c.from, to = %c.to, epoch = row.epoch, "transfer committed");
    Ok(())
}

/// Target: imports the report's history and accepts, consuming the forward.
async fn accept(app: &App, stored: &StoredEvent) -> anyhow::Result<()> {
    let (event, p) = payload_of(stored)?;
    refresh(app, &event.report_id).await?;
    let offer = p.offer.clone().unwrap_or_else(|| stored.id.clone());
    let a = TransferPayload {
        offer: Some(offer.clone()),
        expires_at_ms: None,
        ..p.clone()
    };
    let mut d = draft(app, "transfer.accept", &event.report_id, &a)?;
    d.consumes = Some(stored.id.clone());
    d.pending = app.fed.role == NodeRole::Hub;
    d.transfer = Some(change(
        &a,
        &offer,
        &event.report_id,
        "accepted",
        app.now(),
        false,
    ));
    match app.store.event_append(&d).await {
        Ok(_) | Err(StorageError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(report.id = %event.report_id, from = %p.from, "transfer accepted; history imported");
    Ok(())
}

/// Old owner: writes the tombstone; new owner: opens its epoch with `report.transferred`. Consumes the
/// commit.
async fn settle(app: &App, stored: &StoredEvent) -> anyhow::Result<()> {
    let (event, p) = payload_of(stored)?;
    let me = app.fed.node_id.clone();
    if p.from == me {
        let mut d = draft(
            app,
            "transfer.tombstone",
            &event.report_id,
            &TransferPayload {
                last_event: None,
                ..p.clone()
            },
        )?;
        d.consumes = Some(stored.id.clone());
        match app.store.event_append(&d).await {
            Ok(_) | Err(StorageError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(report.id = %event.report_id, to = %p.to, "tombstone written; the report moved");
        return Ok(());
    }
    // The new owner: make sure it holds everything the hub had when it committed.
    let held = app.store.report_owner(&event.report_id).await?;
    let have_last = app
        .store
        .report_history(&event.report_id)
        .await?
        .iter()
        .any(|h| Some(&h.id) == p.last_event.as_ref());
    if !have_last && p.last_event.is_some() && app.fed.role != NodeRole::Hub {
        refresh(app, &event.report_id).await?;
    }
    for _ in 0..5 {
        let Some(report) = app.store.report_get(&event.report_id).await? else {
            refresh(app, &event.report_id).await?;
            continue;
        };
        let t = arrival(app, &report, &p).await?;
        let mut d = app.report_draft(&t.report, &t.entry, None, Some(stored.id.clone()))?;
        d.authored_at = t.entry.at;
        match app.store.report_transition(&t, Some(&d)).await {
            Ok(()) => {
                tracing::info!(report.id = %event.report_id, from = %p.from, epoch = ?held.map(|h| h.epoch),
                    "transferred report received; it waits for verification here");
                return Ok(());
            }
            Err(StorageError::Conflict(m)) if m.contains("not pending") => return Ok(()),
            Err(StorageError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("the transferred report kept changing")
}

/// The first change of the new owner: back to its admin queue, the verification clock restarted, the
/// suggested agency kept when it is one of this node's.
async fn arrival(app: &App, report: &Report, p: &TransferPayload) -> anyhow::Result<Transition> {
    let now = app.now();
    let mut next = report.clone();
    let agency = match &p.agency_id {
        Some(id) => app
            .store
            .agency_get(id)
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
        app.calendar
            .add_working_days(now, lifecycle::VERIFY_WORKING_DAYS),
    );
    next.updated_at = now;
    next.version = report.version + 1;
    let from_name = app
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
async fn expire(app: &App) -> anyhow::Result<usize> {
    let now = app.now();
    let mut n = 0;
    for row in app.store.transfers_list(true, 500).await? {
        if row.state != "forwarded" || row.expires_at.is_none_or(|e| e > now) {
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
        refuse(app, &row.report_id, "", &p).await?;
        tracing::warn!(report.id = %row.report_id, to = %row.to_node, "transfer expired; the report stays with its owner");
        n += 1;
    }
    Ok(n)
}

/// One pass of the transfer worker. Returns how many steps were taken.
pub async fn transfers_once(app: &App) -> anyhow::Result<usize> {
    let mut done = 0;
    for stored in app.store.events_pending("transfer.", 100).await? {
        let step = match stored.kind.as_str() {
            "transfer.offer" => decide(app, &stored).await,
            "transfer.accept" => commit(app, &stored).await,
            "transfer.forwarded" => accept(app, &stored).await,
            "transfer.committed" => settle(app, &stored).await,
            other => {
                tracing::warn!(kind = other, "no transfer step for this event");
                app.store
                    .event_quarantine(&stored.id, "unknown_type", "no transfer step", app.now())
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
    if app.fed.role == NodeRole::Hub {
        done += expire(app).await?;
    }
    if done > 0 {
        app.fed.push_wake.notify_waiters();
    }
    Ok(done)
}

/// The transfer loop.
pub async fn run_transfers(app: App) {
    let poll = std::time::Duration::from_millis(app.fed.config.poll_ms);
    loop {
        match transfers_once(&app).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "transfer worker failed"),
        }
        let _ = tokio::time::timeout(poll, app.fed.transfer_wake.notified()).await;
    }
}

// ----- history ------------------------------------------------------------------------------------------

/// Rebuilds a report from its signed history: the owner of epoch 0 is the origin of `report.created`, the
/// owner of each later epoch the target of the hub's `transfer.committed`; only the owner's `report.*`
/// events of its epoch count, in its sequence order.
pub async fn rebuild(
    app: &App,
    report_id: &str,
    events: &[HistoryEvent],
) -> anyhow::Result<ReportImport> {
    let mut owners: BTreeMap<i64, (String, String)> = BTreeMap::new();
    for e in events {
        let event = parse_event(&e.wire)?;
        anyhow::ensure!(
            event.report_id == report_id,
            "event {} is about another report",
            e.id
        );
        if event.kind == "report.created" && event.report_epoch == 0 {
            anyhow::ensure!(
                report_id.starts_with(&format!("{}:", event.origin)),
                "report {report_id} was created by {}, not its id's node",
                event.origin
            );
            owners
                .entry(0)
                .or_insert((event.origin.clone(), e.id.clone()));
        } else if event.kind == "transfer.committed" && is_hub(app, &event.origin) {
            let p: TransferPayload = from_value(event.payload.clone())?;
            owners.insert(p.epoch, (p.to, e.id.clone()));
        }
    }
    let mut applicable: Vec<(i64, i64, &HistoryEvent, ReportPayload)> = Vec::new();
    for e in events {
        if !e.kind.starts_with("report.") {
            continue;
        }
        let owner_ok = owners
            .get(&e.report_epoch)
            .is_some_and(|(o, _)| *o == e.origin);
        if !owner_ok {
            continue;
        }
        let event = parse_event(&e.wire)?;
        let p: ReportPayload = payload::decode(&event.payload).map_err(|x| anyhow::anyhow!(x.0))?;
        applicable.push((e.report_epoch, e.origin_seq, e, p));
    }
    applicable.sort_by_key(|(epoch, seq, _, _)| (*epoch, *seq));
    let (_, _, last, last_payload) = applicable.last().ok_or_else(|| {
        anyhow::anyhow!("the history of {report_id} has no report event of its owner")
    })?;
    let (epoch, (owner, commit_id)) = owners
        .iter()
        .next_back()
        .map(|(k, v)| (*k, v.clone()))
        .ok_or_else(|| anyhow::anyhow!("no owner"))?;
    let last_event_id = if last.report_epoch == epoch {
        last.id.clone()
    } else {
        commit_id
    };
    let path = match &last_payload.state.agency_id {
        Some(a) => app.store.agency_get(a).await?.map(|a| a.path),
        None => None,
    };
    let report = payload::report_from_state(report_id, &last_payload.state, path)
        .map_err(|e| anyhow::anyhow!(e.0))?;
    let timeline = applicable
        .iter()
        .map(|(_, _, _, p)| {
            payload::entry_from_payload(report_id, &p.entry).map_err(|e| anyhow::anyhow!(e.0))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ReportImport {
        report,
        timeline,
        owner: OwnerRow {
            report_id: report_id.to_owned(),
            owner,
            epoch,
            last_event_id: Some(last_event_id),
        },
        history: events.to_vec(),
    })
}

/// Verifies events of one report received from a peer (signatures and key validity) and turns them into
/// history rows.
pub fn verify_history(app: &App, wires: &[Vec<u8>]) -> anyhow::Result<Vec<HistoryEvent>> {
    anyhow::ensure!(
        wires.len() <= MAX_HISTORY,
        "history longer than {MAX_HISTORY} events"
    );
    let log = app
        .fed
        .keylog
        .read()
        .map_err(|_| anyhow::anyhow!("key log lock poisoned"))?
        .clone();
    wires
        .iter()
        .map(|bytes| {
            let signed = lapor_federation::verify_received(bytes, &log)?;
            log.check(signed.event())?;
            let e = signed.event();
            Ok(HistoryEvent {
                id: signed.id().to_string(),
                origin: e.origin.clone(),
                origin_seq: e.origin_seq as i64,
                kind: e.kind.clone(),
                report_epoch: e.report_epoch as i64,
                wire: bytes.clone(),
            })
        })
        .collect()
}

/// Fetches a report's history (by id or tracking code) from the hub, verifies it and stores the report
/// here, unless this node owns it. Returns the report id, or `None` when the hub does not know it.
pub async fn refresh(app: &App, key: &str) -> anyhow::Result<Option<String>> {
    let Some(hub) = app
        .fed
        .peers
        .read()
        .map_err(|_| anyhow::anyhow!("peers lock poisoned"))?
        .iter()
        .find(|p| p.role == "hub" && p.node_id != app.fed.node_id)
        .cloned()
    else {
        return Ok(None);
    };
    let path = format!("/federation/v1/reports/{}/history", urlencoding(key));
    let body = match super::push::signed_get(app, &hub.base_url, &path).await {
        Ok(b) => b,
        Err(e) if e.to_string().starts_with("404") => return Ok(None),
        Err(e) => return Err(e),
    };
    let page = LogPage::decode(&body)?;
    let history = verify_history(app, &page.events)?;
    let Some(first) = history.first() else {
        return Ok(None);
    };
    let report_id = parse_event(&first.wire)?.report_id;
    import(app, &report_id, &history).await?;
    Ok(Some(report_id))
}

/// Stores a rebuilt report unless this node owns it (its own state is the truth).
async fn import(app: &App, report_id: &str, history: &[HistoryEvent]) -> anyhow::Result<()> {
    if app.owner_of(report_id).await.ok().as_deref() == Some(app.fed.node_id.as_str())
        && app.store.report_get(report_id).await?.is_some()
    {
        return Ok(());
    }
    let imp = rebuild(app, report_id, history).await?;
    app.store.report_import(&imp, app.now()).await?;
    Ok(())
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Encodes a history as a log page body.
pub fn history_page(events: &[HistoryEvent]) -> Vec<u8> {
    let page = LogPage {
        events: events.iter().map(|e| e.wire.clone()).collect(),
        more: false,
    };
    page.encode()
}

/// The open transfer of a report, if any.
pub async fn open_transfer(app: &App, report_id: &str) -> AppResult<Option<TransferRow>> {
    Ok(app
        .store
        .transfers_of_report(report_id)
        .await?
        .into_iter()
        .find(TransferRow::is_open))
}
