//! `lapor bench memory`: the resident set of a `lapor serve` child when idle and under load: intake at a
//! fixed rate (open loop) while 32 connections read report views and pages, sampled every 50 ms from
//! `/proc` (DESIGN section 7: <= 64 MB at 500 req/s). The thread count is printed beside it: every thread
//! brings its own stack and allocator arena.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::load::{self, Request};
use super::server::{report_body, seed_reports, Server};
use super::{budget_line, Budget};

/// Options of the memory part.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Seconds under load.
    #[arg(long, default_value_t = 20.0)]
    pub secs: f64,
    /// Intake requests per second during the load.
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Reading connections during the load.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// A short run (CI): 2 s of load.
    #[arg(long)]
    pub quick: bool,
}

/// Runs the part.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let secs = if args.quick { 2.0 } else { args.secs };
    let server = Arc::new(Server::start()?);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.rss_mib()?;
    let idle_threads = server.status_field("Threads")?;
    let codes = Arc::new(seed_reports(&server, 20).await?);

    let stop = Arc::new(AtomicBool::new(false));
    let (peak_kb, peak_threads) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let sampler = {
        let (server, stop) = (Arc::clone(&server), Arc::clone(&stop));
        let (peak_kb, peak_threads) = (Arc::clone(&peak_kb), Arc::clone(&peak_threads));
        tokio::task::spawn_blocking(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(kb) = server.status_field("VmRSS") {
                    peak_kb.fetch_max(kb, Ordering::Relaxed);
                }
                if let Ok(n) = server.status_field("Threads") {
                    peak_threads.fetch_max(n, Ordering::Relaxed);
                }
                #[allow(clippy::disallowed_methods)]
                // a blocking sampler thread, not the async runtime
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let d = Duration::from_secs_f64(secs);
    let readers = {
        let codes = Arc::clone(&codes);
        load::closed_loop(server.addr, args.connections, d, move |i| {
            let code = &codes[(i % codes.len() as u64) as usize];
            if i % 2 == 0 {
                Request::get(&format!("/api/v1/reports/{code}"), &[])
            } else {
                Request::get(&format!("/track/{code}"), &[])
            }
        })
    };
    let intake = load::open_loop(server.addr, args.rate, d, |i| {
        Request::post_json("/api/v1/reports", &[], &report_body(i))
    });
    let (readers, intake) = tokio::join!(readers, intake);
    let (readers, intake) = (readers?, intake?);
    stop.store(true, Ordering::Relaxed);
    sampler.await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = server.rss_mib()?;
    let peak = peak_kb.load(Ordering::Relaxed) as f64 / 1024.0;
    budget_line(
        "memory.rss_idle",
        idle,
        64.0,
        "MiB",
        Budget::AtMost(64.0),
        &format!("{idle_threads} threads; limit: the budget (no physical limit)"),
    );
    budget_line(
        "memory.rss_under_load",
        peak,
        64.0,
        "MiB",
        Budget::AtMost(64.0),
        &format!(
            "peak over {secs:.0} s of {:.0} intake req/s ({}, p99 {:.1} ms) and {} reading connections \
             ({:.0} req/s, {}); {} threads at most; {after:.1} MiB 1 s after; limit: the budget",
            args.rate,
            intake.counts(),
            intake.quantile_ms(0.99),
            readers.connections,
            readers.rate(),
            readers.counts(),
            peak_threads.load(Ordering::Relaxed),
        ),
    );
    Ok(())
}
