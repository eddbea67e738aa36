//! The records storage reads and writes beside the domain's own (`crate::domain`): dashboard counts and the
//! federation side, the event log, inbox, outbox, peers, keys and transfers.
//!
//! Storage never decides what an event means: the federation module verifies events and computes their
//! [`Effect`]; storage classifies each against its origin's head *inside* the transaction that applies it,
//! so that a crash or a concurrent duplicate can never apply one event twice or skip one.

use std::sync::Arc;

use lapor_federation::{EnvelopeError, Event, EventId, SignedEvent, Value};

use lapor_schemas::api::Count;

use crate::domain::{Millis, Report, TimelineRecord};

/// Counts for dashboards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsRow {
    /// Total.
    pub total: i64,
    /// Per status id.
    pub by_status: Vec<Count>,
    /// Per category id (`none` for uncategorised).
    pub by_category: Vec<Count>,
    /// Current deadline missed.
    pub overdue: i64,
    /// Escalated.
    pub escalated: i64,
}

/// Signs the events this node authors; the federation module implements it with the node's current key.
pub trait EventSigner: Send + Sync + 'static {
    /// This node's id, the `origin` of what it signs.
    fn node_id(&self) -> &str;
    /// Fills in `key_id` and signs, with the key `key_id` when storage names one (the key this node's key log
    /// holds valid at the event's sequence number), with its current key when the log holds none of its own.
    fn sign(
        &self,
        event: Event,
        key_id: Option<&str>,
    ) -> std::result::Result<SignedEvent, EnvelopeError>;
}

/// An event to author in the transaction of a change. Storage fills in `origin_seq`, `origin_prev`,
/// `report_epoch` and `report_prev` from what it holds, then signs.
#[derive(Clone)]
pub struct EventDraft {
    /// Signs it.
    pub signer: Arc<dyn EventSigner>,
    /// Event type, e.g. `report.verified`.
    pub kind: String,
    /// The report it is about (`<origin>:node` for key events).
    pub report_id: String,
    /// Type-specific content.
    pub payload: Value,
    /// Out-of-band blobs: sha256 and content, stored beside the event.
    pub blobs: Vec<(String, Vec<u8>)>,
    /// Author's clock.
    pub authored_at: Millis,
    /// Nodes to send it to.
    pub destinations: Vec<String>,
    /// The contribution event this change applies: its state goes from `pending` to `applied` in the same
    /// transaction, and the change fails with `Conflict` if it is not pending any more.
    pub consumes: Option<String>,
    /// The report epoch to sign with instead of the held one (a transfer commit opens the next epoch).
    pub epoch: Option<i64>,
    /// What the event does to a transfer and to ownership, in the same transaction.
    pub transfer: Option<TransferChange>,
    /// Store the event as `pending`: this node's own transfer worker still has to act on it.
    pub pending: bool,
}

impl EventDraft {
    /// A draft of an event of type `kind` about `report_id`, authored at `authored_at` and sent to
    /// `destinations`: no blobs, consumes nothing, signed at the held epoch, no transfer change, stored as
    /// `applied`. The setters below change those.
    pub fn new(
        signer: Arc<dyn EventSigner>,
        kind: impl Into<String>,
        report_id: impl Into<String>,
        payload: Value,
        authored_at: Millis,
        destinations: Vec<String>,
    ) -> Self {
        Self {
            signer,
            kind: kind.into(),
            report_id: report_id.into(),
            payload,
            blobs: Vec::new(),
            authored_at,
            destinations,
            consumes: None,
            epoch: None,
            transfer: None,
            pending: false,
        }
    }

    /// Carries these blobs (sha256 and content).
    pub fn blobs(mut self, blobs: Vec<(String, Vec<u8>)>) -> Self {
        self.blobs = blobs;
        self
    }

    /// Authored at this time instead.
    pub fn authored_at(mut self, at: Millis) -> Self {
        self.authored_at = at;
        self
    }

    /// Consumes this pending contribution event, if any (see the `consumes` field).
    pub fn consumes(mut self, event_id: Option<String>) -> Self {
        self.consumes = event_id;
        self
    }

    /// Signed at this report epoch instead of the held one.
    pub fn epoch(mut self, epoch: i64) -> Self {
        self.epoch = Some(epoch);
        self
    }

    /// Changes a transfer (and ownership) in the same transaction.
    pub fn transfer(mut self, change: TransferChange) -> Self {
        self.transfer = Some(change);
        self
    }

    /// Stored as `pending` (`true`) or `applied`.
    pub fn pending(mut self, pending: bool) -> Self {
        self.pending = pending;
        self
    }
}

impl std::fmt::Debug for EventDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventDraft")
            .field("kind", &self.kind)
            .field("report_id", &self.report_id)
            .field("destinations", &self.destinations)
            .finish_non_exhaustive()
    }
}

/// Builds and signs the event of a draft at the given log position.
pub fn sign_draft(
    draft: &EventDraft,
    key_id: Option<&str>,
    seq: i64,
    prev: Option<&str>,
    epoch: i64,
    report_prev: Option<&str>,
) -> super::Result<SignedEvent> {
    let parse = |s: &str| {
        s.parse::<EventId>()
            .map_err(|_| super::StorageError::Invalid(format!("stored event id `{s}` is not hex")))
    };
    let event = Event {
        v: lapor_federation::envelope::FORMAT_VERSION,
        kind: draft.kind.clone(),
        origin: draft.signer.node_id().to_owned(),
        origin_seq: seq as u64,
        origin_prev: prev.map(parse).transpose()?,
        report_id: draft.report_id.clone(),
        report_epoch: epoch as u64,
        report_prev: report_prev.map(parse).transpose()?.into_iter().collect(),
        authored_at_ms: draft.authored_at,
        key_id: String::new(),
        payload: draft.payload.clone(),
        blobs: draft
            .blobs
            .iter()
            .map(|(h, _)| {
                h.parse().map_err(|_| {
                    super::StorageError::Invalid(format!("blob hash `{h}` is not hex"))
                })
            })
            .collect::<super::Result<_>>()?,
    };
    draft.signer.sign(event, key_id).map_err(|e| match e {
        lapor_federation::EnvelopeError::EventTooLarge { .. } => {
            super::StorageError::EventTooLarge(e.to_string())
        }
        other => super::StorageError::Invalid(format!("signing event: {other}")),
    })
}

/// How a report is asked for: by id (it contains `:`) or by its normalised tracking code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportKey {
    /// `<node>:<ULID>`.
    Id(String),
    /// A normalised tracking code.
    TrackingCode(String),
}

/// A report and everything its view shows, read together: one read (one pooled connection, one snapshot)
/// instead of one per piece.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportBundle {
    /// The report.
    pub report: crate::domain::Report,
    /// Its timeline, oldest first.
    pub timeline: Vec<crate::domain::TimelineRecord>,
    /// Who owns it here (none: its origin at epoch 0).
    pub owner: Option<OwnerRow>,
    /// The name of the agency it is assigned to.
    pub agency_name: Option<String>,
    /// Its category.
    pub category: Option<lapor_schemas::api::Category>,
    /// Its newest transfer.
    pub transfer: Option<TransferRow>,
    /// The tracking code of the report it duplicates.
    pub duplicate_code: Option<String>,
    /// Its files, oldest first.
    pub attachments: Vec<crate::domain::AttachmentRecord>,
}

/// Ownership of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRow {
    /// Report id.
    pub report_id: String,
    /// Owning node.
    pub owner: String,
    /// Ownership generation.
    pub epoch: i64,
    /// Latest event of the report this node holds.
    pub last_event_id: Option<String>,
}

/// A verified event to put in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEvent {
    /// Event id (hex).
    pub event_id: String,
    /// Origin.
    pub origin: String,
    /// Sequence number.
    pub origin_seq: i64,
    /// Exact wire bytes.
    pub wire: Vec<u8>,
}

/// An inbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    /// Position.
    pub id: i64,
    /// Event id (hex).
    pub event_id: String,
    /// Origin.
    pub origin: String,
    /// Sequence number.
    pub origin_seq: i64,
    /// Peer that sent it.
    pub sender: String,
    /// Exact wire bytes.
    pub wire: Vec<u8>,
}

/// A key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Node.
    pub origin: String,
    /// Key id.
    pub key_id: String,
    /// ed25519 public key, hex.
    pub public_key: String,
    /// x25519 public key for sealing, hex.
    pub enc_public: Option<String>,
    /// First sequence number it signs.
    pub valid_from_seq: i64,
    /// Last sequence number it signs after a rotation.
    pub retired_after_seq: Option<i64>,
    /// Events from this sequence number on are refused.
    pub revoked_from_seq: Option<i64>,
}

/// What accepting an event does besides storing it.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Stored for the record and for forwarding; nothing to apply here.
    Store,
    /// A contribution for this node's lifecycle: stored as `pending`.
    Pending,
    /// The owner's new state of a report and the timeline entry of the change.
    Snapshot {
        /// The report as its owner has it after the event (local `agency_path` already resolved).
        report: Box<Report>,
        /// The timeline entry.
        entry: TimelineRecord,
    },
    /// Keys to add or update.
    Keys(Vec<KeyRow>),
    /// A transfer event: the transfer row (and, for a commit, ownership) changes; `pending` when this node
    /// has to act on it (the worker then consumes it).
    Transfer {
        /// The change.
        change: Box<TransferChange>,
        /// Stored as `pending` for this node's transfer worker.
        pending: bool,
    },
    /// The agencies a node hosts (`node.agencies`): they replace what this node knew of that node's agencies.
    Agencies {
        /// The node.
        origin: String,
        /// Its agencies (`node_id` set to the origin).
        agencies: Vec<crate::domain::AgencyRecord>,
        /// Its SMS keywords (`node_id` set to the origin); they replace what was known of that node's.
        sms_keywords: Vec<SmsKeywordRow>,
    },
    /// The event is valid in the log but cannot be applied: stored as `quarantined` with this reason.
    Quarantine {
        /// Stable code.
        code: String,
        /// Why.
        reason: String,
    },
}

/// A received, verified event to accept.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Inbox row to delete once handled.
    pub inbox_id: Option<i64>,
    /// Event id (hex).
    pub id: String,
    /// Origin.
    pub origin: String,
    /// Sequence number.
    pub origin_seq: i64,
    /// Previous event id of the origin (hex).
    pub origin_prev: Option<String>,
    /// Event type.
    pub kind: String,
    /// Report id.
    pub report_id: String,
    /// Report epoch.
    pub report_epoch: i64,
    /// Author's clock.
    pub authored_at: Millis,
    /// Exact wire bytes.
    pub wire: Vec<u8>,
    /// What to do.
    pub effect: Effect,
    /// Nodes to forward it to.
    pub destinations: Vec<String>,
}

/// How an incoming event was handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Stored and its effect run.
    Applied,
    /// Stored without effect (not for this node, or a stale epoch, or another node's report).
    Stored,
    /// Stored as a pending contribution.
    Pending,
    /// Stored, but applying failed: quarantined.
    Quarantined,
    /// Already held.
    Duplicate,
    /// Earlier events of the origin are missing; left in the inbox.
    Gap {
        /// The origin's head here.
        head_seq: i64,
    },
    /// Another event with this origin and sequence number is held: recorded, origin frozen.
    Equivocation {
        /// The event held first.
        first_id: String,
    },
    /// The origin is frozen; nothing of it is accepted.
    Frozen,
    /// The chain is broken (`origin_prev` is not the held event before it): refused.
    BrokenChain,
}

/// An origin's log head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginHead {
    /// Origin.
    pub origin: String,
    /// Highest gapless sequence number held.
    pub head_seq: i64,
    /// Its event id.
    pub head_id: Option<String>,
    /// Frozen for equivocation.
    pub frozen: bool,
    /// Why.
    pub frozen_reason: Option<String>,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Id (hex).
    pub id: String,
    /// Origin.
    pub origin: String,
    /// Sequence number.
    pub origin_seq: i64,
    /// Type.
    pub kind: String,
    /// Report id.
    pub report_id: String,
    /// Epoch.
    pub report_epoch: i64,
    /// Exact wire bytes.
    pub wire: Vec<u8>,
    /// `applied`, `stored`, `pending` or `quarantined`.
    pub state: String,
}

/// A quarantined event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    /// Event id.
    pub event_id: String,
    /// Origin.
    pub origin: String,
    /// Sequence number.
    pub origin_seq: i64,
    /// Stable code.
    pub code: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Millis,
}

/// A recorded equivocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquivocationRow {
    /// Origin.
    pub origin: String,
    /// Sequence number.
    pub origin_seq: i64,
    /// The event held first.
    pub first_id: String,
    /// The conflicting one.
    pub second_id: String,
    /// When.
    pub detected_at: Millis,
}

/// A peer node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    /// Node id.
    pub node_id: String,
    /// Name.
    pub name: String,
    /// Base URL (`https://lapor.kupangkota.go.id`).
    pub base_url: String,
    /// `hub` or `regional`.
    pub role: String,
    /// Region codes it serves.
    pub region_codes: Vec<String>,
    /// x25519 public key (hex) for sealing.
    pub enc_public: Option<String>,
    /// Outbox position acknowledged by this peer.
    pub push_cursor: i64,
    /// Last successful push.
    pub last_success_at: Option<Millis>,
    /// Last attempt.
    pub last_attempt_at: Option<Millis>,
    /// Last error.
    pub last_error: Option<String>,
    /// Consecutive failures.
    pub failures: i64,
    /// Events this peer refused, in all.
    pub rejected_total: i64,
    /// Added at.
    pub added_at: Millis,
}

impl PeerRecord {
    /// A newly enrolled peer: nothing sent to it yet.
    pub fn new(
        node_id: &str,
        name: &str,
        base_url: &str,
        role: &str,
        region_codes: Vec<String>,
        enc_public: Option<String>,
        added_at: Millis,
    ) -> Self {
        Self {
            node_id: node_id.to_owned(),
            name: name.to_owned(),
            base_url: base_url.to_owned(),
            role: role.to_owned(),
            region_codes,
            enc_public,
            push_cursor: 0,
            last_success_at: None,
            last_attempt_at: None,
            last_error: None,
            failures: 0,
            rejected_total: 0,
            added_at,
        }
    }
}

/// The result of one push attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The peer answered; the cursor moves to `cursor`, `rejected` events were refused.
    Sent {
        /// New cursor.
        cursor: i64,
        /// Events refused in this batch.
        rejected: i64,
        /// The last refusal reason, if any.
        error: Option<String>,
    },
    /// The peer could not be reached or failed.
    Failed {
        /// Why.
        error: String,
    },
    /// The peer contacted us: reset the backoff.
    Contact,
}

/// A transfer of a report between nodes, as this node knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRow {
    /// Id of the event that opened it (the owner's `transfer.offer` or the hub's `transfer.forwarded`).
    pub offer_id: String,
    /// The report.
    pub report_id: String,
    /// Owner giving it up.
    pub from_node: String,
    /// Node taking it over.
    pub to_node: String,
    /// The epoch the transfer creates.
    pub epoch: i64,
    /// Agency of the target node suggested for it.
    pub agency_id: Option<String>,
    /// `routing`, `not_authority` or `misrouted`.
    pub reason: String,
    /// Officer's note.
    pub note: Option<String>,
    /// `offered`, `forwarded`, `accepted`, `committed`, `refused` or `expired`.
    pub state: String,
    /// Why it was refused.
    pub code: Option<String>,
    /// When the hub gives up waiting for the target.
    pub expires_at: Option<Millis>,
    /// First seen.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}

impl TransferRow {
    /// Rank of a state: a stored row only ever moves to a higher rank.
    pub fn rank(state: &str) -> u8 {
        match state {
            "offered" => 1,
            "forwarded" => 2,
            "accepted" => 3,
            "committed" | "refused" | "expired" => 4,
            _ => 0,
        }
    }

    /// Whether the transfer may still commit.
    pub fn is_open(&self) -> bool {
        Self::rank(&self.state) < 4
    }

    /// `self` merged into what is stored: the state only moves forward, known fields are kept.
    pub fn merged_into(&self, stored: &TransferRow) -> TransferRow {
        let forward = Self::rank(&self.state) > Self::rank(&stored.state);
        TransferRow {
            state: if forward { &self.state } else { &stored.state }.clone(),
            code: if forward {
                self.code.clone().or_else(|| stored.code.clone())
            } else {
                stored.code.clone()
            },
            expires_at: stored.expires_at.or(self.expires_at),
            agency_id: stored.agency_id.clone().or_else(|| self.agency_id.clone()),
            note: stored.note.clone().or_else(|| self.note.clone()),
            created_at: stored.created_at,
            updated_at: if forward {
                self.updated_at
            } else {
                stored.updated_at
            },
            ..stored.clone()
        }
    }
}

/// What an authored or applied event does to a transfer and to ownership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferChange {
    /// Merged into the stored row (see [`TransferRow::merged_into`]).
    pub row: TransferRow,
    /// Opening a transfer: [`Conflict::TransferPending`](super::Conflict::TransferPending) if another transfer
    /// of the report is open, and [`Conflict::StaleEpoch`](super::Conflict::StaleEpoch) unless the held epoch
    /// is `row.epoch - 1`.
    pub open: bool,
    /// A commit: the new owner at `row.epoch`, taken only when newer than the held ownership.
    pub commit: bool,
}

/// A signed event of a report imported whole from another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// Id (hex).
    pub id: String,
    /// Origin.
    pub origin: String,
    /// Sequence number in the origin's log.
    pub origin_seq: i64,
    /// Type.
    pub kind: String,
    /// Epoch.
    pub report_epoch: i64,
    /// Exact wire bytes.
    pub wire: Vec<u8>,
}

/// A report rebuilt from its signed history, to store on a node that does not own it (yet).
#[derive(Debug, Clone)]
pub struct ReportImport {
    /// The report as its latest owner's latest event describes it.
    pub report: Report,
    /// Every timeline entry, in order; those beyond what the node holds are appended.
    pub timeline: Vec<TimelineRecord>,
    /// Owner and epoch per the history, and its latest event.
    pub owner: OwnerRow,
    /// The events it was rebuilt from.
    pub history: Vec<HistoryEvent>,
    /// This node owns the report at the imported epoch and has authored nothing in it yet (a transfer's
    /// target between the commit and its `report.transferred`): the state and the entries it lacks are taken
    /// even though the ownership is the same.
    pub merge_owned: bool,
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditEntry {
    /// Position in the log (assigned when appended; ignored by [`AuditStore::audit_append`]).
    ///
    /// [`AuditStore::audit_append`]: crate::storage::AuditStore::audit_append
    pub id: i64,
    /// When.
    pub at: Millis,
    /// Account that acted (none for an anonymous request such as a registration or a failed login).
    pub actor_id: Option<String>,
    /// Its display name or login name at the time.
    pub actor_name: Option<String>,
    /// Its role at the time.
    pub actor_role: Option<String>,
    /// What was done, a stable dotted name (`report.verify`, `identity.read`, `user.update`, ...).
    pub action: String,
    /// Kind of what it was done to (`report`, `user`, `agency`, `category`, `token`, `audit`).
    pub target_kind: Option<String>,
    /// Id of what it was done to.
    pub target_id: Option<String>,
    /// Short detail (which fields changed, a role), never a secret or a reporter identity.
    pub detail: Option<String>,
    /// Client address the request came from.
    pub ip: Option<String>,
}

/// Which audit lines to read, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor_id: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this target.
    pub target_id: Option<String>,
    /// At or after.
    pub since: Option<Millis>,
    /// Before.
    pub until: Option<Millis>,
    /// Only lines older than this id (paging).
    pub before_id: Option<i64>,
    /// Most lines.
    pub limit: i64,
}

/// A keyword another node publishes for the SMS channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsKeywordRow {
    /// Upper case (`KOTKUPANG`).
    pub keyword: String,
    /// The node that published it.
    pub node_id: String,
    /// The agency it names; `None` for the node's admin queue.
    pub agency_id: Option<String>,
}
