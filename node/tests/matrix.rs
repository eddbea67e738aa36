#![allow(clippy::expect_used, clippy::unwrap_used, clippy::too_many_lines)]
//! The authorisation matrix (issue 17): every role x every API operation x every web route x every privacy
//! kind of report, failing on any cell whose answer carries what that role may not see: a reporter's name,
//! phone or e-mail, or the title and body of a confidential report (whole reports, lists, search, stats,
//! exports, audit, pages).
//!
//! The operations come from the OpenAPI document (`lapor_node::http::openapi()`) and the web routes from the
//! web router's source (`node/src/web/mod.rs`), so a new endpoint or page is in the matrix without editing
//! this test. Request bodies are generated from the operation's schema (required fields with plausible
//! values), so many actions really run; every cell is checked whatever its status.
//!
//! Who may see what (docs/ARCHITECTURE.md, privacy table):
//! * a reporter's identity: admins, agency officers of the report's agency, the reporter; nobody for an
//!   anonymous report (it is never stored);
//! * a confidential report's title and body: admins, auditors, node operators, officers and executives of its
//!   agency, the reporter (their account, or the tracking secret for an anonymous one).

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use support::TestApp;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    Reporter,
    OwnReporter,
    Admin,
    OfficerSame,
    OfficerOther,
    Executive,
    Auditor,
    Operator,
}

const ROLES: [Role; 9] = [
    Role::Anonymous,
    Role::Reporter,
    Role::OwnReporter,
    Role::Admin,
    Role::OfficerSame,
    Role::OfficerOther,
    Role::Executive,
    Role::Auditor,
    Role::Operator,
];

struct Filed {
    anonymous: bool,
    confidential: bool,
    id: String,
    code: String,
    secret: String,
    /// Strings that identify the reporter.
    identity: Vec<String>,
    /// Strings of the title and body.
    content: Vec<String>,
}

struct World {
    tokens: BTreeMap<&'static str, String>,
    reports: Vec<Filed>,
    reporter_user_id: String,
    category: String,
}

impl World {
    fn token(&self, role: Role) -> Option<&str> {
        let key = match role {
            Role::Anonymous => return None,
            Role::Reporter => "other",
            Role::OwnReporter => "warga",
            Role::Admin => "admin",
            Role::OfficerSame => "officer",
            Role::OfficerOther => "officer2",
            Role::Executive => "executive",
            Role::Auditor => "auditor",
            Role::Operator => "operator",
        };
        self.tokens.get(key).map(String::as_str)
    }
}

fn may_see_identity(role: Role, r: &Filed) -> bool {
    !r.anonymous && matches!(role, Role::Admin | Role::OfficerSame | Role::OwnReporter)
}

/// `targeted`: the request names this report and, for the own reporter, carries its tracking secret.
fn may_see_content(role: Role, r: &Filed, targeted: bool) -> bool {
    if !r.confidential {
        return true;
    }
    match role {
        Role::Admin | Role::Auditor | Role::Operator | Role::OfficerSame | Role::Executive => true,
        Role::OwnReporter => targeted || !r.anonymous,
        Role::Anonymous | Role::Reporter | Role::OfficerOther => false,
    }
}

async fn setup(t: &TestApp) -> World {
    let admin = t.admin().await;
    t.agency(&admin, "dinas-pupr", None, "office").await;
    t.agency(&admin, "dinas-kesehatan", None, "office").await;
    let mut tokens = BTreeMap::new();
    tokens.insert(
        "officer",
        t.user(&admin, "petugas", "agency_officer", Some("dinas-pupr"))
            .await,
    );
    tokens.insert(
        "officer2",
        t.user(
            &admin,
            "petugas.sehat",
            "agency_officer",
            Some("dinas-kesehatan"),
        )
        .await,
    );
    tokens.insert(
        "executive",
        t.user(&admin, "kepala", "executive", Some("dinas-pupr"))
            .await,
    );
    tokens.insert(
        "auditor",
        t.user(&admin, "inspektorat", "auditor", None).await,
    );
    tokens.insert(
        "operator",
        t.user(&admin, "operator", "node_operator", None).await,
    );
    for (user, name) in [("warga", "Warga Satu"), ("warga.lain", "Warga Dua")] {
        let r = t
            .req(
                "POST",
                "/api/v1/auth/register",
                None,
                None,
                Some(json!({
                    "username": user, "password": "kopi-pagi-di-oebobo", "display_name": name
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    tokens.insert("warga", t.login("warga", "kopi-pagi-di-oebobo").await);
    tokens.insert("other", t.login("warga.lain", "kopi-pagi-di-oebobo").await);
    let me = t
        .req(
            "GET",
            "/api/v1/users/me",
            Some(&tokens["warga"]),
            None,
            None,
        )
        .await;
    let reporter_user_id = me.body["id"].as_str().unwrap().to_owned();
    tokens.insert("admin", admin);

    let mut reports = Vec::new();
    for (n, (anonymous, confidential)) in
        [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .enumerate()
    {
        let name = format!("Pelapor{n}Qzv");
        let phone = format!("+62812770{n}{n}{n}55");
        let email = format!("pelapor{n}qzv@contoh.id");
        let title = format!("Judul Kx{n}Title jalan rusak");
        let body = format!("Isi laporan Kx{n}Body tentang lubang besar di jalan.");
        let r = t
            .req(
                "POST",
                "/api/v1/reports",
                Some(&tokens["warga"]),
                None,
                Some(json!({
                    "kind": "complaint", "title": title, "body": body, "anonymous": anonymous,
                    "confidential": confidential,
                    "reporter": {"name": name, "phone": phone, "email": email},
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let code = r.body["tracking_code"].as_str().unwrap().to_owned();
        let v = t
            .req(
                "POST",
                &format!("/api/v1/reports/{code}/verify"),
                Some(&tokens["admin"]),
                None,
                Some(json!({"agency_id": "dinas-pupr"})),
            )
            .await;
        assert_eq!(v.status, StatusCode::OK, "{}", v.body);
        reports.push(Filed {
            anonymous,
            confidential,
            id: r.body["id"].as_str().unwrap().to_owned(),
            code,
            secret: r.body["tracking_secret"].as_str().unwrap().to_owned(),
            identity: vec![name, phone[3..].to_owned(), email],
            content: vec![format!("Kx{n}Title"), format!("Kx{n}Body")],
        });
    }
    let cats = t.req("GET", "/api/v1/categories", None, None, None).await;
    let category = cats.body[0]["id"].as_str().unwrap().to_owned();
    World {
        tokens,
        reports,
        reporter_user_id,
        category,
    }
}

/// A plausible value for a JSON schema (required fields only), resolving `$ref`s in the document.
fn sample(doc: &Value, schema: &Value, depth: usize) -> Value {
    if depth > 6 {
        return Value::Null;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap();
        return sample(doc, &doc["components"]["schemas"][name], depth + 1);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema.get(key).and_then(|v| v.as_array()).and_then(|a| {
            a.iter()
                .find(|s| s.get("type").and_then(Value::as_str) != Some("null"))
        }) {
            return sample(doc, first, depth + 1);
        }
    }
    if let Some(e) = schema
        .get("enum")
        .and_then(|e| e.as_array())
        .and_then(|e| e.first())
    {
        return e.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .find(|s| *s != "null")
            .unwrap_or("null")
            .to_owned(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "null".into(),
    };
    match ty.as_str() {
        "object" => {
            let mut out = serde_json::Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in props {
                    if required.contains(&k.as_str()) {
                        out.insert(k.clone(), sample(doc, v, depth + 1));
                    }
                }
            }
            Value::Object(out)
        }
        "string" => match schema.get("format").and_then(Value::as_str) {
            Some("date") => json!("2026-11-20"),
            Some("date-time") => json!("2026-11-20T09:00:00+07:00"),
            _ => json!("Catatan matriks uji coba"),
        },
        "integer" => json!(3),
        "number" => json!(1.5),
        "boolean" => json!(false),
        "array" => json!([]),
        _ => Value::Null,
    }
}

struct Cell {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

async fn run(t: &TestApp, cell: &Cell) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(cell.method.as_str())
        .uri(&cell.uri);
    for (k, v) in &cell.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = match &cell.body {
        Some((ct, b)) => req
            .header("content-type", ct.as_str())
            .body(Body::from(b.clone())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = lapor_node::http::router(t.app.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// What of `world` the answer to `role` may not carry but does. `uri` is what was asked: a page echoing its
/// own search words is no leak, so a marker in the request is not looked for; a confidential report a search
/// finds still shows by its tracking code (looked for unless the request names a report).
fn leaks(world: &World, role: Role, target: Option<usize>, uri: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let asked = |m: &str| uri.contains(&urlencode(m)) || uri.contains(m);
    for (i, r) in world.reports.iter().enumerate() {
        if target.is_none() && !may_see_content(role, r, false) && text.contains(&r.code) {
            found.push(format!("confidential report {i} listed ({})", r.code));
        }
        if !may_see_identity(role, r) {
            found.extend(
                r.identity
                    .iter()
                    .filter(|m| !asked(m) && text.contains(m.as_str()))
                    .map(|m| format!("identity `{m}` of report {i}")),
            );
        }
        if !may_see_content(role, r, target == Some(i)) {
            found.extend(
                r.content
                    .iter()
                    .filter(|m| !asked(m) && text.contains(m.as_str()))
                    .map(|m| format!("confidential text `{m}` of report {i}")),
            );
        }
    }
    found
}

/// The API operations of the OpenAPI document: (method, path template, request body schema).
fn api_operations(doc: &Value) -> Vec<(String, String, Option<Value>)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let body = op["requestBody"]["content"]["application/json"]["schema"].clone();
            ops.push((
                method.to_uppercase(),
                path.clone(),
                (!body.is_null()).then_some(body),
            ));
        }
    }
    ops
}

/// The web routes, read from the web router's source: (method, path template).
fn web_routes() -> Vec<(String, String)> {
    let src = include_str!("../src/web/mod.rs");
    let start = src.find("pub fn router()").unwrap();
    let body = &src[start..];
    let end = body.find("\n}\n").unwrap();
    let body = &body[..end];
    let mut routes = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let q1 = rest.find('"').unwrap();
        let q2 = q1 + 1 + rest[q1 + 1..].find('"').unwrap();
        let path = rest[q1 + 1..q2].to_owned();
        let next = rest.find(".route(").unwrap_or(rest.len());
        let handlers = &rest[q2..next];
        for method in ["get", "post", "patch", "put", "delete"] {
            if handlers.contains(&format!("{method}(")) {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(routes.len() >= 10, "web routes parsed: {routes:?}");
    routes
}

const WEB_ACTIONS: [&str; 15] = [
    "supplement",
    "reply",
    "accept",
    "rate",
    "verify",
    "hold",
    "archive",
    "privacy",
    "acknowledge",
    "respond",
    "not-authority",
    "transfer",
    "move",
    "escalate",
    "ombudsman",
];

/// The URIs a path template stands for: every report for `{key}`/`{code}`, both kinds of report key.
fn expand(world: &World, path: &str) -> Vec<(String, Option<usize>)> {
    let mut uris = vec![(path.to_owned(), None)];
    let sub =
        |uris: Vec<(String, Option<usize>)>, name: &str, values: Vec<(String, Option<usize>)>| {
            uris.into_iter()
                .flat_map(|(u, target)| {
                    if u.contains(name) {
                        values
                            .iter()
                            .map(|(v, t)| (u.replace(name, v), t.or(target)))
                            .collect::<Vec<_>>()
                    } else {
                        vec![(u, target)]
                    }
                })
                .collect()
        };
    let reports: Vec<(String, Option<usize>)> = world
        .reports
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            [
                (r.code.clone(), Some(i)),
                (r.id.replace(':', "%3A"), Some(i)),
            ]
        })
        .collect();
    uris = sub(uris, "{key}", reports.clone());
    uris = sub(uris, "{code}", reports);
    uris = sub(
        uris,
        "{id}",
        if path.starts_with("/api/v1/users") {
            vec![(world.reporter_user_id.clone(), None)]
        } else if path.starts_with("/api/v1/categories") {
            vec![(world.category.clone(), None)]
        } else {
            vec![("dinas-pupr".into(), None)]
        },
    );
    uris = sub(
        uris,
        "{action}",
        WEB_ACTIONS
            .iter()
            .map(|a| ((*a).to_owned(), None))
            .collect(),
    );
    uris = sub(uris, "{sha256}", vec![("0".repeat(64), None)]);
    uris = sub(uris, "{version}", vec![("v".into(), None)]);
    uris = sub(uris, "{*path}", vec![("app.css".into(), None)]);
    uris
}

/// Query variants of a list-like GET: plain, a search for each confidential text, every status.
fn queries(world: &World, method: &str, path: &str) -> Vec<String> {
    let mut q = vec![String::new()];
    let listy = [
        "/api/v1/reports",
        "/api/v1/stats",
        "/reports",
        "/officer",
        "/stats",
        "/api/v1/audit",
    ];
    if method == "GET" && listy.contains(&path) {
        for r in &world.reports {
            for m in r.content.iter().chain(&r.identity) {
                q.push(format!("?q={}", urlencode(m)));
            }
        }
        q.push("?status=submitted,verified,in_progress,archived".into());
        q.push("?limit=200".into());
    }
    q
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The CSRF token the web forms carry for these cookies.
async fn csrf_for(t: &TestApp, cookies: &str) -> (String, String) {
    // The seed cookie comes with the first page; fetch it with its headers.
    let req = Request::builder()
        .uri("/report")
        .body(Body::empty())
        .unwrap();
    let resp = lapor_node::http::router(t.app.clone())
        .oneshot(req)
        .await
        .unwrap();
    let seed_cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lapor_csrf="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let all = if cookies.is_empty() {
        seed_cookie.clone()
    } else {
        format!("{seed_cookie}; {cookies}")
    };
    let (_, page) = run(
        t,
        &Cell {
            method: "GET".into(),
            uri: "/report".into(),
            headers: vec![("cookie".into(), all.clone())],
            body: None,
        },
    )
    .await;
    let start = page.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    (all, page[start..].split('"').next().unwrap().to_owned())
}

async fn matrix(t: TestApp) {
    let world = setup(&t).await;
    // The matrix must reach the data at all: an admin sees the identity (the markers are where we look).
    let admin_view = t
        .req(
            "GET",
            &format!("/api/v1/reports/{}", world.reports[0].code),
            world.token(Role::Admin),
            None,
            None,
        )
        .await;
    assert!(admin_view
        .body
        .to_string()
        .contains(&world.reports[0].identity[0]));
    let doc = serde_json::to_value(lapor_node::http::openapi()).unwrap();
    let ops = api_operations(&doc);
    let routes = web_routes();
    assert!(ops.len() >= 30, "{} API operations", ops.len());

    let mut failures = String::new();
    let mut cells = 0usize;
    let mut ok_cells = 0usize;
    // Two passes: reading first, then everything (actions change state; later reads see the new states).
    for pass in 0..2 {
        for role in ROLES {
            let token = world.token(role).map(ToOwned::to_owned);
            // The API.
            for (method, path, body_schema) in &ops {
                if pass == 0 && method != "GET" {
                    continue;
                }
                for (uri, target) in expand(&world, path) {
                    for q in queries(&world, method, path) {
                        let mut headers = Vec::new();
                        if let Some(tok) = &token {
                            headers.push(("authorization".into(), format!("Bearer {tok}")));
                        }
                        if let (Role::OwnReporter, Some(i)) = (role, target) {
                            headers.push((
                                "x-tracking-secret".into(),
                                world.reports[i].secret.clone(),
                            ));
                        }
                        let body = body_schema.as_ref().map(|s| {
                            let mut v = sample(&doc, s, 0);
                            if let Some(o) = v.as_object_mut() {
                                if o.contains_key("agency_id") {
                                    o.insert("agency_id".into(), json!("dinas-pupr"));
                                }
                            }
                            ("application/json".to_owned(), v.to_string().into_bytes())
                        });
                        let cell = Cell {
                            method: method.clone(),
                            uri: format!("{uri}{q}"),
                            headers,
                            body,
                        };
                        let (status, text) = run(&t, &cell).await;
                        cells += 1;
                        if status.is_success() {
                            ok_cells += 1;
                        }
                        let found = leaks(&world, role, target, &cell.uri, &text);
                        if !found.is_empty() {
                            let _ = writeln!(
                                failures,
                                "{role:?} {} {} -> {status}: {}",
                                cell.method,
                                cell.uri,
                                found.join(", ")
                            );
                        }
                    }
                }
            }
            // The web pages, with the session cookie (and the report's tracking cookie for its reporter).
            for (method, path) in &routes {
                if pass == 0 && method != "GET" {
                    continue;
                }
                for (uri, target) in expand(&world, path) {
                    let mut cookies = Vec::new();
                    if let Some(tok) = &token {
                        cookies.push(format!("lapor_session={tok}"));
                    }
                    if let (Role::OwnReporter, Some(i)) = (role, target) {
                        let r = &world.reports[i];
                        cookies.push(format!("lapor_track={}:{}", r.code, r.secret));
                    }
                    let cookies = cookies.join("; ");
                    for q in queries(&world, method, path) {
                        let (cookie, body) = if method == "POST" {
                            let (cookie, csrf) = csrf_for(&t, &cookies).await;
                            let form = format!(
                                "csrf={csrf}&note=Catatan+matriks+uji+coba&score=3&agency_id=dinas-pupr&kind=complaint&title=Laporan+matriks+uji&body=Isi+laporan+matriks+uji+coba+panjang&code={}&reason=duplicate",
                                target.map_or("", |i| world.reports[i].code.as_str())
                            );
                            (
                                cookie,
                                Some((
                                    "application/x-www-form-urlencoded".to_owned(),
                                    form.into_bytes(),
                                )),
                            )
                        } else {
                            (cookies.clone(), None)
                        };
                        let cell = Cell {
                            method: method.clone(),
                            uri: format!("{uri}{q}"),
                            headers: if cookie.is_empty() {
                                vec![]
                            } else {
                                vec![("cookie".into(), cookie)]
                            },
                            body,
                        };
                        let (status, text) = run(&t, &cell).await;
                        cells += 1;
                        if status.is_success() {
                            ok_cells += 1;
                        }
                        let found = leaks(&world, role, target, &cell.uri, &text);
                        if !found.is_empty() {
                            let _ = writeln!(
                                failures,
                                "{role:?} {} {} (web) -> {status}: {}",
                                cell.method,
                                cell.uri,
                                found.join(", ")
                            );
                        }
                    }
                }
            }
        }
    }
    println!(
        "authorisation matrix: {} API operations, {} web routes, {} roles, {} reports: {cells} cells, {ok_cells} answered 2xx",
        ops.len(),
        routes.len(),
        ROLES.len(),
        world.reports.len()
    );
    assert!(failures.is_empty(), "leaks:\n{failures}");
}
both_backends!(authorisation_matrix, matrix);
