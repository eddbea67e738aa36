//! [`NoticeStore`] on PostgreSQL: the notification outbox, its cursor and unsubscriptions.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::PgStore;
use crate::domain::Millis;
use crate::storage::notices::outcome_columns;
use crate::storage::{
    Conflict, NewNotice, NoticeOutcome, NoticeRow, NoticeStore, Result, StorageError,
};

const COLS: &str =
    "id, dedup, report_id, kind, channel, recipient, event_id, entry_at, state, attempts, \
                    next_at, last_error, created_at, sent_at";

fn notice_from_row(r: &PgRow) -> std::result::Result<NoticeRow, sqlx::Error> {
    Ok(NoticeRow {
        notice: NewNotice {
            id: r.try_get(0)?,
            dedup: r.try_get(1)?,
            report_id: r.try_get(2)?,
            kind: r.try_get(3)?,
            channel: r.try_get(4)?,
            recipient: r.try_get(5)?,
            event_id: r.try_get(6)?,
            entry_at: r.try_get(7)?,
        },
        state: r.try_get(8)?,
        attempts: r.try_get(9)?,
        next_at: r.try_get(10)?,
        last_error: r.try_get(11)?,
        created_at: r.try_get(12)?,
        sent_at: r.try_get(13)?,
    })
}

fn decode(rows: &[PgRow]) -> Result<Vec<NoticeRow>> {
    Ok(rows
        .iter()
        .map(notice_from_row)
        .collect::<std::result::Result<_, _>>()?)
}

async fn insert(c: &mut PgConnection, notices: &[NewNotice], now: Millis) -> Result<usize> {
    let mut n = 0;
    for x in notices {
        n += sqlx::query(
            "INSERT INTO notices (id, dedup, report_id, kind, channel, recipient, event_id, entry_at, state, \
             next_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $9, $9) \
             ON CONFLICT (dedup) DO NOTHING",
        )
        .bind(&x.id)
        .bind(&x.dedup)
        .bind(&x.report_id)
        .bind(&x.kind)
        .bind(&x.channel)
        .bind(&x.recipient)
        .bind(x.event_id.as_deref())
        .bind(x.entry_at)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected() as usize;
    }
    Ok(n)
}

#[async_trait]
impl NoticeStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn notice_cursor(&self) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT position FROM notice_cursor WHERE feed = 'events'")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    #[tracing::instrument(level = "debug", skip_all, fields(notices = notices.len()), err(level = "debug"))]
    async fn notices_enqueue(
        &self,
        from: Option<i64>,
        to: i64,
        notices: &[NewNotice],
        now: Millis,
    ) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        // The cursor row is locked (or, for the first run, its absence is settled by the insert's key).
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT position FROM notice_cursor WHERE feed = 'events' FOR UPDATE",
        )
        .fetch_optional(&mut *tx)
        .await?;
        if held != from {
            return Err(Conflict::NoticeCursorMoved.into());
        }
        let n = insert(&mut tx, notices, now).await?;
        let moved = if from.is_none() {
            sqlx::query(
                "INSERT INTO notice_cursor (feed, position, updated_at) VALUES ('events', $1, $2) \
                 ON CONFLICT (feed) DO NOTHING",
            )
        } else {
            sqlx::query(
                "UPDATE notice_cursor SET position = $1, updated_at = $2 WHERE feed = 'events'",
            )
        }
        .bind(to)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(Conflict::NoticeCursorMoved.into());
        }
        tx.commit().await?;
        Ok(n)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(notices = notices.len()), err(level = "debug"))]
    async fn notices_add(&self, notices: &[NewNotice], now: Millis) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        let n = insert(&mut tx, notices, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn notices_due(&self, now: Millis, limit: i64) -> Result<Vec<NoticeRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM notices WHERE state IN ('queued', 'retrying') AND next_at <= $1 \
             ORDER BY next_at, created_at, id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        decode(&rows)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(notice.id = %id), err(level = "debug"))]
    async fn notice_claim(&self, id: &str, now: Millis) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE notices SET state = 'sending', attempts = attempts + 1, updated_at = $2 \
             WHERE id = $1 AND state IN ('queued', 'retrying')",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(notice.id = %id), err(level = "debug"))]
    async fn notice_finish(&self, id: &str, outcome: &NoticeOutcome, now: Millis) -> Result<()> {
        let (state, error, sent_at, next_at) = outcome_columns(outcome, now);
        let n = sqlx::query(
            "UPDATE notices SET state = $2, last_error = $3, sent_at = COALESCE($4, sent_at), \
             next_at = COALESCE($5, next_at), updated_at = $6 WHERE id = $1 AND state = 'sending'",
        )
        .bind(id)
        .bind(state)
        .bind(error)
        .bind(sent_at)
        .bind(next_at)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn notices_recover(&self, now: Millis) -> Result<i64> {
        Ok(sqlx::query(
            "UPDATE notices SET state = 'retrying', next_at = $1, updated_at = $1, \
             last_error = 'the process stopped during the send; sent again (same Message-ID)' \
             WHERE state = 'sending'",
        )
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected() as i64)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn notice_counts(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT state, channel, COUNT(*) FROM notices GROUP BY state, channel ORDER BY state, channel",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn notices_of_report(&self, report_id: &str) -> Result<Vec<NoticeRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM notices WHERE report_id = $1 ORDER BY created_at, id"
        ))
        .bind(report_id)
        .fetch_all(&self.pool)
        .await?;
        decode(&rows)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn notice_unsubscribe(&self, report_id: &str, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO notice_unsubscribes (report_id, at) VALUES ($1, $2) ON CONFLICT (report_id) DO NOTHING",
        )
        .bind(report_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn notice_unsubscribed(&self, report_id: &str) -> Result<bool> {
        Ok(
            sqlx::query_scalar::<_, i32>("SELECT 1 FROM notice_unsubscribes WHERE report_id = $1")
                .bind(report_id)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }
}
