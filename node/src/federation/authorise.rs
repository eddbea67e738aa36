//! Who may author which event: the one authorisation table of the federation (PROTOCOL section 8.9), applied
//! to every received event that verified (signature, key, chain) before its effect runs, on the hub and on
//! regional nodes alike.
//!
//! A validly signed event of an enrolled node is still hostile until this says yes. The rules are pure
//! functions of the event and of what this node already holds ([`Held`]); the caller reads those facts from
//! storage. A refusal is not a signature error: the event stays in its origin's log (so the chain continues)
//! but is quarantined with the refusal's code and reason, counted per origin in `/metrics` and shown by
//! `lapor federation status`.

use lapor_federation::{EventKind, TransferKind};
use lapor_schemas::events::TransferPayload;
use lapor_schemas::TimelineAction;

use crate::storage::{OwnerRow, TransferRow};

/// An authorisation refusal: a stable code and what exactly is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable code (`foreign_report_id`, `unknown_report`, `not_owner`, `bad_epoch`, `unknown_offer`,
    /// `offer_not_addressed`, `not_hub`, `bad_transfer`).
    pub code: &'static str,
    /// What is wrong, naming the event's origin.
    pub reason: String,
}

/// Every code a refusal may carry.
pub const CODES: [&str; 9] = [
    "unproven_contribution",
    "foreign_report_id",
    "unknown_report",
    "not_owner",
    "bad_epoch",
    "unknown_offer",
    "offer_not_addressed",
    "not_hub",
    "bad_transfer",
];

fn refuse(code: &'static str, reason: impl Into<String>) -> Result<(), Refusal> {
    Err(Refusal {
        code,
        reason: reason.into(),
    })
}

/// The event being authorised and what this node holds about its report.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// The event's origin (its author).
    pub origin: &'a str,
    /// Whether the origin is a hub (this node in the hub role, or a peer enrolled as one).
    pub origin_is_hub: bool,
    /// The event's report.
    pub report_id: &'a str,
    /// The epoch the event is signed at.
    pub epoch: i64,
    /// Who owns the report here, at which epoch (`None`: this node never heard of it).
    pub owner: Option<&'a OwnerRow>,
    /// Whether this node is the hub (the one that decides transfers and sees every report).
    pub here_is_hub: bool,
}

/// A `report.<action>` event. Ownership of a new report comes only from the `report.created` of its origin
/// (its id carries the origin as prefix, epoch 0); every other lifecycle event must come from the node that
/// owns the report at the epoch it is signed at. An event of an older epoch is not a violation (it was
/// authored before a transfer committed) and one of a newer epoch may precede the commit that opens it, so
/// those are left to storage, which applies a snapshot only at the held owner and epoch.
pub fn report_event(h: &Held<'_>, action: TimelineAction) -> Result<(), Refusal> {
    if action == TimelineAction::Created {
        if !h.report_id.starts_with(&format!("{}:", h.origin)) {
            return refuse(
                "foreign_report_id",
                format!(
                    "{} may only create reports whose id starts with \"{}:\"",
                    h.origin, h.origin
                ),
            );
        }
        if h.epoch != 0 {
            return refuse(
                "bad_epoch",
                format!(
                    "report.created at epoch {}; a report is created at epoch 0",
                    h.epoch
                ),
            );
        }
        return Ok(());
    }
    let Some(owner) = h.owner else {
        return refuse(
            "unknown_report",
            format!(
                "report.{} from {} for report {} that this node holds no report.created or transfer of",
                action.as_str(),
                h.origin,
                h.report_id
            ),
        );
    };
    if h.epoch == owner.epoch && owner.owner != h.origin {
        return refuse(
            "not_owner",
            format!(
                "report.{} from {}, but {} owns report {} at epoch {}",
                action.as_str(),
                h.origin,
                owner.owner,
                h.report_id,
                owner.epoch
            ),
        );
    }
    Ok(())
}

/// A `transfer.*` event. `offer` is the transfer row the event names (`p.offer`), if this node holds it.
///
/// * offer: only the owner, at the epoch it holds, for the next epoch; the hub refuses an offer of a report it
///   does not hold, or of an epoch not reached yet. An offer of an older epoch (it raced a commit) goes on to the
///   hub's decision, which refuses it as `stale_epoch` and changes nothing.
/// * forwarded, committed, refused: only a hub.
/// * accept: only the target named by the offer it answers; the hub (which decides) must hold that offer,
///   addressed to the acceptor, for the same report and epoch.
/// * tombstone: only the node that gave the report up.
/// * released: only the owner (`from`) at the epoch the transfer leaves.
pub fn transfer_event(
    h: &Held<'_>,
    kind: TransferKind,
    p: &TransferPayload,
    offer: Option<&TransferRow>,
) -> Result<(), Refusal> {
    let shape = |ok: bool| {
        if ok {
            Ok(())
        } else {
            refuse(
                "bad_transfer",
                format!(
                    "{} from {} is not allowed for this transfer",
                    EventKind::Transfer(kind),
                    h.origin
                ),
            )
        }
    };
    match kind {
        TransferKind::Offer => {
            shape(h.origin == p.from && h.epoch == p.epoch - 1 && p.offer.is_none())?;
            match h.owner {
                // An offer of an older epoch raced a transfer that committed meanwhile: the hub refuses it
                // as `stale_epoch` (a `transfer.refused` the old owner sees), which changes nothing.
                Some(o) if o.epoch > h.epoch => Ok(()),
                Some(o) if o.epoch < h.epoch => refuse(
                    "bad_epoch",
                    format!(
                        "transfer.offer from {} at epoch {}, but report {} is at epoch {}",
                        h.origin, h.epoch, h.report_id, o.epoch
                    ),
                ),
                Some(o) if o.owner != h.origin => refuse(
                    "not_owner",
                    format!(
                        "transfer.offer from {} at epoch {}, but {} owns report {} at epoch {}",
                        h.origin, h.epoch, o.owner, h.report_id, o.epoch
                    ),
                ),
                None if h.here_is_hub => refuse(
                    "unknown_report",
                    format!(
                        "transfer.offer from {} for report {} that the hub does not hold",
                        h.origin, h.report_id
                    ),
                ),
                _ => Ok(()),
            }
        }
        TransferKind::Forwarded | TransferKind::Refused => {
            hub_only(h, kind)?;
            shape(kind == TransferKind::Forwarded || p.offer.is_some())
        }
        TransferKind::Committed => {
            hub_only(h, kind)?;
            shape(h.epoch == p.epoch && p.offer.is_some())
        }
        TransferKind::Accept => {
            shape(h.origin == p.to && p.offer.is_some())?;
            let named = p.offer.as_deref().unwrap_or_default();
            match offer {
                None if h.here_is_hub => refuse(
                    "unknown_offer",
                    format!(
                        "transfer.accept from {} names offer {named}, which the hub never made",
                        h.origin
                    ),
                ),
                Some(o) if o.to_node != h.origin || o.report_id != h.report_id || o.epoch != p.epoch => {
                    refuse(
                        "offer_not_addressed",
                        format!(
                            "transfer.accept from {} names offer {named}, which offers report {} at epoch {} to {}",
                            h.origin, o.report_id, o.epoch, o.to_node
                        ),
                    )
                }
                // A regional node that never saw the offer stores the accept; the hub decides.
                None | Some(_) => Ok(()),
            }
        }
        TransferKind::Tombstone => shape(h.origin == p.from && p.offer.is_some()),
        TransferKind::Released => {
            shape(h.origin == p.from && p.offer.is_some() && h.epoch == p.epoch - 1)?;
            match h.owner {
                Some(o) if o.epoch == h.epoch && o.owner != h.origin => refuse(
                    "not_owner",
                    format!(
                        "transfer.released from {}, but {} owns report {} at epoch {}",
                        h.origin, o.owner, h.report_id, o.epoch
                    ),
                ),
                _ => Ok(()),
            }
        }
    }
}

fn hub_only(h: &Held<'_>, kind: TransferKind) -> Result<(), Refusal> {
    if h.origin_is_hub {
        Ok(())
    } else {
        refuse(
            "not_hub",
            format!(
                "{} from {}, which is not a hub; only the hub decides transfers",
                EventKind::Transfer(kind),
                h.origin
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(node: &str, epoch: i64) -> OwnerRow {
        OwnerRow {
            report_id: "a:1".into(),
            owner: node.into(),
            epoch,
            last_event_id: None,
        }
    }

    fn held<'a>(origin: &'a str, epoch: i64, owner: Option<&'a OwnerRow>) -> Held<'a> {
        Held {
            origin,
            origin_is_hub: origin == "hub",
            report_id: "a:1",
            epoch,
            owner,
            here_is_hub: true,
        }
    }

    fn payload(from: &str, to: &str, epoch: i64, offer: Option<&str>) -> TransferPayload {
        TransferPayload {
            offer: offer.map(str::to_owned),
            from: from.into(),
            to: to.into(),
            epoch,
            reason: "routing".into(),
            note: None,
            agency_id: None,
            expires_at_ms: None,
            code: None,
            last_event: None,
        }
    }

    fn offer_row(to: &str, epoch: i64) -> TransferRow {
        TransferRow {
            offer_id: "o1".into(),
            report_id: "a:1".into(),
            from_node: "a".into(),
            to_node: to.into(),
            epoch,
            agency_id: None,
            reason: "routing".into(),
            note: None,
            state: "forwarded".into(),
            code: None,
            expires_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn code(r: Result<(), Refusal>) -> &'static str {
        r.map_or_else(|e| e.code, |()| "ok")
    }

    #[test]
    fn only_the_origin_creates_and_only_the_owner_changes_a_report() {
        let a0 = owner("a", 0);
        assert_eq!(
            code(report_event(&held("a", 0, None), TimelineAction::Created)),
            "ok"
        );
        assert_eq!(
            code(report_event(&held("b", 0, None), TimelineAction::Created)),
            "foreign_report_id"
        );
        assert_eq!(
            code(report_event(&held("a", 3, None), TimelineAction::Created)),
            "bad_epoch"
        );
        assert_eq!(
            code(report_event(&held("b", 0, None), TimelineAction::Verified)),
            "unknown_report"
        );
        assert_eq!(
            code(report_event(
                &held("b", 0, Some(&a0)),
                TimelineAction::Verified
            )),
            "not_owner"
        );
        assert_eq!(
            code(report_event(
                &held("a", 0, Some(&a0)),
                TimelineAction::Verified
            )),
            "ok"
        );
        // A newer epoch may precede its commit; an older one was authored before it: storage decides.
        assert_eq!(
            code(report_event(
                &held("b", 1, Some(&a0)),
                TimelineAction::Transferred
            )),
            "ok"
        );
        let b1 = owner("b", 1);
        assert_eq!(
            code(report_event(
                &held("a", 0, Some(&b1)),
                TimelineAction::Responded
            )),
            "ok"
        );
    }

    #[test]
    fn only_the_owner_offers_and_only_the_hub_decides() {
        let a0 = owner("a", 0);
        let good = payload("a", "c", 1, None);
        assert_eq!(
            code(transfer_event(
                &held("a", 0, Some(&a0)),
                TransferKind::Offer,
                &good,
                None
            )),
            "ok"
        );
        let forged = payload("b", "c", 1, None);
        assert_eq!(
            code(transfer_event(
                &held("b", 0, Some(&a0)),
                TransferKind::Offer,
                &forged,
                None
            )),
            "not_owner"
        );
        assert_eq!(
            code(transfer_event(
                &held("b", 0, None),
                TransferKind::Offer,
                &forged,
                None
            )),
            "unknown_report"
        );
        assert_eq!(
            code(transfer_event(
                &held("a", 0, Some(&a0)),
                TransferKind::Offer,
                &payload("b", "c", 1, None),
                None
            )),
            "bad_transfer"
        );
        let commit = payload("a", "c", 1, Some("o1"));
        assert_eq!(
            code(transfer_event(
                &held("c", 1, Some(&a0)),
                TransferKind::Committed,
                &commit,
                None
            )),
            "not_hub"
        );
        assert_eq!(
            code(transfer_event(
                &held("hub", 1, Some(&a0)),
                TransferKind::Committed,
                &commit,
                None
            )),
            "ok"
        );
        assert_eq!(
            code(transfer_event(
                &held("c", 0, Some(&a0)),
                TransferKind::Forwarded,
                &commit,
                None
            )),
            "not_hub"
        );
    }

    #[test]
    fn an_accept_must_answer_an_offer_made_to_its_author() {
        let a0 = owner("a", 0);
        let accept = payload("a", "c", 1, Some("o1"));
        let to_c = offer_row("c", 1);
        assert_eq!(
            code(transfer_event(
                &held("c", 0, Some(&a0)),
                TransferKind::Accept,
                &accept,
                Some(&to_c)
            )),
            "ok"
        );
        assert_eq!(
            code(transfer_event(
                &held("c", 0, Some(&a0)),
                TransferKind::Accept,
                &accept,
                None
            )),
            "unknown_offer"
        );
        let to_d = offer_row("d", 1);
        assert_eq!(
            code(transfer_event(
                &held("c", 0, Some(&a0)),
                TransferKind::Accept,
                &accept,
                Some(&to_d)
            )),
            "offer_not_addressed"
        );
        let other_epoch = offer_row("c", 2);
        assert_eq!(
            code(transfer_event(
                &held("c", 0, Some(&a0)),
                TransferKind::Accept,
                &accept,
                Some(&other_epoch)
            )),
            "offer_not_addressed"
        );
        // A regional node that never saw the offer stores the accept for display; the hub decides.
        let mut regional = held("c", 0, Some(&a0));
        regional.here_is_hub = false;
        assert_eq!(
            code(transfer_event(
                &regional,
                TransferKind::Accept,
                &accept,
                None
            )),
            "ok"
        );
    }
}
