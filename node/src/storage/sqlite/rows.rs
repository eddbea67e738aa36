//! Column lists and row decoding (and encoding) of the SQLite store.

use chrono::NaiveDate;
use lapor_schemas::api::Category;
use lapor_schemas::{ArchiveReason, Channel, ReportKind, ReportStatus, Role, TimelineAction};
use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use crate::domain::{
    AgencyRecord, AttachmentRecord, Report, ReporterIdentity, TimelineRecord, UserRecord,
};
use crate::storage::{
    EquivocationRow, HistoryEvent, InboxRow, KeyRow, OriginHead, PeerRecord, QuarantineRow, Result,
    StoredEvent, TransferRow,
};

pub(super) const REPORT_COLS: &str = "id, tracking_code, secret_hash, kind, title, body, category_id, agency_id, agency_path, \
    region_code, lat_e6, lon_e6, address, incident_date, anonymous, confidential, channel, status, submitted_at, \
    updated_at, verified_at, responded_at, closed_at, verification_due_at, followup_due_at, autocomplete_at, \
    escalation_at, verification_overdue, followup_overdue, escalated, archive_reason, duplicate_of, rating_score, \
    rating_comment, reporter_user_id, created_by, version";

fn bad(col: usize, what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        format!("unknown {what} `{value}`").into(),
    )
}

fn parse_col<T>(
    row: &Row<'_>,
    col: usize,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    parse(&s).ok_or_else(|| bad(col, what, &s))
}

fn parse_opt_col<T>(
    row: &Row<'_>,
    col: usize,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = row.get(col)?;
    s.map(|s| parse(&s).ok_or_else(|| bad(col, what, &s)))
        .transpose()
}

pub(super) fn report_from_row(row: &Row<'_>) -> rusqlite::Result<Report> {
    let incident: Option<String> = row.get(13)?;
    Ok(Report {
        id: row.get(0)?,
        tracking_code: row.get(1)?,
        secret_hash: row.get(2)?,
        kind: parse_col(row, 3, "kind", ReportKind::parse)?,
        title: row.get(4)?,
        body: row.get(5)?,
        category_id: row.get(6)?,
        agency_id: row.get(7)?,
        agency_path: row.get(8)?,
        region_code: row.get(9)?,
        lat_e6: row.get(10)?,
        lon_e6: row.get(11)?,
        address: row.get(12)?,
        incident_date: incident
            .map(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| bad(13, "date", &s)))
            .transpose()?,
        anonymous: row.get(14)?,
        confidential: row.get(15)?,
        channel: parse_col(row, 16, "channel", Channel::parse)?,
        status: parse_col(row, 17, "status", ReportStatus::parse)?,
        submitted_at: row.get(18)?,
        updated_at: row.get(19)?,
        verified_at: row.get(20)?,
        responded_at: row.get(21)?,
        closed_at: row.get(22)?,
        verification_due_at: row.get(23)?,
        followup_due_at: row.get(24)?,
        autocomplete_at: row.get(25)?,
        escalation_at: row.get(26)?,
        verification_overdue: row.get(27)?,
        followup_overdue: row.get(28)?,
        escalated: row.get(29)?,
        archive_reason: parse_opt_col(row, 30, "archive reason", ArchiveReason::parse)?,
        duplicate_of: row.get(31)?,
        rating_score: row.get(32)?,
        rating_comment: row.get(33)?,
        reporter_user_id: row.get(34)?,
        created_by: row.get(35)?,
        version: row.get(36)?,
    })
}

pub(super) fn report_values(r: &Report) -> Vec<Value> {
    fn t(s: Option<&String>) -> Value {
        s.map_or(Value::Null, |s| Value::Text(s.clone()))
    }
    fn i(v: Option<i64>) -> Value {
        v.map_or(Value::Null, Value::Integer)
    }
    vec![
        Value::Text(r.id.clone()),
        Value::Text(r.tracking_code.clone()),
        Value::Text(r.secret_hash.clone()),
        Value::Text(r.kind.as_str().into()),
        Value::Text(r.title.clone()),
        Value::Text(r.body.clone()),
        t(r.category_id.as_ref()),
        t(r.agency_id.as_ref()),
        t(r.agency_path.as_ref()),
        t(r.region_code.as_ref()),
        i(r.lat_e6),
        i(r.lon_e6),
        t(r.address.as_ref()),
        t(r.incident_date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .as_ref()),
        Value::Integer(r.anonymous.into()),
        Value::Integer(r.confidential.into()),
        Value::Text(r.channel.as_str().into()),
        Value::Text(r.status.as_str().into()),
        Value::Integer(r.submitted_at),
        Value::Integer(r.updated_at),
        i(r.verified_at),
        i(r.responded_at),
        i(r.closed_at),
        i(r.verification_due_at),
        i(r.followup_due_at),
        i(r.autocomplete_at),
        i(r.escalation_at),
        Value::Integer(r.verification_overdue.into()),
        Value::Integer(r.followup_overdue.into()),
        Value::Integer(r.escalated.into()),
        t(r.archive_reason.map(|a| a.as_str().to_owned()).as_ref()),
        t(r.duplicate_of.as_ref()),
        i(r.rating_score),
        t(r.rating_comment.as_ref()),
        t(r.reporter_user_id.as_ref()),
        t(r.created_by.as_ref()),
        Value::Integer(r.version),
    ]
}

pub(super) fn timeline_from_row(row: &Row<'_>) -> rusqlite::Result<TimelineRecord> {
    Ok(TimelineRecord {
        report_id: row.get(0)?,
        seq: row.get(1)?,
        at: row.get(2)?,
        action: parse_col(row, 3, "timeline action", TimelineAction::parse)?,
        actor_role: row.get(4)?,
        actor_id: row.get(5)?,
        actor_name: row.get(6)?,
        agency_id: row.get(7)?,
        from_status: parse_opt_col(row, 8, "status", ReportStatus::parse)?,
        to_status: parse_opt_col(row, 9, "status", ReportStatus::parse)?,
        note: row.get(10)?,
    })
}

pub(super) const AGENCY_COLS: &str =
    "id, parent_id, path, name, kind, region_code, active, created_at, node_id";

pub(super) fn agency_from_row(row: &Row<'_>) -> rusqlite::Result<AgencyRecord> {
    Ok(AgencyRecord {
        id: row.get(0)?,
        parent_id: row.get(1)?,
        path: row.get(2)?,
        name: row.get(3)?,
        kind: row.get(4)?,
        region_code: row.get(5)?,
        active: row.get(6)?,
        created_at: row.get(7)?,
        node_id: row.get(8)?,
    })
}

pub(super) const USER_COLS: &str =
    "id, username, password_hash, display_name, role, agency_id, active, created_at, email, phone, notices_off";

pub(super) fn user_from_row(row: &Row<'_>, base: usize) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(base)?,
        username: row.get(base + 1)?,
        password_hash: row.get(base + 2)?,
        display_name: row.get(base + 3)?,
        role: parse_col(row, base + 4, "role", Role::parse)?,
        agency_id: row.get(base + 5)?,
        active: row.get(base + 6)?,
        created_at: row.get(base + 7)?,
        email: row.get(base + 8)?,
        phone: row.get(base + 9)?,
        notices_off: row.get(base + 10)?,
    })
}

pub(super) fn category_from_row(row: &Row<'_>) -> rusqlite::Result<Category> {
    Ok(Category {
        id: row.get(0)?,
        name_id: row.get(1)?,
        name_en: row.get(2)?,
        active: row.get(3)?,
    })
}

pub(super) const TRANSFER_COLS: &str =
    "offer_id, report_id, from_node, to_node, epoch, agency_id, reason, note, state, \
    code, expires_at, created_at, updated_at";

pub(super) fn transfer_from_row(r: &Row<'_>) -> rusqlite::Result<TransferRow> {
    Ok(TransferRow {
        offer_id: r.get(0)?,
        report_id: r.get(1)?,
        from_node: r.get(2)?,
        to_node: r.get(3)?,
        epoch: r.get(4)?,
        agency_id: r.get(5)?,
        reason: r.get(6)?,
        note: r.get(7)?,
        state: r.get(8)?,
        code: r.get(9)?,
        expires_at: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

pub(super) const EVENT_COLS: &str =
    "id, origin, origin_seq, kind, report_id, report_epoch, wire, state";

pub(super) fn event_from_row(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        id: r.get(0)?,
        origin: r.get(1)?,
        origin_seq: r.get(2)?,
        kind: r.get(3)?,
        report_id: r.get(4)?,
        report_epoch: r.get(5)?,
        wire: r.get(6)?,
        state: r.get(7)?,
    })
}

pub(super) const PEER_COLS: &str =
    "node_id, name, base_url, role, region_codes, enc_public, push_cursor, \
    last_success_at, last_attempt_at, last_error, failures, rejected_total, added_at";

pub(super) fn peer_from_row(r: &Row<'_>) -> rusqlite::Result<PeerRecord> {
    let regions: String = r.get(4)?;
    Ok(PeerRecord {
        node_id: r.get(0)?,
        name: r.get(1)?,
        base_url: r.get(2)?,
        role: r.get(3)?,
        region_codes: regions
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        enc_public: r.get(5)?,
        push_cursor: r.get(6)?,
        last_success_at: r.get(7)?,
        last_attempt_at: r.get(8)?,
        last_error: r.get(9)?,
        failures: r.get(10)?,
        rejected_total: r.get(11)?,
        added_at: r.get(12)?,
    })
}

pub(super) fn inbox_from_row(r: &Row<'_>) -> rusqlite::Result<InboxRow> {
    Ok(InboxRow {
        id: r.get(0)?,
        event_id: r.get(1)?,
        origin: r.get(2)?,
        origin_seq: r.get(3)?,
        sender: r.get(4)?,
        wire: r.get(5)?,
    })
}

pub(super) fn origin_head_from_row(r: &Row<'_>) -> rusqlite::Result<OriginHead> {
    Ok(OriginHead {
        origin: r.get(0)?,
        head_seq: r.get(1)?,
        head_id: r.get(2)?,
        frozen: r.get::<_, i64>(3)? != 0,
        frozen_reason: r.get(4)?,
    })
}

pub(super) fn quarantine_from_row(r: &Row<'_>) -> rusqlite::Result<QuarantineRow> {
    Ok(QuarantineRow {
        event_id: r.get(0)?,
        origin: r.get(1)?,
        origin_seq: r.get(2)?,
        code: r.get(3)?,
        reason: r.get(4)?,
        at: r.get(5)?,
    })
}

pub(super) fn equivocation_from_row(r: &Row<'_>) -> rusqlite::Result<EquivocationRow> {
    Ok(EquivocationRow {
        origin: r.get(0)?,
        origin_seq: r.get(1)?,
        first_id: r.get(2)?,
        second_id: r.get(3)?,
        detected_at: r.get(4)?,
    })
}

pub(super) fn history_from_row(r: &Row<'_>) -> rusqlite::Result<HistoryEvent> {
    Ok(HistoryEvent {
        id: r.get(0)?,
        origin: r.get(1)?,
        origin_seq: r.get(2)?,
        kind: r.get(3)?,
        report_epoch: r.get(4)?,
        wire: r.get(5)?,
    })
}

pub(super) fn key_from_row(r: &Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        origin: r.get(0)?,
        key_id: r.get(1)?,
        public_key: r.get(2)?,
        enc_public: r.get(3)?,
        valid_from_seq: r.get(4)?,
        retired_after_seq: r.get(5)?,
        revoked_from_seq: r.get(6)?,
    })
}

pub(super) fn attachment_from_row(r: &Row<'_>) -> rusqlite::Result<AttachmentRecord> {
    Ok(AttachmentRecord {
        report_id: r.get(0)?,
        sha256: r.get(1)?,
        media_type: r.get(2)?,
        size_bytes: r.get(3)?,
        file_name: r.get(4)?,
        added_by: r.get(5)?,
        added_at: r.get(6)?,
    })
}

pub(super) fn identity_from_row(r: &Row<'_>) -> rusqlite::Result<ReporterIdentity> {
    Ok(ReporterIdentity {
        name: r.get(0)?,
        phone: r.get(1)?,
        email: r.get(2)?,
    })
}

/// Runs a query and decodes every row it returns.
pub(super) fn query_all<T, P: rusqlite::Params>(
    c: &Connection,
    sql: &str,
    params: P,
    decode: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(params, decode)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
