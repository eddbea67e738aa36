//! `[open311]`: the GeoReport v2 endpoint's settings.

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// `[open311]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Open311Config {
    /// Serve `/open311/v2/`.
    pub enabled: bool,
    /// The `jurisdiction_id` clients send (the node's domain); empty: derived from `federation.public_url`.
    pub jurisdiction_id: String,
    /// Discovery's `contact`; empty: the node's name.
    pub contact: String,
    /// Discovery's `key_service`: how a client app gets an API key.
    pub key_service: String,
    /// Most requests one `GET requests` answers.
    pub max_requests: u32,
    /// Default and largest window of `GET requests` and `servicerequestupdates`, in days.
    pub window_days: u32,
    /// Requests one API key may make in a burst.
    pub key_burst: u32,
    /// Time one request of a key's budget takes to come back, in milliseconds.
    pub key_refill_ms: u64,
}

impl Default for Open311Config {
    fn default() -> Self {
        Self {
            enabled: true,
            jurisdiction_id: String::new(),
            contact: String::new(),
            key_service: "Kunci API diterbitkan oleh admin node (lapor open311 keys add) / API keys are issued \
                          by the node's admin (lapor open311 keys add)"
                .into(),
            max_requests: 1000,
            window_days: 90,
            key_burst: 30,
            key_refill_ms: 2000,
        }
    }
}

impl Open311Config {
    /// Checks values that types alone cannot.
    pub fn check(&self) -> anyhow::Result<()> {
        if !(1..=10_000).contains(&self.max_requests) {
            bail!("open311.max_requests must be between 1 and 10000");
        }
        if !(1..=366).contains(&self.window_days) {
            bail!("open311.window_days must be between 1 and 366");
        }
        if !(1..=10_000).contains(&self.key_burst) {
            bail!("open311.key_burst must be between 1 and 10000");
        }
        if !(1..=3_600_000).contains(&self.key_refill_ms) {
            bail!("open311.key_refill_ms must be between 1 and 3600000");
        }
        let j = &self.jurisdiction_id;
        let domain_like = j.len() <= 253
            && j.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !j.is_empty() && !domain_like {
            bail!("open311.jurisdiction_id `{j}` must be a lower-case domain such as kupangkota.go.id");
        }
        Ok(())
    }

    /// The jurisdiction id in force: the configured one, else the host of `public_url` without a leading
    /// `www.` or `lapor.`, else `node_id`.
    pub fn jurisdiction(&self, public_url: &str, node_id: &str) -> String {
        if !self.jurisdiction_id.is_empty() {
            return self.jurisdiction_id.clone();
        }
        let host = url::Url::parse(public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        match host {
            Some(h) if h.parse::<std::net::IpAddr>().is_err() && h.contains('.') => {
                let h = h.strip_prefix("www.").unwrap_or(&h);
                h.strip_prefix("lapor.").unwrap_or(h).to_owned()
            }
            _ => node_id.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jurisdiction_is_the_domain() {
        let c = Open311Config::default();
        assert_eq!(
            c.jurisdiction("https://lapor.kupangkota.go.id", "kupang"),
            "kupangkota.go.id"
        );
        assert_eq!(c.jurisdiction("https://www.ntt.go.id/", "ntt"), "ntt.go.id");
        assert_eq!(c.jurisdiction("http://127.0.0.1:8080", "kupang"), "kupang");
        assert_eq!(c.jurisdiction("", "kupang"), "kupang");
        let set = Open311Config {
            jurisdiction_id: "kupangkota.go.id".into(),
            ..Open311Config::default()
        };
        assert_eq!(set.jurisdiction("", "x"), "kupangkota.go.id");
        assert!(set.check().is_ok());
        let bad = Open311Config {
            jurisdiction_id: "Kupang Kota".into(),
            ..Open311Config::default()
        };
        assert!(bad.check().is_err());
    }
}
