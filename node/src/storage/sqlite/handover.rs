//! [`HandoverStore`] on SQLite: identities on their way to a report's new owner.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::rows::query_all;
use super::SqliteStore;
use crate::domain::{Millis, ReporterIdentity};
use crate::storage::handover::{HandoverRow, HandoverStore, CONFIRMING};
use crate::storage::Result;

fn row_of(r: &Row<'_>) -> rusqlite::Result<HandoverRow> {
    Ok(HandoverRow {
        report_id: r.get(0)?,
        epoch: r.get(1)?,
        state: r.get(2)?,
        attempts: r.get(3)?,
        next_at: r.get(4)?,
        last_error: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

fn record(c: &Connection, h: &HandoverRow) -> Result<()> {
    c.execute(
        "INSERT INTO identity_handover (report_id, epoch, state, attempts, next_at, last_error, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (report_id) DO UPDATE SET epoch = excluded.epoch, \
         state = excluded.state, attempts = excluded.attempts, next_at = excluded.next_at, \
         last_error = excluded.last_error, updated_at = excluded.updated_at",
        params![
            h.report_id,
            h.epoch,
            h.state.as_deref().unwrap_or(super::super::handover::FETCHING),
            h.attempts,
            h.next_at,
            h.last_error,
            h.updated_at
        ],
    )?;
    Ok(())
}

#[async_trait]
impl HandoverStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn handover_due(&self, me: &str, now: Millis, limit: i64) -> Result<Vec<HandoverRow>> {
        let me = me.to_owned();
        self.read(move |c| {
            query_all(
                c,
                "SELECT o.report_id, o.epoch, h.state, COALESCE(h.attempts, 0), COALESCE(h.next_at, 0), \
                 h.last_error, COALESCE(h.updated_at, 0) \
                 FROM report_owner o JOIN reports r ON r.id = o.report_id \
                 LEFT JOIN identity_handover h ON h.report_id = o.report_id AND h.epoch = o.epoch \
                 WHERE o.owner = ?1 AND o.epoch >= 1 AND r.anonymous = 0 AND ( \
                   (h.report_id IS NULL AND NOT EXISTS \
                      (SELECT 1 FROM reporter_identities i WHERE i.report_id = o.report_id)) \
                   OR (h.state IN ('fetching', 'confirming') AND h.next_at <= ?2)) \
                 ORDER BY COALESCE(h.next_at, 0), o.report_id LIMIT ?3",
                params![me, now, limit],
                row_of,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn handover_get(&self, report_id: &str) -> Result<Option<HandoverRow>> {
        let report_id = report_id.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT report_id, epoch, state, attempts, next_at, last_error, updated_at \
                 FROM identity_handover WHERE report_id = ?1",
                [report_id],
                row_of,
            )
            .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn handover_open(&self) -> Result<Vec<HandoverRow>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT report_id, epoch, state, attempts, next_at, last_error, updated_at \
                 FROM identity_handover WHERE state IN ('fetching', 'confirming') \
                 ORDER BY updated_at DESC LIMIT 1000",
                [],
                row_of,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %row.report_id), err(level = "debug"))]
    async fn handover_record(&self, row: &HandoverRow) -> Result<()> {
        let row = row.clone();
        self.write(move |c| record(c, &row)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn handover_receive(
        &self,
        report_id: &str,
        epoch: i64,
        identity: &ReporterIdentity,
        now: Millis,
    ) -> Result<()> {
        let sealed = self.identities.seal(report_id, identity)?;
        let report_id = report_id.to_owned();
        self.write(move |c| {
            c.execute(
                "INSERT INTO reporter_identities (report_id, name, phone, email) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (report_id) DO UPDATE SET name = excluded.name, phone = excluded.phone, \
                 email = excluded.email",
                params![report_id, sealed.name, sealed.phone, sealed.email],
            )?;
            record(
                c,
                &HandoverRow {
                    report_id: report_id.clone(),
                    epoch,
                    state: Some(CONFIRMING.into()),
                    attempts: 0,
                    next_at: now,
                    last_error: None,
                    updated_at: now,
                },
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn identity_erase(&self, report_id: &str, blobs: &[String]) -> Result<bool> {
        let (report_id, blobs) = (report_id.to_owned(), blobs.to_vec());
        self.write(move |c| {
            let mut n = c.execute(
                "DELETE FROM reporter_identities WHERE report_id = ?1",
                [&report_id],
            )?;
            for hash in &blobs {
                n += c.execute(
                    "DELETE FROM blobs WHERE hash = ?1 AND report_id = ?2",
                    params![hash, report_id],
                )?;
            }
            Ok(n > 0)
        })
        .await
    }
}
