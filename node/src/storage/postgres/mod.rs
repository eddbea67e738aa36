//! PostgreSQL storage: a [`sqlx::PgPool`], one transaction per domain method that writes more than one row.
//!
//! The semantics follow [`super::sqlite::SqliteStore`] exactly (the conformance suite in `node/tests/storage.rs`
//! holds both to them): a unique violation is [`StorageError::Conflict`], any other integrity violation
//! (a missing referenced row, a check, the timeline's immutability trigger) is [`StorageError::Invalid`].
//! Several `lapor` processes may share one database: every guarded change is a single conditional `UPDATE`
//! or `DELETE` whose row lock serialises competing writers, and migrations take sqlx's advisory lock.
//! Text is ordered with `COLLATE "C"` so that lists come out in the same (byte) order as on SQLite,
//! whatever the database's default collation.
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
mod reports;
mod rows;
mod sms;
mod stats;
mod transfers;

use std::time::Duration;

use anyhow::Context as _;
use lapor_schemas::ReportStatus;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::PgConnection;

use self::rows::{
    bind_report, fetch_optional, head_from_row, owner_from_row, REPORT_COLS, REPORT_NCOLS,
    TIMELINE_COLS,
};
use crate::domain::{Millis, Report, TimelineRecord};
use crate::storage::decide::HeldHead;
use crate::storage::{Conflict, OwnerRow, Result, StorageError};

/// Most connections one process keeps open.
const MAX_CONNECTIONS: u32 = 16;
/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL implementation of [`Store`](crate::storage::Store).
pub struct PgStore {
    pool: PgPool,
    identities: crate::storage::identity::CipherSlot,
}

impl PgStore {
    /// Connects to the database `url` names.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        // `application_name = lapor`: `lapor restore` refuses while any such connection is open.
        let options = url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .with_context(|| format!("database URL {} is not valid", super::redact_url(url)))?
            .application_name("lapor");
        // One connection first: the pool would only say "pool timed out while waiting for an open
        // connection"; a single attempt says why (refused, unknown host, authentication, missing database).
        let redacted = super::redact_url(url);
        match tokio::time::timeout(
            ACQUIRE_TIMEOUT,
            sqlx::ConnectOptions::connect(&options),
        )
        .await
        {
            Err(_) => anyhow::bail!(
                "PostgreSQL at {redacted} did not answer within {} s (timed out: host down or a firewall \
                 drops the packets) / PostgreSQL tidak menjawab",
                ACQUIRE_TIMEOUT.as_secs()
            ),
            Ok(Err(e)) => anyhow::bail!(
                "cannot connect to PostgreSQL at {redacted}: {e} / tidak dapat terhubung ke PostgreSQL"
            ),
            Ok(Ok(conn)) => drop(conn),
        }
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {}", super::redact_url(url)))?;
        Ok(Self {
            pool,
            identities: crate::storage::identity::CipherSlot::default(),
        })
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

/// A page size as SQLite reads it: negative means no limit (`LIMIT NULL` is `LIMIT ALL` here).
fn sql_limit(limit: i64) -> Option<i64> {
    (limit >= 0).then_some(limit)
}

/// Appends `e` with the next `seq` of its report. Run inside the caller's transaction, after the report row
/// was inserted or updated (which locks it, so concurrent appends to one report cannot pick the same `seq`).
async fn append_timeline(conn: &mut sqlx::PgConnection, e: &TimelineRecord) -> Result<()> {
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
async fn upsert_report(conn: &mut sqlx::PgConnection, r: &Report) -> Result<()> {
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

/// Locks the row of `origin` in `origins` until the end of the transaction, creating a placeholder row
/// (head 0, not frozen) first if the origin has none, and returns its head. A placeholder is either replaced
/// by [`set_head`] or removed by [`drop_placeholders`] before the transaction commits.
async fn lock_origin(c: &mut PgConnection, origin: &str, now: Millis) -> Result<HeldHead> {
    loop {
        let row = sqlx::query(
            "SELECT head_seq, head_id, frozen FROM origins WHERE origin = $1 FOR UPDATE",
        )
        .bind(origin)
        .fetch_optional(&mut *c)
        .await?;
        if let Some(row) = row {
            return head_from_row(&row);
        }
        // Waits for a concurrent insert of the same row to end; then the SELECT above finds (and locks) it.
        sqlx::query(
            "INSERT INTO origins (origin, head_seq, head_id, frozen, updated_at) VALUES ($1, 0, NULL, 0, $2) \
             ON CONFLICT (origin) DO NOTHING",
        )
        .bind(origin)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
}

async fn set_head(
    c: &mut PgConnection,
    origin: &str,
    seq: i64,
    id: &str,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO origins (origin, head_seq, head_id, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (origin) DO UPDATE SET head_seq = EXCLUDED.head_seq, head_id = EXCLUDED.head_id, \
         updated_at = EXCLUDED.updated_at",
    )
    .bind(origin)
    .bind(seq)
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

const OWNER_SQL: &str =
    "SELECT report_id, owner, epoch, last_event_id FROM report_owner WHERE report_id = $1";

async fn owner(c: &mut PgConnection, report_id: &str) -> Result<Option<OwnerRow>> {
    owner_where(c, report_id, OWNER_SQL).await
}

/// [`owner`], locking the row until the end of the transaction.
async fn owner_for_update(c: &mut PgConnection, report_id: &str) -> Result<Option<OwnerRow>> {
    owner_where(c, report_id, &format!("{OWNER_SQL} FOR UPDATE")).await
}

async fn owner_where(c: &mut PgConnection, report_id: &str, sql: &str) -> Result<Option<OwnerRow>> {
    fetch_optional(sqlx::query(sql).bind(report_id), &mut *c, owner_from_row).await
}

async fn set_owner(
    c: &mut PgConnection,
    report_id: &str,
    owner: &str,
    epoch: i64,
    last: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO report_owner (report_id, owner, epoch, last_event_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (report_id) DO UPDATE SET owner = EXCLUDED.owner, epoch = EXCLUDED.epoch, \
         last_event_id = EXCLUDED.last_event_id",
    )
    .bind(report_id)
    .bind(owner)
    .bind(epoch)
    .bind(last)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The columns of an `events` row, in the order [`insert_event`] binds them.
struct NewEvent<'a> {
    id: &'a str,
    origin: &'a str,
    seq: i64,
    kind: &'a str,
    report_id: &'a str,
    epoch: i64,
    authored_at: Millis,
    wire: &'a [u8],
    now: Millis,
    state: &'a str,
}

async fn insert_event(c: &mut PgConnection, e: &NewEvent<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (id, origin, origin_seq, kind, report_id, report_epoch, authored_at, wire, \
         received_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(e.id)
    .bind(e.origin)
    .bind(e.seq)
    .bind(e.kind)
    .bind(e.report_id)
    .bind(e.epoch)
    .bind(e.authored_at)
    .bind(e.wire)
    .bind(e.now)
    .bind(e.state)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn enqueue(
    c: &mut PgConnection,
    destinations: &[String],
    id: &str,
    now: Millis,
) -> Result<()> {
    for d in destinations {
        sqlx::query("INSERT INTO outbox (destination, event_id, created_at) VALUES ($1, $2, $3)")
            .bind(d)
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}
