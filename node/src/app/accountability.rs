//! Accountability statistics for every surface: figures per agency and node, ratings and the below-60%
//! flag, the recap of a period (JSON, CSV, PDF), kept recaps, emerging issues.
//!
//! Every call narrows the facts with the viewer's list scope ([`App::scope`]): executives and officers
//! their agency subtree, the public public reports only (confidential and archived ones left out), staff
//! without an agency the whole node. Confidential reports are counted for staff but never named: the
//! reports behind an emerging issue leave them out. A regional node counts the reports it owns now (a
//! report transferred away counts at its new owner); the hub counts every node's replicated reports.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Timelike};

use super::{App, AppError, AppResult, Viewer};
use crate::domain::ReportFilter;
use crate::stats::breakdown::{self, AgencyRef};
use crate::stats::emerging::{self, Emerging, Rule};
use crate::stats::recap::{self, RatedRow, Recap};
use crate::stats::{
    cells, render_csv, render_pdf, CalendarSpec, Calendars, Cell, CellQuery, Fact, FactQuery,
    Period, RecapFile,
};

/// How far apart the zones of two nodes can be (WIB to WIT).
const ZONE_MARGIN_MS: i64 = 2 * 3_600_000;

/// Formats a recap can be had in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecapFormat {
    /// JSON (the API's default).
    Json,
    /// CSV.
    Csv,
    /// PDF.
    Pdf,
}

impl RecapFormat {
    /// File extension and key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Pdf => "pdf",
        }
    }

    /// Media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Pdf => "application/pdf",
        }
    }
}

fn bad_period(e: &crate::stats::BadPeriod) -> AppError {
    AppError::field("period", "invalid", e.to_string())
}

impl App {
    /// Today in the node's zone.
    pub fn stats_today(&self) -> NaiveDate {
        self.node.calendar.local_date(self.node.now())
    }

    /// The period of `from`/`to` query parameters (the current month without them).
    pub fn stats_period(&self, from: Option<&str>, to: Option<&str>) -> AppResult<Period> {
        Period::from_query(from, to, self.stats_today()).map_err(|e| bad_period(&e))
    }

    /// A period key (`2026-11`, `2026-Q4`, `2026`, `2026-11-03`).
    pub fn stats_period_key(&self, key: &str) -> AppResult<Period> {
        Period::parse(key).map_err(|e| bad_period(&e))
    }

    /// The viewer's filter for statistics, narrowed to one agency subtree when asked.
    async fn stats_filter(
        &self,
        viewer: &Viewer,
        agency_id: Option<&str>,
    ) -> AppResult<ReportFilter> {
        let mut filter = self.scope(viewer, ReportFilter::default())?;
        if let Some(id) = agency_id {
            let agency = self
                .node
                .store
                .agency_get(id)
                .await?
                .ok_or(AppError::NotFound("agency"))?;
            // Narrowing only: a subtree outside the viewer's own is empty, never wider.
            match &filter.agency_path_prefix {
                Some(own) if !agency.path.starts_with(own.as_str()) => {
                    return Err(AppError::NotFound("agency"));
                }
                _ => filter.agency_path_prefix = Some(agency.path),
            }
        }
        Ok(filter)
    }

    /// The facts of `period` the viewer may count, narrowed to one agency subtree when asked.
    async fn facts(
        &self,
        viewer: &Viewer,
        period: &Period,
        agency_id: Option<&str>,
        titles: bool,
    ) -> AppResult<Vec<Fact>> {
        let filter = self.stats_filter(viewer, agency_id).await?;
        let (from, to) = period.bounds(self.node.calendar.zone());
        let q = FactQuery {
            filter,
            from,
            to,
            owned_by: (!self.node.is_hub()).then(|| self.node.id().to_owned()),
            titles,
        };
        Ok(self.node.store.stats_facts(&q).await?)
    }

    /// The calendar of every owning node: this node's, and at the hub every node of the directory in its
    /// own zone (by the regions it serves). Makes sure storage computes the aggregates with it (a rebuild
    /// when it changed).
    pub async fn stats_calendars(&self) -> AppResult<Calendars> {
        let cals = if self.node.is_hub() {
            let peers = self.node.store.peer_list().await?;
            Calendars::with_nodes(
                &self.node.calendar,
                peers
                    .iter()
                    .map(|p| (p.node_id.as_str(), p.region_codes.as_slice())),
            )
        } else {
            Calendars::local(&self.node.calendar)
        };
        if self
            .node
            .store
            .stats_calendar_sync(&CalendarSpec::of(&cals))
            .await?
        {
            tracing::info!("statistics aggregates rebuilt for a changed calendar or zones");
        }
        Ok(cals)
    }

    /// The cells of `period` the viewer may count (one agency subtree when asked), and the reports received
    /// per day: from the pre-aggregates when the scope is one they are keyed by (agency subtree, node,
    /// public only), else from one fact per report.
    async fn cells(
        &self,
        viewer: &Viewer,
        period: &Period,
        agency_id: Option<&str>,
        cals: &Calendars,
    ) -> AppResult<(Vec<Cell>, BTreeMap<NaiveDate, i64>)> {
        let filter = self.stats_filter(viewer, agency_id).await?;
        let now = self.node.now();
        let owners = (!self.node.is_hub()).then(|| vec![String::new(), self.node.id().to_owned()]);
        let keyed = filter.reporter_user_id.is_none()
            && filter.region_prefix.is_none()
            && filter.category.is_none()
            && filter.kind.is_none();
        if keyed {
            let q = CellQuery {
                from: period.from,
                to: period.to,
                agency_path_prefix: filter.agency_path_prefix,
                agency_id: filter.agency_id,
                public_only: filter.public_only,
                owners,
                open_since: cals.open_since(now),
            };
            let rows = self.node.store.stats_cells(&q).await?;
            return Ok(cells::settle(rows, cals, now));
        }
        // Owners date reports in their own zone: read a little wider, keep the period's by local date.
        let (from, to) = period.bounds(self.node.calendar.zone());
        let q = FactQuery {
            filter,
            from: from - ZONE_MARGIN_MS,
            to: to + ZONE_MARGIN_MS,
            owned_by: (!self.node.is_hub()).then(|| self.node.id().to_owned()),
            titles: false,
        };
        let facts = self.node.store.stats_facts(&q).await?;
        Ok(cells::from_facts(&facts, period, cals, now))
    }

    /// The agencies a viewer's rows cover: those of this node (every node's at the hub) inside the
    /// viewer's subtree (or `agency_id`'s), by path.
    async fn stats_agencies_in_scope(
        &self,
        viewer: &Viewer,
        agency_id: Option<&str>,
    ) -> AppResult<Vec<AgencyRef>> {
        let scope = self.scope(viewer, ReportFilter::default())?;
        let all = self.node.store.agency_list().await?;
        let under = match agency_id {
            Some(id) => all.iter().find(|a| a.id == id).map(|a| a.path.clone()),
            None => None,
        };
        Ok(all
            .into_iter()
            .filter(|a| self.node.is_hub() || a.node_id.is_none())
            .filter(|a| {
                scope
                    .agency_path_prefix
                    .as_deref()
                    .is_none_or(|p| a.path.starts_with(p))
            })
            .filter(|a| under.as_deref().is_none_or(|p| a.path.starts_with(p)))
            .map(|a| AgencyRef {
                id: a.id,
                path: a.path,
                name: a.name,
            })
            .collect())
    }

    /// One rated row per agency in the viewer's scope over `period`, flagged ones first.
    pub async fn agency_stats(&self, viewer: &Viewer, period: &Period) -> AppResult<Vec<RatedRow>> {
        let cals = self.stats_calendars().await?;
        let (cells, _) = self.cells(viewer, period, None, &cals).await?;
        let agencies = self.stats_agencies_in_scope(viewer, None).await?;
        let rows = breakdown::per_agency(&agencies, &cells);
        Ok(recap::rate(rows, &self.config().stats.thresholds()))
    }

    /// The recap of `period` as the viewer may see it (one agency subtree when asked).
    pub async fn recap(
        &self,
        viewer: &Viewer,
        period: &Period,
        agency_id: Option<&str>,
    ) -> AppResult<Recap> {
        let cal = &self.node.calendar;
        let now = self.node.now();
        let t = self.config().stats.thresholds();
        let cals = self.stats_calendars().await?;
        let (cells, daily) = self.cells(viewer, period, agency_id, &cals).await?;
        let (before, _) = self
            .cells(viewer, &period.previous(), agency_id, &cals)
            .await?;
        let agencies = self.stats_agencies_in_scope(viewer, agency_id).await?;
        let scope_name = match agency_id {
            Some(id) => agencies
                .iter()
                .find(|a| a.id == id)
                .map_or_else(|| id.to_owned(), |a| a.name.clone()),
            None => match viewer.user().and_then(|u| u.agency_id.clone()) {
                Some(own) => agencies
                    .iter()
                    .find(|a| a.id == own)
                    .map_or(own, |a| a.name.clone()),
                None => self.config().node.name.clone(),
            },
        };
        let mut nodes = breakdown::per_node(&cells, self.node.id());
        for n in &mut nodes {
            n.name = self.node.node_name(&n.key);
        }
        let freshness = if self.node.is_hub() && viewer.is_staff() {
            self.node.store.stats_freshness().await?
        } else {
            Vec::new()
        };
        let local = self.node.time(now);
        Ok(Recap {
            period: *period,
            node_name: self.config().node.name.clone(),
            scope_name,
            generated: format!(
                "{} {}",
                local.format("%d-%m-%Y %H:%M"),
                cal.zone().abbreviation()
            ),
            total: cells::total(&cells).figures(),
            previous: cells::total(&before).figures(),
            agencies: recap::rate(breakdown::per_agency(&agencies, &cells), &t),
            nodes: recap::rate(nodes, &t),
            regions: recap::rate(breakdown::per_province(&cells), &t),
            daily: recap::daily(&daily, period),
            freshness,
        })
    }

    /// The recap rendered; kept for download when the viewer is staff (under its scope key).
    pub async fn recap_render(
        &self,
        viewer: &Viewer,
        period: &Period,
        agency_id: Option<&str>,
        format: RecapFormat,
    ) -> AppResult<Vec<u8>> {
        let r = self.recap(viewer, period, agency_id).await?;
        let bytes = match format {
            RecapFormat::Json => serde_json::to_vec(&recap::wire_recap(&r, &self.node.calendar))
                .map_err(|e| AppError::Internal(e.into()))?,
            RecapFormat::Csv => render_csv::render(&r).into_bytes(),
            RecapFormat::Pdf => render_pdf::render(&r),
        };
        if let Some(scope) = recap_scope(viewer, agency_id) {
            if format != RecapFormat::Json {
                self.node
                    .store
                    .recap_put(&RecapFile {
                        period: period.key(),
                        scope,
                        format: format.as_str().to_owned(),
                        generated_at: self.node.now(),
                        content: bytes.clone(),
                    })
                    .await?;
            }
        }
        Ok(bytes)
    }

    /// Kept recaps the viewer may download (staff: the node's and their own agency's), newest first.
    pub async fn recaps_kept(&self, viewer: &Viewer) -> AppResult<Vec<RecapFile>> {
        let Some(mine) = recap_scope(viewer, None) else {
            return Ok(Vec::new());
        };
        Ok(self
            .node
            .store
            .recap_list()
            .await?
            .into_iter()
            .filter(|r| mine == "node" || r.scope == mine)
            .collect())
    }

    /// One kept recap.
    pub async fn recap_kept(
        &self,
        viewer: &Viewer,
        period: &str,
        scope: &str,
        format: RecapFormat,
    ) -> AppResult<RecapFile> {
        let mine = recap_scope(viewer, None).ok_or(AppError::NotFound("recap"))?;
        if mine != "node" && mine != scope {
            return Err(AppError::NotFound("recap"));
        }
        self.node
            .store
            .recap_get(period, scope, format.as_str())
            .await?
            .ok_or(AppError::NotFound("recap"))
    }

    /// Emerging issues of `period` against the previous ones (staff only).
    pub async fn emerging(&self, viewer: &Viewer, period: &Period) -> AppResult<Vec<Emerging>> {
        if !viewer.is_staff() {
            return Err(AppError::Forbidden(
                "hanya untuk petugas / staff only".into(),
            ));
        }
        let cfg = &self.config().stats;
        let now = self.facts(viewer, period, None, true).await?;
        let mut before = Vec::new();
        let mut p = *period;
        for _ in 0..cfg.emerging_periods {
            p = p.previous();
            before.push(self.facts(viewer, &p, None, true).await?);
        }
        Ok(emerging::detect(
            &now,
            &before,
            Rule {
                min_count: cfg.emerging_min_count,
                ratio_percent: cfg.emerging_ratio_percent,
            },
        ))
    }

    /// The scheduled job: on the first working day of a month, from `stats.recap_hour`, makes and keeps
    /// the node's recap of the previous month (and of the previous quarter in January, April, July and
    /// October) as PDF and CSV unless kept already. Returns how many files it made.
    pub async fn recap_due(&self) -> AppResult<usize> {
        let cfg = &self.config().stats;
        if !cfg.recap_enabled {
            return Ok(0);
        }
        let cal = &self.node.calendar;
        let now = self.node.time(self.node.now());
        let today = now.date_naive();
        if now.hour() < u32::from(cfg.recap_hour) || !first_working_day(cal, today) {
            return Ok(0);
        }
        let month = Period::month(today.year(), today.month())
            .map_err(|e| bad_period(&e))?
            .previous();
        let mut periods = vec![month];
        if today.month0().is_multiple_of(3) {
            let q = Period::quarter(today.year(), today.month0() / 3 + 1)
                .map_err(|e| bad_period(&e))?;
            periods.push(q.previous());
        }
        let mut made = 0;
        for p in periods {
            for format in [RecapFormat::Pdf, RecapFormat::Csv] {
                let key = p.key();
                if self
                    .node
                    .store
                    .recap_get(&key, "node", format.as_str())
                    .await?
                    .is_some()
                {
                    continue;
                }
                self.recap_render(&system_viewer(), &p, None, format)
                    .await?;
                made += 1;
            }
        }
        Ok(made)
    }
}

/// The viewer the scheduled job counts as: read-only oversight of the whole node.
fn system_viewer() -> Viewer {
    Viewer::User {
        user: crate::domain::UserRef {
            id: "system".into(),
            display_name: "Sistem".into(),
            role: lapor_schemas::Role::Auditor,
            agency_id: None,
            agency_path: None,
        },
        api_token: false,
        token_hash: String::new(),
    }
}

/// Whether `day` is the first working day of its month.
pub fn first_working_day(cal: &crate::domain::WorkCalendar, day: NaiveDate) -> bool {
    cal.is_working_day(day)
        && (1..day.day()).all(|d| {
            day.with_day(d)
                .is_none_or(|earlier| !cal.is_working_day(earlier))
        })
}

/// Under which scope a viewer's recaps are kept: `node` for staff without an agency (and the system),
/// `agency:<id>` for an agency-scoped account or an asked agency; `None` for the public and reporters.
fn recap_scope(viewer: &Viewer, agency_id: Option<&str>) -> Option<String> {
    let user = viewer.user().filter(|_| viewer.is_staff())?;
    match (agency_id, &user.agency_id) {
        (Some(a), _) => Some(format!("agency:{a}")),
        (None, Some(own)) => Some(format!("agency:{own}")),
        (None, None) => Some("node".to_owned()),
    }
}

impl RecapFormat {
    /// From a file suffix or an `Accept` header value.
    pub fn negotiate(suffix: Option<&str>, accept: Option<&str>) -> Self {
        match suffix {
            Some("pdf") => return Self::Pdf,
            Some("csv") => return Self::Csv,
            Some("json") => return Self::Json,
            _ => {}
        }
        let accept = accept.unwrap_or("");
        if accept.contains("application/pdf") {
            Self::Pdf
        } else if accept.contains("text/csv") {
            Self::Csv
        } else {
            Self::Json
        }
    }
}
