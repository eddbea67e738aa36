//! PostgreSQL storage: a [`sqlx::PgPool`], one transaction per domain method that writes more than one row.
//!
//! The semantics follow [`super::sqlite::SqliteStore`] exactly (the conformance suite in `node/tests/storage.rs`
//! holds both to them): a unique violation is [`StorageError::Conflict`], any other integrity violation
//! (a missing referenced row, a check, the timeline's immutability trigger) is [`StorageError::Invalid`].
//! Several `lapor` processes may share one database: every guarded change is a single conditional `UPDATE`
//! or `DELETE` whose row lock serialises competing writers, and migrations take sqlx's advisory lock.
//! Text is ordered with `COLLATE "C"` so that lists come out in the same (byte) order as on SQLite,
//! whatever the database's default collation.

use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::NaiveDate;
use lapor_schemas::api::{Category, Count};
use lapor_schemas::{ArchiveReason, Channel, ReportKind, ReportStatus, Role, TimelineAction};
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions, PgRow};
use sqlx::query::{Query, QueryScalar};
use sqlx::{Postgres, Row};

use super::postgres_fed::{self as fed, author_event};
use super::{
    search_tokens, AcceptOutcome, AccountStore, CatalogStore, Conflict, EquivocationRow,
    EventDraft, EventStore, HistoryEvent, InboxEvent, InboxRow, Incoming, KeyRow, MetaStore,
    OriginHead, OwnerRow, PeerRecord, PeerStore, PushOutcome, QuarantineRow, ReportImport,
    ReportStore, Result, StatsRow, StorageError, StoredEvent, TransferRow, TransferStore,
};
use crate::domain::{
    AgencyRecord, AttachmentRecord, Millis, Report, ReportFilter, ReportOrder, ReporterIdentity,
    SessionRecord, TimelineRecord, Transition, UserRecord,
};
use lapor_federation::SignedEvent;

/// Most connections one process keeps open.
const MAX_CONNECTIONS: u32 = 16;
/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL implementation of [`Store`].
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database `url` names.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {}", super::redact_url(url)))?;
        Ok(Self { pool })
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // SQLSTATE class 23: integrity constraint violation.
            match db.code().as_deref() {
                Some("23505") => {
                    return Self::Conflict(Conflict::UniqueKeyTaken(db.message().to_owned()))
                }
                Some(code) if code.starts_with("23") => {
                    return Self::Invalid(db.message().to_owned())
                }
                _ => {}
            }
        }
        Self::Backend(e.to_string())
    }
}

const REPORT_COLS: &str = "id, tracking_code, secret_hash, kind, title, body, category_id, agency_id, agency_path, \
    region_code, lat_e6, lon_e6, address, incident_date, anonymous, confidential, channel, status, submitted_at, \
    updated_at, verified_at, responded_at, closed_at, verification_due_at, followup_due_at, autocomplete_at, \
    escalation_at, verification_overdue, followup_overdue, escalated, archive_reason, duplicate_of, rating_score, \
    rating_comment, reporter_user_id, created_by, version";
/// Number of columns in [`REPORT_COLS`].
const REPORT_NCOLS: usize = 37;
const AGENCY_COLS: &str =
    "id, parent_id, path, name, kind, region_code, active, created_at, node_id";
const USER_COLS: &str =
    "id, username, password_hash, display_name, role, agency_id, active, created_at";
const TIMELINE_COLS: &str =
    "report_id, seq, at, action, actor_role, actor_id, actor_name, agency_id, from_status, to_status, note";

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

fn unknown(what: &str, value: &str) -> StorageError {
    StorageError::Backend(format!("unknown {what} `{value}` in the database"))
}

fn parse_col<T>(row: &PgRow, col: usize, what: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s: String = row.try_get(col)?;
    parse(&s).ok_or_else(|| unknown(what, &s))
}

fn parse_opt_col<T>(
    row: &PgRow,
    col: usize,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| parse(&s).ok_or_else(|| unknown(what, &s)))
        .transpose()
}

fn report_from_row(row: &PgRow) -> Result<Report> {
    let incident: Option<String> = row.try_get(13)?;
    Ok(Report {
        id: row.try_get(0)?,
        tracking_code: row.try_get(1)?,
        secret_hash: row.try_get(2)?,
        kind: parse_col(row, 3, "kind", ReportKind::parse)?,
        title: row.try_get(4)?,
        body: row.try_get(5)?,
        category_id: row.try_get(6)?,
        agency_id: row.try_get(7)?,
        agency_path: row.try_get(8)?,
        region_code: row.try_get(9)?,
        lat_e6: row.try_get(10)?,
        lon_e6: row.try_get(11)?,
        address: row.try_get(12)?,
        incident_date: incident
            .map(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| unknown("date", &s)))
            .transpose()?,
        anonymous: row.try_get(14)?,
        confidential: row.try_get(15)?,
        channel: parse_col(row, 16, "channel", Channel::parse)?,
        status: parse_col(row, 17, "status", ReportStatus::parse)?,
        submitted_at: row.try_get(18)?,
        updated_at: row.try_get(19)?,
        verified_at: row.try_get(20)?,
        responded_at: row.try_get(21)?,
        closed_at: row.try_get(22)?,
        verification_due_at: row.try_get(23)?,
        followup_due_at: row.try_get(24)?,
        autocomplete_at: row.try_get(25)?,
        escalation_at: row.try_get(26)?,
        verification_overdue: row.try_get(27)?,
        followup_overdue: row.try_get(28)?,
        escalated: row.try_get(29)?,
        archive_reason: parse_opt_col(row, 30, "archive reason", ArchiveReason::parse)?,
        duplicate_of: row.try_get(31)?,
        rating_score: row.try_get(32)?,
        rating_comment: row.try_get(33)?,
        reporter_user_id: row.try_get(34)?,
        created_by: row.try_get(35)?,
        version: row.try_get(36)?,
    })
}

fn reports_from_rows(rows: &[PgRow]) -> Result<Vec<Report>> {
    rows.iter().map(report_from_row).collect()
}

/// Binds every column of [`REPORT_COLS`], in order, as `$1..$37` (or after whatever `q` already binds).
fn bind_report<'q>(q: PgQuery<'q>, r: &'q Report) -> PgQuery<'q> {
    q.bind(&r.id)
        .bind(&r.tracking_code)
        .bind(&r.secret_hash)
        .bind(r.kind.as_str())
        .bind(&r.title)
        .bind(&r.body)
        .bind(r.category_id.as_deref())
        .bind(r.agency_id.as_deref())
        .bind(r.agency_path.as_deref())
        .bind(r.region_code.as_deref())
        .bind(r.lat_e6)
        .bind(r.lon_e6)
        .bind(r.address.as_deref())
        .bind(r.incident_date.map(|d| d.format("%Y-%m-%d").to_string()))
        .bind(r.anonymous)
        .bind(r.confidential)
        .bind(r.channel.as_str())
        .bind(r.status.as_str())
        .bind(r.submitted_at)
        .bind(r.updated_at)
        .bind(r.verified_at)
        .bind(r.responded_at)
        .bind(r.closed_at)
        .bind(r.verification_due_at)
        .bind(r.followup_due_at)
        .bind(r.autocomplete_at)
        .bind(r.escalation_at)
        .bind(r.verification_overdue)
        .bind(r.followup_overdue)
        .bind(r.escalated)
        .bind(r.archive_reason.map(ArchiveReason::as_str))
        .bind(r.duplicate_of.as_deref())
        .bind(r.rating_score)
        .bind(r.rating_comment.as_deref())
        .bind(r.reporter_user_id.as_deref())
        .bind(r.created_by.as_deref())
        .bind(r.version)
}

fn timeline_from_row(row: &PgRow) -> Result<TimelineRecord> {
    Ok(TimelineRecord {
        report_id: row.try_get(0)?,
        seq: row.try_get(1)?,
        at: row.try_get(2)?,
        action: parse_col(row, 3, "timeline action", TimelineAction::parse)?,
        actor_role: row.try_get(4)?,
        actor_id: row.try_get(5)?,
        actor_name: row.try_get(6)?,
        agency_id: row.try_get(7)?,
        from_status: parse_opt_col(row, 8, "status", ReportStatus::parse)?,
        to_status: parse_opt_col(row, 9, "status", ReportStatus::parse)?,
        note: row.try_get(10)?,
    })
}

/// Appends `e` with the next `seq` of its report. Run inside the caller's transaction, after the report row
/// was inserted or updated (which locks it, so concurrent appends to one report cannot pick the same `seq`).
pub(super) async fn append_timeline(
    conn: &mut sqlx::PgConnection,
    e: &TimelineRecord,
) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO timeline ({TIMELINE_COLS}) \
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM timeline WHERE report_id = $1), $2, $3, $4, $5, $6, $7, \
         $8, $9, $10)"
    ))
    .bind(&e.report_id)
    .bind(e.at)
    .bind(e.action.as_str())
    .bind(&e.actor_role)
    .bind(e.actor_id.as_deref())
    .bind(e.actor_name.as_deref())
    .bind(e.agency_id.as_deref())
    .bind(e.from_status.map(ReportStatus::as_str))
    .bind(e.to_status.map(ReportStatus::as_str))
    .bind(e.note.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts a report or overwrites every column of the stored one (a snapshot from its owner).
pub(super) async fn upsert_report(conn: &mut sqlx::PgConnection, r: &Report) -> Result<()> {
    let marks = (1..=REPORT_NCOLS)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sets = REPORT_COLS
        .split(", ")
        .skip(1)
        .map(|col| format!("{col} = EXCLUDED.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO reports ({REPORT_COLS}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {sets}"
    );
    bind_report(sqlx::query(&sql), r).execute(conn).await?;
    Ok(())
}

fn agency_from_row(row: &PgRow) -> Result<AgencyRecord> {
    Ok(AgencyRecord {
        id: row.try_get(0)?,
        parent_id: row.try_get(1)?,
        path: row.try_get(2)?,
        name: row.try_get(3)?,
        kind: row.try_get(4)?,
        region_code: row.try_get(5)?,
        active: row.try_get(6)?,
        created_at: row.try_get(7)?,
        node_id: row.try_get(8)?,
    })
}

fn user_from_row(row: &PgRow, base: usize) -> Result<UserRecord> {
    Ok(UserRecord {
        id: row.try_get(base)?,
        username: row.try_get(base + 1)?,
        password_hash: row.try_get(base + 2)?,
        display_name: row.try_get(base + 3)?,
        role: parse_col(row, base + 4, "role", Role::parse)?,
        agency_id: row.try_get(base + 5)?,
        active: row.try_get(base + 6)?,
        created_at: row.try_get(base + 7)?,
    })
}

fn category_from_row(row: &PgRow) -> Result<Category> {
    Ok(Category {
        id: row.try_get(0)?,
        name_id: row.try_get(1)?,
        name_en: row.try_get(2)?,
        active: row.try_get(3)?,
    })
}

async fn insert_user(conn: &mut sqlx::PgConnection, u: &UserRecord) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&u.id)
    .bind(&u.username)
    .bind(&u.password_hash)
    .bind(&u.display_name)
    .bind(u.role.as_str())
    .bind(u.agency_id.as_deref())
    .bind(u.active)
    .bind(u.created_at)
    .execute(conn)
    .await?;
    Ok(())
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

/// A page size as SQLite reads it: negative means no limit (`LIMIT NULL` is `LIMIT ALL` here).
fn sql_limit(limit: i64) -> Option<i64> {
    (limit >= 0).then_some(limit)
}

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
impl MetaStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StorageError::Backend(format!("migration failed: {e}")))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

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

#[async_trait]
impl AccountStore for PgStore {
    async fn user_create(&self, user: &UserRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_user(&mut conn, user).await
    }

    async fn user_update(&self, u: &UserRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE users SET display_name = $2, password_hash = $3, active = $4 WHERE id = $1",
        )
        .bind(&u.id)
        .bind(&u.display_name)
        .bind(&u.password_hash)
        .bind(u.active)
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

    async fn user_get(&self, id: &str) -> Result<Option<UserRecord>> {
        sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| user_from_row(&r, 0))
            .transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| user_from_row(&r, 0))
        .transpose()
    }

    async fn user_list(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users ORDER BY username COLLATE \"C\""
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| user_from_row(r, 0)).collect()
    }

    async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn session_create(&self, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, kind, label, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.token_hash)
        .bind(&s.user_id)
        .bind(&s.kind)
        .bind(s.label.as_deref())
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_lookup(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<(SessionRecord, UserRecord)>> {
        let sql = format!(
            "SELECT s.token_hash, s.user_id, s.kind, s.label, s.created_at, s.expires_at, {} \
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
        };
        Ok(Some((session, user_from_row(&r, 6)?)))
    }

    async fn session_delete(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl CatalogStore for PgStore {
    async fn agency_create(&self, a: &AgencyRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO agencies ({AGENCY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&a.id)
        .bind(a.parent_id.as_deref())
        .bind(&a.path)
        .bind(&a.name)
        .bind(&a.kind)
        .bind(a.region_code.as_deref())
        .bind(a.active)
        .bind(a.created_at)
        .bind(a.node_id.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn agency_update(&self, a: &AgencyRecord) -> Result<()> {
        let n = sqlx::query(
            "UPDATE agencies SET name = $2, region_code = $3, active = $4 WHERE id = $1",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(a.region_code.as_deref())
        .bind(a.active)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    async fn agency_get(&self, id: &str) -> Result<Option<AgencyRecord>> {
        sqlx::query(&format!("SELECT {AGENCY_COLS} FROM agencies WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(agency_from_row)
            .transpose()
    }

    async fn agency_list(&self) -> Result<Vec<AgencyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {AGENCY_COLS} FROM agencies ORDER BY path COLLATE \"C\""
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agency_from_row).collect()
    }

    async fn category_upsert(&self, cat: &Category) -> Result<()> {
        sqlx::query(
            "INSERT INTO categories (id, name_id, name_en, active) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET name_id = excluded.name_id, name_en = excluded.name_en, \
             active = excluded.active",
        )
        .bind(&cat.id)
        .bind(&cat.name_id)
        .bind(&cat.name_en)
        .bind(cat.active)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn category_seed(&self, categories: &[Category]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for cat in categories {
            sqlx::query(
                "INSERT INTO categories (id, name_id, name_en, active) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&cat.id)
            .bind(&cat.name_id)
            .bind(&cat.name_en)
            .bind(cat.active)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn category_get(&self, id: &str) -> Result<Option<Category>> {
        sqlx::query("SELECT id, name_id, name_en, active FROM categories WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(category_from_row)
            .transpose()
    }

    async fn category_list(&self) -> Result<Vec<Category>> {
        let rows = sqlx::query(
            "SELECT id, name_id, name_en, active FROM categories ORDER BY id COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(category_from_row).collect()
    }
}

#[async_trait]
impl ReportStore for PgStore {
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
        if let Some(id) = identity.filter(|i| !i.is_empty()) {
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

    async fn report_get(&self, id: &str) -> Result<Option<Report>> {
        sqlx::query(&format!("SELECT {REPORT_COLS} FROM reports WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(report_from_row)
            .transpose()
    }

    async fn report_by_tracking_code(&self, code: &str) -> Result<Option<Report>> {
        sqlx::query(&format!(
            "SELECT {REPORT_COLS} FROM reports WHERE tracking_code = $1"
        ))
        .bind(code)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(report_from_row)
        .transpose()
    }

    async fn report_identity(&self, id: &str) -> Result<Option<ReporterIdentity>> {
        sqlx::query("SELECT name, phone, email FROM reporter_identities WHERE report_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| {
                Ok(ReporterIdentity {
                    name: r.try_get(0)?,
                    phone: r.try_get(1)?,
                    email: r.try_get(2)?,
                })
            })
            .transpose()
    }

    async fn report_timeline(&self, id: &str) -> Result<Vec<TimelineRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {TIMELINE_COLS} FROM timeline WHERE report_id = $1 ORDER BY seq"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(timeline_from_row).collect()
    }

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

    async fn attachment_list(&self, report_id: &str) -> Result<Vec<AttachmentRecord>> {
        let rows = sqlx::query(
            "SELECT report_id, sha256, media_type, size_bytes, file_name, added_by, added_at \
             FROM attachments WHERE report_id = $1 ORDER BY added_at, sha256 COLLATE \"C\"",
        )
        .bind(report_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttachmentRecord {
                    report_id: r.try_get(0)?,
                    sha256: r.try_get(1)?,
                    media_type: r.try_get(2)?,
                    size_bytes: r.try_get(3)?,
                    file_name: r.try_get(4)?,
                    added_by: r.try_get(5)?,
                    added_at: r.try_get(6)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn event_append(&self, draft: &EventDraft) -> Result<SignedEvent> {
        let mut tx = self.pool.begin().await?;
        let signed = author_event(&mut tx, draft).await?;
        tx.commit().await?;
        Ok(signed)
    }

    async fn report_owner(&self, report_id: &str) -> Result<Option<OwnerRow>> {
        let mut conn = self.pool.acquire().await?;
        fed::owner(&mut conn, report_id).await
    }

    async fn push_txn_get(&self, sender: &str, txn: &str) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        fed::push_txn_get(&mut conn, sender, txn).await
    }

    async fn inbox_insert(
        &self,
        sender: &str,
        txn: &str,
        response: &str,
        events: &[InboxEvent],
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        fed::inbox_insert(&mut tx, sender, txn, response, events, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn inbox_load(&self, limit: i64) -> Result<Vec<InboxRow>> {
        let mut conn = self.pool.acquire().await?;
        fed::inbox_load(&mut conn, limit).await
    }

    async fn inbox_delete(&self, ids: &[i64]) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        fed::inbox_delete(&mut conn, ids).await
    }

    async fn events_accept(&self, items: &[Incoming], now: Millis) -> Result<Vec<AcceptOutcome>> {
        let mut tx = self.pool.begin().await?;
        let outcomes = fed::events_accept(&mut tx, items, now).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn origin_heads(&self) -> Result<Vec<OriginHead>> {
        let mut conn = self.pool.acquire().await?;
        fed::origin_heads(&mut conn).await
    }

    async fn events_after(&self, origin: &str, after_seq: i64, limit: i64) -> Result<Vec<Vec<u8>>> {
        let mut conn = self.pool.acquire().await?;
        fed::events_after(&mut conn, origin, after_seq, limit).await
    }

    async fn event_get(&self, id: &str) -> Result<Option<StoredEvent>> {
        let mut conn = self.pool.acquire().await?;
        fed::event_get(&mut conn, id).await
    }

    async fn report_events(&self, report_id: &str) -> Result<Vec<StoredEvent>> {
        let mut conn = self.pool.acquire().await?;
        fed::report_events(&mut conn, report_id).await
    }

    async fn events_pending(&self, kind_prefix: &str, limit: i64) -> Result<Vec<StoredEvent>> {
        let mut conn = self.pool.acquire().await?;
        fed::events_pending(&mut conn, kind_prefix, limit).await
    }

    async fn report_import(&self, import: &ReportImport, now: Millis) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        fed::report_import(&mut tx, import, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn report_history(&self, report_id: &str) -> Result<Vec<HistoryEvent>> {
        let mut conn = self.pool.acquire().await?;
        fed::report_history(&mut conn, report_id).await
    }

    async fn event_quarantine(
        &self,
        id: &str,
        code: &str,
        reason: &str,
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        fed::event_quarantine(&mut tx, id, code, reason, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn quarantine_list(&self, limit: i64) -> Result<Vec<QuarantineRow>> {
        let mut conn = self.pool.acquire().await?;
        fed::quarantine_list(&mut conn, limit).await
    }

    async fn equivocation_list(&self) -> Result<Vec<EquivocationRow>> {
        let mut conn = self.pool.acquire().await?;
        fed::equivocation_list(&mut conn).await
    }
}

#[async_trait]
impl PeerStore for PgStore {
    async fn outbox_after(
        &self,
        destination: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>> {
        let mut conn = self.pool.acquire().await?;
        fed::outbox_after(&mut conn, destination, after, limit).await
    }

    async fn outbox_backfill(&self, destination: &str, origin: &str, now: Millis) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let n = fed::outbox_backfill(&mut tx, destination, origin, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn outbox_backlog(&self, destination: &str, after: i64) -> Result<(i64, Option<Millis>)> {
        let mut conn = self.pool.acquire().await?;
        fed::outbox_backlog(&mut conn, destination, after).await
    }

    async fn peer_upsert(&self, peer: &PeerRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        fed::peer_upsert(&mut conn, peer).await
    }

    async fn peer_list(&self) -> Result<Vec<PeerRecord>> {
        let mut conn = self.pool.acquire().await?;
        fed::peer_list(&mut conn).await
    }

    async fn peer_get(&self, node_id: &str) -> Result<Option<PeerRecord>> {
        let mut conn = self.pool.acquire().await?;
        fed::peer_get(&mut conn, node_id).await
    }

    async fn peer_push_result(
        &self,
        node_id: &str,
        outcome: PushOutcome,
        now: Millis,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        fed::peer_push_result(&mut conn, node_id, &outcome, now).await
    }

    async fn key_upsert(&self, key: &KeyRow) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        fed::key_upsert(&mut conn, key).await
    }

    async fn key_list(&self) -> Result<Vec<KeyRow>> {
        let mut conn = self.pool.acquire().await?;
        fed::key_list(&mut conn).await
    }

    async fn blob_put(&self, hash: &str, content: &[u8], now: Millis) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        fed::blob_put(&mut conn, hash, content, now).await
    }

    async fn blob_get(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.pool.acquire().await?;
        fed::blob_get(&mut conn, hash).await
    }
}

#[async_trait]
impl TransferStore for PgStore {
    async fn transfer_get(&self, offer_id: &str) -> Result<Option<TransferRow>> {
        let mut conn = self.pool.acquire().await?;
        fed::transfer_get(&mut conn, offer_id).await
    }

    async fn transfers_of_report(&self, report_id: &str) -> Result<Vec<TransferRow>> {
        let mut conn = self.pool.acquire().await?;
        fed::transfers_of_report(&mut conn, report_id).await
    }

    async fn transfers_list(&self, open_only: bool, limit: i64) -> Result<Vec<TransferRow>> {
        let mut conn = self.pool.acquire().await?;
        fed::transfers_list(&mut conn, open_only, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
