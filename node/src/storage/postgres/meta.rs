//! [`MetaStore`] on PostgreSQL: migrations, the health check, node settings and the first admin.

use async_trait::async_trait;

use super::accounts::insert_user;
use super::PgStore;
use crate::domain::UserRecord;
use crate::storage::{Conflict, MetaStore, Result, StorageError};

#[async_trait]
impl MetaStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StorageError::Backend(format!("migration failed: {e}")))
    }

    fn set_identity_cipher(&self, cipher: std::sync::Arc<dyn crate::storage::IdentityCipher>) {
        self.identities.set(cipher);
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn identities_seal_plaintext(&self) -> Result<u64> {
        use sqlx::Row;

        use crate::storage::identity::CipherSlot;
        if !self.identities.is_set() {
            return Ok(0);
        }
        let rows = sqlx::query("SELECT report_id, name, phone, email FROM reporter_identities")
            .fetch_all(&self.pool)
            .await?;
        let mut n = 0;
        let mut tx = self.pool.begin().await?;
        for r in &rows {
            let report_id: String = r.try_get(0)?;
            let id = crate::domain::ReporterIdentity {
                name: r.try_get(1)?,
                phone: r.try_get(2)?,
                email: r.try_get(3)?,
            };
            if !CipherSlot::needs_sealing(&id) {
                continue;
            }
            let s = self.identities.seal(&report_id, &id)?;
            sqlx::query(
                "UPDATE reporter_identities SET name = $2, phone = $3, email = $4 WHERE report_id = $1",
            )
            .bind(&report_id)
            .bind(s.name.as_deref())
            .bind(s.phone.as_deref())
            .bind(s.email.as_deref())
            .execute(&mut *tx)
            .await?;
            n += 1;
        }
        tx.commit().await?;
        if n > 0 {
            // The plain versions of the rows stay in the table's pages until it is rewritten.
            sqlx::query("VACUUM FULL reporter_identities")
                .execute(&self.pool)
                .await?;
        }
        Ok(n)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(meta.key = %key), err(level = "debug"))]
    async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(meta.key = %key), err(level = "debug"))]
    async fn meta_put(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn bootstrap_admin(&self, secret_hash: &str, admin: &UserRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let n =
            sqlx::query("DELETE FROM meta WHERE key = 'bootstrap_secret_sha256' AND value = $1")
                .bind(secret_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n != 1 {
            return Err(Conflict::BootstrapSecret.into());
        }
        insert_user(&mut tx, admin).await?;
        tx.commit().await?;
        Ok(())
    }
}
