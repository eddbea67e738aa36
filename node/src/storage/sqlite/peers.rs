//! [`PeerStore`] on SQLite: peers, keys, the outbox and blobs.

use async_trait::async_trait;
use lapor_federation::SignedEvent;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{key_from_row, peer_from_row, query_all, PEER_COLS};
use super::SqliteStore;
use crate::domain::Millis;
use crate::storage::{Conflict, EventDraft, KeyRow, PeerRecord, PeerStore, PushOutcome, Result};

#[async_trait]
impl PeerStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %destination), err(level = "debug"))]
    async fn outbox_after(
        &self,
        destination: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>> {
        let d = destination.to_owned();
        self.read(move |c| outbox_after(c, &d, after, limit)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %destination, event.origin = %origin), err(level = "debug"))]
    async fn outbox_backfill(&self, destination: &str, origin: &str, now: Millis) -> Result<i64> {
        let (d, o) = (destination.to_owned(), origin.to_owned());
        self.write(move |c| {
            let n = c.execute(
                "INSERT INTO outbox (destination, event_id, created_at) \
                 SELECT ?1, id, ?3 FROM events WHERE origin = ?2 \
                 AND id NOT IN (SELECT event_id FROM outbox WHERE destination = ?1) ORDER BY origin_seq",
                params![d, o, now],
            )?;
            Ok(n as i64)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %destination), err(level = "debug"))]
    async fn outbox_backlog(&self, destination: &str, after: i64) -> Result<(i64, Option<Millis>)> {
        let d = destination.to_owned();
        self.read(move |c| outbox_backlog(c, &d, after)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %peer.node_id), err(level = "debug"))]
    async fn peer_upsert(&self, peer: &PeerRecord) -> Result<()> {
        let p = peer.clone();
        self.write(move |c| peer_upsert(c, &p)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn peer_list(&self) -> Result<Vec<PeerRecord>> {
        self.read(peer_list).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %node_id), err(level = "debug"))]
    async fn peer_get(&self, node_id: &str) -> Result<Option<PeerRecord>> {
        let id = node_id.to_owned();
        self.read(move |c| peer_get(c, &id)).await
    }

    async fn peer_remove(&self, node_id: &str) -> Result<bool> {
        let id = node_id.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM outbox WHERE destination = ?1", [&id])?;
            Ok(c.execute("DELETE FROM peers WHERE node_id = ?1", [&id])? > 0)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %node_id), err(level = "debug"))]
    async fn peer_push_result(
        &self,
        node_id: &str,
        outcome: PushOutcome,
        now: Millis,
    ) -> Result<()> {
        let id = node_id.to_owned();
        self.write(move |c| peer_push_result(c, &id, &outcome, now))
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %key.origin, key.id = %key.key_id), err(level = "debug"))]
    async fn key_upsert(&self, key: &KeyRow) -> Result<()> {
        let k = key.clone();
        self.write(move |c| key_upsert(c, &k)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn key_list(&self) -> Result<Vec<KeyRow>> {
        self.read(key_list).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key.id = %new.key_id), err(level = "debug"))]
    async fn key_rotate(&self, draft: &EventDraft, new: &KeyRow) -> Result<SignedEvent> {
        let (draft, new) = (draft.clone(), new.clone());
        self.write(move |c| {
            let signed = super::events::author_event(c, &draft)?;
            let e = signed.event();
            let seq = e.origin_seq as i64;
            c.execute(
                "UPDATE node_keys SET retired_after_seq = ?3 WHERE origin = ?1 AND key_id = ?2 \
                 AND (retired_after_seq IS NULL OR retired_after_seq > ?3)",
                params![e.origin, e.key_id, seq],
            )?;
            key_upsert(
                c,
                &KeyRow {
                    origin: e.origin.clone(),
                    valid_from_seq: seq + 1,
                    retired_after_seq: None,
                    revoked_from_seq: None,
                    ..new
                },
            )?;
            Ok(signed)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(blob.sha256 = %hash), err(level = "debug"))]
    async fn blob_put(&self, hash: &str, content: &[u8], now: Millis) -> Result<()> {
        let (hash, content) = (hash.to_owned(), content.to_vec());
        self.write(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO blobs (hash, content, created_at) VALUES (?1, ?2, ?3)",
                params![hash, content, now],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(blob.sha256 = %hash), err(level = "debug"))]
    async fn blob_get(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        let hash = hash.to_owned();
        self.read(move |c| {
            Ok(
                c.query_row("SELECT content FROM blobs WHERE hash = ?1", [hash], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }
}

fn peer_upsert(c: &Connection, p: &PeerRecord) -> Result<()> {
    c.execute(
        "INSERT INTO peers (node_id, name, base_url, role, region_codes, enc_public, added_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (node_id) DO UPDATE SET name = excluded.name, base_url = excluded.base_url, \
         role = excluded.role, region_codes = excluded.region_codes, enc_public = excluded.enc_public",
        params![
            p.node_id,
            p.name,
            p.base_url,
            p.role,
            p.region_codes.join(","),
            p.enc_public,
            p.added_at
        ],
    )?;
    Ok(())
}

fn peer_list(c: &Connection) -> Result<Vec<PeerRecord>> {
    query_all(
        c,
        &format!("SELECT {PEER_COLS} FROM peers ORDER BY node_id"),
        [],
        peer_from_row,
    )
}

fn peer_get(c: &Connection, node_id: &str) -> Result<Option<PeerRecord>> {
    Ok(c.query_row(
        &format!("SELECT {PEER_COLS} FROM peers WHERE node_id = ?1"),
        [node_id],
        peer_from_row,
    )
    .optional()?)
}

fn peer_push_result(
    c: &Connection,
    node_id: &str,
    outcome: &PushOutcome,
    now: Millis,
) -> Result<()> {
    match outcome {
        PushOutcome::Sent {
            cursor,
            rejected,
            error,
        } => c.execute(
            "UPDATE peers SET push_cursor = MAX(push_cursor, ?2), last_success_at = ?3, last_attempt_at = ?3, \
             failures = 0, rejected_total = rejected_total + ?4, last_error = ?5 \
             WHERE node_id = ?1",
            params![node_id, cursor, now, rejected, error],
        )?,
        PushOutcome::Failed { error } => c.execute(
            "UPDATE peers SET last_attempt_at = ?2, failures = failures + 1, last_error = ?3 WHERE node_id = ?1",
            params![node_id, now, error],
        )?,
        PushOutcome::Contact => c.execute(
            "UPDATE peers SET failures = 0, last_error = NULL WHERE node_id = ?1",
            params![node_id],
        )?,
    };
    Ok(())
}

pub(super) fn key_upsert(c: &Connection, k: &KeyRow) -> Result<()> {
    let existing: Option<String> = c
        .query_row(
            "SELECT public_key FROM node_keys WHERE origin = ?1 AND key_id = ?2",
            params![k.origin, k.key_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(public) = existing {
        if public != k.public_key {
            return Err(Conflict::SigningKeyMismatch {
                origin: k.origin.clone(),
                key_id: k.key_id.clone(),
            }
            .into());
        }
    }
    // Validity only narrows: a retirement or revocation, once known, is never lifted.
    c.execute(
        "INSERT INTO node_keys (origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, \
         revoked_from_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (origin, key_id) DO UPDATE SET \
         enc_public = COALESCE(excluded.enc_public, node_keys.enc_public), \
         retired_after_seq = CASE WHEN node_keys.retired_after_seq IS NULL THEN excluded.retired_after_seq \
           WHEN excluded.retired_after_seq IS NULL THEN node_keys.retired_after_seq \
           ELSE MIN(node_keys.retired_after_seq, excluded.retired_after_seq) END, \
         revoked_from_seq = CASE WHEN node_keys.revoked_from_seq IS NULL THEN excluded.revoked_from_seq \
           WHEN excluded.revoked_from_seq IS NULL THEN node_keys.revoked_from_seq \
           ELSE MIN(node_keys.revoked_from_seq, excluded.revoked_from_seq) END",
        params![
            k.origin,
            k.key_id,
            k.public_key,
            k.enc_public,
            k.valid_from_seq,
            k.retired_after_seq,
            k.revoked_from_seq
        ],
    )?;
    Ok(())
}

/// The keys of one origin (the signer's own, read in the authoring transaction).
pub(super) fn own_keys(c: &Connection, origin: &str) -> Result<Vec<KeyRow>> {
    query_all(c, "SELECT origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, revoked_from_seq \
         FROM node_keys WHERE origin = ?1", params![origin], key_from_row)
}

fn key_list(c: &Connection) -> Result<Vec<KeyRow>> {
    query_all(c, "SELECT origin, key_id, public_key, enc_public, valid_from_seq, retired_after_seq, revoked_from_seq \
         FROM node_keys ORDER BY origin, valid_from_seq, key_id", [], key_from_row)
}

fn outbox_after(
    c: &Connection,
    destination: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, Vec<u8>)>> {
    let mut stmt = c.prepare_cached(
        "SELECT o.id, e.wire FROM outbox o JOIN events e ON e.id = o.event_id \
         WHERE o.destination = ?1 AND o.id > ?2 ORDER BY o.id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![destination, after, limit], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn outbox_backlog(c: &Connection, destination: &str, after: i64) -> Result<(i64, Option<Millis>)> {
    Ok(c.query_row(
        "SELECT COUNT(*), MIN(o.created_at) FROM outbox o WHERE o.destination = ?1 AND o.id > ?2",
        params![destination, after],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}
