#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The web pages driven in-process (`router(app).oneshot(..)`): headers, CSRF, escaping, per-field errors in
//! both languages, and that confidential reports stay off public pages. The full flows run in a real browser
//! in `tests/tests/browser.rs`.

mod support;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use support::{test_app, Backend, TestApp};
use tower::ServiceExt;

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(t: &TestApp, method: &str, uri: &str, cookies: &str, form: Option<&str>) -> Page {
    let mut req = Request::builder().method(method).uri(uri);
    if !cookies.is_empty() {
        req = req.header("cookie", cookies);
    }
    let req = match form {
        Some(f) => req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(f.to_owned())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = lapor_node::http::router(t.app.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The CSRF seed cookie a first visit sets, and the token the page's forms carry.
async fn csrf(t: &TestApp) -> (String, String) {
    let p = send(t, "GET", "/report", "", None).await;
    let cookie = p
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lapor_csrf="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let start = p.body.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    let token = p.body[start..].split('"').next().unwrap().to_owned();
    (cookie, token)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn report_form(token: &str, title: &str, extra: &str) -> String {
    format!(
        "csrf={token}&kind=complaint&title={}&body={}{extra}",
        enc(title),
        enc("Jalan di depan SD Inpres Oebobo berlubang besar sekali.")
    )
}

#[tokio::test]
async fn pages_carry_security_headers_and_cookies() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let p = send(&t, "GET", "/", "", None).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(p.headers["cache-control"], "no-store");
    let csp = p.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(!csp.contains("openstreetmap"), "no tiles without a map");
    let cookie = p.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(p.body.contains(r#"<html lang="id">"#));
    assert!(!p.body.contains("<script>"), "no inline script");

    let map = send(&t, "GET", "/report", "", None).await;
    let csp = map.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("img-src 'self' data: https://tile.openstreetmap.org"));

    let en = send(&t, "GET", "/?lang=en", "", None).await;
    assert!(en.body.contains(r#"<html lang="en">"#));
    assert!(en
        .headers
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("lapor_lang=en")));
    let remembered = send(&t, "GET", "/", "lapor_lang=en", None).await;
    assert!(remembered.body.contains("Make a report"));
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let (cookie, token) = csrf(&t).await;
    let no_token = send(
        &t,
        "POST",
        "/report",
        &cookie,
        Some(&report_form("", "Jalan berlubang", "")),
    )
    .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let no_cookie = send(
        &t,
        "POST",
        "/report",
        "",
        Some(&report_form(&token, "Jalan berlubang", "")),
    )
    .await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN);
    let wrong = send(
        &t,
        "POST",
        "/officer/login",
        &cookie,
        Some("csrf=abc&username=a&password=b"),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let ok = send(
        &t,
        "POST",
        "/report",
        &cookie,
        Some(&report_form(&token, "Jalan berlubang", "")),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
}

#[tokio::test]
async fn input_is_escaped_and_errors_are_named_per_field() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let (cookie, token) = csrf(&t).await;
    let evil = "<script>alert(1)</script> jalan";
    let created = send(
        &t,
        "POST",
        "/report",
        &cookie,
        Some(&report_form(&token, evil, "")),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let start =
        created.body.find(r#"id="tracking-code">"#).unwrap() + r#"id="tracking-code">"#.len();
    let code = created.body[start..].split('<').next().unwrap().to_owned();
    let track = send(&t, "GET", &format!("/track/{code}"), "", None).await;
    assert!(track
        .body
        .contains("&lt;script&gt;alert(1)&lt;/script&gt; jalan"));
    assert!(!track.body.contains("<script>alert"));

    let bad =
        format!("csrf={token}&kind=complaint&title=&body=pendek&lat=abc&incident_date=2999-01-01");
    let p = send(&t, "POST", "/report", &cookie, Some(&bad)).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains(r#"id="errors""#));
    assert!(p.body.contains("harus berupa angka"), "lat");
    let p = send(
        &t,
        "POST",
        "/report?lang=en",
        &cookie,
        Some(&format!("csrf={token}&kind=complaint&title=&body=pendek")),
    )
    .await;
    assert!(p.body.contains("is required"), "title");
    assert!(p.body.contains("at least 10 characters"), "body");
    assert!(p.body.contains(r#"aria-invalid="true""#));
}

#[tokio::test]
async fn confidential_reports_stay_off_public_pages() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let (cookie, token) = csrf(&t).await;
    let p = send(
        &t,
        "POST",
        "/report",
        &cookie,
        Some(&report_form(
            &token,
            "Pungutan liar RAHASIAQQ",
            "&confidential=1",
        )),
    )
    .await;
    assert_eq!(p.status, StatusCode::CREATED);
    let start = p.body.find(r#"id="tracking-code">"#).unwrap() + r#"id="tracking-code">"#.len();
    let code = p.body[start..].split('<').next().unwrap().to_owned();
    let track_cookie = p
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lapor_track="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    for uri in ["/", "/reports", "/reports?q=RAHASIAQQ", "/stats"] {
        let page = send(&t, "GET", uri, "", None).await;
        // The search box repeats the query itself, so look for the title's other words and the code.
        assert!(
            !page.body.contains("Pungutan liar") && !page.body.contains(&code),
            "{uri}"
        );
    }
    // An admin's session does not make public pages show it either.
    let admin = t.admin().await;
    let page = send(
        &t,
        "GET",
        "/reports",
        &format!("lapor_session={admin}"),
        None,
    )
    .await;
    assert!(!page.body.contains("RAHASIAQQ"));
    let hidden = send(&t, "GET", &format!("/track/{code}"), "", None).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let own = send(&t, "GET", &format!("/track/{code}"), &track_cookie, None).await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.body.contains("RAHASIAQQ"));
    let inbox = send(
        &t,
        "GET",
        "/officer",
        &format!("lapor_session={admin}"),
        None,
    )
    .await;
    assert!(inbox.body.contains(&code));
    // Without a session the console sends people to the login page.
    let anon = send(&t, "GET", "/officer", "", None).await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.headers["location"], "/officer/login");
}

#[tokio::test]
async fn assets_are_embedded_and_cached() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let home = send(&t, "GET", "/report", "", None).await;
    let start = home.body.find("/assets/").unwrap();
    let url = home.body[start..].split('"').next().unwrap().to_owned();
    let css = send(&t, "GET", &url, "", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let leaflet = send(&t, "GET", &url.replace("site.css", "leaflet.js"), "", None).await;
    assert_eq!(leaflet.status, StatusCode::OK);
    assert!(leaflet.body.contains("Leaflet"));
    let old = send(&t, "GET", "/assets/000000000000/site.css", "", None).await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_report_forms_map_carries_its_opening_view() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let page = send(&t, "GET", "/report", "", None).await;
    let start = page.body.find(r#"<div id="map""#).expect("map element");
    let tag = page.body[start..].split('>').next().unwrap();
    // No web.map_center and no boundary file: all of Indonesia, as data- attributes map.js reads.
    assert!(
        tag.contains(r#"data-lat="-2.5" data-lon="118" data-zoom="4""#),
        "{tag}"
    );
    assert!(
        tag.contains(r#"aria-label="Peta lokasi kejadian""#),
        "{tag}"
    );
    assert!(
        !tag.contains("Ketuk"),
        "the hint is not an attribute: {tag}"
    );
    assert!(page
        .body
        .contains(r#"<p class="hint">Ketuk peta untuk menandai lokasi"#));
    assert!(page
        .body
        .contains(r#"id="map-status" aria-live="polite" data-done="Lokasi ditandai:""#));
}

/// The CSRF token in the page at `uri` fetched with `cookies`.
async fn token_in(t: &TestApp, uri: &str, cookies: &str) -> String {
    let p = send(t, "GET", uri, cookies, None).await;
    assert_eq!(p.status, StatusCode::OK, "{uri}: {}", p.body);
    let start = p.body.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    p.body[start..].split('"').next().unwrap().to_owned()
}

fn code_in(body: &str) -> String {
    let start = body.find(r#"id="tracking-code">"#).unwrap() + r#"id="tracking-code">"#.len();
    body[start..].split('<').next().unwrap().to_owned()
}

#[tokio::test]
async fn console_actions_through_forms() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let admin = t.admin().await;
    t.agency(&admin, "pemkot-kupang", None, "city").await;
    t.agency(&admin, "dinas-pupr", Some("pemkot-kupang"), "office")
        .await;
    t.agency(&admin, "dinas-kesehatan", Some("pemkot-kupang"), "office")
        .await;
    t.user(
        &admin,
        "petugas.kes",
        "agency_officer",
        Some("dinas-kesehatan"),
    )
    .await;

    // A citizen files; the admin logs in through the form.
    let (seed, token) = csrf(&t).await;
    let filed = send(
        &t,
        "POST",
        "/report",
        &seed,
        Some(&report_form(&token, "Jalan berlubang di Oebobo", "")),
    )
    .await;
    let code = code_in(&filed.body);
    let track = filed
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lapor_track="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let citizen = format!("{seed}; {track}");

    let bad = send(
        &t,
        "POST",
        "/officer/login",
        &seed,
        Some(&format!(
            "csrf={token}&username=admin&password=salah-sekali"
        )),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.body.contains("kata sandi salah"));
    let login = send(
        &t,
        "POST",
        "/officer/login",
        &seed,
        Some(&format!(
            "csrf={token}&username=admin&password=sandi-kota-kupang-1"
        )),
    )
    .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    let session = login.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let staff = format!("{seed}; {session}");
    let detail = format!("/officer/reports/{code}");
    // The old, logged-out token no longer works once logged in.
    let stale = send(
        &t,
        "POST",
        &format!("{detail}/hold"),
        &staff,
        Some(&format!("csrf={token}&note=x")),
    )
    .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    let tok = token_in(&t, &detail, &staff).await;

    // Hold with a question; the citizen answers with the secret cookie.
    let held = send(
        &t,
        "POST",
        &format!("{detail}/hold"),
        &staff,
        Some(&format!("csrf={tok}&note=Di+mana+persisnya%3F")),
    )
    .await;
    assert_eq!(held.status, StatusCode::SEE_OTHER);
    let ctok = token_in(&t, &format!("/track/{code}"), &citizen).await;
    let page = send(&t, "GET", &format!("/track/{code}"), &citizen, None).await;
    assert!(page.body.contains("Di mana persisnya?"));
    let sup = send(
        &t,
        "POST",
        &format!("/track/{code}/supplement"),
        &citizen,
        Some(&format!("csrf={ctok}&note=Depan+SD+Inpres")),
    )
    .await;
    assert_eq!(sup.status, StatusCode::SEE_OTHER);
    // Without the secret the same action is refused with a message.
    let (other_seed, other_tok) = csrf(&t).await;
    let refused = send(
        &t,
        "POST",
        &format!("/track/{code}/supplement"),
        &other_seed,
        Some(&format!("csrf={other_tok}&note=x")),
    )
    .await;
    // A refusal is a 4xx with the page and its message, never a 200 (issue 17).
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused
        .body
        .contains("Kode rahasia laporan tidak ada atau salah"));

    // Verify without an agency: the page comes back with the reason.
    let none = send(
        &t,
        "POST",
        &format!("{detail}/verify"),
        &staff,
        Some(&format!("csrf={tok}&agency_id=")),
    )
    .await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.body.contains("instansi tidak dikenal"));
    let ok = send(
        &t,
        "POST",
        &format!("{detail}/verify"),
        &staff,
        Some(&format!(
            "csrf={tok}&agency_id=dinas-pupr&category=infrastruktur&confidential=1"
        )),
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    // Re-disposition to the health office; its officer now has it in the inbox.
    let moved = send(
        &t,
        "POST",
        &format!("{detail}/transfer"),
        &staff,
        Some(&format!(
            "csrf={tok}&agency_id=dinas-kesehatan&note=Puskesmas"
        )),
    )
    .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER);
    let kes = t.login("petugas.kes", "password-1234").await;
    let inbox = send(&t, "GET", "/officer", &format!("lapor_session={kes}"), None).await;
    assert!(inbox.body.contains(&code));
    let view: serde_json::Value = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&admin),
            None,
            None,
        )
        .await
        .body;
    assert_eq!(view["agency_id"], "dinas-kesehatan");
    assert_eq!(view["confidential"], true);
    assert_eq!(view["status"], "verified");

    // Archive as a duplicate of an unknown report: refused and named; an unknown action: 404 page.
    let dup = send(
        &t,
        "POST",
        &format!("{detail}/archive"),
        &staff,
        Some(&format!(
            "csrf={tok}&reason=duplicate&duplicate_of=KPG-0000000000"
        )),
    )
    .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.body.contains("laporan asli tidak ditemukan"));
    let unknown = send(
        &t,
        "POST",
        &format!("{detail}/explode"),
        &staff,
        Some(&format!("csrf={tok}")),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Logging out ends the session.
    let out = send(
        &t,
        "POST",
        "/officer/logout",
        &staff,
        Some(&format!("csrf={tok}")),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = send(&t, "GET", "/officer", &staff, None).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn unknown_pages_and_odd_queries() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let page = send(&t, "GET", "/tidak-ada", "", None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Halaman tidak ditemukan"));
    let api = send(&t, "GET", "/api/v1/tidak-ada", "", None).await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(api.body.contains("route_not_found"));
    let odd = send(
        &t,
        "GET",
        "/reports?offset=abc&status=nope&order=x",
        "",
        None,
    )
    .await;
    assert_eq!(odd.status, StatusCode::OK);
}

#[tokio::test]
async fn dashboard_counts_per_agency() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let admin = t.admin().await;
    t.agency(&admin, "pemkot-kupang", None, "city").await;
    t.agency(&admin, "dinas-pupr", Some("pemkot-kupang"), "office")
        .await;
    t.agency(&admin, "dinas-kesehatan", Some("pemkot-kupang"), "office")
        .await;
    let (seed, token) = csrf(&t).await;
    let filed = send(
        &t,
        "POST",
        "/report",
        &seed,
        Some(&report_form(&token, "Jalan berlubang di Oebobo", "")),
    )
    .await;
    let code = code_in(&filed.body);
    t.req(
        "POST",
        &format!("/api/v1/reports/{code}/verify"),
        Some(&admin),
        None,
        Some(serde_json::json!({"agency_id": "dinas-pupr"})),
    )
    .await;
    let session = format!("lapor_session={admin}");
    let received = |n: i64| format!("<b>{n}</b>laporan diterima");
    let all = send(&t, "GET", "/officer/dashboard", &session, None).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.body.contains(&received(1)), "{}", all.body);
    // An agency's figures cover its whole subtree: the city counts its office's report.
    let city = send(
        &t,
        "GET",
        "/officer/dashboard?agency_id=pemkot-kupang",
        &session,
        None,
    )
    .await;
    assert!(city.body.contains(&received(1)));
    let kes = send(
        &t,
        "GET",
        "/officer/dashboard?agency_id=dinas-kesehatan",
        &session,
        None,
    )
    .await;
    assert!(kes.body.contains(&received(0)), "{}", kes.body);
    let pupr = send(
        &t,
        "GET",
        "/officer/dashboard?agency_id=dinas-pupr",
        &session,
        None,
    )
    .await;
    assert!(pupr.body.contains(&received(1)));
    assert!(pupr.body.contains("<svg class=\"chart\""));
}

/// Sends raw body bytes with a content type.
async fn send_bytes(
    t: &TestApp,
    uri: &str,
    cookies: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Page {
    let req = Request::builder()
        .method("POST")
        .uri(uri)
        .header("cookie", cookies)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let resp = lapor_node::http::router(t.app.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn reports_held(t: &TestApp) -> i64 {
    let f = lapor_node::domain::ReportFilter {
        limit: 200,
        ..Default::default()
    };
    t.store.report_list(&f).await.unwrap().1
}

#[tokio::test]
async fn invalid_utf8_and_invalid_reporter_input_are_4xx() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let (cookie, token) = csrf(&t).await;

    // Multipart: a text field with bytes that are not UTF-8 is a 422 naming the field; nothing is stored.
    let boundary = "XyZbOuNdArY";
    let mut body = Vec::new();
    for (name, value) in [
        ("csrf", token.as_bytes().to_vec()),
        ("kind", b"complaint".to_vec()),
        ("title", b"Jalan rusak di Oebobo".to_vec()),
        (
            "body",
            b"Lubang besar \xff\xfe di depan sekolah dasar".to_vec(),
        ),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(&value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let p = send_bytes(
        &t,
        "/report",
        &cookie,
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(
        p.body.contains("`body`") && p.body.contains("UTF-8"),
        "{}",
        p.body
    );
    // The same in a urlencoded form (percent-encoded bytes that are not UTF-8).
    let form = format!("{}%FF", report_form(&token, "Jalan rusak di Oebobo", ""));
    let p = send_bytes(
        &t,
        "/report",
        &cookie,
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert_eq!(reports_held(&t).await, 0, "nothing stored");

    // A report, then the reporter's forms on the track page: invalid input re-renders the page with the
    // error and a 4xx, and changes nothing.
    let created = send(
        &t,
        "POST",
        "/report",
        &cookie,
        Some(&report_form(&token, "Jalan rusak", "")),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let track_cookie = created
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lapor_track="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let code = track_cookie
        .trim_start_matches("lapor_track=")
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let cookies = format!("{cookie}; {track_cookie}");
    let before = send(&t, "GET", &format!("/track/{code}"), &cookies, None).await;
    assert_eq!(before.status, StatusCode::OK);
    let report = t
        .store
        .report_by_tracking_code(&code)
        .await
        .unwrap()
        .unwrap();
    let entries = t.store.report_timeline(&report.id).await.unwrap().len();
    for (action, form, status) in [
        (
            "rate",
            format!("csrf={token}&score=lima"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "supplement",
            format!("csrf={token}&note="),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "reply",
            format!("csrf={token}&note={}", "x".repeat(4001)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let p = send(
            &t,
            "POST",
            &format!("/track/{code}/{action}"),
            &cookies,
            Some(&form),
        )
        .await;
        assert!(p.status.is_client_error(), "{action}: {}", p.status);
        if action == "rate" {
            assert_eq!(p.status, status);
            assert!(p.body.contains("Pilih nilai 1 sampai 5"), "{action}");
        }
        assert!(
            p.body.contains(r#"class="alert error""#),
            "{action}: {}",
            p.body
        );
    }
    assert_eq!(
        t.store.report_timeline(&report.id).await.unwrap().len(),
        entries,
        "nothing changed"
    );
    let after = send(&t, "GET", &format!("/track/{code}"), &cookies, None).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(reports_held(&t).await, 1);
}

#[tokio::test]
async fn officers_keep_their_contact_on_the_profile_page() {
    let t = test_app(Backend::Sqlite).await.unwrap();
    let admin = t.admin().await;
    t.agency(&admin, "dinas-pupr", None, "office").await;
    t.user(&admin, "petugas.pu", "agency_officer", Some("dinas-pupr"))
        .await;
    let (seed, token) = csrf(&t).await;
    let login = send(
        &t,
        "POST",
        "/officer/login",
        &seed,
        Some(&format!(
            "csrf={token}&username=petugas.pu&password=password-1234"
        )),
    )
    .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    let session = login.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let staff = format!("{seed}; {session}");
    // Not logged in: to the login page.
    let anon = send(&t, "GET", "/officer/profile", &seed, None).await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    let form = send(&t, "GET", "/officer/profile", &staff, None).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("Profil saya") && form.body.contains(r#"name="email""#));
    assert!(
        form.body.contains(r#"href="/officer/profile""#),
        "linked from the menu"
    );
    let tok = token_in(&t, "/officer/profile", &staff).await;

    // A bad address and number are named per field, with what was typed kept (escaped).
    let bad = send(
        &t,
        "POST",
        "/officer/profile",
        &staff,
        Some(&format!(
            "csrf={tok}&email={}&phone=12&notices=1",
            enc("budi<script>@pupr")
        )),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body.contains("alamat email tidak valid"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("nomor telepon tidak valid"),
        "{}",
        bad.body
    );
    assert!(!bad.body.contains("budi<script>"), "escaped");
    // Without the CSRF token nothing changes.
    let forged = send(
        &t,
        "POST",
        "/officer/profile",
        &staff,
        Some("email=budi%40pupr.go.id&phone=&notices=1"),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let ok = send(
        &t,
        "POST",
        "/officer/profile",
        &staff,
        Some(&format!(
            "csrf={tok}&email={}&phone={}&notices=1",
            enc("budi.lay@kupangkota.go.id"),
            enc("0813 3900 4455")
        )),
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let saved = send(&t, "GET", "/officer/profile?saved=1", &staff, None).await;
    assert!(saved.body.contains("Profil disimpan"));
    assert!(saved.body.contains("budi.lay@kupangkota.go.id"));
    assert!(saved.body.contains("0813 3900 4455"));
    // Unticking the box turns the notices off; an empty field removes the address.
    let tok = token_in(&t, "/officer/profile", &staff).await;
    let off = send(
        &t,
        "POST",
        "/officer/profile",
        &staff,
        Some(&format!(
            "csrf={tok}&email=&phone={}",
            enc("0813 3900 4455")
        )),
    )
    .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    let after = send(&t, "GET", "/officer/profile", &staff, None).await;
    assert!(!after.body.contains("budi.lay@kupangkota.go.id"));
    assert!(!after.body.contains(r#"name="notices" value="1" checked"#));
}
