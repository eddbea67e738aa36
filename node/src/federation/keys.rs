//! This node's own keys: the ed25519 key that signs its events and push requests, and the x25519 key that
//! reporter identities are sealed to. They live as files under `<data_dir>/keys/` (mode 0600), never in the
//! database, so a database dump alone cannot forge this node's events.
//!
//! ```text
//! keys/current              the id of the signing key in use
//! keys/<key_id>.ed25519     hex of the 32-byte ed25519 secret
//! keys/<key_id>.x25519      hex of the 32-byte x25519 secret (kept after rotation to open old seals)
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use lapor_federation::keys::key_id_for;
use lapor_federation::seal::EncryptionSecret;

/// The signing key in use and its encryption key.
pub struct NodeKeys {
    /// Key id (`ed25519-<16 hex>`).
    pub key_id: String,
    /// Event and request signing key.
    pub signing: SigningKey,
    /// Sealing key of the same generation.
    pub enc: EncryptionSecret,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl NodeKeys {
    /// Hex of the ed25519 public key.
    pub fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }

    /// Hex of the x25519 public key.
    pub fn enc_public_hex(&self) -> String {
        hex::encode(self.enc.public())
    }

    /// A fresh pair.
    pub fn generate() -> Self {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        Self {
            key_id: key_id_for(&signing.verifying_key()),
            signing,
            enc: EncryptionSecret::generate(),
        }
    }
}

/// The key directory under a data directory.
pub fn key_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

fn read_hex32(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = hex::decode(text.trim())
        .with_context(|| format!("{} does not hold hex", path.display()))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} does not hold 32 bytes", path.display()))
}

fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(hex::encode(bytes).as_bytes())?;
    f.sync_all()?;
    Ok(())
}

fn write_current(dir: &Path, key_id: &str) -> anyhow::Result<()> {
    let tmp = dir.join("current.tmp");
    fs::write(&tmp, key_id)?;
    fs::File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, dir.join("current"))?;
    Ok(())
}

/// Loads the key pair of `key_id`.
pub fn load_pair(dir: &Path, key_id: &str) -> anyhow::Result<NodeKeys> {
    let signing = SigningKey::from_bytes(&read_hex32(&dir.join(format!("{key_id}.ed25519")))?);
    if key_id_for(&signing.verifying_key()) != key_id {
        bail!("key file {key_id}.ed25519 holds another key");
    }
    let enc = EncryptionSecret::from_bytes(read_hex32(&dir.join(format!("{key_id}.x25519")))?);
    Ok(NodeKeys {
        key_id: key_id.to_owned(),
        signing,
        enc,
    })
}

/// Loads the current keys, if any were generated.
pub fn load(data_dir: &Path) -> anyhow::Result<Option<NodeKeys>> {
    let dir = key_dir(data_dir);
    let current = dir.join("current");
    if !current.exists() {
        return Ok(None);
    }
    let key_id =
        fs::read_to_string(&current).with_context(|| format!("reading {}", current.display()))?;
    load_pair(&dir, key_id.trim()).map(Some)
}

/// Writes a new pair's files without making it current.
pub fn store_pair(data_dir: &Path, keys: &NodeKeys) -> anyhow::Result<()> {
    let dir = key_dir(data_dir);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    }
    write_secret(
        &dir.join(format!("{}.ed25519", keys.key_id)),
        keys.signing.as_bytes(),
    )?;
    write_secret(
        &dir.join(format!("{}.x25519", keys.key_id)),
        &keys.enc.to_bytes(),
    )?;
    Ok(())
}

/// Makes a stored pair the one in use.
pub fn make_current(data_dir: &Path, key_id: &str) -> anyhow::Result<()> {
    write_current(&key_dir(data_dir), key_id)
}

/// Generates and stores the first pair; refuses when keys exist.
pub fn generate(data_dir: &Path) -> anyhow::Result<NodeKeys> {
    if load(data_dir)?.is_some() {
        bail!(
            "{} already holds this node's keys; use `lapor keys rotate` to replace them",
            key_dir(data_dir).display()
        );
    }
    let keys = NodeKeys::generate();
    store_pair(data_dir, &keys)?;
    make_current(data_dir, &keys.key_id)?;
    Ok(keys)
}

/// Every x25519 secret ever held, to open identities sealed to older keys.
pub fn all_enc_secrets(data_dir: &Path) -> anyhow::Result<Vec<(String, EncryptionSecret)>> {
    let dir = key_dir(data_dir);
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in fs::read_dir(&dir)? {
        let path = entry?.path();
        if let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".x25519"))
        {
            out.push((
                id.to_owned(),
                EncryptionSecret::from_bytes(read_hex32(&path)?),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_load_and_refuse_twice() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let k = generate(dir.path())?;
        let again = load(dir.path())?.ok_or_else(|| anyhow::anyhow!("no keys"))?;
        assert_eq!(k.key_id, again.key_id);
        assert_eq!(k.public_hex(), again.public_hex());
        assert_eq!(k.enc_public_hex(), again.enc_public_hex());
        assert!(generate(dir.path()).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(key_dir(dir.path()).join(format!("{}.ed25519", k.key_id)))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "key files are private");
        }
        Ok(())
    }
}
