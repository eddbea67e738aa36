//! The storage contract and its two implementations.
//!
//! One contract, [`Store`], made of small traits per concern ([`MetaStore`], [`AccountStore`],
//! [`AuditStore`], [`CatalogStore`], [`ReportStore`], [`EventStore`], [`PeerStore`], [`TransferStore`],
//! [`SmsStore`], [`NoticeStore`], [`Open311Store`], [`StatsStore`], [`HandoverStore`],
//! [`LeaseStore`]) with coarse
//! domain-level methods that each own their transaction; one implementation for embedded SQLite
//! ([`sqlite::SqliteStore`], the default) and one for PostgreSQL ([`postgres::PgStore`], the hub), each a
//! folder with one file per concern. Both keep times as integer milliseconds (UTC) and run their own
//! migrations from `migrations/sqlite` and `migrations/postgres`. The conformance suite in
//! `node/tests/storage.rs` runs the same assertions against both. Callers import the traits with
//! `use crate::storage::prelude::*;`.
//!
//! Report changes are guarded by the report's `version`: a caller reads, computes a
//! [`Transition`](crate::domain::Transition) with the pure lifecycle, and [`ReportStore::report_transition`]
//! commits it only if nobody changed the report in between ([`Conflict::ReportChanged`] otherwise).

pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use lapor_federation::SignedEvent;
use lapor_schemas::api::Category;

use crate::domain::{
    AgencyRecord, AttachmentRecord, Millis, Report, ReportFilter, ReporterIdentity, SessionRecord,
    TimelineRecord, Transition, UserRecord,
};

pub use decide::{BROKEN_CHAIN, INBOX_SHARE};
pub use error::{Conflict, Result, StorageError};
pub use handover::{HandoverRow, HandoverStore};
pub use identity::IdentityCipher;
pub use leases::LeaseStore;
pub use notices::{NewNotice, NoticeOutcome, NoticeRow, NoticeStore};
pub use open311::{Open311Key, Open311Store, RequestQuery};
pub use records::*;

mod decide;
mod error;
pub mod handover;
pub mod identity;
pub mod leases;
pub mod notices;
mod open311;
mod records;
mod stats_sql;

/// The database itself and the node settings kept in it.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    /// Reads a node setting.
    async fn meta_get(&self, key: &str) -> Result<Option<String>>;
    /// Writes a node setting.
    async fn meta_put(&self, key: &str, value: &str) -> Result<()>;
    /// Sets the cipher reporter identities are sealed with at rest (see [`identity`]).
    fn set_identity_cipher(&self, cipher: Arc<dyn IdentityCipher>);
    /// Seals every stored identity field that is still plain (written before identities were sealed); returns
    /// how many identities changed. Does nothing without a cipher.
    async fn identities_seal_plaintext(&self) -> Result<u64>;
    /// Creates the first admin, consuming the bootstrap secret stored under meta key `bootstrap_secret_sha256`
    /// whose value must equal `secret_hash`, in one transaction. `Conflict` when the secret is wrong or used.
    async fn bootstrap_admin(&self, secret_hash: &str, admin: &UserRecord) -> Result<()>;
}

/// Users and their sessions or API tokens.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates a user. `Conflict` if the username is taken.
    async fn user_create(&self, user: &UserRecord) -> Result<()>;
    /// Updates display name, password hash and active flag.
    async fn user_update(&self, user: &UserRecord) -> Result<()>;
    /// One user by id.
    async fn user_get(&self, id: &str) -> Result<Option<UserRecord>>;
    /// One user by login name.
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>>;
    /// Every user, by username.
    async fn user_list(&self) -> Result<Vec<UserRecord>>;
    /// Number of users.
    async fn user_count(&self) -> Result<i64>;

    /// Stores a session or API token.
    async fn session_create(&self, session: &SessionRecord) -> Result<()>;
    /// The live session with this token hash and its active user.
    async fn session_lookup(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<(SessionRecord, UserRecord)>>;
    /// Ends a session.
    async fn session_delete(&self, token_hash: &str) -> Result<()>;
    /// Records that a session was used at `now` (for the idle timeout).
    async fn session_touch(&self, token_hash: &str, now: Millis) -> Result<()>;
    /// Ends every session and API token of a user but the one whose hash is `keep`. Returns how many ended.
    async fn sessions_end_for_user(&self, user_id: &str, keep: Option<&str>) -> Result<u64>;
}

/// The append-only audit log (who, what, when, from where). Rows are never changed or deleted: both backends
/// refuse it with a trigger.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends a line; returns its id.
    async fn audit_append(&self, entry: &AuditEntry) -> Result<i64>;
    /// Lines `filter` selects, newest first.
    async fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;
}

/// Agencies and report categories.
#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Creates an agency. `Conflict` if the id is taken, `Invalid` if the parent is missing.
    async fn agency_create(&self, agency: &AgencyRecord) -> Result<()>;
    /// Updates name, region code and active flag of an agency.
    async fn agency_update(&self, agency: &AgencyRecord) -> Result<()>;
    /// One agency.
    async fn agency_get(&self, id: &str) -> Result<Option<AgencyRecord>>;
    /// Every agency, by path.
    async fn agency_list(&self) -> Result<Vec<AgencyRecord>>;

    /// Inserts or updates a category.
    async fn category_upsert(&self, category: &Category) -> Result<()>;
    /// Inserts the categories whose ids are not there yet.
    async fn category_seed(&self, categories: &[Category]) -> Result<()>;
    /// One category.
    async fn category_get(&self, id: &str) -> Result<Option<Category>>;
    /// Every category, by id.
    async fn category_list(&self) -> Result<Vec<Category>>;
}

/// Reports, their timelines, counts and attachments.
#[async_trait]
pub trait ReportStore: Send + Sync + 'static {
    /// Stores a new report, its identity (if any) and its first timeline entry, durably, in one transaction;
    /// with `event`, also authors that event in the local log, records this node as the owner at epoch 0 and
    /// queues the event for its destinations (the transactional outbox).
    async fn report_insert(
        &self,
        report: &Report,
        identity: Option<&ReporterIdentity>,
        entry: &TimelineRecord,
        event: Option<&EventDraft>,
    ) -> Result<()>;
    /// One report by id.
    async fn report_get(&self, id: &str) -> Result<Option<Report>>;
    /// One report by tracking code.
    async fn report_by_tracking_code(&self, code: &str) -> Result<Option<Report>>;
    /// The reporter identity of a report.
    async fn report_identity(&self, id: &str) -> Result<Option<ReporterIdentity>>;
    /// The timeline of a report, oldest first.
    async fn report_timeline(&self, id: &str) -> Result<Vec<TimelineRecord>>;
    /// A report with its timeline, ownership, agency name, category, newest transfer, the code of the report
    /// it duplicates and its files, in one read from one snapshot (what a report view shows). The reporter
    /// identity is not in it: it is read only after its read was audited.
    async fn report_bundle(&self, key: &ReportKey) -> Result<Option<ReportBundle>>;
    /// Commits a transition if the stored version is `transition.report.version - 1`; appends the entry with
    /// the next `seq` and erases the identity when asked. `Conflict` when the report changed meanwhile. With
    /// `event`, authors it in the same transaction (see [`ReportStore::report_insert`]); `Conflict` also when the
    /// event consumes a contribution that is no longer pending.
    async fn report_transition(
        &self,
        transition: &Transition,
        event: Option<&EventDraft>,
    ) -> Result<()>;
    /// A page of reports and the total count.
    async fn report_list(&self, filter: &ReportFilter) -> Result<(Vec<Report>, i64)>;
    /// Reports for which a worker command may be due at `now` (a superset is fine).
    async fn report_due(&self, now: Millis, limit: i64) -> Result<Vec<Report>>;
    /// Counts over the reports `filter` selects (paging fields ignored).
    async fn report_stats(&self, filter: &ReportFilter) -> Result<StatsRow>;

    /// Ties a stored file to a report; adding the same file to the same report again changes nothing.
    /// `Invalid` when the report does not exist.
    async fn attachment_add(&self, attachment: &AttachmentRecord) -> Result<()>;
    /// The files of a report, oldest first.
    async fn attachment_list(&self, report_id: &str) -> Result<Vec<AttachmentRecord>>;
}

/// The event log: authoring, the inbox, accepting received events, origins' heads, report histories,
/// quarantine and equivocations.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Authors an event that changes no report row (a contribution, a key event) in the local log.
    async fn event_append(&self, draft: &EventDraft) -> Result<SignedEvent>;
    /// Who owns a report, at which epoch, and its latest event.
    async fn report_owner(&self, report_id: &str) -> Result<Option<OwnerRow>>;
    /// [`EventStore::report_owner`] of many reports in one read (the applier's batch): the rows of those that
    /// are owned, in no particular order.
    async fn report_owners(&self, report_ids: &[String]) -> Result<Vec<OwnerRow>>;

    /// The answer already given to a push transaction.
    async fn push_txn_get(&self, sender: &str, txn: &str) -> Result<Option<String>>;
    /// Durably stores verified received events in the inbox and the answer to their push transaction, in one
    /// transaction. `Conflict` when the transaction was already recorded (a concurrent retry).
    async fn inbox_insert(
        &self,
        sender: &str,
        txn: &str,
        response: &str,
        events: &[InboxEvent],
        now: Millis,
    ) -> Result<()>;
    /// Up to `limit` inbox rows, by origin and sequence number, at most [`INBOX_SHARE`] of each origin (the
    /// lowest sequence numbers), so that every origin gets its turn.
    async fn inbox_load(&self, limit: i64) -> Result<Vec<InboxRow>>;
    /// How many inbox rows each origin has, by origin.
    async fn inbox_counts(&self) -> Result<Vec<(String, i64)>>;
    /// Deletes inbox rows (events already held, or refused when applied).
    async fn inbox_delete(&self, ids: &[i64]) -> Result<()>;

    /// Accepts received events into the log and applies them, in one transaction, in the order given. Each is
    /// classified against its origin's head inside the transaction; only the next event of an unfrozen origin
    /// is stored and its effect run. Its inbox row (if any) is deleted unless the outcome is a gap.
    async fn events_accept(&self, items: &[Incoming], now: Millis) -> Result<Vec<AcceptOutcome>>;
    /// The head of every origin's log this node holds.
    async fn origin_heads(&self) -> Result<Vec<OriginHead>>;
    /// Wire bytes of an origin's events after `after_seq`, in order.
    async fn events_after(&self, origin: &str, after_seq: i64, limit: i64) -> Result<Vec<Vec<u8>>>;
    /// One event's stored row.
    async fn event_get(&self, id: &str) -> Result<Option<StoredEvent>>;
    /// Events of a report, by origin and sequence number.
    async fn report_events(&self, report_id: &str) -> Result<Vec<StoredEvent>>;
    /// Events waiting for this node to act on them (contributions for its lifecycle, transfer steps), whose
    /// type starts with `kind_prefix`, oldest first.
    async fn events_pending(&self, kind_prefix: &str, limit: i64) -> Result<Vec<StoredEvent>>;

    /// Stores a report rebuilt from its signed history in one transaction: the row and the timeline entries
    /// beyond those held, ownership (never to an older epoch: nothing changes when the held ownership is
    /// newer or the same), and the events it was rebuilt from.
    async fn report_import(&self, import: &ReportImport, now: Millis) -> Result<()>;
    /// Every signed event of a report held here, from the logs and imported histories, by epoch.
    async fn report_history(&self, report_id: &str) -> Result<Vec<HistoryEvent>>;

    /// Settles a pending event that needs no step any more (a transfer step overtaken by a later commit, a
    /// contribution another node applies): `pending` becomes `stored`. Whether it was still pending.
    async fn event_settle(&self, id: &str) -> Result<bool>;
    /// Marks an event quarantined (applying it failed for good).
    async fn event_quarantine(&self, id: &str, code: &str, reason: &str, now: Millis)
        -> Result<()>;
    /// Quarantined events, newest first.
    async fn quarantine_list(&self, limit: i64) -> Result<Vec<QuarantineRow>>;
    /// Recorded equivocations.
    async fn equivocation_list(&self) -> Result<Vec<EquivocationRow>>;
    /// Lifts the freeze of an origin (after a person investigated its equivocation): its next events apply
    /// again. The equivocation rows stay as the record. Whether the origin was frozen.
    async fn origin_unfreeze(&self, origin: &str, now: Millis) -> Result<bool>;
}

/// Peers, their keys, the outbox towards them and the blobs events carry.
#[async_trait]
pub trait PeerStore: Send + Sync + 'static {
    /// Events queued for `destination` after outbox position `after`, as (position, wire bytes).
    async fn outbox_after(
        &self,
        destination: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>>;
    /// Queues every event of `origin` not yet queued for `destination` (a peer enrolled after they were
    /// authored). Returns how many were queued.
    async fn outbox_backfill(&self, destination: &str, origin: &str, now: Millis) -> Result<i64>;
    /// Number of outbox entries for `destination` after `after`, and the authoring time of the oldest.
    async fn outbox_backlog(&self, destination: &str, after: i64) -> Result<(i64, Option<Millis>)>;

    /// Adds or updates a peer's directory fields (name, URL, role, regions, encryption key); keeps its
    /// push state.
    async fn peer_upsert(&self, peer: &PeerRecord) -> Result<()>;
    /// Every peer, by id.
    async fn peer_list(&self) -> Result<Vec<PeerRecord>>;
    /// One peer.
    async fn peer_get(&self, node_id: &str) -> Result<Option<PeerRecord>>;
    /// Removes a peer and what is queued for it (its keys stay in the key log, so its events held here still
    /// verify). Whether it existed.
    async fn peer_remove(&self, node_id: &str) -> Result<bool>;
    /// Records a push attempt: on success the new cursor, on failure the error.
    async fn peer_push_result(
        &self,
        node_id: &str,
        outcome: PushOutcome,
        now: Millis,
    ) -> Result<()>;

    /// Adds a key or updates its validity (never deletes one).
    async fn key_upsert(&self, key: &KeyRow) -> Result<()>;
    /// Every key of every origin.
    async fn key_list(&self) -> Result<Vec<KeyRow>>;
    /// Rotates this node's signing key in one transaction, so no event of any process can fall between the
    /// announcement and the switch: authors `draft` (the `key.rotated` event naming `new`, signed by the key
    /// valid at its sequence number `n`), retires that key after `n` and registers `new` valid from `n + 1`
    /// (its `valid_from_seq` is ignored). Returns the event.
    async fn key_rotate(&self, draft: &EventDraft, new: &KeyRow) -> Result<SignedEvent>;

    /// Stores a blob by its sha256 (idempotent).
    async fn blob_put(&self, hash: &str, content: &[u8], now: Millis) -> Result<()>;
    /// One blob.
    async fn blob_get(&self, hash: &str) -> Result<Option<Vec<u8>>>;
}

/// Transfers of reports between nodes.
#[async_trait]
pub trait TransferStore: Send + Sync + 'static {
    /// One transfer by the id of the event that opened it.
    async fn transfer_get(&self, offer_id: &str) -> Result<Option<TransferRow>>;
    /// The transfers of a report, newest first.
    async fn transfers_of_report(&self, report_id: &str) -> Result<Vec<TransferRow>>;
    /// Transfers by last change, newest first; only those that may still commit with `open_only`.
    async fn transfers_list(&self, open_only: bool, limit: i64) -> Result<Vec<TransferRow>>;
}

/// What the SMS channel keeps: the keywords other nodes publish (written when their `node.agencies` event
/// is accepted, or, for nodes whose log this node does not receive, from the hub's directory).
#[async_trait]
pub trait SmsStore: Send + Sync + 'static {
    /// The node (and agency) another node published `keyword` for.
    async fn sms_keyword_get(&self, keyword: &str) -> Result<Option<SmsKeywordRow>>;
    /// Applies another node's publication as the hub's directory carries it (its agencies and keywords
    /// replace what this node knew of that origin, as when its `node.agencies` event is accepted), unless one
    /// with the same or a higher `seq` was applied before; in one transaction. Whether it applied.
    async fn publication_apply(
        &self,
        origin: &str,
        seq: i64,
        agencies: &[AgencyRecord],
        keywords: &[SmsKeywordRow],
        now: Millis,
    ) -> Result<bool>;
}

/// Statistics: the facts of a period, the freshness of every origin, kept recaps.
#[async_trait]
pub trait StatsStore: Send + Sync + 'static {
    /// One fact per report the query selects, by submission time.
    async fn stats_facts(&self, query: &crate::stats::FactQuery)
        -> Result<Vec<crate::stats::Fact>>;
    /// The pre-aggregated cells of a period (migration 0013), with the open reports whose deadline clock
    /// started on or after `open_since` and the reports received per day.
    async fn stats_cells(&self, query: &crate::stats::CellQuery) -> Result<crate::stats::CellRows>;
    /// Makes the working-day table and the owners' zones the aggregates are computed with match `spec`:
    /// when the holidays changed (or on the first start after migration 0013, the backfill) every derived
    /// row and aggregate is rebuilt in one transaction; when only zones changed, the reports of those
    /// owners are recomputed. Returns whether anything changed.
    async fn stats_calendar_sync(&self, spec: &crate::stats::CalendarSpec) -> Result<bool>;
    /// Per origin: the head applied here, when it was applied and when it was authored.
    async fn stats_freshness(&self) -> Result<Vec<crate::stats::Freshness>>;
    /// Stores a recap, replacing one of the same period, scope and format.
    async fn recap_put(&self, recap: &crate::stats::RecapFile) -> Result<()>;
    /// One kept recap.
    async fn recap_get(
        &self,
        period: &str,
        scope: &str,
        format: &str,
    ) -> Result<Option<crate::stats::RecapFile>>;
    /// Every kept recap without its content (empty), newest period first.
    async fn recap_list(&self) -> Result<Vec<crate::stats::RecapFile>>;
}

/// The storage contract every backend implements: every concern trait at once.
pub trait Store:
    MetaStore
    + AccountStore
    + AuditStore
    + CatalogStore
    + ReportStore
    + EventStore
    + PeerStore
    + TransferStore
    + SmsStore
    + NoticeStore
    + Open311Store
    + StatsStore
    + HandoverStore
    + LeaseStore
{
}

impl<T> Store for T where
    T: MetaStore
        + AccountStore
        + AuditStore
        + CatalogStore
        + ReportStore
        + EventStore
        + PeerStore
        + TransferStore
        + SmsStore
        + NoticeStore
        + Open311Store
        + StatsStore
        + HandoverStore
        + LeaseStore
{
}

/// Every concern trait in one import: `use crate::storage::prelude::*;`. A [`DynStore`] (or a `T: Store`)
/// reaches the methods of every concern without it; a concrete backend type needs the trait in scope.
pub mod prelude {
    pub use super::{
        AccountStore, AuditStore, CatalogStore, EventStore, HandoverStore, LeaseStore, MetaStore,
        NoticeStore, Open311Store, PeerStore, ReportStore, SmsStore, StatsStore, Store,
        TransferStore,
    };
}

/// The store as the rest of the node holds it.
pub type DynStore = Arc<dyn Store>;

/// Opens the store a database URL names: `sqlite://PATH` (or a bare path) or `postgres://...`.
pub async fn open(url: &str) -> anyhow::Result<DynStore> {
    open_with(url, &crate::config::StorageConfig::default()).await
}

/// [`open`] with the `[storage]` settings.
pub async fn open_with(
    url: &str,
    settings: &crate::config::StorageConfig,
) -> anyhow::Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        Ok(Arc::new(sqlite::SqliteStore::open_with(
            std::path::Path::new(path),
            settings.sqlite_readers,
        )?))
    }
}

/// Hides the password in a database URL for logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Turns a free-text query into whole-word tokens, dropping everything the search engines treat as syntax.
pub fn search_tokens(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(16)
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn tokens_drop_syntax() {
        assert_eq!(
            search_tokens("jalan \"rusak\" OR*  NEAR("),
            vec!["jalan", "rusak", "or", "near"]
        );
    }
}
