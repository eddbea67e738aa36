//! Intake: one way in for every channel. The web form, the JSON API, an officer logging a phone call, and the
//! SMS and Open311 adapters each turn what they received into an [`Intake`] and call [`App::submit`], which
//! checks it, builds the report with the pure [`domain::intake::submit`](crate::domain::intake::submit),
//! stores it durably with its signed `report.created` event, and routes it ("no wrong door"): a report for
//! another node is stored here first, then moved there by a transfer.

use chrono::NaiveDate;
use lapor_schemas::api as wire;
use lapor_schemas::{Channel, ReportKind, ReportStatus, Role};

use super::validate::{check_reporter, clean, Checker};
use super::{App, AppResult, Viewer};
use crate::domain::{intake, tracking, ReporterIdentity, Submission, Submitter};
use crate::federation::author;

/// A report as a channel received it, not yet checked.
#[derive(Debug, Clone)]
pub struct Intake {
    /// How it came in.
    pub channel: Channel,
    /// Who files it.
    pub submitter: Submitter,
    /// Complaint, aspiration or information request.
    pub kind: ReportKind,
    /// Title (5..=200 characters).
    pub title: String,
    /// Body (10..=20,000 characters).
    pub body: String,
    /// Category id.
    pub category: Option<String>,
    /// The agency the citizen chose.
    pub agency_id: Option<String>,
    /// Kemendagri region code.
    pub region_code: Option<String>,
    /// Where it happened.
    pub location: Option<wire::Location>,
    /// Address text.
    pub address: Option<String>,
    /// The day it happened.
    pub incident_date: Option<NaiveDate>,
    /// Hide the identity from everyone.
    pub anonymous: bool,
    /// Hide the report from the public.
    pub confidential: bool,
    /// Contact details (dropped when anonymous).
    pub reporter: Option<wire::Reporter>,
}

impl App {
    /// Files a report from the JSON API or the web form: the channel follows from the viewer (an API token
    /// files as `api`, everyone else as `web`), or is the assisted channel an officer names.
    pub async fn create_report(
        &self,
        viewer: &Viewer,
        req: wire::CreateReport,
    ) -> AppResult<wire::CreatedReport> {
        let mut c = Checker::new();
        let user = viewer.user();
        let channel = match (req.channel, user) {
            (None, Some(_)) if viewer.is_api_token() => Channel::Api,
            (None, _) => Channel::Web,
            (Some(ch), Some(u))
                if ch.is_assisted() && crate::domain::access::logs_assisted(u.role) =>
            {
                ch
            }
            (Some(ch), _) if ch.is_assisted() => {
                c.fail("channel", "forbidden", "hanya petugas yang mencatat laporan atas nama warga / only officers log reports on a citizen's behalf");
                ch
            }
            (Some(ch), _) => {
                c.fail("channel", "invalid", "gunakan phone, whatsapp, walk_in atau letter / use phone, whatsapp, walk_in or letter");
                ch
            }
        };
        let submitter = match user {
            Some(u) if u.role.is_staff() => Submitter::Staff(u.clone()),
            Some(u) if u.role == Role::Reporter => Submitter::Citizen {
                account: Some(u.id.clone()),
            },
            _ => Submitter::Citizen { account: None },
        };
        let intake = Intake {
            channel,
            submitter,
            kind: req.kind,
            title: req.title,
            body: req.body,
            category: req.category,
            agency_id: req.agency_id,
            region_code: req.region_code,
            location: req.location,
            address: req.address,
            incident_date: req.incident_date,
            anonymous: req.anonymous,
            confidential: req.confidential,
            reporter: req.reporter,
        };
        self.submit_checked(intake, c).await
    }

    /// Files a report that came in on any channel: checks it, assigns id, tracking code, secret and
    /// deadline, stores it durably with its signed event, and routes it to the node that must act.
    pub async fn submit(&self, intake: Intake) -> AppResult<wire::CreatedReport> {
        self.submit_checked(intake, Checker::new()).await
    }

    async fn submit_checked(&self, req: Intake, mut c: Checker) -> AppResult<wire::CreatedReport> {
        let node = &self.node;
        c.text("title", &req.title, 5, intake::MAX_TITLE_CHARS);
        c.text("body", &req.body, 10, intake::MAX_BODY_CHARS);
        c.opt_text("address", req.address.as_ref(), intake::MAX_ADDRESS_CHARS);
        let category = clean(req.category);
        if let Some(cat) = &category {
            if !node
                .store
                .category_get(cat)
                .await?
                .is_some_and(|c| c.active)
            {
                c.fail(
                    "category",
                    "unknown",
                    "kategori tidak dikenal / unknown category",
                );
            }
        }
        let agency_id = clean(req.agency_id);
        let chosen = match &agency_id {
            Some(a) => node.store.agency_get(a).await?.filter(|a| a.active),
            None => None,
        };
        if agency_id.is_some() && chosen.is_none() {
            c.fail(
                "agency_id",
                "unknown",
                "instansi tidak dikenal / unknown agency",
            );
        }
        let region_code = clean(req.region_code);
        c.region_code("region_code", region_code.as_deref());
        let location_e6 = req.location.map(|l| {
            if !(l.lat.is_finite() && (-90.0..=90.0).contains(&l.lat)) {
                c.fail(
                    "location.lat",
                    "out_of_range",
                    "antara -90 dan 90 / between -90 and 90",
                );
            }
            if !(l.lon.is_finite() && (-180.0..=180.0).contains(&l.lon)) {
                c.fail(
                    "location.lon",
                    "out_of_range",
                    "antara -180 dan 180 / between -180 and 180",
                );
            }
            ((l.lat * 1e6).round() as i64, (l.lon * 1e6).round() as i64)
        });
        let now = node.now();
        if req
            .incident_date
            .is_some_and(|d| d > node.calendar.local_date(now))
        {
            c.fail(
                "incident_date",
                "in_future",
                "tidak boleh di masa depan / cannot be in the future",
            );
        }
        let identity = if req.anonymous {
            None
        } else {
            req.reporter.map(|r| {
                check_reporter(&mut c, &r);
                ReporterIdentity {
                    name: clean(r.name),
                    phone: clean(r.phone),
                    email: clean(r.email),
                }
            })
        };
        c.finish()?;
        let route = node.router.route(
            chosen.as_ref(),
            region_code.as_deref(),
            location_e6,
            &node.fed.peer_list(),
        );
        let secret = tracking::new_secret();
        let (report, entry) = intake::submit(
            Submission {
                id: tracking::new_report_id(&node.config.node.id),
                tracking_code: tracking::new_tracking_code(&node.config.node.code),
                secret_hash: tracking::sha256_hex(&secret),
                kind: req.kind,
                title: req.title.trim().to_owned(),
                body: req.body.trim().to_owned(),
                category_id: category,
                agency_id,
                region_code: region_code.or_else(|| route.located_region.clone()),
                location_e6,
                address: clean(req.address),
                incident_date: req.incident_date,
                anonymous: req.anonymous,
                confidential: req.confidential,
                channel: req.channel,
                submitter: req.submitter,
            },
            now,
            &node.calendar,
        );
        let identity = identity.filter(|i| !i.is_empty());
        let draft = author::report_draft(node, &report, &entry, identity.as_ref())?;
        node.store
            .report_insert(&report, identity.as_ref(), &entry, Some(&draft))
            .await?;
        node.fed.push_wake.notify_waiters();
        tracing::info!(report.id = %report.id, report.channel = report.channel.as_str(),
            route.node = %route.node, route.by = route.by.as_str(), "report filed");
        if route.node != node.id() {
            // Stored here first, so nothing is lost; then moved to the node that must act on it.
            if let Err(e) = crate::federation::transfer::open(
                node,
                &report,
                &route.node,
                "routing",
                Some(format!("dirutekan menurut {}", route.by.as_str())),
                route.agency_id.clone(),
            )
            .await
            {
                tracing::warn!(report.id = %report.id, to = %route.node, error = %e,
                    "routing transfer not opened; the report stays in this node's admin queue");
            }
        }
        Ok(wire::CreatedReport {
            id: report.id,
            tracking_code: report.tracking_code,
            tracking_secret: secret,
            status: ReportStatus::Submitted,
            verification_due_at: node.time(report.verification_due_at.unwrap_or(now)),
        })
    }
}
