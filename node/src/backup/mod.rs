//! `lapor backup` and `lapor restore`: one file holding everything a node is — its database (SQLite through
//! `VACUUM INTO`, a consistent copy taken while the node runs; PostgreSQL through `pg_dump`), its keys (its
//! identity) and its attachments — written with mode 0600, optionally sealed to an operator's key.
//!
//! The archive is a manifest line and the files one after the other:
//!
//! ```text
//! LAPOR-BACKUP 1\n
//! {"node_id":..,"backend":"sqlite"|"postgres","created_ms":..,"lapor":..,"files":[{"path","len","sha256"}]}\n
//! <bytes of each file, in manifest order>
//! ```
//!
//! A restore puts the database back, adds key files the data directory lacks (it never replaces one, so a key
//! made after the backup survives) and the attachments, and refuses while a node holds the data directory
//! ([`crate::lock`]) or, on PostgreSQL, while a `lapor` process is connected to the database. On its next start
//! a regional node takes back from the hub what it signed after the backup ([`crate::federation::recover`]).

pub mod db;
pub mod sealed;

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _};
use lapor_federation::seal::EncryptionSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// First line of a plain backup.
pub const MAGIC: &[u8] = b"LAPOR-BACKUP 1\n";
/// The database entry of each backend.
pub const SQLITE_ENTRY: &str = "db/lapor.db";
/// The `pg_dump --format=custom` entry.
pub const POSTGRES_ENTRY: &str = "db/postgres.dump";

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The node it was taken from.
    pub node_id: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// When, in Unix milliseconds.
    pub created_ms: i64,
    /// The `lapor` version that wrote it.
    pub lapor: String,
    /// The files, in the order their bytes follow.
    pub files: Vec<Entry>,
}

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Relative path (`db/...`, `keys/...`, `attachments/...`).
    pub path: String,
    /// Length in bytes.
    pub len: u64,
    /// Hex sha256 of the bytes.
    pub sha256: String,
}

/// A file to put in a backup: where it is now and its path in the archive.
#[derive(Debug, Clone)]
pub struct Source {
    /// On disk.
    pub from: PathBuf,
    /// In the archive.
    pub path: String,
}

/// Creates `path` for writing with mode 0600 (refusing to replace an existing file).
pub fn create_private(path: &Path) -> anyhow::Result<File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path).with_context(|| {
        if path.exists() {
            format!(
                "{} already exists; choose another file / berkas sudah ada",
                path.display()
            )
        } else {
            format!("creating {}", path.display())
        }
    })
}

fn hash_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = Sha256::new();
    let len = io::copy(&mut f, &mut h)?;
    Ok((len, hex::encode(h.finalize())))
}

/// Every file under `dir` (recursively) as sources under `prefix/`, sorted; nothing when `dir` is missing.
pub fn sources_under(dir: &Path, prefix: &str) -> anyhow::Result<Vec<Source>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![(dir.to_owned(), prefix.to_owned())];
    while let Some((d, p)) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push((entry.path(), format!("{p}/{name}")));
            } else if kind.is_file()
                && !Path::new(&name)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("tmp"))
            {
                out.push(Source {
                    from: entry.path(),
                    path: format!("{p}/{name}"),
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Writes the archive of `sources` to `out` (mode 0600, via a temporary file renamed at the end), sealed to
/// `encrypt_to` when given. Returns the manifest.
pub fn write(
    out: &Path,
    node_id: &str,
    backend: &str,
    created_ms: i64,
    sources: &[Source],
    encrypt_to: Option<[u8; 32]>,
) -> anyhow::Result<Manifest> {
    let mut files = Vec::new();
    for s in sources {
        let (len, sha256) = hash_file(&s.from)?;
        files.push(Entry {
            path: s.path.clone(),
            len,
            sha256,
        });
    }
    let manifest = Manifest {
        node_id: node_id.to_owned(),
        backend: backend.to_owned(),
        created_ms,
        lapor: crate::VERSION.to_owned(),
        files,
    };
    let partial = out.with_file_name(format!(
        ".{}.partial",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let _ = fs::remove_file(&partial);
    let file = create_private(&partial)?;
    let result = (|| -> anyhow::Result<()> {
        let mut w = BufWriter::new(file);
        match encrypt_to {
            Some(key) => {
                let mut s = sealed::SealWriter::new(&mut w, key)?;
                write_plain(&mut s, &manifest, sources)?;
                s.finish()?;
            }
            None => write_plain(&mut w, &manifest, sources)?,
        }
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&partial);
        return Err(e);
    }
    if out.exists() {
        let _ = fs::remove_file(&partial);
        bail!("{} already exists; choose another file", out.display());
    }
    fs::rename(&partial, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(manifest)
}

fn write_plain(w: &mut impl Write, manifest: &Manifest, sources: &[Source]) -> anyhow::Result<()> {
    w.write_all(MAGIC)?;
    serde_json::to_writer(&mut *w, manifest)?;
    w.write_all(b"\n")?;
    for (s, e) in sources.iter().zip(&manifest.files) {
        let mut f = File::open(&s.from).with_context(|| format!("reading {}", s.from.display()))?;
        let n = io::copy(&mut (&mut f).take(e.len), w)?;
        if n != e.len {
            bail!("{} changed while the backup was written", s.from.display());
        }
    }
    Ok(())
}

/// Whether a file is an encrypted backup (so the caller can ask for `--key`).
pub fn is_sealed(path: &Path) -> anyhow::Result<bool> {
    let mut head = vec![0u8; sealed::MAGIC.len()];
    let mut f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let n = f.read(&mut head)?;
    Ok(n == head.len() && head == sealed::MAGIC)
}

/// Unpacks a backup into `dir` (empty, private), checking every file's length and hash. `key` opens an
/// encrypted backup.
pub fn unpack(path: &Path, key: Option<EncryptionSecret>, dir: &Path) -> anyhow::Result<Manifest> {
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut r = BufReader::new(file);
    let mut head = vec![0u8; sealed::MAGIC.len()];
    let n = read_up_to(&mut r, &mut head)?;
    let reader: Box<dyn Read> = if n == head.len() && head == sealed::MAGIC {
        let Some(key) = key else {
            bail!(
                "{} is encrypted: give the operator's key file with --key / cadangan terenkripsi: \
                 sebutkan berkas kunci dengan --key",
                path.display()
            );
        };
        Box::new(sealed::OpenReader::new(r, key)?)
    } else {
        Box::new(io::Cursor::new(head[..n].to_vec()).chain(r))
    };
    let mut r = BufReader::new(reader);
    let mut magic = vec![0u8; MAGIC.len()];
    if read_up_to(&mut r, &mut magic)? != MAGIC.len() || magic != MAGIC {
        bail!(
            "{} is not a lapor backup / bukan berkas cadangan lapor",
            path.display()
        );
    }
    let mut line = Vec::new();
    (&mut r).take(16 << 20).read_until(b'\n', &mut line)?;
    let manifest: Manifest = serde_json::from_slice(&line)
        .with_context(|| format!("{}: the backup's manifest is damaged", path.display()))?;
    for e in &manifest.files {
        let rel = safe_relative(&e.path)?;
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut out = create_private(&to)?;
        let mut h = HashingWriter {
            inner: &mut out,
            hash: Sha256::new(),
        };
        let n = io::copy(&mut (&mut r).take(e.len), &mut h)
            .with_context(|| format!("{}: reading {}", path.display(), e.path))?;
        let digest = hex::encode(h.hash.finalize());
        if n != e.len || digest != e.sha256 {
            bail!(
                "{}: {} is damaged or cut off (expected {} bytes with sha256 {}, got {n} bytes) / berkas \
                 cadangan rusak",
                path.display(),
                e.path,
                e.len,
                e.sha256
            );
        }
        out.sync_all()?;
    }
    Ok(manifest)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

struct HashingWriter<'a, W: Write> {
    inner: &'a mut W,
    hash: Sha256,
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.hash.update(&data[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A path from a manifest, refused unless it is relative, without `..`, under `db/`, `keys/` or `attachments/`.
fn safe_relative(path: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(path);
    let ok = p.components().all(|c| matches!(c, Component::Normal(_)))
        && ["db/", "keys/", "attachments/"]
            .iter()
            .any(|top| path.starts_with(top));
    if !ok {
        bail!("the backup names a file outside the data directory: {path:?}");
    }
    Ok(p.to_owned())
}

/// Reads an operator's backup key file (hex of a 32-byte x25519 secret, mode 0600).
pub fn read_key_file(path: &Path) -> anyhow::Result<EncryptionSecret> {
    crate::config::check_secret_file(path)?;
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| {
            format!(
                "{} does not hold a backup key (64 hex digits)",
                path.display()
            )
        })?;
    Ok(EncryptionSecret::from_bytes(bytes))
}

/// Parses a public key given to `--encrypt-to` (64 hex digits).
pub fn parse_public_key(text: &str) -> anyhow::Result<[u8; 32]> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| {
            format!(
                "--encrypt-to {text:?} is not a public key (64 hex digits from `lapor backup-key`)"
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn archive_round_trips_plain_and_sealed_and_refuses_damage() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("keys")).unwrap();
        fs::write(src.join("db"), b"database bytes").unwrap();
        fs::write(src.join("keys/current"), b"ed25519-1").unwrap();
        let mut sources = vec![Source {
            from: src.join("db"),
            path: SQLITE_ENTRY.into(),
        }];
        sources.extend(sources_under(&src.join("keys"), "keys").unwrap());
        let key = EncryptionSecret::generate();
        for encrypt in [None, Some(key.public())] {
            let out = dir.path().join(format!("b-{}.lapor", encrypt.is_some()));
            write(&out, "kupang", "sqlite", 1, &sources, encrypt).unwrap();
            assert_eq!(
                fs::metadata(&out).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(is_sealed(&out).unwrap(), encrypt.is_some());
            let to = tempfile::tempdir().unwrap();
            let k = encrypt.map(|_| EncryptionSecret::from_bytes(key.to_bytes()));
            let m = unpack(&out, k, to.path()).unwrap();
            assert_eq!(m.node_id, "kupang");
            assert_eq!(
                fs::read(to.path().join(SQLITE_ENTRY)).unwrap(),
                b"database bytes"
            );
            assert_eq!(
                fs::read(to.path().join("keys/current")).unwrap(),
                b"ed25519-1"
            );
            if encrypt.is_some() {
                let err = unpack(&out, None, tempfile::tempdir().unwrap().path()).unwrap_err();
                assert!(err.to_string().contains("--key"), "{err}");
            } else {
                let mut bytes = fs::read(&out).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                fs::write(&out, &bytes).unwrap();
                let err = unpack(&out, None, tempfile::tempdir().unwrap().path()).unwrap_err();
                assert!(err.to_string().contains("damaged"), "{err}");
            }
        }
        assert!(safe_relative("../etc/passwd").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("keys/../../x").is_err());
        assert!(safe_relative("other/x").is_err());
    }
}
