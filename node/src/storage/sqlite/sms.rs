//! [`SmsStore`] on SQLite, and the keywords an accepted `node.agencies` event carries.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::storage::{Result, SmsKeywordRow, SmsStore};

#[async_trait]
impl SmsStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn sms_keyword_get(&self, keyword: &str) -> Result<Option<SmsKeywordRow>> {
        let keyword = keyword.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT keyword, origin, agency_id FROM sms_keywords WHERE keyword = ?1",
                [&keyword],
                |r| {
                    Ok(SmsKeywordRow {
                        keyword: r.get(0)?,
                        node_id: r.get(1)?,
                        agency_id: r.get(2)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }
}

/// Replaces what this node knew of `origin`'s keywords; a keyword another origin published first stays
/// with it.
pub(super) fn replace_remote_keywords(
    c: &Connection,
    origin: &str,
    keywords: &[SmsKeywordRow],
) -> Result<()> {
    c.execute("DELETE FROM sms_keywords WHERE origin = ?1", [origin])?;
    for k in keywords {
        let n = c.execute(
            "INSERT INTO sms_keywords (keyword, origin, agency_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (keyword) DO NOTHING",
            params![k.keyword, origin, k.agency_id],
        )?;
        if n == 0 {
            tracing::warn!(keyword = %k.keyword, %origin, "published SMS keyword ignored: another node has it");
        }
    }
    Ok(())
}
