#![allow(clippy::disallowed_methods)] // test-only polling and process management
//! Outbound SMS through a REAL Kannel: bearerbox + smsbox (Debian `kannel`) with `fakesmsc`
//! (`kannel-extras`) as the SMSC, the real `lapor` binary sending through smsbox's sendsms interface. A
//! status change comes out of fakesmsc as one GSM-7 SMS with the tracking link; the agency's long follow-up
//! comes out shortened to at most three concatenated parts; a wrong sendsms password is a permanent failure
//! counted in `/metrics`.

mod notify;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use lapor_tests::{free_port, Node, NodeOptions};
use notify::{act, admin, agency, file, notices};
use serde_json::json;

/// bearerbox, fakesmsc and smsbox on free ports; killed when dropped.
struct Kannel {
    children: Vec<Child>,
    smsc_log: PathBuf,
    sendsms: u16,
}

impl Drop for Kannel {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_port(port: u16, what: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("{what} did not listen on {port}")
}

impl Kannel {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let (admin, smsbox, fake, sendsms) =
            (free_port()?, free_port()?, free_port()?, free_port()?);
        let template = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("notify/kannel.conf.in"),
        )?;
        let conf = template
            .replace("@ADMIN@", &admin.to_string())
            .replace("@SMSBOX@", &smsbox.to_string())
            .replace("@FAKE@", &fake.to_string())
            .replace("@SENDSMS@", &sendsms.to_string())
            .replace("@DIR@", &dir.display().to_string());
        let conf_path = dir.join("kannel.conf");
        std::fs::write(&conf_path, conf)?;
        let log = |name: &str| -> anyhow::Result<Stdio> {
            Ok(std::fs::File::create(dir.join(name))?.into())
        };
        let mut k = Self {
            children: Vec::new(),
            smsc_log: dir.join("fakesmsc.log"),
            sendsms,
        };
        k.children.push(
            Command::new("/usr/sbin/bearerbox")
                .args(["-v", "0"])
                .arg(&conf_path)
                .stdout(log("bearerbox.out")?)
                .stderr(log("bearerbox.log")?)
                .spawn()
                .context("starting /usr/sbin/bearerbox (Debian package kannel)")?,
        );
        wait_port(fake, "bearerbox's fake SMSC port")?;
        k.children.push(
            Command::new("/usr/lib/kannel/test/fakesmsc")
                .args([
                    "-H",
                    "127.0.0.1",
                    "-r",
                    &fake.to_string(),
                    "-i",
                    "0",
                    "-m",
                    "0",
                    "1708 0 text -",
                ])
                .stdin(Stdio::null())
                .stdout(log("fakesmsc.out")?)
                .stderr(log("fakesmsc.log")?)
                .spawn()
                .context("starting fakesmsc (Debian package kannel-extras)")?,
        );
        k.children.push(
            Command::new("/usr/sbin/smsbox")
                .args(["-v", "0"])
                .arg(&conf_path)
                .stdout(log("smsbox.out")?)
                .stderr(log("smsbox.log")?)
                .spawn()
                .context("starting /usr/sbin/smsbox")?,
        );
        wait_port(sendsms, "smsbox's sendsms port")?;
        Ok(k)
    }

    /// The MT messages fakesmsc received: (sender, receiver, UDH or empty, text).
    fn received(&self) -> Vec<(String, String, String, String)> {
        let log = std::fs::read_to_string(&self.smsc_log).unwrap_or_default();
        let mut out = Vec::new();
        for line in log.lines() {
            let Some(rest) = line.split_once("Got message ").map(|(_, r)| r) else {
                continue;
            };
            let Some(msg) = rest.split_once(": <").map(|(_, m)| m.trim_end_matches('>')) else {
                continue;
            };
            let mut f = msg.splitn(3, ' ');
            let (from, to, rest) = (
                f.next().unwrap_or(""),
                f.next().unwrap_or(""),
                f.next().unwrap_or(""),
            );
            let (udh, text) = if let Some(t) = rest.strip_prefix("text ") {
                (String::new(), t.to_owned())
            } else if let Some(u) = rest.strip_prefix("udh ") {
                let (udh, data) = u.split_once(" data ").unwrap_or((u, ""));
                let text: String = url::form_urlencoded::parse(format!("x={data}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                (udh.to_owned(), text)
            } else {
                continue;
            };
            out.push((from.to_owned(), to.to_owned(), udh, text));
        }
        out
    }
}

fn sms_env(k: &Kannel, base: &str, password: &str) -> Vec<(String, String)> {
    [
        ("LAPOR_NODE__CODE", "KPG"),
        ("LAPOR_NODE__ID", "kupangkota"),
        ("LAPOR_NOTIFICATIONS__PUBLIC_URL", base),
        ("LAPOR_NOTIFICATIONS__POLL_MS", "200"),
        ("LAPOR_NOTIFICATIONS__RETRY_BASE_SECS", "1"),
        ("LAPOR_NOTIFICATIONS__MAX_BACKOFF_SECS", "2"),
        ("LAPOR_NOTIFICATIONS__SMS__ENABLED", "true"),
        ("LAPOR_NOTIFICATIONS__SMS__USER", "lapor"),
        ("LAPOR_NOTIFICATIONS__SMS__PASSWORD", password),
        ("LAPOR_NOTIFICATIONS__SMS__FROM", "1708"),
        // This branch has no SMS intake yet: reach the phone number a web reporter gave.
        ("LAPOR_NOTIFICATIONS__SMS__EVERY_PHONE", "true"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .chain([(
        "LAPOR_NOTIFICATIONS__SMS__SENDSMS_URL".to_owned(),
        format!("http://127.0.0.1:{}/cgi-bin/sendsms", k.sendsms),
    )])
    .collect()
}

fn start_node(dir: &Path, k: &Kannel, password: &str) -> anyhow::Result<Node> {
    let port = free_port()?;
    let env = sms_env(k, &format!("http://127.0.0.1:{port}"), password);
    let env: Vec<(&str, &str)> = env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    Node::start_with(dir, NodeOptions::new().port(port).envs(&env))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_and_followups_leave_through_kannel_sendsms() -> anyhow::Result<()> {
    let kdir = tempfile::tempdir()?;
    let kannel = Kannel::start(kdir.path())?;
    let dir = tempfile::tempdir()?;
    let node = start_node(dir.path(), &kannel, "rahasia-kannel")?;
    let admin = admin(&node).await?;
    agency(&admin).await?;
    let (code, _) = file(
        &node.api(),
        "Jalan rusak di Oebobo",
        json!({"name": "Maria", "phone": "081234567890"}),
    )
    .await?;

    // Filing sends no SMS (the inbound reply does that); verifying is a status change.
    act(&admin, &code, "verify", json!({"agency_id": "pupr"})).await?;
    let got = lapor_tests::wait_for(
        "the status SMS out of fakesmsc",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async { Ok(kannel.received().into_iter().find(|m| m.3.contains(&code))) },
    )
    .await?;
    let (from, to, udh, text) = got;
    assert_eq!(
        (from.as_str(), to.as_str(), udh.as_str()),
        ("1708", "081234567890", ""),
        "{text}"
    );
    assert_eq!(
        text,
        format!(
            "LAPOR! {code}: status Terverifikasi. Info: {}/track/{code}",
            node.base
        )
    );
    assert!(text.chars().count() <= 160);

    // A long follow-up: shortened, at most three concatenated parts, the link at the end.
    let long = "Tim PUPR telah menambal lubang di Jl. Frans Seda dan memasang rambu peringatan; "
        .repeat(12);
    act(&admin, &code, "respond", json!({"note": long})).await?;
    let parts = lapor_tests::wait_for(
        "the follow-up SMS parts",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let parts: Vec<_> = kannel
                .received()
                .into_iter()
                .filter(|m| !m.2.is_empty())
                .collect();
            let total = parts
                .first()
                .map(|p| p.2.split('%').nth(5).unwrap_or("").to_owned());
            Ok(total
                .and_then(|t| u8::from_str_radix(&t, 16).ok())
                .filter(|t| parts.len() == *t as usize)
                .map(|_| parts))
        },
    )
    .await?;
    assert!((2..=3).contains(&parts.len()), "{parts:?}");
    let joined: String = parts.iter().map(|p| p.3.as_str()).collect();
    assert!(
        joined.starts_with(&format!("LAPOR! {code}: Tindak lanjut instansi: Tim PUPR")),
        "{joined}"
    );
    assert!(
        joined.ends_with(&format!("Balas/terima: {}/track/{code}", node.base)),
        "{joined}"
    );
    assert!(joined.contains("..."), "shortened: {joined}");
    assert_eq!(notices(&node.api(), "sent", "sms").await?, 2);
    assert_eq!(notices(&node.api(), "failed", "sms").await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_sendsms_password_is_a_permanent_failure_in_metrics() -> anyhow::Result<()> {
    let kdir = tempfile::tempdir()?;
    let kannel = Kannel::start(kdir.path())?;
    let dir = tempfile::tempdir()?;
    let node = start_node(dir.path(), &kannel, "p4ss-wrong-xyz")?;
    let admin = admin(&node).await?;
    agency(&admin).await?;
    let (code, _) = file(
        &node.api(),
        "Sampah menumpuk",
        json!({"phone": "081299998888"}),
    )
    .await?;
    act(&admin, &code, "verify", json!({"agency_id": "pupr"})).await?;
    lapor_tests::wait_until(
        "the notice failed",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            notices(&node.api(), "failed", "sms")
                .await
                .is_ok_and(|n| n == 1)
        },
    )
    .await?;
    assert!(kannel.received().is_empty());
    let out = node.output();
    assert!(out.contains("Kannel refused it (403)"), "{out}");
    assert!(
        !out.contains("081299998888") && !out.contains("p4ss-wrong-xyz"),
        "no number or password in the log"
    );
    Ok(())
}
