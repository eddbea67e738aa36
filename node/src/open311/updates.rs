//! mySociety's `servicerequestupdates` extension (`GET servicerequestupdates.{fmt}?start_date&end_date`), so
//! FixMyStreet-style clients see what happened to a request: every timeline entry after the filing of a
//! non-confidential report, oldest first. Internal notes (dispositions, privacy changes, transfers) are shown
//! by their label only, and nobody is named.

use std::collections::HashMap;

use super::error::Open311Error;
use super::format::{Doc, Val};
use super::params::Params;
use super::requests::{datetime, open311_status, window};
use super::Ctx;
use crate::domain::{access, Report};

/// `GET servicerequestupdates`.
pub async fn list(ctx: &Ctx, p: &Params) -> Result<Doc, Open311Error> {
    let app = &ctx.app;
    let store = &app.node().store;
    let (from, to) = window(ctx, p)?;
    let max = i64::from(app.config().open311.max_requests);
    let entries = store.open311_updates(from, to, max).await?;
    let mut reports: HashMap<String, Option<Report>> = HashMap::new();
    let mut items = Vec::with_capacity(entries.len());
    for e in entries {
        if !reports.contains_key(&e.report_id) {
            let r = store.report_get(&e.report_id).await?;
            reports.insert(e.report_id.clone(), r);
        }
        let Some(Some(r)) = reports.get(&e.report_id) else {
            continue;
        };
        let label = format!("{} / {}", e.action.label_id(), e.action.as_str());
        let description = match (&e.note, access::is_internal(e.action)) {
            (Some(note), false) => format!("{label}: {note}"),
            _ => label,
        };
        let status = e.to_status.unwrap_or(r.status);
        items.push(Val::Obj(vec![
            (
                "update_id",
                Val::s(format!("{}-{}", r.tracking_code, e.seq)),
            ),
            ("service_request_id", Val::s(r.tracking_code.clone())),
            ("status", Val::s(open311_status(status))),
            ("updated_datetime", Val::s(datetime(app, e.at))),
            ("description", Val::s(description)),
            ("media_url", Val::Null),
            ("external_status_code", Val::s(status.as_str())),
        ]));
    }
    Ok(Doc {
        root: "service_request_updates",
        body: Val::List("request_update", items),
    })
}
