//! Which notices an event of this node's own log calls for: a pure function of the change, the report and
//! what the reporter gave, so the rules sit in one place and are unit-tested. The worker runs it only for
//! reports this node owns; the addresses themselves are never read here.

use lapor_schemas::{Channel, ReportStatus, TimelineAction};

use crate::domain::{Millis, Report};
use crate::storage::notices::{CHANNEL_EMAIL, CHANNEL_SMS};
use crate::storage::NewNotice;

/// The change an event made, as the notification rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<'a> {
    /// Event id.
    pub event_id: &'a str,
    /// What happened.
    pub action: TimelineAction,
    /// Status before.
    pub from_status: Option<ReportStatus>,
    /// Status after.
    pub to_status: Option<ReportStatus>,
    /// When (the timeline entry's time).
    pub at: Millis,
}

/// What the rules may use besides the change and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reach<'a> {
    /// Email notices are on.
    pub email: bool,
    /// SMS notices are on.
    pub sms: bool,
    /// SMS goes to every reporter who gave a number, not only to those who filed by SMS.
    pub sms_every_phone: bool,
    /// The reporter gave an email address.
    pub reporter_email: bool,
    /// The reporter gave a phone number.
    pub reporter_phone: bool,
    /// The agency the report is with has a mailbox configured.
    pub agency_mailbox: Option<&'a str>,
    /// The administrators' mailbox is configured.
    pub admin_mailbox: bool,
    /// The accounts (ids) of the officers of the agency the report is with who gave an email address and
    /// did not unsubscribe.
    pub officers: &'a [String],
}

/// The notices `change` of `report` calls for. Anonymous reporters get none; officers still hear about
/// the report's deadlines.
pub fn notices(change: &Change<'_>, report: &Report, reach: &Reach<'_>) -> Vec<NewNotice> {
    use TimelineAction as A;
    let mut out = Vec::new();
    let mut push = |kind: &str, channel: &str, recipient: String| {
        out.push(NewNotice {
            id: ulid::Ulid::new().to_string(),
            dedup: format!("{}:{channel}:{recipient}", change.event_id),
            report_id: report.id.clone(),
            kind: kind.to_owned(),
            channel: channel.to_owned(),
            recipient,
            event_id: Some(change.event_id.to_owned()),
            entry_at: Some(change.at),
        });
    };
    let reporter = !report.anonymous;
    if reach.email && reach.reporter_email && reporter {
        let kind = match change.action {
            A::Created => Some("filed"),
            A::Verified => Some("verified"),
            A::Responded => Some("followup"),
            A::Accepted | A::AutoCompleted => Some("completed"),
            // The reporter is asked whether the report may go to the Ombudsman (PROTOCOL 9.6).
            A::Escalated => Some("ombudsman"),
            _ => None,
        };
        if let Some(kind) = kind {
            push(kind, CHANNEL_EMAIL, "reporter".into());
        }
    }
    let sms_reporter = reach.sms
        && reach.reporter_phone
        && reporter
        && (report.channel == Channel::Sms || reach.sms_every_phone);
    if sms_reporter && change.action != A::Created {
        let status_changed = change.to_status.is_some() && change.to_status != change.from_status;
        if change.action == A::Responded {
            push("followup", CHANNEL_SMS, "reporter".into());
        } else if change.action == A::Escalated {
            push("ombudsman", CHANNEL_SMS, "reporter".into());
        } else if status_changed {
            push("status", CHANNEL_SMS, "reporter".into());
        }
    }
    if reach.email {
        let officer_kind = match change.action {
            A::Verified => Some("disposition"),
            A::FollowupOverdue => Some("overdue"),
            _ => None,
        };
        if let (Some(kind), Some(agency)) = (officer_kind, report.agency_id.as_deref()) {
            if reach.agency_mailbox.is_some() {
                push(kind, CHANNEL_EMAIL, format!("agency:{agency}"));
            }
            for officer in reach.officers {
                push(kind, CHANNEL_EMAIL, format!("user:{officer}"));
            }
        }
        if change.action == A::VerificationOverdue && reach.admin_mailbox {
            push("overdue", CHANNEL_EMAIL, "admin".into());
        }
    }
    out
}

/// A warning to the agency that a report's follow-up is due within one working day, if it is: the report
/// waits for the agency (verified or in progress), is not overdue yet, and its deadline falls before the end
/// of the next working day (`horizon`). Recorded once per deadline.
pub fn deadline_warning(report: &Report, now: Millis, horizon: Millis) -> Option<NewNotice> {
    let agency = report.agency_id.as_deref()?;
    deadline_for(report, now, horizon, format!("agency:{agency}"))
}

/// [`deadline_warning`] for each of the agency's officers (`user:<id>`) instead of its mailbox.
pub fn officer_deadline_warnings(
    report: &Report,
    now: Millis,
    horizon: Millis,
    officers: &[String],
) -> Vec<NewNotice> {
    officers
        .iter()
        .filter_map(|o| deadline_for(report, now, horizon, format!("user:{o}")))
        .collect()
}

fn deadline_for(
    report: &Report,
    now: Millis,
    horizon: Millis,
    recipient: String,
) -> Option<NewNotice> {
    let due = report.followup_due_at?;
    let waiting = matches!(
        report.status,
        ReportStatus::Verified | ReportStatus::InProgress
    );
    if !waiting || report.followup_overdue || due <= now || due > horizon {
        return None;
    }
    report.agency_id.as_deref()?;
    Some(NewNotice {
        id: ulid::Ulid::new().to_string(),
        dedup: format!("deadline:{}:{due}:{CHANNEL_EMAIL}:{recipient}", report.id),
        report_id: report.id.clone(),
        kind: "deadline".into(),
        channel: CHANNEL_EMAIL.into(),
        recipient,
        event_id: None,
        entry_at: Some(due),
    })
}

#[cfg(test)]
mod tests;
