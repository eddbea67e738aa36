#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::items_after_statements,
    clippy::too_many_lines
)]
//! The JSON API driven in-process (`router(app).oneshot(..)`) on SQLite and PostgreSQL: whole lifecycles,
//! deadlines across weekends and holidays, agency scoping, privacy, bad input.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use support::{TestApp, DAY, HOUR};

/// Wednesday 2026-12-23 10:00 WIB: Thursday 24 (cuti bersama) and Friday 25 (Natal) are holidays.
const BEFORE_CHRISTMAS: i64 = 1_797_994_800_000;

fn report_body() -> Value {
    json!({
        "kind": "complaint",
        "title": "Jalan berlubang di Oebobo",
        "body": "Jalan di depan SD Inpres Oebobo berlubang besar dan membahayakan pengendara motor.",
        "category": "infrastruktur",
        "region_code": "53.71.01",
        "location": {"lat": -10.1772, "lon": 123.607},
        "reporter": {"name": "Maria Ndolu", "phone": "+6281234567890"}
    })
}

/// Admin, two agencies under the city, an officer for each.
async fn setup(t: &TestApp) -> (String, String, String) {
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
    (admin, pupr, kes)
}

async fn whole_lifecycle(t: TestApp) {
    let (admin, pupr, kes) = setup(&t).await;
    t.clock.set(BEFORE_CHRISTMAS);
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(report_body()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let code = r.body["tracking_code"].as_str().unwrap().to_owned();
    let secret = r.body["tracking_secret"].as_str().unwrap().to_owned();
    assert!(code.starts_with("KPG-"), "{code}");
    assert_eq!(r.body["status"], "submitted");
    assert!(r.body["id"].as_str().unwrap().starts_with("kupangkota:"));
    // Holidays on Thu and Fri, then the weekend: three working days end on Wednesday 30 December.
    assert_eq!(
        r.body["verification_due_at"],
        "2026-12-30T23:59:59.999+07:00"
    );

    // The public sees the report but not who filed it.
    let public = t
        .req("GET", &format!("/api/v1/reports/{code}"), None, None, None)
        .await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(public.body.get("reporter").is_none());
    assert_eq!(public.body["status_label"], "Belum terverifikasi");

    // Admin verifies and dispositions to Dinas PUPR on Monday 28 December.
    t.clock.set(BEFORE_CHRISTMAS + 5 * DAY);
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/verify"),
            Some(&admin),
            None,
            Some(json!({"agency_id": "dinas-pupr", "note": "Mohon segera ditangani"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "verified");
    assert_eq!(r.body["agency_id"], "dinas-pupr");
    // Five working days after Monday 28 Dec 2026: 29, 30, 31 Dec, (1 Jan New Year), 4, (5 Jan Isra Mikraj), 6 Jan.
    assert_eq!(
        r.body["deadlines"]["followup_due_at"],
        "2027-01-06T23:59:59.999+07:00"
    );
    assert_eq!(r.body["reporter"]["name"], "Maria Ndolu");

    // Another agency's officer cannot see or touch it.
    let other = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&kes),
            None,
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.code(), "report_not_found");
    let other = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/acknowledge"),
            Some(&kes),
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let list = t
        .req("GET", "/api/v1/reports", Some(&kes), None, None)
        .await;
    assert_eq!(list.body["total"], 0);
    let list = t
        .req(
            "GET",
            "/api/v1/reports?order=deadline",
            Some(&pupr),
            None,
            None,
        )
        .await;
    assert_eq!(list.body["total"], 1);

    // The right officer acknowledges and responds; sees the identity.
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/acknowledge"),
            Some(&pupr),
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.body["status"], "in_progress", "{}", r.body);
    assert_eq!(r.body["reporter"]["phone"], "+6281234567890");
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/respond"),
            Some(&pupr),
            None,
            Some(json!({"note": "Lubang sudah ditambal pada 29 Desember."})),
        )
        .await;
    assert_eq!(r.body["status"], "responded", "{}", r.body);

    // The reporter replies with the secret: back to the agency.
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/reply"),
            None,
            Some(&secret),
            Some(json!({"note": "Masih ada lubang kecil."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "in_progress");
    // Without the secret nobody can reply for them.
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/reply"),
            None,
            None,
            Some(json!({"note": "palsu"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "tracking_secret_invalid");
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/reply"),
            None,
            Some("WRONGSECRET"),
            Some(json!({"note": "palsu"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let responded_at = BEFORE_CHRISTMAS + 6 * DAY;
    t.clock.set(responded_at);
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/respond"),
            Some(&pupr),
            None,
            Some(json!({"note": "Sudah ditambal seluruhnya."})),
        )
        .await;
    assert_eq!(r.body["status"], "responded");
    // Ten working days after Tuesday 29 Dec: 30, 31 Dec, 4, 6, 7, 8, 11..14 Jan (1 and 5 Jan are holidays).
    assert_eq!(
        r.body["deadlines"]["autocomplete_at"],
        "2027-01-14T23:59:59.999+07:00"
    );

    // Nothing happens before the window closes; after it, the worker completes the report.
    t.clock.set(responded_at + 16 * DAY);
    t.app.run_deadlines().await.unwrap();
    let r = t
        .req("GET", &format!("/api/v1/reports/{code}"), None, None, None)
        .await;
    assert_eq!(r.body["status"], "responded");
    t.clock.set(responded_at + 17 * DAY);
    assert!(t.app.run_deadlines().await.unwrap() >= 1);
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            None,
            Some(&secret),
            None,
        )
        .await;
    assert_eq!(r.body["status"], "completed", "{}", r.body);
    assert_eq!(
        r.body["reporter"]["name"], "Maria Ndolu",
        "the reporter sees their own identity"
    );

    // The reporter rates it once.
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/rate"),
            None,
            Some(&secret),
            Some(json!({"score": 4, "comment": "Cukup cepat"})),
        )
        .await;
    assert_eq!(r.body["rating"]["score"], 4, "{}", r.body);
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/rate"),
            None,
            Some(&secret),
            Some(json!({"score": 5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "already_rated");

    // Every transition is on the timeline with its actor, oldest first.
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    let actions: Vec<&str> = r.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "created",
            "verified",
            "acknowledged",
            "responded",
            "replied",
            "responded",
            "auto_completed",
            "rated"
        ]
    );
    let timeline = r.body["timeline"].as_array().unwrap();
    assert_eq!(timeline[1]["actor"], "Admin Kota (admin)");
    assert_eq!(timeline[6]["actor"], "Sistem");
    assert!(timeline
        .iter()
        .enumerate()
        .all(|(i, e)| e["seq"] == json!(i + 1)));
    // The public does not see the admin's internal note to the agency, nor staff names.
    let public = t
        .req("GET", &format!("/api/v1/reports/{code}"), None, None, None)
        .await;
    assert!(public.body["timeline"][1].get("note").is_none());
    assert_eq!(public.body["timeline"][1]["actor"], "Admin");
}
both_backends!(whole_lifecycle_test, whole_lifecycle);

async fn overdue_and_escalation(t: TestApp) {
    let (admin, pupr, _) = setup(&t).await;
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(report_body()))
        .await;
    let code = r.body["tracking_code"].as_str().unwrap().to_owned();
    // Monday 09:00 + 3 working days = end of Thursday; on Friday it is overdue.
    t.clock.advance(4 * DAY);
    assert_eq!(t.app.run_deadlines().await.unwrap(), 1);
    assert_eq!(
        t.app.run_deadlines().await.unwrap(),
        0,
        "marking is done once"
    );
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["verification_overdue"], true);
    let overdue = t
        .req(
            "GET",
            "/api/v1/reports?overdue=true",
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(overdue.body["total"], 1);

    t.req(
        "POST",
        &format!("/api/v1/reports/{code}/verify"),
        Some(&admin),
        None,
        Some(json!({"agency_id": "dinas-pupr"})),
    )
    .await;
    t.clock.advance(8 * DAY);
    t.app.run_deadlines().await.unwrap();
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&pupr),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["followup_overdue"], true);
    assert_eq!(r.body["escalated"], false);
    t.clock.advance(60 * DAY);
    t.app.run_deadlines().await.unwrap();
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&pupr),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["escalated"], true);
    let last = r.body["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "escalated");
    let stats = t
        .req("GET", "/api/v1/stats", Some(&admin), None, None)
        .await;
    assert_eq!(stats.body["escalated"], 1);
    assert_eq!(stats.body["overdue"], 1);
}
both_backends!(overdue_and_escalation_test, overdue_and_escalation);

async fn hold_supplement_and_not_authority(t: TestApp) {
    let (admin, pupr, _) = setup(&t).await;
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(report_body()))
        .await;
    let (code, secret) = (
        r.body["tracking_code"].as_str().unwrap().to_owned(),
        r.body["tracking_secret"].as_str().unwrap().to_owned(),
    );
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/hold"),
            Some(&admin),
            None,
            Some(json!({"note": "Mohon sebutkan nama jalannya."})),
        )
        .await;
    assert_eq!(r.body["status"], "on_hold");
    // Ten days later the reporter answers: the verification clock starts again from then.
    t.clock.advance(10 * DAY);
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/supplement"),
            None,
            Some(&secret),
            Some(json!({"note": "Jl. Frans Seda"})),
        )
        .await;
    assert_eq!(r.body["status"], "submitted", "{}", r.body);
    // Thursday 3 Dec + 3 working days = Tuesday 8 Dec.
    assert_eq!(
        r.body["deadlines"]["verification_due_at"],
        "2026-12-08T23:59:59.999+07:00"
    );
    t.req(
        "POST",
        &format!("/api/v1/reports/{code}/verify"),
        Some(&admin),
        None,
        Some(json!({"agency_id": "dinas-pupr"})),
    )
    .await;
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/not-authority"),
            Some(&pupr),
            None,
            Some(json!({"note": "Jalan nasional, bukan wewenang kota."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "submitted");
    assert!(r.body.get("agency_id").is_none());
    assert_eq!(
        r.body["timeline"].as_array().unwrap().last().unwrap()["note"],
        "Jalan nasional, bukan wewenang kota."
    );
    // Back in the admin queue, out of the officer's view.
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&pupr),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Archive as duplicate of another report.
    let other = t
        .req("POST", "/api/v1/reports", None, None, Some(report_body()))
        .await;
    let other_code = other.body["tracking_code"].as_str().unwrap();
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{other_code}/archive"),
            Some(&admin),
            None,
            Some(json!({"reason": "duplicate"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["field"], "duplicate_of");
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{other_code}/archive"),
            Some(&admin),
            None,
            Some(json!({"reason": "duplicate", "duplicate_of": code})),
        )
        .await;
    assert_eq!(r.body["status"], "archived", "{}", r.body);
    assert_eq!(r.body["duplicate_of"], code.as_str());
    // Archived reports leave public lists.
    let list = t.req("GET", "/api/v1/reports", None, None, None).await;
    assert_eq!(list.body["total"], 1);
}
both_backends!(
    hold_supplement_and_not_authority_test,
    hold_supplement_and_not_authority
);

async fn privacy_rules(t: TestApp) {
    let (admin, pupr, _) = setup(&t).await;
    let auditor = t.user(&admin, "auditor", "auditor", None).await;
    // Anonymous: the identity is not even stored.
    let mut body = report_body();
    body["anonymous"] = json!(true);
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(body))
        .await;
    let anon_id = r.body["id"].as_str().unwrap().to_owned();
    assert!(t.store.report_identity(&anon_id).await.unwrap().is_none());
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{anon_id}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert!(r.body.get("reporter").is_none());

    // Confidential: invisible to the public, even in search, and without the secret.
    let mut body = report_body();
    body["confidential"] = json!(true);
    body["title"] = json!("Pungutan liar di puskesmas");
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(body))
        .await;
    let (code, secret) = (
        r.body["tracking_code"].as_str().unwrap().to_owned(),
        r.body["tracking_secret"].as_str().unwrap().to_owned(),
    );
    let r = t
        .req("GET", &format!("/api/v1/reports/{code}"), None, None, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.code(), "report_not_found");
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            None,
            Some("AAAAAAAAAAAAAAAAAAAAAAAAAA"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            None,
            Some(&secret),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t
        .req("GET", "/api/v1/reports?q=pungutan", None, None, None)
        .await;
    assert_eq!(r.body["total"], 0);
    let r = t
        .req(
            "GET",
            "/api/v1/reports?q=pungutan",
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["total"], 1);

    // Privacy only goes up; raising anonymity erases the identity; the auditor never sees identities.
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/privacy"),
            Some(&admin),
            None,
            Some(json!({"confidential": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "privacy_cannot_be_lowered");
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&auditor),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.get("reporter").is_none(),
        "auditors never see identities"
    );
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/verify"),
            Some(&admin),
            None,
            Some(json!({"agency_id": "dinas-pupr", "anonymous": true})),
        )
        .await;
    assert_eq!(r.body["anonymous"], true, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert!(t.store.report_identity(id).await.unwrap().is_none());
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&pupr),
            None,
            None,
        )
        .await;
    assert!(r.body.get("reporter").is_none());
}
both_backends!(privacy_rules_test, privacy_rules);

async fn bad_input_changes_nothing(t: TestApp) {
    let (admin, pupr, _) = setup(&t).await;
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(report_body()))
        .await;
    let code = r.body["tracking_code"].as_str().unwrap().to_owned();
    let before = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&admin),
            None,
            None,
        )
        .await
        .body;

    let r = t
        .raw(
            "POST",
            "/api/v1/reports",
            None,
            None,
            Some("{\"kind\": \"complaint\", ".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "malformed_json");
    assert_eq!(r.content_type, "application/problem+json");
    let mut body = report_body();
    body["colour"] = json!("red");
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "unknown_field");
    assert!(r.body["detail"].as_str().unwrap().contains("colour"));
    let mut body = report_body();
    body["body"] = json!("x".repeat(70 * 1024));
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.code(), "body_too_large");
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(json!({"kind": "complaint", "title": "x", "body": "", "location": {"lat": 91.0, "lon": 0.0}, "region_code": "5371", "reporter": {"email": "nope"}})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "validation_failed");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in [
        "title",
        "body",
        "location.lat",
        "region_code",
        "reporter.email",
    ] {
        assert!(fields.contains(&f), "{f} missing in {fields:?}");
    }
    let r = t.req("POST", "/api/v1/reports", None, None, Some(json!({"kind": "rumour", "title": "Judul laporan", "body": "Isi laporan yang panjang"}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "invalid_field");
    // A change whose signed event would exceed the 64 KiB cap is refused with a clear error, nothing stored:
    // a long CJK body is within the character limit, and a long emoji note on top of it is too much.
    let mut body = report_body();
    body["body"] = json!("中".repeat(19_000));
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.code());
    let long = r.body["tracking_code"].as_str().unwrap().to_owned();
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{long}/hold"),
            Some(&admin),
            None,
            Some(json!({"note": "😀".repeat(4000)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.code());
    assert_eq!(
        r.body["errors"][0]["code"], "too_large",
        "{}",
        r.body["errors"]
    );
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{long}/hold"),
            Some(&admin),
            None,
            Some(json!({"note": "x".repeat(4001)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.code());
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{long}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["status"], "submitted");
    assert_eq!(r.body["timeline"].as_array().unwrap().len(), 1);
    // Only a JSON object is a request body: `[]` is not an empty one.
    for (path, who) in [
        (format!("/api/v1/reports/{code}/hold"), Some(&admin)),
        (format!("/api/v1/reports/{code}/accept"), None),
        ("/api/v1/reports".to_owned(), None),
    ] {
        let r = t
            .raw(
                "POST",
                &path,
                who.map(String::as_str),
                None,
                Some("[]".into()),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(r.code(), "invalid_field", "{path}");
    }
    // Out-of-range list parameters are refused, as documented.
    for q in [
        "limit=-1",
        "limit=0",
        "limit=100000",
        "offset=-5",
        "order=random",
    ] {
        let r = t
            .req(
                "GET",
                &format!("/api/v1/reports?{q}"),
                Some(&admin),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.code(), "invalid_query", "{q}");
    }
    // Citizens cannot pretend to be an officer's phone log.
    let mut body = report_body();
    body["channel"] = json!("phone");
    let r = t
        .req("POST", "/api/v1/reports", None, None, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Illegal transitions and wrong roles.
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/respond"),
            Some(&admin),
            None,
            Some(json!({"note": "Sudah"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "illegal_transition");
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("Belum terverifikasi"));
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/verify"),
            None,
            None,
            Some(json!({"agency_id": "dinas-pupr"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/verify"),
            Some(&admin),
            None,
            Some(json!({"agency_id": "dinas-hantu"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = t
        .req("GET", "/api/v1/reports?status=lost", None, None, None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t.req("GET", "/api/v1/nothing", None, None, None).await;
    assert_eq!(r.code(), "route_not_found");
    let r = t.req("GET", "/api/v1/users", Some(&pupr), None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .req("GET", "/api/v1/users/me", Some("not-a-token"), None, None)
        .await;
    assert_eq!(r.code(), "session_expired");
    let r = t
        .req(
            "POST",
            "/api/v1/auth/login",
            None,
            None,
            Some(json!({"username": "admin", "password": "wrong-password"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "bad_credentials");
    let r = t
        .raw(
            "POST",
            "/api/v1/reports/x/verify?lang=en",
            Some(&admin),
            None,
            Some("[]".into()),
        )
        .await;
    assert_eq!(r.body["title"], "The JSON body must be an object {...}");

    // Nothing of all that changed the report or added one.
    let after = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&admin),
            None,
            None,
        )
        .await
        .body;
    assert_eq!(before, after);
    let list = t
        .req("GET", "/api/v1/reports", Some(&admin), None, None)
        .await;
    // The long CJK report above and the first one; nothing else was stored.
    assert_eq!(list.body["total"], 2);
}
both_backends!(bad_input_changes_nothing_test, bad_input_changes_nothing);

async fn accounts_tokens_and_assisted_intake(t: TestApp) {
    let (admin, pupr, _) = setup(&t).await;
    // The bootstrap secret works once.
    let r = t
        .req("POST", "/api/v1/auth/bootstrap", None, None, Some(json!({"secret": t.bootstrap, "username": "evil", "password": "password-1234", "display_name": "Evil"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "bootstrap_secret_invalid");
    // Only an admin creates admins; a node operator cannot.
    let operator = t.user(&admin, "it.kota", "node_operator", None).await;
    let r = t
        .req("POST", "/api/v1/users", Some(&operator), None, Some(json!({"username": "admin2", "password": "password-1234", "display_name": "X", "role": "admin"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nor an account that reads identities, nor reset one's password: it could log in as that officer.
    let r = t
        .req("POST", "/api/v1/users", Some(&operator), None, Some(json!({"username": "petugas.baru", "password": "password-1234", "display_name": "X", "role": "agency_officer", "agency_id": "dinas-pupr"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let users = t
        .req("GET", "/api/v1/users", Some(&operator), None, None)
        .await;
    let officer_id = users
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "petugas.pupr")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .req(
            "PATCH",
            &format!("/api/v1/users/{officer_id}"),
            Some(&operator),
            None,
            Some(json!({"password": "taken-over-1234"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .req(
            "POST",
            "/api/v1/auth/login",
            None,
            None,
            Some(json!({"username": "petugas.pupr", "password": "taken-over-1234"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the officer's password is unchanged"
    );
    // An auditor (no identities) the operator may create.
    let r = t
        .req("POST", "/api/v1/users", Some(&operator), None, Some(json!({"username": "auditor.kota", "password": "password-1234", "display_name": "Inspektorat", "role": "auditor"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.code());
    // An officer logs a phone call on a citizen's behalf.
    let mut body = report_body();
    body["channel"] = json!("phone");
    let r = t
        .req("POST", "/api/v1/reports", Some(&pupr), None, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{id}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["channel"], "phone");
    assert_eq!(
        r.body["timeline"][0]["actor"],
        "petugas.pupr (agency_officer)"
    );
    // API tokens for integrations.
    let r = t
        .req(
            "POST",
            "/api/v1/auth/tokens",
            Some(&admin),
            None,
            Some(json!({"label": "dashboard provinsi", "days": 30})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();
    let r = t
        .req(
            "POST",
            "/api/v1/reports",
            Some(&token),
            None,
            Some(report_body()),
        )
        .await;
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{}", r.body["id"].as_str().unwrap()),
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["channel"], "api");
    // Deactivated accounts lose their sessions.
    let me = t
        .req("GET", "/api/v1/users/me", Some(&pupr), None, None)
        .await;
    let pupr_id = me.body["id"].as_str().unwrap().to_owned();
    let r = t
        .req(
            "PATCH",
            &format!("/api/v1/users/{pupr_id}"),
            Some(&admin),
            None,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t
        .req("GET", "/api/v1/users/me", Some(&pupr), None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Categories: a national default set, editable.
    let r = t.req("GET", "/api/v1/categories", None, None, None).await;
    assert!(r
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "infrastruktur"));
    let r = t
        .req(
            "PATCH",
            "/api/v1/categories/lainnya",
            Some(&admin),
            None,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(r.body["active"], false);
    let r = t.req("GET", "/api/v1/categories", None, None, None).await;
    assert!(!r
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "lainnya"));
    let r = t
        .req(
            "POST",
            "/api/v1/categories",
            Some(&admin),
            None,
            Some(json!({"id": "pariwisata", "name_id": "Pariwisata", "name_en": "Tourism"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // A citizen opens a reporter account; reports filed while logged in are theirs to list and act on.
    let r = t
        .req("POST", "/api/v1/auth/register", None, None, Some(json!({"username": "maria.ndolu", "password": "rahasia-sekali", "display_name": "Maria"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["role"], "reporter");
    let maria = t.login("maria.ndolu", "rahasia-sekali").await;
    let mine = t
        .req(
            "POST",
            "/api/v1/reports",
            Some(&maria),
            None,
            Some(report_body()),
        )
        .await;
    let mine_code = mine.body["tracking_code"].as_str().unwrap().to_owned();
    let list = t
        .req("GET", "/api/v1/reports", Some(&maria), None, None)
        .await;
    assert_eq!(list.body["total"], 1, "{}", list.body);
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{mine_code}"),
            Some(&maria),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["reporter"]["name"], "Maria Ndolu");
    let r = t.req("POST", "/api/v1/auth/register", None, None, Some(json!({"username": "maria.ndolu", "password": "rahasia-sekali", "display_name": "Maria"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Times are shown in the node's zone.
    let r = t
        .req("GET", &format!("/api/v1/reports/{id}"), None, None, None)
        .await;
    assert!(r.body["submitted_at"].as_str().unwrap().ends_with("+07:00"));
    let _ = HOUR;
}
both_backends!(
    accounts_tokens_and_assisted_intake_test,
    accounts_tokens_and_assisted_intake
);

#[tokio::test]
async fn openapi_document_lists_the_core_contract() {
    let t = support::test_app(support::Backend::Sqlite).await.unwrap();
    let r = t.req("GET", "/api/v1/openapi.json", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.body["paths"].as_object().unwrap();
    for p in [
        "/api/v1/reports",
        "/api/v1/reports/{key}",
        "/api/v1/reports/{key}/verify",
        "/api/v1/auth/login",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    assert!(r.body["components"]["schemas"]["CreateReport"].is_object());
    let health = t.req("GET", "/readyz", None, None, None).await;
    assert_eq!(health.body["status"], "ok");
}
