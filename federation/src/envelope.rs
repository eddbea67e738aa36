//! The signed event envelope, event ids, push requests and the size limits of the wire.
//!
//! Every change to a report is an [`Event`] authored and signed by one node. What is signed and hashed is the
//! canonical encoding ([`crate::canonical`]) of the event object *without* its `sig` member:
//!
//! ```text
//! unsigned = canonical(event object without "sig")
//! sig      = ed25519_sign(key, "lapor-event-v1" || unsigned)          (64 bytes, sent as 128 lowercase hex)
//! id       = sha256(unsigned)                                         (32 bytes, written as 64 lowercase hex)
//! wire     = canonical(event object with "sig": hex(sig))
//! ```
//!
//! The id does not cover the signature, so it is known before signing and is independent of the signature
//! encoding; `verify_strict` rejects malleable signatures anyway. A receiver checks the exact bytes it received:
//! they must decode as canonical JSON and be byte-identical to their re-encoding, the event must re-encode from
//! its typed form to the same value, and the signature must verify with the key the origin registered under
//! `key_id`. Nothing is ever re-serialised from a typed struct and then trusted.
//!
//! A push request carries a batch of events from one node to another and is itself signed with the domain tag
//! `lapor-push-v1`; its transaction id makes retries idempotent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::canonical::{self, CanonicalError, Value, MAX_SAFE_INTEGER};

/// Format version of events and push requests (`v`).
pub const FORMAT_VERSION: u64 = 1;
/// Domain separation tag prefixed to the canonical bytes of an event before signing.
pub const EVENT_DOMAIN: &[u8] = b"lapor-event-v1";
/// Domain separation tag prefixed to the canonical bytes of a push request before signing.
pub const PUSH_DOMAIN: &[u8] = b"lapor-push-v1";
/// Largest wire encoding of one signed event, in bytes.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 200;
/// Largest push request body, in bytes.
pub const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;
/// Longest identifier (node id, report id, key id, event type, transaction id), in bytes.
pub const MAX_TOKEN_BYTES: usize = 255;
/// Bytes of a push body reserved for everything but the events (fields are bounded by [`MAX_TOKEN_BYTES`]).
pub const PUSH_ENVELOPE_RESERVE: usize = 4096;
/// Name of the signature member of a signed event or push request.
pub const SIG_FIELD: &str = "sig";

/// Errors of building, signing and verifying envelopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The bytes are not canonical JSON.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// A signed event larger than [`MAX_EVENT_BYTES`].
    #[error("event is {size} bytes, the limit is {max}")]
    EventTooLarge {
        /// Size of the event on the wire.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A batch with more than [`MAX_BATCH_EVENTS`] events.
    #[error("batch has {count} events, the limit is {max}")]
    TooManyEvents {
        /// Number of events.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A push request body larger than [`MAX_BATCH_BYTES`].
    #[error("batch is {size} bytes, the limit is {max}")]
    BatchTooLarge {
        /// Size of the body.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The top-level value is not an object.
    #[error("expected a JSON object")]
    NotAnObject,
    /// The `sig` member is missing or not 128 lowercase hex digits.
    #[error("missing or malformed signature")]
    MalformedSignature,
    /// `v` is missing or not a version this code understands.
    #[error("unsupported format version")]
    UnsupportedVersion,
    /// Members missing, unknown or of the wrong type.
    #[error("malformed envelope: {0}")]
    Shape(String),
    /// A member has a value the protocol forbids.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The member name on the wire.
        field: &'static str,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The typed event does not re-encode to the received value (a member the typed form would drop or add).
    #[error("event does not re-encode to the received bytes")]
    NotRoundTrip,
    /// No key registered for this node and key id.
    #[error("unknown key {key_id:?} of node {node:?}")]
    UnknownKey {
        /// The node (an event's origin, or a push sender).
        node: String,
        /// The key id.
        key_id: String,
    },
    /// The signature does not verify (strictly) with the named key.
    #[error("signature does not verify")]
    BadSignature,
    /// Public key bytes that are not a valid curve point.
    #[error("invalid public key")]
    InvalidKey,
    /// A public key of small order, refused at registration.
    #[error("weak public key")]
    WeakKey,
    /// A push request addressed to another node.
    #[error("push addressed to {found:?}, this node is {expected:?}")]
    WrongDestination {
        /// This node.
        expected: String,
        /// The destination in the request.
        found: String,
    },
}

impl EnvelopeError {
    /// Stable `snake_case` code for logs, API errors and test vectors.
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::Canonical(e) => e.code(),
            EnvelopeError::EventTooLarge { .. } => "event_too_large",
            EnvelopeError::TooManyEvents { .. } => "too_many_events",
            EnvelopeError::BatchTooLarge { .. } => "batch_too_large",
            EnvelopeError::NotAnObject => "not_an_object",
            EnvelopeError::MalformedSignature => "malformed_signature",
            EnvelopeError::UnsupportedVersion => "unsupported_version",
            EnvelopeError::Shape(_) => "malformed_envelope",
            EnvelopeError::InvalidField { .. } => "invalid_field",
            EnvelopeError::NotRoundTrip => "not_round_trip",
            EnvelopeError::UnknownKey { .. } => "unknown_key",
            EnvelopeError::BadSignature => "bad_signature",
            EnvelopeError::InvalidKey => "invalid_key",
            EnvelopeError::WeakKey => "weak_key",
            EnvelopeError::WrongDestination { .. } => "wrong_destination",
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------------------------------------------------

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Error parsing a 64-digit lowercase hex digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 lowercase hex digits")]
pub struct HexDigestError;

/// The id of an event: sha256 of its unsigned canonical bytes, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub [u8; 32]);

impl EventId {
    /// The id of an event whose unsigned canonical encoding is `unsigned`.
    pub fn of_unsigned(unsigned: &[u8]) -> Self {
        EventId(Sha256::digest(unsigned).into())
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The sha256 of an out-of-band blob (an attachment, a sealed identity), written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash(pub [u8; 32]);

impl BlobHash {
    /// The hash of `content`.
    pub fn of(content: &[u8]) -> Self {
        BlobHash(Sha256::digest(content).into())
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Implements text and serde forms for a 32-byte digest newtype; the forms are identical for both types.
fn fmt_hex32(bytes: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(&hex::encode(bytes))
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_hex32(&self.0, f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl FromStr for EventId {
    type Err = HexDigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex32(s).map(EventId).ok_or(HexDigestError)
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_hex32(&self.0, f)
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({self})")
    }
}

impl FromStr for BlobHash {
    type Err = HexDigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex32(s).map(BlobHash).ok_or(HexDigestError)
    }
}

impl Serialize for BlobHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for BlobHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------------------------

/// Parses a public key offered for registration (directory, key log, peer config): it must be a valid point and
/// not of small order (`is_weak`), since a weak key would accept signatures its owner never made.
pub fn parse_registration_key(bytes: &[u8]) -> Result<VerifyingKey, EnvelopeError> {
    let bytes: &[u8; 32] = bytes.try_into().map_err(|_| EnvelopeError::InvalidKey)?;
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| EnvelopeError::InvalidKey)?;
    if key.is_weak() {
        return Err(EnvelopeError::WeakKey);
    }
    Ok(key)
}

/// [`parse_registration_key`] for the 64 lowercase hex digits used in the directory.
pub fn parse_registration_key_hex(s: &str) -> Result<VerifyingKey, EnvelopeError> {
    let bytes = parse_hex32(s).ok_or(EnvelopeError::InvalidKey)?;
    parse_registration_key(&bytes)
}

/// Finds the public key a node registered under a key id.
///
/// Revocation "from a sequence number" is the key log's business: an implementation may consult the event's
/// `origin_seq` after verification; this lookup only answers which key a `(node, key_id)` pair names.
pub trait KeyLookup {
    /// The key registered by `node` as `key_id`, if any.
    fn verifying_key(&self, node: &str, key_id: &str) -> Option<VerifyingKey>;
}

impl<F> KeyLookup for F
where
    F: Fn(&str, &str) -> Option<VerifyingKey>,
{
    fn verifying_key(&self, node: &str, key_id: &str) -> Option<VerifyingKey> {
        self(node, key_id)
    }
}

/// A simple in-memory [`KeyLookup`], for tests, tools and caches.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<(String, String), VerifyingKey>,
}

impl KeyRing {
    /// An empty key ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `key` for `node` as `key_id`, refusing weak keys.
    pub fn insert(
        &mut self,
        node: &str,
        key_id: &str,
        key: VerifyingKey,
    ) -> Result<(), EnvelopeError> {
        if key.is_weak() {
            return Err(EnvelopeError::WeakKey);
        }
        self.keys.insert((node.to_owned(), key_id.to_owned()), key);
        Ok(())
    }
}

impl KeyLookup for KeyRing {
    fn verifying_key(&self, node: &str, key_id: &str) -> Option<VerifyingKey> {
        self.keys
            .get(&(node.to_owned(), key_id.to_owned()))
            .copied()
    }
}

fn sig_to_hex(sig: &Signature) -> String {
    hex::encode(sig.to_bytes())
}

fn sig_from_value(value: Option<Value>) -> Result<Signature, EnvelopeError> {
    let Some(Value::String(s)) = value else {
        return Err(EnvelopeError::MalformedSignature);
    };
    if s.len() != 128 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(EnvelopeError::MalformedSignature);
    }
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(&s, &mut bytes).map_err(|_| EnvelopeError::MalformedSignature)?;
    Ok(Signature::from_bytes(&bytes))
}

fn domain_message(domain: &[u8], canonical: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(domain.len() + canonical.len());
    msg.extend_from_slice(domain);
    msg.extend_from_slice(canonical);
    msg
}

fn verify_with(
    keys: &(impl KeyLookup + ?Sized),
    node: &str,
    key_id: &str,
    domain: &[u8],
    canonical: &[u8],
    sig: &Signature,
) -> Result<(), EnvelopeError> {
    let key = keys
        .verifying_key(node, key_id)
        .ok_or_else(|| EnvelopeError::UnknownKey {
            node: node.to_owned(),
            key_id: key_id.to_owned(),
        })?;
    key.verify_strict(&domain_message(domain, canonical), sig)
        .map_err(|_| EnvelopeError::BadSignature)
}

fn check_version(map: &BTreeMap<String, Value>) -> Result<(), EnvelopeError> {
    match map.get("v") {
        Some(Value::Int(v)) if u64::try_from(*v) == Ok(FORMAT_VERSION) => Ok(()),
        _ => Err(EnvelopeError::UnsupportedVersion),
    }
}

/// Checks an identifier: 1 to [`MAX_TOKEN_BYTES`] bytes of printable ASCII without spaces.
fn check_token(field: &'static str, s: &str) -> Result<(), EnvelopeError> {
    if s.is_empty() {
        return Err(EnvelopeError::InvalidField {
            field,
            reason: "empty",
        });
    }
    if s.len() > MAX_TOKEN_BYTES {
        return Err(EnvelopeError::InvalidField {
            field,
            reason: "longer than 255 bytes",
        });
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(EnvelopeError::InvalidField {
            field,
            reason: "not printable ASCII without spaces",
        });
    }
    Ok(())
}

fn check_safe(field: &'static str, n: u64) -> Result<(), EnvelopeError> {
    if n > MAX_SAFE_INTEGER.unsigned_abs() {
        return Err(EnvelopeError::InvalidField {
            field,
            reason: "above 2^53-1",
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------------

/// The unsigned content of an event. Wire member names are the field names, except `kind`, which is `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Format version, [`FORMAT_VERSION`].
    pub v: u64,
    /// Event type such as `report.created` (wire name `type`): lowercase ASCII letters, digits, `.` and `_`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Node id of the authoring node.
    pub origin: String,
    /// Position in the origin's log: gapless, 1 for its first event.
    pub origin_seq: u64,
    /// Id of the origin's previous event; `null` exactly when `origin_seq` is 1.
    pub origin_prev: Option<EventId>,
    /// The report this event changes (origin-prefixed ULID, never changes).
    pub report_id: String,
    /// Ownership generation of the report, +1 per transfer.
    pub report_epoch: u64,
    /// Ids of the report's previous event(s), no duplicates.
    pub report_prev: Vec<EventId>,
    /// Author's clock in milliseconds since the Unix epoch; informational only, never used for ordering.
    pub authored_at_ms: i64,
    /// Id of the origin's key that signs this event.
    pub key_id: String,
    /// Type-specific content; always an object.
    pub payload: Value,
    /// sha256 of out-of-band blobs the event refers to, no duplicates.
    pub blobs: Vec<BlobHash>,
}

impl Event {
    /// Checks the rules of the envelope that the types alone do not enforce.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        if self.v != FORMAT_VERSION {
            return Err(EnvelopeError::UnsupportedVersion);
        }
        if self.kind.is_empty()
            || self.kind.len() > 64
            || !self
                .kind
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_'))
        {
            return Err(EnvelopeError::InvalidField {
                field: "type",
                reason: "not 1-64 of [a-z0-9._]",
            });
        }
        check_token("origin", &self.origin)?;
        check_token("report_id", &self.report_id)?;
        check_token("key_id", &self.key_id)?;
        if self.origin_seq == 0 {
            return Err(EnvelopeError::InvalidField {
                field: "origin_seq",
                reason: "must be at least 1",
            });
        }
        check_safe("origin_seq", self.origin_seq)?;
        check_safe("report_epoch", self.report_epoch)?;
        match (self.origin_seq, &self.origin_prev) {
            (1, Some(_)) => {
                return Err(EnvelopeError::InvalidField {
                    field: "origin_prev",
                    reason: "must be null at seq 1",
                });
            }
            (2.., None) => {
                return Err(EnvelopeError::InvalidField {
                    field: "origin_prev",
                    reason: "missing after seq 1",
                });
            }
            _ => {}
        }
        if self.authored_at_ms.unsigned_abs() > MAX_SAFE_INTEGER.unsigned_abs() {
            return Err(EnvelopeError::InvalidField {
                field: "authored_at_ms",
                reason: "out of range",
            });
        }
        if self.report_prev.iter().collect::<BTreeSet<_>>().len() != self.report_prev.len() {
            return Err(EnvelopeError::InvalidField {
                field: "report_prev",
                reason: "duplicate id",
            });
        }
        if self.blobs.iter().collect::<BTreeSet<_>>().len() != self.blobs.len() {
            return Err(EnvelopeError::InvalidField {
                field: "blobs",
                reason: "duplicate hash",
            });
        }
        if !matches!(self.payload, Value::Object(_)) {
            return Err(EnvelopeError::InvalidField {
                field: "payload",
                reason: "not an object",
            });
        }
        Ok(())
    }

    fn to_object(&self) -> Result<BTreeMap<String, Value>, EnvelopeError> {
        self.validate()?;
        match canonical::to_value(self)? {
            Value::Object(map) => Ok(map),
            _ => Err(EnvelopeError::NotAnObject),
        }
    }

    /// The canonical bytes of this event without signature: what is hashed into the id and, after
    /// [`EVENT_DOMAIN`], signed.
    pub fn unsigned_bytes(&self) -> Result<Vec<u8>, EnvelopeError> {
        Ok(canonical::encode(&Value::Object(self.to_object()?))?)
    }

    /// The id of this event, sha256 of [`Event::unsigned_bytes`].
    pub fn id(&self) -> Result<EventId, EnvelopeError> {
        Ok(EventId::of_unsigned(&self.unsigned_bytes()?))
    }

    /// Validates and signs this event with the origin's key named by `key_id`.
    pub fn sign(self, key: &SigningKey) -> Result<SignedEvent, EnvelopeError> {
        let mut map = self.to_object()?;
        let unsigned = canonical::encode(&Value::Object(map.clone()))?;
        let signature = key.sign(&domain_message(EVENT_DOMAIN, &unsigned));
        map.insert(SIG_FIELD.to_owned(), Value::String(sig_to_hex(&signature)));
        let wire = canonical::encode(&Value::Object(map))?;
        if wire.len() > MAX_EVENT_BYTES {
            return Err(EnvelopeError::EventTooLarge {
                size: wire.len(),
                max: MAX_EVENT_BYTES,
            });
        }
        Ok(SignedEvent {
            event: self,
            signature,
            id: EventId::of_unsigned(&unsigned),
            wire,
        })
    }
}

/// A signed event whose signature, id and wire bytes are known to belong together: it can only be made by
/// [`Event::sign`] or [`verify_received`].
///
/// On the wire it is the event object with one more member, `sig`: the 64-byte ed25519 signature as 128
/// lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEvent {
    event: Event,
    signature: Signature,
    id: EventId,
    wire: Vec<u8>,
}

impl SignedEvent {
    /// The event content.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The event id.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The exact canonical bytes on the wire (with `sig`); store and forward these, never a re-serialisation.
    pub fn wire_bytes(&self) -> &[u8] {
        &self.wire
    }

    /// Splits into the event, its id and its wire bytes.
    pub fn into_parts(self) -> (Event, EventId, Vec<u8>) {
        (self.event, self.id, self.wire)
    }
}

/// Verifies one event exactly as received: size, canonical bytes, shape, envelope rules and signature by the
/// key that the event's origin registered under its `key_id`.
pub fn verify_received(
    bytes: &[u8],
    keys: &(impl KeyLookup + ?Sized),
) -> Result<SignedEvent, EnvelopeError> {
    let (event, signature, unsigned) = decode_received(bytes)?;
    verify_with(
        keys,
        &event.origin,
        &event.key_id,
        EVENT_DOMAIN,
        &unsigned,
        &signature,
    )?;
    Ok(received(event, signature, &unsigned, bytes))
}

/// Everything [`verify_received`] checks but the signature: the event, its signature and the canonical bytes
/// it signs.
fn decode_received(bytes: &[u8]) -> Result<(Event, Signature, Vec<u8>), EnvelopeError> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(EnvelopeError::EventTooLarge {
            size: bytes.len(),
            max: MAX_EVENT_BYTES,
        });
    }
    let Value::Object(mut map) = canonical::decode_canonical(bytes)? else {
        return Err(EnvelopeError::NotAnObject);
    };
    let signature = sig_from_value(map.remove(SIG_FIELD))?;
    check_version(&map)?;
    let unsigned_value = Value::Object(map);
    let event: Event = canonical::from_value(unsigned_value.clone()).map_err(|e| match e {
        CanonicalError::Conversion(msg) => EnvelopeError::Shape(msg),
        other => EnvelopeError::Canonical(other),
    })?;
    event.validate()?;
    // Members the typed form would drop or add (a missing `origin_prev`, say) would make two encodings of one event.
    if canonical::to_value(&event)? != unsigned_value {
        return Err(EnvelopeError::NotRoundTrip);
    }
    let unsigned = canonical::encode(&unsigned_value)?;
    Ok((event, signature, unsigned))
}

fn received(event: Event, signature: Signature, unsigned: &[u8], wire: &[u8]) -> SignedEvent {
    SignedEvent {
        id: EventId::of_unsigned(unsigned),
        event,
        signature,
        wire: wire.to_vec(),
    }
}

/// Fewest events whose signatures [`verify_received_batch`] checks together; fewer are checked one by one.
pub const MIN_BATCH_VERIFY: usize = 4;

/// Verifies many received events, each exactly as [`verify_received`] does, but checks their signatures
/// together with ed25519 batch verification (one multi-scalar multiplication for the whole set, well under
/// the cost of checking each). The answer has one result per event, in order.
///
/// When the batch equation does not hold, every event of the batch is checked again on its own with
/// `verify_strict`, so exactly the events whose signature is bad are refused ([`EnvelopeError::BadSignature`])
/// and the others accepted. An event refused before its signature is checked (size, encoding, shape, unknown
/// key) gets the same error as from [`verify_received`], and a weak key (small order, which `verify_strict`
/// refuses) is never put in a batch.
///
/// The batch equation is the cofactorless one `verify_strict` checks, combined with 128-bit coefficients
/// derived from every input: a signature that does not verify makes the batch fail except with probability
/// about 2^-128, and a bad signature cannot be hidden by choosing the others. The one signature the
/// combination may let through that `verify_strict` refuses is one whose `R` carries a small-order
/// component; only the holder of the signing key can make such a signature, so it still proves that the
/// key's holder signed the event.
pub fn verify_received_batch(
    events: &[&[u8]],
    keys: &(impl KeyLookup + ?Sized),
) -> Vec<Result<SignedEvent, EnvelopeError>> {
    struct Pending {
        index: usize,
        event: Event,
        signature: Signature,
        message: Vec<u8>,
        key: VerifyingKey,
    }
    let mut out: Vec<Option<Result<SignedEvent, EnvelopeError>>> = Vec::with_capacity(events.len());
    let mut pending = Vec::with_capacity(events.len());
    for (index, bytes) in events.iter().enumerate() {
        let decoded = decode_received(bytes).and_then(|(event, signature, unsigned)| {
            let key = keys
                .verifying_key(&event.origin, &event.key_id)
                .ok_or_else(|| EnvelopeError::UnknownKey {
                    node: event.origin.clone(),
                    key_id: event.key_id.clone(),
                })?;
            Ok((event, signature, unsigned, key))
        });
        match decoded {
            Ok((event, signature, unsigned, key)) if !key.is_weak() => {
                out.push(None);
                pending.push(Pending {
                    index,
                    event,
                    signature,
                    message: domain_message(EVENT_DOMAIN, &unsigned),
                    key,
                });
            }
            Ok((_, _, _, _)) => out.push(Some(Err(EnvelopeError::BadSignature))),
            Err(e) => out.push(Some(Err(e))),
        }
    }
    let together = pending.len() >= MIN_BATCH_VERIFY && {
        let messages: Vec<&[u8]> = pending.iter().map(|p| p.message.as_slice()).collect();
        let signatures: Vec<Signature> = pending.iter().map(|p| p.signature).collect();
        let keys: Vec<VerifyingKey> = pending.iter().map(|p| p.key).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
    };
    for p in pending {
        let good = together || p.key.verify_strict(&p.message, &p.signature).is_ok();
        let unsigned = &p.message[EVENT_DOMAIN.len()..];
        out[p.index] = Some(if good {
            Ok(received(p.event, p.signature, unsigned, events[p.index]))
        } else {
            Err(EnvelopeError::BadSignature)
        });
    }
    out.into_iter()
        .map(|r| r.unwrap_or(Err(EnvelopeError::BadSignature)))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Batches and push requests
// ---------------------------------------------------------------------------------------------------------------

/// Events to send in one push request, within [`MAX_BATCH_EVENTS`] and the byte budget of [`MAX_BATCH_BYTES`]
/// minus [`PUSH_ENVELOPE_RESERVE`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    events: Vec<SignedEvent>,
    bytes: usize,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `event` would fit.
    pub fn has_room_for(&self, event: &SignedEvent) -> bool {
        let extra = event.wire.len() + usize::from(!self.events.is_empty());
        self.events.len() < MAX_BATCH_EVENTS
            && self.bytes + extra <= MAX_BATCH_BYTES - PUSH_ENVELOPE_RESERVE
    }

    /// Adds `event` if it fits; otherwise hands it back so the caller can send this batch and start another.
    pub fn try_push(&mut self, event: SignedEvent) -> Result<(), Box<SignedEvent>> {
        if !self.has_room_for(&event) {
            return Err(Box::new(event));
        }
        let extra = event.wire.len() + usize::from(!self.events.is_empty());
        self.bytes += extra;
        self.events.push(event);
        Ok(())
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the batch has no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Bytes the events take in the push body (wire bytes and separating commas).
    pub fn encoded_len(&self) -> usize {
        self.bytes
    }

    /// The events in order.
    pub fn events(&self) -> &[SignedEvent] {
        &self.events
    }
}

/// A push request before signing. On the wire (canonical JSON, keys in this order):
/// `{"destination":…,"events":[<signed event>,…],"key_id":…,"sender":…,"sig":…,"txn":…,"v":1}`; the signature is
/// over [`PUSH_DOMAIN`] followed by the canonical bytes of the object without `sig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRequest {
    /// Transaction id chosen by the sender; a retry reuses it so the receiver can answer idempotently.
    pub txn: String,
    /// Node id of the sender.
    pub sender: String,
    /// Node id of the receiver.
    pub destination: String,
    /// Id of the sender's key that signs the request.
    pub key_id: String,
    /// The events, in the order the receiver should consider them.
    pub batch: Batch,
}

impl PushRequest {
    /// Signs the request and returns the body to send.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, EnvelopeError> {
        let events: Vec<&[u8]> = self
            .batch
            .events
            .iter()
            .map(SignedEvent::wire_bytes)
            .collect();
        sign_push(
            &self.txn,
            &self.sender,
            &self.destination,
            &self.key_id,
            &events,
            key,
        )
    }
}

fn push_body(
    txn: &str,
    sender: &str,
    destination: &str,
    key_id: &str,
    events: &[&[u8]],
    sig: Option<&Signature>,
) -> Vec<u8> {
    // Written by hand so the events' wire bytes are spliced in as they are; the keys are in canonical
    // order and a unit test checks the result decodes as canonical JSON.
    let len: usize = events.iter().map(|e| e.len() + 1).sum();
    let mut out = Vec::with_capacity(len + 512);
    out.extend_from_slice(b"{\"destination\":");
    canonical::write_string(destination, &mut out);
    out.extend_from_slice(b",\"events\":[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(event);
    }
    out.extend_from_slice(b"],\"key_id\":");
    canonical::write_string(key_id, &mut out);
    out.extend_from_slice(b",\"sender\":");
    canonical::write_string(sender, &mut out);
    if let Some(sig) = sig {
        out.extend_from_slice(b",\"sig\":");
        canonical::write_string(&sig_to_hex(sig), &mut out);
    }
    out.extend_from_slice(b",\"txn\":");
    canonical::write_string(txn, &mut out);
    out.extend_from_slice(b",\"v\":1}");
    out
}

/// Signs a push request whose events are given as their exact stored wire bytes (each already canonical,
/// as every signed or verified event is) and returns the body to send. [`PushRequest::sign`] is this with the
/// events of a [`Batch`].
pub fn sign_push(
    txn: &str,
    sender: &str,
    destination: &str,
    key_id: &str,
    events: &[&[u8]],
    key: &SigningKey,
) -> Result<Vec<u8>, EnvelopeError> {
    check_token("txn", txn)?;
    check_token("sender", sender)?;
    check_token("destination", destination)?;
    check_token("key_id", key_id)?;
    if events.len() > MAX_BATCH_EVENTS {
        return Err(EnvelopeError::TooManyEvents {
            count: events.len(),
            max: MAX_BATCH_EVENTS,
        });
    }
    let unsigned = push_body(txn, sender, destination, key_id, events, None);
    let signature = key.sign(&domain_message(PUSH_DOMAIN, &unsigned));
    let body = push_body(txn, sender, destination, key_id, events, Some(&signature));
    if body.len() > MAX_BATCH_BYTES {
        return Err(EnvelopeError::BatchTooLarge {
            size: body.len(),
            max: MAX_BATCH_BYTES,
        });
    }
    Ok(body)
}

/// An authenticated push request. The events are not verified yet: each is the exact canonical bytes of one
/// signed event (identical to its bytes in the body), to be stored in the inbox and checked with
/// [`verify_received`], so that one bad event does not reject the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPush {
    /// Transaction id.
    pub txn: String,
    /// The sending node, authenticated by its signature.
    pub sender: String,
    /// The key the sender signed with.
    pub key_id: String,
    /// The events' wire bytes, in order.
    pub events: Vec<Vec<u8>>,
}

fn take_string(
    map: &mut BTreeMap<String, Value>,
    field: &'static str,
) -> Result<String, EnvelopeError> {
    match map.remove(field) {
        Some(Value::String(s)) => {
            check_token(field, &s)?;
            Ok(s)
        }
        Some(_) => Err(EnvelopeError::Shape(format!("`{field}` must be a string"))),
        None => Err(EnvelopeError::Shape(format!("missing `{field}`"))),
    }
}

/// Authenticates a push request body addressed to `local_node`: size caps, canonical bytes, shape, destination
/// and the sender's signature.
pub fn verify_push(
    body: &[u8],
    local_node: &str,
    keys: &(impl KeyLookup + ?Sized),
) -> Result<VerifiedPush, EnvelopeError> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(EnvelopeError::BatchTooLarge {
            size: body.len(),
            max: MAX_BATCH_BYTES,
        });
    }
    let Value::Object(mut map) = canonical::decode_canonical(body)? else {
        return Err(EnvelopeError::NotAnObject);
    };
    let signature = sig_from_value(map.remove(SIG_FIELD))?;
    check_version(&map)?;
    let unsigned = canonical::encode(&Value::Object(map.clone()))?;
    map.remove("v");
    let txn = take_string(&mut map, "txn")?;
    let sender = take_string(&mut map, "sender")?;
    let destination = take_string(&mut map, "destination")?;
    let key_id = take_string(&mut map, "key_id")?;
    let events = match map.remove("events") {
        Some(Value::Array(events)) => events,
        Some(_) => return Err(EnvelopeError::Shape("`events` must be an array".to_owned())),
        None => return Err(EnvelopeError::Shape("missing `events`".to_owned())),
    };
    if let Some(unknown) = map.keys().next() {
        return Err(EnvelopeError::Shape(format!("unknown member `{unknown}`")));
    }
    if events.len() > MAX_BATCH_EVENTS {
        return Err(EnvelopeError::TooManyEvents {
            count: events.len(),
            max: MAX_BATCH_EVENTS,
        });
    }
    if destination != local_node {
        return Err(EnvelopeError::WrongDestination {
            expected: local_node.to_owned(),
            found: destination,
        });
    }
    verify_with(keys, &sender, &key_id, PUSH_DOMAIN, &unsigned, &signature)?;
    // The body is canonical, so each element's encoding is exactly its slice of the body.
    let events = events
        .iter()
        .map(canonical::encode)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(VerifiedPush {
        txn,
        sender,
        key_id,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn ring() -> KeyRing {
        let mut ring = KeyRing::new();
        ring.insert("kupang.example", "k1", key(1).verifying_key())
            .unwrap();
        ring.insert("hub.example", "h1", key(2).verifying_key())
            .unwrap();
        ring
    }

    fn event(seq: u64, prev: Option<EventId>) -> Event {
        let mut payload = BTreeMap::new();
        payload.insert("title".to_owned(), Value::from("Jalan berlubang di Oebobo"));
        payload.insert("lat_microdeg".to_owned(), Value::Int(-10_170_000));
        Event {
            v: 1,
            kind: "report.created".to_owned(),
            origin: "kupang.example".to_owned(),
            origin_seq: seq,
            origin_prev: prev,
            report_id: "kupang.example:01J0000000000000000000000".to_owned(),
            report_epoch: 0,
            report_prev: vec![],
            authored_at_ms: 1_700_000_000_000,
            key_id: "k1".to_owned(),
            payload: Value::Object(payload),
            blobs: vec![BlobHash::of(b"photo")],
        }
    }

    fn rewire(signed: &SignedEvent, f: impl FnOnce(&mut BTreeMap<String, Value>)) -> Vec<u8> {
        let Value::Object(mut map) = canonical::decode_canonical(signed.wire_bytes()).unwrap()
        else {
            panic!()
        };
        f(&mut map);
        canonical::encode(&Value::Object(map)).unwrap()
    }

    #[test]
    fn sign_then_verify() {
        let signed = event(1, None).sign(&key(1)).unwrap();
        let got = verify_received(signed.wire_bytes(), &ring()).unwrap();
        assert_eq!(got, signed);
        assert_eq!(got.id(), event(1, None).id().unwrap());
        // The id is sha256 of the wire bytes without the sig member.
        let unsigned = rewire(&signed, |m| {
            m.remove("sig");
        });
        assert_eq!(got.id(), EventId::of_unsigned(&unsigned));
        assert_eq!(unsigned, event(1, None).unsigned_bytes().unwrap());
        let text = String::from_utf8(signed.wire_bytes().to_vec()).unwrap();
        assert!(
            text.starts_with(r#"{"authored_at_ms":1700000000000,"blobs":[""#),
            "{text}"
        );
        assert!(text.contains(r#","origin_prev":null,"#), "{text}");
        assert!(
            text.contains(r#","type":"report.created","v":1}"#),
            "{text}"
        );
    }

    /// A chain of `n` events signed by `kupang.example`.
    fn chain(n: u64) -> Vec<SignedEvent> {
        let mut out: Vec<SignedEvent> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map(SignedEvent::id);
            out.push(event(seq, prev).sign(&key(1)).unwrap());
        }
        out
    }

    #[test]
    fn batch_verification_accepts_a_good_batch_like_one_by_one() {
        let events = chain(40);
        let wires: Vec<&[u8]> = events.iter().map(SignedEvent::wire_bytes).collect();
        let got = verify_received_batch(&wires, &ring());
        assert_eq!(got.len(), 40);
        for (g, e) in got.into_iter().zip(&events) {
            assert_eq!(
                g.unwrap(),
                verify_received(e.wire_bytes(), &ring()).unwrap()
            );
        }
    }

    #[test]
    fn batch_verification_refuses_exactly_the_bad_signatures() {
        let events = chain(40);
        let mut wires: Vec<Vec<u8>> = events.iter().map(|e| e.wire_bytes().to_vec()).collect();
        // Event 17: signed by another key under k1's id. Event 30: a valid signature of another message.
        wires[17] = event(18, Some(events[16].id()))
            .sign(&key(9))
            .unwrap()
            .wire_bytes()
            .to_vec();
        let other_sig = events[0].signature().to_bytes();
        wires[30] = rewire(&events[30], |m| {
            m.insert("sig".into(), Value::from(hex::encode(other_sig)));
        });
        // Event 5: an unknown key, refused before any signature check.
        wires[5] = {
            let mut e = event(6, Some(events[4].id()));
            e.key_id = "k-unknown".into();
            e.sign(&key(1)).unwrap().wire_bytes().to_vec()
        };
        let refs: Vec<&[u8]> = wires.iter().map(Vec::as_slice).collect();
        let got = verify_received_batch(&refs, &ring());
        for (i, g) in got.iter().enumerate() {
            match i {
                17 | 30 => assert_eq!(g, &Err(EnvelopeError::BadSignature), "event {i}"),
                5 => assert!(
                    matches!(g, Err(EnvelopeError::UnknownKey { .. })),
                    "event {i}: {g:?}"
                ),
                _ => assert_eq!(g.as_ref().unwrap(), &events[i], "event {i}"),
            }
        }
        // One bad signature alone in a batch of good ones is found too.
        let mut wires: Vec<Vec<u8>> = events.iter().map(|e| e.wire_bytes().to_vec()).collect();
        let mut sig = events[39].signature().to_bytes();
        sig[0] ^= 1;
        wires[39] = rewire(&events[39], |m| {
            m.insert("sig".into(), Value::from(hex::encode(sig)));
        });
        let refs: Vec<&[u8]> = wires.iter().map(Vec::as_slice).collect();
        let got = verify_received_batch(&refs, &ring());
        assert!(got[..39].iter().all(Result::is_ok));
        assert_eq!(got[39], Err(EnvelopeError::BadSignature));
    }

    #[test]
    fn chained_event_verifies() {
        let first = event(1, None).sign(&key(1)).unwrap();
        let second = event(2, Some(first.id())).sign(&key(1)).unwrap();
        assert_eq!(
            verify_received(second.wire_bytes(), &ring())
                .unwrap()
                .event()
                .origin_prev,
            Some(first.id())
        );
    }

    #[test]
    fn tampered_payload_fails() {
        let signed = event(1, None).sign(&key(1)).unwrap();
        let bytes = rewire(&signed, |m| {
            if let Some(Value::Object(p)) = m.get_mut("payload") {
                p.insert("title".to_owned(), Value::from("Jalan mulus"));
            }
        });
        assert_eq!(
            verify_received(&bytes, &ring()),
            Err(EnvelopeError::BadSignature)
        );
        let bytes = rewire(&signed, |m| {
            m.insert("origin_seq".to_owned(), Value::Int(1)).unwrap();
            m.insert("report_epoch".to_owned(), Value::Int(1));
        });
        assert_eq!(
            verify_received(&bytes, &ring()),
            Err(EnvelopeError::BadSignature)
        );
    }

    #[test]
    fn wrong_key_fails() {
        // Signed with the hub's key but claiming the origin's key id.
        let signed = event(1, None).sign(&key(2)).unwrap();
        assert_eq!(
            verify_received(signed.wire_bytes(), &ring()),
            Err(EnvelopeError::BadSignature)
        );
        let mut e = event(1, None);
        e.key_id = "k9".to_owned();
        let signed = e.sign(&key(1)).unwrap();
        assert!(matches!(
            verify_received(signed.wire_bytes(), &ring()),
            Err(EnvelopeError::UnknownKey { .. })
        ));
        // A closure works as a key lookup too.
        let lookup = |node: &str, kid: &str| {
            (node == "kupang.example" && kid == "k9").then(|| key(1).verifying_key())
        };
        assert!(verify_received(signed.wire_bytes(), &lookup).is_ok());
    }

    #[test]
    fn non_canonical_bytes_rejected() {
        let signed = event(1, None).sign(&key(1)).unwrap();
        let text = String::from_utf8(signed.wire_bytes().to_vec()).unwrap();
        let spaced = text.replacen(',', ", ", 1);
        assert!(matches!(
            verify_received(spaced.as_bytes(), &ring()),
            Err(EnvelopeError::Canonical(
                CanonicalError::NotCanonical { .. }
            ))
        ));
        let pretty = serde_json::to_vec_pretty(
            &serde_json::from_slice::<serde_json::Value>(signed.wire_bytes()).unwrap(),
        )
        .unwrap();
        assert!(verify_received(&pretty, &ring()).is_err());
        let escaped = text.replacen("Jalan", "\\u004aalan", 1);
        assert_eq!(
            verify_received(escaped.as_bytes(), &ring())
                .unwrap_err()
                .code(),
            "non_minimal_escape"
        );
    }

    #[test]
    fn shape_errors() {
        let signed = event(2, Some(EventId([7; 32]))).sign(&key(1)).unwrap();
        let missing_prev = rewire(&signed, |m| {
            m.remove("origin_prev");
        });
        assert_eq!(
            verify_received(&missing_prev, &ring()).unwrap_err().code(),
            "invalid_field"
        );
        let first = event(1, None).sign(&key(1)).unwrap();
        let missing_null = rewire(&first, |m| {
            m.remove("origin_prev");
        });
        assert_eq!(
            verify_received(&missing_null, &ring()),
            Err(EnvelopeError::NotRoundTrip)
        );
        let extra = rewire(&first, |m| {
            m.insert("extra".to_owned(), Value::Null);
        });
        assert!(matches!(
            verify_received(&extra, &ring()),
            Err(EnvelopeError::Shape(_))
        ));
        let v2 = rewire(&first, |m| {
            m.insert("v".to_owned(), Value::Int(2));
        });
        assert_eq!(
            verify_received(&v2, &ring()),
            Err(EnvelopeError::UnsupportedVersion)
        );
        let nosig = rewire(&first, |m| {
            m.remove("sig");
        });
        assert_eq!(
            verify_received(&nosig, &ring()),
            Err(EnvelopeError::MalformedSignature)
        );
        let upper = rewire(&first, |m| {
            let s = m["sig"].as_str().unwrap().to_uppercase();
            m.insert("sig".to_owned(), Value::String(s));
        });
        assert_eq!(
            verify_received(&upper, &ring()),
            Err(EnvelopeError::MalformedSignature)
        );
        assert_eq!(
            verify_received(b"[]", &ring()),
            Err(EnvelopeError::NotAnObject)
        );
    }

    #[test]
    fn validation_rules() {
        let mut e = event(1, Some(EventId([1; 32])));
        assert!(matches!(
            e.validate(),
            Err(EnvelopeError::InvalidField {
                field: "origin_prev",
                ..
            })
        ));
        e = event(0, None);
        assert!(matches!(
            e.validate(),
            Err(EnvelopeError::InvalidField {
                field: "origin_seq",
                ..
            })
        ));
        e = event(1, None);
        e.kind = "Report Created".to_owned();
        assert!(matches!(
            e.validate(),
            Err(EnvelopeError::InvalidField { field: "type", .. })
        ));
        e = event(1, None);
        e.payload = Value::Array(vec![]);
        assert!(matches!(
            e.sign(&key(1)),
            Err(EnvelopeError::InvalidField {
                field: "payload",
                ..
            })
        ));
        e = event(1, None);
        e.report_prev = vec![EventId([1; 32]), EventId([1; 32])];
        assert!(e.validate().is_err());
        e = event(1, None);
        e.origin_seq = 1 << 53;
        e.origin_prev = Some(EventId([0; 32]));
        assert!(matches!(
            e.validate(),
            Err(EnvelopeError::InvalidField {
                field: "origin_seq",
                ..
            })
        ));
    }

    #[test]
    fn event_size_cap() {
        let mut e = event(1, None);
        let Value::Object(p) = &mut e.payload else {
            panic!()
        };
        p.insert(
            "body".to_owned(),
            Value::String("x".repeat(MAX_EVENT_BYTES)),
        );
        assert!(matches!(
            e.sign(&key(1)),
            Err(EnvelopeError::EventTooLarge { .. })
        ));
        let big = vec![b' '; MAX_EVENT_BYTES + 1];
        assert!(matches!(
            verify_received(&big, &ring()),
            Err(EnvelopeError::EventTooLarge { .. })
        ));
    }

    #[test]
    fn weak_keys_refused() {
        // The identity point (small order) is a valid encoding but weak.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            parse_registration_key(&identity),
            Err(EnvelopeError::WeakKey)
        );
        assert_eq!(
            parse_registration_key(&[0u8; 31]),
            Err(EnvelopeError::InvalidKey)
        );
        let good = key(1).verifying_key();
        assert_eq!(parse_registration_key(good.as_bytes()).unwrap(), good);
        assert_eq!(
            parse_registration_key_hex(&hex::encode(good.as_bytes())).unwrap(),
            good
        );
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        assert_eq!(
            KeyRing::new().insert("n", "k", weak),
            Err(EnvelopeError::WeakKey)
        );
    }

    #[test]
    fn digest_text_forms_are_strict() {
        let id = EventId([0xab; 32]);
        assert_eq!(id.to_string().parse::<EventId>().unwrap(), id);
        assert!(id.to_string().to_uppercase().parse::<EventId>().is_err());
        assert!("abc".parse::<EventId>().is_err());
        assert!("g".repeat(64).parse::<BlobHash>().is_err());
    }

    fn push_request(n: usize) -> PushRequest {
        let mut batch = Batch::new();
        let mut prev = None;
        for seq in 1..=n as u64 {
            let signed = event(seq, prev).sign(&key(1)).unwrap();
            prev = Some(signed.id());
            batch.try_push(signed).unwrap();
        }
        PushRequest {
            txn: "01J0TXN".to_owned(),
            sender: "kupang.example".to_owned(),
            destination: "hub.example".to_owned(),
            key_id: "k1".to_owned(),
            batch,
        }
    }

    #[test]
    fn push_sign_and_verify() {
        let req = push_request(3);
        let body = req.sign(&key(1)).unwrap();
        canonical::decode_canonical(&body).unwrap();
        let push = verify_push(&body, "hub.example", &ring()).unwrap();
        assert_eq!(push.txn, "01J0TXN");
        assert_eq!(push.sender, "kupang.example");
        assert_eq!(push.events.len(), 3);
        for (wire, sent) in push.events.iter().zip(req.batch.events()) {
            assert_eq!(wire.as_slice(), sent.wire_bytes());
            assert_eq!(verify_received(wire, &ring()).unwrap().id(), sent.id());
        }
        let empty = push_request(0).sign(&key(1)).unwrap();
        assert!(verify_push(&empty, "hub.example", &ring())
            .unwrap()
            .events
            .is_empty());
    }

    #[test]
    fn push_rejections() {
        let body = push_request(2).sign(&key(1)).unwrap();
        assert!(matches!(
            verify_push(&body, "other.example", &ring()),
            Err(EnvelopeError::WrongDestination { .. })
        ));
        // Signed by the wrong key.
        let forged = push_request(2).sign(&key(2)).unwrap();
        assert_eq!(
            verify_push(&forged, "hub.example", &ring()),
            Err(EnvelopeError::BadSignature)
        );
        // Changing the transaction id breaks the signature.
        let text = String::from_utf8(body)
            .unwrap()
            .replace("01J0TXN", "01J0TXM");
        assert_eq!(
            verify_push(text.as_bytes(), "hub.example", &ring()),
            Err(EnvelopeError::BadSignature)
        );
        let big = vec![b'x'; MAX_BATCH_BYTES + 1];
        assert!(matches!(
            verify_push(&big, "hub.example", &ring()),
            Err(EnvelopeError::BatchTooLarge { .. })
        ));
    }

    #[test]
    fn batch_caps() {
        let signed = event(1, None).sign(&key(1)).unwrap();
        let mut batch = Batch::new();
        for _ in 0..MAX_BATCH_EVENTS {
            batch.try_push(signed.clone()).unwrap();
        }
        assert!(batch.try_push(signed.clone()).is_err());
        assert_eq!(batch.len(), MAX_BATCH_EVENTS);

        // Large events fill the byte budget before the count cap.
        let mut e = event(1, None);
        let Value::Object(p) = &mut e.payload else {
            panic!()
        };
        p.insert("body".to_owned(), Value::String("x".repeat(60_000)));
        let large = e.sign(&key(1)).unwrap();
        let mut batch = Batch::new();
        while batch.try_push(large.clone()).is_ok() {}
        assert!(batch.len() < MAX_BATCH_EVENTS);
        assert!(batch.encoded_len() <= MAX_BATCH_BYTES - PUSH_ENVELOPE_RESERVE);
        let req = PushRequest {
            txn: "t".to_owned(),
            sender: "kupang.example".to_owned(),
            destination: "hub.example".to_owned(),
            key_id: "k1".to_owned(),
            batch,
        };
        let body = req.sign(&key(1)).unwrap();
        assert!(body.len() <= MAX_BATCH_BYTES);
        assert_eq!(
            verify_push(&body, "hub.example", &ring())
                .unwrap()
                .events
                .len(),
            req.batch.len()
        );

        // A push with too many events is refused by the receiver even when signed.
        let mut map = BTreeMap::new();
        map.insert("destination".to_owned(), Value::from("hub.example"));
        map.insert(
            "events".to_owned(),
            Value::Array(vec![Value::Object(BTreeMap::new()); MAX_BATCH_EVENTS + 1]),
        );
        map.insert("key_id".to_owned(), Value::from("k1"));
        map.insert("sender".to_owned(), Value::from("kupang.example"));
        map.insert("txn".to_owned(), Value::from("t"));
        map.insert("v".to_owned(), Value::Int(1));
        let unsigned = canonical::encode(&Value::Object(map.clone())).unwrap();
        let sig = key(1).sign(&domain_message(PUSH_DOMAIN, &unsigned));
        map.insert("sig".to_owned(), Value::String(sig_to_hex(&sig)));
        let body = canonical::encode(&Value::Object(map)).unwrap();
        assert!(matches!(
            verify_push(&body, "hub.example", &ring()),
            Err(EnvelopeError::TooManyEvents { .. })
        ));
    }
}
