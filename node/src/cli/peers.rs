//! `lapor peers …`: enrolling the hub at a regional node, or a regional node at the hub, with its key.

use anyhow::{bail, Context};
use clap::Subcommand;
use lapor_federation::envelope::parse_registration_key_hex;
use lapor_federation::keys::key_id_for;

use crate::config::Config;
use crate::storage::{KeyRow, PeerRecord};

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
        /// `hub`, `regional` or `ombudsman` (an Ombudsman node, the target of escalations).
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
    /// Remove a peer: nothing more is pushed to it or accepted from it (a running node notices within
    /// `federation.poll_ms`); its keys stay so that its events held here still verify.
    Remove {
        /// Node id.
        node_id: String,
    },
}

/// Runs `lapor peers …`.
pub async fn run(config: Config, action: PeersAction) -> anyhow::Result<()> {
    let node = super::open_node(config).await?;
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
            if !matches!(role.as_str(), "hub" | "regional" | "ombudsman") {
                bail!("--role must be `hub`, `regional` or `ombudsman`, not `{role}`");
            }
            if node_id == node.fed.node_id {
                bail!("{node_id} is this node itself");
            }
            let parsed = url::Url::parse(&url).with_context(|| format!("--url {url}"))?;
            node.config
                .federation
                .check_peer_url(&parsed)
                .context("--url")?;
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
            node.store.key_upsert(&key_row).await?;
            node.store
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
                    node.now(),
                ))
                .await?;
            node.fed.reload(&node.store).await?;
            let queued = if node.fed.destinations().contains(&node_id) {
                node.store
                    .outbox_backfill(&node_id, &node.fed.node_id, node.now())
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
        PeersAction::Remove { node_id } => {
            if !node.store.peer_remove(&node_id).await? {
                bail!("no peer {node_id:?} is enrolled here (see `lapor peers list`)");
            }
            println!(
                "peer {node_id} removed with what was queued for it; a running node stops pushing to it and \
                 refuses its pushes within federation.poll_ms"
            );
            Ok(())
        }
        PeersAction::List => {
            for p in node.store.peer_list().await? {
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
