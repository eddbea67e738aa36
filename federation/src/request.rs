//! Signed requests between nodes for everything that is not a push (a push body signs itself): pulls,
//! catch-up, report histories, blobs and the directory.
//!
//! ```text
//! X-Lapor-Node: <node id>      X-Lapor-Key: <key id>      X-Lapor-Time: <ms since epoch>
//! X-Lapor-Signature: hex(ed25519("lapor-request-v1\n" METHOD "\n" path?query "\n" time "\n" hex(sha256(body))))
//! ```
//!
//! The key must be the sender's current key in the key log, and the time within [`MAX_SKEW_MS`] of the
//! receiver's clock. Both functions are pure: the caller passes its clock, its key log and a header lookup, so
//! any HTTP stack can use them.

use ed25519_dalek::{Signature, Signer, SigningKey};
use sha2::{Digest, Sha256};

use crate::KeyLog;

/// Domain tag of signed requests.
pub const REQUEST_DOMAIN: &[u8] = b"lapor-request-v1\n";
/// Largest accepted clock difference, in milliseconds.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;
/// Header naming the sending node.
pub const HEADER_NODE: &str = "x-lapor-node";
/// Header naming the signing key.
pub const HEADER_KEY: &str = "x-lapor-key";
/// Header with the signing time in milliseconds since the Unix epoch.
pub const HEADER_TIME: &str = "x-lapor-time";
/// Header with the hex signature.
pub const HEADER_SIGNATURE: &str = "x-lapor-signature";

/// The bytes a request signature covers, domain tag included.
pub fn message(method: &str, path_and_query: &str, time: &str, body: &[u8]) -> Vec<u8> {
    let mut msg = REQUEST_DOMAIN.to_vec();
    msg.extend_from_slice(
        format!(
            "{method}\n{path_and_query}\n{time}\n{}",
            hex::encode(Sha256::digest(body))
        )
        .as_bytes(),
    );
    msg
}

/// The four headers that sign a request of `node_id` with its key `key_id` at `now_ms`.
pub fn sign(
    key: &SigningKey,
    node_id: &str,
    key_id: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_ms: i64,
) -> [(&'static str, String); 4] {
    let time = now_ms.to_string();
    let sig = key.sign(&message(method, path_and_query, &time, body));
    [
        (HEADER_NODE, node_id.to_owned()),
        (HEADER_KEY, key_id.to_owned()),
        (HEADER_TIME, time),
        (HEADER_SIGNATURE, hex::encode(sig.to_bytes())),
    ]
}

/// What a node signs its requests with: its id, its current key id and that key.
#[derive(Clone)]
pub struct RequestSigner {
    node_id: String,
    key_id: String,
    key: SigningKey,
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSigner")
            .field("node_id", &self.node_id)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl RequestSigner {
    /// A signer for `node_id` with its key `key_id`.
    pub fn new(node_id: &str, key_id: &str, key: SigningKey) -> Self {
        RequestSigner {
            node_id: node_id.to_owned(),
            key_id: key_id.to_owned(),
            key,
        }
    }

    /// The node this signer speaks for.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The headers that sign one request at `now_ms` (see [`sign`]).
    pub fn headers(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now_ms: i64,
    ) -> [(&'static str, String); 4] {
        sign(
            &self.key,
            &self.node_id,
            &self.key_id,
            method,
            path_and_query,
            body,
            now_ms,
        )
    }
}

/// Why a signed request was refused; `code` is the stable problem code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct RequestRefused {
    /// Stable code (`unsigned_request`, `bad_request_time`, `request_time_skew`, `unknown_key`,
    /// `key_not_current`, `malformed_signature`, `bad_signature`, `replayed_request`).
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

/// Checks a signed request and returns the node that sent it. `header` looks a header up by its lower-case
/// name; `now_ms` is the receiver's clock.
pub fn verify<'h>(
    keys: &KeyLog,
    header: impl Fn(&str) -> Option<&'h str>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_ms: i64,
) -> Result<String, RequestRefused> {
    let get = |name: &str| {
        header(name).ok_or_else(|| refuse("unsigned_request", format!("missing header {name}")))
    };
    let node = get(HEADER_NODE)?;
    let key_id = get(HEADER_KEY)?;
    let time = get(HEADER_TIME)?;
    let sig_hex = get(HEADER_SIGNATURE)?;
    let t: i64 = time
        .parse()
        .map_err(|_| refuse("bad_request_time", "x-lapor-time is not an integer"))?;
    if now_ms.saturating_sub(t).saturating_abs() > MAX_SKEW_MS {
        return Err(refuse(
            "request_time_skew",
            format!(
                "x-lapor-time is {} ms away from this node's clock",
                now_ms.saturating_sub(t)
            ),
        ));
    }
    let entry = keys.get(node, key_id).ok_or_else(|| {
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
    let mut sig = [0u8; 64];
    hex::decode_to_slice(sig_hex, &mut sig).map_err(|_| {
        refuse(
            "malformed_signature",
            "x-lapor-signature is not 128 hex digits",
        )
    })?;
    entry
        .public
        .verify_strict(
            &message(method, path_and_query, time, body),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| refuse("bad_signature", "the request signature does not verify"))?;
    Ok(node.to_owned())
}

/// Remembers the signatures of requests seen within the time window, so that a captured request (a push
/// included) cannot be sent again: with the time check of [`verify`] a request is accepted at most once, and
/// only within [`MAX_SKEW_MS`] of its time. Pure: the caller passes the clock.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: std::collections::HashMap<String, i64>,
}

impl ReplayGuard {
    /// Most signatures remembered; past this the oldest half is forgotten (they are outside the window soon).
    pub const CAPACITY: usize = 100_000;

    /// Records a verified request's signature (`x-lapor-signature`) signed at `time_ms`; refuses it as
    /// `replayed_request` when the same signature was seen within the window.
    pub fn check(
        &mut self,
        signature: &str,
        time_ms: i64,
        now_ms: i64,
    ) -> Result<(), RequestRefused> {
        let horizon = now_ms.saturating_sub(MAX_SKEW_MS);
        if self.seen.len() >= Self::CAPACITY {
            self.seen.retain(|_, t| *t >= horizon);
            if self.seen.len() >= Self::CAPACITY {
                let mut times: Vec<i64> = self.seen.values().copied().collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                self.seen.retain(|_, t| *t > cut);
            }
        }
        if self.seen.get(signature).is_some_and(|t| *t >= horizon) {
            return Err(refuse(
                "replayed_request",
                "this signed request was already received; a retry must be signed again",
            ));
        }
        self.seen.insert(signature.to_owned(), time_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{key_id_for, KeyEntry};

    #[test]
    fn a_request_is_accepted_once_within_the_window() {
        let mut g = ReplayGuard::default();
        assert_eq!(g.check("aa", NOW, NOW), Ok(()));
        assert_eq!(
            g.check("aa", NOW, NOW + 10).unwrap_err().code,
            "replayed_request"
        );
        assert_eq!(g.check("bb", NOW, NOW + 10), Ok(()));
        // Outside the window the time check of `verify` refuses it anyway (request_time_skew).
        assert_eq!(g.check("aa", NOW, NOW + MAX_SKEW_MS + 1), Ok(()));
    }

    const NOW: i64 = 1_780_000_000_000;

    fn setup() -> (SigningKey, String, KeyLog) {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let id = key_id_for(&key.verifying_key());
        let mut log = KeyLog::new();
        log.register(KeyEntry::new("node-a", &id, key.verifying_key(), 0))
            .expect("register");
        (key, id, log)
    }

    fn check(
        log: &KeyLog,
        headers: &[(&'static str, String)],
        body: &[u8],
        now: i64,
    ) -> Result<String, RequestRefused> {
        verify(
            log,
            |name| {
                headers
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.as_str())
            },
            "POST",
            "/federation/v1/catch-up?x=1",
            body,
            now,
        )
    }

    #[test]
    fn a_signed_request_verifies_and_names_its_sender() {
        let (key, id, log) = setup();
        let h = sign(
            &key,
            "node-a",
            &id,
            "POST",
            "/federation/v1/catch-up?x=1",
            b"{}",
            NOW,
        );
        assert_eq!(check(&log, &h, b"{}", NOW + 1000), Ok("node-a".to_owned()));
    }

    #[test]
    fn the_signature_covers_body_path_and_time() {
        let (key, id, log) = setup();
        let h = sign(
            &key,
            "node-a",
            &id,
            "POST",
            "/federation/v1/catch-up?x=1",
            b"{}",
            NOW,
        );
        assert_eq!(
            check(&log, &h, b"{ }", NOW).unwrap_err().code,
            "bad_signature"
        );
        let mut moved = h.clone();
        moved[2].1 = (NOW + 1).to_string();
        assert_eq!(
            check(&log, &moved, b"{}", NOW).unwrap_err().code,
            "bad_signature"
        );
        let other = sign(
            &key,
            "node-a",
            &id,
            "POST",
            "/federation/v1/catch-up?x=2",
            b"{}",
            NOW,
        );
        assert_eq!(
            check(&log, &other, b"{}", NOW).unwrap_err().code,
            "bad_signature"
        );
    }

    #[test]
    fn refusals_name_the_problem() {
        let (key, id, log) = setup();
        let h = sign(
            &key,
            "node-a",
            &id,
            "POST",
            "/federation/v1/catch-up?x=1",
            b"",
            NOW,
        );
        assert_eq!(
            check(&log, &h[..3], b"", NOW).unwrap_err().code,
            "unsigned_request"
        );
        assert_eq!(
            check(&log, &h, b"", NOW + MAX_SKEW_MS + 1)
                .unwrap_err()
                .code,
            "request_time_skew"
        );
        let mut bad_time = h.clone();
        bad_time[2].1 = "soon".into();
        assert_eq!(
            check(&log, &bad_time, b"", NOW).unwrap_err().code,
            "bad_request_time"
        );
        let mut stranger = h.clone();
        stranger[0].1 = "node-b".into();
        assert_eq!(
            check(&log, &stranger, b"", NOW).unwrap_err().code,
            "unknown_key"
        );
        let mut garbled = h.clone();
        garbled[3].1 = "zz".into();
        assert_eq!(
            check(&log, &garbled, b"", NOW).unwrap_err().code,
            "malformed_signature"
        );
        let far = sign(
            &key,
            "node-a",
            &id,
            "POST",
            "/federation/v1/catch-up?x=1",
            b"",
            i64::MIN,
        );
        assert_eq!(
            check(&log, &far, b"", i64::MAX).unwrap_err().code,
            "request_time_skew"
        );
    }
}
