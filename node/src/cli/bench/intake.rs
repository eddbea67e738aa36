//! `lapor bench intake`: durable intake through the real server (`POST /api/v1/reports` on a `lapor serve`
//! child, SQLite `synchronous=FULL`), beside a bare insert-and-fsync loop on the same disk. Throughput is a
//! closed loop of many connections (group commit is how intake beats the fsync rate); latency is an open
//! loop at a fixed rate, each request timed from when it was meant to leave (DESIGN section 7: >= 2,000/s,
//! p99 <= 25 ms at 500 req/s).

use std::time::{Duration, Instant};

use super::load::{self, Request};
use super::server::{report_body, Server};
use super::{budget_line, Budget};

/// Options of the intake part.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Seconds of each measured phase.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Connections of the throughput phase.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Requests per second of the open-loop phase.
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Inserts of the bare fsync loop.
    #[arg(long, default_value_t = 2000)]
    pub fsync_inserts: u64,
    /// A short run (CI): 1 s phases, 100 fsync inserts.
    #[arg(long)]
    pub quick: bool,
}

/// What the bare loop measured: commits per second and commit latencies in microseconds (sorted).
pub struct FsyncLoop {
    /// Commits per second.
    pub rate: f64,
    /// Sorted commit latencies, microseconds.
    pub latencies_us: Vec<u64>,
}

/// One insert of a report-sized row per transaction on a WAL database with `synchronous=FULL` in `dir`: the
/// disk's durable-commit rate without any of the node's work.
pub fn fsync_loop(dir: &std::path::Path, inserts: u64) -> anyhow::Result<FsyncLoop> {
    let path = dir.join("fsync-loop.db");
    let c = rusqlite::Connection::open(&path)?;
    c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    c.execute_batch(
        "PRAGMA synchronous = FULL; CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
    )?;
    let body = vec![b'x'; 1500];
    let mut latencies = Vec::with_capacity(inserts as usize);
    let start = Instant::now();
    for _ in 0..inserts {
        let t = Instant::now();
        c.execute("INSERT INTO t (body) VALUES (?1)", [&body])?;
        latencies.push(t.elapsed().as_micros() as u64);
    }
    let rate = inserts as f64 / start.elapsed().as_secs_f64();
    drop(c);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    latencies.sort_unstable();
    Ok(FsyncLoop {
        rate,
        latencies_us: latencies,
    })
}

/// Runs the part.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let (secs, fsyncs) = if args.quick {
        (1.0, 100)
    } else {
        (args.secs, args.fsync_inserts)
    };
    let server = Server::start()?;
    let dir = server.scratch_dir().to_owned();
    let bare = tokio::task::spawn_blocking(move || fsync_loop(&dir, fsyncs)).await??;
    let addr = server.addr;
    let post = |i: u64| Request::post_json("/api/v1/reports", &[], &report_body(i));

    let thr =
        load::closed_loop(addr, args.connections, Duration::from_secs_f64(secs), post).await?;
    budget_line(
        "intake.durable",
        thr.rate(),
        bare.rate,
        "reports/s",
        Budget::AtLeast(2000.0),
        &format!(
            "{} in {:.1} s over {} connections; limit: one insert+fsync per commit, {fsyncs} commits",
            thr.counts(),
            thr.secs,
            thr.connections
        ),
    );
    let open = load::open_loop(addr, args.rate, Duration::from_secs_f64(secs), post).await?;
    let bare_q = |q| load::quantile(&bare.latencies_us, q) as f64 / 1000.0;
    let raw = format!(
        "{:.0} req/s open loop for {:.1} s, {}, {} connections; latency from the intended send time",
        args.rate,
        open.secs,
        open.counts(),
        open.connections
    );
    budget_line(
        "intake.open_loop.p50",
        open.quantile_ms(0.50),
        bare_q(0.50),
        "ms",
        Budget::None,
        &raw,
    );
    budget_line(
        "intake.open_loop.p99",
        open.quantile_ms(0.99),
        bare_q(0.99),
        "ms",
        Budget::AtMost(25.0),
        "limit: p99 of one insert+fsync commit",
    );
    budget_line(
        "intake.open_loop.p99.9",
        open.quantile_ms(0.999),
        bare_q(0.999),
        "ms",
        Budget::None,
        &format!("max {:.1} ms", open.quantile_ms(1.0)),
    );
    Ok(())
}
