//! The federation half of the SQLite store: the functions the writer and readers run for the event log, inbox,
//! outbox, peers, keys and blobs. Every function here runs inside the caller's transaction.

use lapor_federation::SignedEvent;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::sqlite::{append_timeline, upsert_report};
use super::{
    sign_draft, AcceptOutcome, Conflict, Effect, EquivocationRow, EventDraft, HistoryEvent,
    InboxEvent, InboxRow, Incoming, KeyRow, OriginHead, OwnerRow, PeerRecord, PushOutcome,
    QuarantineRow, ReportImport, Result, StorageError, StoredEvent, TransferChange, TransferRow,
};
use crate::domain::{AgencyRecord, Millis};

/// Reports ids ending in this are a node's own records (key events), not reports.
pub const NODE_RECORD_SUFFIX: &str = ":node";

fn head(c: &Connection, origin: &str) -> Result<Option<(i64, Option<String>, bool)>> {
    Ok(
        c.prepare_cached("SELECT head_seq, head_id, frozen FROM origins WHERE origin = ?1")?
            .query_row([origin], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
            })
            .optional()?,
    )
}

fn set_head(c: &Connection, origin: &str, seq: i64, id: &str, now: Millis) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO origins (origin, head_seq, head_id, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (origin) DO UPDATE SET head_seq = excluded.head_seq, head_id = excluded.head_id, \
         updated_at = excluded.updated_at",
    )?
    .execute(params![origin, seq, id, now])?;
    Ok(())
}

pub fn owner(c: &Connection, report_id: &str) -> Result<Option<OwnerRow>> {
    Ok(c.prepare_cached(
        "SELECT report_id, owner, epoch, last_event_id FROM report_owner WHERE report_id = ?1",
    )?
    .query_row([report_id], |r| {
        Ok(OwnerRow {
            report_id: r.get(0)?,
            owner: r.get(1)?,
            epoch: r.get(2)?,
            last_event_id: r.get(3)?,
        })
    })
    .optional()?)
}

/// Records who owns a report, at which epoch, and its latest event.
fn set_owner(
    c: &Connection,
    report_id: &str,
    owner: &str,
    epoch: i64,
    last: Option<&str>,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO report_owner (report_id, owner, epoch, last_event_id) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (report_id) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch, \
         last_event_id = excluded.last_event_id",
    )?
    .execute(params![report_id, owner, epoch, last])?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn insert_event(
    c: &Connection,
    id: &str,
    origin: &str,
    seq: i64,
    kind: &str,
    report_id: &str,
    epoch: i64,
    authored_at: Millis,
    wire: &[u8],
    now: Millis,
    state: &str,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO events (id, origin, origin_seq, kind, report_id, report_epoch, authored_at, wire, \
         received_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![id, origin, seq, kind, report_id, epoch, authored_at, wire, now, state])?;
    Ok(())
}

fn enqueue(c: &Connection, destinations: &[String], id: &str, now: Millis) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO outbox (destination, event_id, created_at) VALUES (?1, ?2, ?3)",
    )?;
    for d in destinations {
        stmt.execute(params![d, id, now])?;
    }
    Ok(())
}

/// Appends a locally authored event to this node's log, in the caller's transaction.
pub fn author_event(c: &Connection, draft: &EventDraft) -> Result<SignedEvent> {
    let origin = draft.signer.node_id().to_owned();
    let (seq, prev) = match head(c, &origin)? {
        Some((_, _, true)) => {
            return Err(StorageError::Invalid(format!(
                "this node's own log ({origin}) is frozen"
            )))
        }
        Some((s, id, false)) => (s + 1, id),
        None => (1, None),
    };
    let is_report = !draft.report_id.ends_with(NODE_RECORD_SUFFIX);
    let own = if is_report {
        owner(c, &draft.report_id)?
    } else {
        None
    };
    let (held_epoch, report_prev) = own
        .as_ref()
        .map_or((0, None), |o| (o.epoch, o.last_event_id.clone()));
    let epoch = draft.epoch.unwrap_or(held_epoch);
    let signed = sign_draft(draft, seq, prev.as_deref(), epoch, report_prev.as_deref())?;
    let id = signed.id().to_string();
    let now = draft.authored_at;
    if let Some(change) = &draft.transfer {
        apply_transfer(c, change, &id)?;
    }
    insert_event(
        c,
        &id,
        &origin,
        seq,
        &draft.kind,
        &draft.report_id,
        epoch,
        draft.authored_at,
        signed.wire_bytes(),
        now,
        if draft.pending { "pending" } else { "applied" },
    )?;
    set_head(c, &origin, seq, &id, now)?;
    // Only the owner's own report events move the report's chain; a contribution to another node's report
    // neither claims it nor becomes its latest event.
    if is_report && draft.kind.starts_with("report.") {
        match own {
            Some(_) => c.execute(
                "UPDATE report_owner SET last_event_id = ?2 WHERE report_id = ?1",
                params![draft.report_id, id],
            )?,
            None => c.execute(
                "INSERT INTO report_owner (report_id, owner, epoch, last_event_id) VALUES (?1, ?2, 0, ?3)",
                params![draft.report_id, origin, id],
            )?,
        };
    }
    for (hash, content) in &draft.blobs {
        c.execute(
            "INSERT OR IGNORE INTO blobs (hash, content, created_at) VALUES (?1, ?2, ?3)",
            params![hash, content, now],
        )?;
        c.execute(
            "UPDATE blobs SET report_id = ?2 WHERE hash = ?1",
            params![hash, draft.report_id],
        )?;
    }
    enqueue(c, &draft.destinations, &id, now)?;
    if let Some(consumed) = &draft.consumes {
        let n = c.execute(
            "UPDATE events SET state = 'applied' WHERE id = ?1 AND state = 'pending'",
            [consumed],
        )?;
        if n == 0 {
            return Err(Conflict::NotPending(consumed.clone()).into());
        }
    }
    Ok(signed)
}

const TRANSFER_COLS: &str =
    "offer_id, report_id, from_node, to_node, epoch, agency_id, reason, note, state, \
    code, expires_at, created_at, updated_at";

fn transfer_from_row(r: &Row<'_>) -> rusqlite::Result<TransferRow> {
    Ok(TransferRow {
        offer_id: r.get(0)?,
        report_id: r.get(1)?,
        from_node: r.get(2)?,
        to_node: r.get(3)?,
        epoch: r.get(4)?,
        agency_id: r.get(5)?,
        reason: r.get(6)?,
        note: r.get(7)?,
        state: r.get(8)?,
        code: r.get(9)?,
        expires_at: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

pub fn transfer_get(c: &Connection, offer_id: &str) -> Result<Option<TransferRow>> {
    Ok(c.query_row(
        &format!("SELECT {TRANSFER_COLS} FROM transfers WHERE offer_id = ?1"),
        [offer_id],
        transfer_from_row,
    )
    .optional()?)
}

pub fn transfers_of_report(c: &Connection, report_id: &str) -> Result<Vec<TransferRow>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {TRANSFER_COLS} FROM transfers WHERE report_id = ?1 ORDER BY created_at DESC, offer_id"
    ))?;
    let rows = stmt.query_map([report_id], transfer_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn transfers_list(c: &Connection, open_only: bool, limit: i64) -> Result<Vec<TransferRow>> {
    let filter = if open_only {
        "WHERE state IN ('offered', 'forwarded', 'accepted')"
    } else {
        ""
    };
    let mut stmt = c.prepare(&format!(
        "SELECT {TRANSFER_COLS} FROM transfers {filter} ORDER BY updated_at DESC, offer_id LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], transfer_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Runs a transfer change in the caller's transaction (see [`TransferChange`]); `event_id` is the event that
/// carries it (for a commit, the report's latest event from now on).
pub fn apply_transfer(c: &Connection, change: &TransferChange, event_id: &str) -> Result<()> {
    let mut row = change.row.clone();
    if row.offer_id.is_empty() {
        // The event opens the transfer: its own id names it.
        event_id.clone_into(&mut row.offer_id);
    }
    let row = &row;
    if change.open {
        let other: Option<String> = c
            .query_row(
                "SELECT offer_id FROM transfers WHERE report_id = ?1 AND offer_id <> ?2 \
                 AND state IN ('offered', 'forwarded', 'accepted') LIMIT 1",
                params![row.report_id, row.offer_id],
                |r| r.get(0),
            )
            .optional()?;
        if other.is_some() {
            return Err(Conflict::TransferPending.into());
        }
        let held = owner(c, &row.report_id)?.map_or(0, |o| o.epoch);
        if held != row.epoch - 1 {
            return Err(Conflict::StaleEpoch.into());
        }
    }
    let merged = match transfer_get(c, &row.offer_id)? {
        Some(stored) => row.merged_into(&stored),
        None => row.clone(),
    };
    c.execute(
        &format!(
            "INSERT OR REPLACE INTO transfers ({TRANSFER_COLS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            merged.offer_id,
            merged.report_id,
            merged.from_node,
            merged.to_node,
            merged.epoch,
            merged.agency_id,
            merged.reason,
            merged.note,
            merged.state,
            merged.code,
            merged.expires_at,
            merged.created_at,
            merged.updated_at
        ],
    )?;
    if change.commit {
        let newer = owner(c, &row.report_id)?.is_none_or(|o| o.epoch < row.epoch);
        if newer {
            set_owner(c, &row.report_id, &row.to_node, row.epoch, Some(event_id))?;
        }
    }
    Ok(())
}

/// Replaces what this node knows of `origin`'s agencies. Ids this node uses for its own agencies are skipped.
fn replace_remote_agencies(c: &Connection, origin: &str, agencies: &[AgencyRecord]) -> Result<()> {
    c.execute(
        "UPDATE agencies SET active = 0 WHERE node_id = ?1",
        [origin],
    )?;
    for a in agencies {
        let local: Option<Option<String>> = c
            .query_row("SELECT node_id FROM agencies WHERE id = ?1", [&a.id], |r| {
                r.get(0)
            })
            .optional()?;
        match local {
            Some(None) => {
                tracing::warn!(agency = %a.id, %origin, "another node publishes an agency id this node uses; ignored");
            }
            Some(Some(_)) => {
                c.execute(
                    "UPDATE agencies SET node_id = ?2, parent_id = ?3, path = ?4, name = ?5, kind = ?6, \
                     region_code = ?7, active = ?8 WHERE id = ?1",
                    params![a.id, origin, a.parent_id, a.path, a.name, a.kind, a.region_code, a.active],
                )?;
            }
            None => {
                c.execute(
                    "INSERT INTO agencies (id, parent_id, path, name, kind, region_code, active, created_at, node_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![a.id, a.parent_id, a.path, a.name, a.kind, a.region_code, a.active, a.created_at, origin],
                )?;
            }
        }
    }
    Ok(())
}

/// Stores a report rebuilt from its history (see [`super::Store::report_import`]).
pub fn report_import(c: &Connection, imp: &ReportImport, now: Millis) -> Result<()> {
    let id = &imp.report.id;
    let held = owner(c, id)?;
    let current = held.as_ref().is_none_or(|h| {
        h.epoch < imp.owner.epoch
            || (h.epoch == imp.owner.epoch && h.last_event_id != imp.owner.last_event_id)
    });
    if current {
        upsert_report(c, &imp.report)?;
        let count: i64 = c.query_row(
            "SELECT COUNT(*) FROM timeline WHERE report_id = ?1",
            [id],
            |r| r.get(0),
        )?;
        for entry in imp
            .timeline
            .iter()
            .skip(usize::try_from(count).unwrap_or(0))
        {
            append_timeline(c, entry)?;
        }
        set_owner(
            c,
            id,
            &imp.owner.owner,
            imp.owner.epoch,
            imp.owner.last_event_id.as_deref(),
        )?;
    }
    let mut stmt = c.prepare_cached(
        "INSERT OR IGNORE INTO report_history (event_id, report_id, origin, origin_seq, kind, report_epoch, wire, \
         imported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for e in &imp.history {
        stmt.execute(params![
            e.id,
            id,
            e.origin,
            e.origin_seq,
            e.kind,
            e.report_epoch,
            e.wire,
            now
        ])?;
    }
    Ok(())
}

/// Every signed event of a report this node holds: from the logs and from imported histories.
pub fn report_history(c: &Connection, report_id: &str) -> Result<Vec<HistoryEvent>> {
    let mut stmt = c.prepare(
        "SELECT id, origin, origin_seq, kind, report_epoch, wire FROM events WHERE report_id = ?1 \
         UNION SELECT event_id, origin, origin_seq, kind, report_epoch, wire FROM report_history \
         WHERE report_id = ?1 ORDER BY 5, 2, 3",
    )?;
    let rows = stmt.query_map([report_id], |r| {
        Ok(HistoryEvent {
            id: r.get(0)?,
            origin: r.get(1)?,
            origin_seq: r.get(2)?,
            kind: r.get(3)?,
            report_epoch: r.get(4)?,
            wire: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn run_effect(c: &Connection, item: &Incoming) -> Result<&'static str> {
    match &item.effect {
        Effect::Store => Ok("stored"),
        Effect::Pending => Ok("pending"),
        Effect::Quarantine { .. } => Ok("quarantined"),
        Effect::Keys(keys) => {
            for k in keys {
                key_upsert(c, k)?;
            }
            Ok("applied")
        }
        Effect::Transfer { change, pending } => {
            apply_transfer(c, change, &item.id)?;
            Ok(if *pending { "pending" } else { "applied" })
        }
        Effect::Agencies { origin, agencies } => {
            replace_remote_agencies(c, origin, agencies)?;
            Ok("applied")
        }
        Effect::Snapshot { report, entry } => {
            if let Some(o) = owner(c, &item.report_id)? {
                if o.owner != item.origin || item.report_epoch < o.epoch {
                    return Ok("stored");
                }
            }
            upsert_report(c, report)?;
            append_timeline(c, entry)?;
            set_owner(
                c,
                &item.report_id,
                &item.origin,
                item.report_epoch,
                Some(&item.id),
            )?;
            Ok("applied")
        }
    }
}

fn quarantine(
    c: &Connection,
    item: &Incoming,
    code: &str,
    reason: &str,
    now: Millis,
) -> Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO quarantine (event_id, origin, origin_seq, code, reason, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![item.id, item.origin, item.origin_seq, code, reason, now],
    )?;
    Ok(())
}

fn delete_inbox(c: &Connection, id: Option<i64>) -> Result<()> {
    if let Some(id) = id {
        c.prepare_cached("DELETE FROM inbox WHERE id = ?1")?
            .execute([id])?;
    }
    Ok(())
}

/// Accepts one received event (see [`super::Store::events_accept`]).
pub fn accept_one(c: &Connection, item: &Incoming, now: Millis) -> Result<AcceptOutcome> {
    let head = head(c, &item.origin)?;
    if let Some((_, _, true)) = head {
        delete_inbox(c, item.inbox_id)?;
        return Ok(AcceptOutcome::Frozen);
    }
    let stored_id: Option<String> = c
        .prepare_cached("SELECT id FROM events WHERE origin = ?1 AND origin_seq = ?2")?
        .query_row(params![item.origin, item.origin_seq], |r| r.get(0))
        .optional()?;
    if let Some(first_id) = stored_id {
        delete_inbox(c, item.inbox_id)?;
        if first_id == item.id {
            return Ok(AcceptOutcome::Duplicate);
        }
        c.execute(
            "INSERT OR IGNORE INTO equivocations (origin, origin_seq, first_id, second_id, second_wire, detected_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![item.origin, item.origin_seq, first_id, item.id, item.wire, now],
        )?;
        let reason = format!(
            "two events with sequence number {}: {first_id} and {}",
            item.origin_seq, item.id
        );
        c.execute(
            "INSERT INTO origins (origin, head_seq, head_id, frozen, frozen_reason, updated_at) \
             VALUES (?1, 0, NULL, 1, ?2, ?3) \
             ON CONFLICT (origin) DO UPDATE SET frozen = 1, frozen_reason = excluded.frozen_reason, \
             updated_at = excluded.updated_at",
            params![item.origin, reason, now],
        )?;
        return Ok(AcceptOutcome::Equivocation { first_id });
    }
    let (head_seq, head_event) = head.map_or((0, None), |(s, id, _)| (s, id));
    if item.origin_seq > head_seq + 1 {
        return Ok(AcceptOutcome::Gap { head_seq });
    }
    if item.origin_seq <= head_seq || item.origin_prev != head_event {
        // Below the head yet not held (a pruned log) or a different predecessor: not part of this chain.
        delete_inbox(c, item.inbox_id)?;
        return Ok(AcceptOutcome::BrokenChain);
    }
    c.execute_batch("SAVEPOINT effect")?;
    let state = match run_effect(c, item) {
        Ok(state) => {
            c.execute_batch("RELEASE effect")?;
            state
        }
        Err(e) => {
            c.execute_batch("ROLLBACK TO effect; RELEASE effect")?;
            quarantine(c, item, "apply_failed", &e.to_string(), now)?;
            "quarantined"
        }
    };
    if let Effect::Quarantine { code, reason } = &item.effect {
        quarantine(c, item, code, reason, now)?;
    }
    insert_event(
        c,
        &item.id,
        &item.origin,
        item.origin_seq,
        &item.kind,
        &item.report_id,
        item.report_epoch,
        item.authored_at,
        &item.wire,
        now,
        state,
    )?;
    set_head(c, &item.origin, item.origin_seq, &item.id, now)?;
    enqueue(c, &item.destinations, &item.id, now)?;
    delete_inbox(c, item.inbox_id)?;
    Ok(match state {
        "applied" => AcceptOutcome::Applied,
        "pending" => AcceptOutcome::Pending,
        "quarantined" => AcceptOutcome::Quarantined,
        _ => AcceptOutcome::Stored,
    })
}

pub fn inbox_insert(
    c: &Connection,
    sender: &str,
    txn: &str,
    response: &str,
    events: &[InboxEvent],
    now: Millis,
) -> Result<()> {
    c.execute(
        "INSERT INTO push_txns (sender, txn, response, received_at) VALUES (?1, ?2, ?3, ?4)",
        params![sender, txn, response, now],
    )
    .map_err(|e| {
        StorageError::from(e).taken_means(|| Conflict::PushTxnRecorded {
            sender: sender.to_owned(),
            txn: txn.to_owned(),
        })
    })?;
    let mut stmt = c.prepare_cached(
        "INSERT INTO inbox (event_id, origin, origin_seq, sender, wire, received_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for e in events {
        stmt.execute(params![
            e.event_id,
            e.origin,
            e.origin_seq,
            sender,
            e.wire,
            now
        ])?;
    }
    Ok(())
}

pub fn inbox_load(c: &Connection, limit: i64) -> Result<Vec<InboxRow>> {
    let mut stmt = c.prepare(
        "SELECT id, event_id, origin, origin_seq, sender, wire FROM inbox \
         ORDER BY origin, origin_seq, id LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(InboxRow {
            id: r.get(0)?,
            event_id: r.get(1)?,
            origin: r.get(2)?,
            origin_seq: r.get(3)?,
            sender: r.get(4)?,
            wire: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn origin_heads(c: &Connection) -> Result<Vec<OriginHead>> {
    let mut stmt = c.prepare(
        "SELECT origin, head_seq, head_id, frozen, frozen_reason FROM origins ORDER BY origin",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(OriginHead {
            origin: r.get(0)?,
            head_seq: r.get(1)?,
            head_id: r.get(2)?,
            frozen: r.get::<_, i64>(3)? != 0,
            frozen_reason: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

const EVENT_COLS: &str = "id, origin, origin_seq, kind, report_id, report_epoch, wire, state";

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        id: r.get(0)?,
        origin: r.get(1)?,
        origin_seq: r.get(2)?,
        kind: r.get(3)?,
        report_id: r.get(4)?,
        report_epoch: r.get(5)?,
        wire: r.get(6)?,
        state: r.get(7)?,
    })
}

pub fn events_after(c: &Connection, origin: &str, after: i64, limit: i64) -> Result<Vec<Vec<u8>>> {
    let mut stmt = c.prepare_cached(
        "SELECT wire FROM events WHERE origin = ?1 AND origin_seq > ?2 ORDER BY origin_seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![origin, after, limit], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn event_get(c: &Connection, id: &str) -> Result<Option<StoredEvent>> {
    Ok(c.query_row(
        &format!("SELECT {EVENT_COLS} FROM events WHERE id = ?1"),
        [id],
        event_from_row,
    )
    .optional()?)
}

pub fn report_events(c: &Connection, report_id: &str) -> Result<Vec<StoredEvent>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {EVENT_COLS} FROM events WHERE report_id = ?1 ORDER BY received_at, origin, origin_seq"
    ))?;
    let rows = stmt.query_map([report_id], event_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn events_pending(c: &Connection, kind_prefix: &str, limit: i64) -> Result<Vec<StoredEvent>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {EVENT_COLS} FROM events WHERE state = 'pending' AND substr(kind, 1, length(?2)) = ?2 \
         ORDER BY received_at, origin, origin_seq LIMIT ?1"
    ))?;
    let rows = stmt.query_map(params![limit, kind_prefix], event_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn event_quarantine(
    c: &Connection,
    id: &str,
    code: &str,
    reason: &str,
    now: Millis,
) -> Result<()> {
    let n = c.execute(
        "UPDATE events SET state = 'quarantined' WHERE id = ?1",
        [id],
    )?;
    if n == 0 {
        return Err(StorageError::NotFound);
    }
    c.execute(
        "INSERT OR REPLACE INTO quarantine (event_id, origin, origin_seq, code, reason, at) \
         SELECT id, origin, origin_seq, ?2, ?3, ?4 FROM events WHERE id = ?1",
        params![id, code, reason, now],
    )?;
    Ok(())
}

pub fn quarantine_list(c: &Connection, limit: i64) -> Result<Vec<QuarantineRow>> {
    let mut stmt = c.prepare(
        "SELECT event_id, origin, origin_seq, code, reason, at FROM quarantine ORDER BY at DESC, event_id LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(QuarantineRow {
            event_id: r.get(0)?,
            origin: r.get(1)?,
            origin_seq: r.get(2)?,
            code: r.get(3)?,
            reason: r.get(4)?,
            at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn equivocation_list(c: &Connection) -> Result<Vec<EquivocationRow>> {
    let mut stmt = c.prepare(
        "SELECT origin, origin_seq, first_id, second_id, detected_at FROM equivocations \
         ORDER BY origin, origin_seq, second_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(EquivocationRow {
            origin: r.get(0)?,
            origin_seq: r.get(1)?,
            first_id: r.get(2)?,
            second_id: r.get(3)?,
            detected_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn outbox_after(
    c: &Connection,
    destination: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, Vec<u8>)>> {
    let mut stmt = c.prepare_cached(
        "SELECT o.id, e.wire FROM outbox o JOIN events e ON e.id = o.event_id \
         WHERE o.destination = ?1 AND o.id > ?2 ORDER BY o.id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![destination, after, limit], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn outbox_backlog(
    c: &Connection,
    destination: &str,
    after: i64,
) -> Result<(i64, Option<Millis>)> {
    Ok(c.query_row(
        "SELECT COUNT(*), MIN(o.created_at) FROM outbox o WHERE o.destination = ?1 AND o.id > ?2",
        params![destination, after],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

const PEER_COLS: &str = "node_id, name, base_url, role, region_codes, enc_public, push_cursor, \
    last_success_at, last_attempt_at, last_error, failures, rejected_total, added_at";

fn peer_from_row(r: &Row<'_>) -> rusqlite::Result<PeerRecord> {
    let regions: String = r.get(4)?;
    Ok(PeerRecord {
        node_id: r.get(0)?,
        name: r.get(1)?,
        base_url: r.get(2)?,
        role: r.get(3)?,
        region_codes: regions
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        enc_public: r.get(5)?,
        push_cursor: r.get(6)?,
        last_success_at: r.get(7)?,
        last_attempt_at: r.get(8)?,
        last_error: r.get(9)?,
        failures: r.get(10)?,
        rejected_total: r.get(11)?,
        added_at: r.get(12)?,
    })
}

pub fn peer_upsert(c: &Connection, p: &PeerRecord) -> Result<()> {
    c.execute(
        "INSERT INTO peers (node_id, name, base_url, role, region_codes, enc_public, added_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (node_id) DO UPDATE SET name = excluded.name, base_url = excluded.base_url, \
         role = excluded.role, region_codes = excluded.region_codes, enc_public = excluded.enc_public",
        params![
            p.node_id,
            p.name,
            p.base_url,
            p.role,
            p.region_codes.join(","),
            p.enc_public,
            p.added_at
        ],
    )?;
    Ok(())
}

pub fn peer_list(c: &Connection) -> Result<Vec<PeerRecord>> {
    let mut stmt = c.prepare(&format!("SELECT {PEER_COLS} FROM peers ORDER BY node_id"))?;
    let rows = stmt.query_map([], peer_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn peer_get(c: &Connection, node_id: &str) -> Result<Option<PeerRecord>> {
    Ok(c.query_row(
        &format!("SELECT {PEER_COLS} FROM peers WHERE node_id = ?1"),
        [node_id],
        peer_from_row,
    )
    .optional()?)
}

pub fn peer_push_result(
    c: &Connection,
    node_id: &str,
    outcome: &PushOutcome,
    now: Millis,
) -> Result<()> {
    match outcome {
        PushOutcome::Sent {
            cursor,
            rejected,
            error,
        } => c.execute(
            "UPDATE peers SET push_cursor = MAX(push_cursor, ?2), last_success_at = ?3, last_attempt_at = ?3, \
             failures = 0, rejected_total = rejected_total + ?4, last_error = COALESCE(?5, last_error) \
             WHERE node_id = ?1",
            params![node_id, cursor, now, rejected, error],
        )?,
        PushOutcome::Failed { error } => c.execute(
            "UPDATE peers SET last_attempt_at = ?2, failures = failures + 1, last_error = ?3 WHERE node_id = ?1",
            params![node_id, now, error],
        )?,
        PushOutcome::Contact => c.execute(
            "UPDATE peers SET failures = 0 WHERE node_id = ?1",
            params![node_id],
        )?,
    };
    Ok(())
}

pub fn key_upsert(c: &Connection, k: &KeyRow) -> Result<()> {
    let existing: Option<String> = c
        .query_row(
            "SELECT public_key FROM node_keys WHERE origin = ?1 AND key_id = ?2",
            params![k.origin, k.key_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(public) = existing {
        if public != k.public_key {
            return Err(Conflict::SigningKeyMismatch {
                origin: k.origin.clone(),
                key_id: k.key_id.clone(),
            }
            .into());
        }
    }
    // Validity only narrows: a retirement or revocation, once known, is never lifted.
    c.execute(
        "INSERT INTO node_keys (origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, \
         revoked_from_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (origin, key_id) DO UPDATE SET \
         enc_public = COALESCE(excluded.enc_public, node_keys.enc_public), \
         retired_after_seq = CASE WHEN node_keys.retired_after_seq IS NULL THEN excluded.retired_after_seq \
           WHEN excluded.retired_after_seq IS NULL THEN node_keys.retired_after_seq \
           ELSE MIN(node_keys.retired_after_seq, excluded.retired_after_seq) END, \
         revoked_from_seq = CASE WHEN node_keys.revoked_from_seq IS NULL THEN excluded.revoked_from_seq \
           WHEN excluded.revoked_from_seq IS NULL THEN node_keys.revoked_from_seq \
           ELSE MIN(node_keys.revoked_from_seq, excluded.revoked_from_seq) END",
        params![
            k.origin,
            k.key_id,
            k.public_key,
            k.enc_public,
            k.valid_from_seq,
            k.retired_after_seq,
            k.revoked_from_seq
        ],
    )?;
    Ok(())
}

pub fn key_list(c: &Connection) -> Result<Vec<KeyRow>> {
    let mut stmt = c.prepare(
        "SELECT origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, revoked_from_seq \
         FROM node_keys ORDER BY origin, valid_from_seq, key_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(KeyRow {
            origin: r.get(0)?,
            key_id: r.get(1)?,
            public_key: r.get(2)?,
            enc_public: r.get(3)?,
            valid_from_seq: r.get(4)?,
            retired_after_seq: r.get(5)?,
            revoked_from_seq: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
