//! Which node and agency a keyword names: this node's own (`sms.keyword`, `sms.agency_keywords`), then the
//! keywords other nodes publish with their agencies (`node.agencies`, see docs/PROTOCOL.md), so a hub or a
//! neighbouring node that receives `KOTKUPANG ...` routes it to Kupang like any other report.

use super::message::Target;
use crate::app::App;
use crate::config::valid_keyword;

/// Where `word` (upper case) sends a report, if anywhere.
pub async fn resolve(app: &App, word: &str) -> anyhow::Result<Option<Target>> {
    if !valid_keyword(word) {
        return Ok(None);
    }
    let sms = &app.config().sms;
    let here = app.node().id().to_owned();
    if !sms.keyword.is_empty() && sms.keyword == word {
        return Ok(Some(Target::Node(here)));
    }
    if let Some(agency) = sms.agency_keywords.get(word) {
        return Ok(Some(Target::Agency {
            agency_id: agency.clone(),
            node_id: here,
        }));
    }
    let remote = app.node().store.sms_keyword_get(word).await?;
    Ok(remote.map(|k| match k.agency_id {
        Some(agency_id) => Target::Agency {
            agency_id,
            node_id: k.node_id,
        },
        None => Target::Node(k.node_id),
    }))
}
