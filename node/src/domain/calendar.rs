//! Working days in the node's time zone.
//!
//! LAPOR! deadlines count *hari kerja*: weekdays that are neither a national holiday nor a joint leave day
//! (cuti bersama), nor a regional holiday the operator adds. Indonesia has no daylight saving time, so each
//! zone is a fixed offset. A deadline of `n` working days after an instant is the end (23:59:59.999 local) of
//! the `n`-th working day strictly after the local date of that instant: a report filed on Friday afternoon
//! with 3 days to go is due at the end of Wednesday.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveTime, TimeZone, Weekday};
use serde::Deserialize;

use super::Millis;

/// Indonesia's three time zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
pub enum NodeZone {
    /// Waktu Indonesia Barat, UTC+7 (Jakarta, Sumatra, West and Central Kalimantan).
    #[default]
    #[serde(alias = "Asia/Jakarta", alias = "Asia/Pontianak")]
    WIB,
    /// Waktu Indonesia Tengah, UTC+8 (Bali, Nusa Tenggara, Sulawesi, East Kalimantan).
    #[serde(alias = "Asia/Makassar")]
    WITA,
    /// Waktu Indonesia Timur, UTC+9 (Maluku, Papua).
    #[serde(alias = "Asia/Jayapura")]
    WIT,
}

impl NodeZone {
    /// Offset from UTC in hours.
    pub fn hours(self) -> i32 {
        match self {
            Self::WIB => 7,
            Self::WITA => 8,
            Self::WIT => 9,
        }
    }

    /// The fixed offset.
    pub fn offset(self) -> FixedOffset {
        const fn hours(h: i32) -> FixedOffset {
            match FixedOffset::east_opt(h * 3600) {
                Some(o) => o,
                None => panic!("offset out of range"),
            }
        }
        const WIB: FixedOffset = hours(7);
        const WITA: FixedOffset = hours(8);
        const WIT: FixedOffset = hours(9);
        match self {
            Self::WIB => WIB,
            Self::WITA => WITA,
            Self::WIT => WIT,
        }
    }

    /// An instant as a date-time in this zone.
    pub fn datetime(self, ms: Millis) -> DateTime<FixedOffset> {
        let utc = DateTime::from_timestamp_millis(ms).unwrap_or_default();
        utc.with_timezone(&self.offset())
    }

    /// Short name, e.g. `WITA`.
    pub fn abbreviation(self) -> &'static str {
        match self {
            Self::WIB => "WIB",
            Self::WITA => "WITA",
            Self::WIT => "WIT",
        }
    }
}

impl fmt::Display for NodeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.abbreviation())
    }
}

impl FromStr for NodeZone {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "WIB" | "Asia/Jakarta" | "Asia/Pontianak" => Ok(Self::WIB),
            "WITA" | "Asia/Makassar" => Ok(Self::WITA),
            "WIT" | "Asia/Jayapura" => Ok(Self::WIT),
            other => Err(format!("unknown time zone `{other}`: use WIB, WITA or WIT")),
        }
    }
}

/// One holiday from the shipped list or the operator's config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Holiday {
    /// The day.
    pub date: NaiveDate,
    /// Its name, in Indonesian.
    pub name: String,
    /// `national` or `joint_leave`; operators' additions use `regional`.
    #[serde(default = "regional")]
    pub kind: String,
}

fn regional() -> String {
    "regional".to_owned()
}

#[derive(Deserialize)]
struct HolidayFile {
    holiday: Vec<Holiday>,
}

/// The national holidays and joint leave days shipped with the binary.
const SHIPPED_HOLIDAYS: &str = include_str!("../../data/holidays-id.toml");

/// Parses the shipped holiday list.
pub fn shipped_holidays() -> Result<Vec<Holiday>, String> {
    toml::from_str::<HolidayFile>(SHIPPED_HOLIDAYS)
        .map(|f| f.holiday)
        .map_err(|e| format!("shipped holiday list is invalid: {e}"))
}

/// Working-day arithmetic for one node.
#[derive(Debug, Clone)]
pub struct WorkCalendar {
    zone: NodeZone,
    holidays: BTreeSet<NaiveDate>,
}

impl WorkCalendar {
    /// A calendar in `zone` that skips weekends and the given days.
    pub fn new(zone: NodeZone, holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self {
            zone,
            holidays: holidays.into_iter().collect(),
        }
    }

    /// The node's zone.
    pub fn zone(&self) -> NodeZone {
        self.zone
    }

    /// The same holidays in another zone: another node's calendar as the hub computes it (holidays are
    /// national; the zone is the node's own).
    pub fn in_zone(&self, zone: NodeZone) -> Self {
        Self {
            zone,
            holidays: self.holidays.clone(),
        }
    }

    /// The holidays, in date order.
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    /// Whether officers work on this local date.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&date)
    }

    /// The local date of an instant.
    pub fn local_date(&self, ms: Millis) -> NaiveDate {
        self.zone.datetime(ms).date_naive()
    }

    /// End of the `n`-th working day strictly after the local date of `from` (see the module docs).
    pub fn add_working_days(&self, from: Millis, n: u32) -> Millis {
        let mut date = self.local_date(from);
        let mut left = n;
        while left > 0 {
            date = date.checked_add_days(Days::new(1)).unwrap_or(date);
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        self.end_of_day(date)
    }

    /// The last millisecond of a local date.
    pub fn end_of_day(&self, date: NaiveDate) -> Millis {
        let end = NaiveTime::from_hms_milli_opt(23, 59, 59, 999).unwrap_or_default();
        self.zone
            .offset()
            .from_local_datetime(&date.and_time(end))
            .single()
            .map_or(0, |dt| dt.timestamp_millis())
    }

    /// Working days from the local date of `from` to the local date of `to`, counting `to`'s date but not
    /// `from`'s (0 when `to` is not after `from`).
    pub fn working_days_between(&self, from: Millis, to: Millis) -> u32 {
        let mut date = self.local_date(from);
        let end = self.local_date(to);
        let mut n = 0;
        while date < end {
            date = date.checked_add_days(Days::new(1)).unwrap_or(end);
            if self.is_working_day(date) {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Millis {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn friday_plus_three_is_wednesday_night() {
        let cal = WorkCalendar::new(NodeZone::WITA, []);
        // Friday 2026-11-20 15:00 WITA.
        let due = cal.add_working_days(at("2026-11-20T15:00:00+08:00"), 3);
        assert_eq!(
            NodeZone::WITA.datetime(due).to_rfc3339(),
            "2026-11-25T23:59:59.999+08:00"
        );
    }

    #[test]
    fn holidays_and_weekends_are_skipped() {
        let cal = WorkCalendar::new(NodeZone::WIB, [date("2026-12-24"), date("2026-12-25")]);
        // Wednesday 2026-12-23: Thu and Fri are holidays, then the weekend.
        let due = cal.add_working_days(at("2026-12-23T09:00:00+07:00"), 3);
        assert_eq!(
            NodeZone::WIB.datetime(due).to_rfc3339(),
            "2026-12-30T23:59:59.999+07:00"
        );
    }

    #[test]
    fn local_date_follows_the_zone() {
        // 17:30 UTC on the 22nd is 00:30 WIB and 02:30 WIT on the 23rd.
        let ms = at("2026-11-22T17:30:00Z");
        assert_eq!(
            WorkCalendar::new(NodeZone::WIT, []).local_date(ms),
            date("2026-11-23")
        );
        assert_eq!(
            WorkCalendar::new(NodeZone::WIB, []).local_date(ms),
            date("2026-11-23")
        );
        let ms = at("2026-11-22T16:30:00Z");
        assert_eq!(
            WorkCalendar::new(NodeZone::WIB, []).local_date(ms),
            date("2026-11-22")
        );
        assert_eq!(
            WorkCalendar::new(NodeZone::WIT, []).local_date(ms),
            date("2026-11-23")
        );
    }

    #[test]
    fn working_days_between_counts_only_working_days() {
        let cal = WorkCalendar::new(NodeZone::WIB, [date("2026-12-25")]);
        let from = at("2026-12-21T10:00:00+07:00");
        let to = at("2026-12-28T10:00:00+07:00");
        assert_eq!(cal.working_days_between(from, to), 4);
        assert_eq!(cal.working_days_between(to, from), 0);
    }

    #[test]
    fn shipped_list_parses_and_covers_both_years() {
        let list = shipped_holidays().unwrap();
        assert!(list.iter().any(|h| h.date == date("2026-08-17")));
        assert!(list.iter().any(|h| h.date == date("2027-08-17")));
        assert!(list.iter().any(|h| h.kind == "joint_leave"));
    }

    #[test]
    fn zone_names_parse() {
        assert_eq!("WITA".parse::<NodeZone>().unwrap(), NodeZone::WITA);
        assert_eq!("Asia/Jayapura".parse::<NodeZone>().unwrap(), NodeZone::WIT);
        assert!("UTC".parse::<NodeZone>().is_err());
    }
}
