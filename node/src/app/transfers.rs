//! An admin moving a report to another node or to an agency hosted elsewhere. The federation engine does the
//! moving (offer, hub decision, accept, commit); this checks who asks and what they named.

use lapor_schemas::api as wire;
use lapor_schemas::Role;

use super::validate::{clean, Checker};
use super::{App, AppResult, Viewer};
use crate::storage::TransferRow;

impl App {
    /// An admin moves a report to another node: to the node hosting `agency_id`, to `to_node`, or up to the
    /// hub. On the owner it is an offer the hub checks; on the hub it is decided at once.
    pub async fn request_transfer(
        &self,
        viewer: &Viewer,
        key: &str,
        req: wire::TransferRequest,
    ) -> AppResult<wire::TransferView> {
        viewer.require_role(&[Role::Admin])?;
        let (report, _) = self.load(viewer, key, None).await?;
        let mut c = Checker::new();
        c.text("note", &req.note, 3, 2000);
        let reason = req.reason.clone().unwrap_or_else(|| "misrouted".into());
        if !matches!(reason.as_str(), "misrouted" | "not_authority") {
            c.fail(
                "reason",
                "invalid",
                "gunakan misrouted atau not_authority / use misrouted or not_authority",
            );
        }
        let agency = match clean(req.agency_id) {
            Some(id) => match self.node.store.agency_get(&id).await? {
                Some(a) if a.active && a.node_id.is_some() => Some(a),
                Some(a) if a.node_id.is_none() => {
                    c.fail("agency_id", "local", "instansi ini ada di node ini; gunakan disposisi / this agency is on this node; disposition it instead");
                    None
                }
                _ => {
                    c.fail(
                        "agency_id",
                        "unknown",
                        "instansi tidak dikenal / unknown agency",
                    );
                    None
                }
            },
            None => None,
        };
        let node = &self.node;
        let hub = node
            .fed
            .peer_list()
            .into_iter()
            .find(|p| p.role == "hub")
            .map(|p| p.node_id)
            .or_else(|| node.is_hub().then(|| node.id().to_owned()));
        let to = match (&agency, clean(req.to_node)) {
            (Some(a), _) => a.node_id.clone(),
            (None, Some(n)) => Some(n),
            (None, None) => hub,
        };
        if to.is_none() {
            c.fail(
                "to_node",
                "required",
                "node tujuan diperlukan / a target node is required",
            );
        }
        c.finish()?;
        let to = to.unwrap_or_default();
        let row = crate::federation::transfer::open(
            node,
            &report,
            &to,
            &reason,
            Some(req.note.trim().to_owned()),
            agency.map(|a| a.id),
        )
        .await?;
        self.audit_after(
            viewer,
            "report.transfer_request",
            ("report", &report.id),
            Some(format!("to {to} ({reason})")),
        )
        .await;
        Ok(self.transfer_view(row))
    }

    /// The nodes of the federation a report can be transferred to, from the directory this node holds (the
    /// hub's signed directory and the peers enrolled here): `(node id, name, role)`, this node left out,
    /// sorted by name.
    pub fn transfer_targets(&self) -> Vec<(String, String, String)> {
        let me = self.node.id();
        let mut out: Vec<_> = self
            .node
            .fed
            .peer_list()
            .into_iter()
            .filter(|p| p.node_id != me)
            .map(|p| (p.node_id, p.name, p.role))
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Where a citizen or officer follows a report held by another node: that node's tracking page, when
    /// its address is known here.
    pub fn tracking_url_at(&self, node_id: &str, tracking_code: &str) -> Option<String> {
        let peer = self.node.fed.peer(node_id)?;
        let base = peer.base_url.trim_end_matches('/');
        (!base.is_empty()).then(|| format!("{base}/track/{tracking_code}"))
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        self.node.id()
    }

    /// Whether this node is the hub (which may move any node's report itself).
    pub fn is_hub(&self) -> bool {
        self.node.is_hub()
    }

    /// A transfer as the API shows it.
    pub(super) fn transfer_view(&self, t: TransferRow) -> wire::TransferView {
        wire::TransferView {
            to_name: self.node.node_name(&t.to_node),
            offer_id: t.offer_id,
            from_node: t.from_node,
            to_node: t.to_node,
            epoch: t.epoch,
            state: t.state,
            reason: t.reason,
            code: t.code,
        }
    }
}
