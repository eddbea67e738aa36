//! [`TransferStore`] on SQLite, and the transfer change an authored or accepted event carries.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{transfer_from_row, TRANSFER_COLS};
use super::{owner, set_owner, SqliteStore};
use crate::storage::decide;
use crate::storage::{Result, TransferChange, TransferRow, TransferStore};

#[async_trait]
impl TransferStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(transfer.id = %offer_id), err(level = "debug"))]
    async fn transfer_get(&self, offer_id: &str) -> Result<Option<TransferRow>> {
        let id = offer_id.to_owned();
        self.read(move |c| transfer_get(c, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn transfers_of_report(&self, report_id: &str) -> Result<Vec<TransferRow>> {
        let id = report_id.to_owned();
        self.read(move |c| transfers_of_report(c, &id)).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn transfers_list(&self, open_only: bool, limit: i64) -> Result<Vec<TransferRow>> {
        self.read(move |c| transfers_list(c, open_only, limit))
            .await
    }
}

fn transfer_get(c: &Connection, offer_id: &str) -> Result<Option<TransferRow>> {
    Ok(c.query_row(
        &format!("SELECT {TRANSFER_COLS} FROM transfers WHERE offer_id = ?1"),
        [offer_id],
        transfer_from_row,
    )
    .optional()?)
}

fn transfers_of_report(c: &Connection, report_id: &str) -> Result<Vec<TransferRow>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {TRANSFER_COLS} FROM transfers WHERE report_id = ?1 ORDER BY created_at DESC, offer_id"
    ))?;
    let rows = stmt.query_map([report_id], transfer_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn transfers_list(c: &Connection, open_only: bool, limit: i64) -> Result<Vec<TransferRow>> {
    let filter = if open_only {
        "WHERE state IN ('offered', 'forwarded', 'accepted')"
    } else {
        ""
    };
    let mut stmt = c.prepare(&format!(
        "SELECT {TRANSFER_COLS} FROM transfers {filter} ORDER BY updated_at DESC, offer_id LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], transfer_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Runs a transfer change in the caller's transaction (see [`TransferChange`]); `event_id` is the event that
/// carries it (for a commit, the report's latest event from now on).
pub(super) fn apply_transfer(
    c: &Connection,
    change: &TransferChange,
    event_id: &str,
) -> Result<()> {
    let row = &decide::transfer_row(&change.row, event_id);
    let held = owner(c, &row.report_id)?;
    if change.open {
        let other: Option<String> = c
            .query_row(
                "SELECT offer_id FROM transfers WHERE report_id = ?1 AND offer_id <> ?2 \
                 AND state IN ('offered', 'forwarded', 'accepted') LIMIT 1",
                params![row.report_id, row.offer_id],
                |r| r.get(0),
            )
            .optional()?;
        decide::transfer_may_open(other.is_some(), held.as_ref(), row.epoch)?;
    }
    let merged = decide::transfer_merge(row, transfer_get(c, &row.offer_id)?.as_ref());
    c.execute(
        &format!(
            "INSERT OR REPLACE INTO transfers ({TRANSFER_COLS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            merged.offer_id,
            merged.report_id,
            merged.from_node,
            merged.to_node,
            merged.epoch,
            merged.agency_id,
            merged.reason,
            merged.note,
            merged.state,
            merged.code,
            merged.expires_at,
            merged.created_at,
            merged.updated_at
        ],
    )?;
    if change.commit && decide::commit_takes_ownership(held.as_ref(), row.epoch) {
        set_owner(c, &row.report_id, &row.to_node, row.epoch, Some(event_id))?;
    }
    Ok(())
}
