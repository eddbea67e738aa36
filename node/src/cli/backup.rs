//! `lapor backup`, `lapor restore` and `lapor backup-key`: see [`crate::backup`] for the file and its rules.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::backup::{self, db::Target};
use crate::config::Config;
use crate::federation::keys as node_keys;
use crate::lock::DataDirLock;

/// Writes a backup of the node `config` names to `out`.
pub fn backup(config: &Config, out: &Path, encrypt_to: Option<&str>) -> anyhow::Result<()> {
    let recipient = encrypt_to.map(backup::parse_public_key).transpose()?;
    let target = Target::of(&config.database_url()?);
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    if out.exists() {
        bail!(
            "{} already exists; choose another file / berkas sudah ada",
            out.display()
        );
    }
    let staging = tempfile::Builder::new()
        .prefix(".lapor-backup-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a staging directory in {}", parent.display()))?;
    let dump = staging.path().join("db");
    backup::db::dump(&target, &dump)?;
    let data_dir = &config.node.data_dir;
    let mut sources = vec![backup::Source {
        from: dump,
        path: target.entry().to_owned(),
    }];
    sources.extend(backup::sources_under(
        &node_keys::key_dir(data_dir),
        "keys",
    )?);
    sources.extend(backup::sources_under(
        &data_dir.join("attachments"),
        "attachments",
    )?);
    let now = chrono::Utc::now().timestamp_millis();
    let manifest = backup::write(
        out,
        &config.node.id,
        target.backend(),
        now,
        &sources,
        recipient,
    )?;
    let bytes: u64 = manifest.files.iter().map(|f| f.len).sum();
    let keys = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("keys/"))
        .count();
    println!(
        "backup of node {} ({}) written to {} (mode 0600): database, {keys} key files, {} attachments, {bytes} \
         bytes{}",
        config.node.id,
        target.backend(),
        out.display(),
        manifest
            .files
            .iter()
            .filter(|f| f.path.starts_with("attachments/"))
            .count(),
        if recipient.is_some() {
            ", encrypted to the operator key"
        } else {
            "; it holds reporter identities and this node's secret keys: keep it private or use --encrypt-to"
        }
    );
    Ok(())
}

/// Restores `file` into the node `config` names; refuses while the node runs.
pub async fn restore(config: &Config, file: &Path, key: Option<&Path>) -> anyhow::Result<()> {
    let key = key.map(backup::read_key_file).transpose()?;
    if backup::is_sealed(file)? && key.is_none() {
        bail!(
            "{} is encrypted: give the operator's key file with --key / cadangan terenkripsi: sebutkan \
             berkas kunci dengan --key",
            file.display()
        );
    }
    let data_dir = &config.node.data_dir;
    create_private_dir(data_dir)?;
    let _lock = DataDirLock::acquire(data_dir).context(
        "refusing to restore over a running node: stop it first (systemctl stop lapor) / hentikan node dulu",
    )?;
    let target = Target::of(&config.database_url()?);
    if let Target::Postgres(url) = &target {
        refuse_if_connected(url).await?;
    }
    let staging = tempfile::Builder::new()
        .prefix(".lapor-restore-")
        .tempdir_in(data_dir)?;
    let manifest = backup::unpack(file, key, staging.path())?;
    if manifest.node_id != config.node.id {
        bail!(
            "{} is a backup of node `{}`, but this configuration is node `{}` / cadangan ini milik node lain",
            file.display(),
            manifest.node_id,
            config.node.id
        );
    }
    if manifest.backend != target.backend() {
        bail!(
            "{} holds a {} database but this node is configured for {}; restore it into a node of the same \
             backend",
            file.display(),
            manifest.backend,
            target.backend()
        );
    }
    backup::db::restore(&target, &staging.path().join(target.entry()))?;
    let keys = restore_keys(&staging.path().join("keys"), &node_keys::key_dir(data_dir))?;
    let attachments = copy_missing(
        &staging.path().join("attachments"),
        &data_dir.join("attachments"),
    )?;
    println!(
        "restored node {} ({}) from {} taken at {}: database, {keys}, {attachments} attachments added. On \
         its next start a regional node first takes back from the hub what it signed after the backup.",
        manifest.node_id,
        manifest.backend,
        file.display(),
        chrono::DateTime::from_timestamp_millis(manifest.created_ms)
            .map_or_else(|| manifest.created_ms.to_string(), |t| t.to_rfc3339()),
    );
    Ok(())
}

/// Generates an operator backup key: the secret into `out` (mode 0600), the public key printed.
pub fn keygen(out: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let secret = lapor_federation::seal::EncryptionSecret::generate();
    let mut f = backup::create_private(out)?;
    writeln!(f, "{}", hex::encode(secret.to_bytes()))?;
    f.sync_all()?;
    println!(
        "backup key written to {} (mode 0600); keep it off the node.",
        out.display()
    );
    println!(
        "public key (for lapor backup --encrypt-to): {}",
        hex::encode(secret.public())
    );
    Ok(())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Refuses when a `lapor` process (every node connects as `application_name = lapor`) is connected to the
/// database: on PostgreSQL the node may run on another machine than the restore.
async fn refuse_if_connected(url: &str) -> anyhow::Result<()> {
    use sqlx::ConnectOptions as _;
    use std::str::FromStr as _;
    let mut conn = sqlx::postgres::PgConnectOptions::from_str(url)?
        .application_name("lapor-restore")
        .connect()
        .await
        .with_context(|| {
            format!(
                "connecting to PostgreSQL at {}",
                crate::storage::redact_url(url)
            )
        })?;
    let clients: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT host(client_addr) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'lapor' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut conn)
    .await?;
    if !clients.is_empty() {
        let hosts: Vec<String> = clients
            .into_iter()
            .map(|(h,)| h.unwrap_or_else(|| "local socket".into()))
            .collect();
        bail!(
            "refusing to restore: {} lapor connection(s) to this database are open (from {}); stop every \
             node using it first / hentikan semua node yang memakai basis data ini",
            hosts.len(),
            hosts.join(", ")
        );
    }
    Ok(())
}

/// Installs the backup's keys. A data directory that already holds the backup's current key is the same
/// node's: only missing key files are added (a key rotated after the backup stays current). One holding other
/// keys only (a node started once on a new machine before the restore) has them moved to
/// `keys.before-restore-<time>` and the backup's installed.
fn restore_keys(from: &Path, to: &Path) -> anyhow::Result<String> {
    let current = std::fs::read_to_string(from.join("current")).unwrap_or_default();
    let current = current.trim();
    let same_node = !current.is_empty() && to.join(format!("{current}.ed25519")).exists();
    let mut note = String::new();
    if to.exists() && !same_node && std::fs::read_dir(to)?.next().is_some() {
        let aside = to.with_file_name(format!(
            "keys.before-restore-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        ));
        std::fs::rename(to, &aside)?;
        note = format!(" (the keys that were there moved to {})", aside.display());
    }
    let n = copy_missing(from, to)?;
    Ok(format!("{n} key files added{note}"))
}

/// Copies every file under `from` that `to` lacks (mode 0600); returns how many.
fn copy_missing(from: &Path, to: &Path) -> anyhow::Result<usize> {
    let mut n = 0;
    for s in backup::sources_under(from, "")? {
        let rel = s.path.trim_start_matches('/');
        let dest = to.join(rel);
        if dest.exists() {
            continue;
        }
        if let Some(parent) = dest.parent() {
            create_private_dir(parent)?;
        }
        let mut out = backup::create_private(&dest)?;
        std::io::copy(&mut std::fs::File::open(&s.from)?, &mut out)?;
        out.sync_all()?;
        n += 1;
    }
    Ok(n)
}
