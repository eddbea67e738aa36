//! The applier: turns inbox rows into accepted, applied events, per origin in sequence order.
//!
//! Events in the inbox were verified when they arrived; here they are only parsed. Storage classifies each
//! against its origin's head inside the transaction that applies it (duplicate, gap, equivocation, next), so
//! a crash at any point leaves either nothing or everything of an event applied. A gap makes the applier ask
//! the peer that sent the event for the missing part of the origin's log.

use std::collections::{BTreeMap, HashMap};

use lapor_federation::canonical::{decode_canonical, from_value};
use lapor_federation::keys::KeyLog;
use lapor_federation::{Event, EventClass, EventKind, SignedEvent, TransferKind, Value};
use lapor_schemas::TimelineAction;

use super::authorise::{self, Held, Refusal};
use super::payload::{self, ContributionPayload, ReportPayload};
use super::transfer::TransferPayload;
use super::verify::verify_pulled;
use super::{key_row, Counters};
use crate::node::Node;
use crate::storage::{AcceptOutcome, Effect, Incoming, OwnerRow, StorageError};

/// Most inbox rows applied in one transaction.
pub const APPLY_BATCH: i64 = 2000;

/// Parses stored wire bytes (verified on arrival) into the event.
pub fn parse_event(wire: &[u8]) -> anyhow::Result<Event> {
    let Value::Object(mut map) = decode_canonical(wire)? else {
        anyhow::bail!("stored event is not an object");
    };
    map.remove("sig");
    Ok(from_value(Value::Object(map))?)
}

fn quarantine(code: &str, reason: impl Into<String>) -> Effect {
    Effect::Quarantine {
        code: code.to_owned(),
        reason: reason.into(),
    }
}

/// The first field of a received report payload longer than any node may author (the intake and lifecycle
/// limits), as a reason; a system prefix such as `5: ` before a rating comment is allowed on entry notes.
fn oversized(p: &ReportPayload) -> Option<String> {
    use crate::domain::{intake, lifecycle};
    let over = |field: &str, text: Option<&str>, max: usize| {
        let n = text.map_or(0, |t| t.chars().count());
        (n > max).then(|| format!("{field} has {n} characters, at most {max} are allowed"))
    };
    over("state.title", Some(&p.state.title), intake::MAX_TITLE_CHARS)
        .or_else(|| over("state.body", Some(&p.state.body), intake::MAX_BODY_CHARS))
        .or_else(|| {
            over(
                "state.address",
                p.state.address.as_deref(),
                intake::MAX_ADDRESS_CHARS,
            )
        })
        .or_else(|| {
            over(
                "state.rating_comment",
                p.state.rating_comment.as_deref(),
                lifecycle::MAX_NOTE_CHARS,
            )
        })
        .or_else(|| {
            over(
                "entry.note",
                p.entry.note.as_deref(),
                lifecycle::MAX_NOTE_CHARS + 16,
            )
        })
}

/// What one apply batch has learnt so far, in log order: the batch is committed in one transaction, so an
/// event authorised after another of the same batch must see that one's ownership change.
#[derive(Default)]
struct BatchState {
    /// Agency paths by id.
    paths: HashMap<String, Option<String>>,
    /// Report ownership as it will be once the earlier events of the batch are committed.
    owners: HashMap<String, Option<OwnerRow>>,
}

impl BatchState {
    /// Reads the ownership of every report `events` concern in one read, before any of them is authorised.
    async fn prefetch_owners<'e>(
        &mut self,
        node: &Node,
        events: impl Iterator<Item = &'e Event>,
    ) -> anyhow::Result<()> {
        let mut ids: Vec<String> = events
            .map(|e| e.report_id.clone())
            .filter(|id| !self.owners.contains_key(id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        let held = node.store.report_owners(&ids).await?;
        for id in ids {
            self.owners.insert(id, None);
        }
        for row in held {
            self.owners.insert(row.report_id.clone(), Some(row));
        }
        Ok(())
    }

    /// Records the ownership an authorised effect will set.
    fn learn(&mut self, event: &Event, effect: &Effect) {
        let (owner, epoch) = match effect {
            Effect::Snapshot { .. } if event.kind == EventKind::REPORT_CREATED => {
                (event.origin.clone(), 0)
            }
            Effect::Transfer { change, .. } if change.commit => {
                (change.row.to_node.clone(), change.row.epoch)
            }
            _ => return,
        };
        let held = self.owners.get(&event.report_id).cloned().flatten();
        if held.as_ref().is_none_or(|h| h.epoch < epoch) {
            self.owners.insert(
                event.report_id.clone(),
                Some(OwnerRow {
                    report_id: event.report_id.clone(),
                    owner,
                    epoch,
                    last_event_id: None,
                }),
            );
        }
    }

    /// The facts [`super::authorise`] decides on: the event and the ownership this node (and the batch) holds.
    async fn held<'a>(&'a mut self, node: &Node, event: &'a Event) -> Held<'a> {
        if !self.owners.contains_key(&event.report_id) {
            let held = node
                .store
                .report_owner(&event.report_id)
                .await
                .ok()
                .flatten();
            self.owners.insert(event.report_id.clone(), held);
        }
        Held {
            origin: &event.origin,
            origin_is_hub: node.fed.is_hub_node(&event.origin),
            report_id: &event.report_id,
            epoch: event.report_epoch as i64,
            owner: self.owners.get(&event.report_id).and_then(Option::as_ref),
            here_is_hub: node.is_hub(),
        }
    }
}

fn refused(r: Refusal) -> Effect {
    quarantine(r.code, r.reason)
}

/// What accepting `event` should do on this node: authorised ([`super::authorise`]) against what this node
/// and the batch hold, then decoded.
async fn effect_for(
    node: &Node,
    event: &Event,
    id: &str,
    keys: &mut KeyLog,
    batch: &mut BatchState,
) -> Effect {
    let effect = effect_of(node, event, id, keys, batch).await;
    batch.learn(event, &effect);
    effect
}

async fn effect_of(
    node: &Node,
    event: &Event,
    id: &str,
    keys: &mut KeyLog,
    batch: &mut BatchState,
) -> Effect {
    let Some(kind) = EventKind::parse(&event.kind) else {
        return quarantine("unknown_type", format!("unknown event type {}", event.kind));
    };
    match kind {
        EventKind::Transfer(kind) => {
            let p = match payload::decode::<TransferPayload>(&event.payload) {
                Ok(p) => p,
                Err(e) => return quarantine("bad_payload", e.0),
            };
            // Only an accept is checked against the offer it names.
            let offer = match (&p.offer, kind) {
                (Some(o), TransferKind::Accept) => node.store.transfer_get(o).await.ok().flatten(),
                _ => None,
            };
            let held = batch.held(node, event).await;
            if let Err(r) = authorise::transfer_event(&held, kind, &p, offer.as_ref()) {
                return refused(r);
            }
            super::transfer::effect_for(node, event, id, kind, &p)
        }
        EventKind::NodeAgencies => super::agencies::effect_for(event),
        EventKind::Report(action) => {
            let held = batch.held(node, event).await;
            if let Err(r) = authorise::report_event(&held, action) {
                return refused(r);
            }
            report_effect(node, event, action, &mut batch.paths).await
        }
        EventKind::Contribution(_) => {
            let c = match payload::decode::<ContributionPayload>(&event.payload) {
                Ok(c) => c,
                Err(e) => return quarantine("bad_payload", e.0),
            };
            if c.owner != node.id() {
                // Regional nodes reach only the hub: the hub relays a regional node's contribution to the
                // node it is addressed to (PROTOCOL section 8.4); everyone else just keeps it.
                let relay =
                    node.is_hub() && c.via.is_none() && !node.fed.is_hub_node(&event.origin);
                return if relay {
                    Effect::Pending
                } else {
                    Effect::Store
                };
            }
            let report = node.store.report_get(&event.report_id).await.ok().flatten();
            let Some(report) = report else {
                return refused(Refusal {
                    code: "unknown_report",
                    reason: format!(
                        "{} from {} for report {} that this node does not hold",
                        event.kind, event.origin, event.report_id
                    ),
                });
            };
            match super::proof::check(node, event, &c, &report.secret_hash) {
                Ok(()) => Effect::Pending,
                Err(r) => refused(r),
            }
        }
        EventKind::KeyRotated | EventKind::KeyRevoked => match keys.apply_key_event(event) {
            Ok(true) => Effect::Keys(
                keys.entries_of(&event.origin)
                    .into_iter()
                    .map(key_row)
                    .collect(),
            ),
            Ok(false) => quarantine("unknown_type", format!("unknown key event type {kind}")),
            Err(e) => quarantine(e.code(), e.to_string()),
        },
    }
}

/// The effect of a `report.*` event: a snapshot of the owner's state and the entry of the change.
async fn report_effect(
    node: &Node,
    event: &Event,
    action: TimelineAction,
    paths: &mut HashMap<String, Option<String>>,
) -> Effect {
    let mut p: ReportPayload = match payload::decode(&event.payload) {
        Ok(p) => p,
        Err(e) => return quarantine("bad_payload", e.0),
    };
    super::agencies::localize_report(node.id(), &event.origin, &mut p);
    if p.entry.action != action.as_str() {
        return quarantine("bad_payload", "entry.action does not match the event type");
    }
    if let Some(too_long) = oversized(&p) {
        return quarantine("payload_too_large", too_long);
    }
    let path = match (
        &p.state.agency_id,
        paths.get(p.state.agency_id.as_deref().unwrap_or("")),
    ) {
        (None, _) => None,
        (Some(_), Some(cached)) => cached.clone(),
        (Some(id), None) => {
            let found = node
                .store
                .agency_get(id)
                .await
                .ok()
                .flatten()
                .map(|a| a.path);
            paths.insert(id.clone(), found.clone());
            found
        }
    };
    let report = match payload::report_from_state(&event.report_id, &p.state, path) {
        Ok(r) => r,
        Err(e) => return quarantine("bad_payload", e.0),
    };
    let entry = match payload::entry_from_payload(&event.report_id, &p.entry) {
        Ok(e) => e,
        Err(e) => return quarantine("bad_payload", e.0),
    };
    Effect::Snapshot {
        report: Box::new(report),
        entry,
    }
}

fn incoming(
    inbox_id: Option<i64>,
    id: String,
    event: &Event,
    wire: Vec<u8>,
    effect: Effect,
) -> Incoming {
    Incoming {
        inbox_id,
        id,
        origin: event.origin.clone(),
        origin_seq: event.origin_seq as i64,
        origin_prev: event.origin_prev.map(|p| p.to_string()),
        kind: event.kind.clone(),
        report_id: event.report_id.clone(),
        report_epoch: event.report_epoch as i64,
        authored_at: event.authored_at_ms,
        wire,
        effect,
        destinations: Vec::new(),
    }
}

/// Accepts events that were verified already and never went through the inbox (this node's own events
/// recovered from the hub after a restore), authorised and applied like any received event, in one batch.
pub async fn accept_verified(
    node: &Node,
    events: &[(SignedEvent, Vec<u8>)],
) -> anyhow::Result<Vec<AcceptOutcome>> {
    let mut keys = node.fed.keylog_snapshot()?;
    let mut batch = BatchState::default();
    let mut items = Vec::with_capacity(events.len());
    for (signed, wire) in events {
        let event = signed.event();
        let id = signed.id().to_string();
        let effect = effect_for(node, event, &id, &mut keys, &mut batch).await;
        items.push(incoming(None, id, event, wire.clone(), effect));
    }
    Ok(node.store.events_accept(&items, node.now()).await?)
}

/// Applies what the inbox holds, one batch. Returns how many events were handled (not counting gaps).
pub async fn apply_once(node: &Node) -> anyhow::Result<usize> {
    let rows = node.store.inbox_load(APPLY_BATCH).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut keys = node.fed.keylog_snapshot()?;
    let mut batch = BatchState::default();
    let mut items = Vec::with_capacity(rows.len());
    let mut senders = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    let mut parsed = Vec::with_capacity(rows.len());
    for row in rows {
        match parse_event(&row.wire) {
            Ok(e) => parsed.push((row, e)),
            Err(e) => {
                tracing::error!(event.id = %row.event_id, error = %e, "inbox row unreadable; dropped");
                unreadable.push(row.id);
            }
        }
    }
    batch
        .prefetch_owners(node, parsed.iter().map(|(_, e)| e))
        .await?;
    for (row, event) in parsed {
        let effect = effect_for(node, &event, &row.event_id, &mut keys, &mut batch).await;
        senders.push(row.sender.clone());
        items.push(incoming(
            Some(row.id),
            row.event_id,
            &event,
            row.wire,
            effect,
        ));
    }
    if !unreadable.is_empty() {
        node.store.inbox_delete(&unreadable).await?;
    }
    let outcomes = node.store.events_accept(&items, node.now()).await?;
    let f = &node.fed;
    let mut handled = unreadable.len();
    let mut keys_changed = false;
    let mut pending = false;
    let mut transfers = false;
    let mut gaps: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for ((item, outcome), sender) in items.iter().zip(&outcomes).zip(senders) {
        match outcome {
            AcceptOutcome::Gap { head_seq } => {
                gaps.entry(item.origin.clone())
                    .or_insert((*head_seq, sender));
                continue;
            }
            AcceptOutcome::Applied => {
                f.clear_alarm(&item.origin);
                Counters::add(&f.counters.applied, 1);
                keys_changed |= matches!(item.effect, Effect::Keys(_));
            }
            AcceptOutcome::Pending
                if EventKind::class_of(&item.kind) == Some(EventClass::Transfer) =>
            {
                transfers = true;
            }
            AcceptOutcome::Pending => pending = true,
            AcceptOutcome::Quarantined => {
                Counters::add(&f.counters.quarantined, 1);
                tracing::warn!(event.id = %item.id, origin = %item.origin, seq = item.origin_seq,
                    effect = ?item.effect, "event quarantined");
            }
            AcceptOutcome::Equivocation { first_id } => {
                Counters::add(&f.counters.equivocations, 1);
                tracing::error!(origin = %item.origin, seq = item.origin_seq, first = %first_id,
                    second = %item.id, "EQUIVOCATION: two events with one sequence number; origin frozen");
            }
            AcceptOutcome::BrokenChain => {
                // Recorded in quarantine (code broken_chain, once per event id); said at error level once per
                // origin until its log chains again, not at the rate the sender retries.
                if f.alarm(&item.origin) {
                    tracing::error!(event.id = %item.id, origin = %item.origin, seq = item.origin_seq,
                        "FORK: an event does not chain onto the held log of its origin (restored from an older \
                         backup?); refused, see `lapor federation status`");
                } else {
                    tracing::debug!(event.id = %item.id, origin = %item.origin, seq = item.origin_seq,
                        "event does not chain onto the held log; refused");
                }
            }
            AcceptOutcome::Stored | AcceptOutcome::Duplicate | AcceptOutcome::Frozen => {}
        }
        handled += 1;
    }
    if keys_changed {
        f.reload(&node.store).await?;
    }
    if pending {
        f.contribution_wake.notify_one();
    }
    if transfers {
        f.transfer_wake.notify_one();
    }
    for (origin, (head, sender)) in gaps {
        if let Err(e) = fill_gap(node, &sender, &origin, head).await {
            tracing::info!(%origin, %sender, error = %e, "could not fetch missing events yet");
        }
    }
    Ok(handled)
}

/// Asks `peer` for `origin`'s log after `head` and puts what it sends, verified, in the inbox.
pub async fn fill_gap(node: &Node, peer: &str, origin: &str, head: i64) -> anyhow::Result<usize> {
    let base = node
        .fed
        .peer(peer)
        .map(|p| p.base_url)
        .ok_or_else(|| anyhow::anyhow!("unknown peer {peer}"))?;
    let after = u64::try_from(head).unwrap_or(0);
    let page = super::client::log_after(node, &base, origin, after, 1000).await?;
    store_pulled(node, peer, &format!("pull:{origin}:{head}"), &page.events).await
}

/// Verifies pulled events and stores the good ones in the inbox under a synthetic transaction id.
pub async fn store_pulled(
    node: &Node,
    peer: &str,
    txn: &str,
    events: &[Vec<u8>],
) -> anyhow::Result<usize> {
    let good = verify_pulled(&node.fed.keylog_snapshot()?, node.id(), events).await;
    if good.is_empty() {
        return Ok(0);
    }
    let txn = format!("{txn}:{}", ulid::Ulid::new());
    match node
        .store
        .inbox_insert(peer, &txn, "{}", &good, node.now())
        .await
    {
        Ok(()) | Err(StorageError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    node.fed.apply_wake.notify_one();
    Ok(good.len())
}

/// The applier loop: runs until the process ends.
pub async fn run_applier(node: Node) {
    let poll = std::time::Duration::from_millis(node.fed.config.poll_ms);
    loop {
        if !node.lease("applier").await {
            tokio::time::sleep(poll).await;
            continue;
        }
        match apply_once(&node).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "applying received events failed"),
        }
        let _ = tokio::time::timeout(poll, node.fed.apply_wake.notified()).await;
    }
}
