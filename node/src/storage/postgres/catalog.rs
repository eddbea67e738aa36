//! [`CatalogStore`] on PostgreSQL: agencies (this node's and those other nodes publish) and categories.

use async_trait::async_trait;
use lapor_schemas::api::Category;
use sqlx::PgConnection;

use super::rows::{agency_from_row, category_from_row, fetch_all, fetch_optional, AGENCY_COLS};
use super::PgStore;
use crate::domain::AgencyRecord;
use crate::storage::{decide, CatalogStore, Result, StorageError};

#[async_trait]
impl CatalogStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all, fields(agency.id = %a.id), err(level = "debug"))]
    async fn agency_create(&self, a: &AgencyRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO agencies ({AGENCY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&a.id)
        .bind(a.parent_id.as_deref())
        .bind(&a.path)
        .bind(&a.name)
        .bind(&a.kind)
        .bind(a.region_code.as_deref())
        .bind(a.active)
        .bind(a.created_at)
        .bind(a.node_id.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(agency.id = %a.id), err(level = "debug"))]
    async fn agency_update(&self, a: &AgencyRecord) -> Result<()> {
        let n = sqlx::query(
            "UPDATE agencies SET name = $2, region_code = $3, active = $4 WHERE id = $1",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(a.region_code.as_deref())
        .bind(a.active)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(agency.id = %id), err(level = "debug"))]
    async fn agency_get(&self, id: &str) -> Result<Option<AgencyRecord>> {
        fetch_optional(
            sqlx::query(&format!("SELECT {AGENCY_COLS} FROM agencies WHERE id = $1")).bind(id),
            &self.pool,
            agency_from_row,
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn agency_list(&self) -> Result<Vec<AgencyRecord>> {
        fetch_all(
            sqlx::query(&format!(
                "SELECT {AGENCY_COLS} FROM agencies ORDER BY path COLLATE \"C\""
            )),
            &self.pool,
            agency_from_row,
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(category.id = %cat.id), err(level = "debug"))]
    async fn category_upsert(&self, cat: &Category) -> Result<()> {
        sqlx::query(
            "INSERT INTO categories (id, name_id, name_en, active) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET name_id = excluded.name_id, name_en = excluded.name_en, \
             active = excluded.active",
        )
        .bind(&cat.id)
        .bind(&cat.name_id)
        .bind(&cat.name_en)
        .bind(cat.active)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn category_seed(&self, categories: &[Category]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for cat in categories {
            sqlx::query(
                "INSERT INTO categories (id, name_id, name_en, active) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&cat.id)
            .bind(&cat.name_id)
            .bind(&cat.name_en)
            .bind(cat.active)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(category.id = %id), err(level = "debug"))]
    async fn category_get(&self, id: &str) -> Result<Option<Category>> {
        fetch_optional(
            sqlx::query("SELECT id, name_id, name_en, active FROM categories WHERE id = $1")
                .bind(id),
            &self.pool,
            category_from_row,
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn category_list(&self) -> Result<Vec<Category>> {
        fetch_all(
            sqlx::query(
                "SELECT id, name_id, name_en, active FROM categories ORDER BY id COLLATE \"C\"",
            ),
            &self.pool,
            category_from_row,
        )
        .await
    }
}

/// Replaces what this node knows of `origin`'s agencies. Ids this node uses for its own agencies are skipped.
pub(super) async fn replace_remote_agencies(
    c: &mut PgConnection,
    origin: &str,
    agencies: &[AgencyRecord],
) -> Result<()> {
    sqlx::query("UPDATE agencies SET active = FALSE WHERE node_id = $1")
        .bind(origin)
        .execute(&mut *c)
        .await?;
    for a in agencies {
        let local: Option<Option<String>> =
            sqlx::query_scalar("SELECT node_id FROM agencies WHERE id = $1")
                .bind(&a.id)
                .fetch_optional(&mut *c)
                .await?;
        let sql = match decide::agency_upsert(local.is_some(), local.as_ref().and_then(Option::as_deref), origin) {
            decide::AgencyUpsert::Skip(why) => {
                tracing::warn!(agency = %a.id, %origin, why, "published agency ignored");
                continue;
            }
            decide::AgencyUpsert::Update => {
                "UPDATE agencies SET parent_id = $2, path = $3, name = $4, kind = $5, region_code = $6, \
                 active = $7, created_at = $8, node_id = $9 WHERE id = $1"
            }
            decide::AgencyUpsert::Insert => {
                "INSERT INTO agencies (id, parent_id, path, name, kind, region_code, active, created_at, node_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            }
        };
        sqlx::query(sql)
            .bind(&a.id)
            .bind(a.parent_id.as_deref())
            .bind(&a.path)
            .bind(&a.name)
            .bind(&a.kind)
            .bind(a.region_code.as_deref())
            .bind(a.active)
            .bind(a.created_at)
            .bind(origin)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}
