//! [`LeaseStore`] on SQLite. One process uses an SQLite node (the data directory's lock), so the node never
//! asks (`crate::leases` holds every lease at once); the table and these methods keep the contract the same
//! on both backends, and the conformance suite checks them.

use async_trait::async_trait;
use rusqlite::params;

use super::rows::query_all;
use super::SqliteStore;
use crate::storage::{LeaseStore, Result};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[async_trait]
impl LeaseStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(lease.name = %name), err(level = "debug"))]
    async fn lease_acquire(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |c| {
            let now = now_ms();
            let n = c.execute(
                "INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
                 acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at \
                 ELSE excluded.acquired_at END \
                 WHERE leases.holder = excluded.holder OR leases.expires_at < ?4",
                params![name, holder, now + ttl_ms, now],
            )?;
            Ok(n > 0)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(lease.name = %name), err(level = "debug"))]
    async fn lease_release(&self, name: &str, holder: &str) -> Result<()> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |c| {
            c.execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![name, holder],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn lease_list(&self) -> Result<Vec<(String, String, i64)>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT name, holder, expires_at FROM leases ORDER BY name",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .await
    }
}
