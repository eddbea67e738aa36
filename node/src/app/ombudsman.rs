//! Ombudsman escalation as a handoff (PROTOCOL section 9.6). At 60 days unresolved (the deadline worker) or
//! earlier when an admin decides, the reporter is asked whether the report may go to the Ombudsman. With
//! consent the owner opens the normal signed transfer (reason `ombudsman`) to a node enrolled in the
//! `ombudsman` role, which receives the report like any owner; without consent the report stays and the
//! refusal is a signed timeline entry like any other.

use lapor_schemas::api as wire;
use lapor_schemas::{Role, TimelineAction};

use super::{App, AppError, AppResult, Viewer};
use crate::domain::escalation::{self, Escalation};
use crate::domain::{Command, Report};
use crate::storage::TransferRow;

impl App {
    /// Where the escalation of a report stands at this node.
    pub async fn escalation_of(&self, report: &Report) -> AppResult<Escalation> {
        let timeline = self.node.store.report_timeline(&report.id).await?;
        Ok(self.escalation_after(timeline.iter().map(|t| t.action)))
    }

    /// The escalation state after these timeline actions (a report as a page shows it).
    pub fn escalation_after(
        &self,
        actions: impl IntoIterator<Item = TimelineAction>,
    ) -> Escalation {
        if self.node.config.node.role == crate::config::NodeRole::Ombudsman {
            // The Ombudsman is where escalations end: nobody is asked here.
            return Escalation::None;
        }
        escalation::state(actions)
    }

    /// An admin escalates before the 60 days: the reporter is asked for consent, as at 60 days.
    pub async fn escalate_early(&self, viewer: &Viewer, key: &str, note: &str) -> AppResult<()> {
        viewer.require_role(&[Role::Admin])?;
        let (report, _) = self
            .act(
                viewer,
                key,
                None,
                Command::EscalateEarly {
                    note: note.trim().to_owned(),
                },
            )
            .await?;
        self.audit_after(viewer, "report.escalate", ("report", &report.id), None)
            .await;
        Ok(())
    }

    /// The reporter (tracking secret) agrees or declines. With consent the report is offered to an
    /// Ombudsman node at once; when that cannot start (no Ombudsman node known yet, say) the consent stays
    /// recorded and an admin starts the handoff from the console later.
    pub async fn ombudsman_decide(
        &self,
        viewer: &Viewer,
        key: &str,
        secret: &str,
        consent: bool,
    ) -> AppResult<Option<TransferRow>> {
        let (report, access) = self.load(viewer, key, Some(secret)).await?;
        if access != crate::domain::Access::Reporter {
            return Err(AppError::BadSecret);
        }
        if self.escalation_of(&report).await? != Escalation::Awaiting {
            return Err(AppError::Conflict(
                "no_escalation: tidak ada eskalasi yang menunggu keputusan / no escalation waits for a decision"
                    .into(),
            ));
        }
        let owner = self.node.owner_of(&report.id).await?;
        if owner != self.node.id() {
            // The decision opens a transfer only the owner may offer: it is taken on the owner's pages.
            return Err(AppError::NotOwner(owner));
        }
        let (report, _) = self
            .act(
                viewer,
                key,
                Some(secret),
                Command::OmbudsmanDecision {
                    consent,
                    note: None,
                },
            )
            .await?;
        if !consent {
            tracing::info!(report.id = %report.id, "reporter declined the Ombudsman escalation");
            return Ok(None);
        }
        match self.hand_to_ombudsman(&report).await {
            Ok(row) => Ok(Some(row)),
            Err(e) => {
                tracing::warn!(report.id = %report.id, error = %e,
                    "consent recorded; the handoff to the Ombudsman waits for an admin");
                Ok(None)
            }
        }
    }

    /// An admin starts (again) the handoff of a report whose reporter consented.
    pub async fn ombudsman_handoff(
        &self,
        viewer: &Viewer,
        key: &str,
    ) -> AppResult<wire::TransferView> {
        viewer.require_role(&[Role::Admin])?;
        let (report, _) = self.load(viewer, key, None).await?;
        if self.escalation_of(&report).await? != Escalation::Consented {
            return Err(AppError::Conflict(
                "no_consent: pelapor belum menyetujui penerusan ke Ombudsman / the reporter has not consented"
                    .into(),
            ));
        }
        let row = self.hand_to_ombudsman(&report).await?;
        self.audit_after(
            viewer,
            "report.transfer_request",
            ("report", &report.id),
            Some(format!("to {} (ombudsman)", row.to_node)),
        )
        .await;
        Ok(self.transfer_view(row))
    }

    /// The nodes enrolled in the `ombudsman` role, with the regions they serve, from the directory.
    fn ombudsman_nodes(&self) -> Vec<(String, Vec<String>)> {
        self.node
            .fed
            .peer_list()
            .into_iter()
            .filter(|p| p.role == "ombudsman")
            .map(|p| (p.node_id, p.region_codes))
            .collect()
    }

    /// The Ombudsman node for this report, from the directory.
    pub fn ombudsman_for(&self, report: &Report) -> Option<String> {
        let nodes = self.ombudsman_nodes();
        escalation::pick_ombudsman(&nodes, report.region_code.as_deref()).map(str::to_owned)
    }

    /// The name of the Ombudsman node a report as shown would go to.
    pub fn ombudsman_target_name(&self, v: &wire::ReportView) -> Option<String> {
        let nodes = self.ombudsman_nodes();
        escalation::pick_ombudsman(&nodes, v.region_code.as_deref()).map(|id| self.node_name(id))
    }

    async fn hand_to_ombudsman(&self, report: &Report) -> AppResult<TransferRow> {
        let to = self.ombudsman_for(report).ok_or(
            crate::federation::error::FedError::TransferRefused("no_ombudsman"),
        )?;
        let row = crate::federation::transfer::open(
            &self.node,
            report,
            &to,
            "ombudsman",
            Some("Eskalasi ke Ombudsman dengan persetujuan pelapor".into()),
            None,
        )
        .await?;
        Ok(row)
    }
}
