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
use crate::storage::{AcceptOutcome, Effect, Incoming, Result};

/// Accepts one received event (see [`crate::storage::EventStore::events_accept`]).
pub(super) fn accept_one(c: &Connection, item: &Incoming, now: Millis) -> Result<AcceptOutcome> {
    let head = head(c, &item.origin)?;
    if let Some((_, _, true)) = head {
        delete_inbox(c, item.inbox_id)?;
        return Ok(AcceptOutcome::Frozen);
    }
    let stored_id: Option<String> = c
        .prepare_cached("SELECT id FROM events WHERE origin = ?1 AND origin_seq = ?2")?
        .query_row(params![item.origin, item.origin_seq], |r| r.get(0))
        .optional()?;
    if let Some(first_id) = stored_id {
        delete_inbox(c, item.inbox_id)?;
        if first_id == item.id {
            return Ok(AcceptOutcome::Duplicate);
        }
        c.execute(
            "INSERT OR IGNORE INTO equivocations (origin, origin_seq, first_id, second_id, second_wire, detected_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![item.origin, item.origin_seq, first_id, item.id, item.wire, now],
        )?;
        let reason = format!(
            "two events with sequence number {}: {first_id} and {}",
            item.origin_seq, item.id
        );
        c.execute(
            "INSERT INTO origins (origin, head_seq, head_id, frozen, frozen_reason, updated_at) \
             VALUES (?1, 0, NULL, 1, ?2, ?3) \
             ON CONFLICT (origin) DO UPDATE SET frozen = 1, frozen_reason = excluded.frozen_reason, \
             updated_at = excluded.updated_at",
            params![item.origin, reason, now],
        )?;
        return Ok(AcceptOutcome::Equivocation { first_id });
    }
    let (head_seq, head_event) = head.map_or((0, None), |(s, id, _)| (s, id));
    if item.origin_seq > head_seq + 1 {
        return Ok(AcceptOutcome::Gap { head_seq });
    }
    if item.origin_seq <= head_seq || item.origin_prev != head_event {
        // Below the head yet not held (a pruned log) or a different predecessor: not part of this chain.
        delete_inbox(c, item.inbox_id)?;
        return Ok(AcceptOutcome::BrokenChain);
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
    Ok(match state {
        "applied" => AcceptOutcome::Applied,
        "pending" => AcceptOutcome::Pending,
        "quarantined" => AcceptOutcome::Quarantined,
        _ => AcceptOutcome::Stored,
    })
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
        Effect::Agencies { origin, agencies } => {
            replace_remote_agencies(c, origin, agencies)?;
            Ok("applied")
        }
        Effect::Snapshot { report, entry } => {
            if let Some(o) = owner(c, &item.report_id)? {
                if o.owner != item.origin || item.report_epoch < o.epoch {
                    return Ok("stored");
                }
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
