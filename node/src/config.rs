//! Node configuration: defaults, then `lapor.toml`, then `LAPOR_*` environment variables with `__` between
//! levels (`LAPOR_DATABASE__URL`, `LAPOR_NODE__TIMEZONE`), then command-line flags.
//!
//! Unknown keys are errors, so a typo never silently falls back to a default. Secrets can come from files
//! (`database.url_file`), which are refused when other users may read them. `lapor config example` prints the
//! documented defaults; `deploy/lapor.example.toml` is that output and CI fails when it is stale.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::domain::NodeZone;

mod explain;
mod sms;
pub use self::sms::{valid_keyword, SmsConfig};

/// Whether this node is a regional node, the national hub, or an Ombudsman node (the Ombudsman RI or one of
/// its regional offices: it syncs like a regional node and receives escalated reports, PROTOCOL section 9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// A city, regency or province node.
    #[default]
    Regional,
    /// The national hub.
    Hub,
    /// An Ombudsman node: a regional node in sync, the target of escalations with the reporter's consent.
    Ombudsman,
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Who this node is.
    pub node: NodeConfig,
    /// The HTTP server.
    pub http: HttpConfig,
    /// Where data is kept.
    pub database: DatabaseConfig,
    /// How the node uses its database.
    pub storage: StorageConfig,
    /// Working days.
    pub calendar: CalendarConfig,
    /// Logging.
    pub log: LogConfig,
    /// Node-to-node sync.
    pub federation: FederationConfig,
    /// Routing reports to the node that must act, and transfers between nodes.
    pub routing: RoutingConfig,
    /// Sessions, HTTPS headers and who may read `/metrics`.
    pub security: SecurityConfig,
    /// SMS 1708 through a Kannel smsbox.
    pub sms: SmsConfig,
    /// Notices to reporters and officers (email, outbound SMS).
    pub notifications: crate::notify::config::NotificationsConfig,
    /// The Open311 GeoReport v2 endpoint (`/open311/v2/`).
    pub open311: crate::open311::Open311Config,
    /// Accountability statistics: ratings, the monthly recap, emerging issues.
    pub stats: StatsConfig,
    /// The web pages (citizen portal and officer console).
    pub web: WebConfig,
    /// Several processes of one node on one PostgreSQL database.
    pub cluster: ClusterConfig,
}

/// `[web]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Where the report form's map opens, `[latitude, longitude]`; unset means the extent of this node's
    /// regions in the boundary file, or all of Indonesia without one.
    pub map_center: Option<[f64; 2]>,
    /// Zoom level (1-18) of the map at `map_center`.
    pub map_zoom: u8,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            map_center: None,
            map_zoom: 12,
        }
    }
}

/// `[cluster]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// How long a process holds a worker's lease without renewing it, in milliseconds.
    pub lease_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { lease_ms: 15_000 }
    }
}

/// `[node]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Node id, unique in the federation; prefixes every report id (e.g. `kupangkota`).
    pub id: String,
    /// Short upper-case code that prefixes tracking codes (e.g. `KPG`).
    pub code: String,
    /// Name shown to citizens.
    pub name: String,
    /// `regional`, `hub` or `ombudsman`.
    pub role: NodeRole,
    /// Time zone for deadlines and display: `WIB`, `WITA` or `WIT`.
    pub timezone: NodeZone,
    /// Directory for the SQLite database and attachments.
    pub data_dir: PathBuf,
    /// Kemendagri region codes this node serves (e.g. `["53.71"]`); reports about them are routed here.
    pub region_codes: Vec<String>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            id: "local".into(),
            code: "LPR".into(),
            name: "LAPOR! Node".into(),
            role: NodeRole::Regional,
            timezone: NodeZone::WIB,
            data_dir: PathBuf::from("./lapor-data"),
            region_codes: Vec::new(),
        }
    }
}

/// `[http]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest accepted JSON body in bytes.
    pub max_body_bytes: usize,
    /// Lifetime of a login session in hours.
    pub session_hours: i64,
    /// Mark cookies `Secure` (set when the node is served over HTTPS, as it must be in production).
    pub secure_cookies: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 64 * 1024,
            session_hours: 12,
            secure_cookies: false,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://...` for PostgreSQL, `sqlite://PATH` for SQLite; empty means `<data_dir>/lapor.db`.
    pub url: String,
    /// File holding the URL (for passwords); refused when readable by other users.
    pub url_file: Option<PathBuf>,
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// SQLite: reader threads, each keeping its own connection (page cache, prepared statements) open; reads
    /// beyond them wait in a queue instead of adding threads and memory.
    pub sqlite_readers: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            sqlite_readers: crate::storage::sqlite::DEFAULT_READERS,
        }
    }
}

/// `[calendar]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// Regional holidays on top of the shipped national list, e.g. `["2026-12-05"]`.
    pub extra_holidays: Vec<NaiveDate>,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: String,
    /// Filter in `tracing` syntax, e.g. `info` or `lapor_node=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// `[federation]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// This node's own base URL as peers reach it (published in the hub's directory).
    pub public_url: String,
    /// Longest wait between push retries to an unreachable peer, in seconds (the backoff doubles up to it).
    pub max_backoff_secs: u64,
    /// Timeout of one request to a peer, in seconds; also how long a peer may take to send a request body to
    /// this node (the whole request: twice that).
    pub request_timeout_secs: u64,
    /// How long any client (a peer, a browser, an app) may take to send a request's headers, in seconds; a
    /// connection whose headers are not complete in time is closed without an answer (slow-header attacks).
    pub header_timeout_secs: u64,
    /// How often a regional node refreshes the hub's directory, in seconds.
    pub directory_refresh_secs: u64,
    /// How often the push workers and the catch-up run without being woken, in milliseconds.
    pub poll_ms: u64,
    /// PEM file of CA certificates (a private or government CA) trusted for peers' HTTPS, in addition to the
    /// built-in web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// Allow plain `http://` peers that are not on loopback (a closed test network); loopback hosts
    /// (127.0.0.0/8, ::1, `localhost`) are always allowed.
    pub allow_http: bool,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            public_url: String::new(),
            max_backoff_secs: 300,
            request_timeout_secs: 30,
            header_timeout_secs: 10,
            directory_refresh_secs: 300,
            poll_ms: 5000,
            ca_file: None,
            allow_http: false,
        }
    }
}

impl FederationConfig {
    /// Whether this node may talk to a peer at `url`: `https` always; `http` only to a loopback host or when
    /// `federation.allow_http` is set. The error names the URL and the key to set.
    pub fn check_peer_url(&self, url: &url::Url) -> anyhow::Result<()> {
        peer_url_allowed(self.allow_http, url).map_err(|e| anyhow::anyhow!(e))
    }

    /// The CA certificates of `federation.ca_file` (none when it is unset). Fails, naming the key and the
    /// file, when the file is missing or unreadable, holds no certificate, or holds one that is not a valid
    /// X.509 certificate.
    pub fn ca_certificates(&self) -> anyhow::Result<Vec<reqwest::Certificate>> {
        let Some(path) = &self.ca_file else {
            return Ok(Vec::new());
        };
        let pem = std::fs::read(path)
            .with_context(|| format!("federation.ca_file: cannot read {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
            format!(
                "federation.ca_file: {} is not a PEM certificate bundle",
                path.display()
            )
        })?;
        if certs.is_empty() {
            bail!(
                "federation.ca_file: {} holds no certificate (expected one or more \
                 `-----BEGIN CERTIFICATE-----` blocks)",
                path.display()
            );
        }
        // rustls parses a trust anchor only when it is added to a root store: do it once per certificate
        // here, so a damaged one is reported at `lapor config check` rather than when the node starts.
        for (i, cert) in certs.iter().enumerate() {
            reqwest::Client::builder()
                .tls_built_in_root_certs(false)
                .add_root_certificate(cert.clone())
                .build()
                .with_context(|| {
                    format!(
                        "federation.ca_file: certificate {} of {} is not a valid CA certificate",
                        i + 1,
                        path.display()
                    )
                })?;
        }
        Ok(certs)
    }
}

/// Whether `url` is an acceptable peer URL: `https`, or `http` to a loopback host (127.0.0.0/8, ::1,
/// `localhost`: the traffic never leaves this machine, as with a TLS sidecar or the multi-process tests), or
/// `http` anywhere when `allow_http` is set. The error names the URL and the key to set.
pub fn peer_url_allowed(allow_http: bool, url: &url::Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "peer URL {url} uses plain http to a host that is not loopback; nodes must reach each other \
             over https (to allow plain http on a closed network, set federation.allow_http = true, \
             LAPOR_FEDERATION__ALLOW_HTTP=true)"
        )),
        other => Err(format!(
            "peer URL {url} has scheme `{other}`; it must be https (or http on loopback)"
        )),
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `[routing]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// GeoJSON file of administrative boundaries for routing by location (empty: no routing by location).
    pub boundaries_file: Option<PathBuf>,
    /// How long the hub waits for the target of a transfer to accept it before the transfer expires, in
    /// seconds.
    pub transfer_expiry_secs: u64,
    /// How long after a transfer the report may not move back to a node that held it, in seconds.
    pub transfer_cooldown_secs: u64,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            boundaries_file: None,
            transfer_expiry_secs: 3 * 24 * 3600,
            transfer_cooldown_secs: 24 * 3600,
        }
    }
}

/// `[security]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Minutes a staff login session may stay unused before it ends (API tokens are not affected).
    pub idle_timeout_mins: i64,
    /// Minutes a reporter's login session may stay unused before it ends.
    pub reporter_idle_timeout_mins: i64,
    /// `max-age` of `Strict-Transport-Security`, sent on requests that came over HTTPS; 0 sends none.
    pub hsts_max_age_secs: u64,
    /// Bearer token that opens `/metrics` from anywhere; empty means only this machine (and `metrics_allow`).
    pub metrics_token: String,
    /// File holding the metrics token; refused when readable by other users.
    pub metrics_token_file: Option<PathBuf>,
    /// Client addresses that may read `/metrics` without the token (e.g. a Prometheus host).
    pub metrics_allow: Vec<std::net::IpAddr>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            idle_timeout_mins: 30,
            reporter_idle_timeout_mins: 120,
            hsts_max_age_secs: 31_536_000,
            metrics_token: String::new(),
            metrics_token_file: None,
            metrics_allow: Vec::new(),
        }
    }
}

/// `[stats]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsConfig {
    /// Share handled, in percent, at or above which an agency or node is rated Baik.
    pub good_percent: u16,
    /// Share handled, in percent, at or above which it is rated Sedang (below: Kurang).
    pub fair_percent: u16,
    /// Share handled, in percent, below which it is flagged and shown first.
    pub flag_percent: u16,
    /// Make and keep the recap of the previous month (and quarter) on the first working day of each month.
    pub recap_enabled: bool,
    /// Local hour (0-23) from which the first working day's recap job runs.
    pub recap_hour: u8,
    /// Emerging issues: the fewest reports of a key in the period.
    pub emerging_min_count: i64,
    /// Emerging issues: the least rise against the mean of the previous periods, in percent.
    pub emerging_ratio_percent: i64,
    /// Emerging issues: how many previous periods the mean is taken over.
    pub emerging_periods: u32,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            good_percent: 80,
            fair_percent: 60,
            flag_percent: 60,
            recap_enabled: true,
            recap_hour: 7,
            emerging_min_count: 5,
            emerging_ratio_percent: 200,
            emerging_periods: 3,
        }
    }
}

impl SecurityConfig {
    /// The metrics token: from `metrics_token_file`, else `metrics_token`; `None` when neither is set.
    pub fn metrics_token(&self) -> anyhow::Result<Option<String>> {
        if let Some(file) = &self.metrics_token_file {
            check_secret_file(file)?;
            let token = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            return Ok(Some(token.trim().to_owned()).filter(|t| !t.is_empty()));
        }
        Ok(Some(self.metrics_token.trim().to_owned()).filter(|t| !t.is_empty()))
    }
}

impl StatsConfig {
    /// The rating thresholds in per mille.
    pub fn thresholds(&self) -> crate::stats::Thresholds {
        crate::stats::Thresholds {
            good_permille: i64::from(self.good_percent) * 10,
            fair_permille: i64::from(self.fair_percent) * 10,
            flag_permille: i64::from(self.flag_percent) * 10,
        }
    }
}

/// Documentation of every key, printed into the example config. A test checks that every key has one.
pub const DOCS: &[(&str, &str)] = &[
    ("node", "Who this node is."),
    ("node.id", "Node id, unique in the federation; prefixes every report id (e.g. \"kupangkota\")."),
    ("node.code", "Short upper-case code that prefixes tracking codes (e.g. \"KPG\")."),
    ("node.name", "Name shown to citizens."),
    ("node.role", "\"regional\", \"hub\" or \"ombudsman\" (an Ombudsman node: syncs like a regional node, receives escalated reports with the reporter's consent)."),
    ("node.timezone", "Time zone for deadlines and display: \"WIB\", \"WITA\" or \"WIT\"."),
    ("node.data_dir", "Directory for the SQLite database and attachments."),
    ("node.region_codes", "Kemendagri region codes this node serves, e.g. [\"53.71\"]; reports about them (or a sub-region) are routed here."),
    ("http", "The HTTP server."),
    ("http.listen", "Address to listen on."),
    ("http.max_body_bytes", "Largest accepted JSON body in bytes."),
    ("http.session_hours", "Lifetime of a login session in hours."),
    ("http.secure_cookies", "Mark cookies Secure (set it when the node is served over HTTPS, as it must be in production)."),
    ("database", "Where data is kept."),
    ("database.url", "\"postgres://...\" for PostgreSQL, \"sqlite://PATH\" for SQLite; empty means <data_dir>/lapor.db."),
    ("database.url_file", "File holding the URL (for passwords); refused when readable by other users."),
    ("storage", "How the node uses its database."),
    ("storage.sqlite_readers", "SQLite: reader threads, each keeping its own connection (page cache, prepared statements) open, 1 to 64; reads beyond them wait in a queue instead of adding threads and memory."),
    ("calendar", "Working days."),
    ("calendar.extra_holidays", "Regional holidays on top of the shipped national list, e.g. [\"2026-12-05\"]."),
    ("log", "Logging."),
    ("log.format", "\"text\" for people, \"json\" for log collectors."),
    ("log.level", "Filter in tracing syntax, e.g. \"info\" or \"lapor_node=debug,info\"."),
    ("federation", "Node-to-node sync (see docs/PROTOCOL.md)."),
    ("federation.public_url", "This node's base URL as peers reach it, e.g. \"https://lapor.kupangkota.go.id\"."),
    ("federation.max_backoff_secs", "Longest wait between push retries to an unreachable peer, in seconds; the backoff doubles up to it and never gives up."),
    ("federation.request_timeout_secs", "Timeout of one request to a peer, in seconds; also how long a peer may take to send a request body to this node (the whole request: twice that)."),
    ("federation.header_timeout_secs", "How long any client (peer, browser, app) may take to send a request's headers on the listen address, in seconds; the connection is closed without an answer otherwise (slow-header attacks). Also applies to the next request on a kept-alive connection."),
    ("federation.directory_refresh_secs", "How often a regional node refreshes the hub's node directory, in seconds."),
    ("federation.poll_ms", "How often push workers and catch-up run without being woken, in milliseconds."),
    ("federation.ca_file", "PEM file with one or more CA certificates (e.g. a private or government CA) trusted for peers' https, in addition to the built-in web PKI roots; unset means the built-in roots only."),
    ("federation.allow_http", "Allow plain http:// peer URLs to hosts that are not loopback (only for a closed test network); http to 127.0.0.0/8, ::1 and localhost is always allowed, anything else must be https."),
    ("routing", "Routing reports to the node that must act, and transfers between nodes (see docs/PROTOCOL.md section 9)."),
    ("routing.boundaries_file", "GeoJSON FeatureCollection of administrative boundaries (properties.code, properties.name) for routing by location; unset means no routing by location."),
    ("routing.transfer_expiry_secs", "How long the hub waits for the target of a transfer to accept before the transfer expires and the report stays with its owner, in seconds."),
    ("routing.transfer_cooldown_secs", "How long after a transfer the report may not move back to a node that held it (stops ping-pong), in seconds."),
    ("security", "Sessions, HTTPS headers and who may read /metrics (see docs/OPERATIONS.md, Security)."),
    ("security.idle_timeout_mins", "Minutes a staff login session may stay unused before it ends (API tokens are not affected)."),
    ("security.reporter_idle_timeout_mins", "Minutes a reporter's login session may stay unused before it ends."),
    ("security.hsts_max_age_secs", "max-age of Strict-Transport-Security, sent when the request came over HTTPS (a loopback proxy's X-Forwarded-Proto: https); 0 sends none."),
    ("security.metrics_token", "Bearer token that opens /metrics from any address; empty means /metrics answers only this machine (and security.metrics_allow)."),
    ("security.metrics_token_file", "File holding the metrics token; refused when readable by other users."),
    ("security.metrics_allow", "Client addresses that may read /metrics without the token, e.g. [\"10.0.0.5\"] for a Prometheus host."),
    ("sms", "SMS 1708 through a Kannel smsbox: the sms-service calls /channels/sms/kannel (see docs/OPERATIONS.md, \"SMS 1708 (Kannel)\")."),
    ("sms.enabled", "Serve /channels/sms/kannel; needs a token of at least 16 characters."),
    ("sms.token", "Shared secret the sms-service sends as `token` (prefer token_file)."),
    ("sms.token_file", "File holding the shared secret; refused when readable by other users."),
    ("sms.number", "The short number citizens write to, named in the replies."),
    ("sms.keyword", "This node's keyword, e.g. \"KOTKUPANG\": a report with it goes to this node's admin queue; published to the federation so other nodes route it here. Empty: none."),
    ("sms.agency_keywords", "Keywords of this node's agencies, keyword -> agency id, e.g. { PUPRKUPANG = \"dinas-pupr\" }; published to the federation like sms.keyword."),
    ("sms.kind_keywords", "Second keywords that set the kind (aspiration or information_request); without one a report is a complaint."),
    ("sms.anonymous_keyword", "The keyword that files anonymously: the number is kept nowhere once the reply is sent."),
    ("sms.rate_per_hour", "Messages one number may send per hour; more are answered politely and not filed."),
    ("open311", "The Open311 GeoReport v2 endpoint at /open311/v2/ (see docs/OPEN311.md)."),
    ("open311.enabled", "Serve /open311/v2/; false answers 404 there."),
    ("open311.jurisdiction_id", "The jurisdiction_id clients send: the node's domain, e.g. \"kupangkota.go.id\"; empty means the host of federation.public_url without a leading \"www.\" or \"lapor.\" (or node.id when that is unset too)."),
    ("open311.contact", "Discovery's contact: who to ask about this endpoint (e-mail or phone); empty means the node's name."),
    ("open311.key_service", "Discovery's key_service: how a client app gets an API key."),
    ("open311.max_requests", "Most requests one GET requests answers (the specification's default is 1000)."),
    ("open311.window_days", "Default and largest window of GET requests and servicerequestupdates in days (the specification's is 90)."),
    ("open311.key_burst", "Requests one API key may make in a burst before it is rate limited (429)."),
    ("open311.key_refill_ms", "Time one request of an API key's budget takes to come back, in milliseconds."),
    ("stats", "Accountability statistics (see docs/STATISTICS.md)."),
    ("stats.good_percent", "Share handled (ditindaklanjuti), in percent, at or above which an agency or node is rated Baik."),
    ("stats.fair_percent", "Share handled, in percent, at or above which it is rated Sedang; below it, Kurang."),
    ("stats.flag_percent", "Share handled, in percent, below which an agency or node is flagged and shown first."),
    ("stats.recap_enabled", "Make and keep the recap of the previous month (and quarter) on the first working day of each month."),
    ("stats.recap_hour", "Local hour (0-23) from which the first working day's recap job runs."),
    ("stats.emerging_min_count", "Emerging issues: the fewest reports of a category, place or word in the period."),
    ("stats.emerging_ratio_percent", "Emerging issues: the least rise against the mean of the previous periods, in percent (200 = doubled)."),
    ("stats.emerging_periods", "Emerging issues: how many previous periods the mean is taken over."),
    ("web", "The web pages: the citizen portal and the officer console (see docs/WEB.md)."),
    ("web.map_center", "Where the report form's map opens, [latitude, longitude], e.g. [-10.1772, 123.6070]; unset means the extent of this node's regions (node.region_codes) in routing.boundaries_file, or all of Indonesia without one."),
    ("web.map_zoom", "Zoom level (1-18) of the report form's map at web.map_center."),
    ("cluster", "Several lapor processes of one node (the hub) on one PostgreSQL database behind a load balancer (see docs/OPERATIONS.md, \"Several hub processes\"). On SQLite there is one process (the data directory's lock) and these keys have no effect."),
    ("cluster.lease_ms", "How long a process holds the lease of a worker that must run once per node (push to each peer, applier, contributions, transfers, deadlines, recap, notifications) without renewing it, in milliseconds (1000-600000). A process killed without warning loses its leases after this long and another process takes them over; it renews every third of it."),
];

impl Config {
    /// Loads defaults, then `file` (or `./lapor.toml` when it exists), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Self::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "config file {} does not exist",
                    path.display()
                );
                fig = fig.merge(Toml::file(path));
            }
            None if Path::new("lapor.toml").exists() => fig = fig.merge(Toml::file("lapor.toml")),
            None => {}
        }
        fig = fig.merge(
            Env::prefixed("LAPOR_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let config: Self = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", explain::explain(e)))?;
        config.check()?;
        Ok(config)
    }

    /// Checks values that types alone cannot.
    pub fn check(&self) -> anyhow::Result<()> {
        let id_ok =
            !self.node.id.is_empty()
                && self.node.id.len() <= 64
                && self.node.id.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
        if !id_ok {
            bail!(
                "node.id `{}` must be 1..=64 of a-z, 0-9, `-` and `.`",
                self.node.id
            );
        }
        let code_ok = (2..=8).contains(&self.node.code.len())
            && self
                .node
                .code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !code_ok {
            bail!(
                "node.code `{}` must be 2..=8 of A-Z and 0-9",
                self.node.code
            );
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.http.max_body_bytes) {
            bail!("http.max_body_bytes must be between 1024 and 16777216");
        }
        if !(1..=64).contains(&self.storage.sqlite_readers) {
            bail!(
                "storage.sqlite_readers must be between 1 and 64 (got {})",
                self.storage.sqlite_readers
            );
        }
        if !(1..=24 * 30).contains(&self.http.session_hours) {
            bail!("http.session_hours must be between 1 and 720");
        }
        if !(1..=3600).contains(&self.federation.max_backoff_secs) {
            bail!("federation.max_backoff_secs must be between 1 and 3600");
        }
        if !(1..=600).contains(&self.federation.request_timeout_secs) {
            bail!("federation.request_timeout_secs must be between 1 and 600");
        }
        if !(1..=300).contains(&self.federation.header_timeout_secs) {
            bail!("federation.header_timeout_secs must be between 1 and 300");
        }
        if !(1..=86_400).contains(&self.federation.directory_refresh_secs) {
            bail!("federation.directory_refresh_secs must be between 1 and 86400");
        }
        if !(50..=600_000).contains(&self.federation.poll_ms) {
            bail!("federation.poll_ms must be between 50 and 600000");
        }
        if !self.federation.public_url.is_empty() {
            let u = url::Url::parse(&self.federation.public_url)
                .map_err(|e| anyhow::anyhow!("federation.public_url: {e}"))?;
            if !matches!(u.scheme(), "http" | "https") {
                bail!("federation.public_url must be an http or https URL");
            }
            // Peers reach this node at this URL (the hub publishes it in its directory): the same rule.
            self.federation
                .check_peer_url(&u)
                .context("federation.public_url")?;
        }
        self.federation.ca_certificates()?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!(
                "log.format must be `text` or `json`, not `{}`",
                self.log.format
            );
        }
        if !(1..=18).contains(&self.web.map_zoom) {
            bail!("web.map_zoom must be between 1 and 18");
        }
        if let Some([lat, lon]) = self.web.map_center {
            if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
                bail!("web.map_center must be [latitude, longitude] with latitude -90..90 and longitude -180..180, not [{lat}, {lon}]");
            }
        }
        if let Some(bad) = self
            .node
            .region_codes
            .iter()
            .find(|c| !crate::domain::region::valid_region_code(c))
        {
            bail!("node.region_codes: `{bad}` is not a Kemendagri region code such as 53 or 53.71");
        }
        if !(10..=90 * 24 * 3600).contains(&self.routing.transfer_expiry_secs) {
            bail!("routing.transfer_expiry_secs must be between 10 and 7776000 (90 days)");
        }
        let st = &self.stats;
        if st.good_percent > 100 || st.fair_percent > st.good_percent || st.flag_percent > 100 {
            bail!("stats: need fair_percent <= good_percent <= 100 and flag_percent <= 100");
        }
        if st.recap_hour > 23 {
            bail!("stats.recap_hour must be between 0 and 23");
        }
        if !(1..=100_000).contains(&st.emerging_min_count)
            || !(101..=100_000).contains(&st.emerging_ratio_percent)
            || !(1..=24).contains(&st.emerging_periods)
        {
            bail!("stats: emerging_min_count 1-100000, emerging_ratio_percent 101-100000, emerging_periods 1-24");
        }
        if !(1000..=600_000).contains(&self.cluster.lease_ms) {
            bail!("cluster.lease_ms must be between 1000 and 600000");
        }
        if self.routing.transfer_cooldown_secs > 365 * 24 * 3600 {
            bail!("routing.transfer_cooldown_secs must be at most 31536000 (a year)");
        }
        if !(1..=24 * 60).contains(&self.security.idle_timeout_mins) {
            bail!("security.idle_timeout_mins must be between 1 and 1440");
        }
        if !(1..=30 * 24 * 60).contains(&self.security.reporter_idle_timeout_mins) {
            bail!("security.reporter_idle_timeout_mins must be between 1 and 43200");
        }
        if let Some(token) = self.security.metrics_token()? {
            if token.len() < 16 {
                bail!("security.metrics_token must be at least 16 characters");
            }
        }
        self.sms.check()?;
        self.notifications.check()?;
        self.open311.check()?;
        Ok(())
    }

    /// Checks every file the configuration names, without creating anything: `routing.boundaries_file`
    /// (read and parsed), `federation.ca_file` (in [`Config::check`]), `database.url_file` (private, readable,
    /// holding a URL). `lapor config check` and `lapor serve` run it before any directory or key is made.
    pub fn check_files(&self) -> anyhow::Result<()> {
        if let Some(path) = &self.routing.boundaries_file {
            crate::routing::geo::Boundaries::load(path)
                .map_err(|e| anyhow::anyhow!("routing.boundaries_file: {e}"))?;
        }
        if let Some(file) = &self.database.url_file {
            let url = self
                .database_url()
                .with_context(|| format!("database.url_file {}", file.display()))?;
            if url.is_empty() {
                bail!("database.url_file {} is empty", file.display());
            }
        }
        if !self.node.data_dir.exists() {
            // It is created at start: its parent must exist (a typo in the path is caught here).
            let parent = self
                .node
                .data_dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                bail!(
                    "node.data_dir {}: its parent directory {} does not exist",
                    self.node.data_dir.display(),
                    parent.display()
                );
            }
        } else if !self.node.data_dir.is_dir() {
            bail!(
                "node.data_dir {} is not a directory",
                self.node.data_dir.display()
            );
        }
        Ok(())
    }

    /// The database URL: from `database.url_file`, else `database.url`, else SQLite under the data directory.
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(file) = &self.database.url_file {
            check_secret_file(file)?;
            let url = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            return Ok(url.trim().to_owned());
        }
        if self.database.url.is_empty() {
            Ok(format!(
                "sqlite://{}",
                self.node.data_dir.join("lapor.db").display()
            ))
        } else {
            Ok(self.database.url.clone())
        }
    }

    /// The documented example configuration (`lapor config example`).
    pub fn example() -> anyhow::Result<String> {
        let value = toml::Value::try_from(Self::default())?;
        let mut out = String::from(
            "# Example configuration of a LAPOR! node, generated by `lapor config example`.\n\
             # Every key may also be set in the environment: LAPOR_<SECTION>__<KEY>, e.g. LAPOR_DATABASE__URL.\n",
        );
        let toml::Value::Table(sections) = value else {
            bail!("configuration did not serialise to a table");
        };
        for (name, section) in &sections {
            let toml::Value::Table(keys) = section else {
                continue;
            };
            write_section(&mut out, name, keys)?;
        }
        Ok(out)
    }
}

impl Config {
    /// The table of every key with its default and documentation, in Markdown (`lapor config keys
    /// --markdown`): docs/OPERATIONS.md holds it between `<!-- BEGIN config keys -->` and
    /// `<!-- END config keys -->`, and CI fails when it differs. Generated from the types and [`DOCS`] like the
    /// example, so a new section shows up by itself.
    pub fn keys_markdown() -> anyhow::Result<String> {
        let value = toml::Value::try_from(Self::default())?;
        let toml::Value::Table(sections) = value else {
            bail!("configuration did not serialise to a table");
        };
        let mut out =
            String::from("| Key | Default | Environment | Meaning |\n| --- | --- | --- | --- |\n");
        for (name, section) in &sections {
            let toml::Value::Table(keys) = section else {
                continue;
            };
            write_key_rows(&mut out, name, keys)?;
        }
        Ok(out)
    }
}

/// Writes the Markdown rows of `[name]`'s keys, then those of each sub-table.
fn write_key_rows(out: &mut String, name: &str, keys: &toml::Table) -> anyhow::Result<()> {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut rows: Vec<(String, String)> = keys
        .iter()
        .filter(|(k, _)| !is_section(&format!("{name}.{k}")))
        .map(|(k, v)| (k.clone(), format!("`{}`", cell(&v.to_string()))))
        .collect();
    for (path, _) in all_docs() {
        if let Some(key) = path.strip_prefix(&format!("{name}.")) {
            if !key.contains('.') && !keys.contains_key(key) && !is_section(path) {
                rows.push((key.to_owned(), "unset".to_owned()));
            }
        }
    }
    for (key, default) in rows {
        let path = format!("{name}.{key}");
        let env = path.to_uppercase().replace('.', "__");
        writeln!(
            out,
            "| `{path}` | {default} | `LAPOR_{env}` | {} |",
            cell(doc(&path)?)
        )?;
    }
    for (key, v) in keys {
        let path = format!("{name}.{key}");
        if let (toml::Value::Table(sub), true) = (v, is_section(&path)) {
            write_key_rows(out, &path, sub)?;
        }
    }
    Ok(())
}

/// Writes `[name]` with its keys, then each sub-table as `[name.sub]`.
fn write_section(out: &mut String, name: &str, keys: &toml::Table) -> anyhow::Result<()> {
    writeln!(out, "\n# {}\n[{name}]", doc(name)?)?;
    for (key, v) in keys {
        let path = format!("{name}.{key}");
        if !is_section(&path) {
            writeln!(out, "# {}\n{key} = {v}", doc(&path)?)?;
        }
    }
    // Optional keys do not serialise; show them commented out.
    for (path, text) in all_docs() {
        if let Some(key) = path.strip_prefix(&format!("{name}.")) {
            if !key.contains('.') && !keys.contains_key(key) && !is_section(path) {
                writeln!(out, "# {text}\n# {key} = \"...\"")?;
            }
        }
    }
    for (key, v) in keys {
        let path = format!("{name}.{key}");
        if let (toml::Value::Table(sub), true) = (v, is_section(&path)) {
            write_section(out, &path, sub)?;
        }
    }
    Ok(())
}

/// Every documented key, of the main sections and of `[notifications]`.
fn all_docs() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    DOCS.iter().chain(crate::notify::config::DOCS)
}

/// A sub-table documented key by key (`[notifications.email]`), as opposed to a map whose keys are data
/// (`sms.kind_keywords`), which is written inline.
fn is_section(path: &str) -> bool {
    let prefix = format!("{path}.");
    all_docs().any(|(k, _)| k.starts_with(&prefix))
}

fn doc(key: &str) -> anyhow::Result<&'static str> {
    all_docs()
        .find(|(k, _)| *k == key)
        .map(|(_, d)| *d)
        .with_context(|| format!("configuration key `{key}` has no documentation in config::DOCS"))
}

/// Refuses a secret file that other users can read.
pub fn check_secret_file(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "secret file {} is readable by other users (mode {:o}); run `chmod 600` on it",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented() {
        Config::default().check().unwrap();
        let example = Config::example().unwrap();
        assert!(example.contains("[database]"));
        let parsed: Config = toml::from_str(&example).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("[node]\nidd = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named_with_their_source_and_a_suggestion() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lapor.toml");
        std::fs::write(&file, "[node]\nregoin_codes = [\"53.71\"]\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(
            err.contains("`node.regoin_codes`")
                && err.contains("did you mean `region_codes`?")
                && err.contains(&file.display().to_string())
                && !err.contains("default."),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let mut c = Config::default();
        c.node.code = "kp g".into();
        assert!(c.check().unwrap_err().to_string().contains("node.code"));
    }

    #[test]
    fn plain_http_peers_only_on_loopback_unless_allowed() {
        let allowed =
            |allow_http, u: &str| peer_url_allowed(allow_http, &url::Url::parse(u).unwrap());
        for ok in [
            "https://lapor.kupangkota.go.id",
            "https://10.0.0.5:8443/",
            "http://127.0.0.1:8080",
            "http://127.3.4.5",
            "http://[::1]:8080/",
            "http://localhost:8080",
            "http://LOCALHOST",
        ] {
            allowed(false, ok).unwrap();
        }
        for refused in [
            "http://10.0.0.5:8080",
            "http://lapor.kupangkota.go.id",
            "http://localhost.example.com",
            // IPv4-mapped addresses are not treated as loopback: the rule stays a plain reading of the URL.
            "http://[::ffff:127.0.0.1]/",
            "ftp://127.0.0.1/",
        ] {
            let err = allowed(false, refused).unwrap_err();
            let normalised = url::Url::parse(refused).unwrap();
            assert!(err.contains(normalised.as_str()), "{err}");
        }
        let err = allowed(false, "http://10.0.0.5:8080").unwrap_err();
        assert!(err.contains("federation.allow_http"), "{err}");
        allowed(true, "http://10.0.0.5:8080").unwrap();
        allowed(true, "ftp://127.0.0.1/").unwrap_err();
    }

    #[test]
    fn plain_http_public_url_is_refused() {
        let mut c = Config::default();
        c.federation.public_url = "http://lapor.kupangkota.go.id".into();
        let err = format!("{:#}", c.check().unwrap_err());
        assert!(
            err.contains("federation.public_url") && err.contains("federation.allow_http"),
            "{err}"
        );
        c.federation.allow_http = true;
        c.check().unwrap();
    }

    #[test]
    fn bad_ca_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        let check = |c: &Config| format!("{:#}", c.check().unwrap_err());

        let missing = dir.path().join("missing.pem");
        c.federation.ca_file = Some(missing.clone());
        let err = check(&c);
        assert!(
            err.contains("federation.ca_file") && err.contains(&missing.display().to_string()),
            "{err}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        c.federation.ca_file = Some(empty.clone());
        let err = check(&c);
        assert!(
            err.contains("federation.ca_file") && err.contains("holds no certificate"),
            "{err}"
        );

        let damaged = dir.path().join("damaged.pem");
        std::fs::write(
            &damaged,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        c.federation.ca_file = Some(damaged.clone());
        let err = check(&c);
        assert!(
            err.contains("federation.ca_file") && err.contains("certificate 1 of"),
            "{err}"
        );
    }

    #[test]
    fn world_readable_secret_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-url");
        std::fs::write(&path, "postgres://u:p@h/db").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(check_secret_file(&path).is_err());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_secret_file(&path).unwrap();
    }
}
