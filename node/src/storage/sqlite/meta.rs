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
    (
        5,
        include_str!("../../../migrations/sqlite/0005_open311.sql"),
    ),
    (6, include_str!("../../../migrations/sqlite/0006_sms.sql")),
    (
        7,
        include_str!("../../../migrations/sqlite/0007_notifications.sql"),
    ),
    (8, include_str!("../../../migrations/sqlite/0008_stats.sql")),
    (
        9,
        include_str!("../../../migrations/sqlite/0009_privacy.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/sqlite/0010_agency_namespace.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/sqlite/0011_identity.sql"),
    ),
    (
        12,
        include_str!("../../../migrations/sqlite/0012_leases.sql"),
    ),
    (
        13,
        include_str!("../../../migrations/sqlite/0013_stats_aggregates.sql"),
    ),
    (
        15,
        include_str!("../../../migrations/sqlite/0015_read_indexes.sql"),
    ),
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
            // Every migration not applied yet, whatever its number (branches merged later may add lower ones).
            let done: std::collections::HashSet<i64> = {
                let mut stmt = conn.prepare("SELECT version FROM schema_migrations")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for (version, sql) in MIGRATIONS {
                if !done.contains(version) {
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

    fn set_identity_cipher(&self, cipher: std::sync::Arc<dyn crate::storage::IdentityCipher>) {
        self.identities.set(cipher);
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn identities_seal_plaintext(&self) -> Result<u64> {
        use crate::storage::identity::CipherSlot;
        if !self.identities.is_set() {
            return Ok(0);
        }
        let plain = self
            .read(|c| {
                super::rows::query_all(
                    c,
                    "SELECT report_id, name, phone, email FROM reporter_identities",
                    [],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            crate::domain::ReporterIdentity {
                                name: r.get(1)?,
                                phone: r.get(2)?,
                                email: r.get(3)?,
                            },
                        ))
                    },
                )
            })
            .await?;
        let mut sealed = Vec::new();
        for (report_id, id) in plain
            .into_iter()
            .filter(|(_, i)| CipherSlot::needs_sealing(i))
        {
            let s = self.identities.seal(&report_id, &id)?;
            sealed.push((report_id, s));
        }
        let n = sealed.len() as u64;
        if n > 0 {
            self.write(move |c| {
                for (report_id, id) in &sealed {
                    c.execute(
                        "UPDATE reporter_identities SET name = ?2, phone = ?3, email = ?4 WHERE report_id = ?1",
                        params![report_id, id.name, id.phone, id.email],
                    )?;
                }
                Ok(())
            })
            .await?;
            self.checkpoint().await;
        }
        Ok(n)
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
