//! A small HTTP/1.1 load generator for the suite: keep-alive connections on 127.0.0.1, requests encoded once,
//! answers read by `Content-Length` (or chunks). Two shapes: a closed loop (`C` connections each sending its
//! next request when the answer arrived: the rate the server sustains) and an open loop (requests sent at a
//! fixed rate whatever the server does, each latency counted from the time the request was *meant* to leave,
//! so a stall shows up in every request it delays instead of hiding as one slow request).
//!
//! It runs in the bench process, beside the server, exactly as `wrk` would on this machine: the same client
//! measures `/healthz`, the limit every other figure is compared with.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// Most connections the open loop opens (requests beyond it wait for a free one, and that wait counts).
const MAX_OPEN_CONNECTIONS: usize = 512;

/// One request, encoded once.
#[derive(Debug, Clone)]
pub struct Request(Arc<[u8]>);

impl Request {
    /// `GET path` with extra headers.
    pub fn get(path: &str, headers: &[(&str, &str)]) -> Self {
        Self::encode("GET", path, headers, None)
    }

    /// `POST path` with a JSON body.
    pub fn post_json(path: &str, headers: &[(&str, &str)], body: &serde_json::Value) -> Self {
        Self::encode("POST", path, headers, Some(body.to_string().as_bytes()))
    }

    fn encode(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Self {
        let mut s = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in headers {
            s.push_str(k);
            s.push_str(": ");
            s.push_str(v);
            s.push_str("\r\n");
        }
        let mut bytes = if let Some(b) = body {
            s.push_str("Content-Type: application/json\r\n");
            s.push_str("Content-Length: ");
            s.push_str(&b.len().to_string());
            s.push_str("\r\n\r\n");
            let mut v = s.into_bytes();
            v.extend_from_slice(b);
            v
        } else {
            s.push_str("\r\n");
            s.into_bytes()
        };
        bytes.shrink_to_fit();
        Self(bytes.into())
    }
}

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "answer {} is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One keep-alive connection.
pub struct Conn {
    stream: BufReader<TcpStream>,
    line: String,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        s.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::with_capacity(16 * 1024, s),
            line: String::new(),
        })
    }

    /// Sends `req` and reads the whole answer.
    pub async fn send(&mut self, req: &Request) -> anyhow::Result<Answer> {
        self.stream.get_mut().write_all(&req.0).await?;
        self.line.clear();
        if self.stream.read_line(&mut self.line).await? == 0 {
            anyhow::bail!("the server closed the connection");
        }
        let status: u16 = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {:?}", self.line))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                anyhow::bail!("the server closed the connection in the headers");
            }
            let h = self.line.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let v = v.trim();
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = v.eq_ignore_ascii_case("chunked");
                } else if k.eq_ignore_ascii_case("connection") {
                    close = v.eq_ignore_ascii_case("close");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                self.line.clear();
                self.stream.read_line(&mut self.line).await?;
                let size =
                    usize::from_str_radix(self.line.trim().split(';').next().unwrap_or(""), 16)
                        .with_context(|| format!("bad chunk size {:?}", self.line))?;
                let start = body.len();
                body.resize(start + size + 2, 0);
                self.stream.read_exact(&mut body[start..]).await?;
                body.truncate(start + size);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.stream.read_exact(&mut body).await?;
        }
        anyhow::ensure!(!close, "the server closed the connection after answering");
        Ok(Answer { status, body })
    }
}

/// Sends one request on a fresh connection.
pub async fn once(addr: SocketAddr, req: &Request) -> anyhow::Result<Answer> {
    Conn::connect(addr).await?.send(req).await
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Run {
    /// Requests answered with 2xx.
    pub ok: u64,
    /// Requests answered otherwise, or failed.
    pub errors: u64,
    /// The first error seen, for the raw numbers.
    pub first_error: Option<String>,
    /// Seconds from the first send to the last answer.
    pub secs: f64,
    /// Latencies in microseconds (open loop: from the intended send time), unsorted.
    pub latencies_us: Vec<u64>,
    /// Connections used.
    pub connections: usize,
}

impl Run {
    /// Answered requests per second (2xx only).
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.secs.max(1e-9)
    }

    /// The `q` quantile (0..=1) of the latencies, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        quantile(&v, q) as f64 / 1000.0
    }

    fn merge(&mut self, other: Run) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_us.extend(other.latencies_us);
    }

    fn record(&mut self, started: Instant, answer: anyhow::Result<Answer>) -> bool {
        self.latencies_us.push(started.elapsed().as_micros() as u64);
        match answer {
            Ok(a) if (200..300).contains(&a.status) => {
                self.ok += 1;
                true
            }
            Ok(a) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| {
                    format!("{} {}", a.status, String::from_utf8_lossy(&a.body))
                });
                true
            }
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("{e:#}"));
                false
            }
        }
    }

    /// `ok N, errors N (first: ...)`, for the raw numbers.
    pub fn counts(&self) -> String {
        match &self.first_error {
            Some(e) => format!(
                "{} ok, {} errors (first: {})",
                self.ok,
                self.errors,
                e.chars().take(120).collect::<String>()
            ),
            None => format!("{} ok, 0 errors", self.ok),
        }
    }
}

/// The `q` quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// `connections` connections, each sending `make(i)` as soon as its previous answer arrived, for `duration`.
pub async fn closed_loop<F>(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    make: F,
) -> anyhow::Result<Run>
where
    F: Fn(u64) -> Request + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let make = Arc::clone(&make);
        tasks.spawn(async move {
            let mut run = Run::default();
            let mut conn = Conn::connect(addr).await?;
            let mut i = c as u64;
            while Instant::now() < end {
                let t = Instant::now();
                let answer = conn.send(&make(i)).await;
                if !run.record(t, answer) {
                    conn = Conn::connect(addr).await?;
                }
                i += connections as u64;
            }
            anyhow::Ok(run)
        });
    }
    let mut total = Run {
        connections,
        ..Run::default()
    };
    while let Some(t) = tasks.join_next().await {
        total.merge(t.context("load task")??);
    }
    total.secs = start.elapsed().as_secs_f64();
    Ok(total)
}

/// Sends `make(i)` at `rate` per second for `duration`, each at its intended time on a free keep-alive
/// connection (a new one when none is free, up to [`MAX_OPEN_CONNECTIONS`]); latency from the intended time.
pub async fn open_loop<F>(
    addr: SocketAddr,
    rate: f64,
    duration: Duration,
    make: F,
) -> anyhow::Result<Run>
where
    F: Fn(u64) -> Request + Send + Sync + 'static,
{
    anyhow::ensure!(rate > 0.0, "the rate must be positive");
    let make = Arc::new(make);
    let idle: Arc<Mutex<Vec<Conn>>> = Arc::new(Mutex::new(Vec::new()));
    let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_OPEN_CONNECTIONS));
    let n = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let intended = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(intended.into()).await;
        let (make, idle, opened, slots) = (
            Arc::clone(&make),
            Arc::clone(&idle),
            Arc::clone(&opened),
            Arc::clone(&slots),
        );
        tasks.spawn(async move {
            let mut run = Run::default();
            let _slot = slots.acquire_owned().await?;
            let pooled = idle.lock().ok().and_then(|mut v| v.pop());
            let mut conn = if let Some(c) = pooled {
                c
            } else {
                opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Conn::connect(addr).await?
            };
            let answer = conn.send(&make(i)).await;
            if run.record(intended, answer) {
                if let Ok(mut v) = idle.lock() {
                    v.push(conn);
                }
            }
            anyhow::Ok(run)
        });
    }
    let mut total = Run::default();
    while let Some(t) = tasks.join_next().await {
        total.merge(t.context("load task")??);
    }
    total.secs = start.elapsed().as_secs_f64();
    total.connections = opened.load(std::sync::atomic::Ordering::Relaxed);
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.99), 99);
        assert_eq!(quantile(&v, 0.999), 100);
        assert_eq!(quantile(&v, 0.0), 1);
        assert_eq!(quantile(&[], 0.5), 0);
    }

    #[test]
    fn requests_carry_their_body_length() {
        let r = Request::post_json("/x", &[("A", "b")], &serde_json::json!({"k": 1}));
        let s = String::from_utf8_lossy(&r.0).into_owned();
        assert!(s.starts_with("POST /x HTTP/1.1\r\n"), "{s}");
        assert!(s.contains("A: b\r\n"), "{s}");
        assert!(s.ends_with("Content-Length: 7\r\n\r\n{\"k\":1}"), "{s}");
    }
}
