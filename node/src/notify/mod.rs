//! Notifications: notices to reporters and officers from a durable outbox.
//!
//! The worker reads this node's own event log (already a durable, ordered change feed) after a cursor of
//! its own, derives notices ([`derive`]) for reports this node owns, and records them together with the new
//! cursor in one transaction ([`NoticeStore::notices_enqueue`]); a crash before that commit derives the same
//! notices again (the `dedup` key makes that harmless), a crash after it loses nothing. A second loop sends
//! what is due: it claims a notice (`sending`, durable) before the SMTP or Kannel request and records
//! `sent` after it, retries failures with exponential backoff for as long as it takes, and marks a notice
//! `failed` (with the reason, counted in `/metrics`) only when the server refused it for good.
//!
//! Delivery guarantee: each notice is sent at least once, and exactly once unless the process dies in the
//! window between the server accepting the message and the `sent` commit (milliseconds). A notice found
//! `sending` at start is sent again; an email then carries the same Message-ID (derived from the notice
//! id), so mail clients and archives can recognise the copy; an SMS copy cannot be recognised.
//!
//! No address is ever copied: a notice names the report and the kind of recipient, and the address is read
//! from the reporter identity (from the config for agencies' mailboxes, from the account for an officer,
//! `user:<id>`) only when it is sent; logs carry the notice and report ids only. Anonymous reporters get no
//! notices.

pub mod config;
pub mod derive;
pub mod email;
pub mod gsm;
pub mod sms;
pub mod status;
pub mod text;
pub mod unsubscribe;

use std::time::Duration;

use lapor_federation::kind::{EventClass, EventKind};
use lapor_schemas::{ReportStatus, TimelineAction};

use crate::domain::Millis;
use crate::federation::apply::parse_event;
use crate::federation::payload::{self, ReportPayload};
use crate::node::Node;
use crate::storage::notices::{CHANNEL_EMAIL, CHANNEL_SMS};
use crate::storage::{Conflict, NoticeOutcome, NoticeRow, StorageError};
use crate::tasks::spawn_named;

/// Events read per round.
const EVENT_BATCH: i64 = 200;
/// Notices sent per round.
const SEND_BATCH: i64 = 50;
/// How often the deadline warnings are looked for.
const DEADLINE_EVERY: Duration = Duration::from_secs(60);

/// How one send attempt ended, as the sender saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The server took it.
    Sent,
    /// Try again later.
    Retry(String),
    /// The server refused it for good.
    Permanent(String),
}

/// The configured senders.
pub struct Senders {
    mailer: Option<email::Mailer>,
    kannel: Option<sms::Kannel>,
}

impl Senders {
    /// The senders the config turns on.
    pub fn new(node: &Node) -> anyhow::Result<Self> {
        let c = &node.config.notifications;
        Ok(Self {
            mailer: if c.email.enabled {
                Some(email::Mailer::new(&c.email)?)
            } else {
                None
            },
            kannel: if c.sms.enabled {
                Some(sms::Kannel::new(&c.sms)?)
            } else {
                None
            },
        })
    }

    fn serves(&self, channel: &str) -> bool {
        match channel {
            CHANNEL_EMAIL => self.mailer.is_some(),
            CHANNEL_SMS => self.kannel.is_some(),
            _ => false,
        }
    }
}

/// Base URL of links in notices.
pub fn public_base(node: &Node) -> String {
    let c = &node.config;
    let base = if !c.notifications.public_url.is_empty() {
        c.notifications.public_url.clone()
    } else if !c.federation.public_url.is_empty() {
        c.federation.public_url.clone()
    } else {
        format!("http://{}", c.http.listen)
    };
    base.trim_end_matches('/').to_owned()
}

/// Starts the worker when a channel is on; it stops when `shutdown` fires. Fails on a sender that cannot be
/// built (a bad address or an unreadable password file).
pub fn start(node: Node, mut shutdown: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<()> {
    if !node.config.notifications.any_enabled() {
        return Ok(());
    }
    let senders = Senders::new(&node)?;
    spawn_named("notify-worker", async move {
        let poll = Duration::from_millis(node.config.notifications.poll_ms);
        let mut ready = false;
        let mut last_deadlines: Option<tokio::time::Instant> = None;
        loop {
            match node.leases.hold(&node.store, "notify").await {
                // Another process sends; when this one takes over, it first puts back what the
                // previous holder left `sending`.
                crate::leases::Lease::Elsewhere => {
                    ready = false;
                    tokio::select! {
                        () = tokio::time::sleep(poll) => {}
                        _ = shutdown.changed() => break,
                    }
                    continue;
                }
                crate::leases::Lease::Taken => ready = false,
                crate::leases::Lease::Held => {}
            }
            if !ready {
                match prepare(&node).await {
                    Ok(n) => {
                        ready = true;
                        if n > 0 {
                            tracing::warn!(
                                notices = n,
                                "notices left sending by a stopped process are sent again"
                            );
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "notification worker could not start; retrying");
                    }
                }
            }
            if ready {
                if let Err(e) = derive_once(&node).await {
                    tracing::warn!(error = %e, "deriving notices failed; retrying");
                }
                if last_deadlines.is_none_or(|t| t.elapsed() >= DEADLINE_EVERY) {
                    last_deadlines = Some(tokio::time::Instant::now());
                    if let Err(e) = deadlines_once(&node).await {
                        tracing::warn!(error = %e, "deadline warnings failed; retrying");
                    }
                }
                if let Err(e) = send_once(&node, &senders).await {
                    tracing::warn!(error = %e, "sending notices failed; retrying");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => break,
            }
        }
    });
    Ok(())
}

/// At start: puts notices a dead process left `sending` back in the queue, makes the unsubscribe key and,
/// the first time, sets the cursor at the head of the log (events from before notifications were turned on
/// are not notified). Returns how many notices were put back.
pub async fn prepare(node: &Node) -> anyhow::Result<i64> {
    let store = &node.store;
    let recovered = store.notices_recover(node.now()).await?;
    unsubscribe::key(store).await?;
    if store.notice_cursor().await?.is_none() {
        let head = store
            .origin_heads()
            .await?
            .into_iter()
            .find(|h| h.origin == node.id())
            .map_or(0, |h| h.head_seq);
        match store.notices_enqueue(None, head, &[], node.now()).await {
            Ok(_) | Err(StorageError::Conflict(Conflict::NoticeCursorMoved)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(recovered)
}

/// Derives the notices of this node's own events after the cursor and records them with the new cursor.
/// Returns how many notices were recorded.
pub async fn derive_once(node: &Node) -> anyhow::Result<usize> {
    let store = &node.store;
    let mut recorded = 0;
    loop {
        let Some(cursor) = store.notice_cursor().await? else {
            return Ok(recorded);
        };
        let wires = store.events_after(node.id(), cursor, EVENT_BATCH).await?;
        let Some(last) = wires.last() else {
            return Ok(recorded);
        };
        let to = parse_event(last)?.origin_seq as i64;
        let mut notices = Vec::new();
        for wire in &wires {
            notices.extend(notices_of(node, wire).await?);
        }
        match store
            .notices_enqueue(Some(cursor), to, &notices, node.now())
            .await
        {
            Ok(n) => recorded += n,
            // Another worker on this database moved it: read again.
            Err(StorageError::Conflict(Conflict::NoticeCursorMoved)) => {}
            Err(e) => return Err(e.into()),
        }
        if wires.len() < EVENT_BATCH as usize {
            return Ok(recorded);
        }
    }
}

/// The notices one of this node's own events calls for.
async fn notices_of(node: &Node, wire: &[u8]) -> anyhow::Result<Vec<crate::storage::NewNotice>> {
    let event = parse_event(wire)?;
    if EventKind::class_of(&event.kind) != Some(EventClass::Report) {
        return Ok(Vec::new());
    }
    let p: ReportPayload = match payload::decode(&event.payload) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(report.id = %event.report_id, error = %e.0, "event payload unreadable; no notice");
            return Ok(Vec::new());
        }
    };
    let Some(action) = TimelineAction::parse(&p.entry.action) else {
        return Ok(Vec::new());
    };
    if !node.owns(&event.report_id).await? {
        return Ok(Vec::new());
    }
    let Some(mut report) = node.store.report_get(&event.report_id).await? else {
        return Ok(Vec::new());
    };
    // The agency the report was with at this event, not the one it is with now.
    report.agency_id.clone_from(&p.state.agency_id);
    let identity = node
        .store
        .report_identity(&report.id)
        .await?
        .unwrap_or_default();
    // After a transfer the reporter's contact may still be on its way from the former owner: the notices are
    // recorded as if it were here, and the sender waits for it (or skips them when none arrives).
    let awaited =
        identity.is_empty() && crate::federation::identity::awaited(node, &report.id).await?;
    let c = &node.config.notifications;
    let mailbox = report
        .agency_id
        .as_deref()
        .and_then(|a| c.email.agencies.get(a))
        .map(String::as_str);
    let officers = match report.agency_id.as_deref() {
        Some(a) if c.email.enabled => officers_of(node, a).await?,
        _ => Vec::new(),
    };
    let reach = derive::Reach {
        email: c.email.enabled,
        sms: c.sms.enabled,
        sms_every_phone: c.sms.every_phone,
        reporter_email: identity.email.is_some() || awaited,
        reporter_phone: identity.phone.is_some() || awaited,
        agency_mailbox: mailbox,
        admin_mailbox: !c.email.admin.is_empty(),
        officers: &officers,
    };
    let id = event.id()?.to_string();
    let change = derive::Change {
        event_id: &id,
        action,
        from_status: p.entry.from_status.as_deref().and_then(ReportStatus::parse),
        to_status: p.entry.to_status.as_deref().and_then(ReportStatus::parse),
        at: p.entry.at_ms,
    };
    Ok(derive::notices(&change, &report, &reach))
}

/// The accounts of the agency's officers who want its notices: active `agency_officer`s of exactly that
/// agency with an email address, not unsubscribed.
async fn officers_of(node: &Node, agency: &str) -> anyhow::Result<Vec<String>> {
    Ok(node
        .store
        .user_list()
        .await?
        .into_iter()
        .filter(|u| {
            u.role == lapor_schemas::Role::AgencyOfficer
                && u.active
                && !u.notices_off
                && u.email.is_some()
                && u.agency_id.as_deref() == Some(agency)
        })
        .map(|u| u.id)
        .collect())
}

/// Records warnings for reports whose follow-up is due within one working day (to the agency's mailbox and
/// to its officers). Returns how many.
pub async fn deadlines_once(node: &Node) -> anyhow::Result<usize> {
    let c = &node.config.notifications;
    if !c.email.enabled {
        return Ok(0);
    }
    let now = node.now();
    let horizon = node.calendar.add_working_days(now, 1);
    let mut warnings = Vec::new();
    for report in node.store.report_due(horizon, 1000).await? {
        let Some(agency) = report.agency_id.as_deref() else {
            continue;
        };
        let mailbox = derive::deadline_warning(&report, now, horizon)
            .filter(|_| c.email.agencies.contains_key(agency));
        let officers = officers_of(node, agency).await?;
        let mine = derive::officer_deadline_warnings(&report, now, horizon, &officers);
        if (mailbox.is_some() || !mine.is_empty()) && node.owns(&report.id).await? {
            warnings.extend(mailbox);
            warnings.extend(mine);
        }
    }
    Ok(node.store.notices_add(&warnings, now).await?)
}

/// Wait before attempt `attempts + 1` after `attempts` failed ones.
pub fn backoff(base_secs: u64, max_secs: u64, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    Duration::from_secs(base_secs.saturating_mul(1u64 << exp).min(max_secs))
}

/// Sends the notices that are due. Returns how many attempts were made.
pub async fn send_once(node: &Node, senders: &Senders) -> anyhow::Result<usize> {
    let store = &node.store;
    let mut attempts = 0;
    for row in store.notices_due(node.now(), SEND_BATCH).await? {
        // A channel turned off keeps its notices queued until it is on again.
        if !senders.serves(&row.notice.channel) {
            continue;
        }
        // A process that may have lost its lease (a slow batch) stops claiming; the holder sends the rest.
        if !node.leases.still_held("notify") {
            break;
        }
        if !store.notice_claim(&row.notice.id, node.now()).await? {
            continue;
        }
        attempts += 1;
        let outcome = match deliver(node, senders, &row).await {
            Ok(Delivery::Done(Attempt::Sent)) => NoticeOutcome::Sent,
            Ok(Delivery::Done(Attempt::Permanent(e))) => NoticeOutcome::Failed(e),
            Ok(Delivery::Done(Attempt::Retry(e))) => retry(node, &row, e),
            Ok(Delivery::Skip(why)) => NoticeOutcome::Skipped(why.into()),
            Err(e) => retry(node, &row, format!("{e:#}")),
        };
        let span = tracing::info_span!("notice", notice.id = %row.notice.id, report.id = %row.notice.report_id,
            notice.kind = %row.notice.kind, notice.channel = %row.notice.channel, notice.attempt = row.attempts + 1);
        let entered = span.enter();
        match &outcome {
            NoticeOutcome::Sent => tracing::info!("notice sent"),
            NoticeOutcome::Retry { error, next_at } => {
                tracing::warn!(error = %error, retry_in_ms = next_at - node.now(), "notice not sent; will retry");
            }
            NoticeOutcome::Failed(e) => tracing::error!(error = %e, "notice failed for good"),
            NoticeOutcome::Skipped(e) => tracing::info!(reason = %e, "notice skipped"),
        }
        drop(entered);
        store
            .notice_finish(&row.notice.id, &outcome, node.now())
            .await?;
    }
    Ok(attempts)
}

fn retry(node: &Node, row: &NoticeRow, error: String) -> NoticeOutcome {
    let c = &node.config.notifications;
    let wait = backoff(c.retry_base_secs, c.max_backoff_secs, row.attempts + 1);
    NoticeOutcome::Retry {
        next_at: node.now() + wait.as_millis() as Millis,
        error,
    }
}

enum Delivery {
    Done(Attempt),
    Skip(&'static str),
}

/// Resolves the address, renders the notice and sends it.
async fn deliver(node: &Node, senders: &Senders, row: &NoticeRow) -> anyhow::Result<Delivery> {
    let store = &node.store;
    let n = &row.notice;
    let c = &node.config.notifications;
    let Some(report) = store.report_get(&n.report_id).await? else {
        return Ok(Delivery::Skip("the report is not on this node any more"));
    };
    let base = public_base(node);
    let officer = text::for_officers(&n.kind);
    let address = if n.recipient == "reporter" {
        if report.anonymous {
            return Ok(Delivery::Skip("anonymous report"));
        }
        let identity = store.report_identity(&report.id).await?.unwrap_or_default();
        let address = if n.channel == CHANNEL_SMS {
            identity.phone
        } else {
            identity.email
        };
        let Some(address) = address else {
            if crate::federation::identity::awaited(node, &report.id).await? {
                return Ok(Delivery::Done(Attempt::Retry(
                    "the reporter's contact has not arrived from the former owner yet".into(),
                )));
            }
            return Ok(Delivery::Skip("the reporter's address was erased"));
        };
        if n.channel == CHANNEL_EMAIL && store.notice_unsubscribed(&report.id).await? {
            return Ok(Delivery::Skip("the reporter unsubscribed"));
        }
        address
    } else if let Some(agency) = n.recipient.strip_prefix("agency:") {
        let Some(a) = c.email.agencies.get(agency) else {
            return Ok(Delivery::Skip("no mailbox configured for the agency"));
        };
        a.clone()
    } else if let Some(user) = n.recipient.strip_prefix("user:") {
        let account = store.user_get(user).await?;
        let Some(account) = account.filter(|u| u.active) else {
            return Ok(Delivery::Skip("the account is gone or disabled"));
        };
        if account.notices_off {
            return Ok(Delivery::Skip("the officer unsubscribed"));
        }
        let Some(address) = account.email else {
            return Ok(Delivery::Skip("the officer has no email address"));
        };
        address
    } else if n.recipient == "admin" && !c.email.admin.is_empty() {
        c.email.admin.clone()
    } else {
        return Ok(Delivery::Skip("no mailbox configured"));
    };
    let note = if n.kind == "followup" {
        store
            .report_timeline(&report.id)
            .await?
            .into_iter()
            .rev()
            .find(|e| e.action == TimelineAction::Responded && Some(e.at) == n.entry_at)
            .and_then(|e| e.note)
    } else {
        None
    };
    let agency = match report.agency_id.as_deref() {
        Some(a) => store.agency_get(a).await?.map(|a| a.name),
        None => None,
    };
    let due = n.entry_at.filter(|_| n.kind == "deadline").map(|ms| {
        format!(
            "{} {}",
            node.time(ms).format("%d-%m-%Y %H:%M"),
            node.calendar.zone().abbreviation()
        )
    });
    let key = unsubscribe::key(store).await?;
    let unsubscribe_link = match n.recipient.strip_prefix("user:") {
        Some(user) if n.channel == CHANNEL_EMAIL => Some(unsubscribe::user_link(&base, &key, user)),
        _ => (!officer && n.channel == CHANNEL_EMAIL)
            .then(|| unsubscribe::link(&base, &key, &report.id)),
    };
    let link = if officer {
        format!("{base}/officer/reports/{}", report.tracking_code)
    } else {
        format!("{base}/track/{}", report.tracking_code)
    };
    let subject = text::Subject {
        kind: &n.kind,
        report: &report,
        note: note.as_deref(),
        agency: agency.as_deref(),
        due,
        node_name: &node.config.node.name,
        link,
        unsubscribe: unsubscribe_link.clone(),
    };
    let attempt = match n.channel.as_str() {
        CHANNEL_EMAIL => match &senders.mailer {
            Some(m) => {
                m.send(
                    &n.id,
                    &address,
                    &text::email(&subject),
                    unsubscribe_link.as_deref(),
                )
                .await
            }
            None => Attempt::Retry("email is turned off".into()),
        },
        CHANNEL_SMS => match &senders.kannel {
            Some(k) => k.send(&address, &text::sms(&subject)).await,
            None => Attempt::Retry("SMS is turned off".into()),
        },
        other => Attempt::Permanent(format!("unknown channel {other}")),
    };
    Ok(Delivery::Done(attempt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(30, 3600, 1), Duration::from_secs(30));
        assert_eq!(backoff(30, 3600, 2), Duration::from_secs(60));
        assert_eq!(backoff(30, 3600, 3), Duration::from_secs(120));
        assert_eq!(backoff(30, 3600, 20), Duration::from_secs(3600));
        assert_eq!(backoff(30, 3600, 10_000), Duration::from_secs(3600));
    }
}
