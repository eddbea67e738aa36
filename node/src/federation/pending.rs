//! Why each pending event waits: every event in state `pending` is a step this node still has to take
//! (PROTOCOL section 9.3) or a contribution its lifecycle has not applied yet, and `lapor federation status`
//! and `/metrics` show the reason for each, so nothing waits unseen.

use lapor_federation::{EventClass, EventKind, TransferKind};

use super::apply::parse_event;
use super::payload::{self, ContributionPayload};
use super::transfer::{old_owner_closed, open_transfer, TransferPayload};
use crate::node::Node;
use crate::storage::{StorageError, StoredEvent};

/// Most pending events listed.
pub const LISTED: i64 = 1000;

/// One pending event and why it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// Event id.
    pub id: String,
    /// Its type.
    pub kind: String,
    /// Its report.
    pub report_id: String,
    /// Why it waits.
    pub reason: String,
}

async fn reason_of(node: &Node, e: &StoredEvent) -> Result<String, StorageError> {
    let Ok(event) = parse_event(&e.wire) else {
        return Ok("unreadable; the worker will quarantine it".into());
    };
    let me = node.id();
    match EventKind::parse(&e.kind) {
        Some(EventKind::Contribution(_)) => {
            let Ok(c) = payload::decode::<ContributionPayload>(&event.payload) else {
                return Ok("undecodable; the worker will quarantine it".into());
            };
            if c.owner != me {
                return Ok(format!("to be relayed by this hub to {}", c.owner));
            }
            if let Some(t) = open_transfer(node, &e.report_id).await? {
                return Ok(format!(
                    "waits until the transfer of the report to {} closes (this node takes no action meanwhile)",
                    t.to_node
                ));
            }
            let owner = node.store.report_owner(&e.report_id).await?;
            Ok(match owner {
                Some(o) if o.owner != me => {
                    format!("the report moved to {}; to be sent on to it", o.owner)
                }
                _ => "to be applied by this node's lifecycle".into(),
            })
        }
        Some(EventKind::Transfer(kind)) => {
            let p: Option<TransferPayload> = payload::decode(&event.payload).ok();
            let Some(p) = p else {
                return Ok("undecodable transfer step".into());
            };
            Ok(match kind {
                TransferKind::Offer => "the hub's decision (forward or refuse)".into(),
                TransferKind::Forwarded if p.to == me => {
                    format!(
                        "to import the report's history and accept it from {}",
                        p.from
                    )
                }
                TransferKind::Forwarded => "to release the report to the hub's transfer".into(),
                TransferKind::Accept => {
                    let row = node
                        .store
                        .transfer_get(p.offer.as_deref().unwrap_or_default())
                        .await?;
                    match row {
                        Some(r) if r.state == "accepted" => {
                            if old_owner_closed(node, &r).await.unwrap_or(false) {
                                "the hub's commit".into()
                            } else {
                                format!(
                                    "the commit waits for {} to release the report (transfer.released) or the \
                                     transfer to expire",
                                    r.from_node
                                )
                            }
                        }
                        _ => "the transfer closed; the worker will set it aside".into(),
                    }
                }
                TransferKind::Committed if p.from == me => "to write the tombstone".into(),
                TransferKind::Committed => "to open this node's epoch (report.transferred)".into(),
                _ => "no step; the worker will set it aside".into(),
            })
        }
        _ => Ok(format!(
            "{} events take no step here",
            EventKind::class_of(&e.kind).map_or("unknown", EventClass::prefix)
        )),
    }
}

/// Every pending event (at most [`LISTED`]) with its reason, oldest first.
pub async fn pending(node: &Node) -> Result<Vec<PendingEvent>, StorageError> {
    let mut out = Vec::new();
    for e in node.store.events_pending("", LISTED).await? {
        out.push(PendingEvent {
            reason: reason_of(node, &e).await?,
            id: e.id,
            kind: e.kind,
            report_id: e.report_id,
        });
    }
    Ok(out)
}
