//! Errors of the application layer. Each variant is one answer a surface gives (the HTTP edge turns it into a
//! problem document with a stable code in `http/error.rs`; the web pages into a message on the form). Lower
//! layers have their own errors ([`StorageError`], [`FedError`]); they are translated here, once.

use lapor_schemas::problem::FieldError;

use crate::domain::DomainError;
use crate::federation::FedError;
use crate::storage::StorageError;

/// Errors of the application layer.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Nothing there, or nothing this viewer may see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Login required.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong username or password.
    #[error("wrong username or password")]
    BadCredentials,
    /// Too many failed logins for this account: locked for this many more seconds.
    #[error("account locked after repeated failed logins; try again in {0} s")]
    Locked(u64),
    /// Logged in, but not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The tracking secret is missing or wrong.
    #[error("tracking secret missing or wrong")]
    BadSecret,
    /// The one-time bootstrap secret is wrong or was used already.
    #[error("bootstrap secret wrong or used")]
    BadBootstrapSecret,
    /// Input failed validation.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// A lifecycle rule refused the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Something with this key exists already, or the report is busy (the text says which and why).
    #[error("{0}")]
    Conflict(String),
    /// The report is owned by another node, which alone may change it.
    #[error("report is owned by node {0}")]
    NotOwner(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(StorageError),
    /// Anything else.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A validation error of one field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }])
    }
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            // Its text is what users read (the same as before conflicts were typed).
            StorageError::Conflict(c) => Self::Conflict(c.to_string()),
            StorageError::EventTooLarge(detail) => Self::field(
                "text",
                "too_large",
                format!(
                    "teks laporan dan catatan ini terlalu panjang untuk satu perubahan; persingkat isi atau \
                     catatan / the report's text and this note are too long for one change; shorten the body \
                     or the note ({detail})"
                ),
            ),
            other => Self::Storage(other),
        }
    }
}

/// The citizen- and officer-facing text of a transfer refusal code.
pub fn transfer_refusal_text(code: &str) -> &'static str {
    match code {
        "transfer_pending" => "laporan ini sedang dalam proses pengalihan / this report is already being transferred",
        "stale_epoch" => "laporan ini sudah berpindah pemilik / this report changed owner meanwhile",
        "unknown_node" => "node tujuan tidak dikenal / unknown target node",
        "same_node" => "laporan sudah berada di node tujuan / the report is already at that node",
        "not_ombudsman" => "node tujuan bukan node Ombudsman / the target is not an Ombudsman node",
        "no_ombudsman" => "belum ada node Ombudsman di direktori / no Ombudsman node in the directory",
        "cooldown" => "laporan baru saja dialihkan dari node itu; tunggu masa jeda / the report just came from that node; wait for the cooldown",
        _ => "pengalihan ditolak / transfer refused",
    }
}

impl From<FedError> for AppError {
    fn from(e: FedError) -> Self {
        match e {
            FedError::NotOwner(owner) => Self::NotOwner(owner),
            FedError::TransferPending { to } => Self::Conflict(format!(
                "transfer_pending: laporan sedang dialihkan ke {to} / the report is being transferred to {to}"
            )),
            FedError::Busy => Self::Conflict("the report is changing too often; try again".into()),
            FedError::AlreadyConsumed => {
                Self::Conflict("this step was already taken; reload the report".into())
            }
            FedError::TransferRefused(code) => {
                Self::Conflict(format!("{code}: {}", transfer_refusal_text(code)))
            }
            FedError::NotFound(what) => Self::NotFound(what),
            FedError::Domain(d) => Self::Domain(d),
            FedError::Storage(s) => s.into(),
            FedError::Internal(e) => Self::Internal(e),
        }
    }
}

/// Result of application calls.
pub type AppResult<T> = Result<T, AppError>;
