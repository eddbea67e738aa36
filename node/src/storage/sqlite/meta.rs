//! [`MetaStore`] on SQLite: migrations, the health check, node settings and the first admin.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::accounts::insert_user;
use super::SqliteStore;
use crate::domain::UserRecord;
use crate::storage::{Conflict, MetaStore, Result};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_federation.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_attachments.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_transfers.sql"),
    ),
    (8, include_str!("../../../migrations/sqlite/0008_stats.sql")),
];

#[async_trait]
impl MetaStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn migrate(&self) -> Result<()> {
        self.write(|conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )?;
            let done: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
            for (version, sql) in MIGRATIONS {
                if *version > done {
                    conn.execute_batch(sql)?;
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                        params![version, chrono::Utc::now().timestamp_millis()],
                    )?;
                }
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ping(&self) -> Result<()> {
        self.read(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(meta.key = %key), err(level = "debug"))]
    async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.read(move |c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(meta.key = %key), err(level = "debug"))]
    async fn meta_put(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn bootstrap_admin(&self, secret_hash: &str, admin: &UserRecord) -> Result<()> {
        let (hash, admin) = (secret_hash.to_owned(), admin.clone());
        self.write(move |c| {
            let n = c.execute(
                "DELETE FROM meta WHERE key = 'bootstrap_secret_sha256' AND value = ?1",
                [hash],
            )?;
            if n != 1 {
                return Err(Conflict::BootstrapSecret.into());
            }
            insert_user(c, &admin)
        })
        .await
    }
}
