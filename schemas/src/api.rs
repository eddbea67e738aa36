//! Request and response bodies of the JSON API under `/api/v1`.
//!
//! Request types reject unknown fields: a misspelt field is an error the client hears about, never data
//! silently dropped. Times in responses are RFC 3339 in the node's time zone (WIB, WITA or WIT).

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ArchiveReason, Channel, ReportKind, ReportStatus, Role, TimelineAction};

/// A point given by a citizen, in WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude in degrees, -90..=90.
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    pub lon: f64,
}

/// Who filed a report. Hidden from everyone when the report is anonymous (then it is not stored at all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reporter {
    /// Name as on the KTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Mobile number, e.g. `+6281234567890`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `POST /api/v1/reports`: file a report (the core contract of DESIGN section 6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReport {
    /// Complaint, aspiration or information request.
    pub kind: ReportKind,
    /// Short summary, 5..=200 characters.
    pub title: String,
    /// What happened, 10..=20000 characters.
    pub body: String,
    /// Category id from `GET /api/v1/categories`.
    #[serde(default)]
    pub category: Option<String>,
    /// The agency the citizen thinks is responsible, if known.
    #[serde(default)]
    pub agency_id: Option<String>,
    /// Kemendagri region code, e.g. `53.71` or `53.71.01.1001`.
    #[serde(default)]
    pub region_code: Option<String>,
    /// Where it happened.
    #[serde(default)]
    pub location: Option<Location>,
    /// Street address or landmark.
    #[serde(default)]
    pub address: Option<String>,
    /// The day it happened.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub incident_date: Option<NaiveDate>,
    /// Hide the reporter's identity from everyone, including the agency.
    #[serde(default)]
    pub anonymous: bool,
    /// Hide the whole report from the public.
    #[serde(default)]
    pub confidential: bool,
    /// Who files it; ignored (and not stored) when `anonymous` is true.
    #[serde(default)]
    pub reporter: Option<Reporter>,
    /// Officers only: the channel the report came in by when logged on a citizen's behalf
    /// (`phone`, `whatsapp`, `walk_in`, `letter`).
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// Answer to a successful `POST /api/v1/reports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedReport {
    /// Permanent report id (`<node id>:<ULID>`).
    pub id: String,
    /// Short code the citizen tracks the report with.
    pub tracking_code: String,
    /// Secret shown once; needed to see a confidential report and to reply, accept or rate.
    pub tracking_secret: String,
    /// Always `submitted`.
    pub status: ReportStatus,
    /// When an admin must have verified it.
    pub verification_due_at: DateTime<FixedOffset>,
}

/// Deadlines of a report, in the node's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deadlines {
    /// Verification and disposition (3 working days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_due_at: Option<DateTime<FixedOffset>>,
    /// Agency follow-up (5 working days after disposition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followup_due_at: Option<DateTime<FixedOffset>>,
    /// Automatic completion when the reporter does not reply (10 working days after the follow-up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autocomplete_at: Option<DateTime<FixedOffset>>,
    /// Escalation to the Ombudsman (60 days after verification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation_at: Option<DateTime<FixedOffset>>,
}

/// One immutable entry of a report's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// Position in the report's timeline, from 1.
    pub seq: i64,
    /// When it happened.
    pub at: DateTime<FixedOffset>,
    /// What happened.
    pub action: TimelineAction,
    /// Indonesian label of the action.
    pub label: String,
    /// Who did it, as the viewer may see it (a role, an agency, or a person's display name for staff).
    pub actor: String,
    /// Status before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_status: Option<ReportStatus>,
    /// Status after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_status: Option<ReportStatus>,
    /// Free text: the follow-up, the question, the reply, the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Rating a reporter gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RatingView {
    /// 1 (very poor) to 5 (very good).
    pub score: i64,
    /// Optional comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A report as its viewer may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportView {
    /// Permanent report id.
    pub id: String,
    /// Tracking code.
    pub tracking_code: String,
    /// Kind of report.
    pub kind: ReportKind,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Category id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Agency it is dispositioned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
    /// That agency's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency_name: Option<String>,
    /// Region code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    /// Location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Incident date.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub incident_date: Option<NaiveDate>,
    /// Reporter identity is hidden.
    pub anonymous: bool,
    /// Report is hidden from the public.
    pub confidential: bool,
    /// How it came in.
    pub channel: Channel,
    /// Current status.
    pub status: ReportStatus,
    /// Indonesian label of the status.
    pub status_label: String,
    /// When it was filed.
    pub submitted_at: DateTime<FixedOffset>,
    /// Last change.
    pub updated_at: DateTime<FixedOffset>,
    /// Deadlines that apply now.
    pub deadlines: Deadlines,
    /// The verification deadline passed before it was verified.
    pub verification_overdue: bool,
    /// The follow-up deadline passed before the agency responded.
    pub followup_overdue: bool,
    /// Flagged for escalation to the Ombudsman.
    pub escalated: bool,
    /// Why it was archived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_reason: Option<ArchiveReason>,
    /// The original, when archived as a duplicate (tracking code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// The reporter's rating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<RatingView>,
    /// Reporter identity, only for staff allowed to see it on a non-anonymous report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter: Option<Reporter>,
    /// The node that owns the report now and acts on it.
    pub owner_node: String,
    /// That node's name.
    pub owner_name: String,
    /// Ownership generation: 0 where it was filed, +1 per transfer between nodes.
    pub epoch: i64,
    /// The latest transfer between nodes, if there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferView>,
    /// Timeline, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// A transfer of a report between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransferView {
    /// Id of the event that opened it.
    pub offer_id: String,
    /// Node giving the report up.
    pub from_node: String,
    /// Node taking it over.
    pub to_node: String,
    /// The target's name.
    pub to_name: String,
    /// The epoch it creates.
    pub epoch: i64,
    /// `offered`, `forwarded`, `accepted`, `committed`, `refused` or `expired`.
    pub state: String,
    /// `routing`, `not_authority`, `misrouted` or `ombudsman` (an escalation the reporter consented to).
    pub reason: String,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `POST /api/v1/reports/{key}/transfer`: move a report to the node that must act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// Target node id. Without it (and without `agency_id`), the report goes up to the hub.
    #[serde(default)]
    pub to_node: Option<String>,
    /// An agency hosted by another node: the report goes to that node, suggested for that agency.
    #[serde(default)]
    pub agency_id: Option<String>,
    /// `misrouted` (default) or `not_authority`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Why, for the receiving admin.
    pub note: String,
}

/// A page of reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportPage {
    /// Reports on this page.
    pub items: Vec<ReportSummary>,
    /// Total number of matching reports.
    pub total: i64,
    /// Offset of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<i64>,
}

/// One line of a report list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportSummary {
    /// Permanent report id.
    pub id: String,
    /// Tracking code.
    pub tracking_code: String,
    /// Kind.
    pub kind: ReportKind,
    /// Title.
    pub title: String,
    /// Category id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Agency id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
    /// Status.
    pub status: ReportStatus,
    /// Indonesian label of the status.
    pub status_label: String,
    /// Hidden from the public (only staff lists show these).
    pub confidential: bool,
    /// When it was filed.
    pub submitted_at: DateTime<FixedOffset>,
    /// The deadline that applies now, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<FixedOffset>>,
    /// A deadline passed.
    pub overdue: bool,
    /// Flagged for escalation.
    pub escalated: bool,
}

/// `POST .../verify`: verify and disposition to an agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The agency that must act.
    pub agency_id: String,
    /// Category, when the admin corrects or sets it.
    #[serde(default)]
    pub category: Option<String>,
    /// A clearer title written by the admin.
    #[serde(default)]
    pub title: Option<String>,
    /// Raise anonymity (may only be raised).
    #[serde(default)]
    pub anonymous: Option<bool>,
    /// Raise confidentiality (may only be raised).
    #[serde(default)]
    pub confidential: Option<bool>,
    /// Note for the agency.
    #[serde(default)]
    pub note: Option<String>,
}

/// A request whose only content is a text (hold question, not-authority reason, follow-up, reply...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The text.
    pub note: String,
}

/// `POST /api/v1/reports/{key}/ombudsman`: the reporter's answer to an Ombudsman escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// `true`: pass the report to the Ombudsman; `false`: keep it with its owner.
    pub consent: bool,
}

/// A request with an optional text (acknowledge, accept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionalNoteRequest {
    /// The text.
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST .../archive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRequest {
    /// Why.
    pub reason: ArchiveReason,
    /// Tracking code or id of the original, required when `reason` is `duplicate`.
    #[serde(default)]
    pub duplicate_of: Option<String>,
    /// Explanation.
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST .../rate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    /// 1..=5.
    pub score: i64,
    /// Optional comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST .../privacy`: raise privacy flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyRequest {
    /// Make the reporter anonymous (erases the stored identity).
    #[serde(default)]
    pub anonymous: Option<bool>,
    /// Hide the report from the public.
    #[serde(default)]
    pub confidential: Option<bool>,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

/// An agency (instansi) or one of its units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Agency {
    /// Stable id, lowercase letters, digits and dashes (e.g. `dinas-pupr-kupang`).
    pub id: String,
    /// Parent agency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Name.
    pub name: String,
    /// Kind: `ministry`, `national_body`, `bumn`, `province`, `regency`, `city`, `office`, `unit`.
    pub kind: String,
    /// Kemendagri region code it serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    /// Still receives reports.
    pub active: bool,
    /// The node hosting it, when it is not this node (learned from the federation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
}

/// `POST /api/v1/agencies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgency {
    /// Stable id, lowercase letters, digits and dashes.
    pub id: String,
    /// Parent agency.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Name.
    pub name: String,
    /// Kind (see [`Agency::kind`]).
    pub kind: String,
    /// Region code.
    #[serde(default)]
    pub region_code: Option<String>,
}

/// `PATCH /api/v1/agencies/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgency {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New region code.
    #[serde(default)]
    pub region_code: Option<String>,
    /// Enable or disable.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A report category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Category {
    /// Stable id (e.g. `infrastruktur`).
    pub id: String,
    /// Indonesian name.
    pub name_id: String,
    /// English name.
    pub name_en: String,
    /// Offered to citizens.
    pub active: bool,
}

/// `POST /api/v1/categories` (create) and `PATCH /api/v1/categories/{id}` (update; omitted fields stay).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    /// Stable id; required on create, ignored on update.
    #[serde(default)]
    pub id: Option<String>,
    /// Indonesian name.
    #[serde(default)]
    pub name_id: Option<String>,
    /// English name.
    #[serde(default)]
    pub name_en: Option<String>,
    /// Offered to citizens.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A user account as shown to staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Stable id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Name shown in the console.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Agency subtree, for agency-scoped roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
    /// Can log in.
    pub active: bool,
    /// Where the account's own notices go (new disposition, deadline near, overdue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A phone number to reach the account's holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Whether the account receives its notices by email (false after it unsubscribed).
    #[serde(default)]
    pub notices: bool,
}

/// `POST /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name: 3..=64 of lowercase letters, digits, `.`, `_`, `-`.
    pub username: String,
    /// At least 10 characters.
    pub password: String,
    /// Name shown in the console.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Required for `agency_officer` and `executive`.
    #[serde(default)]
    pub agency_id: Option<String>,
    /// Where the account's own notices go.
    #[serde(default)]
    pub email: Option<String>,
    /// A phone number of 8..16 digits.
    #[serde(default)]
    pub phone: Option<String>,
}

/// `PATCH /api/v1/users/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New password.
    #[serde(default)]
    pub password: Option<String>,
    /// Enable or disable login.
    #[serde(default)]
    pub active: Option<bool>,
    /// New email address for the account's notices; `""` removes it.
    #[serde(default)]
    pub email: Option<String>,
    /// New phone number; `""` removes it.
    #[serde(default)]
    pub phone: Option<String>,
    /// Receive the account's notices by email (`false` unsubscribes).
    #[serde(default)]
    pub notices: Option<bool>,
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Answer to a login or a token request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// Bearer token (`Authorization: Bearer ...`); for logins it is also set as the session cookie.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<FixedOffset>,
    /// The account.
    pub user: User,
}

/// `POST /api/v1/auth/tokens`: an API token for an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// What the token is for.
    pub label: String,
    /// Lifetime in days, 1..=365 (default 90).
    #[serde(default)]
    pub days: Option<i64>,
}

/// `POST /api/v1/auth/register`: a citizen opens a reporter account (optional; tracking works without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Login name: 3..=64 of lowercase letters, digits, `.`, `_`, `-`.
    pub username: String,
    /// At least 10 characters.
    pub password: String,
    /// Name shown on the reporter's own pages.
    pub display_name: String,
}

/// `POST /api/v1/auth/bootstrap`: create the first admin with the one-time secret printed at first start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRequest {
    /// The one-time bootstrap secret.
    pub secret: String,
    /// Login name of the first admin.
    pub username: String,
    /// Password, at least 10 characters.
    pub password: String,
    /// Display name.
    pub display_name: String,
}

/// `GET /api/v1/stats`: counts for a dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    /// Reports counted.
    pub total: i64,
    /// Per status id.
    pub by_status: Vec<Count>,
    /// Per category id.
    pub by_category: Vec<Count>,
    /// Reports whose current deadline has passed.
    pub overdue: i64,
    /// Reports flagged for escalation.
    pub escalated: i64,
}

/// One bucket of a statistic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Count {
    /// The key (a status id, a category id...).
    pub key: String,
    /// How many.
    pub count: i64,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` or a reason.
    pub status: String,
    /// This node's id.
    pub node: String,
    /// Software version.
    pub version: String,
}

/// One line of the audit log (`GET /api/v1/audit`): who did what, when and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Position in the log; newer lines have larger ids.
    pub id: i64,
    /// When, in the node's time zone.
    pub at: DateTime<FixedOffset>,
    /// Account that acted; absent for an anonymous request (a registration, a failed login).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// Its name at the time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// Its role at the time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_role: Option<String>,
    /// What was done: `report.verify`, `identity.read`, `user.create`, `login.failed`, ...
    pub action: String,
    /// Kind of what it was done to: `report`, `user`, `agency`, `category`, `token`, `audit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_kind: Option<String>,
    /// Id of what it was done to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// Short detail (fields changed, a role); never a secret or a reporter identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Client address of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// Lines on this page.
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page, when there may be one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}
