//! Per-origin log rules: sequence numbers, the `origin_prev` hash chain and fork (equivocation) detection.
//!
//! Each origin's events form one gapless chain: `origin_seq` 1, 2, 3... each naming its predecessor's id in
//! `origin_prev`. A receiver that has accepted that chain up to some head classifies every incoming, already
//! signature-checked event against it with [`classify`]; [`OriginState`] keeps the bookkeeping in memory for
//! callers (and tests) that want it. Storage is the caller's: these are pure rules.
//!
//! Two validly signed events with the same origin and sequence number are an equivocation: the origin forked
//! its own log. Both are kept as evidence, the origin is frozen and an alarm is raised; nothing here picks a
//! winner.

use std::collections::BTreeMap;

use crate::envelope::{EventId, SignedEvent};

/// The last accepted event of an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogHead {
    /// Its `origin_seq`.
    pub seq: u64,
    /// Its id.
    pub id: EventId,
}

/// The part of an event the log rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Link {
    /// `origin_seq`.
    pub seq: u64,
    /// The event id.
    pub id: EventId,
    /// `origin_prev`.
    pub prev: Option<EventId>,
}

impl Link {
    /// The link of a signed event.
    pub fn of(event: &SignedEvent) -> Self {
        Link {
            seq: event.event().origin_seq,
            id: event.id(),
            prev: event.event().origin_prev,
        }
    }
}

/// Proof that an origin signed two different events with the same sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Equivocation {
    /// The contested sequence number.
    pub seq: u64,
    /// The event seen first (accepted or held).
    pub first: EventId,
    /// The conflicting event.
    pub second: EventId,
}

/// Why an event's link cannot be right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidLink {
    /// `origin_seq` is 0.
    ZeroSeq,
    /// The first event (seq 1) names a predecessor.
    PrevOnFirst,
    /// An event after the first names no predecessor.
    MissingPrev,
    /// The event follows the head by sequence but names another predecessor: the origin's chain is broken
    /// (if the signature is valid, the origin forked its log at an earlier point).
    PrevMismatch {
        /// The id of our head.
        expected: Option<EventId>,
        /// What the event names.
        found: Option<EventId>,
    },
    /// The event is at or below the head but the caller could not say which id was accepted at that seq.
    UnknownHistory {
        /// The sequence number asked about.
        seq: u64,
    },
}

/// How an incoming event relates to the accepted log of its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Classification {
    /// It extends the log: seq = head + 1 and `origin_prev` = the head's id. Accept it.
    Next,
    /// This exact event was already accepted. Acknowledge and drop it.
    Duplicate,
    /// Events are missing before it: hold it and fetch the log of that origin from `expected` on.
    Gap {
        /// The next sequence number the log needs.
        expected: u64,
    },
    /// Another event was accepted at the same seq. Keep both, freeze the origin, raise an alarm.
    Equivocation(Equivocation),
    /// The link is malformed or does not chain onto the head. Quarantine it.
    Invalid(InvalidLink),
}

/// Classifies `link` against the accepted log of its origin.
///
/// `head` is the last accepted event (`None` when nothing of that origin was accepted yet); `accepted_at`
/// answers the id accepted at a sequence number below the head (a storage lookup), and is only called for
/// events older than the head.
pub fn classify(
    head: Option<LogHead>,
    link: &Link,
    accepted_at: impl FnOnce(u64) -> Option<EventId>,
) -> Classification {
    match (link.seq, link.prev) {
        (0, _) => return Classification::Invalid(InvalidLink::ZeroSeq),
        (1, Some(_)) => return Classification::Invalid(InvalidLink::PrevOnFirst),
        (2.., None) => return Classification::Invalid(InvalidLink::MissingPrev),
        _ => {}
    }
    let last = head.map_or(0, |h| h.seq);
    if link.seq <= last {
        let known = match head {
            Some(h) if h.seq == link.seq => Some(h.id),
            _ => accepted_at(link.seq),
        };
        return match known {
            None => Classification::Invalid(InvalidLink::UnknownHistory { seq: link.seq }),
            Some(id) if id == link.id => Classification::Duplicate,
            Some(first) => Classification::Equivocation(Equivocation {
                seq: link.seq,
                first,
                second: link.id,
            }),
        };
    }
    if link.seq == last + 1 {
        let expected = head.map(|h| h.id);
        return if link.prev == expected {
            Classification::Next
        } else {
            Classification::Invalid(InvalidLink::PrevMismatch {
                expected,
                found: link.prev,
            })
        };
    }
    Classification::Gap { expected: last + 1 }
}

/// Most out-of-order events an [`OriginState`] holds; beyond that they are dropped and must be pulled again.
pub const MAX_PENDING: usize = 10_000;

/// What [`OriginState::offer`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// How the offered event was classified.
    pub classification: Classification,
    /// Events accepted by this offer, in order: the offered one and any held events it unblocked.
    pub accepted: Vec<EventId>,
    /// Held events that turned out not to chain once their predecessor arrived.
    pub rejected: Vec<(Link, InvalidLink)>,
}

/// In-memory log state of one origin: the accepted chain, events held for a gap, and recorded equivocations.
///
/// Once an equivocation is recorded the origin is frozen: events keep being classified and held, but none is
/// accepted until an operator resolves the fork (by building a new state).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginState {
    /// `accepted[i]` is the id at seq `i + 1`.
    accepted: Vec<EventId>,
    pending: BTreeMap<u64, Link>,
    equivocations: Vec<Equivocation>,
}

impl OriginState {
    /// A state with nothing accepted.
    pub fn new() -> Self {
        Self::default()
    }

    /// A state whose accepted chain is `ids` (seq 1 first), as loaded from storage.
    pub fn from_accepted(ids: Vec<EventId>) -> Self {
        OriginState {
            accepted: ids,
            ..Self::default()
        }
    }

    /// The last accepted event.
    pub fn head(&self) -> Option<LogHead> {
        self.accepted.last().map(|&id| LogHead {
            seq: self.accepted.len() as u64,
            id,
        })
    }

    /// The id accepted at `seq`.
    pub fn accepted_at(&self, seq: u64) -> Option<EventId> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.accepted.get(index).copied()
    }

    /// Whether an equivocation froze this origin.
    pub fn is_frozen(&self) -> bool {
        !self.equivocations.is_empty()
    }

    /// Equivocations recorded so far.
    pub fn equivocations(&self) -> &[Equivocation] {
        &self.equivocations
    }

    /// Number of events held for a gap.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Classifies `link` against the accepted chain without changing anything.
    pub fn classify(&self, link: &Link) -> Classification {
        classify(self.head(), link, |seq| self.accepted_at(seq))
    }

    fn record(&mut self, equivocation: Equivocation) {
        if !self.equivocations.contains(&equivocation) {
            self.equivocations.push(equivocation);
        }
    }

    /// Offers a signature-checked event: accepts it if it is next (then any held events it unblocks), holds
    /// it if it is early, records an equivocation if it conflicts with an accepted or held event.
    pub fn offer(&mut self, link: Link) -> Offered {
        let classification = self.classify(&link);
        let mut out = Offered {
            classification,
            accepted: Vec::new(),
            rejected: Vec::new(),
        };
        match classification {
            Classification::Next | Classification::Gap { .. } => {
                if let Some(held) = self.pending.get(&link.seq) {
                    if held.id == link.id {
                        out.classification = Classification::Duplicate;
                    } else {
                        let e = Equivocation {
                            seq: link.seq,
                            first: held.id,
                            second: link.id,
                        };
                        self.record(e);
                        out.classification = Classification::Equivocation(e);
                    }
                    return out;
                }
                if classification == Classification::Next && !self.is_frozen() {
                    self.accepted.push(link.id);
                    out.accepted.push(link.id);
                    self.drain_pending(&mut out);
                } else if self.pending.len() < MAX_PENDING {
                    self.pending.insert(link.seq, link);
                }
            }
            Classification::Equivocation(e) => self.record(e),
            Classification::Duplicate | Classification::Invalid(_) => {}
        }
        out
    }

    fn drain_pending(&mut self, out: &mut Offered) {
        while let Some(next) = self.pending.remove(&(self.accepted.len() as u64 + 1)) {
            match self.classify(&next) {
                Classification::Next => {
                    self.accepted.push(next.id);
                    out.accepted.push(next.id);
                }
                Classification::Invalid(reason) => out.rejected.push((next, reason)),
                // Not reachable for seq = head + 1, which is either Next or a bad link.
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EventId {
        EventId([n; 32])
    }

    fn link(seq: u64, n: u8, prev: Option<u8>) -> Link {
        Link {
            seq,
            id: id(n),
            prev: prev.map(id),
        }
    }

    fn none(_: u64) -> Option<EventId> {
        None
    }

    #[test]
    fn classify_first_event() {
        assert_eq!(
            classify(None, &link(1, 1, None), none),
            Classification::Next
        );
        assert_eq!(
            classify(None, &link(3, 3, Some(2)), none),
            Classification::Gap { expected: 1 }
        );
        assert_eq!(
            classify(None, &link(0, 1, None), none),
            Classification::Invalid(InvalidLink::ZeroSeq)
        );
        assert_eq!(
            classify(None, &link(1, 1, Some(9)), none),
            Classification::Invalid(InvalidLink::PrevOnFirst)
        );
        assert_eq!(
            classify(None, &link(2, 2, None), none),
            Classification::Invalid(InvalidLink::MissingPrev)
        );
    }

    #[test]
    fn classify_against_head() {
        let head = Some(LogHead { seq: 5, id: id(5) });
        assert_eq!(
            classify(head, &link(6, 6, Some(5)), none),
            Classification::Next
        );
        assert_eq!(
            classify(head, &link(6, 6, Some(4)), none),
            Classification::Invalid(InvalidLink::PrevMismatch {
                expected: Some(id(5)),
                found: Some(id(4))
            })
        );
        assert_eq!(
            classify(head, &link(8, 8, Some(7)), none),
            Classification::Gap { expected: 6 }
        );
        assert_eq!(
            classify(head, &link(5, 5, Some(4)), none),
            Classification::Duplicate
        );
        assert_eq!(
            classify(head, &link(5, 55, Some(4)), none),
            Classification::Equivocation(Equivocation {
                seq: 5,
                first: id(5),
                second: id(55)
            })
        );
        let history = |seq: u64| (seq == 3).then_some(id(3));
        assert_eq!(
            classify(head, &link(3, 3, Some(2)), history),
            Classification::Duplicate
        );
        assert_eq!(
            classify(head, &link(3, 33, Some(2)), history),
            Classification::Equivocation(Equivocation {
                seq: 3,
                first: id(3),
                second: id(33)
            })
        );
        assert_eq!(
            classify(head, &link(2, 2, Some(1)), none),
            Classification::Invalid(InvalidLink::UnknownHistory { seq: 2 })
        );
    }

    #[test]
    fn state_accepts_in_order_and_fills_gaps() {
        let mut s = OriginState::new();
        assert_eq!(s.offer(link(1, 1, None)).accepted, vec![id(1)]);
        // 3 and 4 arrive before 2.
        assert_eq!(
            s.offer(link(3, 3, Some(2))).classification,
            Classification::Gap { expected: 2 }
        );
        assert_eq!(
            s.offer(link(4, 4, Some(3))).classification,
            Classification::Gap { expected: 2 }
        );
        assert_eq!(
            s.offer(link(4, 4, Some(3))).classification,
            Classification::Duplicate
        );
        assert_eq!(s.pending_len(), 2);
        let out = s.offer(link(2, 2, Some(1)));
        assert_eq!(out.classification, Classification::Next);
        assert_eq!(out.accepted, vec![id(2), id(3), id(4)]);
        assert_eq!(s.head(), Some(LogHead { seq: 4, id: id(4) }));
        assert_eq!(s.pending_len(), 0);
        assert_eq!(
            s.offer(link(2, 2, Some(1))).classification,
            Classification::Duplicate
        );
        assert_eq!(s.accepted_at(0), None);
        assert_eq!(s.accepted_at(3), Some(id(3)));
    }

    #[test]
    fn held_event_with_bad_link_is_rejected_when_reached() {
        let mut s = OriginState::from_accepted(vec![id(1)]);
        s.offer(link(3, 3, Some(99)));
        let out = s.offer(link(2, 2, Some(1)));
        assert_eq!(out.accepted, vec![id(2)]);
        assert_eq!(
            out.rejected,
            vec![(
                link(3, 3, Some(99)),
                InvalidLink::PrevMismatch {
                    expected: Some(id(2)),
                    found: Some(id(99))
                }
            )]
        );
    }

    #[test]
    fn equivocation_freezes_origin() {
        let mut s = OriginState::from_accepted(vec![id(1), id(2)]);
        let out = s.offer(link(2, 22, Some(1)));
        let e = Equivocation {
            seq: 2,
            first: id(2),
            second: id(22),
        };
        assert_eq!(out.classification, Classification::Equivocation(e));
        assert!(s.is_frozen());
        assert_eq!(s.equivocations(), &[e]);
        // Offering the same conflicting event again records nothing new.
        s.offer(link(2, 22, Some(1)));
        assert_eq!(s.equivocations().len(), 1);
        // Frozen: a valid next event is held, not accepted.
        let out = s.offer(link(3, 3, Some(2)));
        assert_eq!(out.classification, Classification::Next);
        assert!(out.accepted.is_empty());
        assert_eq!(s.head().map(|h| h.seq), Some(2));
    }

    #[test]
    fn equivocation_between_held_events() {
        let mut s = OriginState::new();
        s.offer(link(5, 5, Some(4)));
        let out = s.offer(link(5, 50, Some(4)));
        assert_eq!(
            out.classification,
            Classification::Equivocation(Equivocation {
                seq: 5,
                first: id(5),
                second: id(50)
            })
        );
        assert!(s.is_frozen());
    }

    #[test]
    fn invalid_link_is_not_accepted() {
        let mut s = OriginState::from_accepted(vec![id(1)]);
        let out = s.offer(link(2, 2, Some(7)));
        assert!(matches!(
            out.classification,
            Classification::Invalid(InvalidLink::PrevMismatch { .. })
        ));
        assert!(out.accepted.is_empty());
        assert_eq!(s.head().map(|h| h.seq), Some(1));
        assert!(!s.is_frozen());
    }
}
