//! Errors of the federation engine as the layers above see them. Workers log them; the application layer
//! turns each into its own error (and the HTTP edge into a problem document) without the federation ever
//! knowing about either.

use crate::domain::DomainError;
use crate::storage::StorageError;

/// What can go wrong when this node authors a change or takes a federation step.
#[derive(Debug, thiserror::Error)]
pub enum FedError {
    /// The report is owned by another node, which alone may change it.
    #[error("report is owned by node {0}")]
    NotOwner(String),
    /// A transfer of the report is open; nothing acts on it until it commits or fails.
    #[error("the report is being transferred to {to}")]
    TransferPending {
        /// The target node.
        to: String,
    },
    /// The report changed on every attempt.
    #[error("the report is changing too often; try again")]
    Busy,
    /// The event this change would consume was consumed already (the step was taken before).
    #[error("the event this change consumes is not pending any more")]
    AlreadyConsumed,
    /// A transfer cannot be opened; the code is stable (`transfer_pending`, `stale_epoch`, `unknown_node`,
    /// `same_node`, `cooldown`).
    #[error("transfer refused: {0}")]
    TransferRefused(&'static str),
    /// The report (or another record) is not here.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The lifecycle refused the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Anything else (encoding, sealing, a peer that answered nonsense).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Result of federation calls.
pub type FedResult<T> = Result<T, FedError>;
