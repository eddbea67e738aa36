//! [`StatsStore`] on SQLite: facts of a period (reports joined with ownership and `report_marks`), the
//! freshness of every origin, kept recaps.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Row};

use super::rows::query_all;
use super::SqliteStore;
use crate::stats::{
    path_upper, CalendarSpec, CellQuery, CellRows, Fact, FactQuery, Freshness, RecapFile,
};
use crate::storage::stats_sql::{self, Arg, CellsBuilder, Sql};
use crate::storage::{Result, StatsStore};

fn values(sql: &Sql) -> Vec<Value> {
    sql.args
        .iter()
        .map(|a| match a {
            Arg::Int(i) => Value::Integer(*i),
            Arg::Text(t) => Value::Text(t.clone()),
        })
        .collect()
}

fn each(
    c: &rusqlite::Connection,
    sql: &Sql,
    mut f: impl FnMut(&Row<'_>) -> rusqlite::Result<()>,
) -> Result<()> {
    let mut stmt = c.prepare_cached(&sql.text)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(values(sql)))?;
    while let Some(r) = rows.next()? {
        f(r)?;
    }
    Ok(())
}

fn row_key(r: &Row<'_>) -> rusqlite::Result<crate::stats::CellKey> {
    Ok(stats_sql::key(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
    ))
}

/// Reads the cells of a query (runs inside one read transaction, so the parts agree).
fn read_cells(c: &rusqlite::Connection, q: &CellQuery) -> Result<CellRows> {
    let mut b = CellsBuilder::default();
    for range in q.ranges() {
        each(c, &stats_sql::cells(q, range), |r| {
            let mut v = [0_i64; stats_sql::COUNTER_COUNT];
            for (i, slot) in v.iter_mut().enumerate() {
                *slot = r.get(5 + i)?;
            }
            b.counters(row_key(r)?, &v);
            Ok(())
        })?;
        each(c, &stats_sql::spread(q, range), |r| {
            b.spread(row_key(r)?, r.get(5)?, r.get(6)?, r.get(7)?);
            Ok(())
        })?;
        each(c, &stats_sql::counts(q, range), |r| {
            b.count(row_key(r)?, r.get(5)?, r.get(6)?, r.get(7)?);
            Ok(())
        })?;
    }
    each(c, &stats_sql::daily(q), |r| {
        b.day(r.get(0)?, r.get(1)?);
        Ok(())
    })?;
    each(c, &stats_sql::open(q), |r| {
        b.open(row_key(r)?, r.get(5)?, r.get(6)?, r.get(7)?);
        Ok(())
    })?;
    Ok(b.finish())
}

/// Writes the working-day table and the zones of `spec` and rebuilds every derived row and aggregate.
fn rebuild(c: &rusqlite::Connection, spec: &CalendarSpec) -> Result<()> {
    c.execute("DELETE FROM stats_workdays", [])?;
    {
        let mut ins =
            c.prepare_cached("INSERT INTO stats_workdays (day, ordinal) VALUES (?1, ?2)")?;
        for (day, ordinal) in spec.workdays() {
            ins.execute(params![day, ordinal])?;
        }
    }
    c.execute("DELETE FROM stats_zones", [])?;
    for (owner, ms) in &spec.zones {
        c.execute(
            "INSERT INTO stats_zones (owner, offset_ms) VALUES (?1, ?2)",
            params![owner, ms],
        )?;
    }
    c.execute(
        "INSERT INTO stats_meta (key, value) VALUES ('paused', '1') \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [],
    )?;
    for sql in stats_sql::REBUILD {
        c.execute(sql, [])?;
    }
    c.execute("DELETE FROM stats_meta WHERE key = 'paused'", [])?;
    c.execute(
        "INSERT INTO stats_meta (key, value) VALUES ('calendar', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![stats_sql::fingerprint(spec)],
    )?;
    Ok(())
}

fn calendar_fingerprint(c: &rusqlite::Connection) -> Result<Option<String>> {
    Ok(
        c.prepare_cached("SELECT value FROM stats_meta WHERE key = 'calendar'")?
            .query_row([], |r| r.get(0))
            .optional()?,
    )
}

const FACT_COLS: &str = "r.id, r.tracking_code, r.agency_id, r.agency_path, o.owner, r.region_code, r.category_id, \
    r.kind, r.channel, r.status, r.confidential, r.submitted_at, r.verified_at, m.first_responded_at, r.escalated, \
    r.rating_score, COALESCE(m.reopened, 0)";

/// The WHERE clause of a fact query and its arguments.
fn fact_where(q: &FactQuery) -> (String, Vec<Value>) {
    let f = &q.filter;
    let mut clauses = vec![
        "r.submitted_at >= ?".to_owned(),
        "r.submitted_at < ?".to_owned(),
    ];
    let mut values = vec![Value::Integer(q.from), Value::Integer(q.to)];
    if let Some(p) = &f.agency_path_prefix {
        clauses.push("r.agency_path >= ? AND r.agency_path < ?".into());
        values.push(Value::Text(p.clone()));
        values.push(Value::Text(path_upper(p)));
    }
    if let Some(a) = &f.agency_id {
        clauses.push("r.agency_id = ?".into());
        values.push(Value::Text(a.clone()));
    }
    if let Some(k) = f.kind {
        clauses.push("r.kind = ?".into());
        values.push(Value::Text(k.as_str().into()));
    }
    if let Some(c) = &f.category {
        clauses.push("r.category_id = ?".into());
        values.push(Value::Text(c.clone()));
    }
    if let Some(r) = &f.region_prefix {
        clauses.push(
            "(r.region_code = ? OR substr(r.region_code, 1, length(?) + 1) = ? || '.')".into(),
        );
        values.extend([
            Value::Text(r.clone()),
            Value::Text(r.clone()),
            Value::Text(r.clone()),
        ]);
    }
    if f.public_only {
        clauses.push("r.confidential = 0 AND r.status <> 'archived'".into());
    }
    if let Some(u) = &f.reporter_user_id {
        clauses.push("r.reporter_user_id = ?".into());
        values.push(Value::Text(u.clone()));
    }
    if let Some(node) = &q.owned_by {
        clauses.push("(o.owner IS NULL OR o.owner = ?)".into());
        values.push(Value::Text(node.clone()));
    }
    (format!(" WHERE {}", clauses.join(" AND ")), values)
}

fn fact_from_row(r: &Row<'_>, titles: bool) -> rusqlite::Result<Fact> {
    Ok(Fact {
        id: r.get(0)?,
        tracking_code: r.get(1)?,
        agency_id: r.get(2)?,
        agency_path: r.get(3)?,
        owner: r.get(4)?,
        region_code: r.get(5)?,
        category_id: r.get(6)?,
        kind: r.get(7)?,
        channel: r.get(8)?,
        status: r.get(9)?,
        confidential: r.get(10)?,
        submitted_at: r.get(11)?,
        verified_at: r.get(12)?,
        first_responded_at: r.get(13)?,
        escalated: r.get(14)?,
        rating: r.get(15)?,
        reopened: r.get(16)?,
        title: if titles { r.get(17)? } else { None },
    })
}

#[async_trait]
impl StatsStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn stats_facts(&self, q: &FactQuery) -> Result<Vec<Fact>> {
        let q = q.clone();
        self.read(move |c| {
            let (where_sql, values) = fact_where(&q);
            let title = if q.titles { ", r.title" } else { "" };
            // An agency subtree is a narrow range of the path index; without it, the submission time is.
            let index = if q.filter.agency_path_prefix.is_some() {
                " INDEXED BY reports_stats_path"
            } else {
                ""
            };
            let sql = format!(
                "SELECT {FACT_COLS}{title} FROM reports r{index} \
                 LEFT JOIN report_owner o ON o.report_id = r.id \
                 LEFT JOIN report_marks m ON m.report_id = r.id{where_sql} ORDER BY r.submitted_at, r.id"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
                fact_from_row(r, q.titles)
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn stats_cells(&self, q: &CellQuery) -> Result<CellRows> {
        let q = q.clone();
        self.read(move |c| {
            c.execute_batch("BEGIN")?;
            let out = read_cells(c, &q);
            c.execute_batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
            out
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn stats_calendar_sync(&self, spec: &CalendarSpec) -> Result<bool> {
        let want = stats_sql::fingerprint(spec);
        let have = self.read(calendar_fingerprint).await?;
        if have.as_deref() == Some(want.as_str()) {
            return Ok(false);
        }
        let spec = spec.clone();
        self.write(move |c| {
            // Checked again under the write lock: another caller may have just rebuilt.
            if calendar_fingerprint(c)?.as_deref() == Some(stats_sql::fingerprint(&spec).as_str()) {
                return Ok(false);
            }
            rebuild(c, &spec)?;
            Ok(true)
        })
        .await
    }

    async fn stats_freshness(&self) -> Result<Vec<Freshness>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT o.origin, o.head_seq, o.updated_at, e.authored_at FROM origins o \
                 LEFT JOIN events e ON e.id = o.head_id ORDER BY o.origin",
                [],
                |r| {
                    Ok(Freshness {
                        origin: r.get(0)?,
                        head_seq: r.get(1)?,
                        applied_at: r.get(2)?,
                        authored_at: r.get(3)?,
                    })
                },
            )
        })
        .await
    }

    async fn recap_put(&self, recap: &RecapFile) -> Result<()> {
        let r = recap.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO stats_recaps (period, scope, format, generated_at, content) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (period, scope, format) DO UPDATE SET generated_at = excluded.generated_at, \
                 content = excluded.content",
            )?
            .execute(params![r.period, r.scope, r.format, r.generated_at, r.content])?;
            Ok(())
        })
        .await
    }

    async fn recap_get(
        &self,
        period: &str,
        scope: &str,
        format: &str,
    ) -> Result<Option<RecapFile>> {
        let key = (period.to_owned(), scope.to_owned(), format.to_owned());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT period, scope, format, generated_at, content FROM stats_recaps \
                 WHERE period = ?1 AND scope = ?2 AND format = ?3",
            )?
            .query_row(params![key.0, key.1, key.2], |r| {
                Ok(RecapFile {
                    period: r.get(0)?,
                    scope: r.get(1)?,
                    format: r.get(2)?,
                    generated_at: r.get(3)?,
                    content: r.get(4)?,
                })
            })
            .optional()?)
        })
        .await
    }

    async fn recap_list(&self) -> Result<Vec<RecapFile>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT period, scope, format, generated_at FROM stats_recaps \
                 ORDER BY period DESC, scope, format",
                [],
                |r| {
                    Ok(RecapFile {
                        period: r.get(0)?,
                        scope: r.get(1)?,
                        format: r.get(2)?,
                        generated_at: r.get(3)?,
                        content: Vec::new(),
                    })
                },
            )
        })
        .await
    }
}
