#![allow(clippy::disallowed_methods)] // the echo server is a test-only task
//! The fault proxy itself, against a tiny axum echo server that records what it received.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::Json;
use lapor_tests::{wait_until, FaultProxy, Mode};
use serde_json::{json, Value};

/// What the echo server received, in order: (method, path, body).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, String, String)>>>);

impl Seen {
    fn all(&self) -> Vec<(String, String, String)> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.all().len()
    }

    fn paths(&self) -> Vec<String> {
        self.all().into_iter().map(|(_, p, _)| p).collect()
    }
}

async fn echo(
    State(seen): State<Seen>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    let n = {
        let mut v = seen
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        v.push((method.to_string(), path.clone(), body.clone()));
        v.len()
    };
    Json(json!({
        "n": n,
        "method": method.as_str(),
        "path": path,
        "body": body,
        "x_test": headers.get("x-test").and_then(|v| v.to_str().ok()),
    }))
}

/// An echo server on 127.0.0.1:0 and a proxy in front of it.
async fn setup() -> anyhow::Result<(Seen, String, FaultProxy)> {
    let (seen, target) = echo_server().await?;
    let proxy = FaultProxy::start(&target).await?;
    Ok((seen, target, proxy))
}

async fn echo_server() -> anyhow::Result<(Seen, String)> {
    let seen = Seen::default();
    let app = axum::Router::new().fallback(echo).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((seen, format!("http://{addr}")))
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?)
}

async fn post(client: &reqwest::Client, url: &str, body: &str) -> anyhow::Result<Value> {
    Ok(client
        .post(url)
        .header("x-test", "yes")
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_forwards_requests_and_responses() -> anyhow::Result<()> {
    let (seen, _, proxy) = setup().await?;
    let c = client()?;
    let v = post(
        &c,
        &format!("{}/fed/events?since=3", proxy.base()),
        r#"{"a":1}"#,
    )
    .await?;
    assert_eq!(v["n"], 1);
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/fed/events?since=3");
    assert_eq!(v["body"], r#"{"a":1}"#);
    assert_eq!(v["x_test"], "yes");
    let r = c.get(format!("{}/hello", proxy.base())).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(seen.len(), 2);
    let s = proxy.stats();
    assert_eq!((s.seen, s.forwarded, s.dropped, s.duplicated), (2, 2, 0, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_refuses_everything_and_forwards_nothing() -> anyhow::Result<()> {
    let (seen, _, proxy) = setup().await?;
    let c = client()?;
    let url = format!("{}/fed/events", proxy.base());
    // An open keep-alive connection from before the cut...
    post(&c, &url, "before").await?;
    proxy.set_mode(Mode::Cut);
    // ...and a fresh client both fail.
    assert!(post(&c, &url, "during").await.is_err());
    assert!(post(&client()?, &url, "during").await.is_err());
    assert!(post(&c, &url, "during").await.is_err());
    assert_eq!(seen.len(), 1, "nothing may be forwarded during a cut");
    assert!(proxy.stats().refused >= 3, "{:?}", proxy.stats());
    proxy.set_mode(Mode::Pass);
    let v = post(&c, &url, "after").await?;
    assert_eq!(v["n"], 2);
    assert_eq!(v["body"], "after");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_filter_limits_faults() -> anyhow::Result<()> {
    let (seen, target) = echo_server().await?;
    let proxy = FaultProxy::builder(&target)
        .only_paths("/fed")
        .start()
        .await?;
    proxy.set_mode(Mode::Cut);
    let c = client()?;
    assert!(post(&c, &format!("{}/fed/x", proxy.base()), "1")
        .await
        .is_err());
    let v = post(&c, &format!("{}/other", proxy.base()), "2").await?;
    assert_eq!(v["n"], 1);
    proxy.set_path_filter(None);
    assert!(post(&c, &format!("{}/other", proxy.base()), "3")
        .await
        .is_err());
    assert_eq!(seen.paths(), ["/other"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_response_was_processed_by_the_server() -> anyhow::Result<()> {
    let (seen, _, proxy) = setup().await?;
    let c = client()?;
    let url = format!("{}/fed/events", proxy.base());

    proxy.set_mode(Mode::DropNext(1));
    assert!(post(&c, &url, "lost answer").await.is_err());
    assert_eq!(seen.len(), 1, "the server processed the request");
    // DropNext is used up: the next request passes.
    let v = post(&c, &url, "retry").await?;
    assert_eq!(v["n"], 2);

    proxy.set_mode(Mode::Drop { probability: 1.0 });
    assert!(post(&c, &url, "always lost").await.is_err());
    assert_eq!(seen.len(), 3);

    // Dropping before forwarding: the server never sees it.
    proxy.set_mode(Mode::DropNextRequests(1));
    assert!(post(&c, &url, "never arrives").await.is_err());
    assert_eq!(seen.len(), 3);
    proxy.set_mode(Mode::DropRequests { probability: 1.0 });
    assert!(post(&c, &url, "never arrives").await.is_err());
    assert_eq!(seen.len(), 3);

    let s = proxy.stats();
    assert_eq!((s.seen, s.forwarded, s.dropped), (5, 3, 4), "{s:?}");
    assert_eq!(
        seen.all()
            .iter()
            .map(|(_, _, b)| b.as_str())
            .collect::<Vec<_>>(),
        ["lost answer", "retry", "always lost"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probabilistic_drops_follow_the_seed() -> anyhow::Result<()> {
    let (_, target) = echo_server().await?;
    let c = client()?;
    let mut patterns = Vec::new();
    for seed in [11, 11, 12] {
        let proxy = FaultProxy::builder(&target).seed(seed).start().await?;
        proxy.set_mode(Mode::Drop { probability: 0.5 });
        let mut pattern = Vec::new();
        for i in 0..24 {
            pattern.push(
                post(&c, &format!("{}/p", proxy.base()), &i.to_string())
                    .await
                    .is_ok(),
            );
        }
        proxy.shutdown().await;
        patterns.push(pattern);
    }
    assert_eq!(patterns[0], patterns[1], "same seed, same drops");
    assert_ne!(patterns[0], patterns[2], "another seed, other drops");
    let passed = patterns[0].iter().filter(|p| **p).count();
    assert!((4..=20).contains(&passed), "{passed} of 24 passed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_holds_each_request() -> anyhow::Result<()> {
    let (seen, _, proxy) = setup().await?;
    let c = client()?;
    proxy.set_mode(Mode::Delay(Duration::from_millis(300)));
    let t = Instant::now();
    post(&c, &format!("{}/d", proxy.base()), "x").await?;
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    // Composes with a drop: the delay applies, then the answer is lost.
    proxy.add_mode(Mode::DropNext(1));
    let t = Instant::now();
    assert!(post(&c, &format!("{}/d", proxy.base()), "y").await.is_err());
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(seen.len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_sends_twice_and_returns_the_first_answer() -> anyhow::Result<()> {
    let (seen, _, proxy) = setup().await?;
    let c = client()?;
    proxy.set_mode(Mode::Duplicate);
    let v = post(&c, &format!("{}/fed/events", proxy.base()), "once").await?;
    assert_eq!(v["n"], 1, "the first copy's answer");
    assert_eq!(seen.len(), 2, "the server saw the request twice");
    assert_eq!(seen.all()[0], seen.all()[1]);
    let s = proxy.stats();
    assert_eq!((s.seen, s.forwarded, s.duplicated), (1, 2, 1), "{s:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorder_forwards_the_later_request_first() -> anyhow::Result<()> {
    let (seen, target) = echo_server().await?;
    let proxy = FaultProxy::builder(&target)
        .reorder_window(Duration::from_secs(5))
        .start()
        .await?;
    proxy.set_mode(Mode::Reorder);
    let c = client()?;
    let url_a = format!("{}/a", proxy.base());
    let a = {
        let c = c.clone();
        tokio::spawn(async move { post(&c, &url_a, "A").await })
    };
    // B only once A is held by the proxy.
    let p = proxy.clone();
    wait_until(
        "the proxy to hold A",
        Duration::from_secs(5),
        Duration::from_millis(5),
        || {
            let p = p.clone();
            async move { p.stats().seen == 1 }
        },
    )
    .await?;
    let b = post(&c, &format!("{}/b", proxy.base()), "B").await?;
    let a = a.await??;
    assert_eq!(seen.paths(), ["/b", "/a"]);
    assert_eq!(
        (a["body"].as_str(), b["body"].as_str()),
        (Some("A"), Some("B"))
    );
    assert_eq!(proxy.stats().reordered, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorder_releases_a_lone_request_after_the_window() -> anyhow::Result<()> {
    let (seen, _, proxy) = setup().await?;
    proxy.set_mode(Mode::Reorder);
    let t = Instant::now();
    post(&client()?, &format!("{}/alone", proxy.base()), "x").await?;
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(seen.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_resends_recorded_requests() -> anyhow::Result<()> {
    let (seen, _, proxy) = setup().await?;
    let c = client()?;
    post(&c, &format!("{}/fed/one", proxy.base()), "first").await?;
    post(&c, &format!("{}/fed/two", proxy.base()), "second").await?;
    assert_eq!(proxy.recorded().len(), 2);
    // Replays go straight to the target, whatever the mode.
    proxy.set_mode(Mode::Cut);
    let replayed = proxy.replay_last(2).await?;
    assert_eq!(replayed.len(), 2);
    assert_eq!(replayed[0].status, 200);
    assert_eq!(replayed[0].json()?["body"], "first");
    assert_eq!(replayed[0].json()?["n"], 3);
    assert_eq!(replayed[1].json()?["path"], "/fed/two");
    assert_eq!(replayed[1].json()?["x_test"], "yes", "headers are replayed");
    assert_eq!(replayed[1].request.body, "second");
    assert_eq!(
        seen.paths(),
        ["/fed/one", "/fed/two", "/fed/one", "/fed/two"]
    );
    assert_eq!(proxy.stats().replayed, 2);
    assert!(proxy.replay_last(3).await.is_err(), "only 2 recorded");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_capacity_keeps_the_last_requests() -> anyhow::Result<()> {
    let (_, target) = echo_server().await?;
    let proxy = FaultProxy::builder(&target)
        .record_capacity(2)
        .start()
        .await?;
    let c = client()?;
    for i in 0..4 {
        post(&c, &format!("{}/r{i}", proxy.base()), "x").await?;
    }
    let paths: Vec<String> = proxy.recorded().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/r2", "/r3"]);
    Ok(())
}

async fn refuses_connections(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_closes_the_port() -> anyhow::Result<()> {
    let (_, _, proxy) = setup().await?;
    let port = proxy.port();
    post(&client()?, &format!("{}/x", proxy.base()), "x").await?;
    let clone = proxy.clone();
    drop(proxy);
    assert!(!refuses_connections(port).await, "a clone keeps it alive");
    drop(clone);
    wait_until(
        "the proxy port to close after the last handle was dropped",
        Duration::from_secs(5),
        Duration::from_millis(10),
        || refuses_connections(port),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_in_flight_requests_and_closes_the_port() -> anyhow::Result<()> {
    let (seen, _, proxy) = setup().await?;
    proxy.set_mode(Mode::Delay(Duration::from_secs(30)));
    let url = format!("{}/slow", proxy.base());
    let c = client()?;
    let pending = tokio::spawn(async move { post(&c, &url, "x").await });
    let p = proxy.clone();
    wait_until(
        "the request to reach the proxy",
        Duration::from_secs(5),
        Duration::from_millis(5),
        || {
            let p = p.clone();
            async move { p.stats().seen == 1 }
        },
    )
    .await?;
    let t = Instant::now();
    proxy.shutdown().await;
    assert!(refuses_connections(proxy.port()).await);
    assert!(pending.await?.is_err(), "the delayed request was aborted");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(seen.len(), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_closes_the_connection() -> anyhow::Result<()> {
    let dead = format!("http://127.0.0.1:{}", lapor_tests::free_port()?);
    let proxy = FaultProxy::start(&dead).await?;
    assert!(post(&client()?, &format!("{}/x", proxy.base()), "x")
        .await
        .is_err());
    assert_eq!(proxy.stats().upstream_errors, 1);
    // The target can change at run time.
    let (seen, target) = echo_server().await?;
    proxy.set_target(&target)?;
    post(&client()?, &format!("{}/x", proxy.base()), "x").await?;
    assert_eq!(seen.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_until_names_what_it_waited_for() {
    let err = wait_until(
        "the moon to turn blue",
        Duration::from_millis(50),
        Duration::from_millis(10),
        || async { false },
    )
    .await
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("the moon to turn blue"), "{err}");
}

fn report(title: &str) -> Value {
    json!({
        "kind": "complaint",
        "title": title,
        "body": "Lampu penerangan jalan di Jl. El Tari padam sejak tiga hari yang lalu.",
        "reporter": {"name": "Yohanes", "phone": "+6281300000000"}
    })
}

/// The harness end to end: a real `lapor` node on a fixed port behind the proxy, a dropped response that
/// the node nevertheless stored, SIGTERM, restart on the same address, and another subcommand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_node_behind_the_proxy_across_a_restart() -> anyhow::Result<()> {
    use lapor_tests::{free_port, run_cli, wait_for, Api, Node};

    let dir = tempfile::tempdir()?;
    let env = [
        ("LAPOR_NODE__CODE", "KPG"),
        ("LAPOR_NODE__ID", "kupangkota"),
    ];
    let port = free_port()?;
    let mut node = Node::start_on(port, dir.path(), &env)?;
    assert!(node.output().contains("one-time bootstrap secret"));
    let proxy = FaultProxy::start(&node.base).await?;
    let api = Api::new(&proxy.base());

    let (status, first) = api.post_json("/api/v1/reports", &report("Pertama")).await?;
    assert_eq!(status, 201, "{first}");

    // The answer is lost, but the node stored the report: replaying the recorded request shows it is the
    // node, not the proxy, that decides what a duplicate submission means.
    proxy.set_mode(Mode::DropNext(1));
    assert!(api
        .post_json("/api/v1/reports", &report("Kedua"))
        .await
        .is_err());
    let replayed = proxy.replay_last(1).await?;
    assert_eq!(replayed[0].request.path, "/api/v1/reports");
    assert!(replayed[0].status.is_success(), "{:?}", replayed[0]);

    let status = node.terminate()?;
    assert!(status.success(), "{status}: {}", node.output());
    assert!(!node.is_running());
    assert!(api.get_json("/readyz").await.is_err(), "node is down");

    node.restart()?;
    assert_eq!(node.port(), port);
    assert!(node.output().contains("--- lapor-tests: restart ---"));
    let code = first["tracking_code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = first["tracking_secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let body = wait_for(
        "the first report through the proxy after the restart",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            let (api, code, secret) = (api.clone(), code.clone(), secret.clone());
            async move {
                let (status, body) = api
                    .send_json(
                        reqwest::Method::GET,
                        &format!("/api/v1/reports/{code}"),
                        None,
                        &[("x-tracking-secret", &secret)],
                    )
                    .await?;
                Ok((status == 200).then_some(body))
            }
        },
    )
    .await?;
    assert_eq!(body["reporter"]["name"], "Yohanes");

    let (status, stdout, stderr) = run_cli(dir.path(), &["config", "check"], &env)?;
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("kupangkota"), "{stdout}");
    node.kill()
}
