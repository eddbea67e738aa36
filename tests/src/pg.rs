//! A fresh PostgreSQL database for one multi-process test, next to the one `TEST_DATABASE_URL` names (as the
//! in-process tests do), created and dropped with `psql`. `None` when `TEST_DATABASE_URL` is unset.

use std::process::Command;

use anyhow::{bail, Context as _};

/// A database that is dropped (with any connection still open) when this value is.
#[derive(Debug)]
pub struct PgDatabase {
    /// Its URL.
    pub url: String,
    admin: String,
    name: String,
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .context("running psql (Debian: apt-get install postgresql-client)")?;
    if !out.status.success() {
        bail!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

impl PgDatabase {
    /// A new empty database named `lapor_<tag>_<random>`, or `None` without `TEST_DATABASE_URL`.
    pub fn create(tag: &str) -> anyhow::Result<Option<Self>> {
        let Some(db) = Self::reserve(tag)? else {
            return Ok(None);
        };
        psql(&db.admin, &format!("CREATE DATABASE {}", db.name))?;
        Ok(Some(db))
    }

    /// Like [`PgDatabase::create`] without creating it (the code under test does), still dropped at the end.
    pub fn reserve(tag: &str) -> anyhow::Result<Option<Self>> {
        let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
            return Ok(None);
        };
        let mut url = url::Url::parse(&base).context("TEST_DATABASE_URL")?;
        let name = format!(
            "lapor_{tag}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .subsec_nanos()
        );
        url.set_path("/postgres");
        let admin = url.to_string();
        url.set_path(&format!("/{name}"));
        Ok(Some(Self {
            url: url.to_string(),
            admin,
            name,
        }))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}
