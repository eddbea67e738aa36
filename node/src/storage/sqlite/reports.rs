//! [`ReportStore`] on SQLite: reports, their timelines, filters, counts and attachments.

use async_trait::async_trait;
use lapor_schemas::api::Count;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};

use super::events::author_event;
use super::rows::{
    attachment_from_row, identity_from_row, query_all, report_from_row, report_values,
    timeline_from_row, REPORT_COLS,
};
use super::{append_timeline, SqliteStore};
use crate::domain::{
    AttachmentRecord, Millis, Report, ReportFilter, ReportOrder, ReporterIdentity, TimelineRecord,
    Transition,
};
use crate::storage::{
    search_tokens, Conflict, EventDraft, ReportBundle, ReportKey, ReportStore, Result, StatsRow,
};

#[async_trait]
impl ReportStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report.id), err(level = "debug"))]
    async fn report_insert(
        &self,
        report: &Report,
        identity: Option<&ReporterIdentity>,
        entry: &TimelineRecord,
        event: Option<&EventDraft>,
    ) -> Result<()> {
        let identity = identity
            .filter(|i| !i.is_empty())
            .map(|i| self.identities.seal(&report.id, i))
            .transpose()?;
        let (report, entry) = (report.clone(), entry.clone());
        let event = event.cloned();
        self.write(move |c| {
            let marks = (1..=37).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
            c.execute(
                &format!("INSERT INTO reports ({REPORT_COLS}) VALUES ({marks})"),
                rusqlite::params_from_iter(report_values(&report)),
            )?;
            if let Some(id) = identity {
                c.execute(
                    "INSERT INTO reporter_identities (report_id, name, phone, email) VALUES (?1, ?2, ?3, ?4)",
                    params![report.id, id.name, id.phone, id.email],
                )?;
            }
            append_timeline(c, &entry)?;
            if let Some(draft) = &event {
                author_event(c, draft)?;
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %id), err(level = "debug"))]
    async fn report_get(&self, id: &str) -> Result<Option<Report>> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(
                c.prepare_cached(&format!("SELECT {REPORT_COLS} FROM reports WHERE id = ?1"))?
                    .query_row([id], report_from_row)
                    .optional()?,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_by_tracking_code(&self, code: &str) -> Result<Option<Report>> {
        let code = code.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {REPORT_COLS} FROM reports WHERE tracking_code = ?1"
            ))?
            .query_row([code], report_from_row)
            .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %id), err(level = "debug"))]
    async fn report_identity(&self, id: &str) -> Result<Option<ReporterIdentity>> {
        let report_id = id.to_owned();
        let stored = self
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT name, phone, email FROM reporter_identities WHERE report_id = ?1",
                    [report_id],
                    identity_from_row,
                )
                .optional()?)
            })
            .await?;
        stored.map(|i| self.identities.open(id, i)).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %id), err(level = "debug"))]
    async fn report_timeline(&self, id: &str) -> Result<Vec<TimelineRecord>> {
        let id = id.to_owned();
        self.read(move |c| {
            query_all(c, "SELECT report_id, seq, at, action, actor_role, actor_id, actor_name, agency_id, from_status, \
                 to_status, note FROM timeline WHERE report_id = ?1 ORDER BY seq", [id], timeline_from_row)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_bundle(&self, key: &ReportKey) -> Result<Option<ReportBundle>> {
        let key = key.clone();
        self.read(move |c| super::bundle::read(c, &key)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %t.report.id), err(level = "debug"))]
    async fn report_transition(&self, t: &Transition, event: Option<&EventDraft>) -> Result<()> {
        let t = t.clone();
        let event = event.cloned();
        self.write(move |c| {
            let sets = REPORT_COLS
                .split(", ")
                .enumerate()
                .skip(1)
                .map(|(i, col)| format!("{col} = ?{}", i + 1))
                .collect::<Vec<_>>()
                .join(", ");
            let mut values = report_values(&t.report);
            values.push(Value::Integer(t.report.version - 1));
            let n = c.execute(
                &format!("UPDATE reports SET {sets} WHERE id = ?1 AND version = ?38"),
                rusqlite::params_from_iter(values),
            )?;
            if n == 0 {
                return Err(Conflict::ReportChanged.into());
            }
            if t.erase_identity {
                c.execute(
                    "DELETE FROM reporter_identities WHERE report_id = ?1",
                    [&t.report.id],
                )?;
                // The sealed copy goes too; the events that reference it by hash stay valid.
                c.execute("DELETE FROM blobs WHERE report_id = ?1", [&t.report.id])?;
            }
            append_timeline(c, &t.entry)?;
            if let Some(draft) = &event {
                author_event(c, draft)?;
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_list(&self, f: &ReportFilter) -> Result<(Vec<Report>, i64)> {
        let f = f.clone();
        self.read(move |c| {
            let (where_sql, values) = filter_sql(&f);
            let total: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM reports{where_sql}"),
                rusqlite::params_from_iter(values.iter()),
                |r| r.get(0),
            )?;
            let order = match f.order {
                ReportOrder::Newest => "submitted_at DESC, id DESC",
                ReportOrder::Deadline => {
                    "CASE status WHEN 'submitted' THEN verification_due_at \
                     WHEN 'verified' THEN followup_due_at WHEN 'in_progress' THEN followup_due_at \
                     WHEN 'responded' THEN autocomplete_at END IS NULL, \
                     CASE status WHEN 'submitted' THEN verification_due_at \
                     WHEN 'verified' THEN followup_due_at WHEN 'in_progress' THEN followup_due_at \
                     WHEN 'responded' THEN autocomplete_at END ASC, submitted_at ASC"
                }
            };
            let mut all = values;
            all.push(Value::Integer(f.limit));
            all.push(Value::Integer(f.offset));
            let mut stmt = c.prepare(&format!(
                "SELECT {REPORT_COLS} FROM reports{where_sql} ORDER BY {order} LIMIT ? OFFSET ?"
            ))?;
            let rows = stmt.query_map(rusqlite::params_from_iter(all.iter()), report_from_row)?;
            Ok((rows.collect::<rusqlite::Result<Vec<_>>>()?, total))
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_due(&self, now: Millis, limit: i64) -> Result<Vec<Report>> {
        self.read(move |c| {
            query_all(c, &format!(
                "SELECT {REPORT_COLS} FROM reports WHERE \
                 (status = 'submitted' AND verification_overdue = 0 AND verification_due_at < ?1) OR \
                 (status IN ('verified', 'in_progress') AND followup_overdue = 0 AND followup_due_at < ?1) OR \
                 (status = 'responded' AND autocomplete_at < ?1) OR \
                 (escalated = 0 AND status NOT IN ('completed', 'archived') AND escalation_at <= ?1) \
                 LIMIT ?2"
            ), params![now, limit], report_from_row)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_stats(&self, f: &ReportFilter) -> Result<StatsRow> {
        let f = f.clone();
        self.read(move |c| {
            let (where_sql, values) = filter_sql(&f);
            let params = rusqlite::params_from_iter(values.iter());
            let (total, overdue, escalated): (i64, i64, i64) = c.query_row(
                &format!(
                    "SELECT COUNT(*), \
                     COALESCE(SUM(CASE WHEN (status = 'submitted' AND verification_overdue = 1) OR \
                       (status IN ('verified', 'in_progress') AND followup_overdue = 1) THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(escalated), 0) FROM reports{where_sql}"
                ),
                params,
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let by_status = counts(
                c,
                &format!("SELECT status, COUNT(*) FROM reports{where_sql} GROUP BY status ORDER BY status"),
                &values,
            )?;
            let by_category = counts(
                c,
                &format!(
                    "SELECT COALESCE(category_id, 'none'), COUNT(*) FROM reports{where_sql} \
                     GROUP BY COALESCE(category_id, 'none') ORDER BY 1"
                ),
                &values,
            )?;
            Ok(StatsRow {
                total,
                by_status,
                by_category,
                overdue,
                escalated,
            })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %a.report_id), err(level = "debug"))]
    async fn attachment_add(&self, a: &AttachmentRecord) -> Result<()> {
        let a = a.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO attachments (report_id, sha256, media_type, size_bytes, file_name, added_by, added_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (report_id, sha256) DO NOTHING",
                params![
                    a.report_id,
                    a.sha256,
                    a.media_type,
                    a.size_bytes,
                    a.file_name,
                    a.added_by,
                    a.added_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn attachment_list(&self, report_id: &str) -> Result<Vec<AttachmentRecord>> {
        let id = report_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT report_id, sha256, media_type, size_bytes, file_name, added_by, added_at \
                 FROM attachments WHERE report_id = ?1 ORDER BY added_at, sha256",
            )?;
            let rows = stmt.query_map(params![id], attachment_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}

/// Builds the WHERE clause of a report filter (paging and order excluded).
fn filter_sql(f: &ReportFilter) -> (String, Vec<Value>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if !f.statuses.is_empty() {
        let marks = vec!["?"; f.statuses.len()].join(", ");
        clauses.push(format!("status IN ({marks})"));
        values.extend(f.statuses.iter().map(|s| Value::Text(s.as_str().into())));
    }
    if let Some(k) = f.kind {
        clauses.push("kind = ?".into());
        values.push(Value::Text(k.as_str().into()));
    }
    if let Some(c) = &f.category {
        clauses.push("category_id = ?".into());
        values.push(Value::Text(c.clone()));
    }
    if let Some(a) = &f.agency_id {
        clauses.push("agency_id = ?".into());
        values.push(Value::Text(a.clone()));
    }
    if let Some(p) = &f.agency_path_prefix {
        clauses.push("substr(agency_path, 1, length(?)) = ?".into());
        values.push(Value::Text(p.clone()));
        values.push(Value::Text(p.clone()));
    }
    if let Some(r) = &f.region_prefix {
        clauses
            .push("(region_code = ? OR substr(region_code, 1, length(?) + 1) = ? || '.')".into());
        values.extend([
            Value::Text(r.clone()),
            Value::Text(r.clone()),
            Value::Text(r.clone()),
        ]);
    }
    if let Some(owner) = &f.owned_by {
        clauses.push(
            "NOT EXISTS (SELECT 1 FROM report_owner o WHERE o.report_id = reports.id AND o.owner <> ?)".into(),
        );
        values.push(Value::Text(owner.clone()));
    }
    if f.public_only {
        clauses.push("confidential = 0 AND status <> 'archived'".into());
    }
    if f.overdue_only {
        clauses.push(
            "((status = 'submitted' AND verification_overdue = 1) OR \
             (status IN ('verified', 'in_progress') AND followup_overdue = 1))"
                .into(),
        );
    }
    if f.escalated_only {
        clauses.push("escalated = 1".into());
    }
    if let Some(u) = &f.reporter_user_id {
        clauses.push("reporter_user_id = ?".into());
        values.push(Value::Text(u.clone()));
    }
    if let Some(q) = &f.query {
        let tokens = search_tokens(q);
        if tokens.is_empty() {
            clauses.push("0".into());
        } else {
            let expr = tokens
                .iter()
                .map(|t| format!("\"{t}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            clauses
                .push("rowid IN (SELECT rowid FROM reports_fts WHERE reports_fts MATCH ?)".into());
            values.push(Value::Text(expr));
        }
    }
    if clauses.is_empty() {
        (String::new(), values)
    } else {
        (format!(" WHERE {}", clauses.join(" AND ")), values)
    }
}

fn counts(conn: &Connection, sql: &str, values: &[Value]) -> Result<Vec<Count>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
        Ok(Count {
            key: r.get(0)?,
            count: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
