//! Reports: finding one (here, or at the hub when this node does not own it), loading it as a viewer may
//! see it, acting on it through the lifecycle, and listing what a viewer may list.

use std::time::Duration;

use lapor_schemas::api as wire;
use lapor_schemas::Role;

use super::{Access, App, AppError, AppResult, Viewer};
use crate::domain::{access, tracking, Actor, Command, Report, ReportFilter};
use crate::federation::author::{self, Attempt};
use crate::storage::{ReportBundle, ReportKey};

/// How long a tracking lookup waits for the hub before showing what this node holds.
const HUB_LOOKUP: Duration = Duration::from_secs(5);

/// What an admin's disposition names, before the agency is resolved.
#[derive(Debug, Clone, Default)]
pub struct Disposition {
    /// The agency of this node the report goes to.
    pub agency_id: String,
    /// A category to set.
    pub category: Option<String>,
    /// A corrected title.
    pub title: Option<String>,
    /// Raise anonymity.
    pub anonymous: Option<bool>,
    /// Raise confidentiality.
    pub confidential: Option<bool>,
    /// Internal note.
    pub note: Option<String>,
}

impl App {
    /// A report by id or tracking code. On a regional node, a report it does not hold or does not own is
    /// looked up at the hub first (its history verified and stored here), so the tracking code works on
    /// every node and shows where the report is now; without the hub the local copy is shown.
    pub(super) async fn find(&self, key: &str) -> AppResult<Option<Report>> {
        Ok(self.find_bundle(key).await?.map(|b| b.report))
    }

    /// [`App::find`] with everything the report's view shows, in one read when this node owns it.
    pub(super) async fn find_bundle(&self, key: &str) -> AppResult<Option<ReportBundle>> {
        let node = &self.node;
        let local = self.find_local(key).await?;
        if node.is_hub() {
            return Ok(local);
        }
        let lookup = match &local {
            Some(b) if node.owner_from(b.owner.as_ref(), &b.report.id) == node.id() => {
                return Ok(local)
            }
            Some(b) => b.report.id.clone(),
            None if key.contains(':') => key.to_owned(),
            None => tracking::normalise_tracking_code(key),
        };
        let fetched = tokio::time::timeout(
            HUB_LOOKUP,
            crate::federation::history::refresh(node, &lookup),
        )
        .await;
        match fetched {
            Ok(Ok(Some(id))) => Ok(node
                .store
                .report_bundle(&ReportKey::Id(id))
                .await?
                .or(local)),
            Ok(Ok(None)) => Ok(local),
            Ok(Err(e)) => {
                tracing::info!(report = %lookup, error = %e, "hub lookup failed; showing what this node holds");
                Ok(local)
            }
            Err(_) => {
                tracing::info!(report = %lookup, "hub lookup timed out; showing what this node holds");
                Ok(local)
            }
        }
    }

    async fn find_local(&self, key: &str) -> AppResult<Option<ReportBundle>> {
        let key = if key.contains(':') {
            ReportKey::Id(key.to_owned())
        } else {
            ReportKey::TrackingCode(tracking::normalise_tracking_code(key))
        };
        Ok(self.node.store.report_bundle(&key).await?)
    }

    /// What `viewer` (with an optional tracking secret) may see of `report`; `None` means nothing at all.
    pub fn access(&self, viewer: &Viewer, secret: Option<&str>, report: &Report) -> Option<Access> {
        access::access(viewer.user(), secret, report)
    }

    /// Loads a report by id or tracking code as `viewer` may see it (404 when they may not see it at all).
    pub async fn load(
        &self,
        viewer: &Viewer,
        key: &str,
        secret: Option<&str>,
    ) -> AppResult<(Report, Access)> {
        let (bundle, access) = self.load_bundle(viewer, key, secret).await?;
        Ok((bundle.report, access))
    }

    /// [`App::load`] with everything the report's view shows ([`App::view_of`]), read at once.
    pub async fn load_bundle(
        &self,
        viewer: &Viewer,
        key: &str,
        secret: Option<&str>,
    ) -> AppResult<(ReportBundle, Access)> {
        let bundle = self
            .find_bundle(key)
            .await?
            .ok_or(AppError::NotFound("report"))?;
        let access = self
            .access(viewer, secret, &bundle.report)
            .ok_or(AppError::NotFound("report"))?;
        Ok((bundle, access))
    }

    /// Runs a lifecycle command on a report, deciding again when it changed concurrently. Returns the new
    /// state and the access the actor had when acting (they keep seeing the result of their own action,
    /// e.g. after sending a report back with not-authority, which takes it out of their scope). A reporter's
    /// reply, acceptance or rating of another node's report is forwarded to its owner.
    pub async fn act(
        &self,
        viewer: &Viewer,
        key: &str,
        secret: Option<&str>,
        cmd: Command,
    ) -> AppResult<(Report, Access)> {
        let node = &self.node;
        let cmd = &cmd;
        let changed = author::change(node, move || async move {
            let (report, access) = self.load(viewer, key, secret).await?;
            let actor = match (viewer.user(), access) {
                (user, Access::Reporter) => Actor::Reporter {
                    user_id: user.map(|u| u.id.clone()),
                },
                (_, Access::Public) if secret.is_some() => return Err(AppError::BadSecret),
                (Some(u), _) => Actor::User(u.clone()),
                (None, _) => {
                    return Err(
                        if matches!(
                            cmd,
                            Command::Supplement { .. }
                                | Command::Reply { .. }
                                | Command::Accept { .. }
                                | Command::Rate { .. }
                        ) {
                            AppError::BadSecret
                        } else {
                            AppError::Unauthenticated
                        },
                    )
                }
            };
            // Staff of a node that does not own the report hear who does, whatever its state here (a stale
            // copy would otherwise answer illegal_transition for an action the owner may well take).
            let owner = node.owner_of(&report.id).await?;
            if owner != node.id() && !matches!(actor, Actor::Reporter { .. }) {
                return Err(AppError::NotOwner(owner));
            }
            let transition = crate::domain::lifecycle::apply(
                &report,
                cmd.clone(),
                &actor,
                node.now(),
                &node.calendar,
            )?;
            if owner != node.id() {
                if matches!(actor, Actor::Reporter { .. }) {
                    author::forward_contribution(node, &report, &owner, cmd, secret).await?;
                    return Ok(Attempt::Done((report, access)));
                }
                return Err(AppError::NotOwner(owner));
            }
            Ok(Attempt::Commit {
                then: (transition.report.clone(), access),
                transition: Box::new(transition),
                consumes: None,
            })
        })
        .await?;
        tracing::info!(report.id = %changed.0.id, action = cmd.name(), "report changed");
        if viewer.is_staff() {
            self.audit_after(
                viewer,
                &format!("report.{}", cmd.name()),
                ("report", &changed.0.id),
                None,
            )
            .await;
        }
        Ok(changed)
    }

    /// An admin verifies a report and dispositions it to one of this node's agencies (optionally setting
    /// its category, correcting its title and raising privacy). The same rules for every surface.
    pub async fn verify(
        &self,
        viewer: &Viewer,
        key: &str,
        d: Disposition,
    ) -> AppResult<(Report, Access)> {
        // Who asks comes first: nothing is looked up for someone who may not verify.
        viewer.require_role(&[Role::Admin])?;
        let agency = self.agency_target(&d.agency_id).await?;
        if let Some(cat) = &d.category {
            self.check_category(cat).await?;
        }
        let cmd = Command::Verify {
            agency,
            category: d.category,
            title: d.title,
            anonymous: d.anonymous,
            confidential: d.confidential,
            note: d.note,
        };
        self.act(viewer, key, None, cmd).await
    }

    /// Resolves the original of a duplicate (id or tracking code) to its id.
    pub async fn original_of(&self, key: &str) -> AppResult<String> {
        match self.find(key).await? {
            Some(r) => Ok(r.id),
            None => Err(AppError::field(
                "duplicate_of",
                "unknown",
                "laporan asli tidak ditemukan / original report not found",
            )),
        }
    }

    /// The filter a viewer's list is narrowed to.
    pub fn scope(&self, viewer: &Viewer, filter: ReportFilter) -> AppResult<ReportFilter> {
        let mut f =
            access::scope(viewer.user(), filter).map_err(|e| AppError::Forbidden(e.to_string()))?;
        // A regional node's worklists hold what it must act on: a report that moved to another node is gone
        // from them (its page says where it went); the hub keeps seeing every report (oversight).
        let works = viewer
            .user()
            .is_some_and(|u| matches!(u.role, Role::Admin | Role::AgencyOfficer));
        if works && !self.node.is_hub() {
            f.owned_by = Some(self.node.id().to_owned());
        }
        Ok(f)
    }

    /// A page of reports as the viewer may list them.
    pub async fn list(&self, viewer: &Viewer, filter: ReportFilter) -> AppResult<wire::ReportPage> {
        let filter = self.scope(viewer, filter)?;
        let (reports, total) = self.node.store.report_list(&filter).await?;
        let next = filter.offset + reports.len() as i64;
        let mut items = Vec::with_capacity(reports.len());
        for r in &reports {
            let owner = self.node.owner_of(&r.id).await?;
            items.push(self.summary(r, self.report_zone(&owner, r.region_code.as_deref())));
        }
        Ok(wire::ReportPage {
            items,
            total,
            next_offset: (next < total).then_some(next),
        })
    }
}
