//! [`Open311Store`] on PostgreSQL: API keys of client apps, the GeoReport v2 request query, the updates feed.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::rows::{
    fetch_all, fetch_optional, reports_from_rows, timeline_from_row, REPORT_COLS, TIMELINE_COLS,
};
use super::PgStore;
use crate::domain::{Millis, Report, TimelineRecord};
use crate::storage::{Open311Key, Open311Store, RequestQuery, Result};

const KEY_COLS: &str = "id, key_hash, app_name, contact, created_by, created_at, revoked_at";

fn key_from_row(r: &PgRow) -> Result<Open311Key> {
    Ok(Open311Key {
        id: r.try_get(0)?,
        key_hash: r.try_get(1)?,
        app_name: r.try_get(2)?,
        contact: r.try_get(3)?,
        created_by: r.try_get(4)?,
        created_at: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
    })
}

#[async_trait]
impl Open311Store for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(key.id = %key.id), err(level = "debug"))]
    async fn open311_key_create(&self, key: &Open311Key) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO open311_keys ({KEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&key.id)
        .bind(&key.key_hash)
        .bind(&key.app_name)
        .bind(key.contact.as_deref())
        .bind(&key.created_by)
        .bind(key.created_at)
        .bind(key.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn open311_key_list(&self) -> Result<Vec<Open311Key>> {
        let sql = format!(
            "SELECT {KEY_COLS} FROM open311_keys ORDER BY created_at DESC, id COLLATE \"C\""
        );
        fetch_all(sqlx::query(&sql), &self.pool, key_from_row).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn open311_key_by_hash(&self, key_hash: &str) -> Result<Option<Open311Key>> {
        let sql = format!("SELECT {KEY_COLS} FROM open311_keys WHERE key_hash = $1");
        fetch_optional(sqlx::query(&sql).bind(key_hash), &self.pool, key_from_row).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key.id = %id), err(level = "debug"))]
    async fn open311_key_revoke(&self, id: &str, now: Millis) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE open311_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn open311_requests(&self, q: &RequestQuery) -> Result<Vec<Report>> {
        let rows = if q.tracking_codes.is_empty() {
            let statuses: Vec<String> = q.statuses.iter().map(|s| s.as_str().to_owned()).collect();
            sqlx::query(&format!(
                "SELECT {REPORT_COLS} FROM reports WHERE NOT confidential AND status <> 'archived' \
                 AND (cardinality($1::text[]) = 0 OR category_id = ANY($1)) \
                 AND (cardinality($2::text[]) = 0 OR status = ANY($2)) \
                 AND submitted_at >= $3 AND submitted_at <= $4 \
                 ORDER BY submitted_at DESC, id COLLATE \"C\" DESC LIMIT $5"
            ))
            .bind(&q.categories)
            .bind(&statuses)
            .bind(q.from)
            .bind(q.to)
            .bind(q.limit.max(0))
            .fetch_all(&self.pool)
            .await?
        } else {
            sqlx::query(&format!(
                "SELECT {REPORT_COLS} FROM reports WHERE NOT confidential AND tracking_code = ANY($1) \
                 ORDER BY submitted_at DESC, id COLLATE \"C\" DESC LIMIT $2"
            ))
            .bind(&q.tracking_codes)
            .bind(q.limit.max(0))
            .fetch_all(&self.pool)
            .await?
        };
        reports_from_rows(&rows)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn open311_updates(
        &self,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> Result<Vec<TimelineRecord>> {
        let cols = TIMELINE_COLS
            .split(", ")
            .map(|c| format!("t.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols} FROM timeline t JOIN reports r ON r.id = t.report_id \
             WHERE t.at >= $1 AND t.at <= $2 AND t.seq > 1 AND NOT r.confidential \
             ORDER BY t.at, t.report_id COLLATE \"C\", t.seq LIMIT $3"
        );
        fetch_all(
            sqlx::query(&sql).bind(from).bind(to).bind(limit.max(0)),
            &self.pool,
            timeline_from_row,
        )
        .await
    }
}
