//! [`PeerStore`] on PostgreSQL: peers, keys, the outbox and blobs.

use async_trait::async_trait;
use lapor_federation::SignedEvent;
use sqlx::{PgConnection, Row};

use super::rows::{fetch_all, fetch_optional, key_from_row, peer_from_row, PEER_COLS};
use super::{sql_limit, PgStore};
use crate::domain::Millis;
use crate::storage::{Conflict, EventDraft, KeyRow, PeerRecord, PeerStore, PushOutcome, Result};

#[async_trait]
impl PeerStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %destination), err(level = "debug"))]
    async fn outbox_after(
        &self,
        destination: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>> {
        let mut conn = self.pool.acquire().await?;
        outbox_after(&mut conn, destination, after, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %destination, event.origin = %origin), err(level = "debug"))]
    async fn outbox_backfill(&self, destination: &str, origin: &str, now: Millis) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let n = outbox_backfill(&mut tx, destination, origin, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %destination), err(level = "debug"))]
    async fn outbox_backlog(&self, destination: &str, after: i64) -> Result<(i64, Option<Millis>)> {
        let mut conn = self.pool.acquire().await?;
        outbox_backlog(&mut conn, destination, after).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %peer.node_id), err(level = "debug"))]
    async fn peer_upsert(&self, peer: &PeerRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        peer_upsert(&mut conn, peer).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn peer_list(&self) -> Result<Vec<PeerRecord>> {
        let mut conn = self.pool.acquire().await?;
        peer_list(&mut conn).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %node_id), err(level = "debug"))]
    async fn peer_get(&self, node_id: &str) -> Result<Option<PeerRecord>> {
        let mut conn = self.pool.acquire().await?;
        peer_get(&mut conn, node_id).await
    }

    async fn peer_remove(&self, node_id: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM outbox WHERE destination = $1")
            .bind(node_id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM peers WHERE node_id = $1")
            .bind(node_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %node_id), err(level = "debug"))]
    async fn peer_push_result(
        &self,
        node_id: &str,
        outcome: PushOutcome,
        now: Millis,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        peer_push_result(&mut conn, node_id, &outcome, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %key.origin, key.id = %key.key_id), err(level = "debug"))]
    async fn key_upsert(&self, key: &KeyRow) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        key_upsert(&mut conn, key).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn key_list(&self) -> Result<Vec<KeyRow>> {
        let mut conn = self.pool.acquire().await?;
        key_list(&mut conn).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key.id = %new.key_id), err(level = "debug"))]
    async fn key_rotate(&self, draft: &EventDraft, new: &KeyRow) -> Result<SignedEvent> {
        let mut tx = self.pool.begin().await?;
        let signed = super::events::author_event(&mut tx, draft).await?;
        let e = signed.event();
        let seq = e.origin_seq as i64;
        sqlx::query(
            "UPDATE node_keys SET retired_after_seq = $3 WHERE origin = $1 AND key_id = $2 \
             AND (retired_after_seq IS NULL OR retired_after_seq > $3)",
        )
        .bind(&e.origin)
        .bind(&e.key_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        key_upsert(
            &mut tx,
            &KeyRow {
                origin: e.origin.clone(),
                valid_from_seq: seq + 1,
                retired_after_seq: None,
                revoked_from_seq: None,
                ..new.clone()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(signed)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(blob.sha256 = %hash), err(level = "debug"))]
    async fn blob_put(&self, hash: &str, content: &[u8], now: Millis) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        blob_put(&mut conn, hash, content, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(blob.sha256 = %hash), err(level = "debug"))]
    async fn blob_get(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.pool.acquire().await?;
        blob_get(&mut conn, hash).await
    }
}

pub(super) async fn blob_put(
    c: &mut PgConnection,
    hash: &str,
    content: &[u8],
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO blobs (hash, content, created_at) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
    )
    .bind(hash)
    .bind(content)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn blob_get(c: &mut PgConnection, hash: &str) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT content FROM blobs WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut *c)
            .await?,
    )
}

async fn outbox_after(
    c: &mut PgConnection,
    destination: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, Vec<u8>)>> {
    let rows = sqlx::query(
        "SELECT o.id, e.wire FROM outbox o JOIN events e ON e.id = o.event_id \
         WHERE o.destination = $1 AND o.id > $2 ORDER BY o.id LIMIT $3",
    )
    .bind(destination)
    .bind(after)
    .bind(sql_limit(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Queues every event of `origin` not yet queued for `destination`, in log order. Backfills of one destination
/// are serialised by a transaction-scoped advisory lock so that two of them cannot queue an event twice.
async fn outbox_backfill(
    c: &mut PgConnection,
    destination: &str,
    origin: &str,
    now: Millis,
) -> Result<i64> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(OUTBOX_LOCK_CLASS)
        .bind(destination)
        .execute(&mut *c)
        .await?;
    let n = sqlx::query(
        "INSERT INTO outbox (destination, event_id, created_at) \
         SELECT $1, id, $3 FROM events WHERE origin = $2 \
         AND id NOT IN (SELECT event_id FROM outbox WHERE destination = $1) ORDER BY origin_seq",
    )
    .bind(destination)
    .bind(origin)
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected();
    Ok(n as i64)
}

/// First key of the advisory locks [`outbox_backfill`] takes (the second is the destination's hash).
const OUTBOX_LOCK_CLASS: i32 = 0x4c50;

async fn outbox_backlog(
    c: &mut PgConnection,
    destination: &str,
    after: i64,
) -> Result<(i64, Option<Millis>)> {
    let r = sqlx::query(
        "SELECT COUNT(*), MIN(o.created_at) FROM outbox o WHERE o.destination = $1 AND o.id > $2",
    )
    .bind(destination)
    .bind(after)
    .fetch_one(&mut *c)
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

async fn peer_upsert(c: &mut PgConnection, p: &PeerRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO peers (node_id, name, base_url, role, region_codes, enc_public, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (node_id) DO UPDATE SET name = EXCLUDED.name, base_url = EXCLUDED.base_url, \
         role = EXCLUDED.role, region_codes = EXCLUDED.region_codes, enc_public = EXCLUDED.enc_public",
    )
    .bind(&p.node_id)
    .bind(&p.name)
    .bind(&p.base_url)
    .bind(&p.role)
    .bind(p.region_codes.join(","))
    .bind(p.enc_public.as_deref())
    .bind(p.added_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn peer_list(c: &mut PgConnection) -> Result<Vec<PeerRecord>> {
    fetch_all(
        sqlx::query(&format!(
            "SELECT {PEER_COLS} FROM peers ORDER BY node_id COLLATE \"C\""
        )),
        &mut *c,
        peer_from_row,
    )
    .await
}

async fn peer_get(c: &mut PgConnection, node_id: &str) -> Result<Option<PeerRecord>> {
    fetch_optional(
        sqlx::query(&format!("SELECT {PEER_COLS} FROM peers WHERE node_id = $1")).bind(node_id),
        &mut *c,
        peer_from_row,
    )
    .await
}

async fn peer_push_result(
    c: &mut PgConnection,
    node_id: &str,
    outcome: &PushOutcome,
    now: Millis,
) -> Result<()> {
    match outcome {
        PushOutcome::Sent {
            cursor,
            rejected,
            error,
        } => sqlx::query(
            "UPDATE peers SET push_cursor = GREATEST(push_cursor, $2), last_success_at = $3, \
             last_attempt_at = $3, failures = 0, rejected_total = rejected_total + $4, \
             last_error = $5 WHERE node_id = $1",
        )
        .bind(node_id)
        .bind(*cursor)
        .bind(now)
        .bind(*rejected)
        .bind(error.as_deref()),
        PushOutcome::Failed { error } => sqlx::query(
            "UPDATE peers SET last_attempt_at = $2, failures = failures + 1, last_error = $3 WHERE node_id = $1",
        )
        .bind(node_id)
        .bind(now)
        .bind(error),
        PushOutcome::Contact => {
            sqlx::query("UPDATE peers SET failures = 0, last_error = NULL WHERE node_id = $1").bind(node_id)
        }
    }
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(super) async fn key_upsert(c: &mut PgConnection, k: &KeyRow) -> Result<()> {
    // Validity only narrows: a retirement or revocation, once known, is never lifted. The WHERE clause keeps
    // a different public key under a known id from touching the row (and tells us, by touching nothing).
    let n = sqlx::query(
        "INSERT INTO node_keys (origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, \
         revoked_from_seq) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (origin, key_id) DO UPDATE SET \
         enc_public = COALESCE(EXCLUDED.enc_public, node_keys.enc_public), \
         retired_after_seq = CASE WHEN node_keys.retired_after_seq IS NULL THEN EXCLUDED.retired_after_seq \
           WHEN EXCLUDED.retired_after_seq IS NULL THEN node_keys.retired_after_seq \
           ELSE LEAST(node_keys.retired_after_seq, EXCLUDED.retired_after_seq) END, \
         revoked_from_seq = CASE WHEN node_keys.revoked_from_seq IS NULL THEN EXCLUDED.revoked_from_seq \
           WHEN EXCLUDED.revoked_from_seq IS NULL THEN node_keys.revoked_from_seq \
           ELSE LEAST(node_keys.revoked_from_seq, EXCLUDED.revoked_from_seq) END \
         WHERE node_keys.public_key = EXCLUDED.public_key",
    )
    .bind(&k.origin)
    .bind(&k.key_id)
    .bind(&k.public_key)
    .bind(k.enc_public.as_deref())
    .bind(k.valid_from_seq)
    .bind(k.retired_after_seq)
    .bind(k.revoked_from_seq)
    .execute(&mut *c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Conflict::SigningKeyMismatch {
            origin: k.origin.clone(),
            key_id: k.key_id.clone(),
        }
        .into());
    }
    Ok(())
}

/// The keys of one origin (the signer's own, read in the authoring transaction).
pub(super) async fn own_keys(c: &mut PgConnection, origin: &str) -> Result<Vec<KeyRow>> {
    fetch_all(sqlx::query(
        "SELECT origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, revoked_from_seq \
         FROM node_keys WHERE origin = $1",
    ).bind(origin), &mut *c, key_from_row).await
}

async fn key_list(c: &mut PgConnection) -> Result<Vec<KeyRow>> {
    fetch_all(sqlx::query(
        "SELECT origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, revoked_from_seq \
         FROM node_keys ORDER BY origin COLLATE \"C\", valid_from_seq, key_id COLLATE \"C\"",
    ), &mut *c, key_from_row).await
}
