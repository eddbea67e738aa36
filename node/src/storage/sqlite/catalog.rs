//! [`CatalogStore`] on SQLite: agencies (this node's and those other nodes publish) and categories.

use async_trait::async_trait;
use lapor_schemas::api::Category;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{agency_from_row, category_from_row, query_all, AGENCY_COLS};
use super::SqliteStore;
use crate::domain::AgencyRecord;
use crate::storage::{decide, CatalogStore, Result, StorageError};

#[async_trait]
impl CatalogStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(agency.id = %a.id), err(level = "debug"))]
    async fn agency_create(&self, a: &AgencyRecord) -> Result<()> {
        let a = a.clone();
        self.write(move |c| {
            c.execute(
                &format!(
                    "INSERT INTO agencies ({AGENCY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    a.id,
                    a.parent_id,
                    a.path,
                    a.name,
                    a.kind,
                    a.region_code,
                    a.active,
                    a.created_at,
                    a.node_id
                ],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(agency.id = %a.id), err(level = "debug"))]
    async fn agency_update(&self, a: &AgencyRecord) -> Result<()> {
        let a = a.clone();
        self.write(move |c| {
            let n = c.execute(
                "UPDATE agencies SET name = ?2, region_code = ?3, active = ?4 WHERE id = ?1",
                params![a.id, a.name, a.region_code, a.active],
            )?;
            if n == 0 {
                return Err(StorageError::NotFound);
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(agency.id = %id), err(level = "debug"))]
    async fn agency_get(&self, id: &str) -> Result<Option<AgencyRecord>> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {AGENCY_COLS} FROM agencies WHERE id = ?1"),
                [id],
                agency_from_row,
            )
            .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn agency_list(&self) -> Result<Vec<AgencyRecord>> {
        self.read(|c| {
            query_all(
                c,
                &format!("SELECT {AGENCY_COLS} FROM agencies ORDER BY path"),
                [],
                agency_from_row,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(category.id = %cat.id), err(level = "debug"))]
    async fn category_upsert(&self, cat: &Category) -> Result<()> {
        let cat = cat.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO categories (id, name_id, name_en, active) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO UPDATE SET name_id = excluded.name_id, name_en = excluded.name_en, \
                 active = excluded.active",
                params![cat.id, cat.name_id, cat.name_en, cat.active],
            )?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn category_seed(&self, categories: &[Category]) -> Result<()> {
        let cats = categories.to_vec();
        self.write(move |c| {
            for cat in &cats {
                c.execute(
                    "INSERT INTO categories (id, name_id, name_en, active) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (id) DO NOTHING",
                    params![cat.id, cat.name_id, cat.name_en, cat.active],
                )?;
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(category.id = %id), err(level = "debug"))]
    async fn category_get(&self, id: &str) -> Result<Option<Category>> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT id, name_id, name_en, active FROM categories WHERE id = ?1",
                [id],
                category_from_row,
            )
            .optional()?)
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn category_list(&self) -> Result<Vec<Category>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT id, name_id, name_en, active FROM categories ORDER BY id",
                [],
                category_from_row,
            )
        })
        .await
    }
}

/// Replaces what this node knows of `origin`'s agencies. Ids this node uses for its own agencies are skipped.
pub(super) fn replace_remote_agencies(
    c: &Connection,
    origin: &str,
    agencies: &[AgencyRecord],
) -> Result<()> {
    c.execute(
        "UPDATE agencies SET active = 0 WHERE node_id = ?1",
        [origin],
    )?;
    for a in agencies {
        let local: Option<Option<String>> = c
            .query_row("SELECT node_id FROM agencies WHERE id = ?1", [&a.id], |r| {
                r.get(0)
            })
            .optional()?;
        match decide::agency_upsert(
            local.is_some(),
            local.as_ref().and_then(Option::as_deref),
            origin,
        ) {
            decide::AgencyUpsert::Skip(why) => {
                tracing::warn!(agency = %a.id, %origin, why, "published agency ignored");
            }
            decide::AgencyUpsert::Update => {
                c.execute(
                    "UPDATE agencies SET node_id = ?2, parent_id = ?3, path = ?4, name = ?5, kind = ?6, \
                     region_code = ?7, active = ?8 WHERE id = ?1",
                    params![a.id, origin, a.parent_id, a.path, a.name, a.kind, a.region_code, a.active],
                )?;
            }
            decide::AgencyUpsert::Insert => {
                c.execute(
                    "INSERT INTO agencies (id, parent_id, path, name, kind, region_code, active, created_at, node_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![a.id, a.parent_id, a.path, a.name, a.kind, a.region_code, a.active, a.created_at, origin],
                )?;
            }
        }
    }
    Ok(())
}
