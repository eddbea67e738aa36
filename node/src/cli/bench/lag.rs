//! `lapor bench lag`: how long an event authored on a regional node takes to be applied at the hub, with two
//! real processes at the default configuration ([`super::procs`]): reports are filed through the regional
//! node's API at a steady rate (open loop), and every event's lag is the hub's apply time minus its authoring
//! time (both nodes read the same clock), from the hub's own database. Then the link is cut both ways, a
//! backlog is filed on the regional node, the link heals, and the drain is the time from the heal until the
//! hub holds the regional node's whole log.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::line;
use super::procs::{head_of, Pair};

/// Lag the budget allows at p99, in milliseconds (DESIGN section 7).
const LAG_BUDGET_MS: f64 = 1000.0;
/// Seconds the budget allows for draining a backlog of 10,000 after a partition heals.
const DRAIN_BUDGET_S: f64 = 10.0;

/// `lapor bench lag`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reports filed per second on the regional node in the steady phase.
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// Seconds of the steady phase.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Reports filed while the link is cut (the backlog drained after it heals).
    #[arg(long, default_value_t = 10_000)]
    pub backlog: usize,
    /// A short run (3 s at 10/s, a backlog of 200) that only shows the part still works.
    #[arg(long)]
    pub quick: bool,
}

fn report_body(i: usize) -> serde_json::Value {
    serde_json::json!({
        "kind": "complaint",
        "title": format!("Lampu jalan mati di gang {i}"),
        "body": "Lampu jalan mati sejak seminggu, jalan gelap dan rawan kecelakaan bagi pengendara.",
    })
}

async fn file(http: &reqwest::Client, base: &str, i: usize) -> anyhow::Result<()> {
    let r = http
        .post(format!("{base}/api/v1/reports"))
        .json(&report_body(i))
        .send()
        .await?;
    anyhow::ensure!(
        r.status().as_u16() == 201,
        "filing answered {}: {}",
        r.status(),
        r.text().await.unwrap_or_default()
    );
    Ok(())
}

/// Waits until the hub holds `origin`'s log up to the regional node's head; the time it took.
async fn converge(pair: &Pair, limit: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let want = head_of(&pair.regional.db(), &pair.regional.id)?;
    loop {
        if head_of(&pair.hub.db(), &pair.regional.id)? >= want {
            return Ok(start.elapsed());
        }
        anyhow::ensure!(
            start.elapsed() < limit,
            "the hub did not reach the regional node's head {want} within {} s",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the benchmark and prints the figures.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let (rate, seconds, backlog) = if args.quick {
        (10, 3, 200)
    } else {
        (args.rate.max(1), args.seconds.max(1), args.backlog)
    };
    let mut pair = Pair::new(&[]).await?;
    pair.hub.start().await?;
    pair.regional.start().await?;
    let http = reqwest::Client::new();
    let base = pair.regional.base();
    // Whatever the nodes author on their first start reaches the hub before the clock starts.
    converge(&pair, Duration::from_secs(60)).await?;
    let first_seq = head_of(&pair.regional.db(), &pair.regional.id)?;

    // Steady: open loop, each report at its intended time.
    let n = rate as usize * seconds as usize;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let at = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
        tokio::time::sleep_until(at.into()).await;
        let (http, base) = (http.clone(), base.clone());
        tasks.push(crate::tasks::spawn_named("bench-file", async move {
            if let Err(e) = file(&http, &base, i).await {
                eprintln!("filing failed: {e:#}");
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    converge(&pair, Duration::from_secs(120)).await?;
    let mut lags: Vec<f64> = {
        let c = rusqlite::Connection::open_with_flags(
            pair.hub.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let mut stmt = c.prepare(
            "SELECT received_at - authored_at FROM events WHERE origin = ?1 AND origin_seq > ?2 \
             AND kind = 'report.created'",
        )?;
        let rows = stmt.query_map(rusqlite::params![pair.regional.id, first_seq], |r| {
            r.get::<_, i64>(0)
        })?;
        rows.map(|r| r.map(|ms| ms as f64))
            .collect::<Result<_, _>>()?
    };
    lags.sort_by(f64::total_cmp);
    anyhow::ensure!(
        lags.len() == n,
        "{} of {n} filed reports reached the hub",
        lags.len()
    );
    let raw = format!(
        "{n} reports at {rate}/s over {seconds} s, default configuration (poll 5,000 ms); limit the budget"
    );
    line(
        "lag.p50",
        percentile(&lags, 50.0),
        LAG_BUDGET_MS,
        "ms",
        &raw,
    );
    line(
        "lag.p99",
        percentile(&lags, 99.0),
        LAG_BUDGET_MS,
        "ms",
        &raw,
    );
    line(
        "lag.max",
        lags.last().copied().unwrap_or(f64::NAN),
        LAG_BUDGET_MS,
        "ms",
        &raw,
    );

    // A partition: the backlog is filed while the link is cut, then the link heals.
    pair.partition(true);
    let t = Instant::now();
    let filed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (http, base, filed) = (http.clone(), base.clone(), filed.clone());
        workers.push(crate::tasks::spawn_named("bench-file", async move {
            loop {
                let i = filed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= backlog {
                    return;
                }
                if let Err(e) = file(&http, &base, n + i).await {
                    eprintln!("filing failed: {e:#}");
                }
            }
        }));
    }
    for w in workers {
        w.await.context("filing the backlog")?;
    }
    let filing = t.elapsed().as_secs_f64();
    pair.partition(false);
    let drain = converge(&pair, Duration::from_secs(300)).await?;
    line(
        "lag.drain",
        drain.as_secs_f64(),
        DRAIN_BUDGET_S * backlog as f64 / 10_000.0,
        "s",
        &format!(
            "backlog of {backlog} filed in {filing:.1} s while cut, from heal to the hub holding all; limit \
             the budget (10 s per 10,000)"
        ),
    );
    Ok(())
}
