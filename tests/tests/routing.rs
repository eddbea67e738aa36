//! "No wrong door": routing at intake and transfers of reports between nodes, with a hub and two regional
//! nodes as real `lapor` processes behind fault proxies (`tests/src/cluster.rs`).
//!
//! One cluster runs every scenario in turn (starting three nodes is the slow part): routing by agency, by
//! region code and by point in polygon; a transfer Kupang -> Kalimantan Timur that completes; the same with
//! the target partitioned (it waits, then completes after healing); two concurrent offers (exactly one
//! commits); an offer to a dead node (it expires and the report stays with its owner); the reporter tracking
//! the report with one code on every node throughout. After each scenario the invariants are checked on the
//! nodes' own SQLite files: one owner per report and epoch, epochs never decrease, no event applied twice,
//! every node holding what it should.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context};
use lapor_tests::cluster::{Cluster, Member};
use lapor_tests::{wait_for, Api};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

fn boundaries() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/boundaries/sample-ntt-kaltim.geojson")
        .display()
        .to_string()
}

/// Files a report with `extra` fields; returns (tracking code, secret, id).
async fn file(api: &Api, title: &str, extra: Value) -> anyhow::Result<(String, String, String)> {
    let mut body = json!({"kind": "complaint", "title": title,
        "body": "Jalan berlubang besar di depan sekolah, sudah dua bulan belum diperbaiki.",
        "reporter": {"name": "Yohanes Lake", "phone": "081339001122"}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (st, resp) = api.post_json("/api/v1/reports", &body).await?;
    ensure!(st.as_u16() == 201, "filing {title}: {st} {resp}");
    Ok((
        resp["tracking_code"].as_str().context("code")?.to_owned(),
        resp["tracking_secret"]
            .as_str()
            .context("secret")?
            .to_owned(),
        resp["id"].as_str().context("id")?.to_owned(),
    ))
}

async fn view(api: &Api, code: &str) -> anyhow::Result<Option<Value>> {
    let (st, body) = api.get_json(&format!("/api/v1/reports/{code}")).await?;
    Ok((st.as_u16() == 200).then_some(body))
}

/// Waits until `m`'s node shows the report owned by `owner` at `epoch`, the new owner's arrival entry included.
async fn wait_owner(m: &Member, code: &str, owner: &str, epoch: i64) -> anyhow::Result<Value> {
    let api = m.admin()?;
    wait_for(
        &format!("{code} owned by {owner} at epoch {epoch} on {}", m.id),
        LIMIT,
        Duration::from_millis(200),
        || {
            let api = api.clone();
            async move {
                Ok(view(&api, code).await?.filter(|v| {
                    let arrivals = v["timeline"].as_array().map_or(0, |t| {
                        t.iter().filter(|e| e["action"] == "transferred").count()
                    });
                    v["owner_node"].as_str() == Some(owner)
                        && v["epoch"].as_i64() == Some(epoch)
                        && arrivals as i64 == epoch
                }))
            }
        },
    )
    .await
}

/// Waits until the latest transfer of the report as `m` sees it is in `state`.
async fn wait_transfer(m: &Member, code: &str, state: &str) -> anyhow::Result<Value> {
    let api = m.admin()?;
    wait_for(
        &format!("transfer of {code} to be {state} on {}", m.id),
        LIMIT,
        Duration::from_millis(200),
        || {
            let api = api.clone();
            async move {
                Ok(view(&api, code)
                    .await?
                    .filter(|v| v["transfer"]["state"].as_str() == Some(state)))
            }
        },
    )
    .await
}

async fn transfer(m: &Member, code: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    let (st, resp) = m
        .admin()?
        .post_json(&format!("/api/v1/reports/{code}/transfer"), &body)
        .await?;
    Ok((st.as_u16(), resp))
}

/// What the reporter sees with the code and secret on a node's public API.
async fn track(m: &Member, code: &str, secret: &str) -> anyhow::Result<Value> {
    let (st, body) = m
        .api()
        .send_json(
            reqwest::Method::GET,
            &format!("/api/v1/reports/{code}"),
            None,
            &[("X-Tracking-Secret", secret)],
        )
        .await?;
    ensure!(
        st.as_u16() == 200,
        "tracking {code} on {}: {st} {body}",
        m.id
    );
    Ok(body)
}

/// Epochs each node has held for each report, to check they never decrease.
type Seen = BTreeMap<(String, String), i64>;

/// Checks the invariants on every node's database for the given reports (id -> expected owner, epoch).
fn invariants(
    cluster: &Cluster,
    expect: &BTreeMap<String, (String, i64)>,
    seen: &mut Seen,
) -> anyhow::Result<()> {
    let mut owners: BTreeMap<(String, i64), BTreeMap<String, String>> = BTreeMap::new();
    for m in &cluster.members {
        let db = rusqlite::Connection::open_with_flags(
            m.dir.join("lapor.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        for (id, (owner, epoch)) in expect {
            let held: Option<(String, i64)> = db
                .query_row(
                    "SELECT owner, epoch FROM report_owner WHERE report_id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ok();
            if let Some((o, e)) = &held {
                owners
                    .entry((id.clone(), *e))
                    .or_default()
                    .insert(m.id.clone(), o.clone());
                let before = seen.insert((m.id.clone(), id.clone()), *e).unwrap_or(0);
                ensure!(
                    *e >= before,
                    "{}: epoch of {id} went from {before} to {e}",
                    m.id
                );
            }
            // No event applied twice: one `created` entry, one `transferred` entry per committed epoch.
            let count = |action: &str| -> anyhow::Result<i64> {
                Ok(db.query_row(
                    "SELECT COUNT(*) FROM timeline WHERE report_id = ?1 AND action = ?2",
                    [id.as_str(), action],
                    |r| r.get(0),
                )?)
            };
            if m.role == "hub" || *owner == m.id {
                ensure!(
                    held.as_ref() == Some(&(owner.clone(), *epoch)),
                    "{} holds {id} as {held:?}, expected ({owner}, {epoch})",
                    m.id
                );
                ensure!(count("created")? == 1, "{}: {id} created twice", m.id);
                ensure!(
                    count("transferred")? == *epoch,
                    "{}: {id} has {} transferred entries at epoch {epoch}",
                    m.id,
                    count("transferred")?
                );
                let commits: i64 = db.query_row(
                    "SELECT COUNT(*) FROM events WHERE report_id = ?1 AND kind = 'transfer.committed'",
                    [id],
                    |r| r.get(0),
                )?;
                let distinct: i64 = db.query_row(
                    "SELECT COUNT(DISTINCT report_epoch) FROM events WHERE report_id = ?1 \
                     AND kind = 'transfer.committed'",
                    [id],
                    |r| r.get(0),
                )?;
                ensure!(
                    commits == distinct,
                    "{}: two commits of one epoch of {id}",
                    m.id
                );
                if m.role == "hub" {
                    ensure!(
                        commits == *epoch,
                        "hub: {commits} commits of {id} at epoch {epoch}"
                    );
                }
            }
            // An old owner wrote a tombstone pointing at the new one.
            let origin = id.split(':').next().unwrap_or_default();
            if *epoch > 0 && m.id == origin && *owner != m.id {
                let tombstones: i64 = db.query_row(
                    "SELECT COUNT(*) FROM events WHERE report_id = ?1 AND origin = ?2 \
                     AND kind = 'transfer.tombstone'",
                    [id.as_str(), m.id.as_str()],
                    |r| r.get(0),
                )?;
                ensure!(tombstones >= 1, "{}: no tombstone for {id}", m.id);
            }
        }
    }
    for ((id, epoch), by_node) in &owners {
        let distinct: std::collections::BTreeSet<&String> = by_node.values().collect();
        ensure!(
            distinct.len() == 1,
            "{id} at epoch {epoch} has owners {by_node:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_wrong_door_routing_and_transfers() -> anyhow::Result<()> {
    let files = boundaries();
    let mut cluster = Cluster::start_with(
        &[("kupangkota", "KPG", "53.71"), ("kaltim", "KTM", "64")],
        &[
            ("LAPOR_ROUTING__BOUNDARIES_FILE", files.as_str()),
            ("LAPOR_ROUTING__TRANSFER_EXPIRY_SECS", "20"),
            ("LAPOR_ROUTING__TRANSFER_COOLDOWN_SECS", "3600"),
        ],
    )
    .await?;
    let hub = cluster.hub().admin()?;
    let kaltim = cluster.member("kaltim").admin()?;
    // A ministry at the hub, a city office at Kalimantan Timur; each node publishes its agencies.
    let (st, body) = hub
        .post_json(
            "/api/v1/agencies",
            &json!({"id": "kemenkes", "name": "Kementerian Kesehatan", "kind": "ministry"}),
        )
        .await?;
    ensure!(st.is_success(), "{st} {body}");
    let (st, body) = kaltim
        .post_json(
            "/api/v1/agencies",
            &json!({"id": "dinas-pu-samarinda", "name": "Dinas PU Kota Samarinda", "kind": "office",
                    "region_code": "64.72"}),
        )
        .await?;
    ensure!(st.is_success(), "{st} {body}");
    // Another node's agency is known as `<node>/<id>` (PROTOCOL section 9.1), `/` percent-encoded in a URL.
    for (member, agency) in [
        ("kupangkota", "hub%2Fkemenkes"),
        ("hub", "kaltim%2Fdinas-pu-samarinda"),
    ] {
        let api = cluster.member(member).admin()?;
        wait_for(
            &format!("{agency} known at {member}"),
            LIMIT,
            Duration::from_millis(200),
            || {
                let api = api.clone();
                async move {
                    let (st, v) = api.get_json(&format!("/api/v1/agencies/{agency}")).await?;
                    Ok((st.as_u16() == 200).then_some(v))
                }
            },
        )
        .await?;
    }
    // Every node must know every other node's keys before histories travel (the hub's directory).
    wait_for(
        "kupangkota to learn kaltim from the directory",
        LIMIT,
        Duration::from_millis(200),
        || async {
            let out = cluster.member("kupangkota").cli(&["peers", "list"])?;
            Ok(out.contains("kaltim").then_some(()))
        },
    )
    .await?;

    let mut expect: BTreeMap<String, (String, i64)> = BTreeMap::new();
    let mut seen = Seen::new();

    // --- routing at intake ---------------------------------------------------------------------------
    // By region code at the national portal: ends up owned by Kupang.
    let (by_region, by_region_secret, by_region_id) = cluster_file(
        &cluster,
        "hub",
        "Lampu jalan mati di Oebobo",
        json!({"region_code": "53.71.01"}),
    )
    .await?;
    // By agency at the national portal: a Kalimantan Timur office.
    let (by_agency, _, by_agency_id) = cluster_file(
        &cluster,
        "hub",
        "Drainase tersumbat di Samarinda",
        json!({"agency_id": "kaltim/dinas-pu-samarinda"}),
    )
    .await?;
    // By point in polygon (Samarinda) at the national portal.
    let (by_point, _, by_point_id) = cluster_file(
        &cluster,
        "hub",
        "Pohon tumbang di Jalan Juanda",
        json!({"location": {"lat": -0.5, "lon": 117.15}}),
    )
    .await?;
    // A ministry chosen at Kupang: ends up at the hub.
    let (ministry, _, ministry_id) = cluster_file(
        &cluster,
        "kupangkota",
        "Obat kosong di puskesmas",
        json!({"agency_id": "hub/kemenkes"}),
    )
    .await?;
    // Nothing to route by: stays in the admin queue where it was filed.
    let (local, _, local_id) = cluster_file(
        &cluster,
        "hub",
        "Pertanyaan umum tentang layanan",
        json!({}),
    )
    .await?;

    let v = wait_owner(cluster.member("kupangkota"), &by_region, "kupangkota", 1).await?;
    ensure!(v["status"] == "submitted", "{v}");
    ensure!(
        v["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["action"] == "transferred")),
        "the arrival is in the timeline: {v}"
    );
    wait_owner(cluster.hub(), &by_region, "kupangkota", 1).await?;
    let v = wait_owner(cluster.member("kaltim"), &by_agency, "kaltim", 1).await?;
    ensure!(v["agency_id"] == "dinas-pu-samarinda", "agency kept: {v}");
    let v = wait_owner(cluster.member("kaltim"), &by_point, "kaltim", 1).await?;
    ensure!(
        v["region_code"] == "64.72",
        "region found from the point: {v}"
    );
    wait_owner(cluster.hub(), &ministry, "hub", 1).await?;
    wait_owner(cluster.member("kupangkota"), &ministry, "hub", 1).await?;
    let v = view(&hub, &local).await?.context("local report")?;
    ensure!(
        v["owner_node"] == "hub" && v["epoch"] == 0 && v["transfer"].is_null(),
        "{v}"
    );
    for (id, owner, epoch) in [
        (&by_region_id, "kupangkota", 1),
        (&by_agency_id, "kaltim", 1),
        (&by_point_id, "kaltim", 1),
        (&ministry_id, "hub", 1),
        (&local_id, "hub", 0),
    ] {
        expect.insert(id.clone(), (owner.to_owned(), epoch));
    }
    wait_settled(&cluster, &expect, &mut seen).await?;

    // The reporter tracks with one code on every node, including one that never held the report.
    for m in &cluster.members {
        let v = track(m, &by_region, &by_region_secret).await?;
        ensure!(
            v["owner_node"] == "kupangkota" && v["status"] == "submitted",
            "tracking on {}: {v}",
            m.id
        );
    }

    // --- a transfer Kupang -> Kalimantan Timur that completes -----------------------------------------
    let kupang = cluster.member("kupangkota").admin()?;
    let (code, secret, id) = file(
        &kupang,
        "Sampah menumpuk di pasar",
        json!({"region_code": "53.71"}),
    )
    .await?;
    let (st, v) = kupang
        .post_json(
            &format!("/api/v1/reports/{code}/verify"),
            &json!({"agency_id": "missing-agency"}),
        )
        .await?;
    ensure!(
        st.as_u16() == 422,
        "a remote or unknown agency is no disposition: {st} {v}"
    );
    let (st, v) = transfer(
        cluster.member("kupangkota"),
        &code,
        json!({"to_node": "kaltim", "note": "Lokasi ternyata di Samarinda"}),
    )
    .await?;
    ensure!(st == 202 && v["to_node"] == "kaltim", "{st} {v}");
    let v = wait_owner(cluster.member("kaltim"), &code, "kaltim", 1).await?;
    let actions: Vec<&str> = v["timeline"]
        .as_array()
        .context("timeline")?
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    ensure!(
        actions == ["created", "transferred"],
        "the whole history moved: {actions:?}"
    );
    // The old owner refuses staff actions now and says who owns it.
    let (st, body) = kupang
        .post_json(
            &format!("/api/v1/reports/{code}/hold"),
            &json!({"note": "Mohon lengkapi alamat"}),
        )
        .await?;
    ensure!(
        st.as_u16() == 409 && body.to_string().contains("not_owner"),
        "{st} {body}"
    );
    // The new owner works on it; the reporter sees it everywhere.
    let (st, body) = kaltim
        .post_json(
            &format!("/api/v1/reports/{code}/verify"),
            &json!({"agency_id": "dinas-pu-samarinda"}),
        )
        .await?;
    ensure!(st.is_success(), "the new owner verifies: {st} {body}");
    wait_for(
        "the hub to see the verification",
        LIMIT,
        Duration::from_millis(200),
        || async {
            Ok(view(&hub, &code)
                .await?
                .filter(|v| v["status"] == "verified"))
        },
    )
    .await?;
    for m in &cluster.members {
        let v = track(m, &code, &secret).await?;
        ensure!(
            v["owner_node"] == "kaltim" && v["status"] == "verified",
            "tracking on {}: {v}",
            m.id
        );
    }
    expect.insert(id.clone(), ("kaltim".into(), 1));
    wait_settled(&cluster, &expect, &mut seen).await?;

    // --- the target partitioned: the transfer waits, then completes ----------------------------------
    let (code2, secret2, id2) =
        file(&kupang, "Air PDAM keruh", json!({"region_code": "53.71"})).await?;
    wait_owner(cluster.hub(), &code2, "kupangkota", 0).await?;
    cluster.partition("kaltim", true)?;
    let (st, v) = transfer(
        cluster.member("kupangkota"),
        &code2,
        json!({"to_node": "kaltim", "note": "Salah kirim"}),
    )
    .await?;
    ensure!(st == 202, "{st} {v}");
    wait_transfer(cluster.hub(), &code2, "forwarded").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Still Kupang's, on every node that can be reached; Kupang refuses to act while it is moving.
    for m in ["hub", "kupangkota"] {
        let v = view(&cluster.member(m).admin()?, &code2)
            .await?
            .context("report")?;
        ensure!(
            v["owner_node"] == "kupangkota" && v["epoch"] == 0,
            "waiting on {m}: {v}"
        );
    }
    let (st, body) = kupang
        .post_json(
            &format!("/api/v1/reports/{code2}/hold"),
            &json!({"note": "Mohon lengkapi alamat"}),
        )
        .await?;
    ensure!(
        st.as_u16() == 409 && body.to_string().contains("transfer_pending"),
        "{st} {body}"
    );
    let v = track(cluster.member("kupangkota"), &code2, &secret2).await?;
    ensure!(
        v["transfer"]["state"] == "forwarded" && v["transfer"]["to_node"] == "kaltim",
        "{v}"
    );
    cluster.partition("kaltim", false)?;
    wait_owner(cluster.member("kaltim"), &code2, "kaltim", 1).await?;
    wait_owner(cluster.hub(), &code2, "kaltim", 1).await?;
    expect.insert(id2.clone(), ("kaltim".into(), 1));
    wait_settled(&cluster, &expect, &mut seen).await?;
    let v = track(cluster.member("kupangkota"), &code2, &secret2).await?;
    ensure!(
        v["owner_node"] == "kaltim",
        "tracking at the old owner after the move: {v}"
    );

    // --- two concurrent offers: exactly one commits ---------------------------------------------------
    let (code3, _, id3) = file(
        &kupang,
        "Pungutan liar di kantor kelurahan",
        json!({"region_code": "53.71"}),
    )
    .await?;
    wait_owner(cluster.hub(), &code3, "kupangkota", 0).await?;
    // Kupang's offer is held back on its uplink while the hub moves the report itself.
    cluster
        .proxy("up_kupangkota")?
        .set_mode(lapor_tests::proxy::Mode::Cut);
    let (st, v) = transfer(
        cluster.member("kupangkota"),
        &code3,
        json!({"to_node": "kaltim", "note": "Ke Kaltim"}),
    )
    .await?;
    ensure!(st == 202, "{st} {v}");
    let (st, v) = transfer(
        cluster.hub(),
        &code3,
        json!({"to_node": "hub", "reason": "not_authority", "note": "Ditangani nasional"}),
    )
    .await?;
    ensure!(st == 202, "{st} {v}");
    cluster
        .proxy("up_kupangkota")?
        .set_mode(lapor_tests::proxy::Mode::Pass);
    wait_owner(cluster.hub(), &code3, "hub", 1).await?;
    wait_owner(cluster.member("kupangkota"), &code3, "hub", 1).await?;
    // Kupang's own offer, checked after the hub's commit, is refused.
    let hub_db = rusqlite::Connection::open_with_flags(
        cluster.hub().dir.join("lapor.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    wait_for("kupang's offer to be refused", LIMIT, Duration::from_millis(200), || async {
        let n: i64 = hub_db.query_row(
            "SELECT COUNT(*) FROM transfers WHERE report_id = ?1 AND state = 'refused' AND from_node = 'kupangkota'",
            [&id3],
            |r| r.get(0),
        )?;
        Ok((n == 1).then_some(()))
    })
    .await?;
    let committed: i64 = hub_db.query_row(
        "SELECT COUNT(*) FROM transfers WHERE report_id = ?1 AND state = 'committed'",
        [&id3],
        |r| r.get(0),
    )?;
    ensure!(
        committed == 1,
        "exactly one of two offers commits, not {committed}"
    );
    expect.insert(id3.clone(), ("hub".into(), 1));
    wait_settled(&cluster, &expect, &mut seen).await?;
    // Ping-pong back to Kupang is refused during the cooldown.
    let (st, v) = transfer(
        cluster.hub(),
        &code3,
        json!({"to_node": "kupangkota", "note": "Kembalikan"}),
    )
    .await?;
    ensure!(st == 409 && v.to_string().contains("cooldown"), "{st} {v}");

    // --- an offer to a dead node expires; the report stays with its owner ----------------------------
    let (code4, secret4, id4) = file(
        &kupang,
        "Jembatan retak di Liliba",
        json!({"region_code": "53.71"}),
    )
    .await?;
    wait_owner(cluster.hub(), &code4, "kupangkota", 0).await?;
    cluster.member_mut("kaltim")?.kill()?;
    let (st, v) = transfer(
        cluster.member("kupangkota"),
        &code4,
        json!({"to_node": "kaltim", "note": "Coba ke Kaltim"}),
    )
    .await?;
    ensure!(st == 202, "{st} {v}");
    wait_transfer(cluster.member("kupangkota"), &code4, "expired").await?;
    let v = wait_owner(cluster.member("kupangkota"), &code4, "kupangkota", 0).await?;
    ensure!(v["status"] == "submitted", "{v}");
    // Kupang acts on it again.
    let (st, body) = kupang
        .post_json(
            &format!("/api/v1/reports/{code4}/hold"),
            &json!({"note": "Mohon lengkapi alamat"}),
        )
        .await?;
    ensure!(
        st.is_success(),
        "the owner acts after the expiry: {st} {body}"
    );
    let v = track(cluster.hub(), &code4, &secret4).await?;
    ensure!(v["owner_node"] == "kupangkota", "{v}");
    expect.insert(id4.clone(), ("kupangkota".into(), 0));
    wait_settled(&cluster, &expect, &mut seen).await?;
    Ok(())
}

async fn cluster_file(
    cluster: &Cluster,
    member: &str,
    title: &str,
    extra: Value,
) -> anyhow::Result<(String, String, String)> {
    file(&cluster.member(member).api(), title, extra).await
}

/// Retries the invariant check until every node agrees (events are still travelling), then once more.
async fn wait_settled(
    cluster: &Cluster,
    expect: &BTreeMap<String, (String, i64)>,
    seen: &mut Seen,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let mut trial = seen.clone();
        match invariants(cluster, expect, &mut trial) {
            Ok(()) => {
                *seen = trial;
                return Ok(());
            }
            Err(e) if tokio::time::Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}
