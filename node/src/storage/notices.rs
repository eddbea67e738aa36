//! The notification outbox contract ([`NoticeStore`]) and its rows. Notices never hold an address: they name
//! the report, the kind of notice and the kind of recipient; the sender resolves the address when it sends.

use async_trait::async_trait;

use super::Result;
use crate::domain::Millis;

/// Where a notice goes.
pub const CHANNEL_EMAIL: &str = "email";
/// Where a notice goes.
pub const CHANNEL_SMS: &str = "sms";

/// A notice to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotice {
    /// Id (a ULID); also the stable part of the email's Message-ID.
    pub id: String,
    /// What makes it unique: `<event id>:<channel>:<recipient>` or `deadline:<report>:<due>:<recipient>`.
    pub dedup: String,
    /// Report.
    pub report_id: String,
    /// Kind of notice (`filed`, `verified`, `followup`, `completed`, `status`, `disposition`, `deadline`,
    /// `overdue`).
    pub kind: String,
    /// `email` or `sms`.
    pub channel: String,
    /// `reporter`, `agency:<id>` or `admin`.
    pub recipient: String,
    /// The event it was derived from.
    pub event_id: Option<String>,
    /// Time of the timeline entry it tells about.
    pub entry_at: Option<Millis>,
}

/// A recorded notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    /// What was recorded.
    pub notice: NewNotice,
    /// `queued`, `sending`, `retrying`, `sent`, `failed` or `skipped`.
    pub state: String,
    /// Send attempts started.
    pub attempts: i64,
    /// Not to be sent before.
    pub next_at: Millis,
    /// Why the last attempt failed, or why it was skipped.
    pub last_error: Option<String>,
    /// Recorded at.
    pub created_at: Millis,
    /// Sent at.
    pub sent_at: Option<Millis>,
}

/// How a send attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// Accepted by the SMTP server or by Kannel.
    Sent,
    /// Failed for now; try again at `next_at`.
    Retry {
        /// Next attempt.
        next_at: Millis,
        /// Why.
        error: String,
    },
    /// Failed for good (the server refused it).
    Failed(String),
    /// Nothing to send (no address any more, unsubscribed).
    Skipped(String),
}

/// The durable notification outbox.
#[async_trait]
pub trait NoticeStore: Send + Sync + 'static {
    /// The worker's position in this node's own log, once it has one.
    async fn notice_cursor(&self) -> Result<Option<i64>>;
    /// Records `notices` (ignoring those whose `dedup` is already recorded) and moves the cursor from `from`
    /// (`None`: no cursor yet) to `to`, in one transaction. `Conflict::NoticeCursorMoved` when the cursor is
    /// not at `from`. Returns how many were recorded.
    async fn notices_enqueue(
        &self,
        from: Option<i64>,
        to: i64,
        notices: &[NewNotice],
        now: Millis,
    ) -> Result<usize>;
    /// Records notices that do not come from the log (deadline warnings), ignoring those already recorded.
    async fn notices_add(&self, notices: &[NewNotice], now: Millis) -> Result<usize>;
    /// Up to `limit` notices `queued` or `retrying` whose time has come, oldest first.
    async fn notices_due(&self, now: Millis, limit: i64) -> Result<Vec<NoticeRow>>;
    /// Claims a notice for one send attempt (`sending`, one more attempt) if it is still `queued` or
    /// `retrying`; `false` when it is not (taken or finished meanwhile). Durable before it returns.
    async fn notice_claim(&self, id: &str, now: Millis) -> Result<bool>;
    /// Records how the attempt on a `sending` notice ended.
    async fn notice_finish(&self, id: &str, outcome: &NoticeOutcome, now: Millis) -> Result<()>;
    /// Puts notices a dead process left `sending` back in the queue (`retrying`, due now). Returns how many.
    async fn notices_recover(&self, now: Millis) -> Result<i64>;
    /// Number of notices per state and channel: `(state, channel, count)`.
    async fn notice_counts(&self) -> Result<Vec<(String, String, i64)>>;
    /// The notices of a report, oldest first.
    async fn notices_of_report(&self, report_id: &str) -> Result<Vec<NoticeRow>>;
    /// The reporter of `report_id` wants no more email notices (idempotent).
    async fn notice_unsubscribe(&self, report_id: &str, now: Millis) -> Result<()>;
    /// Whether the reporter of `report_id` unsubscribed.
    async fn notice_unsubscribed(&self, report_id: &str) -> Result<bool>;
}

/// Whether a recorded state is final.
pub fn is_final(state: &str) -> bool {
    matches!(state, "sent" | "failed" | "skipped")
}

/// The state, error and sent time an outcome leaves behind.
pub(crate) fn outcome_columns(
    outcome: &NoticeOutcome,
    now: Millis,
) -> (&'static str, Option<String>, Option<Millis>, Option<Millis>) {
    match outcome {
        NoticeOutcome::Sent => ("sent", None, Some(now), None),
        NoticeOutcome::Retry { next_at, error } => {
            ("retrying", Some(error.clone()), None, Some(*next_at))
        }
        NoticeOutcome::Failed(e) => ("failed", Some(e.clone()), None, None),
        NoticeOutcome::Skipped(e) => ("skipped", Some(e.clone()), None, None),
    }
}
