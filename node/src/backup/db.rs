//! The database part of a backup: SQLite's `VACUUM INTO` (a consistent copy read in one transaction while the
//! node keeps writing) and PostgreSQL's `pg_dump --format=custom` / `pg_restore`. The PostgreSQL password is
//! passed in `PGPASSWORD`, never on a command line other users can read with `ps`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

use crate::storage::redact_url;

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl Target {
    /// From a database URL as [`crate::config::Config::database_url`] gives it.
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres(url.to_owned())
        } else {
            Self::Sqlite(PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(url)))
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The archive entry of this backend's dump.
    pub fn entry(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => super::SQLITE_ENTRY,
            Self::Postgres(_) => super::POSTGRES_ENTRY,
        }
    }
}

/// Writes a consistent copy of the database to `to` (which must not exist).
pub fn dump(target: &Target, to: &Path) -> anyhow::Result<()> {
    match target {
        Target::Sqlite(path) => {
            if !path.exists() {
                bail!("there is no database at {} to back up", path.display());
            }
            let conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .with_context(|| format!("opening {}", path.display()))?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.execute("VACUUM INTO ?1", [to.to_string_lossy()])
                .with_context(|| format!("copying {} (VACUUM INTO)", path.display()))?;
            Ok(())
        }
        Target::Postgres(url) => {
            let (url, password) = split_password(url)?;
            let mut cmd = Command::new("pg_dump");
            cmd.args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                .arg(to)
                .arg("--dbname")
                .arg(&url);
            run(cmd, password.as_deref(), "pg_dump", &url)
        }
    }
}

/// Puts a dump made by [`dump`] back: the SQLite file replaced (with its WAL and shared-memory files removed),
/// or the PostgreSQL database's objects dropped and recreated in one transaction.
pub fn restore(target: &Target, from: &Path) -> anyhow::Result<()> {
    match target {
        Target::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let staged = path.with_extension("db.restoring");
            let _ = std::fs::remove_file(&staged);
            std::fs::copy(from, &staged)
                .with_context(|| format!("writing {}", staged.display()))?;
            std::fs::File::open(&staged)?.sync_all()?;
            for companion in ["-wal", "-shm"] {
                let mut p = path.as_os_str().to_owned();
                p.push(companion);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            std::fs::rename(&staged, path)
                .with_context(|| format!("replacing {}", path.display()))?;
            Ok(())
        }
        Target::Postgres(url) => {
            let (url, password) = split_password(url)?;
            let mut cmd = Command::new("pg_restore");
            cmd.args([
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                "--dbname",
            ])
            .arg(&url)
            .arg(from);
            run(cmd, password.as_deref(), "pg_restore", &url)
        }
    }
}

/// The URL without its password, and the password.
fn split_password(url: &str) -> anyhow::Result<(String, Option<String>)> {
    let mut u = url::Url::parse(url)
        .with_context(|| format!("database URL {} is not a URL", redact_url(url)))?;
    let password = u.password().map(percent_decode);
    let _ = u.set_password(None);
    Ok((u.to_string(), password))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn run(mut cmd: Command, password: Option<&str>, tool: &str, url: &str) -> anyhow::Result<()> {
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "{tool} is not installed; install the PostgreSQL client of the server's major version \
                 (Debian: apt-get install postgresql-client) / {tool} belum terpasang"
            )
        } else {
            anyhow::Error::new(e).context(format!("running {tool}"))
        }
    })?;
    if !out.status.success() {
        bail!(
            "{tool} failed for {}: {}",
            redact_url(url),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_leave_the_url() {
        let (url, pw) = split_password("postgres://lapor:p%40ss@db.internal:5432/lapor").unwrap();
        assert_eq!(url, "postgres://lapor@db.internal:5432/lapor");
        assert_eq!(pw.as_deref(), Some("p@ss"));
        let (url, pw) = split_password("postgres://postgres@127.0.0.1/test").unwrap();
        assert_eq!(url, "postgres://postgres@127.0.0.1/test");
        assert!(pw.is_none());
        assert_eq!(
            Target::of("sqlite:///x/lapor.db"),
            Target::Sqlite("/x/lapor.db".into())
        );
    }
}
