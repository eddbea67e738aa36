//! Federation on the node: authoring signed events with every report change, sending them to peers,
//! receiving, verifying and applying theirs, the hub's node directory, and this node's keys.
//!
//! ```text
//!  report change ──(one transaction)──> reports + timeline + events (signed) + outbox
//!  outbox ──push worker per peer──> POST /federation/v1/push ──> verify ──> inbox (durable) ──> 200
//!  inbox ──applier (origin order)──> events + reports/timeline (one transaction per batch)
//!  contributions (pending) ──owner's lifecycle──> report change (consumes the contribution)
//! ```
//!
//! The wire format is in `docs/PROTOCOL.md`; the pure parts (canonical JSON, envelopes, key log, sealing) are
//! in the `lapor-federation` crate.

pub mod agencies;
pub mod apply;
pub mod at_rest;
pub mod author;
pub mod authorise;
pub mod client;
pub mod contributions;
pub mod directory;
pub mod error;
pub mod history;
pub mod identity;
pub mod keys;
pub mod payload;
pub mod pending;
pub mod proof;
pub mod push;
pub mod receive;
pub mod recover;
pub mod status;
pub mod transfer;
pub mod verify;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use lapor_federation::keys::{KeyEntry, KeyLog};
use lapor_federation::request::{RequestRefused, RequestSigner};
use lapor_federation::seal::EncryptionSecret;
use lapor_federation::transport::client::FederationClient;
use lapor_federation::{EnvelopeError, Event, SignedEvent};
use tokio::sync::Notify;

use crate::config::{Config, FederationConfig, NodeRole};
use crate::domain::Millis;
use crate::storage::{DynStore, EventSigner, KeyRow, PeerRecord};

pub use error::{FedError, FedResult};
pub use keys::NodeKeys;

/// Signs this node's events. Storage names the key its key log holds valid at the event's sequence number
/// (read in the authoring transaction, so a rotation committed by another process, or by `lapor keys rotate`
/// while this one runs, takes effect at exactly the sequence number it names); the secret is read from
/// `<data_dir>/keys/` the first time a key is used.
pub struct LocalSigner {
    node_id: String,
    dir: PathBuf,
    current: RwLock<(String, SigningKey)>,
    cache: RwLock<std::collections::HashMap<String, SigningKey>>,
}

impl LocalSigner {
    fn new(node_id: &str, data_dir: &std::path::Path, keys: &NodeKeys) -> Self {
        let mut cache = std::collections::HashMap::new();
        cache.insert(keys.key_id.clone(), keys.signing.clone());
        Self {
            node_id: node_id.to_owned(),
            dir: keys::key_dir(data_dir),
            current: RwLock::new((keys.key_id.clone(), keys.signing.clone())),
            cache: RwLock::new(cache),
        }
    }

    /// The secret of `key_id`, from the cache or the key directory.
    fn secret(&self, key_id: &str) -> Result<SigningKey, EnvelopeError> {
        if let Some(k) = self.cache.read().ok().and_then(|c| c.get(key_id).cloned()) {
            return Ok(k);
        }
        let pair = keys::load_pair(&self.dir, key_id).map_err(|e| {
            tracing::error!(key_id, error = %e, "the signing key the key log names is not in the key directory");
            EnvelopeError::UnknownKey {
                node: self.node_id.clone(),
                key_id: key_id.to_owned(),
            }
        })?;
        if let Ok(mut c) = self.cache.write() {
            c.insert(key_id.to_owned(), pair.signing.clone());
        }
        Ok(pair.signing)
    }

    fn set_current(&self, keys: &NodeKeys) {
        if let Ok(mut c) = self.cache.write() {
            c.insert(keys.key_id.clone(), keys.signing.clone());
        }
        if let Ok(mut c) = self.current.write() {
            *c = (keys.key_id.clone(), keys.signing.clone());
        }
    }
}

impl EventSigner for LocalSigner {
    fn node_id(&self) -> &str {
        &self.node_id
    }

    fn sign(&self, mut event: Event, key_id: Option<&str>) -> Result<SignedEvent, EnvelopeError> {
        let (id, key) = match key_id {
            Some(id) => (id.to_owned(), self.secret(id)?),
            None => self
                .current
                .read()
                .map_or_else(|p| p.into_inner().clone(), |c| c.clone()),
        };
        event.key_id = id;
        event.sign(&key)
    }
}

/// Counters exported at `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events accepted into the inbox from pushes.
    pub received: AtomicU64,
    /// Events refused at receipt.
    pub rejected: AtomicU64,
    /// Push requests refused as a whole.
    pub rejected_requests: AtomicU64,
    /// Events applied.
    pub applied: AtomicU64,
    /// Events quarantined.
    pub quarantined: AtomicU64,
    /// Equivocations detected.
    pub equivocations: AtomicU64,
    /// Events sent and acknowledged.
    pub sent: AtomicU64,
    /// Pushes that failed (no answer, a cut or malformed answer, a refusal of the whole request).
    pub push_failures: AtomicU64,
    /// Received pushes refused because their signed time is outside the window (`request_time_skew`).
    pub stale_requests: AtomicU64,
    /// Received pushes refused because the same signed request was received before (`replayed_request`).
    pub replayed_requests: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// "This node authored an event": every push worker watches it. Unlike a [`Notify`], whose
/// `notify_waiters` reaches only the tasks waiting at that instant, a worker that was busy sending or reading
/// the outbox when the event was committed still sees it on its next wait, so a new event never sits until
/// the next poll (`federation.poll_ms`).
#[derive(Debug)]
pub struct AuthoredSignal(tokio::sync::watch::Sender<u64>);

impl Default for AuthoredSignal {
    fn default() -> Self {
        Self(tokio::sync::watch::Sender::new(0))
    }
}

impl AuthoredSignal {
    /// Says that events were authored (call it after their transaction committed).
    pub fn notify_waiters(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A watcher for one push worker: its `changed()` completes once per batch of new events, however long
    /// ago they were signalled.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// The federation state of a running node.
pub struct Federation {
    /// This node's id.
    pub node_id: String,
    /// Regional node or hub.
    pub role: NodeRole,
    /// Settings.
    pub config: FederationConfig,
    /// Where the keys live.
    pub data_dir: PathBuf,
    /// Current key pair (replaced when a rotation is seen, [`Federation::adopt_current_key`]).
    keys: RwLock<Arc<NodeKeys>>,
    /// Every encryption secret this node ever had, by key id.
    enc_secrets: RwLock<Vec<(String, EncryptionSecret)>>,
    /// Signs this node's events.
    pub signer: Arc<LocalSigner>,
    /// Every known node's keys.
    pub keylog: RwLock<KeyLog>,
    /// Known peers (cached from storage, refreshed by the supervisor).
    pub peers: RwLock<Vec<PeerRecord>>,
    /// Wakes the applier.
    pub apply_wake: Notify,
    /// Wakes the push workers that are not backing off: a new local event.
    pub push_wake: AuthoredSignal,
    /// Wakes one peer's push worker, backing off or not (that peer contacted this node).
    peer_wakes: std::sync::Mutex<std::collections::HashMap<String, Arc<Notify>>>,
    /// Wakes the contribution worker.
    pub contribution_wake: Notify,
    /// Wakes the transfer worker.
    pub transfer_wake: Notify,
    /// HTTP client for peers.
    pub client: FederationClient,
    /// What this node signs its requests to peers with (its current key).
    request_signer: RwLock<Arc<RequestSigner>>,
    /// Signatures of the pushes received within the time window (no replay).
    pub replay: std::sync::Mutex<lapor_federation::request::ReplayGuard>,
    /// Origins whose broken chain was already logged at error level.
    alarmed: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Counters.
    pub counters: Counters,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("node_id", &self.node_id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A key row as the key log wants it.
pub fn key_entry(row: &KeyRow) -> anyhow::Result<KeyEntry> {
    let public = lapor_federation::envelope::parse_registration_key_hex(&row.public_key)
        .map_err(|e| anyhow::anyhow!("key {} of {}: {e}", row.key_id, row.origin))?;
    let enc_public = row
        .enc_public
        .as_deref()
        .map(|h| {
            let mut b = [0u8; 32];
            hex::decode_to_slice(h, &mut b).map(|()| b)
        })
        .transpose()
        .with_context(|| format!("encryption key of {}", row.origin))?;
    Ok(KeyEntry {
        origin: row.origin.clone(),
        key_id: row.key_id.clone(),
        public,
        enc_public,
        valid_from_seq: row.valid_from_seq as u64,
        retired_after_seq: row.retired_after_seq.map(|s| s as u64),
        revoked_from_seq: row.revoked_from_seq.map(|s| s as u64),
    })
}

/// The storage row of a key log entry.
pub fn key_row(e: &KeyEntry) -> KeyRow {
    KeyRow {
        origin: e.origin.clone(),
        key_id: e.key_id.clone(),
        public_key: hex::encode(e.public.as_bytes()),
        enc_public: e.enc_public.map(hex::encode),
        valid_from_seq: e.valid_from_seq as i64,
        retired_after_seq: e.retired_after_seq.map(|s| s as i64),
        revoked_from_seq: e.revoked_from_seq.map(|s| s as i64),
    }
}

impl Federation {
    /// Loads this node's keys from `<data_dir>/keys`, generating the first pair when there is none.
    pub fn open(config: &Config) -> anyhow::Result<Self> {
        let data_dir = config.node.data_dir.clone();
        let keys = if let Some(k) = keys::load(&data_dir)? {
            k
        } else {
            let k = keys::generate(&data_dir)?;
            tracing::info!(key_id = %k.key_id, dir = %keys::key_dir(&data_dir).display(),
                "generated this node's signing and encryption keys");
            k
        };
        let enc_secrets = keys::all_enc_secrets(&data_dir)?;
        let signer = Arc::new(LocalSigner::new(&config.node.id, &data_dir, &keys));
        let client = FederationClient::from_client(peer_client(&config.federation)?);
        let request_signer =
            RequestSigner::new(&config.node.id, &keys.key_id, keys.signing.clone());
        Ok(Self {
            node_id: config.node.id.clone(),
            role: config.node.role,
            config: config.federation.clone(),
            data_dir,
            keys: RwLock::new(Arc::new(keys)),
            enc_secrets: RwLock::new(enc_secrets),
            signer,
            keylog: RwLock::new(KeyLog::new()),
            peers: RwLock::new(Vec::new()),
            apply_wake: Notify::new(),
            push_wake: AuthoredSignal::default(),
            peer_wakes: std::sync::Mutex::default(),
            contribution_wake: Notify::new(),
            transfer_wake: Notify::new(),
            client,
            request_signer: RwLock::new(Arc::new(request_signer)),
            replay: std::sync::Mutex::default(),
            alarmed: std::sync::Mutex::default(),
            counters: Counters::default(),
        })
    }

    /// Registers this node's current key in storage (valid from the next sequence number of its log when it
    /// is new) and loads the key log and peers from storage.
    pub async fn init(&self, store: &DynStore) -> anyhow::Result<()> {
        let rows = store.key_list().await?;
        let keys = self.keys();
        if !rows
            .iter()
            .any(|r| r.origin == self.node_id && r.key_id == keys.key_id)
        {
            let head = store
                .origin_heads()
                .await?
                .into_iter()
                .find(|h| h.origin == self.node_id)
                .map_or(0, |h| h.head_seq);
            store
                .key_upsert(&KeyRow {
                    origin: self.node_id.clone(),
                    key_id: keys.key_id.clone(),
                    public_key: keys.public_hex(),
                    enc_public: Some(keys.enc_public_hex()),
                    valid_from_seq: head + 1,
                    retired_after_seq: None,
                    revoked_from_seq: None,
                })
                .await?;
        }
        self.reload(store).await
    }

    /// Reloads the key log and the peer list from storage.
    pub async fn reload(&self, store: &DynStore) -> anyhow::Result<()> {
        let mut log = KeyLog::new();
        for row in store.key_list().await? {
            match key_entry(&row) {
                Ok(entry) => {
                    if let Err(e) = log.register(entry) {
                        tracing::error!(origin = %row.origin, key_id = %row.key_id, error = %e, "stored key refused");
                    }
                }
                Err(e) => tracing::error!(error = %e, "stored key unreadable"),
            }
        }
        let peers = store.peer_list().await?;
        self.adopt_current_key(&log);
        if let Ok(mut k) = self.keylog.write() {
            *k = log;
        }
        if let Ok(mut p) = self.peers.write() {
            *p = peers;
        }
        Ok(())
    }

    /// This node's current key pair.
    pub fn keys(&self) -> Arc<NodeKeys> {
        self.keys
            .read()
            .map_or_else(|p| p.into_inner().clone(), |k| k.clone())
    }

    /// What this node signs its requests with now.
    pub fn request_signer(&self) -> Arc<RequestSigner> {
        self.request_signer
            .read()
            .map_or_else(|p| p.into_inner().clone(), |k| k.clone())
    }

    /// Makes the key the key log names current for this node (a rotation committed by `lapor keys rotate`
    /// or by another process of this node) the one it signs requests, seals and reports with. Events are
    /// signed by the key valid at their sequence number whatever this says ([`LocalSigner`]). Whether the
    /// key changed.
    pub fn adopt_current_key(&self, log: &KeyLog) -> bool {
        let Some(current) = log.current(&self.node_id) else {
            return false;
        };
        if current.key_id == self.keys().key_id {
            return false;
        }
        match keys::load_pair(&keys::key_dir(&self.data_dir), &current.key_id) {
            Ok(pair) => {
                tracing::info!(key_id = %pair.key_id, "this node's signing key was rotated; using the new key");
                self.signer.set_current(&pair);
                if let Ok(mut s) = self.request_signer.write() {
                    *s = Arc::new(RequestSigner::new(
                        &self.node_id,
                        &pair.key_id,
                        pair.signing.clone(),
                    ));
                }
                if let Ok(mut e) = self.enc_secrets.write() {
                    if !e.iter().any(|(id, _)| *id == pair.key_id) {
                        e.push((pair.key_id.clone(), pair.enc.clone()));
                    }
                }
                if let Ok(mut k) = self.keys.write() {
                    *k = Arc::new(pair);
                }
                if let Err(e) = keys::make_current(&self.data_dir, &current.key_id) {
                    tracing::warn!(error = %e, "could not record the current key in the key directory");
                }
                true
            }
            Err(e) => {
                tracing::error!(key_id = %current.key_id, error = %e,
                    "the key log names a current key of this node that is not in its key directory");
                false
            }
        }
    }

    /// A copy of the key log to verify against (key changes seen in a batch apply to its later events
    /// without touching the shared log, which changes only when they are applied).
    pub fn keylog_snapshot(&self) -> anyhow::Result<KeyLog> {
        self.keylog
            .read()
            .map(|k| k.clone())
            .map_err(|_| anyhow::anyhow!("key log lock poisoned"))
    }

    /// Every known peer.
    pub fn peer_list(&self) -> Vec<PeerRecord> {
        self.peers.read().map(|p| p.clone()).unwrap_or_default()
    }

    /// The nodes this node's own events go to: a regional node sends to the hub(s) it knows, the hub to every
    /// regional node (each keeps the hub's whole log, gapless, and applies what concerns it).
    pub fn destinations(&self) -> Vec<String> {
        // The hub sends to every node that is not a hub: regional nodes and Ombudsman nodes alike.
        let hub = self.role == NodeRole::Hub;
        self.peers.read().map_or_else(
            |_| Vec::new(),
            |peers| {
                peers
                    .iter()
                    .filter(|p| (p.role == "hub") != hub && p.node_id != self.node_id)
                    .map(|p| p.node_id.clone())
                    .collect()
            },
        )
    }

    /// Whether `node` is a hub: this node when it runs as the hub, or a peer enrolled as one.
    pub fn is_hub_node(&self, node: &str) -> bool {
        if node == self.node_id {
            return self.role == NodeRole::Hub;
        }
        self.peer(node).is_some_and(|p| p.role == "hub")
    }

    /// A known peer.
    pub fn peer(&self, node_id: &str) -> Option<PeerRecord> {
        self.peers
            .read()
            .ok()
            .and_then(|p| p.iter().find(|p| p.node_id == node_id).cloned())
    }

    /// The public key a node signs with now, per the key log.
    pub fn current_key(&self, node_id: &str) -> Option<VerifyingKey> {
        self.keylog
            .read()
            .ok()
            .and_then(|k| k.current(node_id).map(|e| e.public))
    }

    /// Whether a chain alarm about `origin` is new (true once until [`Federation::clear_alarm`]).
    pub fn alarm(&self, origin: &str) -> bool {
        match self.alarmed.lock() {
            Ok(mut a) => a.insert(origin.to_owned()),
            Err(_) => true,
        }
    }

    /// `origin`'s log chains again.
    pub fn clear_alarm(&self, origin: &str) {
        if let Ok(mut a) = self.alarmed.lock() {
            if !a.is_empty() {
                a.remove(origin);
            }
        }
    }

    /// Checks a signed request against the key log and returns the node that sent it.
    pub fn verify_request(
        &self,
        headers: &axum::http::HeaderMap,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now: Millis,
    ) -> Result<String, RequestRefused> {
        let log = self.keylog.read().map_err(|_| RequestRefused {
            code: "internal",
            detail: "key log unavailable".into(),
        })?;
        lapor_federation::request::verify(
            &log,
            |name| headers.get(name).and_then(|v| v.to_str().ok()),
            method,
            path_and_query,
            body,
            now,
        )
    }

    /// Signs arbitrary bytes after a domain tag with the current key.
    pub fn sign_bytes(&self, domain: &[u8], bytes: &[u8]) -> String {
        let mut msg = Vec::with_capacity(domain.len() + bytes.len());
        msg.extend_from_slice(domain);
        msg.extend_from_slice(bytes);
        hex::encode(self.keys().signing.sign(&msg).to_bytes())
    }

    /// The encryption secret of a key id, for opening sealed identities; read from the key directory the
    /// first time (a key made by a rotation in another process).
    pub fn enc_secret(&self, key_id: &str) -> Option<EncryptionSecret> {
        let known = self.enc_secrets.read().ok().and_then(|e| {
            e.iter()
                .find(|(id, _)| id == key_id)
                .map(|(_, s)| s.clone())
        });
        if known.is_some() {
            return known;
        }
        let pair = keys::load_pair(&keys::key_dir(&self.data_dir), key_id).ok()?;
        if let Ok(mut e) = self.enc_secrets.write() {
            e.push((key_id.to_owned(), pair.enc.clone()));
        }
        Some(pair.enc)
    }

    /// The notifier that wakes `peer`'s push worker even while it backs off.
    pub fn peer_wake(&self, peer: &str) -> Arc<Notify> {
        let mut wakes = self
            .peer_wakes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        wakes.entry(peer.to_owned()).or_default().clone()
    }

    /// Backoff after `failures` consecutive failed pushes: doubling from one second, capped.
    pub fn backoff(&self, failures: i64) -> Duration {
        let cap = self.config.max_backoff_secs.max(1) * 1000;
        let exp = failures.clamp(0, 20) as u32;
        Duration::from_millis(1000u64.saturating_mul(1 << exp.min(20)).min(cap))
    }
}

/// The HTTP client this node reaches its peers with: rustls, trusting the built-in web PKI roots plus the CA
/// certificates of `federation.ca_file`; redirects are followed (at most 10) only to URLs the peer URL rule
/// allows ([`crate::config::peer_url_allowed`]), so an https peer cannot send this node to plain http.
pub fn peer_client(config: &FederationConfig) -> anyhow::Result<reqwest::Client> {
    let allow_http = config.allow_http;
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if let Err(refused) = crate::config::peer_url_allowed(allow_http, attempt.url()) {
            attempt.error(format!("redirect refused: {refused}"))
        } else {
            attempt.follow()
        }
    });
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(config.request_timeout_secs))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("lapor/", env!("CARGO_PKG_VERSION")))
        .redirect(redirects)
        .use_rustls_tls();
    for cert in config.ca_certificates()? {
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .context("building the HTTP client for peers (federation.ca_file)")
}

/// Milliseconds as a `Duration` since the given time, never negative.
pub fn age(now: Millis, then: Millis) -> Duration {
    Duration::from_millis(u64::try_from(now - then).unwrap_or(0))
}
