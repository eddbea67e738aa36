//! Bodies of the federation HTTP routes other than the push request itself (which is
//! [`crate::envelope::PushRequest`]): the push response, a page of an origin's log and the catch-up request.
//!
//! These are transport types, not signed: a push response only reports what the receiver did with each event,
//! and a log page only carries events, each verified on its own with [`crate::verify_received`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::canonical::{self, Value};
use crate::envelope::EnvelopeError;

/// Answer to a push request (`200 OK`, `application/json`): which events the receiver stored durably in its
/// inbox and which it refused for good. An event in neither list was not considered (the sender sends it again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushResponse {
    /// The push request's transaction id.
    pub txn: String,
    /// Ids (64 lowercase hex digits) of the events stored, including ones the receiver already had.
    pub accepted: Vec<String>,
    /// Events refused permanently; resending them cannot help.
    pub rejected: Vec<Rejected>,
}

/// One refused event of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejected {
    /// Position of the event in the request's `events`, from 0.
    pub index: u64,
    /// Its id, when the bytes were good enough to compute one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Stable error code, e.g. `bad_signature` ([`EnvelopeError::code`], or a key log code).
    pub code: String,
    /// What is wrong, for people.
    pub reason: String,
}

/// A page of events: the answer to "log of origin X after seq N" and to a catch-up request.
///
/// On the wire it is canonical JSON `{"events":[<event wire bytes>,...],"more":<bool>}` with each event spliced
/// in exactly as its own canonical wire bytes. `more` says the server has further events for the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    /// The events' exact wire bytes, in each origin's sequence order.
    pub events: Vec<Vec<u8>>,
    /// Whether there is more after this page.
    pub more: bool,
}

impl LogPage {
    /// The page's body. The events' bytes are copied as they are, so they must each be canonical JSON (as
    /// every stored event is); the result is then canonical too.
    pub fn encode(&self) -> Vec<u8> {
        let len: usize = self.events.iter().map(|e| e.len() + 1).sum();
        let mut out = Vec::with_capacity(len + 32);
        out.extend_from_slice(b"{\"events\":[");
        for (i, event) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(event);
        }
        out.extend_from_slice(if self.more {
            b"],\"more\":true}"
        } else {
            b"],\"more\":false}"
        });
        out
    }

    /// Parses a page body. The body must be canonical JSON with exactly the members `events` (an array) and
    /// `more` (a boolean); each element is returned as its canonical encoding, which is exactly its slice of the
    /// body. The events themselves are not verified here.
    pub fn decode(bytes: &[u8]) -> Result<LogPage, EnvelopeError> {
        let Value::Object(mut map) = canonical::decode_canonical(bytes)? else {
            return Err(EnvelopeError::NotAnObject);
        };
        let events = match map.remove("events") {
            Some(Value::Array(events)) => events,
            Some(_) => return Err(EnvelopeError::Shape("`events` must be an array".to_owned())),
            None => return Err(EnvelopeError::Shape("missing `events`".to_owned())),
        };
        let more = match map.remove("more") {
            Some(Value::Bool(more)) => more,
            Some(_) => return Err(EnvelopeError::Shape("`more` must be a boolean".to_owned())),
            None => return Err(EnvelopeError::Shape("missing `more`".to_owned())),
        };
        if let Some(unknown) = map.keys().next() {
            return Err(EnvelopeError::Shape(format!("unknown member `{unknown}`")));
        }
        let events = events
            .iter()
            .map(canonical::encode)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LogPage { events, more })
    }
}

/// Body of a catch-up request: "here is what I have of each origin, send me what follows", one round trip for
/// all origins. The answer is a [`LogPage`] with, for each origin, the events after the given seq in sequence
/// order (origins the requester does not list are sent from seq 1 when the server decides they are relevant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatchUpRequest {
    /// Origin node id -> highest contiguous `origin_seq` held (0 for none).
    pub have: BTreeMap<String, u64>,
    /// Most events wanted in the answer page.
    pub limit: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{verify_received, Event, EventId, KeyRing};
    use ed25519_dalek::SigningKey;

    fn signed(seq: u64) -> Vec<u8> {
        let mut payload = BTreeMap::new();
        payload.insert("n".to_owned(), Value::Int(seq as i64));
        payload.insert("text".to_owned(), Value::from("é \" \\ 😀"));
        Event {
            v: 1,
            kind: "report.created".to_owned(),
            origin: "a.example".to_owned(),
            origin_seq: seq,
            origin_prev: (seq > 1).then_some(EventId([1; 32])),
            report_id: "a.example:r".to_owned(),
            report_epoch: 0,
            report_prev: vec![],
            authored_at_ms: 1,
            key_id: "k".to_owned(),
            payload: Value::Object(payload),
            blobs: vec![],
        }
        .sign(&SigningKey::from_bytes(&[1; 32]))
        .unwrap()
        .wire_bytes()
        .to_vec()
    }

    #[test]
    fn log_page_round_trip() {
        let page = LogPage {
            events: vec![signed(1), signed(2)],
            more: true,
        };
        let body = page.encode();
        canonical::decode_canonical(&body).unwrap();
        assert!(body.ends_with(b"],\"more\":true}"));
        let back = LogPage::decode(&body).unwrap();
        assert_eq!(back, page);
        let mut ring = KeyRing::new();
        ring.insert(
            "a.example",
            "k",
            SigningKey::from_bytes(&[1; 32]).verifying_key(),
        )
        .unwrap();
        for e in &back.events {
            verify_received(e, &ring).unwrap();
        }
        let empty = LogPage::default();
        assert_eq!(empty.encode(), br#"{"events":[],"more":false}"#);
        assert_eq!(LogPage::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn log_page_rejections() {
        let code = |b: &[u8]| LogPage::decode(b).unwrap_err().code();
        assert_eq!(code(br#"{"events":[], "more":false}"#), "whitespace");
        assert_eq!(code(br#"{"more":false,"events":[]}"#), "keys_not_sorted");
        assert_eq!(code(b"[]"), "not_an_object");
        assert_eq!(code(br#"{"events":{},"more":false}"#), "malformed_envelope");
        assert_eq!(code(br#"{"events":[]}"#), "malformed_envelope");
        assert_eq!(code(br#"{"events":[],"more":1}"#), "malformed_envelope");
        assert_eq!(
            code(br#"{"events":[],"more":false,"x":1}"#),
            "malformed_envelope"
        );
        assert_eq!(code(br#"{"more":false}"#), "malformed_envelope");
        assert_eq!(code(br#"{"events":[1.5],"more":false}"#), "float");
    }

    #[test]
    fn push_response_serde() {
        let r = PushResponse {
            txn: "t1".to_owned(),
            accepted: vec!["ab".repeat(32)],
            rejected: vec![
                Rejected {
                    index: 1,
                    id: None,
                    code: "whitespace".to_owned(),
                    reason: "not canonical".to_owned(),
                },
                Rejected {
                    index: 2,
                    id: Some("cd".repeat(32)),
                    code: "bad_signature".to_owned(),
                    reason: "signature does not verify".to_owned(),
                },
            ],
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("null"), "{text}");
        assert_eq!(serde_json::from_str::<PushResponse>(&text).unwrap(), r);
        assert!(serde_json::from_str::<PushResponse>(
            r#"{"txn":"t","accepted":[],"rejected":[],"extra":1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<Rejected>(
            r#"{"index":0,"code":"c","reason":"r","hint":"h"}"#
        )
        .is_err());
    }

    #[test]
    fn catch_up_serde() {
        let mut req = CatchUpRequest {
            limit: 500,
            ..CatchUpRequest::default()
        };
        req.have.insert("b.example".to_owned(), 3);
        req.have.insert("a.example".to_owned(), 0);
        let text = serde_json::to_string(&req).unwrap();
        assert_eq!(
            text,
            r#"{"have":{"a.example":0,"b.example":3},"limit":500}"#
        );
        assert_eq!(serde_json::from_str::<CatchUpRequest>(&text).unwrap(), req);
        assert!(serde_json::from_str::<CatchUpRequest>(r#"{"have":{},"limit":1,"x":0}"#).is_err());
        assert!(serde_json::from_str::<CatchUpRequest>(r#"{"have":{"a":-1},"limit":1}"#).is_err());
    }
}
