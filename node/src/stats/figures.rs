//! The figures of a set of reports, computed from one fact row per report (pure: no I/O).
//!
//! Every figure is over the reports *received* in the period (submitted in it, in the node's zone), counted
//! as they stand now (a cohort): "of what came in during November, how much has been followed up". Working
//! days come from the node's [`WorkCalendar`] (weekends and holidays skipped, the day of the start not
//! counted). Definitions are in docs/STATISTICS.md; this file is the only place they are computed.

use std::collections::BTreeMap;

use crate::domain::{Millis, WorkCalendar};

/// Working days an admin has to verify a report.
pub const VERIFY_DAYS: u32 = 3;
/// Working days an agency has to post its follow-up after the disposition.
pub const ANSWER_DAYS: u32 = 5;

/// What statistics need to know of one report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fact {
    /// Report id.
    pub id: String,
    /// Tracking code.
    pub tracking_code: String,
    /// Agency it is assigned to.
    pub agency_id: Option<String>,
    /// That agency's path.
    pub agency_path: Option<String>,
    /// The node that owns it now (`None`: this node, never federated).
    pub owner: Option<String>,
    /// Kemendagri region code.
    pub region_code: Option<String>,
    /// Category id.
    pub category_id: Option<String>,
    /// `complaint`, `aspiration`, `information_request`.
    pub kind: String,
    /// Channel id.
    pub channel: String,
    /// Status id now.
    pub status: String,
    /// Hidden from the public.
    pub confidential: bool,
    /// Filed at.
    pub submitted_at: Millis,
    /// First verification.
    pub verified_at: Option<Millis>,
    /// First follow-up.
    pub first_responded_at: Option<Millis>,
    /// Flagged for the Ombudsman.
    pub escalated: bool,
    /// The reporter's rating (1 to 5).
    pub rating: Option<i64>,
    /// Times a reply reopened it after a follow-up.
    pub reopened: i64,
    /// Title (only when asked for, for emerging words).
    pub title: Option<String>,
}

impl Fact {
    /// Archived (invalid, spam, duplicate): left out of every ratio.
    pub fn archived(&self) -> bool {
        self.status == "archived"
    }

    /// Handled (ditindaklanjuti): the agency posted a follow-up at least once, or it is completed.
    pub fn handled(&self) -> bool {
        !self.archived() && (self.first_responded_at.is_some() || self.status == "completed")
    }
}

/// A median and a 90th percentile (nearest rank) in working days, over `n` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spread {
    /// How many reports were measured.
    pub n: i64,
    /// Median (nearest rank), working days.
    pub median: Option<u32>,
    /// 90th percentile (nearest rank), working days.
    pub p90: Option<u32>,
}

impl Spread {
    /// Of a list of durations.
    pub fn of(mut v: Vec<u32>) -> Self {
        v.sort_unstable();
        let n = v.len();
        let rank = |p: usize| (n * p).div_ceil(100).max(1) - 1;
        Self {
            n: i64::try_from(n).unwrap_or(i64::MAX),
            median: (n > 0).then(|| v[rank(50)]),
            p90: (n > 0).then(|| v[rank(90)]),
        }
    }
}

/// On time / late against a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compliance {
    /// Met the deadline.
    pub on_time: i64,
    /// Missed it (done late, or still not done after it passed).
    pub late: i64,
}

impl Compliance {
    /// Share on time, per mille (`None` when nothing was due).
    pub fn permille(&self) -> Option<i64> {
        ratio(self.on_time, self.on_time + self.late)
    }
}

/// `num / den` in per mille, rounded half up; `None` when `den` is 0.
pub fn ratio(num: i64, den: i64) -> Option<i64> {
    (den > 0).then(|| (num * 2000 + den) / (2 * den))
}

/// Every figure of a set of reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Figures {
    /// Received in the period.
    pub received: i64,
    /// Not yet verified (`submitted`).
    pub unverified: i64,
    /// Verified at least once.
    pub verified: i64,
    /// Waiting for the reporter (`on_hold`).
    pub on_hold: i64,
    /// Dispositioned to an agency that has not acknowledged it (`verified`).
    pub dispositioned: i64,
    /// Acknowledged, or reopened by a reply (`in_progress`).
    pub in_progress: i64,
    /// Follow-up posted, waiting for the reporter (`responded`).
    pub responded: i64,
    /// Completed.
    pub completed: i64,
    /// Archived.
    pub archived: i64,
    /// Not archived and never followed up.
    pub never_answered: i64,
    /// Handled (ditindaklanjuti), see [`Fact::handled`].
    pub handled: i64,
    /// `handled / (received - archived)`, per mille.
    pub handled_permille: Option<i64>,
    /// `completed / (received - archived)`, per mille.
    pub completed_permille: Option<i64>,
    /// Submission to first verification.
    pub to_verification: Spread,
    /// First verification to first follow-up.
    pub to_followup: Spread,
    /// Verified within [`VERIFY_DAYS`].
    pub verify_deadline: Compliance,
    /// Answered within [`ANSWER_DAYS`] of the verification.
    pub answer_deadline: Compliance,
    /// Flagged for the Ombudsman.
    pub escalated: i64,
    /// Reopened by a reply at least once.
    pub reopened: i64,
    /// Rated by the reporter.
    pub rated: i64,
    /// Sum of the ratings (mean = `rating_sum / rated`).
    pub rating_sum: i64,
    /// Rated 4 or 5.
    pub satisfied: i64,
    /// By category id (`none` without one).
    pub by_category: BTreeMap<String, i64>,
    /// By kind.
    pub by_kind: BTreeMap<String, i64>,
    /// By channel.
    pub by_channel: BTreeMap<String, i64>,
}

impl Figures {
    /// Mean rating in hundredths (`None` when nobody rated).
    pub fn rating_mean_centi(&self) -> Option<i64> {
        (self.rated > 0).then(|| (self.rating_sum * 200 + self.rated) / (2 * self.rated))
    }

    /// Share of ratings of 4 or 5, per mille.
    pub fn satisfied_permille(&self) -> Option<i64> {
        ratio(self.satisfied, self.rated)
    }
}

/// Computes the figures of `facts` as they stand at `now`.
pub fn compute<'a>(
    facts: impl IntoIterator<Item = &'a Fact>,
    cal: &WorkCalendar,
    now: Millis,
) -> Figures {
    let mut f = Figures::default();
    let mut to_verify = Vec::new();
    let mut to_answer = Vec::new();
    for r in facts {
        f.received += 1;
        match r.status.as_str() {
            "submitted" => f.unverified += 1,
            "on_hold" => f.on_hold += 1,
            "verified" => f.dispositioned += 1,
            "in_progress" => f.in_progress += 1,
            "responded" => f.responded += 1,
            "completed" => f.completed += 1,
            "archived" => f.archived += 1,
            _ => {}
        }
        if r.handled() {
            f.handled += 1;
        } else if !r.archived() {
            f.never_answered += 1;
        }
        if r.escalated {
            f.escalated += 1;
        }
        if r.reopened > 0 {
            f.reopened += 1;
        }
        if let Some(score) = r.rating {
            f.rated += 1;
            f.rating_sum += score;
            if score >= 4 {
                f.satisfied += 1;
            }
        }
        *f.by_category
            .entry(r.category_id.clone().unwrap_or_else(|| "none".into()))
            .or_default() += 1;
        *f.by_kind.entry(r.kind.clone()).or_default() += 1;
        *f.by_channel.entry(r.channel.clone()).or_default() += 1;

        // Verification: measured when it happened; a report not verified (nor archived) once its deadline
        // (the end of the third working day after its submission, as the lifecycle sets it) has passed is
        // late. The same for the follow-up, five working days after the verification.
        match r.verified_at {
            Some(v) => {
                f.verified += 1;
                let d = cal.working_days_between(r.submitted_at, v);
                to_verify.push(d);
                if d <= VERIFY_DAYS {
                    f.verify_deadline.on_time += 1;
                } else {
                    f.verify_deadline.late += 1;
                }
                // Follow-up: from the verification (the disposition) to the first follow-up.
                match r.first_responded_at {
                    Some(a) => {
                        let d = cal.working_days_between(v, a);
                        to_answer.push(d);
                        if d <= ANSWER_DAYS {
                            f.answer_deadline.on_time += 1;
                        } else {
                            f.answer_deadline.late += 1;
                        }
                    }
                    None if !r.archived() && cal.working_days_between(v, now) > ANSWER_DAYS => {
                        f.answer_deadline.late += 1;
                    }
                    None => {}
                }
            }
            None if !r.archived() && now > cal.add_working_days(r.submitted_at, VERIFY_DAYS) => {
                f.verify_deadline.late += 1;
            }
            None => {}
        }
    }
    let base = f.received - f.archived;
    f.handled_permille = ratio(f.handled, base);
    f.completed_permille = ratio(f.completed, base);
    f.to_verification = Spread::of(to_verify);
    f.to_followup = Spread::of(to_answer);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        assert_eq!(Spread::of(vec![]).median, None);
        let s = Spread::of(vec![5, 1, 3, 2, 4]);
        assert_eq!((s.median, s.p90, s.n), (Some(3), Some(5), 5));
        let s = Spread::of(vec![1, 2, 3, 4]);
        assert_eq!((s.median, s.p90), (Some(2), Some(4)));
        let s = Spread::of((1..=10).collect());
        assert_eq!((s.median, s.p90), (Some(5), Some(9)));
    }

    #[test]
    fn ratios_round_half_up() {
        assert_eq!(ratio(2, 3), Some(667));
        assert_eq!(ratio(1, 8), Some(125));
        assert_eq!(ratio(0, 0), None);
    }
}
