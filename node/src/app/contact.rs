//! A reporter proven by their contact instead of the tracking secret: the SMS channel, where the number that
//! sends a message is checked by the operator's network. A report is found for a phone only when that phone
//! is the one stored in its reporter identity (compared in constant time); an anonymous report keeps no
//! number and is never found this way. Only this node's copy counts: the identity stays where the report
//! was filed.

use super::{App, AppError, AppResult};
use crate::domain::{tracking, Actor, Command, Report, TimelineRecord};
use crate::federation::author::{self, Attempt};

impl App {
    /// The report with tracking code `code` and its timeline, when `same_phone` holds for the phone of its
    /// reporter identity; `None` otherwise (unknown code, another number's report, an anonymous report).
    pub async fn report_for_contact(
        &self,
        code: &str,
        same_phone: &(dyn Fn(&str) -> bool + Sync),
    ) -> AppResult<Option<(Report, Vec<TimelineRecord>)>> {
        let Some(report) = self.contact_report(code, same_phone).await? else {
            return Ok(None);
        };
        let timeline = self.node.store.report_timeline(&report.id).await?;
        Ok(Some((report, timeline)))
    }

    async fn contact_report(
        &self,
        code: &str,
        same_phone: &(dyn Fn(&str) -> bool + Sync),
    ) -> AppResult<Option<Report>> {
        let store = &self.node.store;
        let Some(report) = store
            .report_by_tracking_code(&tracking::normalise_tracking_code(code))
            .await?
        else {
            return Ok(None);
        };
        if report.anonymous {
            return Ok(None);
        }
        let phone = store
            .report_identity(&report.id)
            .await?
            .and_then(|i| i.phone);
        Ok(phone.filter(|p| same_phone(p)).map(|_| report))
    }

    /// Runs a reporter's command (a supplement, a reply) on the report `code` for the reporter proven by
    /// `same_phone`, through the same lifecycle as every channel. `NotFound` when the phone does not prove it;
    /// `NotOwner` when another node owns the report now.
    pub async fn act_by_contact(
        &self,
        code: &str,
        same_phone: &(dyn Fn(&str) -> bool + Sync),
        cmd: Command,
    ) -> AppResult<Report> {
        let node = &self.node;
        let cmd = &cmd;
        let changed = author::change(node, move || async move {
            let report = self
                .contact_report(code, same_phone)
                .await?
                .ok_or(AppError::NotFound("report"))?;
            let owner = node.owner_of(&report.id).await?;
            if owner != node.id() {
                return Err(AppError::NotOwner(owner));
            }
            let transition = crate::domain::lifecycle::apply(
                &report,
                cmd.clone(),
                &Actor::Reporter { user_id: None },
                node.now(),
                &node.calendar,
            )?;
            Ok(Attempt::Commit {
                then: transition.report.clone(),
                transition: Box::new(transition),
                consumes: None,
            })
        })
        .await?;
        tracing::info!(report.id = %changed.id, action = cmd.name(), "report changed by its reporter's contact");
        Ok(changed)
    }
}
