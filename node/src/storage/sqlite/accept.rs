//! Accepting received events on SQLite: each classified against its origin's head and its effect run, inside
//! the transaction of [`EventStore::events_accept`](crate::storage::EventStore::events_accept).

use rusqlite::{params, Connection, OptionalExtension};

use super::catalog::replace_remote_agencies;
use super::peers::key_upsert;
use super::transfers::apply_transfer;
use super::{
    append_timeline, enqueue, head, insert_event, owner, set_head, set_owner, upsert_report,
};
use crate::domain::Millis;
use crate::storage::decide::{self, Arrival};
use crate::storage::{AcceptOutcome, Effect, Incoming, Result};

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

/// Accepts one received event (see [`crate::storage::EventStore::events_accept`]).
pub(super) fn accept_one(c: &Connection, item: &Incoming, now: Millis) -> Result<AcceptOutcome> {
    let head = head(c, &item.origin)?;
    let held: Option<String> = c
        .prepare_cached("SELECT id FROM events WHERE origin = ?1 AND origin_seq = ?2")?
        .query_row(params![item.origin, item.origin_seq], |r| r.get(0))
        .optional()?;
    match decide::classify(&head, item, held.as_deref())? {
        Arrival::Next => {}
        Arrival::Gap { head_seq } => return Ok(AcceptOutcome::Gap { head_seq }),
        refused => {
            delete_inbox(c, item.inbox_id)?;
            return match refused {
                Arrival::Equivocation { first_id } => equivocation(c, item, first_id, now),
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
    set_head(c, &item.origin, item.origin_seq, &item.id, now)?;
    enqueue(c, &item.destinations, &item.id, now)?;
    delete_inbox(c, item.inbox_id)?;
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

fn delete_inbox(c: &Connection, id: Option<i64>) -> Result<()> {
    if let Some(id) = id {
        c.prepare_cached("DELETE FROM inbox WHERE id = ?1")?
            .execute([id])?;
    }
    Ok(())
}
