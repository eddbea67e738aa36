//! The figures of a set of reports, computed from one fact row per report (pure: no I/O).
//!
//! Every figure is over the reports *received* in the period (submitted in it, in the node's zone), counted
//! as they stand now (a cohort): "of what came in during November, how much has been followed up". Working
//! days come from the node's [`WorkCalendar`] (weekends and holidays skipped, the day of the start not
//! counted). Definitions are in docs/STATISTICS.md; this file is the only place they are computed.

use std::collections::BTreeMap;

use chrono::NaiveDate;

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
    pub fn of(v: Vec<u32>) -> Self {
        let mut h = BTreeMap::new();
        for d in v {
            *h.entry(d).or_insert(0) += 1;
        }
        Self::of_histogram(&h)
    }

    /// Of a histogram (working days -> how many reports): the value at rank ceil(p * n).
    pub fn of_histogram(h: &BTreeMap<u32, i64>) -> Self {
        let n: i64 = h.values().sum();
        let at_rank = |p: i64| {
            let rank = ((n * p + 99) / 100).max(1);
            let mut seen = 0;
            h.iter().find_map(|(d, c)| {
                seen += c;
                (seen >= rank).then_some(*d)
            })
        };
        Self {
            n,
            median: (n > 0).then(|| at_rank(50)).flatten(),
            p90: (n > 0).then(|| at_rank(90)).flatten(),
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

/// What a set of reports adds up to before the ratios and percentiles: every field is a sum, so the tally
/// of a set is the sum of the tallies of its parts. One report gives one ([`Tally::of_fact`]); the
/// pre-aggregated counters give the tally of an agency's day or month
/// ([`StatsStore::stats_cells`](crate::storage::StatsStore::stats_cells)). [`Tally::figures`] turns it into
/// the figures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    /// Received.
    pub received: i64,
    /// Status `submitted`.
    pub unverified: i64,
    /// Verified at least once.
    pub verified: i64,
    /// Status `on_hold`.
    pub on_hold: i64,
    /// Status `verified`.
    pub dispositioned: i64,
    /// Status `in_progress`.
    pub in_progress: i64,
    /// Status `responded`.
    pub responded: i64,
    /// Status `completed`.
    pub completed: i64,
    /// Status `archived`.
    pub archived: i64,
    /// Handled.
    pub handled: i64,
    /// Not archived, not handled.
    pub never_answered: i64,
    /// Verified within [`VERIFY_DAYS`].
    pub verify_on_time: i64,
    /// Verified after [`VERIFY_DAYS`].
    pub verify_late: i64,
    /// First follow-up within [`ANSWER_DAYS`] of the verification.
    pub answer_on_time: i64,
    /// First follow-up after that.
    pub answer_late: i64,
    /// Not verified (nor archived) yet.
    pub open_verify: i64,
    /// Of those, still within the verification deadline.
    pub open_verify_within: i64,
    /// Verified, not followed up (nor archived) yet.
    pub open_answer: i64,
    /// Of those, still within the follow-up deadline.
    pub open_answer_within: i64,
    /// Flagged for the Ombudsman.
    pub escalated: i64,
    /// Reopened at least once.
    pub reopened: i64,
    /// Rated.
    pub rated: i64,
    /// Sum of the ratings.
    pub rating_sum: i64,
    /// Rated 4 or 5.
    pub satisfied: i64,
    /// Working days to the first verification -> how many reports.
    pub to_verify: BTreeMap<u32, i64>,
    /// Working days from the verification to the first follow-up -> how many reports.
    pub to_answer: BTreeMap<u32, i64>,
    /// By category id (`none` without one).
    pub by_category: BTreeMap<String, i64>,
    /// By kind.
    pub by_kind: BTreeMap<String, i64>,
    /// By channel.
    pub by_channel: BTreeMap<String, i64>,
}

fn add_map<K: Ord + Clone>(into: &mut BTreeMap<K, i64>, from: &BTreeMap<K, i64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_insert(0) += v;
    }
}

impl Tally {
    /// One report as it stands at `now`, working days in its owner's calendar `cal`.
    #[allow(clippy::many_single_char_names)]
    pub fn of_fact(r: &Fact, cal: &WorkCalendar, now: Millis) -> Self {
        let b = i64::from;
        let status = r.status.as_str();
        let mut t = Self {
            received: 1,
            unverified: b(status == "submitted"),
            on_hold: b(status == "on_hold"),
            dispositioned: b(status == "verified"),
            in_progress: b(status == "in_progress"),
            responded: b(status == "responded"),
            completed: b(status == "completed"),
            archived: b(r.archived()),
            handled: b(r.handled()),
            never_answered: b(!r.handled() && !r.archived()),
            escalated: b(r.escalated),
            reopened: b(r.reopened > 0),
            rated: b(r.rating.is_some()),
            rating_sum: r.rating.unwrap_or(0),
            satisfied: b(r.rating.is_some_and(|s| s >= 4)),
            ..Self::default()
        };
        t.by_category
            .insert(r.category_id.clone().unwrap_or_else(|| "none".into()), 1);
        t.by_kind.insert(r.kind.clone(), 1);
        t.by_channel.insert(r.channel.clone(), 1);
        // Verification: measured when it happened; a report not verified (nor archived) once its deadline
        // (the end of the third working day after its submission, as the lifecycle sets it) has passed is
        // late. The same for the follow-up, five working days after the verification.
        match r.verified_at {
            Some(v) => {
                t.verified = 1;
                let d = cal.working_days_between(r.submitted_at, v);
                t.to_verify.insert(d, 1);
                if d <= VERIFY_DAYS {
                    t.verify_on_time = 1;
                } else {
                    t.verify_late = 1;
                }
                // Follow-up: from the verification (the disposition) to the first follow-up.
                match r.first_responded_at {
                    Some(a) => {
                        let d = cal.working_days_between(v, a);
                        t.to_answer.insert(d, 1);
                        if d <= ANSWER_DAYS {
                            t.answer_on_time = 1;
                        } else {
                            t.answer_late = 1;
                        }
                    }
                    None if !r.archived() => {
                        t.open_answer = 1;
                        t.open_answer_within = b(answer_within(cal, cal.local_date(v), now));
                    }
                    None => {}
                }
            }
            None if !r.archived() => {
                t.open_verify = 1;
                t.open_verify_within = b(verify_within(cal, cal.local_date(r.submitted_at), now));
            }
            None => {}
        }
        t
    }

    /// Adds another tally.
    pub fn add(&mut self, o: &Self) {
        self.received += o.received;
        self.unverified += o.unverified;
        self.verified += o.verified;
        self.on_hold += o.on_hold;
        self.dispositioned += o.dispositioned;
        self.in_progress += o.in_progress;
        self.responded += o.responded;
        self.completed += o.completed;
        self.archived += o.archived;
        self.handled += o.handled;
        self.never_answered += o.never_answered;
        self.verify_on_time += o.verify_on_time;
        self.verify_late += o.verify_late;
        self.answer_on_time += o.answer_on_time;
        self.answer_late += o.answer_late;
        self.open_verify += o.open_verify;
        self.open_verify_within += o.open_verify_within;
        self.open_answer += o.open_answer;
        self.open_answer_within += o.open_answer_within;
        self.escalated += o.escalated;
        self.reopened += o.reopened;
        self.rated += o.rated;
        self.rating_sum += o.rating_sum;
        self.satisfied += o.satisfied;
        add_map(&mut self.to_verify, &o.to_verify);
        add_map(&mut self.to_answer, &o.to_answer);
        add_map(&mut self.by_category, &o.by_category);
        add_map(&mut self.by_kind, &o.by_kind);
        add_map(&mut self.by_channel, &o.by_channel);
    }

    /// The figures.
    pub fn figures(&self) -> Figures {
        let base = self.received - self.archived;
        Figures {
            received: self.received,
            unverified: self.unverified,
            verified: self.verified,
            on_hold: self.on_hold,
            dispositioned: self.dispositioned,
            in_progress: self.in_progress,
            responded: self.responded,
            completed: self.completed,
            archived: self.archived,
            never_answered: self.never_answered,
            handled: self.handled,
            handled_permille: ratio(self.handled, base),
            completed_permille: ratio(self.completed, base),
            to_verification: Spread::of_histogram(&self.to_verify),
            to_followup: Spread::of_histogram(&self.to_answer),
            verify_deadline: Compliance {
                on_time: self.verify_on_time,
                late: self.verify_late + self.open_verify - self.open_verify_within,
            },
            answer_deadline: Compliance {
                on_time: self.answer_on_time,
                late: self.answer_late + self.open_answer - self.open_answer_within,
            },
            escalated: self.escalated,
            reopened: self.reopened,
            rated: self.rated,
            rating_sum: self.rating_sum,
            satisfied: self.satisfied,
            by_category: self.by_category.clone(),
            by_kind: self.by_kind.clone(),
            by_channel: self.by_channel.clone(),
        }
    }
}

/// Whether a report submitted on local date `submitted` and not verified is still within its verification
/// deadline at `now` (the end of the third working day after that date).
pub fn verify_within(cal: &WorkCalendar, submitted: NaiveDate, now: Millis) -> bool {
    now <= cal.add_working_days(cal.end_of_day(submitted), VERIFY_DAYS)
}

/// Whether a report verified on local date `verified` and not followed up is still within its follow-up
/// deadline at `now` (at most five working days since).
pub fn answer_within(cal: &WorkCalendar, verified: NaiveDate, now: Millis) -> bool {
    cal.working_days_between(cal.end_of_day(verified), now) <= ANSWER_DAYS
}

/// Computes the figures of `facts` as they stand at `now`.
pub fn compute<'a>(
    facts: impl IntoIterator<Item = &'a Fact>,
    cal: &WorkCalendar,
    now: Millis,
) -> Figures {
    let mut t = Tally::default();
    for r in facts {
        t.add(&Tally::of_fact(r, cal, now));
    }
    t.figures()
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
