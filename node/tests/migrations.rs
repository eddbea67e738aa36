//! Upgrades from a database created at an earlier schema: migration 0010 renames other nodes' agencies that
//! predate the `<node>/<id>` namespace (PROTOCOL section 9.1), with everything that names them. Runs on SQLite
//! always and on PostgreSQL when `TEST_DATABASE_URL` is set.

#![allow(clippy::expect_used)]

mod support;

use std::path::PathBuf;

use lapor_node::domain::{Millis, Report, TimelineRecord};
use lapor_node::storage::{self, DynStore};
use lapor_schemas::{ReportStatus, TimelineAction};
use support::Backend;

/// 2025-01-06T00:00:00Z.
const T0: Millis = 1_736_121_600_000;

fn migrations(backend: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend)
}

/// What a node that ran before the namespace held: its own `pemkot`, Kaltim's `pemprov` and its child
/// `dinas-pu` under their bare ids, Kaltim's SMS keyword for `dinas-pu`, and Kaltim's `dinas-kesehatan` both
/// bare and already under the new name (a newer `node.agencies` applied before the upgrade).
const OLD_ROWS: &str = "\
INSERT INTO agencies (id, parent_id, path, name, kind, region_code, active, created_at, node_id) VALUES \
 ('pemkot', NULL, '/pemkot/', 'Pemkot Kupang', 'city', '53.71', TRUE, 1, NULL), \
 ('pemprov', NULL, '@kaltim/pemprov/', 'Pemprov Kaltim', 'province', '64', TRUE, 1, 'kaltim'), \
 ('dinas-pu', 'pemprov', '@kaltim/pemprov/dinas-pu/', 'Dinas PU', 'office', '64', TRUE, 1, 'kaltim'), \
 ('dinas-kesehatan', NULL, '@kaltim/dinas-kesehatan/', 'Dinkes (lama)', 'office', '64', FALSE, 1, 'kaltim'), \
 ('kaltim/dinas-kesehatan', NULL, '@kaltim/dinas-kesehatan-baru/', 'Dinkes', 'office', '64', TRUE, 2, 'kaltim'); \
INSERT INTO sms_keywords (keyword, origin, agency_id) VALUES ('PUKALTIM', 'kaltim', 'dinas-pu'), ('KALTIM', 'kaltim', NULL);";

fn report(id: &str, agency: &str) -> Report {
    Report {
        id: id.to_owned(),
        tracking_code: format!("KPG-{}", id.replace(':', "-").to_uppercase()),
        agency_id: Some(agency.to_owned()),
        status: ReportStatus::Verified,
        verified_at: Some(T0),
        verification_due_at: None,
        ..support::report(id, "Jalan rusak", "Lubang besar di jalan", T0)
    }
}

fn created(r: &Report) -> TimelineRecord {
    TimelineRecord {
        report_id: r.id.clone(),
        seq: 0,
        at: r.submitted_at,
        action: TimelineAction::Created,
        actor_role: "reporter".into(),
        actor_id: None,
        actor_name: None,
        agency_id: r.agency_id.clone(),
        from_status: None,
        to_status: Some(r.status),
        note: None,
    }
}

/// The checks after the upgrade, the same on both backends.
async fn check_upgraded(store: &DynStore) {
    let get = |id: &'static str| async move { store.agency_get(id).await.expect("agency_get") };
    assert!(get("dinas-pu").await.is_none(), "the bare row is gone");
    assert!(get("pemprov").await.is_none());
    let pu = get("kaltim/dinas-pu").await.expect("renamed");
    assert_eq!(pu.parent_id.as_deref(), Some("kaltim/pemprov"));
    assert_eq!(pu.path, "@kaltim/pemprov/dinas-pu/");
    assert_eq!(pu.node_id.as_deref(), Some("kaltim"));
    assert_eq!(
        get("kaltim/pemprov").await.expect("renamed").path,
        "@kaltim/pemprov/"
    );
    // Already under the new name: kept as it was, the old bare row folded into it.
    let dinkes = get("kaltim/dinas-kesehatan").await.expect("kept");
    assert_eq!((dinkes.name.as_str(), dinkes.active), ("Dinkes", true));
    assert!(get("dinas-kesehatan").await.is_none());
    // This node's own agency keeps its bare id.
    assert_eq!(get("pemkot").await.expect("own").path, "/pemkot/");
    let r = store
        .report_get("kaltim:r1")
        .await
        .expect("get")
        .expect("report");
    assert_eq!(r.agency_id.as_deref(), Some("kaltim/dinas-pu"));
    let own = store
        .report_get("kupangkota:r2")
        .await
        .expect("get")
        .expect("report");
    assert_eq!(own.agency_id.as_deref(), Some("pemkot"));
    let kw = store
        .sms_keyword_get("PUKALTIM")
        .await
        .expect("keyword")
        .expect("row");
    assert_eq!(kw.agency_id.as_deref(), Some("kaltim/dinas-pu"));
    let node_kw = store
        .sms_keyword_get("KALTIM")
        .await
        .expect("keyword")
        .expect("row");
    assert_eq!(node_kw.agency_id, None);
    // The renamed rows take new children under their new names.
    let mut child = pu.clone();
    child.id = "kaltim/upt-jalan".into();
    child.parent_id = Some(pu.id.clone());
    child.path = "@kaltim/pemprov/dinas-pu/upt-jalan/".into();
    store.agency_create(&child).await.expect("a child");
    // Migrating again changes nothing.
    store.migrate().await.expect("migrate again");
    assert!(get("kaltim/upt-jalan").await.is_some());
}

async fn insert_reports(store: &DynStore) {
    for r in [
        report("kaltim:r1", "dinas-pu"),
        report("kupangkota:r2", "pemkot"),
    ] {
        store
            .report_insert(&r, None, &created(&r), None)
            .await
            .expect("report_insert at the old schema");
    }
}

#[tokio::test]
async fn sqlite_upgrade_renames_other_nodes_agencies() {
    let db = support::fresh_db(Backend::Sqlite).await.expect("sqlite");
    let path = db.dir.path().join("lapor.db");
    {
        let c = rusqlite::Connection::open(&path).expect("open");
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .expect("table");
        for v in 1..=9 {
            let file = std::fs::read_dir(migrations("sqlite"))
                .expect("dir")
                .map(|e| e.expect("entry").path())
                .find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&format!("{v:04}_")))
                })
                .expect("migration file");
            c.execute_batch(&std::fs::read_to_string(file).expect("read"))
                .expect("old migration");
            c.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
                [v],
            )
            .expect("record");
        }
        c.execute_batch(OLD_ROWS).expect("old rows");
    }
    let store = storage::open(&db.url).await.expect("open store");
    insert_reports(&store).await;
    store.migrate().await.expect("upgrade");
    check_upgraded(&store).await;
}

#[tokio::test]
async fn postgres_upgrade_renames_other_nodes_agencies() {
    let Some(db) = support::fresh_db(Backend::Postgres).await else {
        return;
    };
    {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
        let mut old = sqlx::migrate::Migrator::new(migrations("postgres"))
            .await
            .expect("migrator");
        old.migrations = std::borrow::Cow::Owned(
            old.migrations
                .iter()
                .filter(|m| m.version < 10)
                .cloned()
                .collect(),
        );
        old.run(&pool).await.expect("migrate to 0009");
        sqlx::raw_sql(OLD_ROWS)
            .execute(&pool)
            .await
            .expect("old rows");
        pool.close().await;
    }
    let store = storage::open(&db.url).await.expect("open store");
    insert_reports(&store).await;
    store.migrate().await.expect("upgrade");
    check_upgraded(&store).await;
}
