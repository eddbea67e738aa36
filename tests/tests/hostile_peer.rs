#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! A validly enrolled peer that turns hostile: a hub and two regional nodes as real processes, and the test
//! driving Kaltim's real key to send events the authorisation rules (PROTOCOL section 8.9) must refuse. Every
//! event is correctly signed and chained, so only authorisation stands between it and Kupang's report.
//!
//! Each attack is checked for its refusal code (per origin in `/metrics` and `lapor federation status`) and
//! for leaving nothing changed at the hub and at the owner; a report filed on Kupang afterwards still
//! federates.

use std::collections::BTreeMap;
use std::time::Duration;

use lapor_federation::{Event, EventId, SignedEvent, Value};
use lapor_tests::cluster::{file_report, report, wait_status, Cluster};
use lapor_tests::wait_until;
use serde_json::json;

mod peer;
use peer::{
    chrono_ms, key_of, log_at_hub, metrics, parse_wire, push, push_body, push_body_to,
    push_headers, push_with,
};

const LONG: Duration = Duration::from_secs(60);

/// Builds Kaltim's next events, continuing the log the hub holds of it.
struct Attacker {
    key: ed25519_dalek::SigningKey,
    key_id: String,
    seq: u64,
    prev: Option<EventId>,
}

impl Attacker {
    fn event(&mut self, kind: &str, report_id: &str, epoch: u64, payload: Value) -> SignedEvent {
        self.seq += 1;
        let e = Event {
            v: 1,
            kind: kind.to_owned(),
            origin: "kaltim".to_owned(),
            origin_seq: self.seq,
            origin_prev: self.prev,
            report_id: report_id.to_owned(),
            report_epoch: epoch,
            report_prev: vec![],
            authored_at_ms: chrono_ms(),
            key_id: self.key_id.clone(),
            payload,
            blobs: vec![],
        };
        let signed = e.sign(&self.key).unwrap();
        self.prev = Some(signed.id());
        signed
    }
}

fn transfer(offer: Option<&str>, from: &str, to: &str, epoch: i64) -> Value {
    let mut p = BTreeMap::new();
    if let Some(o) = offer {
        p.insert("offer".to_owned(), Value::from(o));
    }
    p.insert("from".to_owned(), Value::from(from));
    p.insert("to".to_owned(), Value::from(to));
    p.insert("epoch".to_owned(), Value::Int(epoch));
    p.insert("reason".to_owned(), Value::from("routing"));
    Value::Object(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_peer_cannot_take_or_change_what_another_node_owns() {
    let c = Cluster::start(&[("kupang", "KPG"), ("kaltim", "KTM")])
        .await
        .unwrap();
    let k = c.member("kupang").admin().unwrap();
    let h = c.hub().admin().unwrap();
    let (code, _, id) = file_report(&k, "Jalan berlubang di Oesapa").await.unwrap();
    wait_status(&h, &code, "submitted", LONG).await.unwrap();

    // Kaltim's own pushes stop, so the test is the only author of Kaltim's log at the hub from here on.
    c.partition("kaltim", true).unwrap();
    let held = log_at_hub(&c, "kaltim").await;
    let (seq, prev) = held.last().map_or((0, None), |w| {
        let (e, _) = parse_wire(w);
        let id = EventId::of_unsigned(&e.unsigned_bytes().unwrap());
        (e.origin_seq, Some(id))
    });
    let mut kaltim = Attacker {
        key: key_of(&c.member("kaltim").dir),
        key_id: c.member("kaltim").key_id.clone(),
        seq,
        prev,
    };

    // Kupang's own report.created, re-signed as Kaltim's lifecycle events: a valid payload, a wrong author.
    let kupang_log = log_at_hub(&c, "kupang").await;
    let created = kupang_log
        .iter()
        .map(|w| parse_wire(w).0)
        .find(|e| e.report_id == id && e.kind == "report.created")
        .unwrap();
    let mut verified_payload = created.payload.clone();
    if let Value::Object(p) = &mut verified_payload {
        if let Some(Value::Object(entry)) = p.get_mut("entry") {
            entry.insert("action".into(), Value::from("verified"));
        }
        if let Some(Value::Object(state)) = p.get_mut("state") {
            state.insert("status".into(), Value::from("verified"));
            state.insert("title".into(), Value::from("Diambil alih oleh Kaltim"));
        }
        p.remove("identity");
    }
    let fake_id = "kupang:01JFAKEFAKEFAKEFAKEFAKEFAK";
    let attacks = [
        // 1. A lifecycle change of a report another node owns.
        kaltim.event("report.verified", &id, 0, verified_payload.clone()),
        // 2. A lifecycle event for a report never created: must not create it, owned by the sender.
        kaltim.event("report.verified", fake_id, 0, verified_payload.clone()),
        // 3. Creating a report under another node's id prefix.
        kaltim.event("report.created", fake_id, 0, created.payload.clone()),
        // 4. Accepting an offer that was never made (it would move the report to Kaltim).
        kaltim.event(
            "transfer.accept",
            &id,
            0,
            transfer(Some(&"ab".repeat(32)), "kupang", "kaltim", 1),
        ),
        // 5. Offering a report it does not own.
        kaltim.event(
            "transfer.offer",
            &id,
            0,
            transfer(None, "kaltim", "kupang", 1),
        ),
        // 6. Committing a transfer: only the hub decides.
        kaltim.event(
            "transfer.committed",
            &id,
            1,
            transfer(Some(&"cd".repeat(32)), "kupang", "kaltim", 1),
        ),
    ];
    let wires: Vec<Vec<u8>> = attacks.iter().map(|e| e.wire_bytes().to_vec()).collect();
    let hub = c.hub().api();
    let (st, ans) = push(
        &hub,
        push_body("kaltim", &kaltim.key, &kaltim.key_id, "attack-1", &wires),
    )
    .await;
    // Every event is validly signed and chained, so the push itself is accepted; the refusal is authorisation.
    assert_eq!(st, 200, "{ans}");
    assert_eq!(
        ans["accepted"].as_array().unwrap().len(),
        wires.len(),
        "{ans}"
    );

    // Replays: the exact request again (same signed headers) is refused, and so is one signed ten minutes ago,
    // each with its reason and counted; unsigned headers are refused before anything else.
    let body = push_body(
        "kaltim",
        &kaltim.key,
        &kaltim.key_id,
        "replay-1",
        &wires[..1],
    );
    let headers = push_headers(&body, chrono_ms());
    let (st, ans) = push_with(&hub, body.clone(), &headers).await;
    assert_eq!(st, 200, "the first copy is answered: {ans}");
    let (st, ans) = push_with(&hub, body.clone(), &headers).await;
    assert_eq!(
        (st, ans["code"].as_str()),
        (401, Some("replayed_request")),
        "{ans}"
    );
    let stale = push_headers(&body, chrono_ms() - 10 * 60 * 1000);
    let (st, ans) = push_with(&hub, body.clone(), &stale).await;
    assert_eq!(
        (st, ans["code"].as_str()),
        (401, Some("request_time_skew")),
        "{ans}"
    );
    let (st, ans) = push_with(&hub, body.clone(), &[]).await;
    assert_eq!(
        (st, ans["code"].as_str()),
        (401, Some("unsigned_request")),
        "{ans}"
    );
    // A retry signed anew is answered from the stored transaction, as before.
    let (st, ans) = push(&hub, body).await;
    assert_eq!(st, 200, "{ans}");
    let text = metrics(&hub).await;
    assert!(
        text.contains("lapor_federation_replayed_requests_total 1"),
        "{text}"
    );
    assert!(
        text.contains("lapor_federation_stale_requests_total 1"),
        "{text}"
    );

    let expected = [
        ("not_owner", 2),
        ("unknown_report", 1),
        ("foreign_report_id", 1),
        ("unknown_offer", 1),
        ("not_hub", 1),
    ];
    let metrics_text = wait_until(
        "the hub to refuse all six events",
        LONG,
        Duration::from_millis(100),
        || async {
            let text = metrics(&hub).await;
            expected.iter().all(|(code, n)| {
                text.contains(&format!(
                    "lapor_federation_refused_events{{origin=\"kaltim\",code=\"{code}\"}} {n}"
                ))
            })
        },
    )
    .await;
    if let Err(e) = metrics_text {
        let status = c.hub().cli(&["federation", "status"]).unwrap();
        panic!("{e}\n{status}");
    }
    let status = c.hub().cli(&["federation", "status"]).unwrap();
    assert!(status.contains("REFUSED"), "{status}");
    assert!(status.contains("kaltim  not_owner x 2"), "{status}");
    assert!(
        status.contains("names offer") && status.contains("which the hub never made"),
        "the reason names the problem: {status}"
    );

    // Nothing changed: the hub still has Kupang's report as filed, owned by Kupang at epoch 0; the fake
    // report does not exist; Kupang still owns and acts on its report.
    let at_hub = report(&h, &code).await.unwrap().unwrap();
    assert_eq!(at_hub["status"], "submitted", "{at_hub}");
    assert_eq!(at_hub["title"], "Jalan berlubang di Oesapa");
    assert_eq!(
        (at_hub["owner_node"].as_str(), at_hub["epoch"].as_i64()),
        (Some("kupang"), Some(0))
    );
    let (st, _) = h
        .get_json(&format!("/api/v1/reports/{fake_id}"))
        .await
        .unwrap();
    assert_eq!(st.as_u16(), 404, "the forged report was not created");
    let (st, body) = k
        .post_json(
            &format!("/api/v1/reports/{code}/hold"),
            &json!({"note": "Mohon lampirkan foto lokasi."}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "the owner still acts: {st} {body}");

    // Liveness: Kupang's change and a new Kupang report reach the hub after the attack.
    wait_status(&h, &code, "on_hold", LONG).await.unwrap();
    let (code2, _, _) = file_report(&k, "Air PDAM tidak mengalir").await.unwrap();
    wait_status(&h, &code2, "submitted", LONG).await.unwrap();
    let at_hub = report(&h, &code).await.unwrap().unwrap();
    assert_eq!(at_hub["owner_node"], "kupang", "{at_hub}");

    // 7. Completing a citizen's report without the tracking secret: a `contribution.accept` pushed straight to
    // the owner (Kaltim is Kupang's peer through the hub's directory).
    let (st, body) = k
        .post_json(
            "/api/v1/agencies",
            &json!({"id": "dinas-pu", "name": "Dinas Pekerjaan Umum", "kind": "office", "region_code": "53.71"}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{st} {body}");
    let (code3, _, id3) = file_report(&k, "Drainase tersumbat").await.unwrap();
    for (action, body) in [
        ("verify", json!({"agency_id": "dinas-pu"})),
        ("respond", json!({"note": "Drainase sudah dibersihkan."})),
    ] {
        let (st, b) = k
            .post_json(&format!("/api/v1/reports/{code3}/{action}"), &body)
            .await
            .unwrap();
        assert!(st.is_success(), "{action}: {st} {b}");
    }
    let mut c3 = BTreeMap::new();
    c3.insert("owner".to_owned(), Value::from("kupang"));
    c3.insert("tracking_code".to_owned(), Value::from(code3.as_str()));
    c3.insert("note".to_owned(), Value::from("Terima kasih"));
    c3.insert("at_ms".to_owned(), Value::Int(chrono_ms()));
    let forged = kaltim.event("contribution.accept", &id3, 0, Value::Object(c3));
    // Kupang has never held Kaltim's log: the push carries all of it, the forged contribution last.
    let mut chain = held.clone();
    chain.extend(wires.iter().cloned());
    chain.push(forged.wire_bytes().to_vec());
    let kupang = c.member("kupang").api();
    let (st, ans) = push(
        &kupang,
        push_body_to(
            "kupang",
            "kaltim",
            &kaltim.key,
            &kaltim.key_id,
            "attack-2",
            &chain,
        ),
    )
    .await;
    assert_eq!(st, 200, "{ans}");
    wait_until(
        "Kupang to refuse the unproven contribution",
        LONG,
        Duration::from_millis(100),
        || async {
            let text = metrics(&kupang).await;
            text.contains(
                "lapor_federation_refused_events{origin=\"kaltim\",code=\"unproven_contribution\"} 1",
            )
        },
    )
    .await
    .unwrap();
    assert_eq!(
        report(&k, &code3).await.unwrap().unwrap()["status"],
        "responded",
        "the report was not completed"
    );
}
