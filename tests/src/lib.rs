//! Helpers for multi-process scenarios: build and find the `lapor` binary, start nodes on loopback ports
//! with their own data directories, wait until they answer, kill (SIGKILL) or terminate (SIGTERM) and
//! restart them on the same address, run other `lapor` subcommands, talk JSON to them, poll conditions, and
//! put a fault-injecting proxy ([`proxy::FaultProxy`]) between nodes.
//!
//! The `Node` methods block the calling thread (start-up, SIGTERM and wait). Tests that also run in-process
//! servers, such as a [`FaultProxy`], should use `#[tokio::test(flavor = "multi_thread")]` so those keep
//! serving while a node starts or stops.

pub mod balancer;
pub mod cluster;
pub mod kannel;
pub mod pg;
pub mod proxy;

pub use proxy::{FaultProxy, Faults, Mode, ProxyBuilder, ProxyStats, RecordedRequest, Replayed};

use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

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

/// A `lapor` command for `data_dir`: run there, with `LAPOR_NODE__DATA_DIR` pointing at it, `RUST_LOG=warn`
/// unless `env` says otherwise, and no `LAPOR_*` variables inherited from the test's own environment.
fn lapor_command(data_dir: &Path, env: &[(String, String)]) -> anyhow::Result<Command> {
    let mut cmd = Command::new(lapor_binary()?);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LAPOR_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(data_dir)
        .env("RUST_LOG", "warn")
        .env("LAPOR_NODE__DATA_DIR", data_dir)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd)
}

fn owned_env(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Runs `lapor <args>` (e.g. `["keys", "generate"]`) against `data_dir` with extra environment, waits for it
/// and returns its exit status, stdout and stderr. The data directory is passed as the working directory and
/// `LAPOR_NODE__DATA_DIR`, so it works for every subcommand.
pub fn run_cli(
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<(ExitStatus, String, String)> {
    let out = lapor_command(data_dir, &owned_env(env))?
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running lapor {}", args.join(" ")))?;
    Ok((
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// How to start a node: see [`Node::start_with`].
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// Port on 127.0.0.1; a free one when `None`.
    pub port: Option<u16>,
    /// Extra environment (`LAPOR_SECTION__KEY` is how configuration is passed).
    pub env: Vec<(String, String)>,
    /// Extra arguments after `serve --listen ... --data-dir ...`.
    pub args: Vec<String>,
    /// How long to wait for `/readyz` (30 s when `None`).
    pub ready_timeout: Option<Duration>,
}

impl NodeOptions {
    /// Defaults: free port, no extra environment or arguments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listen on this port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Set one environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Set several environment variables.
    pub fn envs(mut self, env: &[(&str, &str)]) -> Self {
        self.env.extend(owned_env(env));
        self
    }

    /// Add a command-line argument for `lapor serve`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Wait this long for readiness.
    pub fn ready_timeout(mut self, limit: Duration) -> Self {
        self.ready_timeout = Some(limit);
        self
    }
}

/// Everything a node printed (stdout and stderr, line by line), with a condition variable signalled on
/// every new line.
#[derive(Default)]
struct OutputLog {
    text: Mutex<String>,
    grew: Condvar,
}

impl OutputLog {
    fn text(&self) -> MutexGuard<'_, String> {
        self.text.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push_line(&self, line: &str) {
        let mut t = self.text();
        t.push_str(line);
        t.push('\n');
        drop(t);
        self.grew.notify_all();
    }
}

/// Reads `from` line by line into `log` on a helper thread until the pipe closes (the process exited).
fn capture(from: impl Read + Send + 'static, log: &Arc<OutputLog>, echo: Option<String>) {
    let log = Arc::clone(log);
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if let Some(prefix) = &echo {
                eprintln!("{prefix} {line}");
            }
            log.push_line(&line);
        }
    });
}

/// A `lapor serve` process on 127.0.0.1 that can be killed, terminated and restarted on the same port with
/// the same data directory.
pub struct Node {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    port: u16,
    options: NodeOptions,
    output: Arc<OutputLog>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("base", &self.base)
            .field("data_dir", &self.data_dir)
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts a node on a free port with `data_dir` and extra `LAPOR_*` environment, and waits until
    /// `/readyz` answers.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_with(data_dir, NodeOptions::new().envs(env))
    }

    /// Like [`Node::start`] on a fixed port (e.g. one a peer or a proxy is already configured with).
    pub fn start_on(port: u16, data_dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_with(data_dir, NodeOptions::new().port(port).envs(env))
    }

    /// Starts a node with full options and waits until `/readyz` answers.
    pub fn start_with(data_dir: &Path, options: NodeOptions) -> anyhow::Result<Self> {
        let port = match options.port {
            Some(p) => p,
            None => free_port()?,
        };
        let mut node = Self {
            child: None,
            base: format!("http://127.0.0.1:{port}"),
            data_dir: data_dir.to_owned(),
            port,
            options,
            output: Arc::new(OutputLog::default()),
        };
        node.spawn()?;
        Ok(node)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let mut cmd = lapor_command(&self.data_dir, &self.options.env)?;
        cmd.env_remove("LAPOR_CONFIG")
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.options.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting lapor serve")?;
        // LAPOR_TESTS_ECHO=1 mirrors every node's output on the test's stderr, prefixed with its port.
        let echo = std::env::var_os("LAPOR_TESTS_ECHO").map(|_| format!("[node :{}]", self.port));
        if let Some(out) = child.stdout.take() {
            capture(out, &self.output, echo.clone());
        }
        if let Some(err) = child.stderr.take() {
            capture(err, &self.output, echo);
        }
        self.child = Some(child);
        let limit = self
            .options
            .ready_timeout
            .unwrap_or(Duration::from_secs(30));
        self.wait_ready(limit)
    }

    fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let addr = format!("127.0.0.1:{}", self.port);
        while start.elapsed() < limit {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    bail!(
                        "node at {} exited with {status} before becoming ready; output:\n{}",
                        self.base,
                        self.output()
                    );
                }
            }
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                use std::io::Write;
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
            "node at {} did not become ready within {limit:?}; output:\n{}",
            self.base,
            self.output()
        )
    }

    /// Its port on 127.0.0.1 (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The options it was started with (used again by [`Node::restart`]).
    pub fn options(&self) -> &NodeOptions {
        &self.options
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// Kills the process with SIGKILL (no chance to flush or shut down), reaps it and drops the handle.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.crash()
    }

    /// Kills the process with SIGKILL and reaps it, keeping the handle for [`Node::restart`]. Does nothing if
    /// it is not running.
    pub fn crash(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
            self.output.push_line("--- lapor-tests: SIGKILL ---");
        }
        Ok(())
    }

    /// Sends SIGTERM and waits up to 30 s for the process to exit (then SIGKILLs it and fails). Returns its
    /// exit status; the handle stays usable for [`Node::restart`].
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        self.terminate_within(Duration::from_secs(30))
    }

    /// [`Node::terminate`] with another limit.
    pub fn terminate_within(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("node is not running")?;
        let pid = child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running kill -TERM")?;
        if !sent.success() {
            // Already gone: reap it.
            return Ok(child.wait()?);
        }
        // Wait on a helper thread so the limit can be enforced without polling.
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send(());
            status
        });
        let timed_out = rx.recv_timeout(limit).is_err();
        if timed_out {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        let status = waiter
            .join()
            .map_err(|_| anyhow::anyhow!("waiting for the node panicked"))??;
        self.output.push_line(&format!(
            "--- lapor-tests: SIGTERM, exited with {status} ---"
        ));
        if timed_out {
            bail!(
                "node at {} did not exit within {limit:?} after SIGTERM (killed); output:\n{}",
                self.base,
                self.output()
            );
        }
        Ok(status)
    }

    /// Starts the node again on the same port with the same data directory, options and environment, and
    /// waits until it is ready. A node that is still running is SIGKILLed first.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.crash()?;
        self.output.push_line("--- lapor-tests: restart ---");
        self.spawn()
    }

    /// [`Node::restart`] with extra environment (added to, and overriding, the original).
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) -> anyhow::Result<()> {
        self.options.env.extend(owned_env(env));
        self.restart()
    }

    /// Everything the node printed on stdout and stderr so far (across restarts, with marker lines).
    pub fn output(&self) -> String {
        self.output.text().clone()
    }

    /// Blocks until the output contains `needle` or `limit` passes.
    pub fn wait_for_output(&self, needle: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let mut text = self.output.text();
        loop {
            if text.contains(needle) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "node at {} did not print {needle:?} within {limit:?}; output:\n{}",
                    self.base,
                    *text
                );
            }
            text = self
                .output
                .grew
                .wait_timeout(text, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A JSON client for this node.
    pub fn api(&self) -> Api {
        Api::new(&self.base)
    }

    /// Creates the first admin (`admin`, with `password`) from the bootstrap secret the node printed, logs in
    /// and returns the admin's client.
    pub async fn bootstrap_admin(&self, password: &str) -> anyhow::Result<Api> {
        self.wait_for_output("\"secret\":\"", Duration::from_secs(10))?;
        let out = self.output();
        let secret = out
            .split("\"secret\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .context("no bootstrap secret printed")?
            .to_owned();
        let api = self.api();
        let (st, body) = api
            .post_json(
                "/api/v1/auth/bootstrap",
                &serde_json::json!({"secret": secret, "username": "admin", "password": password, "display_name": "Admin"}),
            )
            .await?;
        anyhow::ensure!(st.is_success(), "bootstrap: {st} {body}");
        let (st, body) = api
            .post_json(
                "/api/v1/auth/login",
                &serde_json::json!({"username": "admin", "password": password}),
            )
            .await?;
        anyhow::ensure!(st.is_success(), "login: {st} {body}");
        Ok(api.with_token(body["token"].as_str().context("no token")?))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A small JSON client for tests: every call returns the status and the body as JSON (`Value::Null` for an
/// empty body, `Value::String` with the raw text for a body that is not JSON). Requests time out after 30 s.
#[derive(Clone, Debug)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A client for `base` (`http://127.0.0.1:PORT`, no trailing slash needed).
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        }
    }

    /// A client for `base` that opens a new connection for every request (nothing kept idle), so a load
    /// balancer in front of several processes spreads the requests over them.
    pub fn unpooled(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default();
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        }
    }

    /// A copy that sends `Authorization: Bearer <token>`.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// Set or clear the bearer token.
    pub fn set_token(&mut self, token: Option<&str>) {
        self.token = token.map(str::to_owned);
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The underlying reqwest client, for anything the helpers do not cover.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `base` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        self.send_json(reqwest::Method::GET, path, None, &[]).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        self.send_json(reqwest::Method::POST, path, Some(body), &[])
            .await
    }

    /// Any method, optional JSON body, extra headers.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let url = self.url(path);
        let mut req = self.client.request(method.clone(), &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("reading the body of {method} {url}"))?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }
}

/// Polls `condition` every `interval` until it returns true; fails after `limit` with a message naming
/// `what` was waited for. Each poll is itself bounded by the time left.
pub async fn wait_until<F, Fut>(
    what: &str,
    limit: Duration,
    interval: Duration,
    mut condition: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(what, limit, interval, || {
        let fut = condition();
        async move { anyhow::Ok(fut.await.then_some(())) }
    })
    .await
}

/// Polls `probe` every `interval` until it returns `Ok(Some(value))` and returns the value. `Ok(None)` and
/// errors mean "not yet"; after `limit` this fails with a message naming `what` was waited for, how many
/// polls were made and the last error seen.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    limit: Duration,
    interval: Duration,
    mut probe: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut polls = 0u32;
    let mut last_error: Option<anyhow::Error> = None;
    loop {
        polls += 1;
        match tokio::time::timeout_at(deadline, probe()).await {
            Ok(Ok(Some(v))) => return Ok(v),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => last_error = Some(e),
            Err(_) => break,
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        // The last poll happens at the deadline (a probe that is ready at once still counts there).
        tokio::time::sleep_until((now + interval).min(deadline)).await;
    }
    match last_error {
        Some(e) => {
            bail!("timed out after {limit:?} waiting for {what} ({polls} polls; last error: {e:#})")
        }
        None => bail!("timed out after {limit:?} waiting for {what} ({polls} polls)"),
    }
}
