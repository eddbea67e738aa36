//! Real `lapor serve` processes for the parts of the suite that measure two nodes talking over HTTP (lag,
//! catch-up): this very binary, each node in its own temporary data directory, configured through the
//! environment as an operator would (the defaults unless a part says otherwise), keys made with
//! `lapor keys generate`, peers enrolled with `lapor peers add`, and a TCP relay on every link that can cut
//! it ([`Relay`], a partition).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// One node process.
pub struct Proc {
    /// Node id.
    pub id: String,
    /// Data directory.
    pub dir: PathBuf,
    /// Port it listens on (127.0.0.1).
    pub port: u16,
    env: Vec<(String, String)>,
    /// Public signing key (hex).
    pub public_key: String,
    /// Encryption public key (hex).
    pub enc_public: String,
    child: Option<Child>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn field(out: &str, name: &str) -> anyhow::Result<String> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
        .with_context(|| format!("`{name}` not in the output of lapor keys generate: {out}"))
}

impl Proc {
    /// Prepares node `id` (`hub` or `regional` role) under `root` with its keys; `extra` is more environment.
    pub fn new(
        root: &Path,
        id: &str,
        code: &str,
        role: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let mut env: Vec<(String, String)> = [
            ("LAPOR_NODE__ID", id),
            ("LAPOR_NODE__CODE", code),
            ("LAPOR_NODE__ROLE", role),
            ("LAPOR_LOG__LEVEL", "warn"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        env.push((
            "LAPOR_FEDERATION__PUBLIC_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ));
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut p = Self {
            id: id.to_owned(),
            dir,
            port,
            env,
            public_key: String::new(),
            enc_public: String::new(),
            child: None,
        };
        let out = p.cli(&["keys", "generate"])?;
        p.public_key = field(&out, "public_key:")?;
        p.enc_public = field(&out, "enc_public:")?;
        Ok(p)
    }

    fn command(&self) -> anyhow::Result<Command> {
        let mut cmd = Command::new(std::env::current_exe().context("finding this binary")?);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("LAPOR_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(&self.dir)
            .env("LAPOR_NODE__DATA_DIR", &self.dir)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        Ok(cmd)
    }

    /// Runs `lapor <args>` against this node's data directory; its standard output.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.command()?.args(args).output()?;
        anyhow::ensure!(
            out.status.success(),
            "lapor {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Enrols `peer` (reached at `url`) as a peer of this node.
    pub fn enrol(&self, peer: &Proc, role: &str, url: &str) -> anyhow::Result<()> {
        self.cli(&[
            "peers",
            "add",
            "--node-id",
            &peer.id,
            "--role",
            role,
            "--url",
            url,
            "--public-key",
            &peer.public_key,
            "--enc-public",
            &peer.enc_public,
        ])
        .map(|_| ())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The node's SQLite database.
    pub fn db(&self) -> PathBuf {
        self.dir.join("lapor.db")
    }

    /// Starts `lapor serve` and waits until it answers `/healthz`.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.join("serve.log"))?;
        let child = self
            .command()?
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting lapor serve")?;
        self.child = Some(child);
        let http = reqwest::Client::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                anyhow::bail!(
                    "node {} exited with {status}: {}",
                    self.id,
                    std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
                );
            }
            if let Ok(r) = http.get(format!("{}/healthz", self.base())).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("node {} did not answer /healthz within 60 s", self.id)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A TCP relay from a port of its own to a node's port; cut, it closes every connection and refuses new ones
/// (they are accepted and closed at once, as a link that is down answers nothing).
pub struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Relays to `127.0.0.1:target`.
    pub async fn start(target: u16) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let cut = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (c, l) = (Arc::clone(&cut), Arc::clone(&live));
        let accept = crate::tasks::spawn_named("bench-relay", async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let conn = crate::tasks::spawn_named("bench-relay-conn", async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                if let Ok(mut live) = l.lock() {
                    live.retain(|h| !h.is_finished());
                    live.push(conn.abort_handle());
                }
            }
        });
        Ok(Self {
            port,
            cut,
            live,
            accept,
        })
    }

    /// `http://127.0.0.1:PORT` of the relay.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts (closing every open connection) or heals the link.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
        if cut {
            if let Ok(mut live) = self.live.lock() {
                for h in live.drain(..) {
                    h.abort();
                }
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.set_cut(true);
    }
}

/// A hub and one regional node as processes, enrolled with each other through a relay each way.
pub struct Pair {
    /// The hub.
    pub hub: Proc,
    /// The regional node.
    pub regional: Proc,
    /// Regional -> hub.
    pub up: Relay,
    /// Hub -> regional.
    pub down: Relay,
    _root: tempfile::TempDir,
}

impl Pair {
    /// Prepares both nodes (not started) with `extra` environment for each.
    pub async fn new(extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let root = tempfile::tempdir()?;
        let hub = Proc::new(root.path(), "bench-hub", "HUB", "hub", extra)?;
        let regional = Proc::new(root.path(), "bench-kupang", "KPG", "regional", extra)?;
        let up = Relay::start(hub.port).await?;
        let down = Relay::start(regional.port).await?;
        hub.enrol(&regional, "regional", &down.base())?;
        regional.enrol(&hub, "hub", &up.base())?;
        Ok(Self {
            hub,
            regional,
            up,
            down,
            _root: root,
        })
    }

    /// Cuts or heals both directions.
    pub fn partition(&self, cut: bool) {
        self.up.set_cut(cut);
        self.down.set_cut(cut);
    }
}

/// `origin`'s head in a node's database (read-only, beside the running process).
pub fn head_of(db: &Path, origin: &str) -> anyhow::Result<i64> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    c.busy_timeout(Duration::from_secs(5))?;
    Ok(c.query_row(
        "SELECT COALESCE(MAX(head_seq), 0) FROM origins WHERE origin = ?1",
        [origin],
        |r| r.get(0),
    )?)
}
