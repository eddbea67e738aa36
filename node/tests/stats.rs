#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::items_after_statements,
    clippy::too_many_lines,
    clippy::many_single_char_names
)]
//! Accountability statistics over a known history, through the JSON API, on SQLite and PostgreSQL: December
//! 2026 in WIB with the weekends and the Christmas holidays (24 and 25 December, 1 and 5 January), a reopened
//! report, an archived one, one on hold, a confidential one, one still within its verification deadline, and
//! one each in November and January outside the period. Every figure is checked exactly, for the admin, an
//! agency's executive and the public; then the recap as CSV and PDF and the monthly job.

mod support;

use axum::http::StatusCode;
use chrono::DateTime;
use serde_json::{json, Value};
use support::TestApp;

fn at(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
}

struct History {
    admin: String,
    exec_pupr: String,
    exec_kes: String,
}

async fn file(t: &TestApp, when: &str, title: &str, extra: Value) -> (String, String) {
    t.clock.set(at(when));
    let mut body = json!({
        "kind": "complaint",
        "title": title,
        "body": "Laporan uji statistik dengan isi yang cukup panjang untuk diterima.",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (
        r.body["tracking_code"].as_str().unwrap().to_owned(),
        r.body["tracking_secret"].as_str().unwrap().to_owned(),
    )
}

async fn act(
    t: &TestApp,
    when: &str,
    who: Option<&str>,
    secret: Option<&str>,
    code: &str,
    action: &str,
    body: Value,
) {
    t.clock.set(at(when));
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/{action}"),
            who,
            secret,
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{action} {code}: {}", r.body);
}

/// Builds the history; the clock ends on Monday 4 January 2027 12:00 WIB.
async fn history(t: &TestApp) -> History {
    let admin = t.admin().await;
    t.agency(&admin, "pemkot-kupang", None, "city").await;
    t.agency(&admin, "dinas-pupr", Some("pemkot-kupang"), "office")
        .await;
    t.agency(&admin, "dinas-kesehatan", Some("pemkot-kupang"), "office")
        .await;
    let pupr = t
        .user(&admin, "petugas.pupr", "agency_officer", Some("dinas-pupr"))
        .await;
    let kes = t
        .user(
            &admin,
            "petugas.kes",
            "agency_officer",
            Some("dinas-kesehatan"),
        )
        .await;
    let exec_pupr = t
        .user(&admin, "kepala.pupr", "executive", Some("dinas-pupr"))
        .await;
    let exec_kes = t
        .user(&admin, "kepala.kes", "executive", Some("dinas-kesehatan"))
        .await;
    let (a, b, c) = (
        Some(admin.as_str()),
        Some(pupr.as_str()),
        Some(kes.as_str()),
    );
    let pu = json!({"agency_id": "dinas-pupr"});
    let dk = json!({"agency_id": "dinas-kesehatan"});
    let note = json!({"note": "Sudah ditindaklanjuti oleh petugas di lapangan."});

    // Previous period (November): one report, never touched.
    file(
        t,
        "2026-11-23T09:00:00+07:00",
        "Lampu jalan mati",
        json!({}),
    )
    .await;

    // C: Tue 1 Dec, verified Thu 10 Dec (7 working days: late), to health; never answered (late by 4 Jan).
    let (c_code, _) = file(
        t,
        "2026-12-01T09:00:00+07:00",
        "Puskesmas tutup",
        json!({"category": "kesehatan"}),
    )
    .await;
    act(
        t,
        "2026-12-10T10:00:00+07:00",
        a,
        None,
        &c_code,
        "verify",
        dk.clone(),
    )
    .await;
    // D: Wed 2 Dec, archived as spam the next day.
    let (d_code, _) = file(t, "2026-12-02T09:00:00+07:00", "Iklan", json!({})).await;
    act(
        t,
        "2026-12-03T09:00:00+07:00",
        a,
        None,
        &d_code,
        "archive",
        json!({"reason": "spam"}),
    )
    .await;
    // B: Fri 4 Dec 16:00, verified Mon 7 Dec (1 working day), first follow-up Fri 18 Dec (9: late), the
    // reporter's reply reopens it.
    let (b_code, b_secret) = file(
        t,
        "2026-12-04T16:00:00+07:00",
        "Jalan berlubang",
        json!({"category": "infrastruktur", "agency_id": "dinas-pupr", "region_code": "53.71.01"}),
    )
    .await;
    act(
        t,
        "2026-12-07T10:00:00+07:00",
        a,
        None,
        &b_code,
        "verify",
        pu.clone(),
    )
    .await;
    act(
        t,
        "2026-12-08T10:00:00+07:00",
        b,
        None,
        &b_code,
        "acknowledge",
        json!({}),
    )
    .await;
    act(
        t,
        "2026-12-18T10:00:00+07:00",
        b,
        None,
        &b_code,
        "respond",
        note.clone(),
    )
    .await;
    act(
        t,
        "2026-12-19T10:00:00+07:00",
        None,
        Some(&b_secret),
        &b_code,
        "reply",
        json!({"note": "Masih berlubang."}),
    )
    .await;
    // H: confidential, Tue 8 Dec, verified the same day (0), answered Wed 9 Dec (1), accepted, rated 2.
    let (h_code, h_secret) = file(
        t,
        "2026-12-08T08:00:00+07:00",
        "Pungutan liar",
        json!({"confidential": true, "region_code": "53.71.02"}),
    )
    .await;
    act(
        t,
        "2026-12-08T11:00:00+07:00",
        a,
        None,
        &h_code,
        "verify",
        pu.clone(),
    )
    .await;
    act(
        t,
        "2026-12-08T13:00:00+07:00",
        b,
        None,
        &h_code,
        "acknowledge",
        json!({}),
    )
    .await;
    act(
        t,
        "2026-12-09T10:00:00+07:00",
        b,
        None,
        &h_code,
        "respond",
        note.clone(),
    )
    .await;
    act(
        t,
        "2026-12-09T12:00:00+07:00",
        None,
        Some(&h_secret),
        &h_code,
        "accept",
        json!({}),
    )
    .await;
    act(
        t,
        "2026-12-09T12:30:00+07:00",
        None,
        Some(&h_secret),
        &h_code,
        "rate",
        json!({"score": 2}),
    )
    .await;
    // G: an aspiration, Thu 10 Dec, verified Fri 11 Dec (1), answered Thu 17 Dec (4: on time), waiting.
    let (g_code, _) = file(
        t,
        "2026-12-10T09:00:00+07:00",
        "Usul taman kota",
        json!({"kind": "aspiration", "category": "kesehatan"}),
    )
    .await;
    act(
        t,
        "2026-12-11T09:00:00+07:00",
        a,
        None,
        &g_code,
        "verify",
        dk.clone(),
    )
    .await;
    act(
        t,
        "2026-12-14T09:00:00+07:00",
        c,
        None,
        &g_code,
        "acknowledge",
        json!({}),
    )
    .await;
    act(
        t,
        "2026-12-17T09:00:00+07:00",
        c,
        None,
        &g_code,
        "respond",
        note.clone(),
    )
    .await;
    // E: Mon 14 Dec, put on hold the next day (unverified: late by 4 Jan).
    let (e_code, _) = file(t, "2026-12-14T09:00:00+07:00", "Sampah menumpuk", json!({})).await;
    act(
        t,
        "2026-12-15T09:00:00+07:00",
        a,
        None,
        &e_code,
        "hold",
        json!({"note": "Mohon lampirkan foto lokasi."}),
    )
    .await;
    // A: Wed 23 Dec, verified Mon 28 Dec (1 working day across Christmas and the weekend), answered Wed 30
    // Dec (2), accepted, rated 5.
    let (a_code, a_secret) = file(
        t,
        "2026-12-23T09:00:00+07:00",
        "Saluran air tersumbat",
        json!({"category": "infrastruktur", "region_code": "53.71.01"}),
    )
    .await;
    act(
        t,
        "2026-12-28T10:00:00+07:00",
        a,
        None,
        &a_code,
        "verify",
        pu.clone(),
    )
    .await;
    act(
        t,
        "2026-12-29T10:00:00+07:00",
        b,
        None,
        &a_code,
        "acknowledge",
        json!({}),
    )
    .await;
    act(
        t,
        "2026-12-30T10:00:00+07:00",
        b,
        None,
        &a_code,
        "respond",
        note.clone(),
    )
    .await;
    act(
        t,
        "2026-12-31T10:00:00+07:00",
        None,
        Some(&a_secret),
        &a_code,
        "accept",
        json!({}),
    )
    .await;
    act(
        t,
        "2026-12-31T10:30:00+07:00",
        None,
        Some(&a_secret),
        &a_code,
        "rate",
        json!({"score": 5}),
    )
    .await;
    // F: Tue 29 Dec, not verified: 3 working days by Mon 4 Jan (1 Jan is a holiday), not late yet.
    file(t, "2026-12-29T09:00:00+07:00", "Trotoar rusak", json!({})).await;
    // January: outside the period.
    file(t, "2027-01-04T08:00:00+07:00", "Banjir", json!({})).await;
    t.clock.set(at("2027-01-04T12:00:00+07:00"));
    History {
        admin,
        exec_pupr,
        exec_kes,
    }
}

fn row<'a>(rows: &'a Value, key: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {rows}"))
}

fn counts(v: &Value) -> Vec<(String, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn figures_are_exact(t: TestApp) {
    let h = history(&t).await;
    let r = t
        .req(
            "GET",
            "/api/v1/stats/recap/2026-12",
            Some(&h.admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let total = &r.body["total"];
    let expect = json!({
        "received": 8, "unverified": 1, "verified": 5, "on_hold": 1, "dispositioned": 1, "in_progress": 1,
        "responded": 1, "completed": 2, "archived": 1, "never_answered": 3, "handled": 4,
        "handled_ratio": 0.571, "completed_ratio": 0.286,
        "verification_days_median": 1, "verification_days_p90": 7,
        "followup_days_median": 2, "followup_days_p90": 9,
        "verified_within_3_ratio": 0.667, "answered_within_5_ratio": 0.6,
        "escalated": 0, "reopened": 1, "rated": 2, "rating_mean": 3.5, "satisfied_ratio": 0.5,
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&total[k], v, "total.{k} in {total}");
    }
    assert_eq!(
        counts(&total["by_category"]),
        vec![
            ("infrastruktur".into(), 2),
            ("kesehatan".into(), 2),
            ("none".into(), 4)
        ]
    );
    assert_eq!(
        counts(&total["by_kind"]),
        vec![("aspiration".into(), 1), ("complaint".into(), 7)]
    );
    assert_eq!(counts(&total["by_channel"]), vec![("web".into(), 8)]);
    assert_eq!(r.body["previous"]["received"], 1);
    assert_eq!(r.body["label"], "Desember 2026");
    let daily = counts(&r.body["daily"]);
    assert_eq!(daily.len(), 31);
    assert_eq!(daily[0], ("2026-12-01".into(), 1));
    assert_eq!(daily[7], ("2026-12-08".into(), 1));
    assert_eq!(daily.iter().map(|d| d.1).sum::<i64>(), 8);

    // Per agency (with its subtree): the health office (C, G) is below 60% and comes first.
    let agencies = &r.body["agencies"];
    assert_eq!(agencies[0]["key"], "dinas-kesehatan");
    let kes = row(agencies, "dinas-kesehatan");
    assert_eq!(
        (kes["received"].as_i64(), kes["handled"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(kes["handled_ratio"], 0.5);
    assert_eq!(kes["rating"], "kurang");
    assert_eq!(kes["flag_below_60"], true);
    let pupr = row(agencies, "dinas-pupr");
    assert_eq!(
        (pupr["received"].as_i64(), pupr["handled"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(pupr["rating"], "baik");
    assert_eq!(pupr["flag_below_60"], false);
    assert_eq!(pupr["verification_days_median"], 1);
    assert_eq!(pupr["followup_days_median"], 2);
    assert_eq!(pupr["reopened"], 1);
    let city = row(agencies, "pemkot-kupang");
    assert_eq!(
        (city["received"].as_i64(), city["handled"].as_i64()),
        (Some(5), Some(4))
    );
    assert_eq!(city["handled_ratio"], 0.8);
    assert_eq!(city["rating"], "baik");
    // The node row is the whole node; provinces by region code.
    assert_eq!(row(&r.body["nodes"], "kupangkota")["received"], 8);
    assert_eq!(row(&r.body["regions"], "53")["received"], 3);
    assert_eq!(row(&r.body["regions"], "-")["received"], 5);

    // The same rows from /stats/agencies, for a custom range.
    let r = t
        .req(
            "GET",
            "/api/v1/stats/agencies?from=2026-12-01&to=2026-12-31",
            Some(&h.admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["agencies"][0]["key"], "dinas-kesehatan");
    assert_eq!(row(&r.body["agencies"], "dinas-pupr")["received"], 3);
    // A week: only B (Fri 4) and D (Wed 2) and C (Tue 1) fall in 1-6 December.
    let r = t
        .req(
            "GET",
            "/api/v1/stats/agencies?from=2026-12-01&to=2026-12-06",
            Some(&h.admin),
            None,
            None,
        )
        .await;
    assert_eq!(row(&r.body["agencies"], "pemkot-kupang")["received"], 2);

    // An executive sees their subtree only; the confidential report is counted, never listed.
    let r = t
        .req(
            "GET",
            "/api/v1/stats/recap/2026-12",
            Some(&h.exec_pupr),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["total"]["received"], 3, "{}", r.body);
    assert_eq!(r.body["agencies"].as_array().unwrap().len(), 1);
    let r = t
        .req(
            "GET",
            "/api/v1/stats/agencies?from=2026-12-01&to=2026-12-31",
            Some(&h.exec_kes),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["agencies"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["agencies"][0]["flag_below_60"], true);
    // Narrowing to an agency outside one's subtree finds nothing.
    let r = t
        .req(
            "GET",
            "/api/v1/stats/recap/2026-12?agency_id=dinas-pupr",
            Some(&h.exec_kes),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The public counts public reports only: no confidential (H), no archived (D).
    let r = t
        .req("GET", "/api/v1/stats/recap/2026-12", None, None, None)
        .await;
    assert_eq!(r.body["total"]["received"], 6, "{}", r.body);
    assert_eq!(r.body["total"]["archived"], 0);
    assert_eq!(r.body["total"]["rated"], 1);
    assert!(r.body["freshness"].as_array().unwrap().is_empty());
    // The public may not see emerging issues.
    let r = t
        .req("GET", "/api/v1/stats/emerging", None, None, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .req(
            "GET",
            "/api/v1/stats/emerging?from=2026-12-01&to=2026-12-31",
            Some(&h.admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.as_array().is_some());

    // Bad periods are named.
    let r = t
        .req("GET", "/api/v1/stats/recap/2026-13", None, None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "period");
    assert!(
        r.body
            .to_string()
            .contains("bulan 13 tidak ada / invalid period: there is no month 13"),
        "{}",
        r.body
    );
    let r = t
        .req(
            "GET",
            "/api/v1/stats/agencies?from=2026-12-31&to=2026-12-01",
            None,
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body
            .to_string()
            .contains("periode tidak valid: 'to' sebelum 'from'"),
        "{}",
        r.body
    );
}

async fn recap_files_and_monthly_job(t: TestApp) {
    let h = history(&t).await;
    // CSV by suffix.
    let r = t
        .raw(
            "GET",
            "/api/v1/stats/recap/2026-12.csv",
            Some(&h.admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("text/csv"), "{}", r.content_type);
    let csv = r.body.as_str().unwrap().to_owned();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("tingkat,kode,nama,penilaian,di_bawah_60,diterima"));
    assert!(lines[1].starts_with("total,2026-12,"), "{}", lines[1]);
    assert!(
        lines[1].contains(",8,1,5,1,1,1,1,2,1,3,4,0.571,0.286,1,7,2,9,0.667,0.600,0,1,2,3.50"),
        "{}",
        lines[1]
    );
    assert!(
        csv.contains("instansi,dinas-kesehatan,Instansi dinas-kesehatan,kurang,ya,2,"),
        "{csv}"
    );
    // PDF by Accept: a real PDF with the Indonesian title in its text.
    let req = axum::http::Request::builder()
        .uri("/api/v1/stats/recap/2026-12")
        .header("authorization", format!("Bearer {}", h.admin))
        .header("accept", "application/pdf")
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt;
    let resp = lapor_node::http::router(t.app.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(bytes.ends_with(b"%%EOF") || bytes.ends_with(b"%%EOF\n"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("(Rekapitulasi Bulanan Pengelolaan Pengaduan)"));
    assert!(text.contains("Instansi dinas-kesehatan"));
    page_one_is_drawn(&bytes);
    // Both were kept for the admin.
    let r = t
        .req("GET", "/api/v1/stats/recaps", Some(&h.admin), None, None)
        .await;
    let kept: Vec<String> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            format!(
                "{}/{}/{}",
                k["period"].as_str().unwrap(),
                k["scope"].as_str().unwrap(),
                k["format"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kept, vec!["2026-12/node/csv", "2026-12/node/pdf"]);
    // The public keeps nothing and sees nothing kept.
    let r = t.req("GET", "/api/v1/stats/recaps", None, None, None).await;
    assert_eq!(r.body, json!([]));

    // The monthly job: Monday 4 January 2027 is the first working day (1 January is a holiday, then the
    // weekend). Before 07:00 nothing; after, December and the fourth quarter, once.
    t.clock.set(at("2027-01-04T06:00:00+07:00"));
    assert_eq!(t.app.recap_due().await.unwrap(), 0);
    t.clock.set(at("2027-01-04T08:00:00+07:00"));
    // December's files exist already (made on demand above): only the quarter's two are new.
    assert_eq!(t.app.recap_due().await.unwrap(), 2);
    assert_eq!(t.app.recap_due().await.unwrap(), 0);
    t.clock.set(at("2027-01-05T08:00:00+07:00"));
    assert_eq!(
        t.app.recap_due().await.unwrap(),
        0,
        "only on the first working day"
    );
    let r = t
        .req("GET", "/api/v1/stats/recaps", Some(&h.admin), None, None)
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 4);
    // The kept quarterly evaluation downloads from the officer console.
    let r = t
        .raw(
            "GET",
            "/officer/recaps/2026-Q4/node/pdf",
            Some(&format!("cookie:{}", h.admin)),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type, "application/pdf");
    assert!(r
        .body
        .as_str()
        .unwrap()
        .contains("(Evaluasi Triwulanan Pengelolaan Pengaduan)"));
    // An agency's executive does not get the whole node's recap.
    let r = t
        .raw(
            "GET",
            "/officer/recaps/2026-Q4/node/pdf",
            Some(&format!("cookie:{}", h.exec_kes)),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Renders page 1 of a PDF with poppler's `pdftoppm` (scripts/test-deps installs poppler-utils) and checks
/// that a reader sees a page: mostly white paper, dark text on a good part of it, and the red of the flagged
/// agency's bar. With `LAPOR_SCREENSHOTS=1` the page is also written to docs/screenshots/recap-pdf.png.
fn page_one_is_drawn(pdf: &[u8]) {
    let dir = std::env::temp_dir().join(format!(
        "lapor-recap-pdf-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("recap.pdf");
    std::fs::write(&file, pdf).unwrap();
    let render = |args: &[&str], out: &std::path::Path| {
        let status = std::process::Command::new("pdftoppm")
            .args(args)
            .args(["-f", "1", "-l", "1", "-singlefile"])
            .arg(&file)
            .arg(out)
            .status()
            .expect("pdftoppm runs (install poppler-utils: scripts/test-deps)");
        assert!(status.success(), "pdftoppm failed on the recap PDF");
    };
    render(&["-r", "50"], &dir.join("page"));
    let ppm = std::fs::read(dir.join("page.ppm")).unwrap();
    // Binary PPM: "P6\n<width> <height>\n255\n" then RGB bytes.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8(ppm[start..at].to_vec()).unwrap());
    }
    let pixels = &ppm[at + 1..];
    assert_eq!(fields[0], "P6");
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    // A4 portrait at 50 dpi: 413 x 585.
    assert!(
        (410..=416).contains(&w) && (582..=588).contains(&h),
        "{w}x{h}"
    );
    assert_eq!(pixels.len(), w * h * 3);
    let (mut white, mut dark, mut red) = (0, 0, 0);
    for p in pixels.chunks(3) {
        let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
        if r > 240 && g > 240 && b > 240 {
            white += 1;
        } else if r < 100 && g < 100 && b < 100 {
            dark += 1;
        } else if r > 150 && g < 110 && b < 110 {
            red += 1;
        }
    }
    let n = w * h;
    assert!(white * 100 > n * 60, "mostly paper: {white} of {n} white");
    assert!(
        dark * 1000 > n * 5,
        "text and lines are drawn: {dark} of {n} dark"
    );
    assert!(
        red > 30,
        "the flagged agency is drawn in red: {red} red pixels"
    );
    if std::env::var("LAPOR_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let shot =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots/recap-pdf");
        render(&["-png", "-r", "80"], &shot);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn web_pages_show_charts_tables_and_csv(t: TestApp) {
    let h = history(&t).await;
    let r = t
        .raw(
            "GET",
            "/stats?from=2026-12-01&to=2026-12-31",
            None,
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.body.as_str().unwrap();
    assert!(html.contains("<svg class=\"chart\""), "{html}");
    assert!(html.contains("role=\"img\""));
    assert!(html.contains("/stats/csv/agencies?from=2026-12-01&amp;to=2026-12-31"));
    assert!(
        !html.contains("Pungutan liar"),
        "a confidential report is never named"
    );
    let r = t
        .raw(
            "GET",
            "/stats/csv/daily?from=2026-12-01&to=2026-12-31",
            None,
            None,
            None,
        )
        .await;
    assert!(r.content_type.starts_with("text/csv"));
    let csv = r.body.as_str().unwrap();
    assert!(
        csv.starts_with("tanggal,diterima\r\n2026-12-01,1\r\n"),
        "{csv}"
    );
    let r = t.raw("GET", "/stats/csv/nope", None, None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let _ = h;
}

both_backends!(figures, figures_are_exact);
both_backends!(recap_files, recap_files_and_monthly_job);
both_backends!(web_pages, web_pages_show_charts_tables_and_csv);
