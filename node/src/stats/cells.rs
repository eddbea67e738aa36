//! Cells: the tally of the reports of one agency, owning node, province and class (public, confidential,
//! archived) over a period, the unit every breakdown sums.
//!
//! Storage keeps them pre-aggregated per day and per month (migration 0013: triggers maintain them in the
//! same transaction as every change), so a province or the nation over a month is a few thousand cells
//! instead of every report. The figures the counters cannot hold are kept beside them in the same key:
//! histograms of working days (medians and percentiles are exact from a histogram) and the counts per
//! category, kind and channel. Whether an open report is late depends on *now*: the cells count the open
//! ones, and [`settle`] subtracts those still within their deadline from the few open rows whose
//! deadline is recent ([`CellRows::open`]). A query the cells cannot answer (a region, category, kind or
//! reporter filter) is served from one fact per report instead ([`from_facts`]), through the same tally.
//!
//! Working days and local dates are those of the node that owns the report ([`Calendars`]): at the hub, a
//! report of a node in Papua is dated and counted in WIT.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};

use super::figures::{answer_within, verify_within, Fact, Tally};
use super::period::Period;
use crate::domain::{region, Millis, NodeZone, WorkCalendar};

/// Class of a cell: what the public may see.
pub const CLASS_PUBLIC: i64 = 0;
/// Class of a cell: confidential, counted for staff only.
pub const CLASS_CONFIDENTIAL: i64 = 1;
/// Class of a cell: archived (left out of the public figures and every ratio).
pub const CLASS_ARCHIVED: i64 = 2;

/// What a cell is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CellKey {
    /// Agency (`""` none).
    pub agency_id: String,
    /// Its path (`""` none).
    pub agency_path: String,
    /// Owning node (`""` this node).
    pub owner: String,
    /// Province, the first segment of the region code (`""` none).
    pub province: String,
    /// [`CLASS_PUBLIC`], [`CLASS_CONFIDENTIAL`] or [`CLASS_ARCHIVED`].
    pub class: i64,
}

impl CellKey {
    /// The key of one report.
    pub fn of_fact(f: &Fact) -> Self {
        Self {
            agency_id: f.agency_id.clone().unwrap_or_default(),
            agency_path: f.agency_path.clone().unwrap_or_default(),
            owner: f.owner.clone().unwrap_or_default(),
            province: f
                .region_code
                .as_deref()
                .map(|c| c.split('.').next().unwrap_or_default().to_owned())
                .unwrap_or_default(),
            class: if f.archived() {
                CLASS_ARCHIVED
            } else if f.confidential {
                CLASS_CONFIDENTIAL
            } else {
                CLASS_PUBLIC
            },
        }
    }
}

/// The tally of one key over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Key.
    pub key: CellKey,
    /// What its reports add up to.
    pub tally: Tally,
}

/// Open reports of one key whose deadline clock started on `since` (the submission for verification,
/// the verification for the follow-up), from a recent date on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCell {
    /// Key.
    pub key: CellKey,
    /// `false`: waiting for verification; `true`: verified, waiting for the follow-up.
    pub answer: bool,
    /// Local date the clock started.
    pub since: NaiveDate,
    /// How many.
    pub n: i64,
}

/// What the pre-aggregates give for a period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CellRows {
    /// One cell per key (the open counts are totals; `open_*_within` are still 0).
    pub cells: Vec<Cell>,
    /// Open reports whose clock started on or after [`CellQuery::open_since`].
    pub open: Vec<OpenCell>,
    /// Reports received per local date.
    pub daily: BTreeMap<NaiveDate, i64>,
}

/// Which cells to read: a period of local dates and the viewer's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellQuery {
    /// First date.
    pub from: NaiveDate,
    /// Date after the last.
    pub to: NaiveDate,
    /// An agency subtree (path prefix).
    pub agency_path_prefix: Option<String>,
    /// One agency exactly.
    pub agency_id: Option<String>,
    /// Public reports only (class public).
    pub public_only: bool,
    /// Only these owners (`""` is this node); `None`: every node's (the hub).
    pub owners: Option<Vec<String>>,
    /// Open reports whose clock started before this date are late whatever the calendar: only later ones
    /// are read one by one.
    pub open_since: NaiveDate,
}

/// A day number: days since 1970-01-01, as the aggregates store dates.
pub fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

/// The date of a day number.
pub fn day_date(n: i64) -> NaiveDate {
    i32::try_from(n + 719_163)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or_default()
}

/// A month as the aggregates store it (`yyyymm`).
pub fn month_number(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 100 + i64::from(d.month())
}

/// Span of an aggregate row: a day.
pub const SPAN_DAY: i64 = 0;
/// Span of an aggregate row: a month.
pub const SPAN_MONTH: i64 = 1;

impl CellQuery {
    /// The ranges of aggregate rows covering `[from, to)`: `(span, first, after last)`; whole months as
    /// month rows, the days before the first and after the last whole month as day rows.
    pub fn ranges(&self) -> Vec<(i64, i64, i64)> {
        let mut out = Vec::new();
        let first_whole = if self.from.day() == 1 {
            self.from
        } else {
            next_month(self.from)
        };
        let mut m = first_whole;
        let mut months = Vec::new();
        while next_month(m) <= self.to && m < self.to {
            months.push(m);
            m = next_month(m);
        }
        match (months.first(), months.last()) {
            (Some(&a), Some(&b)) => {
                if self.from < a {
                    out.push((SPAN_DAY, day_number(self.from), day_number(a)));
                }
                out.push((SPAN_MONTH, month_number(a), month_number(b) + 1));
                let end = next_month(b);
                if end < self.to {
                    out.push((SPAN_DAY, day_number(end), day_number(self.to)));
                }
            }
            _ => out.push((SPAN_DAY, day_number(self.from), day_number(self.to))),
        }
        out
    }
}

/// The first day of the month after `d`'s.
fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

/// The calendar of every owning node: the same holidays (national), each node in its own zone, learnt
/// from the regions it serves in the directory.
#[derive(Debug, Clone)]
pub struct Calendars {
    local: WorkCalendar,
    others: BTreeMap<String, WorkCalendar>,
}

impl Calendars {
    /// This node's calendar alone.
    pub fn local(cal: &WorkCalendar) -> Self {
        Self {
            local: cal.clone(),
            others: BTreeMap::new(),
        }
    }

    /// With the nodes of the directory: `(node, regions it serves)`; a node whose first region has a
    /// zone other than this node's gets its own calendar.
    pub fn with_nodes<'a>(
        cal: &WorkCalendar,
        nodes: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Self {
        let mut c = Self::local(cal);
        for (node, regions) in nodes {
            if let Some(zone) = regions.first().and_then(|r| region::zone_of(r)) {
                c.others.insert(node.to_owned(), cal.in_zone(zone));
            }
        }
        c
    }

    /// The calendar of `owner` (`""` or an unknown node: this node's).
    pub fn of(&self, owner: &str) -> &WorkCalendar {
        self.others.get(owner).unwrap_or(&self.local)
    }

    /// This node's.
    pub fn local_calendar(&self) -> &WorkCalendar {
        &self.local
    }

    /// The zone of every owner the storage must date reports in (`""` is this node).
    pub fn zones(&self) -> Vec<(String, NodeZone)> {
        let mut v = vec![(String::new(), self.local.zone())];
        v.extend(self.others.iter().map(|(k, c)| (k.clone(), c.zone())));
        v
    }

    /// The earliest date an open report's clock may have started and still be within its deadline at
    /// `now`, for any owner: older open reports are late, and only the later ones are read one by one.
    pub fn open_since(&self, now: Millis) -> NaiveDate {
        self.zones()
            .iter()
            .map(|(o, _)| {
                let cal = self.of(o);
                let mut d = cal.local_date(now);
                // At most a few weeks back, whatever the holidays.
                for _ in 0..60 {
                    let before = d - chrono::Days::new(1);
                    if !answer_within(cal, before, now) && !verify_within(cal, before, now) {
                        break;
                    }
                    d = before;
                }
                d
            })
            .min()
            .unwrap_or_default()
    }
}

/// The calendar storage dates and counts reports with: the holidays and every owner's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarSpec {
    /// Holidays (national).
    pub holidays: Vec<NaiveDate>,
    /// UTC offset of each owner's zone in milliseconds (`""` is this node).
    pub zones: Vec<(String, i64)>,
}

/// First date of the working-day table.
pub const WORKDAYS_FROM: (i32, u32, u32) = (1990, 1, 1);
/// Last date of the working-day table.
pub const WORKDAYS_TO: (i32, u32, u32) = (2100, 12, 31);

impl CalendarSpec {
    /// Of the calendars.
    pub fn of(c: &Calendars) -> Self {
        Self {
            holidays: c.local.holidays().collect(),
            zones: c
                .zones()
                .into_iter()
                .map(|(o, z)| (o, i64::from(z.hours()) * 3_600_000))
                .collect(),
        }
    }

    /// What the working-day table holds for the holidays: `(day number, working days up to and
    /// including it)`.
    pub fn workdays(&self) -> Vec<(i64, i64)> {
        let cal = WorkCalendar::new(NodeZone::WIB, self.holidays.iter().copied());
        let (y, m, d) = WORKDAYS_FROM;
        let (ye, me, de) = WORKDAYS_TO;
        let (Some(mut day), Some(end)) = (
            NaiveDate::from_ymd_opt(y, m, d),
            NaiveDate::from_ymd_opt(ye, me, de),
        ) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut ordinal = 0;
        while day <= end {
            if cal.is_working_day(day) {
                ordinal += 1;
            }
            out.push((day_number(day), ordinal));
            day = day + chrono::Days::new(1);
        }
        out
    }

    /// A fingerprint of the holidays (the derived rows must be rebuilt when it changes).
    pub fn holidays_key(&self) -> String {
        let mut s = String::from("v1:");
        for h in &self.holidays {
            s.push_str(&h.format("%Y%m%d,").to_string());
        }
        s
    }
}

/// The cells with the open reports still within their deadline at `now` subtracted from the late ones
/// (each in its owner's calendar).
pub fn settle(
    rows: CellRows,
    cals: &Calendars,
    now: Millis,
) -> (Vec<Cell>, BTreeMap<NaiveDate, i64>) {
    let mut within: HashMap<(CellKey, bool), i64> = HashMap::new();
    for o in &rows.open {
        let cal = cals.of(&o.key.owner);
        let ok = if o.answer {
            answer_within(cal, o.since, now)
        } else {
            verify_within(cal, o.since, now)
        };
        if ok {
            *within.entry((o.key.clone(), o.answer)).or_insert(0) += o.n;
        }
    }
    let cells = rows
        .cells
        .into_iter()
        .map(|mut c| {
            c.tally.open_verify_within = within.get(&(c.key.clone(), false)).copied().unwrap_or(0);
            c.tally.open_answer_within = within.get(&(c.key.clone(), true)).copied().unwrap_or(0);
            c
        })
        .collect();
    (cells, rows.daily)
}

/// The cells of facts read one by one: those received in `period` by their owner's local date.
pub fn from_facts(
    facts: &[Fact],
    period: &Period,
    cals: &Calendars,
    now: Millis,
) -> (Vec<Cell>, BTreeMap<NaiveDate, i64>) {
    let mut by_key: BTreeMap<CellKey, Tally> = BTreeMap::new();
    let mut daily = BTreeMap::new();
    for f in facts {
        let cal = cals.of(f.owner.as_deref().unwrap_or_default());
        let day = cal.local_date(f.submitted_at);
        if day < period.from || day >= period.to {
            continue;
        }
        *daily.entry(day).or_insert(0) += 1;
        by_key
            .entry(CellKey::of_fact(f))
            .or_default()
            .add(&Tally::of_fact(f, cal, now));
    }
    let cells = by_key
        .into_iter()
        .map(|(key, tally)| Cell { key, tally })
        .collect();
    (cells, daily)
}

/// The sum of cells.
pub fn total<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> Tally {
    let mut t = Tally::default();
    for c in cells {
        t.add(&c.tally);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn q(from: &str, to: &str) -> CellQuery {
        CellQuery {
            from: date(from),
            to: date(to),
            agency_path_prefix: None,
            agency_id: None,
            public_only: false,
            owners: None,
            open_since: date(from),
        }
    }

    #[test]
    fn day_numbers_are_days_since_1970() {
        assert_eq!(day_number(date("1970-01-01")), 0);
        assert_eq!(day_number(date("2025-11-08")), 20400);
        assert_eq!(day_date(20400), date("2025-11-08"));
        assert_eq!(month_number(date("2026-11-30")), 202_611);
    }

    #[test]
    fn whole_months_are_month_rows_and_the_edges_days() {
        let d = |s| day_number(date(s));
        assert_eq!(
            q("2026-11-01", "2026-12-01").ranges(),
            vec![(SPAN_MONTH, 202_611, 202_612)]
        );
        assert_eq!(
            q("2026-10-01", "2027-01-01").ranges(),
            vec![(SPAN_MONTH, 202_610, 202_613)]
        );
        assert_eq!(
            q("2026-10-15", "2026-12-03").ranges(),
            vec![
                (SPAN_DAY, d("2026-10-15"), d("2026-11-01")),
                (SPAN_MONTH, 202_611, 202_612),
                (SPAN_DAY, d("2026-12-01"), d("2026-12-03")),
            ]
        );
        assert_eq!(
            q("2026-11-03", "2026-11-04").ranges(),
            vec![(SPAN_DAY, d("2026-11-03"), d("2026-11-04"))]
        );
        assert_eq!(
            q("2026-11-03", "2026-12-02").ranges(),
            vec![(SPAN_DAY, d("2026-11-03"), d("2026-12-02"))]
        );
    }

    fn at(s: &str) -> Millis {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    fn fact(owner: Option<&str>, submitted: &str, verified: &str) -> Fact {
        Fact {
            id: "r".into(),
            owner: owner.map(str::to_owned),
            kind: "complaint".into(),
            channel: "web".into(),
            status: "verified".into(),
            submitted_at: at(submitted),
            verified_at: Some(at(verified)),
            ..Fact::default()
        }
    }

    #[test]
    fn each_owner_is_counted_in_its_own_zone() {
        let hub = WorkCalendar::new(NodeZone::WIB, []);
        let papua = vec!["91.71".to_owned()];
        let kaltim = vec!["64.72".to_owned()];
        let cals = Calendars::with_nodes(
            &hub,
            [("papua", papua.as_slice()), ("kaltim", kaltim.as_slice())],
        );
        assert_eq!(cals.of("papua").zone(), NodeZone::WIT);
        assert_eq!(cals.of("kaltim").zone(), NodeZone::WITA);
        assert_eq!(cals.of("").zone(), NodeZone::WIB);
        assert_eq!(cals.of("unknown").zone(), NodeZone::WIB);
        // Thursday 3 December 2026 22:30 WIB is Friday 00:30 WIT; verified Friday 23:00 WIB, which is
        // Saturday 01:00 WIT: one working day in WIB, none in WIT.
        let (s, v) = ("2026-12-03T15:30:00Z", "2026-12-04T16:00:00Z");
        let now = at("2026-12-20T00:00:00Z");
        let p = Period::month(2026, 12).unwrap();
        let (here, _) = from_facts(&[fact(None, s, v)], &p, &cals, now);
        let (there, _) = from_facts(&[fact(Some("papua"), s, v)], &p, &cals, now);
        assert_eq!(here[0].tally.to_verify, BTreeMap::from([(1, 1)]));
        assert_eq!(there[0].tally.to_verify, BTreeMap::from([(0, 1)]));
        // 30 November 22:30 WIB is 1 December 00:30 WIT: November's here, December's in Papua.
        let late_night = "2026-11-30T15:30:00Z";
        let nov = Period::month(2026, 11).unwrap();
        let f_here = fact(None, late_night, v);
        let f_there = fact(Some("papua"), late_night, v);
        assert_eq!(
            from_facts(std::slice::from_ref(&f_here), &nov, &cals, now)
                .0
                .len(),
            1
        );
        assert_eq!(from_facts(&[f_here], &p, &cals, now).0.len(), 0);
        assert_eq!(
            from_facts(std::slice::from_ref(&f_there), &nov, &cals, now)
                .0
                .len(),
            0
        );
        let (dec, daily) = from_facts(&[f_there], &p, &cals, now);
        assert_eq!(dec.len(), 1);
        assert_eq!(daily, BTreeMap::from([(date("2026-12-01"), 1)]));
    }

    #[test]
    fn open_reports_are_late_by_their_owners_clock() {
        let hub = WorkCalendar::new(NodeZone::WIB, []);
        let papua = vec!["91".to_owned()];
        let cals = Calendars::with_nodes(&hub, [("papua", papua.as_slice())]);
        // Submitted Monday 30 November 2026: due at the end of Thursday 3 December, local time. At
        // Thursday 23:30 WIB it is already Friday 01:30 in Papua.
        let now = at("2026-12-03T16:30:00Z");
        let key = |owner: &str| CellKey {
            owner: owner.into(),
            ..CellKey::default()
        };
        let open = |owner: &str| OpenCell {
            key: key(owner),
            answer: false,
            since: date("2026-11-30"),
            n: 1,
        };
        let cell = |owner: &str| Cell {
            key: key(owner),
            tally: Tally {
                received: 1,
                open_verify: 1,
                ..Tally::default()
            },
        };
        let rows = CellRows {
            cells: vec![cell(""), cell("papua")],
            open: vec![open(""), open("papua")],
            daily: BTreeMap::new(),
        };
        assert!(cals.open_since(now) <= date("2026-11-30"));
        let (cells, _) = settle(rows, &cals, now);
        assert_eq!(
            cells[0].tally.figures().verify_deadline.late,
            0,
            "WIB: still Thursday"
        );
        assert_eq!(
            cells[1].tally.figures().verify_deadline.late,
            1,
            "WIT: Friday already"
        );
    }

    #[test]
    fn the_working_day_table_counts_working_days() {
        let spec = CalendarSpec {
            holidays: vec![date("2026-12-25")],
            zones: vec![],
        };
        let w: BTreeMap<i64, i64> = spec.workdays().into_iter().collect();
        let cal = WorkCalendar::new(NodeZone::WIB, [date("2026-12-25")]);
        let (a, b) = (date("2026-12-20"), date("2027-01-04"));
        assert_eq!(
            w[&day_number(b)] - w[&day_number(a)],
            i64::from(cal.working_days_between(cal.end_of_day(a), cal.end_of_day(b)))
        );
    }
}
