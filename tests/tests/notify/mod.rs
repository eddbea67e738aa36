//! Helpers of the notification scenarios: a real SMTP server (Python aiosmtpd, `tests/notify/smtp_sink.py`)
//! on a loopback port, the first admin of a node, and its `lapor_notices` metrics.
#![allow(dead_code)] // each test binary uses part of this module

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use lapor_tests::{Api, Node};
use serde_json::{json, Value};

/// Admin password of the scenarios.
pub const PASSWORD: &str = "kata-sandi-kota-1";

/// A running aiosmtpd that writes each message it accepts (and its parsed summary) into a directory.
/// Killed when dropped.
pub struct SmtpSink {
    child: Child,
    /// Where messages land.
    pub dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl SmtpSink {
    /// Starts the sink on `port`; `delay_secs` makes every RCPT wait that long (a slow server).
    pub fn start(port: u16, dir: &Path, delay_secs: f64) -> anyhow::Result<Self> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("notify/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(dir)
            .arg("--delay-secs")
            .arg(delay_secs.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting python3 smtp_sink.py (pip install aiosmtpd)")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        anyhow::ensure!(
            line.trim() == "READY",
            "smtp sink did not start (is aiosmtpd installed?): {line:?}"
        );
        Ok(Self {
            child,
            dir: dir.to_owned(),
            port,
        })
    }

    /// The parsed summaries of every message received so far, in arrival order.
    pub fn messages(&self) -> anyhow::Result<Vec<Value>> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| Ok(serde_json::from_slice(&std::fs::read(p)?)?))
            .collect()
    }

    /// Waits until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> anyhow::Result<Vec<Value>> {
        lapor_tests::wait_for(
            &format!("{n} messages at the SMTP server"),
            limit,
            Duration::from_millis(200),
            || async { Ok(self.messages().ok().filter(|m| m.len() >= n)) },
        )
        .await
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The env of a node that mails through `smtp_port` and links to `base`.
pub fn email_env(smtp_port: u16, base: &str) -> Vec<(String, String)> {
    [
        ("LAPOR_NODE__CODE", "KPG".to_owned()),
        ("LAPOR_NODE__ID", "kupangkota".to_owned()),
        ("LAPOR_NODE__NAME", "LAPOR! Kota Kupang".to_owned()),
        ("LAPOR_NOTIFICATIONS__PUBLIC_URL", base.to_owned()),
        ("LAPOR_NOTIFICATIONS__POLL_MS", "200".to_owned()),
        ("LAPOR_NOTIFICATIONS__RETRY_BASE_SECS", "1".to_owned()),
        ("LAPOR_NOTIFICATIONS__MAX_BACKOFF_SECS", "2".to_owned()),
        ("LAPOR_NOTIFICATIONS__EMAIL__ENABLED", "true".to_owned()),
        ("LAPOR_NOTIFICATIONS__EMAIL__HOST", "127.0.0.1".to_owned()),
        ("LAPOR_NOTIFICATIONS__EMAIL__PORT", smtp_port.to_string()),
        ("LAPOR_NOTIFICATIONS__EMAIL__TLS", "none".to_owned()),
        ("LAPOR_NOTIFICATIONS__EMAIL__TIMEOUT_SECS", "10".to_owned()),
        (
            "LAPOR_NOTIFICATIONS__EMAIL__FROM",
            "LAPOR! Kota Kupang <lapor@kupangkota.go.id>".to_owned(),
        ),
        (
            "LAPOR_NOTIFICATIONS__EMAIL__AGENCIES__PUPR",
            "pupr@kupangkota.go.id".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Creates the first admin from the printed bootstrap secret and logs in.
pub async fn admin(node: &Node) -> anyhow::Result<Api> {
    node.bootstrap_admin(PASSWORD).await
}

/// Creates the agency `pupr` (Dinas PUPR Kota Kupang).
pub async fn agency(admin: &Api) -> anyhow::Result<()> {
    let (st, body) = admin
        .post_json(
            "/api/v1/agencies",
            &json!({"id": "pupr", "name": "Dinas PUPR Kota Kupang", "kind": "office"}),
        )
        .await?;
    anyhow::ensure!(st.as_u16() == 201, "agency: {st} {body}");
    Ok(())
}

/// Files a report; returns (tracking code, secret).
pub async fn file(api: &Api, title: &str, reporter: Value) -> anyhow::Result<(String, String)> {
    let (st, body) = api
        .post_json(
            "/api/v1/reports",
            &json!({"kind": "complaint", "title": title,
                    "body": "Jalan berlubang besar di depan pasar, membahayakan pengendara motor.",
                    "reporter": reporter}),
        )
        .await?;
    anyhow::ensure!(st.as_u16() == 201, "filing: {st} {body}");
    Ok((
        body["tracking_code"].as_str().context("code")?.to_owned(),
        body["tracking_secret"]
            .as_str()
            .context("secret")?
            .to_owned(),
    ))
}

/// Runs a lifecycle action as `api`.
pub async fn act(api: &Api, code: &str, action: &str, body: Value) -> anyhow::Result<()> {
    let (st, b) = api
        .post_json(&format!("/api/v1/reports/{code}/{action}"), &body)
        .await?;
    anyhow::ensure!(st.is_success(), "{action}: {st} {b}");
    Ok(())
}

/// `lapor_notices{state=..,channel=..}` from `/metrics`.
pub async fn notices(api: &Api, state: &str, channel: &str) -> anyhow::Result<i64> {
    let text = api
        .client()
        .get(api.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let needle = format!("lapor_notices{{state=\"{state}\",channel=\"{channel}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("{needle} not in /metrics"))
}
