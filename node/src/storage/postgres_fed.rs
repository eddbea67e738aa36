//! The federation half of the PostgreSQL store: the event log, inbox, outbox, peers, keys and blobs.
//!
//! Every function here runs on the connection it is given, usually a transaction the caller opened; the
//! semantics are those of `sqlite_fed.rs` (the conformance suite holds both to them). Where SQLite relies on
//! its single writer, this file takes row locks: an origin's row in `origins` is locked (`FOR UPDATE`) while
//! an event of that origin is authored or classified, so that two transactions never take or accept the same
//! `origin_seq`.

use lapor_federation::SignedEvent;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::postgres::{append_timeline, upsert_report};
use super::{
    sign_draft, AcceptOutcome, Conflict, Effect, EquivocationRow, EventDraft, HistoryEvent,
    InboxEvent, InboxRow, Incoming, KeyRow, OriginHead, OwnerRow, PeerRecord, PushOutcome,
    QuarantineRow, ReportImport, Result, StorageError, StoredEvent, TransferChange, TransferRow,
};
use crate::domain::{AgencyRecord, Millis};

/// Reports ids ending in this are a node's own records (key events), not reports.
const NODE_RECORD_SUFFIX: &str = ":node";

/// An origin's head as stored: sequence number, event id, frozen.
type Head = (i64, Option<String>, bool);

fn head_from_row(r: &PgRow) -> Result<Head> {
    Ok((r.try_get(0)?, r.try_get(1)?, r.try_get::<i64, _>(2)? != 0))
}

/// Locks the row of `origin` in `origins` until the end of the transaction, creating a placeholder row
/// (head 0, not frozen) first if the origin has none, and returns its head. A placeholder is either replaced
/// by [`set_head`] or removed by [`drop_placeholders`] before the transaction commits.
async fn lock_origin(c: &mut PgConnection, origin: &str, now: Millis) -> Result<Head> {
    loop {
        let row = sqlx::query(
            "SELECT head_seq, head_id, frozen FROM origins WHERE origin = $1 FOR UPDATE",
        )
        .bind(origin)
        .fetch_optional(&mut *c)
        .await?;
        if let Some(row) = row {
            return head_from_row(&row);
        }
        // Waits for a concurrent insert of the same row to end; then the SELECT above finds (and locks) it.
        sqlx::query(
            "INSERT INTO origins (origin, head_seq, head_id, frozen, updated_at) VALUES ($1, 0, NULL, 0, $2) \
             ON CONFLICT (origin) DO NOTHING",
        )
        .bind(origin)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
}

/// Removes the placeholder rows [`lock_origin`] left for `origins` (head 0, not frozen: no real row looks so).
async fn drop_placeholders(c: &mut PgConnection, origins: &[&str]) -> Result<()> {
    sqlx::query("DELETE FROM origins WHERE origin = ANY($1) AND head_seq = 0 AND frozen = 0")
        .bind(origins)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn set_head(
    c: &mut PgConnection,
    origin: &str,
    seq: i64,
    id: &str,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO origins (origin, head_seq, head_id, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (origin) DO UPDATE SET head_seq = EXCLUDED.head_seq, head_id = EXCLUDED.head_id, \
         updated_at = EXCLUDED.updated_at",
    )
    .bind(origin)
    .bind(seq)
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

fn owner_from_row(r: &PgRow) -> Result<OwnerRow> {
    Ok(OwnerRow {
        report_id: r.try_get(0)?,
        owner: r.try_get(1)?,
        epoch: r.try_get(2)?,
        last_event_id: r.try_get(3)?,
    })
}

pub async fn owner(c: &mut PgConnection, report_id: &str) -> Result<Option<OwnerRow>> {
    sqlx::query(
        "SELECT report_id, owner, epoch, last_event_id FROM report_owner WHERE report_id = $1",
    )
    .bind(report_id)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(owner_from_row)
    .transpose()
}

/// [`owner`], locking the row until the end of the transaction.
async fn owner_for_update(c: &mut PgConnection, report_id: &str) -> Result<Option<OwnerRow>> {
    sqlx::query(
        "SELECT report_id, owner, epoch, last_event_id FROM report_owner WHERE report_id = $1 FOR UPDATE",
    )
    .bind(report_id)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(owner_from_row)
    .transpose()
}

/// The columns of an `events` row, in the order [`insert_event`] binds them.
struct NewEvent<'a> {
    id: &'a str,
    origin: &'a str,
    seq: i64,
    kind: &'a str,
    report_id: &'a str,
    epoch: i64,
    authored_at: Millis,
    wire: &'a [u8],
    now: Millis,
    state: &'a str,
}

async fn insert_event(c: &mut PgConnection, e: &NewEvent<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (id, origin, origin_seq, kind, report_id, report_epoch, authored_at, wire, \
         received_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(e.id)
    .bind(e.origin)
    .bind(e.seq)
    .bind(e.kind)
    .bind(e.report_id)
    .bind(e.epoch)
    .bind(e.authored_at)
    .bind(e.wire)
    .bind(e.now)
    .bind(e.state)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn enqueue(
    c: &mut PgConnection,
    destinations: &[String],
    id: &str,
    now: Millis,
) -> Result<()> {
    for d in destinations {
        sqlx::query("INSERT INTO outbox (destination, event_id, created_at) VALUES ($1, $2, $3)")
            .bind(d)
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn blob_put(c: &mut PgConnection, hash: &str, content: &[u8], now: Millis) -> Result<()> {
    sqlx::query(
        "INSERT INTO blobs (hash, content, created_at) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
    )
    .bind(hash)
    .bind(content)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn blob_get(c: &mut PgConnection, hash: &str) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT content FROM blobs WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut *c)
            .await?,
    )
}

/// Appends a locally authored event to this node's log, in the caller's transaction. The origin's row stays
/// locked until that transaction ends, so concurrent authors take consecutive sequence numbers.
pub async fn author_event(c: &mut PgConnection, draft: &EventDraft) -> Result<SignedEvent> {
    let origin = draft.signer.node_id().to_owned();
    let now = draft.authored_at;
    let (seq, prev) = match lock_origin(c, &origin, now).await? {
        (_, _, true) => {
            return Err(StorageError::Invalid(format!(
                "this node's own log ({origin}) is frozen"
            )))
        }
        (s, id, false) => (s + 1, id),
    };
    let is_report = !draft.report_id.ends_with(NODE_RECORD_SUFFIX);
    let own = if is_report {
        owner_for_update(c, &draft.report_id).await?
    } else {
        None
    };
    let (held_epoch, report_prev) = own
        .as_ref()
        .map_or((0, None), |o| (o.epoch, o.last_event_id.clone()));
    let epoch = draft.epoch.unwrap_or(held_epoch);
    let signed = sign_draft(draft, seq, prev.as_deref(), epoch, report_prev.as_deref())?;
    let id = signed.id().to_string();
    if let Some(change) = &draft.transfer {
        apply_transfer(c, change, &id).await?;
    }
    insert_event(
        c,
        &NewEvent {
            id: &id,
            origin: &origin,
            seq,
            kind: &draft.kind,
            report_id: &draft.report_id,
            epoch,
            authored_at: draft.authored_at,
            wire: signed.wire_bytes(),
            now,
            state: if draft.pending { "pending" } else { "applied" },
        },
    )
    .await?;
    set_head(c, &origin, seq, &id, now).await?;
    // Only the owner's own report events move the report's chain; a contribution to another node's report
    // neither claims it nor becomes its latest event.
    if is_report && draft.kind.starts_with("report.") {
        if own.is_some() {
            sqlx::query("UPDATE report_owner SET last_event_id = $2 WHERE report_id = $1")
                .bind(&draft.report_id)
                .bind(&id)
                .execute(&mut *c)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO report_owner (report_id, owner, epoch, last_event_id) VALUES ($1, $2, 0, $3)",
            )
            .bind(&draft.report_id)
            .bind(&origin)
            .bind(&id)
            .execute(&mut *c)
            .await?;
        }
    }
    for (hash, content) in &draft.blobs {
        blob_put(c, hash, content, now).await?;
        sqlx::query("UPDATE blobs SET report_id = $2 WHERE hash = $1")
            .bind(hash)
            .bind(&draft.report_id)
            .execute(&mut *c)
            .await?;
    }
    enqueue(c, &draft.destinations, &id, now).await?;
    if let Some(consumed) = &draft.consumes {
        let n =
            sqlx::query("UPDATE events SET state = 'applied' WHERE id = $1 AND state = 'pending'")
                .bind(consumed)
                .execute(&mut *c)
                .await?
                .rows_affected();
        if n == 0 {
            return Err(Conflict::NotPending(consumed.clone()).into());
        }
    }
    Ok(signed)
}

async fn run_effect(c: &mut PgConnection, item: &Incoming) -> Result<&'static str> {
    match &item.effect {
        Effect::Store => Ok("stored"),
        Effect::Pending => Ok("pending"),
        Effect::Quarantine { .. } => Ok("quarantined"),
        Effect::Keys(keys) => {
            for k in keys {
                key_upsert(c, k).await?;
            }
            Ok("applied")
        }
        Effect::Transfer { change, pending } => {
            apply_transfer(c, change, &item.id).await?;
            Ok(if *pending { "pending" } else { "applied" })
        }
        Effect::Agencies { origin, agencies } => {
            replace_remote_agencies(c, origin, agencies).await?;
            Ok("applied")
        }
        Effect::Snapshot { report, entry } => {
            if let Some(o) = owner_for_update(c, &item.report_id).await? {
                if o.owner != item.origin || item.report_epoch < o.epoch {
                    return Ok("stored");
                }
            }
            upsert_report(c, report).await?;
            append_timeline(c, entry).await?;
            set_owner(
                c,
                &item.report_id,
                &item.origin,
                item.report_epoch,
                Some(&item.id),
            )
            .await?;
            Ok("applied")
        }
    }
}

async fn quarantine(
    c: &mut PgConnection,
    item: &Incoming,
    code: &str,
    reason: &str,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO quarantine (event_id, origin, origin_seq, code, reason, at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (event_id) DO UPDATE SET origin = EXCLUDED.origin, origin_seq = EXCLUDED.origin_seq, \
         code = EXCLUDED.code, reason = EXCLUDED.reason, at = EXCLUDED.at",
    )
    .bind(&item.id)
    .bind(&item.origin)
    .bind(item.origin_seq)
    .bind(code)
    .bind(reason)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn delete_inbox(c: &mut PgConnection, id: Option<i64>) -> Result<()> {
    if let Some(id) = id {
        sqlx::query("DELETE FROM inbox WHERE id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Accepts received events in one transaction (see [`super::Store::events_accept`]). The rows of every origin
/// concerned are locked first, in one order (so that two batches cannot deadlock on each other), and stay
/// locked until the commit.
pub async fn events_accept(
    c: &mut PgConnection,
    items: &[Incoming],
    now: Millis,
) -> Result<Vec<AcceptOutcome>> {
    let mut origins: Vec<&str> = items.iter().map(|i| i.origin.as_str()).collect();
    origins.sort_unstable();
    origins.dedup();
    for origin in &origins {
        lock_origin(c, origin, now).await?;
    }
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        outcomes.push(accept_one(c, item, now).await?);
    }
    drop_placeholders(c, &origins).await?;
    Ok(outcomes)
}

/// Accepts one received event; its origin's row is locked by the caller.
async fn accept_one(c: &mut PgConnection, item: &Incoming, now: Millis) -> Result<AcceptOutcome> {
    let current = sqlx::query("SELECT head_seq, head_id, frozen FROM origins WHERE origin = $1")
        .bind(&item.origin)
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(head_from_row)
        .transpose()?;
    if let Some((_, _, true)) = current {
        delete_inbox(c, item.inbox_id).await?;
        return Ok(AcceptOutcome::Frozen);
    }
    let held: Option<String> =
        sqlx::query_scalar("SELECT id FROM events WHERE origin = $1 AND origin_seq = $2")
            .bind(&item.origin)
            .bind(item.origin_seq)
            .fetch_optional(&mut *c)
            .await?;
    if let Some(first_id) = held {
        delete_inbox(c, item.inbox_id).await?;
        if first_id == item.id {
            return Ok(AcceptOutcome::Duplicate);
        }
        sqlx::query(
            "INSERT INTO equivocations (origin, origin_seq, first_id, second_id, second_wire, detected_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&item.origin)
        .bind(item.origin_seq)
        .bind(&first_id)
        .bind(&item.id)
        .bind(&item.wire)
        .bind(now)
        .execute(&mut *c)
        .await?;
        let reason = format!(
            "two events with sequence number {}: {first_id} and {}",
            item.origin_seq, item.id
        );
        sqlx::query(
            "INSERT INTO origins (origin, head_seq, head_id, frozen, frozen_reason, updated_at) \
             VALUES ($1, 0, NULL, 1, $2, $3) \
             ON CONFLICT (origin) DO UPDATE SET frozen = 1, frozen_reason = EXCLUDED.frozen_reason, \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(&item.origin)
        .bind(&reason)
        .bind(now)
        .execute(&mut *c)
        .await?;
        return Ok(AcceptOutcome::Equivocation { first_id });
    }
    let (head_seq, head_id) = current.map_or((0, None), |(s, id, _)| (s, id));
    if item.origin_seq > head_seq + 1 {
        return Ok(AcceptOutcome::Gap { head_seq });
    }
    if item.origin_seq <= head_seq || item.origin_prev != head_id {
        // Below the head yet not held (a pruned log) or a different predecessor: not part of this chain.
        delete_inbox(c, item.inbox_id).await?;
        return Ok(AcceptOutcome::BrokenChain);
    }
    sqlx::query("SAVEPOINT effect").execute(&mut *c).await?;
    let state = match run_effect(c, item).await {
        Ok(state) => {
            sqlx::query("RELEASE SAVEPOINT effect")
                .execute(&mut *c)
                .await?;
            state
        }
        Err(e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT effect")
                .execute(&mut *c)
                .await?;
            sqlx::query("RELEASE SAVEPOINT effect")
                .execute(&mut *c)
                .await?;
            quarantine(c, item, "apply_failed", &e.to_string(), now).await?;
            "quarantined"
        }
    };
    if let Effect::Quarantine { code, reason } = &item.effect {
        quarantine(c, item, code, reason, now).await?;
    }
    insert_event(
        c,
        &NewEvent {
            id: &item.id,
            origin: &item.origin,
            seq: item.origin_seq,
            kind: &item.kind,
            report_id: &item.report_id,
            epoch: item.report_epoch,
            authored_at: item.authored_at,
            wire: &item.wire,
            now,
            state,
        },
    )
    .await?;
    set_head(c, &item.origin, item.origin_seq, &item.id, now).await?;
    enqueue(c, &item.destinations, &item.id, now).await?;
    delete_inbox(c, item.inbox_id).await?;
    Ok(match state {
        "applied" => AcceptOutcome::Applied,
        "pending" => AcceptOutcome::Pending,
        "quarantined" => AcceptOutcome::Quarantined,
        _ => AcceptOutcome::Stored,
    })
}

pub async fn push_txn_get(c: &mut PgConnection, sender: &str, txn: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT response FROM push_txns WHERE sender = $1 AND txn = $2")
            .bind(sender)
            .bind(txn)
            .fetch_optional(&mut *c)
            .await?,
    )
}

fn push_txn_recorded(sender: &str, txn: &str) -> Conflict {
    Conflict::PushTxnRecorded {
        sender: sender.to_owned(),
        txn: txn.to_owned(),
    }
}

pub async fn inbox_insert(
    c: &mut PgConnection,
    sender: &str,
    txn: &str,
    response: &str,
    events: &[InboxEvent],
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO push_txns (sender, txn, response, received_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(sender)
    .bind(txn)
    .bind(response)
    .bind(now)
    .execute(&mut *c)
    .await
    .map_err(|e| StorageError::from(e).taken_means(|| push_txn_recorded(sender, txn)))?;
    for e in events {
        sqlx::query(
            "INSERT INTO inbox (event_id, origin, origin_seq, sender, wire, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&e.event_id)
        .bind(&e.origin)
        .bind(e.origin_seq)
        .bind(sender)
        .bind(&e.wire)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub async fn inbox_load(c: &mut PgConnection, limit: i64) -> Result<Vec<InboxRow>> {
    let rows = sqlx::query(
        "SELECT id, event_id, origin, origin_seq, sender, wire FROM inbox \
         ORDER BY origin COLLATE \"C\", origin_seq, id LIMIT $1",
    )
    .bind(sql_limit(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(InboxRow {
                id: r.try_get(0)?,
                event_id: r.try_get(1)?,
                origin: r.try_get(2)?,
                origin_seq: r.try_get(3)?,
                sender: r.try_get(4)?,
                wire: r.try_get(5)?,
            })
        })
        .collect()
}

pub async fn inbox_delete(c: &mut PgConnection, ids: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM inbox WHERE id = ANY($1)")
        .bind(ids)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn origin_heads(c: &mut PgConnection) -> Result<Vec<OriginHead>> {
    let rows = sqlx::query(
        "SELECT origin, head_seq, head_id, frozen, frozen_reason FROM origins ORDER BY origin COLLATE \"C\"",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OriginHead {
                origin: r.try_get(0)?,
                head_seq: r.try_get(1)?,
                head_id: r.try_get(2)?,
                frozen: r.try_get::<i64, _>(3)? != 0,
                frozen_reason: r.try_get(4)?,
            })
        })
        .collect()
}

const EVENT_COLS: &str = "id, origin, origin_seq, kind, report_id, report_epoch, wire, state";

fn event_from_row(r: &PgRow) -> Result<StoredEvent> {
    Ok(StoredEvent {
        id: r.try_get(0)?,
        origin: r.try_get(1)?,
        origin_seq: r.try_get(2)?,
        kind: r.try_get(3)?,
        report_id: r.try_get(4)?,
        report_epoch: r.try_get(5)?,
        wire: r.try_get(6)?,
        state: r.try_get(7)?,
    })
}

/// A page size as SQLite reads it: negative means no limit (`LIMIT NULL` is `LIMIT ALL` here).
fn sql_limit(limit: i64) -> Option<i64> {
    (limit >= 0).then_some(limit)
}

pub async fn events_after(
    c: &mut PgConnection,
    origin: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<Vec<u8>>> {
    Ok(sqlx::query_scalar(
        "SELECT wire FROM events WHERE origin = $1 AND origin_seq > $2 ORDER BY origin_seq LIMIT $3",
    )
    .bind(origin)
    .bind(after)
    .bind(sql_limit(limit))
    .fetch_all(&mut *c)
    .await?)
}

pub async fn event_get(c: &mut PgConnection, id: &str) -> Result<Option<StoredEvent>> {
    sqlx::query(&format!("SELECT {EVENT_COLS} FROM events WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(event_from_row)
        .transpose()
}

pub async fn report_events(c: &mut PgConnection, report_id: &str) -> Result<Vec<StoredEvent>> {
    let rows = sqlx::query(&format!(
        "SELECT {EVENT_COLS} FROM events WHERE report_id = $1 \
         ORDER BY received_at, origin COLLATE \"C\", origin_seq"
    ))
    .bind(report_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(event_from_row).collect()
}

pub async fn events_pending(
    c: &mut PgConnection,
    kind_prefix: &str,
    limit: i64,
) -> Result<Vec<StoredEvent>> {
    let rows = sqlx::query(&format!(
        "SELECT {EVENT_COLS} FROM events WHERE state = 'pending' AND left(kind, length($2)) = $2 \
         ORDER BY received_at, origin COLLATE \"C\", origin_seq LIMIT $1"
    ))
    .bind(sql_limit(limit))
    .bind(kind_prefix)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(event_from_row).collect()
}

pub async fn event_quarantine(
    c: &mut PgConnection,
    id: &str,
    code: &str,
    reason: &str,
    now: Millis,
) -> Result<()> {
    let n = sqlx::query("UPDATE events SET state = 'quarantined' WHERE id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StorageError::NotFound);
    }
    sqlx::query(
        "INSERT INTO quarantine (event_id, origin, origin_seq, code, reason, at) \
         SELECT id, origin, origin_seq, $2, $3, $4 FROM events WHERE id = $1 \
         ON CONFLICT (event_id) DO UPDATE SET origin = EXCLUDED.origin, origin_seq = EXCLUDED.origin_seq, \
         code = EXCLUDED.code, reason = EXCLUDED.reason, at = EXCLUDED.at",
    )
    .bind(id)
    .bind(code)
    .bind(reason)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn quarantine_list(c: &mut PgConnection, limit: i64) -> Result<Vec<QuarantineRow>> {
    let rows = sqlx::query(
        "SELECT event_id, origin, origin_seq, code, reason, at FROM quarantine \
         ORDER BY at DESC, event_id COLLATE \"C\" LIMIT $1",
    )
    .bind(sql_limit(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QuarantineRow {
                event_id: r.try_get(0)?,
                origin: r.try_get(1)?,
                origin_seq: r.try_get(2)?,
                code: r.try_get(3)?,
                reason: r.try_get(4)?,
                at: r.try_get(5)?,
            })
        })
        .collect()
}

pub async fn equivocation_list(c: &mut PgConnection) -> Result<Vec<EquivocationRow>> {
    let rows = sqlx::query(
        "SELECT origin, origin_seq, first_id, second_id, detected_at FROM equivocations \
         ORDER BY origin COLLATE \"C\", origin_seq, second_id COLLATE \"C\"",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EquivocationRow {
                origin: r.try_get(0)?,
                origin_seq: r.try_get(1)?,
                first_id: r.try_get(2)?,
                second_id: r.try_get(3)?,
                detected_at: r.try_get(4)?,
            })
        })
        .collect()
}

pub async fn outbox_after(
    c: &mut PgConnection,
    destination: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, Vec<u8>)>> {
    let rows = sqlx::query(
        "SELECT o.id, e.wire FROM outbox o JOIN events e ON e.id = o.event_id \
         WHERE o.destination = $1 AND o.id > $2 ORDER BY o.id LIMIT $3",
    )
    .bind(destination)
    .bind(after)
    .bind(sql_limit(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Queues every event of `origin` not yet queued for `destination`, in log order. Backfills of one destination
/// are serialised by a transaction-scoped advisory lock so that two of them cannot queue an event twice.
pub async fn outbox_backfill(
    c: &mut PgConnection,
    destination: &str,
    origin: &str,
    now: Millis,
) -> Result<i64> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(OUTBOX_LOCK_CLASS)
        .bind(destination)
        .execute(&mut *c)
        .await?;
    let n = sqlx::query(
        "INSERT INTO outbox (destination, event_id, created_at) \
         SELECT $1, id, $3 FROM events WHERE origin = $2 \
         AND id NOT IN (SELECT event_id FROM outbox WHERE destination = $1) ORDER BY origin_seq",
    )
    .bind(destination)
    .bind(origin)
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected();
    Ok(n as i64)
}

/// First key of the advisory locks [`outbox_backfill`] takes (the second is the destination's hash).
const OUTBOX_LOCK_CLASS: i32 = 0x4c50;

pub async fn outbox_backlog(
    c: &mut PgConnection,
    destination: &str,
    after: i64,
) -> Result<(i64, Option<Millis>)> {
    let r = sqlx::query(
        "SELECT COUNT(*), MIN(o.created_at) FROM outbox o WHERE o.destination = $1 AND o.id > $2",
    )
    .bind(destination)
    .bind(after)
    .fetch_one(&mut *c)
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

const PEER_COLS: &str = "node_id, name, base_url, role, region_codes, enc_public, push_cursor, \
    last_success_at, last_attempt_at, last_error, failures, rejected_total, added_at";

fn peer_from_row(r: &PgRow) -> Result<PeerRecord> {
    let regions: String = r.try_get(4)?;
    Ok(PeerRecord {
        node_id: r.try_get(0)?,
        name: r.try_get(1)?,
        base_url: r.try_get(2)?,
        role: r.try_get(3)?,
        region_codes: regions
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        enc_public: r.try_get(5)?,
        push_cursor: r.try_get(6)?,
        last_success_at: r.try_get(7)?,
        last_attempt_at: r.try_get(8)?,
        last_error: r.try_get(9)?,
        failures: r.try_get(10)?,
        rejected_total: r.try_get(11)?,
        added_at: r.try_get(12)?,
    })
}

pub async fn peer_upsert(c: &mut PgConnection, p: &PeerRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO peers (node_id, name, base_url, role, region_codes, enc_public, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (node_id) DO UPDATE SET name = EXCLUDED.name, base_url = EXCLUDED.base_url, \
         role = EXCLUDED.role, region_codes = EXCLUDED.region_codes, enc_public = EXCLUDED.enc_public",
    )
    .bind(&p.node_id)
    .bind(&p.name)
    .bind(&p.base_url)
    .bind(&p.role)
    .bind(p.region_codes.join(","))
    .bind(p.enc_public.as_deref())
    .bind(p.added_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn peer_list(c: &mut PgConnection) -> Result<Vec<PeerRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {PEER_COLS} FROM peers ORDER BY node_id COLLATE \"C\""
    ))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(peer_from_row).collect()
}

pub async fn peer_get(c: &mut PgConnection, node_id: &str) -> Result<Option<PeerRecord>> {
    sqlx::query(&format!("SELECT {PEER_COLS} FROM peers WHERE node_id = $1"))
        .bind(node_id)
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(peer_from_row)
        .transpose()
}

pub async fn peer_push_result(
    c: &mut PgConnection,
    node_id: &str,
    outcome: &PushOutcome,
    now: Millis,
) -> Result<()> {
    match outcome {
        PushOutcome::Sent {
            cursor,
            rejected,
            error,
        } => sqlx::query(
            "UPDATE peers SET push_cursor = GREATEST(push_cursor, $2), last_success_at = $3, \
             last_attempt_at = $3, failures = 0, rejected_total = rejected_total + $4, \
             last_error = COALESCE($5, last_error) WHERE node_id = $1",
        )
        .bind(node_id)
        .bind(*cursor)
        .bind(now)
        .bind(*rejected)
        .bind(error.as_deref()),
        PushOutcome::Failed { error } => sqlx::query(
            "UPDATE peers SET last_attempt_at = $2, failures = failures + 1, last_error = $3 WHERE node_id = $1",
        )
        .bind(node_id)
        .bind(now)
        .bind(error),
        PushOutcome::Contact => {
            sqlx::query("UPDATE peers SET failures = 0 WHERE node_id = $1").bind(node_id)
        }
    }
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn key_upsert(c: &mut PgConnection, k: &KeyRow) -> Result<()> {
    // Validity only narrows: a retirement or revocation, once known, is never lifted. The WHERE clause keeps
    // a different public key under a known id from touching the row (and tells us, by touching nothing).
    let n = sqlx::query(
        "INSERT INTO node_keys (origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, \
         revoked_from_seq) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (origin, key_id) DO UPDATE SET \
         enc_public = COALESCE(EXCLUDED.enc_public, node_keys.enc_public), \
         retired_after_seq = CASE WHEN node_keys.retired_after_seq IS NULL THEN EXCLUDED.retired_after_seq \
           WHEN EXCLUDED.retired_after_seq IS NULL THEN node_keys.retired_after_seq \
           ELSE LEAST(node_keys.retired_after_seq, EXCLUDED.retired_after_seq) END, \
         revoked_from_seq = CASE WHEN node_keys.revoked_from_seq IS NULL THEN EXCLUDED.revoked_from_seq \
           WHEN EXCLUDED.revoked_from_seq IS NULL THEN node_keys.revoked_from_seq \
           ELSE LEAST(node_keys.revoked_from_seq, EXCLUDED.revoked_from_seq) END \
         WHERE node_keys.public_key = EXCLUDED.public_key",
    )
    .bind(&k.origin)
    .bind(&k.key_id)
    .bind(&k.public_key)
    .bind(k.enc_public.as_deref())
    .bind(k.valid_from_seq)
    .bind(k.retired_after_seq)
    .bind(k.revoked_from_seq)
    .execute(&mut *c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Conflict::SigningKeyMismatch {
            origin: k.origin.clone(),
            key_id: k.key_id.clone(),
        }
        .into());
    }
    Ok(())
}

pub async fn key_list(c: &mut PgConnection) -> Result<Vec<KeyRow>> {
    let rows = sqlx::query(
        "SELECT origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, revoked_from_seq \
         FROM node_keys ORDER BY origin COLLATE \"C\", valid_from_seq, key_id COLLATE \"C\"",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeyRow {
                origin: r.try_get(0)?,
                key_id: r.try_get(1)?,
                public_key: r.try_get(2)?,
                enc_public: r.try_get(3)?,
                valid_from_seq: r.try_get(4)?,
                retired_after_seq: r.try_get(5)?,
                revoked_from_seq: r.try_get(6)?,
            })
        })
        .collect()
}

const TRANSFER_COLS: &str =
    "offer_id, report_id, from_node, to_node, epoch, agency_id, reason, note, state, \
    code, expires_at, created_at, updated_at";

fn transfer_from_row(r: &PgRow) -> Result<TransferRow> {
    Ok(TransferRow {
        offer_id: r.try_get(0)?,
        report_id: r.try_get(1)?,
        from_node: r.try_get(2)?,
        to_node: r.try_get(3)?,
        epoch: r.try_get(4)?,
        agency_id: r.try_get(5)?,
        reason: r.try_get(6)?,
        note: r.try_get(7)?,
        state: r.try_get(8)?,
        code: r.try_get(9)?,
        expires_at: r.try_get(10)?,
        created_at: r.try_get(11)?,
        updated_at: r.try_get(12)?,
    })
}

pub async fn transfer_get(c: &mut PgConnection, offer_id: &str) -> Result<Option<TransferRow>> {
    sqlx::query(&format!(
        "SELECT {TRANSFER_COLS} FROM transfers WHERE offer_id = $1"
    ))
    .bind(offer_id)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(transfer_from_row)
    .transpose()
}

pub async fn transfers_of_report(
    c: &mut PgConnection,
    report_id: &str,
) -> Result<Vec<TransferRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {TRANSFER_COLS} FROM transfers WHERE report_id = $1 ORDER BY created_at DESC, offer_id"
    ))
    .bind(report_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(transfer_from_row).collect()
}

pub async fn transfers_list(
    c: &mut PgConnection,
    open_only: bool,
    limit: i64,
) -> Result<Vec<TransferRow>> {
    let filter = if open_only {
        "WHERE state IN ('offered', 'forwarded', 'accepted')"
    } else {
        ""
    };
    let rows = sqlx::query(&format!(
        "SELECT {TRANSFER_COLS} FROM transfers {filter} ORDER BY updated_at DESC, offer_id LIMIT $1"
    ))
    .bind(sql_limit(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(transfer_from_row).collect()
}

/// Runs a transfer change on the caller's transaction (see the SQLite twin). The report's ownership row is
/// locked first, so two transactions opening transfers of one report are serialised.
pub async fn apply_transfer(
    c: &mut PgConnection,
    change: &TransferChange,
    event_id: &str,
) -> Result<()> {
    let mut row = change.row.clone();
    if row.offer_id.is_empty() {
        // The event opens the transfer: its own id names it.
        event_id.clone_into(&mut row.offer_id);
    }
    let row = &row;
    let held = owner_for_update(c, &row.report_id).await?;
    if change.open {
        let other: Option<String> = sqlx::query_scalar(
            "SELECT offer_id FROM transfers WHERE report_id = $1 AND offer_id <> $2 \
             AND state IN ('offered', 'forwarded', 'accepted') LIMIT 1",
        )
        .bind(&row.report_id)
        .bind(&row.offer_id)
        .fetch_optional(&mut *c)
        .await?;
        if other.is_some() {
            return Err(Conflict::TransferPending.into());
        }
        if held.as_ref().map_or(0, |o| o.epoch) != row.epoch - 1 {
            return Err(Conflict::StaleEpoch.into());
        }
    }
    let merged = match transfer_get(c, &row.offer_id).await? {
        Some(stored) => row.merged_into(&stored),
        None => row.clone(),
    };
    sqlx::query(&format!(
        "INSERT INTO transfers ({TRANSFER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (offer_id) DO UPDATE SET state = EXCLUDED.state, code = EXCLUDED.code, \
         expires_at = EXCLUDED.expires_at, agency_id = EXCLUDED.agency_id, note = EXCLUDED.note, \
         updated_at = EXCLUDED.updated_at"
    ))
    .bind(&merged.offer_id)
    .bind(&merged.report_id)
    .bind(&merged.from_node)
    .bind(&merged.to_node)
    .bind(merged.epoch)
    .bind(merged.agency_id.as_deref())
    .bind(&merged.reason)
    .bind(merged.note.as_deref())
    .bind(&merged.state)
    .bind(merged.code.as_deref())
    .bind(merged.expires_at)
    .bind(merged.created_at)
    .bind(merged.updated_at)
    .execute(&mut *c)
    .await?;
    if change.commit && held.is_none_or(|o| o.epoch < row.epoch) {
        set_owner(c, &row.report_id, &row.to_node, row.epoch, Some(event_id)).await?;
    }
    Ok(())
}

async fn set_owner(
    c: &mut PgConnection,
    report_id: &str,
    owner: &str,
    epoch: i64,
    last: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO report_owner (report_id, owner, epoch, last_event_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (report_id) DO UPDATE SET owner = EXCLUDED.owner, epoch = EXCLUDED.epoch, \
         last_event_id = EXCLUDED.last_event_id",
    )
    .bind(report_id)
    .bind(owner)
    .bind(epoch)
    .bind(last)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Replaces what this node knows of `origin`'s agencies. Ids this node uses for its own agencies are skipped.
async fn replace_remote_agencies(
    c: &mut PgConnection,
    origin: &str,
    agencies: &[AgencyRecord],
) -> Result<()> {
    sqlx::query("UPDATE agencies SET active = FALSE WHERE node_id = $1")
        .bind(origin)
        .execute(&mut *c)
        .await?;
    for a in agencies {
        let local: Option<Option<String>> =
            sqlx::query_scalar("SELECT node_id FROM agencies WHERE id = $1")
                .bind(&a.id)
                .fetch_optional(&mut *c)
                .await?;
        let sql = match local {
            Some(None) => {
                tracing::warn!(agency = %a.id, %origin, "another node publishes an agency id this node uses; ignored");
                continue;
            }
            Some(Some(_)) => {
                "UPDATE agencies SET parent_id = $2, path = $3, name = $4, kind = $5, region_code = $6, \
                 active = $7, created_at = $8, node_id = $9 WHERE id = $1"
            }
            None => {
                "INSERT INTO agencies (id, parent_id, path, name, kind, region_code, active, created_at, node_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            }
        };
        sqlx::query(sql)
            .bind(&a.id)
            .bind(a.parent_id.as_deref())
            .bind(&a.path)
            .bind(&a.name)
            .bind(&a.kind)
            .bind(a.region_code.as_deref())
            .bind(a.active)
            .bind(a.created_at)
            .bind(origin)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Stores a report rebuilt from its history (see the SQLite twin).
pub async fn report_import(c: &mut PgConnection, imp: &ReportImport, now: Millis) -> Result<()> {
    let id = &imp.report.id;
    let held = owner_for_update(c, id).await?;
    let current = held.as_ref().is_none_or(|h| {
        h.epoch < imp.owner.epoch
            || (h.epoch == imp.owner.epoch && h.last_event_id != imp.owner.last_event_id)
    });
    if current {
        upsert_report(c, &imp.report).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM timeline WHERE report_id = $1")
            .bind(id)
            .fetch_one(&mut *c)
            .await?;
        for entry in imp
            .timeline
            .iter()
            .skip(usize::try_from(count).unwrap_or(0))
        {
            append_timeline(c, entry).await?;
        }
        set_owner(
            c,
            id,
            &imp.owner.owner,
            imp.owner.epoch,
            imp.owner.last_event_id.as_deref(),
        )
        .await?;
    }
    for e in &imp.history {
        sqlx::query(
            "INSERT INTO report_history (event_id, report_id, origin, origin_seq, kind, report_epoch, wire, \
             imported_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&e.id)
        .bind(id)
        .bind(&e.origin)
        .bind(e.origin_seq)
        .bind(&e.kind)
        .bind(e.report_epoch)
        .bind(&e.wire)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// Every signed event of a report this node holds: from the logs and from imported histories.
pub async fn report_history(c: &mut PgConnection, report_id: &str) -> Result<Vec<HistoryEvent>> {
    let rows = sqlx::query(
        "SELECT id, origin, origin_seq, kind, report_epoch, wire FROM events WHERE report_id = $1 \
         UNION SELECT event_id, origin, origin_seq, kind, report_epoch, wire FROM report_history \
         WHERE report_id = $1 ORDER BY 5, 2, 3",
    )
    .bind(report_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HistoryEvent {
                id: r.try_get(0)?,
                origin: r.try_get(1)?,
                origin_seq: r.try_get(2)?,
                kind: r.try_get(3)?,
                report_epoch: r.try_get(4)?,
                wire: r.try_get(5)?,
            })
        })
        .collect()
}
