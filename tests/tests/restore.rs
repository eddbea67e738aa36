#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The restore drill: a regional node restored from an older backup takes back from the hub what it signed
//! after the backup, continues its log at the right sequence number, and the hub records no fork.

use std::time::Duration;

use lapor_tests::cluster::{file_report, report, wait_status, Cluster};
use serde_json::json;

mod peer;
use peer::metrics;

const LONG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restored_from_an_old_backup_recovers_its_log_from_the_hub() {
    let mut c = Cluster::start(&[("kupang", "KPG"), ("kaltim", "KTM")])
        .await
        .unwrap();
    let k = c.member("kupang").admin().unwrap();
    let h = c.hub().admin().unwrap();
    let (before, _, _) = file_report(&k, "Sebelum pencadangan").await.unwrap();
    wait_status(&h, &before, "submitted", LONG).await.unwrap();

    // The backup, taken while the node runs (`lapor backup`, as docs/OPERATIONS.md says).
    let backup = tempfile::tempdir().unwrap();
    let file = backup.path().join("kupang.lapor-backup");
    let file = file.to_str().unwrap();
    c.member("kupang").cli(&["backup", "--out", file]).unwrap();

    // Changes after the backup that reach the hub: two new reports and a hold on the first.
    let (after1, _, _) = file_report(&k, "Setelah pencadangan satu").await.unwrap();
    let (after2, _, _) = file_report(&k, "Setelah pencadangan dua").await.unwrap();
    let (st, body) = k
        .post_json(
            &format!("/api/v1/reports/{before}/hold"),
            &json!({"note": "Mohon sebutkan alamat lengkap."}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{st} {body}");
    for code in [&after1, &after2] {
        wait_status(&h, code, "submitted", LONG).await.unwrap();
    }
    wait_status(&h, &before, "on_hold", LONG).await.unwrap();

    // The restore: `lapor restore` of the stopped node, then start.
    c.member_mut("kupang").unwrap().stop().unwrap();
    c.member("kupang").cli(&["restore", file]).unwrap();
    c.member_mut("kupang").unwrap().start().unwrap();
    let out = c.member("kupang").output();
    assert!(
        out.contains("recovered this node's own events from the hub"),
        "the recovery is logged: {out}"
    );

    // What was signed after the backup is back on Kupang, before it serves anything else.
    for code in [&after1, &after2] {
        let r = report(&k, code).await.unwrap();
        assert_eq!(
            r.map(|r| r["status"].clone()),
            Some(json!("submitted")),
            "{code} is back on Kupang"
        );
    }
    assert_eq!(
        report(&k, &before).await.unwrap().unwrap()["status"],
        "on_hold"
    );

    // Kupang continues its log: a new report and a change reach the hub; no fork anywhere.
    let (next, _, _) = file_report(&k, "Setelah pemulihan").await.unwrap();
    wait_status(&h, &next, "submitted", LONG).await.unwrap();
    let (st, body) = k
        .post_json(
            &format!("/api/v1/reports/{after1}/hold"),
            &json!({"note": "Lampirkan foto, mohon."}),
        )
        .await
        .unwrap();
    assert!(st.is_success(), "{st} {body}");
    wait_status(&h, &after1, "on_hold", LONG).await.unwrap();
    let text = metrics(&c.hub().api()).await;
    assert!(text.contains("lapor_federation_frozen_origins 0"), "{text}");
    assert!(!text.contains("broken_chain"), "{text}");
    let status = c.hub().cli(&["federation", "status"]).unwrap();
    assert!(
        status.contains("equivocations: 0") && !status.contains("REFUSED"),
        "{status}"
    );
}
