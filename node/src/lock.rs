//! The data directory's lock: `lapor serve` holds an exclusive lock on `<data_dir>/lapor.lock` while it runs
//! (the file also names its process id), so `lapor restore` can refuse to overwrite a running node and a second
//! `lapor serve` on the same directory refuses to start. The operating system drops the lock when the process
//! ends, however it ends (SIGKILL included), so a stale file never blocks anything.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The lock file under a data directory.
pub fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("lapor.lock")
}

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock of `data_dir` (which must exist) and writes this process id into it. Fails, naming the
    /// directory and the holder's process id, when another process holds it.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        let path = lock_path(data_dir);
        let mut file = open(&path)?;
        if let Err(e) = file.try_lock() {
            let holder = holder_of(&path).unwrap_or_default();
            return Err(match e {
                std::fs::TryLockError::WouldBlock => anyhow::anyhow!(
                    "data directory {} is in use by a running lapor node{holder} / direktori data {} \
                     sedang dipakai node lapor yang berjalan{holder}",
                    data_dir.display(),
                    data_dir.display()
                ),
                std::fs::TryLockError::Error(e) => {
                    anyhow::Error::new(e).context(format!("locking {}", path.display()))
                }
            });
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())?;
        file.sync_all()?;
        Ok(Self { _file: file, path })
    }

    /// Takes a shared lock of `data_dir`: several `lapor serve` processes of a node on PostgreSQL share one
    /// data directory (keys, attachments), and hold it shared; `lapor restore` and an SQLite node, which
    /// take it exclusively, are refused while any of them runs.
    pub fn acquire_shared(data_dir: &Path) -> anyhow::Result<Self> {
        let path = lock_path(data_dir);
        let file = open(&path)?;
        if let Err(e) = file.try_lock_shared() {
            let holder = holder_of(&path).unwrap_or_default();
            return Err(match e {
                std::fs::TryLockError::WouldBlock => anyhow::anyhow!(
                    "data directory {} is held exclusively by another lapor process{holder} (an SQLite \
                     node or a restore) / direktori data {} dipakai khusus oleh proses lapor lain{holder}",
                    data_dir.display(),
                    data_dir.display()
                ),
                std::fs::TryLockError::Error(e) => {
                    anyhow::Error::new(e).context(format!("locking {}", path.display()))
                }
            });
        }
        Ok(Self { _file: file, path })
    }

    /// Where the lock lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path) -> anyhow::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// ` (pid N)` from a lock file, for messages.
fn holder_of(path: &Path) -> Option<String> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    let pid = text.trim();
    (!pid.is_empty()).then(|| format!(" (pid {pid})"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let held = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("in use by a running lapor node")
                && err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        DataDirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn shared_holders_coexist_and_exclude_an_exclusive_one() {
        let dir = tempfile::tempdir().unwrap();
        let a = DataDirLock::acquire_shared(dir.path()).unwrap();
        let b = DataDirLock::acquire_shared(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("in use by a running lapor node"), "{err}");
        drop(a);
        assert!(DataDirLock::acquire(dir.path()).is_err());
        drop(b);
        let held = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire_shared(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("held exclusively"), "{err}");
        drop(held);
    }
}
