//! [`NoticeStore`] on SQLite: the notification outbox, its cursor and unsubscriptions.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::rows::query_all;
use super::SqliteStore;
use crate::domain::Millis;
use crate::storage::notices::outcome_columns;
use crate::storage::{
    Conflict, NewNotice, NoticeOutcome, NoticeRow, NoticeStore, Result, StorageError,
};

const COLS: &str =
    "id, dedup, report_id, kind, channel, recipient, event_id, entry_at, state, attempts, \
                    next_at, last_error, created_at, sent_at";

fn notice_from_row(r: &Row<'_>) -> rusqlite::Result<NoticeRow> {
    Ok(NoticeRow {
        notice: NewNotice {
            id: r.get(0)?,
            dedup: r.get(1)?,
            report_id: r.get(2)?,
            kind: r.get(3)?,
            channel: r.get(4)?,
            recipient: r.get(5)?,
            event_id: r.get(6)?,
            entry_at: r.get(7)?,
        },
        state: r.get(8)?,
        attempts: r.get(9)?,
        next_at: r.get(10)?,
        last_error: r.get(11)?,
        created_at: r.get(12)?,
        sent_at: r.get(13)?,
    })
}

fn insert(c: &Connection, notices: &[NewNotice], now: Millis) -> Result<usize> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO notices (id, dedup, report_id, kind, channel, recipient, event_id, entry_at, state, \
         next_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', ?9, ?9, ?9) \
         ON CONFLICT (dedup) DO NOTHING",
    )?;
    let mut n = 0;
    for x in notices {
        n += stmt.execute(params![
            x.id,
            x.dedup,
            x.report_id,
            x.kind,
            x.channel,
            x.recipient,
            x.event_id,
            x.entry_at,
            now
        ])?;
    }
    Ok(n)
}

fn cursor(c: &Connection) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT position FROM notice_cursor WHERE feed = 'events'",
        [],
        |r| r.get(0),
    )
    .optional()?)
}

#[async_trait]
impl NoticeStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn notice_cursor(&self) -> Result<Option<i64>> {
        self.read(cursor).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(notices = notices.len()), err(level = "debug"))]
    async fn notices_enqueue(
        &self,
        from: Option<i64>,
        to: i64,
        notices: &[NewNotice],
        now: Millis,
    ) -> Result<usize> {
        let notices = notices.to_vec();
        self.write(move |c| {
            if cursor(c)? != from {
                return Err(Conflict::NoticeCursorMoved.into());
            }
            let n = insert(c, &notices, now)?;
            c.execute(
                "INSERT INTO notice_cursor (feed, position, updated_at) VALUES ('events', ?1, ?2) \
                 ON CONFLICT (feed) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
                params![to, now],
            )?;
            Ok(n)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(notices = notices.len()), err(level = "debug"))]
    async fn notices_add(&self, notices: &[NewNotice], now: Millis) -> Result<usize> {
        let notices = notices.to_vec();
        self.write(move |c| insert(c, &notices, now)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn notices_due(&self, now: Millis, limit: i64) -> Result<Vec<NoticeRow>> {
        self.read(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {COLS} FROM notices WHERE state IN ('queued', 'retrying') AND next_at <= ?1 \
                     ORDER BY next_at, created_at, id LIMIT ?2"
                ),
                params![now, limit],
                notice_from_row,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(notice.id = %id), err(level = "debug"))]
    async fn notice_claim(&self, id: &str, now: Millis) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE notices SET state = 'sending', attempts = attempts + 1, updated_at = ?2 \
                 WHERE id = ?1 AND state IN ('queued', 'retrying')",
                params![id, now],
            )? == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(notice.id = %id), err(level = "debug"))]
    async fn notice_finish(&self, id: &str, outcome: &NoticeOutcome, now: Millis) -> Result<()> {
        let id = id.to_owned();
        let (state, error, sent_at, next_at) = outcome_columns(outcome, now);
        self.write(move |c| {
            let n = c.execute(
                "UPDATE notices SET state = ?2, last_error = ?3, sent_at = COALESCE(?4, sent_at), \
                 next_at = COALESCE(?5, next_at), updated_at = ?6 WHERE id = ?1 AND state = 'sending'",
                params![id, state, error, sent_at, next_at, now],
            )?;
            if n == 0 {
                return Err(StorageError::NotFound);
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn notices_recover(&self, now: Millis) -> Result<i64> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE notices SET state = 'retrying', next_at = ?1, updated_at = ?1, \
                 last_error = 'the process stopped during the send; sent again (same Message-ID)' \
                 WHERE state = 'sending'",
                [now],
            )? as i64)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn notice_counts(&self) -> Result<Vec<(String, String, i64)>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT state, channel, COUNT(*) FROM notices GROUP BY state, channel ORDER BY state, channel",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn notices_of_report(&self, report_id: &str) -> Result<Vec<NoticeRow>> {
        let id = report_id.to_owned();
        self.read(move |c| {
            query_all(
                c,
                &format!("SELECT {COLS} FROM notices WHERE report_id = ?1 ORDER BY created_at, id"),
                [id],
                notice_from_row,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn notice_unsubscribe(&self, report_id: &str, now: Millis) -> Result<()> {
        let id = report_id.to_owned();
        self.write(move |c| {
            c.execute(
                "INSERT INTO notice_unsubscribes (report_id, at) VALUES (?1, ?2) ON CONFLICT (report_id) DO NOTHING",
                params![id, now],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn notice_unsubscribed(&self, report_id: &str) -> Result<bool> {
        let id = report_id.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT 1 FROM notice_unsubscribes WHERE report_id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .is_some())
        })
        .await
    }
}
