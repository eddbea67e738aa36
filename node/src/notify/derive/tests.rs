use lapor_schemas::{Channel, ReportKind, ReportStatus, TimelineAction};

use super::*;
use crate::domain::Report;

fn report(channel: Channel, anonymous: bool) -> Report {
    Report {
        id: "kupangkota-01JTEST".into(),
        tracking_code: "KPG-ABC123".into(),
        secret_hash: String::new(),
        kind: ReportKind::Complaint,
        title: "Jalan rusak".into(),
        body: "Jalan rusak di Oebobo".into(),
        category_id: None,
        agency_id: Some("dinas-pu".into()),
        agency_path: None,
        region_code: None,
        lat_e6: None,
        lon_e6: None,
        address: None,
        incident_date: None,
        anonymous,
        confidential: false,
        channel,
        status: ReportStatus::Verified,
        submitted_at: 0,
        updated_at: 0,
        verified_at: None,
        responded_at: None,
        closed_at: None,
        verification_due_at: None,
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
        reporter_user_id: None,
        created_by: None,
        version: 1,
    }
}

fn change(
    action: TimelineAction,
    from: Option<ReportStatus>,
    to: Option<ReportStatus>,
) -> Change<'static> {
    Change {
        event_id: "ev1",
        action,
        from_status: from,
        to_status: to,
        at: 5,
    }
}

fn all<'a>() -> Reach<'a> {
    Reach {
        email: true,
        sms: true,
        sms_every_phone: false,
        reporter_email: true,
        reporter_phone: true,
        agency_mailbox: Some("pu@kupang.go.id"),
        admin_mailbox: true,
        officers: &[],
    }
}

fn kinds(n: &[NewNotice]) -> Vec<(String, String, String)> {
    n.iter()
        .map(|x| (x.kind.clone(), x.channel.clone(), x.recipient.clone()))
        .collect()
}

#[test]
fn reporters_hear_the_four_steps_by_email() {
    use ReportStatus as S;
    let r = report(Channel::Web, false);
    for (action, kind) in [
        (TimelineAction::Created, "filed"),
        (TimelineAction::Verified, "verified"),
        (TimelineAction::Responded, "followup"),
        (TimelineAction::Accepted, "completed"),
        (TimelineAction::AutoCompleted, "completed"),
    ] {
        let n = notices(
            &change(action, Some(S::Submitted), Some(S::Verified)),
            &r,
            &all(),
        );
        assert!(
            kinds(&n).contains(&(kind.into(), "email".into(), "reporter".into())),
            "{action:?}: {n:?}"
        );
        // A web reporter gets no SMS unless every_phone.
        assert!(n.iter().all(|x| x.channel == "email"), "{n:?}");
    }
    let n = notices(
        &change(TimelineAction::Held, Some(S::Submitted), Some(S::OnHold)),
        &r,
        &all(),
    );
    assert!(n.iter().all(|x| x.recipient != "reporter"), "{n:?}");
}

#[test]
fn sms_reporters_hear_status_changes_and_the_followup() {
    use ReportStatus as S;
    let r = report(Channel::Sms, false);
    let n = notices(
        &change(TimelineAction::Held, Some(S::Submitted), Some(S::OnHold)),
        &r,
        &all(),
    );
    assert!(kinds(&n).contains(&("status".into(), "sms".into(), "reporter".into())));
    let n = notices(
        &change(
            TimelineAction::Responded,
            Some(S::InProgress),
            Some(S::Responded),
        ),
        &r,
        &all(),
    );
    assert!(kinds(&n).contains(&("followup".into(), "sms".into(), "reporter".into())));
    // Filing is answered by the inbound reply, not by a notice; a note without a status change neither.
    let n = notices(
        &change(TimelineAction::Created, None, Some(S::Submitted)),
        &r,
        &all(),
    );
    assert!(n.iter().all(|x| x.channel != "sms"), "{n:?}");
    let n = notices(
        &change(
            TimelineAction::PrivacyRaised,
            Some(S::Verified),
            Some(S::Verified),
        ),
        &r,
        &all(),
    );
    assert!(n.iter().all(|x| x.channel != "sms"), "{n:?}");
    // every_phone reaches web reporters too.
    let mut reach = all();
    reach.sms_every_phone = true;
    let n = notices(
        &change(TimelineAction::Held, Some(S::Submitted), Some(S::OnHold)),
        &report(Channel::Web, false),
        &reach,
    );
    assert!(kinds(&n).contains(&("status".into(), "sms".into(), "reporter".into())));
}

#[test]
fn anonymous_reporters_get_nothing_and_missing_addresses_nothing() {
    use ReportStatus as S;
    let r = report(Channel::Sms, true);
    let n = notices(
        &change(
            TimelineAction::Verified,
            Some(S::Submitted),
            Some(S::Verified),
        ),
        &r,
        &all(),
    );
    assert!(n.iter().all(|x| x.recipient != "reporter"), "{n:?}");
    let mut reach = all();
    reach.reporter_email = false;
    reach.reporter_phone = false;
    let n = notices(
        &change(
            TimelineAction::Verified,
            Some(S::Submitted),
            Some(S::Verified),
        ),
        &report(Channel::Sms, false),
        &reach,
    );
    assert!(n.iter().all(|x| x.recipient != "reporter"), "{n:?}");
}

#[test]
fn officers_hear_dispositions_and_overdue() {
    use ReportStatus as S;
    let r = report(Channel::Web, true);
    let n = notices(
        &change(
            TimelineAction::Verified,
            Some(S::Submitted),
            Some(S::Verified),
        ),
        &r,
        &all(),
    );
    assert_eq!(
        kinds(&n),
        vec![(
            "disposition".into(),
            "email".into(),
            "agency:dinas-pu".into()
        )]
    );
    let n = notices(
        &change(TimelineAction::FollowupOverdue, None, None),
        &r,
        &all(),
    );
    assert_eq!(
        kinds(&n),
        vec![("overdue".into(), "email".into(), "agency:dinas-pu".into())]
    );
    let n = notices(
        &change(TimelineAction::VerificationOverdue, None, None),
        &r,
        &all(),
    );
    assert_eq!(
        kinds(&n),
        vec![("overdue".into(), "email".into(), "admin".into())]
    );
    let mut reach = all();
    reach.agency_mailbox = None;
    let n = notices(
        &change(
            TimelineAction::Verified,
            Some(S::Submitted),
            Some(S::Verified),
        ),
        &r,
        &reach,
    );
    assert!(n.is_empty(), "{n:?}");
    // Dedup keys differ per channel and recipient and repeat for the same event.
    let a = notices(
        &change(
            TimelineAction::Verified,
            Some(S::Submitted),
            Some(S::Verified),
        ),
        &report(Channel::Sms, false),
        &all(),
    );
    let mut keys: Vec<_> = a.iter().map(|x| x.dedup.clone()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), a.len());
}

#[test]
fn deadline_warning_within_one_working_day() {
    let mut r = report(Channel::Web, false);
    r.followup_due_at = Some(1_000);
    assert!(deadline_warning(&r, 500, 2_000).is_some());
    assert!(
        deadline_warning(&r, 500, 900).is_none(),
        "beyond the horizon"
    );
    assert!(deadline_warning(&r, 1_500, 2_000).is_none(), "already past");
    r.followup_overdue = true;
    assert!(deadline_warning(&r, 500, 2_000).is_none());
    r.followup_overdue = false;
    r.status = ReportStatus::Responded;
    assert!(deadline_warning(&r, 500, 2_000).is_none());
}

#[test]
fn assigned_officers_hear_of_dispositions_overdue_and_deadlines() {
    let officers = ["u1".to_owned(), "u2".to_owned()];
    let reach = Reach {
        officers: &officers,
        agency_mailbox: None,
        ..all()
    };
    let mut r = report(Channel::Web, false);
    let verified = change(TimelineAction::Verified, None, Some(ReportStatus::Verified));
    let got = kinds(&notices(&verified, &r, &reach));
    assert!(got.contains(&("disposition".into(), "email".into(), "user:u1".into())));
    assert!(got.contains(&("disposition".into(), "email".into(), "user:u2".into())));
    assert!(
        !got.iter().any(|(_, _, to)| to.starts_with("agency:")),
        "no mailbox configured: {got:?}"
    );
    let overdue = change(TimelineAction::FollowupOverdue, None, None);
    let got = kinds(&notices(&overdue, &r, &reach));
    assert!(got.contains(&("overdue".into(), "email".into(), "user:u2".into())));
    // No officer with an address: nothing for officers.
    let none = Reach {
        officers: &[],
        agency_mailbox: None,
        ..all()
    };
    assert!(!kinds(&notices(&verified, &r, &none))
        .iter()
        .any(|(k, _, _)| k == "disposition"));
    // Deadline warnings: one per officer, each recorded once per deadline.
    r.followup_due_at = Some(1_000);
    let w = officer_deadline_warnings(&r, 500, 2_000, &officers);
    assert_eq!(w.len(), 2);
    assert_ne!(w[0].dedup, w[1].dedup);
    assert_eq!(w[0].recipient, "user:u1");
    assert!(officer_deadline_warnings(&r, 500, 900, &officers).is_empty());
}

#[test]
fn the_reporter_is_asked_for_consent_when_the_report_is_escalated() {
    use ReportStatus as S;
    let esc = change(
        TimelineAction::Escalated,
        Some(S::InProgress),
        Some(S::InProgress),
    );
    let n = notices(&esc, &report(Channel::Sms, false), &all());
    assert!(
        kinds(&n).contains(&("ombudsman".into(), "email".into(), "reporter".into())),
        "{n:?}"
    );
    assert!(
        kinds(&n).contains(&("ombudsman".into(), "sms".into(), "reporter".into())),
        "{n:?}"
    );
    // Nobody to ask: an anonymous reporter gave no contact, and SMS off means no SMS.
    assert!(notices(&esc, &report(Channel::Sms, true), &all()).is_empty());
    let no_sms = Reach {
        sms: false,
        ..all()
    };
    let n = notices(&esc, &report(Channel::Sms, false), &no_sms);
    assert_eq!(
        kinds(&n),
        vec![("ombudsman".into(), "email".into(), "reporter".into())]
    );
}
