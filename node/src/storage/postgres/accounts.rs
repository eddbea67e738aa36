//! [`AccountStore`] on PostgreSQL: users and sessions.

use async_trait::async_trait;
use sqlx::Row;

use super::rows::{fetch_all, fetch_optional, user_from_row, USER_COLS};
use super::PgStore;
use crate::domain::{Millis, SessionRecord, UserRecord};
use crate::storage::{AccountStore, Result, StorageError};

#[async_trait]
impl AccountStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(user.id = %user.id), err(level = "debug"))]
    async fn user_create(&self, user: &UserRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_user(&mut conn, user).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user.id = %u.id), err(level = "debug"))]
    async fn user_update(&self, u: &UserRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE users SET display_name = $2, password_hash = $3, active = $4, email = $5, phone = $6, \
             notices_off = $7 WHERE id = $1",
        )
        .bind(&u.id)
        .bind(&u.display_name)
        .bind(&u.password_hash)
        .bind(u.active)
        .bind(u.email.as_deref())
        .bind(u.phone.as_deref())
        .bind(u.notices_off)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StorageError::NotFound);
        }
        if !u.active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(&u.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user.id = %id), err(level = "debug"))]
    async fn user_get(&self, id: &str) -> Result<Option<UserRecord>> {
        fetch_optional(
            sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1")).bind(id),
            &self.pool,
            |r| user_from_row(r, 0),
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        fetch_optional(
            sqlx::query(&format!(
                "SELECT {USER_COLS} FROM users WHERE username = $1"
            ))
            .bind(username),
            &self.pool,
            |r| user_from_row(r, 0),
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user_list(&self) -> Result<Vec<UserRecord>> {
        fetch_all(
            sqlx::query(&format!(
                "SELECT {USER_COLS} FROM users ORDER BY username COLLATE \"C\""
            )),
            &self.pool,
            |r| user_from_row(r, 0),
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn session_create(&self, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, kind, label, created_at, expires_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.token_hash)
        .bind(&s.user_id)
        .bind(&s.kind)
        .bind(s.label.as_deref())
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.last_seen_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn session_lookup(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<(SessionRecord, UserRecord)>> {
        let sql = format!(
            "SELECT s.token_hash, s.user_id, s.kind, s.label, s.created_at, s.expires_at, s.last_seen_at, {} \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active",
            USER_COLS
                .split(", ")
                .map(|c| format!("u.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let Some(r) = sqlx::query(&sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let session = SessionRecord {
            token_hash: r.try_get(0)?,
            user_id: r.try_get(1)?,
            kind: r.try_get(2)?,
            label: r.try_get(3)?,
            created_at: r.try_get(4)?,
            expires_at: r.try_get(5)?,
            last_seen_at: r.try_get(6)?,
        };
        Ok(Some((session, user_from_row(&r, 7)?)))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn session_delete(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn session_touch(&self, token_hash: &str, now: Millis) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $2",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user.id = %user_id), err(level = "debug"))]
    async fn sessions_end_for_user(&self, user_id: &str, keep: Option<&str>) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user_id)
                .bind(keep.unwrap_or(""))
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}

pub(super) async fn insert_user(conn: &mut sqlx::PgConnection, u: &UserRecord) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&u.id)
    .bind(&u.username)
    .bind(&u.password_hash)
    .bind(&u.display_name)
    .bind(u.role.as_str())
    .bind(u.agency_id.as_deref())
    .bind(u.active)
    .bind(u.created_at)
    .bind(u.email.as_deref())
    .bind(u.phone.as_deref())
    .bind(u.notices_off)
    .execute(conn)
    .await?;
    Ok(())
}
