//! Sealed boxes: personal data (a reporter's identity) encrypted to the owner node's X25519 encryption key.
//!
//! Identity never travels in clear. The authoring node seals it to the encryption key the owner publishes with
//! its signing key in the key log ([`crate::keys::KeyEntry::enc_public`]), stores the sealed bytes as an
//! out-of-band blob and references the blob by sha256 in the event's `blobs`. Erasing the blob later leaves
//! every signature intact.
//!
//! Construction (version 1), for recipient public key `R` and a fresh ephemeral key pair `(e, E)`:
//!
//! ```text
//! shared = X25519(e, R)                                   refused if all zero (R of small order)
//! key    = HKDF-SHA256(salt = E || R, ikm = shared, info = "lapor-seal-v1"), 32 bytes
//! ct     = ChaCha20-Poly1305(key, nonce = 12 zero bytes, plaintext, aad)   ciphertext || 16-byte tag
//! sealed = 0x01 || E (32 bytes) || ct
//! ```
//!
//! The key is derived from a fresh ephemeral secret for every box and used once, so the fixed zero nonce is
//! never reused under one key. `aad` is authenticated but not stored: bind the box to its context (for
//! example the report id and the recipient's key id) so it cannot be moved to another report.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use sha2::Sha256;
use x25519_dalek::{EphemeralSecret, PublicKey, StaticSecret};

/// First byte of a sealed box of this format.
pub const SEAL_VERSION: u8 = 1;
/// HKDF `info` of the key derivation.
pub const SEAL_INFO: &[u8] = b"lapor-seal-v1";
/// Bytes a sealed box adds to its plaintext: version, ephemeral public key and tag.
pub const SEAL_OVERHEAD: usize = 1 + 32 + 16;

/// Errors of sealing and opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Shorter than the fixed overhead.
    #[error("sealed box too short")]
    TooShort,
    /// A first byte other than [`SEAL_VERSION`].
    #[error("unsupported sealed box version")]
    UnsupportedVersion,
    /// The Diffie-Hellman result is all zero: a public key of small order.
    #[error("weak X25519 public key")]
    WeakKey,
    /// Authentication failed: wrong key, wrong `aad`, or tampered bytes.
    #[error("sealed box does not open with this key and context")]
    Decrypt,
    /// The plaintext is too large for the cipher.
    #[error("plaintext too large")]
    TooLarge,
}

impl SealError {
    /// Stable `snake_case` code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            SealError::TooShort => "seal_too_short",
            SealError::UnsupportedVersion => "seal_unsupported_version",
            SealError::WeakKey => "weak_key",
            SealError::Decrypt => "seal_decrypt_failed",
            SealError::TooLarge => "seal_too_large",
        }
    }
}

/// A node's X25519 encryption secret. Its `Debug` form does not show the secret.
#[derive(Clone)]
pub struct EncryptionSecret(StaticSecret);

impl EncryptionSecret {
    /// A new random secret from the operating system's generator.
    pub fn generate() -> Self {
        EncryptionSecret(StaticSecret::random_from_rng(OsRng))
    }

    /// The secret with these 32 bytes (as stored by [`EncryptionSecret::to_bytes`]).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EncryptionSecret(StaticSecret::from(bytes))
    }

    /// The 32 secret bytes, for storage.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key to publish in the key log.
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }
}

impl std::fmt::Debug for EncryptionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionSecret")
            .field("public", &hex::encode(self.public()))
            .finish_non_exhaustive()
    }
}

fn cipher(shared: &[u8; 32], eph_pub: &[u8; 32], recipient: &[u8; 32]) -> ChaCha20Poly1305 {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(eph_pub);
    salt[32..].copy_from_slice(recipient);
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so expansion cannot fail.
    if hk.expand(SEAL_INFO, &mut key).is_err() {
        key = [0u8; 32];
    }
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

/// Seals `plaintext` to `recipient_public`, authenticating `aad` too. Refuses a recipient key of small order,
/// which would make the box readable by anyone.
pub fn seal(
    recipient_public: &[u8; 32],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, SealError> {
    let eph = EphemeralSecret::random_from_rng(OsRng);
    let eph_pub = PublicKey::from(&eph).to_bytes();
    let shared = eph.diffie_hellman(&PublicKey::from(*recipient_public));
    if !shared.was_contributory() {
        return Err(SealError::WeakKey);
    }
    let ct = cipher(shared.as_bytes(), &eph_pub, recipient_public)
        .encrypt(
            Nonce::from_slice(&[0u8; 12]),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| SealError::TooLarge)?;
    let mut out = Vec::with_capacity(1 + 32 + ct.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&eph_pub);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a box made by [`seal`] for `secret`'s public key with the same `aad`.
pub fn open(secret: &EncryptionSecret, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(SealError::TooShort);
    }
    if sealed[0] != SEAL_VERSION {
        return Err(SealError::UnsupportedVersion);
    }
    let mut eph_pub = [0u8; 32];
    eph_pub.copy_from_slice(&sealed[1..33]);
    let shared = secret.0.diffie_hellman(&PublicKey::from(eph_pub));
    if !shared.was_contributory() {
        return Err(SealError::WeakKey);
    }
    cipher(shared.as_bytes(), &eph_pub, &secret.public())
        .decrypt(
            Nonce::from_slice(&[0u8; 12]),
            Payload {
                msg: &sealed[33..],
                aad,
            },
        )
        .map_err(|_| SealError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: &[u8] = b"kupang.example:01J0|ed25519-0011223344556677";

    #[test]
    fn round_trip() {
        let secret = EncryptionSecret::generate();
        let identity = br#"{"name":"Siti","nik":"5371010101010001","phone":"+6281234567890"}"#;
        let sealed = seal(&secret.public(), identity, AAD).unwrap();
        assert_eq!(sealed.len(), identity.len() + SEAL_OVERHEAD);
        assert_eq!(sealed[0], SEAL_VERSION);
        assert!(!sealed.windows(4).any(|w| w == b"Siti"));
        assert_eq!(open(&secret, &sealed, AAD).unwrap(), identity);
        // Empty plaintext works too.
        let empty = seal(&secret.public(), b"", b"").unwrap();
        assert_eq!(empty.len(), SEAL_OVERHEAD);
        assert_eq!(open(&secret, &empty, b"").unwrap(), b"");
    }

    #[test]
    fn every_box_is_fresh() {
        let secret = EncryptionSecret::from_bytes([5; 32]);
        let a = seal(&secret.public(), b"same", AAD).unwrap();
        let b = seal(&secret.public(), b"same", AAD).unwrap();
        assert_ne!(a, b);
        assert_ne!(a[1..33], b[1..33]);
    }

    #[test]
    fn wrong_key_context_or_tampering_fail() {
        let secret = EncryptionSecret::generate();
        let sealed = seal(&secret.public(), b"identity", AAD).unwrap();
        let other = EncryptionSecret::generate();
        assert_eq!(open(&other, &sealed, AAD), Err(SealError::Decrypt));
        assert_eq!(
            open(&secret, &sealed, b"other report"),
            Err(SealError::Decrypt)
        );
        for i in [1, 20, 33, sealed.len() - 1] {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(open(&secret, &t, AAD).is_err(), "flip at {i}");
        }
        let mut t = sealed.clone();
        t[0] = 2;
        assert_eq!(open(&secret, &t, AAD), Err(SealError::UnsupportedVersion));
        assert_eq!(
            open(&secret, &sealed[..SEAL_OVERHEAD - 1], AAD),
            Err(SealError::TooShort)
        );
        assert_eq!(
            open(&secret, &sealed[..sealed.len() - 1], AAD),
            Err(SealError::Decrypt)
        );
    }

    #[test]
    fn weak_keys_refused() {
        let mut one = [0u8; 32];
        one[0] = 1;
        for weak in [[0u8; 32], one] {
            assert_eq!(seal(&weak, b"x", b""), Err(SealError::WeakKey));
        }
        // A box whose ephemeral key is of small order is refused before decryption.
        let secret = EncryptionSecret::generate();
        let mut forged = vec![SEAL_VERSION];
        forged.extend_from_slice(&[0u8; 32]);
        forged.extend_from_slice(&[0u8; 16]);
        assert_eq!(open(&secret, &forged, b""), Err(SealError::WeakKey));
        assert_eq!(SealError::WeakKey.code(), "weak_key");
    }

    #[test]
    fn secret_bytes_round_trip_and_debug_hides_them() {
        let secret = EncryptionSecret::generate();
        let again = EncryptionSecret::from_bytes(secret.to_bytes());
        assert_eq!(again.public(), secret.public());
        let sealed = seal(&secret.public(), b"x", b"").unwrap();
        assert_eq!(open(&again, &sealed, b"").unwrap(), b"x");
        let shown = format!("{secret:?}");
        assert!(!shown.contains(&hex::encode(secret.to_bytes())));
        assert!(shown.contains(&hex::encode(secret.public())));
    }

    #[test]
    fn known_answer() {
        // Fixed recipient and ephemeral secrets give fixed bytes: guards the derivation against silent change.
        // The expected value was cross-checked with an independent implementation (Python `cryptography`).
        let recipient = EncryptionSecret::from_bytes([0x11; 32]);
        let eph = StaticSecret::from([0x22; 32]);
        let eph_pub = PublicKey::from(&eph).to_bytes();
        let shared = eph.diffie_hellman(&PublicKey::from(recipient.public()));
        let ct = cipher(shared.as_bytes(), &eph_pub, &recipient.public())
            .encrypt(
                Nonce::from_slice(&[0u8; 12]),
                Payload {
                    msg: b"lapor",
                    aad: b"ctx",
                },
            )
            .unwrap();
        let mut sealed = vec![SEAL_VERSION];
        sealed.extend_from_slice(&eph_pub);
        sealed.extend_from_slice(&ct);
        assert_eq!(open(&recipient, &sealed, b"ctx").unwrap(), b"lapor");
        assert_eq!(hex::encode(&sealed[33..]), KNOWN_CT);
    }

    const KNOWN_CT: &str = "f137a8063b632683b494e88cd59350d621eb48ce44";
}
