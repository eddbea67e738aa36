//! Fixed test vectors of the canonical encoding, the signed event envelope and push requests.
//!
//! `tests/vectors/envelope-v1.json` is committed data. `vectors_match` recomputes every vector from its inputs
//! (key seeds, event fields, raw inputs) and fails if any byte of an encoding, id, signature or error code
//! changed: a change there is a wire-format break that other nodes will reject. Only after a deliberate format
//! change, regenerate with
//! `cargo test -p lapor-federation --test vectors -- --ignored regenerate_vectors` and review the diff.

// The helpers below are test code too (clippy only exempts `#[test]` functions and `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use lapor_federation::canonical::{self, Value};
use lapor_federation::envelope::{
    verify_push, verify_received, Batch, BlobHash, Event, EventId, KeyRing, PushRequest,
    SignedEvent,
};
use serde_json::json;
use sha2::{Digest, Sha256};

const KUPANG: &str = "lapor.kupangkota.go.id";
const HUB: &str = "hub.lapor.go.id";

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/envelope-v1.json")
}

struct TestKey {
    name: &'static str,
    node: &'static str,
    key_id: &'static str,
    seed: [u8; 32],
}

impl TestKey {
    fn signing(&self) -> SigningKey {
        SigningKey::from_bytes(&self.seed)
    }
}

fn keys() -> Vec<TestKey> {
    let seed = |label: &str| -> [u8; 32] {
        Sha256::digest(format!("lapor test vector key: {label}")).into()
    };
    vec![
        TestKey {
            name: "kupang",
            node: KUPANG,
            key_id: "kupang-2025-1",
            seed: seed("kupang"),
        },
        TestKey {
            name: "hub",
            node: HUB,
            key_id: "hub-2025-1",
            seed: seed("hub"),
        },
    ]
}

fn key_ring() -> KeyRing {
    let mut ring = KeyRing::new();
    for k in keys() {
        ring.insert(k.node, k.key_id, k.signing().verifying_key())
            .unwrap();
    }
    ring
}

fn obj(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// The events of the vectors, in order, with the name of the key that signs each.
fn events() -> Vec<(&'static str, &'static str, Event)> {
    let created = Event {
        v: 1,
        kind: "report.created".to_owned(),
        origin: KUPANG.to_owned(),
        origin_seq: 1,
        origin_prev: None,
        report_id: format!("{KUPANG}:01JC8Z5M6Q3T9V2XWB7N4R1K0D"),
        report_epoch: 0,
        report_prev: vec![],
        authored_at_ms: 1_735_689_600_123,
        key_id: "kupang-2025-1".to_owned(),
        payload: obj(vec![
            ("kind", "complaint".into()),
            ("title", "Lampu jalan mati di Oebobo".into()),
            (
                "body",
                "Sudah 3 hari \"gelap\".\nMohon segera ditindaklanjuti / diperbaiki ✓ 😀\t\u{1b}\u{7f}\\".into(),
            ),
            ("category", "infrastruktur".into()),
            ("location", obj(vec![("lat_microdeg", Value::Int(-10_177_500)), ("lon_microdeg", Value::Int(123_607_800))])),
            ("region_code", "53.71.01".into()),
            ("anonymous", Value::Bool(true)),
            ("confidential", Value::Bool(false)),
            ("reporter", Value::Null),
            ("é", Value::Int(1)),
            ("Zona", "WITA".into()),
        ]),
        blobs: vec![BlobHash::of(b"foto-lampu-1.jpg"), BlobHash::of(b"foto-lampu-2.jpg")],
    };
    let created_id = created.id().unwrap();
    let verified = Event {
        v: 1,
        kind: "report.verified".to_owned(),
        origin: KUPANG.to_owned(),
        origin_seq: 2,
        origin_prev: Some(created_id),
        report_id: format!("{KUPANG}:01JC8Z5M6Q3T9V2XWB7N4R1K0D"),
        report_epoch: 0,
        report_prev: vec![created_id],
        authored_at_ms: 1_735_693_200_000,
        key_id: "kupang-2025-1".to_owned(),
        payload: obj(vec![
            ("agency_id", "53.71/dinas-pupr".into()),
            ("deadline_ms", Value::Int(1_736_208_000_000)),
            ("note", "Diteruskan ke Dinas PUPR".into()),
            ("max_int", Value::Int(canonical::MAX_SAFE_INTEGER)),
            ("min_int", Value::Int(-canonical::MAX_SAFE_INTEGER)),
        ]),
        blobs: vec![],
    };
    let hub_created = Event {
        v: 1,
        kind: "report.created".to_owned(),
        origin: HUB.to_owned(),
        origin_seq: 1,
        origin_prev: None,
        report_id: format!("{HUB}:01JC90000000000000000000AA"),
        report_epoch: 3,
        report_prev: vec![],
        authored_at_ms: -1,
        key_id: "hub-2025-1".to_owned(),
        payload: obj(vec![
            ("empty_object", obj(vec![])),
            ("empty_array", Value::Array(vec![])),
            ("", "".into()),
        ]),
        blobs: vec![],
    };
    vec![
        ("kupang_report_created", "kupang", created),
        ("kupang_report_verified", "kupang", verified),
        ("hub_report_created_edge_cases", "hub", hub_created),
    ]
}

fn sign_all() -> Vec<(&'static str, SignedEvent)> {
    let keys = keys();
    events()
        .into_iter()
        .map(|(name, key, event)| {
            let k = keys.iter().find(|k| k.name == key).unwrap();
            (name, event.sign(&k.signing()).unwrap())
        })
        .collect()
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Modifies the decoded wire value and re-encodes it canonically (so only the signature can catch it).
fn modified(wire: &[u8], f: impl FnOnce(&mut std::collections::BTreeMap<String, Value>)) -> String {
    let Value::Object(mut map) = canonical::decode_canonical(wire).unwrap() else {
        panic!("not an object")
    };
    f(&mut map);
    utf8(&canonical::encode(&Value::Object(map)).unwrap())
}

/// Invalid received events: `(name, wire bytes)`; the expected error is computed, then frozen in the file.
fn invalid_events(signed: &[(&'static str, SignedEvent)]) -> Vec<(&'static str, Vec<u8>)> {
    let wire = signed[0].1.wire_bytes();
    let text = utf8(wire);
    let hub_key = keys()[1].signing();
    // The origin's event and key id, signed with the hub's key.
    let forged = signed[0].1.event().clone().sign(&hub_key).unwrap();
    let unknown = Event {
        key_id: "kupang-2099-9".to_owned(),
        ..signed[0].1.event().clone()
    };
    let unknown = unknown.sign(&keys()[0].signing()).unwrap();
    vec![
        (
            "whitespace_after_comma",
            text.replacen(',', ", ", 1).into_bytes(),
        ),
        ("trailing_newline", format!("{text}\n").into_bytes()),
        ("trailing_garbage", format!("{text}x").into_bytes()),
        (
            "keys_not_sorted",
            text.replacen("{\"authored_at_ms\"", "{\"zz\":0,\"authored_at_ms\"", 1)
                .into_bytes(),
        ),
        (
            "escaped_slash",
            text.replacen(" / ", " \\/ ", 1).into_bytes(),
        ),
        (
            "escaped_ascii_letter",
            text.replacen("Lampu", "\\u004campu", 1).into_bytes(),
        ),
        (
            "uppercase_hex_escape",
            text.replacen("\\u001b", "\\u001B", 1).into_bytes(),
        ),
        (
            "escaped_non_ascii",
            text.replacen('✓', "\\u2713", 1).into_bytes(),
        ),
        (
            "float_in_payload",
            text.replacen("-10177500", "-10177500.0", 1).into_bytes(),
        ),
        (
            "exponent_in_payload",
            text.replacen("-10177500", "-1.01775e7", 1).into_bytes(),
        ),
        (
            "negative_zero",
            text.replacen("\"report_epoch\":0", "\"report_epoch\":-0", 1)
                .into_bytes(),
        ),
        (
            "leading_zero",
            text.replacen("\"report_epoch\":0", "\"report_epoch\":00", 1)
                .into_bytes(),
        ),
        (
            "integer_out_of_range",
            text.replacen("123607800", "9007199254740992", 1)
                .into_bytes(),
        ),
        (
            "duplicate_key",
            text.replacen(
                "{\"authored_at_ms\"",
                "{\"authored_at_ms\":1,\"authored_at_ms\"",
                1,
            )
            .into_bytes(),
        ),
        (
            "lone_surrogate",
            text.replacen("Lampu", "\\ud800ampu", 1).into_bytes(),
        ),
        ("invalid_utf8", {
            let mut b = wire.to_vec();
            let at = text.find('✓').unwrap();
            b[at] = 0xff;
            b
        }),
        ("not_an_object", b"[]".to_vec()),
        (
            "tampered_payload",
            modified(wire, |m| {
                if let Some(Value::Object(p)) = m.get_mut("payload") {
                    p.insert("title".to_owned(), "Lampu jalan menyala".into());
                }
            })
            .into_bytes(),
        ),
        (
            "tampered_epoch",
            modified(wire, |m| {
                m.insert("report_epoch".to_owned(), Value::Int(1));
            })
            .into_bytes(),
        ),
        ("signed_by_other_key", forged.wire_bytes().to_vec()),
        ("unknown_key_id", unknown.wire_bytes().to_vec()),
        (
            "missing_sig",
            modified(wire, |m| {
                m.remove("sig");
            })
            .into_bytes(),
        ),
        (
            "uppercase_sig",
            modified(wire, |m| {
                let upper = m["sig"].as_str().unwrap().to_uppercase();
                m.insert("sig".to_owned(), upper.into());
            })
            .into_bytes(),
        ),
        (
            "missing_origin_prev_null",
            modified(wire, |m| {
                m.remove("origin_prev");
            })
            .into_bytes(),
        ),
        (
            "unknown_member",
            modified(wire, |m| {
                m.insert("extra".to_owned(), Value::Null);
            })
            .into_bytes(),
        ),
        (
            "version_2",
            modified(wire, |m| {
                m.insert("v".to_owned(), Value::Int(2));
            })
            .into_bytes(),
        ),
        (
            "prev_on_first_event",
            modified(wire, |m| {
                m.insert(
                    "origin_prev".to_owned(),
                    EventId([0; 32]).to_string().into(),
                );
            })
            .into_bytes(),
        ),
    ]
}

fn push(signed: &[(&'static str, SignedEvent)]) -> (PushRequest, Vec<u8>) {
    let mut batch = Batch::new();
    for (_, e) in &signed[..2] {
        batch.try_push(e.clone()).unwrap();
    }
    let request = PushRequest {
        txn: "01JC9TXN0000000000000000AB".to_owned(),
        sender: KUPANG.to_owned(),
        destination: HUB.to_owned(),
        key_id: "kupang-2025-1".to_owned(),
        batch,
    };
    let body = request.sign(&keys()[0].signing()).unwrap();
    (request, body)
}

fn wire_field(bytes: &[u8]) -> (&'static str, serde_json::Value) {
    match std::str::from_utf8(bytes) {
        Ok(s) => ("wire", json!(s)),
        Err(_) => ("wire_hex", json!(hex::encode(bytes))),
    }
}

fn canonical_inputs() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "sorted_by_utf8_bytes",
            r#"{"😀":5,"é":3,"ab":2,"a":1,"aa":6,"Z":0,"世":4,"\ufffd":7}"#,
        ),
        (
            "escapes",
            r#""q\"b\\s\/\b\f\n\r\t\u0000\u001F\u007f\u00e9\ud83d\ude00""#,
        ),
        ("whitespace", " { \"b\" : [ 1 , 2 ] , \"a\" : null }\n"),
        (
            "max_safe_integers",
            "[9007199254740991,-9007199254740991,0]",
        ),
        (
            "canonical_already",
            r#"{"a":[true,false,null,{}],"b":"/é😀"}"#,
        ),
        ("float", "1.0"),
        ("exponent", "1e3"),
        ("negative_zero", "-0"),
        ("too_large", "9007199254740992"),
        ("duplicate", r#"{"a":1,"a":1}"#),
        ("trailing", "{}{}"),
        ("lone_low_surrogate", r#""\udc00""#),
        ("raw_control_character", "\"\u{1}\""),
    ]
}

fn code<T, E: std::fmt::Display>(
    r: &Result<T, E>,
    code: impl Fn(&E) -> &'static str,
) -> serde_json::Value {
    match r {
        Ok(_) => serde_json::Value::Null,
        Err(e) => json!(code(e)),
    }
}

/// Builds the whole vector document from the inputs.
fn build() -> serde_json::Value {
    let ring = key_ring();
    let signed = sign_all();
    let keys_json: Vec<_> = keys()
        .iter()
        .map(|k| {
            json!({
                "name": k.name,
                "node": k.node,
                "key_id": k.key_id,
                "seed_hex": hex::encode(k.seed),
                "public_hex": hex::encode(k.signing().verifying_key().as_bytes()),
            })
        })
        .collect();
    let events_json: Vec<_> = signed
        .iter()
        .zip(events())
        .map(|((name, s), (_, key, _))| {
            json!({
                "name": name,
                "key": key,
                "event": serde_json::to_value(s.event()).unwrap(),
                "unsigned": utf8(&s.event().unsigned_bytes().unwrap()),
                "id": s.id().to_string(),
                "sig": hex::encode(s.signature().to_bytes()),
                "wire": utf8(s.wire_bytes()),
            })
        })
        .collect();
    let invalid_json: Vec<_> = invalid_events(&signed)
        .into_iter()
        .map(|(name, bytes)| {
            let error = outcome(&bytes, &ring);
            let (field, wire) = wire_field(&bytes);
            let mut entry = json!({ "name": name, "error": error });
            entry[field] = wire;
            entry
        })
        .collect();
    let canonical_json: Vec<_> = canonical_inputs()
        .into_iter()
        .map(|(name, input)| {
            let decoded = canonical::decode(input.as_bytes());
            json!({
                "name": name,
                "input": input,
                "decode_error": code(&decoded, canonical::CanonicalError::code),
                "canonical": decoded.as_ref().ok().map(|v| utf8(&canonical::encode(v).unwrap())),
                "canonical_error": code(&canonical::decode_canonical(input.as_bytes()), canonical::CanonicalError::code),
            })
        })
        .collect();
    let (request, body) = push(&signed);
    json!({
        "description": "LAPOR! federation test vectors, format v1. Strings are the exact UTF-8 bytes \
            (wire_hex where they are not UTF-8). Signatures are ed25519 over \"lapor-event-v1\" || unsigned \
            (events) and \"lapor-push-v1\" || body without \"sig\" (push); ids are sha256(unsigned); sig is \
            128 lowercase hex digits. Generated by federation/tests/vectors.rs; never edit by hand.",
        "keys": keys_json,
        "canonical": canonical_json,
        "events": events_json,
        "invalid_events": invalid_json,
        "push": [{
            "name": "kupang_to_hub",
            "key": "kupang",
            "txn": request.txn,
            "sender": request.sender,
            "destination": request.destination,
            "key_id": request.key_id,
            "events": ["kupang_report_created", "kupang_report_verified"],
            "body": utf8(&body),
        }],
    })
}

/// The error code of receiving `bytes`, or `accepted`.
fn outcome(bytes: &[u8], ring: &KeyRing) -> &'static str {
    match verify_received(bytes, ring) {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    }
}

fn load() -> serde_json::Value {
    let text = std::fs::read_to_string(path()).expect("read committed vectors");
    serde_json::from_str(&text).expect("parse committed vectors")
}

fn s(v: &serde_json::Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

#[test]
fn vectors_match() {
    let file = load();
    let ring = key_ring();

    // Keys: the seeds in the file give the public keys in the file.
    for k in file["keys"].as_array().unwrap() {
        let seed: [u8; 32] = hex::decode(s(&k["seed_hex"])).unwrap().try_into().unwrap();
        let public = SigningKey::from_bytes(&seed).verifying_key();
        assert_eq!(
            hex::encode(public.as_bytes()),
            s(&k["public_hex"]),
            "key {}",
            k["name"]
        );
    }
    let seed_of = |name: &str| -> SigningKey {
        let k = file["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap();
        SigningKey::from_bytes(&hex::decode(s(&k["seed_hex"])).unwrap().try_into().unwrap())
    };

    // Events: re-sign the fields in the file and get exactly the recorded bytes, id and signature.
    for v in file["events"].as_array().unwrap() {
        let name = s(&v["name"]);
        let event: Event = serde_json::from_value(v["event"].clone()).unwrap();
        let unsigned = event.unsigned_bytes().unwrap();
        assert_eq!(
            utf8(&unsigned),
            s(&v["unsigned"]),
            "{name}: unsigned canonical bytes changed"
        );
        let id = EventId(Sha256::digest(&unsigned).into());
        assert_eq!(id.to_string(), s(&v["id"]), "{name}: id changed");
        let signed = event.sign(&seed_of(s(&v["key"]))).unwrap();
        assert_eq!(signed.id(), id);
        assert_eq!(
            hex::encode(signed.signature().to_bytes()),
            s(&v["sig"]),
            "{name}: signature changed"
        );
        assert_eq!(
            utf8(signed.wire_bytes()),
            s(&v["wire"]),
            "{name}: wire bytes changed"
        );
        let received = verify_received(s(&v["wire"]).as_bytes(), &ring).unwrap();
        assert_eq!(received.id().to_string(), s(&v["id"]), "{name}");
    }

    // Invalid events: each fails with the recorded error code.
    for v in file["invalid_events"].as_array().unwrap() {
        let name = s(&v["name"]);
        let bytes = match v.get("wire") {
            Some(w) => s(w).as_bytes().to_vec(),
            None => hex::decode(s(&v["wire_hex"])).unwrap(),
        };
        let got = outcome(&bytes, &ring);
        assert_eq!(got, s(&v["error"]), "{name}");
        assert_ne!(got, "accepted", "{name}: an invalid vector was accepted");
    }

    // Canonical encoding: raw inputs decode (or fail) and re-encode as recorded.
    for v in file["canonical"].as_array().unwrap() {
        let name = s(&v["name"]);
        let input = s(&v["input"]).as_bytes();
        let decoded = canonical::decode(input);
        assert_eq!(
            code(&decoded, canonical::CanonicalError::code),
            v["decode_error"],
            "{name}"
        );
        if let Ok(value) = &decoded {
            let again = canonical::encode(value).unwrap();
            assert_eq!(utf8(&again), s(&v["canonical"]), "{name}");
            assert_eq!(
                &canonical::decode_canonical(&again).unwrap(),
                value,
                "{name}"
            );
        }
        let strict = canonical::decode_canonical(input);
        assert_eq!(
            code(&strict, canonical::CanonicalError::code),
            v["canonical_error"],
            "{name}"
        );
    }

    // Push requests: the recorded body authenticates and carries the recorded events byte for byte.
    for v in file["push"].as_array().unwrap() {
        let name = s(&v["name"]);
        let push = verify_push(s(&v["body"]).as_bytes(), s(&v["destination"]), &ring).unwrap();
        assert_eq!(push.txn, s(&v["txn"]), "{name}");
        assert_eq!(push.sender, s(&v["sender"]), "{name}");
        let wanted: Vec<&str> = v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let e = file["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["name"] == *n)
                    .unwrap();
                s(&e["wire"])
            })
            .collect();
        let got: Vec<String> = push.events.iter().map(|b| utf8(b)).collect();
        assert_eq!(got, wanted, "{name}");
    }

    // Finally the whole document, so that added, removed or changed vectors are noticed.
    assert_eq!(
        build(),
        file,
        "the vectors differ from tests/vectors/envelope-v1.json; if the wire format changed on purpose, \
         regenerate them (see the module doc) and review the diff"
    );
}

#[test]
#[ignore = "writes tests/vectors/envelope-v1.json; run only after a deliberate format change"]
fn regenerate_vectors() {
    let text = serde_json::to_string_pretty(&build()).unwrap() + "\n";
    std::fs::create_dir_all(path().parent().unwrap()).unwrap();
    std::fs::write(path(), text).unwrap();
}
