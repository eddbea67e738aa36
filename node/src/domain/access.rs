//! Who may see what: the one place that decides how much of a report a viewer sees and which reports a list
//! is narrowed to. Pure; the application layer calls it with the viewer's account and the tracking secret.
//!
//! * Admins see everything, identity included; auditors and node operators everything but the identity.
//! * Agency officers and executives see the reports whose agency path lies in their subtree, nothing else
//!   (not even public reports: their authenticated view is their work queue).
//! * The reporter (their account, or the tracking secret) sees their report, also when confidential.
//! * Everyone else sees non-confidential reports only.

use lapor_schemas::{Role, TimelineAction};

use super::{tracking, Report, ReportFilter, UserRef};

/// How much of a report a viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: only non-confidential reports, no identity, no internal notes.
    Public,
    /// The reporter (tracking secret or their account).
    Reporter,
    /// Staff in scope; `identity` says whether the reporter identity may be shown.
    Staff {
        /// May see the reporter identity.
        identity: bool,
    },
}

impl Access {
    /// Staff of any kind.
    pub fn is_staff(self) -> bool {
        matches!(self, Self::Staff { .. })
    }
}

/// Whether an account of `role` can read reporter identities (admins, agency officers, a reporter of their own
/// reports). A node operator may create and change only accounts that cannot: otherwise it could set a
/// password and log in as one.
pub fn reads_identities(role: Role) -> bool {
    matches!(role, Role::Admin | Role::AgencyOfficer | Role::Reporter)
}

/// Whether an account of `role` may log a report received by phone, WhatsApp, letter or in person on a
/// citizen's behalf (the assisted channels): admins and agency officers, who act on reports.
pub fn logs_assisted(role: Role) -> bool {
    matches!(role, Role::Admin | Role::AgencyOfficer)
}

/// Whether an account of `role` may read the audit log: admins and auditors.
pub fn reads_audit(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Auditor)
}

/// What `user` (or nobody) holding `secret` may see of `report`; `None` means nothing at all.
pub fn access(user: Option<&UserRef>, secret: Option<&str>, report: &Report) -> Option<Access> {
    if let Some(u) = user {
        match u.role {
            Role::Admin => return Some(Access::Staff { identity: true }),
            Role::Auditor | Role::NodeOperator => return Some(Access::Staff { identity: false }),
            Role::AgencyOfficer | Role::Executive => {
                let in_scope = matches!((&u.agency_path, &report.agency_path),
                    (Some(mine), Some(theirs)) if theirs.starts_with(mine.as_str()));
                // Outside their subtree an officer's authenticated view shows nothing, not even public
                // reports: 404, so the console never mixes other agencies' work into theirs.
                return in_scope.then_some(Access::Staff {
                    identity: u.role == Role::AgencyOfficer,
                });
            }
            Role::Reporter => {
                if report.reporter_user_id.as_deref() == Some(u.id.as_str()) {
                    return Some(Access::Reporter);
                }
            }
        }
    }
    if secret.is_some_and(|s| tracking::secret_matches(s, &report.secret_hash)) {
        return Some(Access::Reporter);
    }
    (!report.confidential).then_some(Access::Public)
}

/// A scoped account without an agency cannot list anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this account has no agency")]
pub struct NoAgency;

/// `filter` narrowed to what `user` (or nobody) may list, with paging clamped (1..=200, offset >= 0).
pub fn scope(user: Option<&UserRef>, mut filter: ReportFilter) -> Result<ReportFilter, NoAgency> {
    match user {
        None => filter.public_only = true,
        Some(u) => match u.role {
            Role::Admin | Role::Auditor | Role::NodeOperator => {}
            Role::AgencyOfficer | Role::Executive => {
                filter.agency_path_prefix = Some(u.agency_path.clone().ok_or(NoAgency)?);
            }
            Role::Reporter => filter.reporter_user_id = Some(u.id.clone()),
        },
    }
    filter.limit = filter.limit.clamp(1, 200);
    filter.offset = filter.offset.max(0);
    Ok(filter)
}

/// Timeline entries whose notes only staff read (dispositions, privacy changes, transfers).
pub fn is_internal(action: TimelineAction) -> bool {
    matches!(
        action,
        TimelineAction::Verified
            | TimelineAction::NotAuthority
            | TimelineAction::PrivacyRaised
            | TimelineAction::Transferred
    )
}

/// How a timeline actor is named to someone who is not staff: a function, never a person.
pub fn public_actor(actor_role: &str) -> &'static str {
    match actor_role {
        "system" => "Sistem",
        "reporter" => "Pelapor",
        "agency_officer" => "Instansi",
        _ => "Admin",
    }
}

/// The grid an anonymous report's public location is rounded to, in microdegrees: 0.001° is about 111 m of
/// latitude (and as much longitude near the equator, where Indonesia lies).
pub const PUBLIC_LOCATION_GRID_E6: i64 = 1_000;

/// Whether a viewer sees a report's exact location: the reporter, and the owning node's staff. Everyone else
/// (the public, and staff of a node that does not own the report, such as the hub's oversight) sees an
/// anonymous report's pin rounded to [`PUBLIC_LOCATION_GRID_E6`], so the pin cannot point at the reporter's
/// house; a named report's location is already public with its name withheld, and is shown as given.
pub fn exact_location(access: Access, owned_here: bool, anonymous: bool) -> bool {
    match access {
        Access::Reporter => true,
        Access::Staff { .. } => owned_here || !anonymous,
        Access::Public => !anonymous,
    }
}

/// A coordinate (microdegrees) rounded to the public grid, halves away from zero.
pub fn round_to_grid(e6: i64) -> i64 {
    let g = PUBLIC_LOCATION_GRID_E6;
    let half = g / 2;
    if e6 >= 0 {
        (e6 + half) / g * g
    } else {
        -((-e6 + half) / g * g)
    }
}

/// The location a viewer is shown: as stored, or rounded (see [`exact_location`]).
pub fn shown_location(lat_e6: i64, lon_e6: i64, exact: bool) -> (i64, i64) {
    if exact {
        (lat_e6, lon_e6)
    } else {
        (round_to_grid(lat_e6), round_to_grid(lon_e6))
    }
}

#[cfg(test)]
mod location_tests {
    use super::*;

    #[test]
    fn rounding_moves_a_pin_at_most_half_the_grid() {
        assert_eq!(round_to_grid(-10_177_249), -10_177_000);
        assert_eq!(round_to_grid(-10_177_500), -10_178_000);
        assert_eq!(round_to_grid(123_607_777), 123_608_000);
        assert_eq!(round_to_grid(0), 0);
        for v in [-10_177_499_i64, 123_607_501, 5, -5, 999_999] {
            assert!((round_to_grid(v) - v).abs() <= PUBLIC_LOCATION_GRID_E6 / 2);
            assert_eq!(round_to_grid(v) % PUBLIC_LOCATION_GRID_E6, 0);
        }
    }

    #[test]
    fn only_the_reporter_and_the_owners_staff_see_an_anonymous_pin_exactly() {
        let staff = Access::Staff { identity: false };
        assert!(exact_location(Access::Reporter, false, true));
        assert!(exact_location(staff, true, true));
        assert!(!exact_location(staff, false, true));
        assert!(!exact_location(Access::Public, true, true));
        assert!(exact_location(Access::Public, true, false));
        assert_eq!(
            shown_location(-10_177_249, 123_607_777, false),
            (-10_177_000, 123_608_000)
        );
        assert_eq!(
            shown_location(-10_177_249, 123_607_777, true),
            (-10_177_249, 123_607_777)
        );
    }
}
