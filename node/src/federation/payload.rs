//! Event payloads: what a report event carries and how a receiving node turns it back into a report.
//!
//! Every `report.*` event carries the timeline entry of the change and the owner's whole state of the report
//! after it, so applying is an idempotent overwrite in log order, and one lost or quarantined event heals with
//! the next. Local account ids (`reporter_user_id`, `created_by`) and the reporter identity never travel;
//! a non-anonymous report's identity travels only as a sealed blob referenced by hash.

use chrono::NaiveDate;
use lapor_federation::canonical::{from_value, to_value};
use lapor_federation::Value;
use lapor_schemas::{ArchiveReason, Channel, ReportKind, ReportStatus, TimelineAction};
use serde::Serialize;

pub use lapor_schemas::events::{
    ContributionPayload, EntryPayload, IdentityRef, ReportPayload, StatePayload,
};

use crate::domain::{Report, TimelineRecord};

/// A payload that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

fn bad(what: &str, value: &str) -> PayloadError {
    PayloadError(format!("unknown {what} `{value}`"))
}

/// Encodes a payload struct.
pub fn encode<T: Serialize>(payload: &T) -> Result<Value, PayloadError> {
    to_value(payload).map_err(|e| PayloadError(e.to_string()))
}

/// Decodes a payload struct.
pub fn decode<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, PayloadError> {
    from_value(value.clone()).map_err(|e| PayloadError(e.to_string()))
}

/// The entry as it travels.
pub fn entry_payload(e: &TimelineRecord) -> EntryPayload {
    EntryPayload {
        action: e.action.as_str().to_owned(),
        actor_role: e.actor_role.clone(),
        actor_name: e.actor_name.clone(),
        agency_id: e.agency_id.clone(),
        at_ms: e.at,
        from_status: e.from_status.map(|s| s.as_str().to_owned()),
        to_status: e.to_status.map(|s| s.as_str().to_owned()),
        note: e.note.clone(),
    }
}

/// The state as it travels.
pub fn state_payload(r: &Report) -> StatePayload {
    StatePayload {
        tracking_code: r.tracking_code.clone(),
        secret_hash: r.secret_hash.clone(),
        kind: r.kind.as_str().to_owned(),
        title: r.title.clone(),
        body: r.body.clone(),
        category_id: r.category_id.clone(),
        agency_id: r.agency_id.clone(),
        region_code: r.region_code.clone(),
        lat_e6: r.lat_e6,
        lon_e6: r.lon_e6,
        address: r.address.clone(),
        incident_date: r.incident_date.map(|d| d.format("%Y-%m-%d").to_string()),
        anonymous: r.anonymous,
        confidential: r.confidential,
        channel: r.channel.as_str().to_owned(),
        status: r.status.as_str().to_owned(),
        submitted_at_ms: r.submitted_at,
        updated_at_ms: r.updated_at,
        verified_at_ms: r.verified_at,
        responded_at_ms: r.responded_at,
        closed_at_ms: r.closed_at,
        verification_due_ms: r.verification_due_at,
        followup_due_ms: r.followup_due_at,
        autocomplete_ms: r.autocomplete_at,
        escalation_ms: r.escalation_at,
        verification_overdue: r.verification_overdue,
        followup_overdue: r.followup_overdue,
        escalated: r.escalated,
        archive_reason: r.archive_reason.map(|a| a.as_str().to_owned()),
        duplicate_of: r.duplicate_of.clone(),
        rating_score: r.rating_score,
        rating_comment: r.rating_comment.clone(),
        version: r.version,
    }
}

/// Rebuilds the report a state describes; `agency_path` is the receiving node's path of the agency, if it
/// knows it.
pub fn report_from_state(
    report_id: &str,
    s: &StatePayload,
    agency_path: Option<String>,
) -> Result<Report, PayloadError> {
    let status = |v: &str| ReportStatus::parse(v).ok_or_else(|| bad("status", v));
    Ok(Report {
        id: report_id.to_owned(),
        tracking_code: s.tracking_code.clone(),
        secret_hash: s.secret_hash.clone(),
        kind: ReportKind::parse(&s.kind).ok_or_else(|| bad("kind", &s.kind))?,
        title: s.title.clone(),
        body: s.body.clone(),
        category_id: s.category_id.clone(),
        agency_id: s.agency_id.clone(),
        agency_path,
        region_code: s.region_code.clone(),
        lat_e6: s.lat_e6,
        lon_e6: s.lon_e6,
        address: s.address.clone(),
        incident_date: s
            .incident_date
            .as_deref()
            .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| bad("date", d)))
            .transpose()?,
        anonymous: s.anonymous,
        confidential: s.confidential,
        channel: Channel::parse(&s.channel).ok_or_else(|| bad("channel", &s.channel))?,
        status: status(&s.status)?,
        submitted_at: s.submitted_at_ms,
        updated_at: s.updated_at_ms,
        verified_at: s.verified_at_ms,
        responded_at: s.responded_at_ms,
        closed_at: s.closed_at_ms,
        verification_due_at: s.verification_due_ms,
        followup_due_at: s.followup_due_ms,
        autocomplete_at: s.autocomplete_ms,
        escalation_at: s.escalation_ms,
        verification_overdue: s.verification_overdue,
        followup_overdue: s.followup_overdue,
        escalated: s.escalated,
        archive_reason: s
            .archive_reason
            .as_deref()
            .map(|a| ArchiveReason::parse(a).ok_or_else(|| bad("archive reason", a)))
            .transpose()?,
        duplicate_of: s.duplicate_of.clone(),
        rating_score: s.rating_score,
        rating_comment: s.rating_comment.clone(),
        reporter_user_id: None,
        created_by: None,
        version: s.version,
    })
}

/// Rebuilds a timeline entry.
pub fn entry_from_payload(
    report_id: &str,
    e: &EntryPayload,
) -> Result<TimelineRecord, PayloadError> {
    let status = |v: &str| ReportStatus::parse(v).ok_or_else(|| bad("status", v));
    Ok(TimelineRecord {
        report_id: report_id.to_owned(),
        seq: 0,
        at: e.at_ms,
        action: TimelineAction::parse(&e.action).ok_or_else(|| bad("action", &e.action))?,
        actor_role: e.actor_role.clone(),
        actor_id: None,
        actor_name: e.actor_name.clone(),
        agency_id: e.agency_id.clone(),
        from_status: e.from_status.as_deref().map(status).transpose()?,
        to_status: e.to_status.as_deref().map(status).transpose()?,
        note: e.note.clone(),
    })
}
