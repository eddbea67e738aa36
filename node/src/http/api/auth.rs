//! Login, logout, API tokens and the first-admin bootstrap.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lapor_schemas::api::{
    BootstrapRequest, CreateTokenRequest, LoginRequest, RegisterRequest, TokenResponse, User,
};
use lapor_schemas::problem::Problem;

use crate::app::{App, Viewer};
use crate::http::error::ApiResult;
use crate::http::extract::{token_of, ApiJson, SESSION_COOKIE};

fn cookie(app: &App, value: &str, max_age_s: i64) -> HeaderValue {
    let secure = if app.config().http.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Logs in with username and password; answers a bearer token and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn login(
    State(app): State<App>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let token = app.login(req).await?;
    let max_age = app.config().http.session_hours * 3600;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookie(&app, &token.token, max_age));
    Ok((headers, Json(token)).into_response())
}

/// Ends the current session and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn logout(State(app): State<App>, request_headers: HeaderMap) -> ApiResult<Response> {
    if let Some(token) = token_of(&request_headers) {
        app.logout(&token).await?;
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookie(&app, "", 0));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

/// Creates an API token for an integration, owned by the logged-in account.
#[utoipa::path(post, path = "/api/v1/auth/tokens", tag = "auth", request_body = CreateTokenRequest,
    responses((status = 201, body = TokenResponse), (status = 401, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create_token(
    State(app): State<App>,
    viewer: Viewer,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_api_token(&viewer, req).await?),
    ))
}

/// Opens a reporter account for a citizen (optional: reports can be tracked by code and secret alone).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = User), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn register(
    State(app): State<App>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(app.register(req).await?)))
}

/// Creates the first admin with the one-time secret `lapor serve` printed at first start.
#[utoipa::path(post, path = "/api/v1/auth/bootstrap", tag = "auth", request_body = BootstrapRequest,
    responses((status = 201, body = User), (status = 403, body = Problem)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn bootstrap(
    State(app): State<App>,
    ApiJson(req): ApiJson<BootstrapRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(app.bootstrap(req).await?)))
}
