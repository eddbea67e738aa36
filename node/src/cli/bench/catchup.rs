//! `lapor bench catchup`: a hub holding N events of its own log, an empty regional node enrolled with it (as
//! `lapor peers add` does, which queues the hub's whole log for it), both real processes over HTTP; the figure
//! is the time from starting the regional node until it holds all N, whichever way they came (the hub's
//! pushes of 200 or the regional node's catch-up pages of 1,000). The hub's log is written before it starts
//! through the same accept path received events take (signed chained `report.created` events with their
//! reports and timelines), so building it costs minutes, not the hours of filing a million reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::procs::{head_of, Proc, Relay};
use super::{events_of, line};
use crate::config::{Config, NodeRole};
use crate::domain::SystemClock;
use crate::node::Node;
use crate::storage::{Effect, Incoming};

/// Events the budget allows to catch up per second (1,000,000 in 60 s, DESIGN section 7).
const BUDGET_RATE: f64 = 1_000_000.0 / 60.0;
/// Events signed and stored per round while the hub's log is built.
const LOAD_BATCH: usize = 2000;

/// `lapor bench catchup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events in the hub's log.
    #[arg(long, default_value_t = 100_000)]
    pub events: usize,
    /// A short run (2,000 events) that only shows the part still works.
    #[arg(long)]
    pub quick: bool,
}

/// Writes `n` events of the hub's own log into its database (the process is not running yet).
async fn build_log(hub: &Proc, n: usize) -> anyhow::Result<()> {
    let mut config = Config::default();
    config.node.id.clone_from(&hub.id);
    config.node.role = NodeRole::Hub;
    config.node.data_dir.clone_from(&hub.dir);
    let store = crate::storage::open(&config.database_url()?).await?;
    let node = Node::new(config, store, Arc::new(SystemClock))?;
    node.init().await?;
    let (key, key_id) = {
        let keys = node.fed.keys();
        (keys.signing.clone(), keys.key_id.clone())
    };
    let origin = hub.id.clone();
    let events =
        tokio::task::spawn_blocking(move || events_of(&origin, &key, &key_id, n)).await??;
    let now = node.now();
    for chunk in events.chunks(LOAD_BATCH) {
        let items: Vec<Incoming> = chunk
            .iter()
            .map(|(e, report, entry)| Incoming {
                inbox_id: None,
                id: e.id().to_string(),
                origin: e.event().origin.clone(),
                origin_seq: e.event().origin_seq as i64,
                origin_prev: e.event().origin_prev.map(|p| p.to_string()),
                kind: e.event().kind.clone(),
                report_id: e.event().report_id.clone(),
                report_epoch: 0,
                authored_at: e.event().authored_at_ms,
                wire: e.wire_bytes().to_vec(),
                effect: Effect::Snapshot {
                    report: Box::new(report.clone()),
                    entry: entry.clone(),
                },
                destinations: Vec::new(),
            })
            .collect();
        node.store.events_accept(&items, now).await?;
    }
    let head = head_of(&hub.db(), &hub.id)?;
    anyhow::ensure!(
        head == n as i64,
        "the hub's log holds {head} events, not {n}"
    );
    Ok(())
}

/// Runs the benchmark and prints the figures.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let n = if args.quick {
        args.events.min(2000)
    } else {
        args.events.max(1)
    };
    let root = tempfile::tempdir()?;
    let mut hub = Proc::new(root.path(), "bench-hub", "HUB", "hub", &[])?;
    let mut regional = Proc::new(root.path(), "bench-kupang", "KPG", "regional", &[])?;
    let t = Instant::now();
    build_log(&hub, n).await?;
    let built = t.elapsed().as_secs_f64();
    let up = Relay::start(hub.port).await?;
    let down = Relay::start(regional.port).await?;
    hub.enrol(&regional, "regional", &down.base())?;
    regional.enrol(&hub, "hub", &up.base())?;
    hub.start().await?;
    let want = head_of(&hub.db(), &hub.id)?.max(n as i64);
    let t = Instant::now();
    regional.start().await?;
    loop {
        let have = head_of(&regional.db(), &hub.id)?;
        if have >= want {
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(3600),
            "the regional node holds {have} of {want} events after an hour"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = want as f64 / secs;
    line(
        "catchup.rate",
        rate,
        BUDGET_RATE,
        "events/s",
        &format!(
            "{want} events into an empty regional node in {secs:.1} s from its start (log built in {built:.1} s); \
             limit the budget (1,000,000 in 60 s)"
        ),
    );
    line(
        "catchup.1m_seconds",
        1_000_000.0 / rate,
        60.0,
        "s",
        "1,000,000 events at the measured rate; limit the budget",
    );
    drop((up, down));
    Ok(())
}
