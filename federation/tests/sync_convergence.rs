#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation
)]
//! Sync convergence as a property (issue 17): a hub and two regional nodes, each authoring signed events in
//! its own log, exchange them over a network that the schedule partitions, duplicates, reorders and drops,
//! while nodes crash (losing every event they held for a gap, keeping what they accepted). After the links
//! heal and every node pulls what it misses, each node that follows an origin holds exactly that origin's
//! log: the same head, every event exactly once and in order, nothing held, no equivocation.
//!
//! Who follows whom is the protocol's (PROTOCOL 8.1): the hub follows every origin, a regional node its own
//! and the hub's. Events travel as their wire bytes and are verified (`verify_received`) before the log rules
//! (`OriginState`) see them, exactly like the node does.
//!
//! `LAPOR_SYNC_CASES` sets the number of schedules (default 64; the nightly mode runs at least 100).

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use lapor_federation::canonical::Value;
use lapor_federation::envelope::{verify_received, Event, KeyRing};
use lapor_federation::{Classification, Link, OriginState};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const NODES: [&str; 3] = ["hub", "kupangkota", "kaltim"];

fn cases() -> u32 {
    std::env::var("LAPOR_SYNC_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Whether node `n` follows origin `o`.
fn follows(n: usize, o: usize) -> bool {
    n == 0 || o == 0 || n == o
}

#[derive(Debug, Clone)]
enum Op {
    /// Node authors its next event.
    Author(usize),
    /// Sender pushes every event after its cursor for the receiver (one message per event).
    Push(usize, usize),
    /// The receiver's answer to the last push reaches the sender: the cursor moves past that batch (the
    /// receiver stored it, perhaps only held for a gap, which a crash then loses: catch-up must heal that).
    Ack(usize, usize),
    /// Deliver an in-flight message (chosen by index: any order).
    Deliver(usize),
    /// Deliver an in-flight message and keep a copy in flight.
    Duplicate(usize),
    /// Lose an in-flight message.
    Drop(usize),
    /// Cut or heal the link between a regional node and the hub.
    Partition(usize, bool),
    /// The node crashes: events held for a gap are gone, accepted ones stay.
    Crash(usize),
    /// The node pulls an origin's log after its head from a node that holds it.
    Pull(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let node = 0..3usize;
    prop_oneof![
        4 => node.clone().prop_map(Op::Author),
        3 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Push(a, b)),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Ack(a, b)),
        6 => any::<usize>().prop_map(Op::Deliver),
        1 => any::<usize>().prop_map(Op::Duplicate),
        1 => any::<usize>().prop_map(Op::Drop),
        1 => (1..3usize, any::<bool>()).prop_map(|(r, cut)| Op::Partition(r, cut)),
        1 => node.clone().prop_map(Op::Crash),
        1 => (node.clone(), node).prop_map(|(a, o)| Op::Pull(a, o)),
    ]
}

struct Net {
    keys: Vec<SigningKey>,
    ring: KeyRing,
    /// Each node's own log: wire bytes, seq 1 first.
    logs: Vec<Vec<Vec<u8>>>,
    /// `states[n][o]`: what node `n` holds of origin `o`.
    states: Vec<Vec<OriginState>>,
    /// Events node `n` accepted of origin `o`, in order, by wire bytes (a node serves them on pulls).
    held: Vec<Vec<Vec<Vec<u8>>>>,
    /// `cursor[from][to]`: own events of `from` that `to` acknowledged.
    cursor: Vec<Vec<usize>>,
    /// `pushed[from][to]`: end of the last batch `from` pushed to `to`.
    pushed: Vec<Vec<usize>>,
    /// In flight: (from, to, wire bytes).
    flight: Vec<(usize, usize, Vec<u8>)>,
    cut: [bool; 3],
}

impl Net {
    fn new() -> Self {
        let keys: Vec<SigningKey> = (0..3u8)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
            .collect();
        let mut ring = KeyRing::new();
        for (i, k) in keys.iter().enumerate() {
            ring.insert(NODES[i], "k1", k.verifying_key()).unwrap();
        }
        Self {
            keys,
            ring,
            logs: vec![Vec::new(); 3],
            states: vec![vec![OriginState::new(); 3]; 3],
            held: vec![vec![Vec::new(); 3]; 3],
            cursor: vec![vec![0; 3]; 3],
            pushed: vec![vec![0; 3]; 3],
            flight: Vec::new(),
            cut: [false; 3],
        }
    }

    /// Whether `a` and `b` can talk (every link goes through the hub).
    fn linked(&self, a: usize, b: usize) -> bool {
        a != b && (a == 0 || b == 0) && !self.cut[a.max(b)]
    }

    fn author(&mut self, n: usize) {
        let seq = self.logs[n].len() as u64 + 1;
        let prev = self.states[n][n].head().map(|h| h.id);
        let event = Event {
            v: 1,
            kind: "report.created".into(),
            origin: NODES[n].into(),
            origin_seq: seq,
            origin_prev: prev,
            report_id: format!("{}:r{seq}", NODES[n]),
            report_epoch: 0,
            report_prev: Vec::new(),
            authored_at_ms: i64::try_from(seq).unwrap(),
            key_id: "k1".into(),
            payload: Value::Object(BTreeMap::new()),
            blobs: Vec::new(),
        };
        let signed = event.sign(&self.keys[n]).unwrap();
        let wire = signed.wire_bytes().to_vec();
        // Its own log: accepted at once, in order.
        let offered = self.states[n][n].offer(Link::of(&signed));
        assert_eq!(offered.classification, Classification::Next);
        self.held[n][n].push(wire.clone());
        self.logs[n].push(wire);
    }

    /// Node `n` receives bytes: verifies them and offers them to its log rules.
    fn receive(&mut self, n: usize, wire: &[u8]) {
        let signed = verify_received(wire, &self.ring).expect("every event sent verifies");
        let o = NODES
            .iter()
            .position(|x| *x == signed.event().origin)
            .unwrap();
        if !follows(n, o) || o == n {
            return;
        }
        let before = self.states[n][o].head().map_or(0, |h| h.seq);
        let offered = self.states[n][o].offer(Link::of(&signed));
        assert!(
            !matches!(offered.classification, Classification::Equivocation(_)),
            "an honest origin never equivocates: {offered:?}"
        );
        assert!(offered.rejected.is_empty(), "{offered:?}");
        let after = self.states[n][o].head().map_or(0, |h| h.seq);
        // Every accepted event is served on pulls from here; the origin's own bytes are the reference.
        for seq in before + 1..=after {
            let bytes = self.logs[o][usize::try_from(seq - 1).unwrap()].clone();
            self.held[n][o].push(bytes);
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Author(n) => self.author(n),
            Op::Push(from, to) => {
                // A regional node pushes its own log to the hub; the hub pushes its own log to each region.
                if self.linked(from, to) {
                    let after = self.cursor[from][to];
                    self.flight.extend(
                        self.logs[from][after..]
                            .iter()
                            .cloned()
                            .map(|w| (from, to, w)),
                    );
                    self.pushed[from][to] = self.logs[from].len();
                }
            }
            Op::Ack(from, to) => {
                if self.linked(from, to) {
                    self.cursor[from][to] = self.cursor[from][to].max(self.pushed[from][to]);
                }
            }
            Op::Deliver(k) | Op::Duplicate(k) => {
                if self.flight.is_empty() {
                    return;
                }
                let k = k % self.flight.len();
                let (from, to, wire) = if matches!(op, Op::Duplicate(_)) {
                    self.flight[k].clone()
                } else {
                    self.flight.swap_remove(k)
                };
                // A message on a cut link is lost.
                if self.linked(from, to) {
                    self.receive(to, &wire);
                }
            }
            Op::Drop(k) => {
                if !self.flight.is_empty() {
                    let k = k % self.flight.len();
                    self.flight.swap_remove(k);
                }
            }
            Op::Partition(r, cut) => self.cut[r] = cut,
            Op::Crash(n) => {
                for o in 0..3 {
                    let accepted: Vec<_> = (1..=self.states[n][o].head().map_or(0, |h| h.seq))
                        .filter_map(|s| self.states[n][o].accepted_at(s))
                        .collect();
                    self.states[n][o] = OriginState::from_accepted(accepted);
                }
            }
            Op::Pull(n, o) => self.pull(n, o),
        }
    }

    /// Node `n` asks a node it talks to for origin `o`'s events after its head (catch-up).
    fn pull(&mut self, n: usize, o: usize) {
        if !follows(n, o) || n == o {
            return;
        }
        // The origin itself when it talks to `n`, else the hub.
        let source = if self.linked(n, o) { o } else { 0 };
        if source == n || !self.linked(n, source) {
            return;
        }
        let after = self.states[n][o].head().map_or(0, |h| h.seq as usize);
        let page: Vec<Vec<u8>> = self.held[source][o].iter().skip(after).cloned().collect();
        for wire in page {
            self.receive(n, &wire);
        }
    }

    /// Links heal, answers arrive, everyone pulls until nothing changes.
    fn heal(&mut self) {
        self.cut = [false; 3];
        for _ in 0..4 {
            for n in 0..3 {
                for o in 0..3 {
                    self.pull(n, o);
                }
            }
        }
    }

    // `o` names an origin in `logs`, `states[n]` and `NODES` alike.
    #[allow(clippy::needless_range_loop)]
    fn check(&self) -> Result<(), TestCaseError> {
        for o in 0..3 {
            let want: Vec<_> = self.logs[o]
                .iter()
                .map(|w| verify_received(w, &self.ring).unwrap().id())
                .collect();
            for n in (0..3).filter(|&n| follows(n, o)) {
                let s = &self.states[n][o];
                let got: Vec<_> = (1..=s.head().map_or(0, |h| h.seq))
                    .filter_map(|q| s.accepted_at(q))
                    .collect();
                prop_assert_eq!(
                    &got,
                    &want,
                    "{} holds of {} not exactly its log",
                    NODES[n],
                    NODES[o]
                );
                prop_assert!(!s.is_frozen(), "{} froze {}", NODES[n], NODES[o]);
                prop_assert_eq!(
                    self.held[n][o].len(),
                    want.len(),
                    "every event accepted exactly once"
                );
            }
        }
        Ok(())
    }
}

#[test]
fn sync_converges_under_partition_duplicate_reorder_and_crash() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let started = std::time::Instant::now();
    runner
        .run(&proptest::collection::vec(op(), 1..160), |ops| {
            let mut net = Net::new();
            for op in &ops {
                net.apply(op);
            }
            net.heal();
            net.check()
        })
        .unwrap();
    eprintln!(
        "sync convergence: {} schedules in {:?}",
        cases(),
        started.elapsed()
    );
}

/// The property can fail: a receiver that accepts an event out of order (skipping the log rules) is caught.
#[test]
fn a_receiver_that_skips_the_log_rules_is_caught() {
    let mut net = Net::new();
    net.author(1);
    net.author(1);
    // Deliver only the second event, bypassing the rules, as a broken receiver would.
    let second = verify_received(&net.logs[1][1], &net.ring).unwrap();
    net.states[0][1] = OriginState::from_accepted(vec![second.id()]);
    net.held[0][1].push(net.logs[1][1].clone());
    net.heal();
    assert!(net.check().is_err());
}
