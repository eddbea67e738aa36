#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Fuzzing the web form parsers on stable Rust (see `fuzz/README.md`): urlencoded bodies
//! (`web::forms::parse_urlencoded`) and multipart bodies through the real `/report` route, with inputs
//! mutated from `fuzz/corpus/form` and `fuzz/corpus/multipart`. Nothing may panic; the urlencoded parser
//! must agree with the lossy standard parser whenever the input is valid UTF-8 after decoding; a multipart
//! body is never answered with a 5xx. `LAPOR_FUZZ_CASES` sets the executions per target (default 200).

mod support;

use std::path::PathBuf;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use lapor_node::web::forms::parse_urlencoded;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tower::ServiceExt;

fn cases() -> u32 {
    std::env::var("LAPOR_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    seeds
}

/// A seed with up to eight byte edits (replace, insert, delete) and a splice of another seed.
fn mutated(seeds: &[Vec<u8>]) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    let seeds = seeds.to_vec();
    (
        0..n,
        0..n,
        proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..8),
        any::<usize>(),
    )
        .prop_map(move |(a, b, edits, cut)| {
            let mut v = seeds[a].clone();
            for (at, byte, op) in edits {
                let i = if v.is_empty() { 0 } else { at % v.len() };
                match op {
                    0 if !v.is_empty() => v[i] = byte,
                    1 => v.insert(i.min(v.len()), byte),
                    _ if !v.is_empty() => {
                        v.remove(i);
                    }
                    _ => {}
                }
            }
            let other = &seeds[b];
            let from = if other.is_empty() {
                0
            } else {
                cut % other.len()
            };
            v.extend_from_slice(&other[from..]);
            v
        })
}

fn report(target: &str, execs: u64, start: Instant) {
    println!(
        "fuzz {target}: {execs} executions in {:.2} s, no crash",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn fuzz_urlencoded_forms() {
    let seeds = corpus("form");
    let start = Instant::now();
    let mut runner = TestRunner::new(Config {
        cases: cases() * 10,
        failure_persistence: None,
        ..Config::default()
    });
    let execs = std::cell::Cell::new(0u64);
    runner
        .run(&mutated(&seeds), |input| {
            execs.set(execs.get() + 1);
            if let Ok(strict) = parse_urlencoded(&input) {
                let lossy: Vec<(String, String)> =
                    url::form_urlencoded::parse(&input).into_owned().collect();
                prop_assert_eq!(strict, lossy);
            }
            Ok(())
        })
        .unwrap();
    report("form", execs.get(), start);
}

#[test]
fn fuzz_multipart_forms() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = rt
        .block_on(support::test_app(support::Backend::Sqlite))
        .unwrap();
    let seeds = corpus("multipart");
    let start = Instant::now();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let execs = std::cell::Cell::new(0u64);
    runner
        .run(&mutated(&seeds), |input| {
            execs.set(execs.get() + 1);
            let req = Request::builder()
                .method("POST")
                .uri("/report")
                .header("content-type", "multipart/form-data; boundary=B")
                .body(Body::from(input))
                .unwrap();
            let status = rt.block_on(async {
                lapor_node::http::router(t.app.clone())
                    .oneshot(req)
                    .await
                    .unwrap()
                    .status()
            });
            prop_assert!(!status.is_server_error(), "{status}");
            Ok(())
        })
        .unwrap();
    report("multipart", execs.get(), start);
}
