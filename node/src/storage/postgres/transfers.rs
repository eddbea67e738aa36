//! [`TransferStore`] on PostgreSQL, and the transfer change an authored or accepted event carries.

use async_trait::async_trait;
use sqlx::PgConnection;

use super::rows::{fetch_all, fetch_optional, transfer_from_row, TRANSFER_COLS};
use super::{owner_for_update, set_owner, sql_limit, PgStore};
use crate::storage::decide;
use crate::storage::{Result, TransferChange, TransferRow, TransferStore};

#[async_trait]
impl TransferStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(transfer.id = %offer_id), err(level = "debug"))]
    async fn transfer_get(&self, offer_id: &str) -> Result<Option<TransferRow>> {
        let mut conn = self.pool.acquire().await?;
        transfer_get(&mut conn, offer_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(report.id = %report_id), err(level = "debug"))]
    async fn transfers_of_report(&self, report_id: &str) -> Result<Vec<TransferRow>> {
        let mut conn = self.pool.acquire().await?;
        transfers_of_report(&mut conn, report_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn transfers_list(&self, open_only: bool, limit: i64) -> Result<Vec<TransferRow>> {
        let mut conn = self.pool.acquire().await?;
        transfers_list(&mut conn, open_only, limit).await
    }
}

async fn transfer_get(c: &mut PgConnection, offer_id: &str) -> Result<Option<TransferRow>> {
    fetch_optional(
        sqlx::query(&format!(
            "SELECT {TRANSFER_COLS} FROM transfers WHERE offer_id = $1"
        ))
        .bind(offer_id),
        &mut *c,
        transfer_from_row,
    )
    .await
}

async fn transfers_of_report(c: &mut PgConnection, report_id: &str) -> Result<Vec<TransferRow>> {
    fetch_all(sqlx::query(&format!(
        "SELECT {TRANSFER_COLS} FROM transfers WHERE report_id = $1 ORDER BY created_at DESC, offer_id"
    ))
    .bind(report_id), &mut *c, transfer_from_row).await
}

async fn transfers_list(
    c: &mut PgConnection,
    open_only: bool,
    limit: i64,
) -> Result<Vec<TransferRow>> {
    let filter = if open_only {
        "WHERE state IN ('offered', 'forwarded', 'accepted')"
    } else {
        ""
    };
    fetch_all(
        sqlx::query(&format!(
        "SELECT {TRANSFER_COLS} FROM transfers {filter} ORDER BY updated_at DESC, offer_id LIMIT $1"
    ))
        .bind(sql_limit(limit)),
        &mut *c,
        transfer_from_row,
    )
    .await
}

/// Runs a transfer change on the caller's transaction (see the SQLite twin). The report's ownership row is
/// locked first, so two transactions opening transfers of one report are serialised.
pub(super) async fn apply_transfer(
    c: &mut PgConnection,
    change: &TransferChange,
    event_id: &str,
) -> Result<()> {
    let row = &decide::transfer_row(&change.row, event_id);
    let held = owner_for_update(c, &row.report_id).await?;
    if change.open {
        let other: Option<String> = sqlx::query_scalar(
            "SELECT offer_id FROM transfers WHERE report_id = $1 AND offer_id <> $2 \
             AND state IN ('offered', 'forwarded', 'accepted') LIMIT 1",
        )
        .bind(&row.report_id)
        .bind(&row.offer_id)
        .fetch_optional(&mut *c)
        .await?;
        decide::transfer_may_open(other.is_some(), held.as_ref(), row.epoch)?;
    }
    let merged = decide::transfer_merge(row, transfer_get(c, &row.offer_id).await?.as_ref());
    sqlx::query(&format!(
        "INSERT INTO transfers ({TRANSFER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (offer_id) DO UPDATE SET state = EXCLUDED.state, code = EXCLUDED.code, \
         expires_at = EXCLUDED.expires_at, agency_id = EXCLUDED.agency_id, note = EXCLUDED.note, \
         updated_at = EXCLUDED.updated_at"
    ))
    .bind(&merged.offer_id)
    .bind(&merged.report_id)
    .bind(&merged.from_node)
    .bind(&merged.to_node)
    .bind(merged.epoch)
    .bind(merged.agency_id.as_deref())
    .bind(&merged.reason)
    .bind(merged.note.as_deref())
    .bind(&merged.state)
    .bind(merged.code.as_deref())
    .bind(merged.expires_at)
    .bind(merged.created_at)
    .bind(merged.updated_at)
    .execute(&mut *c)
    .await?;
    if change.commit && decide::commit_takes_ownership(held.as_ref(), row.epoch) {
        set_owner(c, &row.report_id, &row.to_node, row.epoch, Some(event_id)).await?;
    }
    Ok(())
}
