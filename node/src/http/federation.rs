//! `/federation/v1/`: the handlers of what peers call. Each authenticates (a push by the signature of its
//! own body, checked by the federation engine; everything else by the [`SignedPeer`] extractor), calls
//! [`crate::federation::receive`] and turns a refusal into a problem document with a stable code.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lapor_federation::envelope::{EnvelopeError, MAX_BATCH_BYTES};
use lapor_federation::transport::server::SignedBody;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::SignedPeer;
use crate::app::App;
use crate::federation::identity::{self, HandoverRefusal};
use crate::federation::receive::{self, ReceiveError};
use crate::federation::Counters;

/// The body limit of the federation routes: the protocol's batch cap plus room to detect an oversized one
/// (a push body is read by [`SignedBody`] itself, which stops at the cap).
pub const BODY_LIMIT: usize = 2 * MAX_BATCH_BYTES;

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

impl From<ReceiveError> for ApiError {
    fn from(e: ReceiveError) -> Self {
        match e {
            ReceiveError::Envelope(e) => ApiError::new(
                envelope_status(&e),
                e.code(),
                "Kiriman antarnode ditolak",
                "Node-to-node push refused",
            )
            .detail(e.to_string()),
            e @ ReceiveError::InboxFull { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "inbox_full",
                "Antrean penerimaan node ini penuh; kirim ulang nanti",
                "This node's inbox is full for that origin; retry later",
            )
            .detail(e.to_string()),
            ReceiveError::Key(e) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                e.code(),
                "Kunci penanda tangan kiriman sudah dicabut",
                "The push is signed with a revoked key",
            )
            .detail(e.to_string()),
            ReceiveError::Request(e) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                e.code,
                "Tanda tangan waktu kiriman antarnode ditolak (kedaluwarsa, diulang, atau tidak ada)",
                "The push's signed time was refused (stale, replayed or missing)",
            )
            .detail(e.detail),
            ReceiveError::UnknownPeer(node) => ApiError::new(
                StatusCode::FORBIDDEN,
                "unknown_peer",
                "Node pengirim tidak terdaftar sebagai mitra",
                "The sending node is not an enrolled peer",
            )
            .detail(format!("node {node:?} is not in this node's peer list")),
            ReceiveError::Malformed(detail) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "Permintaan tidak valid",
                "Malformed request",
            )
            .detail(detail),
            ReceiveError::NotFound("report") => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "Laporan tidak ada di node ini",
                "No such report here",
            ),
            ReceiveError::NotFound(_) => ApiError::route_not_found(),
            ReceiveError::HistoryTooLong => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "history_too_long",
                "Riwayat laporan terlalu panjang untuk dipindahkan",
                "This report's history is longer than a transfer may carry",
            ),
            ReceiveError::NotHub => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_a_hub",
                "Node ini bukan hub; direktori ada di hub",
                "This node is not a hub; the directory is at the hub",
            ),
            ReceiveError::Storage(e) => {
                tracing::error!(error = %e, "federation storage failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "Penyimpanan tidak tersedia; kirim ulang nanti",
                    "Storage unavailable; retry later",
                )
            }
            ReceiveError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "federation failure");
                ApiError::internal()
            }
        }
    }
}

impl From<HandoverRefusal> for ApiError {
    fn from(e: HandoverRefusal) -> Self {
        let detail = e.to_string();
        match e {
            HandoverRefusal::Malformed(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "Permintaan tidak valid",
                "Malformed request",
            ),
            HandoverRefusal::NotOwner(_) => ApiError::new(
                StatusCode::CONFLICT,
                "not_owner",
                "Node yang disebut bukan pemilik laporan ini menurut node ini",
                "The node named is not this report's owner as this node holds it",
            ),
            HandoverRefusal::NotAuthorised(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                "not_authorised",
                "Node ini tidak boleh meminta identitas pelapor atas nama node lain",
                "This node may not ask for the reporter identity on another node's behalf",
            ),
            HandoverRefusal::NotHeld => ApiError::new(
                StatusCode::NOT_FOUND,
                "identity_not_held",
                "Identitas pelapor laporan ini tidak disimpan di node ini",
                "No reporter identity of this report is held here",
            ),
            HandoverRefusal::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "identity_unavailable",
                "Pemilik lama laporan belum dapat dihubungi; coba lagi nanti",
                "The report's former owner cannot be reached yet; retry later",
            ),
            HandoverRefusal::Storage(e) => return ApiError::from(ReceiveError::Storage(e)),
            HandoverRefusal::Internal(e) => return ApiError::from(ReceiveError::Internal(e)),
        }
        .detail(detail)
    }
}

fn json(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}

/// `POST /federation/v1/push`: a signed batch of events from a peer.
#[tracing::instrument(skip_all)]
pub async fn push(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    body: Result<SignedBody, Response>,
) -> Response {
    let result = match body {
        Ok(SignedBody(body)) => receive::push(app.node(), &headers, &body)
            .await
            .map_err(ApiError::from),
        Err(rejection) => {
            Counters::add(&app.node().fed.counters.rejected_requests, 1);
            return rejection;
        }
    };
    match result {
        Ok(bytes) => json(bytes),
        Err(e) => {
            Counters::add(&app.node().fed.counters.rejected_requests, 1);
            e.into_response()
        }
    }
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

/// `GET /federation/v1/log/{origin}?after=N&limit=M`: an origin's log after a sequence number.
#[tracing::instrument(skip_all, err(level = "debug"), fields(peer.node, origin = %origin))]
pub async fn log(
    State(app): State<App>,
    Path(origin): Path<String>,
    Query(q): Query<LogQuery>,
    peer: SignedPeer,
) -> Result<Response, ApiError> {
    tracing::Span::current().record("peer.node", peer.node.as_str());
    Ok(json(
        receive::log(app.node(), &origin, q.after, q.limit).await?,
    ))
}

/// `GET /federation/v1/reports/{key}/history`: every signed event of one report this node holds.
#[tracing::instrument(skip_all, err(level = "debug"), fields(peer.node, report.key = %key))]
pub async fn history(
    State(app): State<App>,
    Path(key): Path<String>,
    peer: SignedPeer,
) -> Result<Response, ApiError> {
    tracing::Span::current().record("peer.node", peer.node.as_str());
    Ok(json(receive::history(app.node(), &key).await?))
}

/// `POST /federation/v1/catch-up`: everything after what the caller has of each origin.
#[tracing::instrument(skip_all, err(level = "debug"), fields(peer.node))]
pub async fn catch_up(State(app): State<App>, peer: SignedPeer) -> Result<Response, ApiError> {
    tracing::Span::current().record("peer.node", peer.node.as_str());
    Ok(json(receive::catch_up(app.node(), &peer.body).await?))
}

/// `GET /federation/v1/blobs/{hash}`: a sealed blob.
#[tracing::instrument(skip_all, err(level = "debug"), fields(peer.node, blob = %hash))]
pub async fn blob(
    State(app): State<App>,
    Path(hash): Path<String>,
    peer: SignedPeer,
) -> Result<Response, ApiError> {
    tracing::Span::current().record("peer.node", peer.node.as_str());
    let bytes = receive::blob(app.node(), &hash).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    )
        .into_response())
}

/// `POST /federation/v1/identity`: a report's reporter identity sealed to its new owner.
#[tracing::instrument(skip_all, err(level = "debug"), fields(peer.node))]
pub async fn identity_fetch(
    State(app): State<App>,
    peer: SignedPeer,
) -> Result<Response, ApiError> {
    tracing::Span::current().record("peer.node", peer.node.as_str());
    Ok(json(
        identity::serve_fetch(app.node(), &peer.node, &peer.body).await?,
    ))
}

/// `POST /federation/v1/identity/erase`: the new owner holds the identity; this node erases its copy.
#[tracing::instrument(skip_all, err(level = "debug"), fields(peer.node))]
pub async fn identity_erase(
    State(app): State<App>,
    peer: SignedPeer,
) -> Result<Response, ApiError> {
    tracing::Span::current().record("peer.node", peer.node.as_str());
    Ok(json(
        identity::serve_erase(app.node(), &peer.node, &peer.body).await?,
    ))
}

/// Query of the directory: the format version wanted (1 when absent; older nodes never ask).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQuery {
    /// Format version.
    #[serde(default)]
    pub v: Option<u64>,
}

/// `GET /federation/v1/directory[?v=2]` (hub only).
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn directory(
    State(app): State<App>,
    Query(q): Query<DirectoryQuery>,
) -> Result<Response, ApiError> {
    Ok(json(receive::directory(app.node(), q.v).await?))
}
