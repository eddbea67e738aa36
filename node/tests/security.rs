#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::many_single_char_names
)]
//! Security of a node (issue 17), in-process on both backends: the append-only audit log (what is recorded,
//! who may read it, the CSV export), the password policy, sessions ended on a password change, the idle
//! timeout, `Cache-Control: no-store`, HSTS only behind HTTPS, `/metrics` access, and the assisted-intake
//! page offered only to the roles that may use it.

mod support;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use support::{TestApp, HOUR};
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// One request with any headers, optionally from a TCP peer (as `into_make_service_with_connect_info` gives).
async fn send(
    t: &TestApp,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    peer: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    if let Some(p) = peer {
        let addr: SocketAddr = p.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    let resp = lapor_node::http::router(t.app.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A session token (not the year-long API token `TestApp::login` trades it for).
async fn session(t: &TestApp, username: &str, password: &str) -> String {
    let r = t
        .req(
            "POST",
            "/api/v1/auth/login",
            None,
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["token"].as_str().unwrap().to_owned()
}

async fn audit(t: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = t
        .req(
            "GET",
            &format!("/api/v1/audit{query}"),
            Some(token),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

fn actions(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_log_records_and_serves(t: TestApp) {
    let admin = t.admin().await;
    t.agency(&admin, "dinas-pupr", None, "office").await;
    let officer = t
        .user(&admin, "petugas", "agency_officer", Some("dinas-pupr"))
        .await;
    let auditor = t.user(&admin, "inspektorat", "auditor", None).await;
    let operator = t.user(&admin, "operator", "node_operator", None).await;
    let executive = t
        .user(&admin, "kepala", "executive", Some("dinas-pupr"))
        .await;

    // A citizen files with a name and phone, from an address the proxy names.
    let filed = send(
        &t,
        "POST",
        "/api/v1/reports",
        &[("x-forwarded-for", "203.0.113.9")],
        None,
        Some(
            json!({"kind": "complaint", "title": "Jalan berlubang di Oebobo",
            "body": "Lubang besar di depan sekolah, berbahaya bagi anak-anak.",
            "reporter": {"name": "Yohanes Ndun", "phone": "+6281234500077"}}),
        ),
    )
    .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let code = filed.json()["tracking_code"].as_str().unwrap().to_owned();

    // The admin reads it (an identity read) and verifies it to the agency, from an address too.
    let r = send(
        &t,
        "GET",
        &format!("/api/v1/reports/{code}"),
        &[
            ("authorization", &bearer(&admin)),
            ("x-forwarded-for", "198.51.100.20"),
        ],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["reporter"]["phone"], "+6281234500077");
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/verify"),
            Some(&admin),
            None,
            Some(json!({"agency_id": "dinas-pupr"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The officer reads it (identity read); the auditor and executive read it without the identity (no line).
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&officer),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["reporter"]["name"], "Yohanes Ndun");
    for token in [&auditor, &executive] {
        let r = t
            .req(
                "GET",
                &format!("/api/v1/reports/{code}"),
                Some(token),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.get("reporter").is_none(), "{}", r.body);
    }
    // A failed login is recorded with the username tried.
    let r = t
        .req(
            "POST",
            "/api/v1/auth/login",
            None,
            None,
            Some(json!({"username": "petugas", "password": "salah-sekali-123"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let items = audit(&t, &admin, &format!("?target={}", id.replace(':', "%3A"))).await;
    // Newest first: the officer's read, the verify answer (it shows the report with its reporter), the verify
    // itself, the admin's first read.
    assert_eq!(
        actions(&items),
        vec![
            "identity.read",
            "identity.read",
            "report.verify",
            "identity.read"
        ],
        "{items:#?}"
    );
    assert_eq!(items[3]["ip"], "198.51.100.20");
    assert_eq!(items[3]["actor_role"], "admin");
    assert_eq!(items[0]["actor_role"], "agency_officer");
    assert!(items.iter().all(|e| e["target_kind"] == "report"));
    let failed = audit(&t, &auditor, "?action=login.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["target_id"], "petugas");
    let created = audit(&t, &auditor, "?action=user.create").await;
    assert_eq!(created.len(), 4, "{created:#?}");
    assert!(created
        .iter()
        .any(|e| e["detail"] == "petugas agency_officer of dinas-pupr"));
    // No line carries the reporter's identity.
    let everything = audit(&t, &admin, "?limit=500").await.len();
    let all = t
        .req("GET", "/api/v1/audit?limit=500", Some(&admin), None, None)
        .await;
    let text = all.body.to_string();
    assert!(!text.contains("Yohanes") && !text.contains("6281234500077"));

    // Paging: `before` continues where a page ended.
    let first = t
        .req("GET", "/api/v1/audit?limit=2", Some(&admin), None, None)
        .await;
    let before = first.body["next_before"].as_i64().unwrap();
    let next = audit(&t, &admin, &format!("?limit=2&before={before}")).await;
    assert!(next.iter().all(|e| e["id"].as_i64().unwrap() < before));

    // Only admins and auditors read it.
    for (token, status) in [
        (officer.as_str(), StatusCode::FORBIDDEN),
        (operator.as_str(), StatusCode::FORBIDDEN),
        (executive.as_str(), StatusCode::FORBIDDEN),
    ] {
        for path in ["/api/v1/audit", "/api/v1/audit/export"] {
            let r = t.req("GET", path, Some(token), None, None).await;
            assert_eq!(r.status, status, "{path}: {}", r.body);
        }
    }
    for path in ["/api/v1/audit", "/api/v1/audit/export"] {
        let r = t.req("GET", path, None, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // Bad queries are 400 invalid_query.
    for q in [
        "limit=0",
        "limit=501",
        "before=-1",
        "since=yesterday",
        "colour=red",
    ] {
        let r = t
            .req(
                "GET",
                &format!("/api/v1/audit?{q}"),
                Some(&admin),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.code(), "invalid_query", "{q}");
    }

    // The CSV export: a header, one line per entry, quoted where needed, and itself recorded.
    let csv = send(
        &t,
        "GET",
        "/api/v1/audit/export",
        &[("authorization", &bearer(&auditor))],
        None,
        None,
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(csv.headers["cache-control"], "no-store");
    let lines: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "id,at,actor_id,actor_name,actor_role,action,target_kind,target_id,detail,ip"
    );
    assert!(
        lines.len() > everything,
        "{} lines for {everything} entries",
        lines.len()
    );
    assert!(lines.iter().any(|l| l.contains(",identity.read,report,")));
    let exported = audit(&t, &admin, "?action=audit.export").await;
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0]["actor_role"], "auditor");

    // The console page for admins and auditors; others are refused.
    let page = send(
        &t,
        "GET",
        "/officer/audit?action=identity.read",
        &[("cookie", &format!("lapor_session={auditor}"))],
        None,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("identity.read") && page.text.contains("198.51.100.20"));
    assert!(page
        .text
        .contains("/api/v1/audit/export?action=identity.read"));
    let page = send(
        &t,
        "GET",
        "/officer/audit",
        &[("cookie", &format!("lapor_session={officer}"))],
        None,
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}
both_backends!(audit_log, audit_log_records_and_serves);

async fn password_policy(t: TestApp) {
    let admin = t.admin().await;
    let before = t
        .req("GET", "/api/v1/users", Some(&admin), None, None)
        .await;
    let users = before.body.as_array().unwrap().len();
    for (username, password, code) in [
        ("warga.satu", "qwertyuiop", "too_common"),
        ("warga.satu", "Indonesia123", "too_common"),
        ("warga.satu", "bismillah12", "too_common"),
        ("warga.satu", "zzzzzzzzzzzz", "repeated_character"),
        ("warga.satu", "aku-warga.satu-99", "contains_username"),
        ("warga.satu", "pendek", "too_short"),
    ] {
        let r = t
            .req(
                "POST",
                "/api/v1/auth/register",
                None,
                None,
                Some(json!({
                    "username": username, "password": password, "display_name": "Warga"
                })),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password}: {}",
            r.body
        );
        let field = &r.body["errors"][0];
        assert_eq!(field["field"], "password", "{}", r.body);
        assert_eq!(field["code"], code, "{password}: {}", r.body);
        // Indonesian first, English second.
        assert!(
            field["message"].as_str().unwrap().contains(" / "),
            "{}",
            r.body
        );
    }
    // The same rules when an admin creates an account or someone changes a password.
    let r = t
        .req("POST", "/api/v1/users", Some(&admin), None, Some(json!({
            "username": "petugas", "password": "password123", "display_name": "P", "role": "auditor"
        })))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["code"], "too_common");
    let me = t
        .req("GET", "/api/v1/users/me", Some(&admin), None, None)
        .await;
    let id = me.body["id"].as_str().unwrap().to_owned();
    let r = t
        .req(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            None,
            Some(json!({"password": "admin-sandi-baru"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["code"], "contains_username");
    // Nothing was stored or changed.
    let after = t
        .req("GET", "/api/v1/users", Some(&admin), None, None)
        .await;
    assert_eq!(after.body.as_array().unwrap().len(), users);
    let r = t
        .req(
            "POST",
            "/api/v1/auth/login",
            None,
            None,
            Some(json!({"username": "admin", "password": "admin-sandi-baru"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    session(&t, "admin", "sandi-kota-kupang-1").await;
    // A good password passes.
    let r = t
        .req(
            "POST",
            "/api/v1/auth/register",
            None,
            None,
            Some(json!({
                "username": "warga.satu", "password": "kopi-pagi-di-oebobo", "display_name": "Warga"
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}
both_backends!(passwords, password_policy);

async fn password_change_ends_other_sessions(t: TestApp) {
    let admin = t.admin().await;
    t.agency(&admin, "dinas-pupr", None, "office").await;
    t.user(&admin, "petugas", "agency_officer", Some("dinas-pupr"))
        .await;
    let a = session(&t, "petugas", "password-1234").await;
    let b = session(&t, "petugas", "password-1234").await;
    let token = t.login("petugas", "password-1234").await;
    let me = t.req("GET", "/api/v1/users/me", Some(&a), None, None).await;
    let id = me.body["id"].as_str().unwrap().to_owned();

    // The officer changes their own password with session a: a stays, b and the API token end.
    let r = t
        .req(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(&a),
            None,
            Some(json!({"password": "kopi-pagi-di-oebobo"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = t.req("GET", "/api/v1/users/me", Some(&a), None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    for old in [&b, &token] {
        let r = t
            .req("GET", "/api/v1/users/me", Some(old), None, None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert_eq!(r.code(), "session_expired");
    }
    // An admin resetting it ends every session, a included.
    let r = t
        .req(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            None,
            Some(json!({"password": "teh-sore-di-kupang"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = t.req("GET", "/api/v1/users/me", Some(&a), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Renaming does not end anything.
    let c = session(&t, "petugas", "teh-sore-di-kupang").await;
    let r = t
        .req(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            None,
            Some(json!({"display_name": "Petugas PUPR"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t.req("GET", "/api/v1/users/me", Some(&c), None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let lines = audit(&t, &admin, "?action=user.update").await;
    assert_eq!(lines.len(), 3);
    // Every other way in: the two sessions and API tokens the test helpers opened, b and the token.
    assert_eq!(lines[2]["detail"], "password, 5 sessions and tokens ended");
    assert_eq!(lines[1]["detail"], "password, 1 sessions and tokens ended");
}
both_backends!(password_change, password_change_ends_other_sessions);

async fn idle_sessions_end(t: TestApp) {
    let admin = t.admin().await;
    t.user(&admin, "inspektorat", "auditor", None).await;
    let r = t
        .req(
            "POST",
            "/api/v1/auth/register",
            None,
            None,
            Some(json!({
                "username": "warga.satu", "password": "kopi-pagi-di-oebobo", "display_name": "Warga"
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let staff = session(&t, "inspektorat", "password-1234").await;
    let citizen = session(&t, "warga.satu", "kopi-pagi-di-oebobo").await;
    let me = |token: String| {
        let t = &t;
        async move {
            t.req("GET", "/api/v1/users/me", Some(&token), None, None)
                .await
                .status
        }
    };
    // Used every 20 minutes, a staff session lives on (each use moves the idle clock).
    for _ in 0..3 {
        t.clock.advance(20 * 60 * 1000);
        assert_eq!(me(staff.clone()).await, StatusCode::OK);
    }
    // 31 idle minutes end it (security.idle_timeout_mins = 30); the citizen's (120 minutes) lives.
    t.clock.advance(31 * 60 * 1000);
    assert_eq!(me(staff.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(citizen.clone()).await, StatusCode::OK);
    t.clock.advance(2 * HOUR + 1);
    assert_eq!(me(citizen).await, StatusCode::UNAUTHORIZED);
    // API tokens are for integrations: no idle timeout (the year-long token of `admin` still works).
    assert_eq!(me(admin).await, StatusCode::OK);
}
both_backends!(idle_timeout, idle_sessions_end);

async fn headers_and_metrics(t: TestApp) {
    let admin = t.admin().await;
    // no-store on API answers and pages with a viewer, a public page too; assets keep their own caching.
    for (path, auth) in [
        ("/api/v1/users/me", true),
        ("/api/v1/reports", false),
        ("/officer", true),
        ("/", false),
    ] {
        let cookie = format!("lapor_session={admin}");
        let headers: Vec<(&str, &str)> = if auth {
            vec![("cookie", &cookie)]
        } else {
            vec![]
        };
        let r = send(&t, "GET", path, &headers, None, None).await;
        assert_eq!(r.headers["cache-control"], "no-store", "{path}");
        assert!(
            r.headers.get("strict-transport-security").is_none(),
            "{path}"
        );
    }
    // HSTS only when the trusted proxy (a loopback peer) says the request came over HTTPS.
    let r = send(
        &t,
        "GET",
        "/",
        &[("x-forwarded-proto", "https")],
        Some("127.0.0.1:40000"),
        None,
    )
    .await;
    assert_eq!(
        r.headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let r = send(
        &t,
        "GET",
        "/",
        &[("x-forwarded-proto", "https")],
        Some("198.51.100.7:40000"),
        None,
    )
    .await;
    assert!(r.headers.get("strict-transport-security").is_none());

    // /metrics: this machine yes; a remote address or a request the proxy forwards no (404); the token or an
    // allowed address yes.
    let ok = |r: &Answer| r.status == StatusCode::OK && r.text.contains("lapor_federation_");
    assert!(ok(&send(&t, "GET", "/metrics", &[], None, None).await));
    assert!(ok(&send(
        &t,
        "GET",
        "/metrics",
        &[],
        Some("127.0.0.1:40000"),
        None
    )
    .await));
    let remote = send(&t, "GET", "/metrics", &[], Some("198.51.100.7:40000"), None).await;
    assert_eq!(remote.status, StatusCode::NOT_FOUND);
    assert!(!remote.text.contains("lapor_federation_"));
    let proxied = send(
        &t,
        "GET",
        "/metrics",
        &[("x-forwarded-for", "198.51.100.7")],
        Some("127.0.0.1:40000"),
        None,
    )
    .await;
    assert_eq!(proxied.status, StatusCode::NOT_FOUND);
}
both_backends!(headers, headers_and_metrics);

/// `/metrics` with `security.metrics_token` and `security.metrics_allow` set.
#[tokio::test]
async fn metrics_token_and_allowlist() {
    let t = support::test_app(support::Backend::Sqlite).await.unwrap();
    let mut config = t.app.config().clone();
    config.security.metrics_token = "prometheus-scrape-token-1".into();
    config.security.metrics_allow = vec!["10.0.0.5".parse().unwrap()];
    let app = lapor_node::app::App::new(config, t.store.clone(), t.clock.clone()).unwrap();
    let t = TestApp { app, ..t };
    let remote = Some("198.51.100.7:40000");
    let ok = |r: &Answer| r.status == StatusCode::OK && r.text.contains("lapor_federation_");
    assert!(ok(&send(
        &t,
        "GET",
        "/metrics",
        &[("authorization", "Bearer prometheus-scrape-token-1")],
        remote,
        None
    )
    .await));
    let wrong = send(
        &t,
        "GET",
        "/metrics",
        &[("authorization", "Bearer prometheus-scrape-token-2")],
        remote,
        None,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    assert!(ok(&send(
        &t,
        "GET",
        "/metrics",
        &[],
        Some("10.0.0.5:40000"),
        None
    )
    .await));
    assert!(ok(&send(
        &t,
        "GET",
        "/metrics",
        &[("x-forwarded-for", "10.0.0.5")],
        Some("127.0.0.1:1"),
        None
    )
    .await));
    assert_eq!(
        send(&t, "GET", "/metrics", &[], Some("10.0.0.6:40000"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn assisted_intake_only_for_roles_that_use_it(t: TestApp) {
    let admin = t.admin().await;
    t.agency(&admin, "dinas-pupr", None, "office").await;
    let officer = t
        .user(&admin, "petugas", "agency_officer", Some("dinas-pupr"))
        .await;
    let executive = t
        .user(&admin, "kepala", "executive", Some("dinas-pupr"))
        .await;
    let auditor = t.user(&admin, "inspektorat", "auditor", None).await;
    let operator = t.user(&admin, "operator", "node_operator", None).await;
    for (token, may) in [
        (&admin, true),
        (&officer, true),
        (&executive, false),
        (&auditor, false),
        (&operator, false),
    ] {
        let cookie = format!("lapor_session={token}");
        let inbox = send(&t, "GET", "/officer", &[("cookie", &cookie)], None, None).await;
        assert_eq!(inbox.status, StatusCode::OK);
        assert_eq!(inbox.text.contains(r#"href="/officer/new""#), may);
        let form = send(
            &t,
            "GET",
            "/officer/new",
            &[("cookie", &cookie)],
            None,
            None,
        )
        .await;
        let expected = if may {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(form.status, expected);
        // The audit link only for its readers.
        let reads_audit = token == &admin || token == &auditor;
        assert_eq!(inbox.text.contains(r#"href="/officer/audit""#), reads_audit);
    }
}
both_backends!(assisted_intake, assisted_intake_only_for_roles_that_use_it);

/// Everything the database holds, as a thief with a copy of it would see it: the SQLite file with its WAL, or a
/// `pg_dump` of the PostgreSQL database.
fn dump(t: &TestApp) -> Vec<u8> {
    if let Some(path) = t.db.url.strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
        bytes
    } else {
        let out = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(&t.db.url)
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn identities_are_sealed_at_rest(t: TestApp) {
    let admin = t.admin().await;
    let (name, phone, email) = (
        "Yohanes Ndun Sabu",
        "+6281234500077",
        "yohanes.ndun@contoh.id",
    );
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(json!({"kind": "complaint",
            "title": "Air PDAM tidak mengalir", "body": "Sudah tiga hari air tidak mengalir di Kelurahan Oebobo.",
            "reporter": {"name": name, "phone": phone, "email": email}})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let code = r.body["tracking_code"].as_str().unwrap().to_owned();
    // Callers still read the identity in clear.
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["reporter"]["name"], name);
    assert_eq!(r.body["reporter"]["phone"], phone);
    assert_eq!(r.body["reporter"]["email"], email);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let stored = t.store.report_identity(&id).await.unwrap().unwrap();
    assert_eq!(stored.phone.as_deref(), Some(phone));

    // The database alone reveals none of it.
    let bytes = dump(&t);
    assert!(
        holds(&bytes, "Air PDAM tidak mengalir"),
        "the dump is readable (control)"
    );
    for secret in [name, "Yohanes", phone, "81234500077", email, "contoh.id"] {
        assert!(
            !holds(&bytes, secret),
            "`{secret}` is readable in the database"
        );
    }
    assert!(holds(&bytes, "sealed:v1:"));

    // A row written before encryption (plain) is read as it is and sealed at the next start.
    let plain_phone = "+6281399988877";
    raw_update(
        &t,
        &format!("UPDATE reporter_identities SET phone = '{plain_phone}'"),
    )
    .await;
    assert_eq!(
        t.store
            .report_identity(&id)
            .await
            .unwrap()
            .unwrap()
            .phone
            .as_deref(),
        Some(plain_phone)
    );
    assert!(holds(&dump(&t), plain_phone));
    assert_eq!(t.store.identities_seal_plaintext().await.unwrap(), 1);
    assert_eq!(t.store.identities_seal_plaintext().await.unwrap(), 0);
    assert!(!holds(&dump(&t), plain_phone));
    let again = t.store.report_identity(&id).await.unwrap().unwrap();
    assert_eq!(again.phone.as_deref(), Some(plain_phone));
    assert_eq!(again.name.as_deref(), Some(name));

    // A sealed value moved to another field does not open (bound to report and field).
    raw_update(&t, "UPDATE reporter_identities SET name = phone").await;
    assert!(t.store.report_identity(&id).await.is_err());
}
both_backends!(sealed_identities, identities_are_sealed_at_rest);

async fn raw_update(t: &TestApp, sql: &str) {
    if let Some(path) = t.db.url.strip_prefix("sqlite://") {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute(sql, []).unwrap();
        // Into the main file, so the dump sees what a copy of it would.
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    } else {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&t.db.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}
