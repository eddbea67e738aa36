//! [`SmsStore`] on PostgreSQL, and the keywords an accepted `node.agencies` event carries.

use async_trait::async_trait;
use sqlx::{PgConnection, Row};

use super::PgStore;
use crate::domain::{AgencyRecord, Millis};
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

    #[tracing::instrument(level = "debug", skip_all, fields(peer.node = %origin), err(level = "debug"))]
    async fn publication_apply(
        &self,
        origin: &str,
        seq: i64,
        agencies: &[AgencyRecord],
        keywords: &[SmsKeywordRow],
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Serialises concurrent refreshes of several hub processes' directories for one origin.
        sqlx::query(
            "INSERT INTO directory_publications (origin, seq, applied_at) VALUES ($1, -1, $2) \
             ON CONFLICT (origin) DO NOTHING",
        )
        .bind(origin)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let held: i64 = sqlx::query_scalar(
            "SELECT seq FROM directory_publications WHERE origin = $1 FOR UPDATE",
        )
        .bind(origin)
        .fetch_one(&mut *tx)
        .await?;
        if held >= seq {
            return Ok(false);
        }
        super::catalog::replace_remote_agencies(&mut tx, origin, agencies).await?;
        replace_remote_keywords(&mut tx, origin, keywords).await?;
        sqlx::query(
            "UPDATE directory_publications SET seq = $2, applied_at = $3 WHERE origin = $1",
        )
        .bind(origin)
        .bind(seq)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
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
