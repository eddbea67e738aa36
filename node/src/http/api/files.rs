//! Files of a report through the JSON API: the list, and each file's bytes. Who may see the report may see
//! its files (the public: non-confidential reports; the reporter with `X-Tracking-Secret`; staff in scope).
//! Uploads go with the filing, a reply or a supplement as `multipart/form-data` (`http/upload.rs`).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lapor_schemas::problem::Problem;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{App, AppError, Viewer};
use crate::attachments;
use crate::http::error::ApiResult;
use crate::http::extract::TrackingSecret;

/// One file of a report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileView {
    /// Hex sha256 of the stored (stripped) bytes.
    pub sha256: String,
    /// `image/jpeg`, `image/png` or `application/pdf`, from the magic bytes.
    pub media_type: String,
    /// Size of the stored bytes.
    pub size_bytes: i64,
    /// Cleaned file name.
    pub file_name: String,
    /// `reporter` or `staff`.
    pub added_by: String,
    /// When (RFC 3339, node's zone).
    pub added_at: String,
    /// Where to fetch it through the API.
    pub url: String,
}

/// The files of a report, oldest first.
#[utoipa::path(get, path = "/api/v1/reports/{key}/files", tag = "reports",
    params(("key" = String, Path, description = "Tracking code or report id"),
        ("X-Tracking-Secret" = Option<String>, Header, description = "The report's tracking secret")),
    responses((status = 200, body = Vec<FileView>), (status = 404, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    TrackingSecret(secret): TrackingSecret,
    Path(key): Path<String>,
) -> ApiResult<Json<Vec<FileView>>> {
    let (report, _) = app.load(&viewer, &key, secret.as_deref()).await?;
    let files = app.attachments_of(&report.id).await?;
    Ok(Json(
        files
            .into_iter()
            .map(|f| FileView {
                url: format!(
                    "/api/v1/reports/{}/files/{}",
                    report.tracking_code, f.sha256
                ),
                sha256: f.sha256,
                media_type: f.media_type,
                size_bytes: f.size_bytes,
                file_name: f.file_name,
                added_by: f.added_by,
                added_at: app.time(f.added_at).to_rfc3339(),
            })
            .collect(),
    ))
}

/// One file's bytes (sandboxed, never cached).
#[utoipa::path(get, path = "/api/v1/reports/{key}/files/{sha256}", tag = "reports",
    params(("key" = String, Path, description = "Tracking code or report id"),
        ("sha256" = String, Path, description = "The file's sha256"),
        ("X-Tracking-Secret" = Option<String>, Header, description = "The report's tracking secret")),
    responses((status = 200, description = "The stored bytes"), (status = 404, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(report.key = %key))]
pub async fn get(
    State(app): State<App>,
    viewer: Viewer,
    TrackingSecret(secret): TrackingSecret,
    Path((key, sha)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !attachments::is_sha256_hex(&sha) {
        return Err(AppError::NotFound("file").into());
    }
    let (report, _) = app.load(&viewer, &key, secret.as_deref()).await?;
    let file = app
        .attachments_of(&report.id)
        .await?
        .into_iter()
        .find(|f| f.sha256 == sha)
        .ok_or(AppError::NotFound("file"))?;
    let path = app.attachment_path(&file.sha256);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reading {}: {e}", path.display())))?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&file.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        file.file_name.replace('"', "")
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}
