//! The reporter's identity moves with the report (issues 11 and 13), with a hub and two regional nodes as
//! real `lapor` processes behind fault proxies.
//!
//! * A confidential report filed in Kupang and transferred to Kalimantan Timur: after the commit Kaltim's
//!   admin and the assigned officer see the reporter's phone number and email, an officer of another agency
//!   does not see the report, an auditor sees it without the identity, and Kupang (and the hub, which relays
//!   the sealed identity) hold none of it any more: no identity row, no sealed blob, and the number nowhere
//!   in any node's database files.
//! * An anonymous report transferred the same way carries no identity anywhere.
//! * A report filed on the hub's national portal and routed to Kaltim reaches Kaltim with its identity; the
//!   hub keeps none.
//! * SMS 1708: Kaltim learns Kupang's keyword from the hub's directory (format version 2; regional nodes
//!   never receive each other's logs), so `KOTKUPANG ...` sent to Kaltim's 1708 is routed to Kupang, whose
//!   admin then sees the sender's number.

use std::time::Duration;

use anyhow::{ensure, Context};
use lapor_tests::cluster::{Cluster, Member, PASSWORD};
use lapor_tests::{wait_for, Api};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);
const PHONE: &str = "081339001122";
const EMAIL: &str = "maria.ndun@example.org";
const SMS_TOKEN: &str = "token-sms-serah-terima-uji-42";

async fn file(api: &Api, title: &str, extra: Value) -> anyhow::Result<(String, String)> {
    let mut body = json!({"kind": "complaint", "title": title,
        "body": "Jalan berlubang besar di depan sekolah, sudah dua bulan belum diperbaiki.",
        "reporter": {"name": "Maria Ndun", "phone": PHONE, "email": EMAIL}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (st, resp) = api.post_json("/api/v1/reports", &body).await?;
    ensure!(st.as_u16() == 201, "filing {title}: {st} {resp}");
    Ok((
        resp["tracking_code"].as_str().context("code")?.to_owned(),
        resp["id"].as_str().context("id")?.to_owned(),
    ))
}

async fn view(api: &Api, code: &str) -> anyhow::Result<(u16, Value)> {
    let (st, body) = api.get_json(&format!("/api/v1/reports/{code}")).await?;
    Ok((st.as_u16(), body))
}

/// Waits until `api` shows the report owned by `owner` with the reporter's phone.
async fn wait_identity(m: &Member, api: &Api, code: &str, owner: &str) -> anyhow::Result<Value> {
    wait_for(
        &format!(
            "{code} on {} owned by {owner} with the reporter's phone",
            m.id
        ),
        LIMIT,
        Duration::from_millis(200),
        || {
            let api = api.clone();
            async move {
                let (st, v) = view(&api, code).await?;
                Ok((st == 200
                    && v["owner_node"].as_str() == Some(owner)
                    && v["reporter"]["phone"]
                        .as_str()
                        .is_some_and(|p| p.contains(&PHONE[1..])))
                .then_some(v))
            }
        },
    )
    .await
}

async fn wait_owner(m: &Member, code: &str, owner: &str) -> anyhow::Result<Value> {
    let api = m.admin()?;
    wait_for(
        &format!("{code} owned by {owner} on {}", m.id),
        LIMIT,
        Duration::from_millis(200),
        || {
            let api = api.clone();
            async move {
                let (st, v) = view(&api, code).await?;
                Ok((st == 200 && v["owner_node"].as_str() == Some(owner)).then_some(v))
            }
        },
    )
    .await
}

fn db(m: &Member) -> anyhow::Result<rusqlite::Connection> {
    Ok(rusqlite::Connection::open_with_flags(
        m.dir.join("lapor.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?)
}

/// How many identity rows and identity blobs of `report_id` a node holds.
fn held(m: &Member, report_id: &str) -> anyhow::Result<(i64, i64)> {
    let c = db(m)?;
    let rows: i64 = c.query_row(
        "SELECT COUNT(*) FROM reporter_identities WHERE report_id = ?1",
        [report_id],
        |r| r.get(0),
    )?;
    let blobs: i64 = c.query_row(
        "SELECT COUNT(*) FROM blobs WHERE report_id = ?1",
        [report_id],
        |r| r.get(0),
    )?;
    Ok((rows, blobs))
}

async fn wait_erased(m: &Member, report_id: &str) -> anyhow::Result<()> {
    wait_for(
        &format!("{report_id}'s identity erased on {}", m.id),
        LIMIT,
        Duration::from_millis(200),
        || async { Ok((held(m, report_id)? == (0, 0)).then_some(())) },
    )
    .await
}

/// Whether `needle` occurs in clear anywhere in a node's database files (main file and WAL).
fn in_database_files(m: &Member, needle: &str) -> bool {
    ["lapor.db", "lapor.db-wal"].iter().any(|name| {
        std::fs::read(m.dir.join(name))
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

async fn account(
    admin: &Api,
    m: &Member,
    username: &str,
    role: &str,
    agency: Option<&str>,
) -> anyhow::Result<Api> {
    let mut body = json!({"username": username, "password": PASSWORD,
        "display_name": format!("Petugas {username}"), "role": role});
    if let Some(a) = agency {
        body["agency_id"] = json!(a);
    }
    let (st, v) = admin.post_json("/api/v1/users", &body).await?;
    ensure!(st.is_success(), "creating {username}: {st} {v}");
    let (st, v) = m
        .api()
        .post_json(
            "/api/v1/auth/login",
            &json!({"username": username, "password": PASSWORD}),
        )
        .await?;
    ensure!(st.is_success(), "login {username}: {st} {v}");
    Ok(m.api().with_token(v["token"].as_str().context("token")?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reporter_identity_moves_with_the_report() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_with(
        &[("kupangkota", "KPG", "53.71"), ("kaltim", "KTM", "64")],
        &[
            ("LAPOR_SMS__ENABLED", "true"),
            ("LAPOR_SMS__TOKEN", SMS_TOKEN),
        ],
    )
    .await?;
    // Kupang's own SMS keyword (the other nodes have none).
    {
        let member = cluster.member_mut("kupangkota")?;
        member.stop()?;
        member
            .env
            .push(("LAPOR_SMS__KEYWORD".to_owned(), "KOTKUPANG".to_owned()));
        member.start()?;
    }
    let (hub, kupang, kaltim) = (
        cluster.hub(),
        cluster.member("kupangkota"),
        cluster.member("kaltim"),
    );
    for (m, other) in [(kupang, "kaltim"), (kaltim, "kupangkota")] {
        wait_for(
            &format!("{} to learn {other} from the directory", m.id),
            LIMIT,
            Duration::from_millis(200),
            || async { Ok(m.cli(&["peers", "list"])?.contains(other).then_some(())) },
        )
        .await?;
    }
    let (h, k, t) = (hub.admin()?, kupang.admin()?, kaltim.admin()?);
    for agency in ["dinas-pu-kaltim", "dinas-kesehatan-kaltim"] {
        let (st, v) = t
            .post_json(
                "/api/v1/agencies",
                &json!({"id": agency, "name": format!("Instansi {agency}"), "kind": "office"}),
            )
            .await?;
        ensure!(st.is_success(), "{st} {v}");
    }
    let pu = account(
        &t,
        kaltim,
        "petugas.pu",
        "agency_officer",
        Some("dinas-pu-kaltim"),
    )
    .await?;
    let health = account(
        &t,
        kaltim,
        "petugas.kesehatan",
        "agency_officer",
        Some("dinas-kesehatan-kaltim"),
    )
    .await?;
    let auditor = account(&t, kaltim, "auditor.kaltim", "auditor", None).await?;

    // --- a confidential report moves from Kupang to Kaltim, its identity with it -----------------------
    let (code, id) = file(
        &k,
        "Jalan rusak di depan SD Inpres",
        json!({"region_code": "53.71", "confidential": true}),
    )
    .await?;
    let (st, v) = view(&k, &code).await?;
    ensure!(
        st == 200 && v["reporter"]["phone"].is_string(),
        "Kupang sees its reporter: {v}"
    );
    ensure!(
        held(kupang, &id)? == (1, 1),
        "Kupang holds the identity and its sealed blob"
    );
    let (st, v) = k
        .post_json(
            &format!("/api/v1/reports/{code}/transfer"),
            &json!({"to_node": "kaltim", "reason": "misrouted", "note": "Lokasi di Samarinda."}),
        )
        .await?;
    ensure!(st.is_success(), "transfer: {st} {v}");
    let seen = wait_identity(kaltim, &t, &code, "kaltim").await?;
    assert_eq!(seen["reporter"]["email"], EMAIL, "{seen}");
    assert_eq!(seen["reporter"]["name"], "Maria Ndun", "{seen}");
    // Erased at the old owner once the new owner holds it; the hub relayed it sealed and keeps nothing.
    wait_erased(kupang, &id).await?;
    assert_eq!(held(hub, &id)?, (0, 0), "the hub never holds the identity");
    let (st, v) = view(&k, &code).await?;
    ensure!(
        st == 200,
        "Kupang still shows where the report went: {st} {v}"
    );
    assert!(
        v["reporter"].is_null(),
        "Kupang shows no identity any more: {v}"
    );
    assert_eq!(v["owner_node"], "kaltim");
    let (_, v) = view(&h, &code).await?;
    assert!(
        v["reporter"].is_null(),
        "the hub's admin sees no identity: {v}"
    );

    // Only the owner's authorised staff read it.
    let (st, v) = t
        .post_json(
            &format!("/api/v1/reports/{code}/verify"),
            &json!({"agency_id": "dinas-pu-kaltim"}),
        )
        .await?;
    ensure!(st.is_success(), "verify at the new owner: {st} {v}");
    wait_identity(kaltim, &pu, &code, "kaltim").await?;
    let (st, _) = view(&health, &code).await?;
    assert_eq!(st, 404, "an officer of another agency does not see it");
    let (st, v) = view(&auditor, &code).await?;
    assert_eq!(st, 200, "{v}");
    assert!(
        v["reporter"].is_null(),
        "auditors never see identities: {v}"
    );
    let (st, _) = view(&kaltim.api(), &code).await?;
    assert_eq!(st, 404, "a confidential report is not public");

    // --- an anonymous report carries no identity anywhere ----------------------------------------------
    let (anon_code, anon_id) = file(
        &k,
        "Pungutan liar di kantor kelurahan",
        json!({"region_code": "53.71", "anonymous": true}),
    )
    .await?;
    assert_eq!(
        held(kupang, &anon_id)?,
        (0, 0),
        "an anonymous report keeps no identity"
    );
    let (st, v) = k
        .post_json(
            &format!("/api/v1/reports/{anon_code}/transfer"),
            &json!({"to_node": "kaltim", "reason": "misrouted", "note": "Lokasi di Samarinda."}),
        )
        .await?;
    ensure!(st.is_success(), "transfer: {st} {v}");
    let v = wait_owner(kaltim, &anon_code, "kaltim").await?;
    assert!(v["reporter"].is_null(), "{v}");
    for m in [hub, kupang, kaltim] {
        assert_eq!(
            held(m, &anon_id)?,
            (0, 0),
            "no identity of the anonymous report on {}",
            m.id
        );
    }

    // --- a report filed on the national portal is routed to Kaltim with its identity ------------------
    let (portal_code, portal_id) = file(
        &hub.api(),
        "Banjir di jalan poros Samarinda",
        json!({"region_code": "64"}),
    )
    .await?;
    wait_identity(kaltim, &t, &portal_code, "kaltim").await?;
    wait_erased(hub, &portal_id).await?;

    // --- SMS 1708 at Kaltim with Kupang's keyword goes to Kupang ---------------------------------------
    wait_for(
        "Kaltim to learn KOTKUPANG from the hub's directory",
        LIMIT,
        Duration::from_millis(200),
        || async {
            let held: i64 = db(kaltim)?.query_row(
                "SELECT COUNT(*) FROM sms_keywords WHERE keyword = 'KOTKUPANG' AND origin = 'kupangkota'",
                [],
                |r| r.get(0),
            )?;
            Ok((held == 1).then_some(()))
        },
    )
    .await?;
    let reply = reqwest::Client::new()
        .get(format!("{}/channels/sms/kannel", kaltim.base()))
        .query(&[
            ("token", SMS_TOKEN),
            ("sender", "+6281339001122"),
            ("receiver", "1708"),
            ("text", "KOTKUPANG jalan rusak di Oebobo dekat pasar"),
        ])
        .send()
        .await?;
    ensure!(reply.status().is_success(), "SMS: {}", reply.status());
    let text = reply.text().await?;
    let sms_code = text
        .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-'))
        .find(|w| w.starts_with("KTM-"))
        .with_context(|| format!("no tracking code in the reply {text:?}"))?
        .to_owned();
    let v = wait_identity(kupang, &k, &sms_code, "kupangkota").await?;
    assert_eq!(v["channel"], "sms", "{v}");

    // Nowhere in clear: not in any node's database files.
    for m in [hub, kupang, kaltim] {
        assert!(
            !in_database_files(m, &PHONE[1..]),
            "the reporter's number is in clear in {}'s database",
            m.id
        );
        assert!(
            !in_database_files(m, EMAIL),
            "the reporter's email is in clear in {}'s database",
            m.id
        );
    }
    // Nothing left waiting.
    let status = kaltim.cli(&["federation", "status"])?;
    assert!(!status.contains("IDENTITY fetching"), "{status}");
    Ok(())
}
