//! The report lifecycle as one pure function: `(report, command, actor, now) -> transition`.
//!
//! Keeping every rule here (which status allows which action, who may act, how deadlines move, that privacy
//! flags only go up) means both storage backends, the HTTP API and later the federation apply exactly the
//! same rules. Storage persists the returned [`Transition`] atomically, guarded by the report's version.

use lapor_schemas::{ArchiveReason, ReportStatus, Role, TimelineAction};

use super::calendar::WorkCalendar;
use super::model::{Actor, Report, TimelineRecord};
use super::Millis;

/// Working days an admin has to verify and disposition a report.
pub const VERIFY_WORKING_DAYS: u32 = 3;
/// Working days an agency has to post its follow-up after a disposition.
pub const FOLLOWUP_WORKING_DAYS: u32 = 5;
/// Working days after a follow-up before a report without reply completes by itself.
pub const AUTOCOMPLETE_WORKING_DAYS: u32 = 10;
/// Calendar days after verification before an unresolved report is flagged for the Ombudsman.
pub const ESCALATION_DAYS: i64 = 60;
/// Longest note or rating comment, in characters (the federation refuses longer ones on receipt).
pub const MAX_NOTE_CHARS: usize = 4000;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// An agency a report is dispositioned to, already checked to exist and be active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyTarget {
    /// Agency id.
    pub id: String,
    /// Its materialised path.
    pub path: String,
}

/// Something someone wants to do to a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Admin: verify and disposition to an agency, optionally correcting category and title and raising privacy.
    Verify {
        /// Target agency.
        agency: AgencyTarget,
        /// Category to set.
        category: Option<String>,
        /// Title to set.
        title: Option<String>,
        /// Raise anonymity.
        anonymous: Option<bool>,
        /// Raise confidentiality.
        confidential: Option<bool>,
        /// Note for the agency.
        note: Option<String>,
    },
    /// Admin: hold, asking the reporter for more.
    Hold {
        /// The question.
        note: String,
    },
    /// Reporter: supply what the admin asked for.
    Supplement {
        /// The answer.
        note: String,
    },
    /// Officer: not within the agency's authority; back to the admin queue.
    NotAuthority {
        /// Why.
        note: String,
    },
    /// Officer: acknowledge.
    Acknowledge {
        /// Note.
        note: Option<String>,
    },
    /// Officer: post the follow-up.
    Respond {
        /// The follow-up.
        note: String,
    },
    /// Reporter: reply to the follow-up (reopens it).
    Reply {
        /// The reply.
        note: String,
    },
    /// Reporter: accept the follow-up.
    Accept {
        /// Note.
        note: Option<String>,
    },
    /// Reporter: rate the handling.
    Rate {
        /// 1..=5.
        score: i64,
        /// Comment.
        comment: Option<String>,
    },
    /// Admin: archive.
    Archive {
        /// Why.
        reason: ArchiveReason,
        /// The original's id, for duplicates (already checked to exist).
        duplicate_of: Option<String>,
        /// Explanation.
        note: Option<String>,
    },
    /// Admin: raise privacy flags.
    RaisePrivacy {
        /// Make anonymous.
        anonymous: Option<bool>,
        /// Make confidential.
        confidential: Option<bool>,
        /// Why.
        note: Option<String>,
    },
    /// Worker: the verification deadline passed.
    MarkVerificationOverdue,
    /// Worker: the follow-up deadline passed.
    MarkFollowupOverdue,
    /// Worker: the reply window closed.
    AutoComplete,
    /// Worker: 60 days after verification, still unresolved. The reporter is asked for consent to pass the
    /// report to the Ombudsman.
    Escalate,
    /// Admin: escalate before the 60 days (the reporter is asked for consent, as at 60 days).
    EscalateEarly {
        /// Why.
        note: String,
    },
    /// Reporter: agree (`consent`) or decline that the escalated report goes to the Ombudsman. Once per
    /// escalation: the decision clears `escalation_at`.
    OmbudsmanDecision {
        /// Whether the reporter agrees.
        consent: bool,
        /// Note.
        note: Option<String>,
    },
}

impl Command {
    /// Stable name, used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Verify { .. } => "verify",
            Self::Hold { .. } => "hold",
            Self::Supplement { .. } => "supplement",
            Self::NotAuthority { .. } => "not_authority",
            Self::Acknowledge { .. } => "acknowledge",
            Self::Respond { .. } => "respond",
            Self::Reply { .. } => "reply",
            Self::Accept { .. } => "accept",
            Self::Rate { .. } => "rate",
            Self::Archive { .. } => "archive",
            Self::RaisePrivacy { .. } => "raise_privacy",
            Self::MarkVerificationOverdue => "mark_verification_overdue",
            Self::MarkFollowupOverdue => "mark_followup_overdue",
            Self::AutoComplete => "auto_complete",
            Self::Escalate => "escalate",
            Self::EscalateEarly { .. } => "escalate_early",
            Self::OmbudsmanDecision { .. } => "ombudsman_decision",
        }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The command does not apply in the report's status.
    #[error("cannot {action} a report that is {from}")]
    IllegalTransition {
        /// The command.
        action: &'static str,
        /// The report's status.
        from: ReportStatus,
    },
    /// The actor may not do this.
    #[error("{role} may not {action}")]
    Forbidden {
        /// The command.
        action: &'static str,
        /// The actor's role.
        role: &'static str,
    },
    /// A privacy flag would be lowered.
    #[error("privacy flag `{flag}` can only be raised, never lowered")]
    PrivacyLowered {
        /// `anonymous` or `confidential`.
        flag: &'static str,
    },
    /// Nothing would change.
    #[error("nothing to change")]
    NoChange,
    /// A field is invalid for this command.
    #[error("{field}: {message}")]
    Invalid {
        /// Field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The report was already rated.
    #[error("the report was already rated")]
    AlreadyRated,
}

/// The outcome of a command: the report's new state, the timeline entry to append, and whether the stored
/// reporter identity must be erased (the report became anonymous).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// New state, with `version` already incremented.
    pub report: Report,
    /// Entry to append (storage assigns `seq`).
    pub entry: TimelineRecord,
    /// Erase the reporter identity in the same transaction.
    pub erase_identity: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    Officer,
    Reporter,
    System,
}

fn required(cmd: &Command) -> Who {
    match cmd {
        Command::Verify { .. }
        | Command::Hold { .. }
        | Command::Archive { .. }
        | Command::RaisePrivacy { .. }
        | Command::EscalateEarly { .. } => Who::Admin,
        Command::NotAuthority { .. } | Command::Acknowledge { .. } | Command::Respond { .. } => {
            Who::Officer
        }
        Command::Supplement { .. }
        | Command::Reply { .. }
        | Command::Accept { .. }
        | Command::Rate { .. }
        | Command::OmbudsmanDecision { .. } => Who::Reporter,
        Command::MarkVerificationOverdue
        | Command::MarkFollowupOverdue
        | Command::AutoComplete
        | Command::Escalate => Who::System,
    }
}

fn authorise(cmd: &Command, actor: &Actor) -> Result<(), DomainError> {
    let ok = match (required(cmd), actor) {
        (Who::System, Actor::System) | (Who::Reporter, Actor::Reporter { .. }) => true,
        (Who::Admin, Actor::User(u)) => u.role == Role::Admin,
        // Admins may act for an agency too: on a small node the admin koordinator often does both.
        (Who::Officer, Actor::User(u)) => matches!(u.role, Role::Admin | Role::AgencyOfficer),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(DomainError::Forbidden {
            action: cmd.name(),
            role: actor.role_str(),
        })
    }
}

fn raise(current: bool, requested: Option<bool>, flag: &'static str) -> Result<bool, DomainError> {
    match requested {
        Some(false) if current => Err(DomainError::PrivacyLowered { flag }),
        Some(v) => Ok(current || v),
        None => Ok(current),
    }
}

/// Every note and comment of a command is at most [`MAX_NOTE_CHARS`] characters.
fn bounded(cmd: &Command) -> Result<(), DomainError> {
    let (field, text) = match cmd {
        Command::Verify { note, .. }
        | Command::Acknowledge { note }
        | Command::Accept { note }
        | Command::Archive { note, .. }
        | Command::RaisePrivacy { note, .. }
        | Command::OmbudsmanDecision { note, .. } => ("note", note.as_deref()),
        Command::Hold { note }
        | Command::EscalateEarly { note }
        | Command::Supplement { note }
        | Command::NotAuthority { note }
        | Command::Respond { note }
        | Command::Reply { note } => ("note", Some(note.as_str())),
        Command::Rate { comment, .. } => ("comment", comment.as_deref()),
        _ => return Ok(()),
    };
    match text {
        Some(t) if t.chars().count() > MAX_NOTE_CHARS => Err(DomainError::Invalid {
            field,
            message: format!("at most {MAX_NOTE_CHARS} characters"),
        }),
        _ => Ok(()),
    }
}

fn non_empty(field: &'static str, text: &str) -> Result<(), DomainError> {
    if text.trim().is_empty() {
        Err(DomainError::Invalid {
            field,
            message: "must not be empty".to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Applies `cmd` by `actor` at `now` to `report`. Agency scoping (may this officer see the report at all) is
/// checked by the caller before it loads the report for the actor.
pub fn apply(
    report: &Report,
    cmd: Command,
    actor: &Actor,
    now: Millis,
    cal: &WorkCalendar,
) -> Result<Transition, DomainError> {
    use ReportStatus as S;
    authorise(&cmd, actor)?;
    bounded(&cmd)?;
    let action_name = cmd.name();
    let illegal = || DomainError::IllegalTransition {
        action: action_name,
        from: report.status,
    };
    let mut next = report.clone();
    let mut erase_identity = false;
    let (action, note) = match cmd {
        Command::Verify {
            agency,
            category,
            title,
            anonymous,
            confidential,
            note,
        } => {
            if report.status != S::Submitted {
                return Err(illegal());
            }
            next.anonymous = raise(report.anonymous, anonymous, "anonymous")?;
            next.confidential = raise(report.confidential, confidential, "confidential")?;
            erase_identity = next.anonymous && !report.anonymous;
            if let Some(title) = title {
                non_empty("title", &title)?;
                next.title = title;
            }
            if category.is_some() {
                next.category_id = category;
            }
            next.agency_id = Some(agency.id);
            next.agency_path = Some(agency.path);
            next.status = S::Verified;
            if next.verified_at.is_none() {
                next.verified_at = Some(now);
                next.escalation_at = Some(now + ESCALATION_DAYS * DAY_MS);
            }
            next.followup_due_at = Some(cal.add_working_days(now, FOLLOWUP_WORKING_DAYS));
            next.followup_overdue = false;
            (TimelineAction::Verified, note)
        }
        Command::Hold { note } => {
            if report.status != S::Submitted {
                return Err(illegal());
            }
            non_empty("note", &note)?;
            next.status = S::OnHold;
            (TimelineAction::Held, Some(note))
        }
        Command::Supplement { note } => {
            if report.status != S::OnHold {
                return Err(illegal());
            }
            non_empty("note", &note)?;
            next.status = S::Submitted;
            // The file is now complete: the verification clock starts again.
            next.verification_due_at = Some(cal.add_working_days(now, VERIFY_WORKING_DAYS));
            next.verification_overdue = false;
            (TimelineAction::Supplemented, Some(note))
        }
        Command::NotAuthority { note } => {
            if !matches!(report.status, S::Verified | S::InProgress) {
                return Err(illegal());
            }
            non_empty("note", &note)?;
            next.status = S::Submitted;
            next.agency_id = None;
            next.agency_path = None;
            next.followup_due_at = None;
            next.followup_overdue = false;
            next.verification_due_at = Some(cal.add_working_days(now, VERIFY_WORKING_DAYS));
            next.verification_overdue = false;
            (TimelineAction::NotAuthority, Some(note))
        }
        Command::Acknowledge { note } => {
            if report.status != S::Verified {
                return Err(illegal());
            }
            next.status = S::InProgress;
            (TimelineAction::Acknowledged, note)
        }
        Command::Respond { note } => {
            if !matches!(report.status, S::Verified | S::InProgress) {
                return Err(illegal());
            }
            non_empty("note", &note)?;
            next.status = S::Responded;
            next.responded_at = Some(now);
            next.autocomplete_at = Some(cal.add_working_days(now, AUTOCOMPLETE_WORKING_DAYS));
            (TimelineAction::Responded, Some(note))
        }
        Command::Reply { note } => {
            if report.status != S::Responded {
                return Err(illegal());
            }
            non_empty("note", &note)?;
            next.status = S::InProgress;
            next.autocomplete_at = None;
            next.followup_due_at = Some(cal.add_working_days(now, FOLLOWUP_WORKING_DAYS));
            next.followup_overdue = false;
            (TimelineAction::Replied, Some(note))
        }
        Command::Accept { note } => {
            if report.status != S::Responded {
                return Err(illegal());
            }
            next.status = S::Completed;
            next.closed_at = Some(now);
            next.autocomplete_at = None;
            (TimelineAction::Accepted, note)
        }
        Command::Rate { score, comment } => {
            if !matches!(report.status, S::Responded | S::Completed) {
                return Err(illegal());
            }
            if report.rating_score.is_some() {
                return Err(DomainError::AlreadyRated);
            }
            if !(1..=5).contains(&score) {
                return Err(DomainError::Invalid {
                    field: "score",
                    message: "must be between 1 and 5".to_owned(),
                });
            }
            next.rating_score = Some(score);
            next.rating_comment.clone_from(&comment);
            (
                TimelineAction::Rated,
                Some(format!(
                    "{score}/5{}",
                    comment.map(|c| format!(": {c}")).unwrap_or_default()
                )),
            )
        }
        Command::Archive {
            reason,
            duplicate_of,
            note,
        } => {
            if report.status.is_terminal() {
                return Err(illegal());
            }
            match (reason, &duplicate_of) {
                (ArchiveReason::Duplicate, None) => {
                    return Err(DomainError::Invalid {
                        field: "duplicate_of",
                        message: "required when the reason is duplicate".to_owned(),
                    })
                }
                (ArchiveReason::Duplicate, Some(original)) if *original == report.id => {
                    return Err(DomainError::Invalid {
                        field: "duplicate_of",
                        message: "a report cannot duplicate itself".to_owned(),
                    })
                }
                (ArchiveReason::Invalid | ArchiveReason::Spam, Some(_)) => {
                    return Err(DomainError::Invalid {
                        field: "duplicate_of",
                        message: "only allowed when the reason is duplicate".to_owned(),
                    })
                }
                _ => {}
            }
            next.status = S::Archived;
            next.archive_reason = Some(reason);
            next.duplicate_of = duplicate_of;
            next.closed_at = Some(now);
            (TimelineAction::Archived, note)
        }
        Command::RaisePrivacy {
            anonymous,
            confidential,
            note,
        } => {
            next.anonymous = raise(report.anonymous, anonymous, "anonymous")?;
            next.confidential = raise(report.confidential, confidential, "confidential")?;
            if next.anonymous == report.anonymous && next.confidential == report.confidential {
                return Err(DomainError::NoChange);
            }
            erase_identity = next.anonymous && !report.anonymous;
            (TimelineAction::PrivacyRaised, note)
        }
        Command::MarkVerificationOverdue => {
            let due = report.verification_due_at.is_some_and(|d| now > d);
            if report.status != S::Submitted || report.verification_overdue || !due {
                return Err(illegal());
            }
            next.verification_overdue = true;
            (TimelineAction::VerificationOverdue, None)
        }
        Command::MarkFollowupOverdue => {
            let due = report.followup_due_at.is_some_and(|d| now > d);
            if !matches!(report.status, S::Verified | S::InProgress)
                || report.followup_overdue
                || !due
            {
                return Err(illegal());
            }
            next.followup_overdue = true;
            (TimelineAction::FollowupOverdue, None)
        }
        Command::AutoComplete => {
            let due = report.autocomplete_at.is_some_and(|d| now > d);
            if report.status != S::Responded || !due {
                return Err(illegal());
            }
            next.status = S::Completed;
            next.closed_at = Some(now);
            next.autocomplete_at = None;
            (TimelineAction::AutoCompleted, None)
        }
        Command::Escalate => {
            let due = report.escalation_at.is_some_and(|d| now >= d);
            if report.escalated || report.status.is_terminal() || !due {
                return Err(illegal());
            }
            next.escalated = true;
            (TimelineAction::Escalated, None)
        }
        Command::EscalateEarly { note } => {
            if report.escalated || report.status.is_terminal() {
                return Err(illegal());
            }
            non_empty("note", &note)?;
            next.escalated = true;
            next.escalation_at = Some(now);
            (TimelineAction::Escalated, Some(note))
        }
        Command::OmbudsmanDecision { consent, note } => {
            if !report.escalated || report.escalation_at.is_none() || report.status.is_terminal() {
                return Err(illegal());
            }
            next.escalation_at = None;
            let action = if consent {
                TimelineAction::OmbudsmanConsented
            } else {
                TimelineAction::OmbudsmanDeclined
            };
            (action, note)
        }
    };
    if erase_identity {
        // Anonymity also cuts the link to the reporter's account.
        next.reporter_user_id = None;
    }
    next.updated_at = now;
    next.version = report.version + 1;
    let (actor_id, actor_name, actor_agency) = match actor {
        Actor::User(u) => (
            Some(u.id.clone()),
            Some(u.display_name.clone()),
            u.agency_id.clone(),
        ),
        Actor::Reporter { .. } | Actor::System => (None, None, None),
    };
    let entry = TimelineRecord {
        report_id: report.id.clone(),
        seq: 0,
        at: now,
        action,
        actor_role: actor.role_str().to_owned(),
        actor_id,
        actor_name,
        agency_id: actor_agency.or_else(|| next.agency_id.clone()),
        from_status: Some(report.status),
        to_status: Some(next.status),
        note: note.filter(|n| !n.trim().is_empty()),
    };
    Ok(Transition {
        report: next,
        entry,
        erase_identity,
    })
}

/// The worker commands due for `report` at `now`, in the order they must be applied.
pub fn due_commands(report: &Report, now: Millis) -> Vec<Command> {
    use ReportStatus as S;
    let mut out = Vec::new();
    if report.status == S::Submitted
        && !report.verification_overdue
        && report.verification_due_at.is_some_and(|d| now > d)
    {
        out.push(Command::MarkVerificationOverdue);
    }
    if matches!(report.status, S::Verified | S::InProgress)
        && !report.followup_overdue
        && report.followup_due_at.is_some_and(|d| now > d)
    {
        out.push(Command::MarkFollowupOverdue);
    }
    if !report.escalated
        && !report.status.is_terminal()
        && report.escalation_at.is_some_and(|d| now >= d)
    {
        out.push(Command::Escalate);
    }
    if report.status == S::Responded && report.autocomplete_at.is_some_and(|d| now > d) {
        out.push(Command::AutoComplete);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::NodeZone;
    use crate::domain::model::UserRef;
    use lapor_schemas::{Channel, ReportKind};

    /// Monday 2026-11-23 09:00 WIB.
    const MON: Millis = 1_795_399_200_000;

    fn cal() -> WorkCalendar {
        WorkCalendar::new(NodeZone::WIB, [])
    }

    fn report(now: Millis) -> Report {
        Report {
            id: "n:1".into(),
            tracking_code: "N-1".into(),
            secret_hash: String::new(),
            kind: ReportKind::Complaint,
            title: "Jalan rusak".into(),
            body: "Jalan berlubang di depan sekolah".into(),
            category_id: None,
            agency_id: None,
            agency_path: None,
            region_code: None,
            lat_e6: None,
            lon_e6: None,
            address: None,
            incident_date: None,
            anonymous: false,
            confidential: false,
            channel: Channel::Web,
            status: ReportStatus::Submitted,
            submitted_at: now,
            updated_at: now,
            verified_at: None,
            responded_at: None,
            closed_at: None,
            verification_due_at: Some(cal().add_working_days(now, 3)),
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

    fn user(role: Role) -> Actor {
        Actor::User(UserRef {
            id: "u".into(),
            display_name: "U".into(),
            role,
            agency_id: Some("a".into()),
            agency_path: Some("/a/".into()),
        })
    }

    fn verify() -> Command {
        Command::Verify {
            agency: AgencyTarget {
                id: "a".into(),
                path: "/a/".into(),
            },
            category: None,
            title: None,
            anonymous: None,
            confidential: None,
            note: None,
        }
    }

    #[test]
    fn full_happy_path() {
        let c = cal();
        let r = report(MON);
        let t = apply(&r, verify(), &user(Role::Admin), MON + 1, &c).unwrap();
        assert_eq!(t.report.status, ReportStatus::Verified);
        assert_eq!(t.report.version, 2);
        assert!(t.report.followup_due_at.is_some());
        let t = apply(
            &t.report,
            Command::Acknowledge { note: None },
            &user(Role::AgencyOfficer),
            MON + 2,
            &c,
        )
        .unwrap();
        let t = apply(
            &t.report,
            Command::Respond {
                note: "Sudah diperbaiki".into(),
            },
            &user(Role::AgencyOfficer),
            MON + 3,
            &c,
        )
        .unwrap();
        assert_eq!(t.report.status, ReportStatus::Responded);
        let reporter = Actor::Reporter { user_id: None };
        let t = apply(
            &t.report,
            Command::Reply {
                note: "Belum".into(),
            },
            &reporter,
            MON + 4,
            &c,
        )
        .unwrap();
        assert_eq!(t.report.status, ReportStatus::InProgress);
        let t = apply(
            &t.report,
            Command::Respond {
                note: "Sekarang sudah".into(),
            },
            &user(Role::AgencyOfficer),
            MON + 5,
            &c,
        )
        .unwrap();
        let t = apply(
            &t.report,
            Command::Accept { note: None },
            &reporter,
            MON + 6,
            &c,
        )
        .unwrap();
        assert_eq!(t.report.status, ReportStatus::Completed);
        let t = apply(
            &t.report,
            Command::Rate {
                score: 5,
                comment: None,
            },
            &reporter,
            MON + 7,
            &c,
        )
        .unwrap();
        assert_eq!(t.report.rating_score, Some(5));
        assert_eq!(
            apply(
                &t.report,
                Command::Rate {
                    score: 4,
                    comment: None
                },
                &reporter,
                MON + 8,
                &c
            ),
            Err(DomainError::AlreadyRated)
        );
    }

    #[test]
    fn illegal_transitions_are_refused() {
        let r = report(MON);
        let err = apply(
            &r,
            Command::Respond { note: "x".into() },
            &user(Role::AgencyOfficer),
            MON,
            &cal(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            DomainError::IllegalTransition {
                action: "respond",
                from: ReportStatus::Submitted
            }
        );
    }

    #[test]
    fn roles_are_enforced() {
        let r = report(MON);
        assert!(matches!(
            apply(&r, verify(), &user(Role::AgencyOfficer), MON, &cal()),
            Err(DomainError::Forbidden { .. })
        ));
        assert!(matches!(
            apply(
                &r,
                verify(),
                &Actor::Reporter { user_id: None },
                MON,
                &cal()
            ),
            Err(DomainError::Forbidden { .. })
        ));
        assert!(matches!(
            apply(&r, verify(), &user(Role::Auditor), MON, &cal()),
            Err(DomainError::Forbidden { .. })
        ));
    }

    #[test]
    fn privacy_only_goes_up_and_anonymity_erases_identity() {
        let mut r = report(MON);
        r.confidential = true;
        let lower = Command::RaisePrivacy {
            anonymous: None,
            confidential: Some(false),
            note: None,
        };
        assert_eq!(
            apply(&r, lower, &user(Role::Admin), MON, &cal()),
            Err(DomainError::PrivacyLowered {
                flag: "confidential"
            })
        );
        let anon = Command::RaisePrivacy {
            anonymous: Some(true),
            confidential: None,
            note: None,
        };
        let t = apply(&r, anon.clone(), &user(Role::Admin), MON, &cal()).unwrap();
        assert!(t.report.anonymous && t.erase_identity);
        assert_eq!(
            apply(&t.report, anon, &user(Role::Admin), MON, &cal()),
            Err(DomainError::NoChange)
        );
    }

    #[test]
    fn hold_and_supplement_restart_the_clock() {
        let c = cal();
        let r = report(MON);
        let t = apply(
            &r,
            Command::Hold {
                note: "Lokasi?".into(),
            },
            &user(Role::Admin),
            MON,
            &c,
        )
        .unwrap();
        let later = MON + 10 * DAY_MS;
        let t = apply(
            &t.report,
            Command::Supplement {
                note: "Jl. Sudirman".into(),
            },
            &Actor::Reporter { user_id: None },
            later,
            &c,
        )
        .unwrap();
        assert_eq!(t.report.status, ReportStatus::Submitted);
        assert_eq!(
            t.report.verification_due_at,
            Some(c.add_working_days(later, 3))
        );
    }

    #[test]
    fn worker_commands_follow_deadlines() {
        let c = cal();
        let r = report(MON);
        assert!(due_commands(&r, MON).is_empty());
        let late = r.verification_due_at.unwrap() + 1;
        assert_eq!(
            due_commands(&r, late),
            vec![Command::MarkVerificationOverdue]
        );
        let t = apply(
            &r,
            Command::MarkVerificationOverdue,
            &Actor::System,
            late,
            &c,
        )
        .unwrap();
        assert!(due_commands(&t.report, late).is_empty());
        assert!(apply(&r, Command::AutoComplete, &Actor::System, late, &c).is_err());
    }

    #[test]
    fn duplicate_needs_an_original() {
        let r = report(MON);
        let cmd = Command::Archive {
            reason: ArchiveReason::Duplicate,
            duplicate_of: None,
            note: None,
        };
        assert!(matches!(
            apply(&r, cmd, &user(Role::Admin), MON, &cal()),
            Err(DomainError::Invalid {
                field: "duplicate_of",
                ..
            })
        ));
    }

    #[test]
    fn ombudsman_escalation_asks_once_and_records_the_decision() {
        let c = cal();
        let verified = apply(&report(MON), verify(), &user(Role::Admin), MON, &c)
            .unwrap()
            .report;
        let reporter = Actor::Reporter { user_id: None };
        let decide = |r: &Report, consent: bool| {
            apply(
                r,
                Command::OmbudsmanDecision {
                    consent,
                    note: None,
                },
                &reporter,
                MON + 2,
                &c,
            )
        };
        // Nobody asked yet: no decision to take.
        assert!(decide(&verified, true).is_err());
        // Only an admin escalates early, and only with a reason.
        let early = |note: &str, who: &Actor| {
            apply(
                &verified,
                Command::EscalateEarly { note: note.into() },
                who,
                MON + 1,
                &c,
            )
        };
        assert!(early("Instansi tidak merespons", &user(Role::AgencyOfficer)).is_err());
        assert!(early("  ", &user(Role::Admin)).is_err());
        let asked = early("Instansi tidak merespons", &user(Role::Admin)).unwrap();
        assert_eq!(asked.entry.action, TimelineAction::Escalated);
        assert!(asked.report.escalated);
        assert_eq!(asked.report.escalation_at, Some(MON + 1));
        // The worker does not ask a second time.
        assert!(!due_commands(&asked.report, MON + 100 * DAY_MS).contains(&Command::Escalate));
        // Staff cannot decide for the reporter.
        assert!(apply(
            &asked.report,
            Command::OmbudsmanDecision {
                consent: true,
                note: None
            },
            &user(Role::Admin),
            MON + 2,
            &c
        )
        .is_err());
        let yes = decide(&asked.report, true).unwrap();
        assert_eq!(yes.entry.action, TimelineAction::OmbudsmanConsented);
        assert_eq!(yes.report.escalation_at, None);
        assert!(yes.report.escalated);
        let no = decide(&asked.report, false).unwrap();
        assert_eq!(no.entry.action, TimelineAction::OmbudsmanDeclined);
        assert_eq!(
            no.report.status, verified.status,
            "a refusal leaves the report where it is"
        );
        // One decision per escalation.
        assert!(decide(&no.report, true).is_err());
        // At 60 days the worker asks.
        let late = verified.escalation_at.unwrap();
        assert!(due_commands(&verified, late).contains(&Command::Escalate));
    }
}
