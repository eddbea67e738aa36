//! `GET|POST /channels/sms/kannel`: the endpoint of a Kannel smsbox `sms-service` (`get-url` or
//! `post-url`). Parameters (query or form): `token` (the shared secret), `sender` (%p), `receiver` (%P),
//! `text` (%a), `smsc` (%i), `ts` (%t), and optionally `coding` (%c), `charset` (%C) and `udh` (%u); with
//! Kannel's `post-url` the message is the request body instead of `text`. A
//! wrong or missing token answers 403 and nothing is read; otherwise the answer is `200 text/plain`, whose
//! body Kannel sends back to the sender as the reply SMS (Kannel only replies with the body of a 200).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::params::Params;
use super::Gateway;
use crate::app::App;
use crate::http::error::ApiError;

/// Largest request read: a long message percent-encoded as UTF-16 is about 10 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// One inbound SMS.
pub async fn inbound(
    State(app): State<App>,
    gateway: Option<Extension<Arc<Gateway>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(Extension(gateway)) = gateway else {
        return ApiError::route_not_found().into_response();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    let mut params = Params::parse(
        uri.query().unwrap_or("").as_bytes(),
        if form { &body } else { &[] },
    );
    if !form && !body.is_empty() {
        // Kannel's own `post-url`: the message itself is the body (`text/plain; charset=...`, or
        // `application/octet-stream` for 8-bit data), the rest comes as escapes in the URL.
        params.body_text(&body, &content_type);
    }
    if !gateway.token_ok(params.text("token").as_deref()) {
        tracing::warn!("sms refused: wrong or missing token");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_token",
            "Token kanal SMS salah atau tidak ada",
            "SMS channel token wrong or missing",
        )
        .into_response();
    }
    let (outcome, reply) = gateway.answer(&app, &params).await;
    tracing::info!(sms.smsc = %params.text("smsc").unwrap_or_default(), sms.outcome = outcome, "sms answered");
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], reply).into_response()
}
