#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! National statistics at the hub, from the replicated reports of every node, with real processes: a hub
//! and two regional nodes on 127.0.0.1. Kupang handles one of its three reports (below 60%), Kalimantan
//! Timur both of its two; a report filed at the national portal moves to Kupang (a transfer between
//! nodes). The hub's recap counts each report once, under the node that owns it now, and shows how fresh
//! each node's data is; each regional node counts what it owns.

use std::time::Duration;

use lapor_tests::cluster::{report, wait_status, Cluster};
use lapor_tests::{wait_for, Api};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

async fn file(api: &Api, title: &str, region: &str) -> String {
    let (st, body) = api
        .post_json(
            "/api/v1/reports",
            &json!({"kind": "complaint", "title": title, "region_code": region,
                    "body": "Laporan uji statistik nasional dengan isi yang cukup panjang."}),
        )
        .await
        .unwrap();
    assert_eq!(st.as_u16(), 201, "{body}");
    body["tracking_code"].as_str().unwrap().to_owned()
}

async fn post(api: &Api, path: &str, body: Value) {
    let (st, resp) = api.post_json(path, &body).await.unwrap();
    assert!(st.is_success(), "{path}: {st} {resp}");
}

fn node_row<'a>(recap: &'a Value, node: &str) -> &'a Value {
    recap["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == node)
        .unwrap_or_else(|| panic!("no node {node} in {recap}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::many_single_char_names)] // c the cluster; k, t, h its nodes' APIs; the scenario reads as a script.
async fn the_hub_counts_every_node_from_replicated_reports() {
    let c = Cluster::start_with(
        &[("kupangkota", "KPG", "53.71"), ("kaltim", "KTM", "64")],
        &[],
    )
    .await
    .unwrap();
    let k = c.member("kupangkota").admin().unwrap();
    let t = c.member("kaltim").admin().unwrap();
    let h = c.hub().admin().unwrap();
    for (api, id, region) in [
        (&k, "dinas-pu-kupang", "53.71"),
        (&t, "dinas-pu-samarinda", "64.72"),
    ] {
        post(api, "/api/v1/agencies", json!({"id": id, "name": format!("Dinas PU {id}"), "kind": "office", "region_code": region})).await;
    }
    let note = json!({"note": "Sudah ditindaklanjuti oleh petugas lapangan."});

    let mut kupang = Vec::new();
    for i in 0..3 {
        kupang.push(file(&k, &format!("Lampu jalan mati {i}"), "53.71.01").await);
    }
    for code in &kupang[..2] {
        post(
            &k,
            &format!("/api/v1/reports/{code}/verify"),
            json!({"agency_id": "dinas-pu-kupang"}),
        )
        .await;
    }
    post(
        &k,
        &format!("/api/v1/reports/{}/respond", kupang[0]),
        note.clone(),
    )
    .await;
    let mut kaltim = Vec::new();
    for i in 0..2 {
        let code = file(&t, &format!("Drainase tersumbat {i}"), "64.72.01").await;
        post(
            &t,
            &format!("/api/v1/reports/{code}/verify"),
            json!({"agency_id": "dinas-pu-samarinda"}),
        )
        .await;
        post(&t, &format!("/api/v1/reports/{code}/respond"), note.clone()).await;
        kaltim.push(code);
    }
    // Filed at the national portal about Kupang: the hub hands it to Kupang.
    let routed = file(&h, "Jembatan retak di Oebobo", "53.71.02").await;

    // Wait until the hub holds every node's latest state.
    wait_status(&h, &kupang[0], "responded", LONG)
        .await
        .unwrap();
    wait_status(&h, &kupang[1], "verified", LONG).await.unwrap();
    wait_status(&h, &kupang[2], "submitted", LONG)
        .await
        .unwrap();
    for code in &kaltim {
        wait_status(&h, code, "responded", LONG).await.unwrap();
    }
    for api in [&h, &k] {
        wait_for(
            "the routed report to belong to Kupang",
            LONG,
            Duration::from_millis(200),
            || {
                let api = api.clone();
                let routed = routed.clone();
                async move {
                    Ok(report(&api, &routed)
                        .await?
                        .filter(|v| v["owner_node"] == "kupangkota"))
                }
            },
        )
        .await
        .unwrap();
    }

    // The month as the hub sees it: the default period of /stats/agencies starts on its first day.
    let (_, current) = h.get_json("/api/v1/stats/agencies").await.unwrap();
    let month = current["from"].as_str().unwrap()[..7].to_owned();
    let (st, recap) = h
        .get_json(&format!("/api/v1/stats/recap/{month}"))
        .await
        .unwrap();
    assert_eq!(st.as_u16(), 200, "{recap}");
    assert_eq!(recap["total"]["received"], 6, "{recap}");
    assert_eq!(recap["total"]["handled"], 3);
    assert_eq!(recap["total"]["handled_ratio"], 0.5);
    let kp = node_row(&recap, "kupangkota");
    assert_eq!(
        (kp["received"].as_i64(), kp["handled"].as_i64()),
        (Some(4), Some(1)),
        "{kp}"
    );
    assert_eq!(kp["rating"], "kurang");
    assert_eq!(kp["flag_below_60"], true);
    let kt = node_row(&recap, "kaltim");
    assert_eq!(
        (kt["received"].as_i64(), kt["handled"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(kt["rating"], "baik");
    assert_eq!(
        recap["nodes"][0]["key"], "kupangkota",
        "flagged first: {recap}"
    );
    assert!(
        recap["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["key"] != "hub"),
        "the routed report counts at its owner"
    );
    // Per agency of every node (the hub knows them from node.agencies).
    let (_, agencies) = h
        .get_json(&format!("/api/v1/stats/agencies?from={month}-01"))
        .await
        .unwrap();
    let rows = agencies["agencies"].as_array().unwrap();
    let pu = rows
        .iter()
        .find(|r| r["key"] == "kaltim/dinas-pu-samarinda")
        .expect("kaltim's agency at the hub");
    assert_eq!(pu["received"], 2);
    // Freshness of every node.
    let fresh = recap["freshness"].as_array().unwrap();
    for node in ["kupangkota", "kaltim"] {
        let f = fresh
            .iter()
            .find(|f| f["node"] == node)
            .unwrap_or_else(|| panic!("{node} in {fresh:?}"));
        assert!(f["head_seq"].as_i64().unwrap() > 0);
        assert!(f["applied_at"].is_string());
        assert!(f["lag_ms"].as_i64().unwrap() >= 0);
    }

    // Each regional node counts what it owns now.
    let (_, mine) = k
        .get_json(&format!("/api/v1/stats/recap/{month}"))
        .await
        .unwrap();
    assert_eq!(mine["total"]["received"], 4, "{mine}");
    let (_, mine) = t
        .get_json(&format!("/api/v1/stats/recap/{month}"))
        .await
        .unwrap();
    assert_eq!(mine["total"]["received"], 2, "{mine}");
}
