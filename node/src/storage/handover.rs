//! The handover of a reporter identity to a report's new owner ([`HandoverStore`]): the new owner's record of
//! how far getting it from the former owners has come, storing what arrived (sealed at rest like every
//! identity, [`super::identity`]), and a former owner's erasure once the new owner has it. The protocol is in
//! `federation/identity.rs`.

use async_trait::async_trait;

use super::Result;
use crate::domain::{Millis, ReporterIdentity};

/// Still asking the former owners.
pub const FETCHING: &str = "fetching";
/// Stored here; the former owners are told to erase theirs.
pub const CONFIRMING: &str = "confirming";
/// The former owners erased theirs.
pub const DONE: &str = "done";
/// No former owner holds one.
pub const ABSENT: &str = "absent";

/// One report whose identity this node (its owner) still has to get, or whose former owners still have to
/// erase theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverRow {
    /// The report.
    pub report_id: String,
    /// The epoch at which this node owns it.
    pub epoch: i64,
    /// [`FETCHING`], [`CONFIRMING`], [`DONE`] or [`ABSENT`]; `None` when nothing was tried yet.
    pub state: Option<String>,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Not to be tried again before.
    pub next_at: Millis,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Last change.
    pub updated_at: Millis,
}

/// Identities on their way to a report's new owner.
#[async_trait]
pub trait HandoverStore: Send + Sync + 'static {
    /// Reports `me` owns at an epoch above 0 that are not anonymous and whose handover is due at `now`: not
    /// tried yet at the held epoch (and no identity held), or [`FETCHING`]/[`CONFIRMING`] with `next_at <=
    /// now`. Oldest first.
    async fn handover_due(&self, me: &str, now: Millis, limit: i64) -> Result<Vec<HandoverRow>>;
    /// Where the handover of a report stands, if it was tried.
    async fn handover_get(&self, report_id: &str) -> Result<Option<HandoverRow>>;
    /// Every handover row that is not [`DONE`] or [`ABSENT`], most recently changed first (for status).
    async fn handover_open(&self) -> Result<Vec<HandoverRow>>;
    /// Records where the handover of a report stands (insert or replace).
    async fn handover_record(&self, row: &HandoverRow) -> Result<()>;
    /// Stores the identity that arrived for `report_id` (replacing any held) and records [`CONFIRMING`] at
    /// `epoch`, in one transaction.
    async fn handover_receive(
        &self,
        report_id: &str,
        epoch: i64,
        identity: &ReporterIdentity,
        now: Millis,
    ) -> Result<()>;
    /// Erases this node's copy of a report's identity (the at-rest row and the sealed blobs `blobs` of the
    /// report) in one transaction. Whether anything was held.
    async fn identity_erase(&self, report_id: &str, blobs: &[String]) -> Result<bool>;
}
