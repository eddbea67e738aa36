//! `[notifications]`: the durable notification queue, email over SMTP and outbound SMS through Kannel.
//! Everything is off by default, so a fresh node runs without any setup.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// `[notifications]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Base URL citizens open for tracking and unsubscribe links (e.g. `https://lapor.kupangkota.go.id`);
    /// empty means `federation.public_url`.
    pub public_url: String,
    /// How often the worker looks for new events and due notices, in milliseconds.
    pub poll_ms: u64,
    /// First wait before retrying a notice that failed to send, in seconds; it doubles on every attempt.
    pub retry_base_secs: u64,
    /// Longest wait between retries, in seconds; a notice is retried until it is sent or fails for good.
    pub max_backoff_secs: u64,
    /// Email over SMTP.
    pub email: EmailConfig,
    /// Outbound SMS through Kannel's sendsms interface.
    pub sms: SmsConfig,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            public_url: String::new(),
            poll_ms: 2000,
            retry_base_secs: 30,
            max_backoff_secs: 3600,
            email: EmailConfig::default(),
            sms: SmsConfig::default(),
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain SMTP (only for a relay on the same host or a closed network).
    None,
    /// Plain connection upgraded with STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// `[notifications.email]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Send email notices.
    pub enabled: bool,
    /// SMTP server host name.
    pub host: String,
    /// SMTP server port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: TlsMode,
    /// SMTP user; empty means no authentication.
    pub user: String,
    /// File holding the SMTP password; refused when readable by other users.
    pub password_file: Option<PathBuf>,
    /// Sender address, e.g. `LAPOR! Kota Kupang <lapor@kupangkota.go.id>`.
    pub from: String,
    /// Timeout of one SMTP delivery, in seconds.
    pub timeout_secs: u64,
    /// Officers' mailboxes by agency id; an agency gets its dispositions, deadline warnings and overdue notices.
    pub agencies: BTreeMap<String, String>,
    /// Mailbox of the node's administrators (reports waiting for verification that went overdue).
    pub admin: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            host: String::new(),
            port: 587,
            tls: TlsMode::Starttls,
            user: String::new(),
            password_file: None,
            from: String::new(),
            timeout_secs: 30,
            agencies: BTreeMap::new(),
            admin: String::new(),
        }
    }
}

/// `[notifications.sms]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// Send SMS notices to reporters who filed by SMS.
    pub enabled: bool,
    /// Kannel's sendsms URL, e.g. `http://127.0.0.1:13013/cgi-bin/sendsms`.
    pub sendsms_url: String,
    /// The `sendsms-user` username.
    #[serde(deserialize_with = "text")]
    pub user: String,
    /// The `sendsms-user` password (prefer `password_file`).
    #[serde(deserialize_with = "text")]
    pub password: String,
    /// File holding the password; refused when readable by other users.
    pub password_file: Option<PathBuf>,
    /// Sender number or short code, e.g. `1708`.
    #[serde(deserialize_with = "text")]
    pub from: String,
    /// Timeout of one sendsms request, in seconds.
    pub timeout_secs: u64,
    /// Send to every reporter who gave a phone number, not only to those who filed by SMS.
    pub every_phone: bool,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            sendsms_url: String::new(),
            user: String::new(),
            password: String::new(),
            password_file: None,
            from: String::new(),
            timeout_secs: 30,
            every_phone: false,
        }
    }
}

/// A string that may have been written as a number (`LAPOR_NOTIFICATIONS__SMS__FROM=1708` reaches serde as
/// an integer).
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        I(i64),
        U(u64),
    }
    Ok(match Text::deserialize(d)? {
        Text::S(s) => s,
        Text::I(n) => n.to_string(),
        Text::U(n) => n.to_string(),
    })
}

/// Documentation of every `[notifications]` key, printed into the example config.
pub const DOCS: &[(&str, &str)] = &[
    ("notifications", "Notices to reporters and officers from a durable queue (see docs/OPERATIONS.md, Notifications)."),
    ("notifications.public_url", "Base URL citizens open for tracking and unsubscribe links, e.g. \"https://lapor.kupangkota.go.id\"; empty means federation.public_url."),
    ("notifications.poll_ms", "How often the notification worker looks for new events and due notices, in milliseconds."),
    ("notifications.retry_base_secs", "First wait before retrying a notice that failed to send, in seconds; it doubles on every attempt."),
    ("notifications.max_backoff_secs", "Longest wait between retries, in seconds; a notice is retried until it is sent or fails for good."),
    ("notifications.email", "Email over SMTP: reporters who gave an address, officers by agency mailbox."),
    ("notifications.email.enabled", "Send email notices."),
    ("notifications.email.host", "SMTP server host name."),
    ("notifications.email.port", "SMTP server port (587 for starttls, 465 for tls)."),
    ("notifications.email.tls", "\"none\" (a relay on this host only), \"starttls\" (required) or \"tls\"."),
    ("notifications.email.user", "SMTP user; empty means no authentication."),
    ("notifications.email.password_file", "File holding the SMTP password; refused when readable by other users."),
    ("notifications.email.from", "Sender, e.g. \"LAPOR! Kota Kupang <lapor@kupangkota.go.id>\"."),
    ("notifications.email.timeout_secs", "Timeout of one SMTP delivery, in seconds."),
    ("notifications.email.agencies", "Officers' mailboxes by agency id, e.g. { dinas-pu = \"pu@kupangkota.go.id\" }: dispositions, deadline warnings, overdue notices."),
    ("notifications.email.admin", "Mailbox of the node's administrators: reports whose verification went overdue; empty means none."),
    ("notifications.sms", "Outbound SMS through Kannel's sendsms interface, to reporters who filed by SMS."),
    ("notifications.sms.enabled", "Send SMS notices."),
    ("notifications.sms.sendsms_url", "Kannel sendsms URL, e.g. \"http://127.0.0.1:13013/cgi-bin/sendsms\"."),
    ("notifications.sms.user", "The sendsms-user username."),
    ("notifications.sms.password", "The sendsms-user password (prefer password_file)."),
    ("notifications.sms.password_file", "File holding the sendsms password; refused when readable by other users."),
    ("notifications.sms.from", "Sender number or short code, e.g. \"1708\"."),
    ("notifications.sms.timeout_secs", "Timeout of one sendsms request, in seconds."),
    ("notifications.sms.every_phone", "Send SMS notices to every reporter who gave a phone number, not only to those who filed by SMS (each SMS costs the node)."),
];

impl NotificationsConfig {
    /// Checks values that types alone cannot; errors name the key.
    pub fn check(&self) -> anyhow::Result<()> {
        if !(50..=600_000).contains(&self.poll_ms) {
            bail!("notifications.poll_ms must be between 50 and 600000");
        }
        if !(1..=86_400).contains(&self.retry_base_secs) {
            bail!("notifications.retry_base_secs must be between 1 and 86400");
        }
        if !(self.retry_base_secs..=7 * 86_400).contains(&self.max_backoff_secs) {
            bail!("notifications.max_backoff_secs must be between retry_base_secs and 604800");
        }
        if !self.public_url.is_empty() {
            let u = url::Url::parse(&self.public_url)
                .map_err(|e| anyhow::anyhow!("notifications.public_url: {e}"))?;
            if !matches!(u.scheme(), "http" | "https") {
                bail!("notifications.public_url must be an http or https URL");
            }
        }
        let e = &self.email;
        if e.enabled {
            if e.host.is_empty() {
                bail!("notifications.email.host must be set when notifications.email.enabled");
            }
            e.from
                .parse::<lettre::message::Mailbox>()
                .map_err(|x| anyhow::anyhow!("notifications.email.from `{}`: {x}", e.from))?;
            if !(1..=600).contains(&e.timeout_secs) {
                bail!("notifications.email.timeout_secs must be between 1 and 600");
            }
            for (agency, addr) in &e.agencies {
                addr.parse::<lettre::Address>().map_err(|x| {
                    anyhow::anyhow!("notifications.email.agencies.{agency} `{addr}`: {x}")
                })?;
            }
            if !e.admin.is_empty() {
                e.admin
                    .parse::<lettre::Address>()
                    .map_err(|x| anyhow::anyhow!("notifications.email.admin `{}`: {x}", e.admin))?;
            }
            if let Some(f) = &e.password_file {
                crate::config::check_secret_file(f).context("notifications.email.password_file")?;
            }
        }
        let s = &self.sms;
        if s.enabled {
            let u = url::Url::parse(&s.sendsms_url)
                .map_err(|x| anyhow::anyhow!("notifications.sms.sendsms_url: {x}"))?;
            if !matches!(u.scheme(), "http" | "https") {
                bail!("notifications.sms.sendsms_url must be an http or https URL");
            }
            if s.user.is_empty() {
                bail!("notifications.sms.user must be set when notifications.sms.enabled");
            }
            if !(1..=600).contains(&s.timeout_secs) {
                bail!("notifications.sms.timeout_secs must be between 1 and 600");
            }
            if let Some(f) = &s.password_file {
                crate::config::check_secret_file(f).context("notifications.sms.password_file")?;
            }
        }
        Ok(())
    }

    /// Whether any channel is on (the worker runs only then).
    pub fn any_enabled(&self) -> bool {
        self.email.enabled || self.sms.enabled
    }
}

/// Reads a password from `file` (trimmed), else returns `inline`.
pub fn secret(inline: &str, file: Option<&PathBuf>) -> anyhow::Result<String> {
    match file {
        Some(f) => {
            crate::config::check_secret_file(f)?;
            Ok(std::fs::read_to_string(f)
                .with_context(|| format!("reading {}", f.display()))?
                .trim()
                .to_owned())
        }
        None => Ok(inline.to_owned()),
    }
}
