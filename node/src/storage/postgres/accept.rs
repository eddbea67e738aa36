//! Accepting received events on PostgreSQL: each classified against its origin's head and its effect run, inside
//! the transaction of [`EventStore::events_accept`](crate::storage::EventStore::events_accept).

use std::collections::HashMap;

use sqlx::PgConnection;

use super::catalog::replace_remote_agencies;
use super::peers::key_upsert;
use super::rows::{fetch_optional, head_from_row};
use super::transfers::apply_transfer;
use super::{
    append_timeline, enqueue, insert_event, lock_origin, owner_for_update, set_head, set_owner,
    upsert_report, NewEvent,
};
use crate::domain::Millis;
use crate::storage::decide::{self, Arrival, HeldHead};
use crate::storage::{AcceptOutcome, Effect, Incoming, Result};

/// Accepts received events in one transaction (see `EventStore::events_accept`). The rows of every origin
/// concerned are locked first, in one order (so that two batches cannot deadlock on each other), and stay
/// locked until the commit.
pub(super) async fn events_accept(
    c: &mut PgConnection,
    items: &[Incoming],
    now: Millis,
) -> Result<Vec<AcceptOutcome>> {
    let mut origins: Vec<&str> = items.iter().map(|i| i.origin.as_str()).collect();
    origins.sort_unstable();
    origins.dedup();
    for origin in &origins {
        lock_origin(c, origin, now).await?;
    }
    // Each origin's head is read once (its row is locked) and followed in memory as the batch moves it.
    // (head as read, head as the batch moved it) per origin; written once at the end.
    let mut heads: HashMap<String, (i64, HeldHead)> = HashMap::new();
    let mut done_inbox: Vec<i64> = Vec::new();
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        if !heads.contains_key(&item.origin) {
            let head: HeldHead = fetch_optional(
                sqlx::query("SELECT head_seq, head_id, frozen FROM origins WHERE origin = $1")
                    .bind(&item.origin),
                &mut *c,
                head_from_row,
            )
            .await?
            .unwrap_or_default();
            heads.insert(item.origin.clone(), (head.seq, head));
        }
        let Some((_, head)) = heads.get_mut(&item.origin) else {
            continue;
        };
        let outcome = accept_one(c, item, head, now).await?;
        if !matches!(outcome, AcceptOutcome::Gap { .. }) {
            done_inbox.extend(item.inbox_id);
        }
        outcomes.push(outcome);
    }
    for (origin, (read, moved)) in &heads {
        if let (true, Some(id)) = (moved.seq != *read, &moved.id) {
            set_head(c, origin, moved.seq, id, now).await?;
        }
    }
    if !done_inbox.is_empty() {
        sqlx::query("DELETE FROM inbox WHERE id = ANY($1)")
            .bind(&done_inbox)
            .execute(&mut *c)
            .await?;
    }
    drop_placeholders(c, &origins).await?;
    Ok(outcomes)
}

/// Records that `item` and the held `first_id` share a sequence number, and freezes their origin.
async fn equivocation(
    c: &mut PgConnection,
    item: &Incoming,
    first_id: String,
    now: Millis,
) -> Result<AcceptOutcome> {
    sqlx::query(
        "INSERT INTO equivocations (origin, origin_seq, first_id, second_id, second_wire, detected_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&item.origin)
    .bind(item.origin_seq)
    .bind(&first_id)
    .bind(&item.id)
    .bind(&item.wire)
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "INSERT INTO origins (origin, head_seq, head_id, frozen, frozen_reason, updated_at) \
         VALUES ($1, 0, NULL, 1, $2, $3) \
         ON CONFLICT (origin) DO UPDATE SET frozen = 1, frozen_reason = EXCLUDED.frozen_reason, \
         updated_at = EXCLUDED.updated_at",
    )
    .bind(&item.origin)
    .bind(decide::frozen_reason(item, &first_id))
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(AcceptOutcome::Equivocation { first_id })
}

/// Accepts one received event against its origin's head (its row locked by the caller), which it moves (or
/// freezes) as it decides.
async fn accept_one(
    c: &mut PgConnection,
    item: &Incoming,
    head: &mut HeldHead,
    now: Millis,
) -> Result<AcceptOutcome> {
    let held: Option<String> = if decide::may_be_held(head, item) {
        sqlx::query_scalar("SELECT id FROM events WHERE origin = $1 AND origin_seq = $2")
            .bind(&item.origin)
            .bind(item.origin_seq)
            .fetch_optional(&mut *c)
            .await?
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
                    equivocation(c, item, first_id, now).await
                }
                Arrival::Duplicate => Ok(AcceptOutcome::Duplicate),
                Arrival::Frozen => Ok(AcceptOutcome::Frozen),
                _ => {
                    let reason = decide::broken_chain_reason(item, head.seq);
                    quarantine(c, item, decide::BROKEN_CHAIN, &reason, now).await?;
                    Ok(AcceptOutcome::BrokenChain)
                }
            };
        }
    }
    sqlx::query("SAVEPOINT effect").execute(&mut *c).await?;
    let state = match run_effect(c, item).await {
        Ok(state) => {
            sqlx::query("RELEASE SAVEPOINT effect")
                .execute(&mut *c)
                .await?;
            state
        }
        Err(e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT effect")
                .execute(&mut *c)
                .await?;
            sqlx::query("RELEASE SAVEPOINT effect")
                .execute(&mut *c)
                .await?;
            quarantine(c, item, "apply_failed", &e.to_string(), now).await?;
            "quarantined"
        }
    };
    if let Effect::Quarantine { code, reason } = &item.effect {
        quarantine(c, item, code, reason, now).await?;
    }
    insert_event(
        c,
        &NewEvent {
            id: &item.id,
            origin: &item.origin,
            seq: item.origin_seq,
            kind: &item.kind,
            report_id: &item.report_id,
            epoch: item.report_epoch,
            authored_at: item.authored_at,
            wire: &item.wire,
            now,
            state,
        },
    )
    .await?;
    // The head row is written once per origin at the end of the batch.
    head.seq = item.origin_seq;
    head.id = Some(item.id.clone());
    enqueue(c, &item.destinations, &item.id, now).await?;
    Ok(decide::accepted(state))
}

async fn run_effect(c: &mut PgConnection, item: &Incoming) -> Result<&'static str> {
    match &item.effect {
        Effect::Store => Ok("stored"),
        Effect::Pending => Ok("pending"),
        Effect::Quarantine { .. } => Ok("quarantined"),
        Effect::Keys(keys) => {
            for k in keys {
                key_upsert(c, k).await?;
            }
            Ok("applied")
        }
        Effect::Transfer { change, pending } => {
            apply_transfer(c, change, &item.id).await?;
            Ok(if *pending { "pending" } else { "applied" })
        }
        Effect::Agencies {
            origin,
            agencies,
            sms_keywords,
        } => {
            replace_remote_agencies(c, origin, agencies).await?;
            super::sms::replace_remote_keywords(c, origin, sms_keywords).await?;
            Ok("applied")
        }
        Effect::Snapshot { report, entry } => {
            let held = owner_for_update(c, &item.report_id).await?;
            if !decide::snapshot_applies(held.as_ref(), &item.origin, item.report_epoch) {
                return Ok("stored");
            }
            upsert_report(c, report).await?;
            append_timeline(c, entry).await?;
            set_owner(
                c,
                &item.report_id,
                &item.origin,
                item.report_epoch,
                Some(&item.id),
            )
            .await?;
            Ok("applied")
        }
    }
}

pub(super) async fn quarantine(
    c: &mut PgConnection,
    item: &Incoming,
    code: &str,
    reason: &str,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO quarantine (event_id, origin, origin_seq, code, reason, at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (event_id) DO UPDATE SET origin = EXCLUDED.origin, origin_seq = EXCLUDED.origin_seq, \
         code = EXCLUDED.code, reason = EXCLUDED.reason, at = EXCLUDED.at",
    )
    .bind(&item.id)
    .bind(&item.origin)
    .bind(item.origin_seq)
    .bind(code)
    .bind(reason)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Removes the placeholder rows [`lock_origin`] left for `origins` (head 0, not frozen: no real row looks so).
async fn drop_placeholders(c: &mut PgConnection, origins: &[&str]) -> Result<()> {
    sqlx::query("DELETE FROM origins WHERE origin = ANY($1) AND head_seq = 0 AND frozen = 0")
        .bind(origins)
        .execute(&mut *c)
        .await?;
    Ok(())
}
