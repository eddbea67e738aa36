//! Column lists and row decoding (and encoding) of the PostgreSQL store.

use chrono::NaiveDate;
use lapor_schemas::api::Category;
use lapor_schemas::{ArchiveReason, Channel, ReportKind, ReportStatus, Role, TimelineAction};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::Postgres;
use sqlx::Row;

use crate::domain::{
    AgencyRecord, AttachmentRecord, Report, ReporterIdentity, TimelineRecord, UserRecord,
};
use crate::storage::decide::HeldHead;
use crate::storage::{
    EquivocationRow, HistoryEvent, InboxRow, KeyRow, OriginHead, OwnerRow, PeerRecord,
    QuarantineRow, Result, StorageError, StoredEvent, TransferRow,
};

/// A query with its arguments bound so far.
pub(super) type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

pub(super) const REPORT_COLS: &str = "id, tracking_code, secret_hash, kind, title, body, category_id, agency_id, agency_path, \
    region_code, lat_e6, lon_e6, address, incident_date, anonymous, confidential, channel, status, submitted_at, \
    updated_at, verified_at, responded_at, closed_at, verification_due_at, followup_due_at, autocomplete_at, \
    escalation_at, verification_overdue, followup_overdue, escalated, archive_reason, duplicate_of, rating_score, \
    rating_comment, reporter_user_id, created_by, version";
/// Number of columns in [`REPORT_COLS`].
pub(super) const REPORT_NCOLS: usize = 37;
pub(super) const AGENCY_COLS: &str =
    "id, parent_id, path, name, kind, region_code, active, created_at, node_id";
pub(super) const USER_COLS: &str =
    "id, username, password_hash, display_name, role, agency_id, active, created_at, email, phone, notices_off";
pub(super) const TIMELINE_COLS: &str =
    "report_id, seq, at, action, actor_role, actor_id, actor_name, agency_id, from_status, to_status, note";

fn unknown(what: &str, value: &str) -> StorageError {
    StorageError::Backend(format!("unknown {what} `{value}` in the database"))
}

fn parse_col<T>(row: &PgRow, col: usize, what: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s: String = row.try_get(col)?;
    parse(&s).ok_or_else(|| unknown(what, &s))
}

fn parse_opt_col<T>(
    row: &PgRow,
    col: usize,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| parse(&s).ok_or_else(|| unknown(what, &s)))
        .transpose()
}

pub(super) fn report_from_row(row: &PgRow) -> Result<Report> {
    let incident: Option<String> = row.try_get(13)?;
    Ok(Report {
        id: row.try_get(0)?,
        tracking_code: row.try_get(1)?,
        secret_hash: row.try_get(2)?,
        kind: parse_col(row, 3, "kind", ReportKind::parse)?,
        title: row.try_get(4)?,
        body: row.try_get(5)?,
        category_id: row.try_get(6)?,
        agency_id: row.try_get(7)?,
        agency_path: row.try_get(8)?,
        region_code: row.try_get(9)?,
        lat_e6: row.try_get(10)?,
        lon_e6: row.try_get(11)?,
        address: row.try_get(12)?,
        incident_date: incident
            .map(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| unknown("date", &s)))
            .transpose()?,
        anonymous: row.try_get(14)?,
        confidential: row.try_get(15)?,
        channel: parse_col(row, 16, "channel", Channel::parse)?,
        status: parse_col(row, 17, "status", ReportStatus::parse)?,
        submitted_at: row.try_get(18)?,
        updated_at: row.try_get(19)?,
        verified_at: row.try_get(20)?,
        responded_at: row.try_get(21)?,
        closed_at: row.try_get(22)?,
        verification_due_at: row.try_get(23)?,
        followup_due_at: row.try_get(24)?,
        autocomplete_at: row.try_get(25)?,
        escalation_at: row.try_get(26)?,
        verification_overdue: row.try_get(27)?,
        followup_overdue: row.try_get(28)?,
        escalated: row.try_get(29)?,
        archive_reason: parse_opt_col(row, 30, "archive reason", ArchiveReason::parse)?,
        duplicate_of: row.try_get(31)?,
        rating_score: row.try_get(32)?,
        rating_comment: row.try_get(33)?,
        reporter_user_id: row.try_get(34)?,
        created_by: row.try_get(35)?,
        version: row.try_get(36)?,
    })
}

pub(super) fn reports_from_rows(rows: &[PgRow]) -> Result<Vec<Report>> {
    rows.iter().map(report_from_row).collect()
}

/// Binds every column of [`REPORT_COLS`], in order, as `$1..$37` (or after whatever `q` already binds).
pub(super) fn bind_report<'q>(q: PgQuery<'q>, r: &'q Report) -> PgQuery<'q> {
    q.bind(&r.id)
        .bind(&r.tracking_code)
        .bind(&r.secret_hash)
        .bind(r.kind.as_str())
        .bind(&r.title)
        .bind(&r.body)
        .bind(r.category_id.as_deref())
        .bind(r.agency_id.as_deref())
        .bind(r.agency_path.as_deref())
        .bind(r.region_code.as_deref())
        .bind(r.lat_e6)
        .bind(r.lon_e6)
        .bind(r.address.as_deref())
        .bind(r.incident_date.map(|d| d.format("%Y-%m-%d").to_string()))
        .bind(r.anonymous)
        .bind(r.confidential)
        .bind(r.channel.as_str())
        .bind(r.status.as_str())
        .bind(r.submitted_at)
        .bind(r.updated_at)
        .bind(r.verified_at)
        .bind(r.responded_at)
        .bind(r.closed_at)
        .bind(r.verification_due_at)
        .bind(r.followup_due_at)
        .bind(r.autocomplete_at)
        .bind(r.escalation_at)
        .bind(r.verification_overdue)
        .bind(r.followup_overdue)
        .bind(r.escalated)
        .bind(r.archive_reason.map(ArchiveReason::as_str))
        .bind(r.duplicate_of.as_deref())
        .bind(r.rating_score)
        .bind(r.rating_comment.as_deref())
        .bind(r.reporter_user_id.as_deref())
        .bind(r.created_by.as_deref())
        .bind(r.version)
}

pub(super) fn timeline_from_row(row: &PgRow) -> Result<TimelineRecord> {
    Ok(TimelineRecord {
        report_id: row.try_get(0)?,
        seq: row.try_get(1)?,
        at: row.try_get(2)?,
        action: parse_col(row, 3, "timeline action", TimelineAction::parse)?,
        actor_role: row.try_get(4)?,
        actor_id: row.try_get(5)?,
        actor_name: row.try_get(6)?,
        agency_id: row.try_get(7)?,
        from_status: parse_opt_col(row, 8, "status", ReportStatus::parse)?,
        to_status: parse_opt_col(row, 9, "status", ReportStatus::parse)?,
        note: row.try_get(10)?,
    })
}

pub(super) fn agency_from_row(row: &PgRow) -> Result<AgencyRecord> {
    Ok(AgencyRecord {
        id: row.try_get(0)?,
        parent_id: row.try_get(1)?,
        path: row.try_get(2)?,
        name: row.try_get(3)?,
        kind: row.try_get(4)?,
        region_code: row.try_get(5)?,
        active: row.try_get(6)?,
        created_at: row.try_get(7)?,
        node_id: row.try_get(8)?,
    })
}

pub(super) fn user_from_row(row: &PgRow, base: usize) -> Result<UserRecord> {
    Ok(UserRecord {
        id: row.try_get(base)?,
        username: row.try_get(base + 1)?,
        password_hash: row.try_get(base + 2)?,
        display_name: row.try_get(base + 3)?,
        role: parse_col(row, base + 4, "role", Role::parse)?,
        agency_id: row.try_get(base + 5)?,
        active: row.try_get(base + 6)?,
        created_at: row.try_get(base + 7)?,
        email: row.try_get(base + 8)?,
        phone: row.try_get(base + 9)?,
        notices_off: row.try_get(base + 10)?,
    })
}

pub(super) fn category_from_row(row: &PgRow) -> Result<Category> {
    Ok(Category {
        id: row.try_get(0)?,
        name_id: row.try_get(1)?,
        name_en: row.try_get(2)?,
        active: row.try_get(3)?,
    })
}

pub(super) fn head_from_row(r: &PgRow) -> Result<HeldHead> {
    Ok(HeldHead {
        seq: r.try_get(0)?,
        id: r.try_get(1)?,
        frozen: r.try_get::<i64, _>(2)? != 0,
    })
}

pub(super) fn owner_from_row(r: &PgRow) -> Result<OwnerRow> {
    Ok(OwnerRow {
        report_id: r.try_get(0)?,
        owner: r.try_get(1)?,
        epoch: r.try_get(2)?,
        last_event_id: r.try_get(3)?,
    })
}

pub(super) const EVENT_COLS: &str =
    "id, origin, origin_seq, kind, report_id, report_epoch, wire, state";

pub(super) fn event_from_row(r: &PgRow) -> Result<StoredEvent> {
    Ok(StoredEvent {
        id: r.try_get(0)?,
        origin: r.try_get(1)?,
        origin_seq: r.try_get(2)?,
        kind: r.try_get(3)?,
        report_id: r.try_get(4)?,
        report_epoch: r.try_get(5)?,
        wire: r.try_get(6)?,
        state: r.try_get(7)?,
    })
}

pub(super) const PEER_COLS: &str =
    "node_id, name, base_url, role, region_codes, enc_public, push_cursor, \
    last_success_at, last_attempt_at, last_error, failures, rejected_total, added_at";

pub(super) fn peer_from_row(r: &PgRow) -> Result<PeerRecord> {
    let regions: String = r.try_get(4)?;
    Ok(PeerRecord {
        node_id: r.try_get(0)?,
        name: r.try_get(1)?,
        base_url: r.try_get(2)?,
        role: r.try_get(3)?,
        region_codes: regions
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        enc_public: r.try_get(5)?,
        push_cursor: r.try_get(6)?,
        last_success_at: r.try_get(7)?,
        last_attempt_at: r.try_get(8)?,
        last_error: r.try_get(9)?,
        failures: r.try_get(10)?,
        rejected_total: r.try_get(11)?,
        added_at: r.try_get(12)?,
    })
}

pub(super) const TRANSFER_COLS: &str =
    "offer_id, report_id, from_node, to_node, epoch, agency_id, reason, note, state, \
    code, expires_at, created_at, updated_at";

pub(super) fn transfer_from_row(r: &PgRow) -> Result<TransferRow> {
    Ok(TransferRow {
        offer_id: r.try_get(0)?,
        report_id: r.try_get(1)?,
        from_node: r.try_get(2)?,
        to_node: r.try_get(3)?,
        epoch: r.try_get(4)?,
        agency_id: r.try_get(5)?,
        reason: r.try_get(6)?,
        note: r.try_get(7)?,
        state: r.try_get(8)?,
        code: r.try_get(9)?,
        expires_at: r.try_get(10)?,
        created_at: r.try_get(11)?,
        updated_at: r.try_get(12)?,
    })
}

pub(super) fn inbox_from_row(r: &PgRow) -> Result<InboxRow> {
    Ok(InboxRow {
        id: r.try_get(0)?,
        event_id: r.try_get(1)?,
        origin: r.try_get(2)?,
        origin_seq: r.try_get(3)?,
        sender: r.try_get(4)?,
        wire: r.try_get(5)?,
    })
}

pub(super) fn origin_head_from_row(r: &PgRow) -> Result<OriginHead> {
    Ok(OriginHead {
        origin: r.try_get(0)?,
        head_seq: r.try_get(1)?,
        head_id: r.try_get(2)?,
        frozen: r.try_get::<i64, _>(3)? != 0,
        frozen_reason: r.try_get(4)?,
    })
}

pub(super) fn quarantine_from_row(r: &PgRow) -> Result<QuarantineRow> {
    Ok(QuarantineRow {
        event_id: r.try_get(0)?,
        origin: r.try_get(1)?,
        origin_seq: r.try_get(2)?,
        code: r.try_get(3)?,
        reason: r.try_get(4)?,
        at: r.try_get(5)?,
    })
}

pub(super) fn equivocation_from_row(r: &PgRow) -> Result<EquivocationRow> {
    Ok(EquivocationRow {
        origin: r.try_get(0)?,
        origin_seq: r.try_get(1)?,
        first_id: r.try_get(2)?,
        second_id: r.try_get(3)?,
        detected_at: r.try_get(4)?,
    })
}

pub(super) fn history_from_row(r: &PgRow) -> Result<HistoryEvent> {
    Ok(HistoryEvent {
        id: r.try_get(0)?,
        origin: r.try_get(1)?,
        origin_seq: r.try_get(2)?,
        kind: r.try_get(3)?,
        report_epoch: r.try_get(4)?,
        wire: r.try_get(5)?,
    })
}

pub(super) fn key_from_row(r: &PgRow) -> Result<KeyRow> {
    Ok(KeyRow {
        origin: r.try_get(0)?,
        key_id: r.try_get(1)?,
        public_key: r.try_get(2)?,
        enc_public: r.try_get(3)?,
        valid_from_seq: r.try_get(4)?,
        retired_after_seq: r.try_get(5)?,
        revoked_from_seq: r.try_get(6)?,
    })
}

pub(super) fn attachment_from_row(r: &PgRow) -> Result<AttachmentRecord> {
    Ok(AttachmentRecord {
        report_id: r.try_get(0)?,
        sha256: r.try_get(1)?,
        media_type: r.try_get(2)?,
        size_bytes: r.try_get(3)?,
        file_name: r.try_get(4)?,
        added_by: r.try_get(5)?,
        added_at: r.try_get(6)?,
    })
}

pub(super) fn identity_from_row(r: &PgRow) -> Result<ReporterIdentity> {
    Ok(ReporterIdentity {
        name: r.try_get(0)?,
        phone: r.try_get(1)?,
        email: r.try_get(2)?,
    })
}

/// Runs `q` on `executor` and decodes the row it returns, if any.
pub(super) async fn fetch_optional<'q, 'c, E, T>(
    q: PgQuery<'q>,
    executor: E,
    decode: impl Fn(&PgRow) -> Result<T>,
) -> Result<Option<T>>
where
    E: sqlx::Executor<'c, Database = Postgres> + 'q,
    'c: 'q,
{
    q.fetch_optional(executor)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Runs `q` on `executor` and decodes every row it returns.
pub(super) async fn fetch_all<'q, 'c, E, T>(
    q: PgQuery<'q>,
    executor: E,
    decode: impl Fn(&PgRow) -> Result<T>,
) -> Result<Vec<T>>
where
    E: sqlx::Executor<'c, Database = Postgres> + 'q,
    'c: 'q,
{
    q.fetch_all(executor).await?.iter().map(decode).collect()
}
