//! The web interface in a real browser: starts the `lapor` binary, prepares accounts and agencies through the
//! JSON API, then runs `tests/e2e/flow.mjs` and `tests/e2e/citizen.mjs` (playwright-core driving Debian's
//! headless Chromium; axe-core for the accessibility checks).
//!
//! Needs `/usr/bin/chromium` (`apt-get install chromium`) and Node.js with npm; `npm ci` is run in
//! `tests/e2e` when its `node_modules` is missing. Set `LAPOR_SCREENSHOTS=1` to rewrite the screenshots in
//! `docs/screenshots/`.

// The whole file is test code: a failed `expect` is a failed test.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use lapor_tests::Node;
use serde_json::{json, Value};

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e")
}

fn prepare_tools() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium at /usr/bin/chromium: run `apt-get install chromium` (Debian)"
    );
    let dir = e2e_dir();
    let modules = dir.join("node_modules");
    if !modules.join("playwright-core").exists() || !modules.join("axe-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect(
                "running `npm ci` in tests/e2e (is npm installed? `apt-get install nodejs npm`)",
            );
        assert!(status.success(), "`npm ci` failed in tests/e2e");
    }
}

fn bootstrap_secret(output: &str) -> String {
    let start = output
        .find("\"secret\":\"")
        .expect("the node printed a bootstrap secret")
        + "\"secret\":\"".len();
    output[start..]
        .split('"')
        .next()
        .expect("secret ends with a quote")
        .to_owned()
}

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut req = client.post(&url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let value: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {value}");
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizen_and_officer_flows_in_chromium() {
    prepare_tools();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(
        dir.path(),
        &[
            ("LAPOR_NODE__CODE", "KPG"),
            ("LAPOR_NODE__ID", "kupangkota"),
            ("LAPOR_NODE__NAME", "Kota Kupang"),
            ("LAPOR_NODE__TIMEZONE", "WITA"),
        ],
    )
    .expect("start node");
    let api = format!("{}/api/v1", node.base);
    let client = reqwest::Client::new();

    let secret = bootstrap_secret(&node.output());
    post(
        &client,
        format!("{api}/auth/bootstrap"),
        None,
        json!({"secret": secret, "username": "admin", "password": "sandi-kota-kupang", "display_name": "Admin Kota"}),
    )
    .await;
    let admin = post(
        &client,
        format!("{api}/auth/login"),
        None,
        json!({"username": "admin", "password": "sandi-kota-kupang"}),
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    post(
        &client,
        format!("{api}/agencies"),
        Some(&admin),
        json!({"id": "pemkot-kupang", "name": "Pemerintah Kota Kupang", "kind": "city", "region_code": "53.71"}),
    )
    .await;
    post(
        &client,
        format!("{api}/agencies"),
        Some(&admin),
        json!({"id": "dinas-pupr", "parent_id": "pemkot-kupang", "name": "Dinas PUPR Kota Kupang", "kind": "office"}),
    )
    .await;
    post(
        &client,
        format!("{api}/users"),
        Some(&admin),
        json!({"username": "petugas.pupr", "password": "sandi-petugas-1", "display_name": "Petugas PUPR",
               "role": "agency_officer", "agency_id": "dinas-pupr"}),
    )
    .await;

    let result = run_script("flow.mjs", &node.base, "sandi-kota-kupang").await;

    // Cross-check through the JSON API what the browser saw.
    let main: Value = client
        .get(format!(
            "{api}/reports/{}",
            result["main"].as_str().expect("main")
        ))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(main["status"], "completed");
    assert_eq!(main["rating"]["score"], 5);
    assert!(
        main["location"]["lat"].is_number(),
        "the map pin was stored"
    );
    let public: Value = client
        .get(format!("{api}/reports?limit=200"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let confidential = result["confidential"].as_str().expect("confidential");
    assert!(public["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|r| r["tracking_code"] != confidential));

    // Every stored attachment is free of Exif and of the test camera's name.
    let mut files = 0;
    for entry in walk(&dir.path().join("attachments")) {
        let bytes = std::fs::read(&entry).expect("read attachment");
        assert!(!contains(&bytes, b"Exif"), "{}", entry.display());
        assert!(!contains(&bytes, b"LaporTestCam"), "{}", entry.display());
        files += 1;
    }
    assert!(files >= 2, "two photos were stored, found {files}");
}

/// Runs `tests/e2e/<script>` against `base` with the accounts every flow uses (admin with `admin_pass`,
/// `petugas.pupr` of `dinas-pupr`) and answers its `RESULT` line. `LAPOR_SCREENSHOTS=1` passes the screenshot
/// directory.
async fn run_script(script: &'static str, base: &str, admin_pass: &'static str) -> Value {
    let screenshots = std::env::var("LAPOR_SCREENSHOTS").is_ok_and(|v| v == "1");
    let shots_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    if screenshots {
        std::fs::create_dir_all(&shots_dir).expect("screenshot dir");
    }
    let output = tokio::task::spawn_blocking({
        let base = base.to_owned();
        move || {
            let mut cmd = Command::new("node");
            cmd.arg(script)
                .current_dir(e2e_dir())
                .env("LAPOR_BASE", base)
                .env("ADMIN_USER", "admin")
                .env("ADMIN_PASS", admin_pass)
                .env("OFFICER_USER", "petugas.pupr")
                .env("OFFICER_PASS", "sandi-petugas-1")
                .env("AGENCY_ID", "dinas-pupr");
            if screenshots {
                cmd.env("SCREENSHOT_DIR", &shots_dir);
            }
            cmd.output().expect("running node (is Node.js installed?)")
        }
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser flow {script} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    println!("{stdout}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).expect("result JSON"))
        .expect("the flow printed its RESULT line")
}

/// Issue 18, the citizen's half: every page passes axe-core (WCAG 2.2 A/AA) at 390 and 1280 px and weighs
/// under 30 KB of HTML and CSS; the map opens on the node's area; a reply carries a photo, shown to the public
/// as a display version of at most 1280 px; the report form's draft survives a dropped connection; an
/// anonymous report's pin is rounded for the public (web, JSON API, Open311) and exact for the node's staff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "unfinished (issue 18): the last run passed axe-core and the 30 KB budget on the first pages, then \
            found no data-bounds on the report form's map; run with --ignored"]
async fn citizen_pages_light_and_accessible_in_chromium() {
    prepare_tools();
    let dir = tempfile::tempdir().expect("tempdir");
    let boundaries = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/boundaries/sample-ntt-kaltim.geojson");
    let boundaries = boundaries.to_str().expect("utf-8 path").to_owned();
    let node = Node::start(
        dir.path(),
        &[
            ("LAPOR_NODE__CODE", "KPG"),
            ("LAPOR_NODE__ID", "kupangkota"),
            ("LAPOR_NODE__NAME", "Kota Kupang"),
            ("LAPOR_NODE__TIMEZONE", "WITA"),
            ("LAPOR_NODE__REGION_CODES", "[\"53.71\"]"),
            ("LAPOR_ROUTING__BOUNDARIES_FILE", &boundaries),
        ],
    )
    .expect("start node");
    let admin = node
        .bootstrap_admin("sandi-kota-kupang-18")
        .await
        .expect("bootstrap");
    for (path, body) in [
        (
            "/api/v1/agencies",
            json!({"id": "pemkot-kupang", "name": "Pemerintah Kota Kupang", "kind": "city", "region_code": "53.71"}),
        ),
        (
            "/api/v1/agencies",
            json!({"id": "dinas-pupr", "parent_id": "pemkot-kupang", "name": "Dinas PUPR Kota Kupang", "kind": "office"}),
        ),
        (
            "/api/v1/users",
            json!({"username": "petugas.pupr", "password": "sandi-petugas-1", "display_name": "Petugas PUPR",
                   "role": "agency_officer", "agency_id": "dinas-pupr"}),
        ),
    ] {
        let (st, v) = admin.post_json(path, &body).await.expect("setup request");
        assert!(st.is_success(), "{path}: {st} {v}");
    }

    let result = run_script("citizen.mjs", &node.base, "sandi-kota-kupang-18").await;

    // The anonymous report's pin is rounded in the public JSON API and Open311, exact for the node's admin.
    let anon = result["anonymous"].as_str().expect("anonymous code");
    let public = node.api();
    let (st, v) = public
        .get_json(&format!("/api/v1/reports/{anon}"))
        .await
        .expect("get");
    assert!(st.is_success(), "{st} {v}");
    assert_eq!(v["location"]["lat"], json!(-10.163));
    assert_eq!(v["location"]["lon"], json!(123.622));
    let (st, v) = admin
        .get_json(&format!("/api/v1/reports/{anon}"))
        .await
        .expect("get");
    assert!(st.is_success(), "{st} {v}");
    assert_eq!(v["location"]["lat"], json!(-10.163_251));
    assert_eq!(v["location"]["lon"], json!(123.621_749));
    let (st, v) = public
        .get_json(&format!("/open311/v2/requests/{anon}.json"))
        .await
        .expect("open311");
    assert!(st.is_success(), "{st} {v}");
    assert_eq!(v[0]["lat"], json!(-10.163), "{v}");
    assert_eq!(v[0]["long"], json!(123.622), "{v}");
    assert!(
        v[0]["requested_datetime"]
            .as_str()
            .is_some_and(|t| t.ends_with("+08:00")),
        "Open311 times in the owner's zone (WITA): {v}"
    );

    // The report kept offline went out with its photo once the connection was back.
    let drafted = result["drafted"].as_str().expect("drafted code");
    let (st, v) = admin
        .get_json(&format!("/api/v1/reports/{drafted}/files"))
        .await
        .expect("files");
    assert!(st.is_success(), "{st} {v}");
    assert_eq!(
        v.as_array().map(Vec::len),
        Some(1),
        "the drafted report kept its photo: {v}"
    );

    // The reply's photo: the original is stored whole; its display version lives apart, at most 1280 px.
    let shown: Vec<PathBuf> = walk(&dir.path().join("display"));
    assert_eq!(shown.len(), 1, "one display version: {shown:?}");
    let pages = result["pages"].as_array().expect("pages");
    assert!(pages.len() >= 20, "every page was checked: {}", pages.len());
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
