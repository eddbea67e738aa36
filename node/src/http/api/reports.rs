//! Reports: intake, tracking, lists, statistics, and one endpoint per lifecycle action.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use lapor_schemas::api::{
    ArchiveRequest, ConsentRequest, CreateReport, CreatedReport, NoteRequest, OptionalNoteRequest,
    PrivacyRequest, RateRequest, ReportPage, ReportView, Stats, TransferRequest, TransferView,
    VerifyRequest,
};
use lapor_schemas::problem::Problem;
use lapor_schemas::{ReportKind, ReportStatus, Role};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::{parse_order, App, Disposition, Viewer};
use crate::domain::{Command, ReportFilter};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiQuery, TrackingSecret};
use crate::http::upload::WithFiles;

/// Files a report (the core contract): anyone may, officers may log one for a citizen with `channel`. Also
/// `multipart/form-data`: the same JSON object in part `json`, up to four JPEG/PNG/PDF files in parts `files`
/// (checked by their bytes, metadata stripped).
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", request_body = CreateReport,
    responses((status = 201, body = CreatedReport), (status = 400, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(app): State<App>,
    viewer: Viewer,
    WithFiles { body: req, files }: WithFiles<CreateReport>,
) -> ApiResult<(StatusCode, Json<CreatedReport>)> {
    let created = app.create_report(&viewer, req).await?;
    if !files.is_empty() {
        let by = if viewer.is_staff() {
            "staff"
        } else {
            "reporter"
        };
        app.attach(&created.id, files, by).await?;
    }
    Ok((StatusCode::CREATED, Json(created)))
}

/// Filters of `GET /api/v1/reports`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated status ids.
    pub status: Option<String>,
    /// Kind id.
    pub kind: Option<ReportKind>,
    /// Category id.
    pub category: Option<String>,
    /// Agency id.
    pub agency_id: Option<String>,
    /// Region code (prefix).
    pub region_code: Option<String>,
    /// Full-text search over title and body.
    pub q: Option<String>,
    /// Only reports whose deadline passed.
    pub overdue: Option<bool>,
    /// Only escalated reports.
    pub escalated: Option<bool>,
    /// `newest` (default) or `deadline`.
    pub order: Option<String>,
    /// Page size, 1..=200 (default 50).
    pub limit: Option<i64>,
    /// Page start.
    pub offset: Option<i64>,
}

fn parse_statuses(s: Option<&str>) -> ApiResult<Vec<ReportStatus>> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            ReportStatus::parse(p.trim()).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "Parameter alamat tidak valid",
                    "Invalid query parameters",
                )
                .detail(format!("unknown status `{p}`"))
            })
        })
        .collect()
}

/// Lists reports: the public sees non-confidential ones, officers their agency subtree, reporters their own.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ListQuery),
    responses((status = 200, body = ReportPage), (status = 400, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ReportPage>> {
    let bad = |detail: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "Parameter alamat tidak valid",
            "Invalid query parameters",
        )
        .detail(detail)
    };
    if let Some(order) = q
        .order
        .as_deref()
        .filter(|o| !matches!(*o, "newest" | "deadline"))
    {
        return Err(bad(format!(
            "order must be newest or deadline, not `{order}`"
        )));
    }
    if let Some(limit) = q.limit.filter(|l| !(1..=200).contains(l)) {
        return Err(bad(format!("limit must be 1..=200, not {limit}")));
    }
    if let Some(offset) = q.offset.filter(|o| !(0..=1_000_000).contains(o)) {
        return Err(bad(format!("offset must be 0..=1000000, not {offset}")));
    }
    let filter = ReportFilter {
        statuses: parse_statuses(q.status.as_deref())?,
        kind: q.kind,
        category: q.category,
        agency_id: q.agency_id,
        region_prefix: q.region_code,
        query: q.q.filter(|s| !s.trim().is_empty()),
        overdue_only: q.overdue.unwrap_or(false),
        escalated_only: q.escalated.unwrap_or(false),
        order: parse_order(q.order.as_deref()),
        limit: q.limit.unwrap_or(50),
        offset: q.offset.unwrap_or(0),
        ..ReportFilter::default()
    };
    Ok(Json(app.list(&viewer, filter).await?))
}

/// Filters of `GET /api/v1/stats`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Only this agency.
    pub agency_id: Option<String>,
}

/// Counts by status and category, overdue and escalated, over what the viewer may list.
#[utoipa::path(get, path = "/api/v1/stats", tag = "reports", params(StatsQuery), responses((status = 200, body = Stats)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn stats(
    State(app): State<App>,
    viewer: Viewer,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Json<Stats>> {
    Ok(Json(app.stats(&viewer, q.agency_id).await?))
}

/// One report by tracking code or id, as the viewer may see it. A confidential report needs its secret in
/// `X-Tracking-Secret` (or an officer in scope); otherwise it answers 404.
#[utoipa::path(get, path = "/api/v1/reports/{key}", tag = "reports",
    params(("key" = String, Path, description = "Tracking code or report id"),
        ("X-Tracking-Secret" = Option<String>, Header, description = "The report's tracking secret")),
    responses((status = 200, body = ReportView), (status = 404, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn get(
    State(app): State<App>,
    viewer: Viewer,
    TrackingSecret(secret): TrackingSecret,
    Path(key): Path<String>,
) -> ApiResult<Json<ReportView>> {
    let (bundle, access) = app.load_bundle(&viewer, &key, secret.as_deref()).await?;
    Ok(Json(app.view_of(&viewer, &bundle, access).await?))
}

async fn act(
    app: &App,
    viewer: &Viewer,
    key: &str,
    secret: Option<String>,
    cmd: Command,
) -> ApiResult<Json<ReportView>> {
    let (report, access) = app.act(viewer, key, secret.as_deref(), cmd).await?;
    Ok(Json(app.view(viewer, &report, access).await?))
}

/// Admin: verify and disposition to an agency (may raise privacy flags).
#[utoipa::path(post, path = "/api/v1/reports/{key}/verify", tag = "lifecycle", request_body = VerifyRequest,
    params(("key" = String, Path, description = "Tracking code or report id")),
    responses((status = 200, body = ReportView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn verify(
    State(app): State<App>,
    viewer: Viewer,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> ApiResult<Json<ReportView>> {
    let (report, access) = app
        .verify(
            &viewer,
            &key,
            Disposition {
                agency_id: req.agency_id,
                category: req.category,
                title: req.title,
                anonymous: req.anonymous,
                confidential: req.confidential,
                note: req.note,
            },
        )
        .await?;
    Ok(Json(app.view(&viewer, &report, access).await?))
}

/// Admin: put on hold with a question to the reporter.
#[utoipa::path(post, path = "/api/v1/reports/{key}/hold", tag = "lifecycle", request_body = NoteRequest,
    params(("key" = String, Path, description = "Tracking code or report id")),
    responses((status = 200, body = ReportView), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn hold(
    State(app): State<App>,
    viewer: Viewer,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<NoteRequest>,
) -> ApiResult<Json<ReportView>> {
    act(&app, &viewer, &key, None, Command::Hold { note: req.note }).await
}

/// Reporter: supply what was asked for; the verification clock restarts. Also `multipart/form-data` with
/// part `json` and up to four files in parts `files`.
#[utoipa::path(post, path = "/api/v1/reports/{key}/supplement", tag = "lifecycle", request_body = NoteRequest,
    params(("key" = String, Path, description = "Tracking code or report id"),
        ("X-Tracking-Secret" = Option<String>, Header, description = "The report's tracking secret")),
    responses((status = 200, body = ReportView), (status = 403, body = Problem), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn supplement(
    State(app): State<App>,
    viewer: Viewer,
    TrackingSecret(secret): TrackingSecret,
    Path(key): Path<String>,
    WithFiles { body: req, files }: WithFiles<NoteRequest>,
) -> ApiResult<(StatusCode, Json<ReportView>)> {
    let (report, access) = app
        .act(
            &viewer,
            &key,
            secret.as_deref(),
            Command::Supplement { note: req.note },
        )
        .await?;
    if !files.is_empty() {
        app.attach(&report.id, files, "reporter").await?;
    }
    Ok(reporter_answer(
        &app,
        app.view(&viewer, &report, access).await?,
    ))
}

/// The answer to a reporter's action: 200 when this node owns the report and applied it; 202 when the report
/// is another node's and the action went to its owner as a contribution (the owner applies it, or refuses it
/// when its own state no longer allows it: not done yet, so not answered as done).
fn reporter_answer(app: &App, view: ReportView) -> (StatusCode, Json<ReportView>) {
    let status = if view.owner_node == app.node().id() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (status, Json(view))
}

/// Admin: move a report to the node that must act on it (the node hosting `agency_id`, `to_node`, or up to
/// the hub). The answer is the transfer as it stands; the hub decides, and the report moves when the target
/// accepted (docs/PROTOCOL.md section 9).
#[utoipa::path(post, path = "/api/v1/reports/{key}/transfer", tag = "lifecycle", request_body = TransferRequest,
    params(("key" = String, Path, description = "Tracking code or report id")),
    responses((status = 202, body = TransferView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn transfer(
    State(app): State<App>,
    viewer: Viewer,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<TransferRequest>,
) -> ApiResult<(StatusCode, Json<TransferView>)> {
    let view = app.request_transfer(&viewer, &key, req).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Admin: escalate to the Ombudsman before the 60 days (the reporter is asked for consent, PROTOCOL 9.6).
#[utoipa::path(post, path = "/api/v1/reports/{key}/escalate", tag = "lifecycle", request_body = NoteRequest,
    params(("key" = String, Path, description = "Tracking code or report id")),
    responses((status = 200, body = ReportView), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn escalate(
    State(app): State<App>,
    viewer: Viewer,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<NoteRequest>,
) -> ApiResult<Json<ReportView>> {
    app.escalate_early(&viewer, &key, &req.note).await?;
    let (report, access) = app.load(&viewer, &key, None).await?;
    Ok(Json(app.view(&viewer, &report, access).await?))
}

/// Reporter: agree or decline that an escalated report goes to the Ombudsman (once per escalation, on the
/// owner). With consent the owner offers it to an Ombudsman node by the normal transfer.
#[utoipa::path(post, path = "/api/v1/reports/{key}/ombudsman", tag = "lifecycle", request_body = ConsentRequest,
    params(("key" = String, Path, description = "Tracking code or report id"),
        ("X-Tracking-Secret" = Option<String>, Header, description = "The report's tracking secret")),
    responses((status = 200, body = ReportView), (status = 403, body = Problem), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn ombudsman(
    State(app): State<App>,
    viewer: Viewer,
    TrackingSecret(secret): TrackingSecret,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<ConsentRequest>,
) -> ApiResult<Json<ReportView>> {
    let secret = secret.unwrap_or_default();
    app.ombudsman_decide(&viewer, &key, &secret, req.consent)
        .await?;
    let (report, access) = app.load(&viewer, &key, Some(&secret)).await?;
    Ok(Json(app.view(&viewer, &report, access).await?))
}

/// Officer: not within the agency's authority; the report goes back to the admin queue.
#[utoipa::path(post, path = "/api/v1/reports/{key}/not-authority", tag = "lifecycle", request_body = NoteRequest,
    params(("key" = String, Path, description = "Tracking code or report id")),
    responses((status = 200, body = ReportView), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn not_authority(
    State(app): State<App>,
    viewer: Viewer,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<NoteRequest>,
) -> ApiResult<Json<ReportView>> {
    act(
        &app,
        &viewer,
        &key,
        None,
        Command::NotAuthority { note: req.note },
    )
    .await
}

/// Officer: acknowledge a dispositioned report.
#[utoipa::path(post, path = "/api/v1/reports/{key}/acknowledge", tag = "lifecycle", request_body = OptionalNoteRequest,
    params(("key" = String, Path, description = "Tracking code or report id")),
    responses((status = 200, body = ReportView), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn acknowledge(
    State(app): State<App>,
    viewer: Viewer,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<OptionalNoteRequest>,
) -> ApiResult<Json<ReportView>> {
    act(
        &app,
        &viewer,
        &key,
        None,
        Command::Acknowledge { note: req.note },
    )
    .await
}

/// Officer: post the follow-up (tindak lanjut).
#[utoipa::path(post, path = "/api/v1/reports/{key}/respond", tag = "lifecycle", request_body = NoteRequest,
    params(("key" = String, Path, description = "Tracking code or report id")),
    responses((status = 200, body = ReportView), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn respond(
    State(app): State<App>,
    viewer: Viewer,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<NoteRequest>,
) -> ApiResult<Json<ReportView>> {
    act(
        &app,
        &viewer,
        &key,
        None,
        Command::Respond { note: req.note },
    )
    .await
}

/// Reporter: reply to the follow-up; the report goes back to the agency. Also `multipart/form-data` with
/// part `json` and up to four files in parts `files`.
#[utoipa::path(post, path = "/api/v1/reports/{key}/reply", tag = "lifecycle", request_body = NoteRequest,
    params(("key" = String, Path, description = "Tracking code or report id"),
        ("X-Tracking-Secret" = Option<String>, Header, description = "The report's tracking secret")),
    responses((status = 200, body = ReportView), (status = 202, body = ReportView, description = "Another node owns the report: sent to it as a contribution"), (status = 403, body = Problem), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn reply(
    State(app): State<App>,
    viewer: Viewer,
    TrackingSecret(secret): TrackingSecret,
    Path(key): Path<String>,
    WithFiles { body: req, files }: WithFiles<NoteRequest>,
) -> ApiResult<Json<ReportView>> {
    let (report, access) = app
        .act(
            &viewer,
            &key,
            secret.as_deref(),
            Command::Reply { note: req.note },
        )
        .await?;
    if !files.is_empty() {
        app.attach(&report.id, files, "reporter").await?;
    }
    Ok(Json(app.view(&viewer, &report, access).await?))
}

/// Reporter: accept the follow-up; the report is completed.
#[utoipa::path(post, path = "/api/v1/reports/{key}/accept", tag = "lifecycle", request_body = OptionalNoteRequest,
    params(("key" = String, Path, description = "Tracking code or report id"),
        ("X-Tracking-Secret" = Option<String>, Header, description = "The report's tracking secret")),
    responses((status = 200, body = ReportView), (status = 202, body = ReportView, description = "Another node owns the report: sent to it as a contribution"), (status = 403, body = Problem), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn accept(
    State(app): State<App>,
    viewer: Viewer,
    TrackingSecret(secret): TrackingSecret,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<OptionalNoteRequest>,
) -> ApiResult<(StatusCode, Json<ReportView>)> {
    let Json(view) = act(
        &app,
        &viewer,
        &key,
        secret,
        Command::Accept { note: req.note },
    )
    .await?;
    Ok(reporter_answer(&app, view))
}

/// Reporter: rate the handling (1..=5), once.
#[utoipa::path(post, path = "/api/v1/reports/{key}/rate", tag = "lifecycle", request_body = RateRequest,
    params(("key" = String, Path, description = "Tracking code or report id"),
        ("X-Tracking-Secret" = Option<String>, Header, description = "The report's tracking secret")),
    responses((status = 200, body = ReportView), (status = 202, body = ReportView, description = "Another node owns the report: sent to it as a contribution"), (status = 403, body = Problem), (status = 409, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn rate(
    State(app): State<App>,
    viewer: Viewer,
    TrackingSecret(secret): TrackingSecret,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<RateRequest>,
) -> ApiResult<(StatusCode, Json<ReportView>)> {
    let Json(view) = act(
        &app,
        &viewer,
        &key,
        secret,
        Command::Rate {
            score: req.score,
            comment: req.comment,
        },
    )
    .await?;
    Ok(reporter_answer(&app, view))
}

/// Admin: archive as invalid, spam or duplicate (with the original).
#[utoipa::path(post, path = "/api/v1/reports/{key}/archive", tag = "lifecycle", request_body = ArchiveRequest,
    params(("key" = String, Path, description = "Tracking code or report id")),
    responses((status = 200, body = ReportView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn archive(
    State(app): State<App>,
    viewer: Viewer,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<ArchiveRequest>,
) -> ApiResult<Json<ReportView>> {
    viewer.require_role(&[Role::Admin])?;
    let duplicate_of = match &req.duplicate_of {
        Some(k) => Some(app.original_of(k).await?),
        None => None,
    };
    let cmd = Command::Archive {
        reason: req.reason,
        duplicate_of,
        note: req.note,
    };
    act(&app, &viewer, &key, None, cmd).await
}

/// Admin: raise the privacy flags (never lowers them; anonymity erases the stored identity).
#[utoipa::path(post, path = "/api/v1/reports/{key}/privacy", tag = "lifecycle", request_body = PrivacyRequest,
    params(("key" = String, Path, description = "Tracking code or report id")),
    responses((status = 200, body = ReportView), (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn privacy(
    State(app): State<App>,
    viewer: Viewer,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<PrivacyRequest>,
) -> ApiResult<Json<ReportView>> {
    let cmd = Command::RaisePrivacy {
        anonymous: req.anonymous,
        confidential: req.confidential,
        note: req.note,
    };
    act(&app, &viewer, &key, None, cmd).await
}
