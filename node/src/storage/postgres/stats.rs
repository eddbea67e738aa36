//! [`StatsStore`] on PostgreSQL: mirrors `storage/sqlite/stats.rs` clause for clause.

// Coordinates, SQL placeholders and generator draws read best as single letters.
#![allow(clippy::many_single_char_names)]

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::rows::PgQuery;
use super::PgStore;
use crate::stats::{
    path_upper, CalendarSpec, CellQuery, CellRows, Fact, FactQuery, Freshness, RecapFile,
};
use crate::storage::stats_sql::{self, CellsBuilder, Sql};
use crate::storage::{Result, StatsStore};

async fn fetch(tx: &mut sqlx::PgConnection, sql: &Sql) -> Result<Vec<PgRow>> {
    let text = stats_sql::numbered(&sql.text);
    let mut q = sqlx::query(&text);
    for a in &sql.args {
        q = match a {
            stats_sql::Arg::Int(i) => q.bind(*i),
            stats_sql::Arg::Text(t) => q.bind(t.clone()),
        };
    }
    Ok(q.fetch_all(tx).await?)
}

fn row_key(r: &PgRow) -> sqlx::Result<crate::stats::CellKey> {
    Ok(stats_sql::key(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
    ))
}

/// Reads the cells of a query in one repeatable-read transaction, so the parts agree.
async fn read_cells(tx: &mut sqlx::PgConnection, q: &CellQuery) -> Result<CellRows> {
    let mut b = CellsBuilder::default();
    for range in q.ranges() {
        for r in fetch(tx, &stats_sql::cells(q, range)).await? {
            let mut v = [0_i64; stats_sql::COUNTER_COUNT];
            for (i, slot) in v.iter_mut().enumerate() {
                *slot = r.try_get(5 + i)?;
            }
            b.counters(row_key(&r)?, &v);
        }
        for r in fetch(tx, &stats_sql::spread(q, range)).await? {
            b.spread(row_key(&r)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?);
        }
        for r in fetch(tx, &stats_sql::counts(q, range)).await? {
            b.count(row_key(&r)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?);
        }
    }
    for r in fetch(tx, &stats_sql::daily(q)).await? {
        b.day(r.try_get(0)?, r.try_get(1)?);
    }
    for r in fetch(tx, &stats_sql::open(q)).await? {
        b.open(row_key(&r)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?);
    }
    Ok(b.finish())
}

const FACT_COLS: &str = "r.id, r.tracking_code, r.agency_id, r.agency_path, o.owner, r.region_code, r.category_id, \
    r.kind, r.channel, r.status, r.confidential, r.submitted_at, r.verified_at, m.first_responded_at, r.escalated, \
    r.rating_score::BIGINT, COALESCE(m.reopened, 0)::BIGINT";

enum Arg {
    Int(i64),
    Text(String),
}

fn mark(values: &mut Vec<Arg>, v: Arg) -> String {
    values.push(v);
    format!("${}", values.len())
}

/// The WHERE clause of a fact query and its arguments.
fn fact_where(q: &FactQuery) -> (String, Vec<Arg>) {
    let f = &q.filter;
    let mut values = Vec::new();
    let a = mark(&mut values, Arg::Int(q.from));
    let b = mark(&mut values, Arg::Int(q.to));
    let mut clauses = vec![
        format!("r.submitted_at >= {a}"),
        format!("r.submitted_at < {b}"),
    ];
    if let Some(p) = &f.agency_path_prefix {
        let lo = mark(&mut values, Arg::Text(p.clone()));
        let hi = mark(&mut values, Arg::Text(path_upper(p)));
        clauses.push(format!(
            "(r.agency_path COLLATE \"C\") >= {lo} AND (r.agency_path COLLATE \"C\") < {hi}"
        ));
    }
    if let Some(v) = &f.agency_id {
        let m = mark(&mut values, Arg::Text(v.clone()));
        clauses.push(format!("r.agency_id = {m}"));
    }
    if let Some(k) = f.kind {
        let m = mark(&mut values, Arg::Text(k.as_str().into()));
        clauses.push(format!("r.kind = {m}"));
    }
    if let Some(c) = &f.category {
        let m = mark(&mut values, Arg::Text(c.clone()));
        clauses.push(format!("r.category_id = {m}"));
    }
    if let Some(r) = &f.region_prefix {
        let m = mark(&mut values, Arg::Text(r.clone()));
        clauses.push(format!(
            "(r.region_code = {m} OR left(r.region_code, length({m}) + 1) = {m} || '.')"
        ));
    }
    if f.public_only {
        clauses.push("NOT r.confidential AND r.status <> 'archived'".into());
    }
    if let Some(u) = &f.reporter_user_id {
        let m = mark(&mut values, Arg::Text(u.clone()));
        clauses.push(format!("r.reporter_user_id = {m}"));
    }
    if let Some(node) = &q.owned_by {
        let m = mark(&mut values, Arg::Text(node.clone()));
        clauses.push(format!("(o.owner IS NULL OR o.owner = {m})"));
    }
    (format!(" WHERE {}", clauses.join(" AND ")), values)
}

fn bind<'q>(mut q: PgQuery<'q>, values: &'q [Arg]) -> PgQuery<'q> {
    for v in values {
        q = match v {
            Arg::Int(i) => q.bind(*i),
            Arg::Text(s) => q.bind(s.as_str()),
        };
    }
    q
}

fn fact_from_row(r: &PgRow, titles: bool) -> sqlx::Result<Fact> {
    Ok(Fact {
        id: r.try_get(0)?,
        tracking_code: r.try_get(1)?,
        agency_id: r.try_get(2)?,
        agency_path: r.try_get(3)?,
        owner: r.try_get(4)?,
        region_code: r.try_get(5)?,
        category_id: r.try_get(6)?,
        kind: r.try_get(7)?,
        channel: r.try_get(8)?,
        status: r.try_get(9)?,
        confidential: r.try_get(10)?,
        submitted_at: r.try_get(11)?,
        verified_at: r.try_get(12)?,
        first_responded_at: r.try_get(13)?,
        escalated: r.try_get(14)?,
        rating: r.try_get(15)?,
        reopened: r.try_get(16)?,
        title: if titles { r.try_get(17)? } else { None },
    })
}

fn recap_from_row(r: &PgRow, content: bool) -> sqlx::Result<RecapFile> {
    Ok(RecapFile {
        period: r.try_get(0)?,
        scope: r.try_get(1)?,
        format: r.try_get(2)?,
        generated_at: r.try_get(3)?,
        content: if content { r.try_get(4)? } else { Vec::new() },
    })
}

#[async_trait]
impl StatsStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn stats_facts(&self, q: &FactQuery) -> Result<Vec<Fact>> {
        let (where_sql, values) = fact_where(q);
        let title = if q.titles { ", r.title" } else { "" };
        let sql = format!(
            "SELECT {FACT_COLS}{title} FROM reports r \
             LEFT JOIN report_owner o ON o.report_id = r.id \
             LEFT JOIN report_marks m ON m.report_id = r.id{where_sql} \
             ORDER BY r.submitted_at, r.id COLLATE \"C\""
        );
        let rows = bind(sqlx::query(&sql), &values)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| fact_from_row(r, q.titles))
            .collect::<sqlx::Result<Vec<_>>>()?)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn stats_cells(&self, q: &CellQuery) -> Result<CellRows> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let out = read_cells(&mut tx, q).await?;
        tx.commit().await?;
        Ok(out)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn stats_calendar_sync(&self, spec: &CalendarSpec) -> Result<bool> {
        let want = stats_sql::fingerprint(spec);
        let get = "SELECT value FROM stats_meta WHERE key = 'calendar'";
        let have: Option<String> = sqlx::query_scalar(get).fetch_optional(&self.pool).await?;
        if have.as_deref() == Some(want.as_str()) {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        // One rebuild at a time; writers of reports wait for it (their triggers write stats_report).
        sqlx::query("LOCK TABLE stats_report IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let have: Option<String> = sqlx::query_scalar(get).fetch_optional(&mut *tx).await?;
        if have.as_deref() == Some(want.as_str()) {
            return Ok(false);
        }
        let (days, ordinals): (Vec<i32>, Vec<i32>) = spec
            .workdays()
            .into_iter()
            .map(|(d, o)| (i32::try_from(d).unwrap_or(0), i32::try_from(o).unwrap_or(0)))
            .unzip();
        sqlx::query("DELETE FROM stats_workdays")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO stats_workdays (day, ordinal) SELECT * FROM UNNEST($1::int[], $2::int[])",
        )
        .bind(&days)
        .bind(&ordinals)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM stats_zones")
            .execute(&mut *tx)
            .await?;
        for (owner, ms) in &spec.zones {
            sqlx::query("INSERT INTO stats_zones (owner, offset_ms) VALUES ($1, $2)")
                .bind(owner)
                .bind(ms)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("SELECT set_config('lapor.stats_paused', '1', true)")
            .execute(&mut *tx)
            .await?;
        for sql in stats_sql::REBUILD {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        sqlx::query("SELECT set_config('lapor.stats_paused', '0', true)")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO stats_meta (key, value) VALUES ('calendar', $1) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(&want)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn stats_freshness(&self) -> Result<Vec<Freshness>> {
        let rows = sqlx::query(
            "SELECT o.origin, o.head_seq, o.updated_at, e.authored_at FROM origins o \
             LEFT JOIN events e ON e.id = o.head_id ORDER BY o.origin COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(Freshness {
                    origin: r.try_get(0)?,
                    head_seq: r.try_get(1)?,
                    applied_at: r.try_get(2)?,
                    authored_at: r.try_get(3)?,
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()?)
    }

    async fn recap_put(&self, r: &RecapFile) -> Result<()> {
        sqlx::query(
            "INSERT INTO stats_recaps (period, scope, format, generated_at, content) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (period, scope, format) DO UPDATE SET generated_at = EXCLUDED.generated_at, \
             content = EXCLUDED.content",
        )
        .bind(&r.period)
        .bind(&r.scope)
        .bind(&r.format)
        .bind(r.generated_at)
        .bind(&r.content)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn recap_get(
        &self,
        period: &str,
        scope: &str,
        format: &str,
    ) -> Result<Option<RecapFile>> {
        let row = sqlx::query(
            "SELECT period, scope, format, generated_at, content FROM stats_recaps \
             WHERE period = $1 AND scope = $2 AND format = $3",
        )
        .bind(period)
        .bind(scope)
        .bind(format)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| recap_from_row(&r, true)).transpose()?)
    }

    async fn recap_list(&self) -> Result<Vec<RecapFile>> {
        let rows = sqlx::query(
            "SELECT period, scope, format, generated_at FROM stats_recaps \
             ORDER BY period COLLATE \"C\" DESC, scope COLLATE \"C\", format COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| recap_from_row(r, false))
            .collect::<sqlx::Result<Vec<_>>>()?)
    }
}
