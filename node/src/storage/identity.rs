//! Reporter identities encrypted at rest. Each field of a `reporter_identities` row (name, phone, e-mail) is
//! stored as `sealed:v1:<key id>:<hex>`: the field sealed to this node's own encryption key (X25519 +
//! ChaCha20-Poly1305, [`lapor_federation::seal`], the same sealing that carries identities between nodes),
//! bound to the report id and the field name, so a value cannot be moved to another report or field. A
//! database dump (or a stolen backup, or a hub operator reading a regional node's database) reveals no name,
//! phone number or address; reading one needs the node's key file too.
//!
//! The sealing is in the storage layer and invisible above it: [`ReportStore::report_insert`] takes a plain
//! [`ReporterIdentity`] and [`ReportStore::report_identity`] gives one back, so every caller (views, the
//! transfer of a report to a new owner that re-seals the identity for it) keeps working unchanged. The node
//! hands its cipher to the store at start ([`MetaStore::set_identity_cipher`]); a store without one (the
//! storage conformance suite) keeps plain values. Rows written before encryption are read as they are and
//! sealed by [`MetaStore::identities_seal_plaintext`] at start.
//!
//! [`ReportStore::report_insert`]: crate::storage::ReportStore::report_insert
//! [`ReportStore::report_identity`]: crate::storage::ReportStore::report_identity
//! [`MetaStore::set_identity_cipher`]: crate::storage::MetaStore::set_identity_cipher
//! [`MetaStore::identities_seal_plaintext`]: crate::storage::MetaStore::identities_seal_plaintext

use std::sync::{Arc, RwLock};

use crate::domain::ReporterIdentity;
use crate::storage::{Result, StorageError};

/// Prefix of a sealed field.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// Seals and opens bytes with the node's own key (implemented by the federation layer, which holds the keys).
pub trait IdentityCipher: Send + Sync + 'static {
    /// `plain` sealed, bound to `aad`, as `<key id>:<hex>`.
    fn seal(&self, aad: &[u8], plain: &[u8]) -> std::result::Result<String, String>;
    /// Opens what [`IdentityCipher::seal`] made (with the key it names, current or older).
    fn open(&self, aad: &[u8], sealed: &str) -> std::result::Result<Vec<u8>, String>;
}

fn aad(report_id: &str, field: &str) -> Vec<u8> {
    format!("lapor-identity-at-rest-v1\n{report_id}\n{field}").into_bytes()
}

/// Whether a stored value is sealed.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

/// The cipher a store uses, if it was given one.
#[derive(Default)]
pub struct CipherSlot(RwLock<Option<Arc<dyn IdentityCipher>>>);

impl CipherSlot {
    /// Sets (or replaces) the cipher.
    pub fn set(&self, cipher: Arc<dyn IdentityCipher>) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(cipher);
        }
    }

    fn get(&self) -> Option<Arc<dyn IdentityCipher>> {
        self.0.read().ok().and_then(|c| c.clone())
    }

    /// Whether a cipher is set.
    pub fn is_set(&self) -> bool {
        self.get().is_some()
    }

    fn seal_field(
        cipher: &dyn IdentityCipher,
        report_id: &str,
        field: &str,
        value: Option<&String>,
    ) -> Result<Option<String>> {
        value
            .map(|v| {
                if is_sealed(v) {
                    return Ok(v.clone());
                }
                cipher
                    .seal(&aad(report_id, field), v.as_bytes())
                    .map(|s| format!("{SEALED_PREFIX}{s}"))
                    .map_err(|e| {
                        StorageError::Backend(format!("sealing the reporter {field}: {e}"))
                    })
            })
            .transpose()
    }

    /// The identity as it is stored: every field sealed (unchanged without a cipher).
    pub fn seal(&self, report_id: &str, id: &ReporterIdentity) -> Result<ReporterIdentity> {
        let Some(cipher) = self.get() else {
            return Ok(id.clone());
        };
        let c = cipher.as_ref();
        Ok(ReporterIdentity {
            name: Self::seal_field(c, report_id, "name", id.name.as_ref())?,
            phone: Self::seal_field(c, report_id, "phone", id.phone.as_ref())?,
            email: Self::seal_field(c, report_id, "email", id.email.as_ref())?,
        })
    }

    fn open_field(
        &self,
        report_id: &str,
        field: &str,
        value: Option<String>,
    ) -> Result<Option<String>> {
        let Some(v) = value else { return Ok(None) };
        let Some(sealed) = v.strip_prefix(SEALED_PREFIX) else {
            // Written before identities were sealed (sealed at the next start).
            return Ok(Some(v));
        };
        let cipher = self.get().ok_or_else(|| {
            StorageError::Backend(format!(
                "the reporter {field} of {report_id} is sealed and this store has no key to open it"
            ))
        })?;
        let plain = cipher.open(&aad(report_id, field), sealed).map_err(|e| {
            StorageError::Backend(format!("opening the reporter {field} of {report_id}: {e}"))
        })?;
        String::from_utf8(plain).map(Some).map_err(|_| {
            StorageError::Backend(format!("the reporter {field} of {report_id} is not text"))
        })
    }

    /// The identity as callers see it: every sealed field opened.
    pub fn open(&self, report_id: &str, id: ReporterIdentity) -> Result<ReporterIdentity> {
        Ok(ReporterIdentity {
            name: self.open_field(report_id, "name", id.name)?,
            phone: self.open_field(report_id, "phone", id.phone)?,
            email: self.open_field(report_id, "email", id.email)?,
        })
    }

    /// Whether any field of a stored identity is still plain.
    pub fn needs_sealing(id: &ReporterIdentity) -> bool {
        [&id.name, &id.phone, &id.email]
            .into_iter()
            .flatten()
            .any(|v| !is_sealed(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy cipher for the slot's own logic (the real one is `federation::at_rest`, tested with real keys).
    struct Reverse;

    impl IdentityCipher for Reverse {
        fn seal(&self, aad: &[u8], plain: &[u8]) -> std::result::Result<String, String> {
            let mut v = plain.to_vec();
            v.reverse();
            Ok(format!("k:{}:{}", hex::encode(aad), hex::encode(v)))
        }
        fn open(&self, aad: &[u8], sealed: &str) -> std::result::Result<Vec<u8>, String> {
            let mut parts = sealed.splitn(3, ':');
            let (_, a, v) = (parts.next(), parts.next(), parts.next());
            if a != Some(hex::encode(aad).as_str()) {
                return Err("bound to another field".into());
            }
            let mut v = hex::decode(v.unwrap_or("")).map_err(|e| e.to_string())?;
            v.reverse();
            Ok(v)
        }
    }

    #[test]
    fn fields_are_sealed_bound_and_opened() {
        let slot = CipherSlot::default();
        let id = ReporterIdentity {
            name: Some("Maria".into()),
            phone: Some("+628123".into()),
            email: None,
        };
        assert_eq!(slot.seal("r1", &id).unwrap(), id, "no cipher: plain");
        slot.set(Arc::new(Reverse));
        let sealed = slot.seal("r1", &id).unwrap();
        assert!(sealed.name.as_deref().is_some_and(is_sealed));
        assert!(sealed.email.is_none());
        assert!(!CipherSlot::needs_sealing(&sealed));
        assert!(CipherSlot::needs_sealing(&id));
        assert_eq!(slot.open("r1", sealed.clone()).unwrap(), id);
        assert!(slot.open("r2", sealed.clone()).is_err(), "another report");
        let swapped = ReporterIdentity {
            name: sealed.phone.clone(),
            ..sealed
        };
        assert!(slot.open("r1", swapped).is_err(), "another field");
        assert_eq!(
            slot.open("r1", id.clone()).unwrap(),
            id,
            "legacy plain rows"
        );
    }
}
