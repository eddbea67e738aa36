//! [`AccountStore`] on SQLite: users and sessions.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{query_all, user_from_row, USER_COLS};
use super::SqliteStore;
use crate::domain::{Millis, SessionRecord, UserRecord};
use crate::storage::{AccountStore, Result, StorageError};

#[async_trait]
impl AccountStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(user.id = %user.id), err(level = "debug"))]
    async fn user_create(&self, user: &UserRecord) -> Result<()> {
        let user = user.clone();
        self.write(move |c| insert_user(c, &user)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user.id = %u.id), err(level = "debug"))]
    async fn user_update(&self, u: &UserRecord) -> Result<()> {
        let u = u.clone();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE users SET display_name = ?2, password_hash = ?3, active = ?4, email = ?5, phone = ?6, \
                 notices_off = ?7 WHERE id = ?1",
                params![
                    u.id,
                    u.display_name,
                    u.password_hash,
                    u.active,
                    u.email,
                    u.phone,
                    u.notices_off
                ],
            )?;
            if n == 0 {
                return Err(StorageError::NotFound);
            }
            if !u.active {
                c.execute("DELETE FROM sessions WHERE user_id = ?1", [&u.id])?;
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user.id = %id), err(level = "debug"))]
    async fn user_get(&self, id: &str) -> Result<Option<UserRecord>> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
                [id],
                |r| user_from_row(r, 0),
            )
            .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let name = username.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE username = ?1"),
                [name],
                |r| user_from_row(r, 0),
            )
            .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user_list(&self) -> Result<Vec<UserRecord>> {
        self.read(|c| {
            query_all(
                c,
                &format!("SELECT {USER_COLS} FROM users ORDER BY username"),
                [],
                |r| user_from_row(r, 0),
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user_count(&self) -> Result<i64> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?))
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn session_create(&self, s: &SessionRecord) -> Result<()> {
        let s = s.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user_id, kind, label, created_at, expires_at, last_seen_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    s.token_hash,
                    s.user_id,
                    s.kind,
                    s.label,
                    s.created_at,
                    s.expires_at,
                    s.last_seen_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn session_lookup(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<(SessionRecord, UserRecord)>> {
        let hash = token_hash.to_owned();
        self.read(move |c| {
            let sql =
                format!(
                "SELECT s.token_hash, s.user_id, s.kind, s.label, s.created_at, s.expires_at, s.last_seen_at, {} \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.active = 1",
                USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
            );
            Ok(c.query_row(&sql, params![hash, now], |r| {
                Ok((
                    SessionRecord {
                        token_hash: r.get(0)?,
                        user_id: r.get(1)?,
                        kind: r.get(2)?,
                        label: r.get(3)?,
                        created_at: r.get(4)?,
                        expires_at: r.get(5)?,
                        last_seen_at: r.get(6)?,
                    },
                    user_from_row(r, 7)?,
                ))
            })
            .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn session_delete(&self, token_hash: &str) -> Result<()> {
        let hash = token_hash.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn session_touch(&self, token_hash: &str, now: Millis) -> Result<()> {
        let hash = token_hash.to_owned();
        self.write(move |c| {
            c.execute(
                "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1 AND last_seen_at < ?2",
                params![hash, now],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user.id = %user_id), err(level = "debug"))]
    async fn sessions_end_for_user(&self, user_id: &str, keep: Option<&str>) -> Result<u64> {
        let (user, keep) = (user_id.to_owned(), keep.unwrap_or("").to_owned());
        self.write(move |c| {
            let n = c.execute(
                "DELETE FROM sessions WHERE user_id = ?1 AND token_hash <> ?2",
                params![user, keep],
            )?;
            Ok(n as u64)
        })
        .await
    }
}

pub(super) fn insert_user(c: &Connection, u: &UserRecord) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO users ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        params![
            u.id,
            u.username,
            u.password_hash,
            u.display_name,
            u.role.as_str(),
            u.agency_id,
            u.active,
            u.created_at,
            u.email,
            u.phone,
            u.notices_off
        ],
    )?;
    Ok(())
}
