#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Brute force is stopped on a real `lapor` process: per-address rate limits answer 429 with `Retry-After`
//! (here behind a reverse proxy on the same machine, which names the client in `X-Forwarded-For`), and an
//! account is locked after repeated failed logins, even for the right password.

use lapor_tests::Node;
use serde_json::{json, Value};

async fn login(
    client: &reqwest::Client,
    base: &str,
    forwarded_for: &str,
    user: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .expect("login request");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_rate_limited_per_address_and_accounts_lock() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut node = Node::start(dir.path(), &[])?;
    let client = reqwest::Client::new();
    let base = node.base.clone();
    // The first admin, from the printed bootstrap secret (from the machine itself: not limited).
    let out = node.output();
    let secret = out
        .split("\"secret\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("bootstrap secret printed")
        .to_owned();
    let password = "kata-sandi-kota-1";
    let r = client
        .post(format!("{base}/api/v1/auth/bootstrap"))
        .json(&json!({"secret": secret, "username": "admin", "password": password, "display_name": "Admin"}))
        .send()
        .await?;
    assert!(r.status().is_success(), "bootstrap: {}", r.status());

    // An account is locked after five failed logins in a row; the right password does not get in meanwhile.
    for _ in 0..5 {
        let (st, _, _) = login(&client, &base, "198.51.100.7", "admin", "wrong-password-1").await;
        assert_eq!(st, 401);
    }
    let (st, retry, body) = login(&client, &base, "198.51.100.8", "admin", password).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (429, Some("account_locked")),
        "{body}"
    );
    assert!(retry.is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n > 0)));

    // One address gets ten login attempts in a burst, then 429 rate_limited with Retry-After; another address
    // is not affected.
    for i in 0..10 {
        let (st, _, _) = login(
            &client,
            &base,
            "203.0.113.5",
            &format!("nobody{i}"),
            "x-password-1",
        )
        .await;
        assert_eq!(st, 401);
    }
    let (st, retry, body) = login(&client, &base, "203.0.113.5", "nobody", "x-password-1").await;
    assert_eq!(
        (st, body["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    assert!(retry.is_some(), "Retry-After");
    let (st, _, _) = login(&client, &base, "203.0.113.6", "nobody", "x-password-1").await;
    assert_eq!(st, 401, "another address has its own budget");
    node.terminate()?;
    Ok(())
}
