//! Response headers and access rules that protect what a response carries:
//!
//! * `Cache-Control: no-store` on every response that does not set its own (API answers, pages with a
//!   reporter's identity, the console), so no browser, proxy or shared computer keeps a copy; only the static
//!   assets (which say `public, max-age`) may be cached.
//! * `Strict-Transport-Security` when the request came over HTTPS, which the node learns from the reverse
//!   proxy it trusts: a loopback peer (the same trust as the rate limits' `X-Forwarded-For`, `http::limit`)
//!   saying `X-Forwarded-Proto: https`. A remote client cannot fake it.
//! * The client address of every request, handed to the audit log ([`crate::app::audit::CLIENT`]).
//! * `/metrics` only for this machine, the addresses in `security.metrics_allow`, or a request with
//!   `Authorization: Bearer <security.metrics_token>`; anyone else gets 404 (the endpoint does not announce
//!   itself).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::app::App;

/// The TCP peer of a request (none for in-process calls).
fn peer_of(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Whether the request came from the trusted reverse proxy (a loopback peer) or from inside the process.
fn trusted_peer(req: &Request) -> bool {
    peer_of(req).is_none_or(|ip| ip.is_loopback())
}

fn forwarded_for(req: &Request) -> Option<IpAddr> {
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|ip| ip.trim().parse().ok())
}

/// The address the audit log records: behind the trusted proxy the client it names, else the TCP peer.
fn client_address(req: &Request) -> Option<IpAddr> {
    if trusted_peer(req) {
        forwarded_for(req).or_else(|| peer_of(req))
    } else {
        peer_of(req)
    }
}

/// Whether the request reached the node over HTTPS.
fn over_https(req: &Request) -> bool {
    req.uri().scheme_str() == Some("https")
        || (trusted_peer(req)
            && req
                .headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")))
}

/// The middleware: the client address for the audit log, `no-store` and HSTS on the way out.
pub async fn protect(State(app): State<App>, req: Request, next: Next) -> Response {
    let client = client_address(&req);
    let https = over_https(&req);
    let mut resp = crate::app::audit::CLIENT.scope(client, next.run(req)).await;
    let headers = resp.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let max_age = app.config().security.hsts_max_age_secs;
    if https && max_age > 0 {
        if let Ok(v) = HeaderValue::from_str(&format!("max-age={max_age}; includeSubDomains")) {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, v);
        }
    }
    resp
}

/// Guards `/metrics` (see the module doc).
pub async fn metrics_access(State(app): State<App>, req: Request, next: Next) -> Response {
    let security = &app.config().security;
    // The machine itself: a loopback peer that forwards nobody else's request, or an in-process call.
    let local = trusted_peer(&req) && forwarded_for(&req).is_none();
    let allowed_address =
        client_address(&req).is_some_and(|ip| security.metrics_allow.contains(&ip));
    let token = match security.metrics_token() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "security.metrics_token_file cannot be read");
            None
        }
    };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let token_ok = match (token, bearer) {
        (Some(t), Some(b)) => bool::from(t.as_bytes().ct_eq(b.as_bytes())),
        _ => false,
    };
    if local || allowed_address || token_ok {
        return next.run(req).await;
    }
    tracing::info!(client.ip = ?client_address(&req), "metrics refused");
    ApiError::route_not_found().into_response()
}
