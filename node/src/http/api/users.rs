//! Accounts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use lapor_schemas::api::{CreateUser, UpdateUser, User};
use lapor_schemas::problem::Problem;

use crate::app::{App, Viewer};
use crate::http::error::ApiResult;
use crate::http::extract::ApiJson;

/// The logged-in account.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users",
    responses((status = 200, body = User), (status = 401, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn me(State(app): State<App>, viewer: Viewer) -> ApiResult<Json<User>> {
    Ok(Json(app.me(&viewer).await?))
}

/// Every account (admins and node operators).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = Vec<User>), (status = 403, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(State(app): State<App>, viewer: Viewer) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(app.list_users(&viewer).await?))
}

/// Creates an account (admins and node operators).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = User), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(app): State<App>,
    viewer: Viewer,
    ApiJson(req): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_user(&viewer, req).await?),
    ))
}

/// Changes an account: one's own name and password, or anything for admins.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UpdateUser,
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = User), (status = 404, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(id = %id))]
pub async fn update(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateUser>,
) -> ApiResult<Json<User>> {
    Ok(Json(app.update_user(&viewer, &id, req).await?))
}
