#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::items_after_statements,
    clippy::too_many_lines
)]
//! The SMS channel in-process on SQLite and PostgreSQL: Kannel's requests to `/channels/sms/kannel` as the
//! shipped `sms-service` sends them (query or form), the reply bodies, keyword routing, anonymity, follow-up
//! by number and `CEK`, and every bad input with nothing stored or lost. The same channel behind a real
//! Kannel is `tests/tests/sms_kannel.rs`.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use lapor_node::app::App;
use serde_json::json;
use support::TestApp;
use tower::ServiceExt;

const TOKEN: &str = "token-kanal-sms-uji-1234";
const PHONE: &str = "081234567890";

/// The app with `[sms]` on, and one router for the whole test (the per-sender limit lives in it).
fn with_sms(t: &mut TestApp, rate_per_hour: u32) -> axum::Router {
    let mut config = t.app.config().clone();
    config.sms.enabled = true;
    config.sms.token = TOKEN.into();
    config.sms.keyword = "KOTKUPANG".into();
    config
        .sms
        .agency_keywords
        .insert("PUPRKUPANG".into(), "dinas-pupr".into());
    config.sms.rate_per_hour = rate_per_hour;
    config.federation.public_url = "https://lapor.kupangkota.go.id".into();
    config.check().expect("config");
    t.app = App::new(config, t.store.clone(), t.clock.clone()).expect("app");
    lapor_node::http::router(t.app.clone())
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// What Kannel's get-url sends for a plain text message.
fn kannel(sender: &str, text: &str) -> String {
    query(&[
        ("token", TOKEN),
        ("sender", sender),
        ("receiver", "1708"),
        ("text", text),
        ("smsc", "FAKE"),
        ("ts", "2026-12-03 14:58:51"),
        ("coding", "0"),
        ("charset", "UTF-8"),
        ("udh", ""),
    ])
}

async fn get(router: &axum::Router, query: &str) -> (StatusCode, String) {
    send(
        router,
        Request::get(format!("/channels/sms/kannel?{query}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = router.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    if status == StatusCode::OK {
        assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    }
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

async fn sms(router: &axum::Router, sender: &str, text: &str) -> String {
    let (status, body) = get(router, &kannel(sender, text)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let septets = lapor_node::channels::sms::reply::gsm7_len(&body)
        .unwrap_or_else(|| panic!("not GSM-7: {body}"));
    assert!(
        lapor_node::channels::sms::reply::parts(septets) <= 3,
        "{body}"
    );
    body
}

fn code_in(reply: &str) -> String {
    let at = reply
        .find("KPG-")
        .unwrap_or_else(|| panic!("no code in {reply}"));
    reply[at..at + 14].to_owned()
}

async fn total(t: &TestApp, admin: &str) -> i64 {
    let r = t
        .req("GET", "/api/v1/reports", Some(admin), None, None)
        .await;
    r.body["total"].as_i64().unwrap()
}

async fn setup(t: &TestApp) -> (String, String) {
    let admin = t.admin().await;
    t.agency(&admin, "pemkot-kupang", None, "city").await;
    t.agency(&admin, "dinas-pupr", Some("pemkot-kupang"), "office")
        .await;
    let pupr = t
        .user(&admin, "petugas.pupr", "agency_officer", Some("dinas-pupr"))
        .await;
    (admin, pupr)
}

async fn filing_and_following(mut t: TestApp) {
    let router = with_sms(&mut t, 100);
    let (admin, pupr) = setup(&t).await;

    // A wrong or missing token: 403 and nothing read or stored.
    let wrong =
        kannel(PHONE, "KOTKUPANG jalan rusak di Oebobo").replace(TOKEN, "token-yang-salah-000000");
    assert_eq!(get(&router, &wrong).await.0, StatusCode::FORBIDDEN);
    let missing = query(&[
        ("sender", PHONE),
        ("text", "KOTKUPANG jalan rusak di Oebobo"),
    ]);
    let (status, body) = get(&router, &missing).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("bad_token"), "{body}");
    assert_eq!(total(&t, &admin).await, 0);

    // The node's keyword: a complaint in the admin queue, the number sealed in the identity.
    let reply = sms(&router, PHONE, "KOTKUPANG jalan rusak di Oebobo").await;
    let code = code_in(&reply);
    assert_eq!(
        reply,
        format!("LAPOR! diterima. Kode: {code}. Cek status: CEK {code} ke 1708. Tambah info: {code} <pesan> ke 1708.")
    );
    assert!(reply.chars().count() <= 160);
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            &r.body["channel"],
            &r.body["kind"],
            &r.body["title"],
            &r.body["body"]
        ),
        (
            &json!("sms"),
            &json!("complaint"),
            &json!("Jalan rusak di Oebobo"),
            &json!("jalan rusak di Oebobo")
        )
    );
    assert_eq!(r.body["reporter"]["phone"], "+6281234567890");
    let public = t
        .req("GET", &format!("/api/v1/reports/{code}"), None, None, None)
        .await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(
        !public.body.to_string().contains("81234567890"),
        "{}",
        public.body
    );

    // Status by SMS from the reporter's number (any way of writing it); another number learns nothing.
    let status = sms(
        &router,
        "+62 812-3456-7890",
        &format!("cek {}", code.to_lowercase()),
    )
    .await;
    assert!(
        status.starts_with(&format!("{code}: Belum terverifikasi (")),
        "{status}"
    );
    let stranger = sms(&router, "081399998888", &format!("CEK {code}")).await;
    assert!(
        stranger.starts_with(&format!("Kode {code} tidak ditemukan")),
        "{stranger}"
    );

    // The admin asks for more; the reporter supplements by SMS; the admin verifies to the agency.
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/hold"),
            Some(&admin),
            None,
            Some(json!({"note": "Mohon sebutkan patokan lokasinya."})),
        )
        .await;
    assert_eq!(r.body["status"], "on_hold", "{}", r.body);
    let status = sms(&router, PHONE, &format!("CEK {code}")).await;
    assert!(
        status.contains("Tertunda")
            && status.contains("Petugas meminta: Mohon sebutkan patokan lokasinya."),
        "{status}"
    );
    let not_yours = sms(&router, "081399998888", &format!("{code} bukan saya")).await;
    assert!(not_yours.starts_with("Kode"), "{not_yours}");
    let empty = sms(&router, PHONE, &code).await;
    assert!(empty.starts_with("Tulis info setelah kode"), "{empty}");
    let done = sms(&router, PHONE, &format!("{code} di depan SD Inpres Oebobo")).await;
    assert_eq!(
        done,
        format!("Terima kasih. Info tambahan untuk {code} diterima; laporan kembali diverifikasi.")
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
    assert_eq!(r.body["status"], "submitted", "{}", r.body);
    let timeline = r.body["timeline"].as_array().unwrap();
    let supplement = timeline
        .iter()
        .find(|e| e["action"] == "supplemented")
        .expect("supplemented");
    assert_eq!(supplement["note"], "di depan SD Inpres Oebobo");
    assert!(supplement["actor"].is_string(), "{supplement}");
    // More information while nobody asked for it: answered, nothing changed.
    let not_waiting = sms(&router, PHONE, &format!("{code} ada lagi")).await;
    assert!(
        not_waiting.contains("berstatus Belum terverifikasi"),
        "{not_waiting}"
    );

    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/verify"),
            Some(&admin),
            None,
            Some(json!({"agency_id": "dinas-pupr"})),
        )
        .await;
    assert_eq!(r.body["status"], "verified", "{}", r.body);
    let list = t
        .req("GET", "/api/v1/reports", Some(&pupr), None, None)
        .await;
    assert_eq!(
        list.body["items"][0]["tracking_code"],
        code.as_str(),
        "{}",
        list.body
    );
    t.req(
        "POST",
        &format!("/api/v1/reports/{code}/acknowledge"),
        Some(&pupr),
        None,
        Some(json!({})),
    )
    .await;
    let r = t
        .req(
            "POST",
            &format!("/api/v1/reports/{code}/respond"),
            Some(&pupr),
            None,
            Some(json!({"note": "Lubang sudah ditambal."})),
        )
        .await;
    assert_eq!(r.body["status"], "responded", "{}", r.body);
    let status = sms(&router, PHONE, &format!("CEK {code}")).await;
    assert!(
        status.contains("Ditindaklanjuti")
            && status.contains("Tindak lanjut: Lubang sudah ditambal."),
        "{status}"
    );
    // A reply after the follow-up reopens it.
    let done = sms(
        &router,
        PHONE,
        &format!("{code} belum, lubang di sebelahnya masih ada"),
    )
    .await;
    assert!(done.starts_with("Terima kasih. Balasan"), "{done}");
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{code}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["status"], "in_progress", "{}", r.body);

    // An agency keyword with a kind keyword, as a form body (post-url).
    let form = kannel(
        "6281311112222",
        "PUPRKUPANG ASPIRASI tolong tambah lampu jalan di Kelapa Lima",
    );
    let (status, reply) = send(
        &router,
        Request::post("/channels/sms/kannel")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{}", code_in(&reply)),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(
        (&r.body["kind"], &r.body["agency_id"]),
        (&json!("aspiration"), &json!("dinas-pupr")),
        "{}",
        r.body
    );

    // Kannel's own post-url: the message is the body, the rest are URL escapes.
    let url = format!(
        "/channels/sms/kannel?{}",
        query(&[
            ("token", TOKEN),
            ("sender", "081322223333"),
            ("smsc", "FAKE")
        ])
    );
    let (status, reply) = send(
        &router,
        Request::post(url)
            .header("content-type", "text/plain; charset=UTF-8")
            .body(Body::from("KOTKUPANG sampah menumpuk di pasar Oeba"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{}", code_in(&reply)),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(
        r.body["body"], "sampah menumpuk di pasar Oeba",
        "{}",
        r.body
    );

    // Anonymous: the code and the secret, and no number anywhere.
    let reply = sms(
        &router,
        "081277776666",
        "ANONIM KOTKUPANG ada pungutan liar di kantor kelurahan",
    )
    .await;
    assert!(
        reply.starts_with("LAPOR! anonim diterima. Kode: KPG-") && reply.contains(" Rahasia: "),
        "{reply}"
    );
    assert!(
        reply.contains("https://lapor.kupangkota.go.id/track"),
        "{reply}"
    );
    let anon = code_in(&reply);
    let secret = reply.split(" Rahasia: ").nth(1).unwrap()[..26].to_owned();
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{anon}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["anonymous"], true);
    assert!(
        r.body.get("reporter").is_none() && !r.body.to_string().contains("77776666"),
        "{}",
        r.body
    );
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(t.store.report_identity(id).await.unwrap(), None);
    let mine = t
        .req(
            "GET",
            &format!("/api/v1/reports/{anon}"),
            None,
            Some(&secret),
            None,
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    let cek = sms(&router, "081277776666", &format!("CEK {anon}")).await;
    assert!(
        cek.starts_with(&format!("Kode {anon} tidak ditemukan")),
        "{cek}"
    );

    // An unknown keyword: the admin queue, the whole text as the body.
    let reply = sms(&router, PHONE, "KOTAKUPANG air PDAM mati sejak kemarin").await;
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{}", code_in(&reply)),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["body"], "KOTAKUPANG air PDAM mati sejak kemarin");
    assert!(r.body["agency_id"].is_null(), "{}", r.body);
    assert_eq!(total(&t, &admin).await, 5);
}
both_backends!(filing_and_following_by_sms, filing_and_following);

async fn bad_input(mut t: TestApp) {
    let router = with_sms(&mut t, 100);
    let (admin, _) = setup(&t).await;
    let cases: [(&str, &str); 5] = [
        ("", "Pesan kosong. Kirim KOTKUPANG <keluhan Anda>"),
        ("   ", "Pesan kosong."),
        ("KOTKUPANG", "Tulis keluhan setelah KOTKUPANG"),
        (
            "KOTKUPANG ASPIRASI ANONIM",
            "Tulis keluhan setelah KOTKUPANG ASPIRASI ANONIM",
        ),
        ("KOTKUPANG rusak", "Pesan terlalu singkat."),
    ];
    for (text, answer) in cases {
        let reply = sms(&router, PHONE, text).await;
        assert!(reply.starts_with(answer), "{text:?}: {reply}");
    }
    let reply = sms(&router, PHONE, &"x".repeat(1601)).await;
    assert!(
        reply.starts_with("Pesan terlalu panjang (1601 karakter, maks 1600)"),
        "{reply}"
    );
    let reply = sms(&router, PHONE, "CEK").await;
    assert!(reply.starts_with("Kirim CEK <kode>"), "{reply}");
    let reply = sms(&router, "TELKOMSEL", "KOTKUPANG jalan rusak di Oebobo").await;
    assert!(
        reply.starts_with("Nomor pengirim tidak dikenali"),
        "{reply}"
    );

    // Binary, a user data header, codings and charsets Kannel may send.
    let raw = |extra: &str| format!("token={TOKEN}&sender={PHONE}&receiver=1708&smsc=FAKE&{extra}");
    for (extra, answer) in [
        (
            "text=%FF%FE%00%01&coding=1&charset=8-BIT",
            "Pesan tidak dapat dibaca (bukan teks)",
        ),
        (
            "text=%FF%FEKOTKUPANG&coding=0&charset=UTF-8",
            "Pesan tidak dapat dibaca (bukan teks)",
        ),
        (
            "text=KOTKUPANG+jalan+rusak&udh=%06%05%04%0B%84%23%F0",
            "Pesan tidak dapat dibaca (bukan teks)",
        ),
        (
            "text=KOTKUPANG+jalan+rusak+sekali&coding=7",
            "Pesan tidak dapat dibaca (pengodean 7 tidak dikenal)",
        ),
        (
            "text=KOTKUPANG+jalan+rusak+sekali&charset=KOI8-R",
            "Pesan tidak dapat dibaca (pengodean KOI8-R tidak dikenal)",
        ),
    ] {
        let (status, reply) = get(&router, &raw(extra)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(reply.starts_with(answer), "{extra}: {reply}");
    }
    assert_eq!(total(&t, &admin).await, 0, "nothing filed from bad input");

    // UCS-2 as Kannel passes it without mo-recode: read, not refused.
    let ucs2: String = "KOTKUPANG jalan rusak dekat Gereja Kristus Raja ✝"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "%{b:02X}");
            s
        });
    let (_, reply) = get(
        &router,
        &raw(&format!("text={ucs2}&coding=2&charset=UTF-16BE")),
    )
    .await;
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{}", code_in(&reply)),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["body"], "jalan rusak dekat Gereja Kristus Raja ✝");

    // 1,000 characters: filed whole, the title cut at a word.
    let long = format!(
        "KOTKUPANG {}",
        "jalan di kelurahan Oebobo rusak parah dan berlubang, ".repeat(19)
    );
    let long = long.chars().take(1000).collect::<String>();
    assert_eq!(long.chars().count(), 1000);
    let reply = sms(&router, PHONE, &long).await;
    let r = t
        .req(
            "GET",
            &format!("/api/v1/reports/{}", code_in(&reply)),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(
        r.body["body"].as_str().unwrap(),
        long.trim_start_matches("KOTKUPANG ").trim_end()
    );
    let title = r.body["title"].as_str().unwrap();
    assert!(
        title.ends_with('…') && title.chars().count() <= 81,
        "{title}"
    );
    assert_eq!(total(&t, &admin).await, 2);
}
both_backends!(bad_input_is_answered_and_nothing_is_lost, bad_input);

async fn flooding(mut t: TestApp) {
    let router = with_sms(&mut t, 3);
    let (admin, _) = setup(&t).await;
    for i in 0..3 {
        let reply = sms(
            &router,
            PHONE,
            &format!("KOTKUPANG lampu jalan nomor {i} mati"),
        )
        .await;
        assert!(reply.starts_with("LAPOR! diterima"), "{reply}");
    }
    let reply = sms(&router, PHONE, "KOTKUPANG lampu jalan nomor 4 mati").await;
    assert!(
        reply.starts_with("Maaf, terlalu banyak SMS dari nomor Anda. Coba lagi dalam 20 menit."),
        "{reply}"
    );
    // The same number written another way is the same sender; another number is not limited.
    let reply = sms(&router, "+6281234567890", "CEK KPG-0000000000").await;
    assert!(reply.starts_with("Maaf, terlalu banyak SMS"), "{reply}");
    let reply = sms(
        &router,
        "081311112222",
        "KOTKUPANG lampu jalan nomor 5 mati",
    )
    .await;
    assert!(reply.starts_with("LAPOR! diterima"), "{reply}");
    assert_eq!(
        total(&t, &admin).await,
        4,
        "the three before the limit and the other number's are kept"
    );
}
both_backends!(flooding_from_one_number, flooding);

async fn channel_off(t: TestApp) {
    // Without `sms.enabled` the route does not exist.
    let router = lapor_node::http::router(t.app.clone());
    let (status, body) = get(&router, &kannel(PHONE, "KOTKUPANG jalan rusak di Oebobo")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
both_backends!(channel_off_by_default, channel_off);
