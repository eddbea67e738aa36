//! `lapor bench all --quick` runs every part of the suite end to end, so the suite never rots. No timing is
//! asserted: only that every part ran and printed each of its metrics as `name ours limit ratio ...` with
//! numbers, the way docs/BENCHMARKS.md reads them.

use std::process::Command;

/// The metrics the parts of this branch print (other parts may add lines; these must be there).
const METRICS: &[&str] = &[
    "size.binary",
    "intake.durable",
    "intake.open_loop.p50",
    "intake.open_loop.p99",
    "intake.open_loop.p99.9",
    "read.healthz",
    "read.report_get_api",
    "read.report_page_html",
    "memory.rss_idle",
    "memory.rss_under_load",
    "stats.agency_month",
    "stats.public_month",
    "ingest.batched.sqlite",
    "catchup.rate",
    "lag.p50",
    "lag.p99",
    "lag.drain",
    "ingest.single.sqlite",
];

#[test]
fn bench_all_quick_prints_every_metric() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lapor"))
        .args(["bench", "all", "--quick"])
        .current_dir(dir.path())
        .env_remove("LAPOR_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "lapor bench all --quick failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    println!("{stdout}");
    for name in METRICS {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name} in:\n{stdout}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(cols.len() >= 5, "{name}: too few columns in {line:?}");
        let ours: f64 = cols[1]
            .parse()
            .unwrap_or_else(|_| panic!("{name}: ours is not a number in {line:?}"));
        let limit: f64 = cols[2]
            .parse()
            .unwrap_or_else(|_| panic!("{name}: limit is not a number in {line:?}"));
        assert!(
            ours.is_finite() && ours >= 0.0,
            "{name}: ours {ours} in {line:?}"
        );
        assert!(
            limit.is_finite() && limit > 0.0,
            "{name}: limit {limit} in {line:?}"
        );
        assert!(
            cols[3].parse::<f64>().is_ok(),
            "{name}: ratio is not a number in {line:?}"
        );
        assert!(
            line.contains("budget") && line.contains(';'),
            "{name}: no budget verdict or raw numbers in {line:?}"
        );
    }
    // Every request of the quick runs was answered: a part whose requests failed says so in its raw numbers.
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" errors (first: "))
        .collect();
    assert!(failed.is_empty(), "requests failed: {failed:#?}");
}
