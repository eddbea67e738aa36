//! [`ReportStore::report_bundle`](crate::storage::ReportStore::report_bundle) on SQLite: everything a report
//! view shows, read on one reader connection inside one read transaction (one snapshot), every statement
//! prepared once per connection and kept.

use rusqlite::{Connection, OptionalExtension};

use super::owner;
use super::rows::{
    attachment_from_row, category_from_row, report_from_row, timeline_from_row, transfer_from_row,
    REPORT_COLS, TRANSFER_COLS,
};
use crate::storage::{ReportBundle, ReportKey, Result};

/// The bundle of the report `key` names, if it exists.
pub(super) fn read(c: &Connection, key: &ReportKey) -> Result<Option<ReportBundle>> {
    let tx = c.unchecked_transaction()?;
    let (sql, value) = match key {
        ReportKey::Id(id) => ("id", id),
        ReportKey::TrackingCode(code) => ("tracking_code", code),
    };
    let report = tx
        .prepare_cached(&format!(
            "SELECT {REPORT_COLS} FROM reports WHERE {sql} = ?1"
        ))?
        .query_row([value], report_from_row)
        .optional()?;
    let Some(report) = report else {
        return Ok(None);
    };
    let id = report.id.as_str();
    let timeline = tx
        .prepare_cached(
            "SELECT report_id, seq, at, action, actor_role, actor_id, actor_name, agency_id, from_status, \
             to_status, note FROM timeline WHERE report_id = ?1 ORDER BY seq",
        )?
        .query_map([id], timeline_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let agency_name = match &report.agency_id {
        Some(a) => tx
            .prepare_cached("SELECT name FROM agencies WHERE id = ?1")?
            .query_row([a], |r| r.get(0))
            .optional()?,
        None => None,
    };
    let category = match &report.category_id {
        Some(cat) => tx
            .prepare_cached("SELECT id, name_id, name_en, active FROM categories WHERE id = ?1")?
            .query_row([cat], category_from_row)
            .optional()?,
        None => None,
    };
    let transfer = tx
        .prepare_cached(&format!(
            "SELECT {TRANSFER_COLS} FROM transfers WHERE report_id = ?1 ORDER BY created_at DESC, offer_id \
             LIMIT 1"
        ))?
        .query_row([id], transfer_from_row)
        .optional()?;
    let duplicate_code = match &report.duplicate_of {
        Some(d) => tx
            .prepare_cached("SELECT tracking_code FROM reports WHERE id = ?1")?
            .query_row([d], |r| r.get(0))
            .optional()?,
        None => None,
    };
    let attachments = tx
        .prepare_cached(
            "SELECT report_id, sha256, media_type, size_bytes, file_name, added_by, added_at \
             FROM attachments WHERE report_id = ?1 ORDER BY added_at, sha256",
        )?
        .query_map([id], attachment_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let owner = owner(&tx, id)?;
    tx.commit()?;
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
