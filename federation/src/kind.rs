//! Event types: the `type` field of an event as a closed enum, so that a receiver matches on variants instead
//! of comparing strings by prefix.
//!
//! The wire form is unchanged: `report.<timeline action>`, `contribution.reply|accept|rate`,
//! `transfer.offer|forwarded|accept|committed|refused|tombstone|released`, `node.agencies`, `key.rotated|revoked`.
//! [`EventKind::parse`] refuses everything else; the envelope itself stays open (a type this version does not
//! know is quarantined by the node, not a signature error), so the parse happens where an event is applied.

use std::fmt;

use lapor_schemas::TimelineAction;

/// What an event is about; decides who may author it and how it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventClass {
    /// A change of a report by its owner (`report.*`).
    Report,
    /// A reporter's action made on another node for the owner to apply (`contribution.*`).
    Contribution,
    /// A step of a transfer between nodes (`transfer.*`).
    Transfer,
    /// A node's own published data (`node.agencies`).
    Node,
    /// A key log entry (`key.*`).
    Key,
}

impl EventClass {
    /// The type prefix of the class, dot included (`report.`).
    pub fn prefix(self) -> &'static str {
        match self {
            EventClass::Report => "report.",
            EventClass::Contribution => "contribution.",
            EventClass::Transfer => "transfer.",
            EventClass::Node => "node.",
            EventClass::Key => "key.",
        }
    }
}

/// A reporter's action forwarded to the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContributionKind {
    /// A reply to the follow-up (or a supplement while on hold).
    Reply,
    /// The reporter accepted the follow-up.
    Accept,
    /// The reporter rated the handling.
    Rate,
}

/// A step of a transfer (PROTOCOL section 9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferKind {
    /// The owner (or the hub) asks to move a report.
    Offer,
    /// The hub passed an offer on to its target.
    Forwarded,
    /// The target takes the report.
    Accept,
    /// The hub moved ownership to the target at the next epoch.
    Committed,
    /// The target or the hub said no.
    Refused,
    /// The old owner closed its epoch.
    Tombstone,
    /// The owner stopped acting on a report the hub moves (a transfer it did not offer itself): every event
    /// it authored at its epoch precedes this one in its log.
    Released,
}

/// The type of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `report.<action>`: a lifecycle change by the owner.
    Report(TimelineAction),
    /// `contribution.*`.
    Contribution(ContributionKind),
    /// `transfer.*`.
    Transfer(TransferKind),
    /// `node.agencies`: the node's agency tree.
    NodeAgencies,
    /// `key.rotated`.
    KeyRotated,
    /// `key.revoked`.
    KeyRevoked,
}

impl EventKind {
    /// `report.created`.
    pub const REPORT_CREATED: EventKind = EventKind::Report(TimelineAction::Created);

    /// The kind an event type names, or `None` for a type this version does not know.
    pub fn parse(s: &str) -> Option<EventKind> {
        let (class, rest) = s.split_once('.')?;
        Some(match (class, rest) {
            ("report", action) => EventKind::Report(TimelineAction::parse(action)?),
            ("contribution", "reply") => EventKind::Contribution(ContributionKind::Reply),
            ("contribution", "accept") => EventKind::Contribution(ContributionKind::Accept),
            ("contribution", "rate") => EventKind::Contribution(ContributionKind::Rate),
            ("transfer", "offer") => EventKind::Transfer(TransferKind::Offer),
            ("transfer", "forwarded") => EventKind::Transfer(TransferKind::Forwarded),
            ("transfer", "accept") => EventKind::Transfer(TransferKind::Accept),
            ("transfer", "committed") => EventKind::Transfer(TransferKind::Committed),
            ("transfer", "refused") => EventKind::Transfer(TransferKind::Refused),
            ("transfer", "tombstone") => EventKind::Transfer(TransferKind::Tombstone),
            ("transfer", "released") => EventKind::Transfer(TransferKind::Released),
            ("node", "agencies") => EventKind::NodeAgencies,
            ("key", "rotated") => EventKind::KeyRotated,
            ("key", "revoked") => EventKind::KeyRevoked,
            _ => return None,
        })
    }

    /// The class of the kind.
    pub fn class(self) -> EventClass {
        match self {
            EventKind::Report(_) => EventClass::Report,
            EventKind::Contribution(_) => EventClass::Contribution,
            EventKind::Transfer(_) => EventClass::Transfer,
            EventKind::NodeAgencies => EventClass::Node,
            EventKind::KeyRotated | EventKind::KeyRevoked => EventClass::Key,
        }
    }

    /// The class of an event type string, known kind or not (`None` when the prefix is none of the classes).
    pub fn class_of(s: &str) -> Option<EventClass> {
        [
            EventClass::Report,
            EventClass::Contribution,
            EventClass::Transfer,
            EventClass::Node,
            EventClass::Key,
        ]
        .into_iter()
        .find(|c| s.starts_with(c.prefix()))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = match self {
            EventKind::Report(action) => action.as_str(),
            EventKind::Contribution(ContributionKind::Reply) => "reply",
            EventKind::Contribution(ContributionKind::Accept)
            | EventKind::Transfer(TransferKind::Accept) => "accept",
            EventKind::Contribution(ContributionKind::Rate) => "rate",
            EventKind::Transfer(TransferKind::Offer) => "offer",
            EventKind::Transfer(TransferKind::Forwarded) => "forwarded",
            EventKind::Transfer(TransferKind::Committed) => "committed",
            EventKind::Transfer(TransferKind::Refused) => "refused",
            EventKind::Transfer(TransferKind::Tombstone) => "tombstone",
            EventKind::Transfer(TransferKind::Released) => "released",
            EventKind::NodeAgencies => "agencies",
            EventKind::KeyRotated => "rotated",
            EventKind::KeyRevoked => "revoked",
        };
        write!(f, "{}{rest}", self.class().prefix())
    }
}

impl PartialEq<EventKind> for str {
    fn eq(&self, other: &EventKind) -> bool {
        EventKind::parse(self) == Some(*other)
    }
}

impl PartialEq<EventKind> for String {
    fn eq(&self, other: &EventKind) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<EventKind> {
        let mut v: Vec<EventKind> = TimelineAction::ALL
            .into_iter()
            .map(EventKind::Report)
            .collect();
        v.extend(
            [
                ContributionKind::Reply,
                ContributionKind::Accept,
                ContributionKind::Rate,
            ]
            .map(EventKind::Contribution),
        );
        v.extend(
            [
                TransferKind::Offer,
                TransferKind::Forwarded,
                TransferKind::Accept,
                TransferKind::Committed,
                TransferKind::Refused,
                TransferKind::Tombstone,
                TransferKind::Released,
            ]
            .map(EventKind::Transfer),
        );
        v.extend([
            EventKind::NodeAgencies,
            EventKind::KeyRotated,
            EventKind::KeyRevoked,
        ]);
        v
    }

    #[test]
    fn every_kind_round_trips_through_its_wire_form() {
        for k in all() {
            let s = k.to_string();
            assert_eq!(EventKind::parse(&s), Some(k), "{s}");
            assert_eq!(EventKind::class_of(&s), Some(k.class()), "{s}");
            assert!(s.as_str() == &k);
        }
        assert_eq!(EventKind::REPORT_CREATED.to_string(), "report.created");
        assert_eq!(EventKind::KeyRotated.to_string(), crate::keys::KEY_ROTATED);
        assert_eq!(EventKind::KeyRevoked.to_string(), crate::keys::KEY_REVOKED);
    }

    #[test]
    fn unknown_types_do_not_parse() {
        for s in [
            "",
            "report",
            "report.",
            "report.nope",
            "transfer.offered",
            "node.code",
            "key.added",
            "Report.created",
        ] {
            assert_eq!(EventKind::parse(s), None, "{s}");
        }
        assert_eq!(EventKind::class_of("report.nope"), Some(EventClass::Report));
        assert_eq!(EventKind::class_of("other.x"), None);
    }
}
