//! Intake's pure half, the twin of [`super::lifecycle::apply`]: a checked submission becomes the submitted
//! [`Report`] and its first timeline entry. Every channel (web, JSON API, SMS, Open311, an officer logging a
//! phone call) ends here, so a report filed by SMS starts exactly like one filed on the portal.

use chrono::NaiveDate;
use lapor_schemas::{Channel, ReportKind, ReportStatus, TimelineAction};

use super::{lifecycle, Millis, Report, TimelineRecord, UserRef, WorkCalendar};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest body, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;
/// Longest address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 500;

/// Who files a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitter {
    /// A citizen, with their reporter account when logged in.
    Citizen {
        /// Reporter account id.
        account: Option<String>,
    },
    /// An officer logging a report on a citizen's behalf (or filing one themselves).
    Staff(UserRef),
}

/// A submission whose fields were checked and cleaned by the application layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// `<node id>:<ULID>`.
    pub id: String,
    /// Fresh tracking code.
    pub tracking_code: String,
    /// sha256 (hex) of the fresh tracking secret.
    pub secret_hash: String,
    /// Kind.
    pub kind: ReportKind,
    /// Title, trimmed.
    pub title: String,
    /// Body, trimmed.
    pub body: String,
    /// Active category.
    pub category_id: Option<String>,
    /// The agency the citizen chose.
    pub agency_id: Option<String>,
    /// Region code (given, or found from the location).
    pub region_code: Option<String>,
    /// Latitude and longitude in microdegrees.
    pub location_e6: Option<(i64, i64)>,
    /// Address text.
    pub address: Option<String>,
    /// Incident date, not in the future.
    pub incident_date: Option<NaiveDate>,
    /// Identity hidden.
    pub anonymous: bool,
    /// Hidden from the public.
    pub confidential: bool,
    /// How it came in.
    pub channel: Channel,
    /// Who files it.
    pub submitter: Submitter,
}

/// The submitted report and its `created` entry: verification due in 3 working days, version 1.
pub fn submit(s: Submission, now: Millis, cal: &WorkCalendar) -> (Report, TimelineRecord) {
    let (reporter_user_id, created_by, actor) = match &s.submitter {
        // An anonymous report keeps no link to the account that filed it: the reporter follows it with the
        // tracking code and secret like anyone else.
        Submitter::Citizen { account } if !s.anonymous => (account.clone(), None, None),
        Submitter::Citizen { .. } => (None, None, None),
        Submitter::Staff(u) => (None, Some(u.id.clone()), Some(u)),
    };
    let report = Report {
        id: s.id,
        tracking_code: s.tracking_code,
        secret_hash: s.secret_hash,
        kind: s.kind,
        title: s.title,
        body: s.body,
        category_id: s.category_id,
        agency_id: s.agency_id,
        // The agency a citizen chose is a suggestion until an admin verifies and dispositions the report: no
        // agency path, so no officer sees it before the admin could raise privacy or redirect it.
        agency_path: None,
        region_code: s.region_code,
        lat_e6: s.location_e6.map(|l| l.0),
        lon_e6: s.location_e6.map(|l| l.1),
        address: s.address,
        incident_date: s.incident_date,
        anonymous: s.anonymous,
        confidential: s.confidential,
        channel: s.channel,
        status: ReportStatus::Submitted,
        submitted_at: now,
        updated_at: now,
        verified_at: None,
        responded_at: None,
        closed_at: None,
        verification_due_at: Some(cal.add_working_days(now, lifecycle::VERIFY_WORKING_DAYS)),
        followup_due_at: None,
        autocomplete_at: None,
        escalation_at: None,
        verification_overdue: false,
        followup_overdue: false,
        escalated: false,
        archive_reason: None,
        duplicate_of: None,
        rating_score: None,
        rating_comment: None,
        reporter_user_id,
        created_by,
        version: 1,
    };
    let entry = TimelineRecord {
        report_id: report.id.clone(),
        seq: 1,
        at: now,
        action: TimelineAction::Created,
        actor_role: actor.map_or("reporter", |u| u.role.as_str()).into(),
        actor_id: actor.map(|u| u.id.clone()),
        actor_name: actor.map(|u| u.display_name.clone()),
        agency_id: None,
        from_status: None,
        to_status: Some(ReportStatus::Submitted),
        note: s
            .channel
            .is_assisted()
            .then(|| format!("Dicatat oleh petugas dari kanal {}", s.channel.as_str())),
    };
    (report, entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NodeZone;
    use lapor_schemas::Role;

    fn submission(channel: Channel, submitter: Submitter) -> Submission {
        Submission {
            id: "kupangkota:01J".into(),
            tracking_code: "KPG-0000000000".into(),
            secret_hash: "ab".into(),
            kind: ReportKind::Complaint,
            title: "Jalan rusak".into(),
            body: "Jalan berlubang di depan pasar".into(),
            category_id: None,
            agency_id: Some("dinas".into()),
            region_code: Some("53.71".into()),
            location_e6: Some((-10_170_000, 123_600_000)),
            address: None,
            incident_date: None,
            anonymous: false,
            confidential: false,
            channel,
            submitter,
        }
    }

    #[test]
    fn citizen_and_officer_submissions() {
        let cal = WorkCalendar::new(NodeZone::WITA, Vec::new());
        // Monday 2026-11-23 09:00 WIB.
        let now = 1_795_399_200_000;
        let (r, e) = submit(
            submission(
                Channel::Web,
                Submitter::Citizen {
                    account: Some("u1".into()),
                },
            ),
            now,
            &cal,
        );
        assert_eq!(r.status, ReportStatus::Submitted);
        assert_eq!(r.version, 1);
        assert_eq!((r.lat_e6, r.lon_e6), (Some(-10_170_000), Some(123_600_000)));
        assert_eq!(r.reporter_user_id.as_deref(), Some("u1"));
        // The chosen agency is a suggestion: no agency path, no officer sees it before verification.
        assert_eq!(
            (r.agency_id.as_deref(), r.agency_path.as_deref()),
            (Some("dinas"), None)
        );
        // Filed anonymously while logged in: no link to the account.
        let mut anon = submission(
            Channel::Web,
            Submitter::Citizen {
                account: Some("u1".into()),
            },
        );
        anon.anonymous = true;
        assert_eq!(submit(anon, now, &cal).0.reporter_user_id, None);
        assert!(r.verification_due_at.is_some_and(|d| d > now));
        assert_eq!(
            (e.actor_role.as_str(), e.note.as_deref()),
            ("reporter", None)
        );

        let officer = UserRef {
            id: "o1".into(),
            display_name: "Ani".into(),
            role: Role::AgencyOfficer,
            agency_id: Some("dinas".into()),
            agency_path: Some("/dinas/".into()),
        };
        let (r, e) = submit(
            submission(Channel::Phone, Submitter::Staff(officer)),
            now,
            &cal,
        );
        assert_eq!(
            (r.reporter_user_id, r.created_by.as_deref()),
            (None, Some("o1"))
        );
        assert_eq!(e.actor_name.as_deref(), Some("Ani"));
        assert_eq!(
            e.note.as_deref(),
            Some("Dicatat oleh petugas dari kanal phone")
        );
    }
}
