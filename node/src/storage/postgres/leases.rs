//! [`LeaseStore`] on PostgreSQL: one statement per take or renewal, timed by the database's clock
//! (`clock_timestamp()`), so the processes of a hub agree on expiry whatever their own clocks say.

use async_trait::async_trait;
use sqlx::Row as _;

use super::PgStore;
use crate::storage::{LeaseStore, Result};

/// The database's clock in milliseconds.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

#[async_trait]
impl LeaseStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(lease.name = %name), err(level = "debug"))]
    async fn lease_acquire(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool> {
        let sql = format!(
            "INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES ($1, $2, {NOW_MS} + $3, {NOW_MS}) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at, \
             acquired_at = CASE WHEN leases.holder = EXCLUDED.holder THEN leases.acquired_at \
             ELSE EXCLUDED.acquired_at END \
             WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < {NOW_MS}"
        );
        let n = sqlx::query(&sql)
            .bind(name)
            .bind(holder)
            .bind(ttl_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(lease.name = %name), err(level = "debug"))]
    async fn lease_release(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn lease_list(&self) -> Result<Vec<(String, String, i64)>> {
        let rows =
            sqlx::query("SELECT name, holder, expires_at FROM leases ORDER BY name COLLATE \"C\"")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}
