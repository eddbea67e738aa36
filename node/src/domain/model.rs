//! Domain records as the node keeps them. These are not wire types: the API shapes live in `lapor-schemas`
//! and are built from these by the HTTP layer, which decides what a viewer may see.

use chrono::NaiveDate;
use lapor_schemas::{ArchiveReason, Channel, ReportKind, ReportStatus, Role, TimelineAction};

use super::Millis;

/// A report with its current state. `version` increases by one on every change (optimistic concurrency).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `<node id>:<ULID>`, never changes.
    pub id: String,
    /// Short code for citizens, e.g. `KPG-7H3K9QX2MA`.
    pub tracking_code: String,
    /// Hex sha256 of the tracking secret.
    pub secret_hash: String,
    /// Kind of report.
    pub kind: ReportKind,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Category id.
    pub category_id: Option<String>,
    /// Agency it is dispositioned to (or that the citizen chose before verification).
    pub agency_id: Option<String>,
    /// Materialised path of that agency (`/root/child/`), for subtree scoping.
    pub agency_path: Option<String>,
    /// Kemendagri region code.
    pub region_code: Option<String>,
    /// Latitude in microdegrees.
    pub lat_e6: Option<i64>,
    /// Longitude in microdegrees.
    pub lon_e6: Option<i64>,
    /// Address text.
    pub address: Option<String>,
    /// Incident date.
    pub incident_date: Option<NaiveDate>,
    /// Identity hidden (and not stored).
    pub anonymous: bool,
    /// Hidden from the public.
    pub confidential: bool,
    /// How it came in.
    pub channel: Channel,
    /// Status.
    pub status: ReportStatus,
    /// Filed at; kept through every transfer for statistics.
    pub submitted_at: Millis,
    /// Last change.
    pub updated_at: Millis,
    /// First verification.
    pub verified_at: Option<Millis>,
    /// Last follow-up.
    pub responded_at: Option<Millis>,
    /// Completed or archived.
    pub closed_at: Option<Millis>,
    /// Verification deadline.
    pub verification_due_at: Option<Millis>,
    /// Agency follow-up deadline.
    pub followup_due_at: Option<Millis>,
    /// Automatic completion time.
    pub autocomplete_at: Option<Millis>,
    /// Escalation time (60 days after verification).
    pub escalation_at: Option<Millis>,
    /// Verification deadline missed.
    pub verification_overdue: bool,
    /// Follow-up deadline missed.
    pub followup_overdue: bool,
    /// Flagged for the Ombudsman.
    pub escalated: bool,
    /// Why it was archived.
    pub archive_reason: Option<ArchiveReason>,
    /// Id of the original when archived as a duplicate.
    pub duplicate_of: Option<String>,
    /// Rating 1..=5.
    pub rating_score: Option<i64>,
    /// Rating comment.
    pub rating_comment: Option<String>,
    /// Reporter account that filed it.
    pub reporter_user_id: Option<String>,
    /// Officer who logged it on a citizen's behalf.
    pub created_by: Option<String>,
    /// Optimistic-concurrency version, from 1.
    pub version: i64,
}

impl Report {
    /// The deadline that applies in the current status.
    pub fn current_due(&self) -> Option<Millis> {
        match self.status {
            ReportStatus::Submitted => self.verification_due_at,
            ReportStatus::Verified | ReportStatus::InProgress => self.followup_due_at,
            ReportStatus::Responded => self.autocomplete_at,
            _ => None,
        }
    }

    /// Whether the deadline of the current status has been missed.
    pub fn is_overdue(&self) -> bool {
        match self.status {
            ReportStatus::Submitted => self.verification_overdue,
            ReportStatus::Verified | ReportStatus::InProgress => self.followup_overdue,
            _ => false,
        }
    }
}

/// Who filed a non-anonymous report. Kept apart from the report so that it can be erased alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReporterIdentity {
    /// Name.
    pub name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

impl ReporterIdentity {
    /// Nothing was given.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.email.is_none()
    }
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The node itself (deadline worker).
    System,
    /// The citizen who filed the report, proven by the tracking secret or their account.
    Reporter {
        /// Their account, if they used one.
        user_id: Option<String>,
    },
    /// A logged-in account.
    User(UserRef),
}

/// The parts of a user that authorisation and the timeline need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// User id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Agency subtree for scoped roles.
    pub agency_id: Option<String>,
    /// Materialised path of that agency.
    pub agency_path: Option<String>,
}

impl Actor {
    /// Role as recorded on the timeline (`system`, `reporter`, or the user's role).
    pub fn role_str(&self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Reporter { .. } => "reporter",
            Self::User(u) => u.role.as_str(),
        }
    }
}

/// One immutable timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRecord {
    /// Report id.
    pub report_id: String,
    /// Position in the timeline; assigned by storage on append.
    pub seq: i64,
    /// When.
    pub at: Millis,
    /// What.
    pub action: TimelineAction,
    /// `system`, `reporter` or a role id.
    pub actor_role: String,
    /// User id of a staff actor.
    pub actor_id: Option<String>,
    /// Display name of a staff actor.
    pub actor_name: Option<String>,
    /// Agency the report was with, or the acting officer's agency.
    pub agency_id: Option<String>,
    /// Status before.
    pub from_status: Option<ReportStatus>,
    /// Status after.
    pub to_status: Option<ReportStatus>,
    /// Free text.
    pub note: Option<String>,
}

/// An agency as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyRecord {
    /// Id.
    pub id: String,
    /// Parent id.
    pub parent_id: Option<String>,
    /// `/root/.../id/`.
    pub path: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Region code.
    pub region_code: Option<String>,
    /// Receives reports.
    pub active: bool,
    /// Created at.
    pub created_at: Millis,
    /// `None` for this node's own agencies; otherwise the node that hosts it.
    pub node_id: Option<String>,
}

/// A user account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Agency for scoped roles.
    pub agency_id: Option<String>,
    /// Can log in.
    pub active: bool,
    /// Created at.
    pub created_at: Millis,
    /// Where the account's own notices go (new disposition, deadline near, overdue), if given.
    pub email: Option<String>,
    /// A phone number to reach the officer, if given.
    pub phone: Option<String>,
    /// The account unsubscribed from its notices.
    pub notices_off: bool,
}

/// A login session or an API token; only the sha256 of the token is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Hex sha256 of the bearer token.
    pub token_hash: String,
    /// Owner.
    pub user_id: String,
    /// `session` or `api_token`.
    pub kind: String,
    /// What an API token is for.
    pub label: Option<String>,
    /// Created at.
    pub created_at: Millis,
    /// Expires at.
    pub expires_at: Millis,
    /// Last used at (the idle timeout counts from here).
    pub last_seen_at: Millis,
}

/// Sort order of report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportOrder {
    /// Newest first.
    #[default]
    Newest,
    /// Most urgent first: the current deadline ascending, reports without one last.
    Deadline,
}

/// What to list. Every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    /// Any of these statuses (empty: any).
    pub statuses: Vec<ReportStatus>,
    /// Kind.
    pub kind: Option<ReportKind>,
    /// Category id.
    pub category: Option<String>,
    /// Exact agency.
    pub agency_id: Option<String>,
    /// Agency subtree (materialised path prefix) the viewer is limited to.
    pub agency_path_prefix: Option<String>,
    /// Only what the public may see: not confidential, not archived.
    pub public_only: bool,
    /// Full-text query.
    pub query: Option<String>,
    /// Only reports whose current deadline was missed.
    pub overdue_only: bool,
    /// Only escalated reports.
    pub escalated_only: bool,
    /// Reports of one reporter account.
    pub reporter_user_id: Option<String>,
    /// Region code prefix.
    pub region_prefix: Option<String>,
    /// Only reports this node owns: held with no ownership row (never federated) or owned by this node id (a
    /// report that moved to another node leaves the worklist of the node it left).
    pub owned_by: Option<String>,
    /// Order.
    pub order: ReportOrder,
    /// Page size.
    pub limit: i64,
    /// Page start.
    pub offset: i64,
}

/// A file attached to a report: the bytes live content-addressed under the data directory
/// (`attachments/<sha256[0..2]>/<sha256>`), this row says which report they belong to and what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    /// Report id.
    pub report_id: String,
    /// Hex sha256 of the stored bytes (after metadata stripping).
    pub sha256: String,
    /// Media type decided from the magic bytes (`image/jpeg`, `image/png`, `application/pdf`).
    pub media_type: String,
    /// Size of the stored bytes.
    pub size_bytes: i64,
    /// File name as the uploader gave it, cleaned for display.
    pub file_name: String,
    /// `reporter` or `staff`.
    pub added_by: String,
    /// When.
    pub added_at: Millis,
}
