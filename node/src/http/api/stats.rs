//! Statistics: figures per agency, the recap of a period (JSON, CSV or PDF), emerging issues, kept recaps.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lapor_schemas::problem::Problem;
use lapor_schemas::stats::{AgencyStats, EmergingIssue, Recap};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::{App, RecapFormat, Viewer};
use crate::http::error::ApiResult;
use crate::http::extract::ApiQuery;
use crate::stats::recap::wire_row;

/// A period as `from`/`to` local dates (both included; the current month without them).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`.
    pub to: Option<String>,
}

/// Narrowing of a recap.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecapQuery {
    /// Only this agency's subtree (inside the viewer's own).
    pub agency_id: Option<String>,
}

/// One row per agency (with its subtree) in the viewer's scope: counts, the share handled, its rating and
/// the below-60% flag, medians and deadline compliance; flagged agencies first.
#[utoipa::path(get, path = "/api/v1/stats/agencies", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = AgencyStats), (status = 400, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn agencies(
    State(app): State<App>,
    viewer: Viewer,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Json<AgencyStats>> {
    let period = app.stats_period(q.from.as_deref(), q.to.as_deref())?;
    let rows = app.agency_stats(&viewer, &period).await?;
    Ok(Json(AgencyStats {
        from: period.from.to_string(),
        to: period.last_day().to_string(),
        agencies: rows.iter().map(wire_row).collect(),
    }))
}

/// The recap of a period (`2026-11`, `2026-Q4`, `2026`): JSON, or CSV / PDF by `Accept` (`text/csv`,
/// `application/pdf`) or a `.csv` / `.pdf` suffix. Staff's CSV and PDF recaps are kept for download.
#[utoipa::path(get, path = "/api/v1/stats/recap/{period}", tag = "stats",
    params(("period" = String, Path, description = "YYYY-MM, YYYY-Qn, YYYY or YYYY-MM-DD, optionally with .pdf or .csv"), RecapQuery),
    responses((status = 200, body = Recap, content_type = "application/json"),
        (status = 200, description = "The recap as PDF", content_type = "application/pdf"),
        (status = 200, description = "The recap as CSV", content_type = "text/csv"),
        (status = 400, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(period = %period))]
pub async fn recap(
    State(app): State<App>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(period): Path<String>,
    ApiQuery(q): ApiQuery<RecapQuery>,
) -> ApiResult<Response> {
    let (key, suffix) = match period.rsplit_once('.') {
        Some((k, s)) if matches!(s, "pdf" | "csv" | "json") => (k, Some(s)),
        _ => (period.as_str(), None),
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = RecapFormat::negotiate(suffix, accept);
    let p = app.stats_period_key(key)?;
    let bytes = app
        .recap_render(&viewer, &p, q.agency_id.as_deref(), format)
        .await?;
    Ok(file_response(format, &format!("rekap-{}", p.key()), bytes))
}

/// A rendered file with its media type; PDF and CSV as attachments with a file name.
pub fn file_response(format: RecapFormat, stem: &str, bytes: Vec<u8>) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept"));
    if format != RecapFormat::Json {
        let name = format!(
            "attachment; filename=\"{}.{}\"",
            stem.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
            format.as_str()
        );
        if let Ok(v) = HeaderValue::from_str(&name) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    resp
}

/// Categories, places and words whose volume this period rose sharply against the previous periods, with
/// the reports behind them (staff only; confidential reports are counted, never named).
#[utoipa::path(get, path = "/api/v1/stats/emerging", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Vec<EmergingIssue>), (status = 403, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn emerging(
    State(app): State<App>,
    viewer: Viewer,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Json<Vec<EmergingIssue>>> {
    let period = app.stats_period(q.from.as_deref(), q.to.as_deref())?;
    let found = app.emerging(&viewer, &period).await?;
    Ok(Json(
        found
            .into_iter()
            .map(|e| EmergingIssue {
                dimension: e.dimension.as_str().to_owned(),
                key: e.key,
                count: e.count,
                baseline: e.baseline_centi as f64 / 100.0,
                reports: e.reports,
            })
            .collect(),
    ))
}

/// A kept recap.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeptRecap {
    /// Period key.
    pub period: String,
    /// `node` or `agency:<id>`.
    pub scope: String,
    /// `pdf` or `csv`.
    pub format: String,
    /// When it was made (RFC 3339, node's zone).
    pub generated_at: String,
}

/// The recaps kept for download that the viewer may have (staff), newest period first.
#[utoipa::path(get, path = "/api/v1/stats/recaps", tag = "stats",
    responses((status = 200, body = Vec<KeptRecap>)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn recaps(State(app): State<App>, viewer: Viewer) -> ApiResult<Json<Vec<KeptRecap>>> {
    let kept = app.recaps_kept(&viewer).await?;
    Ok(Json(
        kept.into_iter()
            .map(|r| KeptRecap {
                generated_at: app.node().time(r.generated_at).to_rfc3339(),
                period: r.period,
                scope: r.scope,
                format: r.format,
            })
            .collect(),
    ))
}
