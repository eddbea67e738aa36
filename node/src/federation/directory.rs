//! The hub's node directory: every enrolled node with its base URL, regions and keys (with validity),
//! countersigned by the hub (`lapor-directory-v1`). Regional nodes fetch it, check the hub's signature with the
//! hub key they were enrolled with, and cache it in their database, so they keep working when the hub is
//! unreachable. Keys are only ever added or narrowed, never removed: old events must keep verifying.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::Signature;
use lapor_federation::canonical::{decode_canonical, encode, from_value, to_value};
use lapor_federation::Value;
use serde::{Deserialize, Serialize};

use super::key_entry;
use crate::http::error::ApiError;
use crate::service::App;
use crate::storage::{KeyRow, PeerRecord};

/// Domain tag of the directory signature.
pub const DIRECTORY_DOMAIN: &[u8] = b"lapor-directory-v1";

/// One key in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryKey {
    /// Key id.
    pub key_id: String,
    /// ed25519 public key, hex.
    pub public_key: String,
    /// x25519 public key, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enc_public: Option<String>,
    /// First sequence number it signs.
    pub valid_from_seq: i64,
    /// Last sequence number it signs, after a rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_after_seq: Option<i64>,
    /// Refused from this sequence number on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_from_seq: Option<i64>,
}

/// One node in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryNode {
    /// Node id.
    pub node_id: String,
    /// Name.
    pub name: String,
    /// Base URL.
    pub base_url: String,
    /// `hub` or `regional`.
    pub role: String,
    /// Region codes served.
    pub region_codes: Vec<String>,
    /// Its keys.
    pub keys: Vec<DirectoryKey>,
}

/// The directory document without its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Format version, 1.
    pub v: u64,
    /// The hub's node id.
    pub hub: String,
    /// When the hub issued it.
    pub issued_at_ms: i64,
    /// Every node, by id.
    pub nodes: Vec<DirectoryNode>,
}

fn node_keys(keys: &[KeyRow], origin: &str) -> Vec<DirectoryKey> {
    keys.iter()
        .filter(|k| k.origin == origin)
        .map(|k| DirectoryKey {
            key_id: k.key_id.clone(),
            public_key: k.public_key.clone(),
            enc_public: k.enc_public.clone(),
            valid_from_seq: k.valid_from_seq,
            retired_after_seq: k.retired_after_seq,
            revoked_from_seq: k.revoked_from_seq,
        })
        .collect()
}

/// Builds and signs this hub's directory.
pub async fn build(app: &App) -> anyhow::Result<Vec<u8>> {
    let keys = app.store.key_list().await?;
    let mut nodes = vec![DirectoryNode {
        node_id: app.fed.node_id.clone(),
        name: app.config.node.name.clone(),
        base_url: app.config.federation.public_url.clone(),
        role: "hub".into(),
        region_codes: Vec::new(),
        keys: node_keys(&keys, &app.fed.node_id),
    }];
    for p in app.store.peer_list().await? {
        nodes.push(DirectoryNode {
            keys: node_keys(&keys, &p.node_id),
            node_id: p.node_id,
            name: p.name,
            base_url: p.base_url,
            role: p.role,
            region_codes: p.region_codes,
        });
    }
    nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    let doc = Directory {
        v: 1,
        hub: app.fed.node_id.clone(),
        issued_at_ms: app.now(),
        nodes,
    };
    let Value::Object(mut map) = to_value(&doc)? else {
        anyhow::bail!("directory is not an object");
    };
    let unsigned = encode(&Value::Object(map.clone()))?;
    let sig = app.fed.sign_bytes(DIRECTORY_DOMAIN, &unsigned);
    map.insert("sig".into(), Value::String(sig));
    Ok(encode(&Value::Object(map))?)
}

/// `GET /federation/v1/directory` (hub only).
pub async fn serve(State(app): State<App>) -> Response {
    if app.fed.role != crate::config::NodeRole::Hub {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_a_hub",
            "Node ini bukan hub; direktori ada di hub",
            "This node is not a hub; the directory is at the hub",
        )
        .into_response();
    }
    match build(&app).await {
        Ok(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "building the directory failed");
            ApiError::internal().into_response()
        }
    }
}

/// Checks a directory document against the hub's current key and returns it.
pub fn verify(app: &App, hub: &str, bytes: &[u8]) -> anyhow::Result<Directory> {
    let Value::Object(mut map) = decode_canonical(bytes)? else {
        anyhow::bail!("directory is not an object");
    };
    let Some(Value::String(sig_hex)) = map.remove("sig") else {
        anyhow::bail!("directory has no signature");
    };
    let unsigned = encode(&Value::Object(map.clone()))?;
    let doc: Directory = from_value(Value::Object(map))?;
    anyhow::ensure!(doc.v == 1, "unsupported directory version {}", doc.v);
    anyhow::ensure!(
        doc.hub == hub,
        "directory is from {}, expected {hub}",
        doc.hub
    );
    let key = app
        .fed
        .current_key(hub)
        .ok_or_else(|| anyhow::anyhow!("no current key of hub {hub}"))?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(&sig_hex, &mut sig)?;
    let mut msg = DIRECTORY_DOMAIN.to_vec();
    msg.extend_from_slice(&unsigned);
    key.verify_strict(&msg, &Signature::from_bytes(&sig))
        .map_err(|_| anyhow::anyhow!("directory signature does not verify"))?;
    Ok(doc)
}

/// Fetches the directory from each hub this node knows and caches what it says.
pub async fn refresh(app: &App) -> anyhow::Result<()> {
    let hubs: Vec<PeerRecord> = app
        .fed
        .peers
        .read()
        .map_err(|_| anyhow::anyhow!("peer list lock poisoned"))?
        .iter()
        .filter(|p| p.role == "hub")
        .cloned()
        .collect();
    for hub in hubs {
        let bytes = super::push::signed_get(app, &hub.base_url, "/federation/v1/directory").await?;
        let doc = verify(app, &hub.node_id, &bytes)?;
        for node in doc.nodes {
            if node.node_id == app.fed.node_id {
                continue;
            }
            for k in &node.keys {
                let row = KeyRow {
                    origin: node.node_id.clone(),
                    key_id: k.key_id.clone(),
                    public_key: k.public_key.clone(),
                    enc_public: k.enc_public.clone(),
                    valid_from_seq: k.valid_from_seq,
                    retired_after_seq: k.retired_after_seq,
                    revoked_from_seq: k.revoked_from_seq,
                };
                // Weak or malformed keys are refused here as at enrolment.
                if let Err(e) = key_entry(&row) {
                    tracing::warn!(node = %node.node_id, error = %e, "directory key refused");
                    continue;
                }
                if let Err(e) = app.store.key_upsert(&row).await {
                    tracing::warn!(node = %node.node_id, error = %e, "directory key refused");
                }
            }
            // A peer the operator enrolled keeps its enrolled address (it may be reached through a proxy or
            // a private link); the directory only adds nodes this one did not know.
            if app.store.peer_get(&node.node_id).await?.is_some() || node.base_url.is_empty() {
                continue;
            }
            let base_url = node.base_url.clone();
            app.store
                .peer_upsert(&PeerRecord::new(
                    &node.node_id,
                    &node.name,
                    &base_url,
                    &node.role,
                    node.region_codes.clone(),
                    node.keys.last().and_then(|k| k.enc_public.clone()),
                    app.now(),
                ))
                .await?;
        }
    }
    app.fed.reload(&app.store).await
}
