#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::items_after_statements
)]
//! Federation scenarios with real processes: a hub and two regional nodes on 127.0.0.1, a fault proxy on
//! every link. Every scenario ends by checking that the nodes agree and that nothing was applied twice.

use std::time::Duration;

use lapor_federation::{Event, EventId, Value};
use lapor_tests::cluster::{file_report, report, wait_status, Cluster};
use lapor_tests::proxy::Mode;
use lapor_tests::{wait_until, Api};

mod peer;
use peer::{key_of, kupang_log, metrics, parse_wire, push, push_body, push_declared};
use serde_json::{json, Value as Json};

const LONG: Duration = Duration::from_secs(60);

async fn timeline_actions(api: &Api, code: &str) -> Vec<String> {
    let r = report(api, code).await.unwrap().unwrap();
    r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

fn metric(text: &str, line_start: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(-1, |v| v as i64)
}

/// Every report of `origin` at the hub matches the origin's own view: same status, same timeline.
async fn assert_converged(c: &Cluster, origin: &str, codes: &[String]) {
    let o = c.member(origin).admin().unwrap();
    let h = c.hub().admin().unwrap();
    for code in codes {
        let (a, b) = (
            report(&o, code).await.unwrap().unwrap(),
            report(&h, code).await.unwrap().unwrap(),
        );
        assert_eq!(a["status"], b["status"], "status of {code}");
        assert_eq!(
            timeline_actions(&o, code).await,
            timeline_actions(&h, code).await,
            "timeline of {code}"
        );
    }
}

async fn create_agency(api: &Api, id: &str) {
    let (st, body) = api
        .post_json(
            "/api/v1/agencies",
            &json!({"id": id, "name": "Dinas Pekerjaan Umum", "kind": "office", "region_code": "53.71"}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{st} {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_flow_to_the_hub_and_a_partition_converges() {
    let c = Cluster::start(&[("kupang", "KPG"), ("kaltim", "KTM")])
        .await
        .unwrap();
    let k = c.member("kupang").admin().unwrap();
    let h = c.hub().admin().unwrap();
    create_agency(&k, "dinas-pu").await;

    // A report filed on Kupang appears at the hub; a disposition on Kupang is visible on both.
    let (code, secret, id) = file_report(&k, "Lampu jalan mati di Oebobo").await.unwrap();
    assert!(id.starts_with("kupang:"));
    let at_hub = wait_status(&h, &code, "submitted", LONG).await.unwrap();
    assert_eq!(at_hub["title"], "Lampu jalan mati di Oebobo");
    // The reporter's identity never reaches the hub, not even for its admin.
    assert!(at_hub.get("reporter").is_none_or(Json::is_null), "{at_hub}");
    let (st, body) = k
        .post_json(
            &format!("/api/v1/reports/{code}/verify"),
            &json!({"agency_id": "dinas-pu"}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{st} {body}");
    wait_status(&h, &code, "verified", LONG).await.unwrap();
    // Only the owner changes a report: the hub refuses to act on it.
    let (st, body) = h
        .post_json(
            &format!("/api/v1/reports/{code}/respond"),
            &json!({"note": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(st.as_u16(), 409, "{body}");
    assert_eq!(body["code"], "not_owner");
    let (st, body) = k
        .post_json(
            &format!("/api/v1/reports/{code}/respond"),
            &json!({"note": "Lampu sudah diganti oleh petugas."}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{st} {body}");
    wait_status(&h, &code, "responded", LONG).await.unwrap();

    // Partition Kupang from the hub, change things on both sides.
    c.partition("kupang", true).unwrap();
    let mut codes = vec![code.clone()];
    for i in 0..12 {
        let (cd, _, _) = file_report(&k, &format!("Jalan rusak nomor {i}"))
            .await
            .unwrap();
        if i % 2 == 0 {
            let (st, _) = k
                .post_json(
                    &format!("/api/v1/reports/{cd}/verify"),
                    &json!({"agency_id": "dinas-pu"}),
                )
                .await
                .unwrap();
            assert!(st.is_success());
        }
        codes.push(cd);
    }
    // On the hub (the national portal), the citizen replies to the follow-up: forwarded to the owner.
    let (st, body) = c
        .hub()
        .api()
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/reports/{code}/reply"),
            Some(&json!({"note": "Lampu di tiang sebelahnya juga mati."})),
            &[("x-tracking-secret", secret.as_str())],
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{st} {body}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        report(&h, &codes[5]).await.unwrap().is_none(),
        "nothing crosses a cut link"
    );
    assert_eq!(
        report(&k, &code).await.unwrap().unwrap()["status"],
        "responded"
    );

    // Heal with a hostile link: duplicated and delayed requests.
    c.proxy("up_kupang")
        .unwrap()
        .set_modes([Mode::Duplicate, Mode::Delay(Duration::from_millis(30))]);
    c.proxy("down_kupang").unwrap().set_modes([Mode::Duplicate]);
    // The reply reaches the owner, which applies it through its own lifecycle.
    wait_status(&k, &code, "in_progress", LONG).await.unwrap();
    let actions = timeline_actions(&k, &code).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "replied").count(),
        1,
        "{actions:?}"
    );
    for cd in &codes {
        let want = report(&k, cd).await.unwrap().unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned();
        wait_status(&h, cd, &want, LONG).await.unwrap();
    }
    c.partition("kupang", false).unwrap();
    assert_converged(&c, "kupang", &codes).await;

    // Nothing applied twice: the hub holds Kupang's whole log, gapless, and the backlog drains to zero.
    let k_metrics = metrics(&c.member("kupang").api()).await;
    let h_metrics = metrics(&c.hub().api()).await;
    let k_head = metric(
        &k_metrics,
        "lapor_federation_origin_head{origin=\"kupang\"}",
    );
    assert!(k_head > 20, "{k_metrics}");
    assert_eq!(
        metric(
            &h_metrics,
            "lapor_federation_origin_head{origin=\"kupang\"}"
        ),
        k_head
    );
    wait_until(
        "kupang's backlog to drain",
        LONG,
        Duration::from_millis(200),
        || async {
            metric(
                &metrics(&c.member("kupang").api()).await,
                "lapor_federation_backlog_events{peer=\"hub\"}",
            ) == 0
        },
    )
    .await
    .unwrap();
    // Kaltim, never partitioned, follows the hub's log (where the contribution was authored).
    let kt_metrics = metrics(&c.member("kaltim").api()).await;
    assert_eq!(
        metric(&kt_metrics, "lapor_federation_origin_head{origin=\"hub\"}"),
        metric(&h_metrics, "lapor_federation_origin_head{origin=\"hub\"}")
    );
    // The operator's view.
    let status = c.member("kupang").cli(&["federation", "status"]).unwrap();
    assert!(
        status.contains("hub [hub]") && status.contains("backlog 0"),
        "{status}"
    );
}

fn next_event(prev: &[u8], payload_title: &str) -> Event {
    let (mut e, _) = parse_wire(prev);
    e.origin_prev = Some(EventId::of_unsigned(&e.unsigned_bytes().unwrap()));
    e.origin_seq += 1;
    if let Value::Object(p) = &mut e.payload {
        if let Some(Value::Object(state)) = p.get_mut("state") {
            state.insert("title".into(), Value::from(payload_title));
        }
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tampered_and_malformed_pushes_are_refused_and_equivocation_freezes() {
    let c = Cluster::start(&[("kupang", "KPG"), ("kaltim", "KTM")])
        .await
        .unwrap();
    let k = c.member("kupang").admin().unwrap();
    let h = c.hub().admin().unwrap();
    let (code, _, _) = file_report(&k, "Sampah menumpuk di pasar").await.unwrap();
    wait_status(&h, &code, "submitted", LONG).await.unwrap();
    // Stop Kupang's own pushes so this test is the only one writing Kupang's log to the hub.
    c.partition("kupang", true).unwrap();
    let hub = c.hub().api();
    let log = kupang_log(&c).await;
    let last = log.last().unwrap().clone();
    let kupang_key = key_of(&c.member("kupang").dir);
    let kupang_id = c.member("kupang").key_id.clone();
    let kaltim_key = key_of(&c.member("kaltim").dir);
    let kaltim_id = c.member("kaltim").key_id.clone();

    // A replayed batch (events the hub already holds) changes nothing and is answered as accepted.
    let body = push_body("kupang", &kupang_key, &kupang_id, "replay-1", &log);
    let (st, ans) = push(&hub, body.clone()).await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(ans["accepted"].as_array().unwrap().len(), log.len());
    let (st, again) = push(&hub, body).await;
    assert_eq!(
        (st, &again),
        (200, &ans),
        "a retried transaction gets the same answer"
    );

    // Forged signature: the event's signature flipped.
    let good = next_event(&last, "Judul yang dipalsukan")
        .sign(&kupang_key)
        .unwrap();
    let mut forged = good.wire_bytes().to_vec();
    let sig_at = forged.windows(7).position(|w| w == b"\"sig\":\"").unwrap() + 7;
    forged[sig_at] = if forged[sig_at] == b'0' { b'1' } else { b'0' };
    // Tampered payload: a signed event whose title was changed after signing.
    let tampered = String::from_utf8(good.wire_bytes().to_vec())
        .unwrap()
        .replace("Judul yang dipalsukan", "Judul yang diubah-ubah")
        .into_bytes();
    // Another node's key claiming Kupang as origin.
    let mut claimed = next_event(&last, "Kaltim mengaku Kupang");
    claimed.key_id = kaltim_id.clone();
    let claimed = claimed.sign(&kaltim_key).unwrap().wire_bytes().to_vec();
    // Non-canonical JSON: whitespace after the first brace.
    let mut spaced = b"{ ".to_vec();
    spaced.extend_from_slice(&good.wire_bytes()[1..]);
    let body = push_body(
        "kupang",
        &kupang_key,
        &kupang_id,
        "bad-1",
        &[forged, tampered, claimed],
    );
    let (st, ans) = push(&hub, body).await;
    assert_eq!(st, 200, "{ans}");
    let codes: Vec<&str> = ans["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["bad_signature", "bad_signature", "unknown_key"],
        "{ans}"
    );
    assert!(ans["accepted"].as_array().unwrap().is_empty());
    // A non-canonical body is refused as a whole.
    let mut body = push_body(
        "kupang",
        &kupang_key,
        &kupang_id,
        "bad-2",
        &[good.wire_bytes().to_vec()],
    );
    body.insert(1, b' ');
    let (st, ans) = push(&hub, body).await;
    assert_eq!(st, 400, "{ans}");
    assert_eq!(ans["code"], "whitespace", "{ans}");
    // So is a push from a key that is not the sender's.
    let body = push_body("kupang", &kaltim_key, &kaltim_id, "bad-3", &[]);
    let (st, ans) = push(&hub, body).await;
    assert_eq!(st, 401, "{ans}");
    // An oversized batch: 2 MiB and more, refused from its declared length.
    let answer = push_declared(&hub, 2 * 1024 * 1024 + 10).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("batch_too_large"), "{answer}");
    // Nothing of it reached the hub's state.
    assert_eq!(
        report(&h, &code).await.unwrap().unwrap()["title"],
        "Sampah menumpuk di pasar"
    );

    // Equivocation: two different valid events with one sequence number.
    let one = next_event(&last, "Versi satu").sign(&kupang_key).unwrap();
    let two = next_event(&last, "Versi dua").sign(&kupang_key).unwrap();
    let (st, _) = push(
        &hub,
        push_body(
            "kupang",
            &kupang_key,
            &kupang_id,
            "eq-1",
            &[one.wire_bytes().to_vec()],
        ),
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = push(
        &hub,
        push_body(
            "kupang",
            &kupang_key,
            &kupang_id,
            "eq-2",
            &[two.wire_bytes().to_vec()],
        ),
    )
    .await;
    assert_eq!(st, 200);
    wait_until(
        "the hub to freeze kupang",
        LONG,
        Duration::from_millis(100),
        || async { metric(&metrics(&hub).await, "lapor_federation_frozen_origins") == 1 },
    )
    .await
    .unwrap();
    let status = c.hub().cli(&["federation", "status"]).unwrap();
    assert!(
        status.contains("FROZEN") && status.contains("equivocations: 1"),
        "{status}"
    );
    assert!(
        c.hub().output().contains("EQUIVOCATION"),
        "the alarm is logged"
    );
    // The first version was applied; the second is kept as evidence, never applied; Kaltim is unaffected.
    assert_eq!(
        report(&h, &code).await.unwrap().unwrap()["title"],
        "Versi satu"
    );
    let (kt_code, _, _) = file_report(&c.member("kaltim").admin().unwrap(), "Banjir di Samarinda")
        .await
        .unwrap();
    wait_status(&h, &kt_code, "submitted", LONG).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_keeps_old_events_and_refuses_retired_and_revoked_keys() {
    let mut c = Cluster::start(&[("kupang", "KPG")]).await.unwrap();
    let k = c.member("kupang").admin().unwrap();
    let h = c.hub().admin().unwrap();
    let (before, _, _) = file_report(&k, "Sebelum rotasi").await.unwrap();
    wait_status(&h, &before, "submitted", LONG).await.unwrap();
    let old_key = key_of(&c.member("kupang").dir);
    let old_id = c.member("kupang").key_id.clone();

    // Rotate with the node stopped, then start it again on the new key.
    let m = c.member_mut("kupang").unwrap();
    m.stop().unwrap();
    let out = m.cli(&["keys", "rotate"]).unwrap();
    assert!(out.contains("retired"), "{out}");
    m.start().unwrap();
    let (after, _, _) = file_report(&k, "Sesudah rotasi").await.unwrap();
    wait_status(&h, &after, "submitted", LONG).await.unwrap();
    // Old events still verify (the hub re-serves them in a pull), new ones use the new key.
    let log = kupang_log(&c).await;
    let key_ids: Vec<String> = log.iter().map(|e| parse_wire(e).0.key_id).collect();
    assert_eq!(key_ids.first().unwrap(), &old_id);
    assert_ne!(key_ids.last().unwrap(), &old_id);
    assert!(log.iter().any(|e| parse_wire(e).0.kind == "key.rotated"));

    // An event signed by the retired key after the rotation is refused.
    c.partition("kupang", true).unwrap();
    let hub = c.hub().api();
    let new_key = key_of(&c.member("kupang").dir);
    let new_id = c.member("kupang").cli(&["keys", "show"]).unwrap();
    let new_id = new_id
        .lines()
        .find_map(|l| l.strip_prefix("key_id:"))
        .unwrap()
        .trim()
        .to_owned();
    let mut stale = next_event(log.last().unwrap(), "Kunci lama");
    stale.key_id = old_id.clone();
    let stale = stale.sign(&old_key).unwrap();
    let (st, ans) = push(
        &hub,
        push_body(
            "kupang",
            &new_key,
            &new_id,
            "old-key",
            &[stale.wire_bytes().to_vec()],
        ),
    )
    .await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(ans["rejected"][0]["code"], "key_retired", "{ans}");

    // Revoke the current key from the event after the revocation: later events by it are refused.
    c.partition("kupang", false).unwrap();
    let m = c.member_mut("kupang").unwrap();
    m.stop().unwrap();
    let head = kupang_log(&c).await.len() as u64;
    let out = c
        .member("kupang")
        .cli(&[
            "keys",
            "revoke",
            "--key-id",
            &new_id,
            "--from-seq",
            &(head + 2).to_string(),
        ])
        .unwrap();
    assert!(out.contains("revoked"), "{out}");
    c.member_mut("kupang").unwrap().start().unwrap();
    wait_until(
        "the revocation to reach the hub",
        LONG,
        Duration::from_millis(200),
        || async { kupang_log(&c).await.len() as u64 == head + 1 },
    )
    .await
    .unwrap();
    c.partition("kupang", true).unwrap();
    let log = kupang_log(&c).await;
    let later = next_event(log.last().unwrap(), "Sesudah pencabutan")
        .sign(&new_key)
        .unwrap();
    let (st, ans) = push(
        &hub,
        push_body(
            "kupang",
            &new_key,
            &new_id,
            "revoked",
            &[later.wire_bytes().to_vec()],
        ),
    )
    .await;
    // The request itself is signed by the revoked key: refused as a whole or event by event, never applied.
    assert!(
        st == 401 || ans["rejected"][0]["code"] == "key_revoked",
        "{st} {ans}"
    );
}

/// Reports of `origin` the hub holds, by listing them as its admin.
async fn hub_count(c: &Cluster) -> i64 {
    let (st, body) = c
        .hub()
        .admin()
        .unwrap()
        .get_json("/api/v1/reports?limit=1")
        .await
        .unwrap();
    assert!(st.is_success(), "{body}");
    body["total"].as_i64().unwrap()
}

async fn file_many(api: &Api, n: usize, prefix: &str) -> Vec<String> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let api = api.clone();
        let title = format!("{prefix} {i}");
        set.spawn(async move { file_report(&api, &title).await.map(|(code, _, _)| code) });
    }
    let mut codes = Vec::new();
    while let Some(r) = set.join_next().await {
        codes.push(r.unwrap().unwrap());
    }
    codes
}

/// Every report at the hub has exactly one `created` entry and the hub holds Kupang's whole log.
async fn assert_exactly_once(c: &Cluster, codes: &[String]) {
    let h = c.hub().admin().unwrap();
    wait_until(
        "the hub to hold every report",
        LONG,
        Duration::from_millis(250),
        || async { hub_count(c).await == codes.len() as i64 },
    )
    .await
    .unwrap();
    for code in codes {
        let actions = timeline_actions(&h, code).await;
        assert_eq!(actions, ["created"], "{code}: {actions:?}");
    }
    let k_head = metric(
        &metrics(&c.member("kupang").api()).await,
        "lapor_federation_origin_head{origin=\"kupang\"}",
    );
    wait_until(
        "the hub's head of kupang to match",
        LONG,
        Duration::from_millis(250),
        || async {
            metric(
                &metrics(&c.hub().api()).await,
                "lapor_federation_origin_head{origin=\"kupang\"}",
            ) == k_head
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_sending_and_while_applying_loses_nothing_and_applies_once() {
    let mut c = Cluster::start(&[("kupang", "KPG")]).await.unwrap();
    let k = c.member("kupang").admin().unwrap();

    // Killed while sending: a slow link, a burst of reports, SIGKILL mid-push, restart.
    c.proxy("up_kupang")
        .unwrap()
        .set_mode(Mode::Delay(Duration::from_millis(400)));
    let mut codes = file_many(&k, 120, "Kirim").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let m = c.member_mut("kupang").unwrap();
    m.kill().unwrap();
    m.start().unwrap();
    c.proxy("up_kupang").unwrap().set_mode(Mode::Pass);
    assert_exactly_once(&c, &codes).await;

    // Killed while applying: a backlog built behind a cut link, then the hub is killed as events arrive.
    c.partition("kupang", true).unwrap();
    codes.extend(file_many(&k, 400, "Terap").await);
    c.partition("kupang", false).unwrap();
    for _ in 0..3 {
        let hub = c.hub().api();
        let _ = wait_until(
            "the hub to receive events",
            LONG,
            Duration::from_millis(5),
            || async {
                metric(
                    &metrics(&hub).await,
                    "lapor_federation_received_events_total",
                ) > 0
            },
        )
        .await;
        let h = c.member_mut("hub").unwrap();
        h.kill().unwrap();
        h.start().unwrap();
        if hub_count(&c).await == codes.len() as i64 {
            break;
        }
    }
    assert_exactly_once(&c, &codes).await;
}
