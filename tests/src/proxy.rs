//! `FaultProxy`: an HTTP/1.1 reverse proxy for node-to-node traffic that injects faults on demand.
//!
//! Point a node at the proxy instead of at its peer (`proxy.base()`), then change the fault mode at run time
//! from the test with [`FaultProxy::set_mode`] / [`FaultProxy::add_mode`]. Every request is read fully
//! (Content-Length or chunked bodies), forwarded on a fresh connection to the target, and the target's
//! response is read fully before it is returned, so the proxy knows exactly what the target processed.
//!
//! Fault decisions are taken once per request, when it arrives, under one lock: a request that arrived in
//! `Pass` mode is forwarded even if the mode changes while it is delayed or held.
//!
//! "Closing without answering" means the proxy closes the client's connection without writing a response:
//! the client sees an I/O error (incomplete message / connection reset), exactly as if the peer had crashed
//! or the network had failed. When the target itself is unreachable the proxy does the same (no 502), so a
//! node behind the proxy sees what it would see talking to the dead peer directly.
//!
//! The proxy stops — listener closed, every connection and in-flight forward aborted — when
//! [`FaultProxy::shutdown`] is awaited or the last clone of the handle is dropped.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName};
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// One fault to apply. [`FaultProxy::set_mode`] replaces all faults with one mode;
/// [`FaultProxy::add_mode`] composes a mode with the ones already active.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Forward as is: clears every fault (also with `add_mode`).
    Pass,
    /// Partition: new connections are closed right after accept, requests on open keep-alive connections
    /// are read and the connection is closed without answering. Nothing is forwarded.
    Cut,
    /// Forward the request, then drop the response with this probability (0.0..=1.0): the target DID
    /// process the request, the client sees an I/O error.
    Drop {
        /// Chance that a given response is dropped.
        probability: f64,
    },
    /// Forward the next `n` requests but drop their responses (target processed them, client sees an error).
    DropNext(u32),
    /// Drop the request before forwarding with this probability: the target never sees it, the client
    /// sees an I/O error.
    DropRequests {
        /// Chance that a given request is dropped.
        probability: f64,
    },
    /// Drop the next `n` requests before forwarding.
    DropNextRequests(u32),
    /// Wait this long before forwarding each request.
    Delay(Duration),
    /// Forward each request twice (the second copy after the first response arrived, before answering the
    /// client) and return the first response.
    Duplicate,
    /// Hold each request until the next one arrives, forward the later one first (and wait for its
    /// response), then the held one. A lone request is released after the reorder window
    /// ([`ProxyBuilder::reorder_window`], 200 ms by default). Only concurrent requests can be reordered.
    Reorder,
}

/// The set of active faults (a snapshot: see [`FaultProxy::faults`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// [`Mode::Cut`].
    pub cut: bool,
    /// [`Mode::Delay`].
    pub delay: Option<Duration>,
    /// [`Mode::Drop`].
    pub drop_response_probability: f64,
    /// [`Mode::DropNext`]: responses still to drop.
    pub drop_next_responses: u32,
    /// [`Mode::DropRequests`].
    pub drop_request_probability: f64,
    /// [`Mode::DropNextRequests`]: requests still to drop.
    pub drop_next_requests: u32,
    /// [`Mode::Duplicate`].
    pub duplicate: bool,
    /// [`Mode::Reorder`].
    pub reorder: bool,
}

impl Faults {
    fn apply(&mut self, mode: Mode) {
        match mode {
            Mode::Pass => *self = Self::default(),
            Mode::Cut => self.cut = true,
            Mode::Drop { probability } => self.drop_response_probability = probability,
            Mode::DropNext(n) => {
                self.drop_next_responses = self.drop_next_responses.saturating_add(n);
            }
            Mode::DropRequests { probability } => self.drop_request_probability = probability,
            Mode::DropNextRequests(n) => {
                self.drop_next_requests = self.drop_next_requests.saturating_add(n);
            }
            Mode::Delay(d) => self.delay = Some(d),
            Mode::Duplicate => self.duplicate = true,
            Mode::Reorder => self.reorder = true,
        }
    }
}

/// Counters since start (or the last [`FaultProxy::reset_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Requests read from clients (every request that reached the proxy, whatever happened to it).
    pub seen: u64,
    /// Requests sent to the target, counting both copies of a duplicated request (not replays).
    pub forwarded: u64,
    /// Requests dropped before forwarding plus responses dropped after forwarding.
    pub dropped: u64,
    /// Extra copies sent by [`Mode::Duplicate`].
    pub duplicated: u64,
    /// Requests whose forwarding order was swapped by [`Mode::Reorder`] (counted once per swapped pair).
    pub reordered: u64,
    /// Connections closed at accept plus requests refused by [`Mode::Cut`].
    pub refused: u64,
    /// Forwards that failed because the target was unreachable or broke the connection.
    pub upstream_errors: u64,
    /// Requests re-sent by [`FaultProxy::replay`] / [`FaultProxy::replay_last`].
    pub replayed: u64,
}

/// A request as the proxy forwarded it (hop-by-hop headers and Content-Length removed).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path and query, e.g. `/federation/v1/events?since=3`.
    pub path: String,
    /// Headers as received from the client, minus hop-by-hop headers and Content-Length.
    pub headers: HeaderMap,
    /// The complete body.
    pub body: Bytes,
}

/// The target's answer to a replayed request.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// What was re-sent.
    pub request: RecordedRequest,
    /// The target's status.
    pub status: StatusCode,
    /// The target's response headers.
    pub headers: HeaderMap,
    /// The target's complete response body.
    pub body: Bytes,
}

impl Replayed {
    /// The response body parsed as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("replayed response body is not JSON")
    }
}

/// Options for [`FaultProxy`]; start with [`FaultProxy::builder`].
#[derive(Clone, Debug)]
pub struct ProxyBuilder {
    target: String,
    port: u16,
    seed: u64,
    record_capacity: usize,
    reorder_window: Duration,
    upstream_timeout: Duration,
    path_prefix: Option<String>,
}

impl ProxyBuilder {
    /// Listen on this port of 127.0.0.1 instead of a free one (e.g. to restart a proxy on the same address).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Seed of the random generator used for probabilistic drops (default 0x1a90_2000). Same seed and same
    /// request order give the same drops.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How many forwarded requests to remember for replay (default 64).
    pub fn record_capacity(mut self, n: usize) -> Self {
        self.record_capacity = n;
        self
    }

    /// How long [`Mode::Reorder`] holds a lone request before forwarding it anyway (default 200 ms).
    pub fn reorder_window(mut self, window: Duration) -> Self {
        self.reorder_window = window;
        self
    }

    /// Limit on one forward (connect, send, read the whole response); default 60 s.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = timeout;
        self
    }

    /// Apply faults only to requests whose path starts with `prefix`; others always pass (still counted and
    /// recorded). Can be changed later with [`FaultProxy::set_path_filter`].
    pub fn only_paths(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Binds 127.0.0.1 and starts serving. Must be called inside a Tokio runtime; the proxy's tasks run on it.
    pub async fn start(self) -> anyhow::Result<FaultProxy> {
        let target = parse_target(&self.target)?;
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .with_context(|| format!("binding the fault proxy on 127.0.0.1:{}", self.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target: Mutex::new(target),
            state: Mutex::new(State {
                faults: Faults::default(),
                path_prefix: self.path_prefix,
                rng: SplitMix64(self.seed),
                held: None,
                next_id: 0,
                records: VecDeque::new(),
            }),
            stats: Counters::default(),
            record_capacity: self.record_capacity,
            reorder_window: self.reorder_window,
            upstream_timeout: self.upstream_timeout,
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = spawn_accept_loop(listener, Arc::clone(&shared), stop_rx);
        Ok(FaultProxy {
            control: Arc::new(Control {
                shared,
                addr,
                stop: stop_tx,
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

/// Handle of a running fault proxy. Cheap to clone; the proxy stops when the last clone is dropped or
/// [`FaultProxy::shutdown`] is called.
#[derive(Clone)]
pub struct FaultProxy {
    control: Arc<Control>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.control.addr)
            .field("target", &self.target())
            .field("faults", &self.faults())
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// A proxy with default options on a free port forwarding to `target` (`http://127.0.0.1:PORT`).
    pub async fn start(target: &str) -> anyhow::Result<Self> {
        Self::builder(target).start().await
    }

    /// Options for a proxy forwarding to `target` (`http://127.0.0.1:PORT`, or `127.0.0.1:PORT`).
    pub fn builder(target: &str) -> ProxyBuilder {
        ProxyBuilder {
            target: target.to_owned(),
            port: 0,
            seed: 0x1a90_2000,
            record_capacity: 64,
            reorder_window: Duration::from_millis(200),
            upstream_timeout: Duration::from_secs(60),
            path_prefix: None,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.control.addr
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.control.addr.port()
    }

    /// `http://127.0.0.1:PORT` of the proxy (what the client node should be configured with).
    pub fn base(&self) -> String {
        format!("http://{}", self.control.addr)
    }

    /// The target it forwards to, as `127.0.0.1:PORT`.
    pub fn target(&self) -> String {
        lock(&self.control.shared.target).clone()
    }

    /// Forward to another target from now on.
    pub fn set_target(&self, target: &str) -> anyhow::Result<()> {
        let t = parse_target(target)?;
        *lock(&self.control.shared.target) = t;
        Ok(())
    }

    /// Replace all faults with `mode` (`Mode::Pass` clears them).
    pub fn set_mode(&self, mode: Mode) {
        let mut st = self.control.shared.state();
        st.faults = Faults::default();
        st.faults.apply(mode);
    }

    /// Add `mode` to the active faults (e.g. `Delay` + `Drop`); `Mode::Pass` clears everything.
    pub fn add_mode(&self, mode: Mode) {
        self.control.shared.state().faults.apply(mode);
    }

    /// Replace all faults with these modes.
    pub fn set_modes(&self, modes: impl IntoIterator<Item = Mode>) {
        let mut st = self.control.shared.state();
        st.faults = Faults::default();
        for m in modes {
            st.faults.apply(m);
        }
    }

    /// The active faults.
    pub fn faults(&self) -> Faults {
        self.control.shared.state().faults.clone()
    }

    /// Apply faults only to paths starting with `prefix` (`None`: to every request).
    pub fn set_path_filter(&self, prefix: Option<&str>) {
        self.control.shared.state().path_prefix = prefix.map(str::to_owned);
    }

    /// Reseed the random generator used for probabilistic drops.
    pub fn set_seed(&self, seed: u64) {
        self.control.shared.state().rng = SplitMix64(seed);
    }

    /// Counters so far.
    pub fn stats(&self) -> ProxyStats {
        self.control.shared.stats.snapshot()
    }

    /// Sets every counter to zero.
    pub fn reset_stats(&self) {
        self.control.shared.stats.reset();
    }

    /// The last forwarded requests, oldest first (at most the record capacity).
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        self.control
            .shared
            .state()
            .records
            .iter()
            .cloned()
            .collect()
    }

    /// Forget the recorded requests.
    pub fn clear_recorded(&self) {
        self.control.shared.state().records.clear();
    }

    /// Re-sends the last `k` recorded requests (oldest first, one after the other) straight to the target,
    /// bypassing the faults, and returns the target's answers in the same order. Fails if fewer than `k`
    /// requests were recorded or the target cannot be reached.
    pub async fn replay_last(&self, k: usize) -> anyhow::Result<Vec<Replayed>> {
        let recorded = self.recorded();
        if k > recorded.len() {
            bail!(
                "asked to replay {k} requests but only {} were recorded",
                recorded.len()
            );
        }
        let start = recorded.len() - k;
        self.replay(&recorded[start..]).await
    }

    /// Re-sends these requests (e.g. a filtered [`FaultProxy::recorded`]) to the target, one after the other.
    pub async fn replay(&self, requests: &[RecordedRequest]) -> anyhow::Result<Vec<Replayed>> {
        let shared = &self.control.shared;
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            let target = lock(&shared.target).clone();
            let resp = send_upstream(&target, r, shared.upstream_timeout)
                .await
                .with_context(|| format!("replaying {} {} to {target}", r.method, r.path))?;
            shared.stats.replayed.fetch_add(1, Ordering::Relaxed);
            out.push(Replayed {
                request: r.clone(),
                status: resp.status,
                headers: resp.headers,
                body: resp.body,
            });
        }
        Ok(out)
    }

    /// Stops the proxy now (for every clone): closes the listener and every client connection and aborts
    /// in-flight forwards; returns when all of its tasks have ended.
    pub async fn shutdown(&self) {
        let _ = self.control.stop.send(true);
        let task = lock(&self.control.task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

struct Control {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        // Aborting the accept task drops its JoinSet, which aborts every connection task.
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
    }
}

struct Shared {
    /// `127.0.0.1:PORT`.
    target: Mutex<String>,
    state: Mutex<State>,
    stats: Counters,
    record_capacity: usize,
    reorder_window: Duration,
    upstream_timeout: Duration,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

struct State {
    faults: Faults,
    path_prefix: Option<String>,
    rng: SplitMix64,
    /// The request held by `Reorder`, waiting for a successor.
    held: Option<Held>,
    next_id: u64,
    records: VecDeque<RecordedRequest>,
}

struct Held {
    id: u64,
    release: oneshot::Sender<()>,
}

#[derive(Default)]
struct Counters {
    seen: AtomicU64,
    forwarded: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
    refused: AtomicU64,
    upstream_errors: AtomicU64,
    replayed: AtomicU64,
}

impl Counters {
    fn all(&self) -> [&AtomicU64; 8] {
        [
            &self.seen,
            &self.forwarded,
            &self.dropped,
            &self.duplicated,
            &self.reordered,
            &self.refused,
            &self.upstream_errors,
            &self.replayed,
        ]
    }

    fn snapshot(&self) -> ProxyStats {
        let [seen, forwarded, dropped, duplicated, reordered, refused, upstream_errors, replayed] =
            self.all().map(|c| c.load(Ordering::Relaxed));
        ProxyStats {
            seen,
            forwarded,
            dropped,
            duplicated,
            reordered,
            refused,
            upstream_errors,
            replayed,
        }
    }

    fn reset(&self) {
        for c in self.all() {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Small deterministic generator (SplitMix64): enough for drop decisions, no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        // 53 random bits as a float in [0, 1).
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data inconsistent; keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn parse_target(target: &str) -> anyhow::Result<String> {
    let t = target.trim();
    let t = t.strip_prefix("http://").unwrap_or(t);
    let t = t.trim_end_matches('/');
    if t.is_empty() || t.contains('/') || !t.contains(':') {
        bail!("fault proxy target must look like http://127.0.0.1:PORT, got {target:?}");
    }
    Ok(t.to_owned())
}

/// Reorder role of one request.
enum Reorder {
    None,
    /// Wait for the release signal (or the window) before forwarding.
    Hold {
        id: u64,
        release: oneshot::Receiver<()>,
    },
    /// Forward first, then release the held request.
    GoFirst(oneshot::Sender<()>),
}

/// What to do with one request, decided when it arrives.
struct Plan {
    cut: bool,
    delay: Option<Duration>,
    drop_request: bool,
    reorder: Reorder,
    duplicate: bool,
    drop_response: bool,
}

impl Shared {
    fn plan(&self, path: &str) -> Plan {
        let mut st = self.state();
        let applies = st
            .path_prefix
            .as_deref()
            .is_none_or(|prefix| path.starts_with(prefix));
        if !applies {
            return Plan {
                cut: false,
                delay: None,
                drop_request: false,
                reorder: Reorder::None,
                duplicate: false,
                drop_response: false,
            };
        }
        if st.faults.cut {
            return Plan {
                cut: true,
                delay: None,
                drop_request: false,
                reorder: Reorder::None,
                duplicate: false,
                drop_response: false,
            };
        }
        let drop_request = if st.faults.drop_next_requests > 0 {
            st.faults.drop_next_requests -= 1;
            true
        } else {
            let p = st.faults.drop_request_probability;
            st.rng.chance(p)
        };
        let reorder = if !drop_request && st.faults.reorder {
            if let Some(held) = st.held.take() {
                Reorder::GoFirst(held.release)
            } else {
                let (tx, rx) = oneshot::channel();
                st.next_id += 1;
                let id = st.next_id;
                st.held = Some(Held { id, release: tx });
                Reorder::Hold { id, release: rx }
            }
        } else {
            Reorder::None
        };
        let drop_response = if drop_request {
            false
        } else if st.faults.drop_next_responses > 0 {
            st.faults.drop_next_responses -= 1;
            true
        } else {
            let p = st.faults.drop_response_probability;
            st.rng.chance(p)
        };
        Plan {
            cut: false,
            delay: st.faults.delay,
            drop_request,
            reorder,
            duplicate: st.faults.duplicate,
            drop_response,
        }
    }

    fn is_cut(&self) -> bool {
        let st = self.state();
        // With a path filter the connection may carry unaffected requests: refuse per request instead.
        st.faults.cut && st.path_prefix.is_none()
    }

    fn record(&self, req: &RecordedRequest) {
        if self.record_capacity == 0 {
            return;
        }
        let mut st = self.state();
        while st.records.len() >= self.record_capacity {
            st.records.pop_front();
        }
        st.records.push_back(req.clone());
    }
}

/// The error a handler returns to make hyper close the client connection without a response.
#[derive(Debug)]
struct CloseWithoutAnswer(&'static str);

impl fmt::Display for CloseWithoutAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault proxy closed the connection: {}", self.0)
    }
}

impl std::error::Error for CloseWithoutAnswer {}

// The accept loop is the proxy's one detached task; everything else runs in its JoinSet. The test crate does
// not depend on lapor-node's `spawn_named`, and the handle aborts/awaits this task, so nothing outlives it.
#[allow(clippy::disallowed_methods)]
fn spawn_accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(accept_loop(listener, shared, stop))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off a little instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                if shared.is_cut() {
                    shared.stats.refused.fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                    continue;
                }
                conns.spawn(serve_connection(stream, Arc::clone(&shared)));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.shutdown().await;
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |req| handle(Arc::clone(&shared), req));
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, CloseWithoutAnswer> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|_| CloseWithoutAnswer("reading the request body failed"))?
        .to_bytes();
    shared.stats.seen.fetch_add(1, Ordering::Relaxed);
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    let request = RecordedRequest {
        method: parts.method,
        path,
        headers,
        body,
    };

    let plan = shared.plan(&request.path);
    if plan.cut {
        shared.stats.refused.fetch_add(1, Ordering::Relaxed);
        return Err(CloseWithoutAnswer("cut"));
    }
    if let Some(d) = plan.delay {
        tokio::time::sleep(d).await;
    }
    if plan.drop_request {
        shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
        return Err(CloseWithoutAnswer("request dropped"));
    }
    let mut release_after = None;
    match plan.reorder {
        Reorder::None => {}
        Reorder::GoFirst(release) => {
            shared.stats.reordered.fetch_add(1, Ordering::Relaxed);
            release_after = Some(release);
        }
        Reorder::Hold { id, mut release } => {
            tokio::select! {
                _ = &mut release => {}
                () = tokio::time::sleep(shared.reorder_window) => {
                    let taken = {
                        let mut st = shared.state();
                        if st.held.as_ref().is_some_and(|h| h.id == id) {
                            st.held = None;
                            false
                        } else {
                            true
                        }
                    };
                    if taken {
                        // A later request claimed us just as the window ended: keep the promised order.
                        let _ = release.await;
                    }
                }
            }
        }
    }

    let result = forward(&shared, &request).await;
    if let Some(release) = release_after {
        let _ = release.send(());
    }
    let upstream = result?;
    if plan.duplicate && forward(&shared, &request).await.is_ok() {
        shared.stats.duplicated.fetch_add(1, Ordering::Relaxed);
    }
    if plan.drop_response {
        shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
        return Err(CloseWithoutAnswer("response dropped"));
    }
    let mut resp = Response::new(Full::new(upstream.body));
    *resp.status_mut() = upstream.status;
    *resp.headers_mut() = upstream.headers;
    Ok(resp)
}

/// Sends one request to the current target, counts and records it.
async fn forward(
    shared: &Shared,
    request: &RecordedRequest,
) -> Result<Upstream, CloseWithoutAnswer> {
    let target = lock(&shared.target).clone();
    shared.stats.forwarded.fetch_add(1, Ordering::Relaxed);
    shared.record(request);
    let result = send_upstream(&target, request, shared.upstream_timeout).await;
    if result.is_err() {
        shared.stats.upstream_errors.fetch_add(1, Ordering::Relaxed);
    }
    result.map_err(|_| CloseWithoutAnswer("target unreachable"))
}

struct Upstream {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// One request on a fresh connection (no pool: a restarted target never meets a stale connection).
async fn send_upstream(
    target: &str,
    r: &RecordedRequest,
    limit: Duration,
) -> anyhow::Result<Upstream> {
    tokio::time::timeout(limit, async {
        let stream = TcpStream::connect(target)
            .await
            .with_context(|| format!("connecting to {target}"))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
        let mut req = Request::new(Full::new(r.body.clone()));
        *req.method_mut() = r.method.clone();
        *req.uri_mut() = r.path.parse()?;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = r.headers.clone();
        if !req.headers().contains_key(header::HOST) {
            req.headers_mut().insert(header::HOST, target.parse()?);
        }
        let exchange = async move {
            let resp = sender.send_request(req).await?;
            let (parts, body) = resp.into_parts();
            let body = body.collect().await?.to_bytes();
            // Dropping the sender lets the connection future finish.
            drop(sender);
            anyhow::Ok((parts, body))
        };
        let (conn_result, exchanged) = tokio::join!(conn, exchange);
        let (parts, body) = exchanged?;
        // The connection's own error only matters if the exchange did not complete.
        drop(conn_result);
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        Ok(Upstream {
            status: parts.status,
            headers,
            body,
        })
    })
    .await
    .with_context(|| format!("forwarding to {target} took longer than {limit:?}"))?
}

/// Removes hop-by-hop headers (and Content-Length: bodies are re-framed by the proxy).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named_in_connection: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named_in_connection {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() -> anyhow::Result<()> {
        assert_eq!(parse_target("http://127.0.0.1:8080/")?, "127.0.0.1:8080");
        assert_eq!(parse_target("127.0.0.1:1")?, "127.0.0.1:1");
        assert!(parse_target("http://127.0.0.1:1/api").is_err());
        Ok(())
    }

    #[test]
    fn seeded_drops_are_deterministic() {
        let draw = |seed| {
            let mut r = SplitMix64(seed);
            (0..64).map(|_| r.chance(0.5)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let hits = draw(7).into_iter().filter(|b| *b).count();
        assert!((16..=48).contains(&hits), "{hits}");
    }
}
