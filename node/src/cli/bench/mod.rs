//! `lapor bench`: the benchmark suite. Every part measures our figure and the machine's limit it is judged
//! against in the same run and prints one line per metric, `name ours limit ratio` followed by the unit, the
//! budget (DESIGN section 7) with `met` or `missed`, and the raw numbers ([`line`], [`budget_line`]). Each
//! part runs alone (`lapor bench intake`, `read`, `memory`, `size`, `stats`, `ingest`, `catchup`, `lag`), `lapor bench all` runs
//! every part of [`ALL`] in turn, and `--quick` makes any of them a short run that CI does so the suite never
//! rots (no timing is asserted anywhere).
//!
//! The parts that measure from outside (`intake`, `read`, `memory`) start this same binary as a real
//! `lapor serve` child on 127.0.0.1 ([`server`]) and load it with a small keep-alive HTTP client ([`load`]).
//!
//! The federation parts (`ingest`, `catchup`, `lag`) share synthetic signed events of one origin
//! ([`make_events`]) and a scratch hub node on SQLite or on a scratch PostgreSQL database ([`scratch`]);
//! `catchup` and `lag` run real node processes ([`procs`]).

pub mod catchup;
pub mod ingest;
pub mod intake;
pub mod lag;
pub mod load;
pub mod memory;
mod procs;
pub mod read;
pub mod server;
pub mod size;
pub mod stats;

use clap::{Parser as _, Subcommand};

/// Every part `lapor bench all` runs, in this order: a new part is one line here (and its variant in
/// [`Part`]). Each runs with its defaults, plus `--quick` when `all` has it.
pub const ALL: &[&str] = &[
    "size", "intake", "read", "memory", "stats", "ingest", "catchup", "lag",
];

/// A part of the suite.
#[derive(Debug, Subcommand)]
pub enum Part {
    /// Every part in turn ([`ALL`]).
    All {
        /// A short run of every part (CI).
        #[arg(long)]
        quick: bool,
    },
    /// Durable intake through a real server: throughput (closed loop) and open-loop p50/p99/p99.9 at a fixed
    /// rate, beside a bare insert+fsync loop on the same disk.
    Intake(intake::Args),
    /// Report views through a real server, JSON (`/api/v1/reports/{code}`) and HTML (`/track/{code}`),
    /// beside `/healthz`.
    Read(read::Args),
    /// Resident set of a real server idle and under intake and read load.
    Memory(memory::Args),
    /// Size of this binary.
    Size,
    /// Load this many reports with realistic timelines and time the statistics (one agency's dashboard, the
    /// national monthly recap, the public page) beside the 50 ms target.
    Stats {
        /// Reports to load.
        #[arg(long, default_value_t = 100_000)]
        reports: usize,
        /// Database: `sqlite` (a temporary file) or a `postgres://` URL to create a scratch database next to.
        #[arg(long, default_value = "sqlite")]
        database: String,
        /// A short run (CI): 2,000 reports.
        #[arg(long)]
        quick: bool,
    },
    /// Hub ingest (verify + store + apply) single and batched, on SQLite and PostgreSQL, beside the raw and
    /// batch ed25519 verify rates of the same events and a bare multi-row insert.
    Ingest(ingest::Args),
    /// Catch-up of N events into an empty regional node from a hub, two processes over real HTTP.
    Catchup(catchup::Args),
    /// Lag from a regional node to the hub (p50, p99) at a steady rate, and the backlog drain after a
    /// partition heals, two processes at the default configuration.
    Lag(lag::Args),
}

/// `lapor bench <part>` as clap parses it, for [`Part::All`] to build each part with its defaults.
#[derive(Debug, clap::Parser)]
#[command(name = "bench")]
struct One {
    #[command(subcommand)]
    part: Part,
}

/// Runs one part of the suite (or every part).
pub async fn run(part: Part) -> anyhow::Result<()> {
    match part {
        Part::All { quick } => {
            header();
            for name in ALL {
                let mut argv = vec!["bench", name];
                if quick && *name != "size" {
                    argv.push("--quick");
                }
                let one = One::try_parse_from(argv)?;
                println!("# {name}");
                Box::pin(run_one(one.part)).await?;
            }
            Ok(())
        }
        part => {
            header();
            run_one(part).await
        }
    }
}

async fn run_one(part: Part) -> anyhow::Result<()> {
    match part {
        Part::All { .. } => anyhow::bail!("`all` does not contain itself"),
        Part::Intake(args) => intake::run(&args).await,
        Part::Read(args) => read::run(&args).await,
        Part::Memory(args) => memory::run(&args).await,
        Part::Size => size::run(),
        Part::Stats {
            reports,
            database,
            quick,
        } => stats::run(if quick { 2000 } else { reports }, &database).await,
        Part::Ingest(args) => ingest::run(&args).await,
        Part::Catchup(args) => catchup::run(&args).await,
        Part::Lag(args) => lag::run(&args).await,
    }
}

/// Prints one metric: `name ours limit ratio` (ratio = ours / limit), then the unit and the raw numbers.
pub fn line(name: &str, ours: f64, limit: f64, unit: &str, raw: &str) {
    let ratio = if limit > 0.0 { ours / limit } else { f64::NAN };
    println!("{name:<34} {ours:>12.1} {limit:>12.1} {ratio:>7.3}  {unit}; {raw}");
}

/// The header line of [`line`]'s columns.
pub fn header() {
    println!(
        "{:<34} {:>12} {:>12} {:>7}  unit; raw",
        "name", "ours", "limit", "ratio"
    );
}

/// A budget of DESIGN section 7 a figure is held to.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// No budget for this figure (it is printed for the picture).
    None,
    /// The figure must be at least this.
    AtLeast(f64),
    /// The figure must be at most this.
    AtMost(f64),
}

impl Budget {
    /// `budget >= 2000: met` and the like.
    pub fn verdict(self, ours: f64) -> String {
        let tidy = |b: f64| {
            if b >= 100.0 {
                format!("{b:.0}")
            } else {
                format!("{b}")
            }
        };
        let met = |ok: bool| if ok { "met" } else { "missed" };
        match self {
            Budget::None => "no budget".into(),
            Budget::AtLeast(b) => format!("budget >= {}: {}", tidy(b), met(ours >= b)),
            Budget::AtMost(b) => format!("budget <= {}: {}", tidy(b), met(ours <= b)),
        }
    }
}

/// [`line`] with the budget's verdict before the raw numbers.
pub fn budget_line(name: &str, ours: f64, limit: f64, unit: &str, budget: Budget, raw: &str) {
    line(
        name,
        ours,
        limit,
        unit,
        &format!("{}; {raw}", budget.verdict(ours)),
    );
}

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use lapor_federation::{Event, EventKind, SignedEvent};

use crate::config::{Config, NodeRole};
use crate::domain::{Report, SystemClock, TimelineRecord};
use crate::federation::payload::{self, ReportPayload};
use crate::node::Node;
use crate::storage::{KeyRow, PeerRecord};

const ORIGIN: &str = "bench-origin";

fn sample_report(origin: &str, i: usize, now: i64) -> (Report, TimelineRecord) {
    let id = format!("{origin}:{}", ulid::Ulid::new());
    let report = Report {
        id: id.clone(),
        tracking_code: format!("BEN-{i:010}"),
        secret_hash: "0".repeat(64),
        kind: lapor_schemas::ReportKind::Complaint,
        title: format!("Jalan berlubang di Oebobo nomor {i}"),
        body: "Jalan di depan pasar rusak parah sejak musim hujan, banyak pengendara motor jatuh. "
            .repeat(4),
        category_id: Some("infrastruktur".into()),
        agency_id: None,
        agency_path: None,
        region_code: Some("53.71".into()),
        lat_e6: Some(-10_170_000),
        lon_e6: Some(123_600_000),
        address: Some("Jl. Soeharto, Oebobo".into()),
        incident_date: None,
        anonymous: false,
        confidential: false,
        channel: lapor_schemas::Channel::Web,
        status: lapor_schemas::ReportStatus::Submitted,
        submitted_at: now,
        updated_at: now,
        verified_at: None,
        responded_at: None,
        closed_at: None,
        verification_due_at: Some(now + 3 * 86_400_000),
        followup_due_at: None,
        autocomplete_at: None,
        escalation_at: None,
        verification_overdue: false,
        followup_overdue: false,
        escalated: false,
        archive_reason: None,
        duplicate_of: None,
        rating_score: None,
        rating_comment: None,
        reporter_user_id: None,
        created_by: None,
        version: 1,
    };
    let entry = TimelineRecord {
        report_id: id,
        seq: 1,
        at: now,
        action: lapor_schemas::TimelineAction::Created,
        actor_role: "reporter".into(),
        actor_id: None,
        actor_name: None,
        agency_id: None,
        from_status: None,
        to_status: Some(lapor_schemas::ReportStatus::Submitted),
        note: None,
    };
    (report, entry)
}

/// Signs `n` chained `report.created` events of a synthetic origin.
pub fn make_events(key: &SigningKey, key_id: &str, n: usize) -> anyhow::Result<Vec<SignedEvent>> {
    Ok(events_of(ORIGIN, key, key_id, n)?
        .into_iter()
        .map(|(e, _, _)| e)
        .collect())
}

/// Signs `n` chained `report.created` events of `origin`, each with the report and entry it carries.
fn events_of(
    origin: &str,
    key: &SigningKey,
    key_id: &str,
    n: usize,
) -> anyhow::Result<Vec<(SignedEvent, Report, TimelineRecord)>> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut out: Vec<(SignedEvent, Report, TimelineRecord)> = Vec::with_capacity(n);
    for i in 0..n {
        let (report, entry) = sample_report(origin, i, now);
        let body = ReportPayload {
            entry: payload::entry_payload(&entry),
            state: payload::state_payload(&report),
            identity: None,
        };
        let event = Event {
            v: 1,
            kind: EventKind::REPORT_CREATED.to_string(),
            origin: origin.into(),
            origin_seq: i as u64 + 1,
            origin_prev: out.last().map(|(e, _, _)| e.id()),
            report_id: report.id.clone(),
            report_epoch: 0,
            report_prev: Vec::new(),
            authored_at_ms: now,
            key_id: key_id.into(),
            payload: payload::encode(&body).map_err(|e| anyhow::anyhow!(e))?,
            blobs: Vec::new(),
        };
        out.push((event.sign(key)?, report, entry));
    }
    Ok(out)
}

struct Scratch {
    node: Node,
    url: String,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

async fn scratch(database: &str, key: &SigningKey) -> anyhow::Result<Scratch> {
    let dir = tempfile::tempdir()?;
    let (url, pg) = if database == "sqlite" {
        (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            None,
        )
    } else {
        use sqlx::Connection;
        let name = format!(
            "lapor_bench_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let mut conn = sqlx::PgConnection::connect(database).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        let mut u = url::Url::parse(database)?;
        u.set_path(&format!("/{name}"));
        (u.to_string(), Some((database.to_owned(), name)))
    };
    let mut config = Config::default();
    config.node.id = "bench-hub".into();
    config.node.role = NodeRole::Hub;
    config.node.data_dir = dir.path().to_owned();
    let store = crate::storage::open(&url).await?;
    let url = url.clone();
    let node = Node::new(config, store, Arc::new(SystemClock))?;
    node.init().await?;
    let public = key.verifying_key();
    node.store
        .key_upsert(&KeyRow {
            origin: ORIGIN.into(),
            key_id: lapor_federation::keys::key_id_for(&public),
            public_key: hex::encode(public.as_bytes()),
            enc_public: None,
            valid_from_seq: 1,
            retired_after_seq: None,
            revoked_from_seq: None,
        })
        .await?;
    node.store
        .peer_upsert(&PeerRecord::new(
            ORIGIN,
            ORIGIN,
            "http://127.0.0.1:9",
            "regional",
            Vec::new(),
            None,
            node.now(),
        ))
        .await?;
    node.fed.reload(&node.store).await?;
    Ok(Scratch {
        node,
        url,
        _dir: dir,
        pg,
    })
}

async fn drop_scratch(s: Scratch) -> anyhow::Result<()> {
    let Scratch { node, _dir, pg, .. } = s;
    drop(node);
    if let Some((admin, name)) = pg {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}
