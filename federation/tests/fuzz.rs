#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Fuzzing on stable Rust (see `fuzz/README.md`): the canonical JSON decoder, envelope verification and push
//! batch verification get inputs mutated from the committed corpus (`fuzz/corpus/<target>/`: the test
//! vectors, valid and invalid) by proptest, and must never panic; what they accept must hold their
//! invariants (canonical bytes are their own re-encoding, a verified event's wire bytes are the input).
//! Plus property tests of the canonical encoding: every value round-trips, layout does not matter to the
//! decoder, and the encoding is one per value.
//!
//! `LAPOR_FUZZ_CASES` sets the executions per target (default 300, CI runs more); each target prints its
//! time and execution count.

use std::path::PathBuf;
use std::time::Instant;

use lapor_federation::canonical::{self, Value, MAX_SAFE_INTEGER};
use lapor_federation::envelope::{verify_push, verify_received, KeyRing};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("LAPOR_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// The seed inputs of a target.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Splice(usize, usize, usize),
    Token(usize, &'static str),
}

/// JSON fragments that exercise the decoder's rules.
const TOKENS: [&str; 14] = [
    "\"",
    "\\u0000",
    "\\ud800",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "-0",
    "9007199254740993",
    "1e5",
    " ",
    "null",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), 0usize..16).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), 0usize..32).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (any::<usize>(), any::<usize>(), 0usize..64)
            .prop_map(|(s, a, n)| Mutation::Splice(s, a, n)),
        (any::<usize>(), 0usize..TOKENS.len()).prop_map(|(a, t)| Mutation::Token(a, TOKENS[t])),
    ]
}

fn apply(seeds: &[Vec<u8>], seed: usize, muts: &[Mutation]) -> Vec<u8> {
    let mut b = seeds[seed % seeds.len()].clone();
    for m in muts {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match *m {
            Mutation::Flip(i, x) if !b.is_empty() => {
                let i = i % b.len();
                b[i] ^= x | 1;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(i, x) => {
                let i = at(i, b.len());
                b.insert(i, x);
            }
            Mutation::Delete(i, n) => {
                let i = at(i, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Mutation::Duplicate(i, n) => {
                let i = at(i, b.len());
                let end = (i + n).min(b.len());
                let part = b[i..end].to_vec();
                b.splice(i..i, part);
            }
            Mutation::Splice(s, i, n) => {
                let other = &seeds[s % seeds.len()];
                let from = at(i, other.len()).min(other.len());
                let part = other[from..(from + n).min(other.len())].to_vec();
                let i = at(i, b.len());
                b.splice(i..i, part);
            }
            Mutation::Token(i, t) => {
                let i = at(i, b.len());
                b.splice(i..i, t.bytes());
            }
        }
    }
    b
}

/// Runs `check` on `cases()` inputs mutated from the corpus of `target`; prints time and executions.
fn fuzz(target: &str, check: impl Fn(&[u8])) {
    let seeds = corpus(target);
    // Every seed as it is, first.
    for s in &seeds {
        check(s);
    }
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let start = Instant::now();
    let execs = std::cell::Cell::new(seeds.len() as u64);
    let n = seeds.len();
    runner
        .run(
            &(0..n, proptest::collection::vec(mutation(), 1..8)),
            |(seed, muts)| {
                let input = apply(&seeds, seed, &muts);
                check(&input);
                execs.set(execs.get() + 1);
                Ok(())
            },
        )
        .unwrap();
    println!(
        "fuzz {target}: {} executions in {:.2} s, {} seeds, no crash",
        execs.get(),
        start.elapsed().as_secs_f64(),
        n
    );
}

fn keyring() -> KeyRing {
    use ed25519_dalek::SigningKey;
    use sha2::{Digest, Sha256};
    // The test vectors' keys (federation/tests/vectors.rs), so that seeds verify and mutants get that far.
    let mut ring = KeyRing::new();
    for (label, node, key_id) in [
        ("kupang", "lapor.kupangkota.go.id", "kupang-2025-1"),
        ("hub", "hub.lapor.go.id", "hub-2025-1"),
    ] {
        let seed: [u8; 32] = Sha256::digest(format!("lapor test vector key: {label}")).into();
        ring.insert(node, key_id, SigningKey::from_bytes(&seed).verifying_key())
            .unwrap();
    }
    ring
}

#[test]
fn fuzz_canonical_decoder() {
    fuzz("canonical", |input| {
        if let Ok(v) = canonical::decode_canonical(input) {
            assert_eq!(
                canonical::encode(&v).unwrap(),
                input,
                "canonical bytes re-encode to themselves"
            );
        }
        if let Ok(v) = canonical::decode(input) {
            // Whatever layout was accepted, its canonical form decodes to the same value.
            if let Ok(bytes) = canonical::encode(&v) {
                assert_eq!(canonical::decode_canonical(&bytes).unwrap(), v);
            }
        }
    });
}

#[test]
fn fuzz_envelope_verification() {
    let ring = keyring();
    fuzz("envelope", |input| {
        if let Ok(ev) = verify_received(input, &ring) {
            assert_eq!(
                ev.wire_bytes(),
                input,
                "a verified event is exactly its bytes"
            );
        }
    });
}

#[test]
fn fuzz_push_batch_verification() {
    let ring = keyring();
    fuzz("push", |input| {
        let _ = verify_push(input, "hub.lapor.go.id", &ring);
        let _ = verify_push(input, "lapor.kupangkota.go.id", &ring);
    });
}

/// Any value the canonical encoding can hold (integers within the safe range, any Unicode string).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).prop_map(Value::Int),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..8).prop_map(Value::Object),
        ]
    })
}

proptest! {
    #![proptest_config(Config { cases: cases(), failure_persistence: None, ..Config::default() })]

    /// encode then decode_canonical gives the value back, and the bytes are valid JSON meaning the same.
    #[test]
    fn canonical_round_trip(v in value()) {
        let bytes = canonical::encode(&v).unwrap();
        prop_assert_eq!(canonical::decode_canonical(&bytes).unwrap(), v.clone());
        let as_json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(canonical::to_value(&as_json).unwrap(), v);
    }

    /// Layout (pretty printing, whitespace) is tolerated by `decode` and refused by `decode_canonical`, and
    /// both layouts mean one value with one encoding.
    #[test]
    fn canonical_layout_does_not_change_the_value(v in value()) {
        let bytes = canonical::encode(&v).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let pretty = serde_json::to_vec_pretty(&json).unwrap();
        prop_assert_eq!(canonical::decode(&pretty).unwrap(), v.clone());
        if pretty != bytes {
            prop_assert!(canonical::decode_canonical(&pretty).is_err());
        }
        prop_assert_eq!(canonical::encode(&canonical::decode(&pretty).unwrap()).unwrap(), bytes);
    }

    /// Integers beyond the safe range are refused by the encoder, never silently rounded.
    #[test]
    fn unsafe_integers_are_refused(n in (MAX_SAFE_INTEGER + 1)..i64::MAX) {
        prop_assert!(canonical::encode(&Value::Int(n)).is_err());
        prop_assert!(canonical::encode(&Value::Int(-n)).is_err());
    }
}
