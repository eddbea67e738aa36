//! `lapor open311 keys add|list|revoke`: API keys of Open311 client apps. Safe while the node runs (the key
//! table is read on every request).

use anyhow::bail;
use clap::Subcommand;

use crate::config::Config;
use crate::open311::keys;

/// `lapor open311 …`
#[derive(Debug, Subcommand)]
pub enum Open311Action {
    /// API keys of client apps.
    Keys {
        /// What to do.
        #[command(subcommand)]
        action: KeyAction,
    },
}

/// `lapor open311 keys …`
#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Issue a key for a client app; the key is printed once (only its hash is stored).
    Add {
        /// The client app's name.
        #[arg(long)]
        app: String,
        /// Who runs the app (e-mail or name).
        #[arg(long)]
        contact: Option<String>,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key by its id (o311_...): requests with it are refused from now on.
    Revoke {
        /// The key id.
        id: String,
    },
}

/// Runs `lapor open311 …`.
pub async fn run(config: Config, action: Open311Action) -> anyhow::Result<()> {
    let Open311Action::Keys { action } = action;
    let node = super::open_node(config).await?;
    match action {
        KeyAction::Add { app, contact } => {
            let (record, key) = keys::issue(&node, &app, contact.as_deref(), "cli").await?;
            println!("id:       {}", record.id);
            println!("app:      {}", record.app_name);
            println!("api_key:  {key}");
            println!("(the key is shown only now; only its sha256 is stored)");
        }
        KeyAction::List => {
            let list = node.store.open311_key_list().await?;
            if list.is_empty() {
                println!("no Open311 API keys");
            }
            for k in list {
                let state = match k.revoked_at {
                    Some(t) => format!("revoked {}", node.time(t).to_rfc3339()),
                    None => "active".into(),
                };
                println!(
                    "{}\t{}\t{}\tissued {} by {}\t{state}",
                    k.id,
                    k.app_name,
                    k.contact.as_deref().unwrap_or("-"),
                    node.time(k.created_at).to_rfc3339(),
                    k.created_by
                );
            }
        }
        KeyAction::Revoke { id } => {
            if !node.store.open311_key_revoke(&id, node.now()).await? {
                bail!("no active Open311 key with id {id}");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}
