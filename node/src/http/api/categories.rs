//! Report categories.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use lapor_schemas::api::{Category, CategoryInput};
use lapor_schemas::problem::Problem;

use crate::app::{App, Viewer};
use crate::http::error::ApiResult;
use crate::http::extract::ApiJson;

/// Categories (the public sees active ones).
#[utoipa::path(get, path = "/api/v1/categories", tag = "categories", responses((status = 200, body = Vec<Category>)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn list(State(app): State<App>, viewer: Viewer) -> ApiResult<Json<Vec<Category>>> {
    Ok(Json(app.list_categories(&viewer).await?))
}

/// Creates a category (admins and node operators).
#[utoipa::path(post, path = "/api/v1/categories", tag = "categories", request_body = CategoryInput,
    responses((status = 201, body = Category), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(app): State<App>,
    viewer: Viewer,
    ApiJson(req): ApiJson<CategoryInput>,
) -> ApiResult<(StatusCode, Json<Category>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_category(&viewer, req).await?),
    ))
}

/// Edits a category (admins and node operators).
#[utoipa::path(patch, path = "/api/v1/categories/{id}", tag = "categories", request_body = CategoryInput,
    params(("id" = String, Path, description = "Category id")),
    responses((status = 200, body = Category), (status = 404, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"), fields(id = %id))]
pub async fn update(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CategoryInput>,
) -> ApiResult<Json<Category>> {
    Ok(Json(app.update_category(&viewer, &id, req).await?))
}
