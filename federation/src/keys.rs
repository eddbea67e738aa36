//! The key log: which event-signing keys each origin has, and for which of its sequence numbers each is valid.
//!
//! Validity is counted in the origin's own `origin_seq`, never in time: an attacker holding a stolen key controls
//! `authored_at_ms`, but cannot make an event appear earlier in the origin's hash chain than it is. A
//! [`KeyEntry`] is valid for the events of its origin with
//!
//! ```text
//! valid_from_seq <= origin_seq
//!   and (retired_after_seq is None or origin_seq <= retired_after_seq)
//!   and (revoked_from_seq  is None or origin_seq <  revoked_from_seq)
//! ```
//!
//! Keys enter the log by enrolment or directory sync ([`KeyLog::register`]) and by the origin's own key events
//! ([`KeyLog::apply_key_event`]), which travel in its log like every other event:
//!
//! * `key.rotated`, payload `{"enc_public"?: <64 hex>, "key_id": <id>, "public_key": <64 hex>}`, signed with
//!   the current key at seq `n`: the new key is valid from `n + 1`, the signing key is retired after `n`.
//!   The new `key_id` must be [`key_id_for`] the new public key.
//! * `key.revoked`, payload `{"from_seq": m, "key_id": <id>}`: events signed by that key at `origin_seq >= m`
//!   are refused. It is signed by any key of the origin valid at the event's seq; a key may revoke itself,
//!   but only from a seq after the revoking event (otherwise the revocation would void its own signature).
//!   To revoke a compromised key retroactively, rotate first and revoke with the new key.
//!
//! Key events have `report_id` `"<origin>:node"`, `report_epoch` 0 and an empty `report_prev`.
//!
//! Old keys stay in the log forever, so old events keep verifying. Nothing is ever removed, and validity only
//! ever shrinks: re-registering a key can add a retirement or revocation bound or lower one, never lift it.
//!
//! Each key entry may carry the origin's X25519 encryption public key (`enc_public`) used to seal personal data
//! to it ([`mod@crate::seal`]); it is named by the same `key_id` as its entry.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::canonical::{Value, MAX_SAFE_INTEGER};
use crate::envelope::{parse_registration_key, parse_registration_key_hex, EnvelopeError, Event};
use crate::envelope::{KeyLookup, MAX_TOKEN_BYTES};

/// Event type of a key rotation.
pub const KEY_ROTATED: &str = "key.rotated";
/// Event type of a key revocation.
pub const KEY_REVOKED: &str = "key.revoked";

/// The `report_id` that key events of `origin` carry: `"<origin>:node"`.
pub fn key_event_report_id(origin: &str) -> String {
    format!("{origin}:node")
}

/// The key id derived from a public key: `"ed25519-"` followed by the first 16 lowercase hex digits of the
/// sha256 of the 32 key bytes. Rotations must name the new key by this id.
pub fn key_id_for(public: &VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    format!("ed25519-{}", hex::encode(&digest[..8]))
}

/// Payload of a `key.rotated` event announcing `new` (and optionally its X25519 encryption public key).
pub fn rotation_payload(new: &VerifyingKey, enc_public: Option<[u8; 32]>) -> Value {
    let mut map = BTreeMap::new();
    if let Some(enc) = enc_public {
        map.insert("enc_public".to_owned(), Value::String(hex::encode(enc)));
    }
    map.insert("key_id".to_owned(), Value::String(key_id_for(new)));
    map.insert(
        "public_key".to_owned(),
        Value::String(hex::encode(new.as_bytes())),
    );
    Value::Object(map)
}

/// Payload of a `key.revoked` event: events signed by `key_id` at `origin_seq >= from_seq` are refused.
pub fn revocation_payload(key_id: &str, from_seq: u64) -> Value {
    let mut map = BTreeMap::new();
    map.insert(
        "from_seq".to_owned(),
        Value::Int(i64::try_from(from_seq).unwrap_or(i64::MAX)),
    );
    map.insert("key_id".to_owned(), Value::String(key_id.to_owned()));
    Value::Object(map)
}

/// Errors of the key log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The origin registered no key under this id.
    #[error("unknown key {key_id:?} of origin {origin:?}")]
    UnknownKey {
        /// The origin.
        origin: String,
        /// The key id.
        key_id: String,
    },
    /// The event's seq is before the key's `valid_from_seq`.
    #[error("key {key_id:?} is valid from seq {valid_from_seq}, the event has seq {seq}")]
    NotYetValid {
        /// The key id.
        key_id: String,
        /// The event's `origin_seq`.
        seq: u64,
        /// First seq the key may sign.
        valid_from_seq: u64,
    },
    /// The key was retired (rotated away from) before the event's seq.
    #[error("key {key_id:?} was retired after seq {retired_after_seq}, the event has seq {seq}")]
    Retired {
        /// The key id.
        key_id: String,
        /// The event's `origin_seq`.
        seq: u64,
        /// Last seq the key may sign.
        retired_after_seq: u64,
    },
    /// The key is revoked from a seq at or before the event's.
    #[error("key {key_id:?} is revoked from seq {revoked_from_seq}, the event has seq {seq}")]
    Revoked {
        /// The key id.
        key_id: String,
        /// The event's `origin_seq`.
        seq: u64,
        /// First seq the key may no longer sign.
        revoked_from_seq: u64,
    },
    /// An ed25519 key of small order, or an X25519 encryption key of small order.
    #[error("weak public key")]
    WeakKey,
    /// Key bytes that are not a valid key.
    #[error("invalid public key")]
    InvalidKey,
    /// A different key (or a different `valid_from_seq`) under an id that is already registered.
    #[error("key id {key_id:?} of origin {origin:?} is already registered with other content")]
    Conflicting {
        /// The origin.
        origin: String,
        /// The key id.
        key_id: String,
    },
    /// A registration with an empty or overlong origin or key id.
    #[error("invalid key entry: {0}")]
    InvalidEntry(&'static str),
    /// A `key.rotated` or `key.revoked` event whose envelope or payload breaks the rules.
    #[error("bad key event: {0}")]
    BadKeyEvent(&'static str),
}

impl KeyError {
    /// Stable `snake_case` code for logs, API errors and test vectors.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::UnknownKey { .. } => "unknown_key",
            KeyError::NotYetValid { .. } => "key_not_yet_valid",
            KeyError::Retired { .. } => "key_retired",
            KeyError::Revoked { .. } => "key_revoked",
            KeyError::WeakKey => "weak_key",
            KeyError::InvalidKey => "invalid_key",
            KeyError::Conflicting { .. } => "conflicting_key",
            KeyError::InvalidEntry(_) => "invalid_key_entry",
            KeyError::BadKeyEvent(_) => "bad_key_event",
        }
    }
}

impl From<EnvelopeError> for KeyError {
    fn from(e: EnvelopeError) -> Self {
        match e {
            EnvelopeError::WeakKey => KeyError::WeakKey,
            _ => KeyError::InvalidKey,
        }
    }
}

/// One signing key of one origin, with its validity in the origin's sequence numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The node that owns the key.
    pub origin: String,
    /// Its id, as events name it in `key_id`.
    pub key_id: String,
    /// The ed25519 public key.
    pub public: VerifyingKey,
    /// The origin's X25519 encryption public key published with this signing key, if any.
    pub enc_public: Option<[u8; 32]>,
    /// First `origin_seq` the key may sign.
    pub valid_from_seq: u64,
    /// Last `origin_seq` the key may sign, once it has been rotated away from.
    pub retired_after_seq: Option<u64>,
    /// First `origin_seq` the key may no longer sign, once revoked.
    pub revoked_from_seq: Option<u64>,
}

impl KeyEntry {
    /// A key valid from `valid_from_seq` with no end yet and no encryption key.
    pub fn new(origin: &str, key_id: &str, public: VerifyingKey, valid_from_seq: u64) -> Self {
        KeyEntry {
            origin: origin.to_owned(),
            key_id: key_id.to_owned(),
            public,
            enc_public: None,
            valid_from_seq,
            retired_after_seq: None,
            revoked_from_seq: None,
        }
    }

    /// Whether the key may sign the event at `seq` of its origin, and if not why.
    pub fn check_seq(&self, seq: u64) -> Result<(), KeyError> {
        if seq < self.valid_from_seq {
            return Err(KeyError::NotYetValid {
                key_id: self.key_id.clone(),
                seq,
                valid_from_seq: self.valid_from_seq,
            });
        }
        if let Some(revoked_from_seq) = self.revoked_from_seq {
            if seq >= revoked_from_seq {
                return Err(KeyError::Revoked {
                    key_id: self.key_id.clone(),
                    seq,
                    revoked_from_seq,
                });
            }
        }
        if let Some(retired_after_seq) = self.retired_after_seq {
            if seq > retired_after_seq {
                return Err(KeyError::Retired {
                    key_id: self.key_id.clone(),
                    seq,
                    retired_after_seq,
                });
            }
        }
        Ok(())
    }

    /// Whether the key may sign at `seq`.
    pub fn is_valid_at(&self, seq: u64) -> bool {
        self.check_seq(seq).is_ok()
    }

    /// Whether the key has been neither retired nor revoked: it can sign the origin's next events.
    pub fn is_current(&self) -> bool {
        self.retired_after_seq.is_none() && self.revoked_from_seq.is_none()
    }
}

/// Refuses X25519 public keys of small order (on the curve or its twist): a clamped scalar is a multiple of 8,
/// so their product with it is the all-zero u-coordinate.
fn check_enc_public(enc: &[u8; 32]) -> Result<(), KeyError> {
    let probe = x25519_dalek::StaticSecret::from([0x55; 32]);
    let shared = probe.diffie_hellman(&x25519_dalek::PublicKey::from(*enc));
    if shared.was_contributory() {
        Ok(())
    } else {
        Err(KeyError::WeakKey)
    }
}

fn check_id(what: &'static str, s: &str) -> Result<(), KeyError> {
    if s.is_empty() || s.len() > MAX_TOKEN_BYTES || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KeyError::InvalidEntry(what));
    }
    Ok(())
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The keys of all origins, with validity by sequence number. Also a [`KeyLookup`], so it can be handed to
/// [`crate::verify_received`] and [`crate::verify_push`] directly; after a signature verifies, call
/// [`KeyLog::check`] to enforce validity by `origin_seq`.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    keys: BTreeMap<(String, String), KeyEntry>,
}

impl KeyLog {
    /// An empty key log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a key (enrolment or directory sync).
    ///
    /// Refuses weak or invalid keys (ed25519 and X25519) and a different key, a different `valid_from_seq` or a
    /// different encryption key under an existing id. Registering the same key again is allowed and merges the
    /// bounds: an encryption key missing before is added, and retirement and revocation take the earlier of the
    /// two values, so validity can only shrink.
    pub fn register(&mut self, entry: KeyEntry) -> Result<(), KeyError> {
        check_id("origin", &entry.origin)?;
        check_id("key_id", &entry.key_id)?;
        parse_registration_key(entry.public.as_bytes())?;
        if let Some(enc) = &entry.enc_public {
            check_enc_public(enc)?;
        }
        let slot = (entry.origin.clone(), entry.key_id.clone());
        let Some(existing) = self.keys.get_mut(&slot) else {
            self.keys.insert(slot, entry);
            return Ok(());
        };
        let enc_conflict =
            matches!((existing.enc_public, entry.enc_public), (Some(a), Some(b)) if a != b);
        if existing.public != entry.public
            || existing.valid_from_seq != entry.valid_from_seq
            || enc_conflict
        {
            return Err(KeyError::Conflicting {
                origin: entry.origin,
                key_id: entry.key_id,
            });
        }
        existing.enc_public = existing.enc_public.or(entry.enc_public);
        existing.retired_after_seq = min_opt(existing.retired_after_seq, entry.retired_after_seq);
        existing.revoked_from_seq = min_opt(existing.revoked_from_seq, entry.revoked_from_seq);
        Ok(())
    }

    /// All entries, ordered by origin and key id.
    pub fn entries(&self) -> impl Iterator<Item = &KeyEntry> {
        self.keys.values()
    }

    /// The entries of one origin, ordered by `valid_from_seq` (then key id).
    pub fn entries_of(&self, origin: &str) -> Vec<&KeyEntry> {
        let mut out: Vec<&KeyEntry> = self.keys.values().filter(|e| e.origin == origin).collect();
        out.sort_by(|a, b| (a.valid_from_seq, &a.key_id).cmp(&(b.valid_from_seq, &b.key_id)));
        out
    }

    /// The entry registered by `origin` as `key_id`, whatever its validity.
    pub fn get(&self, origin: &str, key_id: &str) -> Option<&KeyEntry> {
        self.keys.get(&(origin.to_owned(), key_id.to_owned()))
    }

    /// The origin's current key: neither retired nor revoked, the latest `valid_from_seq` among those. This is the
    /// key to sign the origin's next event with, and its `enc_public` the key to seal personal data to.
    pub fn current(&self, origin: &str) -> Option<&KeyEntry> {
        self.entries_of(origin)
            .into_iter()
            .rev()
            .find(|e| e.is_current())
    }

    /// The key that must have signed `event`: registered by `event.origin` as `event.key_id` and valid at
    /// `event.origin_seq` (`valid_from_seq <= seq`, not after `retired_after_seq`, before `revoked_from_seq`).
    ///
    /// This does not verify the signature; [`crate::verify_received`] with this log as the [`KeyLookup`] does.
    pub fn check(&self, event: &Event) -> Result<&KeyEntry, KeyError> {
        let entry = self
            .get(&event.origin, &event.key_id)
            .ok_or_else(|| KeyError::UnknownKey {
                origin: event.origin.clone(),
                key_id: event.key_id.clone(),
            })?;
        entry.check_seq(event.origin_seq)?;
        Ok(entry)
    }

    /// A push sender's key: registered and not revoked from any seq (a push has no seq of its own; a key that
    /// was merely rotated away from may still sign a retried push).
    pub fn check_push_key(&self, sender: &str, key_id: &str) -> Result<&KeyEntry, KeyError> {
        let entry = self
            .get(sender, key_id)
            .ok_or_else(|| KeyError::UnknownKey {
                origin: sender.to_owned(),
                key_id: key_id.to_owned(),
            })?;
        if let Some(revoked_from_seq) = entry.revoked_from_seq {
            return Err(KeyError::Revoked {
                key_id: key_id.to_owned(),
                seq: revoked_from_seq,
                revoked_from_seq,
            });
        }
        Ok(entry)
    }

    /// Applies a key event of `event.origin` whose signature has already been verified: `key.rotated` or
    /// `key.revoked`. Returns `Ok(false)` (and changes nothing) for events of other types.
    ///
    /// The signing key must be valid at the event's seq ([`KeyLog::check`]). Applying the same event twice is
    /// harmless. Apply an origin's key events in its sequence order, like all its events.
    pub fn apply_key_event(&mut self, event: &Event) -> Result<bool, KeyError> {
        let is_rotation = match event.kind.as_str() {
            KEY_ROTATED => true,
            KEY_REVOKED => false,
            _ => return Ok(false),
        };
        if event.report_id != key_event_report_id(&event.origin) {
            return Err(KeyError::BadKeyEvent("report_id must be \"<origin>:node\""));
        }
        if event.report_epoch != 0 || !event.report_prev.is_empty() {
            return Err(KeyError::BadKeyEvent(
                "report_epoch must be 0 and report_prev empty",
            ));
        }
        let signer = self.check(event)?.key_id.clone();
        let Value::Object(payload) = &event.payload else {
            return Err(KeyError::BadKeyEvent("payload is not an object"));
        };
        if is_rotation {
            self.apply_rotation(event, &signer, payload)?;
        } else {
            self.apply_revocation(event, &signer, payload)?;
        }
        Ok(true)
    }

    fn apply_rotation(
        &mut self,
        event: &Event,
        signer: &str,
        payload: &BTreeMap<String, Value>,
    ) -> Result<(), KeyError> {
        if payload
            .keys()
            .any(|k| !matches!(k.as_str(), "enc_public" | "key_id" | "public_key"))
        {
            return Err(KeyError::BadKeyEvent(
                "unknown member in key.rotated payload",
            ));
        }
        let Some(Value::String(public_hex)) = payload.get("public_key") else {
            return Err(KeyError::BadKeyEvent("public_key must be a string"));
        };
        let Some(Value::String(key_id)) = payload.get("key_id") else {
            return Err(KeyError::BadKeyEvent("key_id must be a string"));
        };
        let public = parse_registration_key_hex(public_hex)?;
        if *key_id != key_id_for(&public) {
            return Err(KeyError::BadKeyEvent(
                "key_id is not key_id_for(public_key)",
            ));
        }
        if key_id == signer {
            return Err(KeyError::BadKeyEvent("a key cannot rotate to itself"));
        }
        let enc_public = match payload.get("enc_public") {
            None => None,
            Some(Value::String(s)) => {
                let valid =
                    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                let mut bytes = [0u8; 32];
                if !valid || hex::decode_to_slice(s, &mut bytes).is_err() {
                    return Err(KeyError::BadKeyEvent(
                        "enc_public must be 64 lowercase hex digits",
                    ));
                }
                Some(bytes)
            }
            Some(_) => return Err(KeyError::BadKeyEvent("enc_public must be a string")),
        };
        let seq = event.origin_seq;
        let Some(next) = seq
            .checked_add(1)
            .filter(|n| *n <= MAX_SAFE_INTEGER.unsigned_abs())
        else {
            return Err(KeyError::BadKeyEvent("no seq left after this event"));
        };
        let entry = KeyEntry {
            origin: event.origin.clone(),
            key_id: key_id.clone(),
            public,
            enc_public,
            valid_from_seq: next,
            retired_after_seq: None,
            revoked_from_seq: None,
        };
        // `register` checks everything before it changes anything, so a refused rotation leaves the log as it was.
        let origin = event.origin.clone();
        self.register(entry)?;
        if let Some(old) = self.keys.get_mut(&(origin, signer.to_owned())) {
            old.retired_after_seq = min_opt(old.retired_after_seq, Some(seq));
        }
        Ok(())
    }

    fn apply_revocation(
        &mut self,
        event: &Event,
        signer: &str,
        payload: &BTreeMap<String, Value>,
    ) -> Result<(), KeyError> {
        if payload
            .keys()
            .any(|k| !matches!(k.as_str(), "from_seq" | "key_id"))
        {
            return Err(KeyError::BadKeyEvent(
                "unknown member in key.revoked payload",
            ));
        }
        let Some(Value::String(key_id)) = payload.get("key_id") else {
            return Err(KeyError::BadKeyEvent("key_id must be a string"));
        };
        let from_seq = match payload.get("from_seq") {
            Some(Value::Int(n)) if *n >= 1 => n.unsigned_abs(),
            _ => {
                return Err(KeyError::BadKeyEvent(
                    "from_seq must be an integer of at least 1",
                ))
            }
        };
        if key_id == signer && from_seq <= event.origin_seq {
            return Err(KeyError::BadKeyEvent(
                "a key can revoke itself only from a seq after the revoking event",
            ));
        }
        let slot = (event.origin.clone(), key_id.clone());
        let Some(target) = self.keys.get_mut(&slot) else {
            return Err(KeyError::UnknownKey {
                origin: event.origin.clone(),
                key_id: key_id.clone(),
            });
        };
        target.revoked_from_seq = min_opt(target.revoked_from_seq, Some(from_seq));
        Ok(())
    }
}

impl KeyLookup for KeyLog {
    /// Any registered key, whatever its validity: signatures of old events must keep verifying. Enforce
    /// validity with [`KeyLog::check`] (events) or [`KeyLog::check_push_key`] (push senders).
    fn verifying_key(&self, node: &str, key_id: &str) -> Option<VerifyingKey> {
        self.get(node, key_id).map(|e| e.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{verify_received, EventId, SignedEvent};
    use ed25519_dalek::SigningKey;

    const NODE: &str = "kupang.example";

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn enrol(log: &mut KeyLog, n: u8, from: u64) -> String {
        let id = key_id_for(&key(n).verifying_key());
        log.register(KeyEntry::new(NODE, &id, key(n).verifying_key(), from))
            .unwrap();
        id
    }

    fn event(kind: &str, seq: u64, key_id: &str, payload: Value) -> Event {
        Event {
            v: 1,
            kind: kind.to_owned(),
            origin: NODE.to_owned(),
            origin_seq: seq,
            origin_prev: (seq > 1).then_some(EventId([seq as u8; 32])),
            report_id: key_event_report_id(NODE),
            report_epoch: 0,
            report_prev: vec![],
            authored_at_ms: 0,
            key_id: key_id.to_owned(),
            payload,
            blobs: vec![],
        }
    }

    fn report_event(seq: u64, key_id: &str) -> Event {
        Event {
            report_id: format!("{NODE}:01J0"),
            ..event(
                "report.created",
                seq,
                key_id,
                Value::Object(BTreeMap::new()),
            )
        }
    }

    fn signed(e: Event, n: u8) -> SignedEvent {
        e.sign(&key(n)).unwrap()
    }

    #[test]
    fn key_id_format() {
        let id = key_id_for(&key(1).verifying_key());
        assert_eq!(id.len(), "ed25519-".len() + 16);
        assert!(id.starts_with("ed25519-"));
        let digest = Sha256::digest(key(1).verifying_key().as_bytes());
        assert_eq!(&id[8..], hex::encode(&digest[..8]));
        assert_ne!(id, key_id_for(&key(2).verifying_key()));
    }

    #[test]
    fn check_by_sequence_number() {
        let mut log = KeyLog::new();
        let id = key_id_for(&key(1).verifying_key());
        let mut entry = KeyEntry::new(NODE, &id, key(1).verifying_key(), 5);
        entry.retired_after_seq = Some(10);
        log.register(entry).unwrap();
        assert_eq!(
            log.check(&report_event(4, &id)).unwrap_err().code(),
            "key_not_yet_valid"
        );
        assert_eq!(log.check(&report_event(5, &id)).unwrap().key_id, id);
        assert!(log.check(&report_event(10, &id)).is_ok());
        assert_eq!(
            log.check(&report_event(11, &id)).unwrap_err().code(),
            "key_retired"
        );
        assert_eq!(
            log.check(&report_event(5, "other")).unwrap_err().code(),
            "unknown_key"
        );
        let mut other_origin = report_event(5, &id);
        other_origin.origin = "jakarta.example".to_owned();
        assert_eq!(log.check(&other_origin).unwrap_err().code(), "unknown_key");
        // Revocation wins over retirement where both apply.
        let mut entry = KeyEntry::new(NODE, &id, key(1).verifying_key(), 5);
        entry.revoked_from_seq = Some(8);
        log.register(entry).unwrap();
        assert!(log.check(&report_event(7, &id)).is_ok());
        assert_eq!(
            log.check(&report_event(8, &id)).unwrap_err().code(),
            "key_revoked"
        );
        assert_eq!(
            log.check(&report_event(11, &id)).unwrap_err().code(),
            "key_revoked"
        );
    }

    #[test]
    fn register_is_idempotent_and_refuses_conflicts() {
        let mut log = KeyLog::new();
        let id = enrol(&mut log, 1, 1);
        enrol(&mut log, 1, 1);
        assert_eq!(log.entries().count(), 1);
        let err = log
            .register(KeyEntry::new(NODE, &id, key(2).verifying_key(), 1))
            .unwrap_err();
        assert_eq!(err.code(), "conflicting_key");
        let err = log
            .register(KeyEntry::new(NODE, &id, key(1).verifying_key(), 2))
            .unwrap_err();
        assert_eq!(err.code(), "conflicting_key");
        // The same key under the same id for another origin is another entry.
        log.register(KeyEntry::new(
            "other.example",
            &id,
            key(1).verifying_key(),
            1,
        ))
        .unwrap();
        assert_eq!(log.entries().count(), 2);
        assert_eq!(log.entries_of(NODE).len(), 1);

        // Bounds merge towards less validity; an encryption key can be added but not changed.
        let mut e = KeyEntry::new(NODE, &id, key(1).verifying_key(), 1);
        e.retired_after_seq = Some(20);
        e.enc_public = Some(crate::seal::EncryptionSecret::from_bytes([9; 32]).public());
        log.register(e.clone()).unwrap();
        e.retired_after_seq = Some(30);
        e.revoked_from_seq = Some(15);
        log.register(e.clone()).unwrap();
        let got = log.get(NODE, &id).unwrap();
        assert_eq!(got.retired_after_seq, Some(20));
        assert_eq!(got.revoked_from_seq, Some(15));
        assert!(got.enc_public.is_some());
        e.enc_public = Some(crate::seal::EncryptionSecret::from_bytes([8; 32]).public());
        assert_eq!(log.register(e).unwrap_err().code(), "conflicting_key");
    }

    #[test]
    fn register_refuses_weak_keys_and_bad_ids() {
        let mut log = KeyLog::new();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        assert_eq!(
            log.register(KeyEntry::new(NODE, "k", weak, 1))
                .unwrap_err()
                .code(),
            "weak_key"
        );
        let mut e = KeyEntry::new(NODE, "k", key(1).verifying_key(), 1);
        e.enc_public = Some([0; 32]);
        assert_eq!(log.register(e.clone()).unwrap_err().code(), "weak_key");
        // u = 1 has order 4 on the curve; clamped scalars map it to zero too.
        let mut one = [0u8; 32];
        one[0] = 1;
        e.enc_public = Some(one);
        assert_eq!(log.register(e).unwrap_err().code(), "weak_key");
        assert_eq!(
            log.register(KeyEntry::new(NODE, "", key(1).verifying_key(), 1))
                .unwrap_err()
                .code(),
            "invalid_key_entry"
        );
        assert_eq!(
            log.register(KeyEntry::new("a b", "k", key(1).verifying_key(), 1))
                .unwrap_err()
                .code(),
            "invalid_key_entry"
        );
        assert_eq!(log.entries().count(), 0);
    }

    #[test]
    fn works_as_key_lookup_for_verification() {
        let mut log = KeyLog::new();
        let id = enrol(&mut log, 1, 1);
        let s = signed(report_event(1, &id), 1);
        let got = verify_received(s.wire_bytes(), &log).unwrap();
        assert_eq!(log.check(got.event()).unwrap().key_id, id);
        // Another node's key claiming this origin: unknown under this origin.
        let other = key_id_for(&key(2).verifying_key());
        log.register(KeyEntry::new(
            "jakarta.example",
            &other,
            key(2).verifying_key(),
            1,
        ))
        .unwrap();
        let forged = signed(report_event(1, &other), 2);
        assert_eq!(
            verify_received(forged.wire_bytes(), &log)
                .unwrap_err()
                .code(),
            "unknown_key"
        );
    }

    #[test]
    fn rotation() {
        let mut log = KeyLog::new();
        let old = enrol(&mut log, 1, 1);
        let enc = crate::seal::EncryptionSecret::from_bytes([3; 32]).public();
        let new_public = key(2).verifying_key();
        let rot = event(
            KEY_ROTATED,
            7,
            &old,
            rotation_payload(&new_public, Some(enc)),
        );
        // Round trip through signing and verification, as a node would receive it.
        let rot = verify_received(signed(rot, 1).wire_bytes(), &log).unwrap();
        assert!(log.apply_key_event(rot.event()).unwrap());
        let new = key_id_for(&new_public);
        let entry = log.get(NODE, &new).unwrap();
        assert_eq!(entry.valid_from_seq, 8);
        assert_eq!(entry.enc_public, Some(enc));
        assert_eq!(log.get(NODE, &old).unwrap().retired_after_seq, Some(7));
        assert_eq!(log.current(NODE).unwrap().key_id, new);
        // Old key: fine up to and including 7, refused after; new key only from 8.
        assert!(log.check(&report_event(7, &old)).is_ok());
        assert_eq!(
            log.check(&report_event(8, &old)).unwrap_err().code(),
            "key_retired"
        );
        assert_eq!(
            log.check(&report_event(7, &new)).unwrap_err().code(),
            "key_not_yet_valid"
        );
        assert!(log.check(&report_event(8, &new)).is_ok());
        // Re-applying the same event changes nothing.
        let before = log.entries().cloned().collect::<Vec<_>>();
        assert!(log.apply_key_event(rot.event()).unwrap());
        assert_eq!(log.entries().cloned().collect::<Vec<_>>(), before);
        // The retired key cannot rotate again later.
        let again = event(
            KEY_ROTATED,
            9,
            &old,
            rotation_payload(&key(3).verifying_key(), None),
        );
        assert_eq!(
            log.apply_key_event(&again).unwrap_err().code(),
            "key_retired"
        );
        assert!(log
            .get(NODE, &key_id_for(&key(3).verifying_key()))
            .is_none());
        // The entries of the origin are ordered by validity.
        let ids: Vec<_> = log
            .entries_of(NODE)
            .iter()
            .map(|e| e.key_id.clone())
            .collect();
        assert_eq!(ids, vec![old, new]);
    }

    #[test]
    fn rotation_payload_rules() {
        let mut log = KeyLog::new();
        let old = enrol(&mut log, 1, 1);
        let bad = |log: &mut KeyLog, payload: Value| {
            log.apply_key_event(&event(KEY_ROTATED, 2, &old, payload))
                .unwrap_err()
                .code()
        };
        let good = rotation_payload(&key(2).verifying_key(), None);
        let with = |k: &str, v: Value| {
            let Value::Object(mut m) = good.clone() else {
                panic!()
            };
            m.insert(k.to_owned(), v);
            Value::Object(m)
        };
        assert_eq!(
            bad(&mut log, with("key_id", "mine".into())),
            "bad_key_event"
        );
        assert_eq!(bad(&mut log, with("extra", Value::Null)), "bad_key_event");
        assert_eq!(
            bad(&mut log, with("enc_public", "AB".repeat(32).into())),
            "bad_key_event"
        );
        assert_eq!(
            bad(&mut log, with("enc_public", Value::Int(1))),
            "bad_key_event"
        );
        assert_eq!(
            bad(&mut log, with("enc_public", "00".repeat(32).into())),
            "weak_key"
        );
        assert_eq!(
            bad(&mut log, with("public_key", "zz".into())),
            "invalid_key"
        );
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            bad(&mut log, with("public_key", hex::encode(identity).into())),
            "weak_key"
        );
        assert_eq!(
            bad(&mut log, rotation_payload(&key(1).verifying_key(), None)),
            "bad_key_event"
        );
        assert_eq!(bad(&mut log, Value::Array(vec![])), "bad_key_event");
        // Envelope rules of key events.
        let mut e = event(KEY_ROTATED, 2, &old, good.clone());
        e.report_id = format!("{NODE}:01J0");
        assert_eq!(log.apply_key_event(&e).unwrap_err().code(), "bad_key_event");
        let mut e = event(KEY_ROTATED, 2, &old, good.clone());
        e.report_epoch = 1;
        assert_eq!(log.apply_key_event(&e).unwrap_err().code(), "bad_key_event");
        let e = event(KEY_ROTATED, 2, "nobody", good.clone());
        assert_eq!(log.apply_key_event(&e).unwrap_err().code(), "unknown_key");
        // Nothing was changed by the failures.
        assert_eq!(log.entries().count(), 1);
        assert!(log.get(NODE, &old).unwrap().is_current());
        // A rotation to a key registered with another validity conflicts.
        let new = key_id_for(&key(2).verifying_key());
        log.register(KeyEntry::new(NODE, &new, key(2).verifying_key(), 100))
            .unwrap();
        assert_eq!(
            log.apply_key_event(&event(KEY_ROTATED, 2, &old, good))
                .unwrap_err()
                .code(),
            "conflicting_key"
        );
        assert!(log.get(NODE, &old).unwrap().is_current());
    }

    #[test]
    fn revocation() {
        let mut log = KeyLog::new();
        let a = enrol(&mut log, 1, 1);
        let b = enrol(&mut log, 2, 1);
        // Key b revokes key a from seq 4 (retroactively) at seq 6.
        let rev = event(KEY_REVOKED, 6, &b, revocation_payload(&a, 4));
        assert!(log.apply_key_event(&rev).unwrap());
        assert!(log.check(&report_event(3, &a)).is_ok());
        assert_eq!(
            log.check(&report_event(4, &a)).unwrap_err().code(),
            "key_revoked"
        );
        assert!(log.check(&report_event(7, &b)).is_ok());
        // A later revocation from a later seq does not lift the earlier one.
        let rev2 = event(KEY_REVOKED, 7, &b, revocation_payload(&a, 10));
        assert!(log.apply_key_event(&rev2).unwrap());
        assert_eq!(log.get(NODE, &a).unwrap().revoked_from_seq, Some(4));
        assert_eq!(log.current(NODE).unwrap().key_id, b);
        // The revoked key can no longer sign key events at those seqs.
        let by_a = event(KEY_REVOKED, 8, &a, revocation_payload(&b, 1));
        assert_eq!(
            log.apply_key_event(&by_a).unwrap_err().code(),
            "key_revoked"
        );
        // Push authentication refuses revoked keys and accepts the others.
        assert_eq!(
            log.check_push_key(NODE, &a).unwrap_err().code(),
            "key_revoked"
        );
        assert!(log.check_push_key(NODE, &b).is_ok());
        assert_eq!(
            log.check_push_key(NODE, "x").unwrap_err().code(),
            "unknown_key"
        );
    }

    #[test]
    fn self_revocation() {
        let mut log = KeyLog::new();
        let a = enrol(&mut log, 1, 1);
        // Revoking itself from its own seq or earlier would void the revocation's own signature.
        let e = event(KEY_REVOKED, 5, &a, revocation_payload(&a, 5));
        assert_eq!(log.apply_key_event(&e).unwrap_err().code(), "bad_key_event");
        let e = event(KEY_REVOKED, 5, &a, revocation_payload(&a, 6));
        assert!(log.apply_key_event(&e).unwrap());
        assert!(log.check(&report_event(5, &a)).is_ok());
        assert_eq!(
            log.check(&report_event(6, &a)).unwrap_err().code(),
            "key_revoked"
        );
        assert!(log.current(NODE).is_none());
    }

    #[test]
    fn revocation_payload_rules() {
        let mut log = KeyLog::new();
        let a = enrol(&mut log, 1, 1);
        let code = |log: &mut KeyLog, payload: Value| {
            log.apply_key_event(&event(KEY_REVOKED, 3, &a, payload))
                .unwrap_err()
                .code()
        };
        assert_eq!(code(&mut log, revocation_payload("nope", 9)), "unknown_key");
        assert_eq!(code(&mut log, revocation_payload(&a, 0)), "bad_key_event");
        let Value::Object(mut m) = revocation_payload(&a, 9) else {
            panic!()
        };
        m.insert("reason".to_owned(), "stolen".into());
        assert_eq!(code(&mut log, Value::Object(m)), "bad_key_event");
        let Value::Object(mut m) = revocation_payload(&a, 9) else {
            panic!()
        };
        m.insert("from_seq".to_owned(), "9".into());
        assert_eq!(code(&mut log, Value::Object(m)), "bad_key_event");
        let Value::Object(mut m) = revocation_payload(&a, 9) else {
            panic!()
        };
        m.remove("key_id");
        assert_eq!(code(&mut log, Value::Object(m)), "bad_key_event");
        assert!(log.get(NODE, &a).unwrap().is_current());
    }

    #[test]
    fn other_event_types_are_ignored() {
        let mut log = KeyLog::new();
        let a = enrol(&mut log, 1, 1);
        assert!(!log.apply_key_event(&report_event(1, &a)).unwrap());
        assert!(!log.apply_key_event(&report_event(1, "unknown")).unwrap());
    }

    #[test]
    fn payload_builders() {
        let p = rotation_payload(&key(2).verifying_key(), None);
        let bytes = p.to_canonical_bytes().unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(r#"{"key_id":"ed25519-"#), "{text}");
        assert!(text.contains(&hex::encode(key(2).verifying_key().as_bytes())));
        let p = rotation_payload(&key(2).verifying_key(), Some([7; 32]));
        assert_eq!(
            p.get("enc_public").unwrap().as_str().unwrap(),
            "07".repeat(32)
        );
        let p = revocation_payload("k1", 12);
        assert_eq!(
            String::from_utf8(p.to_canonical_bytes().unwrap()).unwrap(),
            r#"{"from_seq":12,"key_id":"k1"}"#
        );
    }
}
