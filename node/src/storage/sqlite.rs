//! Embedded SQLite storage: one writer thread with group commit, a pool of read connections.
//!
//! The writer owns the only write connection (WAL, `synchronous=FULL`), so there is never `SQLITE_BUSY`
//! between writers. It takes every job waiting in its queue, runs each inside its own savepoint of one
//! transaction, commits once (one fsync for the whole group) and only then answers the callers: an answer
//! means the data is on disk. A job that fails rolls back to its savepoint without harming its neighbours.
//! Reads run on separate connections in `spawn_blocking`, so they never wait for the writer.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use lapor_schemas::api::{Category, Count};
use lapor_schemas::{ArchiveReason, Channel, ReportKind, ReportStatus, Role, TimelineAction};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tokio::sync::oneshot;

use super::sqlite_fed::{self as fed, author_event};
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

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_federation.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_attachments.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_transfers.sql"),
    ),
];

/// Most jobs committed in one transaction.
const MAX_GROUP: usize = 512;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

type Deliver = Box<dyn FnOnce(Option<String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Deliver) + Send>;

/// SQLite implementation of [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    writer: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, msg)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                let msg = msg.clone().unwrap_or_default();
                if msg.contains("UNIQUE") || msg.contains("PRIMARY KEY") {
                    Self::Conflict(Conflict::UniqueKeyTaken(msg))
                } else {
                    Self::Invalid(msg)
                }
            }
            _ => Self::Backend(e.to_string()),
        }
    }
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    Ok(conn)
}

fn writer_loop(conn: &Connection, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut delivers = Vec::with_capacity(group.len());
        // A job dropped without running drops its answer channel: its caller hears that the write failed.
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "sqlite writer could not begin a transaction");
            continue;
        }
        for job in group {
            if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                tracing::error!(error = %e, "sqlite writer could not open a savepoint");
                continue;
            }
            let (ok, deliver) = job(conn);
            let undo = if ok {
                Ok(())
            } else {
                conn.execute_batch("ROLLBACK TO job")
            };
            let released = undo.and_then(|()| conn.execute_batch("RELEASE job"));
            delivers.push((deliver, released.err().map(|e| e.to_string())));
        }
        let committed = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if let Err(msg) = &committed {
            tracing::error!(error = %msg, "sqlite group commit failed");
            let _ = conn.execute_batch("ROLLBACK");
        }
        for (deliver, own_err) in delivers {
            deliver(committed.clone().err().or(own_err));
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and starts its writer thread.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let conn = open_connection(path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        anyhow::ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "SQLite refused WAL mode (got {mode})"
        );
        // FULL: a commit is on disk before the caller hears about it, even across a power cut.
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(&conn, &rx))?;
        Ok(Self {
            path: path.to_owned(),
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |failure| {
                let _ = tx.send(match failure {
                    Some(msg) => Err(StorageError::Backend(msg)),
                    None => result,
                });
            });
            (ok, deliver)
        });
        self.writer
            .send(job)
            .map_err(|_| StorageError::Backend("the SQLite writer has stopped".into()))?;
        rx.await
            .map_err(|_| StorageError::Backend("the SQLite writer dropped a job".into()))?
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers
                .lock()
                .map_err(|_| StorageError::Backend("reader pool poisoned".into()))?
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&path)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = readers.lock() {
                if pool.len() < MAX_IDLE_READERS {
                    pool.push(conn);
                }
            }
            result
        })
        .await
        .map_err(|e| StorageError::Backend(format!("reader task failed: {e}")))?
    }
}

const REPORT_COLS: &str = "id, tracking_code, secret_hash, kind, title, body, category_id, agency_id, agency_path, \
    region_code, lat_e6, lon_e6, address, incident_date, anonymous, confidential, channel, status, submitted_at, \
    updated_at, verified_at, responded_at, closed_at, verification_due_at, followup_due_at, autocomplete_at, \
    escalation_at, verification_overdue, followup_overdue, escalated, archive_reason, duplicate_of, rating_score, \
    rating_comment, reporter_user_id, created_by, version";

fn bad(col: usize, what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        format!("unknown {what} `{value}`").into(),
    )
}

fn parse_col<T>(
    row: &Row<'_>,
    col: usize,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    parse(&s).ok_or_else(|| bad(col, what, &s))
}

fn parse_opt_col<T>(
    row: &Row<'_>,
    col: usize,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = row.get(col)?;
    s.map(|s| parse(&s).ok_or_else(|| bad(col, what, &s)))
        .transpose()
}

fn report_from_row(row: &Row<'_>) -> rusqlite::Result<Report> {
    let incident: Option<String> = row.get(13)?;
    Ok(Report {
        id: row.get(0)?,
        tracking_code: row.get(1)?,
        secret_hash: row.get(2)?,
        kind: parse_col(row, 3, "kind", ReportKind::parse)?,
        title: row.get(4)?,
        body: row.get(5)?,
        category_id: row.get(6)?,
        agency_id: row.get(7)?,
        agency_path: row.get(8)?,
        region_code: row.get(9)?,
        lat_e6: row.get(10)?,
        lon_e6: row.get(11)?,
        address: row.get(12)?,
        incident_date: incident
            .map(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| bad(13, "date", &s)))
            .transpose()?,
        anonymous: row.get(14)?,
        confidential: row.get(15)?,
        channel: parse_col(row, 16, "channel", Channel::parse)?,
        status: parse_col(row, 17, "status", ReportStatus::parse)?,
        submitted_at: row.get(18)?,
        updated_at: row.get(19)?,
        verified_at: row.get(20)?,
        responded_at: row.get(21)?,
        closed_at: row.get(22)?,
        verification_due_at: row.get(23)?,
        followup_due_at: row.get(24)?,
        autocomplete_at: row.get(25)?,
        escalation_at: row.get(26)?,
        verification_overdue: row.get(27)?,
        followup_overdue: row.get(28)?,
        escalated: row.get(29)?,
        archive_reason: parse_opt_col(row, 30, "archive reason", ArchiveReason::parse)?,
        duplicate_of: row.get(31)?,
        rating_score: row.get(32)?,
        rating_comment: row.get(33)?,
        reporter_user_id: row.get(34)?,
        created_by: row.get(35)?,
        version: row.get(36)?,
    })
}

fn report_values(r: &Report) -> Vec<Value> {
    fn t(s: Option<&String>) -> Value {
        s.map_or(Value::Null, |s| Value::Text(s.clone()))
    }
    fn i(v: Option<i64>) -> Value {
        v.map_or(Value::Null, Value::Integer)
    }
    vec![
        Value::Text(r.id.clone()),
        Value::Text(r.tracking_code.clone()),
        Value::Text(r.secret_hash.clone()),
        Value::Text(r.kind.as_str().into()),
        Value::Text(r.title.clone()),
        Value::Text(r.body.clone()),
        t(r.category_id.as_ref()),
        t(r.agency_id.as_ref()),
        t(r.agency_path.as_ref()),
        t(r.region_code.as_ref()),
        i(r.lat_e6),
        i(r.lon_e6),
        t(r.address.as_ref()),
        t(r.incident_date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .as_ref()),
        Value::Integer(r.anonymous.into()),
        Value::Integer(r.confidential.into()),
        Value::Text(r.channel.as_str().into()),
        Value::Text(r.status.as_str().into()),
        Value::Integer(r.submitted_at),
        Value::Integer(r.updated_at),
        i(r.verified_at),
        i(r.responded_at),
        i(r.closed_at),
        i(r.verification_due_at),
        i(r.followup_due_at),
        i(r.autocomplete_at),
        i(r.escalation_at),
        Value::Integer(r.verification_overdue.into()),
        Value::Integer(r.followup_overdue.into()),
        Value::Integer(r.escalated.into()),
        t(r.archive_reason.map(|a| a.as_str().to_owned()).as_ref()),
        t(r.duplicate_of.as_ref()),
        i(r.rating_score),
        t(r.rating_comment.as_ref()),
        t(r.reporter_user_id.as_ref()),
        t(r.created_by.as_ref()),
        Value::Integer(r.version),
    ]
}

fn timeline_from_row(row: &Row<'_>) -> rusqlite::Result<TimelineRecord> {
    Ok(TimelineRecord {
        report_id: row.get(0)?,
        seq: row.get(1)?,
        at: row.get(2)?,
        action: parse_col(row, 3, "timeline action", TimelineAction::parse)?,
        actor_role: row.get(4)?,
        actor_id: row.get(5)?,
        actor_name: row.get(6)?,
        agency_id: row.get(7)?,
        from_status: parse_opt_col(row, 8, "status", ReportStatus::parse)?,
        to_status: parse_opt_col(row, 9, "status", ReportStatus::parse)?,
        note: row.get(10)?,
    })
}

pub(super) fn append_timeline(conn: &Connection, e: &TimelineRecord) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO timeline (report_id, seq, at, action, actor_role, actor_id, actor_name, agency_id, from_status, \
         to_status, note) \
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM timeline WHERE report_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
         ?9, ?10)",
    )?
    .execute(params![
            e.report_id,
            e.at,
            e.action.as_str(),
            e.actor_role,
            e.actor_id,
            e.actor_name,
            e.agency_id,
            e.from_status.map(ReportStatus::as_str),
            e.to_status.map(ReportStatus::as_str),
            e.note,
        ],
    )?;
    Ok(())
}

/// Inserts a report or overwrites every column of the stored one (a snapshot from its owner).
pub(super) fn upsert_report(conn: &Connection, r: &Report) -> Result<()> {
    let marks = (1..=37)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sets = REPORT_COLS
        .split(", ")
        .skip(1)
        .map(|col| format!("{col} = excluded.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    conn.prepare_cached(&format!(
        "INSERT INTO reports ({REPORT_COLS}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {sets}"
    ))?
    .execute(rusqlite::params_from_iter(report_values(r)))?;
    Ok(())
}

fn agency_from_row(row: &Row<'_>) -> rusqlite::Result<AgencyRecord> {
    Ok(AgencyRecord {
        id: row.get(0)?,
        parent_id: row.get(1)?,
        path: row.get(2)?,
        name: row.get(3)?,
        kind: row.get(4)?,
        region_code: row.get(5)?,
        active: row.get(6)?,
        created_at: row.get(7)?,
        node_id: row.get(8)?,
    })
}

const AGENCY_COLS: &str =
    "id, parent_id, path, name, kind, region_code, active, created_at, node_id";
const USER_COLS: &str =
    "id, username, password_hash, display_name, role, agency_id, active, created_at";

fn user_from_row(row: &Row<'_>, base: usize) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(base)?,
        username: row.get(base + 1)?,
        password_hash: row.get(base + 2)?,
        display_name: row.get(base + 3)?,
        role: parse_col(row, base + 4, "role", Role::parse)?,
        agency_id: row.get(base + 5)?,
        active: row.get(base + 6)?,
        created_at: row.get(base + 7)?,
    })
}

fn category_from_row(row: &Row<'_>) -> rusqlite::Result<Category> {
    Ok(Category {
        id: row.get(0)?,
        name_id: row.get(1)?,
        name_en: row.get(2)?,
        active: row.get(3)?,
    })
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

#[async_trait]
impl MetaStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> Result<()> {
        self.write(|conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )?;
            let done: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
            for (version, sql) in MIGRATIONS {
                if *version > done {
                    conn.execute_batch(sql)?;
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                        params![version, chrono::Utc::now().timestamp_millis()],
                    )?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.read(move |c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }

    async fn meta_put(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
        .await
    }

    async fn bootstrap_admin(&self, secret_hash: &str, admin: &UserRecord) -> Result<()> {
        let (hash, admin) = (secret_hash.to_owned(), admin.clone());
        self.write(move |c| {
            let n = c.execute(
                "DELETE FROM meta WHERE key = 'bootstrap_secret_sha256' AND value = ?1",
                [hash],
            )?;
            if n != 1 {
                return Err(Conflict::BootstrapSecret.into());
            }
            insert_user(c, &admin)
        })
        .await
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn user_create(&self, user: &UserRecord) -> Result<()> {
        let user = user.clone();
        self.write(move |c| insert_user(c, &user)).await
    }

    async fn user_update(&self, u: &UserRecord) -> Result<()> {
        let u = u.clone();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE users SET display_name = ?2, password_hash = ?3, active = ?4 WHERE id = ?1",
                params![u.id, u.display_name, u.password_hash, u.active],
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

    async fn user_list(&self) -> Result<Vec<UserRecord>> {
        self.read(|c| {
            let mut stmt =
                c.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY username"))?;
            let rows = stmt.query_map([], |r| user_from_row(r, 0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn user_count(&self) -> Result<i64> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?))
            .await
    }

    async fn session_create(&self, s: &SessionRecord) -> Result<()> {
        let s = s.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user_id, kind, label, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    s.token_hash,
                    s.user_id,
                    s.kind,
                    s.label,
                    s.created_at,
                    s.expires_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn session_lookup(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<(SessionRecord, UserRecord)>> {
        let hash = token_hash.to_owned();
        self.read(move |c| {
            let sql =
                format!(
                "SELECT s.token_hash, s.user_id, s.kind, s.label, s.created_at, s.expires_at, {} \
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
                    },
                    user_from_row(r, 6)?,
                ))
            })
            .optional()?)
        })
        .await
    }

    async fn session_delete(&self, token_hash: &str) -> Result<()> {
        let hash = token_hash.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash])?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn agency_create(&self, a: &AgencyRecord) -> Result<()> {
        let a = a.clone();
        self.write(move |c| {
            c.execute(
                &format!(
                    "INSERT INTO agencies ({AGENCY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    a.id,
                    a.parent_id,
                    a.path,
                    a.name,
                    a.kind,
                    a.region_code,
                    a.active,
                    a.created_at,
                    a.node_id
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn agency_update(&self, a: &AgencyRecord) -> Result<()> {
        let a = a.clone();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE agencies SET name = ?2, region_code = ?3, active = ?4 WHERE id = ?1",
                params![a.id, a.name, a.region_code, a.active],
            )?;
            if n == 0 {
                return Err(StorageError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn agency_get(&self, id: &str) -> Result<Option<AgencyRecord>> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {AGENCY_COLS} FROM agencies WHERE id = ?1"),
                [id],
                agency_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn agency_list(&self) -> Result<Vec<AgencyRecord>> {
        self.read(|c| {
            let mut stmt =
                c.prepare(&format!("SELECT {AGENCY_COLS} FROM agencies ORDER BY path"))?;
            let rows = stmt.query_map([], agency_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn category_upsert(&self, cat: &Category) -> Result<()> {
        let cat = cat.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO categories (id, name_id, name_en, active) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO UPDATE SET name_id = excluded.name_id, name_en = excluded.name_en, \
                 active = excluded.active",
                params![cat.id, cat.name_id, cat.name_en, cat.active],
            )?;
            Ok(())
        })
        .await
    }

    async fn category_seed(&self, categories: &[Category]) -> Result<()> {
        let cats = categories.to_vec();
        self.write(move |c| {
            for cat in &cats {
                c.execute(
                    "INSERT INTO categories (id, name_id, name_en, active) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (id) DO NOTHING",
                    params![cat.id, cat.name_id, cat.name_en, cat.active],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn category_get(&self, id: &str) -> Result<Option<Category>> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT id, name_id, name_en, active FROM categories WHERE id = ?1",
                [id],
                category_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn category_list(&self) -> Result<Vec<Category>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT id, name_id, name_en, active FROM categories ORDER BY id")?;
            let rows = stmt.query_map([], category_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn report_insert(
        &self,
        report: &Report,
        identity: Option<&ReporterIdentity>,
        entry: &TimelineRecord,
        event: Option<&EventDraft>,
    ) -> Result<()> {
        let (report, identity, entry) = (report.clone(), identity.cloned(), entry.clone());
        let event = event.cloned();
        self.write(move |c| {
            let marks = (1..=37).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
            c.execute(
                &format!("INSERT INTO reports ({REPORT_COLS}) VALUES ({marks})"),
                rusqlite::params_from_iter(report_values(&report)),
            )?;
            if let Some(id) = identity.filter(|i| !i.is_empty()) {
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

    async fn report_get(&self, id: &str) -> Result<Option<Report>> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {REPORT_COLS} FROM reports WHERE id = ?1"),
                [id],
                report_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn report_by_tracking_code(&self, code: &str) -> Result<Option<Report>> {
        let code = code.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {REPORT_COLS} FROM reports WHERE tracking_code = ?1"),
                [code],
                report_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn report_identity(&self, id: &str) -> Result<Option<ReporterIdentity>> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT name, phone, email FROM reporter_identities WHERE report_id = ?1",
                [id],
                |r| {
                    Ok(ReporterIdentity {
                        name: r.get(0)?,
                        phone: r.get(1)?,
                        email: r.get(2)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn report_timeline(&self, id: &str) -> Result<Vec<TimelineRecord>> {
        let id = id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT report_id, seq, at, action, actor_role, actor_id, actor_name, agency_id, from_status, \
                 to_status, note FROM timeline WHERE report_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([id], timeline_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

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

    async fn report_due(&self, now: Millis, limit: i64) -> Result<Vec<Report>> {
        self.read(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {REPORT_COLS} FROM reports WHERE \
                 (status = 'submitted' AND verification_overdue = 0 AND verification_due_at < ?1) OR \
                 (status IN ('verified', 'in_progress') AND followup_overdue = 0 AND followup_due_at < ?1) OR \
                 (status = 'responded' AND autocomplete_at < ?1) OR \
                 (escalated = 0 AND status NOT IN ('completed', 'archived') AND escalation_at <= ?1) \
                 LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now, limit], report_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

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

    async fn attachment_list(&self, report_id: &str) -> Result<Vec<AttachmentRecord>> {
        let id = report_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT report_id, sha256, media_type, size_bytes, file_name, added_by, added_at \
                 FROM attachments WHERE report_id = ?1 ORDER BY added_at, sha256",
            )?;
            let rows = stmt.query_map(params![id], |r| {
                Ok(AttachmentRecord {
                    report_id: r.get(0)?,
                    sha256: r.get(1)?,
                    media_type: r.get(2)?,
                    size_bytes: r.get(3)?,
                    file_name: r.get(4)?,
                    added_by: r.get(5)?,
                    added_at: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn event_append(&self, draft: &EventDraft) -> Result<SignedEvent> {
        let draft = draft.clone();
        self.write(move |c| author_event(c, &draft)).await
    }

    async fn report_owner(&self, report_id: &str) -> Result<Option<OwnerRow>> {
        let id = report_id.to_owned();
        self.read(move |c| fed::owner(c, &id)).await
    }

    async fn push_txn_get(&self, sender: &str, txn: &str) -> Result<Option<String>> {
        let (sender, txn) = (sender.to_owned(), txn.to_owned());
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT response FROM push_txns WHERE sender = ?1 AND txn = ?2",
                params![sender, txn],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    async fn inbox_insert(
        &self,
        sender: &str,
        txn: &str,
        response: &str,
        events: &[InboxEvent],
        now: Millis,
    ) -> Result<()> {
        let (sender, txn, response, events) = (
            sender.to_owned(),
            txn.to_owned(),
            response.to_owned(),
            events.to_vec(),
        );
        self.write(move |c| fed::inbox_insert(c, &sender, &txn, &response, &events, now))
            .await
    }

    async fn inbox_load(&self, limit: i64) -> Result<Vec<InboxRow>> {
        self.read(move |c| fed::inbox_load(c, limit)).await
    }

    async fn inbox_delete(&self, ids: &[i64]) -> Result<()> {
        let ids = ids.to_vec();
        self.write(move |c| {
            let mut stmt = c.prepare_cached("DELETE FROM inbox WHERE id = ?1")?;
            for id in ids {
                stmt.execute([id])?;
            }
            Ok(())
        })
        .await
    }

    async fn events_accept(&self, items: &[Incoming], now: Millis) -> Result<Vec<AcceptOutcome>> {
        let items = items.to_vec();
        self.write(move |c| {
            items
                .iter()
                .map(|item| fed::accept_one(c, item, now))
                .collect()
        })
        .await
    }

    async fn origin_heads(&self) -> Result<Vec<OriginHead>> {
        self.read(fed::origin_heads).await
    }

    async fn events_after(&self, origin: &str, after_seq: i64, limit: i64) -> Result<Vec<Vec<u8>>> {
        let origin = origin.to_owned();
        self.read(move |c| fed::events_after(c, &origin, after_seq, limit))
            .await
    }

    async fn event_get(&self, id: &str) -> Result<Option<StoredEvent>> {
        let id = id.to_owned();
        self.read(move |c| fed::event_get(c, &id)).await
    }

    async fn report_events(&self, report_id: &str) -> Result<Vec<StoredEvent>> {
        let id = report_id.to_owned();
        self.read(move |c| fed::report_events(c, &id)).await
    }

    async fn events_pending(&self, kind_prefix: &str, limit: i64) -> Result<Vec<StoredEvent>> {
        let prefix = kind_prefix.to_owned();
        self.read(move |c| fed::events_pending(c, &prefix, limit))
            .await
    }

    async fn report_import(&self, import: &ReportImport, now: Millis) -> Result<()> {
        let import = import.clone();
        self.write(move |c| fed::report_import(c, &import, now))
            .await
    }

    async fn report_history(&self, report_id: &str) -> Result<Vec<HistoryEvent>> {
        let id = report_id.to_owned();
        self.read(move |c| fed::report_history(c, &id)).await
    }

    async fn event_quarantine(
        &self,
        id: &str,
        code: &str,
        reason: &str,
        now: Millis,
    ) -> Result<()> {
        let (id, code, reason) = (id.to_owned(), code.to_owned(), reason.to_owned());
        self.write(move |c| fed::event_quarantine(c, &id, &code, &reason, now))
            .await
    }

    async fn quarantine_list(&self, limit: i64) -> Result<Vec<QuarantineRow>> {
        self.read(move |c| fed::quarantine_list(c, limit)).await
    }

    async fn equivocation_list(&self) -> Result<Vec<EquivocationRow>> {
        self.read(fed::equivocation_list).await
    }
}

#[async_trait]
impl PeerStore for SqliteStore {
    async fn outbox_after(
        &self,
        destination: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>> {
        let d = destination.to_owned();
        self.read(move |c| fed::outbox_after(c, &d, after, limit))
            .await
    }

    async fn outbox_backfill(&self, destination: &str, origin: &str, now: Millis) -> Result<i64> {
        let (d, o) = (destination.to_owned(), origin.to_owned());
        self.write(move |c| {
            let n = c.execute(
                "INSERT INTO outbox (destination, event_id, created_at) \
                 SELECT ?1, id, ?3 FROM events WHERE origin = ?2 \
                 AND id NOT IN (SELECT event_id FROM outbox WHERE destination = ?1) ORDER BY origin_seq",
                params![d, o, now],
            )?;
            Ok(n as i64)
        })
        .await
    }

    async fn outbox_backlog(&self, destination: &str, after: i64) -> Result<(i64, Option<Millis>)> {
        let d = destination.to_owned();
        self.read(move |c| fed::outbox_backlog(c, &d, after)).await
    }

    async fn peer_upsert(&self, peer: &PeerRecord) -> Result<()> {
        let p = peer.clone();
        self.write(move |c| fed::peer_upsert(c, &p)).await
    }

    async fn peer_list(&self) -> Result<Vec<PeerRecord>> {
        self.read(fed::peer_list).await
    }

    async fn peer_get(&self, node_id: &str) -> Result<Option<PeerRecord>> {
        let id = node_id.to_owned();
        self.read(move |c| fed::peer_get(c, &id)).await
    }

    async fn peer_push_result(
        &self,
        node_id: &str,
        outcome: PushOutcome,
        now: Millis,
    ) -> Result<()> {
        let id = node_id.to_owned();
        self.write(move |c| fed::peer_push_result(c, &id, &outcome, now))
            .await
    }

    async fn key_upsert(&self, key: &KeyRow) -> Result<()> {
        let k = key.clone();
        self.write(move |c| fed::key_upsert(c, &k)).await
    }

    async fn key_list(&self) -> Result<Vec<KeyRow>> {
        self.read(fed::key_list).await
    }

    async fn blob_put(&self, hash: &str, content: &[u8], now: Millis) -> Result<()> {
        let (hash, content) = (hash.to_owned(), content.to_vec());
        self.write(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO blobs (hash, content, created_at) VALUES (?1, ?2, ?3)",
                params![hash, content, now],
            )?;
            Ok(())
        })
        .await
    }

    async fn blob_get(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let hash = hash.to_owned();
        self.read(move |c| {
            Ok(
                c.query_row("SELECT content FROM blobs WHERE hash = ?1", [hash], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }
}

#[async_trait]
impl TransferStore for SqliteStore {
    async fn transfer_get(&self, offer_id: &str) -> Result<Option<TransferRow>> {
        let id = offer_id.to_owned();
        self.read(move |c| fed::transfer_get(c, &id)).await
    }

    async fn transfers_of_report(&self, report_id: &str) -> Result<Vec<TransferRow>> {
        let id = report_id.to_owned();
        self.read(move |c| fed::transfers_of_report(c, &id)).await
    }

    async fn transfers_list(&self, open_only: bool, limit: i64) -> Result<Vec<TransferRow>> {
        self.read(move |c| fed::transfers_list(c, open_only, limit))
            .await
    }
}

fn insert_user(c: &Connection, u: &UserRecord) -> Result<()> {
    c.execute(
        &format!("INSERT INTO users ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            u.id,
            u.username,
            u.password_hash,
            u.display_name,
            u.role.as_str(),
            u.agency_id,
            u.active,
            u.created_at
        ],
    )?;
    Ok(())
}
