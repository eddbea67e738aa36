#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod api;
pub mod events;
pub mod problem;
pub mod stats;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a citizen files: the three classes LAPOR! uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Pengaduan: something went wrong with a public service.
    Complaint,
    /// Aspirasi: a suggestion or wish.
    Aspiration,
    /// Permintaan informasi: a request for public information.
    InformationRequest,
}

impl ReportKind {
    /// Every kind, in display order.
    pub const ALL: [Self; 3] = [Self::Complaint, Self::Aspiration, Self::InformationRequest];

    /// Stable id as stored and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complaint => "complaint",
            Self::Aspiration => "aspiration",
            Self::InformationRequest => "information_request",
        }
    }

    /// Parses the stable id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Indonesian label.
    pub fn label_id(self) -> &'static str {
        match self {
            Self::Complaint => "Pengaduan",
            Self::Aspiration => "Aspirasi",
            Self::InformationRequest => "Permintaan Informasi",
        }
    }
}

/// Where a report stands in its lifecycle (DESIGN section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Belum terverifikasi: filed, waiting for an admin.
    Submitted,
    /// Terverifikasi: verified and dispositioned to an agency.
    Verified,
    /// Tertunda: the admin needs more from the reporter.
    OnHold,
    /// Sedang diproses: the agency acknowledged it.
    InProgress,
    /// Ditindaklanjuti: the agency posted its follow-up.
    Responded,
    /// Selesai: accepted by the reporter or closed after the reply window.
    Completed,
    /// Diarsipkan: invalid, spam or duplicate.
    Archived,
}

impl ReportStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 7] = [
        Self::Submitted,
        Self::Verified,
        Self::OnHold,
        Self::InProgress,
        Self::Responded,
        Self::Completed,
        Self::Archived,
    ];

    /// Stable id as stored and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Verified => "verified",
            Self::OnHold => "on_hold",
            Self::InProgress => "in_progress",
            Self::Responded => "responded",
            Self::Completed => "completed",
            Self::Archived => "archived",
        }
    }

    /// Parses the stable id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Indonesian label shown to citizens and officers.
    pub fn label_id(self) -> &'static str {
        match self {
            Self::Submitted => "Belum terverifikasi",
            Self::Verified => "Terverifikasi",
            Self::OnHold => "Tertunda",
            Self::InProgress => "Sedang diproses",
            Self::Responded => "Ditindaklanjuti",
            Self::Completed => "Selesai",
            Self::Archived => "Diarsipkan",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Self::Submitted => "Not yet verified",
            Self::Verified => "Verified",
            Self::OnHold => "On hold",
            Self::InProgress => "In progress",
            Self::Responded => "Followed up",
            Self::Completed => "Completed",
            Self::Archived => "Archived",
        }
    }

    /// A report in this status will not change any more (except for a rating).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Archived)
    }
}

impl std::fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a report reached the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The web portal or the JSON API used by a citizen.
    Web,
    /// An integration using an API token.
    Api,
    /// SMS through the Kannel gateway.
    Sms,
    /// An `Open311` `GeoReport` v2 client.
    Open311,
    /// Logged by an officer after a phone call.
    Phone,
    /// Logged by an officer from a `WhatsApp` message.
    Whatsapp,
    /// Logged by an officer for a citizen who came to the office.
    WalkIn,
    /// Logged by an officer from a letter or e-mail.
    Letter,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Self; 8] = [
        Self::Web,
        Self::Api,
        Self::Sms,
        Self::Open311,
        Self::Phone,
        Self::Whatsapp,
        Self::WalkIn,
        Self::Letter,
    ];

    /// Stable id as stored and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Api => "api",
            Self::Sms => "sms",
            Self::Open311 => "open311",
            Self::Phone => "phone",
            Self::Whatsapp => "whatsapp",
            Self::WalkIn => "walk_in",
            Self::Letter => "letter",
        }
    }

    /// Parses the stable id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Channels an officer may record when logging a report on a citizen's behalf.
    pub fn is_assisted(self) -> bool {
        matches!(
            self,
            Self::Phone | Self::Whatsapp | Self::WalkIn | Self::Letter
        )
    }
}

/// What a user account may do (DESIGN section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A citizen with an account.
    Reporter,
    /// Admin koordinator: verifies and dispositions for the node.
    Admin,
    /// Pejabat penghubung: acts for one agency subtree.
    AgencyOfficer,
    /// Agency head: read-only dashboards of an agency subtree.
    Executive,
    /// Oversight: reads everything, never reporter identities.
    Auditor,
    /// City IT: configuration, users, keys, peers.
    NodeOperator,
}

impl Role {
    /// Every role.
    pub const ALL: [Self; 6] = [
        Self::Reporter,
        Self::Admin,
        Self::AgencyOfficer,
        Self::Executive,
        Self::Auditor,
        Self::NodeOperator,
    ];

    /// Stable id as stored and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reporter => "reporter",
            Self::Admin => "admin",
            Self::AgencyOfficer => "agency_officer",
            Self::Executive => "executive",
            Self::Auditor => "auditor",
            Self::NodeOperator => "node_operator",
        }
    }

    /// Parses the stable id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Roles bound to one agency subtree.
    pub fn is_agency_scoped(self) -> bool {
        matches!(self, Self::AgencyOfficer | Self::Executive)
    }

    /// Roles that work inside the officer console.
    pub fn is_staff(self) -> bool {
        !matches!(self, Self::Reporter)
    }
}

/// Why an admin archived a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveReason {
    /// Not a public-service matter, or not understandable.
    Invalid,
    /// Advertising, abuse, nonsense.
    Spam,
    /// The same matter as another report (`duplicate_of` names it).
    Duplicate,
}

impl ArchiveReason {
    /// Stable id as stored and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Spam => "spam",
            Self::Duplicate => "duplicate",
        }
    }

    /// Parses the stable id.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Invalid, Self::Spam, Self::Duplicate]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// The kind of a timeline entry: one per lifecycle transition or contribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimelineAction {
    /// The report was filed.
    Created,
    /// An admin verified it and dispositioned it to an agency.
    Verified,
    /// An admin put it on hold with a question to the reporter.
    Held,
    /// The reporter supplied what was asked; the verification clock restarted.
    Supplemented,
    /// The agency said the matter is not within its authority.
    NotAuthority,
    /// The agency acknowledged it.
    Acknowledged,
    /// The agency posted its follow-up.
    Responded,
    /// The reporter replied to the follow-up; it went back to the agency.
    Replied,
    /// The reporter accepted the follow-up.
    Accepted,
    /// The reporter rated the handling.
    Rated,
    /// Closed automatically after the reply window.
    AutoCompleted,
    /// Archived as invalid, spam or duplicate.
    Archived,
    /// An admin raised the privacy flags.
    PrivacyRaised,
    /// The verification deadline passed.
    VerificationOverdue,
    /// The follow-up deadline passed.
    FollowupOverdue,
    /// Unresolved 60 days after verification: flagged for the Ombudsman.
    Escalated,
    /// Moved to the node that must act on it (a transfer between nodes committed).
    Transferred,
    /// The reporter agreed that the escalated report goes to the Ombudsman.
    OmbudsmanConsented,
    /// The reporter declined the Ombudsman escalation: the report stays with its owner.
    OmbudsmanDeclined,
}

impl TimelineAction {
    /// Every action.
    pub const ALL: [Self; 19] = [
        Self::Created,
        Self::Verified,
        Self::Held,
        Self::Supplemented,
        Self::NotAuthority,
        Self::Acknowledged,
        Self::Responded,
        Self::Replied,
        Self::Accepted,
        Self::Rated,
        Self::AutoCompleted,
        Self::Archived,
        Self::PrivacyRaised,
        Self::VerificationOverdue,
        Self::FollowupOverdue,
        Self::Escalated,
        Self::Transferred,
        Self::OmbudsmanConsented,
        Self::OmbudsmanDeclined,
    ];

    /// Stable id as stored and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Verified => "verified",
            Self::Held => "held",
            Self::Supplemented => "supplemented",
            Self::NotAuthority => "not_authority",
            Self::Acknowledged => "acknowledged",
            Self::Responded => "responded",
            Self::Replied => "replied",
            Self::Accepted => "accepted",
            Self::Rated => "rated",
            Self::AutoCompleted => "auto_completed",
            Self::Archived => "archived",
            Self::PrivacyRaised => "privacy_raised",
            Self::VerificationOverdue => "verification_overdue",
            Self::FollowupOverdue => "followup_overdue",
            Self::Escalated => "escalated",
            Self::Transferred => "transferred",
            Self::OmbudsmanConsented => "ombudsman_consented",
            Self::OmbudsmanDeclined => "ombudsman_declined",
        }
    }

    /// Parses the stable id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Indonesian label for the timeline.
    pub fn label_id(self) -> &'static str {
        match self {
            Self::Created => "Laporan diterima",
            Self::Verified => "Diverifikasi dan didisposisikan",
            Self::Held => "Ditunda: menunggu kelengkapan dari pelapor",
            Self::Supplemented => "Pelapor melengkapi laporan",
            Self::NotAuthority => "Bukan wewenang instansi",
            Self::Acknowledged => "Diterima instansi",
            Self::Responded => "Tindak lanjut instansi",
            Self::Replied => "Tanggapan pelapor",
            Self::Accepted => "Pelapor menerima tindak lanjut",
            Self::Rated => "Penilaian pelapor",
            Self::AutoCompleted => "Selesai otomatis",
            Self::Archived => "Diarsipkan",
            Self::PrivacyRaised => "Tingkat kerahasiaan dinaikkan",
            Self::VerificationOverdue => "Batas waktu verifikasi terlewati",
            Self::FollowupOverdue => "Batas waktu tindak lanjut terlewati",
            Self::Escalated => "Eskalasi ke Ombudsman: menunggu persetujuan pelapor",
            Self::Transferred => "Dialihkan ke kantor yang berwenang",
            Self::OmbudsmanConsented => "Pelapor setuju laporan diteruskan ke Ombudsman",
            Self::OmbudsmanDeclined => "Pelapor menolak penerusan ke Ombudsman",
        }
    }
}
