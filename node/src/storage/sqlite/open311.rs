//! [`Open311Store`] on SQLite: API keys of client apps, the GeoReport v2 request query, the updates feed.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Row};

use super::rows::{query_all, report_from_row, timeline_from_row, REPORT_COLS};
use super::SqliteStore;
use crate::domain::{Millis, Report, TimelineRecord};
use crate::storage::{Open311Key, Open311Store, RequestQuery, Result};

const KEY_COLS: &str = "id, key_hash, app_name, contact, created_by, created_at, revoked_at";

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<Open311Key> {
    Ok(Open311Key {
        id: r.get(0)?,
        key_hash: r.get(1)?,
        app_name: r.get(2)?,
        contact: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[async_trait]
impl Open311Store for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(key.id = %key.id), err(level = "debug"))]
    async fn open311_key_create(&self, key: &Open311Key) -> Result<()> {
        let k = key.clone();
        self.write(move |c| {
            c.execute(
                &format!(
                    "INSERT INTO open311_keys ({KEY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    k.id,
                    k.key_hash,
                    k.app_name,
                    k.contact,
                    k.created_by,
                    k.created_at,
                    k.revoked_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn open311_key_list(&self) -> Result<Vec<Open311Key>> {
        self.read(|c| {
            query_all(
                c,
                &format!("SELECT {KEY_COLS} FROM open311_keys ORDER BY created_at DESC, id"),
                [],
                key_from_row,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn open311_key_by_hash(&self, key_hash: &str) -> Result<Option<Open311Key>> {
        let h = key_hash.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {KEY_COLS} FROM open311_keys WHERE key_hash = ?1"),
                [h],
                key_from_row,
            )
            .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key.id = %id), err(level = "debug"))]
    async fn open311_key_revoke(&self, id: &str, now: Millis) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE open311_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn open311_requests(&self, q: &RequestQuery) -> Result<Vec<Report>> {
        let q = q.clone();
        self.read(move |c| {
            let mut values: Vec<Value> = Vec::new();
            let mut clauses = vec!["confidential = 0".to_owned()];
            if q.tracking_codes.is_empty() {
                clauses.push("status <> 'archived'".into());
                if !q.categories.is_empty() {
                    clauses.push(format!("category_id IN ({})", marks(q.categories.len())));
                    values.extend(q.categories.iter().cloned().map(Value::Text));
                }
                if !q.statuses.is_empty() {
                    clauses.push(format!("status IN ({})", marks(q.statuses.len())));
                    values.extend(q.statuses.iter().map(|s| Value::Text(s.as_str().into())));
                }
                clauses.push("submitted_at >= ? AND submitted_at <= ?".into());
                values.push(Value::Integer(q.from));
                values.push(Value::Integer(q.to));
            } else {
                clauses.push(format!(
                    "tracking_code IN ({})",
                    marks(q.tracking_codes.len())
                ));
                values.extend(q.tracking_codes.iter().cloned().map(Value::Text));
            }
            values.push(Value::Integer(q.limit));
            query_all(
                c,
                &format!(
                    "SELECT {REPORT_COLS} FROM reports WHERE {} ORDER BY submitted_at DESC, id DESC LIMIT ?",
                    clauses.join(" AND ")
                ),
                rusqlite::params_from_iter(values.iter()),
                report_from_row,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn open311_updates(
        &self,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> Result<Vec<TimelineRecord>> {
        self.read(move |c| {
            query_all(
                c,
                "SELECT t.report_id, t.seq, t.at, t.action, t.actor_role, t.actor_id, t.actor_name, t.agency_id, \
                 t.from_status, t.to_status, t.note FROM timeline t JOIN reports r ON r.id = t.report_id \
                 WHERE t.at >= ?1 AND t.at <= ?2 AND t.seq > 1 AND r.confidential = 0 \
                 ORDER BY t.at, t.report_id, t.seq LIMIT ?3",
                params![from, to, limit],
                timeline_from_row,
            )
        })
        .await
    }
}
