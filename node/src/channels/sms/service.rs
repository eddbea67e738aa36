//! One SMS in, one answer out: checks the sender and its rate, reads the text, and files, follows or
//! reports on a report through the application, like every channel. The answer is the reply SMS; nothing
//! here logs the sender's number or the text.

use std::collections::HashMap;
use std::time::Instant;

use lapor_schemas::api as wire;
use lapor_schemas::{Channel, ReportStatus, TimelineAction};

use super::limit::SenderLimit;
use super::message::{self, Message, NewReport, Target, Vocabulary};
use super::params::{decode_text, Params, Unreadable};
use super::reply::Texts;
use super::{keywords, phone};
use crate::app::{App, AppError, Intake};
use crate::domain::{Command, Submitter};

/// The SMS channel of a node: its shared secret, the per-sender limit and the answers.
#[derive(Debug)]
pub struct Gateway {
    token: Option<String>,
    limit: SenderLimit,
    texts: Texts,
}

impl Gateway {
    /// The channel as the configuration describes it; `None` when `sms.enabled` is off.
    pub fn new(app: &App) -> anyhow::Result<Option<Self>> {
        let config = app.config();
        let sms = &config.sms;
        if !sms.enabled {
            return Ok(None);
        }
        let token = sms.secret()?;
        anyhow::ensure!(
            token.is_some(),
            "sms.enabled needs sms.token_file or sms.token"
        );
        let track_at = if config.federation.public_url.is_empty() {
            format!("situs {}", config.node.name)
        } else {
            format!(
                "{}/track",
                config.federation.public_url.trim_end_matches('/')
            )
        };
        Ok(Some(Self {
            token,
            limit: SenderLimit::new(sms.rate_per_hour),
            texts: Texts {
                number: sms.number.clone(),
                example_keyword: if sms.keyword.is_empty() {
                    "KATAKUNCI".into()
                } else {
                    sms.keyword.clone()
                },
                track_at,
            },
        }))
    }

    /// Whether `given` is the shared secret, compared in constant time (on digests, so the length of the
    /// secret does not show either).
    pub fn token_ok(&self, given: Option<&str>) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        match (&self.token, given) {
            (Some(expected), Some(given)) => {
                let a = Sha256::digest(expected.as_bytes());
                let b = Sha256::digest(given.as_bytes());
                a.ct_eq(&b).into()
            }
            _ => false,
        }
    }

    /// The answer to one message.
    pub async fn answer(&self, app: &App, params: &Params) -> (&'static str, String) {
        match self.answer_inner(app, params).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "sms not handled");
                ("failed", self.texts.unavailable())
            }
        }
    }

    async fn answer_inner(
        &self,
        app: &App,
        params: &Params,
    ) -> anyhow::Result<(&'static str, String)> {
        let t = &self.texts;
        let Some(sender) = params.text("sender").as_deref().and_then(phone::normalise) else {
            return Ok(("bad_sender", t.bad_sender()));
        };
        if let Err(wait) = self.limit.spend(&sender, Instant::now()) {
            return Ok((
                "rate_limited",
                t.flooding(wait.as_secs().div_ceil(60).max(1)),
            ));
        }
        let text = match decode_text(params) {
            Ok(text) => text,
            Err(Unreadable::Binary | Unreadable::Udh) => return Ok(("unreadable", t.unreadable())),
            Err(Unreadable::Coding(c) | Unreadable::Charset(c)) => {
                return Ok(("unknown_encoding", t.unknown_encoding(&c)))
            }
        };
        let mut targets = HashMap::new();
        for w in text.split_whitespace().take(3) {
            let k = message::keyword(w);
            if let Some(target) = keywords::resolve(app, &k).await? {
                targets.insert(k, target);
            }
        }
        let sms = &app.config().sms;
        let target = |k: &str| targets.get(k).cloned();
        let kind = |k: &str| sms.kind_of(k);
        let msg = message::parse(
            &text,
            &Vocabulary {
                target: &target,
                kind: &kind,
                anonymous: &sms.anonymous_keyword,
            },
        );
        Ok(match msg {
            Message::Empty => ("empty", t.empty()),
            Message::TooLong(n) => ("too_long", t.too_long(n, message::MAX_TEXT_CHARS)),
            Message::KeywordOnly(words) => ("keyword_only", t.keyword_only(&words)),
            Message::TooShort => ("too_short", t.too_short()),
            Message::Status(None) => ("status_how", t.status_how()),
            Message::Status(Some(code)) => self.status(app, &sender, &code).await?,
            Message::FollowUp { code, text } if text.is_empty() => {
                ("follow_up_empty", t.follow_up_empty(&code))
            }
            Message::FollowUp { code, text } => self.follow_up(app, &sender, &code, text).await?,
            Message::Report(r) => self.file(app, &sender, r).await?,
        })
    }

    async fn file(
        &self,
        app: &App,
        sender: &str,
        r: NewReport,
    ) -> anyhow::Result<(&'static str, String)> {
        let (agency_id, region_code) = match &r.target {
            Some((_, Target::Agency { agency_id, .. })) => (Some(agency_id.clone()), None),
            Some((_, Target::Node(node))) if node != app.node().id() => {
                // Another node's admin queue: routed by the region it serves, like a report about it.
                let region = app
                    .node()
                    .fed
                    .peer_list()
                    .into_iter()
                    .find(|p| &p.node_id == node)
                    .and_then(|p| p.region_codes.into_iter().min_by_key(String::len));
                (None, region)
            }
            _ => (None, None),
        };
        let intake = Intake {
            channel: Channel::Sms,
            submitter: Submitter::Citizen { account: None },
            kind: r.kind,
            title: r.title,
            body: r.body,
            category: None,
            agency_id,
            region_code,
            location: None,
            address: None,
            incident_date: None,
            anonymous: r.anonymous,
            confidential: false,
            // An anonymous report keeps no number: it is not even handed to the intake.
            reporter: (!r.anonymous).then(|| wire::Reporter {
                name: None,
                phone: Some(sender.to_owned()),
                email: None,
            }),
        };
        match app.submit(intake).await {
            Ok(created) if r.anonymous => Ok((
                "filed",
                self.texts
                    .filed_anonymous(&created.tracking_code, &created.tracking_secret),
            )),
            Ok(created) => Ok(("filed", self.texts.filed(&created.tracking_code))),
            Err(AppError::Validation(errors)) => {
                let reason = errors
                    .first()
                    .map(|e| e.message.split(" / ").next().unwrap_or_default().to_owned())
                    .unwrap_or_default();
                Ok(("refused", self.texts.refused(&reason)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn status(
        &self,
        app: &App,
        sender: &str,
        code: &str,
    ) -> anyhow::Result<(&'static str, String)> {
        let same = |p: &str| phone::same(p, sender);
        let Some((report, timeline)) = app.report_for_contact(code, &same).await? else {
            return Ok(("unknown_code", self.texts.unknown_code(code)));
        };
        let zone = app.config().node.timezone;
        let when = format!(
            "{} {zone:?}",
            app.time(report.updated_at).format("%d-%m-%Y %H:%M")
        );
        let wanted = match report.status {
            ReportStatus::OnHold => Some((TimelineAction::Held, "Petugas meminta")),
            ReportStatus::Responded | ReportStatus::Completed => {
                Some((TimelineAction::Responded, "Tindak lanjut"))
            }
            _ => None,
        };
        let note = wanted.and_then(|(action, what)| {
            timeline
                .iter()
                .rev()
                .find(|e| e.action == action)
                .and_then(|e| e.note.as_deref())
                .map(|n| (what, n))
        });
        Ok((
            "status",
            self.texts
                .status(&report.tracking_code, report.status.label_id(), &when, note),
        ))
    }

    async fn follow_up(
        &self,
        app: &App,
        sender: &str,
        code: &str,
        text: String,
    ) -> anyhow::Result<(&'static str, String)> {
        let t = &self.texts;
        let same = |p: &str| phone::same(p, sender);
        let Some((report, _)) = app.report_for_contact(code, &same).await? else {
            return Ok(("unknown_code", t.unknown_code(code)));
        };
        let (cmd, done) = match report.status {
            ReportStatus::OnHold => (Command::Supplement { note: text }, t.supplemented(code)),
            ReportStatus::Responded => (Command::Reply { note: text }, t.replied(code)),
            other => return Ok(("not_waiting", t.not_waiting(code, other.label_id()))),
        };
        match app.act_by_contact(code, &same, cmd).await {
            Ok(_) => Ok(("followed_up", done)),
            Err(AppError::NotOwner(owner)) => {
                Ok(("elsewhere", t.elsewhere(code, &app.node_name(&owner))))
            }
            Err(AppError::Domain(_)) => {
                // Its status changed since it was read: say where it stands now.
                let label = app
                    .report_for_contact(code, &same)
                    .await?
                    .map_or(report.status, |(r, _)| r.status)
                    .label_id();
                Ok(("not_waiting", t.not_waiting(code, label)))
            }
            Err(AppError::Validation(errors)) => Ok((
                "refused",
                t.refused(
                    errors
                        .first()
                        .map_or("", |e| e.message.split(" / ").next().unwrap_or_default()),
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }
}
