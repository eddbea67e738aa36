//! Statistics: accountability figures per agency (with its subtree), per node, per region and nationally.
//!
//! The figures are pure functions of a [`Tally`] (`figures`): sums that one report gives
//! ([`Tally::of_fact`]) and that add up. Storage keeps them pre-aggregated per agency, owning node,
//! province, class and day or month ([`cells`], migration 0013), maintained by triggers in the same
//! transaction as every change (intake, transitions, imports, transfers and, at the hub, every replicated
//! snapshot), so a province or the nation is a sum of cells; queries the cells cannot answer read one
//! [`Fact`] per report instead, through the same tally. The hub therefore computes national figures from
//! the replicated reports of every node, never from numbers a node reports about itself. The same functions
//! feed the API (`/api/v1/stats/...`), the executive dashboard, the public page and the monthly recap
//! (`recap`, rendered by `render_csv` and `render_pdf`). Definitions: docs/STATISTICS.md.

pub mod breakdown;
pub mod cells;
pub mod emerging;
pub mod figures;
pub mod period;
pub mod rating;
pub mod recap;
pub mod render_csv;
pub mod render_pdf;

pub use cells::{CalendarSpec, Calendars, Cell, CellKey, CellQuery, CellRows, OpenCell};
pub use figures::{compute, Fact, Figures, Tally};
pub use period::{BadPeriod, Period};
pub use rating::{Rating, Thresholds};

use crate::domain::{Millis, ReportFilter};

/// Which facts to read.
#[derive(Debug, Clone, Default)]
pub struct FactQuery {
    /// The viewer's scope and any narrowing (agency subtree, exact agency, public only, region, category,
    /// kind); statuses, search, paging and order are ignored.
    pub filter: ReportFilter,
    /// Received at or after.
    pub from: Millis,
    /// Received before.
    pub to: Millis,
    /// Only reports this node owns (a regional node; `None` at the hub, which counts every node's).
    pub owned_by: Option<String>,
    /// Also read titles (for emerging words).
    pub titles: bool,
}

/// How fresh the hub's copy of one node's data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// The node (origin of the events).
    pub origin: String,
    /// Highest gapless sequence number applied.
    pub head_seq: i64,
    /// When that event was applied here.
    pub applied_at: Option<Millis>,
    /// When its author signed it.
    pub authored_at: Option<Millis>,
}

/// A generated recap kept for download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecapFile {
    /// Period key (`2026-11`, `2026-Q4`).
    pub period: String,
    /// Scope key (`node` for the whole node, `agency:<id>` for one agency subtree).
    pub scope: String,
    /// `pdf`, `csv` or `html`.
    pub format: String,
    /// When it was made.
    pub generated_at: Millis,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Lowest path strictly above every path that starts with `prefix` (a path ends with `/`, whose next byte
/// is `0`): `[prefix, upper)` is the subtree as a range an index can use.
pub fn path_upper(prefix: &str) -> String {
    match prefix.strip_suffix('/') {
        Some(p) => format!("{p}0"),
        None => format!("{prefix}\u{10FFFF}"),
    }
}
