//! What a viewer sees of a report: the whole view with its timeline (identity and internal notes only for
//! those who may see them, actors named by function for everyone else), and one line of a list.

use lapor_schemas::api as wire;

use super::{Access, App, AppError, AppResult, Viewer};
use crate::domain::{access, Millis, NodeZone, Report, ReportOrder, TimelineRecord};
use crate::storage::{ReportBundle, ReportKey};

/// Parses a list order from a query string value.
pub fn parse_order(s: Option<&str>) -> ReportOrder {
    match s {
        Some("deadline") => ReportOrder::Deadline,
        _ => ReportOrder::Newest,
    }
}

impl App {
    /// The report as its viewer may see it, with its timeline (after a change: the report as changed, the
    /// rest read at once).
    pub async fn view(
        &self,
        viewer: &Viewer,
        report: &Report,
        access: Access,
    ) -> AppResult<wire::ReportView> {
        let mut bundle = self
            .node
            .store
            .report_bundle(&ReportKey::Id(report.id.clone()))
            .await?
            .ok_or(AppError::NotFound("report"))?;
        bundle.report = report.clone();
        self.view_of(viewer, &bundle, access).await
    }

    /// The view of a report read with [`App::load_bundle`]: nothing more is read, except the reporter
    /// identity for those who may see it.
    /// A staff member's read of a reporter's identity is recorded in the audit log first (no record, no read).
    pub async fn view_of(
        &self,
        viewer: &Viewer,
        bundle: &ReportBundle,
        access: Access,
    ) -> AppResult<wire::ReportView> {
        let report = &bundle.report;
        let epoch = bundle.owner.as_ref().map_or(0, |o| o.epoch);
        let owner = self.node.owner_from(bundle.owner.as_ref(), &report.id);
        // Only the owner's staff read the identity: a node the report left shows none (its copy goes once
        // the new owner holds it, `federation::identity`).
        let identity = match access {
            Access::Staff { identity: true } | Access::Reporter
                if !report.anonymous && owner == self.node.id() =>
            {
                self.node.store.report_identity(&report.id).await?
            }
            _ => None,
        };
        if identity.is_some() && access.is_staff() {
            self.audit(viewer, "identity.read", ("report", &report.id), None)
                .await?;
        }
        let staff = access.is_staff();
        // Times read in the owner's zone, where its deadlines are counted (a report filed at the national
        // portal and owned by Kupang shows WITA everywhere).
        let zone = self.report_zone(&owner, report.region_code.as_deref());
        let t = |ms: Option<Millis>| ms.map(|m| zone.datetime(m));
        let transfer = bundle.transfer.clone();
        let timeline = bundle.timeline.clone();
        let agency_name = bundle.agency_name.clone();
        Ok(wire::ReportView {
            id: report.id.clone(),
            tracking_code: report.tracking_code.clone(),
            kind: report.kind,
            title: report.title.clone(),
            body: report.body.clone(),
            category: report.category_id.clone(),
            agency_id: report.agency_id.clone(),
            agency_name,
            region_code: report.region_code.clone(),
            location: match (report.lat_e6, report.lon_e6) {
                (Some(lat), Some(lon)) => {
                    let exact =
                        access::exact_location(access, owner == self.node.id(), report.anonymous);
                    let (lat, lon) = access::shown_location(lat, lon, exact);
                    Some(wire::Location {
                        lat: lat as f64 / 1e6,
                        lon: lon as f64 / 1e6,
                    })
                }
                _ => None,
            },
            address: report.address.clone(),
            incident_date: report.incident_date,
            anonymous: report.anonymous,
            confidential: report.confidential,
            channel: report.channel,
            status: report.status,
            status_label: report.status.label_id().into(),
            submitted_at: zone.datetime(report.submitted_at),
            updated_at: zone.datetime(report.updated_at),
            deadlines: wire::Deadlines {
                verification_due_at: t(report.verification_due_at),
                followup_due_at: t(report.followup_due_at),
                autocomplete_at: t(report.autocomplete_at),
                escalation_at: t(report.escalation_at),
            },
            verification_overdue: report.verification_overdue,
            followup_overdue: report.followup_overdue,
            escalated: report.escalated,
            archive_reason: report.archive_reason,
            duplicate_of: bundle.duplicate_code.clone(),
            rating: report.rating_score.map(|score| wire::RatingView {
                score,
                comment: report.rating_comment.clone(),
            }),
            reporter: identity.map(|i| wire::Reporter {
                name: i.name,
                phone: i.phone,
                email: i.email,
            }),
            owner_name: self.node.node_name(&owner),
            owner_node: owner,
            epoch,
            transfer: transfer.map(|t| self.transfer_view(t)),
            timeline: timeline
                .into_iter()
                .map(|e| Self::entry_view(e, staff, zone))
                .collect(),
        })
    }

    fn entry_view(e: TimelineRecord, staff: bool, zone: NodeZone) -> wire::TimelineEntry {
        let internal = access::is_internal(e.action);
        let actor = match (staff, &e.actor_name) {
            (true, Some(name)) => format!("{name} ({})", e.actor_role),
            _ => access::public_actor(&e.actor_role).to_owned(),
        };
        wire::TimelineEntry {
            seq: e.seq,
            at: zone.datetime(e.at),
            action: e.action,
            label: e.action.label_id().into(),
            actor,
            from_status: e.from_status,
            to_status: e.to_status,
            note: if internal && !staff { None } else { e.note },
        }
    }

    /// One list line, its times in `zone` (the owner's, see [`App::report_zone`]).
    pub fn summary(&self, r: &Report, zone: NodeZone) -> wire::ReportSummary {
        wire::ReportSummary {
            id: r.id.clone(),
            tracking_code: r.tracking_code.clone(),
            kind: r.kind,
            title: r.title.clone(),
            category: r.category_id.clone(),
            agency_id: r.agency_id.clone(),
            status: r.status,
            status_label: r.status.label_id().into(),
            confidential: r.confidential,
            submitted_at: zone.datetime(r.submitted_at),
            due_at: r.current_due().map(|d| zone.datetime(d)),
            overdue: r.is_overdue(),
            escalated: r.escalated,
        }
    }
}
