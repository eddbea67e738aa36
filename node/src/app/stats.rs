//! Counts for dashboards and the public statistics page, over exactly what the viewer may list.

use lapor_schemas::api as wire;

use super::{App, AppResult, Viewer};
use crate::domain::ReportFilter;

impl App {
    /// Counts over what the viewer may list (the public sees counts of public reports).
    pub async fn stats(
        &self,
        viewer: &Viewer,
        agency_id: Option<String>,
    ) -> AppResult<wire::Stats> {
        let filter = self.scope(
            viewer,
            ReportFilter {
                agency_id,
                limit: 1,
                ..ReportFilter::default()
            },
        )?;
        let s = self.node.store.report_stats(&filter).await?;
        Ok(wire::Stats {
            total: s.total,
            by_status: s.by_status,
            by_category: s.by_category,
            overdue: s.overdue,
            escalated: s.escalated,
        })
    }
}
