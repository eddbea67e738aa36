//! A real `lapor serve` for the parts that measure from outside: this same binary started as a child process
//! on 127.0.0.1 (port chosen by the OS), on a fresh data directory under a temporary directory, logging only
//! warnings. Its resident set and thread count are read from `/proc`; it is killed when dropped.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;

use super::load::{self, Request};

/// Password of the admin the bench creates from the bootstrap secret.
const ADMIN_PASSWORD: &str = "bangku-panjang-uji-kinerja";

/// A running `lapor serve`.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The one-time bootstrap secret it printed.
    bootstrap: Option<String>,
    dir: tempfile::TempDir,
}

/// Environment variables the suite may pass to the server it starts (allocator settings), from
/// `LAPOR_BENCH_SERVER_ENV="K=V K2=V2"`, so that settings can be compared without rebuilding.
fn server_env() -> Vec<(String, String)> {
    std::env::var("LAPOR_BENCH_SERVER_ENV")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

impl Server {
    /// Starts a node in a new temporary directory and waits until it listens.
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("lapor.toml");
        let data = dir.path().join("data");
        std::fs::write(
            &config,
            format!(
                "[node]\nid = \"bench\"\ncode = \"BEN\"\nname = \"Bench\"\ndata_dir = {:?}\n\n\
                 [http]\nlisten = \"127.0.0.1:0\"\n\n[log]\nlevel = \"warn\"\n",
                data.display().to_string()
            ),
        )?;
        let exe = std::env::current_exe().context("finding the lapor binary")?;
        let mut cmd = Command::new(exe);
        cmd.arg("--config")
            .arg(&config)
            .arg("serve")
            .env_remove("LAPOR_LISTEN")
            .env_remove("LAPOR_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(
                dir.path().join("stderr.log"),
            )?));
        for (k, v) in server_env() {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("starting lapor serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::Builder::new()
            .name("bench-server-out".into())
            .spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        // Nobody listens any more: keep draining so the server never blocks on its stdout.
                    }
                }
            })?;
        let mut addr = None;
        let mut bootstrap = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while addr.is_none() || bootstrap.is_none() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let log =
                    std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
                anyhow::bail!("lapor serve did not start within 60 s; its log:\n{log}");
            };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                addr = rest.split('/').next().and_then(|a| a.parse().ok());
            }
            if let Some(rest) = line.split("\"secret\":\"").nth(1) {
                bootstrap = rest.split('"').next().map(str::to_owned);
            }
        }
        Ok(Self {
            child,
            addr: addr.context("no address")?,
            bootstrap,
            dir,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`) or as a count (`Threads`).
    pub fn status_field(&self, field: &str) -> anyhow::Result<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        s.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no {field} in /proc/{}/status", self.pid()))
    }

    /// Resident set in MiB.
    pub fn rss_mib(&self) -> anyhow::Result<f64> {
        Ok(self.status_field("VmRSS")? as f64 / 1024.0)
    }

    /// The data directory's filesystem (where the fsync loop runs too).
    pub fn scratch_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Creates the first admin from the bootstrap secret and logs in; returns the bearer token.
    pub async fn admin_token(&self) -> anyhow::Result<String> {
        let secret = self.bootstrap.as_deref().context("no bootstrap secret")?;
        let a = load::once(
            self.addr,
            &Request::post_json(
                "/api/v1/auth/bootstrap",
                &[],
                &json!({"secret": secret, "username": "admin", "password": ADMIN_PASSWORD,
                        "display_name": "Admin Bench"}),
            ),
        )
        .await?;
        anyhow::ensure!(
            a.status < 300,
            "bootstrap: {} {:?}",
            a.status,
            a.json().ok()
        );
        let a = load::once(
            self.addr,
            &Request::post_json(
                "/api/v1/auth/login",
                &[],
                &json!({"username": "admin", "password": ADMIN_PASSWORD}),
            ),
        )
        .await?;
        anyhow::ensure!(a.status < 300, "login: {} {:?}", a.status, a.json().ok());
        a.json()?["token"]
            .as_str()
            .map(str::to_owned)
            .context("no token in the login answer")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of a citizen's report number `i` (about the size of a real one).
pub fn report_body(i: u64) -> serde_json::Value {
    json!({
        "kind": "complaint",
        "title": format!("Jalan berlubang di depan pasar Oebobo nomor {i}"),
        "body": "Jalan di depan pasar rusak parah sejak musim hujan, banyak pengendara motor jatuh \
                 pada malam hari karena lampu jalan juga mati. Mohon segera diperbaiki.",
        "region_code": "53.71",
        "location": {"lat": -10.17, "lon": 123.6},
        "address": "Jl. Soeharto, Oebobo",
        "reporter": {"name": "Maria Bench", "phone": "081234567890"},
    })
}

/// Files `n` reports, verifies every other one to an agency (so a page shows an agency, a deadline and two
/// timeline entries), and returns their tracking codes.
pub async fn seed_reports(server: &Server, n: u64) -> anyhow::Result<Vec<String>> {
    let token = server.admin_token().await?;
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str())];
    let mut conn = load::Conn::connect(server.addr).await?;
    let a = conn
        .send(&Request::post_json(
            "/api/v1/agencies",
            &headers,
            &json!({"id": "dinas-pu", "name": "Dinas Pekerjaan Umum", "kind": "office"}),
        ))
        .await?;
    anyhow::ensure!(
        a.status < 300,
        "creating the agency: {} {:?}",
        a.status,
        a.json().ok()
    );
    let mut codes = Vec::with_capacity(n as usize);
    for i in 0..n {
        let a = conn
            .send(&Request::post_json("/api/v1/reports", &[], &report_body(i)))
            .await?;
        anyhow::ensure!(a.status == 201, "filing: {} {:?}", a.status, a.json().ok());
        let code = a.json()?["tracking_code"]
            .as_str()
            .context("no tracking code")?
            .to_owned();
        if i % 2 == 0 {
            let a = conn
                .send(&Request::post_json(
                    &format!("/api/v1/reports/{code}/verify"),
                    &headers,
                    &json!({"agency_id": "dinas-pu", "note": "Diteruskan ke Dinas PU"}),
                ))
                .await?;
            anyhow::ensure!(
                a.status < 300,
                "verifying: {} {:?}",
                a.status,
                a.json().ok()
            );
        }
        codes.push(code);
    }
    Ok(codes)
}
