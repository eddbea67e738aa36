//! API keys of Open311 client apps. A node admin issues one per app (`lapor open311 keys add`, or
//! `POST /api/v1/open311/keys`); the key is shown once and only its sha256 is stored. A revoked key is refused
//! like an unknown one. Every request made with a key spends a token of that key's bucket (the same token
//! buckets as the per-address limits of `http/limit.rs`), so one app cannot flood the node.

use std::time::{Duration, Instant};

use rand::RngCore;

use crate::domain::tracking::sha256_hex;
use crate::node::Node;
use crate::storage::{Open311Key, StorageError};

/// Longest app name.
pub const MAX_APP_NAME: usize = 100;

fn random_token(len_bytes: usize) -> String {
    let mut bytes = vec![0u8; len_bytes];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Why a key was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The app name is empty or too long.
    #[error("app name must be 1..=100 characters")]
    BadName,
    /// The contact is too long.
    #[error("contact must be at most 200 characters")]
    BadContact,
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Issues a key for `app_name`: the stored record and the key itself (shown once, never stored).
pub async fn issue(
    node: &Node,
    app_name: &str,
    contact: Option<&str>,
    created_by: &str,
) -> Result<(Open311Key, String), IssueError> {
    let app_name = app_name.trim();
    if app_name.is_empty() || app_name.chars().count() > MAX_APP_NAME {
        return Err(IssueError::BadName);
    }
    let contact = contact.map(str::trim).filter(|c| !c.is_empty());
    if contact.is_some_and(|c| c.chars().count() > 200) {
        return Err(IssueError::BadContact);
    }
    let secret = format!("o311k_{}", random_token(24));
    let record = Open311Key {
        id: format!("o311_{}", random_token(6)),
        key_hash: sha256_hex(&secret),
        app_name: app_name.to_owned(),
        contact: contact.map(str::to_owned),
        created_by: created_by.to_owned(),
        created_at: node.now(),
        revoked_at: None,
    };
    node.store.open311_key_create(&record).await?;
    tracing::info!(key.id = %record.id, app = %record.app_name, by = created_by, "open311 key issued");
    Ok((record, secret))
}

/// The live key a client sent, if any.
pub async fn verify(node: &Node, secret: &str) -> Result<Option<Open311Key>, StorageError> {
    let secret = secret.trim();
    if secret.is_empty() || secret.len() > 200 {
        return Ok(None);
    }
    Ok(node
        .store
        .open311_key_by_hash(&sha256_hex(secret))
        .await?
        .filter(|k| k.revoked_at.is_none()))
}

/// Per-key rate limit: token buckets keyed by the key's id.
pub struct KeyLimiter {
    buckets: crate::http::limit::Buckets<String>,
    burst: f64,
    per: Duration,
}

impl KeyLimiter {
    /// `burst` requests, one back every `refill_ms`.
    pub fn new(burst: u32, refill_ms: u64) -> Self {
        Self {
            buckets: crate::http::limit::Buckets::default(),
            burst: f64::from(burst),
            per: Duration::from_millis(refill_ms),
        }
    }

    /// Spends one token of `key_id`; the wait when there is none.
    pub fn take(&self, key_id: &str) -> Result<(), Duration> {
        self.buckets
            .take(key_id.to_owned(), self.burst, self.per, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_budget() {
        let l = KeyLimiter::new(3, 60_000);
        for _ in 0..3 {
            assert!(l.take("a").is_ok());
        }
        assert!(l.take("a").is_err());
        assert!(l.take("b").is_ok());
    }
}
