//! Proof that the reporter acted: a contribution (a reply, acceptance or rating made on a node that does not own
//! the report) carries the tracking secret the reporter gave, sealed to the owner's encryption key and bound to
//! exactly this contribution, so that no other node (the hub relaying it included) can read it, reuse it for
//! another contribution, or make one up.
//!
//! ```text
//! proof = <owner's key id> ":" hex(seal(owner's X25519 key, message, aad = report id))
//! message = "lapor-contribution-v1\n" origin "\n" report id "\n" event type "\n"
//!           hex(sha256(canonical(payload without proof))) "\n" secret
//! ```
//!
//! The owner opens it with its encryption secret, checks every bound field against the event and the secret
//! against the report's stored hash. Only the node whose id prefixes the report id may send a contribution
//! without proof: it holds the reporter account the report was filed with, whose actions need no secret.

use lapor_federation::canonical::{encode, to_value};
use lapor_federation::seal::{open, seal};
use lapor_federation::Event;
use lapor_schemas::events::ContributionPayload;
use sha2::{Digest, Sha256};

use super::authorise::Refusal;
use crate::domain::tracking;
use crate::node::Node;

const DOMAIN: &str = "lapor-contribution-v1";

fn digest(payload: &ContributionPayload) -> Result<String, String> {
    let bare = ContributionPayload {
        proof: None,
        via: None,
        ..payload.clone()
    };
    let value = to_value(&bare).map_err(|e| e.to_string())?;
    let bytes = encode(&value).map_err(|e| e.to_string())?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn message(origin: &str, report_id: &str, kind: &str, digest: &str, secret: &str) -> Vec<u8> {
    format!(
        "{DOMAIN}\n{origin}\n{report_id}\n{kind}\n{digest}\n{}",
        secret.trim()
    )
    .into_bytes()
}

/// The proof for a contribution this node authors: `None` when the owner's encryption key is unknown here.
pub fn make(
    node: &Node,
    owner: &str,
    report_id: &str,
    kind: &str,
    payload: &ContributionPayload,
    secret: &str,
) -> anyhow::Result<Option<String>> {
    let Some((key_id, enc)) = node
        .fed
        .keylog_snapshot()?
        .current(owner)
        .and_then(|k| k.enc_public.map(|e| (k.key_id.clone(), e)))
    else {
        return Ok(None);
    };
    let digest = digest(payload).map_err(|e| anyhow::anyhow!(e))?;
    let sealed = seal(
        &enc,
        &message(node.id(), report_id, kind, &digest, secret),
        report_id.as_bytes(),
    )
    .map_err(|e| anyhow::anyhow!("sealing the contribution proof: {e}"))?;
    Ok(Some(format!("{key_id}:{}", hex::encode(sealed))))
}

fn refuse(code: &'static str, reason: String) -> Refusal {
    Refusal { code, reason }
}

/// The node a contribution's proof is bound to: its author, or on a hub's relay the node named by `via`.
/// `None` when a node that is not a hub names one.
pub fn author_of<'a>(
    node: &Node,
    event: &'a Event,
    payload: &'a ContributionPayload,
) -> Option<&'a str> {
    match &payload.via {
        None => Some(event.origin.as_str()),
        Some(via) if node.fed.is_hub_node(&event.origin) => Some(via.as_str()),
        Some(_) => None,
    }
}

/// Checks the proof of a contribution addressed to this node; `secret_hash` is the held report's.
pub fn check(
    node: &Node,
    event: &Event,
    payload: &ContributionPayload,
    secret_hash: &str,
) -> Result<(), Refusal> {
    open_secret(node, event, payload, secret_hash).map(|_| ())
}

/// Checks the proof like [`check`] and returns the tracking secret it holds (`None`: the report's own
/// origin sent it without proof).
pub fn open_secret(
    node: &Node,
    event: &Event,
    payload: &ContributionPayload,
    secret_hash: &str,
) -> Result<Option<String>, Refusal> {
    let unproven = |why: &str| {
        refuse(
            "unproven_contribution",
            format!(
                "{} from {} for report {}: {why}",
                event.kind, event.origin, event.report_id
            ),
        )
    };
    let author = author_of(node, event, payload)
        .ok_or_else(|| unproven("only a hub relays another node's contribution (via)"))?;
    if event.report_id.starts_with(&format!("{author}:")) {
        return Ok(None);
    }
    let proof = payload
        .proof
        .as_deref()
        .ok_or_else(|| unproven("no proof that the reporter acted (tracking secret)"))?;
    let (key_id, sealed_hex) = proof
        .split_once(':')
        .ok_or_else(|| unproven("the proof is not `<key id>:<hex>`"))?;
    let sealed = hex::decode(sealed_hex).map_err(|_| unproven("the proof is not hex"))?;
    let secret = node
        .fed
        .enc_secret(key_id)
        .ok_or_else(|| unproven("the proof is sealed to a key this node does not have"))?;
    let plain = open(&secret, &sealed, event.report_id.as_bytes())
        .map_err(|_| unproven("the proof does not open with this node's key"))?;
    let plain = String::from_utf8(plain).map_err(|_| unproven("the proof is not text"))?;
    let mut parts = plain.splitn(6, '\n');
    let fields: Vec<&str> = (0..6).filter_map(|_| parts.next()).collect();
    let digest = digest(payload).map_err(|e| unproven(&e))?;
    let bound = [
        DOMAIN,
        author,
        event.report_id.as_str(),
        event.kind.as_str(),
        &digest,
    ];
    if fields.len() != 6 || fields[..5] != bound {
        return Err(unproven("the proof was made for another contribution"));
    }
    if !tracking::secret_matches(fields[5], secret_hash) {
        return Err(unproven(
            "the proof does not hold the report's tracking secret",
        ));
    }
    Ok(Some(fields[5].to_owned()))
}
