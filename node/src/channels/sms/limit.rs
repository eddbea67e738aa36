//! Flooding from one number: a token bucket per sender (`sms.rate_per_hour` messages an hour, that many at
//! once). Senders are kept as sha256 digests, in memory only: the limiter never holds a number in clear, and
//! a restart forgets it (the per-address HTTP limits of `crate::http::limit` work the same way).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Most senders remembered; beyond it, full buckets are forgotten first.
const MAX_SENDERS: usize = 50_000;

/// Per-sender token buckets.
#[derive(Debug)]
pub struct SenderLimit {
    per_hour: f64,
    buckets: Mutex<HashMap<[u8; 32], (f64, Instant)>>,
}

impl SenderLimit {
    /// `per_hour` messages an hour per sender.
    pub fn new(per_hour: u32) -> Self {
        Self {
            per_hour: f64::from(per_hour.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Spends one message of `sender` at `now`: `Err(wait)` when its bucket is empty.
    pub fn spend(&self, sender: &str, now: Instant) -> Result<(), Duration> {
        let key: [u8; 32] = Sha256::digest(sender.as_bytes()).into();
        let rate = self.per_hour / 3600.0;
        let mut map = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_SENDERS {
            let cap = self.per_hour;
            map.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < cap
            });
        }
        let (tokens, at) = map.entry(key).or_insert((self.per_hour, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rate).min(self.per_hour);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_number_floods_alone() {
        let l = SenderLimit::new(3);
        let t = Instant::now();
        for _ in 0..3 {
            l.spend("+6281", t).unwrap();
        }
        let wait = l.spend("+6281", t).unwrap_err();
        assert!(
            wait > Duration::from_secs(1000) && wait <= Duration::from_secs(1200),
            "{wait:?}"
        );
        l.spend("+6282", t).unwrap();
        l.spend("+6281", t + Duration::from_secs(1200)).unwrap();
    }
}
