#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::items_after_statements,
    clippy::too_many_lines,
    clippy::format_push_string
)]
//! Attachments through the JSON API, in-process on SQLite and PostgreSQL: `multipart/form-data` on filing,
//! reply and supplement (the JSON object in part `json`, files in parts `files`), the same magic-byte checks
//! and metadata stripping as the web forms (PDFs included), 422 for text parts that are not UTF-8, and
//! nothing stored for bad input. Also the Open311 storage concern on both backends.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use lapor_node::storage::{Open311Key, RequestQuery};
use serde_json::{json, Value};
use support::TestApp;
use tower::ServiceExt;

const BOUNDARY: &str = "lapor-test-boundary-42";

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        let disp = match file_name {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn send(t: &TestApp, uri: &str, secret: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut req = Request::builder().method("POST").uri(uri).header(
        "content-type",
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    if let Some(s) = secret {
        req = req.header("x-tracking-secret", s);
    }
    let resp = lapor_node::http::router(t.app.clone())
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get_bytes(t: &TestApp, uri: &str, secret: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::builder().uri(uri);
    if let Some(s) = secret {
        req = req.header("x-tracking-secret", s);
    }
    let resp = lapor_node::http::router(t.app.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, bytes)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

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
    j.extend(segment(0xDA, &[1, 2, 3]));
    j.extend_from_slice(&[0x12, 0x34, 0xFF, 0xD9]);
    j
}

/// A hand-written one-page PDF (as a scanner writes it) whose document information names its author.
fn pdf_with_author(author: &str) -> Vec<u8> {
    let objs = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_owned(),
        format!("<< /Author ({author}) /Producer (Pemindai Kantor) >>"),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{o}\nendobj\n", i + 1));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objs.len() + 1
    ));
    for off in offsets {
        out.push_str(&format!("{off:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objs.len() + 1
    ));
    out.into_bytes()
}

fn report_json() -> Vec<u8> {
    json!({
        "kind": "complaint",
        "title": "Jalan berlubang di Oebobo",
        "body": "Jalan di depan SD Inpres Oebobo berlubang besar dan membahayakan pengendara motor.",
        "category": "infrastruktur",
        "reporter": {"name": "Maria Ndolu"}
    })
    .to_string()
    .into_bytes()
}

async fn total(t: &TestApp, admin: &str) -> i64 {
    let r = t
        .req("GET", "/api/v1/reports", Some(admin), None, None)
        .await;
    r.body["total"].as_i64().unwrap()
}

async fn files_through_the_api(t: TestApp) {
    let admin = t.admin().await;
    let photo = jpeg_with_exif();
    let pdf = pdf_with_author("Maria Ndolu");
    let json = report_json();
    let (st, created) = send(
        &t,
        "/api/v1/reports",
        None,
        multipart(&[
            ("json", None, &json),
            ("files", Some("jalan.jpg"), &photo),
            ("files", Some("surat.pdf"), &pdf),
        ]),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let code = created["tracking_code"].as_str().unwrap().to_owned();
    let secret = created["tracking_secret"].as_str().unwrap().to_owned();
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}/files"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let files = r.body.as_array().unwrap().clone();
    assert_eq!(files.len(), 2, "{}", r.body);
    for f in &files {
        assert_eq!(f["added_by"], "reporter");
        let (st, ct, bytes) = get_bytes(&t, f["url"].as_str().unwrap(), None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(ct, f["media_type"].as_str().unwrap());
        assert!(!contains(&bytes, b"Exif") && !contains(&bytes, b"GPSLatitude"));
        assert!(
            !contains(&bytes, b"Maria Ndolu") && !contains(&bytes, b"Pemindai"),
            "metadata stripped"
        );
        if ct == "application/pdf" {
            assert!(bytes.starts_with(b"%PDF-1.4"));
        }
    }

    // Bad input of every kind: nothing stored.
    let before = total(&t, &admin).await;
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (
            multipart(&[
                ("json", None, &json),
                ("files", Some("x.jpg"), b"<html>bukan foto</html>"),
            ]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "file type not accepted",
        ),
        (
            multipart(&[
                ("json", None, &json),
                ("files", Some("rusak.pdf"), b"%PDF-1.7 bukan dokumen"),
            ]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "damaged",
        ),
        (
            multipart(&[(
                "json",
                None,
                b"{\"kind\":\"complaint\",\"title\":\"Jalan \xff rusak\",\"body\":\"x\"}",
            )]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "UTF-8",
        ),
        (
            multipart(&[("files", Some("jalan.jpg"), &photo)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "json part",
        ),
        (
            multipart(&[("json", None, b"[1,2]")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "object",
        ),
        (
            multipart(&[("json", None, br#"{"kind":"pujian"}"#)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "json part does not fit",
        ),
        (
            multipart(&[("json", None, &json), ("foto", Some("jalan.jpg"), &photo)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown part foto",
        ),
        (
            multipart(&[
                ("json", None, &json),
                ("files", Some("1.jpg"), &photo),
                ("files", Some("2.jpg"), &photo),
                ("files", Some("3.jpg"), &photo),
                ("files", Some("4.jpg"), &photo),
                ("files", Some("5.jpg"), &photo),
            ]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at most 4 files",
        ),
        (
            b"--lapor-test-boundary-42\r\nrusak".to_vec(),
            StatusCode::BAD_REQUEST,
            "",
        ),
    ];
    for (body, status, needle) in cases {
        let (st, problem) = send(&t, "/api/v1/reports", None, body).await;
        assert_eq!(st, status, "{problem}");
        assert!(
            problem.to_string().contains(needle),
            "`{needle}` in {problem}"
        );
    }
    // A valid report with an invalid field: the files are not stored either.
    let bad = json!({"kind": "complaint", "title": "x", "body": "y"}).to_string();
    let (st, problem) = send(
        &t,
        "/api/v1/reports",
        None,
        multipart(&[
            ("json", None, bad.as_bytes()),
            ("files", Some("jalan.jpg"), &photo),
        ]),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(total(&t, &admin).await, before);
    // JSON bodies keep working, and keep their size cap.
    let r = t
        .raw(
            "POST",
            "/api/v1/reports",
            None,
            None,
            Some("x".repeat(70 * 1024)),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);

    // A supplement with a file: the admin holds the report, the reporter answers with a photo.
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/hold"),
            Some(&admin),
            None,
            Some(json!({"note": "Mohon kirim foto lokasi."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let other = pdf_with_author("Yohanes");
    let note = json!({"note": "Ini foto dan surat dari RT."}).to_string();
    let (st, view) = send(
        &t,
        &format!("/api/v1/reports/{code}/supplement"),
        Some(&secret),
        multipart(&[
            ("json", None, note.as_bytes()),
            ("files", Some("rt.pdf"), &other),
        ]),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "submitted");
    // Without the secret: refused, nothing attached.
    let (st, _) = send(
        &t,
        &format!("/api/v1/reports/{code}/supplement"),
        None,
        multipart(&[
            ("json", None, note.as_bytes()),
            ("files", Some("x.pdf"), &pdf_with_author("X")),
        ]),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // The same scan with another author in its metadata is, once stripped, the same file: stored once.
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}/files"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 2, "{}", r.body);

    // Reply with a file after the follow-up.
    t.agency(&admin, "dinas-pupr", None, "office").await;
    for (path, body) in [
        ("verify", json!({"agency_id": "dinas-pupr"})),
        ("respond", json!({"note": "Sudah ditambal."})),
    ] {
        let r = t
            .req(
                "POST",
                &format!("/api/v1/reports/{code}/{path}"),
                Some(&admin),
                None,
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    let reply = json!({"note": "Masih ada lubang di sisi kanan."}).to_string();
    let mut photo2 = jpeg_with_exif();
    photo2.extend_from_slice(b"beda");
    let (st, view) = send(
        &t,
        &format!("/api/v1/reports/{code}/reply"),
        Some(&secret),
        multipart(&[
            ("json", None, reply.as_bytes()),
            ("files", Some("kanan.jpg"), &photo2),
        ]),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "in_progress");
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}/files"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 3, "{}", r.body);
    // Unknown or malformed file ids are 404.
    let (st, _, _) = get_bytes(
        &t,
        &format!("/api/v1/reports/{code}/files/{}", "0".repeat(64)),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = get_bytes(
        &t,
        &format!("/api/v1/reports/{code}/files/..%2F..%2Fetc"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
both_backends!(files_through_the_api_test, files_through_the_api);

/// The Open311 storage concern on both backends: keys (hashed, revocable), the request query's filters,
/// the updates feed; confidential reports never come out of either.
async fn open311_storage(t: TestApp) {
    let store = &t.store;
    let key = Open311Key {
        id: "o311_abc".into(),
        key_hash: "h1".into(),
        app_name: "Aplikasi".into(),
        contact: None,
        created_by: "cli".into(),
        created_at: 1,
        revoked_at: None,
    };
    store.open311_key_create(&key).await.unwrap();
    assert!(
        store.open311_key_create(&key).await.is_err(),
        "ids and hashes are unique"
    );
    assert_eq!(
        store.open311_key_by_hash("h1").await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(store.open311_key_by_hash("h2").await.unwrap(), None);
    assert!(store.open311_key_revoke("o311_abc", 5).await.unwrap());
    assert!(
        !store.open311_key_revoke("o311_abc", 6).await.unwrap(),
        "revoked once"
    );
    assert!(!store.open311_key_revoke("o311_none", 6).await.unwrap());
    let listed = store.open311_key_list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(5));

    let admin = t.admin().await;
    let mut codes = Vec::new();
    for (cat, confidential) in [
        ("infrastruktur", false),
        ("kesehatan", false),
        ("infrastruktur", true),
    ] {
        let r = t
            .req(
                "POST",
                "/api/v1/reports",
                None,
                None,
                Some(json!({"kind": "complaint", "title": "Laporan warga Oebobo", "body": "Isi laporan warga yang cukup panjang.", "category": cat, "confidential": confidential})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        codes.push(r.body["tracking_code"].as_str().unwrap().to_owned());
    }
    let now = t.app.now();
    let q = |categories: Vec<&str>| RequestQuery {
        categories: categories.into_iter().map(str::to_owned).collect(),
        from: now - 1000,
        to: now + 1000,
        limit: 10,
        ..RequestQuery::default()
    };
    let all = store.open311_requests(&q(vec![])).await.unwrap();
    assert_eq!(all.len(), 2, "confidential never listed");
    let infra = store
        .open311_requests(&q(vec!["infrastruktur"]))
        .await
        .unwrap();
    assert_eq!(infra.len(), 1);
    assert_eq!(infra[0].tracking_code, codes[0]);
    let closed = store
        .open311_requests(&RequestQuery {
            statuses: vec![lapor_schemas::ReportStatus::Completed],
            ..q(vec![])
        })
        .await
        .unwrap();
    assert!(closed.is_empty());
    let later = store
        .open311_requests(&RequestQuery {
            from: now + 1,
            to: now + 1000,
            ..q(vec![])
        })
        .await
        .unwrap();
    assert!(later.is_empty(), "the window applies");
    let by_code = store
        .open311_requests(&RequestQuery {
            tracking_codes: codes.clone(),
            limit: 10,
            ..RequestQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_code.len(),
        2,
        "by code: still never the confidential one"
    );
    let limited = store
        .open311_requests(&RequestQuery {
            limit: 1,
            ..q(vec![])
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);

    // Updates: entries after the filing, of non-confidential reports, in the window.
    for c in [&codes[0], &codes[2]] {
        let r = t
            .req(
                "POST",
                &format!("/api/v1/reports/{c}/hold"),
                Some(&admin),
                None,
                Some(json!({"note": "Mohon lengkapi."})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let updates = store
        .open311_updates(now - 1000, now + 1000, 10)
        .await
        .unwrap();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].seq, 2);
    assert!(store
        .open311_updates(now + 1, now + 1000, 10)
        .await
        .unwrap()
        .is_empty());
}
both_backends!(open311_storage_test, open311_storage);
