//! [`SmsStore`] on PostgreSQL, and the keywords an accepted `node.agencies` event carries.

use async_trait::async_trait;
use sqlx::{PgConnection, Row};

use super::PgStore;
use crate::storage::{Result, SmsKeywordRow, SmsStore};

#[async_trait]
impl SmsStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn sms_keyword_get(&self, keyword: &str) -> Result<Option<SmsKeywordRow>> {
        let row =
            sqlx::query("SELECT keyword, origin, agency_id FROM sms_keywords WHERE keyword = $1")
                .bind(keyword)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| -> Result<SmsKeywordRow> {
            Ok(SmsKeywordRow {
                keyword: r.try_get(0)?,
                node_id: r.try_get(1)?,
                agency_id: r.try_get(2)?,
            })
        })
        .transpose()
    }
}

/// Replaces what this node knew of `origin`'s keywords; a keyword another origin published first stays
/// with it.
pub(super) async fn replace_remote_keywords(
    c: &mut PgConnection,
    origin: &str,
    keywords: &[SmsKeywordRow],
) -> Result<()> {
    sqlx::query("DELETE FROM sms_keywords WHERE origin = $1")
        .bind(origin)
        .execute(&mut *c)
        .await?;
    for k in keywords {
        let done = sqlx::query(
            "INSERT INTO sms_keywords (keyword, origin, agency_id) VALUES ($1, $2, $3) \
             ON CONFLICT (keyword) DO NOTHING",
        )
        .bind(&k.keyword)
        .bind(origin)
        .bind(&k.agency_id)
        .execute(&mut *c)
        .await?;
        if done.rows_affected() == 0 {
            tracing::warn!(keyword = %k.keyword, %origin, "published SMS keyword ignored: another node has it");
        }
    }
    Ok(())
}
