#![allow(clippy::expect_used, clippy::unwrap_used)]
//! A real `lapor` process driven by third-party Open311 GeoReport v2 clients from PyPI: civicbot (JSON,
//! form-encoded `POST` with its own validation against the node's live service definition) and georeport
//! (XML through xmltodict, and JSON). The Python side is `tests/open311/client.py`; the libraries are
//! installed by `.ci/run` into `tests/open311/.venv` from `tests/open311/requirements.txt`.

use std::path::PathBuf;
use std::process::Command;

use lapor_tests::{run_cli, Api, Node};
use serde_json::{json, Value};

const PASSWORD: &str = "kata-sandi-kota-1";

fn python() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("open311");
    let venv = dir.join(".venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

fn client(args: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("open311/client.py");
    let out = Command::new(python())
        .arg(&script)
        .args(args)
        .output()
        .expect("running python3 (install with: python3 -m venv tests/open311/.venv && tests/open311/.venv/bin/pip install -r tests/open311/requirements.txt)");
    assert!(
        out.status.success(),
        "client.py {args:?} failed (are civicbot and georeport installed? see tests/open311/requirements.txt):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    })
}

async fn bootstrap(node: &Node) -> Api {
    node.bootstrap_admin(PASSWORD).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_open311_clients_file_query_and_follow_requests() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("LAPOR_NODE__ID", "kupangkota"),
        ("LAPOR_NODE__CODE", "KPG"),
        ("LAPOR_NODE__TIMEZONE", "WITA"),
        ("LAPOR_OPEN311__JURISDICTION_ID", "kupangkota.go.id"),
    ];
    let node = Node::start(dir.path(), &env).unwrap();
    let admin = bootstrap(&node).await;
    let (st, out, err) = run_cli(
        dir.path(),
        &["open311", "keys", "add", "--app", "civicbot"],
        &env,
    )
    .unwrap();
    assert!(st.success(), "{out}{err}");
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("api_key:"))
        .unwrap()
        .trim()
        .to_owned();
    let (_, before) = admin.get_json("/api/v1/reports").await.unwrap();

    let r = client(&["file", &node.base, "kupangkota.go.id", &key]);
    // Services and definitions as both libraries read them (JSON and XML agree).
    let codes = r["service_codes"].as_array().unwrap();
    assert!(!codes.is_empty());
    assert_eq!(r["xml_service_codes"], r["service_codes"]);
    assert_eq!(
        r["attribute_codes"],
        json!(["kind", "title", "anonymous", "confidential"])
    );
    assert_eq!(r["xml_attribute_codes"], r["attribute_codes"]);
    // civicbot filed it; the request id is the tracking code.
    let sid = r["created"][0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sid.starts_with("KPG-"), "{r}");
    assert_eq!(r["get_request"]["service_request_id"], sid.as_str());
    assert_eq!(r["get_request"]["status"], "open");
    assert_eq!(r["get_request"]["lat"], -10.1585);
    assert_eq!(r["list_by_id"][0]["service_request_id"], sid.as_str());
    assert!(r["list_open"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["service_request_id"] == sid.as_str()));
    // The errors the libraries saw: 403 for a bad key, 404 for an unknown request, in the spec's format.
    assert_eq!(r["bad_key"]["status"], 403, "{r}");
    assert_eq!(r["bad_key"]["body"][0]["code"], 403);
    assert_eq!(r["missing"]["status"], 404, "{r}");
    // georeport read the same request from XML.
    assert_eq!(r["xml_requests"][0]["service_request_id"], sid.as_str());
    assert_eq!(r["xml_request"]["service_request_id"], sid.as_str());
    assert_eq!(
        r["xml_request"]["address"],
        "Jl. Timor Raya, Oesapa, Kota Kupang"
    );
    assert!(r["xml_request"]["requested_datetime"]
        .as_str()
        .unwrap()
        .ends_with("+08:00"));
    assert!(r["json_requests_open"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["service_request_id"] == sid.as_str()));

    // At the node: exactly one report more (the bad key stored nothing), filed through Open311 with the
    // reporter's identity stored like every identity.
    let (_, after) = admin.get_json("/api/v1/reports").await.unwrap();
    assert_eq!(
        after["total"].as_i64().unwrap(),
        before["total"].as_i64().unwrap() + 1
    );
    let (_, view) = admin
        .get_json(&format!("/api/v1/reports/{sid}"))
        .await
        .unwrap();
    assert_eq!(view["channel"], "open311");
    assert_eq!(view["title"], "Jembatan rapuh di Oesapa");
    assert_eq!(view["reporter"]["name"], "Yohanes Tefa");
    assert_eq!(view["reporter"]["phone"], "+6281337001122");

    // The agency answers; the libraries see it in status_notes and as an update.
    let (st, body) = admin
        .post_json(
            "/api/v1/agencies",
            &json!({"id": "dinas-pupr", "name": "Dinas PUPR Kota Kupang", "kind": "office", "region_code": "53.71"}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{body}");
    let (st, body) = admin
        .post_json(
            &format!("/api/v1/reports/{sid}/verify"),
            &json!({"agency_id": "dinas-pupr"}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{body}");
    let (st, body) = admin
        .post_json(
            &format!("/api/v1/reports/{sid}/respond"),
            &json!({"note": "Jembatan sudah diperbaiki dan diberi pagar pengaman."}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{body}");
    let start = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let f = client(&["follow", &node.base, "kupangkota.go.id", &sid, &start]);
    let notes = f["get_request"]["status_notes"].as_str().unwrap();
    assert!(notes.starts_with("Ditindaklanjuti"), "{notes}");
    assert!(notes.contains("Jembatan sudah diperbaiki"), "{notes}");
    assert_eq!(
        f["get_request"]["agency_responsible"],
        "Dinas PUPR Kota Kupang"
    );
    assert_eq!(f["xml_request"]["status_notes"], notes);
    let updates = f["updates"].as_array().unwrap();
    assert!(
        updates
            .iter()
            .any(|u| u["service_request_id"] == sid.as_str()
                && u["external_status_code"] == "responded"
                && u["description"]
                    .as_str()
                    .unwrap()
                    .contains("Jembatan sudah diperbaiki")),
        "{f}"
    );
}
