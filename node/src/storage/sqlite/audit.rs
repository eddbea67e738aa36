//! [`AuditStore`] on SQLite: the append-only audit log (triggers in `0009_privacy.sql` refuse changes).

use std::fmt::Write as _;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, Row};

use super::rows::query_all;
use super::SqliteStore;
use crate::storage::{AuditEntry, AuditFilter, AuditStore, Result};

const COLS: &str =
    "id, at, actor_id, actor_name, actor_role, action, target_kind, target_id, detail, ip";

fn entry_from_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        actor_id: r.get(2)?,
        actor_name: r.get(3)?,
        actor_role: r.get(4)?,
        action: r.get(5)?,
        target_kind: r.get(6)?,
        target_id: r.get(7)?,
        detail: r.get(8)?,
        ip: r.get(9)?,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(audit.action = %entry.action), err(level = "debug"))]
    async fn audit_append(&self, entry: &AuditEntry) -> Result<i64> {
        let e = entry.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO audit_log (at, actor_id, actor_name, actor_role, action, target_kind, target_id, detail, ip) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    e.at, e.actor_id, e.actor_name, e.actor_role, e.action, e.target_kind, e.target_id,
                    e.detail, e.ip
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let f = filter.clone();
        self.read(move |c| {
            let mut sql = format!("SELECT {COLS} FROM audit_log WHERE 1 = 1");
            let mut args: Vec<Value> = Vec::new();
            let mut cond = |sql: &mut String, clause: &str, v: Value| {
                args.push(v);
                let _ = write!(sql, " AND {clause} ?{}", args.len());
            };
            if let Some(v) = f.actor_id {
                cond(&mut sql, "actor_id =", Value::Text(v));
            }
            if let Some(v) = f.action {
                cond(&mut sql, "action =", Value::Text(v));
            }
            if let Some(v) = f.target_id {
                cond(&mut sql, "target_id =", Value::Text(v));
            }
            if let Some(v) = f.since {
                cond(&mut sql, "at >=", Value::Integer(v));
            }
            if let Some(v) = f.until {
                cond(&mut sql, "at <", Value::Integer(v));
            }
            if let Some(v) = f.before_id {
                cond(&mut sql, "id <", Value::Integer(v));
            }
            args.push(Value::Integer(f.limit));
            let _ = write!(sql, " ORDER BY id DESC LIMIT ?{}", args.len());
            query_all(c, &sql, rusqlite::params_from_iter(args), entry_from_row)
        })
        .await
    }
}
