//! The decisions both backends take, as pure functions of plain values.
//!
//! SQLite and PostgreSQL read what a rule needs inside their own transaction (with their own locking), call the
//! function here, and write what it decided. A rule fixed here is fixed on the city's SQLite and on the hub's
//! PostgreSQL at once; the conformance suite checks the SQL around it, the unit tests below the rules.

use lapor_federation::log::{self, Classification, InvalidLink, Link, LogHead};
use lapor_federation::{EventClass, EventId, EventKind};

use super::{AcceptOutcome, Conflict, Incoming, OwnerRow, Result, StorageError, TransferRow};
use crate::domain::TimelineRecord;

/// Report ids ending in this are a node's own records (key events), not reports.
pub const NODE_RECORD_SUFFIX: &str = ":node";

/// An origin's head as stored: the highest gapless sequence number, its event id, and whether the origin is
/// frozen. No row reads as the default (nothing held, not frozen).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldHead {
    /// `head_seq`.
    pub seq: i64,
    /// `head_id`.
    pub id: Option<String>,
    /// `frozen`.
    pub frozen: bool,
}

/// How a received event relates to what this node holds of its origin's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// The origin is frozen: nothing of it is accepted.
    Frozen,
    /// This very event is held.
    Duplicate,
    /// Another event is held at its sequence number: record both, freeze the origin.
    Equivocation {
        /// The event held first.
        first_id: String,
    },
    /// Events before it are missing: leave it in the inbox.
    Gap {
        /// The origin's head here.
        head_seq: i64,
    },
    /// It does not chain onto the head: refuse it.
    BrokenChain,
    /// The next event of the origin: store it and run its effect.
    Next,
}

/// The key that signs this node's event at `seq`, from its own rows of the key log (`keys`, any order): the
/// valid one (`valid_from_seq <= seq`, not retired before it, not revoked at it) with the latest
/// `valid_from_seq`. `None` when the log holds no key of this node at all (the signer's current key signs);
/// an error when it holds keys but none may sign at `seq` (revoked without a rotation), so nothing is signed
/// with a key every peer would refuse.
pub fn signing_key(keys: &[super::KeyRow], seq: i64) -> Result<Option<String>> {
    if keys.is_empty() {
        return Ok(None);
    }
    keys.iter()
        .filter(|k| {
            k.valid_from_seq <= seq
                && k.retired_after_seq.is_none_or(|r| seq <= r)
                && k.revoked_from_seq.is_none_or(|r| seq < r)
        })
        .max_by_key(|k| k.valid_from_seq)
        .map(|k| Some(k.key_id.clone()))
        .ok_or_else(|| {
            StorageError::Invalid(format!(
                "no signing key of this node is valid at sequence number {seq} (revoked without a \
                 rotation?): run `lapor keys rotate`"
            ))
        })
}

fn event_id(s: &str) -> Result<EventId> {
    s.parse()
        .map_err(|_| StorageError::Invalid(format!("event id `{s}` is not hex")))
}

/// Classifies a received event against its origin's head; `held` is the id of the event stored at its
/// sequence number, if any.
///
/// The chain rules are [`lapor_federation::log::classify`]'s. Two differences from it are kept on purpose, as
/// storage has always decided them:
///
/// * Evidence first: when another event is held at the sequence number it is an equivocation whatever the
///   newcomer's links say (`classify` refuses a malformed link, a first event naming a predecessor or a later
///   one naming none, before it looks at what is held, and the fork would go unrecorded).
/// * A later event naming no predecessor beyond a gap waits in the inbox like any event beyond a gap (it is
///   refused as a broken chain once the gap closes); `classify` refuses it at once.
///
/// Below the head, only what is held counts: a sequence number below the head with nothing held (a pruned
/// log) is a broken chain, never a duplicate of the head. Ids are event ids (hex): received events always
/// carry the ids their signature check computed, so anything else is refused as `Invalid`.
pub fn classify(head: &HeldHead, item: &Incoming, held: Option<&str>) -> Result<Arrival> {
    if head.frozen {
        return Ok(Arrival::Frozen);
    }
    if let Some(first) = held {
        return Ok(if first == item.id {
            Arrival::Duplicate
        } else {
            Arrival::Equivocation {
                first_id: first.to_owned(),
            }
        });
    }
    let log_head = match (&head.id, u64::try_from(head.seq)) {
        (_, Ok(0)) => None,
        (Some(id), Ok(seq)) => Some(LogHead {
            seq,
            id: event_id(id)?,
        }),
        _ => {
            return Err(StorageError::Invalid(format!(
                "the head of {} is {} without an event",
                item.origin, head.seq
            )))
        }
    };
    let link = Link {
        // A negative sequence number is as invalid as 0.
        seq: u64::try_from(item.origin_seq).unwrap_or(0),
        id: event_id(&item.id)?,
        prev: item.origin_prev.as_deref().map(event_id).transpose()?,
    };
    let beyond_gap = item.origin_seq > head.seq + 1;
    Ok(match log::classify(log_head, &link, |_| None) {
        Classification::Next => Arrival::Next,
        Classification::Gap { .. } => Arrival::Gap { head_seq: head.seq },
        Classification::Invalid(InvalidLink::MissingPrev) if beyond_gap => {
            Arrival::Gap { head_seq: head.seq }
        }
        // Another predecessor or none, one on the first event, seq 0, or below the head with nothing held
        // (a pruned log). `Duplicate` and `Equivocation` come only from the head's own sequence number with
        // nothing held there, which storage never has: the held lookup above decides those.
        Classification::Duplicate
        | Classification::Equivocation(_)
        | Classification::Invalid(_) => Arrival::BrokenChain,
    })
}

/// Whether an event may be stored at `item`'s sequence number, so that [`classify`] needs the stored one: only
/// at or below the head. Both backends store an origin's events only at the head's next sequence number, in the
/// transaction that moves the head there, so nothing is ever held above the head.
pub fn may_be_held(head: &HeldHead, item: &Incoming) -> bool {
    item.origin_seq <= head.seq
}

/// Why an origin is frozen after `item` and the held `first_id` turned out to share a sequence number.
pub fn frozen_reason(item: &Incoming, first_id: &str) -> String {
    format!(
        "two events with sequence number {}: {first_id} and {}",
        item.origin_seq, item.id
    )
}

/// What to do with one agency a `node.agencies` event of `origin` publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgencyUpsert {
    /// Nobody holds the id: store it as the origin's.
    Insert,
    /// The origin published it before: update it.
    Update,
    /// The id is this node's own agency, or another node published it first: keep it as it is.
    Skip(&'static str),
}

/// Agency ids are first come, first served across the federation: a node may publish and change only the
/// agencies it published first, never this node's own or another node's (else one `node.agencies` event could
/// move another node's agency, and routing by agency with it). `exists` says whether the id is stored here and
/// `publisher` who published it (`None`: this node's own).
pub fn agency_upsert(exists: bool, publisher: Option<&str>, origin: &str) -> AgencyUpsert {
    match (exists, publisher) {
        (false, _) => AgencyUpsert::Insert,
        (true, Some(p)) if p == origin => AgencyUpsert::Update,
        (true, Some(_)) => AgencyUpsert::Skip("another node published this agency id first"),
        (true, None) => AgencyUpsert::Skip("this node uses this agency id for its own agency"),
    }
}

/// Most inbox rows of one origin one `inbox_load` returns: an origin whose events wait for a gap cannot fill
/// the applier's batch and starve the others.
pub const INBOX_SHARE: i64 = 200;

/// Quarantine code of an event that does not chain onto its origin's held log.
pub const BROKEN_CHAIN: &str = "broken_chain";

/// Why `item` was refused as not chaining onto the held log whose head is `head_seq`. Recorded in quarantine
/// (once per event id, however often the sender retries it) so that a forked log is never silent.
pub fn broken_chain_reason(item: &Incoming, head_seq: i64) -> String {
    format!(
        "event {} of {} at sequence number {} does not chain onto the held log (head {head_seq}): its log \
         forks from what this node holds (a node restored from an older backup, or a bug)",
        item.id, item.origin, item.origin_seq
    )
}

/// The outcome of an accepted event from the state it was stored in.
pub fn accepted(state: &str) -> AcceptOutcome {
    match state {
        "applied" => AcceptOutcome::Applied,
        "pending" => AcceptOutcome::Pending,
        "quarantined" => AcceptOutcome::Quarantined,
        _ => AcceptOutcome::Stored,
    }
}

/// Whether an owner's snapshot of a report applies here: only from the owner held at the epoch held (or any
/// origin when none is held yet: the authorisation rules let only a `report.created` of the report's origin
/// through then). Never from an older epoch, and never from a newer one: epochs move only through committed
/// transfers, so a snapshot signed ahead of the commit that opens its epoch is stored, not applied.
pub fn snapshot_applies(held: Option<&OwnerRow>, origin: &str, epoch: i64) -> bool {
    held.is_none_or(|o| o.owner == origin && epoch == o.epoch)
}

/// Where this node's next own event goes in its log: the sequence number after the head and the head's id.
/// Refused when this node's own log is frozen.
pub fn next_position(origin: &str, head: &HeldHead) -> Result<(i64, Option<String>)> {
    if head.frozen {
        return Err(StorageError::Invalid(format!(
            "this node's own log ({origin}) is frozen"
        )));
    }
    Ok((head.seq + 1, head.id.clone()))
}

/// The report epoch an authored event is signed at and the report event it follows: the held ownership's
/// (epoch 0 and none when nothing is held), unless the draft names its epoch (a transfer commit opens the next).
pub fn report_position(held: Option<&OwnerRow>, epoch: Option<i64>) -> (i64, Option<String>) {
    let (held_epoch, prev) = held.map_or((0, None), |o| (o.epoch, o.last_event_id.clone()));
    (epoch.unwrap_or(held_epoch), prev)
}

/// Whether an event is about a report (and not one of a node's own records, such as its keys).
pub fn is_report(report_id: &str) -> bool {
    !report_id.ends_with(NODE_RECORD_SUFFIX)
}

/// Whether an authored event becomes the report's latest event (and claims it at epoch 0 when nobody holds it):
/// only the owner's own `report.*` events move the report's chain; a contribution to another node's report
/// neither claims it nor becomes its latest event.
pub fn moves_report_chain(report_id: &str, kind: &str) -> bool {
    is_report(report_id) && EventKind::class_of(kind) == Some(EventClass::Report)
}

/// Whether this node may sign a change of a report (a `report.*` event moving its chain) while `open_transfer`
/// says whether a transfer of it is open: never, except the event that opens a committed epoch (`epoch` given).
/// Both backends check it inside the transaction that commits the change, with the open-transfer lookup in the
/// same transaction, so a transfer opened by a concurrent request between the caller's decision and its commit
/// is seen: the owner's offer closes its epoch, and nothing it signs may follow the offer at that epoch.
pub fn change_may_commit(
    report_id: &str,
    kind: &str,
    epoch: Option<i64>,
    open_transfer: bool,
) -> Result<(), Conflict> {
    if open_transfer && epoch.is_none() && moves_report_chain(report_id, kind) {
        return Err(Conflict::TransferPending);
    }
    Ok(())
}

/// The state an authored event is stored in.
pub fn authored_state(pending: bool) -> &'static str {
    if pending {
        "pending"
    } else {
        "applied"
    }
}

/// The transfer row a change names: an event that opens a transfer names it by its own id.
pub fn transfer_row(row: &TransferRow, event_id: &str) -> TransferRow {
    let mut row = row.clone();
    if row.offer_id.is_empty() {
        event_id.clone_into(&mut row.offer_id);
    }
    row
}

/// Whether a transfer may open: no other transfer of the report is open, and it opens the epoch after the held
/// one (0 when no ownership is held).
pub fn transfer_may_open(
    other_open: bool,
    held: Option<&OwnerRow>,
    epoch: i64,
) -> Result<(), Conflict> {
    if other_open {
        return Err(Conflict::TransferPending);
    }
    if held.map_or(0, |o| o.epoch) != epoch - 1 {
        return Err(Conflict::StaleEpoch);
    }
    Ok(())
}

/// The transfer row to store: `row` merged into the stored one (see [`TransferRow::merged_into`]), or `row`.
pub fn transfer_merge(row: &TransferRow, stored: Option<&TransferRow>) -> TransferRow {
    stored.map_or_else(|| row.clone(), |s| row.merged_into(s))
}

/// Whether a committed transfer takes ownership: only when it is newer than the held ownership.
pub fn commit_takes_ownership(held: Option<&OwnerRow>, epoch: i64) -> bool {
    held.is_none_or(|o| o.epoch < epoch)
}

/// Whether an imported history is newer than what is held: a later epoch, or the same epoch with another
/// latest event. Nothing changes when the held ownership is newer or the same.
pub fn import_is_current(held: Option<&OwnerRow>, imported: &OwnerRow) -> bool {
    held.is_none_or(|h| {
        h.epoch < imported.epoch
            || (h.epoch == imported.epoch && h.last_event_id != imported.last_event_id)
    })
}

/// Whether an import is stored: it is newer ([`import_is_current`]), or it merges into the same ownership that
/// this node took by a commit and has authored nothing under yet.
pub fn import_applies(held: Option<&OwnerRow>, imported: &OwnerRow, merge_owned: bool) -> bool {
    import_is_current(held, imported)
        || (merge_owned
            && held.is_some_and(|h| h.epoch == imported.epoch && h.owner == imported.owner))
}

/// The timeline entries of an import this node does not hold yet, in the import's order. An entry is held
/// when one with the same time, action, statuses and note is, each held entry answering for one imported
/// entry. By content, not position: an import repeated after a redelivered forward or a restart mid-transfer,
/// or one whose first entries this node already stored from the origin's snapshots (the hub's own reports),
/// adds each entry exactly once, so a report has one `created` entry everywhere.
pub fn entries_missing<'a>(
    imported: &'a [TimelineRecord],
    held: &[TimelineRecord],
) -> Vec<&'a TimelineRecord> {
    let key = |e: &TimelineRecord| (e.at, e.action, e.from_status, e.to_status, e.note.clone());
    let mut unmatched: Vec<_> = held.iter().map(key).collect();
    imported
        .iter()
        .filter(|e| {
            let k = key(e);
            match unmatched.iter().position(|h| *h == k) {
                Some(i) => {
                    unmatched.swap_remove(i);
                    false
                }
                None => true,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Effect;

    fn id(n: u8) -> String {
        EventId([n; 32]).to_string()
    }

    fn key(
        id: &str,
        from: i64,
        retired: Option<i64>,
        revoked: Option<i64>,
    ) -> crate::storage::KeyRow {
        crate::storage::KeyRow {
            origin: "kupang".into(),
            key_id: id.into(),
            public_key: String::new(),
            enc_public: None,
            valid_from_seq: from,
            retired_after_seq: retired,
            revoked_from_seq: revoked,
        }
    }

    #[test]
    fn the_key_valid_at_a_sequence_number_signs() {
        assert_eq!(signing_key(&[], 7).unwrap(), None);
        // k1 signed 1..=10 (the rotation at 10), k2 from 11.
        let keys = [key("k2", 11, None, None), key("k1", 1, Some(10), None)];
        assert_eq!(signing_key(&keys, 1).unwrap().as_deref(), Some("k1"));
        assert_eq!(signing_key(&keys, 10).unwrap().as_deref(), Some("k1"));
        assert_eq!(signing_key(&keys, 11).unwrap().as_deref(), Some("k2"));
        assert_eq!(signing_key(&keys, 500).unwrap().as_deref(), Some("k2"));
        // Two valid keys (a key file replaced by hand, registered at the head): the later one.
        let both = [key("k1", 1, None, None), key("k3", 5, None, None)];
        assert_eq!(signing_key(&both, 6).unwrap().as_deref(), Some("k3"));
        // Revoked from 20 without a rotation: nothing may sign from there.
        let revoked = [key("k1", 1, Some(10), None), key("k2", 11, None, Some(20))];
        assert_eq!(signing_key(&revoked, 19).unwrap().as_deref(), Some("k2"));
        assert!(matches!(
            signing_key(&revoked, 20),
            Err(StorageError::Invalid(_))
        ));
    }

    fn item(seq: i64, n: u8, prev: Option<u8>) -> Incoming {
        Incoming {
            inbox_id: None,
            id: id(n),
            origin: "node-a".into(),
            origin_seq: seq,
            origin_prev: prev.map(id),
            kind: "report.submitted".into(),
            report_id: "r".into(),
            report_epoch: 0,
            authored_at: 0,
            wire: Vec::new(),
            effect: Effect::Store,
            destinations: Vec::new(),
        }
    }

    fn head(seq: i64, n: Option<u8>) -> HeldHead {
        HeldHead {
            seq,
            id: n.map(id),
            frozen: false,
        }
    }

    fn owner(node: &str, epoch: i64, last: Option<&str>) -> OwnerRow {
        OwnerRow {
            report_id: "r".into(),
            owner: node.into(),
            epoch,
            last_event_id: last.map(str::to_owned),
        }
    }

    #[test]
    fn the_next_event_chains_onto_the_head() {
        let none = HeldHead::default();
        assert_eq!(
            classify(&none, &item(1, 1, None), None).ok(),
            Some(Arrival::Next)
        );
        assert_eq!(
            classify(&head(1, Some(1)), &item(2, 2, Some(1)), None).ok(),
            Some(Arrival::Next)
        );
    }

    #[test]
    fn what_is_held_decides_first() {
        let h = head(3, Some(3));
        assert_eq!(
            classify(&h, &item(2, 2, Some(1)), Some(&id(2))).ok(),
            Some(Arrival::Duplicate)
        );
        // A second event at a held sequence number is a fork even when its own links are malformed.
        assert_eq!(
            classify(&h, &item(2, 9, None), Some(&id(2))).ok(),
            Some(Arrival::Equivocation { first_id: id(2) })
        );
        let frozen = HeldHead {
            frozen: true,
            ..h.clone()
        };
        assert_eq!(
            classify(&frozen, &item(4, 4, Some(3)), None).ok(),
            Some(Arrival::Frozen)
        );
    }

    #[test]
    fn gaps_wait_and_broken_chains_are_refused() {
        let h = head(1, Some(1));
        assert_eq!(
            classify(&h, &item(5, 5, Some(4)), None).ok(),
            Some(Arrival::Gap { head_seq: 1 })
        );
        // Beyond a gap even without a predecessor: it waits as before.
        assert_eq!(
            classify(&h, &item(5, 5, None), None).ok(),
            Some(Arrival::Gap { head_seq: 1 })
        );
        // Another predecessor, none at all, one on the first event, below the head with nothing held, seq 0.
        assert_eq!(
            classify(&h, &item(2, 2, Some(7)), None).ok(),
            Some(Arrival::BrokenChain)
        );
        assert_eq!(
            classify(&h, &item(2, 2, None), None).ok(),
            Some(Arrival::BrokenChain)
        );
        assert_eq!(
            classify(&HeldHead::default(), &item(1, 1, Some(7)), None).ok(),
            Some(Arrival::BrokenChain)
        );
        assert_eq!(
            classify(&head(3, Some(3)), &item(2, 2, Some(1)), None).ok(),
            Some(Arrival::BrokenChain)
        );
        assert_eq!(
            classify(&h, &item(0, 2, None), None).ok(),
            Some(Arrival::BrokenChain)
        );
    }

    #[test]
    fn ids_must_be_hex() {
        let mut bad = item(1, 1, None);
        bad.id = "not hex".into();
        assert!(matches!(
            classify(&HeldHead::default(), &bad, None),
            Err(StorageError::Invalid(_))
        ));
    }

    #[test]
    fn snapshots_come_from_the_owner_at_its_epoch() {
        let held = owner("node-a", 2, None);
        assert!(snapshot_applies(None, "node-x", 0));
        assert!(snapshot_applies(Some(&held), "node-a", 2));
        assert!(
            !snapshot_applies(Some(&held), "node-a", 3),
            "epochs move only by a commit"
        );
        assert!(!snapshot_applies(Some(&held), "node-a", 1));
        assert!(!snapshot_applies(Some(&held), "node-b", 3));
    }

    #[test]
    fn own_events_follow_the_head_unless_frozen() {
        assert_eq!(
            next_position("me", &HeldHead::default()).ok(),
            Some((1, None))
        );
        assert_eq!(
            next_position("me", &head(4, Some(4))).ok(),
            Some((5, Some(id(4))))
        );
        let frozen = HeldHead {
            frozen: true,
            ..HeldHead::default()
        };
        assert!(matches!(
            next_position("me", &frozen),
            Err(StorageError::Invalid(_))
        ));
    }

    #[test]
    fn own_events_follow_the_report_chain() {
        assert_eq!(report_position(None, None), (0, None));
        let held = owner("me", 2, Some("x"));
        assert_eq!(report_position(Some(&held), None), (2, Some("x".into())));
        assert_eq!(report_position(Some(&held), Some(3)), (3, Some("x".into())));
    }

    #[test]
    fn no_change_is_signed_while_a_transfer_is_open() {
        assert_eq!(
            change_may_commit("r1", "report.verified", None, true),
            Err(Conflict::TransferPending)
        );
        assert_eq!(
            change_may_commit("r1", "report.verified", None, false),
            Ok(())
        );
        // The offer itself, contributions, node records and a committed epoch's first event are not changes
        // of the closed epoch.
        assert_eq!(
            change_may_commit("r1", "transfer.offer", None, true),
            Ok(())
        );
        assert_eq!(
            change_may_commit("r1", "contribution.reply", None, true),
            Ok(())
        );
        assert_eq!(
            change_may_commit("a:node", "report.verified", None, true),
            Ok(())
        );
        assert_eq!(
            change_may_commit("r1", "report.transferred", Some(2), true),
            Ok(())
        );
    }

    #[test]
    fn only_report_events_move_the_chain() {
        assert!(moves_report_chain("r1", "report.verified"));
        assert!(!moves_report_chain("r1", "contribution.reply"));
        assert!(!moves_report_chain("node-a:node", "report.verified"));
        assert!(!is_report("node-a:node"));
        assert_eq!(authored_state(true), "pending");
        assert_eq!(authored_state(false), "applied");
    }

    fn transfer(offer: &str, state: &str, updated: i64) -> TransferRow {
        TransferRow {
            offer_id: offer.into(),
            report_id: "r".into(),
            from_node: "a".into(),
            to_node: "b".into(),
            epoch: 1,
            agency_id: None,
            reason: "routing".into(),
            note: None,
            state: state.into(),
            code: None,
            expires_at: None,
            created_at: 1,
            updated_at: updated,
        }
    }

    #[test]
    fn transfers_open_once_at_the_next_epoch() {
        assert_eq!(transfer_may_open(false, None, 1), Ok(()));
        assert_eq!(
            transfer_may_open(true, None, 1),
            Err(Conflict::TransferPending)
        );
        assert_eq!(
            transfer_may_open(false, Some(&owner("a", 1, None)), 1),
            Err(Conflict::StaleEpoch)
        );
        assert_eq!(
            transfer_may_open(false, Some(&owner("a", 1, None)), 2),
            Ok(())
        );
        assert_eq!(
            transfer_row(&transfer("", "offered", 1), "e1").offer_id,
            "e1"
        );
        assert_eq!(
            transfer_row(&transfer("o", "offered", 1), "e1").offer_id,
            "o"
        );
    }

    #[test]
    fn transfer_states_only_move_forward() {
        let stored = transfer("o", "accepted", 5);
        assert_eq!(
            transfer_merge(&transfer("o", "offered", 9), Some(&stored)).state,
            "accepted"
        );
        let merged = transfer_merge(&transfer("o", "committed", 9), Some(&stored));
        assert_eq!((merged.state.as_str(), merged.updated_at), ("committed", 9));
        assert_eq!(transfer_merge(&stored, None), stored);
    }

    #[test]
    fn ownership_only_moves_to_newer_epochs() {
        let held = owner("a", 1, Some("x"));
        assert!(commit_takes_ownership(None, 1));
        assert!(commit_takes_ownership(Some(&held), 2));
        assert!(!commit_takes_ownership(Some(&held), 1));
        assert!(import_is_current(None, &held));
        assert!(import_is_current(Some(&held), &owner("b", 2, Some("y"))));
        assert!(import_is_current(Some(&held), &owner("a", 1, Some("z"))));
        assert!(!import_is_current(Some(&held), &owner("a", 1, Some("x"))));
        assert!(!import_is_current(Some(&held), &owner("b", 0, Some("y"))));
    }

    #[test]
    fn imports_append_what_is_not_held() {
        let e = |seq| TimelineRecord {
            report_id: "r".into(),
            seq,
            at: 0,
            action: lapor_schemas::TimelineAction::Created,
            actor_role: "citizen".into(),
            actor_id: None,
            actor_name: None,
            agency_id: None,
            from_status: None,
            to_status: None,
            note: None,
        };
        let at = |seq: i64, at: i64| TimelineRecord { at, ..e(seq) };
        let all = [at(1, 10), at(2, 20), at(3, 30)];
        assert_eq!(entries_missing(&all, &all[..1]).len(), 2);
        assert_eq!(entries_missing(&all, &[]).len(), 3);
        assert!(entries_missing(&all, &all).is_empty());
        // Held by content whatever the position or sequence number: the same import twice adds nothing, and
        // an entry the node holds under another seq (from a snapshot) is not added again.
        let held = [at(7, 20), at(8, 10)];
        let missing = entries_missing(&all, &held);
        assert_eq!(missing.iter().map(|e| e.at).collect::<Vec<_>>(), [30]);
        // Two equal entries in the import need two held ones.
        let twice = [at(1, 10), at(2, 10)];
        assert_eq!(entries_missing(&twice, &all[..1]).len(), 1);
    }

    #[test]
    fn agency_ids_are_first_come_first_served() {
        assert_eq!(agency_upsert(false, None, "b"), AgencyUpsert::Insert);
        assert_eq!(agency_upsert(true, Some("b"), "b"), AgencyUpsert::Update);
        assert!(matches!(
            agency_upsert(true, Some("b"), "c"),
            AgencyUpsert::Skip(_)
        ));
        assert!(matches!(
            agency_upsert(true, None, "c"),
            AgencyUpsert::Skip(_)
        ));
    }
}
