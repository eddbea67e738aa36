//! `/metrics`: Prometheus text exposition of the federation state (lag, backlog, refusals, heads) and the
//! process counters. Computed on each scrape from storage, so it is right after a restart.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::federation::status::Snapshot;

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders the metrics text of a snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let c = &s.counters;
    for (name, help, v) in [
        (
            "lapor_federation_received_events_total",
            "Events accepted into the inbox from pushes.",
            c.received,
        ),
        (
            "lapor_federation_rejected_events_total",
            "Events refused on arrival.",
            c.rejected,
        ),
        (
            "lapor_federation_rejected_requests_total",
            "Push requests refused as a whole.",
            c.rejected_requests,
        ),
        (
            "lapor_federation_applied_events_total",
            "Received events applied.",
            c.applied,
        ),
        (
            "lapor_federation_quarantined_events_total",
            "Events quarantined since start.",
            c.quarantined,
        ),
        (
            "lapor_federation_equivocations_total",
            "Equivocations detected since start.",
            c.equivocations,
        ),
        (
            "lapor_federation_sent_events_total",
            "Events acknowledged by peers.",
            c.sent,
        ),
        (
            "lapor_federation_push_failures_total",
            "Pushes that failed: no answer, a cut or malformed answer, or the whole request refused.",
            c.push_failures,
        ),
        (
            "lapor_federation_stale_requests_total",
            "Received pushes refused because their signed time is outside the window (request_time_skew).",
            c.stale_requests,
        ),
        (
            "lapor_federation_replayed_requests_total",
            "Received pushes refused because the same signed request was received before (replayed_request).",
            c.replayed_requests,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let _ = writeln!(out, "# HELP lapor_federation_backlog_events Events queued for a peer and not yet acknowledged.\n# TYPE lapor_federation_backlog_events gauge");
    let mut lag = String::new();
    let mut failures = String::new();
    let mut refused = String::new();
    for ps in &s.peers {
        let p = &ps.peer;
        let id = label(&p.node_id);
        let _ = writeln!(
            out,
            "lapor_federation_backlog_events{{peer=\"{id}\"}} {}",
            ps.backlog
        );
        let secs = ps.lag_ms as f64 / 1000.0;
        let _ = writeln!(lag, "lapor_federation_lag_seconds{{peer=\"{id}\"}} {secs}");
        let _ = writeln!(
            failures,
            "lapor_federation_push_failures{{peer=\"{id}\"}} {}",
            p.failures
        );
        let _ = writeln!(
            refused,
            "lapor_federation_peer_rejected_total{{peer=\"{id}\"}} {}",
            p.rejected_total
        );
    }
    let _ = write!(out, "# HELP lapor_federation_lag_seconds Age of the oldest event not yet acknowledged by a peer.\n# TYPE lapor_federation_lag_seconds gauge\n{lag}");
    let _ = write!(out, "# HELP lapor_federation_push_failures Consecutive failed pushes to a peer.\n# TYPE lapor_federation_push_failures gauge\n{failures}");
    let _ = write!(out, "# HELP lapor_federation_peer_rejected_total Events a peer refused.\n# TYPE lapor_federation_peer_rejected_total counter\n{refused}");
    let _ = writeln!(out, "# HELP lapor_federation_origin_head Highest gapless sequence number held per origin.\n# TYPE lapor_federation_origin_head gauge");
    let mut frozen = 0;
    for h in &s.heads {
        frozen += i64::from(h.frozen);
        let _ = writeln!(
            out,
            "lapor_federation_origin_head{{origin=\"{}\"}} {}",
            label(&h.origin),
            h.head_seq
        );
    }
    let _ = writeln!(out, "# HELP lapor_federation_frozen_origins Origins frozen for equivocation.\n# TYPE lapor_federation_frozen_origins gauge\nlapor_federation_frozen_origins {frozen}");
    let _ = writeln!(out, "# HELP lapor_federation_quarantine Events held in quarantine.\n# TYPE lapor_federation_quarantine gauge\nlapor_federation_quarantine {}", s.quarantined);
    let _ = writeln!(out, "# HELP lapor_federation_pending_events Events waiting for a step of this node (reasons in `lapor federation status`).\n# TYPE lapor_federation_pending_events gauge\nlapor_federation_pending_events {}", s.pending.len());
    let waiting = |state: &str| {
        s.handovers
            .iter()
            .filter(|h| h.state.as_deref() == Some(state))
            .count()
    };
    let _ = writeln!(out, "# HELP lapor_federation_identity_handovers Reporter identities on their way to this node (`fetching`) or whose former owners have not confirmed erasing theirs (`confirming`).\n# TYPE lapor_federation_identity_handovers gauge\nlapor_federation_identity_handovers{{state=\"fetching\"}} {}\nlapor_federation_identity_handovers{{state=\"confirming\"}} {}", waiting("fetching"), waiting("confirming"));
    let _ = writeln!(out, "# HELP lapor_federation_refused_events Events of an origin refused by the authorisation rules (held in quarantine).\n# TYPE lapor_federation_refused_events gauge");
    for r in &s.refusals {
        let _ = writeln!(
            out,
            "lapor_federation_refused_events{{origin=\"{}\",code=\"{}\"}} {}",
            label(&r.origin),
            r.code,
            r.count
        );
    }
    out
}

/// The report gauges (over every report this node holds) and the build.
pub fn render_reports(stats: &crate::storage::StatsRow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# HELP lapor_reports Reports held on this node.\n# TYPE lapor_reports gauge\nlapor_reports {}", stats.total);
    let _ = writeln!(out, "# HELP lapor_reports_overdue Reports held here whose current deadline (in working days) has passed.\n# TYPE lapor_reports_overdue gauge\nlapor_reports_overdue {}", stats.overdue);
    let _ = writeln!(out, "# HELP lapor_reports_escalated Reports held here flagged for escalation (60 days without completion).\n# TYPE lapor_reports_escalated gauge\nlapor_reports_escalated {}", stats.escalated);
    let _ = writeln!(
        out,
        "# HELP lapor_build_info The running lapor version and git commit.\n# TYPE lapor_build_info gauge\nlapor_build_info{{version=\"{}\"}} 1",
        label(crate::VERSION)
    );
    out
}

/// `GET /metrics`.
#[tracing::instrument(skip_all)]
pub async fn metrics(State(app): State<App>) -> Response {
    let all = crate::domain::ReportFilter {
        limit: 1,
        ..crate::domain::ReportFilter::default()
    };
    let stats = app.node().store.report_stats(&all).await;
    let notices = crate::notify::status::metrics(&app.node().store).await;
    match (app.federation_snapshot().await, stats, notices) {
        (Ok(snapshot), Ok(stats), Ok(notices)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            render(&snapshot) + &render_reports(&stats) + &notices,
        )
            .into_response(),
        (Err(e), _, _) => {
            tracing::error!(error = %e, "metrics failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        (_, Err(e), _) => {
            tracing::error!(error = %e, "metrics failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        (_, _, Err(e)) => {
            tracing::error!(error = %e, "metrics failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
