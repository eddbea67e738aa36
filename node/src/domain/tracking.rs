//! Tracking codes, tracking secrets and report ids.
//!
//! A tracking code is the node's code, a dash and 10 Crockford base32 characters (50 random bits): short
//! enough to read over the phone or type from an SMS, too many to guess. The secret is 128 random bits; only
//! its sha256 is stored, and comparisons are constant-time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn crockford(bytes: &[u8], chars: usize) -> String {
    let mut out = String::with_capacity(chars);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut iter = bytes.iter();
    while out.len() < chars {
        if bits < 5 {
            acc = (acc << 8) | u32::from(*iter.next().unwrap_or(&0));
            bits += 8;
        }
        bits -= 5;
        out.push(char::from(CROCKFORD[((acc >> bits) & 31) as usize]));
    }
    out
}

/// A new tracking code for a node with code `node_code`.
pub fn new_tracking_code(node_code: &str) -> String {
    let mut bytes = [0u8; 7];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{}-{}", node_code, crockford(&bytes, 10))
}

/// Normalises what a person typed: upper case, Crockford look-alikes mapped (O->0, I/L->1), spaces removed.
pub fn normalise_tracking_code(input: &str) -> String {
    let upper = input.trim().to_ascii_uppercase();
    match upper.split_once('-') {
        Some((node, rest)) => {
            let rest: String = rest
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .map(|c| match c {
                    'O' => '0',
                    'I' | 'L' => '1',
                    c => c,
                })
                .collect();
            format!("{node}-{rest}")
        }
        None => upper,
    }
}

/// A new tracking secret (26 characters).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    crockford(&bytes, 26)
}

/// Hex sha256, used for secrets and tokens at rest.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Whether `secret` hashes to `stored_hash`, in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let computed = sha256_hex(secret.trim());
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// A new report id for a node.
pub fn new_report_id(node_id: &str) -> String {
    format!("{node_id}:{}", ulid::Ulid::new())
}

/// A new random id for users and other local records.
pub fn new_local_id() -> String {
    ulid::Ulid::new().to_string().to_ascii_lowercase()
}

/// A new bearer token (32 random bytes, hex).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_node_prefix_and_ten_chars() {
        let code = new_tracking_code("KPG");
        let (node, rest) = code.split_once('-').unwrap();
        assert_eq!(node, "KPG");
        assert_eq!(rest.len(), 10);
        assert!(rest.bytes().all(|b| CROCKFORD.contains(&b)));
        assert_ne!(new_tracking_code("KPG"), code);
    }

    #[test]
    fn typed_codes_are_normalised() {
        assert_eq!(
            normalise_tracking_code(" kpg-7h3k 9qxo-il "),
            "KPG-7H3K9QX011"
        );
    }

    #[test]
    fn secrets_match_only_themselves() {
        let s = new_secret();
        assert_eq!(s.len(), 26);
        let h = sha256_hex(&s);
        assert!(secret_matches(&s, &h));
        assert!(!secret_matches(&new_secret(), &h));
    }

    #[test]
    fn crockford_is_stable() {
        assert_eq!(crockford(&[0xff, 0xff], 3), "ZZZ");
        assert_eq!(crockford(&[0, 0], 3), "000");
    }
}
