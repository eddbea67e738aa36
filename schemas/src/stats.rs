//! Bodies of the statistics API under `/api/v1/stats/`.
//!
//! Ratios are fractions between 0 and 1 (`null` when there is nothing to divide by: no report received, or
//! every one archived); durations are working days in the owning node's calendar. docs/STATISTICS.md defines
//! every figure.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::Count;

/// The figures of a set of reports received in a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatsFigures {
    /// Reports received (submitted) in the period.
    pub received: i64,
    /// Not yet verified.
    pub unverified: i64,
    /// Verified at least once.
    pub verified: i64,
    /// Waiting for the reporter (`on_hold`).
    pub on_hold: i64,
    /// Dispositioned, not yet acknowledged by the agency (`verified`).
    pub dispositioned: i64,
    /// In progress (acknowledged, or reopened by a reply).
    pub in_progress: i64,
    /// Follow-up posted, waiting for the reporter.
    pub responded: i64,
    /// Completed.
    pub completed: i64,
    /// Archived (invalid, spam, duplicate).
    pub archived: i64,
    /// Not archived and never followed up.
    pub never_answered: i64,
    /// Handled (ditindaklanjuti): a follow-up posted at least once, or completed; archived excluded.
    pub handled: i64,
    /// `handled / (received - archived)`.
    pub handled_ratio: Option<f64>,
    /// `completed / (received - archived)`.
    pub completed_ratio: Option<f64>,
    /// Median working days from submission to the first verification.
    pub verification_days_median: Option<u32>,
    /// 90th percentile of the same.
    pub verification_days_p90: Option<u32>,
    /// Median working days from the first verification to the first follow-up.
    pub followup_days_median: Option<u32>,
    /// 90th percentile of the same.
    pub followup_days_p90: Option<u32>,
    /// Share of reports due for verification that were verified within 3 working days.
    pub verified_within_3_ratio: Option<f64>,
    /// Share of verified reports due for a follow-up that got it within 5 working days of the verification.
    pub answered_within_5_ratio: Option<f64>,
    /// Flagged for the Ombudsman (60 days unresolved).
    pub escalated: i64,
    /// Reopened by a reporter's reply at least once.
    pub reopened: i64,
    /// Rated by the reporter.
    pub rated: i64,
    /// Mean rating (1 to 5).
    pub rating_mean: Option<f64>,
    /// Share of ratings of 4 or 5.
    pub satisfied_ratio: Option<f64>,
    /// By category id (`none` without one).
    pub by_category: Vec<Count>,
    /// By kind.
    pub by_kind: Vec<Count>,
    /// By channel.
    pub by_channel: Vec<Count>,
}

/// One agency (with its whole subtree), node or region and its rating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatsRow {
    /// Agency id, node id or region code.
    pub key: String,
    /// Agency name, node id or region code.
    pub name: String,
    /// `baik`, `sedang` or `kurang` by the share handled (`null`: nothing to rate).
    pub rating: Option<String>,
    /// The share handled is below the flag threshold (60% by default).
    pub flag_below_60: bool,
    /// Its figures.
    #[serde(flatten)]
    pub figures: StatsFigures,
}

/// `GET /api/v1/stats/agencies`: one row per agency in the viewer's scope, flagged ones first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgencyStats {
    /// First day of the period (local date).
    pub from: String,
    /// Last day of the period (local date).
    pub to: String,
    /// The rows.
    pub agencies: Vec<StatsRow>,
}

/// How fresh the hub's copy of a node's events is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeFreshness {
    /// Node id.
    pub node: String,
    /// Sequence number of the last event applied.
    pub head_seq: i64,
    /// When it was applied (RFC 3339).
    pub applied_at: Option<String>,
    /// Milliseconds between its authoring and its application here.
    pub lag_ms: Option<i64>,
}

/// An emerging issue: a key whose volume rose sharply against the previous periods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmergingIssue {
    /// `category`, `region` or `word`.
    pub dimension: String,
    /// The category id, region code or word.
    pub key: String,
    /// Reports in the period.
    pub count: i64,
    /// Mean per previous period.
    pub baseline: f64,
    /// Tracking codes of up to ten reports behind it (never a confidential one).
    pub reports: Vec<String>,
}

/// `GET /api/v1/stats/recap/{period}`: the monthly recap (or quarterly evaluation) as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Recap {
    /// Period key (`2026-11`, `2026-Q4`).
    pub period: String,
    /// Its name in Indonesian.
    pub label: String,
    /// First day (local date).
    pub from: String,
    /// Last day (local date).
    pub to: String,
    /// Figures over the whole scope.
    pub total: StatsFigures,
    /// The same over the previous period (the trend).
    pub previous: StatsFigures,
    /// Per agency, flagged ones first.
    pub agencies: Vec<StatsRow>,
    /// Per owning node (at the hub: every node).
    pub nodes: Vec<StatsRow>,
    /// Per province (first segment of the region code).
    pub regions: Vec<StatsRow>,
    /// Reports received per day.
    pub daily: Vec<Count>,
    /// At the hub: how fresh each node's data is.
    pub freshness: Vec<NodeFreshness>,
}
