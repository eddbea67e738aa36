//! Unsubscribe links: `/notifications/unsubscribe?r=<report id>&t=<token>`, where the token is an
//! HMAC-SHA256 of the report id under a random key kept in the node's settings (meta key
//! `notify_unsubscribe_key`), so a link cannot be made for another report and needs no session. An
//! officer's notices carry `?u=<account id>&t=<token>` instead, the HMAC of the account id under another
//! domain tag, so a report's token never works for an account nor the other way round.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::storage::{DynStore, StorageError};

const KEY: &str = "notify_unsubscribe_key";

/// The node's unsubscribe key, made on first use.
pub async fn key(store: &DynStore) -> Result<Vec<u8>, StorageError> {
    if let Some(k) = store.meta_get(KEY).await? {
        if let Ok(bytes) = hex::decode(k) {
            return Ok(bytes);
        }
    }
    let fresh: [u8; 32] = rand::random();
    store.meta_put(KEY, &hex::encode(fresh)).await?;
    // Read back: a concurrent first use wrote the same key or ours, never two.
    let stored = store.meta_get(KEY).await?.unwrap_or_default();
    hex::decode(stored).map_err(|_| StorageError::Backend("unsubscribe key is not hex".into()))
}

/// The key as it is stored, without making one (the page must not create it).
pub async fn existing_key(store: &DynStore) -> Result<Option<Vec<u8>>, StorageError> {
    Ok(store.meta_get(KEY).await?.and_then(|k| hex::decode(k).ok()))
}

const REPORT_DOMAIN: &[u8] = b"lapor-unsubscribe-v1:";
const USER_DOMAIN: &[u8] = b"lapor-unsubscribe-user-v1:";

fn mac(key: &[u8], domain: &[u8], id: &str) -> Option<Hmac<Sha256>> {
    // HMAC takes keys of any length: this never fails.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(domain);
    mac.update(id.as_bytes());
    Some(mac)
}

fn token_of(key: &[u8], domain: &[u8], id: &str) -> String {
    mac(key, domain, id)
        .map(|m| hex::encode(&m.finalize().into_bytes()[..16]))
        .unwrap_or_default()
}

fn verify_of(key: &[u8], domain: &[u8], id: &str, token: &str) -> bool {
    let Ok(given) = hex::decode(token) else {
        return false;
    };
    given.len() == 16
        && mac(key, domain, id).is_some_and(|m| m.verify_truncated_left(&given).is_ok())
}

/// The token of a report's unsubscribe link.
pub fn token(key: &[u8], report_id: &str) -> String {
    token_of(key, REPORT_DOMAIN, report_id)
}

/// Whether `token` is the token of `report_id`, compared in constant time.
pub fn verify(key: &[u8], report_id: &str, token: &str) -> bool {
    verify_of(key, REPORT_DOMAIN, report_id, token)
}

/// The token of an officer account's unsubscribe link.
pub fn user_token(key: &[u8], user_id: &str) -> String {
    token_of(key, USER_DOMAIN, user_id)
}

/// Whether `token` is the token of the account `user_id`, compared in constant time.
pub fn verify_user(key: &[u8], user_id: &str, token: &str) -> bool {
    verify_of(key, USER_DOMAIN, user_id, token)
}

/// The full link of an officer account.
pub fn user_link(base: &str, key: &[u8], user_id: &str) -> String {
    format!(
        "{}/notifications/unsubscribe?u={}&t={}",
        base.trim_end_matches('/'),
        urlencode(user_id),
        user_token(key, user_id)
    )
}

/// The full link.
pub fn link(base: &str, key: &[u8], report_id: &str) -> String {
    format!(
        "{}/notifications/unsubscribe?r={}&t={}",
        base.trim_end_matches('/'),
        urlencode(report_id),
        token(key, report_id)
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_the_report_and_key() {
        let k = [7u8; 32];
        let t = token(&k, "kupangkota-01J");
        assert!(verify(&k, "kupangkota-01J", &t));
        assert!(!verify(&k, "kupangkota-01K", &t));
        assert!(!verify(&[8u8; 32], "kupangkota-01J", &t));
        assert!(!verify(&k, "kupangkota-01J", &t[..10]));
        assert!(!verify(&k, "kupangkota-01J", "zz"));
    }

    #[test]
    fn account_tokens_are_their_own() {
        let k = [7u8; 32];
        let t = user_token(&k, "01JUSER");
        assert!(verify_user(&k, "01JUSER", &t));
        assert!(!verify_user(&k, "01JOTHER", &t));
        assert!(
            !verify(&k, "01JUSER", &t),
            "an account's token is no report's"
        );
        assert!(!verify_user(&k, "01JUSER", &token(&k, "01JUSER")));
        assert!(user_link("https://x/", &k, "01JUSER")
            .starts_with("https://x/notifications/unsubscribe?u=01JUSER&t="));
    }
}
