//! Accepting received events on SQLite: each classified against its origin's head and its effect run, inside
//! the transaction of [`EventStore::events_accept`](crate::storage::EventStore::events_accept).

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::catalog::replace_remote_agencies;
use super::peers::key_upsert;
use super::transfers::apply_transfer;
use super::{
    append_timeline, enqueue, head, insert_event, owner, set_head, set_owner, upsert_report,
};
use crate::domain::Millis;
use crate::storage::decide::{self, Arrival, HeldHead};
use crate::storage::{AcceptOutcome, Effect, Incoming, Result, StorageError};

/// Records that `item` and the held `first_id` share a sequence number, and freezes their origin.
fn equivocation(
    c: &Connection,
    item: &Incoming,
    first_id: String,
    now: Millis,
) -> Result<AcceptOutcome> {
    c.execute(
        "INSERT OR IGNORE INTO equivocations (origin, origin_seq, first_id, second_id, second_wire, detected_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![item.origin, item.origin_seq, first_id, item.id, item.wire, now],
    )?;
    c.execute(
        "INSERT INTO origins (origin, head_seq, head_id, frozen, frozen_reason, updated_at) \
         VALUES (?1, 0, NULL, 1, ?2, ?3) \
         ON CONFLICT (origin) DO UPDATE SET frozen = 1, frozen_reason = excluded.frozen_reason, \
         updated_at = excluded.updated_at",
        params![item.origin, decide::frozen_reason(item, &first_id), now],
    )?;
    Ok(AcceptOutcome::Equivocation { first_id })
}

/// Accepts received events in order, in the caller's transaction (see
/// [`crate::storage::EventStore::events_accept`]). Each origin's head is read once and followed in memory as
/// the batch moves it, and written once at the end; the handled inbox rows are deleted in one statement at the
/// end.
pub(super) fn accept_batch(
    c: &Connection,
    items: &[Incoming],
    now: Millis,
) -> Result<Vec<AcceptOutcome>> {
    // (head as read, head as the batch moved it) per origin.
    let mut heads: HashMap<&str, (i64, HeldHead)> = HashMap::new();
    let mut done_inbox: Vec<i64> = Vec::new();
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        let (_, held_head) = match heads.entry(item.origin.as_str()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let h = head(c, &item.origin)?;
                e.insert((h.seq, h))
            }
        };
        let outcome = accept_one(c, item, held_head, now)?;
        if !matches!(outcome, AcceptOutcome::Gap { .. }) {
            done_inbox.extend(item.inbox_id);
        }
        outcomes.push(outcome);
    }
    for (origin, (read, moved)) in &heads {
        if let (true, Some(id)) = (moved.seq != *read, &moved.id) {
            set_head(c, origin, moved.seq, id, now)?;
        }
    }
    delete_inbox(c, &done_inbox)?;
    Ok(outcomes)
}

/// Accepts one received event against its origin's head, which it moves (or freezes) as it decides.
fn accept_one(
    c: &Connection,
    item: &Incoming,
    head: &mut HeldHead,
    now: Millis,
) -> Result<AcceptOutcome> {
    let held: Option<String> = if decide::may_be_held(head, item) {
        c.prepare_cached("SELECT id FROM events WHERE origin = ?1 AND origin_seq = ?2")?
            .query_row(params![item.origin, item.origin_seq], |r| r.get(0))
            .optional()?
    } else {
        None
    };
    match decide::classify(head, item, held.as_deref())? {
        Arrival::Next => {}
        Arrival::Gap { head_seq } => return Ok(AcceptOutcome::Gap { head_seq }),
        refused => {
            return match refused {
                Arrival::Equivocation { first_id } => {
                    head.frozen = true;
                    equivocation(c, item, first_id, now)
                }
                Arrival::Duplicate => Ok(AcceptOutcome::Duplicate),
                Arrival::Frozen => Ok(AcceptOutcome::Frozen),
                _ => {
                    let reason = decide::broken_chain_reason(item, head.seq);
                    quarantine(c, item, decide::BROKEN_CHAIN, &reason, now)?;
                    Ok(AcceptOutcome::BrokenChain)
                }
            };
        }
    }
    c.execute_batch("SAVEPOINT effect")?;
    let state = match run_effect(c, item) {
        Ok(state) => {
            c.execute_batch("RELEASE effect")?;
            state
        }
        Err(e) => {
            c.execute_batch("ROLLBACK TO effect; RELEASE effect")?;
            quarantine(c, item, "apply_failed", &e.to_string(), now)?;
            "quarantined"
        }
    };
    if let Effect::Quarantine { code, reason } = &item.effect {
        quarantine(c, item, code, reason, now)?;
    }
    insert_event(
        c,
        &item.id,
        &item.origin,
        item.origin_seq,
        &item.kind,
        &item.report_id,
        item.report_epoch,
        item.authored_at,
        &item.wire,
        now,
        state,
    )?;
    // The head row is written once per origin at the end of the batch.
    head.seq = item.origin_seq;
    head.id = Some(item.id.clone());
    enqueue(c, &item.destinations, &item.id, now)?;
    Ok(decide::accepted(state))
}

fn run_effect(c: &Connection, item: &Incoming) -> Result<&'static str> {
    match &item.effect {
        Effect::Store => Ok("stored"),
        Effect::Pending => Ok("pending"),
        Effect::Quarantine { .. } => Ok("quarantined"),
        Effect::Keys(keys) => {
            for k in keys {
                key_upsert(c, k)?;
            }
            Ok("applied")
        }
        Effect::Transfer { change, pending } => {
            apply_transfer(c, change, &item.id)?;
            Ok(if *pending { "pending" } else { "applied" })
        }
        Effect::Agencies {
            origin,
            agencies,
            sms_keywords,
        } => {
            replace_remote_agencies(c, origin, agencies)?;
            super::sms::replace_remote_keywords(c, origin, sms_keywords)?;
            Ok("applied")
        }
        Effect::Snapshot { report, entry } => {
            let held = owner(c, &item.report_id)?;
            if !decide::snapshot_applies(held.as_ref(), &item.origin, item.report_epoch) {
                return Ok("stored");
            }
            upsert_report(c, report)?;
            append_timeline(c, entry)?;
            set_owner(
                c,
                &item.report_id,
                &item.origin,
                item.report_epoch,
                Some(&item.id),
            )?;
            Ok("applied")
        }
    }
}

pub(super) fn quarantine(
    c: &Connection,
    item: &Incoming,
    code: &str,
    reason: &str,
    now: Millis,
) -> Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO quarantine (event_id, origin, origin_seq, code, reason, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![item.id, item.origin, item.origin_seq, code, reason, now],
    )?;
    Ok(())
}

/// Deletes handled inbox rows, in one statement.
fn delete_inbox(c: &Connection, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(ids).map_err(|e| StorageError::Backend(e.to_string()))?;
    c.prepare_cached("DELETE FROM inbox WHERE id IN (SELECT value FROM json_each(?1))")?
        .execute([list])?;
    Ok(())
}
