//! [`HandoverStore`] on PostgreSQL: identities on their way to a report's new owner.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::PgStore;
use crate::domain::{Millis, ReporterIdentity};
use crate::storage::handover::{HandoverRow, HandoverStore, CONFIRMING, FETCHING};
use crate::storage::Result;

fn row_of(r: &PgRow) -> std::result::Result<HandoverRow, sqlx::Error> {
    Ok(HandoverRow {
        report_id: r.try_get(0)?,
        epoch: r.try_get(1)?,
        state: r.try_get(2)?,
        attempts: r.try_get(3)?,
        next_at: r.try_get(4)?,
        last_error: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

fn decode(rows: &[PgRow]) -> Result<Vec<HandoverRow>> {
    Ok(rows.iter().map(row_of).collect::<Result<_, _>>()?)
}

async fn record(c: &mut PgConnection, h: &HandoverRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO identity_handover (report_id, epoch, state, attempts, next_at, last_error, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (report_id) DO UPDATE SET epoch = excluded.epoch, \
         state = excluded.state, attempts = excluded.attempts, next_at = excluded.next_at, \
         last_error = excluded.last_error, updated_at = excluded.updated_at",
    )
    .bind(&h.report_id)
    .bind(h.epoch)
    .bind(h.state.as_deref().unwrap_or(FETCHING))
    .bind(h.attempts)
    .bind(h.next_at)
    .bind(h.last_error.as_deref())
    .bind(h.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

#[async_trait]
impl HandoverStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn handover_due(&self, me: &str, now: Millis, limit: i64) -> Result<Vec<HandoverRow>> {
        let rows = sqlx::query(
            "SELECT o.report_id, o.epoch, h.state, COALESCE(h.attempts, 0), COALESCE(h.next_at, 0), \
             h.last_error, COALESCE(h.updated_at, 0) \
             FROM report_owner o JOIN reports r ON r.id = o.report_id \
             LEFT JOIN identity_handover h ON h.report_id = o.report_id AND h.epoch = o.epoch \
             WHERE o.owner = $1 AND o.epoch >= 1 AND NOT r.anonymous AND ( \
               (h.report_id IS NULL AND NOT EXISTS \
                  (SELECT 1 FROM reporter_identities i WHERE i.report_id = o.report_id)) \
               OR (h.state IN ('fetching', 'confirming') AND h.next_at <= $2)) \
             ORDER BY COALESCE(h.next_at, 0), o.report_id LIMIT $3",
        )
        .bind(me)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        decode(&rows)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn handover_get(&self, report_id: &str) -> Result<Option<HandoverRow>> {
        let row = sqlx::query(
            "SELECT report_id, epoch, state, attempts, next_at, last_error, updated_at \
             FROM identity_handover WHERE report_id = $1",
        )
        .bind(report_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(row_of).transpose()?)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn handover_open(&self) -> Result<Vec<HandoverRow>> {
        let rows = sqlx::query(
            "SELECT report_id, epoch, state, attempts, next_at, last_error, updated_at \
             FROM identity_handover WHERE state IN ('fetching', 'confirming') \
             ORDER BY updated_at DESC LIMIT 1000",
        )
        .fetch_all(&self.pool)
        .await?;
        decode(&rows)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %row.report_id), err(level = "debug"))]
    async fn handover_record(&self, row: &HandoverRow) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        record(&mut conn, row).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn handover_receive(
        &self,
        report_id: &str,
        epoch: i64,
        identity: &ReporterIdentity,
        now: Millis,
    ) -> Result<()> {
        let sealed = self.identities.seal(report_id, identity)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO reporter_identities (report_id, name, phone, email) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (report_id) DO UPDATE SET name = excluded.name, phone = excluded.phone, \
             email = excluded.email",
        )
        .bind(report_id)
        .bind(sealed.name.as_deref())
        .bind(sealed.phone.as_deref())
        .bind(sealed.email.as_deref())
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            &HandoverRow {
                report_id: report_id.to_owned(),
                epoch,
                state: Some(CONFIRMING.into()),
                attempts: 0,
                next_at: now,
                last_error: None,
                updated_at: now,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn identity_erase(&self, report_id: &str, blobs: &[String]) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let mut n = sqlx::query("DELETE FROM reporter_identities WHERE report_id = $1")
            .bind(report_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for hash in blobs {
            n += sqlx::query("DELETE FROM blobs WHERE hash = $1 AND report_id = $2")
                .bind(hash)
                .bind(report_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(n > 0)
    }
}
