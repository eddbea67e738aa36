//! [`ReportStore::report_bundle`](crate::storage::ReportStore::report_bundle) on PostgreSQL: everything a
//! report view shows from one connection in one read-only repeatable-read transaction (one snapshot): the
//! report with its ownership, agency name, category and the code of the report it duplicates in one
//! statement, then its timeline, files and newest transfer (four round trips instead of seven acquisitions).

use sqlx::Row as _;

use super::rows::{
    attachment_from_row, fetch_all, fetch_optional, report_from_row, timeline_from_row,
    transfer_from_row, REPORT_COLS, REPORT_NCOLS, TIMELINE_COLS, TRANSFER_COLS,
};
use super::PgStore;
use crate::storage::{OwnerRow, ReportBundle, ReportKey, Result};

/// Columns after the report's own, in the first statement.
const EXTRA: &str = "(SELECT a.name FROM agencies a WHERE a.id = reports.agency_id), \
    (SELECT d.tracking_code FROM reports d WHERE d.id = reports.duplicate_of), \
    o.owner, o.epoch, o.last_event_id, c.id, c.name_id, c.name_en, c.active";

impl PgStore {
    /// The bundle of the report `key` names, if it exists.
    pub(super) async fn bundle(&self, key: &ReportKey) -> Result<Option<ReportBundle>> {
        let (col, value) = match key {
            ReportKey::Id(id) => ("id", id),
            ReportKey::TrackingCode(code) => ("tracking_code", code),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let cols = REPORT_COLS
            .split(", ")
            .map(|c| format!("reports.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, {EXTRA} FROM reports \
             LEFT JOIN report_owner o ON o.report_id = reports.id \
             LEFT JOIN categories c ON c.id = reports.category_id \
             WHERE reports.{col} = $1"
        );
        let first = fetch_optional(sqlx::query(&sql).bind(value), &mut *tx, |row| {
            let n = REPORT_NCOLS;
            let report = report_from_row(row)?;
            let owner = row
                .try_get::<Option<String>, _>(n + 2)?
                .map(|owner| -> Result<OwnerRow> {
                    Ok(OwnerRow {
                        report_id: report.id.clone(),
                        owner,
                        epoch: row.try_get(n + 3)?,
                        last_event_id: row.try_get(n + 4)?,
                    })
                })
                .transpose()?;
            let category = row
                .try_get::<Option<String>, _>(n + 5)?
                .map(|id| -> Result<lapor_schemas::api::Category> {
                    Ok(lapor_schemas::api::Category {
                        id,
                        name_id: row.try_get(n + 6)?,
                        name_en: row.try_get(n + 7)?,
                        active: row.try_get(n + 8)?,
                    })
                })
                .transpose()?;
            Ok((
                report,
                row.try_get::<Option<String>, _>(n)?,
                row.try_get::<Option<String>, _>(n + 1)?,
                owner,
                category,
            ))
        })
        .await?;
        let Some((report, agency_name, duplicate_code, owner, category)) = first else {
            return Ok(None);
        };
        let timeline = fetch_all(
            sqlx::query(&format!(
                "SELECT {TIMELINE_COLS} FROM timeline WHERE report_id = $1 ORDER BY seq"
            ))
            .bind(&report.id),
            &mut *tx,
            timeline_from_row,
        )
        .await?;
        let attachments = fetch_all(
            sqlx::query(
                "SELECT report_id, sha256, media_type, size_bytes, file_name, added_by, added_at \
                 FROM attachments WHERE report_id = $1 ORDER BY added_at, sha256 COLLATE \"C\"",
            )
            .bind(&report.id),
            &mut *tx,
            attachment_from_row,
        )
        .await?;
        let transfer = fetch_optional(
            sqlx::query(&format!(
                "SELECT {TRANSFER_COLS} FROM transfers WHERE report_id = $1 \
                 ORDER BY created_at DESC, offer_id COLLATE \"C\" LIMIT 1"
            ))
            .bind(&report.id),
            &mut *tx,
            transfer_from_row,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(ReportBundle {
            report,
            timeline,
            owner,
            agency_name,
            category,
            transfer,
            duplicate_code,
            attachments,
        }))
    }
}
