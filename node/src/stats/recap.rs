//! The recap of a period (monthly recap, quarterly evaluation, a dashboard): the figures of the whole scope
//! and the previous period, rated rows per agency, node and region, and the daily volume. Also the
//! conversion of every figure to its wire form.

use chrono::{Days, NaiveDate};
use lapor_schemas::api::Count;
use lapor_schemas::stats as wire;

use super::breakdown::Row;
use super::figures::Figures;
use super::period::Period;
use super::rating::{Rating, Thresholds};
use super::Freshness;
use crate::domain::{Millis, WorkCalendar};

/// A row with its rating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatedRow {
    /// The row.
    pub row: Row,
    /// Its rating (`None`: nothing to rate).
    pub rating: Option<Rating>,
    /// Below the flag threshold.
    pub flagged: bool,
}

/// Rates rows and puts the flagged ones first (lowest share handled first); the others keep their order.
pub fn rate(rows: Vec<Row>, t: &Thresholds) -> Vec<RatedRow> {
    let mut rated: Vec<RatedRow> = rows
        .into_iter()
        .map(|row| RatedRow {
            rating: t.rate(row.figures.handled_permille),
            flagged: t.flagged(row.figures.handled_permille),
            row,
        })
        .collect();
    rated.sort_by_key(|r| {
        if r.flagged {
            (0, r.row.figures.handled_permille.unwrap_or(0))
        } else {
            (1, 0)
        }
    });
    rated
}

/// Everything a recap shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recap {
    /// The period.
    pub period: Period,
    /// Node name.
    pub node_name: String,
    /// What it covers (the node, or an agency subtree).
    pub scope_name: String,
    /// Local time it was made, as shown (`03-12-2026 10:00 WITA`).
    pub generated: String,
    /// The whole scope.
    pub total: Figures,
    /// The whole scope in the previous period.
    pub previous: Figures,
    /// Per agency, flagged first.
    pub agencies: Vec<RatedRow>,
    /// Per owning node.
    pub nodes: Vec<RatedRow>,
    /// Per province.
    pub regions: Vec<RatedRow>,
    /// Received per local day.
    pub daily: Vec<(NaiveDate, i64)>,
    /// Freshness of every origin (at the hub).
    pub freshness: Vec<Freshness>,
}

/// Received per local day of the period (every day, zero included).
pub fn daily(
    counts: &std::collections::BTreeMap<NaiveDate, i64>,
    period: &Period,
) -> Vec<(NaiveDate, i64)> {
    let mut out = Vec::new();
    let mut d = period.from;
    while d < period.to {
        out.push((d, counts.get(&d).copied().unwrap_or(0)));
        d = d + Days::new(1);
    }
    out
}

fn frac(permille: Option<i64>) -> Option<f64> {
    permille.map(|p| p as f64 / 1000.0)
}

fn counts(m: &std::collections::BTreeMap<String, i64>) -> Vec<Count> {
    m.iter()
        .map(|(k, v)| Count {
            key: k.clone(),
            count: *v,
        })
        .collect()
}

/// The wire form of figures.
pub fn wire_figures(f: &Figures) -> wire::StatsFigures {
    wire::StatsFigures {
        received: f.received,
        unverified: f.unverified,
        verified: f.verified,
        on_hold: f.on_hold,
        dispositioned: f.dispositioned,
        in_progress: f.in_progress,
        responded: f.responded,
        completed: f.completed,
        archived: f.archived,
        never_answered: f.never_answered,
        handled: f.handled,
        handled_ratio: frac(f.handled_permille),
        completed_ratio: frac(f.completed_permille),
        verification_days_median: f.to_verification.median,
        verification_days_p90: f.to_verification.p90,
        followup_days_median: f.to_followup.median,
        followup_days_p90: f.to_followup.p90,
        verified_within_3_ratio: frac(f.verify_deadline.permille()),
        answered_within_5_ratio: frac(f.answer_deadline.permille()),
        escalated: f.escalated,
        reopened: f.reopened,
        rated: f.rated,
        rating_mean: f.rating_mean_centi().map(|c| c as f64 / 100.0),
        satisfied_ratio: frac(f.satisfied_permille()),
        by_category: counts(&f.by_category),
        by_kind: counts(&f.by_kind),
        by_channel: counts(&f.by_channel),
    }
}

/// The wire form of a rated row.
pub fn wire_row(r: &RatedRow) -> wire::StatsRow {
    wire::StatsRow {
        key: r.row.key.clone(),
        name: r.row.name.clone(),
        rating: r.rating.map(|x| x.as_str().to_owned()),
        flag_below_60: r.flagged,
        figures: wire_figures(&r.row.figures),
    }
}

/// The wire form of freshness at `now`.
pub fn wire_freshness(f: &Freshness, cal: &WorkCalendar) -> wire::NodeFreshness {
    wire::NodeFreshness {
        node: f.origin.clone(),
        head_seq: f.head_seq,
        applied_at: f.applied_at.map(|t| cal.zone().datetime(t).to_rfc3339()),
        lag_ms: f
            .applied_at
            .zip(f.authored_at)
            .map(|(a, b): (Millis, Millis)| (a - b).max(0)),
    }
}

/// The wire form of a recap.
pub fn wire_recap(r: &Recap, cal: &WorkCalendar) -> wire::Recap {
    wire::Recap {
        period: r.period.key(),
        label: r.period.label_id(),
        from: r.period.from.to_string(),
        to: r.period.last_day().to_string(),
        total: wire_figures(&r.total),
        previous: wire_figures(&r.previous),
        agencies: r.agencies.iter().map(wire_row).collect(),
        nodes: r.nodes.iter().map(wire_row).collect(),
        regions: r.regions.iter().map(wire_row).collect(),
        daily: r
            .daily
            .iter()
            .map(|(d, n)| Count {
                key: d.to_string(),
                count: *n,
            })
            .collect(),
        freshness: r.freshness.iter().map(|f| wire_freshness(f, cal)).collect(),
    }
}

/// A per-mille share as Indonesian percent text (`66,7%`, `-` for none).
pub fn percent(permille: Option<i64>) -> String {
    permille.map_or_else(|| "-".to_owned(), |p| format!("{},{}%", p / 10, p % 10))
}

/// A working-day figure as text (`-` for none).
pub fn days(d: Option<u32>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| d.to_string())
}
