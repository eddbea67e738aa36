//! What can go wrong in storage, and every conflict the backends raise, by name.
//!
//! A [`Conflict`] is a refusal the caller can act on (decide again, report a stable code, tell the user);
//! callers match on its variants, never on its text. The text ([`std::fmt::Display`]) is what users read
//! through the HTTP layer, so it stays stable too; [`Conflict::code`] is the stable snake_case code.

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// A unique key is taken, or the record changed since it was read.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The signed event of a change would exceed the protocol's event size cap (64 KiB): the change is refused
    /// and nothing is stored.
    #[error("event too large: {0}")]
    EventTooLarge(String),
    /// The database refused the data (a reference to a missing row, a check).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database failed.
    #[error("database error: {0}")]
    Backend(String),
}

/// Result of storage calls.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Every conflict a backend raises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// A unique key is taken (a username, an agency id, an event id): the database's own message.
    #[error("{0}")]
    UniqueKeyTaken(String),
    /// The report's `version` moved since the caller read it.
    #[error("the report changed since it was read")]
    ReportChanged,
    /// The contribution event a change consumes is no longer pending (it was applied already).
    #[error("contribution {0} is not pending")]
    NotPending(String),
    /// Another transfer of the report is still open.
    #[error("transfer_pending")]
    TransferPending,
    /// The transfer does not open the epoch after the held one: the report changed owner meanwhile.
    #[error("stale_epoch")]
    StaleEpoch,
    /// The answer to this push transaction is already recorded (a concurrent retry).
    #[error("push transaction {txn} from {sender} is already recorded")]
    PushTxnRecorded {
        /// The peer that pushed.
        sender: String,
        /// Its transaction id.
        txn: String,
    },
    /// The bootstrap secret is wrong, or the first admin exists already.
    #[error("bootstrap secret is wrong or already used")]
    BootstrapSecret,
    /// A signing key id of an origin is already registered with another public key.
    #[error("key {key_id} of {origin} is already registered with another public key")]
    SigningKeyMismatch {
        /// The node.
        origin: String,
        /// The key id.
        key_id: String,
    },
    /// The notification worker's cursor moved since it was read (another worker ran).
    #[error("the notification cursor moved since it was read")]
    NoticeCursorMoved,
}

impl Conflict {
    /// The stable snake_case code of the conflict (`transfer_pending` and `stale_epoch` travel between nodes).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UniqueKeyTaken(_) => "unique_key_taken",
            Self::ReportChanged => "report_changed",
            Self::NotPending(_) => "not_pending",
            Self::TransferPending => "transfer_pending",
            Self::StaleEpoch => "stale_epoch",
            Self::PushTxnRecorded { .. } => "push_txn_recorded",
            Self::BootstrapSecret => "bootstrap_secret",
            Self::SigningKeyMismatch { .. } => "signing_key_mismatch",
            Self::NoticeCursorMoved => "notice_cursor_moved",
        }
    }
}

impl StorageError {
    /// Names what a unique violation means where it was raised; any other error stays as it is.
    pub(crate) fn taken_means(self, conflict: impl FnOnce() -> Conflict) -> Self {
        match self {
            Self::Conflict(Conflict::UniqueKeyTaken(_)) => Self::Conflict(conflict()),
            other => other,
        }
    }
}

impl From<Conflict> for StorageError {
    fn from(c: Conflict) -> Self {
        Self::Conflict(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_codes_are_the_wire_codes() {
        assert_eq!(Conflict::TransferPending.code(), "transfer_pending");
        assert_eq!(Conflict::StaleEpoch.code(), "stale_epoch");
        assert_eq!(Conflict::TransferPending.to_string(), "transfer_pending");
    }

    #[test]
    fn messages_stay_what_users_read() {
        let e = StorageError::from(Conflict::ReportChanged);
        assert_eq!(
            e.to_string(),
            "conflict: the report changed since it was read"
        );
        assert_eq!(
            Conflict::NotPending("ab".into()).to_string(),
            "contribution ab is not pending"
        );
    }
}
