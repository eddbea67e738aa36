//! The storage conformance suite: every test is written once against [`DynStore`] and runs against a fresh
//! SQLite file (always) and a fresh PostgreSQL database (whenever `TEST_DATABASE_URL` is set; each test
//! creates its own database from that URL and drops it afterwards).

// The whole file is test code: a failed `expect` is a failed test. Fixture variables are named after the
// report ids they hold (`a`..`e`, `p`..`u`).
#![allow(clippy::expect_used, clippy::many_single_char_names)]

mod support;

use std::future::Future;

use chrono::NaiveDate;
use lapor_node::domain::{
    AgencyRecord, AttachmentRecord, Millis, Report, ReportFilter, ReportOrder, ReporterIdentity,
    SessionRecord, TimelineRecord, Transition, UserRecord,
};
use lapor_node::storage::{self, DynStore, StorageError};
use lapor_schemas::api::{Category, Count};
use lapor_schemas::{ArchiveReason, Channel, ReportKind, ReportStatus, Role, TimelineAction};
use support::Backend;

const DAY: Millis = 86_400_000;
/// 2025-01-06T00:00:00Z.
const T0: Millis = 1_736_121_600_000;

// ---------------------------------------------------------------------------------------------------------------
// Harness

/// Runs `test` against a fresh store on `backend` (see `support::fresh_db`: a SQLite file in a temporary
/// directory, or a PostgreSQL database created from `TEST_DATABASE_URL` and dropped afterwards, also when the
/// test panics). The PostgreSQL variant is skipped when the variable is unset.
async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = support::fresh_db(backend).await else {
        return;
    };
    let store = storage::open(&db.url).await.expect("open store");
    store.migrate().await.expect("migrate");
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(store.backend(), expected);
    test(store).await;
}

/// Declares each test once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::run(super::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::run(super::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}

conformance!(
    meta_put_and_get,
    bootstrap_admin_consumes_the_secret_once,
    agencies,
    categories,
    users,
    sessions,
    report_insert_and_read,
    report_transition_appends_and_guards_version,
    report_transition_erases_identity,
    concurrent_transitions_commit_once,
    report_list_filters,
    report_list_full_text,
    report_list_order_and_paging,
    report_due,
    report_stats,
    attachments,
);

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

/// A freshly submitted web complaint.
fn report(id: &str, title: &str, body: &str, submitted_at: Millis) -> Report {
    Report {
        id: format!("node-a:{id}"),
        tracking_code: format!("TST-{}", id.to_uppercase()),
        secret_hash: format!("secret-of-{id}"),
        kind: ReportKind::Complaint,
        title: title.to_owned(),
        body: body.to_owned(),
        category_id: None,
        agency_id: None,
        agency_path: None,
        region_code: None,
        lat_e6: None,
        lon_e6: None,
        address: None,
        incident_date: None,
        anonymous: false,
        confidential: false,
        channel: Channel::Web,
        status: ReportStatus::Submitted,
        submitted_at,
        updated_at: submitted_at,
        verified_at: None,
        responded_at: None,
        closed_at: None,
        verification_due_at: Some(submitted_at + 3 * DAY),
        followup_due_at: None,
        autocomplete_at: None,
        escalation_at: None,
        verification_overdue: false,
        followup_overdue: false,
        escalated: false,
        archive_reason: None,
        duplicate_of: None,
        rating_score: None,
        rating_comment: None,
        reporter_user_id: None,
        created_by: None,
        version: 1,
    }
}

/// A report with every optional field filled in.
fn full_report(id: &str, submitted_at: Millis) -> Report {
    Report {
        kind: ReportKind::InformationRequest,
        category_id: Some("infrastruktur".into()),
        agency_id: Some("dinas-pu".into()),
        agency_path: Some("/pemkot/dinas-pu/".into()),
        region_code: Some("32.73".into()),
        lat_e6: Some(-6_914_744),
        lon_e6: Some(107_609_810),
        address: Some("Jl. Asia Afrika No. 1".into()),
        incident_date: NaiveDate::from_ymd_opt(2025, 1, 2),
        anonymous: true,
        confidential: true,
        channel: Channel::WalkIn,
        status: ReportStatus::Archived,
        verified_at: Some(submitted_at + 1),
        responded_at: Some(submitted_at + 2),
        closed_at: Some(submitted_at + 3),
        followup_due_at: Some(submitted_at + 4),
        autocomplete_at: Some(submitted_at + 5),
        escalation_at: Some(submitted_at + 6),
        verification_overdue: true,
        followup_overdue: true,
        escalated: true,
        archive_reason: Some(ArchiveReason::Duplicate),
        duplicate_of: Some("node-a:original".into()),
        rating_score: Some(4),
        rating_comment: Some("cepat".into()),
        reporter_user_id: Some("u-reporter".into()),
        created_by: Some("u-officer".into()),
        version: 7,
        ..report(id, "Lengkap", "Semua kolom terisi", submitted_at)
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

/// The transition of `r` to `status` at `at` by an admin, with the version bumped.
fn transition(
    r: &Report,
    status: ReportStatus,
    action: TimelineAction,
    at: Millis,
    note: &str,
) -> Transition {
    let mut next = r.clone();
    next.status = status;
    next.updated_at = at;
    next.version = r.version + 1;
    Transition {
        entry: TimelineRecord {
            report_id: r.id.clone(),
            seq: 0,
            at,
            action,
            actor_role: "admin".into(),
            actor_id: Some("u-admin".into()),
            actor_name: Some("Admin".into()),
            agency_id: next.agency_id.clone(),
            from_status: Some(r.status),
            to_status: Some(status),
            note: Some(note.to_owned()),
        },
        report: next,
        erase_identity: false,
    }
}

async fn insert(store: &DynStore, r: &Report) {
    store
        .report_insert(r, None, &created(r))
        .await
        .expect("report_insert");
}

fn agency(id: &str, parent: Option<&AgencyRecord>) -> AgencyRecord {
    AgencyRecord {
        id: id.to_owned(),
        parent_id: parent.map(|p| p.id.clone()),
        path: format!("{}{id}/", parent.map_or("/", |p| p.path.as_str())),
        name: format!("Agency {id}"),
        kind: "dinas".into(),
        region_code: Some("32.73".into()),
        active: true,
        created_at: T0,
    }
}

fn user(id: &str, username: &str, role: Role) -> UserRecord {
    UserRecord {
        id: id.to_owned(),
        username: username.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        display_name: format!("User {username}"),
        role,
        agency_id: None,
        active: true,
        created_at: T0,
    }
}

fn category(id: &str, name: &str) -> Category {
    Category {
        id: id.to_owned(),
        name_id: name.to_owned(),
        name_en: format!("{name} (en)"),
        active: true,
    }
}

fn all() -> ReportFilter {
    ReportFilter {
        limit: 100,
        ..ReportFilter::default()
    }
}

/// Ids (without the node prefix) of a page, in order.
async fn ids(store: &DynStore, filter: &ReportFilter) -> Vec<String> {
    let (page, total) = store.report_list(filter).await.expect("report_list");
    let ids: Vec<String> = page
        .iter()
        .map(|r| r.id.trim_start_matches("node-a:").to_owned())
        .collect();
    if filter.offset == 0 && (ids.len() as i64) < filter.limit {
        assert_eq!(total, ids.len() as i64, "total of a complete page");
    }
    ids
}

async fn sorted_ids(store: &DynStore, filter: &ReportFilter) -> Vec<String> {
    let mut v = ids(store, filter).await;
    v.sort();
    v
}

fn count(key: &str, n: i64) -> Count {
    Count {
        key: key.to_owned(),
        count: n,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Tests

async fn meta_put_and_get(store: DynStore) {
    store.ping().await.expect("ping");
    store.migrate().await.expect("migrating again is a no-op");
    assert_eq!(store.meta_get("node_id").await.expect("get"), None);
    store.meta_put("node_id", "node-a").await.expect("put");
    assert_eq!(
        store.meta_get("node_id").await.expect("get").as_deref(),
        Some("node-a")
    );
    store
        .meta_put("node_id", "node-b")
        .await
        .expect("overwrite");
    assert_eq!(
        store.meta_get("node_id").await.expect("get").as_deref(),
        Some("node-b")
    );
    assert_eq!(store.meta_get("other").await.expect("get"), None);
}

async fn bootstrap_admin_consumes_the_secret_once(store: DynStore) {
    let admin = user("u-admin", "admin", Role::Admin);
    // No secret stored yet.
    let err = store
        .bootstrap_admin("hash-1", &admin)
        .await
        .expect_err("no secret");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");

    store
        .meta_put("bootstrap_secret_sha256", "hash-1")
        .await
        .expect("put secret");
    let err = store
        .bootstrap_admin("hash-2", &admin)
        .await
        .expect_err("wrong secret");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(store.user_count().await.expect("count"), 0);
    assert_eq!(
        store
            .meta_get("bootstrap_secret_sha256")
            .await
            .expect("get")
            .as_deref(),
        Some("hash-1")
    );

    store
        .bootstrap_admin("hash-1", &admin)
        .await
        .expect("bootstrap");
    assert_eq!(
        store.user_get("u-admin").await.expect("get"),
        Some(admin.clone())
    );
    assert_eq!(
        store
            .meta_get("bootstrap_secret_sha256")
            .await
            .expect("get"),
        None
    );

    let again = user("u-admin2", "admin2", Role::Admin);
    let err = store
        .bootstrap_admin("hash-1", &again)
        .await
        .expect_err("used secret");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(store.user_count().await.expect("count"), 1);

    // A failed user insert gives the secret back (one transaction).
    store
        .meta_put("bootstrap_secret_sha256", "hash-3")
        .await
        .expect("put secret");
    let clash = user("u-other", "admin", Role::Admin);
    let err = store
        .bootstrap_admin("hash-3", &clash)
        .await
        .expect_err("username taken");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(
        store
            .meta_get("bootstrap_secret_sha256")
            .await
            .expect("get")
            .as_deref(),
        Some("hash-3")
    );
}

async fn agencies(store: DynStore) {
    let root = agency("pemkot", None);
    let child = agency("dinas-pu", Some(&root));
    let other = agency("bappeda", None);
    store.agency_create(&root).await.expect("root");
    store.agency_create(&child).await.expect("child");
    store.agency_create(&other).await.expect("other");
    assert_eq!(child.path, "/pemkot/dinas-pu/");
    assert_eq!(
        store.agency_get("dinas-pu").await.expect("get"),
        Some(child.clone())
    );
    assert_eq!(store.agency_get("nope").await.expect("get"), None);

    let list = store.agency_list().await.expect("list");
    assert_eq!(
        list,
        vec![other.clone(), root.clone(), child.clone()],
        "ordered by path"
    );

    let mut changed = child.clone();
    changed.name = "Dinas Pekerjaan Umum".into();
    changed.region_code = None;
    changed.active = false;
    // Only name, region and active change.
    changed.path = "/ignored/".into();
    changed.kind = "ignored".into();
    store.agency_update(&changed).await.expect("update");
    let got = store
        .agency_get("dinas-pu")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(got.name, "Dinas Pekerjaan Umum");
    assert_eq!(got.region_code, None);
    assert!(!got.active);
    assert_eq!(got.path, child.path);
    assert_eq!(got.kind, child.kind);

    let err = store
        .agency_update(&agency("ghost", None))
        .await
        .expect_err("missing");
    assert!(matches!(err, StorageError::NotFound), "{err:?}");

    let mut dup = agency("pemkot", None);
    dup.path = "/elsewhere/".into();
    let err = store.agency_create(&dup).await.expect_err("duplicate id");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");

    let mut same_path = agency("pemkot2", None);
    same_path.path = root.path.clone();
    let err = store
        .agency_create(&same_path)
        .await
        .expect_err("duplicate path");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");

    let orphan = agency("orphan", Some(&agency("missing-parent", None)));
    let err = store
        .agency_create(&orphan)
        .await
        .expect_err("missing parent");
    assert!(matches!(err, StorageError::Invalid(_)), "{err:?}");
    assert_eq!(store.agency_list().await.expect("list").len(), 3);
}

async fn categories(store: DynStore) {
    assert!(store.category_list().await.expect("list").is_empty());
    store
        .category_upsert(&category("kesehatan", "Kesehatan"))
        .await
        .expect("insert");
    let mut renamed = category("kesehatan", "Layanan Kesehatan");
    renamed.active = false;
    store.category_upsert(&renamed).await.expect("update");
    assert_eq!(
        store.category_get("kesehatan").await.expect("get"),
        Some(renamed.clone())
    );
    assert_eq!(store.category_get("nope").await.expect("get"), None);

    let seed = vec![
        category("kesehatan", "Seeded name must not win"),
        category("infrastruktur", "Infrastruktur"),
        category("Zebra", "Upper case sorts first in byte order"),
    ];
    store.category_seed(&seed).await.expect("seed");
    store.category_seed(&seed).await.expect("seed twice");
    let list = store.category_list().await.expect("list");
    assert_eq!(
        list,
        vec![seed[2].clone(), seed[1].clone(), renamed],
        "ordered by id, existing kept"
    );
}

async fn users(store: DynStore) {
    let root = agency("pemkot", None);
    store.agency_create(&root).await.expect("agency");
    let mut officer = user("u-2", "budi", Role::AgencyOfficer);
    officer.agency_id = Some("pemkot".into());
    let admin = user("u-1", "ani", Role::Admin);
    store.user_create(&officer).await.expect("officer");
    store.user_create(&admin).await.expect("admin");
    assert_eq!(store.user_count().await.expect("count"), 2);
    assert_eq!(
        store.user_get("u-2").await.expect("get"),
        Some(officer.clone())
    );
    assert_eq!(
        store.user_by_username("ani").await.expect("by name"),
        Some(admin.clone())
    );
    assert_eq!(
        store.user_by_username("nobody").await.expect("by name"),
        None
    );
    assert_eq!(
        store.user_list().await.expect("list"),
        vec![admin.clone(), officer.clone()],
        "by username"
    );

    let err = store
        .user_create(&user("u-3", "ani", Role::Reporter))
        .await
        .expect_err("dup username");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    let err = store
        .user_create(&user("u-1", "citra", Role::Reporter))
        .await
        .expect_err("dup id");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    let mut lost = user("u-4", "dewi", Role::AgencyOfficer);
    lost.agency_id = Some("no-such-agency".into());
    let err = store.user_create(&lost).await.expect_err("missing agency");
    assert!(matches!(err, StorageError::Invalid(_)), "{err:?}");
    assert_eq!(store.user_count().await.expect("count"), 2);

    let mut changed = officer.clone();
    changed.display_name = "Budi Santoso".into();
    changed.password_hash = "new-hash".into();
    // Only display name, password hash and active change.
    changed.username = "ignored".into();
    changed.role = Role::Admin;
    store.user_update(&changed).await.expect("update");
    let got = store.user_get("u-2").await.expect("get").expect("exists");
    assert_eq!(got.display_name, "Budi Santoso");
    assert_eq!(got.password_hash, "new-hash");
    assert_eq!(got.username, "budi");
    assert_eq!(got.role, Role::AgencyOfficer);

    let err = store
        .user_update(&user("u-9", "ghost", Role::Admin))
        .await
        .expect_err("missing");
    assert!(matches!(err, StorageError::NotFound), "{err:?}");
}

fn session(token: &str, user_id: &str, expires_at: Millis) -> SessionRecord {
    SessionRecord {
        token_hash: token.to_owned(),
        user_id: user_id.to_owned(),
        kind: "session".into(),
        label: None,
        created_at: T0,
        expires_at,
    }
}

async fn sessions(store: DynStore) {
    let ani = user("u-1", "ani", Role::Admin);
    let budi = user("u-2", "budi", Role::Admin);
    store.user_create(&ani).await.expect("ani");
    store.user_create(&budi).await.expect("budi");
    let s1 = session("tok-1", "u-1", T0 + DAY);
    let mut s2 = session("tok-2", "u-1", T0 + 30 * DAY);
    s2.kind = "api_token".into();
    s2.label = Some("integration".into());
    let s3 = session("tok-3", "u-2", T0 + DAY);
    for s in [&s1, &s2, &s3] {
        store.session_create(s).await.expect("session");
    }
    let err = store
        .session_create(&s1)
        .await
        .expect_err("duplicate token");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    let err = store
        .session_create(&session("tok-x", "u-nobody", T0))
        .await
        .expect_err("missing user");
    assert!(matches!(err, StorageError::Invalid(_)), "{err:?}");

    assert_eq!(
        store.session_lookup("tok-1", T0).await.expect("lookup"),
        Some((s1.clone(), ani.clone()))
    );
    assert_eq!(
        store.session_lookup("tok-2", T0).await.expect("lookup"),
        Some((s2.clone(), ani.clone()))
    );
    // Expiry is exclusive.
    assert_eq!(
        store
            .session_lookup("tok-1", T0 + DAY - 1)
            .await
            .expect("lookup")
            .map(|x| x.0),
        Some(s1)
    );
    assert_eq!(
        store
            .session_lookup("tok-1", T0 + DAY)
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        store.session_lookup("nope", T0).await.expect("lookup"),
        None
    );

    store.session_delete("tok-3").await.expect("delete");
    store.session_delete("tok-3").await.expect("delete twice");
    assert_eq!(
        store.session_lookup("tok-3", T0).await.expect("lookup"),
        None
    );

    // Deactivating a user ends all their sessions; reactivating does not bring them back.
    let mut off = ani.clone();
    off.active = false;
    store.user_update(&off).await.expect("deactivate");
    assert_eq!(
        store.session_lookup("tok-2", T0).await.expect("lookup"),
        None
    );
    store.user_update(&ani).await.expect("reactivate");
    assert_eq!(
        store.session_lookup("tok-2", T0).await.expect("lookup"),
        None
    );

    // A session of an inactive user is not found even while it exists.
    let mut budi_off = budi.clone();
    budi_off.active = false;
    store.user_update(&budi_off).await.expect("deactivate");
    store
        .session_create(&session("tok-4", "u-2", T0 + DAY))
        .await
        .expect("session");
    assert_eq!(
        store.session_lookup("tok-4", T0).await.expect("lookup"),
        None
    );
    store.user_update(&budi).await.expect("reactivate");
    assert!(store
        .session_lookup("tok-4", T0)
        .await
        .expect("lookup")
        .is_some());
}

async fn report_insert_and_read(store: DynStore) {
    let r = report("r1", "Jalan rusak", "Lubang besar di jalan utama", T0);
    let identity = ReporterIdentity {
        name: Some("Siti".into()),
        phone: Some("+62811000000".into()),
        email: None,
    };
    store
        .report_insert(&r, Some(&identity), &created(&r))
        .await
        .expect("insert");
    assert_eq!(store.report_get(&r.id).await.expect("get"), Some(r.clone()));
    assert_eq!(
        store
            .report_by_tracking_code("TST-R1")
            .await
            .expect("by code"),
        Some(r.clone())
    );
    assert_eq!(store.report_get("node-a:nope").await.expect("get"), None);
    assert_eq!(
        store
            .report_by_tracking_code("TST-NOPE")
            .await
            .expect("by code"),
        None
    );
    assert_eq!(
        store.report_identity(&r.id).await.expect("identity"),
        Some(identity)
    );
    let timeline = store.report_timeline(&r.id).await.expect("timeline");
    assert_eq!(
        timeline,
        vec![TimelineRecord {
            seq: 1,
            ..created(&r)
        }]
    );

    // Every optional field survives the round trip.
    let full = full_report("r2", T0 + 1);
    store
        .report_insert(&full, None, &created(&full))
        .await
        .expect("insert full");
    assert_eq!(
        store.report_get(&full.id).await.expect("get"),
        Some(full.clone())
    );
    assert_eq!(
        store.report_identity(&full.id).await.expect("identity"),
        None
    );

    // An empty identity is not stored.
    let r3 = report("r3", "Anonim", "Tanpa identitas", T0 + 2);
    store
        .report_insert(&r3, Some(&ReporterIdentity::default()), &created(&r3))
        .await
        .expect("insert");
    assert_eq!(store.report_identity(&r3.id).await.expect("identity"), None);

    // Tracking codes and ids are unique; a failed insert leaves nothing behind.
    let mut dup_code = report("r4", "Dup", "Dup", T0 + 3);
    dup_code.tracking_code = r.tracking_code.clone();
    let err = store
        .report_insert(
            &dup_code,
            Some(&ReporterIdentity {
                name: Some("X".into()),
                ..ReporterIdentity::default()
            }),
            &created(&dup_code),
        )
        .await
        .expect_err("duplicate code");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(store.report_get(&dup_code.id).await.expect("get"), None);
    assert_eq!(
        store.report_identity(&dup_code.id).await.expect("identity"),
        None
    );
    assert!(store
        .report_timeline(&dup_code.id)
        .await
        .expect("timeline")
        .is_empty());
    let mut dup_id = report("r1", "Dup", "Dup", T0 + 3);
    dup_id.tracking_code = "TST-OTHER".into();
    let err = store
        .report_insert(&dup_id, None, &created(&dup_id))
        .await
        .expect_err("duplicate id");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline").len(),
        1
    );
}

async fn report_transition_appends_and_guards_version(store: DynStore) {
    let r = report("r1", "Jalan rusak", "Lubang besar", T0);
    insert(&store, &r).await;
    let first = store.report_timeline(&r.id).await.expect("timeline");

    let mut t1 = transition(
        &r,
        ReportStatus::Verified,
        TimelineAction::Verified,
        T0 + DAY,
        "diverifikasi",
    );
    t1.report.verified_at = Some(T0 + DAY);
    t1.report.agency_id = Some("dinas-pu".into());
    t1.report.agency_path = Some("/pemkot/dinas-pu/".into());
    t1.report.followup_due_at = Some(T0 + 6 * DAY);
    t1.report.title = "Jalan rusak parah".into();
    store.report_transition(&t1).await.expect("verify");
    let after1 = store.report_get(&r.id).await.expect("get").expect("exists");
    assert_eq!(after1, t1.report);
    assert_eq!(after1.version, 2);

    let t2 = transition(
        &after1,
        ReportStatus::InProgress,
        TimelineAction::Acknowledged,
        T0 + 2 * DAY,
        "diterima",
    );
    store.report_transition(&t2).await.expect("acknowledge");
    let after2 = store.report_get(&r.id).await.expect("get").expect("exists");
    assert_eq!(after2.version, 3);
    assert_eq!(after2.status, ReportStatus::InProgress);

    let timeline = store.report_timeline(&r.id).await.expect("timeline");
    assert_eq!(
        timeline.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(timeline[0], first[0], "earlier entries are left intact");
    assert_eq!(
        timeline[1],
        TimelineRecord {
            seq: 2,
            ..t1.entry.clone()
        }
    );
    assert_eq!(
        timeline[2],
        TimelineRecord {
            seq: 3,
            ..t2.entry.clone()
        }
    );

    // A transition computed from a stale read (version 2 -> 3 again) is refused and changes nothing.
    let stale = transition(
        &after1,
        ReportStatus::Archived,
        TimelineAction::Archived,
        T0 + 3 * DAY,
        "stale",
    );
    let err = store.report_transition(&stale).await.expect_err("stale");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    // So is one that skips ahead.
    let mut ahead = transition(
        &after2,
        ReportStatus::Responded,
        TimelineAction::Responded,
        T0 + 3 * DAY,
        "ahead",
    );
    ahead.report.version += 1;
    let err = store.report_transition(&ahead).await.expect_err("ahead");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.report_get(&r.id).await.expect("get"),
        Some(after2.clone())
    );
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline"),
        timeline
    );

    // A report that does not exist is a conflict too (nothing to match the version against).
    let ghost = transition(
        &report("ghost", "x", "y", T0),
        ReportStatus::Verified,
        TimelineAction::Verified,
        T0,
        "",
    );
    let err = store
        .report_transition(&ghost)
        .await
        .expect_err("missing report");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert!(store
        .report_timeline(&ghost.report.id)
        .await
        .expect("timeline")
        .is_empty());
}

async fn report_transition_erases_identity(store: DynStore) {
    let r = report("r1", "Pungli", "Pungutan liar di kantor kelurahan", T0);
    let identity = ReporterIdentity {
        name: Some("Rahmat".into()),
        phone: None,
        email: Some("rahmat@example.org".into()),
    };
    store
        .report_insert(&r, Some(&identity), &created(&r))
        .await
        .expect("insert");

    // A transition without the flag keeps the identity.
    let t1 = transition(
        &r,
        ReportStatus::Verified,
        TimelineAction::Verified,
        T0 + 1,
        "ok",
    );
    store.report_transition(&t1).await.expect("verify");
    assert_eq!(
        store.report_identity(&r.id).await.expect("identity"),
        Some(identity)
    );

    let mut t2 = transition(
        &t1.report,
        ReportStatus::Verified,
        TimelineAction::PrivacyRaised,
        T0 + 2,
        "anonim",
    );
    t2.report.anonymous = true;
    t2.report.confidential = true;
    t2.erase_identity = true;
    store.report_transition(&t2).await.expect("raise privacy");
    assert_eq!(store.report_identity(&r.id).await.expect("identity"), None);
    let got = store.report_get(&r.id).await.expect("get").expect("exists");
    assert!(got.anonymous && got.confidential);
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline").len(),
        3
    );
}

/// Five reports over two agency subtrees, with one confidential and one archived.
async fn seed_for_lists(store: &DynStore) {
    let mut a = report("a", "Jalan rusak", "Lubang besar di jalan Merdeka", T0);
    a.agency_id = Some("dinas-pu".into());
    a.agency_path = Some("/pemkot/dinas-pu/".into());
    a.category_id = Some("infrastruktur".into());
    a.region_code = Some("32.73".into());

    let mut b = report(
        "b",
        "Sampah menumpuk",
        "Sampah tidak diangkut seminggu",
        T0 + 1000,
    );
    b.agency_id = Some("dlh".into());
    b.agency_path = Some("/pemkot/dlh/".into());
    b.category_id = Some("lingkungan".into());
    b.region_code = Some("32.73.01".into());
    b.status = ReportStatus::Verified;
    b.followup_due_at = Some(T0 + 2 * DAY);
    b.followup_overdue = true;
    b.kind = ReportKind::Aspiration;

    let mut c = report("c", "Pungli", "Pungutan liar saat mengurus KTP", T0 + 2000);
    c.agency_id = Some("disdukcapil".into());
    c.agency_path = Some("/pemprov/disdukcapil/".into());
    c.confidential = true;
    c.region_code = Some("32".into());
    c.reporter_user_id = Some("u-rep".into());

    let mut d = report("d", "Iklan", "Beli obat murah di sini", T0 + 3000);
    d.status = ReportStatus::Archived;
    d.archive_reason = Some(ArchiveReason::Spam);
    d.verification_due_at = None;
    d.region_code = Some("32.730".into());

    let mut e = report(
        "e",
        "Lampu jalan",
        "Lampu jalan padam di gang Mawar",
        T0 + 4000,
    );
    e.agency_id = Some("pemkot".into());
    e.agency_path = Some("/pemkot/".into());
    e.status = ReportStatus::InProgress;
    e.followup_due_at = Some(T0 + DAY);
    e.escalated = true;
    e.reporter_user_id = Some("u-rep".into());

    for r in [&a, &b, &c, &d, &e] {
        insert(store, r).await;
    }
}

async fn report_list_filters(store: DynStore) {
    seed_for_lists(&store).await;
    assert_eq!(
        ids(&store, &all()).await,
        vec!["e", "d", "c", "b", "a"],
        "newest first by default"
    );

    let by_status = ReportFilter {
        statuses: vec![ReportStatus::Submitted, ReportStatus::InProgress],
        ..all()
    };
    assert_eq!(sorted_ids(&store, &by_status).await, vec!["a", "c", "e"]);

    let scoped = ReportFilter {
        agency_path_prefix: Some("/pemkot/".into()),
        ..all()
    };
    assert_eq!(sorted_ids(&store, &scoped).await, vec!["a", "b", "e"]);
    let narrower = ReportFilter {
        agency_path_prefix: Some("/pemkot/dinas-pu/".into()),
        ..all()
    };
    assert_eq!(sorted_ids(&store, &narrower).await, vec!["a"]);
    let no_such = ReportFilter {
        agency_path_prefix: Some("/pemkot/dinas".into()),
        statuses: vec![ReportStatus::Verified],
        ..all()
    };
    assert!(sorted_ids(&store, &no_such).await.is_empty());

    let public = ReportFilter {
        public_only: true,
        ..all()
    };
    assert_eq!(
        sorted_ids(&store, &public).await,
        vec!["a", "b", "e"],
        "no confidential, no archived"
    );

    let exact_agency = ReportFilter {
        agency_id: Some("dlh".into()),
        ..all()
    };
    assert_eq!(sorted_ids(&store, &exact_agency).await, vec!["b"]);

    let kind = ReportFilter {
        kind: Some(ReportKind::Aspiration),
        ..all()
    };
    assert_eq!(sorted_ids(&store, &kind).await, vec!["b"]);

    let cat = ReportFilter {
        category: Some("infrastruktur".into()),
        ..all()
    };
    assert_eq!(sorted_ids(&store, &cat).await, vec!["a"]);

    // A region prefix matches the code itself and codes below it, not codes that merely start alike.
    let region = ReportFilter {
        region_prefix: Some("32.73".into()),
        ..all()
    };
    assert_eq!(sorted_ids(&store, &region).await, vec!["a", "b"]);
    let province = ReportFilter {
        region_prefix: Some("32".into()),
        ..all()
    };
    assert_eq!(
        sorted_ids(&store, &province).await,
        vec!["a", "b", "c", "d"]
    );

    let mine = ReportFilter {
        reporter_user_id: Some("u-rep".into()),
        ..all()
    };
    assert_eq!(sorted_ids(&store, &mine).await, vec!["c", "e"]);

    let overdue = ReportFilter {
        overdue_only: true,
        ..all()
    };
    assert_eq!(sorted_ids(&store, &overdue).await, vec!["b"]);

    let escalated = ReportFilter {
        escalated_only: true,
        ..all()
    };
    assert_eq!(sorted_ids(&store, &escalated).await, vec!["e"]);

    let combined = ReportFilter {
        public_only: true,
        agency_path_prefix: Some("/pemkot/".into()),
        statuses: vec![ReportStatus::Submitted, ReportStatus::Verified],
        ..all()
    };
    assert_eq!(sorted_ids(&store, &combined).await, vec!["a", "b"]);
}

async fn report_list_full_text(store: DynStore) {
    seed_for_lists(&store).await;
    let q = |s: &str| ReportFilter {
        query: Some(s.to_owned()),
        ..all()
    };
    assert_eq!(
        sorted_ids(&store, &q("lubang")).await,
        vec!["a"],
        "a word in the body"
    );
    assert_eq!(
        sorted_ids(&store, &q("PUNGLI")).await,
        vec!["c"],
        "a word in the title, any case"
    );
    assert_eq!(sorted_ids(&store, &q("jalan")).await, vec!["a", "e"]);
    assert_eq!(
        sorted_ids(&store, &q("jalan padam")).await,
        vec!["e"],
        "every word must match"
    );
    assert_eq!(
        sorted_ids(&store, &q("jalan rusak")).await,
        vec!["a"],
        "words across title and body"
    );
    assert_eq!(
        sorted_ids(&store, &q("lub")).await,
        vec!["a"],
        "prefix match"
    );
    assert_eq!(
        sorted_ids(&store, &q("samp tidak")).await,
        vec!["b"],
        "prefix match with another word"
    );
    assert!(
        sorted_ids(&store, &q("banjir")).await.is_empty(),
        "unrelated word"
    );
    assert!(
        sorted_ids(&store, &q("ubang")).await.is_empty(),
        "no infix match"
    );
    assert!(
        sorted_ids(&store, &q(" \"*(: ")).await.is_empty(),
        "nothing searchable matches nothing"
    );
    assert!(
        sorted_ids(&store, &q("jalan\" OR \"sampah")).await.is_empty(),
        "syntax is not interpreted: `jalan`, `or` and `sampah` must all match, and no report has all three"
    );
    assert_eq!(
        sorted_ids(&store, &q("jalan* merdeka")).await,
        vec!["a"],
        "stray operators are dropped"
    );
    let scoped = ReportFilter {
        public_only: true,
        ..q("pungutan")
    };
    assert!(
        sorted_ids(&store, &scoped).await.is_empty(),
        "search respects the other filters"
    );
    // Odd input is never a database error, whatever it matches.
    for odd in [
        "\u{bd}",
        "\u{65e5}\u{672c}",
        "\u{fc}n\u{ef}c\u{f6}d\u{e9}",
        "123",
        "a",
        "e-ktp",
        "x:*",
        "'",
    ] {
        store.report_list(&q(odd)).await.expect(odd);
    }

    // The index follows edits.
    let a = store
        .report_get("node-a:a")
        .await
        .expect("get")
        .expect("exists");
    let mut t = transition(
        &a,
        ReportStatus::Verified,
        TimelineAction::Verified,
        T0 + DAY,
        "ok",
    );
    t.report.body = "Jembatan retak".into();
    store.report_transition(&t).await.expect("edit");
    assert!(sorted_ids(&store, &q("lubang")).await.is_empty());
    assert_eq!(sorted_ids(&store, &q("jembatan")).await, vec!["a"]);
}

async fn report_list_order_and_paging(store: DynStore) {
    // Current deadlines: p by verification (3 days), q by follow-up (1 day), s by auto-completion (2 days);
    // t and u have no current deadline.
    let p = report("p", "p", "p", T0);
    let mut q = report("q", "q", "q", T0 + 10);
    q.status = ReportStatus::Verified;
    q.verification_due_at = Some(T0 - DAY);
    q.followup_due_at = Some(T0 + DAY);
    let mut s = report("s", "s", "s", T0 + 20);
    s.status = ReportStatus::Responded;
    s.autocomplete_at = Some(T0 + 2 * DAY);
    s.followup_due_at = Some(T0 - DAY);
    let mut t = report("t", "t", "t", T0 + 30);
    t.status = ReportStatus::Completed;
    let mut u = report("u", "u", "u", T0 + 5);
    u.status = ReportStatus::OnHold;
    for r in [&p, &q, &s, &t, &u] {
        insert(&store, r).await;
    }

    let deadline = ReportFilter {
        order: ReportOrder::Deadline,
        ..all()
    };
    assert_eq!(ids(&store, &deadline).await, vec!["q", "s", "p", "u", "t"]);
    assert_eq!(ids(&store, &all()).await, vec!["t", "s", "q", "u", "p"]);

    let page = |offset: i64| ReportFilter {
        limit: 2,
        offset,
        ..all()
    };
    let mut seen = Vec::new();
    for offset in [0, 2, 4, 6] {
        let (rows, total) = store.report_list(&page(offset)).await.expect("page");
        assert_eq!(total, 5, "total ignores paging");
        assert!(rows.len() <= 2);
        seen.extend(rows.into_iter().map(|r| r.id));
    }
    assert_eq!(
        seen,
        ["t", "s", "q", "u", "p"]
            .map(|id| format!("node-a:{id}"))
            .to_vec(),
        "pages cover every report once"
    );
    let (rows, total) = store
        .report_list(&ReportFilter {
            limit: 1,
            offset: 1,
            statuses: vec![ReportStatus::Submitted, ReportStatus::Verified],
            ..all()
        })
        .await
        .expect("page");
    assert_eq!(total, 2);
    assert_eq!(
        rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["node-a:p"]
    );

    // As in SQLite: a negative limit means no limit, a negative offset means none.
    let (rows, total) = store
        .report_list(&ReportFilter {
            limit: -1,
            offset: -3,
            ..all()
        })
        .await
        .expect("unbounded page");
    assert_eq!((rows.len(), total), (5, 5));
}

async fn concurrent_transitions_commit_once(store: DynStore) {
    let r = report("r1", "Jalan rusak", "Lubang besar", T0);
    insert(&store, &r).await;
    // Four writers all read version 1 and race to commit different transitions.
    let attempts: Vec<Transition> = (0..4)
        .map(|i| {
            transition(
                &r,
                ReportStatus::Verified,
                TimelineAction::Verified,
                T0 + i,
                &format!("writer {i}"),
            )
        })
        .collect();
    let results = run_all(&store, &attempts).await;
    let won: Vec<usize> = results
        .iter()
        .enumerate()
        .filter_map(|(i, res)| res.is_ok().then_some(i))
        .collect();
    assert_eq!(won.len(), 1, "exactly one writer wins: {results:?}");
    for res in &results {
        if let Err(e) = res {
            assert!(matches!(e, StorageError::Conflict(_)), "{e:?}");
        }
    }
    let stored = store.report_get(&r.id).await.expect("get").expect("exists");
    assert_eq!(stored, attempts[won[0]].report);
    let timeline = store.report_timeline(&r.id).await.expect("timeline");
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[1].note, attempts[won[0]].entry.note);
}

/// Runs every transition at once, each on its own task.
async fn run_all(store: &DynStore, attempts: &[Transition]) -> Vec<Result<(), StorageError>> {
    let pending: Vec<_> = attempts
        .iter()
        .map(|t| {
            let (store, t) = (store.clone(), t.clone());
            let (tx, rx) = tokio::sync::oneshot::channel();
            lapor_node::tasks::spawn_named("transition", async move {
                let _ = tx.send(store.report_transition(&t).await);
            });
            rx
        })
        .collect();
    let mut results = Vec::new();
    for rx in pending {
        results.push(rx.await.expect("transition task"));
    }
    results
}

async fn report_due(store: DynStore) {
    let now = T0 + 10 * DAY;
    // Verification deadline passed.
    let mut late = report("late", "x", "x", T0);
    late.verification_due_at = Some(now - 1);
    // Verification deadline ahead.
    let mut early = report("early", "x", "x", T0);
    early.verification_due_at = Some(now + DAY);
    // Passed, but already marked overdue.
    let mut marked = report("marked", "x", "x", T0);
    marked.verification_due_at = Some(now - DAY);
    marked.verification_overdue = true;
    // Follow-up deadline passed.
    let mut followup = report("followup", "x", "x", T0);
    followup.status = ReportStatus::InProgress;
    followup.followup_due_at = Some(now - DAY);
    // Auto-completion time passed.
    let mut responded = report("responded", "x", "x", T0);
    responded.status = ReportStatus::Responded;
    responded.autocomplete_at = Some(now - DAY);
    // Escalation time reached exactly.
    let mut escalate = report("escalate", "x", "x", T0);
    escalate.status = ReportStatus::OnHold;
    escalate.escalation_at = Some(now);
    // Closed reports are never due.
    let mut done = report("done", "x", "x", T0);
    done.status = ReportStatus::Completed;
    done.verification_due_at = Some(now - DAY);
    done.escalation_at = Some(now - DAY);
    for r in [
        &late, &early, &marked, &followup, &responded, &escalate, &done,
    ] {
        insert(&store, r).await;
    }

    let mut due: Vec<String> = store
        .report_due(now, 100)
        .await
        .expect("due")
        .into_iter()
        .map(|r| r.id.trim_start_matches("node-a:").to_owned())
        .collect();
    due.sort();
    assert_eq!(due, vec!["escalate", "followup", "late", "responded"]);
    assert_eq!(
        store.report_due(now, 2).await.expect("due").len(),
        2,
        "limit"
    );
    assert!(store.report_due(T0, 100).await.expect("due").is_empty());
}

async fn report_stats(store: DynStore) {
    let empty = store.report_stats(&all()).await.expect("stats");
    assert_eq!(empty, storage::StatsRow::default());

    seed_for_lists(&store).await;
    let stats = store.report_stats(&all()).await.expect("stats");
    assert_eq!(stats.total, 5);
    assert_eq!(
        stats.by_status,
        vec![
            count("archived", 1),
            count("in_progress", 1),
            count("submitted", 2),
            count("verified", 1)
        ]
    );
    assert_eq!(
        stats.by_category,
        vec![
            count("infrastruktur", 1),
            count("lingkungan", 1),
            count("none", 3)
        ]
    );
    assert_eq!(stats.overdue, 1);
    assert_eq!(stats.escalated, 1);

    // Paging is ignored, filters are not.
    let scoped = store
        .report_stats(&ReportFilter {
            agency_path_prefix: Some("/pemkot/".into()),
            limit: 1,
            offset: 3,
            ..ReportFilter::default()
        })
        .await
        .expect("stats");
    assert_eq!(
        scoped,
        storage::StatsRow {
            total: 3,
            by_status: vec![
                count("in_progress", 1),
                count("submitted", 1),
                count("verified", 1)
            ],
            by_category: vec![
                count("infrastruktur", 1),
                count("lingkungan", 1),
                count("none", 1)
            ],
            overdue: 1,
            escalated: 1,
        }
    );
    let searched = store
        .report_stats(&ReportFilter {
            query: Some("jalan".into()),
            ..all()
        })
        .await
        .expect("stats");
    assert_eq!(searched.total, 2);
    assert_eq!(searched.escalated, 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Attachments

fn attachment(report_id: &str, sha: char, at: Millis) -> AttachmentRecord {
    AttachmentRecord {
        report_id: report_id.to_owned(),
        sha256: sha.to_string().repeat(64),
        media_type: "image/jpeg".into(),
        size_bytes: 1234,
        file_name: "foto.jpg".into(),
        added_by: "reporter".into(),
        added_at: at,
    }
}

async fn attachments(store: DynStore) {
    let a = report(
        "a",
        "Jalan berlubang",
        "Jalan berlubang besar di depan sekolah",
        T0,
    );
    let b = report("b", "Lampu padam", "Lampu jalan padam sejak tiga hari", T0);
    insert(&store, &a).await;
    insert(&store, &b).await;
    assert!(store
        .attachment_list("node-a:a")
        .await
        .expect("list")
        .is_empty());

    let second = attachment("node-a:a", 'b', T0 + 2);
    let first = attachment("node-a:a", 'a', T0 + 1);
    store.attachment_add(&second).await.expect("add");
    store.attachment_add(&first).await.expect("add");
    // The same file again changes nothing; the same bytes on another report are a row of their own.
    store.attachment_add(&first).await.expect("add again");
    store
        .attachment_add(&attachment("node-a:b", 'a', T0 + 3))
        .await
        .expect("add to b");
    assert_eq!(
        store.attachment_list("node-a:a").await.expect("list"),
        vec![first, second]
    );
    assert_eq!(
        store.attachment_list("node-a:b").await.expect("list").len(),
        1
    );

    // A file for a report that does not exist is refused.
    assert!(matches!(
        store
            .attachment_add(&attachment("node-a:missing", 'c', T0))
            .await,
        Err(StorageError::Invalid(_))
    ));
}
