//! The hub's node directory: every enrolled node with its base URL, regions and keys (with validity),
//! countersigned by the hub (`lapor-directory-v1`). Regional nodes fetch it, check the hub's signature with the
//! hub key they were enrolled with, and cache it in their database, so they keep working when the hub is
//! unreachable. Keys are only ever added or narrowed, never removed: old events must keep verifying.
//!
//! Format version 2 (asked for with `?v=2`) adds each node's published agencies and SMS keywords (the payload
//! of its latest `node.agencies` event, with that event's sequence number), so a regional node also learns the
//! agencies and keywords of the other regional nodes, whose logs it never receives, and routes an SMS with
//! their keyword to them. A hub answers version 1 to a request without `?v=2` (what older nodes send, whose
//! strict decoder would refuse the new member), and a newer node reads either.

use ed25519_dalek::Signature;
use lapor_federation::canonical::{decode_canonical, encode, from_value, to_value};
use lapor_federation::Value;
use serde::{Deserialize, Serialize};

use super::agencies::{AgenciesPayload, PublishedAgency, PublishedKeyword};
use super::key_entry;
use crate::node::Node;
use crate::storage::{KeyRow, PeerRecord};

/// The newest directory format this node writes and reads.
pub const VERSION: u64 = 2;

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
    /// What it published with its latest `node.agencies` event (format version 2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
}

/// A node's published agencies and SMS keywords, as the hub holds them (directory format version 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// `origin_seq` of the `node.agencies` event they come from: a receiver applies only a newer one.
    pub seq: i64,
    /// Its agencies, ids as the node itself names them (bare), parents first.
    pub agencies: Vec<PublishedAgency>,
    /// Its SMS keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sms_keywords: Vec<PublishedKeyword>,
}

/// The directory document without its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Format version, 1 or 2.
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

/// The latest `node.agencies` event of `origin` this node applied, as published.
async fn published_of(node: &Node, origin: &str) -> anyhow::Result<Option<Published>> {
    let events = node.store.report_events(&format!("{origin}:node")).await?;
    let latest = events
        .into_iter()
        .filter(|e| {
            e.origin == origin
                && e.kind == lapor_federation::EventKind::NodeAgencies
                && e.state == "applied"
        })
        .max_by_key(|e| e.origin_seq);
    let Some(e) = latest else { return Ok(None) };
    let event = super::apply::parse_event(&e.wire)?;
    let p: AgenciesPayload =
        super::payload::decode(&event.payload).map_err(|e| anyhow::anyhow!(e.0))?;
    Ok(Some(Published {
        seq: e.origin_seq,
        agencies: p.agencies,
        sms_keywords: p.sms_keywords,
    }))
}

/// Builds and signs this hub's directory in format `version` (1, or 2 with what each node published).
pub async fn build(node: &Node, version: u64) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        (1..=VERSION).contains(&version),
        "unsupported directory version {version}"
    );
    let keys = node.store.key_list().await?;
    let mut nodes = vec![DirectoryNode {
        node_id: node.fed.node_id.clone(),
        name: node.config.node.name.clone(),
        base_url: node.config.federation.public_url.clone(),
        role: "hub".into(),
        region_codes: Vec::new(),
        keys: node_keys(&keys, &node.fed.node_id),
        published: None,
    }];
    for p in node.store.peer_list().await? {
        nodes.push(DirectoryNode {
            keys: node_keys(&keys, &p.node_id),
            node_id: p.node_id,
            name: p.name,
            base_url: p.base_url,
            role: p.role,
            region_codes: p.region_codes,
            published: None,
        });
    }
    if version >= 2 {
        for n in &mut nodes {
            n.published = published_of(node, &n.node_id).await?;
        }
    }
    nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    let doc = Directory {
        v: version,
        hub: node.fed.node_id.clone(),
        issued_at_ms: node.now(),
        nodes,
    };
    let Value::Object(mut map) = to_value(&doc)? else {
        anyhow::bail!("directory is not an object");
    };
    let unsigned = encode(&Value::Object(map.clone()))?;
    let sig = node.fed.sign_bytes(DIRECTORY_DOMAIN, &unsigned);
    map.insert("sig".into(), Value::String(sig));
    Ok(encode(&Value::Object(map))?)
}

/// Checks a directory document against the hub's current key and returns it.
pub fn verify(node: &Node, hub: &str, bytes: &[u8]) -> anyhow::Result<Directory> {
    let Value::Object(mut map) = decode_canonical(bytes)? else {
        anyhow::bail!("directory is not an object");
    };
    let Some(Value::String(sig_hex)) = map.remove("sig") else {
        anyhow::bail!("directory has no signature");
    };
    let unsigned = encode(&Value::Object(map.clone()))?;
    let doc: Directory = from_value(Value::Object(map))?;
    anyhow::ensure!(
        (1..=VERSION).contains(&doc.v),
        "unsupported directory version {}",
        doc.v
    );
    anyhow::ensure!(
        doc.v >= 2 || doc.nodes.iter().all(|n| n.published.is_none()),
        "a version 1 directory carries published agencies"
    );
    anyhow::ensure!(
        doc.hub == hub,
        "directory is from {}, expected {hub}",
        doc.hub
    );
    let key = node
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
pub async fn refresh(node: &Node) -> anyhow::Result<()> {
    let hubs: Vec<PeerRecord> = node
        .fed
        .peer_list()
        .into_iter()
        .filter(|p| p.role == "hub")
        .collect();
    for hub in hubs {
        let bytes = super::client::signed_get(
            node,
            &hub.base_url,
            &format!("/federation/v1/directory?v={VERSION}"),
        )
        .await?;
        let doc = verify(node, &hub.node_id, &bytes)?;
        for entry in doc.nodes {
            if entry.node_id == node.id() {
                continue;
            }
            // A hub's own publications arrive in its log; another regional node's only through here.
            if entry.role != "hub" {
                if let Some(p) = &entry.published {
                    apply_published(node, &entry.node_id, p).await?;
                }
            }
            for k in &entry.keys {
                let row = KeyRow {
                    origin: entry.node_id.clone(),
                    key_id: k.key_id.clone(),
                    public_key: k.public_key.clone(),
                    enc_public: k.enc_public.clone(),
                    valid_from_seq: k.valid_from_seq,
                    retired_after_seq: k.retired_after_seq,
                    revoked_from_seq: k.revoked_from_seq,
                };
                // Weak or malformed keys are refused here as at enrolment.
                if let Err(e) = key_entry(&row) {
                    tracing::warn!(node = %entry.node_id, error = %e, "directory key refused");
                    continue;
                }
                if let Err(e) = node.store.key_upsert(&row).await {
                    tracing::warn!(node = %entry.node_id, error = %e, "directory key refused");
                }
            }
            // A peer the operator enrolled keeps its enrolled address (it may be reached through a proxy or
            // a private link); the directory only adds nodes this one did not know.
            if node.store.peer_get(&entry.node_id).await?.is_some() || entry.base_url.is_empty() {
                continue;
            }
            // The same rule as at enrolment: a plain-http address (not on loopback, unless
            // `federation.allow_http`) is never used. The node's keys above are kept: they verify its events
            // whichever way they arrive.
            let checked = url::Url::parse(&entry.base_url)
                .map_err(|e| format!("peer URL {}: {e}", entry.base_url))
                .and_then(|u| {
                    crate::config::peer_url_allowed(node.config.federation.allow_http, &u)
                });
            if let Err(refused) = checked {
                tracing::warn!(peer.node = %entry.node_id, url = %entry.base_url, reason = %refused,
                    "directory entry skipped: its URL is not allowed");
                continue;
            }
            let base_url = entry.base_url.clone();
            node.store
                .peer_upsert(&PeerRecord::new(
                    &entry.node_id,
                    &entry.name,
                    &base_url,
                    &entry.role,
                    entry.region_codes.clone(),
                    entry.keys.last().and_then(|k| k.enc_public.clone()),
                    node.now(),
                ))
                .await?;
        }
    }
    node.fed.reload(&node.store).await
}

/// Applies what another regional node published, as the directory carries it, unless this node already holds
/// that publication or a newer one: the same rules as accepting its `node.agencies` event
/// ([`super::agencies::effect_for`]).
async fn apply_published(node: &Node, origin: &str, p: &Published) -> anyhow::Result<()> {
    let payload = AgenciesPayload {
        agencies: p.agencies.clone(),
        sms_keywords: p.sms_keywords.clone(),
    };
    let (agencies, keywords) = match super::agencies::records_of(origin, node.now(), payload) {
        Ok(r) => r,
        Err(reason) => {
            tracing::warn!(peer.node = %origin, %reason, "published agencies in the directory refused");
            return Ok(());
        }
    };
    let applied = node
        .store
        .publication_apply(origin, p.seq, &agencies, &keywords, node.now())
        .await?;
    if applied {
        tracing::info!(peer.node = %origin, seq = p.seq, agencies = agencies.len(), sms_keywords = keywords.len(),
            "agencies and SMS keywords learnt from the directory");
    }
    Ok(())
}
