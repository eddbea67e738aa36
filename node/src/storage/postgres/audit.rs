//! [`AuditStore`] on PostgreSQL: the append-only audit log (triggers in `0009_privacy.sql` refuse changes).

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::PgStore;
use crate::storage::{AuditEntry, AuditFilter, AuditStore, Result};

const COLS: &str =
    "id, at, actor_id, actor_name, actor_role, action, target_kind, target_id, detail, ip";

fn entry_from_row(r: &PgRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.try_get(0)?,
        at: r.try_get(1)?,
        actor_id: r.try_get(2)?,
        actor_name: r.try_get(3)?,
        actor_role: r.try_get(4)?,
        action: r.try_get(5)?,
        target_kind: r.try_get(6)?,
        target_id: r.try_get(7)?,
        detail: r.try_get(8)?,
        ip: r.try_get(9)?,
    })
}

#[async_trait]
impl AuditStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(audit.action = %e.action), err(level = "debug"))]
    async fn audit_append(&self, e: &AuditEntry) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO audit_log (at, actor_id, actor_name, actor_role, action, target_kind, target_id, detail, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(e.at)
        .bind(&e.actor_id)
        .bind(&e.actor_name)
        .bind(&e.actor_role)
        .bind(&e.action)
        .bind(&e.target_kind)
        .bind(&e.target_id)
        .bind(&e.detail)
        .bind(&e.ip)
        .fetch_one(&self.pool)
        .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        // Every condition is always present and switched off by a NULL, so the statement is one fixed text.
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM audit_log \
             WHERE ($1::TEXT IS NULL OR actor_id = $1) AND ($2::TEXT IS NULL OR action = $2) \
             AND ($3::TEXT IS NULL OR target_id = $3) AND ($4::BIGINT IS NULL OR at >= $4) \
             AND ($5::BIGINT IS NULL OR at < $5) AND ($6::BIGINT IS NULL OR id < $6) \
             ORDER BY id DESC LIMIT $7"
        ))
        .bind(&f.actor_id)
        .bind(&f.action)
        .bind(&f.target_id)
        .bind(f.since)
        .bind(f.until)
        .bind(f.before_id)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }
}
