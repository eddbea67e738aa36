//! Report histories: every signed event of one report, served to a transfer's target and to nodes that
//! look a tracking code up, and rebuilt into the report on the receiving side.
//!
//! Rebuilding trusts nothing but signatures and the ownership rules: the owner of epoch 0 is the origin of
//! `report.created` (whose id must carry that origin's prefix), the owner of each later epoch the target of
//! the hub's `transfer.committed`; only the owner's `report.*` events of its epoch count, in its sequence
//! order.

use std::collections::BTreeMap;

use lapor_federation::canonical::from_value;
use lapor_federation::wire::LogPage;
use lapor_federation::{EventClass, EventKind, TransferKind};

use super::apply::parse_event;
use super::payload::{self, ReportPayload};
use super::transfer::TransferPayload;
use super::verify::verify_history;
use crate::node::Node;
use crate::storage::{HistoryEvent, OwnerRow, ReportImport};

/// Rebuilds a report from its signed history (see the module docs).
pub async fn rebuild(
    node: &Node,
    report_id: &str,
    events: &[HistoryEvent],
) -> anyhow::Result<ReportImport> {
    let mut owners: BTreeMap<i64, (String, String)> = BTreeMap::new();
    for e in events {
        let event = parse_event(&e.wire)?;
        anyhow::ensure!(
            event.report_id == report_id,
            "event {} is about another report",
            e.id
        );
        if event.kind == EventKind::REPORT_CREATED && event.report_epoch == 0 {
            anyhow::ensure!(
                report_id.starts_with(&format!("{}:", event.origin)),
                "report {report_id} was created by {}, not its id's node",
                event.origin
            );
            owners
                .entry(0)
                .or_insert((event.origin.clone(), e.id.clone()));
        } else if event.kind == EventKind::Transfer(TransferKind::Committed)
            && node.fed.is_hub_node(&event.origin)
        {
            let p: TransferPayload = from_value(event.payload.clone())?;
            owners.insert(p.epoch, (p.to, e.id.clone()));
        }
    }
    let mut applicable: Vec<(i64, i64, &HistoryEvent, ReportPayload)> = Vec::new();
    for e in events {
        if EventKind::class_of(&e.kind) != Some(EventClass::Report) {
            continue;
        }
        let owner_ok = owners
            .get(&e.report_epoch)
            .is_some_and(|(o, _)| *o == e.origin);
        if !owner_ok {
            continue;
        }
        let event = parse_event(&e.wire)?;
        let mut p: ReportPayload =
            payload::decode(&event.payload).map_err(|x| anyhow::anyhow!(x.0))?;
        super::agencies::localize_report(node.id(), &event.origin, &mut p);
        applicable.push((e.report_epoch, e.origin_seq, e, p));
    }
    applicable.sort_by_key(|(epoch, seq, _, _)| (*epoch, *seq));
    let (_, _, last, last_payload) = applicable.last().ok_or_else(|| {
        anyhow::anyhow!("the history of {report_id} has no report event of its owner")
    })?;
    let (epoch, (owner, commit_id)) = owners
        .iter()
        .next_back()
        .map(|(k, v)| (*k, v.clone()))
        .ok_or_else(|| anyhow::anyhow!("no owner"))?;
    let last_event_id = if last.report_epoch == epoch {
        last.id.clone()
    } else {
        commit_id
    };
    let path = match &last_payload.state.agency_id {
        Some(a) => node.store.agency_get(a).await?.map(|a| a.path),
        None => None,
    };
    let report = payload::report_from_state(report_id, &last_payload.state, path)
        .map_err(|e| anyhow::anyhow!(e.0))?;
    let timeline = applicable
        .iter()
        .map(|(_, _, _, p)| {
            payload::entry_from_payload(report_id, &p.entry).map_err(|e| anyhow::anyhow!(e.0))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ReportImport {
        report,
        timeline,
        owner: OwnerRow {
            report_id: report_id.to_owned(),
            owner,
            epoch,
            last_event_id: Some(last_event_id),
        },
        history: events.to_vec(),
        merge_owned: false,
    })
}

/// Fetches a report's history (by id or tracking code) from the hub, verifies it and stores the report
/// here, unless this node owns it. Returns the report id, or `None` when the hub does not know it.
pub async fn refresh(node: &Node, key: &str) -> anyhow::Result<Option<String>> {
    let Some(hub) = node.hub_peer() else {
        return Ok(None);
    };
    let path = format!("/federation/v1/reports/{}/history", urlencoding(key));
    let body = match super::client::signed_get(node, &hub.base_url, &path).await {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let page = LogPage::decode(&body)?;
    let history = verify_history(&node.fed.keylog_snapshot()?, &page.events)?;
    let Some(first) = history.first() else {
        return Ok(None);
    };
    let report_id = parse_event(&first.wire)?.report_id;
    import(node, &report_id, &history).await?;
    Ok(Some(report_id))
}

/// Stores a rebuilt report unless this node owns it and has changed it at the epoch it holds (its own state
/// is the truth then). A transfer's target that owns the report by the commit but has authored nothing at the
/// new epoch yet merges what it lacks: an entry that reached the hub between its first import and the commit
/// is not lost.
async fn import(node: &Node, report_id: &str, history: &[HistoryEvent]) -> anyhow::Result<()> {
    let mut merge_owned = false;
    if node.owns(report_id).await.unwrap_or(false)
        && node.store.report_get(report_id).await?.is_some()
    {
        let held = node.store.report_owner(report_id).await?;
        let epoch = held.map_or(0, |h| h.epoch);
        let authored = node.store.report_history(report_id).await?.iter().any(|e| {
            e.origin == node.id()
                && e.report_epoch == epoch
                && EventKind::class_of(&e.kind) == Some(EventClass::Report)
        });
        if authored || epoch == 0 {
            return Ok(());
        }
        merge_owned = true;
    }
    let mut imp = rebuild(node, report_id, history).await?;
    imp.merge_owned = merge_owned;
    node.store.report_import(&imp, node.now()).await?;
    Ok(())
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Encodes a history as a log page body.
pub fn history_page(events: &[HistoryEvent]) -> Vec<u8> {
    LogPage {
        events: events.iter().map(|e| e.wire.clone()).collect(),
        more: false,
    }
    .encode()
}
