#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::similar_names,
    clippy::items_after_statements,
    clippy::type_complexity
)]
//! The hub as two `lapor` processes on one PostgreSQL database behind a TCP balancer, with two SQLite
//! regional nodes pushing to the balancer: reports are filed on the regions and on the hub (through the
//! balancer, so both processes author the hub's events), one hub process is killed with SIGKILL in the middle
//! of the traffic, and everything converges with nothing lost or duplicated: every region's log is whole at
//! the hub, the hub's own log is gapless and unforked at both regions, every report is at the hub once with
//! one timeline entry, and every reporter's "filed" SMS went out exactly once (a notice the killed process
//! had claimed but not recorded as sent may go out again, as OPERATIONS.md says; the test counts those).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapor_tests::balancer::Balancer;
use lapor_tests::cluster::{Member, PASSWORD};
use lapor_tests::pg::PgDatabase;
use lapor_tests::{free_port, wait_until, Api};
use serde_json::json;

const LONG: Duration = Duration::from_secs(90);

fn field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("`{name}` not in: {out}"))
}

fn member(
    id: &str,
    code: &str,
    role: &str,
    dir: &std::path::Path,
    port: u16,
    public: &str,
) -> Member {
    let env = [
        ("LAPOR_NODE__ID", id),
        ("LAPOR_NODE__CODE", code),
        ("LAPOR_NODE__ROLE", role),
        ("LAPOR_NODE__TIMEZONE", "WITA"),
        ("LAPOR_FEDERATION__POLL_MS", "200"),
        ("LAPOR_FEDERATION__MAX_BACKOFF_SECS", "1"),
        ("LAPOR_FEDERATION__REQUEST_TIMEOUT_SECS", "5"),
        ("LAPOR_FEDERATION__DIRECTORY_REFRESH_SECS", "2"),
        ("LAPOR_FEDERATION__PUBLIC_URL", public),
        ("LAPOR_LOG__LEVEL", "info"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    Member {
        id: id.into(),
        code: code.into(),
        role: role.into(),
        dir: dir.to_owned(),
        port,
        env,
        public_key: String::new(),
        enc_public: String::new(),
        key_id: String::new(),
        node: None,
        admin: None,
    }
}

fn keys(m: &mut Member) {
    let out = m.cli(&["keys", "generate"]).unwrap();
    m.public_key = field(&out, "public_key:");
    m.enc_public = field(&out, "enc_public:");
    m.key_id = field(&out, "key_id:");
}

/// Kannel's sendsms interface as the notification worker calls it, recording every message it accepts.
async fn sms_sink() -> (SocketAddr, Arc<Mutex<Vec<(String, String)>>>) {
    use axum::extract::{Query, State};
    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    async fn sendsms(
        State(got): State<Arc<Mutex<Vec<(String, String)>>>>,
        Query(q): Query<BTreeMap<String, String>>,
    ) -> (axum::http::StatusCode, &'static str) {
        got.lock().unwrap().push((
            q.get("to").cloned().unwrap_or_default(),
            q.get("text").cloned().unwrap_or_default(),
        ));
        (axum::http::StatusCode::ACCEPTED, "0: Accepted for delivery")
    }
    let app = axum::Router::new()
        .route("/cgi-bin/sendsms", axum::routing::get(sendsms))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    #[allow(clippy::disallowed_methods)] // the test's own SMS gateway, ends with the test
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, got)
}

/// A client that opens a new connection per request, so the balancer spreads them over both processes.
fn fresh(base: &str, token: Option<&str>) -> Api {
    let mut api = Api::unpooled(base);
    api.set_token(token);
    api
}

async fn file(
    api: &Api,
    title: &str,
    phone: Option<&str>,
    region: &str,
) -> anyhow::Result<(String, String)> {
    let reporter = match phone {
        Some(p) => json!({"name": "Yohanes Lado", "phone": p}),
        None => json!({"name": "Yohanes Lado"}),
    };
    let (st, body) = api
        .post_json(
            "/api/v1/reports",
            &json!({"kind": "complaint", "title": title,
                    "body": "Jalan berlubang di depan sekolah, sudah dua minggu belum diperbaiki.",
                    "region_code": region,
                    "reporter": reporter}),
        )
        .await?;
    anyhow::ensure!(st.as_u16() == 201, "filing: {st} {body}");
    Ok((
        body["tracking_code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["id"].as_str().unwrap_or_default().to_owned(),
    ))
}

fn metric(text: &str, line_start: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(-1, |v| v as i64)
}

async fn metrics(api: &Api) -> String {
    match api.client().get(api.url("/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn head(text: &str, origin: &str) -> i64 {
    metric(
        text,
        &format!("lapor_federation_origin_head{{origin=\"{origin}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fails: not every filed SMS goes out after the SIGKILL takeover (issue 12): run with --ignored"]
async fn two_hub_processes_behind_a_balancer_survive_a_sigkill() {
    let Some(db) = PgDatabase::create("multihub").unwrap() else {
        eprintln!("TEST_DATABASE_URL unset: the hub processes need PostgreSQL; skipped");
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let (sms_addr, sms) = sms_sink().await;

    // One data directory for both hub processes (keys, attachments), one database.
    let hub_dir = root.path().join("hub");
    std::fs::create_dir_all(&hub_dir).unwrap();
    let (pa, pb) = (free_port().unwrap(), free_port().unwrap());
    let balancer = Balancer::start(vec![
        format!("127.0.0.1:{pa}").parse().unwrap(),
        format!("127.0.0.1:{pb}").parse().unwrap(),
    ])
    .await
    .unwrap();
    let hub_base = balancer.base();
    let mut hub_a = member("hub", "HUB", "hub", &hub_dir, pa, &hub_base);
    for (k, v) in [
        ("LAPOR_DATABASE__URL", db.url.as_str()),
        ("LAPOR_CLUSTER__LEASE_MS", "2000"),
        ("LAPOR_NOTIFICATIONS__POLL_MS", "200"),
        ("LAPOR_NOTIFICATIONS__SMS__ENABLED", "true"),
        ("LAPOR_NOTIFICATIONS__SMS__USER", "lapor"),
        ("LAPOR_NOTIFICATIONS__SMS__PASSWORD", "sendsms-uji"),
        ("LAPOR_NOTIFICATIONS__SMS__FROM", "1708"),
        ("LAPOR_NOTIFICATIONS__SMS__EVERY_PHONE", "true"),
    ] {
        hub_a.env.push((k.to_owned(), v.to_owned()));
    }
    hub_a.env.push((
        "LAPOR_NOTIFICATIONS__SMS__SENDSMS_URL".to_owned(),
        format!("http://{sms_addr}/cgi-bin/sendsms"),
    ));
    keys(&mut hub_a);
    let mut hub_b = member("hub", "HUB", "hub", &hub_dir, pb, &hub_base);
    hub_b.env.clone_from(&hub_a.env);

    let mut regions = Vec::new();
    for (id, code) in [("kupang", "KPG"), ("sikka", "SKA")] {
        let dir = root.path().join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port().unwrap();
        let mut m = member(
            id,
            code,
            "regional",
            &dir,
            port,
            &format!("http://127.0.0.1:{port}"),
        );
        keys(&mut m);
        hub_a
            .cli(&[
                "peers",
                "add",
                "--node-id",
                id,
                "--role",
                "regional",
                "--url",
                &m.base(),
                "--public-key",
                &m.public_key,
                "--enc-public",
                &m.enc_public,
            ])
            .unwrap();
        m.cli(&[
            "peers",
            "add",
            "--node-id",
            "hub",
            "--role",
            "hub",
            "--url",
            &hub_base,
            "--public-key",
            &hub_a.public_key,
            "--enc-public",
            &hub_a.enc_public,
        ])
        .unwrap();
        regions.push(m);
    }
    hub_a.start().unwrap();
    let hub_admin = hub_a.bootstrap().await.unwrap();
    // The second process finds the account made through the first: no bootstrap secret.
    hub_b.start().unwrap();
    for m in &mut regions {
        m.start().unwrap();
        m.bootstrap().await.unwrap();
    }
    let (st, body) = fresh(&hub_base, None)
        .post_json(
            "/api/v1/auth/login",
            &json!({"username": "admin", "password": PASSWORD}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{st} {body}");
    let token = body["token"].as_str().unwrap().to_owned();
    drop(hub_admin);

    // Traffic: each region files reports on itself; citizens file on the hub's portal through the
    // balancer. Halfway, the hub process holding the leases (the first one started) is killed.
    let filed_region: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let filed_hub: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let unknown_hub = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for m in &regions {
        let api = m.api();
        let code = m.code.clone();
        let filed = filed_region.clone();
        #[allow(clippy::disallowed_methods)] // test traffic, awaited below
        tasks.push(tokio::spawn(async move {
            for i in 0..30 {
                let (tc, id) = file(&api, &format!("Laporan {code} {i}"), None, "53.71")
                    .await
                    .unwrap();
                filed.lock().unwrap().push((tc, id));
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
        }));
    }
    {
        let (filed, unknown, base) = (filed_hub.clone(), unknown_hub.clone(), hub_base.clone());
        #[allow(clippy::disallowed_methods)] // test traffic, awaited below
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                let phone = format!("08123400{i:04}");
                // A fresh connection each time: the balancer alternates between the processes.
                let api = fresh(&base, None);
                match file(
                    &api,
                    &format!("Laporan nasional {i}"),
                    Some(&phone),
                    "31.71",
                )
                .await
                {
                    Ok((tc, id)) => filed.lock().unwrap().push((tc, id, phone)),
                    // Cut by the kill: committed or not, the citizen does not know (not counted).
                    Err(_) => {
                        unknown.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    wait_until(
        "half the hub's traffic",
        LONG,
        Duration::from_millis(50),
        || {
            let n = filed_hub.lock().unwrap().len();
            async move { n >= 15 }
        },
    )
    .await
    .unwrap();
    hub_a.kill().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let filed_region = filed_region.lock().unwrap().clone();
    let filed_hub = filed_hub.lock().unwrap().clone();
    let unknown = unknown_hub.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(filed_region.len(), 60);
    assert!(
        filed_hub.len() >= 30,
        "{} filed at the hub",
        filed_hub.len()
    );
    let served = balancer.served();
    assert!(
        served.iter().all(|n| *n > 0),
        "both hub processes took connections: {served:?}"
    );

    // Convergence: each region's whole log at the hub; the hub's whole log at each region.
    let hub = fresh(&hub_base, Some(&token));
    let region_apis: Vec<Api> = regions.iter().map(Member::api).collect();
    wait_until(
        "every log to be whole everywhere",
        LONG,
        Duration::from_millis(200),
        || {
            let (hub, regions) = (hub.clone(), region_apis.clone());
            async move {
                let at_hub = metrics(&hub).await;
                let hub_head = head(&at_hub, "hub");
                let mut ok = hub_head > 0;
                for (api, id) in regions.iter().zip(["kupang", "sikka"]) {
                    let own = metrics(api).await;
                    ok &= head(&own, id) > 0 && head(&own, id) == head(&at_hub, id);
                    ok &= head(&own, "hub") == hub_head;
                }
                ok
            }
        },
    )
    .await
    .unwrap();

    // Nothing forked, refused or stuck anywhere.
    let at_hub = metrics(&hub).await;
    assert_eq!(metric(&at_hub, "lapor_federation_frozen_origins "), 0);
    assert_eq!(metric(&at_hub, "lapor_federation_quarantine "), 0);
    for api in &region_apis {
        let m = metrics(api).await;
        assert_eq!(metric(&m, "lapor_federation_frozen_origins "), 0, "{m}");
        assert_eq!(metric(&m, "lapor_federation_quarantine "), 0, "{m}");
    }
    // Every report once at the hub, with its one timeline entry (nothing applied twice).
    let reports = metric(&at_hub, "lapor_reports ");
    let known = (filed_region.len() + filed_hub.len()) as i64;
    assert!(
        (known..=known + unknown as i64).contains(&reports),
        "{reports} reports at the hub, {known} filed, {unknown} unknown"
    );
    let codes = filed_region
        .iter()
        .map(|(c, _)| c.clone())
        .chain(filed_hub.iter().map(|(c, _, _)| c.clone()));
    for code in codes {
        let (st, r) = hub
            .get_json(&format!("/api/v1/reports/{code}"))
            .await
            .unwrap();
        assert_eq!(st.as_u16(), 200, "{code} at the hub: {r}");
        let entries = r["timeline"].as_array().map_or(0, Vec::len);
        assert_eq!(entries, 1, "{code}: {r}");
    }

    // Every "filed" SMS of a report filed on the hub went out, once (a notice the killed process had
    // claimed and not recorded may go out again: the survivor logs how many it put back).
    let survivor = hub_b.output();
    let put_back: usize = survivor
        .lines()
        .filter(|l| l.contains("notices left sending by a stopped process"))
        .filter_map(|l| {
            l.split("notices=")
                .nth(1)
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse::<usize>().ok())
        })
        .sum();
    wait_until("every filed SMS", LONG, Duration::from_millis(200), || {
        let sms = sms.clone();
        // Sent to the number as given or in international form: compare without the leading 0.
        let phones: Vec<String> = filed_hub
            .iter()
            .map(|(_, _, p)| p[1..].to_owned())
            .collect();
        async move {
            let got = sms.lock().unwrap().clone();
            phones
                .iter()
                .all(|p| got.iter().any(|(to, _)| to.ends_with(p.as_str())))
        }
    })
    .await
    .unwrap();
    let got = sms.lock().unwrap().clone();
    let mut per_phone: BTreeMap<String, usize> = BTreeMap::new();
    for (to, _) in &got {
        *per_phone.entry(to.clone()).or_default() += 1;
    }
    let twice: usize = per_phone.values().map(|n| n.saturating_sub(1)).sum();
    assert!(
        twice <= put_back,
        "{twice} SMS sent twice, {put_back} put back by the survivor: {per_phone:?}"
    );
    assert!(
        survivor.contains("took the lease"),
        "the survivor took leases over:\n{survivor}"
    );
}
