#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::type_complexity
)]
//! Open311 GeoReport v2 conformance against a real `lapor` process over HTTP on 127.0.0.1: every endpoint in
//! `.json` and `.xml` (the XML parsed with a real XML parser and its element names compared with the
//! specification's), every error with the specification's status and `errors` document, API keys issued by
//! the CLI and the admin API, revoked and rate-limited per key, confidential reports invisible, identities
//! stored like every identity and never shown, and nothing stored for bad input.

use lapor_tests::{run_cli, Api, Node};
use serde_json::{json, Value};

const PASSWORD: &str = "kata-sandi-kota-1";

/// Element names of the specification, in its order.
const DISCOVERY: &[&str] = &["changeset", "contact", "key_service", "endpoints"];
const ENDPOINT: &[&str] = &["specification", "url", "changeset", "type", "formats"];
const SERVICE: &[&str] = &[
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
];
const DEFINITION: &[&str] = &["service_code", "attributes"];
const ATTRIBUTE: &[&str] = &[
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
];
const VALUE: &[&str] = &["key", "name"];
const CREATED: &[&str] = &["service_request_id", "service_notice", "account_id"];
const REQUEST: &[&str] = &[
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];
const TOKEN: &[&str] = &["service_request_id", "token"];
const ERROR: &[&str] = &["code", "description"];
const UPDATE: &[&str] = &[
    "update_id",
    "service_request_id",
    "status",
    "updated_datetime",
    "description",
    "media_url",
    "external_status_code",
];

struct Resp {
    status: u16,
    content_type: String,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/json"),
            "content type {} for {}",
            self.content_type,
            self.body
        );
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn xml(&self) -> roxmltree::Document<'_> {
        assert!(
            self.content_type.starts_with("text/xml"),
            "content type {} for {}",
            self.content_type,
            self.body
        );
        roxmltree::Document::parse(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(req: reqwest::RequestBuilder) -> Resp {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = r.text().await.expect("body");
    Resp {
        status,
        content_type,
        body,
    }
}

fn children<'a>(n: roxmltree::Node<'a, 'a>) -> Vec<roxmltree::Node<'a, 'a>> {
    n.children().filter(roxmltree::Node::is_element).collect()
}

fn names(n: roxmltree::Node<'_, '_>) -> Vec<String> {
    children(n)
        .iter()
        .map(|c| c.tag_name().name().to_owned())
        .collect()
}

fn child<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> roxmltree::Node<'a, 'a> {
    children(n)
        .into_iter()
        .find(|c| c.tag_name().name() == name)
        .unwrap_or_else(|| panic!("no <{name}> in <{}>", n.tag_name().name()))
}

fn text<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> &'a str {
    child(n, name).text().unwrap_or("")
}

fn keys_of(v: &Value) -> Vec<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// An error answer in JSON: status, the `errors` array of `{code, description}`, and each description.
fn assert_json_error(r: &Resp, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let j = r.json();
    let errs = j.as_array().unwrap_or_else(|| panic!("not an array: {j}"));
    assert!(!errs.is_empty());
    for e in errs {
        let mut k = keys_of(e);
        k.sort();
        assert_eq!(k, sorted(ERROR));
        assert_eq!(e["code"], status);
    }
    assert!(
        errs.iter()
            .any(|e| e["description"].as_str().unwrap().contains(needle)),
        "no description contains `{needle}`: {j}"
    );
}

fn assert_xml_error(r: &Resp, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "errors");
    let errs = children(root);
    assert!(!errs.is_empty());
    for e in &errs {
        assert_eq!(e.tag_name().name(), "error");
        assert_eq!(names(*e), ERROR);
        assert_eq!(text(*e, "code"), status.to_string());
    }
    assert!(
        errs.iter()
            .any(|e| text(*e, "description").contains(needle)),
        "no description contains `{needle}`: {}",
        r.body
    );
}

async fn bootstrap(node: &Node) -> Api {
    node.bootstrap_admin(PASSWORD).await.unwrap()
}

async fn report_total(admin: &Api) -> i64 {
    let (st, body) = admin.get_json("/api/v1/reports?limit=200").await.unwrap();
    assert!(st.is_success(), "{body}");
    body["total"].as_i64().unwrap()
}

/// A JPEG-shaped file with an Exif block carrying a GPS position (what the node must strip).
fn jpeg_with_exif() -> Vec<u8> {
    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        s.extend_from_slice(payload);
        s
    }
    let mut j = vec![0xFF, 0xD8];
    j.extend(segment(0xE0, b"JFIF\0\x01\x01"));
    j.extend(segment(0xE1, b"Exif\0\0GPSLatitude-10.17 Canon EOS"));
    j.extend(segment(0xDB, &[0u8; 65]));
    j.extend(segment(0xDA, &[1, 2, 3]));
    j.extend_from_slice(&[0x12, 0x34, 0xFF, 0xD9]);
    j
}

fn multipart(fields: &[(&str, &[u8])], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "lapor-open311-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    for (name, file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_conforms_in_json_and_xml() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        dir.path(),
        &[
            ("LAPOR_NODE__ID", "kupangkota"),
            ("LAPOR_NODE__CODE", "KPG"),
            ("LAPOR_NODE__NAME", "LAPOR! Kota Kupang"),
            ("LAPOR_NODE__TIMEZONE", "WITA"),
            ("LAPOR_OPEN311__JURISDICTION_ID", "kupangkota.go.id"),
            ("LAPOR_OPEN311__KEY_BURST", "40"),
            ("LAPOR_OPEN311__KEY_REFILL_MS", "600000"),
        ],
    )
    .unwrap();
    let base = format!("{}/open311/v2", node.base);
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}/{path}"));
    let admin = bootstrap(&node).await;

    // ---- API keys: the CLI issues one (printed once), the admin API another, which is then revoked.
    let (st, out, err) = run_cli(
        dir.path(),
        &[
            "open311",
            "keys",
            "add",
            "--app",
            "Aplikasi Warga Kupang",
            "--contact",
            "it@kupangkota.go.id",
        ],
        &[
            ("LAPOR_NODE__ID", "kupangkota"),
            ("LAPOR_NODE__CODE", "KPG"),
        ],
    )
    .unwrap();
    assert!(st.success(), "{out}{err}");
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("api_key:"))
        .expect("key printed")
        .trim()
        .to_owned();
    let (st, body) = admin
        .post_json("/api/v1/open311/keys", &json!({"app_name": "Dasbor Kota"}))
        .await
        .unwrap();
    assert_eq!(st.as_u16(), 201, "{body}");
    let revoked_key = body["api_key"].as_str().unwrap().to_owned();
    let revoked_id = body["id"].as_str().unwrap().to_owned();
    let (st, body) = admin
        .post_json("/api/v1/open311/keys", &json!({"app_name": "Pembanjir"}))
        .await
        .unwrap();
    assert_eq!(st.as_u16(), 201, "{body}");
    let flood_key = body["api_key"].as_str().unwrap().to_owned();
    let (st, body) = admin
        .post_json("/api/v1/open311/keys", &json!({"app_name": ""}))
        .await
        .unwrap();
    assert_eq!(st.as_u16(), 422, "{body}");
    let (st, body) = node
        .api()
        .post_json("/api/v1/open311/keys", &json!({"app_name": "x"}))
        .await
        .unwrap();
    assert_eq!(st.as_u16(), 401, "{body}");
    let (st, _) = admin
        .send_json(
            reqwest::Method::DELETE,
            &format!("/api/v1/open311/keys/{revoked_id}"),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(st.as_u16(), 204);
    let (st, body) = admin.get_json("/api/v1/open311/keys").await.unwrap();
    assert!(st.is_success());
    let listed = body.as_array().unwrap();
    assert_eq!(listed.len(), 3, "{body}");
    assert!(!body.to_string().contains(&key), "a key is never listed");
    assert!(listed
        .iter()
        .any(|k| k["id"] == revoked_id.as_str() && k["revoked_at"].is_string()));
    let (st, out, _) = run_cli(
        dir.path(),
        &["open311", "keys", "list"],
        &[
            ("LAPOR_NODE__ID", "kupangkota"),
            ("LAPOR_NODE__CODE", "KPG"),
        ],
    )
    .unwrap();
    assert!(st.success() && out.contains("Aplikasi Warga Kupang") && out.contains("revoked"));

    // ---- discovery
    let r = send(get("discovery.json")).await;
    assert_eq!(r.status, 200);
    let d = r.json();
    let mut k = keys_of(&d);
    k.sort();
    assert_eq!(k, sorted(DISCOVERY));
    let ep = &d["endpoints"][0];
    let mut k = keys_of(ep);
    k.sort();
    assert_eq!(k, sorted(ENDPOINT));
    assert_eq!(ep["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(ep["formats"], json!(["text/xml", "application/json"]));
    let r = send(get("discovery.xml")).await;
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "discovery");
    assert_eq!(names(root), DISCOVERY);
    let endpoint = child(child(root, "endpoints"), "endpoint");
    assert_eq!(names(endpoint), ENDPOINT);
    assert_eq!(names(child(endpoint, "formats")), ["format", "format"]);
    assert!(text(endpoint, "url").ends_with("/open311/v2"));

    // ---- services
    let r = send(get("services.json")).await;
    assert_eq!(r.status, 200);
    let services = r.json();
    let services = services.as_array().unwrap().clone();
    assert!(!services.is_empty());
    for s in &services {
        let mut k = keys_of(s);
        k.sort();
        assert_eq!(k, sorted(SERVICE));
        assert_eq!(s["metadata"], true);
        assert_eq!(s["type"], "realtime");
    }
    let code = services[0]["service_code"].as_str().unwrap().to_owned();
    let r = send(get("services.xml")).await;
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "services");
    assert_eq!(children(root).len(), services.len());
    for s in children(root) {
        assert_eq!(s.tag_name().name(), "service");
        assert_eq!(names(s), SERVICE);
    }
    assert_eq!(text(children(root)[0], "service_code"), code);

    // ---- service definitions
    let r = send(get(&format!("services/{code}.json"))).await;
    assert_eq!(r.status, 200);
    let def = r.json();
    let mut k = keys_of(&def);
    k.sort();
    assert_eq!(k, sorted(DEFINITION));
    let attrs = def["attributes"].as_array().unwrap();
    let codes: Vec<&str> = attrs.iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["kind", "title", "anonymous", "confidential"]);
    for (i, a) in attrs.iter().enumerate() {
        let mut k = keys_of(a);
        k.sort();
        assert_eq!(k, sorted(ATTRIBUTE));
        assert_eq!(a["order"], i + 1);
    }
    let r = send(get(&format!("services/{code}.xml"))).await;
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_definition");
    assert_eq!(names(root), DEFINITION);
    for a in children(child(root, "attributes")) {
        assert_eq!(a.tag_name().name(), "attribute");
        assert_eq!(names(a), ATTRIBUTE);
        for v in children(child(a, "values")) {
            assert_eq!(v.tag_name().name(), "value");
            assert_eq!(names(v), VALUE);
        }
    }
    assert_json_error(
        &send(get("services/tidak-ada.json")).await,
        404,
        "service_code",
    );
    assert_xml_error(
        &send(get("services/tidak-ada.xml")).await,
        404,
        "service_code",
    );

    // ---- POST requests: a full one in JSON, one with an address only (anonymous) in XML, a confidential one.
    let before = report_total(&admin).await;
    let post = |fmt: &str, form: Vec<(&str, String)>| {
        http.post(format!("{base}/requests.{fmt}")).form(&form)
    };
    let r = send(post(
        "json",
        vec![
            ("api_key", key.clone()),
            ("jurisdiction_id", "kupangkota.go.id".into()),
            ("service_code", code.clone()),
            ("lat", "-10.1772".into()),
            ("long", "123.6070".into()),
            ("address_string", "Jl. El Tari, Oebobo, Kota Kupang".into()),
            ("email", "maria.lende@example.id".into()),
            ("first_name", "Maria".into()),
            ("last_name", "Lende".into()),
            ("phone", "+6281234567890".into()),
            (
                "description",
                "Lampu jalan di depan kantor gubernur mati sejak seminggu.".into(),
            ),
            ("attribute[kind]", "complaint".into()),
            ("attribute[title]", "Lampu jalan mati di Jl. El Tari".into()),
        ],
    ))
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let created = r.json();
    let created = &created[0];
    let mut k = keys_of(created);
    k.sort();
    assert_eq!(k, sorted(CREATED));
    let full = created["service_request_id"].as_str().unwrap().to_owned();
    assert!(full.starts_with("KPG-"), "{full}");

    let r = send(post(
        "xml",
        vec![
            ("api_key", key.clone()),
            ("service_code", code.clone()),
            ("address_string", "Pasar Oeba, Kota Kupang".into()),
            ("email", "anonim@example.id".into()),
            ("first_name", "Tanpa".into()),
            (
                "description",
                "Saluran air di pasar tersumbat dan berbau sekali.".into(),
            ),
            ("attribute[anonymous]", "true".into()),
        ],
    ))
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_requests");
    let req = child(root, "request");
    assert_eq!(names(req), CREATED);
    let anon = text(req, "service_request_id").to_owned();

    let r = send(post(
        "json",
        vec![
            ("api_key", key.clone()),
            ("service_code", code.clone()),
            ("address_id", "53.71".into()),
            (
                "description",
                "Laporan rahasia tentang pungutan liar di kantor.".into(),
            ),
            ("attribute[confidential]", "true".into()),
        ],
    ))
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret_code = r.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A photo by multipart (the `media` extension): stored without its Exif block, media_url points at it.
    let photo = jpeg_with_exif();
    let (ct, body) = multipart(
        &[
            ("api_key", key.as_bytes()),
            ("service_code", code.as_bytes()),
            ("lat", b"-10.16"),
            ("long", b"123.58"),
            (
                "description",
                "Jalan berlubang besar di depan sekolah.".as_bytes(),
            ),
        ],
        &[("media", "jalan.jpg", &photo)],
    );
    let r = send(
        http.post(format!("{base}/requests.json"))
            .header("content-type", ct)
            .body(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let with_photo = r.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(report_total(&admin).await, before + 4);

    // Filed through Open311, routed and stored like any report; the identity is stored (staff see it), the
    // anonymous one has none.
    let (_, view) = admin
        .get_json(&format!("/api/v1/reports/{full}"))
        .await
        .unwrap();
    assert_eq!(view["channel"], "open311");
    assert_eq!(view["title"], "Lampu jalan mati di Jl. El Tari");
    assert_eq!(view["reporter"]["name"], "Maria Lende");
    assert_eq!(view["reporter"]["email"], "maria.lende@example.id");
    let report_id = view["id"].as_str().unwrap().to_owned();
    let (_, view) = admin
        .get_json(&format!("/api/v1/reports/{anon}"))
        .await
        .unwrap();
    assert_eq!(view["anonymous"], true);
    assert!(view["reporter"].is_null(), "{view}");
    let (_, view) = admin
        .get_json(&format!("/api/v1/reports/{secret_code}"))
        .await
        .unwrap();
    assert_eq!(view["confidential"], true);
    let secret_id = view["id"].as_str().unwrap().to_owned();

    // ---- GET requests/{id}
    let r = send(get(&format!("requests/{full}.json"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let one = r.json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    let one = &one[0];
    let mut k = keys_of(one);
    k.sort();
    assert_eq!(k, sorted(REQUEST));
    assert_eq!(one["service_request_id"], full.as_str());
    assert_eq!(one["status"], "open");
    assert!(one["status_notes"]
        .as_str()
        .unwrap()
        .starts_with("Belum terverifikasi"));
    assert_eq!(one["service_code"], code.as_str());
    assert_eq!(one["lat"], -10.1772);
    assert_eq!(one["long"], 123.607);
    assert!(
        one["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+08:00"),
        "WITA: {one}"
    );
    let requested =
        chrono::DateTime::parse_from_rfc3339(one["requested_datetime"].as_str().unwrap());
    assert!(requested.is_ok(), "RFC 3339: {one}");
    let expected = one["expected_datetime"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(expected).is_ok());
    assert_eq!(one["agency_responsible"], "LAPOR! Kota Kupang");
    assert!(
        !r.body.contains("maria") && !r.body.contains("6281234567890"),
        "no identity: {}",
        r.body
    );
    let r = send(get(&format!(
        "requests/{full}.xml?jurisdiction_id=kupangkota.go.id"
    )))
    .await;
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_requests");
    let req = child(root, "request");
    assert_eq!(names(req), REQUEST);
    assert_eq!(text(req, "status"), "open");
    assert_eq!(text(req, "address"), "Jl. El Tari, Oebobo, Kota Kupang");
    let r = send(get(&format!("requests/{with_photo}.json"))).await;
    let media = r.json()[0]["media_url"].as_str().unwrap().to_owned();
    assert!(
        media.contains(&format!("/track/{with_photo}/files/")),
        "{media}"
    );
    let stored = http.get(&media).send().await.unwrap();
    assert_eq!(stored.status().as_u16(), 200);
    assert_eq!(stored.headers()["content-type"], "image/jpeg");
    let stored = stored.bytes().await.unwrap();
    assert!(stored.windows(4).all(|w| w != b"Exif"), "Exif stripped");
    assert!(stored.ends_with(&[0x12, 0x34, 0xFF, 0xD9]));
    // Confidential: never looked up, in either format; unknown ids and jurisdictions are 404.
    assert_json_error(
        &send(get(&format!("requests/{secret_code}.json"))).await,
        404,
        &secret_code,
    );
    assert_xml_error(
        &send(get(&format!("requests/{secret_code}.xml"))).await,
        404,
        &secret_code,
    );
    assert_json_error(
        &send(get("requests/KPG-0000000000.json")).await,
        404,
        "not found",
    );
    assert_xml_error(
        &send(get(&format!(
            "requests/{full}.xml?jurisdiction_id=sfgov.org"
        )))
        .await,
        404,
        "jurisdiction_id",
    );

    // ---- tokens/{token}: the token is the report's id
    let r = send(get(&format!("tokens/{report_id}.json"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    let mut k = keys_of(&t[0]);
    k.sort();
    assert_eq!(k, sorted(TOKEN));
    assert_eq!(t[0]["service_request_id"], full.as_str());
    assert_eq!(t[0]["token"], report_id.as_str());
    let r = send(get(&format!("tokens/{report_id}.xml"))).await;
    let doc = r.xml();
    assert_eq!(doc.root_element().tag_name().name(), "service_requests");
    assert_eq!(names(child(doc.root_element(), "request")), TOKEN);
    assert_json_error(
        &send(get(&format!("tokens/{secret_id}.json"))).await,
        404,
        "token",
    );
    assert_xml_error(
        &send(get("tokens/kupangkota:01JUNKNOWN.xml")).await,
        404,
        "token",
    );

    // ---- GET requests: default window, every filter, and their errors
    let list = |q: &str| get(&format!("requests.json{q}"));
    let r = send(list("")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let all = r.json();
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "confidential never listed: {ids:?}");
    assert!(ids.contains(&full.as_str()) && ids.contains(&anon.as_str()));
    assert!(!ids.contains(&secret_code.as_str()));
    for r in all.as_array().unwrap() {
        let mut k = keys_of(r);
        k.sort();
        assert_eq!(k, sorted(REQUEST));
    }
    let r = send(get("requests.xml")).await;
    let doc = r.xml();
    assert_eq!(doc.root_element().tag_name().name(), "service_requests");
    assert_eq!(children(doc.root_element()).len(), 3);
    for req in children(doc.root_element()) {
        assert_eq!(names(req), REQUEST);
    }
    let r = send(list(&format!(
        "?service_request_id={full},{secret_code}&status=closed"
    )))
    .await;
    let got = r.json();
    assert_eq!(
        got.as_array().unwrap().len(),
        1,
        "ids override other filters: {got}"
    );
    assert_eq!(got[0]["service_request_id"], full.as_str());
    let r = send(list(&format!("?service_code={code}&status=open"))).await;
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    let r = send(list("?status=closed")).await;
    assert_eq!(r.json().as_array().unwrap().len(), 0);
    let r = send(list(
        "?start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z",
    ))
    .await;
    assert_eq!(r.json().as_array().unwrap().len(), 0);
    let now = chrono::Utc::now();
    let r = send(list(&format!(
        "?start_date={}&end_date={}",
        (now - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (now + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%S%%2B08:00")
    )))
    .await;
    assert_eq!(r.json().as_array().unwrap().len(), 3, "{}", r.body);
    assert_json_error(
        &send(list(
            "?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
        ))
        .await,
        400,
        "90",
    );
    assert_xml_error(
        &send(get(
            "requests.xml?start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
        ))
        .await,
        400,
        "start_date",
    );
    assert_json_error(&send(list("?start_date=kemarin")).await, 400, "start_date");
    assert_xml_error(
        &send(get("requests.xml?end_date=2026-12-01T10:00:00")).await,
        400,
        "end_date",
    );
    assert_json_error(&send(list("?status=pending")).await, 400, "status");
    assert_xml_error(
        &send(get("requests.xml?service_code=tidak-ada")).await,
        400,
        "service_code",
    );
    assert_json_error(
        &send(list("?jurisdiction_id=sfgov.org")).await,
        404,
        "jurisdiction_id",
    );

    // ---- POST errors: each answered with the specification's status; nothing is stored
    let total = report_total(&admin).await;
    let good = |extra: Vec<(&'static str, String)>, drop: &[&str]| -> Vec<(&'static str, String)> {
        let mut form: Vec<(&'static str, String)> = vec![
            ("api_key", key.clone()),
            ("service_code", code.clone()),
            ("lat", "-10.17".into()),
            ("long", "123.6".into()),
            (
                "description",
                "Jalan rusak parah di Kelurahan Oebobo.".into(),
            ),
        ];
        form.retain(|(k, _)| !drop.contains(k));
        form.extend(extra);
        form
    };
    let cases: Vec<(Vec<(&'static str, String)>, &[&str], u16, &str)> = vec![
        (vec![], &["api_key"], 403, "api_key"),
        (
            vec![("api_key", "o311k_salah".into())],
            &["api_key"],
            403,
            "api_key",
        ),
        (
            vec![("api_key", revoked_key.clone())],
            &["api_key"],
            403,
            "revoked",
        ),
        (vec![], &["service_code"], 400, "service_code"),
        (
            vec![("service_code", "tidak-ada".into())],
            &["service_code"],
            404,
            "service_code",
        ),
        (
            vec![("jurisdiction_id", "sfgov.org".into())],
            &[],
            404,
            "jurisdiction_id",
        ),
        (vec![], &["lat", "long"], 400, "location is required"),
        (vec![], &["long"], 400, "together"),
        (
            vec![("lat", "37.76".into()), ("long", "-122.42".into())],
            &["lat", "long"],
            400,
            "outside Indonesia",
        ),
        (vec![("lat", "utara".into())], &["lat"], 400, "numbers"),
        (vec![], &["description"], 400, "description is required"),
        (
            vec![("description", "x".repeat(4001))],
            &["description"],
            400,
            "4000",
        ),
        (
            vec![("description", "<b>Jalan</b> rusak di depan pasar".into())],
            &["description"],
            400,
            "HTML",
        ),
        (
            vec![("description", "rusak".into())],
            &["description"],
            400,
            "description",
        ),
        (vec![("email", "bukan-email".into())], &[], 400, "email"),
        (vec![("phone", "telepon saya".into())], &[], 400, "phone"),
        (
            vec![("media_url", "javascript:alert(1)".into())],
            &[],
            400,
            "media_url",
        ),
        (
            vec![("attribute[warna]", "merah".into())],
            &[],
            400,
            "attribute[warna]",
        ),
        (
            vec![("attribute[kind]", "pujian".into())],
            &[],
            400,
            "attribute[kind]",
        ),
        (
            vec![("attribute[anonymous]", "mungkin".into())],
            &[],
            400,
            "true or false",
        ),
        (
            vec![("address_id", "kupang".into())],
            &[],
            400,
            "address_id",
        ),
        (
            vec![("service_code", code.clone())],
            &[],
            400,
            "more than once",
        ),
        (
            vec![("attribute[title]", "abc".into())],
            &[],
            400,
            "attribute[title]",
        ),
    ];
    for (i, (extra, drop, status, needle)) in cases.into_iter().enumerate() {
        let form = good(extra, drop);
        let fmt = if i % 2 == 0 { "json" } else { "xml" };
        let r = send(http.post(format!("{base}/requests.{fmt}")).form(&form)).await;
        if fmt == "json" {
            assert_json_error(&r, status, needle);
        } else {
            assert_xml_error(&r, status, needle);
        }
    }
    // Several problems are answered together.
    let r = send(http.post(format!("{base}/requests.json")).form(&good(
        vec![("email", "x".into()), ("attribute[x]", "1".into())],
        &["lat", "long"],
    )))
    .await;
    assert_json_error(&r, 400, "location is required");
    assert_json_error(&r, 400, "attribute[x]");
    assert!(r.json().as_array().unwrap().len() >= 2, "{}", r.body);
    // Not a form, not UTF-8, a refused file.
    let r = send(
        http.post(format!("{base}/requests.json"))
            .json(&json!({"api_key": key, "service_code": code})),
    )
    .await;
    assert_json_error(&r, 400, "x-www-form-urlencoded");
    let r = send(
        http.post(format!("{base}/requests.xml"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("api_key={key}&service_code={code}&lat=-10.17&long=123.6&description=Jalan%FF%FE%20rusak%20sekali")),
    )
    .await;
    assert_xml_error(&r, 400, "UTF-8");
    let (ct, body) = multipart(
        &[
            ("api_key", key.as_bytes()),
            ("service_code", code.as_bytes()),
            ("lat", b"-10.16"),
            ("long", b"123.58"),
            ("description", b"Jalan berlubang \xff\xfe di depan sekolah."),
        ],
        &[],
    );
    let r = send(
        http.post(format!("{base}/requests.json"))
            .header("content-type", ct)
            .body(body),
    )
    .await;
    assert_json_error(&r, 400, "UTF-8");
    let (ct, body) = multipart(
        &[
            ("api_key", key.as_bytes()),
            ("service_code", code.as_bytes()),
            ("lat", b"-10.16"),
            ("long", b"123.58"),
            (
                "description",
                "Jalan berlubang besar di depan sekolah.".as_bytes(),
            ),
        ],
        &[("media", "foto.jpg", b"<html>bukan foto</html>")],
    );
    let r = send(
        http.post(format!("{base}/requests.json"))
            .header("content-type", ct)
            .body(body),
    )
    .await;
    assert_json_error(&r, 400, "file type not accepted");
    assert_eq!(
        report_total(&admin).await,
        total,
        "nothing stored for bad input"
    );

    // ---- formats, resources and methods
    assert_xml_error(&send(get("services.yaml")).await, 400, ".xml or .json");
    assert_xml_error(&send(get("services")).await, 400, ".xml or .json");
    assert_json_error(&send(get("nothing.json")).await, 404, "nothing");
    assert_xml_error(&send(get("a/b/c.xml")).await, 404, "a/b/c.xml");
    assert_json_error(
        &send(http.post(format!("{base}/services.json"))).await,
        405,
        "POST",
    );

    // ---- follow-up: the agency's answer in status_notes and in servicerequestupdates; closed after archive
    let (st, body) = admin
        .post_json(
            "/api/v1/agencies",
            &json!({"id": "dinas-pupr", "name": "Dinas PUPR Kota Kupang", "kind": "office", "region_code": "53.71"}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{body}");
    for (c, note) in [
        (&full, "Lampu sudah diganti oleh petugas PLN."),
        (&secret_code, "Rahasia: pegawai sudah diperiksa."),
    ] {
        let (st, body) = admin
            .post_json(
                &format!("/api/v1/reports/{c}/verify"),
                &json!({"agency_id": "dinas-pupr", "note": "catatan internal admin"}),
            )
            .await
            .unwrap();
        assert!(st.is_success(), "{body}");
        let (st, body) = admin
            .post_json(
                &format!("/api/v1/reports/{c}/respond"),
                &json!({"note": note}),
            )
            .await
            .unwrap();
        assert!(st.is_success(), "{body}");
    }
    let (st, body) = admin
        .post_json(
            &format!("/api/v1/reports/{anon}/archive"),
            &json!({"reason": "invalid", "note": "bukan layanan publik"}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{body}");
    let r = send(get(&format!("requests/{full}.json"))).await;
    let one = r.json();
    let notes = one[0]["status_notes"].as_str().unwrap();
    assert!(notes.starts_with("Ditindaklanjuti"), "{notes}");
    assert!(
        notes.contains("Lampu sudah diganti oleh petugas PLN."),
        "{notes}"
    );
    assert_eq!(one[0]["agency_responsible"], "Dinas PUPR Kota Kupang");
    assert_eq!(one[0]["status"], "open");
    let r = send(get(&format!("requests/{anon}.xml"))).await;
    let doc = r.xml();
    assert_eq!(
        text(child(doc.root_element(), "request"), "status"),
        "closed"
    );
    let r = send(get(&format!("requests.json?service_request_id={anon}"))).await;
    assert_eq!(r.json()[0]["status"], "closed");
    let r = send(get("requests.json?status=closed")).await;
    assert_eq!(
        r.json().as_array().unwrap().len(),
        0,
        "archived reports are not listed"
    );

    let r = send(get("servicerequestupdates.json")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let updates = r.json();
    let updates = updates.as_array().unwrap();
    for u in updates {
        let mut k = keys_of(u);
        k.sort();
        assert_eq!(k, sorted(UPDATE));
        assert_ne!(
            u["service_request_id"],
            secret_code.as_str(),
            "confidential: {u}"
        );
    }
    assert!(
        !r.body.contains("Rahasia") && !r.body.contains("catatan internal"),
        "{}",
        r.body
    );
    let followup = updates
        .iter()
        .find(|u| {
            u["description"]
                .as_str()
                .unwrap()
                .contains("Lampu sudah diganti")
        })
        .expect("the follow-up is an update");
    assert_eq!(followup["service_request_id"], full.as_str());
    assert_eq!(followup["external_status_code"], "responded");
    assert!(updates
        .iter()
        .any(|u| u["service_request_id"] == anon.as_str() && u["status"] == "closed"));
    let r = send(get(
        "servicerequestupdates.xml?start_date=2026-01-01&end_date=2026-03-01",
    ))
    .await;
    let doc = r.xml();
    assert_eq!(
        doc.root_element().tag_name().name(),
        "service_request_updates"
    );
    let r = send(get("servicerequestupdates.xml")).await;
    let doc = r.xml();
    let items = children(doc.root_element());
    assert_eq!(items.len(), updates.len());
    for u in items {
        assert_eq!(u.tag_name().name(), "request_update");
        assert_eq!(names(u), UPDATE);
    }
    assert_json_error(
        &send(get("servicerequestupdates.json?start_date=2025-01-01T00:00:00Z&end_date=2026-01-01T00:00:00Z")).await,
        400,
        "90",
    );

    // ---- rate limit per key: a key that keeps posting is refused with 429 (others are not affected)
    let mut limited = None;
    for i in 0..45 {
        let r = send(
            http.post(format!("{base}/requests.json"))
                .form(&[("api_key", flood_key.as_str()), ("service_code", "")]),
        )
        .await;
        if r.status == 429 {
            limited = Some(i);
            assert_json_error(&r, 429, "api_key");
            break;
        }
        assert_eq!(r.status, 400);
    }
    assert_eq!(
        limited,
        Some(40),
        "the 41st request of a 40-request burst is refused"
    );
    let r = send(get(&format!("requests/{full}.json"))).await;
    assert_eq!(r.status, 200);
    let r = send(
        http.post(format!("{base}/requests.json"))
            .form(&good(vec![], &[])),
    )
    .await;
    assert_eq!(r.status, 200, "another key keeps its budget: {}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_endpoint_answers_404_in_the_error_format() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &[("LAPOR_OPEN311__ENABLED", "false")]).unwrap();
    let http = reqwest::Client::new();
    let r = send(http.get(format!("{}/open311/v2/services.json", node.base))).await;
    assert_json_error(&r, 404, "not enabled");
    let r = send(http.get(format!("{}/open311/v2/discovery.xml", node.base))).await;
    assert_xml_error(&r, 404, "not enabled");
}

/// "No wrong door" through Open311: a request filed on Kalimantan Timur's node about Kupang (its `address_id` is
/// Kupang's region code) is routed to Kupang through the hub like any report, and its `service_request_id` (the
/// tracking code) answers `GET requests/{id}` on every node and at the hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_routed_and_found_on_every_node_and_the_hub() {
    use lapor_tests::cluster::Cluster;
    let c = Cluster::start_with(
        &[("kupangkota", "KPG", "53.71"), ("kaltim", "KTM", "64.72")],
        &[],
    )
    .await
    .unwrap();
    let out = c
        .member("kaltim")
        .cli(&["open311", "keys", "add", "--app", "Aplikasi Nasional"])
        .unwrap();
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("api_key:"))
        .unwrap()
        .trim()
        .to_owned();
    let http = reqwest::Client::new();
    let r = send(
        http.post(format!(
            "{}/open311/v2/requests.json",
            c.member("kaltim").base()
        ))
        .form(&[
            ("api_key", key.as_str()),
            ("service_code", "infrastruktur"),
            ("address_id", "53.71"),
            ("address_string", "Jl. Soeharto, Kota Kupang"),
            (
                "description",
                "Jembatan penghubung di Kupang retak dan berbahaya.",
            ),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let code = r.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(code.starts_with("KTM-"), "filed where it came in: {code}");
    let kupang = c.member("kupangkota").admin().unwrap();
    lapor_tests::wait_for(
        &format!("{code} owned by kupangkota"),
        std::time::Duration::from_secs(60),
        std::time::Duration::from_millis(200),
        || {
            let kupang = kupang.clone();
            let code = code.clone();
            async move {
                let (st, v) = kupang.get_json(&format!("/api/v1/reports/{code}")).await?;
                Ok((st.is_success()
                    && v["owner_node"] == "kupangkota"
                    && v["channel"] == "open311")
                    .then_some(v))
            }
        },
    )
    .await
    .unwrap();
    for m in [c.hub(), c.member("kupangkota"), c.member("kaltim")] {
        let r = send(http.get(format!("{}/open311/v2/requests/{code}.xml", m.base()))).await;
        assert_eq!(r.status, 200, "{} on {}", r.body, m.base());
        let doc = r.xml();
        let req = child(doc.root_element(), "request");
        assert_eq!(names(req), REQUEST);
        assert_eq!(text(req, "service_request_id"), code);
        assert_eq!(text(req, "address_id"), "53.71");
        assert!(text(req, "requested_datetime").ends_with("+08:00"));
    }
    let r = send(http.get(format!(
        "{}/open311/v2/requests.json?service_request_id={code}",
        c.hub().base()
    )))
    .await;
    assert_eq!(
        r.json().as_array().unwrap().len(),
        1,
        "the hub lists it: {}",
        r.body
    );
}
