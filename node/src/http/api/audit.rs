//! The audit log: a page as JSON, or everything a filter selects as CSV (admins and auditors).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset};
use lapor_schemas::api::AuditPage;
use lapor_schemas::problem::Problem;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::{App, AuditQuery, Viewer};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiQuery;

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only this account (id).
    pub actor: Option<String>,
    /// Only this action, e.g. `identity.read`.
    pub action: Option<String>,
    /// Only this target id (a report id, a user id).
    pub target: Option<String>,
    /// At or after this time (RFC 3339).
    pub since: Option<DateTime<FixedOffset>>,
    /// Before this time (RFC 3339).
    pub until: Option<DateTime<FixedOffset>>,
    /// Only lines older than this id (the `next_before` of the previous page).
    pub before: Option<i64>,
    /// Lines per page, 1..=500 (default 100); for the CSV export 1..=100000 (default 100000).
    pub limit: Option<i64>,
}

fn query(p: AuditParams, max: i64) -> ApiResult<AuditQuery> {
    if let Some(limit) = p.limit.filter(|l| !(1..=max).contains(l)) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "Parameter alamat tidak valid",
            "Invalid query parameters",
        )
        .detail(format!("limit must be 1..={max}, not {limit}")));
    }
    if let Some(before) = p.before.filter(|b| *b < 1) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "Parameter alamat tidak valid",
            "Invalid query parameters",
        )
        .detail(format!("before must be a positive id, not {before}")));
    }
    Ok(AuditQuery {
        actor: p.actor,
        action: p.action,
        target: p.target,
        since: p.since.map(|t| t.timestamp_millis()),
        until: p.until.map(|t| t.timestamp_millis()),
        before: p.before,
        limit: p.limit.unwrap_or(if max == crate::app::audit::MAX_PAGE {
            100
        } else {
            max
        }),
    })
}

/// The audit log, newest first: who did what, when and from where (admins and auditors).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    let q = query(p, crate::app::audit::MAX_PAGE)?;
    Ok(Json(app.audit_list(&viewer, &q).await?))
}

/// The audit log as CSV (RFC 4180, UTF-8), newest first; the export is itself recorded (admins and auditors).
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(AuditParams),
    responses((status = 200, description = "text/csv", content_type = "text/csv", body = String),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn export(
    State(app): State<App>,
    viewer: Viewer,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> ApiResult<Response> {
    let q = query(p, crate::app::audit::MAX_EXPORT)?;
    let csv = app.audit_csv(&viewer, &q).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"lapor-audit.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}
