//! [`SmsStore`] on SQLite, and the keywords an accepted `node.agencies` event carries.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::domain::{AgencyRecord, Millis};
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

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %origin), err(level = "debug"))]
    async fn publication_apply(
        &self,
        origin: &str,
        seq: i64,
        agencies: &[AgencyRecord],
        keywords: &[SmsKeywordRow],
        now: Millis,
    ) -> Result<bool> {
        let (origin, agencies, keywords) =
            (origin.to_owned(), agencies.to_vec(), keywords.to_vec());
        self.write(move |c| {
            let held: Option<i64> = c
                .query_row(
                    "SELECT seq FROM directory_publications WHERE origin = ?1",
                    [&origin],
                    |r| r.get(0),
                )
                .optional()?;
            if held.is_some_and(|h| h >= seq) {
                return Ok(false);
            }
            super::catalog::replace_remote_agencies(c, &origin, &agencies)?;
            replace_remote_keywords(c, &origin, &keywords)?;
            c.execute(
                "INSERT INTO directory_publications (origin, seq, applied_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, applied_at = excluded.applied_at",
                params![origin, seq, now],
            )?;
            Ok(true)
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
