//! `lapor keys …`: this node's signing and encryption keys. `rotate` and `revoke` author events in the
//! node's log and work while the node runs: every process of the node signs each event with the key its key
//! log holds valid at the event's sequence number, read in the authoring transaction, so the running node
//! signs with the new key from the rotation's next sequence number on, without a restart and without an
//! event slipping in between (see [`PeerStore::key_rotate`](crate::storage::PeerStore::key_rotate)).

use anyhow::bail;
use clap::Subcommand;
use lapor_federation::keys::{key_event_report_id, revocation_payload, rotation_payload};
use lapor_federation::EventKind;

use crate::config::Config;
use crate::federation::author;
use crate::federation::keys::{self as node_keys, NodeKeys};
use crate::storage::KeyRow;

/// `lapor keys …`
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Generate this node's first signing and encryption keys (`serve` also does it on first start).
    Generate,
    /// Print this node's current key id and public keys (what a hub operator enrols).
    Show,
    /// Replace the signing key: the old key signs a `key.rotated` event naming the new one, which signs
    /// everything after it. Works while the node runs (the running processes switch at that sequence number).
    Rotate,
    /// Revoke a key of this node from a sequence number on (for a leaked key: rotate first, then revoke
    /// the old key with the new one). Works while the node runs.
    Revoke {
        /// The key to revoke.
        #[arg(long)]
        key_id: String,
        /// First sequence number whose events signed by that key are refused.
        #[arg(long)]
        from_seq: u64,
    },
}

fn print_keys(k: &NodeKeys) {
    println!("key_id:      {}", k.key_id);
    println!("public_key:  {}", k.public_hex());
    println!("enc_public:  {}", k.enc_public_hex());
}

/// Runs `lapor keys …`.
pub async fn run(config: Config, action: KeysAction) -> anyhow::Result<()> {
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
            let node = super::open_node(config).await?;
            println!("node_id:     {}", node.fed.node_id);
            print_keys(&node.fed.keys());
            Ok(())
        }
        KeysAction::Rotate => {
            let node = super::open_node(config).await?;
            let old = node.fed.keys().key_id.clone();
            let new = NodeKeys::generate();
            // The files first: a running process reads the new secret from them the first time its key
            // log names the new key for an event it authors.
            node_keys::store_pair(&node.config.node.data_dir, &new)?;
            let draft = author::draft(
                &node,
                EventKind::KeyRotated,
                &key_event_report_id(node.id()),
                rotation_payload(&new.signing.verifying_key(), Some(new.enc.public())),
            );
            let event = node
                .store
                .key_rotate(
                    &draft,
                    &KeyRow {
                        origin: node.fed.node_id.clone(),
                        key_id: new.key_id.clone(),
                        public_key: new.public_hex(),
                        enc_public: Some(new.enc_public_hex()),
                        valid_from_seq: 0,
                        retired_after_seq: None,
                        revoked_from_seq: None,
                    },
                )
                .await?;
            let seq = event.event().origin_seq;
            let signed_by = event.event().key_id.clone();
            node_keys::make_current(&node.config.node.data_dir, &new.key_id)?;
            println!(
                "rotated at sequence number {seq}: {signed_by} retired, {} signs from {} \
                 / kunci diganti pada nomor urut {seq}",
                new.key_id,
                seq + 1
            );
            if signed_by != old {
                println!("(the key log named {signed_by} as current, not the key file's {old})");
            }
            print_keys(&new);
            Ok(())
        }
        KeysAction::Revoke { key_id, from_seq } => {
            let node = super::open_node(config).await?;
            let rows = node.store.key_list().await?;
            let Some(mut row) = rows
                .into_iter()
                .find(|r| r.origin == node.fed.node_id && r.key_id == key_id)
            else {
                bail!("this node has no key {key_id:?}");
            };
            let draft = author::draft(
                &node,
                EventKind::KeyRevoked,
                &key_event_report_id(node.id()),
                revocation_payload(&key_id, from_seq),
            );
            let event = node.store.event_append(&draft).await?;
            row.revoked_from_seq = Some(from_seq as i64);
            node.store.key_upsert(&row).await?;
            println!(
                "revoked {key_id} from sequence number {from_seq} (event {} at seq {})",
                event.id(),
                event.event().origin_seq
            );
            Ok(())
        }
    }
}
