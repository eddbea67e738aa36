#![allow(clippy::unwrap_used, clippy::expect_used)]
//! docs/OPERATIONS.md, "From nothing to a hub and two regions", run as written: the shell block of that
//! section, unchanged, in `bash -eu` with the `lapor` binary on PATH, free ports and a database name of its
//! own. Real processes on loopback: the hub on PostgreSQL and two SQLite regions configured from
//! deploy/compose/*.toml, enrolled by deploy/enrol.sh while they run. Then the report the block filed on the
//! national portal must be owned by Kupang on both Kupang and the hub, and the hub's status must show both
//! regions delivered to.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lapor_tests::pg::PgDatabase;
use lapor_tests::{free_port, lapor_binary, wait_for, Api};
use serde_json::{json, Value};

const SECTION: &str = "## From nothing to a hub and two regions";
const LIMIT: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The shell block after "Then, step by step" in the section.
fn doc_block() -> String {
    let doc = std::fs::read_to_string(repo().join("docs/OPERATIONS.md")).unwrap();
    let section = &doc[doc.find(SECTION).expect("the section is in OPERATIONS.md")..];
    let steps = &section[section.find("Then, step by step").unwrap()..];
    let start = steps.find("```sh\n").unwrap() + "```sh\n".len();
    steps[start..start + steps[start..].find("```").unwrap()].to_owned()
}

/// Stops the nodes the block started (by the process ids it wrote) and shows their logs on failure.
struct Pilot(PathBuf);

impl Drop for Pilot {
    fn drop(&mut self) {
        for n in ["hub", "kupangkota", "kaltimprov"] {
            if let Ok(pid) = std::fs::read_to_string(self.0.join(n).join("pid")) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
            if std::thread::panicking() {
                let log =
                    std::fs::read_to_string(self.0.join(n).join("serve.log")).unwrap_or_default();
                eprintln!("--- {n}/serve.log\n{log}");
            }
        }
    }
}

async fn login(port: u16) -> Api {
    let api = Api::new(&format!("http://127.0.0.1:{port}"));
    let (st, body) = api
        .post_json(
            "/api/v1/auth/login",
            &json!({"username": "admin", "password": "pilot-password-1"}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "login: {st} {body}");
    api.with_token(body["token"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newcomers_path_in_operations_md_works_as_written() {
    let Some(db) = PgDatabase::reserve("newcomer").unwrap() else {
        eprintln!("TEST_DATABASE_URL unset: the hub needs PostgreSQL; skipped");
        return;
    };
    let pilot = tempfile::tempdir().unwrap();
    let _guard = Pilot(pilot.path().to_owned());
    let (hub, kpg, ktm) = (
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    );
    let bin_dir = lapor_binary().unwrap().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("timeout");
    cmd.args(["180", "bash", "-eu", "-c", &doc_block()])
        .current_dir(pilot.path())
        .env("PATH", path)
        .env("REPO", repo())
        .env("HUB_PORT", hub.to_string())
        .env("KPG_PORT", kpg.to_string())
        .env("KTM_PORT", ktm.to_string())
        .env("HUB_DATABASE_URL", &db.url)
        .env("RUST_LOG", "info");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LAPOR_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the block failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("enrolled kupangkota at hub")
            && stdout.contains("enrolled kaltimprov at hub"),
        "{stdout}"
    );

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(pilot.path().join("report.json")).unwrap())
            .unwrap();
    let code = report["tracking_code"].as_str().unwrap().to_owned();
    let (hub_api, kpg_api) = (login(hub).await, login(kpg).await);
    for (name, api) in [("kupangkota", &kpg_api), ("hub", &hub_api)] {
        let code = code.clone();
        wait_for(
            &format!("{code} owned by kupangkota on {name}"),
            LIMIT,
            Duration::from_millis(200),
            || {
                let api = api.clone();
                let code = code.clone();
                async move {
                    let (st, v) = api.get_json(&format!("/api/v1/reports/{code}")).await?;
                    Ok((st.as_u16() == 200 && v["owner_node"] == "kupangkota").then_some(v))
                }
            },
        )
        .await
        .unwrap();
    }

    // The status command of the doc, after the dust settles: both regions enrolled and delivered to.
    let hub_toml = pilot.path().join("hub/lapor.toml");
    let status = wait_for(
        "hub status with both regions caught up",
        LIMIT,
        Duration::from_millis(500),
        || {
            let hub_toml = hub_toml.clone();
            async move {
                let out = Command::new(lapor_binary()?)
                    .arg("-c")
                    .arg(&hub_toml)
                    .args(["federation", "status"])
                    .env_remove("LAPOR_CONFIG")
                    .output()?;
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let delivered = text.matches("backlog 0").count() >= 2
                    && text.contains("kupangkota")
                    && text.contains("kaltimprov");
                Ok(delivered.then_some(text))
            }
        },
    )
    .await
    .unwrap();
    assert!(!status.contains("connection refused"), "{status}");
}
