#![allow(clippy::disallowed_methods)] // test-only polling
//! Email notifications against a real SMTP server (Python aiosmtpd on 127.0.0.1) and the real `lapor`
//! binary: what reporters and officers receive (both MIME parts, Indonesian subject first, unsubscribe that
//! is honoured), that no address lands in the outbox, and that notices queued while the SMTP server is
//! down or slow are each delivered exactly once across a SIGKILL.

mod notify;

use std::collections::HashMap;
use std::time::Duration;

use lapor_tests::{free_port, Node, NodeOptions};
use notify::{act, admin, agency, email_env, file, notices, SmtpSink};
use serde_json::{json, Value};

fn start(dir: &std::path::Path, smtp_port: u16) -> anyhow::Result<Node> {
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let env = email_env(smtp_port, &base);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Node::start_with(dir, NodeOptions::new().port(port).envs(&env))
}

fn part<'a>(msg: &'a Value, content_type: &str) -> &'a str {
    msg["parts"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["content_type"] == content_type))
        .and_then(|p| p["text"].as_str())
        .unwrap_or_default()
}

fn find<'a>(msgs: &'a [Value], to: &str, subject_has: &str) -> &'a Value {
    msgs.iter()
        .find(|m| {
            m["to"].as_str().unwrap_or("").contains(to)
                && m["subject"].as_str().unwrap_or("").contains(subject_has)
        })
        .unwrap_or_else(|| panic!("no message to {to} with `{subject_has}` in {msgs:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reporters_and_officers_get_bilingual_email_and_unsubscribe_is_honoured(
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mail = tempfile::tempdir()?;
    let smtp = SmtpSink::start(free_port()?, mail.path(), 0.0)?;
    let node = start(dir.path(), smtp.port)?;
    let admin = admin(&node).await?;
    agency(&admin).await?;
    let citizen = node.api();

    let (code, secret) = file(
        &citizen,
        "Jalan berlubang di Oebobo",
        json!({"name": "Maria Ndun", "email": "maria@example.org", "phone": "081234567890"}),
    )
    .await?;
    act(&admin, &code, "verify", json!({"agency_id": "pupr"})).await?;
    act(
        &admin,
        &code,
        "respond",
        json!({"note": "Lubang sudah ditambal pada 2 Desember oleh tim PUPR."}),
    )
    .await?;

    // filed, verified and follow-up to the reporter; the disposition to the agency's mailbox.
    let msgs = smtp.wait_for(4, Duration::from_secs(30)).await?;
    let filed = find(&msgs, "maria@example.org", "Laporan Anda telah diterima");
    let verified = find(
        &msgs,
        "maria@example.org",
        "Laporan Anda telah diverifikasi",
    );
    let followup = find(&msgs, "maria@example.org", "menindaklanjuti");
    let disposition = find(
        &msgs,
        "pupr@kupangkota.go.id",
        "Laporan baru untuk Dinas PUPR Kota Kupang",
    );

    for m in [filed, verified, followup, disposition] {
        let subject = m["subject"].as_str().unwrap_or_default();
        assert!(
            subject.starts_with(&format!("[LAPOR!] {code}: ")),
            "{subject}"
        );
        // Indonesian first, English second.
        let (id, en) = subject.split_once(" / ").expect("bilingual subject");
        assert!(!id.is_empty() && !en.is_empty(), "{subject}");
        assert_eq!(m["content_type"], "multipart/alternative", "{m}");
        let plain = part(m, "text/plain");
        let html = part(m, "text/html");
        assert!(!plain.is_empty() && !html.is_empty(), "both parts: {m}");
        assert!(html.contains("<html lang=\"id\">"), "{html}");
        let (i, e) = (
            plain.find("Status:").unwrap_or(usize::MAX),
            plain.find("View:").unwrap_or(0),
        );
        assert!(i < e, "Indonesian before English: {plain}");
        assert!(
            m["from"]
                .as_str()
                .unwrap_or("")
                .contains("lapor@kupangkota.go.id"),
            "{m}"
        );
        assert!(
            m["message_id"]
                .as_str()
                .unwrap_or("")
                .ends_with("@kupangkota.go.id>"),
            "{m}"
        );
    }
    assert!(part(filed, "text/plain").contains(&format!("{}/track/{code}", node.base)));
    assert!(
        part(followup, "text/plain").contains("Lubang sudah ditambal"),
        "{followup}"
    );
    assert!(
        part(verified, "text/plain").contains("Dinas PUPR Kota Kupang"),
        "{verified}"
    );
    assert!(part(disposition, "text/plain").contains(&format!("/officer/reports/{code}")));
    // Officers get no unsubscribe link; reporters get the link and the one-click header.
    assert_eq!(disposition["list_unsubscribe"], "", "{disposition}");
    let header = followup["list_unsubscribe"].as_str().unwrap_or_default();
    assert!(header.starts_with('<') && header.ends_with('>'), "{header}");
    assert_eq!(
        followup["list_unsubscribe_post"],
        "List-Unsubscribe=One-Click"
    );
    let link = &header[1..header.len() - 1];
    assert!(
        part(followup, "text/plain").contains(link),
        "the body shows the same link"
    );
    let ids: std::collections::HashSet<_> =
        msgs.iter().map(|m| m["message_id"].to_string()).collect();
    assert_eq!(ids.len(), msgs.len(), "one Message-ID per notice");

    // A tampered link is refused; the real one unsubscribes (GET, no login).
    let client = reqwest::Client::new();
    let bad = client.get(link.replace("&t=", "&t=00")).send().await?;
    assert_eq!(bad.status(), 404);
    assert!(bad.text().await?.contains("Tautan tidak berlaku"));
    let ok = client.get(link).send().await?;
    assert_eq!(ok.status(), 200);
    assert!(ok
        .text()
        .await?
        .contains("Anda telah berhenti berlangganan"));

    // Completing the report now sends no email to the reporter: the notice is recorded and skipped.
    let (st, body) = citizen
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/reports/{code}/accept"),
            Some(&json!({})),
            &[("X-Tracking-Secret", secret.as_str())],
        )
        .await?;
    assert!(st.is_success(), "accept: {st} {body}");
    lapor_tests::wait_until(
        "the completed notice skipped",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || async {
            notices(&citizen, "skipped", "email")
                .await
                .is_ok_and(|n| n == 1)
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = smtp.messages()?;
    assert_eq!(
        after.len(),
        4,
        "nothing sent after unsubscribing: {after:#?}"
    );
    assert_eq!(notices(&citizen, "sent", "email").await?, 4);
    assert_eq!(notices(&citizen, "failed", "email").await?, 0);

    // An anonymous report gets no notice at all.
    let (st, body) = citizen
        .post_json(
            "/api/v1/reports",
            &json!({"kind": "complaint", "title": "Pungutan liar di kantor kelurahan",
                    "body": "Petugas meminta uang tambahan untuk surat keterangan.", "anonymous": true}),
        )
        .await?;
    assert_eq!(st.as_u16(), 201, "{body}");

    // No address is ever copied into the outbox.
    let node_id = node.base.clone();
    drop(node);
    let db = rusqlite::Connection::open(dir.path().join("lapor.db"))?;
    let mut stmt = db.prepare("SELECT * FROM notices")?;
    let columns = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut seen = 0;
    while let Some(r) = rows.next()? {
        seen += 1;
        for i in 0..columns {
            let v: rusqlite::types::Value = r.get(i)?;
            let s = format!("{v:?}");
            assert!(
                !s.contains("maria@example.org")
                    && !s.contains("081234567890")
                    && !s.contains("pupr@"),
                "{s}"
            );
        }
    }
    assert_eq!(seen, 5, "four sent and one skipped notice ({node_id})");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_queued_while_smtp_is_down_or_slow_are_delivered_exactly_once_after_sigkill(
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mail = tempfile::tempdir()?;
    let smtp_port = free_port()?;
    let mut node = start(dir.path(), smtp_port)?;
    let citizen = node.api();

    // The SMTP server is down: three filed notices are recorded and retried.
    let mut codes = Vec::new();
    for i in 0..3 {
        let (code, _) = file(
            &citizen,
            &format!("Lampu jalan padam nomor {i}"),
            json!({"name": "Yohanes", "email": format!("warga{i}@example.org")}),
        )
        .await?;
        codes.push(code);
    }
    lapor_tests::wait_until(
        "the notices retrying",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            notices(&citizen, "retrying", "email")
                .await
                .is_ok_and(|n| n >= 2)
        },
    )
    .await?;

    // Now the server is up but slow: a notice is claimed (`sending`) and the process dies mid-send.
    let slow_dir = tempfile::tempdir()?;
    let slow = SmtpSink::start(smtp_port, slow_dir.path(), 60.0)?;
    lapor_tests::wait_until(
        "a notice sending",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            notices(&citizen, "sending", "email")
                .await
                .is_ok_and(|n| n >= 1)
        },
    )
    .await?;
    node.crash()?;
    drop(slow);
    {
        let db = rusqlite::Connection::open(dir.path().join("lapor.db"))?;
        let states: Vec<(String, i64)> = db
            .prepare("SELECT state, COUNT(*) FROM notices GROUP BY state ORDER BY state")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        assert_eq!(
            states,
            vec![("retrying".into(), 2), ("sending".into(), 1)],
            "at the kill"
        );
    }
    assert!(
        std::fs::read_dir(slow_dir.path())?.next().is_none(),
        "the slow server accepted nothing"
    );

    // A healthy server and a restart: each notice arrives exactly once.
    let smtp = SmtpSink::start(smtp_port, mail.path(), 0.0)?;
    node.restart()?;
    let msgs = smtp.wait_for(3, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let msgs_after = smtp.messages()?;
    assert_eq!(msgs_after.len(), 3, "no duplicates: {msgs_after:#?}");
    let mut per_code: HashMap<String, usize> = HashMap::new();
    for m in &msgs {
        let subject = m["subject"].as_str().unwrap_or_default();
        let code = codes
            .iter()
            .find(|c| subject.contains(c.as_str()))
            .cloned()
            .unwrap_or_default();
        *per_code.entry(code).or_default() += 1;
    }
    for c in &codes {
        assert_eq!(per_code.get(c), Some(&1), "{c} exactly once: {per_code:?}");
    }
    assert_eq!(notices(&node.api(), "sent", "email").await?, 3);
    assert_eq!(notices(&node.api(), "sending", "email").await?, 0);
    assert!(
        node.output().contains("sent again"),
        "the recovery is logged"
    );
    Ok(())
}

/// Logs in as `username` and returns its client.
async fn login(node: &Node, username: &str) -> anyhow::Result<lapor_tests::Api> {
    let (st, v) = node
        .api()
        .post_json(
            "/api/v1/auth/login",
            &json!({"username": username, "password": lapor_tests::cluster::PASSWORD}),
        )
        .await?;
    anyhow::ensure!(st.is_success(), "login {username}: {st} {v}");
    Ok(node
        .api()
        .with_token(v["token"].as_str().unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_officers_get_their_own_notices_and_can_unsubscribe() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mail = tempfile::tempdir()?;
    let smtp = SmtpSink::start(free_port()?, mail.path(), 0.0)?;
    let node = start(dir.path(), smtp.port)?;
    let admin = admin(&node).await?;
    agency(&admin).await?;
    let password = lapor_tests::cluster::PASSWORD;

    // Contact details are validated, naming the field.
    let (st, v) = admin
        .post_json(
            "/api/v1/users",
            &json!({"username": "budi", "password": password, "display_name": "Budi Lay",
                    "role": "agency_officer", "agency_id": "pupr", "email": "budi at pupr"}),
        )
        .await?;
    assert_eq!(st.as_u16(), 422, "{v}");
    assert!(v.to_string().contains("\"email\""), "{v}");
    let (st, v) = admin
        .post_json(
            "/api/v1/users",
            &json!({"username": "budi", "password": password, "display_name": "Budi Lay",
                    "role": "agency_officer", "agency_id": "pupr",
                    "email": "budi.lay@kupangkota.go.id", "phone": "0813 3900 4455"}),
        )
        .await?;
    assert_eq!(st.as_u16(), 201, "{v}");
    assert_eq!(v["email"], "budi.lay@kupangkota.go.id");
    assert_eq!(v["notices"], true);
    // A second officer of the agency without an address gets nothing; the officer edits their own phone.
    let (st, v) = admin
        .post_json(
            "/api/v1/users",
            &json!({"username": "sinta", "password": password, "display_name": "Sinta Bani",
                    "role": "agency_officer", "agency_id": "pupr"}),
        )
        .await?;
    assert_eq!(st.as_u16(), 201, "{v}");
    let budi = login(&node, "budi").await?;
    let (_, me) = budi.get_json("/api/v1/users/me").await?;
    let budi_id = me["id"].as_str().unwrap_or_default().to_owned();
    let (st, v) = budi
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{budi_id}"),
            Some(&json!({"phone": "12"})),
            &[],
        )
        .await?;
    assert_eq!(st.as_u16(), 422, "a phone of two digits: {v}");
    let (st, v) = budi
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{budi_id}"),
            Some(&json!({"phone": "081339004455"})),
            &[],
        )
        .await?;
    assert!(st.is_success(), "{v}");
    assert_eq!(v["phone"], "081339004455");

    // A new disposition: the agency's mailbox and the officer who gave an address.
    let (code, _) = file(
        &node.api(),
        "Saluran air tersumbat di Oesapa",
        json!({"name": "Maria Ndun"}),
    )
    .await?;
    act(&admin, &code, "verify", json!({"agency_id": "pupr"})).await?;
    let msgs = smtp.wait_for(2, Duration::from_secs(30)).await?;
    let mine = find(
        &msgs,
        "budi.lay@kupangkota.go.id",
        "Laporan baru untuk Dinas PUPR Kota Kupang",
    );
    find(
        &msgs,
        "pupr@kupangkota.go.id",
        "Laporan baru untuk Dinas PUPR Kota Kupang",
    );
    assert_eq!(msgs.len(), 2, "nobody else: {msgs:#?}");
    assert!(part(mine, "text/plain").contains(&format!("/officer/reports/{code}")));
    // The officer's own notice carries an unsubscribe link for the account, and the one-click header.
    let header = mine["list_unsubscribe"].as_str().unwrap_or_default();
    assert!(header.contains("/notifications/unsubscribe?u="), "{mine}");
    let link = &header[1..header.len() - 1];
    assert!(part(mine, "text/plain").contains(link));
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(link.replace("&t=", "&t=00"))
            .send()
            .await?
            .status(),
        404
    );
    let ok = client.get(link).send().await?;
    assert_eq!(ok.status(), 200);
    assert!(ok
        .text()
        .await?
        .contains("Anda telah berhenti berlangganan"));
    let (_, me) = budi.get_json("/api/v1/users/me").await?;
    assert_eq!(me["notices"], false, "{me}");

    // After unsubscribing only the mailbox hears of the next disposition.
    let (code2, _) = file(
        &node.api(),
        "Lampu jalan mati di Oesapa",
        json!({"name": "Maria Ndun"}),
    )
    .await?;
    act(&admin, &code2, "verify", json!({"agency_id": "pupr"})).await?;
    let msgs = smtp.wait_for(3, Duration::from_secs(30)).await?;
    find(&msgs, "pupr@kupangkota.go.id", &code2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let to_budi = smtp
        .messages()?
        .iter()
        .filter(|m| m["to"].as_str().unwrap_or("").contains("budi.lay"))
        .count();
    assert_eq!(to_budi, 1, "no notice after unsubscribing");
    // Turning notices on again works through the API as for the profile form.
    let (st, v) = budi
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{budi_id}"),
            Some(&json!({"notices": true})),
            &[],
        )
        .await?;
    assert!(st.is_success() && v["notices"] == true, "{v}");
    Ok(())
}
