//! [`ReportStore`] on PostgreSQL: reports, their timelines, filters, counts and attachments.

use async_trait::async_trait;
use lapor_schemas::api::Count;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryScalar;
use sqlx::{Postgres, Row};

use super::events::author_event;
use super::rows::{
    attachment_from_row, bind_report, fetch_all, fetch_optional, identity_from_row,
    report_from_row, reports_from_rows, timeline_from_row, PgQuery, REPORT_COLS, REPORT_NCOLS,
    TIMELINE_COLS,
};
use super::{append_timeline, sql_limit, PgStore};
use crate::domain::{
    AttachmentRecord, Millis, Report, ReportFilter, ReportOrder, ReporterIdentity, TimelineRecord,
    Transition,
};
use crate::storage::{
    search_tokens, Conflict, EventDraft, ReportBundle, ReportKey, ReportStore, Result, StatsRow,
};

/// The deadline that applies in a report's current status, as SQL (see [`Report::current_due`]).
const CURRENT_DUE: &str = "CASE status WHEN 'submitted' THEN verification_due_at \
     WHEN 'verified' THEN followup_due_at WHEN 'in_progress' THEN followup_due_at \
     WHEN 'responded' THEN autocomplete_at END";

impl PgStore {
    async fn counts(&self, sql: &str, values: &[String]) -> Result<Vec<Count>> {
        let rows = bind_all(sqlx::query(sql), values)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Count {
                    key: r.try_get(0)?,
                    count: r.try_get(1)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl ReportStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report.id), err(level = "debug"))]
    async fn report_insert(
        &self,
        report: &Report,
        identity: Option<&ReporterIdentity>,
        entry: &TimelineRecord,
        event: Option<&EventDraft>,
    ) -> Result<()> {
        let marks = (1..=REPORT_NCOLS)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO reports ({REPORT_COLS}) VALUES ({marks})");
        let mut tx = self.pool.begin().await?;
        bind_report(sqlx::query(&sql), report)
            .execute(&mut *tx)
            .await?;
        let identity = identity
            .filter(|i| !i.is_empty())
            .map(|i| self.identities.seal(&report.id, i))
            .transpose()?;
        if let Some(id) = identity {
            sqlx::query("INSERT INTO reporter_identities (report_id, name, phone, email) VALUES ($1, $2, $3, $4)")
                .bind(&report.id)
                .bind(id.name.as_deref())
                .bind(id.phone.as_deref())
                .bind(id.email.as_deref())
                .execute(&mut *tx)
                .await?;
        }
        append_timeline(&mut tx, entry).await?;
        if let Some(draft) = event {
            author_event(&mut tx, draft).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %id), err(level = "debug"))]
    async fn report_get(&self, id: &str) -> Result<Option<Report>> {
        fetch_optional(
            sqlx::query(&format!("SELECT {REPORT_COLS} FROM reports WHERE id = $1")).bind(id),
            &self.pool,
            report_from_row,
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_by_tracking_code(&self, code: &str) -> Result<Option<Report>> {
        fetch_optional(
            sqlx::query(&format!(
                "SELECT {REPORT_COLS} FROM reports WHERE tracking_code = $1"
            ))
            .bind(code),
            &self.pool,
            report_from_row,
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %id), err(level = "debug"))]
    async fn report_identity(&self, id: &str) -> Result<Option<ReporterIdentity>> {
        let stored = fetch_optional(
            sqlx::query("SELECT name, phone, email FROM reporter_identities WHERE report_id = $1")
                .bind(id),
            &self.pool,
            identity_from_row,
        )
        .await?;
        stored.map(|i| self.identities.open(id, i)).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %id), err(level = "debug"))]
    async fn report_timeline(&self, id: &str) -> Result<Vec<TimelineRecord>> {
        fetch_all(
            sqlx::query(&format!(
                "SELECT {TIMELINE_COLS} FROM timeline WHERE report_id = $1 ORDER BY seq"
            ))
            .bind(id),
            &self.pool,
            timeline_from_row,
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_bundle(&self, key: &ReportKey) -> Result<Option<ReportBundle>> {
        self.bundle(key).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %t.report.id), err(level = "debug"))]
    async fn report_transition(&self, t: &Transition, event: Option<&EventDraft>) -> Result<()> {
        let sets = REPORT_COLS
            .split(", ")
            .enumerate()
            .skip(1)
            .map(|(i, col)| format!("{col} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE reports SET {sets} WHERE id = $1 AND version = ${}",
            REPORT_NCOLS + 1
        );
        let mut tx = self.pool.begin().await?;
        // The UPDATE locks the row: a competing transition waits, then finds the version moved and changes nothing.
        let n = bind_report(sqlx::query(&sql), &t.report)
            .bind(t.report.version - 1)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Conflict::ReportChanged.into());
        }
        if t.erase_identity {
            sqlx::query("DELETE FROM reporter_identities WHERE report_id = $1")
                .bind(&t.report.id)
                .execute(&mut *tx)
                .await?;
            // The sealed copy goes too; the events that reference it by hash stay valid.
            sqlx::query("DELETE FROM blobs WHERE report_id = $1")
                .bind(&t.report.id)
                .execute(&mut *tx)
                .await?;
        }
        append_timeline(&mut tx, &t.entry).await?;
        if let Some(draft) = event {
            author_event(&mut tx, draft).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_list(&self, f: &ReportFilter) -> Result<(Vec<Report>, i64)> {
        let (where_sql, values) = filter_sql(f);
        let total: i64 = bind_all_scalar(
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM reports{where_sql}")),
            &values,
        )
        .fetch_one(&self.pool)
        .await?;
        let order = match f.order {
            ReportOrder::Newest => "submitted_at DESC, id COLLATE \"C\" DESC".to_owned(),
            ReportOrder::Deadline => {
                format!("({CURRENT_DUE}) ASC NULLS LAST, submitted_at ASC, id COLLATE \"C\" ASC")
            }
        };
        let n = values.len();
        let sql = format!(
            "SELECT {REPORT_COLS} FROM reports{where_sql} ORDER BY {order} LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows = bind_all(sqlx::query(&sql), &values)
            .bind(sql_limit(f.limit))
            .bind(f.offset.max(0))
            .fetch_all(&self.pool)
            .await?;
        Ok((reports_from_rows(&rows)?, total))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_due(&self, now: Millis, limit: i64) -> Result<Vec<Report>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLS} FROM reports WHERE \
             (status = 'submitted' AND NOT verification_overdue AND verification_due_at < $1) OR \
             (status IN ('verified', 'in_progress') AND NOT followup_overdue AND followup_due_at < $1) OR \
             (status = 'responded' AND autocomplete_at < $1) OR \
             (NOT escalated AND status NOT IN ('completed', 'archived') AND escalation_at <= $1) \
             LIMIT $2"
        ))
        .bind(now)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        reports_from_rows(&rows)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn report_stats(&self, f: &ReportFilter) -> Result<StatsRow> {
        let (where_sql, values) = filter_sql(f);
        let row = bind_all(
            sqlx::query(&format!(
                "SELECT COUNT(*), \
                 COUNT(*) FILTER (WHERE (status = 'submitted' AND verification_overdue) OR \
                   (status IN ('verified', 'in_progress') AND followup_overdue)), \
                 COUNT(*) FILTER (WHERE escalated) FROM reports{where_sql}"
            )),
            &values,
        )
        .fetch_one(&self.pool)
        .await?;
        let by_status = self
            .counts(
                &format!("SELECT status, COUNT(*) FROM reports{where_sql} GROUP BY status ORDER BY status COLLATE \"C\""),
                &values,
            )
            .await?;
        let by_category = self
            .counts(
                &format!(
                    "SELECT COALESCE(category_id, 'none'), COUNT(*) FROM reports{where_sql} \
                     GROUP BY COALESCE(category_id, 'none') ORDER BY COALESCE(category_id, 'none') COLLATE \"C\""
                ),
                &values,
            )
            .await?;
        Ok(StatsRow {
            total: row.try_get(0)?,
            by_status,
            by_category,
            overdue: row.try_get(1)?,
            escalated: row.try_get(2)?,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %a.report_id), err(level = "debug"))]
    async fn attachment_add(&self, a: &AttachmentRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO attachments (report_id, sha256, media_type, size_bytes, file_name, added_by, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (report_id, sha256) DO NOTHING",
        )
        .bind(&a.report_id)
        .bind(&a.sha256)
        .bind(&a.media_type)
        .bind(a.size_bytes)
        .bind(&a.file_name)
        .bind(&a.added_by)
        .bind(a.added_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn attachment_list(&self, report_id: &str) -> Result<Vec<AttachmentRecord>> {
        fetch_all(
            sqlx::query(
                "SELECT report_id, sha256, media_type, size_bytes, file_name, added_by, added_at \
             FROM attachments WHERE report_id = $1 ORDER BY added_at, sha256 COLLATE \"C\"",
            )
            .bind(report_id),
            &self.pool,
            attachment_from_row,
        )
        .await
    }
}

/// Adds `v` to the arguments and returns its placeholder.
fn arg(values: &mut Vec<String>, v: String) -> String {
    values.push(v);
    format!("${}", values.len())
}

/// The WHERE clause of a report filter (paging and order excluded) and its text arguments, `$1..$n`.
/// Mirrors `filter_sql` of the SQLite store clause for clause.
fn filter_sql(f: &ReportFilter) -> (String, Vec<String>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    if !f.statuses.is_empty() {
        let marks = f
            .statuses
            .iter()
            .map(|s| arg(&mut values, s.as_str().to_owned()))
            .collect::<Vec<_>>()
            .join(", ");
        clauses.push(format!("status IN ({marks})"));
    }
    if let Some(k) = f.kind {
        let m = arg(&mut values, k.as_str().to_owned());
        clauses.push(format!("kind = {m}"));
    }
    if let Some(c) = &f.category {
        let m = arg(&mut values, c.clone());
        clauses.push(format!("category_id = {m}"));
    }
    if let Some(a) = &f.agency_id {
        let m = arg(&mut values, a.clone());
        clauses.push(format!("agency_id = {m}"));
    }
    if let Some(p) = &f.agency_path_prefix {
        let m = arg(&mut values, p.clone());
        clauses.push(format!("left(agency_path, length({m})) = {m}"));
    }
    if let Some(r) = &f.region_prefix {
        let m = arg(&mut values, r.clone());
        clauses.push(format!(
            "(region_code = {m} OR left(region_code, length({m}) + 1) = {m} || '.')"
        ));
    }
    if let Some(owner) = &f.owned_by {
        let m = arg(&mut values, owner.clone());
        clauses.push(format!(
            "NOT EXISTS (SELECT 1 FROM report_owner o WHERE o.report_id = reports.id AND o.owner <> {m})"
        ));
    }
    if f.public_only {
        clauses.push("NOT confidential AND status <> 'archived'".into());
    }
    if f.overdue_only {
        clauses.push(
            "((status = 'submitted' AND verification_overdue) OR \
             (status IN ('verified', 'in_progress') AND followup_overdue))"
                .into(),
        );
    }
    if f.escalated_only {
        clauses.push("escalated".into());
    }
    if let Some(u) = &f.reporter_user_id {
        let m = arg(&mut values, u.clone());
        clauses.push(format!("reporter_user_id = {m}"));
    }
    if let Some(q) = &f.query {
        let tokens = search_tokens(q);
        if tokens.is_empty() {
            clauses.push("FALSE".into());
        } else {
            // Tokens are alphanumeric only, so quoting them is enough to keep them out of tsquery syntax.
            let expr = tokens
                .iter()
                .map(|t| format!("'{t}':*"))
                .collect::<Vec<_>>()
                .join(" & ");
            let m = arg(&mut values, expr);
            clauses.push(format!("search @@ to_tsquery('simple', {m})"));
        }
    }
    if clauses.is_empty() {
        (String::new(), values)
    } else {
        (format!(" WHERE {}", clauses.join(" AND ")), values)
    }
}

fn bind_all<'q>(mut q: PgQuery<'q>, values: &'q [String]) -> PgQuery<'q> {
    for v in values {
        q = q.bind(v.as_str());
    }
    q
}

fn bind_all_scalar<'q, O>(
    mut q: QueryScalar<'q, Postgres, O, PgArguments>,
    values: &'q [String],
) -> QueryScalar<'q, Postgres, O, PgArguments> {
    for v in values {
        q = q.bind(v.as_str());
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapor_schemas::ReportStatus;

    #[test]
    fn filter_numbers_its_arguments() {
        let f = ReportFilter {
            statuses: vec![ReportStatus::Submitted, ReportStatus::Verified],
            agency_path_prefix: Some("/a/".into()),
            query: Some("jalan rus".into()),
            ..ReportFilter::default()
        };
        let (sql, values) = filter_sql(&f);
        assert_eq!(
            sql,
            " WHERE status IN ($1, $2) AND left(agency_path, length($3)) = $3 AND search @@ to_tsquery('simple', $4)"
        );
        assert_eq!(
            values,
            vec!["submitted", "verified", "/a/", "'jalan':* & 'rus':*"]
        );
    }

    #[test]
    fn an_empty_query_matches_nothing() {
        let f = ReportFilter {
            query: Some("  \"*(".into()),
            ..ReportFilter::default()
        };
        assert_eq!(filter_sql(&f), (" WHERE FALSE".to_owned(), Vec::new()));
    }
}
