//! Agencies across nodes: every node publishes the agencies it hosts as a `node.agencies` event in its own
//! log (whole list, so applying is an overwrite), and the nodes that receive its log (the hub receives every
//! regional node's; every regional node receives the hub's) can then route a report about one of them to
//! the node that hosts it.

use lapor_federation::{Event, EventKind};

pub use lapor_schemas::events::{AgenciesPayload, PublishedAgency, PublishedKeyword};

use super::author;
use super::error::FedResult;
use super::payload;
use crate::domain::AgencyRecord;
use crate::node::Node;
use crate::storage::{Effect, SmsKeywordRow};

/// Meta key holding the sha256 of the last published list.
const PUBLISHED_KEY: &str = "agencies_published_sha256";

/// Most agencies one node may publish.
pub const MAX_AGENCIES: usize = 5000;

/// An agency id as this node stores it, from a payload authored by `author` (PROTOCOL section 9.1): on the
/// wire an id is either bare, the author's own agency, or `<node>/<id>`, another node's. This node keeps its
/// own agencies bare and every other node's as `<node>/<id>`, so two nodes' `dinas-kesehatan` never collide
/// and no node can name another's agency as its own.
pub fn localize(me: &str, author: &str, id: &str) -> String {
    match id.split_once('/') {
        Some((node, own)) if node == me => own.to_owned(),
        Some(_) => id.to_owned(),
        None if author == me => id.to_owned(),
        None => format!("{author}/{id}"),
    }
}

/// The agency ids of a report payload authored by `author`, as this node stores them.
pub fn localize_report(me: &str, author: &str, p: &mut lapor_schemas::events::ReportPayload) {
    p.state.agency_id = localize_opt(me, author, p.state.agency_id.as_ref());
    p.entry.agency_id = localize_opt(me, author, p.entry.agency_id.as_ref());
}

/// [`localize`] over an optional id.
pub fn localize_opt(me: &str, author: &str, id: Option<&String>) -> Option<String> {
    id.map(|i| localize(me, author, i))
}

/// What accepting a `node.agencies` event does: the origin's agencies replace what this node knew of them,
/// stored as `<origin>/<id>` under paths prefixed with `@<origin>` so they never mix with this node's own tree
/// or another node's.
pub fn effect_for(event: &Event) -> Effect {
    let quarantine = |reason: String| Effect::Quarantine {
        code: "bad_payload".into(),
        reason,
    };
    if event.report_id != format!("{}:node", event.origin) {
        return quarantine("node.agencies must have report_id \"<origin>:node\"".into());
    }
    let p: AgenciesPayload = match payload::decode(&event.payload) {
        Ok(p) => p,
        Err(e) => return quarantine(e.0),
    };
    match records_of(&event.origin, event.authored_at_ms, p) {
        Ok((agencies, sms_keywords)) => Effect::Agencies {
            origin: event.origin.clone(),
            agencies,
            sms_keywords,
        },
        Err(reason) => quarantine(reason),
    }
}

/// The agency and keyword rows `origin`'s publication stands for here (from its `node.agencies` event or the
/// hub's directory): agencies as `<origin>/<id>` under `@<origin>` paths; a keyword that is malformed, or
/// names an agency the origin does not publish, is dropped. `Err` when it publishes too many agencies.
pub fn records_of(
    origin: &str,
    at: crate::domain::Millis,
    p: AgenciesPayload,
) -> Result<(Vec<AgencyRecord>, Vec<SmsKeywordRow>), String> {
    if p.agencies.len() > MAX_AGENCIES {
        return Err(format!("more than {MAX_AGENCIES} agencies"));
    }
    let sms_keywords = p
        .sms_keywords
        .into_iter()
        .filter(|k| {
            crate::config::valid_keyword(&k.keyword)
                && k.agency_id
                    .as_ref()
                    .is_none_or(|a| p.agencies.iter().any(|x| &x.id == a))
        })
        .map(|k| SmsKeywordRow {
            keyword: k.keyword,
            node_id: origin.to_owned(),
            // Stored under the name the agency has here (`<node>/<id>`, like the agency rows below).
            agency_id: k.agency_id.map(|a| format!("{origin}/{a}")),
        })
        .collect();
    let agencies = p
        .agencies
        .into_iter()
        .map(|a| AgencyRecord {
            id: format!("{origin}/{}", a.id),
            parent_id: a.parent_id.map(|p| format!("{origin}/{p}")),
            path: format!("@{origin}{}", a.path),
            name: a.name,
            kind: a.kind,
            region_code: a.region_code,
            active: a.active,
            created_at: at,
            node_id: Some(origin.to_owned()),
        })
        .collect();
    Ok((agencies, sms_keywords))
}

/// This node's SMS keywords as it publishes them: its own keyword, then its agencies'.
fn sms_keywords(sms: &crate::config::SmsConfig) -> Vec<PublishedKeyword> {
    let own = (!sms.keyword.is_empty()).then(|| PublishedKeyword {
        keyword: sms.keyword.clone(),
        agency_id: None,
    });
    own.into_iter()
        .chain(sms.agency_keywords.iter().map(|(k, a)| PublishedKeyword {
            keyword: k.clone(),
            agency_id: Some(a.clone()),
        }))
        .collect()
}

/// Publishes this node's agencies (and its SMS keywords) when they changed since the last publication. Returns whether it did.
pub async fn publish(node: &Node) -> FedResult<bool> {
    let mut own: Vec<AgencyRecord> = node
        .store
        .agency_list()
        .await?
        .into_iter()
        .filter(|a| a.node_id.is_none())
        .collect();
    own.sort_by(|a, b| a.path.cmp(&b.path));
    let body = AgenciesPayload {
        agencies: own
            .into_iter()
            .map(|a| PublishedAgency {
                id: a.id,
                parent_id: a.parent_id,
                path: a.path,
                name: a.name,
                kind: a.kind,
                region_code: a.region_code,
                active: a.active,
            })
            .collect(),
        sms_keywords: sms_keywords(&node.config.sms),
    };
    let value = author::encode(&body)?;
    let bytes = lapor_federation::canonical::encode(&value).map_err(anyhow::Error::from)?;
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if node.store.meta_get(PUBLISHED_KEY).await?.as_deref() == Some(hash.as_str()) {
        return Ok(false);
    }
    let draft = author::draft(
        node,
        EventKind::NodeAgencies,
        &format!("{}:node", node.id()),
        value,
    );
    node.store.event_append(&draft).await?;
    node.store.meta_put(PUBLISHED_KEY, &hash).await?;
    node.fed.push_wake.notify_waiters();
    tracing::info!(
        count = body.agencies.len(),
        "agencies published to the federation"
    );
    Ok(true)
}
