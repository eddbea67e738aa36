//! `lapor keys …`, `lapor peers …` and `lapor federation status`: the operator's federation commands. They
//! open the node's database and key directory directly, so they run on the node's host with its config.
//! `keys rotate` and `keys revoke` author events in the node's log: run them while the node is stopped.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Subcommand;
use lapor_federation::envelope::parse_registration_key_hex;
use lapor_federation::keys::{
    key_event_report_id, key_id_for, revocation_payload, rotation_payload,
};

use crate::config::Config;
use crate::domain::SystemClock;
use crate::federation::keys::{self as node_keys, NodeKeys};
use crate::service::App;
use crate::storage::{EventDraft, KeyRow, PeerRecord};

/// `lapor keys …`
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Generate this node's first signing and encryption keys (`serve` also does it on first start).
    Generate,
    /// Print this node's current key id and public keys (what a hub operator enrols).
    Show,
    /// Replace the signing key: the old key signs a `key.rotated` event naming the new one, which signs
    /// everything after it. Stop the node first.
    Rotate,
    /// Revoke a key of this node from a sequence number on (for a leaked key). Stop the node first.
    Revoke {
        /// The key to revoke.
        #[arg(long)]
        key_id: String,
        /// First sequence number whose events signed by that key are refused.
        #[arg(long)]
        from_seq: u64,
    },
}

/// `lapor peers …`
#[derive(Debug, Subcommand)]
pub enum PeersAction {
    /// Enrol a node (at the hub) or the hub (at a regional node) with its key.
    Add {
        /// Node id.
        #[arg(long)]
        node_id: String,
        /// Name.
        #[arg(long)]
        name: Option<String>,
        /// Base URL, e.g. https://lapor.kupangkota.go.id
        #[arg(long)]
        url: String,
        /// `hub` or `regional`.
        #[arg(long, default_value = "regional")]
        role: String,
        /// Its ed25519 public key (64 hex digits), from `lapor keys show` on that node.
        #[arg(long)]
        public_key: String,
        /// Its x25519 encryption public key (64 hex digits).
        #[arg(long)]
        enc_public: Option<String>,
        /// First sequence number the key signs (1 for a new node).
        #[arg(long, default_value_t = 1)]
        valid_from_seq: u64,
        /// Region codes it serves, comma-separated (e.g. 53.71).
        #[arg(long, default_value = "")]
        regions: String,
    },
    /// List known peers.
    List,
}

/// `lapor federation …`
#[derive(Debug, Subcommand)]
pub enum FederationAction {
    /// Per peer: cursor, backlog, lag, last error; per origin: head and frozen state; quarantine.
    Status,
}

async fn open_app(config: Config) -> anyhow::Result<App> {
    let url = config.database_url()?;
    let store = crate::storage::open(&url)
        .await
        .with_context(|| format!("opening {}", crate::storage::redact_url(&url)))?;
    let app = App::new(config, store, Arc::new(SystemClock))?;
    app.init_storage()
        .await
        .map_err(|e| anyhow::anyhow!("initialising storage: {e}"))?;
    Ok(app)
}

fn print_keys(k: &NodeKeys) {
    println!("key_id:      {}", k.key_id);
    println!("public_key:  {}", k.public_hex());
    println!("enc_public:  {}", k.enc_public_hex());
}

/// Runs `lapor keys …`.
pub async fn keys(config: Config, action: KeysAction) -> anyhow::Result<()> {
    match action {
        KeysAction::Generate => {
            let k = node_keys::generate(&config.node.data_dir)?;
            println!(
                "generated keys in {}",
                node_keys::key_dir(&config.node.data_dir).display()
            );
            print_keys(&k);
            Ok(())
        }
        KeysAction::Show => {
            let app = open_app(config).await?;
            println!("node_id:     {}", app.fed.node_id);
            print_keys(&app.fed.keys);
            Ok(())
        }
        KeysAction::Rotate => {
            let app = open_app(config).await?;
            let new = NodeKeys::generate();
            node_keys::store_pair(&app.config.node.data_dir, &new)?;
            let draft = EventDraft {
                signer: app.fed.signer.clone(),
                kind: "key.rotated".into(),
                report_id: key_event_report_id(&app.fed.node_id),
                payload: rotation_payload(&new.signing.verifying_key(), Some(new.enc.public())),
                blobs: Vec::new(),
                authored_at: app.now(),
                destinations: app.fed.destinations(),
                consumes: None,
                epoch: None,
                transfer: None,
                pending: false,
            };
            let event = app.store.event_append(&draft).await?;
            let seq = event.event().origin_seq as i64;
            let old = app.fed.keys.key_id.clone();
            let mut rows = app.store.key_list().await?;
            if let Some(row) = rows
                .iter_mut()
                .find(|r| r.origin == app.fed.node_id && r.key_id == old)
            {
                row.retired_after_seq = Some(seq);
                app.store.key_upsert(row).await?;
            }
            app.store
                .key_upsert(&KeyRow {
                    origin: app.fed.node_id.clone(),
                    key_id: new.key_id.clone(),
                    public_key: new.public_hex(),
                    enc_public: Some(new.enc_public_hex()),
                    valid_from_seq: seq + 1,
                    retired_after_seq: None,
                    revoked_from_seq: None,
                })
                .await?;
            node_keys::make_current(&app.config.node.data_dir, &new.key_id)?;
            println!(
                "rotated at sequence number {seq}: {old} retired, {} signs from {}",
                new.key_id,
                seq + 1
            );
            print_keys(&new);
            Ok(())
        }
        KeysAction::Revoke { key_id, from_seq } => {
            let app = open_app(config).await?;
            let rows = app.store.key_list().await?;
            let Some(mut row) = rows
                .into_iter()
                .find(|r| r.origin == app.fed.node_id && r.key_id == key_id)
            else {
                bail!("this node has no key {key_id:?}");
            };
            let draft = EventDraft {
                signer: app.fed.signer.clone(),
                kind: "key.revoked".into(),
                report_id: key_event_report_id(&app.fed.node_id),
                payload: revocation_payload(&key_id, from_seq),
                blobs: Vec::new(),
                authored_at: app.now(),
                destinations: app.fed.destinations(),
                consumes: None,
                epoch: None,
                transfer: None,
                pending: false,
            };
            let event = app.store.event_append(&draft).await?;
            row.revoked_from_seq = Some(from_seq as i64);
            app.store.key_upsert(&row).await?;
            println!(
                "revoked {key_id} from sequence number {from_seq} (event {} at seq {})",
                event.id(),
                event.event().origin_seq
            );
            Ok(())
        }
    }
}

/// Runs `lapor peers …`.
pub async fn peers(config: Config, action: PeersAction) -> anyhow::Result<()> {
    let app = open_app(config).await?;
    match action {
        PeersAction::Add {
            node_id,
            name,
            url,
            role,
            public_key,
            enc_public,
            valid_from_seq,
            regions,
        } => {
            if !matches!(role.as_str(), "hub" | "regional") {
                bail!("--role must be `hub` or `regional`, not `{role}`");
            }
            if node_id == app.fed.node_id {
                bail!("{node_id} is this node itself");
            }
            let parsed = url::Url::parse(&url).with_context(|| format!("--url {url}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                bail!("--url must be http or https");
            }
            let key = parse_registration_key_hex(&public_key)
                .map_err(|e| anyhow::anyhow!("--public-key: {e}"))?;
            let key_row = KeyRow {
                origin: node_id.clone(),
                key_id: key_id_for(&key),
                public_key: public_key.clone(),
                enc_public: enc_public.clone(),
                valid_from_seq: valid_from_seq as i64,
                retired_after_seq: None,
                revoked_from_seq: None,
            };
            crate::federation::key_entry(&key_row)?;
            app.store.key_upsert(&key_row).await?;
            app.store
                .peer_upsert(&PeerRecord::new(
                    &node_id,
                    name.as_deref().unwrap_or(&node_id),
                    &url,
                    &role,
                    regions
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    enc_public,
                    app.now(),
                ))
                .await?;
            app.fed.reload(&app.store).await?;
            let queued = if app.fed.destinations().contains(&node_id) {
                app.store
                    .outbox_backfill(&node_id, &app.fed.node_id, app.now())
                    .await?
            } else {
                0
            };
            println!(
                "peer {node_id} enrolled with key {}; {queued} earlier events of this node queued for it",
                key_row.key_id
            );
            Ok(())
        }
        PeersAction::List => {
            for p in app.store.peer_list().await? {
                println!(
                    "{}\t{}\t{}\t{}\tregions={}",
                    p.node_id,
                    p.role,
                    p.base_url,
                    p.name,
                    p.region_codes.join(",")
                );
            }
            Ok(())
        }
    }
}

/// The text of `lapor federation status`.
pub async fn status_text(app: &App) -> anyhow::Result<String> {
    let now = app.now();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "node {} ({:?}), key {}",
        app.fed.node_id, app.fed.role, app.fed.keys.key_id
    );
    let _ = writeln!(out, "\npeers:");
    for p in app.store.peer_list().await? {
        let (backlog, oldest) = app.store.outbox_backlog(&p.node_id, p.push_cursor).await?;
        let lag = oldest.map_or_else(
            || "0s".to_owned(),
            |t| format!("{}s", (now - t).max(0) / 1000),
        );
        let last = p.last_success_at.map_or_else(
            || "never".to_owned(),
            |t| format!("{}s ago", (now - t).max(0) / 1000),
        );
        let _ = writeln!(
            out,
            "  {} [{}] {}\n    cursor {}  backlog {}  lag {}  last success {}  failures {}  refused {}\n    last error: {}",
            p.node_id,
            p.role,
            p.base_url,
            p.push_cursor,
            backlog,
            lag,
            last,
            p.failures,
            p.rejected_total,
            p.last_error.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(out, "\norigins:");
    for h in app.store.origin_heads().await? {
        let _ = writeln!(
            out,
            "  {}  head {}{}",
            h.origin,
            h.head_seq,
            if h.frozen {
                format!("  FROZEN: {}", h.frozen_reason.unwrap_or_default())
            } else {
                String::new()
            }
        );
    }
    let inbox = app.store.inbox_load(100_000).await?.len();
    let quarantine = app.store.quarantine_list(20).await?;
    let _ = writeln!(
        out,
        "\ninbox: {inbox} waiting\nquarantine (latest {}):",
        quarantine.len()
    );
    for q in quarantine {
        let _ = writeln!(
            out,
            "  {} {}#{}  {}: {}",
            q.event_id, q.origin, q.origin_seq, q.code, q.reason
        );
    }
    let eq = app.store.equivocation_list().await?;
    let _ = writeln!(out, "equivocations: {}", eq.len());
    for e in eq {
        let _ = writeln!(
            out,
            "  {}#{}: {} vs {}",
            e.origin, e.origin_seq, e.first_id, e.second_id
        );
    }
    Ok(out)
}

/// Runs `lapor federation …`.
pub async fn federation(config: Config, action: FederationAction) -> anyhow::Result<()> {
    let app = open_app(config).await?;
    match action {
        FederationAction::Status => print!("{}", status_text(&app).await?),
    }
    Ok(())
}
