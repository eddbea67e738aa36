//! Liveness, readiness and the OpenAPI document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lapor_schemas::api::Health;

use crate::app::App;

fn health(app: &App, status: &str) -> Health {
    Health {
        status: status.into(),
        node: app.config().node.id.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
#[tracing::instrument(skip_all)]
pub async fn healthz(State(app): State<App>) -> Json<Health> {
    Json(health(&app, "ok"))
}

/// The node can serve: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
#[tracing::instrument(skip_all)]
pub async fn readyz(State(app): State<App>) -> (StatusCode, Json<Health>) {
    match app.ready().await {
        Ok(()) => (StatusCode::OK, Json(health(&app, "ok"))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(health(&app, "database unavailable")),
            )
        }
    }
}

/// The OpenAPI document of the JSON API, generated from the code.
#[tracing::instrument(skip_all)]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::http::openapi())
}
