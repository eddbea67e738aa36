//! `/federation/v1/`: what peers call. A push is authenticated by its own signature, every event in it is
//! verified on arrival (so the answer can name each refusal), and the good ones are stored in the durable
//! inbox with the answer, in one transaction, before the answer leaves. Applying happens later, in the
//! applier. Pulls, catch-up and blobs are signed requests (see [`super::auth`]).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lapor_federation::envelope::{verify_push, verify_received, EnvelopeError, MAX_BATCH_BYTES};
use lapor_federation::keys::KeyLog;
use lapor_federation::wire::{CatchUpRequest, LogPage, PushResponse, Rejected};
use lapor_federation::SignedEvent;
use serde::Deserialize;

use super::auth::verify_request;
use super::Counters;
use crate::http::error::ApiError;
use crate::service::App;
use crate::storage::{InboxEvent, PushOutcome, StorageError};

/// Most events one pull or catch-up page returns.
pub const MAX_PAGE: i64 = 1000;

fn fed(app: &App) -> &super::Federation {
    &app.fed
}

fn envelope_status(e: &EnvelopeError) -> StatusCode {
    match e {
        EnvelopeError::BatchTooLarge { .. }
        | EnvelopeError::EventTooLarge { .. }
        | EnvelopeError::TooManyEvents { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        EnvelopeError::UnknownKey { .. } | EnvelopeError::BadSignature => StatusCode::UNAUTHORIZED,
        EnvelopeError::WrongDestination { .. } => StatusCode::MISDIRECTED_REQUEST,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn refused(e: &EnvelopeError) -> ApiError {
    ApiError::new(
        envelope_status(e),
        e.code(),
        "Kiriman antarnode ditolak",
        "Node-to-node push refused",
    )
    .detail(e.to_string())
}

fn storage_error(e: &StorageError) -> ApiError {
    tracing::error!(error = %e, "federation storage failure");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
        "Penyimpanan tidak tersedia; kirim ulang nanti",
        "Storage unavailable; retry later",
    )
}

fn internal(msg: &str) -> ApiError {
    tracing::error!(error = msg, "federation failure");
    ApiError::internal()
}

fn json(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}

/// Verifies one event of a push against the key log (and the key changes earlier in the same push).
/// The error is (event id if known, code, reason).
pub fn check_event(
    log: &mut KeyLog,
    local: &str,
    bytes: &[u8],
) -> Result<SignedEvent, (Option<String>, &'static str, String)> {
    let signed = verify_received(bytes, &*log).map_err(|e| (None, e.code(), e.to_string()))?;
    let id = signed.id().to_string();
    let event = signed.event();
    if event.origin == local {
        return Err((
            Some(id),
            "own_origin",
            "this node's own events are not accepted from others".into(),
        ));
    }
    log.check(event)
        .map_err(|e| (Some(id.clone()), e.code(), e.to_string()))?;
    // A key change takes effect for the events after it, also later in this push.
    log.apply_key_event(event)
        .map_err(|e| (Some(id), e.code(), e.to_string()))?;
    Ok(signed)
}

/// Applies the key events among a push's events (each verified against the keys known before it) to `log`.
fn learn_keys(log: &mut KeyLog, local: &str, body: &[u8]) {
    let Ok(lapor_federation::Value::Object(map)) = lapor_federation::decode_canonical(body) else {
        return;
    };
    let Some(lapor_federation::Value::Array(events)) = map.get("events") else {
        return;
    };
    for e in events {
        if let Ok(bytes) = lapor_federation::canonical::encode(e) {
            let _ = check_event(log, local, &bytes);
        }
    }
}

/// `POST /federation/v1/push`: a signed batch of events from a peer.
pub async fn push(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = match body {
        Ok(body) => push_inner(&app, &headers, &body).await,
        Err(e) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            "Kiriman antarnode terlalu besar",
            "Node-to-node push too large",
        )
        .detail(format!("{e}; the limit is {MAX_BATCH_BYTES} bytes"))),
    };
    match result {
        Ok(r) => r,
        Err(e) => {
            Counters::add(&fed(&app).counters.rejected_requests, 1);
            e.into_response()
        }
    }
}

async fn push_inner(app: &App, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    let f = fed(app);
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Kiriman harus application/json",
            "A push must be application/json",
        ));
    }
    let verified = {
        let mut log = f
            .keylog
            .read()
            .map_err(|_| internal("key log lock poisoned"))?
            .clone();
        let first = verify_push(body, &f.node_id, &log);
        let second = match first {
            // A sender that rotated its key signs with the new key, announced by a `key.rotated` event in
            // this very push: learn the keys the push's own valid events announce, then check again.
            Err(EnvelopeError::UnknownKey { .. }) => {
                learn_keys(&mut log, &f.node_id, body);
                verify_push(body, &f.node_id, &log)
            }
            other => other,
        };
        second.map_err(|e| {
            tracing::warn!(error = %e, code = e.code(), "push refused");
            refused(&e)
        })?
    };
    if fed(app).peer(&verified.sender).is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "unknown_peer",
            "Node pengirim tidak terdaftar sebagai mitra",
            "The sending node is not an enrolled peer",
        )
        .detail(format!(
            "node {:?} is not in this node's peer list",
            verified.sender
        )));
    }
    let now = app.now();
    let _ = app
        .store
        .peer_push_result(&verified.sender, PushOutcome::Contact, now)
        .await;
    f.push_wake.notify_waiters();
    if let Some(previous) = app
        .store
        .push_txn_get(&verified.sender, &verified.txn)
        .await
        .map_err(|e| storage_error(&e))?
    {
        return Ok(json(previous.into_bytes()));
    }
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    let mut inbox = Vec::new();
    {
        // Key changes seen in this push apply to its later events; the stored log changes when applied.
        let mut log = f
            .keylog
            .read()
            .map_err(|_| internal("key log lock poisoned"))?
            .clone();
        for (index, bytes) in verified.events.iter().enumerate() {
            match check_event(&mut log, &f.node_id, bytes) {
                Ok(signed) => {
                    let id = signed.id().to_string();
                    accepted.push(id.clone());
                    inbox.push(InboxEvent {
                        event_id: id,
                        origin: signed.event().origin.clone(),
                        origin_seq: signed.event().origin_seq as i64,
                        wire: bytes.clone(),
                    });
                }
                Err((id, code, reason)) => {
                    tracing::warn!(sender = %verified.sender, index, code, %reason, "event refused");
                    rejected.push(Rejected {
                        index: index as u64,
                        id,
                        code: code.to_owned(),
                        reason,
                    });
                }
            }
        }
    }
    let response = PushResponse {
        txn: verified.txn.clone(),
        accepted,
        rejected,
    };
    let text = serde_json::to_string(&response)
        .map_err(|e| internal(&format!("encoding the answer: {e}")))?;
    match app
        .store
        .inbox_insert(&verified.sender, &verified.txn, &text, &inbox, now)
        .await
    {
        Ok(()) => {}
        Err(StorageError::Conflict(_)) => {
            // The same transaction arrived twice at once; the first one's answer stands.
            if let Some(previous) = app
                .store
                .push_txn_get(&verified.sender, &verified.txn)
                .await
                .map_err(|e| storage_error(&e))?
            {
                return Ok(json(previous.into_bytes()));
            }
        }
        Err(e) => return Err(storage_error(&e)),
    }
    Counters::add(&f.counters.received, inbox.len() as u64);
    Counters::add(&f.counters.rejected, response.rejected.len() as u64);
    f.apply_wake.notify_one();
    Ok(json(text.into_bytes()))
}

/// Query of a log pull.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Events after this sequence number.
    #[serde(default)]
    pub after: i64,
    /// Page size.
    #[serde(default)]
    pub limit: Option<i64>,
}

fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query().map_or(uri.path(), |p| p.as_str())
}

/// Checks the signature of a bodiless GET from a peer.
fn verify_get(app: &App, headers: &HeaderMap, uri: &Uri) -> Result<String, ApiError> {
    verify_request(
        fed(app),
        headers,
        "GET",
        path_and_query(uri),
        b"",
        app.now(),
    )
}

/// `GET /federation/v1/log/{origin}?after=N&limit=M`: an origin's log after a sequence number.
pub async fn log(
    State(app): State<App>,
    Path(origin): Path<String>,
    Query(q): Query<LogQuery>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    verify_get(&app, &headers, &uri)?;
    let limit = q.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let events = app
        .store
        .events_after(&origin, q.after.max(0), limit + 1)
        .await
        .map_err(|e| storage_error(&e))?;
    Ok(json(page(events, limit)))
}

/// `GET /federation/v1/reports/{key}/history`: every signed event of one report this node holds (by report
/// id or tracking code), for a transfer's target and for tracking lookups on other nodes.
pub async fn history(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    verify_get(&app, &headers, &uri)?;
    let id = if key.contains(':') {
        Some(key)
    } else {
        app.store
            .report_by_tracking_code(&crate::domain::tracking::normalise_tracking_code(&key))
            .await
            .map_err(|e| storage_error(&e))?
            .map(|r| r.id)
    };
    let events = match id {
        Some(id) => app
            .store
            .report_history(&id)
            .await
            .map_err(|e| storage_error(&e))?,
        None => Vec::new(),
    };
    if events.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Laporan tidak ada di node ini",
            "No such report here",
        ));
    }
    if events.len() > super::transfer::MAX_HISTORY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "history_too_long",
            "Riwayat laporan terlalu panjang untuk dipindahkan",
            "This report's history is longer than a transfer may carry",
        ));
    }
    Ok(json(super::transfer::history_page(&events)))
}

fn page(mut events: Vec<Vec<u8>>, limit: i64) -> Vec<u8> {
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    LogPage { events, more }.encode()
}

/// `POST /federation/v1/catch-up`: everything after what the caller has of each origin, in one round trip.
/// Origins the caller does not list are included from the start when they are this node's own log.
pub async fn catch_up(
    State(app): State<App>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Result<Response, ApiError> {
    verify_request(
        fed(&app),
        &headers,
        "POST",
        path_and_query(&uri),
        &body,
        app.now(),
    )?;
    let req: CatchUpRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "Permintaan tidak valid",
            "Malformed request",
        )
        .detail(e.to_string())
    })?;
    let mut have: BTreeMap<String, u64> = req.have;
    have.entry(fed(&app).node_id.clone()).or_insert(0);
    let limit = i64::try_from(req.limit)
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let mut events = Vec::new();
    for (origin, after) in &have {
        let room = limit + 1 - events.len() as i64;
        if room <= 0 {
            break;
        }
        let after = i64::try_from(*after).unwrap_or(i64::MAX);
        events.extend(
            app.store
                .events_after(origin, after, room)
                .await
                .map_err(|e| storage_error(&e))?,
        );
    }
    Ok(json(page(events, limit)))
}

/// `GET /federation/v1/blobs/{hash}`: a sealed blob (only peers; it is sealed anyway).
pub async fn blob(
    State(app): State<App>,
    Path(hash): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    verify_get(&app, &headers, &uri)?;
    match app
        .store
        .blob_get(&hash)
        .await
        .map_err(|e| storage_error(&e))?
    {
        Some(bytes) => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response()),
        None => Err(ApiError::route_not_found()),
    }
}

/// The body limit of the push route: the protocol's batch cap plus room to detect an oversized one.
pub const PUSH_BODY_LIMIT: usize = 2 * MAX_BATCH_BYTES;
