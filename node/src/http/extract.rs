//! Extractors: bodies are parsed and authentication resolved before a handler runs, and every rejection is a
//! problem document naming what is wrong.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::{App, Viewer};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "lapor_session";

/// A JSON body, rejected with a problem document when malformed, of the wrong type, with unknown fields, or
/// over the size limit.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_type);
        if !json_type {
            return Err(unsupported_media_type());
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| json_problem(&JsonRejection::from(e)))?;
        // serde reads a struct from an array too (`[]` would be an empty request): only an object is one.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "Isi JSON harus berupa objek {...}",
                "The JSON body must be an object {...}",
            )
            .detail("the body is JSON, but not an object"));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

/// `application/json` or a `+json` type, parameters ignored (what axum's own JSON extractor accepts).
fn is_json_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Kirim data sebagai application/json",
        "Send the body as application/json",
    )
}

fn json_problem(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "JSON tidak dapat dibaca",
            "The body is not valid JSON",
        )
        .detail(inner_message(e)),
        JsonRejection::JsonDataError(e) => {
            let msg = inner_message(e);
            let code = if msg.contains("unknown field") {
                "unknown_field"
            } else if msg.contains("missing field") {
                "missing_field"
            } else {
                "invalid_field"
            };
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "Isi JSON tidak sesuai format",
                "The JSON does not have the expected shape",
            )
            .detail(msg)
        }
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "Data yang dikirim terlalu besar",
                "The body is too large",
            )
        }
        other => ApiError::new(
            other.status(),
            "bad_request",
            "Permintaan tidak valid",
            "Bad request",
        )
        .detail(other.body_text()),
    }
}

/// The innermost error message (serde's own words with the line and column), without axum's prefix.
fn inner_message(e: &dyn std::error::Error) -> String {
    let mut current: &dyn std::error::Error = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Query parameters, rejected with a problem document.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Self(v)),
            Err(e) => Err(query_problem(&e)),
        }
    }
}

fn query_problem(e: &QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        "Parameter alamat tidak valid",
        "Invalid query parameters",
    )
    .detail(inner_message(e))
}

/// The bearer token of a request: `Authorization: Bearer ...` or the session cookie.
pub fn token_of(headers: &axum::http::HeaderMap) -> Option<String> {
    bearer_of(headers).or_else(|| cookie_of(headers))
}

fn bearer_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    auth.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

fn cookie_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

impl FromRequestParts<App> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer_of(&parts.headers) {
            // A bearer token that is unknown or expired is an error, not a silent downgrade to public.
            return match app.viewer_for_token(&token).await? {
                Some(v) => Ok(v),
                None => Err(session_expired()),
            };
        }
        // A stale session cookie must not lock a citizen out of public pages: it just counts as logged out.
        match cookie_of(&parts.headers) {
            Some(token) => Ok(app.viewer_for_token(&token).await?.unwrap_or(Self::Public)),
            None => Ok(Self::Public),
        }
    }
}

fn session_expired() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "session_expired",
        "Sesi atau token tidak berlaku; silakan masuk lagi",
        "Session or token is invalid or expired; log in again",
    )
}

/// The tracking secret a reporter sent in `X-Tracking-Secret`.
pub struct TrackingSecret(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for TrackingSecret {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get("x-tracking-secret")
            .map(|v| v.to_str().map(|s| s.trim().to_owned()))
            .transpose()
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_header",
                    "Header X-Tracking-Secret tidak valid",
                    "Invalid X-Tracking-Secret header",
                )
            })?;
        Ok(Self(value.filter(|s| !s.is_empty())))
    }
}

/// A request from a peer node, its `lapor-request-v1` signature checked against the key log (see
/// [`lapor_federation::request`]): the verified sender and the exact body it signed. Handlers of the
/// `/federation/v1` routes other than push take it, so no handler can forget the check.
pub struct SignedPeer {
    /// The node that signed the request.
    pub node: String,
    /// The body, as signed (empty for a GET).
    pub body: axum::body::Bytes,
}

impl FromRequest<App> for SignedPeer {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |o| o.0.clone());
        let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let body = axum::body::to_bytes(body, crate::federation::receive::MAX_REQUEST_BYTES)
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "Data yang dikirim terlalu besar",
                    "The body is too large",
                )
                .detail(e.to_string())
            })?;
        let node = app.node();
        let sender = node
            .fed
            .verify_request(
                &parts.headers,
                parts.method.as_str(),
                path_and_query,
                &body,
                node.now(),
            )
            .map_err(|e| {
                let title = if e.code == "unsigned_request" {
                    (
                        "Permintaan antarnode tidak bertanda tangan",
                        "Node-to-node request is not signed",
                    )
                } else {
                    (
                        "Tanda tangan permintaan antarnode ditolak",
                        "Node-to-node request signature refused",
                    )
                };
                ApiError::new(StatusCode::UNAUTHORIZED, e.code, title.0, title.1).detail(e.detail)
            })?;
        // Contact: the sender is reachable, so this node's push worker towards it stops backing off.
        node.fed.peer_wake(&sender).notify_one();
        Ok(Self { node: sender, body })
    }
}
