//! `lapor bench read`: how many report views a `lapor serve` child answers per second, beside what it answers
//! of `/healthz` (no database, no rendering: the HTTP stack and this client on this machine) in the same
//! run. Reports are filed and half of them verified to an agency first; each request asks for the next one
//! of them, as the public would (DESIGN section 7: public report page >= 5,000 req/s).

use std::sync::Arc;
use std::time::Duration;

use super::load::{self, Request};
use super::server::{seed_reports, Server};
use super::{budget_line, Budget};

/// Options of the read part.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Seconds of each measured phase.
    #[arg(long, default_value_t = 5.0)]
    pub secs: f64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Reports filed before measuring (requests go round them).
    #[arg(long, default_value_t = 500)]
    pub reports: u64,
    /// A short run (CI): 1 s phases, 20 reports.
    #[arg(long)]
    pub quick: bool,
}

/// Runs the part.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let (secs, reports) = if args.quick {
        (1.0, 20)
    } else {
        (args.secs, args.reports)
    };
    anyhow::ensure!(reports > 0, "--reports must be at least 1");
    let server = Server::start()?;
    let codes: Arc<Vec<String>> = Arc::new(seed_reports(&server, reports).await?);
    let d = Duration::from_secs_f64(secs);
    let c = args.connections;
    let health = load::closed_loop(server.addr, c, d, |_| Request::get("/healthz", &[])).await?;
    let api = {
        let codes = Arc::clone(&codes);
        load::closed_loop(server.addr, c, d, move |i| {
            let code = &codes[(i % codes.len() as u64) as usize];
            Request::get(&format!("/api/v1/reports/{code}"), &[])
        })
        .await?
    };
    let page = {
        let codes = Arc::clone(&codes);
        load::closed_loop(server.addr, c, d, move |i| {
            let code = &codes[(i % codes.len() as u64) as usize];
            Request::get(&format!("/track/{code}"), &[("Accept-Language", "id")])
        })
        .await?
    };
    let raw = |r: &load::Run| {
        format!(
            "{} in {:.1} s over {} connections, p50 {:.2} ms, p99 {:.2} ms, {reports} reports; limit: /healthz {:.0}/s",
            r.counts(),
            r.secs,
            r.connections,
            r.quantile_ms(0.5),
            r.quantile_ms(0.99),
            health.rate()
        )
    };
    budget_line(
        "read.healthz",
        health.rate(),
        health.rate(),
        "req/s",
        Budget::None,
        &format!(
            "{} in {:.1} s over {c} connections",
            health.counts(),
            health.secs
        ),
    );
    budget_line(
        "read.report_get_api",
        api.rate(),
        health.rate(),
        "req/s",
        Budget::AtLeast(5000.0),
        &raw(&api),
    );
    budget_line(
        "read.report_page_html",
        page.rate(),
        health.rate(),
        "req/s",
        Budget::AtLeast(5000.0),
        &raw(&page),
    );
    Ok(())
}
