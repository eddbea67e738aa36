//! Helpers for multi-process scenarios: build and find the `lapor` binary, start nodes on free loopback
//! ports with their own data directories, wait until they answer, kill them with SIGKILL.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The `lapor` binary of this workspace, built on first use.
pub fn lapor_binary() -> anyhow::Result<PathBuf> {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().map_err(|_| anyhow::anyhow!("lock poisoned"))?;
    if let Some(p) = built.as_ref() {
        return Ok(p.clone());
    }
    // target/<profile>/deps/<test binary>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary is not under target/<profile>/deps")?
        .to_owned();
    let target_dir = profile_dir.parent().context("no target dir")?.to_owned();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "lapor-node",
        "--bin",
        "lapor",
        "--target-dir",
    ])
    .arg(&target_dir)
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .context("running cargo build for the lapor binary")?;
    if !status.success() {
        bail!("building the lapor binary failed");
    }
    let path = profile_dir.join("lapor");
    *built = Some(path.clone());
    Ok(path)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A `lapor serve` process.
pub struct Node {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Everything it printed on stdout so far.
    pub stdout: Arc<Mutex<String>>,
}

impl Node {
    /// Starts a node on a free port with `data_dir` and extra `LAPOR_*` environment, and waits until
    /// `/readyz` answers.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut cmd = Command::new(lapor_binary()?);
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .current_dir(data_dir)
            .env_remove("LAPOR_CONFIG")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("starting lapor serve")?;
        let stdout = Arc::new(Mutex::new(String::new()));
        if let Some(out) = child.stdout.take() {
            let sink = Arc::clone(&stdout);
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&line);
                        s.push('\n');
                    }
                }
            });
        }
        let node = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data_dir: data_dir.to_owned(),
            stdout,
        };
        node.wait_ready(Duration::from_secs(30))?;
        Ok(node)
    }

    fn wait_ready(&self, limit: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let addr = self.base.trim_start_matches("http://").to_owned();
        while start.elapsed() < limit {
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req =
                    format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                if s.write_all(req.as_bytes()).is_ok() {
                    let mut buf = String::new();
                    let _ = s.read_to_string(&mut buf);
                    if buf.starts_with("HTTP/1.1 200") {
                        return Ok(());
                    }
                }
            }
            #[allow(clippy::disallowed_methods)]
            // start-up polling: nothing else is in flight while a node starts
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "node at {} did not become ready within {limit:?}",
            self.base
        )
    }

    /// Kills the process with SIGKILL (no chance to flush or shut down) and reaps it.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// What the node printed so far.
    pub fn output(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
