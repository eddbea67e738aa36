#![allow(clippy::disallowed_methods)] // test-only tasks and a polling loop in a helper thread
//! Durability across a crash: reports acknowledged with 201 survive a SIGKILL of the real `lapor` process.

use std::collections::HashMap;

use lapor_tests::Node;
use serde_json::{json, Value};

fn report(i: usize) -> Value {
    json!({
        "kind": "complaint",
        "title": format!("Lampu jalan padam nomor {i}"),
        "body": "Lampu penerangan jalan di Jl. El Tari padam sejak tiga hari yang lalu.",
        "reporter": {"name": "Yohanes", "phone": "+6281300000000"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_reports_survive_sigkill() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = Node::start(
        dir.path(),
        &[
            ("LAPOR_NODE__CODE", "KPG"),
            ("LAPOR_NODE__ID", "kupangkota"),
        ],
    )?;
    assert!(
        node.output().contains("one-time bootstrap secret"),
        "{}",
        node.output()
    );
    let client = reqwest::Client::new();

    // One report, acknowledged, then an immediate SIGKILL.
    let first: Value = client
        .post(format!("{}/api/v1/reports", node.base))
        .json(&report(0))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;

    // A burst in flight while the process dies: whatever was acknowledged must be there afterwards.
    let mut tasks = Vec::new();
    for i in 1..=60 {
        let client = client.clone();
        let url = format!("{}/api/v1/reports", node.base);
        tasks.push(tokio::spawn(async move {
            let resp = client.post(url).json(&report(i)).send().await.ok()?;
            if resp.status() != 201 {
                return None;
            }
            resp.json::<Value>().await.ok()
        }));
    }
    // Let part of the burst be acknowledged, then kill.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    node.kill()?;
    let mut acknowledged = vec![first];
    for t in tasks {
        if let Ok(Some(v)) = t.await {
            acknowledged.push(v);
        }
    }

    let node = Node::start(
        dir.path(),
        &[
            ("LAPOR_NODE__CODE", "KPG"),
            ("LAPOR_NODE__ID", "kupangkota"),
        ],
    )?;
    let mut found = HashMap::new();
    for a in &acknowledged {
        let code = a["tracking_code"].as_str().unwrap_or_default();
        let resp = client
            .get(format!("{}/api/v1/reports/{code}", node.base))
            .header(
                "x-tracking-secret",
                a["tracking_secret"].as_str().unwrap_or_default(),
            )
            .send()
            .await?;
        assert_eq!(resp.status(), 200, "acknowledged report {code} was lost");
        let body: Value = resp.json().await?;
        assert_eq!(body["reporter"]["name"], "Yohanes");
        found.insert(code.to_owned(), body);
    }
    assert_eq!(found.len(), acknowledged.len());
    println!(
        "{} acknowledged reports all survived SIGKILL",
        acknowledged.len()
    );
    node.kill()?;
    Ok(())
}
