//! The sending side of the federation routes over HTTPS (reqwest with rustls).
//!
//! The client does no retrying itself: push workers own their backoff and cursor. [`TransportError`] says
//! whether trying again later can help ([`TransportError::is_retryable`]).

use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Response, StatusCode};

use super::{encode_path_segment, CATCH_UP_PATH, LOG_PATH_PREFIX, PUSH_PATH};
use crate::request::RequestSigner;
use crate::wire::{CatchUpRequest, LogPage, PushResponse};

/// Default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for a whole request, response body included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap on a response body: a page of events or a blob.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Errors of a federation request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made (DNS, refused, TLS handshake). Try again later.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection or the whole request took too long. Try again later.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The server answered with a status other than 200.
    #[error("HTTP {status}{}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
        detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The `code` of the problem+json body, if the body was one.
        code: Option<String>,
        /// Its `detail` (or `title`), if any.
        detail: Option<String>,
        /// The `Retry-After` delay in seconds, if the server sent one.
        retry_after: Option<Duration>,
    },
    /// A 200 answer whose body is not what the route returns.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// A response body larger than the client's cap.
    #[error("response larger than {max} bytes")]
    TooLarge {
        /// The cap.
        max: usize,
    },
    /// Anything else: a bad URL, the connection dropped mid-body, a client that cannot be built.
    #[error("request failed: {0}")]
    Request(String),
}

impl TransportError {
    /// Stable `snake_case` code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            TransportError::Connect(_) => "connect",
            TransportError::Timeout(_) => "timeout",
            TransportError::Status { .. } => "http_status",
            TransportError::Malformed(_) => "malformed_response",
            TransportError::TooLarge { .. } => "response_too_large",
            TransportError::Request(_) => "request_failed",
        }
    }

    /// Whether the same request may succeed later: connection problems, timeouts, dropped connections, and the
    /// statuses 408, 425, 429 and 5xx. Other 4xx answers and malformed bodies need a person (or a code fix).
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Connect(_)
            | TransportError::Timeout(_)
            | TransportError::Request(_) => true,
            TransportError::Status { status, .. } => {
                matches!(status, 408 | 425 | 429) || (500..600).contains(status)
            }
            TransportError::Malformed(_) | TransportError::TooLarge { .. } => false,
        }
    }

    /// Whether the peer answered 404: it does not hold what was asked for.
    pub fn is_not_found(&self) -> bool {
        matches!(self, TransportError::Status { status: 404, .. })
    }

    /// The problem `code` of an HTTP error answer, if any.
    pub fn problem_code(&self) -> Option<&str> {
        match self {
            TransportError::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// The cause of a client error in words an operator can act on, then its full cause chain: reqwest's own
/// message ("error sending request for url") says nothing about what went wrong, its sources do.
fn describe(e: &reqwest::Error) -> String {
    let mut chain = vec![e.to_string()];
    let mut refused = false;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        chain.push(s.to_string());
        source = s.source();
    }
    let all = chain.join(": ");
    let lower = all.to_lowercase();
    let summary = if e.is_timeout() {
        "timed out (the peer or the network is too slow or drops packets)".to_owned()
    } else if refused || lower.contains("connection refused") {
        "connection refused (nothing listens at that address and port: is the peer running?)"
            .to_owned()
    } else if let Some(cert) = chain.iter().find(|c| c.contains("certificate")) {
        format!(
            "TLS failure: {} (check the peer's certificate, or federation.ca_file for a private CA)",
            cert.trim()
        )
    } else if lower.contains("tls") || lower.contains("handshake") {
        "TLS failure (handshake)".to_owned()
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        "host name not found (DNS)".to_owned()
    } else {
        return all;
    };
    format!("{summary}; {all}")
}

impl From<reqwest::Error> for TransportError {
    fn from(e: reqwest::Error) -> Self {
        let text = describe(&e);
        if e.is_timeout() {
            TransportError::Timeout(text)
        } else if e.is_connect() {
            TransportError::Connect(text)
        } else {
            TransportError::Request(text)
        }
    }
}

/// HTTP client for the federation routes of other nodes. Cheap to clone (it shares the connection pool).
#[derive(Debug, Clone)]
pub struct FederationClient {
    http: reqwest::Client,
    max_response_bytes: usize,
}

impl FederationClient {
    /// A client with the default timeouts and response cap.
    pub fn new() -> Result<Self, TransportError> {
        Self::with_timeouts(DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT)
    }

    /// A client with these timeouts: `connect` for establishing a connection, `request` for a whole request.
    pub fn with_timeouts(connect: Duration, request: Duration) -> Result<Self, TransportError> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(request)
            .user_agent(concat!("lapor-federation/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError::Request(e.to_string()))?;
        Ok(Self::from_client(http))
    }

    /// Wraps an existing reqwest client (its own timeouts and TLS settings apply).
    pub fn from_client(http: reqwest::Client) -> Self {
        FederationClient {
            http,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Sets the largest response body accepted.
    pub fn with_max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// The underlying reqwest client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends a signed push request body ([`crate::PushRequest::sign`]) to `POST {base_url}/federation/v1/push`.
    pub async fn push(
        &self,
        base_url: &str,
        signed_body: Vec<u8>,
        signer: &RequestSigner,
        now_ms: i64,
    ) -> Result<PushResponse, TransportError> {
        let mut req = self
            .http
            .post(url(base_url, PUSH_PATH))
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json");
        // The request headers carry the time (a replay window) over the same bytes.
        for (name, value) in signer.headers("POST", PUSH_PATH, &signed_body, now_ms) {
            req = req.header(name, value);
        }
        let response = req.body(signed_body).send().await?;
        let body = self.body_of(response).await?;
        serde_json::from_slice(&body).map_err(|e| TransportError::Malformed(e.to_string()))
    }

    /// Fetches the events of `origin` after `after_seq`, signed by `signer` at `now_ms`:
    /// `GET {base_url}/federation/v1/log/{origin}?after=N&limit=M`.
    pub async fn log_after(
        &self,
        base_url: &str,
        origin: &str,
        after_seq: u64,
        limit: u64,
        signer: &RequestSigner,
        now_ms: i64,
    ) -> Result<LogPage, TransportError> {
        let path = format!(
            "{LOG_PATH_PREFIX}{}?after={after_seq}&limit={limit}",
            encode_path_segment(origin)
        );
        let body = self.get_signed(base_url, &path, signer, now_ms).await?;
        LogPage::decode(&body).map_err(|e| TransportError::Malformed(e.to_string()))
    }

    /// A GET of `path_and_query` signed by `signer` at `now_ms` (`lapor-request-v1`); the body of a 200 answer.
    pub async fn get_signed(
        &self,
        base_url: &str,
        path_and_query: &str,
        signer: &RequestSigner,
        now_ms: i64,
    ) -> Result<Vec<u8>, TransportError> {
        let mut req = self
            .http
            .get(url(base_url, path_and_query))
            .header(ACCEPT, "application/json");
        for (name, value) in signer.headers("GET", path_and_query, b"", now_ms) {
            req = req.header(name, value);
        }
        let response = req.send().await?;
        self.body_of(response).await
    }

    /// A POST of a JSON `body` to `path` signed by `signer` at `now_ms`; the body of a 200 answer.
    pub async fn post_signed(
        &self,
        base_url: &str,
        path: &str,
        body: Vec<u8>,
        signer: &RequestSigner,
        now_ms: i64,
    ) -> Result<Vec<u8>, TransportError> {
        let mut req = self
            .http
            .post(url(base_url, path))
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json");
        for (name, value) in signer.headers("POST", path, &body, now_ms) {
            req = req.header(name, value);
        }
        let response = req.body(body).send().await?;
        self.body_of(response).await
    }

    /// Asks for everything after what `req` says the caller holds: `POST {base_url}/federation/v1/catch-up`.
    pub async fn catch_up(
        &self,
        base_url: &str,
        req: &CatchUpRequest,
        signer: &RequestSigner,
        now_ms: i64,
    ) -> Result<LogPage, TransportError> {
        let body = serde_json::to_vec(req).map_err(|e| TransportError::Request(e.to_string()))?;
        let body = self
            .post_signed(base_url, CATCH_UP_PATH, body, signer, now_ms)
            .await?;
        LogPage::decode(&body).map_err(|e| TransportError::Malformed(e.to_string()))
    }

    /// `GET url`, returning the body of a 200 answer (a blob, a directory document).
    pub async fn get_bytes(&self, url: &str) -> Result<Vec<u8>, TransportError> {
        let response = self.http.get(url).send().await?;
        self.body_of(response).await
    }

    /// The body of a 200 answer, read up to the cap; any other status becomes [`TransportError::Status`].
    async fn body_of(&self, mut response: Response) -> Result<Vec<u8>, TransportError> {
        let status = response.status();
        let retry_after = retry_after(response.headers());
        if response
            .content_length()
            .is_some_and(|n| n > self.max_response_bytes as u64)
        {
            return Err(TransportError::TooLarge {
                max: self.max_response_bytes,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > self.max_response_bytes {
                if status != StatusCode::OK {
                    break;
                }
                return Err(TransportError::TooLarge {
                    max: self.max_response_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        if status != StatusCode::OK {
            let (code, detail) = problem_fields(&body);
            return Err(TransportError::Status {
                status: status.as_u16(),
                code,
                detail,
                retry_after,
            });
        }
        Ok(body)
    }
}

fn url(base_url: &str, path: &str) -> String {
    format!("{}{path}", base_url.trim_end_matches('/'))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `code` and `detail` (or `title`) of a problem+json body, when it is one.
fn problem_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return (None, None);
    };
    let text = |k: &str| map.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    (text("code"), text("detail").or_else(|| text("title")))
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tokio::spawn: the test server is not an application task
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::extract::{Path, Query, State};
    use axum::http::{header, HeaderMap as AxumHeaders, StatusCode as AxumStatus};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use axum::Router;

    use crate::envelope::{Event, EventId};
    use crate::wire::Rejected;

    #[derive(Default)]
    struct Seen {
        push: Option<(String, Vec<u8>)>,
        log: Option<(String, BTreeMap<String, String>)>,
        catch_up: Option<CatchUpRequest>,
        signed_by: Vec<String>,
    }

    const NOW: i64 = 1_780_000_000_000;

    fn signer() -> RequestSigner {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        RequestSigner::new("hub.example", &crate::key_id_for(&key.verifying_key()), key)
    }

    /// What the receiving node does: verify the request signature against its key log.
    fn sender_of(
        headers: &AxumHeaders,
        method: &str,
        uri: &axum::http::Uri,
        body: &[u8],
    ) -> String {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let mut log = crate::KeyLog::new();
        log.register(crate::KeyEntry::new(
            "hub.example",
            &crate::key_id_for(&key.verifying_key()),
            key.verifying_key(),
            0,
        ))
        .unwrap();
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        crate::request::verify(
            &log,
            |n| headers.get(n).and_then(|v| v.to_str().ok()),
            method,
            path,
            body,
            NOW + 10,
        )
        .expect("the request is signed")
    }

    fn event_bytes(seq: u64) -> Vec<u8> {
        Event {
            v: 1,
            kind: "report.created".to_owned(),
            origin: "a/b.example".to_owned(),
            origin_seq: seq,
            origin_prev: (seq > 1).then_some(EventId([1; 32])),
            report_id: "r".to_owned(),
            report_epoch: 0,
            report_prev: vec![],
            authored_at_ms: 0,
            key_id: "k".to_owned(),
            payload: crate::Value::Object(BTreeMap::new()),
            blobs: vec![],
        }
        .sign(&ed25519_dalek::SigningKey::from_bytes(&[1; 32]))
        .unwrap()
        .wire_bytes()
        .to_vec()
    }

    async fn serve(seen: Arc<Mutex<Seen>>) -> String {
        let app =
            Router::new()
                .route(
                    "/federation/v1/push",
                    post(
                        |State(seen): State<Arc<Mutex<Seen>>>,
                         headers: AxumHeaders,
                         body: Bytes| async move {
                            let ct = headers
                                .get(header::CONTENT_TYPE)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned();
                            seen.lock().unwrap().push = Some((ct, body.to_vec()));
                            axum::Json(PushResponse {
                                txn: "t1".to_owned(),
                                accepted: vec!["ab".repeat(32)],
                                rejected: vec![Rejected {
                                    index: 1,
                                    id: None,
                                    code: "whitespace".to_owned(),
                                    reason: "not canonical".to_owned(),
                                }],
                            })
                        },
                    ),
                )
                .route(
                    "/federation/v1/log/{origin}",
                    get(
                        |State(seen): State<Arc<Mutex<Seen>>>,
                         headers: AxumHeaders,
                         uri: axum::http::Uri,
                         Path(origin): Path<String>,
                         Query(q): Query<BTreeMap<String, String>>| async move {
                            let by = sender_of(&headers, "GET", &uri, b"");
                            let mut seen = seen.lock().unwrap();
                            seen.signed_by.push(by);
                            seen.log = Some((origin, q));
                            LogPage {
                                events: vec![event_bytes(1), event_bytes(2)],
                                more: true,
                            }
                            .encode()
                        },
                    ),
                )
                .route(
                    "/federation/v1/catch-up",
                    post(
                        |State(seen): State<Arc<Mutex<Seen>>>,
                         headers: AxumHeaders,
                         uri: axum::http::Uri,
                         body: Bytes| async move {
                            let by = sender_of(&headers, "POST", &uri, &body);
                            let req: CatchUpRequest = serde_json::from_slice(&body).unwrap();
                            let mut seen = seen.lock().unwrap();
                            seen.signed_by.push(by);
                            seen.catch_up = Some(req);
                            LogPage::default().encode()
                        },
                    ),
                )
                .route(
                    "/problem",
                    get(|| async {
                        (
                        AxumStatus::SERVICE_UNAVAILABLE,
                        [
                            (header::CONTENT_TYPE, "application/problem+json"),
                            (header::RETRY_AFTER, "7"),
                        ],
                        r#"{"type":"about:blank","title":"Busy","status":503,"code":"overloaded"}"#,
                    )
                        .into_response()
                    }),
                )
                .route(
                    "/forbidden",
                    get(|| async { (AxumStatus::FORBIDDEN, "no").into_response() }),
                )
                .route("/blob", get(|| async { vec![7u8; 100] }))
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        "late"
                    }),
                )
                .with_state(seen);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn push_log_catch_up_and_bytes() {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let base = serve(seen.clone()).await;
        let client = FederationClient::new().unwrap();

        let response = client
            .push(&base, b"{\"signed\":1}".to_vec(), &signer(), NOW)
            .await
            .unwrap();
        assert_eq!(response.txn, "t1");
        assert_eq!(response.rejected[0].code, "whitespace");
        let (ct, body) = seen.lock().unwrap().push.take().unwrap();
        assert_eq!(ct, "application/json");
        assert_eq!(body, b"{\"signed\":1}");

        let page = client
            .log_after(&base, "a/b.example", 41, 100, &signer(), NOW)
            .await
            .unwrap();
        assert!(page.more);
        assert_eq!(page.events, vec![event_bytes(1), event_bytes(2)]);
        let (origin, query) = seen.lock().unwrap().log.take().unwrap();
        assert_eq!(origin, "a/b.example");
        assert_eq!(query["after"], "41");
        assert_eq!(query["limit"], "100");

        let mut req = CatchUpRequest {
            limit: 10,
            ..CatchUpRequest::default()
        };
        req.have.insert("a.example".to_owned(), 5);
        let page = client
            .catch_up(base.trim_end_matches('/'), &req, &signer(), NOW)
            .await
            .unwrap();
        assert_eq!(page, LogPage::default());
        assert_eq!(seen.lock().unwrap().catch_up.take().unwrap(), req);
        assert_eq!(
            seen.lock().unwrap().signed_by,
            vec!["hub.example".to_owned(), "hub.example".to_owned()]
        );

        assert_eq!(
            client.get_bytes(&format!("{base}blob")).await.unwrap(),
            vec![7u8; 100]
        );
        let small = client.clone().with_max_response_bytes(50);
        assert_eq!(
            small
                .get_bytes(&format!("{base}blob"))
                .await
                .unwrap_err()
                .code(),
            "response_too_large"
        );
    }

    #[tokio::test]
    async fn errors_are_classified() {
        let base = serve(Arc::new(Mutex::new(Seen::default()))).await;
        let client =
            FederationClient::with_timeouts(Duration::from_secs(2), Duration::from_millis(300))
                .unwrap();

        let err = client
            .get_bytes(&format!("{base}problem"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            TransportError::Status {
                status: 503,
                code: Some("overloaded".to_owned()),
                detail: Some("Busy".to_owned()),
                retry_after: Some(Duration::from_secs(7)),
            }
        );
        assert!(err.is_retryable());
        assert_eq!(err.problem_code(), Some("overloaded"));
        assert!(err.to_string().contains("503 (overloaded)"), "{err}");

        let err = client
            .get_bytes(&format!("{base}forbidden"))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            TransportError::Status {
                status: 403,
                code: None,
                ..
            }
        ));
        assert!(!err.is_retryable());

        let err = client.get_bytes(&format!("{base}slow")).await.unwrap_err();
        assert_eq!(err.code(), "timeout", "{err:?}");
        assert!(err.is_retryable());

        // A port nobody listens on.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = client
            .get_bytes(&format!("http://{addr}/"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "connect", "{err:?}");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn malformed_bodies() {
        let app = Router::new()
            .route("/federation/v1/push", post(|| async { "[1,2]" }))
            .route(
                "/federation/v1/log/{origin}",
                get(|| async { r#"{"events": [],"more":false}"# }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let base = format!("http://{addr}");
        let client = FederationClient::new().unwrap();
        let err = client
            .push(&base, vec![], &signer(), NOW)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "malformed_response");
        assert!(!err.is_retryable());
        let err = client
            .log_after(&base, "o", 0, 1, &signer(), NOW)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "malformed_response");
    }
}
