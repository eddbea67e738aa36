//! The agency tree.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use lapor_schemas::api::{Agency, CreateAgency, UpdateAgency};
use lapor_schemas::problem::Problem;

use crate::app::{App, Viewer};
use crate::http::error::ApiResult;
use crate::http::extract::ApiJson;

/// Every agency of this node.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "agencies", responses((status = 200, body = Vec<Agency>)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(State(app): State<App>) -> ApiResult<Json<Vec<Agency>>> {
    Ok(Json(app.list_agencies().await?))
}

/// One agency.
#[utoipa::path(get, path = "/api/v1/agencies/{id}", tag = "agencies",
    params(("id" = String, Path, description = "Agency id")),
    responses((status = 200, body = Agency), (status = 404, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(id = %id))]
pub async fn get(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Agency>> {
    Ok(Json(app.get_agency(&id).await?))
}

/// Creates an agency (admins and node operators).
#[utoipa::path(post, path = "/api/v1/agencies", tag = "agencies", request_body = CreateAgency,
    responses((status = 201, body = Agency), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(app): State<App>,
    viewer: Viewer,
    ApiJson(req): ApiJson<CreateAgency>,
) -> ApiResult<(StatusCode, Json<Agency>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_agency(&viewer, req).await?),
    ))
}

/// Renames, re-codes or (de)activates an agency.
#[utoipa::path(patch, path = "/api/v1/agencies/{id}", tag = "agencies", request_body = UpdateAgency,
    params(("id" = String, Path, description = "Agency id")),
    responses((status = 200, body = Agency), (status = 404, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(id = %id))]
pub async fn update(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateAgency>,
) -> ApiResult<Json<Agency>> {
    Ok(Json(app.update_agency(&viewer, &id, req).await?))
}
