//! Rate limits per client address on what can be guessed or flooded: logins, the bootstrap secret, tracking
//! secrets, filing and registration. One token bucket per (class, address); an empty bucket answers 429
//! `rate_limited` with `Retry-After`, in Indonesian or English like every problem.
//!
//! The address is the TCP peer. A request from a loopback peer (a reverse proxy on the same machine) is keyed
//! by the last address of its `X-Forwarded-For` instead, the one the proxy added; a loopback peer without that
//! header is the machine itself (an operator's tool, a test harness) and is not limited, nor are requests
//! without a peer address (in-process calls). Per-account lockout after failed logins is
//! `app::accounts` (it knows the username).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// What a request spends a token of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A login (API or console).
    Login,
    /// The one-time bootstrap secret.
    Bootstrap,
    /// A reporter account registration.
    Register,
    /// Filing a report.
    Filing,
    /// A request carrying a tracking secret (looking a report up or acting on it as its reporter).
    Secret,
}

impl Class {
    /// Burst size and the time one token takes to come back.
    fn budget(self) -> (f64, Duration) {
        match self {
            Class::Login => (10.0, Duration::from_secs(6)),
            Class::Bootstrap | Class::Register => (5.0, Duration::from_secs(60)),
            Class::Filing => (20.0, Duration::from_secs(3)),
            Class::Secret => (30.0, Duration::from_secs(2)),
        }
    }

    /// The class of a request, if it is limited.
    pub fn of(method: &Method, path: &str, has_secret: bool) -> Option<Class> {
        let post = method == Method::POST;
        match path {
            "/api/v1/auth/login" | "/officer/login" if post => Some(Class::Login),
            "/api/v1/auth/bootstrap" if post => Some(Class::Bootstrap),
            "/api/v1/auth/register" if post => Some(Class::Register),
            "/api/v1/reports" | "/report" if post => Some(Class::Filing),
            "/track" if post => Some(Class::Secret),
            p if post && p.starts_with("/track/") => Some(Class::Secret),
            _ if has_secret => Some(Class::Secret),
            _ => None,
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
    burst: f64,
    per: Duration,
}

impl Bucket {
    fn full_at(&self, now: Instant) -> bool {
        self.tokens + now.duration_since(self.at).as_secs_f64() / self.per.as_secs_f64()
            >= self.burst
    }
}

/// Most buckets kept; beyond it, the full ones (clients that came back to their budget) are dropped.
const MAX_BUCKETS: usize = 100_000;

/// Token buckets by any key: `burst` tokens, one back every `per`. The per-address [`Limiter`] uses them, and
/// so does the Open311 surface per API key.
pub struct Buckets<K> {
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: std::hash::Hash + Eq> Buckets<K> {
    /// Takes one token of `key`'s bucket (`burst`, one back every `per`) at `now`; the wait until the next one
    /// when there is none.
    pub fn take(&self, key: K, burst: f64, per: Duration, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| !b.full_at(now));
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
            burst,
            per,
        });
        let refill = now.duration_since(b.at).as_secs_f64() / per.as_secs_f64();
        b.tokens = (b.tokens + refill).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(per.mul_f64(1.0 - b.tokens))
        }
    }
}

/// The buckets of every client.
#[derive(Default)]
pub struct Limiter {
    buckets: Buckets<(Class, IpAddr)>,
}

impl Limiter {
    /// Takes one token of `class` for `ip` at `now`; the wait until the next one when there is none.
    pub fn take(&self, class: Class, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let (burst, per) = class.budget();
        self.buckets.take((class, ip), burst, per, now)
    }
}

/// The client address of a request: its TCP peer, or behind a proxy on the same machine the address that proxy
/// put last into `X-Forwarded-For`; `None` for the machine itself.
fn client_of(req: &Request) -> Option<IpAddr> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip();
    if peer.is_loopback() {
        return req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse().ok());
    }
    Some(peer)
}

/// The middleware: spends a token for limited requests, answers 429 when there is none.
pub async fn rate_limit(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    let has_secret = req.headers().contains_key("x-tracking-secret");
    if let (Some(class), Some(ip)) = (
        Class::of(req.method(), req.uri().path(), has_secret),
        client_of(&req),
    ) {
        if let Err(wait) = limiter.take(class, ip, Instant::now()) {
            let secs = wait.as_secs().max(1);
            tracing::warn!(client.ip = %ip, ?class, retry_after = secs, "rate limited");
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Terlalu banyak permintaan; coba lagi sebentar lagi",
                "Too many requests; try again shortly",
            )
            .detail(format!("try again in {secs} s"))
            .retry_after(secs)
            .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills() {
        let l = Limiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap_or(IpAddr::from([10, 0, 0, 1]));
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(l.take(Class::Login, ip, t0).is_ok());
        }
        let wait = l.take(Class::Login, ip, t0).unwrap_err();
        assert!(
            wait <= Duration::from_secs(6) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another address and another class have their own buckets.
        assert!(l
            .take(Class::Login, IpAddr::from([10, 0, 0, 2]), t0)
            .is_ok());
        assert!(l.take(Class::Filing, ip, t0).is_ok());
        // One token is back after its refill time.
        assert!(l
            .take(Class::Login, ip, t0 + Duration::from_secs(6))
            .is_ok());
        assert!(l
            .take(Class::Login, ip, t0 + Duration::from_secs(6))
            .is_err());
    }

    #[test]
    fn limited_requests() {
        assert_eq!(
            Class::of(&Method::POST, "/api/v1/auth/login", false),
            Some(Class::Login)
        );
        assert_eq!(Class::of(&Method::GET, "/api/v1/auth/login", false), None);
        assert_eq!(
            Class::of(&Method::GET, "/api/v1/reports/KPG-1", true),
            Some(Class::Secret)
        );
        assert_eq!(Class::of(&Method::GET, "/api/v1/reports", false), None);
        assert_eq!(
            Class::of(&Method::POST, "/report", false),
            Some(Class::Filing)
        );
    }
}
