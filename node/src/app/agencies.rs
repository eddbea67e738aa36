//! Agencies (this node's tree, and other nodes' agencies learned from the federation) and categories. A
//! change to this node's agencies is published to the federation at once.

use lapor_schemas::api as wire;
use lapor_schemas::Role;

use super::validate::{clean, Checker};
use super::{App, AppError, AppResult, Viewer};
use crate::domain::lifecycle::AgencyTarget;
use crate::domain::AgencyRecord;
use crate::storage::StorageError;

/// The national default categories, editable per node.
pub fn default_categories() -> Vec<wire::Category> {
    [
        (
            "infrastruktur",
            "Infrastruktur dan Pekerjaan Umum",
            "Infrastructure and Public Works",
        ),
        ("kesehatan", "Kesehatan", "Health"),
        ("pendidikan", "Pendidikan", "Education"),
        (
            "administrasi-kependudukan",
            "Administrasi Kependudukan",
            "Civil Registration",
        ),
        (
            "lingkungan-hidup",
            "Lingkungan Hidup dan Kebersihan",
            "Environment and Sanitation",
        ),
        ("transportasi", "Perhubungan dan Transportasi", "Transport"),
        ("air-bersih", "Air Bersih dan Sanitasi", "Clean Water"),
        (
            "listrik-energi",
            "Listrik dan Energi",
            "Electricity and Energy",
        ),
        ("sosial", "Sosial dan Bantuan Sosial", "Social Welfare"),
        (
            "ketertiban-umum",
            "Ketenteraman dan Ketertiban Umum",
            "Public Order",
        ),
        (
            "pelayanan-publik",
            "Pelayanan Publik dan Perizinan",
            "Public Services and Permits",
        ),
        ("kepegawaian", "Kepegawaian dan Aparatur", "Civil Servants"),
        (
            "ekonomi",
            "Ekonomi, UMKM dan Perdagangan",
            "Economy and Trade",
        ),
        (
            "pertanian",
            "Pertanian, Perikanan dan Pangan",
            "Agriculture, Fisheries and Food",
        ),
        ("bencana", "Penanggulangan Bencana", "Disaster Management"),
        ("lainnya", "Lainnya", "Other"),
    ]
    .into_iter()
    .map(|(id, name_id, name_en)| wire::Category {
        id: id.into(),
        name_id: name_id.into(),
        name_en: name_en.into(),
        active: true,
    })
    .collect()
}

/// Kinds of agency.
pub const AGENCY_KINDS: [&str; 8] = [
    "ministry",
    "national_body",
    "bumn",
    "province",
    "regency",
    "city",
    "office",
    "unit",
];

/// The wire view of an agency.
pub fn agency_view(a: &AgencyRecord) -> wire::Agency {
    wire::Agency {
        id: a.id.clone(),
        parent_id: a.parent_id.clone(),
        name: a.name.clone(),
        kind: a.kind.clone(),
        region_code: a.region_code.clone(),
        active: a.active,
        node_id: a.node_id.clone(),
    }
}

impl App {
    /// Every agency.
    pub async fn list_agencies(&self) -> AppResult<Vec<wire::Agency>> {
        Ok(self
            .node
            .store
            .agency_list()
            .await?
            .iter()
            .map(agency_view)
            .collect())
    }

    /// One agency.
    pub async fn get_agency(&self, id: &str) -> AppResult<wire::Agency> {
        let a = self
            .node
            .store
            .agency_get(id)
            .await?
            .ok_or(AppError::NotFound("agency"))?;
        Ok(agency_view(&a))
    }

    /// Creates an agency under an optional parent (admins and node operators).
    pub async fn create_agency(
        &self,
        viewer: &Viewer,
        req: wire::CreateAgency,
    ) -> AppResult<wire::Agency> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        let mut c = Checker::new();
        c.slug("id", &req.id);
        c.text("name", &req.name, 2, 200);
        if !AGENCY_KINDS.contains(&req.kind.as_str()) {
            c.fail(
                "kind",
                "invalid",
                format!("salah satu dari / one of: {}", AGENCY_KINDS.join(", ")),
            );
        }
        let region_code = clean(req.region_code);
        c.region_code("region_code", region_code.as_deref());
        let parent_id = clean(req.parent_id);
        let parent = match &parent_id {
            Some(p) => {
                let found = self.node.store.agency_get(p).await?;
                if found.is_none() {
                    c.fail(
                        "parent_id",
                        "unknown",
                        "instansi induk tidak dikenal / unknown parent agency",
                    );
                }
                found
            }
            None => None,
        };
        c.finish()?;
        let path = format!(
            "{}{}/",
            parent.as_ref().map_or("/", |p| p.path.as_str()),
            req.id
        );
        let record = AgencyRecord {
            id: req.id,
            parent_id,
            path,
            name: req.name.trim().to_owned(),
            kind: req.kind,
            region_code,
            active: true,
            created_at: self.now(),
            node_id: None,
        };
        self.node
            .store
            .agency_create(&record)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(_) => {
                    AppError::Conflict(format!("agency `{}` exists already", record.id))
                }
                other => other.into(),
            })?;
        self.publish_agencies().await;
        self.audit_after(viewer, "agency.create", ("agency", &record.id), None)
            .await;
        Ok(agency_view(&record))
    }

    /// Renames, re-codes or (de)activates an agency.
    pub async fn update_agency(
        &self,
        viewer: &Viewer,
        id: &str,
        req: wire::UpdateAgency,
    ) -> AppResult<wire::Agency> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        let mut a = self
            .node
            .store
            .agency_get(id)
            .await?
            .ok_or(AppError::NotFound("agency"))?;
        let mut c = Checker::new();
        c.opt_text("name", req.name.as_ref(), 200);
        c.region_code("region_code", req.region_code.as_deref());
        c.finish()?;
        if let Some(n) = req.name {
            n.trim().clone_into(&mut a.name);
        }
        if let Some(r) = req.region_code {
            a.region_code = Some(r);
        }
        if let Some(active) = req.active {
            a.active = active;
        }
        self.node.store.agency_update(&a).await?;
        self.publish_agencies().await;
        self.audit_after(viewer, "agency.update", ("agency", &a.id), None)
            .await;
        Ok(agency_view(&a))
    }

    /// Every category; the public sees only active ones.
    pub async fn list_categories(&self, viewer: &Viewer) -> AppResult<Vec<wire::Category>> {
        let all = self.node.store.category_list().await?;
        let staff = viewer.user().is_some_and(|u| u.role.is_staff());
        Ok(all.into_iter().filter(|c| staff || c.active).collect())
    }

    /// Creates a category (admins and node operators).
    pub async fn create_category(
        &self,
        viewer: &Viewer,
        req: wire::CategoryInput,
    ) -> AppResult<wire::Category> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        let mut c = Checker::new();
        let id = req.id.clone().unwrap_or_default();
        c.slug("id", &id);
        c.text("name_id", req.name_id.as_deref().unwrap_or(""), 2, 100);
        c.text("name_en", req.name_en.as_deref().unwrap_or(""), 2, 100);
        c.finish()?;
        if self.node.store.category_get(&id).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "category `{id}` exists already"
            )));
        }
        let cat = wire::Category {
            id,
            name_id: req.name_id.unwrap_or_default().trim().to_owned(),
            name_en: req.name_en.unwrap_or_default().trim().to_owned(),
            active: req.active.unwrap_or(true),
        };
        self.node.store.category_upsert(&cat).await?;
        self.audit_after(viewer, "category.create", ("category", &cat.id), None)
            .await;
        Ok(cat)
    }

    /// Edits a category (admins and node operators).
    pub async fn update_category(
        &self,
        viewer: &Viewer,
        id: &str,
        req: wire::CategoryInput,
    ) -> AppResult<wire::Category> {
        viewer.require_role(&[Role::Admin, Role::NodeOperator])?;
        let mut cat = self
            .node
            .store
            .category_get(id)
            .await?
            .ok_or(AppError::NotFound("category"))?;
        let mut c = Checker::new();
        if req.id.as_deref().is_some_and(|new| new != id) {
            c.fail(
                "id",
                "immutable",
                "id tidak dapat diubah / the id cannot change",
            );
        }
        c.opt_text("name_id", req.name_id.as_ref(), 100);
        c.opt_text("name_en", req.name_en.as_ref(), 100);
        c.finish()?;
        if let Some(n) = req.name_id {
            n.trim().clone_into(&mut cat.name_id);
        }
        if let Some(n) = req.name_en {
            n.trim().clone_into(&mut cat.name_en);
        }
        if let Some(a) = req.active {
            cat.active = a;
        }
        self.node.store.category_upsert(&cat).await?;
        self.audit_after(viewer, "category.update", ("category", &cat.id), None)
            .await;
        Ok(cat)
    }

    /// Publishes this node's agencies to the federation after a change (failures are logged; the next
    /// start publishes again).
    async fn publish_agencies(&self) {
        if let Err(e) = crate::federation::agencies::publish(&self.node).await {
            tracing::error!(error = %e, "publishing this node's agencies failed");
        }
    }

    /// Resolves and checks the agency of a disposition.
    pub async fn agency_target(&self, id: &str) -> AppResult<AgencyTarget> {
        match self.node.store.agency_get(id).await? {
            Some(a) if a.active && a.node_id.is_none() => Ok(AgencyTarget {
                id: a.id,
                path: a.path,
            }),
            _ => Err(AppError::field(
                "agency_id",
                "unknown",
                "instansi tidak dikenal atau tidak aktif / unknown or inactive agency",
            )),
        }
    }

    /// Checks that a category exists and is active (for a disposition that sets it).
    pub async fn check_category(&self, id: &str) -> AppResult<()> {
        if self
            .node
            .store
            .category_get(id)
            .await?
            .is_some_and(|c| c.active)
        {
            Ok(())
        } else {
            Err(AppError::field(
                "category",
                "unknown",
                "kategori tidak dikenal / unknown category",
            ))
        }
    }
}
