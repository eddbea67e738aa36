//! Embedded SQLite storage: one writer thread with group commit, a pool of read connections.
//!
//! The writer owns the only write connection (WAL, `synchronous=FULL`), so there is never `SQLITE_BUSY`
//! between writers. It takes every job waiting in its queue, runs each inside its own savepoint of one
//! transaction, commits once (one fsync for the whole group) and only then answers the callers: an answer
//! means the data is on disk. A job that fails rolls back to its savepoint without harming its neighbours.
//! Reads run on a fixed set of reader threads, each with its own connection kept for the life of the store
//! (`pool.rs`), so they never wait for the writer and never open a connection per read.
//!
//! One file per concern trait; the helpers several of them share (ownership, the log head, the timeline) are
//! here, row decoding is in `rows.rs`.

mod accept;
mod accounts;
mod audit;
mod bundle;
mod catalog;
mod events;
mod handover;
mod leases;
mod meta;
mod notices;
mod open311;
mod peers;
mod pool;
mod reports;
mod rows;
mod sms;
mod stats;
mod transfers;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use lapor_schemas::ReportStatus;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use self::rows::{report_values, REPORT_COLS};
use crate::domain::{Millis, Report, TimelineRecord};
use crate::storage::decide::HeldHead;
use crate::storage::{Conflict, OwnerRow, Result, StorageError};

/// Most jobs committed in one transaction.
const MAX_GROUP: usize = 512;
/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 128;
/// Reader threads (each with its own connection) when the configuration does not say.
pub const DEFAULT_READERS: usize = 4;

type Deliver = Box<dyn FnOnce(Option<String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Deliver) + Send>;

/// SQLite implementation of [`Store`](crate::storage::Store).
pub struct SqliteStore {
    path: PathBuf,
    writer: mpsc::Sender<Job>,
    readers: pool::ReadPool,
    identities: crate::storage::identity::CipherSlot,
}

impl SqliteStore {
    /// Copies the WAL into the database file and empties it (best effort), so content rewritten by the
    /// last writes is gone from both files.
    async fn checkpoint(&self) {
        let path = self.path.clone();
        let done = tokio::task::spawn_blocking(move || {
            let c = open_connection(&path)?;
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        })
        .await;
        if !matches!(done, Ok(Ok(()))) {
            tracing::warn!(?done, "WAL checkpoint failed");
        }
    }
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
    // Connections live as long as the store: keep the statements of every hot path prepared.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
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
    /// Opens (creating if needed) the database at `path` and starts its writer thread and
    /// [`DEFAULT_READERS`] reader threads.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with(path, DEFAULT_READERS)
    }

    /// [`SqliteStore::open`] with `readers` reader threads (at least one).
    pub fn open_with(path: &Path, readers: usize) -> anyhow::Result<Self> {
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
        // Deleted and rewritten content is zeroed, so an erased or re-sealed identity leaves no copy in free
        // pages of the file.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(&conn, &rx))?;
        Ok(Self {
            path: path.to_owned(),
            writer: tx,
            readers: pool::ReadPool::start(path, readers)?,
            identities: crate::storage::identity::CipherSlot::default(),
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
        self.readers.run(f).await
    }
}

fn append_timeline(conn: &Connection, e: &TimelineRecord) -> Result<()> {
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
fn upsert_report(conn: &Connection, r: &Report) -> Result<()> {
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

/// The head of `origin` (the default when nothing of it is held).
fn head(c: &Connection, origin: &str) -> Result<HeldHead> {
    Ok(
        c.prepare_cached("SELECT head_seq, head_id, frozen FROM origins WHERE origin = ?1")?
            .query_row([origin], |r| {
                Ok(HeldHead {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    frozen: r.get::<_, i64>(2)? != 0,
                })
            })
            .optional()?
            .unwrap_or_default(),
    )
}

fn set_head(c: &Connection, origin: &str, seq: i64, id: &str, now: Millis) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO origins (origin, head_seq, head_id, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (origin) DO UPDATE SET head_seq = excluded.head_seq, head_id = excluded.head_id, \
         updated_at = excluded.updated_at",
    )?
    .execute(params![origin, seq, id, now])?;
    Ok(())
}

fn owner(c: &Connection, report_id: &str) -> Result<Option<OwnerRow>> {
    Ok(c.prepare_cached(
        "SELECT report_id, owner, epoch, last_event_id FROM report_owner WHERE report_id = ?1",
    )?
    .query_row([report_id], |r| {
        Ok(OwnerRow {
            report_id: r.get(0)?,
            owner: r.get(1)?,
            epoch: r.get(2)?,
            last_event_id: r.get(3)?,
        })
    })
    .optional()?)
}

/// Records who owns a report, at which epoch, and its latest event.
fn set_owner(
    c: &Connection,
    report_id: &str,
    owner: &str,
    epoch: i64,
    last: Option<&str>,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO report_owner (report_id, owner, epoch, last_event_id) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (report_id) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch, \
         last_event_id = excluded.last_event_id",
    )?
    .execute(params![report_id, owner, epoch, last])?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn insert_event(
    c: &Connection,
    id: &str,
    origin: &str,
    seq: i64,
    kind: &str,
    report_id: &str,
    epoch: i64,
    authored_at: Millis,
    wire: &[u8],
    now: Millis,
    state: &str,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO events (id, origin, origin_seq, kind, report_id, report_epoch, authored_at, wire, \
         received_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![id, origin, seq, kind, report_id, epoch, authored_at, wire, now, state])?;
    Ok(())
}

fn enqueue(c: &Connection, destinations: &[String], id: &str, now: Millis) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO outbox (destination, event_id, created_at) VALUES (?1, ?2, ?3)",
    )?;
    for d in destinations {
        stmt.execute(params![d, id, now])?;
    }
    Ok(())
}
