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
