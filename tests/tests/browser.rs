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

/// Runs `tests/e2e/console.mjs` with `env` (and `SCREENSHOT_DIR` when `LAPOR_SCREENSHOTS=1`) and returns
/// its `RESULT` line.
async fn run_console_flow(env: Vec<(String, String)>) -> Value {
    prepare_tools();
    let screenshots = std::env::var("LAPOR_SCREENSHOTS").is_ok_and(|v| v == "1");
    let shots_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    let output = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("node");
        cmd.arg("console.mjs").current_dir(e2e_dir()).envs(env);
        if screenshots {
            std::fs::create_dir_all(&shots_dir).expect("screenshot dir");
            cmd.env("SCREENSHOT_DIR", &shots_dir);
        }
        cmd.output().expect("running node (is Node.js installed?)")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "console flow failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).expect("result JSON"))
        .expect("the flow printed its RESULT line")
}

fn envs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn api_ok(api: &lapor_tests::Api, path: &str, body: &Value) -> Value {
    let (st, v) = api.post_json(path, body).await.expect("request");
    assert!(st.is_success(), "{path}: {st} {v}");
    v
}

async fn file_verified(api: &lapor_tests::Api, title: &str, agency: &str) -> (String, String) {
    let v = api_ok(
        &lapor_tests::Api::new(api.base()),
        "/api/v1/reports",
        &json!({"kind": "complaint", "title": title,
            "body": "Sudah lebih dari dua bulan belum ada tindak lanjut dari instansi terkait.",
            "region_code": "53.71",
            "reporter": {"name": "Agustina Bana", "phone": "081339007788", "email": "agustina@example.org"}}),
    )
    .await;
    let code = v["tracking_code"].as_str().expect("code").to_owned();
    let secret = v["tracking_secret"].as_str().expect("secret").to_owned();
    api_ok(
        api,
        &format!("/api/v1/reports/{code}/verify"),
        &json!({"agency_id": agency}),
    )
    .await;
    (code, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_transfers_a_report_to_another_node_in_chromium() {
    use lapor_tests::cluster::{Cluster, PASSWORD};
    let cluster = Cluster::start_with(
        &[
            ("kupangkota", "KPG", "53.71"),
            ("kabkupang", "KKP", "53.01"),
        ],
        &[],
    )
    .await
    .expect("cluster");
    let src = cluster.member("kupangkota");
    let dst = cluster.member("kabkupang");
    let dst_admin = dst.admin().expect("admin");
    api_ok(
        &dst_admin,
        "/api/v1/agencies",
        &json!({"id": "dinas-pupr-kab", "name": "Dinas PUPR Kabupaten Kupang", "kind": "office", "region_code": "53.01"}),
    )
    .await;
    api_ok(
        &dst_admin,
        "/api/v1/users",
        &json!({"username": "petugas.kab", "password": "sandi-petugas-kab-1", "display_name": "Petugas PUPR Kab",
                "role": "agency_officer", "agency_id": "dinas-pupr-kab"}),
    )
    .await;
    // Two more reports wait at the target for the bulk verification.
    let mut bulk = Vec::new();
    for title in [
        "Saluran air tersumbat di Oesao",
        "Lampu jalan mati di Baumata",
    ] {
        let v = api_ok(
            &dst.api(),
            "/api/v1/reports",
            &json!({"kind": "complaint", "title": title,
                "body": "Sudah seminggu belum ada perbaikan dari dinas terkait di wilayah ini.", "region_code": "53.01"}),
        )
        .await;
        bulk.push(v["tracking_code"].as_str().expect("code").to_owned());
    }
    let result = run_console_flow(envs(&[
        ("SCENARIO", "transfer"),
        ("SRC_BASE", &src.base()),
        ("DST_BASE", &dst.base()),
        ("DST_NODE", "kabkupang"),
        ("DST_AGENCY", "dinas-pupr-kab"),
        ("DST_OFFICER", "petugas.kab"),
        ("DST_OFFICER_PASS", "sandi-petugas-kab-1"),
        ("ADMIN_PASS", PASSWORD),
        ("BULK_CODES", &bulk.join(",")),
    ]))
    .await;
    let code = result["transferred"].as_str().expect("code");

    // What the browser saw, through the JSON API: the target owns it at epoch 1, dispositioned by the bulk
    // action; the source names the target as owner.
    let (_, at_dst) = dst_admin
        .get_json(&format!("/api/v1/reports/{code}"))
        .await
        .expect("get");
    assert_eq!(at_dst["owner_node"], "kabkupang", "{at_dst}");
    assert_eq!(at_dst["epoch"], 1);
    assert_eq!(at_dst["status"], "verified");
    assert_eq!(at_dst["agency_id"], "dinas-pupr-kab");
    let (_, at_src) = src
        .admin()
        .expect("admin")
        .get_json(&format!("/api/v1/reports/{code}"))
        .await
        .expect("get");
    assert_eq!(at_src["owner_node"], "kabkupang", "{at_src}");
    assert_eq!(at_src["transfer"]["state"], "committed");
    for c in &bulk {
        let (_, v) = dst_admin
            .get_json(&format!("/api/v1/reports/{c}"))
            .await
            .expect("get");
        assert_eq!(v["status"], "verified", "{c}: {v}");
    }
    // The photo and the reporter's contact reach the new owner only with the handover of attachments and
    // identity (issue 12, built separately); until then the browser records what arrived.
    eprintln!(
        "at the target: photo {} / {}, contact {} / {}",
        result["target_photo"],
        result["officer_photo"],
        result["target_contact"],
        result["officer_contact"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ombudsman_escalation_with_and_without_consent_in_chromium() {
    use lapor_tests::cluster::{Cluster, PASSWORD};
    let cluster = Cluster::start_roles(
        &[
            ("kupangkota", "KPG", "53.71", "regional"),
            ("ombudsman", "ORI", "", "ombudsman"),
        ],
        &[],
    )
    .await
    .expect("cluster");
    let reg = cluster.member("kupangkota");
    let omb = cluster.member("ombudsman");
    let admin = reg.admin().expect("admin");
    api_ok(
        &admin,
        "/api/v1/agencies",
        &json!({"id": "dinas-pupr", "name": "Dinas PUPR Kota Kupang", "kind": "office", "region_code": "53.71"}),
    )
    .await;
    let (code_a, secret_a) = file_verified(&admin, "Drainase meluap di Oepura", "dinas-pupr").await;
    let (code_b, secret_b) =
        file_verified(&admin, "Trotoar rusak di Jl. Timor Raya", "dinas-pupr").await;
    run_console_flow(envs(&[
        ("SCENARIO", "ombudsman"),
        ("REG_BASE", &reg.base()),
        ("OMB_BASE", &omb.base()),
        ("HUB_BASE", &cluster.hub().base()),
        ("OMB_NODE", "ombudsman"),
        ("ADMIN_PASS", PASSWORD),
        ("CODE_A", &code_a),
        ("SECRET_A", &secret_a),
        ("CODE_B", &code_b),
        ("SECRET_B", &secret_b),
    ]))
    .await;

    let actions = |v: &Value| -> Vec<String> {
        v["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .map(|e| e["action"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    // A: consented, moved by the normal transfer (reason ombudsman) to the Ombudsman node, which owns it.
    let (_, a) = omb
        .admin()
        .expect("admin")
        .get_json(&format!("/api/v1/reports/{code_a}"))
        .await
        .expect("get");
    assert_eq!(a["owner_node"], "ombudsman", "{a}");
    assert_eq!(a["epoch"], 1);
    assert_eq!(a["status"], "submitted");
    assert_eq!(a["transfer"]["reason"], "ombudsman");
    let a_actions = actions(&a);
    for want in ["escalated", "ombudsman_consented", "transferred"] {
        assert!(a_actions.iter().any(|x| x == want), "{want}: {a_actions:?}");
    }
    // B: declined, stays with the region, the refusal recorded as a signed lifecycle event.
    let (_, b) = admin
        .get_json(&format!("/api/v1/reports/{code_b}"))
        .await
        .expect("get");
    assert_eq!(b["owner_node"], "kupangkota", "{b}");
    assert_eq!(b["epoch"], 0);
    assert_eq!(b["status"], "verified");
    assert!(b.get("transfer").is_none(), "{b}");
    let b_actions = actions(&b);
    assert!(
        b_actions.ends_with(&["escalated".to_owned(), "ombudsman_declined".to_owned()]),
        "{b_actions:?}"
    );
    // The hub holds the refusal too.
    let hub_admin = cluster.hub().admin().expect("admin");
    lapor_tests::wait_for(
        "the hub to hold the refusal",
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(200),
        || {
            let hub_admin = hub_admin.clone();
            let code_b = code_b.clone();
            async move {
                let (_, v) = hub_admin
                    .get_json(&format!("/api/v1/reports/{code_b}"))
                    .await?;
                Ok(v["timeline"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|e| e["action"] == "ombudsman_declined"))
                    .then_some(()))
            }
        },
    )
    .await
    .expect("hub");
}
