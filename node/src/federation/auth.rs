//! Signed requests between nodes for everything that is not a push (a push body signs itself): pulls,
//! catch-up and blobs.
//!
//! ```text
//! X-Lapor-Node: <node id>      X-Lapor-Key: <key id>      X-Lapor-Time: <ms since epoch>
//! X-Lapor-Signature: hex(ed25519("lapor-request-v1\n" METHOD "\n" path?query "\n" time "\n" hex(sha256(body))))
//! ```
//!
//! The key must be the node's current key in the key log, and the time within five minutes of ours.

use axum::http::{HeaderMap, HeaderValue};
use ed25519_dalek::Signature;
use sha2::{Digest, Sha256};

use super::Federation;
use crate::domain::Millis;

/// Domain tag of signed requests.
pub const REQUEST_DOMAIN: &[u8] = b"lapor-request-v1\n";
/// Largest accepted clock difference.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

fn message(method: &str, path_and_query: &str, time: &str, body: &[u8]) -> Vec<u8> {
    format!(
        "{method}\n{path_and_query}\n{time}\n{}",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// The headers that sign a request of this node.
pub fn sign_request(
    fed: &Federation,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: Millis,
) -> Vec<(&'static str, String)> {
    let time = now.to_string();
    let sig = fed.sign_bytes(
        REQUEST_DOMAIN,
        &message(method, path_and_query, &time, body),
    );
    vec![
        ("x-lapor-node", fed.node_id.clone()),
        ("x-lapor-key", fed.keys.key_id.clone()),
        ("x-lapor-time", time),
        ("x-lapor-signature", sig),
    ]
}

/// Why a signed request was refused; `code` is the stable problem code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct RequestRefused {
    /// Stable code (`unsigned_request`, `bad_request_time`, `request_time_skew`, `unknown_key`,
    /// `key_not_current`, `malformed_signature`, `bad_signature`).
    pub code: &'static str,
    /// What exactly is wrong.
    pub detail: String,
}

fn refuse(code: &'static str, detail: impl Into<String>) -> RequestRefused {
    RequestRefused {
        code,
        detail: detail.into(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, RequestRefused> {
    headers
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .ok_or_else(|| refuse("unsigned_request", format!("missing header {name}")))
}

/// Checks a signed request and returns the node that sent it.
pub fn verify_request(
    fed: &Federation,
    headers: &HeaderMap,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: Millis,
) -> Result<String, RequestRefused> {
    let node = header(headers, "x-lapor-node")?;
    let key_id = header(headers, "x-lapor-key")?;
    let time = header(headers, "x-lapor-time")?;
    let sig_hex = header(headers, "x-lapor-signature")?;
    let t: Millis = time
        .parse()
        .map_err(|_| refuse("bad_request_time", "x-lapor-time is not an integer"))?;
    if (now - t).abs() > MAX_SKEW_MS {
        return Err(refuse(
            "request_time_skew",
            format!("x-lapor-time is {} ms away from this node's clock", now - t),
        ));
    }
    let key = {
        let log = fed
            .keylog
            .read()
            .map_err(|_| refuse("internal", "key log unavailable"))?;
        let entry = log.get(node, key_id).ok_or_else(|| {
            refuse(
                "unknown_key",
                format!("no key {key_id:?} is registered for node {node:?}"),
            )
        })?;
        if !entry.is_current() {
            return Err(refuse(
                "key_not_current",
                format!("key {key_id:?} of {node:?} was rotated or revoked"),
            ));
        }
        entry.public
    };
    let mut sig = [0u8; 64];
    hex::decode_to_slice(sig_hex, &mut sig).map_err(|_| {
        refuse(
            "malformed_signature",
            "x-lapor-signature is not 128 hex digits",
        )
    })?;
    let mut msg = REQUEST_DOMAIN.to_vec();
    msg.extend_from_slice(&message(method, path_and_query, time, body));
    key.verify_strict(&msg, &Signature::from_bytes(&sig))
        .map_err(|_| refuse("bad_signature", "the request signature does not verify"))?;
    Ok(node.to_owned())
}
