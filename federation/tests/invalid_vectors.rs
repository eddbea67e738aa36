//! Fixed invalid test vectors: received events and push bodies that every implementation must refuse, each with
//! the exact error code.
//!
//! `tests/vectors/invalid-v1.json` is committed data. Each case is `{name, verify, bytes, expect_code}` where
//! `verify` is `event` (checked with `verify_received`) or `push` (checked with `verify_push` by the node named
//! in `local_node`), and `bytes` are the exact received bytes as a string. One case is too large to store
//! (a push over 2 MiB): it has a `generator` describing how to build it instead, plus the length and sha256 of
//! the bytes it yields. Signing is deterministic (ed25519), so the whole file is reproducible.
//!
//! `invalid_vectors_match` checks every case and that the file equals what the generator below produces. Only
//! after a deliberate change, regenerate with
//! `cargo test -p lapor-federation --test invalid_vectors -- --ignored regenerate_invalid_vectors`.

// The helpers below are test code too (clippy only exempts `#[test]` functions and `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use ed25519_dalek::{Signer, SigningKey};
use lapor_federation::canonical::{self, Value};
use lapor_federation::envelope::{
    verify_push, verify_received, Batch, BlobHash, Event, EventId, KeyRing, PushRequest,
    SignedEvent, EVENT_DOMAIN, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, PUSH_DOMAIN,
};
use serde_json::json;
use sha2::{Digest, Sha256};

const KUPANG: &str = "lapor.kupangkota.go.id";
const HUB: &str = "hub.lapor.go.id";
const JAKARTA: &str = "lapor.jakarta.go.id";

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/invalid-v1.json")
}

/// `(name, node, key id, seed)`; the seeds are those of `envelope-v1.json` plus one more node.
fn keys() -> Vec<(&'static str, &'static str, &'static str, [u8; 32])> {
    let seed = |label: &str| -> [u8; 32] {
        Sha256::digest(format!("lapor test vector key: {label}")).into()
    };
    vec![
        ("kupang", KUPANG, "kupang-2025-1", seed("kupang")),
        ("hub", HUB, "hub-2025-1", seed("hub")),
        ("jakarta", JAKARTA, "jakarta-2025-1", seed("jakarta")),
    ]
}

fn signing(name: &str) -> SigningKey {
    let (_, _, _, seed) = keys().into_iter().find(|k| k.0 == name).unwrap();
    SigningKey::from_bytes(&seed)
}

fn ring() -> KeyRing {
    let mut ring = KeyRing::new();
    for (_, node, key_id, seed) in keys() {
        ring.insert(node, key_id, SigningKey::from_bytes(&seed).verifying_key())
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

fn event(seq: u64, prev: Option<EventId>, payload: Value) -> Event {
    Event {
        v: 1,
        kind: "report.created".to_owned(),
        origin: KUPANG.to_owned(),
        origin_seq: seq,
        origin_prev: prev,
        report_id: format!("{KUPANG}:01JC8Z5M6Q3T9V2XWB7N4R1K0D"),
        report_epoch: 0,
        report_prev: vec![],
        authored_at_ms: 1_735_689_600_123,
        key_id: "kupang-2025-1".to_owned(),
        payload,
        blobs: vec![BlobHash::of(b"foto-1.jpg")],
    }
}

fn first() -> SignedEvent {
    event(
        1,
        None,
        obj(vec![
            ("title", "Air PDAM mati di Oebobo".into()),
            ("lat_e6", Value::Int(-10_177_500)),
        ]),
    )
    .sign(&signing("kupang"))
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn object_of(wire: &[u8]) -> BTreeMap<String, Value> {
    let Value::Object(map) = canonical::decode_canonical(wire).unwrap() else {
        panic!("not an object")
    };
    map
}

/// Re-encodes the decoded wire value after `f`, canonically (so only the signature can catch it).
fn modified(wire: &[u8], f: impl FnOnce(&mut BTreeMap<String, Value>)) -> String {
    let mut map = object_of(wire);
    f(&mut map);
    text(&canonical::encode(&Value::Object(map)).unwrap())
}

/// Signs an arbitrary object with a domain tag and returns its canonical bytes with `sig`, bypassing the
/// sender-side checks (size caps) that would refuse to build an invalid body.
fn sign_raw(mut map: BTreeMap<String, Value>, domain: &[u8], key: &SigningKey) -> Vec<u8> {
    map.remove("sig");
    let unsigned = canonical::encode(&Value::Object(map.clone())).unwrap();
    let mut msg = domain.to_vec();
    msg.extend_from_slice(&unsigned);
    let sig = key.sign(&msg);
    map.insert("sig".to_owned(), hex::encode(sig.to_bytes()).into());
    canonical::encode(&Value::Object(map)).unwrap()
}

/// A push body from Kupang carrying `events` (decoded), signed with `domain`.
fn raw_push(events: Vec<Value>, destination: &str, domain: &[u8]) -> Vec<u8> {
    let Value::Object(map) = obj(vec![
        ("destination", destination.into()),
        ("events", Value::Array(events)),
        ("key_id", "kupang-2025-1".into()),
        ("sender", KUPANG.into()),
        ("txn", "01JC9TXN0000000000000000AB".into()),
        ("v", Value::Int(1)),
    ]) else {
        unreachable!()
    };
    sign_raw(map, domain, &signing("kupang"))
}

/// The push that is too large to store: `count` chained events of Kupang, each with a payload member
/// `padding` of `padding_bytes` letters `x`, in one push to the hub, correctly signed.
fn generate(generator: &serde_json::Value) -> Vec<u8> {
    assert_eq!(generator["kind"], "signed_push_of_padded_events");
    let count = generator["events"].as_u64().unwrap();
    let padding = usize::try_from(generator["padding_bytes"].as_u64().unwrap()).unwrap();
    let mut prev = None;
    let mut events = Vec::new();
    for seq in 1..=count {
        let signed = event(
            seq,
            prev,
            obj(vec![("padding", "x".repeat(padding).into())]),
        )
        .sign(&signing("kupang"))
        .unwrap();
        prev = Some(signed.id());
        events.push(canonical::decode_canonical(signed.wire_bytes()).unwrap());
    }
    raw_push(
        events,
        generator["destination"].as_str().unwrap(),
        PUSH_DOMAIN,
    )
}

fn big_push_generator() -> serde_json::Value {
    json!({
        "kind": "signed_push_of_padded_events",
        "description": "a push from lapor.kupangkota.go.id to hub.lapor.go.id, correctly signed, with 33 chained \
            report.created events (origin_seq 1..33, payload {\"padding\": 64000 letters x}), each under 64 KiB, \
            together over 2 MiB",
        "destination": HUB,
        "events": 33,
        "padding_bytes": 64000,
    })
}

/// `(name, verify, bytes)`.
fn cases() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let first = first();
    let wire = first.wire_bytes();
    let t = text(wire);
    let second = event(
        2,
        Some(first.id()),
        obj(vec![("note", "Diteruskan".into())]),
    )
    .sign(&signing("kupang"))
    .unwrap();

    // Members written in reverse order: valid JSON, not canonical.
    let map = object_of(wire);
    let mut reversed = b"{".to_vec();
    for (i, (k, v)) in map.iter().rev().enumerate() {
        if i > 0 {
            reversed.push(b',');
        }
        canonical::write_string(k, &mut reversed);
        reversed.push(b':');
        reversed.extend(canonical::encode(v).unwrap());
    }
    reversed.push(b'}');

    // Another node's key claiming to be Kupang: under its own key id (unknown for Kupang) and under Kupang's.
    let claimed = Event {
        key_id: "jakarta-2025-1".to_owned(),
        ..first.event().clone()
    };
    let claimed = claimed.sign(&signing("jakarta")).unwrap();
    let impostor = first.event().clone().sign(&signing("jakarta")).unwrap();

    // An event over 64 KiB, correctly signed.
    let mut big = object_of(wire);
    big.insert(
        "payload".to_owned(),
        obj(vec![("body", "x".repeat(MAX_EVENT_BYTES).into())]),
    );
    let big = sign_raw(big, EVENT_DOMAIN, &signing("kupang"));

    // A transport signature reused as an event signature.
    let push_tagged = sign_raw(object_of(wire), PUSH_DOMAIN, &signing("kupang"));

    // Pushes.
    let tiny = event(1, None, obj(vec![]))
        .sign(&signing("kupang"))
        .unwrap();
    let too_many = raw_push(
        vec![canonical::decode_canonical(tiny.wire_bytes()).unwrap(); MAX_BATCH_EVENTS + 1],
        HUB,
        PUSH_DOMAIN,
    );
    let mut batch = Batch::new();
    batch.try_push(first.clone()).unwrap();
    batch.try_push(second.clone()).unwrap();
    let elsewhere = PushRequest {
        txn: "01JC9TXN0000000000000000AC".to_owned(),
        sender: KUPANG.to_owned(),
        destination: JAKARTA.to_owned(),
        key_id: "kupang-2025-1".to_owned(),
        batch,
    }
    .sign(&signing("kupang"))
    .unwrap();
    let event_tagged_push = raw_push(
        vec![canonical::decode_canonical(wire).unwrap()],
        HUB,
        EVENT_DOMAIN,
    );

    vec![
        ("whitespace", "event", t.replacen(',', ", ", 1).into_bytes()),
        ("keys_not_sorted", "event", reversed),
        (
            "duplicate_key",
            "event",
            t.replacen(
                "{\"authored_at_ms\"",
                "{\"authored_at_ms\":1,\"authored_at_ms\"",
                1,
            )
            .into_bytes(),
        ),
        (
            "float",
            "event",
            t.replacen("\"report_epoch\":0", "\"report_epoch\":0.0", 1)
                .into_bytes(),
        ),
        (
            "integer_beyond_2_53_minus_1",
            "event",
            t.replacen("1735689600123", "9007199254740992", 1)
                .into_bytes(),
        ),
        (
            "non_minimal_escape",
            "event",
            t.replacen("Air PDAM", "\\u0041ir PDAM", 1).into_bytes(),
        ),
        (
            "uppercase_hex_signature",
            "event",
            modified(wire, |m| {
                let upper = m["sig"].as_str().unwrap().to_uppercase();
                m.insert("sig".to_owned(), upper.into());
            })
            .into_bytes(),
        ),
        (
            "bad_signature",
            "event",
            modified(wire, |m| {
                let sig = m["sig"].as_str().unwrap();
                let flipped = if sig.ends_with('0') { '1' } else { '0' };
                let sig = format!("{}{flipped}", &sig[..127]);
                m.insert("sig".to_owned(), sig.into());
            })
            .into_bytes(),
        ),
        (
            "tampered_payload",
            "event",
            modified(wire, |m| {
                if let Some(Value::Object(p)) = m.get_mut("payload") {
                    p.insert("title".to_owned(), "Air PDAM lancar".into());
                }
            })
            .into_bytes(),
        ),
        (
            "other_node_key_claiming_origin",
            "event",
            claimed.wire_bytes().to_vec(),
        ),
        (
            "other_node_key_under_origin_key_id",
            "event",
            impostor.wire_bytes().to_vec(),
        ),
        ("push_domain_tag_on_event", "event", push_tagged),
        (
            "unknown_member",
            "event",
            modified(wire, |m| {
                m.insert("priority".to_owned(), Value::Int(1));
            })
            .into_bytes(),
        ),
        (
            "missing_origin_prev_at_seq_2",
            "event",
            modified(second.wire_bytes(), |m| {
                m.remove("origin_prev");
            })
            .into_bytes(),
        ),
        ("event_over_64_kib", "event", big),
        ("push_too_many_events", "push", too_many),
        ("push_wrong_destination", "push", elsewhere),
        ("push_event_domain_tag", "push", event_tagged_push),
    ]
}

fn outcome(verify: &str, bytes: &[u8], local_node: &str) -> &'static str {
    let ring = ring();
    let result = match verify {
        "event" => verify_received(bytes, &ring).map(|_| ()),
        "push" => verify_push(bytes, local_node, &ring).map(|_| ()),
        other => panic!("unknown verify kind {other}"),
    };
    match result {
        Ok(()) => "accepted",
        Err(e) => e.code(),
    }
}

fn build() -> serde_json::Value {
    let keys_json: Vec<_> = keys()
        .into_iter()
        .map(|(name, node, key_id, seed)| {
            json!({
                "name": name,
                "node": node,
                "key_id": key_id,
                "seed_hex": hex::encode(seed),
                "public_hex": hex::encode(SigningKey::from_bytes(&seed).verifying_key().as_bytes()),
            })
        })
        .collect();
    let mut cases_json: Vec<_> = cases()
        .into_iter()
        .map(|(name, verify, bytes)| {
            let mut case = json!({
                "name": name,
                "verify": verify,
                "bytes": text(&bytes),
                "expect_code": outcome(verify, &bytes, HUB),
            });
            if verify == "push" {
                case["local_node"] = json!(HUB);
            }
            case
        })
        .collect();
    let generator = big_push_generator();
    let bytes = generate(&generator);
    cases_json.push(json!({
        "name": "push_over_2_mib",
        "verify": "push",
        "local_node": HUB,
        "generator": generator,
        "length": bytes.len(),
        "sha256": hex::encode(Sha256::digest(&bytes)),
        "expect_code": outcome("push", &bytes, HUB),
    }));
    json!({
        "description": "LAPOR! federation invalid vectors, format v1: received bytes that must be refused with \
            exactly expect_code. verify = event: verify_received; verify = push: verify_push at local_node. \
            bytes are the exact UTF-8 bytes; a case with a generator is built as described there and must have \
            the given length and sha256. Keys as in envelope-v1.json (plus jakarta); every node's key is \
            registered under its own node id. Generated by federation/tests/invalid_vectors.rs; never edit by hand.",
        "keys": keys_json,
        "cases": cases_json,
    })
}

fn load() -> serde_json::Value {
    let text = std::fs::read_to_string(path()).expect("read committed invalid vectors");
    serde_json::from_str(&text).expect("parse committed invalid vectors")
}

#[test]
fn invalid_vectors_match() {
    let file = load();
    for k in file["keys"].as_array().unwrap() {
        let seed: [u8; 32] = hex::decode(k["seed_hex"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            hex::encode(SigningKey::from_bytes(&seed).verifying_key().as_bytes()),
            k["public_hex"].as_str().unwrap()
        );
    }
    let cases = file["cases"].as_array().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        assert!(seen.insert(name), "duplicate case {name}");
        let verify = case["verify"].as_str().unwrap();
        let bytes = match (case.get("bytes"), case.get("generator")) {
            (Some(b), None) => b.as_str().unwrap().as_bytes().to_vec(),
            (None, Some(g)) => {
                let bytes = generate(g);
                assert_eq!(
                    bytes.len() as u64,
                    case["length"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    hex::encode(Sha256::digest(&bytes)),
                    case["sha256"].as_str().unwrap(),
                    "{name}"
                );
                bytes
            }
            _ => panic!("{name}: needs exactly one of bytes and generator"),
        };
        let local = case
            .get("local_node")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(HUB);
        let got = outcome(verify, &bytes, local);
        assert_ne!(got, "accepted", "{name}: an invalid vector was accepted");
        assert_eq!(got, case["expect_code"].as_str().unwrap(), "{name}");
    }
    // The codes the brief asks to cover are all there.
    let codes: std::collections::BTreeSet<&str> = cases
        .iter()
        .map(|c| c["expect_code"].as_str().unwrap())
        .collect();
    for code in [
        "whitespace",
        "keys_not_sorted",
        "duplicate_key",
        "float",
        "integer_out_of_range",
        "non_minimal_escape",
        "malformed_signature",
        "bad_signature",
        "unknown_key",
        "malformed_envelope",
        "invalid_field",
        "event_too_large",
        "too_many_events",
        "batch_too_large",
        "wrong_destination",
    ] {
        assert!(codes.contains(code), "no vector for {code}");
    }
    assert!(
        MAX_BATCH_BYTES
            < usize::try_from(
                file["cases"].as_array().unwrap().last().unwrap()["length"]
                    .as_u64()
                    .unwrap()
            )
            .unwrap()
    );
    assert_eq!(
        build(),
        file,
        "the invalid vectors differ from tests/vectors/invalid-v1.json; if the wire format changed on purpose, \
         regenerate them (see the module doc) and review the diff"
    );
}

#[test]
#[ignore = "writes tests/vectors/invalid-v1.json; run only after a deliberate format change"]
fn regenerate_invalid_vectors() {
    let text = serde_json::to_string_pretty(&build()).unwrap() + "\n";
    std::fs::write(path(), text).unwrap();
}
