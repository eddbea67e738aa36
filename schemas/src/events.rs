//! Payloads of the federation's event types as they travel (PROTOCOL section 8.8 and 9.2): what a `report.*`,
//! `contribution.*`, `transfer.*` and `node.agencies` event carries. Each is a canonical JSON object that refuses
//! unknown fields; the node turns them into its domain records (`node/src/federation/payload.rs`), the JSON
//! Schemas under `schemas/json/payloads/` describe the same shapes.

use serde::{Deserialize, Serialize};

/// The timeline entry of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryPayload {
    /// Timeline action.
    pub action: String,
    /// `system`, `reporter` or a role.
    pub actor_role: String,
    /// Staff display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// Agency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
    /// When.
    pub at_ms: i64,
    /// Status before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_status: Option<String>,
    /// Status after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_status: Option<String>,
    /// Note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The owner's state of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct StatePayload {
    pub tracking_code: String,
    pub secret_hash: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat_e6: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon_e6: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_date: Option<String>,
    pub anonymous: bool,
    pub confidential: bool,
    pub channel: String,
    pub status: String,
    pub submitted_at_ms: i64,
    pub updated_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responded_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_due_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followup_due_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_ms: Option<i64>,
    pub verification_overdue: bool,
    pub followup_overdue: bool,
    pub escalated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_score: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_comment: Option<String>,
    pub version: i64,
}

/// Where a sealed reporter identity is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRef {
    /// sha256 (hex) of the sealed blob.
    pub blob: String,
    /// Key id of the encryption key it is sealed to.
    pub sealed_to: String,
}

/// Payload of every `report.*` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportPayload {
    /// The change.
    pub entry: EntryPayload,
    /// The state after it.
    pub state: StatePayload,
    /// The sealed identity (only on `report.created` of a non-anonymous report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityRef>,
}

/// Payload of `contribution.*` events: something a reporter did on a node that does not own the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContributionPayload {
    /// The node that owns the report and must apply this.
    pub owner: String,
    /// The report's tracking code.
    pub tracking_code: String,
    /// Reply or acceptance text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Rating 1..=5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    /// Rating comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When the reporter acted.
    pub at_ms: i64,
    /// The tracking secret the reporter gave, sealed to the owner and bound to this contribution
    /// (`<owner's key id>:<hex>`); absent only when the report's origin sends it (PROTOCOL section 8.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// On a hub's relay of a regional node's contribution: the node that authored it (the proof is bound to
    /// that node, not to the hub). Only a hub sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// Payload of every `transfer.*` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferPayload {
    /// Id of the event that opened the transfer; absent on that event itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// Owner giving the report up.
    pub from: String,
    /// Node taking it over.
    pub to: String,
    /// The epoch the transfer creates (the held one + 1).
    pub epoch: i64,
    /// `routing`, `not_authority`, `misrouted` or `ombudsman` (an escalation the reporter consented to).
    pub reason: String,
    /// Officer's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Agency of the target suggested for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
    /// `transfer.forwarded`: when the hub stops waiting for the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
    /// `transfer.refused`: why (`transfer_pending`, `stale_epoch`, `unknown_node`, `same_node`, `cooldown`,
    /// `expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `transfer.committed`: the report's latest event the hub held when it committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<String>,
}

/// One published agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedAgency {
    /// Id.
    pub id: String,
    /// Parent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Path on the publishing node (`/root/.../id/`).
    pub path: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Region code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    /// Receives reports.
    pub active: bool,
}

/// Payload of `node.agencies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgenciesPayload {
    /// Every agency of the node, parents before children.
    pub agencies: Vec<PublishedAgency>,
    /// The node's SMS keywords. Absent when it has none, so a node without SMS publishes exactly what it
    /// published before keywords existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sms_keywords: Vec<PublishedKeyword>,
}

/// One SMS keyword a node publishes (`KOTKUPANG`): it names the node's admin queue, or one of its agencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedKeyword {
    /// 2..=20 of A-Z and 0-9.
    pub keyword: String,
    /// The agency it names; absent for the node's admin queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
}
