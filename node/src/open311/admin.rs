//! The admin JSON API for Open311 API keys: `GET`/`POST /api/v1/open311/keys`, `DELETE
//! /api/v1/open311/keys/{id}`. Admins and node operators only. The key is in the `POST` answer once; it is
//! never shown again (only its sha256 is stored).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use lapor_schemas::problem::Problem;
use lapor_schemas::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::keys::{self, IssueError};
use crate::app::{App, AppError, Viewer};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::storage::Open311Key;

/// `POST /api/v1/open311/keys`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// The client app the key is for (1..=100 characters).
    pub app_name: String,
    /// Who runs it (e-mail or name, at most 200 characters).
    #[serde(default)]
    pub contact: Option<String>,
}

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyView {
    /// Public id, used to revoke it.
    pub id: String,
    /// The client app.
    pub app_name: String,
    /// Who runs it.
    pub contact: Option<String>,
    /// Who issued it.
    pub created_by: String,
    /// Issued at (RFC 3339, node's zone).
    pub created_at: String,
    /// Revoked at, if revoked.
    pub revoked_at: Option<String>,
}

/// The answer to `POST`: the key, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedKey {
    /// The stored record.
    #[serde(flatten)]
    pub view: KeyView,
    /// The API key for `api_key=` (shown once).
    pub api_key: String,
}

fn view(app: &App, k: &Open311Key) -> KeyView {
    let t = |ms| super::requests::datetime(app, ms);
    KeyView {
        id: k.id.clone(),
        app_name: k.app_name.clone(),
        contact: k.contact.clone(),
        created_by: k.created_by.clone(),
        created_at: t(k.created_at),
        revoked_at: k.revoked_at.map(t),
    }
}

const ISSUERS: &[Role] = &[Role::Admin, Role::NodeOperator];

/// Lists the Open311 API keys (admins and node operators).
#[utoipa::path(get, path = "/api/v1/open311/keys", tag = "open311",
    responses((status = 200, body = Vec<KeyView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(State(app): State<App>, viewer: Viewer) -> ApiResult<Json<Vec<KeyView>>> {
    viewer.require_role(ISSUERS)?;
    let keys = app
        .node()
        .store
        .open311_key_list()
        .await
        .map_err(AppError::from)?;
    Ok(Json(keys.iter().map(|k| view(&app, k)).collect()))
}

/// Issues an Open311 API key for a client app; the key is in this answer only.
#[utoipa::path(post, path = "/api/v1/open311/keys", tag = "open311", request_body = CreateKey,
    responses((status = 201, body = IssuedKey), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(app): State<App>,
    viewer: Viewer,
    ApiJson(req): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<IssuedKey>)> {
    let user = viewer.require_role(ISSUERS)?;
    let (record, api_key) =
        match keys::issue(app.node(), &req.app_name, req.contact.as_deref(), &user.id).await {
            Ok(x) => x,
            Err(IssueError::BadName) => {
                return Err(AppError::field(
                    "app_name",
                    "invalid",
                    "nama aplikasi 1-100 karakter / app name of 1-100 characters",
                )
                .into())
            }
            Err(IssueError::BadContact) => {
                return Err(AppError::field(
                    "contact",
                    "too_long",
                    "maksimal 200 karakter / at most 200 characters",
                )
                .into())
            }
            Err(IssueError::Storage(e)) => return Err(AppError::from(e).into()),
        };
    Ok((
        StatusCode::CREATED,
        Json(IssuedKey {
            view: view(&app, &record),
            api_key,
        }),
    ))
}

/// Revokes an Open311 API key: requests with it are refused from now on.
#[utoipa::path(delete, path = "/api/v1/open311/keys/{id}", tag = "open311",
    params(("id" = String, Path, description = "Key id (o311_...)")),
    responses((status = 204), (status = 404, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(key.id = %id))]
pub async fn revoke(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    viewer.require_role(ISSUERS)?;
    let done = app
        .node()
        .store
        .open311_key_revoke(&id, app.now())
        .await
        .map_err(AppError::from)?;
    if done {
        tracing::info!(key.id = %id, "open311 key revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::from(AppError::NotFound("open311 key")))
    }
}
