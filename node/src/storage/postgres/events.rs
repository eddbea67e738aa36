//! [`EventStore`] on PostgreSQL: authoring events, the inbox, the log, report histories and quarantine.
//! Accepting received events is in `accept.rs`. Every free function here runs on the connection it is
//! given, usually a transaction the caller opened.

use async_trait::async_trait;
use lapor_federation::SignedEvent;
use sqlx::PgConnection;

use super::accept::events_accept;
use super::peers::blob_put;
use super::peers::own_keys;
use super::rows::{
    equivocation_from_row, event_from_row, fetch_all, fetch_optional, history_from_row,
    inbox_from_row, origin_head_from_row, quarantine_from_row, EVENT_COLS,
};
use super::transfers::apply_transfer;
use super::{
    append_timeline, enqueue, insert_event, lock_origin, owner, owner_for_update, set_head,
    set_owner, sql_limit, upsert_report, NewEvent, PgStore,
};
use crate::domain::Millis;
use crate::storage::decide;
use crate::storage::{
    sign_draft, AcceptOutcome, Conflict, EquivocationRow, EventDraft, EventStore, HistoryEvent,
    InboxEvent, InboxRow, Incoming, OriginHead, OwnerRow, QuarantineRow, ReportImport, Result,
    StorageError, StoredEvent,
};

#[async_trait]
impl EventStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %draft.report_id, event.kind = %draft.kind), err(level = "debug"))]
    async fn event_append(&self, draft: &EventDraft) -> Result<SignedEvent> {
        let mut tx = self.pool.begin().await?;
        let signed = author_event(&mut tx, draft).await?;
        tx.commit().await?;
        Ok(signed)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn report_owner(&self, report_id: &str) -> Result<Option<OwnerRow>> {
        let mut conn = self.pool.acquire().await?;
        owner(&mut conn, report_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(reports = report_ids.len()), err(level = "debug"))]
    async fn report_owners(&self, report_ids: &[String]) -> Result<Vec<OwnerRow>> {
        let mut conn = self.pool.acquire().await?;
        super::rows::fetch_all(
            sqlx::query(
                "SELECT report_id, owner, epoch, last_event_id FROM report_owner WHERE report_id = ANY($1)",
            )
            .bind(report_ids),
            &mut *conn,
            super::rows::owner_from_row,
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %sender, push.txn = %txn), err(level = "debug"))]
    async fn push_txn_get(&self, sender: &str, txn: &str) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        push_txn_get(&mut conn, sender, txn).await
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
        let mut tx = self.pool.begin().await?;
        inbox_insert(&mut tx, sender, txn, response, events, now).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn inbox_load(&self, limit: i64) -> Result<Vec<InboxRow>> {
        let mut conn = self.pool.acquire().await?;
        inbox_load(&mut conn, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn inbox_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT origin, COUNT(*) FROM inbox GROUP BY origin ORDER BY origin COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn inbox_delete(&self, ids: &[i64]) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        inbox_delete(&mut conn, ids).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn events_accept(&self, items: &[Incoming], now: Millis) -> Result<Vec<AcceptOutcome>> {
        let mut tx = self.pool.begin().await?;
        let outcomes = events_accept(&mut tx, items, now).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn origin_heads(&self) -> Result<Vec<OriginHead>> {
        let mut conn = self.pool.acquire().await?;
        origin_heads(&mut conn).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.origin = %origin), err(level = "debug"))]
    async fn events_after(&self, origin: &str, after_seq: i64, limit: i64) -> Result<Vec<Vec<u8>>> {
        let mut conn = self.pool.acquire().await?;
        events_after(&mut conn, origin, after_seq, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.id = %id), err(level = "debug"))]
    async fn event_get(&self, id: &str) -> Result<Option<StoredEvent>> {
        let mut conn = self.pool.acquire().await?;
        event_get(&mut conn, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn report_events(&self, report_id: &str) -> Result<Vec<StoredEvent>> {
        let mut conn = self.pool.acquire().await?;
        report_events(&mut conn, report_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.kind_prefix = %kind_prefix), err(level = "debug"))]
    async fn events_pending(&self, kind_prefix: &str, limit: i64) -> Result<Vec<StoredEvent>> {
        let mut conn = self.pool.acquire().await?;
        events_pending(&mut conn, kind_prefix, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %import.report.id), err(level = "debug"))]
    async fn report_import(&self, import: &ReportImport, now: Millis) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        report_import(&mut tx, import, now).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn report_history(&self, report_id: &str) -> Result<Vec<HistoryEvent>> {
        let mut conn = self.pool.acquire().await?;
        report_history(&mut conn, report_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.id = %id), err(level = "debug"))]
    async fn event_settle(&self, id: &str) -> Result<bool> {
        let n =
            sqlx::query("UPDATE events SET state = 'stored' WHERE id = $1 AND state = 'pending'")
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(event.id = %id), err(level = "debug"))]
    async fn event_quarantine(
        &self,
        id: &str,
        code: &str,
        reason: &str,
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        event_quarantine(&mut tx, id, code, reason, now).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn quarantine_list(&self, limit: i64) -> Result<Vec<QuarantineRow>> {
        let mut conn = self.pool.acquire().await?;
        quarantine_list(&mut conn, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn equivocation_list(&self) -> Result<Vec<EquivocationRow>> {
        let mut conn = self.pool.acquire().await?;
        equivocation_list(&mut conn).await
    }

    async fn origin_unfreeze(&self, origin: &str, now: Millis) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE origins SET frozen = 0, frozen_reason = NULL, updated_at = $2 \
             WHERE origin = $1 AND frozen <> 0",
        )
        .bind(origin)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }
}

/// Appends a locally authored event to this node's log, in the caller's transaction. The origin's row stays
/// locked until that transaction ends, so concurrent authors take consecutive sequence numbers.
pub(super) async fn author_event(c: &mut PgConnection, draft: &EventDraft) -> Result<SignedEvent> {
    let origin = draft.signer.node_id().to_owned();
    let now = draft.authored_at;
    let (seq, prev) = decide::next_position(&origin, &lock_origin(c, &origin, now).await?)?;
    let own = if decide::is_report(&draft.report_id) {
        owner_for_update(c, &draft.report_id).await?
    } else {
        None
    };
    if decide::moves_report_chain(&draft.report_id, &draft.kind) {
        // The origin's row is locked above, so a concurrent offer of this node either committed before this
        // read (and is seen) or waits for this transaction.
        let open: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM transfers WHERE report_id = $1 \
             AND state IN ('offered', 'forwarded', 'accepted'))",
        )
        .bind(&draft.report_id)
        .fetch_one(&mut *c)
        .await?;
        decide::change_may_commit(&draft.report_id, &draft.kind, draft.epoch, open)?;
    }
    let (epoch, report_prev) = decide::report_position(own.as_ref(), draft.epoch);
    let key = decide::signing_key(&own_keys(c, &origin).await?, seq)?;
    let signed = sign_draft(
        draft,
        key.as_deref(),
        seq,
        prev.as_deref(),
        epoch,
        report_prev.as_deref(),
    )?;
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
            state: decide::authored_state(draft.pending),
        },
    )
    .await?;
    set_head(c, &origin, seq, &id, now).await?;
    if decide::moves_report_chain(&draft.report_id, &draft.kind) {
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

async fn push_txn_get(c: &mut PgConnection, sender: &str, txn: &str) -> Result<Option<String>> {
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

async fn inbox_insert(
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

async fn inbox_load(c: &mut PgConnection, limit: i64) -> Result<Vec<InboxRow>> {
    fetch_all(
        sqlx::query(
            "SELECT id, event_id, origin, origin_seq, sender, wire FROM ( \
               SELECT id, event_id, origin, origin_seq, sender, wire, \
                      ROW_NUMBER() OVER (PARTITION BY origin ORDER BY origin_seq, id) AS rn FROM inbox) AS t \
             WHERE rn <= $2 ORDER BY origin COLLATE \"C\", origin_seq, id LIMIT $1",
        )
        .bind(sql_limit(limit))
        .bind(decide::INBOX_SHARE),
        &mut *c,
        inbox_from_row,
    )
    .await
}

async fn inbox_delete(c: &mut PgConnection, ids: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM inbox WHERE id = ANY($1)")
        .bind(ids)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn origin_heads(c: &mut PgConnection) -> Result<Vec<OriginHead>> {
    fetch_all(sqlx::query(
        "SELECT origin, head_seq, head_id, frozen, frozen_reason FROM origins ORDER BY origin COLLATE \"C\"",
    ), &mut *c, origin_head_from_row).await
}

async fn events_after(
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

async fn event_get(c: &mut PgConnection, id: &str) -> Result<Option<StoredEvent>> {
    fetch_optional(
        sqlx::query(&format!("SELECT {EVENT_COLS} FROM events WHERE id = $1")).bind(id),
        &mut *c,
        event_from_row,
    )
    .await
}

async fn report_events(c: &mut PgConnection, report_id: &str) -> Result<Vec<StoredEvent>> {
    fetch_all(
        sqlx::query(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE report_id = $1 \
         ORDER BY received_at, origin COLLATE \"C\", origin_seq"
        ))
        .bind(report_id),
        &mut *c,
        event_from_row,
    )
    .await
}

async fn events_pending(
    c: &mut PgConnection,
    kind_prefix: &str,
    limit: i64,
) -> Result<Vec<StoredEvent>> {
    fetch_all(
        sqlx::query(&format!(
        "SELECT {EVENT_COLS} FROM events WHERE state = 'pending' AND left(kind, length($2)) = $2 \
         ORDER BY received_at, origin COLLATE \"C\", origin_seq LIMIT $1"
    ))
        .bind(sql_limit(limit))
        .bind(kind_prefix),
        &mut *c,
        event_from_row,
    )
    .await
}

async fn event_quarantine(
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

async fn quarantine_list(c: &mut PgConnection, limit: i64) -> Result<Vec<QuarantineRow>> {
    fetch_all(
        sqlx::query(
            "SELECT event_id, origin, origin_seq, code, reason, at FROM quarantine \
         ORDER BY at DESC, event_id COLLATE \"C\" LIMIT $1",
        )
        .bind(sql_limit(limit)),
        &mut *c,
        quarantine_from_row,
    )
    .await
}

async fn equivocation_list(c: &mut PgConnection) -> Result<Vec<EquivocationRow>> {
    fetch_all(
        sqlx::query(
            "SELECT origin, origin_seq, first_id, second_id, detected_at FROM equivocations \
         ORDER BY origin COLLATE \"C\", origin_seq, second_id COLLATE \"C\"",
        ),
        &mut *c,
        equivocation_from_row,
    )
    .await
}

/// Stores a report rebuilt from its history (see the SQLite twin).
async fn report_import(c: &mut PgConnection, imp: &ReportImport, now: Millis) -> Result<()> {
    let id = &imp.report.id;
    let held = owner_for_update(c, id).await?;
    if decide::import_applies(held.as_ref(), &imp.owner, imp.merge_owned) {
        upsert_report(c, &imp.report).await?;
        let held = fetch_all(
            sqlx::query(&format!(
                "SELECT {} FROM timeline WHERE report_id = $1 ORDER BY seq",
                super::rows::TIMELINE_COLS
            ))
            .bind(id),
            &mut *c,
            super::rows::timeline_from_row,
        )
        .await?;
        for entry in decide::entries_missing(&imp.timeline, &held) {
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
async fn report_history(c: &mut PgConnection, report_id: &str) -> Result<Vec<HistoryEvent>> {
    fetch_all(sqlx::query(
        "SELECT id, origin, origin_seq, kind, report_epoch, wire FROM events WHERE report_id = $1 \
         UNION SELECT event_id, origin, origin_seq, kind, report_epoch, wire FROM report_history \
         WHERE report_id = $1 ORDER BY 5, 2, 3",
    )
    .bind(report_id), &mut *c, history_from_row).await
}
