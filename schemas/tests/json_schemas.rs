//! The JSON Schemas of the federation wire format (`schemas/json/`) are valid draft 2020-12 documents, accept the
//! committed test vectors and the payload examples, and refuse what the protocol refuses where a schema can see
//! it (unknown members, patterns, ranges). Canonical encoding and signatures are beyond any schema: those are
//! checked by `federation/tests/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jsonschema::{Registry, Validator};
use serde_json::{json, Value};

const BASE: &str = "https://example.invalid/lapor-federated/schemas/json/";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json")
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_files(sub: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir().join(sub)).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            out.insert(name, read(&path));
        }
    }
    out
}

/// Every schema document, keyed by its path under `schemas/json/`.
fn schemas() -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = json_files(".")
        .into_iter()
        .filter(|(name, _)| name.ends_with(".schema.json"))
        .collect();
    for (name, schema) in json_files("payloads") {
        out.insert(format!("payloads/{name}"), schema);
    }
    out
}

struct Schemas {
    validators: BTreeMap<String, Validator>,
}

impl Schemas {
    fn load() -> Self {
        let docs = schemas();
        let mut builder = Registry::new();
        for (path, schema) in &docs {
            builder = builder
                .add(format!("{BASE}{path}"), schema.clone())
                .unwrap();
        }
        let registry = builder.prepare().unwrap();
        let validators = docs
            .iter()
            .map(|(path, schema)| {
                let v = jsonschema::draft202012::options()
                    .with_registry(&registry)
                    .build(schema)
                    .unwrap_or_else(|e| panic!("{path}: {e}"));
                (path.clone(), v)
            })
            .collect();
        Schemas { validators }
    }

    fn errors(&self, schema: &str, instance: &Value) -> Vec<String> {
        self.validators
            .get(schema)
            .unwrap_or_else(|| panic!("no schema {schema}"))
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn assert_valid(&self, schema: &str, instance: &Value, what: &str) {
        let errors = self.errors(schema, instance);
        assert!(
            errors.is_empty(),
            "{what} should match {schema}: {errors:#?}"
        );
    }

    fn assert_invalid(&self, schema: &str, instance: &Value, what: &str) {
        assert!(
            !self.errors(schema, instance).is_empty(),
            "{what} should not match {schema}"
        );
    }
}

fn vectors(name: &str) -> Value {
    read(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../federation/tests/vectors/{name}")),
    )
}

#[test]
fn schemas_are_valid_draft_2020_12_with_ids() {
    let docs = schemas();
    assert!(docs.len() >= 5 + 21, "{}", docs.len());
    for (path, schema) in &docs {
        assert!(
            jsonschema::draft202012::meta::is_valid(schema),
            "{path} is not a valid draft 2020-12 schema"
        );
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{path}"
        );
        assert_eq!(schema["$id"], format!("{BASE}{path}"), "{path}");
    }
}

#[test]
fn valid_vectors_match_the_envelope_schemas() {
    let s = Schemas::load();
    let file = vectors("envelope-v1.json");
    let events = file["events"].as_array().unwrap();
    assert!(!events.is_empty());
    let mut wires = Vec::new();
    for v in events {
        let wire: Value = serde_json::from_str(v["wire"].as_str().unwrap()).unwrap();
        s.assert_valid("event.schema.json", &wire, v["name"].as_str().unwrap());
        wires.push(wire);
    }
    for p in file["push"].as_array().unwrap() {
        let body: Value = serde_json::from_str(p["body"].as_str().unwrap()).unwrap();
        s.assert_valid("push.schema.json", &body, p["name"].as_str().unwrap());
    }
    let page = json!({"events": wires, "more": false});
    s.assert_valid("log-page.schema.json", &page, "log page of the vectors");
    s.assert_valid(
        "log-page.schema.json",
        &json!({"events": [], "more": true}),
        "empty page",
    );
    s.assert_invalid(
        "log-page.schema.json",
        &json!({"events": []}),
        "page without more",
    );
    s.assert_invalid(
        "log-page.schema.json",
        &json!({"events": [{}], "more": false}),
        "page with a non-event",
    );
}

#[test]
fn invalid_vectors_that_a_schema_can_see_fail() {
    let s = Schemas::load();
    let file = vectors("invalid-v1.json");
    let case = |name: &str| -> Value {
        let c = file["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}"));
        serde_json::from_str(c["bytes"].as_str().unwrap()).unwrap()
    };
    for name in [
        "unknown_member",
        "uppercase_hex_signature",
        "missing_origin_prev_at_seq_2",
    ] {
        s.assert_invalid("event.schema.json", &case(name), name);
    }
    s.assert_invalid(
        "push.schema.json",
        &case("push_too_many_events"),
        "push_too_many_events",
    );
    // Non-canonical bytes and bad signatures decode to values a schema cannot tell from valid ones.
    for name in [
        "whitespace",
        "keys_not_sorted",
        "tampered_payload",
        "bad_signature",
    ] {
        s.assert_valid("event.schema.json", &case(name), name);
    }
}

#[test]
fn envelope_rules_in_the_event_schema() {
    let s = Schemas::load();
    let file = vectors("envelope-v1.json");
    let base: Value = serde_json::from_str(file["events"][0]["wire"].as_str().unwrap()).unwrap();
    let second: Value = serde_json::from_str(file["events"][1]["wire"].as_str().unwrap()).unwrap();
    let with = |v: &Value, k: &str, x: Value| {
        let mut v = v.clone();
        v[k] = x;
        v
    };
    let bad = [
        ("v 2", with(&base, "v", json!(2))),
        (
            "uppercase type",
            with(&base, "type", json!("Report.created")),
        ),
        ("seq 0", with(&base, "origin_seq", json!(0))),
        (
            "seq beyond 2^53-1",
            with(&base, "origin_seq", json!(9_007_199_254_740_992_u64)),
        ),
        (
            "prev at seq 1",
            with(&base, "origin_prev", json!("ab".repeat(32))),
        ),
        (
            "null prev at seq 2",
            with(&second, "origin_prev", Value::Null),
        ),
        ("space in origin", with(&base, "origin", json!("a b"))),
        ("empty key id", with(&base, "key_id", json!(""))),
        (
            "duplicate blobs",
            with(&base, "blobs", json!(["ab".repeat(32), "ab".repeat(32)])),
        ),
        (
            "uppercase blob hash",
            with(&base, "blobs", json!(["AB".repeat(32)])),
        ),
        ("payload array", with(&base, "payload", json!([]))),
        ("short sig", with(&base, "sig", json!("ab"))),
        ("negative epoch", with(&base, "report_epoch", json!(-1))),
    ];
    for (what, v) in bad {
        s.assert_invalid("event.schema.json", &v, what);
    }
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("origin_prev");
    s.assert_invalid("event.schema.json", &missing, "missing origin_prev");
}

#[test]
fn push_response_schema() {
    let s = Schemas::load();
    let ok = json!({
        "txn": "01JC9TXN0000000000000000AB",
        "accepted": ["ab".repeat(32)],
        "rejected": [
            {"index": 1, "code": "whitespace", "reason": "not canonical"},
            {"index": 2, "id": "cd".repeat(32), "code": "bad_signature", "reason": "signature does not verify"}
        ]
    });
    s.assert_valid("push-response.schema.json", &ok, "push response");
    let mut extra = ok.clone();
    extra["rejected"][0]["hint"] = json!("x");
    s.assert_invalid(
        "push-response.schema.json",
        &extra,
        "unknown member in rejected",
    );
    let mut null_id = ok.clone();
    null_id["rejected"][0]["id"] = Value::Null;
    s.assert_invalid("push-response.schema.json", &null_id, "null id");
    let mut bad_id = ok;
    bad_id["accepted"][0] = json!("xyz");
    s.assert_invalid("push-response.schema.json", &bad_id, "accepted id not hex");

    s.assert_valid(
        "catch-up.schema.json",
        &json!({"have": {"a.example": 0, "b.example": 12}, "limit": 500}),
        "catch-up",
    );
    s.assert_invalid(
        "catch-up.schema.json",
        &json!({"have": {"a.example": -1}, "limit": 500}),
        "negative seq",
    );
    s.assert_invalid(
        "catch-up.schema.json",
        &json!({"have": {}}),
        "missing limit",
    );
}

#[test]
fn every_payload_type_has_a_schema_and_a_valid_example() {
    let s = Schemas::load();
    let examples = json_files("examples");
    let payload_schemas: Vec<String> = schemas()
        .into_keys()
        .filter_map(|p| {
            p.strip_prefix("payloads/")
                .and_then(|n| n.strip_suffix(".schema.json"))
                .map(str::to_owned)
        })
        .filter(|n| n != "defs")
        .collect();
    let example_types: Vec<String> = examples
        .keys()
        .map(|n| n.strip_suffix(".json").unwrap().to_owned())
        .collect();
    assert_eq!(
        payload_schemas, example_types,
        "one example per payload schema"
    );
    // Every event type the protocol has (PROTOCOL section 8.8): one `report.*` per timeline action, and the
    // fixed others. The payload schemas are exactly these, no more.
    let mut expected: Vec<String> = lapor_schemas::TimelineAction::ALL
        .iter()
        .map(|a| format!("report.{}", a.as_str()))
        .collect();
    expected.extend(
        [
            "contribution.reply",
            "contribution.rate",
            "contribution.accept",
            "transfer.offer",
            "transfer.forwarded",
            "transfer.accept",
            "transfer.committed",
            "transfer.refused",
            "transfer.tombstone",
            "transfer.released",
            "node.agencies",
            "key.rotated",
            "key.revoked",
        ]
        .map(str::to_owned),
    );
    expected.sort();
    let mut have = payload_schemas.clone();
    have.sort();
    assert_eq!(have, expected, "one payload schema per event type");
    for (file, example) in &examples {
        let t = file.strip_suffix(".json").unwrap();
        s.assert_valid(&format!("payloads/{t}.schema.json"), example, file);
    }
}

/// The examples are what the Rust payload types (`lapor_schemas::events`) read and write: each example
/// deserialises (unknown members refused) and serialises back to the same JSON, and a value built in Rust
/// validates against its schema. A field renamed on one side fails here.
#[test]
fn payload_schemas_match_the_rust_types() {
    use lapor_schemas::events::{
        AgenciesPayload, ContributionPayload, ReportPayload, TransferPayload,
    };
    fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
        example: &Value,
        what: &str,
    ) -> Value {
        let typed: T =
            serde_json::from_value(example.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
        serde_json::to_value(&typed).unwrap()
    }
    let s = Schemas::load();
    for (file, example) in &json_files("examples") {
        let t = file.strip_suffix(".json").unwrap();
        let back = match t.split_once('.').unwrap().0 {
            "report" => round_trip::<ReportPayload>(example, file),
            "contribution" => round_trip::<ContributionPayload>(example, file),
            "transfer" => round_trip::<TransferPayload>(example, file),
            "node" => round_trip::<AgenciesPayload>(example, file),
            // Key events are built by lapor-federation's keys module (tested there).
            _ => continue,
        };
        assert_eq!(&back, example, "{file} does not survive the Rust type");
        s.assert_valid(&format!("payloads/{t}.schema.json"), &back, file);
    }
    let contribution = ContributionPayload {
        owner: "kupangkota".into(),
        tracking_code: "KPG-7H3K9QX2MA".into(),
        note: Some("Terima kasih".into()),
        score: None,
        comment: None,
        at_ms: 1_735_689_600_123,
        proof: Some(format!("ed25519-0123456789abcdef:{}", "ab".repeat(80))),
        via: None,
    };
    s.assert_valid(
        "payloads/contribution.accept.schema.json",
        &serde_json::to_value(&contribution).unwrap(),
        "a contribution with its proof",
    );
    let relayed = ContributionPayload {
        via: Some("kaltimprov".into()),
        ..contribution
    };
    s.assert_valid(
        "payloads/contribution.accept.schema.json",
        &serde_json::to_value(&relayed).unwrap(),
        "a hub's relay naming its author",
    );
}

#[test]
fn payload_schemas_refuse_what_the_protocol_refuses() {
    let s = Schemas::load();
    let examples = json_files("examples");
    let ex = |t: &str| examples[&format!("{t}.json")].clone();
    let check = |t: &str, what: &str, f: &dyn Fn(&mut Value)| {
        let mut v = ex(t);
        f(&mut v);
        s.assert_invalid(&format!("payloads/{t}.schema.json"), &v, what);
    };
    check("report.created", "null optional member", &|v| {
        v["state"]["category_id"] = Value::Null;
    });
    check("report.created", "title over 200", &|v| {
        v["state"]["title"] = json!("x".repeat(201));
    });
    check("report.created", "body over 20000", &|v| {
        v["state"]["body"] = json!("x".repeat(20_001));
    });
    check("report.created", "entry note over 4016", &|v| {
        v["entry"]["note"] = json!("x".repeat(4017));
    });
    check("report.created", "unknown state member", &|v| {
        v["state"]["reporter_name"] = json!("Siti");
    });
    check("report.created", "unknown payload member", &|v| {
        v["reporter"] = json!({});
    });
    check("report.created", "bad secret hash", &|v| {
        v["state"]["secret_hash"] = json!("XYZ");
    });
    check("report.created", "bad incident date", &|v| {
        v["state"]["incident_date"] = json!("01-01-2025");
    });
    check("report.created", "unknown status", &|v| {
        v["state"]["status"] = json!("open");
    });
    check("report.created", "float coordinate", &|v| {
        v["state"]["lat_e6"] = json!(-10.1775);
    });
    check("report.created", "identity without blob", &|v| {
        v["identity"].as_object_mut().unwrap().remove("blob");
    });
    check("report.created", "missing state", &|v| {
        v.as_object_mut().unwrap().remove("state");
    });
    check("report.verified", "identity on a later event", &|v| {
        v["identity"] = json!({"blob": "a1".repeat(32), "sealed_to": "ed25519-0123456789abcdef"});
    });
    check("report.rated", "rating 6", &|v| {
        v["state"]["rating_score"] = json!(6);
    });
    check("report.rated", "rating 0", &|v| {
        v["state"]["rating_score"] = json!(0);
    });
    check("report.auto_completed", "unknown actor role", &|v| {
        v["entry"]["actor_role"] = json!("robot");
    });
    check("contribution.rate", "rate without score", &|v| {
        v.as_object_mut().unwrap().remove("score");
    });
    check("contribution.rate", "score 6", &|v| v["score"] = json!(6));
    check("contribution.reply", "reply without note", &|v| {
        v.as_object_mut().unwrap().remove("note");
    });
    check("contribution.accept", "missing owner", &|v| {
        v.as_object_mut().unwrap().remove("owner");
    });
    check("key.rotated", "uppercase public key", &|v| {
        v["public_key"] = json!("3D".repeat(32));
    });
    check("key.rotated", "key id not derived form", &|v| {
        v["key_id"] = json!("kupang-2026-1");
    });
    check("key.rotated", "unknown member", &|v| {
        v["reason"] = json!("scheduled");
    });
    check("key.revoked", "from_seq 0", &|v| v["from_seq"] = json!(0));
    check("key.revoked", "missing key id", &|v| {
        v.as_object_mut().unwrap().remove("key_id");
    });
    // Optional members may be left out.
    let mut minimal = ex("key.rotated");
    minimal.as_object_mut().unwrap().remove("enc_public");
    s.assert_valid(
        "payloads/key.rotated.schema.json",
        &minimal,
        "rotation without enc_public",
    );
    let mut anonymous = ex("report.created");
    anonymous.as_object_mut().unwrap().remove("identity");
    anonymous["state"]["anonymous"] = json!(true);
    s.assert_valid(
        "payloads/report.created.schema.json",
        &anonymous,
        "anonymous report",
    );
}
