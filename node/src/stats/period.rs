//! Periods of statistics: a day, a month, a quarter, a year or any range of local dates.
//!
//! A period is a half-open range of local dates `[from, to)` in the node's zone; its bounds in milliseconds
//! come from the calendar's zone, so "November" means November in WIB on a WIB node. The previous period is
//! the one of the same shape just before (the previous month for a month, the same number of days for a
//! custom range), which is what a trend is measured against.

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone};

use crate::domain::{Millis, NodeZone};

/// The shape of a period, which decides its previous period and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One local day.
    Day,
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
    /// A calendar year.
    Year,
    /// Any range of days.
    Custom,
}

/// A half-open range of local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Day after the last.
    pub to: NaiveDate,
    /// Its shape.
    pub shape: Shape,
}

/// Why a period could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadPeriod(pub String);

fn bad2(id: &str, en: &str) -> BadPeriod {
    BadPeriod(format!("periode tidak valid: {id} / invalid period: {en}"))
}

fn bad(what: &str) -> BadPeriod {
    bad2(
        &format!("'{what}' (pakai YYYY-MM, YYYY-Qn, YYYY atau YYYY-MM-DD)"),
        &format!("'{what}' (use YYYY-MM, YYYY-Qn, YYYY or YYYY-MM-DD)"),
    )
}

fn date(s: &str) -> Result<NaiveDate, BadPeriod> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        bad2(
            &format!("'{s}' bukan tanggal YYYY-MM-DD"),
            &format!("'{s}' is not a YYYY-MM-DD date"),
        )
    })
}

/// Longest custom range, in days (ten years).
pub const MAX_DAYS: u64 = 3660;

impl Period {
    /// One local day.
    pub fn day(d: NaiveDate) -> Self {
        Self {
            from: d,
            to: d + Days::new(1),
            shape: Shape::Day,
        }
    }

    /// A calendar month.
    pub fn month(year: i32, month: u32) -> Result<Self, BadPeriod> {
        let from = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(|| {
            bad2(
                &format!("bulan {month} tidak ada"),
                &format!("there is no month {month}"),
            )
        })?;
        Ok(Self {
            from,
            to: from + Months::new(1),
            shape: Shape::Month,
        })
    }

    /// A calendar quarter (1 to 4).
    pub fn quarter(year: i32, q: u32) -> Result<Self, BadPeriod> {
        if !(1..=4).contains(&q) {
            return Err(bad2("triwulan harus 1-4", "the quarter must be 1-4"));
        }
        let from = NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1)
            .ok_or_else(|| bad2("tahun di luar jangkauan", "year out of range"))?;
        Ok(Self {
            from,
            to: from + Months::new(3),
            shape: Shape::Quarter,
        })
    }

    /// A calendar year.
    pub fn year(year: i32) -> Result<Self, BadPeriod> {
        let from = NaiveDate::from_ymd_opt(year, 1, 1)
            .ok_or_else(|| bad2("tahun di luar jangkauan", "year out of range"))?;
        Ok(Self {
            from,
            to: from + Months::new(12),
            shape: Shape::Year,
        })
    }

    /// `from` to `to`, both included (as a user types them).
    pub fn custom(from: NaiveDate, to_inclusive: NaiveDate) -> Result<Self, BadPeriod> {
        if to_inclusive < from {
            return Err(bad2("'to' sebelum 'from'", "'to' is before 'from'"));
        }
        let to = to_inclusive + Days::new(1);
        if (to - from).num_days() > i64::try_from(MAX_DAYS).unwrap_or(i64::MAX) {
            return Err(bad2("lebih dari sepuluh tahun", "more than ten years"));
        }
        Ok(Self {
            from,
            to,
            shape: Shape::Custom,
        })
    }

    /// Reads `YYYY-MM-DD`, `YYYY-MM`, `YYYY-Qn`, `YYYY` or `YYYY-MM-DD..YYYY-MM-DD` (both included).
    pub fn parse(s: &str) -> Result<Self, BadPeriod> {
        let s = s.trim();
        if let Some((a, b)) = s.split_once("..") {
            return Self::custom(date(a)?, date(b)?);
        }
        if let Some((y, q)) = s.split_once("-Q").or_else(|| s.split_once("-q")) {
            let y = y.parse().map_err(|_| bad(s))?;
            let q = q.parse().map_err(|_| bad(s))?;
            return Self::quarter(y, q);
        }
        match s.len() {
            4 => Self::year(s.parse().map_err(|_| bad(s))?),
            7 => {
                let (y, m) = s.split_once('-').ok_or_else(|| bad(s))?;
                Self::month(
                    y.parse().map_err(|_| bad(s))?,
                    m.parse().map_err(|_| bad(s))?,
                )
            }
            10 => Ok(Self::day(date(s)?)),
            _ => Err(bad(s)),
        }
    }

    /// The period of `from`/`to` query parameters (dates, both included), or the month of `today` when
    /// neither is given.
    pub fn from_query(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, BadPeriod> {
        match (from.filter(|s| !s.is_empty()), to.filter(|s| !s.is_empty())) {
            (None, None) => Self::month(today.year(), today.month()),
            (Some(f), None) => Self::custom(date(f)?, today.max(date(f)?)),
            (None, Some(t)) => {
                let t = date(t)?;
                Self::custom(t.with_day(1).unwrap_or(t), t)
            }
            (Some(f), Some(t)) => Self::custom(date(f)?, date(t)?),
        }
    }

    /// Number of days.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days()
    }

    /// The period of the same shape just before.
    pub fn previous(&self) -> Self {
        let months = match self.shape {
            Shape::Month => Some(1),
            Shape::Quarter => Some(3),
            Shape::Year => Some(12),
            Shape::Day | Shape::Custom => None,
        };
        match months {
            Some(m) => Self {
                from: self.from - Months::new(m),
                to: self.from,
                shape: self.shape,
            },
            None => Self {
                from: self.from - Days::new(u64::try_from(self.days()).unwrap_or(1)),
                to: self.from,
                shape: self.shape,
            },
        }
    }

    /// Start and end (exclusive) in milliseconds in `zone`.
    pub fn bounds(&self, zone: NodeZone) -> (Millis, Millis) {
        let start = |d: NaiveDate| {
            zone.offset()
                .from_local_datetime(&d.and_time(NaiveTime::MIN))
                .single()
                .map_or(0, |t| t.timestamp_millis())
        };
        (start(self.from), start(self.to))
    }

    /// Last day included.
    pub fn last_day(&self) -> NaiveDate {
        self.to - Days::new(1)
    }

    /// The canonical key: `2026-11`, `2026-Q4`, `2026`, `2026-11-03` or `2026-11-01..2026-11-15`.
    pub fn key(&self) -> String {
        match self.shape {
            Shape::Day => self.from.format("%Y-%m-%d").to_string(),
            Shape::Month => self.from.format("%Y-%m").to_string(),
            Shape::Quarter => format!("{}-Q{}", self.from.year(), self.from.month0() / 3 + 1),
            Shape::Year => self.from.year().to_string(),
            Shape::Custom => format!(
                "{}..{}",
                self.from.format("%Y-%m-%d"),
                self.last_day().format("%Y-%m-%d")
            ),
        }
    }

    /// Its name in Indonesian (`November 2026`, `Triwulan IV 2026`).
    pub fn label_id(&self) -> String {
        const MONTHS: [&str; 12] = [
            "Januari",
            "Februari",
            "Maret",
            "April",
            "Mei",
            "Juni",
            "Juli",
            "Agustus",
            "September",
            "Oktober",
            "November",
            "Desember",
        ];
        let month = MONTHS[self.from.month0() as usize];
        match self.shape {
            Shape::Day => format!("{} {} {}", self.from.day(), month, self.from.year()),
            Shape::Month => format!("{month} {}", self.from.year()),
            Shape::Quarter => format!(
                "Triwulan {} {}",
                ["I", "II", "III", "IV"][(self.from.month0() / 3) as usize],
                self.from.year()
            ),
            Shape::Year => format!("Tahun {}", self.from.year()),
            Shape::Custom => format!(
                "{} s.d. {}",
                self.from.format("%d-%m-%Y"),
                self.last_day().format("%d-%m-%Y")
            ),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_and_step_back() {
        let m = Period::parse("2026-03").unwrap();
        assert_eq!(m.previous().key(), "2026-02");
        assert_eq!(m.days(), 31);
        let q = Period::parse("2026-Q1").unwrap();
        assert_eq!(q.previous().key(), "2025-Q4");
        assert_eq!(Period::parse("2026").unwrap().previous().key(), "2025");
        let d = Period::parse("2026-03-01").unwrap();
        assert_eq!(d.previous().key(), "2026-02-28");
        let c = Period::custom(date("2026-03-01").unwrap(), date("2026-03-10").unwrap()).unwrap();
        assert_eq!(c.previous().key(), "2026-02-19..2026-02-28");
        assert_eq!(Period::parse(&c.key()).unwrap(), c);
        assert!(Period::parse("2026-13").is_err());
        assert!(Period::parse("2026-Q5").is_err());
        assert!(Period::parse("x").is_err());
    }

    #[test]
    fn bounds_are_local_midnights() {
        let m = Period::parse("2026-11").unwrap();
        let (a, b) = m.bounds(NodeZone::WITA);
        assert_eq!(
            NodeZone::WITA.datetime(a).to_rfc3339(),
            "2026-11-01T00:00:00+08:00"
        );
        assert_eq!(
            NodeZone::WITA.datetime(b).to_rfc3339(),
            "2026-12-01T00:00:00+08:00"
        );
        assert_eq!(m.label_id(), "November 2026");
        assert_eq!(
            Period::parse("2026-Q4").unwrap().label_id(),
            "Triwulan IV 2026"
        );
    }
}
