//! The node's cipher for reporter identities at rest ([`crate::storage::identity`]): each field sealed to this
//! node's own encryption key, as `<key id>:<hex>`, and opened with the secret of the key it names (so a value
//! sealed before a key rotation still opens while the old secret is kept).

use std::sync::Arc;

use lapor_federation::seal::{open, seal};

use super::Federation;
use crate::storage::IdentityCipher;

/// Seals with the current key of a [`Federation`], opens with any key it holds.
pub struct AtRest(pub Arc<Federation>);

impl IdentityCipher for AtRest {
    fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<String, String> {
        let keys = self.0.keys();
        let sealed = seal(&keys.enc.public(), plain, aad).map_err(|e| e.to_string())?;
        Ok(format!("{}:{}", keys.key_id, hex::encode(sealed)))
    }

    fn open(&self, aad: &[u8], sealed: &str) -> Result<Vec<u8>, String> {
        let (key_id, hex_part) = sealed.split_once(':').ok_or("not `<key id>:<hex>`")?;
        let bytes = hex::decode(hex_part).map_err(|_| "not hex".to_owned())?;
        let secret = self
            .0
            .enc_secret(key_id)
            .ok_or_else(|| format!("sealed to key {key_id}, which this node does not hold"))?;
        open(&secret, &bytes, aad).map_err(|e| e.to_string())
    }
}
