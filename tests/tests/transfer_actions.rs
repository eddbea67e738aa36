//! No acknowledged action is lost across a transfer (issue 11): a hub and two regional nodes as real `lapor`
//! processes behind fault proxies.
//!
//! * A reporter's reply made on a regional node that does not own the report reaches the owner through the
//!   hub (the hub relays it) and is applied there exactly once.
//! * The hub moves a report while its owner is cut off, and the owner acts on it meanwhile (answered 200):
//!   the hub does not commit until the owner released the report (`transfer.released`, shown as the reason
//!   of the waiting accept in `lapor federation status`), and the action is in the new owner's and the hub's
//!   timeline exactly once.
//! * While a transfer is open no node acknowledges a reporter's action on the report (409
//!   `transfer_pending`), and after healing nothing is left `pending`.

use std::time::Duration;

use anyhow::{ensure, Context};
use lapor_tests::cluster::{wait_status, Cluster, Member};
use lapor_tests::{wait_for, Api};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

async fn file(api: &Api, title: &str) -> anyhow::Result<(String, String)> {
    let body = json!({"kind": "complaint", "title": title,
        "body": "Jalan berlubang besar di depan sekolah, sudah dua bulan belum diperbaiki.",
        "region_code": "53.71",
        "reporter": {"name": "Yohanes Lake", "phone": "081339001122"}});
    let (st, resp) = api.post_json("/api/v1/reports", &body).await?;
    ensure!(st.as_u16() == 201, "filing {title}: {st} {resp}");
    Ok((
        resp["tracking_code"].as_str().context("code")?.to_owned(),
        resp["tracking_secret"]
            .as_str()
            .context("secret")?
            .to_owned(),
    ))
}

async fn view(api: &Api, code: &str) -> anyhow::Result<Option<Value>> {
    let (st, body) = api.get_json(&format!("/api/v1/reports/{code}")).await?;
    Ok((st.as_u16() == 200).then_some(body))
}

fn actions(v: &Value) -> Vec<String> {
    v["timeline"].as_array().map_or_else(Vec::new, |t| {
        t.iter()
            .filter_map(|e| e["action"].as_str().map(str::to_owned))
            .collect()
    })
}

async fn wait_actions(m: &Member, code: &str, want: &[&str]) -> anyhow::Result<Value> {
    let api = m.admin()?;
    wait_for(
        &format!("{code} on {} to have the timeline {want:?}", m.id),
        LIMIT,
        Duration::from_millis(200),
        || {
            let api = api.clone();
            async move { Ok(view(&api, code).await?.filter(|v| actions(v) == want)) }
        },
    )
    .await
}

async fn act(api: &Api, code: &str, action: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    let (st, v) = api
        .post_json(&format!("/api/v1/reports/{code}/{action}"), &body)
        .await?;
    Ok((st.as_u16(), v))
}

async fn reply(m: &Member, code: &str, secret: &str, note: &str) -> anyhow::Result<(u16, Value)> {
    let (st, v) = m
        .api()
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/reports/{code}/reply"),
            Some(&json!({ "note": note })),
            &[("x-tracking-secret", secret)],
        )
        .await?;
    Ok((st.as_u16(), v))
}

fn status_of(m: &Member) -> anyhow::Result<String> {
    m.cli(&["federation", "status"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_action_is_lost_across_a_transfer() -> anyhow::Result<()> {
    let c = Cluster::start_with(
        &[("kupangkota", "KPG", "53.71"), ("kaltim", "KTM", "64")],
        &[("LAPOR_ROUTING__TRANSFER_EXPIRY_SECS", "300")],
    )
    .await?;
    let (hub, kupang, kaltim) = (c.hub(), c.member("kupangkota"), c.member("kaltim"));
    let (h, k) = (hub.admin()?, kupang.admin()?);
    for m in [kupang, kaltim] {
        let other = if m.id == "kupangkota" {
            "kaltim"
        } else {
            "kupangkota"
        };
        wait_for(
            &format!("{} to learn {other} from the directory", m.id),
            LIMIT,
            Duration::from_millis(200),
            || async { Ok(m.cli(&["peers", "list"])?.contains(other).then_some(())) },
        )
        .await?;
    }
    let (st, body) = k
        .post_json(
            "/api/v1/agencies",
            &json!({"id": "dinas-pu-kupang", "name": "Dinas PU Kota Kupang", "kind": "office"}),
        )
        .await?;
    ensure!(st.is_success(), "{st} {body}");

    // --- a reply on a third node reaches the owner through the hub ----------------------------------
    let (code1, secret1) = file(&k, "Lampu jalan mati di Oebobo").await?;
    let (st, v) = act(
        &k,
        &code1,
        "verify",
        json!({"agency_id": "dinas-pu-kupang"}),
    )
    .await?;
    ensure!(st == 200, "{st} {v}");
    let (st, v) = act(
        &k,
        &code1,
        "respond",
        json!({"note": "Lampu sudah diganti."}),
    )
    .await?;
    ensure!(st == 200, "{st} {v}");
    wait_status(&h, &code1, "responded", LIMIT).await?;
    let (st, v) = reply(
        kaltim,
        &code1,
        &secret1,
        "Lampu di tiang sebelah juga mati.",
    )
    .await?;
    ensure!(st == 200 || st == 202, "a reply on kaltim: {st} {v}");
    wait_status(&k, &code1, "in_progress", LIMIT).await?;
    let want1 = ["created", "verified", "responded", "replied"];
    wait_actions(kupang, &code1, &want1).await?;
    wait_actions(hub, &code1, &want1).await?;

    // --- the hub moves a report while its owner is cut off; the owner's action is kept ---------------
    let (code2, _) = file(&k, "Air PDAM keruh").await?;
    wait_status(&h, &code2, "submitted", LIMIT).await?;
    c.partition("kupangkota", true)?;
    let (st, v) = act(
        &h,
        &code2,
        "transfer",
        json!({"to_node": "kaltim", "note": "Lokasi di Samarinda"}),
    )
    .await?;
    ensure!(st == 202, "the hub moves the report: {st} {v}");
    // The owner, cut off, does not know yet and verifies: answered 200, so it must never be lost.
    let (st, v) = act(
        &k,
        &code2,
        "verify",
        json!({"agency_id": "dinas-pu-kupang"}),
    )
    .await?;
    ensure!(st == 200, "{st} {v}");
    // The target accepts, but the hub holds the commit for the owner's release, and says so.
    wait_for(
        "the hub to hold kaltim's accept for kupangkota's release",
        LIMIT,
        Duration::from_millis(300),
        || async {
            let out = status_of(hub)?;
            Ok(out.contains("to release the report").then_some(out))
        },
    )
    .await?;
    let v = view(&h, &code2).await?.context("report at the hub")?;
    ensure!(
        v["owner_node"] == "kupangkota" && v["epoch"] == 0,
        "no commit without the owner's release: {v}"
    );
    c.partition("kupangkota", false)?;
    let want2 = ["created", "verified", "transferred"];
    let v = wait_actions(kaltim, &code2, &want2).await?;
    ensure!(v["owner_node"] == "kaltim" && v["epoch"] == 1, "{v}");
    let v = wait_actions(hub, &code2, &want2).await?;
    ensure!(v["owner_node"] == "kaltim" && v["epoch"] == 1, "{v}");
    let (st, v) = act(&k, &code2, "hold", json!({"note": "Mohon lengkapi alamat"})).await?;
    ensure!(
        st == 409 && v.to_string().contains("not_owner"),
        "the old owner refuses: {st} {v}"
    );
    // Even for an action its stale copy would call illegal: it is not its report any more.
    let (st, v) = act(&k, &code2, "respond", json!({"note": "Sudah diperbaiki."})).await?;
    ensure!(
        st == 409 && v.to_string().contains("not_owner"),
        "not_owner, not illegal_transition: {st} {v}"
    );
    // Its worklist no longer lists the report; its page says where it went.
    let (st, list) = k.get_json("/api/v1/reports?limit=200").await?;
    ensure!(st.is_success(), "{st} {list}");
    let listed = list["items"].as_array().context("items")?;
    ensure!(
        !listed.iter().any(|i| i["tracking_code"] == code2.as_str()),
        "the moved report left the old owner's worklist: {list}"
    );
    ensure!(
        listed.iter().any(|i| i["tracking_code"] == code1.as_str()),
        "its own reports stay: {list}"
    );
    let v = view(&k, &code2).await?.context("page at the old owner")?;
    ensure!(
        v["owner_node"] == "kaltim",
        "the old owner shows where it went: {v}"
    );

    // --- while a transfer is open no node acknowledges a reporter's action ---------------------------
    let (code3, secret3) = file(&k, "Sampah menumpuk di pasar").await?;
    let (st, v) = act(
        &k,
        &code3,
        "verify",
        json!({"agency_id": "dinas-pu-kupang"}),
    )
    .await?;
    ensure!(st == 200, "{st} {v}");
    let (st, v) = act(&k, &code3, "respond", json!({"note": "Sudah diangkut."})).await?;
    ensure!(st == 200, "{st} {v}");
    wait_status(&h, &code3, "responded", LIMIT).await?;
    c.partition("kaltim", true)?;
    let (st, v) = act(
        &k,
        &code3,
        "transfer",
        json!({"to_node": "kaltim", "note": "Salah kirim"}),
    )
    .await?;
    ensure!(st == 202, "{st} {v}");
    wait_for(
        "the hub to forward the transfer",
        LIMIT,
        Duration::from_millis(200),
        || async {
            Ok(view(&h, &code3)
                .await?
                .filter(|v| v["transfer"]["state"] == "forwarded"))
        },
    )
    .await?;
    let (st, v) = reply(hub, &code3, &secret3, "Masih ada sampah di sudut pasar.").await?;
    ensure!(
        st == 409 && v.to_string().contains("transfer_pending"),
        "a reply during the transfer is refused, not acknowledged and lost: {st} {v}"
    );
    c.partition("kaltim", false)?;
    let want3 = ["created", "verified", "responded", "transferred"];
    wait_actions(kaltim, &code3, &want3).await?;
    wait_actions(hub, &code3, &want3).await?;

    // --- agency ids are namespaced by their node -----------------------------------------------------
    // Two honest nodes both have `dinas-kesehatan`: no collision; the hub knows each under its node's name and
    // routes a report about Kaltim's to Kaltim.
    for m in [kupang, kaltim] {
        let (st, body) = m
            .admin()?
            .post_json(
                "/api/v1/agencies",
                &json!({"id": "dinas-kesehatan", "name": "Dinas Kesehatan", "kind": "office"}),
            )
            .await?;
        ensure!(
            st.is_success(),
            "{} creates dinas-kesehatan: {st} {body}",
            m.id
        );
    }
    for node in ["kupangkota", "kaltim"] {
        let v = wait_for(
            &format!("the hub to know {node}/dinas-kesehatan"),
            LIMIT,
            Duration::from_millis(200),
            || async {
                let (st, v) = h
                    .get_json(&format!("/api/v1/agencies/{node}%2Fdinas-kesehatan"))
                    .await?;
                Ok((st.as_u16() == 200).then_some(v))
            },
        )
        .await?;
        ensure!(v["id"] == format!("{node}/dinas-kesehatan"), "{v}");
    }
    let body = json!({"kind": "complaint", "title": "Puskesmas tutup siang hari",
        "body": "Puskesmas di kelurahan kami tutup setiap siang, warga tidak bisa berobat.",
        "agency_id": "kaltim/dinas-kesehatan",
        "reporter": {"name": "Yohanes Lake", "phone": "081339001122"}});
    let (st, resp) = hub.api().post_json("/api/v1/reports", &body).await?;
    ensure!(st.as_u16() == 201, "filing at the hub: {st} {resp}");
    let code4 = resp["tracking_code"].as_str().context("code")?.to_owned();
    let v = wait_actions(kaltim, &code4, &["created", "transferred"]).await?;
    ensure!(
        v["owner_node"] == "kaltim" && v["agency_id"] == "dinas-kesehatan",
        "routed to the node hosting the agency, named as its own there: {v}"
    );

    // Nothing is left waiting anywhere once the transfers settled.
    for m in [hub, kupang, kaltim] {
        wait_for(
            &format!("nothing pending on {}", m.id),
            LIMIT,
            Duration::from_millis(300),
            || async {
                let out = status_of(m)?;
                Ok(out.contains("pending: 0 waiting").then_some(()))
            },
        )
        .await?;
    }
    Ok(())
}
