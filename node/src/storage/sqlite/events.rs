//! [`EventStore`] on SQLite: authoring events, the inbox, the log, report histories and quarantine.
//! Accepting received events is in `accept.rs`. Every free function here runs inside the caller's
//! transaction (the writer's job) or on a read connection.

use async_trait::async_trait;
use lapor_federation::SignedEvent;
use rusqlite::{params, Connection, OptionalExtension};

use super::accept::accept_batch;
use super::peers::own_keys;
use super::rows::{
    equivocation_from_row, event_from_row, history_from_row, inbox_from_row, origin_head_from_row,
    quarantine_from_row, query_all, EVENT_COLS,
};
use super::transfers::apply_transfer;
use super::{
    append_timeline, enqueue, head, insert_event, owner, set_head, set_owner, upsert_report,
    SqliteStore,
};
use crate::domain::Millis;
use crate::storage::decide;
use crate::storage::{
    sign_draft, AcceptOutcome, Conflict, EquivocationRow, EventDraft, EventStore, HistoryEvent,
    InboxEvent, InboxRow, Incoming, OriginHead, OwnerRow, QuarantineRow, ReportImport, Result,
    StorageError, StoredEvent,
};

#[async_trait]
impl EventStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %draft.report_id, event.kind = %draft.kind), err(level = "debug"))]
    async fn event_append(&self, draft: &EventDraft) -> Result<SignedEvent> {
        let draft = draft.clone();
        self.write(move |c| author_event(c, &draft)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn report_owner(&self, report_id: &str) -> Result<Option<OwnerRow>> {
        let id = report_id.to_owned();
        self.read(move |c| owner(c, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(reports = report_ids.len()), err(level = "debug"))]
    async fn report_owners(&self, report_ids: &[String]) -> Result<Vec<OwnerRow>> {
        let list = serde_json::to_string(report_ids)
            .map_err(|e| crate::storage::StorageError::Backend(e.to_string()))?;
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT report_id, owner, epoch, last_event_id FROM report_owner \
                 WHERE report_id IN (SELECT value FROM json_each(?1))",
            )?;
            let rows = stmt.query_map([list], |r| {
                Ok(OwnerRow {
                    report_id: r.get(0)?,
                    owner: r.get(1)?,
                    epoch: r.get(2)?,
                    last_event_id: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %sender, push.txn = %txn), err(level = "debug"))]
    async fn push_txn_get(&self, sender: &str, txn: &str) -> Result<Option<String>> {
        let (sender, txn) = (sender.to_owned(), txn.to_owned());
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT response FROM push_txns WHERE sender = ?1 AND txn = ?2",
                params![sender, txn],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %sender, push.txn = %txn), err(level = "debug"))]
    async fn inbox_insert(
        &self,
        sender: &str,
        txn: &str,
        response: &str,
        events: &[InboxEvent],
        now: Millis,
    ) -> Result<()> {
        let (sender, txn, response, events) = (
            sender.to_owned(),
            txn.to_owned(),
            response.to_owned(),
            events.to_vec(),
        );
        self.write(move |c| inbox_insert(c, &sender, &txn, &response, &events, now))
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn inbox_load(&self, limit: i64) -> Result<Vec<InboxRow>> {
        self.read(move |c| inbox_load(c, limit)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn inbox_counts(&self) -> Result<Vec<(String, i64)>> {
        self.read(inbox_counts).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn inbox_delete(&self, ids: &[i64]) -> Result<()> {
        let ids = ids.to_vec();
        self.write(move |c| {
            let mut stmt = c.prepare_cached("DELETE FROM inbox WHERE id = ?1")?;
            for id in ids {
                stmt.execute([id])?;
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn events_accept(&self, items: &[Incoming], now: Millis) -> Result<Vec<AcceptOutcome>> {
        let items = items.to_vec();
        self.write(move |c| accept_batch(c, &items, now)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn origin_heads(&self) -> Result<Vec<OriginHead>> {
        self.read(origin_heads).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.origin = %origin), err(level = "debug"))]
    async fn events_after(&self, origin: &str, after_seq: i64, limit: i64) -> Result<Vec<Vec<u8>>> {
        let origin = origin.to_owned();
        self.read(move |c| events_after(c, &origin, after_seq, limit))
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.id = %id), err(level = "debug"))]
    async fn event_get(&self, id: &str) -> Result<Option<StoredEvent>> {
        let id = id.to_owned();
        self.read(move |c| event_get(c, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn report_events(&self, report_id: &str) -> Result<Vec<StoredEvent>> {
        let id = report_id.to_owned();
        self.read(move |c| report_events(c, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.kind_prefix = %kind_prefix), err(level = "debug"))]
    async fn events_pending(&self, kind_prefix: &str, limit: i64) -> Result<Vec<StoredEvent>> {
        let prefix = kind_prefix.to_owned();
        self.read(move |c| events_pending(c, &prefix, limit)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %import.report.id), err(level = "debug"))]
    async fn report_import(&self, import: &ReportImport, now: Millis) -> Result<()> {
        let import = import.clone();
        self.write(move |c| report_import(c, &import, now)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn report_history(&self, report_id: &str) -> Result<Vec<HistoryEvent>> {
        let id = report_id.to_owned();
        self.read(move |c| report_history(c, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.id = %id), err(level = "debug"))]
    async fn event_settle(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE events SET state = 'stored' WHERE id = ?1 AND state = 'pending'",
                [&id],
            )? > 0)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.id = %id), err(level = "debug"))]
    async fn event_quarantine(
        &self,
        id: &str,
        code: &str,
        reason: &str,
        now: Millis,
    ) -> Result<()> {
        let (id, code, reason) = (id.to_owned(), code.to_owned(), reason.to_owned());
        self.write(move |c| event_quarantine(c, &id, &code, &reason, now))
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn quarantine_list(&self, limit: i64) -> Result<Vec<QuarantineRow>> {
        self.read(move |c| quarantine_list(c, limit)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn equivocation_list(&self) -> Result<Vec<EquivocationRow>> {
        self.read(equivocation_list).await
    }

    async fn origin_unfreeze(&self, origin: &str, now: Millis) -> Result<bool> {
        let origin = origin.to_owned();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE origins SET frozen = 0, frozen_reason = NULL, updated_at = ?2 \
                 WHERE origin = ?1 AND frozen <> 0",
                rusqlite::params![origin, now],
            )? > 0)
        })
        .await
    }
}

/// Appends a locally authored event to this node's log, in the caller's transaction.
pub(super) fn author_event(c: &Connection, draft: &EventDraft) -> Result<SignedEvent> {
    let origin = draft.signer.node_id().to_owned();
    let (seq, prev) = decide::next_position(&origin, &head(c, &origin)?)?;
    let own = if decide::is_report(&draft.report_id) {
        owner(c, &draft.report_id)?
    } else {
        None
    };
    if decide::moves_report_chain(&draft.report_id, &draft.kind) {
        let open: bool = c.query_row(
            "SELECT EXISTS (SELECT 1 FROM transfers WHERE report_id = ?1 \
             AND state IN ('offered', 'forwarded', 'accepted'))",
            [&draft.report_id],
            |r| r.get(0),
        )?;
        decide::change_may_commit(&draft.report_id, &draft.kind, draft.epoch, open)?;
    }
    let (epoch, report_prev) = decide::report_position(own.as_ref(), draft.epoch);
    let key = decide::signing_key(&own_keys(c, &origin)?, seq)?;
    let signed = sign_draft(
        draft,
        key.as_deref(),
        seq,
        prev.as_deref(),
        epoch,
        report_prev.as_deref(),
    )?;
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
        decide::authored_state(draft.pending),
    )?;
    set_head(c, &origin, seq, &id, now)?;
    if decide::moves_report_chain(&draft.report_id, &draft.kind) {
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

fn inbox_insert(
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

fn inbox_load(c: &Connection, limit: i64) -> Result<Vec<InboxRow>> {
    query_all(
        c,
        "SELECT id, event_id, origin, origin_seq, sender, wire FROM ( \
           SELECT id, event_id, origin, origin_seq, sender, wire, \
                  ROW_NUMBER() OVER (PARTITION BY origin ORDER BY origin_seq, id) AS rn FROM inbox) \
         WHERE rn <= ?2 ORDER BY origin, origin_seq, id LIMIT ?1",
        [limit, decide::INBOX_SHARE],
        inbox_from_row,
    )
}

fn inbox_counts(c: &Connection) -> Result<Vec<(String, i64)>> {
    query_all(
        c,
        "SELECT origin, COUNT(*) FROM inbox GROUP BY origin ORDER BY origin",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

fn origin_heads(c: &Connection) -> Result<Vec<OriginHead>> {
    query_all(
        c,
        "SELECT origin, head_seq, head_id, frozen, frozen_reason FROM origins ORDER BY origin",
        [],
        origin_head_from_row,
    )
}

fn events_after(c: &Connection, origin: &str, after: i64, limit: i64) -> Result<Vec<Vec<u8>>> {
    let mut stmt = c.prepare_cached(
        "SELECT wire FROM events WHERE origin = ?1 AND origin_seq > ?2 ORDER BY origin_seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![origin, after, limit], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn event_get(c: &Connection, id: &str) -> Result<Option<StoredEvent>> {
    Ok(c.query_row(
        &format!("SELECT {EVENT_COLS} FROM events WHERE id = ?1"),
        [id],
        event_from_row,
    )
    .optional()?)
}

fn report_events(c: &Connection, report_id: &str) -> Result<Vec<StoredEvent>> {
    query_all(c, &format!(
        "SELECT {EVENT_COLS} FROM events WHERE report_id = ?1 ORDER BY received_at, origin, origin_seq"
    ), [report_id], event_from_row)
}

fn events_pending(c: &Connection, kind_prefix: &str, limit: i64) -> Result<Vec<StoredEvent>> {
    query_all(c, &format!(
        "SELECT {EVENT_COLS} FROM events WHERE state = 'pending' AND substr(kind, 1, length(?2)) = ?2 \
         ORDER BY received_at, origin, origin_seq LIMIT ?1"
    ), params![limit, kind_prefix], event_from_row)
}

fn event_quarantine(c: &Connection, id: &str, code: &str, reason: &str, now: Millis) -> Result<()> {
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

fn quarantine_list(c: &Connection, limit: i64) -> Result<Vec<QuarantineRow>> {
    query_all(c, "SELECT event_id, origin, origin_seq, code, reason, at FROM quarantine ORDER BY at DESC, event_id LIMIT ?1", [limit], quarantine_from_row)
}

fn equivocation_list(c: &Connection) -> Result<Vec<EquivocationRow>> {
    query_all(
        c,
        "SELECT origin, origin_seq, first_id, second_id, detected_at FROM equivocations \
         ORDER BY origin, origin_seq, second_id",
        [],
        equivocation_from_row,
    )
}

/// Stores a report rebuilt from its history (see [`crate::storage::EventStore::report_import`]).
fn report_import(c: &Connection, imp: &ReportImport, now: Millis) -> Result<()> {
    let id = &imp.report.id;
    if decide::import_applies(owner(c, id)?.as_ref(), &imp.owner, imp.merge_owned) {
        upsert_report(c, &imp.report)?;
        let held = query_all(
            c,
            "SELECT report_id, seq, at, action, actor_role, actor_id, actor_name, agency_id, from_status, \
             to_status, note FROM timeline WHERE report_id = ?1 ORDER BY seq",
            [id],
            super::rows::timeline_from_row,
        )?;
        for entry in decide::entries_missing(&imp.timeline, &held) {
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
fn report_history(c: &Connection, report_id: &str) -> Result<Vec<HistoryEvent>> {
    query_all(
        c,
        "SELECT id, origin, origin_seq, kind, report_epoch, wire FROM events WHERE report_id = ?1 \
         UNION SELECT event_id, origin, origin_seq, kind, report_epoch, wire FROM report_history \
         WHERE report_id = ?1 ORDER BY 5, 2, 3",
        [report_id],
        history_from_row,
    )
}
