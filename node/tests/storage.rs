//! The storage conformance suite: every test is written once against [`DynStore`] and runs against a fresh
//! SQLite file (always) and a fresh PostgreSQL database (whenever `TEST_DATABASE_URL` is set; each test
//! creates its own database from that URL and drops it afterwards).

// The whole file is test code: a failed `expect` is a failed test. Fixture variables are named after the
// report ids they hold (`a`..`e`, `p`..`u`).
#![allow(clippy::expect_used, clippy::many_single_char_names)]

mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use lapor_federation::{BlobHash, EnvelopeError, Event, SignedEvent, Value};
use lapor_node::domain::{
    AgencyRecord, AttachmentRecord, Millis, Report, ReportFilter, ReportOrder, ReporterIdentity,
    SessionRecord, TimelineRecord, Transition, UserRecord,
};
use lapor_node::storage::{
    self, AcceptOutcome, AuditEntry, AuditFilter, Conflict, DynStore, Effect, EventDraft,
    EventSigner, HandoverRow, HistoryEvent, InboxEvent, Incoming, KeyRow, OriginHead, OwnerRow,
    PeerRecord, PushOutcome, ReportImport, ReportKey, SmsKeywordRow, StorageError, TransferChange,
    TransferRow, INBOX_SHARE,
};
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
    sessions_touch_and_end,
    audit_log,
    report_insert_and_read,
    report_bundle_reads_the_whole_view,
    report_transition_appends_and_guards_version,
    report_transition_erases_identity,
    concurrent_transitions_commit_once,
    report_list_filters,
    report_list_full_text,
    report_list_order_and_paging,
    report_due,
    report_stats,
    fed_authoring_with_report_changes,
    fed_concurrent_authoring,
    fed_accept_outcomes,
    fed_snapshot_effects,
    fed_inbox_and_push_txns,
    fed_inbox_is_fair,
    fed_peers,
    fed_keys,
    fed_key_rotate,
    leases,
    fed_consumes,
    fed_transfers,
    fed_no_change_after_an_offer,
    fed_report_import,
    fed_remote_agencies,
    directory_publications,
    identity_handover,
    attachments,
    stats_aggregates_match_a_recount,
);

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

/// A freshly submitted web complaint.
fn report(id: &str, title: &str, body: &str, submitted_at: Millis) -> Report {
    support::report(id, title, body, submitted_at)
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
        .report_insert(r, None, &created(r), None)
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
        node_id: None,
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
        email: None,
        phone: None,
        notices_off: false,
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
        last_seen_at: T0,
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

async fn sessions_touch_and_end(store: DynStore) {
    store
        .user_create(&user("u-1", "ani", Role::Admin))
        .await
        .expect("ani");
    store
        .user_create(&user("u-2", "budi", Role::Admin))
        .await
        .expect("budi");
    for (tok, uid) in [
        ("tok-1", "u-1"),
        ("tok-2", "u-1"),
        ("tok-3", "u-1"),
        ("tok-4", "u-2"),
    ] {
        store
            .session_create(&session(tok, uid, T0 + DAY))
            .await
            .expect("session");
    }
    // Touching moves last_seen_at forward only.
    store
        .session_touch("tok-1", T0 + 5_000)
        .await
        .expect("touch");
    store
        .session_touch("tok-1", T0 + 1_000)
        .await
        .expect("touch back");
    let (s, _) = store
        .session_lookup("tok-1", T0 + 6_000)
        .await
        .expect("lookup")
        .expect("live");
    assert_eq!(s.last_seen_at, T0 + 5_000);
    // Ending a user's sessions keeps the one named and touches no other user.
    assert_eq!(
        store
            .sessions_end_for_user("u-1", Some("tok-2"))
            .await
            .expect("end"),
        2
    );
    for (tok, live) in [
        ("tok-1", false),
        ("tok-2", true),
        ("tok-3", false),
        ("tok-4", true),
    ] {
        assert_eq!(
            store
                .session_lookup(tok, T0)
                .await
                .expect("lookup")
                .is_some(),
            live,
            "{tok}"
        );
    }
    assert_eq!(
        store.sessions_end_for_user("u-2", None).await.expect("end"),
        1
    );
    assert!(store
        .session_lookup("tok-4", T0)
        .await
        .expect("lookup")
        .is_none());
}

fn audit_entry(at: Millis, actor: &str, action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        actor_id: Some(actor.to_owned()),
        actor_name: Some(format!("Nama {actor}")),
        actor_role: Some("admin".into()),
        action: action.to_owned(),
        target_kind: Some("report".into()),
        target_id: Some(target.to_owned()),
        detail: Some("detail, with \"quotes\"".into()),
        ip: Some("198.51.100.7".into()),
    }
}

async fn audit_log(store: DynStore) {
    let mut ids = Vec::new();
    for (i, (actor, action, target)) in [
        ("u-1", "report.verify", "node-a:1"),
        ("u-2", "identity.read", "node-a:1"),
        ("u-1", "identity.read", "node-a:2"),
        ("u-1", "user.create", "u-9"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = store
            .audit_append(&audit_entry(T0 + i as i64 * 1000, actor, action, target))
            .await
            .expect("append");
        ids.push(id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let all = |f: AuditFilter| {
        let store = store.clone();
        async move { store.audit_list(&f).await.expect("list") }
    };
    let every = all(AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(every.len(), 4);
    assert_eq!(every[0].id, ids[3], "newest first");
    let mut expected = audit_entry(T0, "u-1", "report.verify", "node-a:1");
    expected.id = ids[0];
    assert_eq!(every[3], expected, "stored as given");
    let reads = all(AuditFilter {
        action: Some("identity.read".into()),
        limit: 100,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        reads.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    let of_u1_on_1 = all(AuditFilter {
        actor_id: Some("u-1".into()),
        target_id: Some("node-a:1".into()),
        limit: 100,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(of_u1_on_1.len(), 1);
    let window = all(AuditFilter {
        since: Some(T0 + 1000),
        until: Some(T0 + 3000),
        limit: 100,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        window.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    let page = all(AuditFilter {
        before_id: Some(ids[2]),
        limit: 1,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[1]]);
}

async fn report_insert_and_read(store: DynStore) {
    let r = report("r1", "Jalan rusak", "Lubang besar di jalan utama", T0);
    let identity = ReporterIdentity {
        name: Some("Siti".into()),
        phone: Some("+62811000000".into()),
        email: None,
    };
    store
        .report_insert(&r, Some(&identity), &created(&r), None)
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
        .report_insert(&full, None, &created(&full), None)
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
        .report_insert(&r3, Some(&ReporterIdentity::default()), &created(&r3), None)
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
            None,
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
        .report_insert(&dup_id, None, &created(&dup_id), None)
        .await
        .expect_err("duplicate id");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline").len(),
        1
    );
}

async fn report_bundle_reads_the_whole_view(store: DynStore) {
    store
        .category_upsert(&category("infrastruktur", "Infrastruktur"))
        .await
        .expect("category");
    store
        .agency_create(&agency("dinas-pu", None))
        .await
        .expect("agency");
    let original = report("original", "Jalan rusak", "Lubang besar", T0);
    insert(&store, &original).await;
    // Category, agency, a duplicate of `original`, one file.
    let full = full_report("r2", T0 + 1);
    insert(&store, &full).await;
    let file = attachment(&full.id, 'a', T0 + 2);
    store.attachment_add(&file).await.expect("attach");

    let bundle = store
        .report_bundle(&ReportKey::Id(full.id.clone()))
        .await
        .expect("bundle")
        .expect("found by id");
    assert_eq!(bundle.report, full);
    assert_eq!(
        bundle.timeline,
        store.report_timeline(&full.id).await.expect("timeline")
    );
    assert_eq!(bundle.timeline.len(), 1);
    assert_eq!(
        bundle.owner,
        store.report_owner(&full.id).await.expect("owner")
    );
    assert_eq!(bundle.agency_name.as_deref(), Some("Agency dinas-pu"));
    assert_eq!(
        bundle.category,
        Some(category("infrastruktur", "Infrastruktur"))
    );
    assert_eq!(
        bundle.duplicate_code.as_deref(),
        Some(original.tracking_code.as_str())
    );
    assert_eq!(bundle.attachments, vec![file]);
    assert_eq!(bundle.transfer, None);
    assert_eq!(
        store
            .report_bundle(&ReportKey::TrackingCode(full.tracking_code.clone()))
            .await
            .expect("bundle by code"),
        Some(bundle)
    );

    let plain = store
        .report_bundle(&ReportKey::Id(original.id.clone()))
        .await
        .expect("bundle")
        .expect("found");
    assert_eq!(plain.report, original);
    assert_eq!(plain.agency_name, None);
    assert_eq!(plain.duplicate_code, None);
    assert!(plain.attachments.is_empty());
    for key in [
        ReportKey::Id("node-a:nope".into()),
        ReportKey::TrackingCode("TST-NOPE".into()),
    ] {
        assert_eq!(store.report_bundle(&key).await.expect("bundle"), None);
    }
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
    store.report_transition(&t1, None).await.expect("verify");
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
    store
        .report_transition(&t2, None)
        .await
        .expect("acknowledge");
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
    let err = store
        .report_transition(&stale, None)
        .await
        .expect_err("stale");
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
    let err = store
        .report_transition(&ahead, None)
        .await
        .expect_err("ahead");
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
        .report_transition(&ghost, None)
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
        .report_insert(&r, Some(&identity), &created(&r), None)
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
    store.report_transition(&t1, None).await.expect("verify");
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
    store
        .report_transition(&t2, None)
        .await
        .expect("raise privacy");
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
    store.report_transition(&t, None).await.expect("edit");
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
                let _ = tx.send(store.report_transition(&t, None).await);
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
// Federation

/// Signs as `node` with a fixed key and remembers every event it signed.
struct TestSigner {
    node: String,
    key: ed25519_dalek::SigningKey,
    signed: Mutex<Vec<Event>>,
}

impl TestSigner {
    fn new(node: &str, seed: u8) -> Arc<Self> {
        Arc::new(Self {
            node: node.to_owned(),
            key: ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
            signed: Mutex::new(Vec::new()),
        })
    }

    /// Every event signed so far, by sequence number (signing order is not commit order).
    fn signed(&self) -> Vec<Event> {
        let mut v = self.signed.lock().expect("signed").clone();
        v.sort_by_key(|e| e.origin_seq);
        v
    }

    fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }
}

impl EventSigner for TestSigner {
    fn node_id(&self) -> &str {
        &self.node
    }

    fn sign(&self, mut event: Event, key_id: Option<&str>) -> Result<SignedEvent, EnvelopeError> {
        event.key_id = key_id.unwrap_or("k1").into();
        self.signed.lock().expect("signed").push(event.clone());
        event.sign(&self.key)
    }
}

fn payload(note: &str) -> Value {
    let mut map = BTreeMap::new();
    map.insert("note".to_owned(), Value::String(note.to_owned()));
    Value::Object(map)
}

fn draft(signer: &Arc<TestSigner>, kind: &str, report_id: &str, at: Millis) -> EventDraft {
    EventDraft {
        signer: signer.clone(),
        kind: kind.to_owned(),
        report_id: report_id.to_owned(),
        payload: payload(kind),
        blobs: Vec::new(),
        authored_at: at,
        destinations: vec!["hub".into()],
        consumes: None,
        epoch: None,
        transfer: None,
        pending: false,
    }
}

/// An event another node authored at `seq` after `prev` (its id as hex).
fn remote(
    signer: &TestSigner,
    seq: u64,
    prev: Option<&str>,
    report_id: &str,
    epoch: u64,
    note: &str,
) -> SignedEvent {
    let event = Event {
        v: lapor_federation::envelope::FORMAT_VERSION,
        kind: "report.updated".into(),
        origin: signer.node.clone(),
        origin_seq: seq,
        origin_prev: prev.map(|p| p.parse().expect("hex id")),
        report_id: report_id.to_owned(),
        report_epoch: epoch,
        report_prev: Vec::new(),
        authored_at_ms: T0 + seq as i64,
        key_id: String::new(),
        payload: payload(note),
        blobs: Vec::new(),
    };
    signer.sign(event, None).expect("sign")
}

fn incoming(ev: &SignedEvent, effect: Effect) -> Incoming {
    let e = ev.event();
    Incoming {
        inbox_id: None,
        id: ev.id().to_string(),
        origin: e.origin.clone(),
        origin_seq: e.origin_seq as i64,
        origin_prev: e.origin_prev.map(|p| p.to_string()),
        kind: e.kind.clone(),
        report_id: e.report_id.clone(),
        report_epoch: e.report_epoch as i64,
        authored_at: e.authored_at_ms,
        wire: ev.wire_bytes().to_vec(),
        effect,
        destinations: vec!["hub".into()],
    }
}

async fn accept_one(store: &DynStore, item: Incoming, now: Millis) -> AcceptOutcome {
    let mut out = store
        .events_accept(&[item], now)
        .await
        .expect("events_accept");
    assert_eq!(out.len(), 1);
    out.remove(0)
}

async fn head_of(store: &DynStore, origin: &str) -> Option<OriginHead> {
    store
        .origin_heads()
        .await
        .expect("origin_heads")
        .into_iter()
        .find(|h| h.origin == origin)
}

fn key_row(origin: &str, key_id: &str, public: &str, from: i64) -> KeyRow {
    KeyRow {
        origin: origin.to_owned(),
        key_id: key_id.to_owned(),
        public_key: public.to_owned(),
        enc_public: None,
        valid_from_seq: from,
        retired_after_seq: None,
        revoked_from_seq: None,
    }
}

fn snapshot(r: &Report, note: &str) -> Effect {
    let mut entry = created(r);
    entry.note = Some(note.to_owned());
    Effect::Snapshot {
        report: Box::new(r.clone()),
        entry,
    }
}

async fn fed_authoring_with_report_changes(store: DynStore) {
    let me = TestSigner::new("node-a", 7);
    let r = report("r1", "Jalan rusak", "Lubang besar", T0);
    let sealed = b"sealed identity".to_vec();
    let blob = BlobHash::of(&sealed).to_string();
    let mut created_ev = draft(&me, "report.created", &r.id, T0);
    created_ev.blobs = vec![(blob.clone(), sealed.clone())];
    created_ev.destinations = vec!["hub".into(), "node-k".into()];
    store
        .report_insert(&r, None, &created(&r), Some(&created_ev))
        .await
        .expect("insert with event");

    let t1 = transition(
        &r,
        ReportStatus::Verified,
        TimelineAction::Verified,
        T0 + DAY,
        "ok",
    );
    store
        .report_transition(&t1, Some(&draft(&me, "report.verified", &r.id, T0 + DAY)))
        .await
        .expect("transition with event");

    // A stale transition authors nothing: the event is part of the failed transaction.
    let stale = transition(
        &r,
        ReportStatus::Archived,
        TimelineAction::Archived,
        T0 + DAY,
        "x",
    );
    let err = store
        .report_transition(
            &stale,
            Some(&draft(&me, "report.archived", &r.id, T0 + DAY)),
        )
        .await
        .expect_err("stale");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");

    // A key event is no report: no owner, no report_prev.
    let key_ev = store
        .event_append(&draft(&me, "node.key_rotated", "node-a:node", T0 + 2 * DAY))
        .await
        .expect("append");
    assert_eq!(key_ev.event().origin_seq, 3);

    let signed: Vec<Event> = me
        .signed()
        .into_iter()
        .filter(|e| e.kind != "report.archived")
        .collect();
    assert_eq!(
        signed.iter().map(|e| e.origin_seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let ids: Vec<String> = signed
        .iter()
        .map(|e| e.id().expect("id").to_string())
        .collect();
    assert_eq!(ids[2], key_ev.id().to_string());
    assert_eq!(signed[0].origin_prev, None);
    assert_eq!(
        signed[1].origin_prev.map(|p| p.to_string()),
        Some(ids[0].clone())
    );
    assert_eq!(
        signed[2].origin_prev.map(|p| p.to_string()),
        Some(ids[1].clone())
    );
    assert!(signed[0].report_prev.is_empty());
    assert_eq!(
        signed[1]
            .report_prev
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![ids[0].clone()]
    );
    assert!(signed[2].report_prev.is_empty());
    assert!(signed.iter().all(|e| e.report_epoch == 0));
    assert_eq!(signed[0].blobs.len(), 1);

    let head = head_of(&store, "node-a").await.expect("own head");
    assert_eq!(
        (head.head_seq, head.head_id.as_deref()),
        (3, Some(ids[2].as_str()))
    );
    assert!(!head.frozen);

    let owner = store
        .report_owner(&r.id)
        .await
        .expect("owner")
        .expect("owned");
    assert_eq!(
        owner,
        OwnerRow {
            report_id: r.id.clone(),
            owner: "node-a".into(),
            epoch: 0,
            last_event_id: Some(ids[1].clone()),
        }
    );
    assert_eq!(
        store.report_owner("node-a:node").await.expect("owner"),
        None
    );
    assert_eq!(
        store
            .report_owners(&[r.id.clone(), "node-a:node".into(), "nowhere:x".into()])
            .await
            .expect("report_owners"),
        vec![owner.clone()]
    );
    assert_eq!(
        store.report_owners(&[]).await.expect("report_owners"),
        Vec::new()
    );

    let events = store.report_events(&r.id).await.expect("report_events");
    assert_eq!(
        events
            .iter()
            .map(|e| (
                e.origin_seq,
                e.kind.as_str(),
                e.state.as_str(),
                e.report_epoch
            ))
            .collect::<Vec<_>>(),
        vec![
            (1, "report.created", "applied", 0),
            (2, "report.verified", "applied", 0)
        ]
    );
    assert_eq!(events[0].id, ids[0]);
    let wires = store
        .events_after("node-a", 0, 10)
        .await
        .expect("events_after");
    assert_eq!(wires.len(), 3);
    assert_eq!(wires[0], events[0].wire);
    assert_eq!(wires[2], key_ev.wire_bytes());
    assert_eq!(
        store.events_after("node-a", 1, 1).await.expect("page"),
        vec![events[1].wire.clone()]
    );
    assert_eq!(
        store
            .events_after("node-a", 3, 10)
            .await
            .expect("after head"),
        Vec::<Vec<u8>>::new()
    );
    let got = store
        .event_get(&ids[1])
        .await
        .expect("event_get")
        .expect("held");
    assert_eq!(got, events[1]);
    assert_eq!(
        store.event_get(&"0".repeat(64)).await.expect("event_get"),
        None
    );

    // The outbox: one row per destination, in commit order.
    let hub = store.outbox_after("hub", 0, 10).await.expect("outbox hub");
    assert_eq!(hub.len(), 3);
    assert!(hub.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(
        hub.iter().map(|(_, w)| w.clone()).collect::<Vec<_>>(),
        wires
    );
    let k = store.outbox_after("node-k", 0, 10).await.expect("outbox k");
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].1, wires[0]);
    assert_eq!(
        store
            .outbox_after("hub", hub[0].0, 1)
            .await
            .expect("page")
            .len(),
        1
    );
    assert_eq!(
        store
            .outbox_backlog("hub", hub[0].0)
            .await
            .expect("backlog"),
        (2, Some(T0 + DAY))
    );
    assert_eq!(
        store
            .outbox_backlog("hub", hub[2].0)
            .await
            .expect("backlog"),
        (0, None)
    );
    assert_eq!(
        store.outbox_backlog("nobody", 0).await.expect("backlog"),
        (0, None)
    );
    // A destination enrolled later gets the whole log queued, in order, once.
    assert_eq!(
        store
            .outbox_backfill("node-k", "node-a", T0 + 9)
            .await
            .expect("backfill"),
        2
    );
    assert_eq!(
        store
            .outbox_backfill("node-k", "node-a", T0 + 9)
            .await
            .expect("backfill"),
        0
    );
    assert_eq!(
        store
            .outbox_backfill("node-k", "node-z", T0 + 9)
            .await
            .expect("backfill"),
        0
    );
    let k = store.outbox_after("node-k", 0, 10).await.expect("outbox k");
    assert_eq!(k.into_iter().map(|(_, w)| w).collect::<Vec<_>>(), wires);

    assert_eq!(
        store.blob_get(&blob).await.expect("blob"),
        Some(sealed.clone())
    );
    store
        .blob_put(&blob, b"other", T0)
        .await
        .expect("idempotent put");
    assert_eq!(store.blob_get(&blob).await.expect("blob"), Some(sealed));
    assert_eq!(store.blob_get("nope").await.expect("blob"), None);

    // The report and timeline changed as without an event.
    assert_eq!(
        store.report_get(&r.id).await.expect("get"),
        Some(t1.report.clone())
    );
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline").len(),
        2
    );
}

async fn fed_concurrent_authoring(store: DynStore) {
    let me = TestSigner::new("node-a", 7);
    let pending: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let d = draft(&me, "contribution.note", &format!("node-x:r{i}"), T0 + i);
            let (tx, rx) = tokio::sync::oneshot::channel();
            lapor_node::tasks::spawn_named("append", async move {
                let _ = tx.send(store.event_append(&d).await);
            });
            rx
        })
        .collect();
    let mut seqs = Vec::new();
    for rx in pending {
        let signed = rx.await.expect("append task").expect("event_append");
        seqs.push(signed.event().origin_seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    let head = head_of(&store, "node-a").await.expect("head");
    assert_eq!(head.head_seq, 20);
    let signed = me.signed();
    assert_eq!(signed.len(), 20, "every draft signed exactly once");
    for w in signed.windows(2) {
        assert_eq!(w[1].origin_prev, Some(w[0].id().expect("id")));
    }
    assert_eq!(
        store
            .events_after("node-a", 0, 100)
            .await
            .expect("log")
            .len(),
        20
    );
    assert_eq!(
        store
            .outbox_after("hub", 0, 100)
            .await
            .expect("outbox")
            .len(),
        20
    );
}

async fn fed_accept_outcomes(store: DynStore) {
    let b = TestSigner::new("node-b", 9);
    let rid = "node-b:r1";
    let b1 = remote(&b, 1, None, rid, 0, "one");
    let b1_id = b1.id().to_string();
    let key = key_row("node-b", "k1", &b.public_hex(), 1);
    assert_eq!(
        accept_one(&store, incoming(&b1, Effect::Keys(vec![key.clone()])), T0).await,
        AcceptOutcome::Applied
    );
    assert_eq!(store.key_list().await.expect("keys"), vec![key]);
    assert_eq!(
        accept_one(&store, incoming(&b1, Effect::Store), T0).await,
        AcceptOutcome::Duplicate
    );

    let b2 = remote(&b, 2, Some(&b1_id), rid, 0, "two");
    let b3 = remote(&b, 3, Some(&b2.id().to_string()), rid, 0, "three");
    // b3 arrives first, through the inbox: a gap, and it stays there.
    store
        .inbox_insert(
            "node-b",
            "txn-1",
            "{}",
            &[InboxEvent {
                event_id: b3.id().to_string(),
                origin: "node-b".into(),
                origin_seq: 3,
                wire: b3.wire_bytes().to_vec(),
            }],
            T0,
        )
        .await
        .expect("inbox_insert");
    let inbox = store.inbox_load(10).await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    let mut gap_item = incoming(&b3, Effect::Store);
    gap_item.inbox_id = Some(inbox[0].id);
    assert_eq!(
        accept_one(&store, gap_item.clone(), T0).await,
        AcceptOutcome::Gap { head_seq: 1 }
    );
    assert_eq!(store.inbox_load(10).await.expect("inbox").len(), 1);

    // A b2 that does not follow b1 breaks the chain; its inbox row goes.
    store
        .inbox_insert(
            "node-b",
            "txn-2",
            "{}",
            &[InboxEvent {
                event_id: "bogus".into(),
                origin: "node-b".into(),
                origin_seq: 2,
                wire: b"{}".to_vec(),
            }],
            T0,
        )
        .await
        .expect("inbox_insert");
    let bogus_row = store
        .inbox_load(10)
        .await
        .expect("inbox")
        .into_iter()
        .find(|r| r.event_id == "bogus")
        .expect("bogus row");
    let other = remote(&b, 2, Some(&"ab".repeat(32)), rid, 0, "other chain");
    let mut other_in = incoming(&other, Effect::Store);
    other_in.inbox_id = Some(bogus_row.id);
    assert_eq!(
        accept_one(&store, other_in, T0).await,
        AcceptOutcome::BrokenChain
    );
    // A fork is never silent: it is recorded in quarantine (once, however often it is sent again).
    let forks = store.quarantine_list(10).await.expect("quarantine");
    assert_eq!(
        forks
            .iter()
            .map(|q| (q.event_id.clone(), q.code.as_str()))
            .collect::<Vec<_>>(),
        vec![(other.id().to_string(), "broken_chain")]
    );
    assert!(
        forks[0].reason.contains("does not chain"),
        "{}",
        forks[0].reason
    );
    assert_eq!(store.inbox_load(10).await.expect("inbox").len(), 1);
    assert_eq!(
        store.event_get(&other.id().to_string()).await.expect("get"),
        None
    );

    // b2 (a contribution) then b3 in one batch: pending, then stored; the gap row is gone.
    let out = store
        .events_accept(&[incoming(&b2, Effect::Pending), gap_item], T0 + 1)
        .await
        .expect("accept");
    assert_eq!(out, vec![AcceptOutcome::Pending, AcceptOutcome::Stored]);
    assert!(store.inbox_load(10).await.expect("inbox").is_empty());
    let pending = store.events_pending("", 10).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, b2.id().to_string());
    assert_eq!(
        store
            .event_get(&b3.id().to_string())
            .await
            .expect("get")
            .expect("held")
            .state,
        "stored"
    );
    let head = head_of(&store, "node-b").await.expect("head");
    assert_eq!(
        (head.head_seq, head.head_id),
        (3, Some(b3.id().to_string()))
    );
    // Accepted events are queued for forwarding.
    assert_eq!(
        store
            .outbox_after("hub", 0, 10)
            .await
            .expect("outbox")
            .len(),
        3
    );

    // An event that is valid but refused by the federation module is quarantined, and the log goes on.
    let b4 = remote(&b, 4, Some(&b3.id().to_string()), rid, 0, "four");
    let refused = Effect::Quarantine {
        code: "unknown_type".into(),
        reason: "no such type".into(),
    };
    assert_eq!(
        accept_one(&store, incoming(&b4, refused), T0 + 2).await,
        AcceptOutcome::Quarantined
    );
    let q: Vec<_> = store
        .quarantine_list(10)
        .await
        .expect("quarantine")
        .into_iter()
        .filter(|q| q.code != "broken_chain")
        .collect();
    assert_eq!(q.len(), 1);
    assert_eq!(
        (
            q[0].event_id.as_str(),
            q[0].origin_seq,
            q[0].code.as_str(),
            q[0].at
        ),
        (b4.id().to_string().as_str(), 4, "unknown_type", T0 + 2)
    );
    // Quarantining a held event by hand.
    store
        .event_quarantine(&b3.id().to_string(), "manual", "operator", T0 + 3)
        .await
        .expect("event_quarantine");
    let q = store.quarantine_list(10).await.expect("quarantine");
    assert_eq!(
        q.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        vec!["manual", "unknown_type", "broken_chain"],
        "newest first"
    );
    assert_eq!(store.quarantine_list(1).await.expect("quarantine").len(), 1);
    assert_eq!(
        store
            .event_get(&b3.id().to_string())
            .await
            .expect("get")
            .expect("held")
            .state,
        "quarantined"
    );
    let err = store
        .event_quarantine(&"0".repeat(64), "manual", "x", T0)
        .await
        .expect_err("unknown event");
    assert!(matches!(err, StorageError::NotFound), "{err:?}");

    // A second event at seq 4: equivocation, the origin freezes and nothing more of it is accepted.
    let b4x = remote(
        &b,
        4,
        Some(&b3.id().to_string()),
        rid,
        0,
        "four, differently",
    );
    assert_eq!(
        accept_one(&store, incoming(&b4x, Effect::Store), T0 + 4).await,
        AcceptOutcome::Equivocation {
            first_id: b4.id().to_string()
        }
    );
    let head = head_of(&store, "node-b").await.expect("head");
    assert!(head.frozen);
    assert_eq!(head.head_seq, 4);
    assert!(head.frozen_reason.is_some());
    let eq = store.equivocation_list().await.expect("equivocations");
    assert_eq!(eq.len(), 1);
    assert_eq!(
        (
            eq[0].origin.as_str(),
            eq[0].origin_seq,
            eq[0].first_id.clone(),
            eq[0].second_id.clone(),
            eq[0].detected_at
        ),
        (
            "node-b",
            4,
            b4.id().to_string(),
            b4x.id().to_string(),
            T0 + 4
        )
    );
    let b5 = remote(&b, 5, Some(&b4.id().to_string()), rid, 0, "five");
    assert_eq!(
        accept_one(&store, incoming(&b5, Effect::Store), T0 + 5).await,
        AcceptOutcome::Frozen
    );
    assert_eq!(
        store.event_get(&b5.id().to_string()).await.expect("get"),
        None
    );

    // Another origin is unaffected; a gap never leaves a head behind.
    let c = TestSigner::new("node-c", 11);
    let c2 = remote(&c, 2, Some(&"cd".repeat(32)), "node-c:r1", 0, "c two");
    assert_eq!(
        accept_one(&store, incoming(&c2, Effect::Store), T0).await,
        AcceptOutcome::Gap { head_seq: 0 }
    );
    assert_eq!(head_of(&store, "node-c").await, None);
    let c1 = remote(&c, 1, None, "node-c:r1", 0, "c one");
    assert_eq!(
        accept_one(&store, incoming(&c1, Effect::Store), T0).await,
        AcceptOutcome::Stored
    );
    assert_eq!(
        store
            .origin_heads()
            .await
            .expect("heads")
            .iter()
            .map(|h| (h.origin.as_str(), h.head_seq, h.frozen))
            .collect::<Vec<_>>(),
        vec![("node-b", 4, true), ("node-c", 1, false)]
    );
}

async fn fed_snapshot_effects(store: DynStore) {
    let b = TestSigner::new("node-b", 9);
    let c = TestSigner::new("node-c", 11);
    let mut r = report("r1", "Jalan rusak", "Lubang besar", T0);
    r.id = "node-b:r1".into();
    r.tracking_code = "NB-R1".into();
    let b1 = remote(&b, 1, None, &r.id, 0, "created");
    assert_eq!(
        accept_one(&store, incoming(&b1, snapshot(&r, "created")), T0).await,
        AcceptOutcome::Applied
    );
    assert_eq!(store.report_get(&r.id).await.expect("get"), Some(r.clone()));
    let timeline = store.report_timeline(&r.id).await.expect("timeline");
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].note.as_deref(), Some("created"));
    assert_eq!(
        store.report_owner(&r.id).await.expect("owner"),
        Some(OwnerRow {
            report_id: r.id.clone(),
            owner: "node-b".into(),
            epoch: 0,
            last_event_id: Some(b1.id().to_string()),
        })
    );
    assert_eq!(
        store
            .event_get(&b1.id().to_string())
            .await
            .expect("get")
            .expect("held")
            .state,
        "applied"
    );

    // A snapshot from a node that does not own the report is only stored.
    let mut hijack = r.clone();
    hijack.title = "Hijacked".into();
    let c1 = remote(&c, 1, None, &r.id, 0, "hijack");
    assert_eq!(
        accept_one(&store, incoming(&c1, snapshot(&hijack, "hijack")), T0 + 1).await,
        AcceptOutcome::Stored
    );
    assert_eq!(store.report_get(&r.id).await.expect("get"), Some(r.clone()));

    // Epochs move only through a committed transfer: the owner's snapshot at an epoch it does not hold yet is
    // only stored.
    let mut ahead = r.clone();
    ahead.title = "Ahead".into();
    let b2 = remote(&b, 2, Some(&b1.id().to_string()), &r.id, 1, "ahead");
    assert_eq!(
        accept_one(&store, incoming(&b2, snapshot(&ahead, "ahead")), T0 + 2).await,
        AcceptOutcome::Stored
    );
    assert_eq!(store.report_get(&r.id).await.expect("get"), Some(r.clone()));

    // The owner's next change at the held epoch applies.
    let mut v2 = r.clone();
    v2.status = ReportStatus::Verified;
    v2.version = 2;
    let b3 = remote(&b, 3, Some(&b2.id().to_string()), &r.id, 0, "verified");
    assert_eq!(
        accept_one(&store, incoming(&b3, snapshot(&v2, "verified")), T0 + 3).await,
        AcceptOutcome::Applied
    );
    assert_eq!(
        store.report_get(&r.id).await.expect("get"),
        Some(v2.clone())
    );
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline").len(),
        2
    );
    let owner = store
        .report_owner(&r.id)
        .await
        .expect("owner")
        .expect("owned");
    assert_eq!(
        (owner.epoch, owner.last_event_id),
        (0, Some(b3.id().to_string()))
    );

    // An effect that fails half way (the report row is written, the timeline entry refers to no report) is
    // rolled back entirely and the event quarantined; the next events of the batch still apply.
    let mut v3 = v2.clone();
    v3.title = "Half applied".into();
    v3.version = 3;
    let Effect::Snapshot { report, mut entry } = snapshot(&v3, "broken") else {
        unreachable!()
    };
    entry.report_id = "node-b:missing".into();
    let b4 = remote(&b, 4, Some(&b3.id().to_string()), &r.id, 0, "broken");
    let b5 = remote(&b, 5, Some(&b4.id().to_string()), "node-b:node", 0, "keys");
    let k_ok = key_row("node-b", "k2", &"11".repeat(32), 5);
    let b6 = remote(
        &b,
        6,
        Some(&b5.id().to_string()),
        "node-b:node",
        0,
        "keys again",
    );
    let k_clash = key_row("node-b", "k2", &"22".repeat(32), 6);
    let b7 = remote(&b, 7, Some(&b6.id().to_string()), &r.id, 0, "fine");
    let mut v4 = v2.clone();
    v4.status = ReportStatus::InProgress;
    v4.version = 4;
    let out = store
        .events_accept(
            &[
                incoming(&b4, Effect::Snapshot { report, entry }),
                incoming(&b5, Effect::Keys(vec![k_ok.clone()])),
                incoming(&b6, Effect::Keys(vec![k_clash])),
                incoming(&b7, snapshot(&v4, "in progress")),
            ],
            T0 + 4,
        )
        .await
        .expect("accept");
    assert_eq!(
        out,
        vec![
            AcceptOutcome::Quarantined,
            AcceptOutcome::Applied,
            AcceptOutcome::Quarantined,
            AcceptOutcome::Applied
        ]
    );
    assert_eq!(store.report_get(&r.id).await.expect("get"), Some(v4));
    let timeline = store.report_timeline(&r.id).await.expect("timeline");
    assert_eq!(
        timeline
            .iter()
            .map(|e| e.note.as_deref())
            .collect::<Vec<_>>(),
        vec![Some("created"), Some("verified"), Some("in progress")]
    );
    assert_eq!(store.report_get("node-b:missing").await.expect("get"), None);
    for (ev, state) in [
        (&b4, "quarantined"),
        (&b5, "applied"),
        (&b6, "quarantined"),
        (&b7, "applied"),
    ] {
        let held = store
            .event_get(&ev.id().to_string())
            .await
            .expect("get")
            .expect("held");
        assert_eq!(held.state, state, "seq {}", held.origin_seq);
    }
    let q = store.quarantine_list(10).await.expect("quarantine");
    assert_eq!(q.len(), 2);
    assert!(
        q.iter().all(|r| r.code == "apply_failed" && r.at == T0 + 4),
        "{q:?}"
    );
    assert_eq!(store.key_list().await.expect("keys"), vec![k_ok]);
    let owner = store
        .report_owner(&r.id)
        .await
        .expect("owner")
        .expect("owned");
    assert_eq!(owner.last_event_id, Some(b7.id().to_string()));
    assert_eq!(head_of(&store, "node-b").await.expect("head").head_seq, 7);
}

async fn fed_inbox_is_fair(store: DynStore) {
    let ev = |origin: &str, seq: i64| InboxEvent {
        event_id: format!("{origin}-{seq}"),
        origin: origin.to_owned(),
        origin_seq: seq,
        wire: format!("wire {origin} {seq}").into_bytes(),
    };
    // An origin whose events wait for a gap ("node-a", sorted first) holds more than a batch.
    let many: Vec<InboxEvent> = (2..=INBOX_SHARE + 100)
        .map(|seq| ev("node-a", seq))
        .collect();
    store
        .inbox_insert("node-a", "gapped", "{}", &many, T0)
        .await
        .expect("inbox_insert");
    store
        .inbox_insert(
            "node-z",
            "other",
            "{}",
            &[ev("node-z", 2), ev("node-z", 1)],
            T0,
        )
        .await
        .expect("inbox_insert");
    let rows = store.inbox_load(INBOX_SHARE + 50).await.expect("inbox");
    let of = |o: &str| rows.iter().filter(|r| r.origin == o).count() as i64;
    assert_eq!((of("node-a"), of("node-z")), (INBOX_SHARE, 2));
    // Each origin's share is its lowest sequence numbers, in order.
    let a: Vec<i64> = rows
        .iter()
        .filter(|r| r.origin == "node-a")
        .map(|r| r.origin_seq)
        .collect();
    assert_eq!(a, (2..2 + INBOX_SHARE).collect::<Vec<_>>());
    let z: Vec<i64> = rows
        .iter()
        .filter(|r| r.origin == "node-z")
        .map(|r| r.origin_seq)
        .collect();
    assert_eq!(z, vec![1, 2]);
    assert_eq!(
        store.inbox_counts().await.expect("counts"),
        vec![
            ("node-a".to_owned(), INBOX_SHARE + 99),
            ("node-z".to_owned(), 2)
        ]
    );
}

async fn fed_inbox_and_push_txns(store: DynStore) {
    let ev = |origin: &str, seq: i64| InboxEvent {
        event_id: format!("{origin}-{seq}"),
        origin: origin.to_owned(),
        origin_seq: seq,
        wire: format!("wire {origin} {seq}").into_bytes(),
    };
    assert_eq!(store.push_txn_get("node-b", "t1").await.expect("txn"), None);
    store
        .inbox_insert(
            "node-b",
            "t1",
            "first answer",
            &[ev("node-c", 2), ev("node-b", 1), ev("node-c", 1)],
            T0,
        )
        .await
        .expect("inbox_insert");
    let err = store
        .inbox_insert("node-b", "t1", "second answer", &[ev("node-d", 1)], T0 + 1)
        .await
        .expect_err("same transaction");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(
        store
            .push_txn_get("node-b", "t1")
            .await
            .expect("txn")
            .as_deref(),
        Some("first answer")
    );
    // Same transaction id from another sender is another transaction.
    store
        .inbox_insert("node-c", "t1", "c answer", &[ev("node-b", 1)], T0 + 2)
        .await
        .expect("other sender");
    let rows = store.inbox_load(10).await.expect("inbox");
    assert_eq!(
        rows.iter()
            .map(|r| (r.origin.as_str(), r.origin_seq, r.sender.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("node-b", 1, "node-b"),
            ("node-b", 1, "node-c"),
            ("node-c", 1, "node-b"),
            ("node-c", 2, "node-b")
        ]
    );
    assert!(rows[0].id < rows[1].id);
    assert_eq!(rows[3].wire, b"wire node-c 2".to_vec());
    assert_eq!(rows[3].event_id, "node-c-2");
    assert_eq!(
        store.inbox_load(2).await.expect("inbox"),
        rows[..2].to_vec()
    );
    store
        .inbox_delete(&[rows[0].id, rows[3].id])
        .await
        .expect("delete");
    store.inbox_delete(&[]).await.expect("delete nothing");
    assert_eq!(
        store.inbox_load(10).await.expect("inbox"),
        vec![rows[1].clone(), rows[2].clone()]
    );
}

fn peer(id: &str, name: &str) -> PeerRecord {
    PeerRecord {
        node_id: id.to_owned(),
        name: name.to_owned(),
        base_url: format!("https://{id}.example"),
        role: "regional".into(),
        region_codes: vec!["53.71".into(), "53.72".into()],
        enc_public: None,
        push_cursor: 0,
        last_success_at: None,
        last_attempt_at: None,
        last_error: None,
        failures: 0,
        rejected_total: 0,
        added_at: T0,
    }
}

async fn fed_peers(store: DynStore) {
    store
        .peer_upsert(&peer("node-c", "C"))
        .await
        .expect("upsert");
    let mut hub = peer("hub", "Hub");
    hub.role = "hub".into();
    hub.region_codes = Vec::new();
    store.peer_upsert(&hub).await.expect("upsert");
    store
        .peer_upsert(&peer("Node-Z", "Z"))
        .await
        .expect("upsert");
    assert_eq!(
        store
            .peer_list()
            .await
            .expect("list")
            .iter()
            .map(|p| p.node_id.as_str())
            .collect::<Vec<_>>(),
        vec!["Node-Z", "hub", "node-c"],
        "byte order"
    );
    assert_eq!(store.peer_get("hub").await.expect("get"), Some(hub.clone()));
    assert_eq!(store.peer_get("nobody").await.expect("get"), None);

    let id = "node-c";
    store
        .peer_push_result(
            id,
            PushOutcome::Failed {
                error: "timeout".into(),
            },
            T0 + 1,
        )
        .await
        .expect("failed");
    store
        .peer_push_result(
            id,
            PushOutcome::Failed {
                error: "refused".into(),
            },
            T0 + 2,
        )
        .await
        .expect("failed");
    let p = store.peer_get(id).await.expect("get").expect("peer");
    assert_eq!(
        (
            p.push_cursor,
            p.failures,
            p.last_error.as_deref(),
            p.last_attempt_at,
            p.last_success_at
        ),
        (0, 2, Some("refused"), Some(T0 + 2), None)
    );
    store
        .peer_push_result(id, PushOutcome::Contact, T0 + 3)
        .await
        .expect("contact");
    let p = store.peer_get(id).await.expect("get").expect("peer");
    assert_eq!(
        (p.failures, p.last_error.as_deref()),
        (0, None),
        "contact after recovery clears the last error"
    );
    store
        .peer_push_result(
            id,
            PushOutcome::Sent {
                cursor: 5,
                rejected: 1,
                error: Some("bad sig".into()),
            },
            T0 + 4,
        )
        .await
        .expect("sent");
    store
        .peer_push_result(
            id,
            PushOutcome::Sent {
                cursor: 3,
                rejected: 0,
                error: None,
            },
            T0 + 5,
        )
        .await
        .expect("sent, older cursor");
    let p = store.peer_get(id).await.expect("get").expect("peer");
    assert_eq!(
        (
            p.push_cursor,
            p.failures,
            p.rejected_total,
            p.last_error.as_deref(),
            p.last_success_at,
            p.last_attempt_at
        ),
        (5, 0, 1, None, Some(T0 + 5), Some(T0 + 5)),
        "the cursor only moves forward; a clean push clears the last error"
    );
    // Directory fields change; push state stays.
    let mut moved = peer(id, "C renamed");
    moved.base_url = "https://c.example".into();
    moved.enc_public = Some("ab".repeat(32));
    moved.region_codes = vec!["53.71".into()];
    moved.added_at = T0 + 100;
    store.peer_upsert(&moved).await.expect("upsert again");
    let p = store.peer_get(id).await.expect("get").expect("peer");
    assert_eq!(
        p,
        PeerRecord {
            push_cursor: 5,
            rejected_total: 1,
            last_error: None,
            last_success_at: Some(T0 + 5),
            last_attempt_at: Some(T0 + 5),
            added_at: T0,
            ..moved
        }
    );
    // Unknown peers are ignored.
    store
        .peer_push_result("nobody", PushOutcome::Contact, T0)
        .await
        .expect("no-op");
}

/// A rotation is one transaction: the announcement signed by the old key, the old key retired after it,
/// the new key signing from the next sequence number; no key valid at a sequence number means nothing is
/// signed.
async fn fed_key_rotate(store: DynStore) {
    let signer = TestSigner::new("node-a", 1);
    // No key of the node in the log: the signer's current key signs.
    let e1 = store
        .event_append(&draft(&signer, "report.updated", "node-a:r1", T0))
        .await
        .expect("first");
    assert_eq!(e1.event().key_id, "k1");
    store
        .key_upsert(&key_row("node-a", "k1", &signer.public_hex(), 1))
        .await
        .expect("k1");
    let rot = store
        .key_rotate(
            &draft(&signer, "key.rotated", "node-a:node", T0 + 1),
            &key_row("node-a", "k2", &"bb".repeat(32), 0),
        )
        .await
        .expect("rotate");
    assert_eq!(
        (rot.event().origin_seq, rot.event().key_id.as_str()),
        (2, "k1")
    );
    let keys: Vec<KeyRow> = store
        .key_list()
        .await
        .expect("keys")
        .into_iter()
        .filter(|k| k.origin == "node-a")
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let k1 = keys.iter().find(|k| k.key_id == "k1").expect("k1");
    let k2 = keys.iter().find(|k| k.key_id == "k2").expect("k2").clone();
    assert_eq!(k1.retired_after_seq, Some(2));
    assert_eq!((k2.valid_from_seq, k2.retired_after_seq), (3, None));
    let e3 = store
        .event_append(&draft(&signer, "report.updated", "node-a:r1", T0 + 2))
        .await
        .expect("after");
    assert_eq!(
        (e3.event().origin_seq, e3.event().key_id.as_str()),
        (3, "k2")
    );
    // Revoked without a rotation: no key may sign seq 4, so nothing is authored.
    store
        .key_upsert(&KeyRow {
            revoked_from_seq: Some(4),
            ..k2
        })
        .await
        .expect("revoke");
    let err = store
        .event_append(&draft(&signer, "report.updated", "node-a:r1", T0 + 3))
        .await
        .expect_err("no valid key");
    assert!(matches!(err, StorageError::Invalid(_)), "{err:?}");
    let head = store
        .origin_heads()
        .await
        .expect("heads")
        .into_iter()
        .find(|h| h.origin == "node-a")
        .expect("head");
    assert_eq!(head.head_seq, 3);
}

/// Leases: one holder at a time, renewed by the holder, taken by anyone once expired, given up by release.
async fn leases(store: DynStore) {
    let take = |name: &'static str, holder: &'static str, ttl: i64| {
        let store = store.clone();
        async move { store.lease_acquire(name, holder, ttl).await.expect("lease") }
    };
    assert!(take("push:x", "a", 60_000).await);
    assert!(take("push:x", "a", 60_000).await, "the holder renews");
    assert!(!take("push:x", "b", 60_000).await, "held by a");
    assert!(take("applier", "b", 60_000).await, "another lease");
    store.lease_release("push:x", "b").await.expect("no-op");
    assert!(
        !take("push:x", "b", 60_000).await,
        "b released nothing of a's"
    );
    store.lease_release("push:x", "a").await.expect("release");
    assert!(take("push:x", "b", 60_000).await, "free after release");
    // An expired lease (the holder stopped renewing) goes to whoever asks first.
    assert!(take("recap", "a", -1).await);
    assert!(take("recap", "c", 60_000).await, "expired");
    assert!(!take("recap", "a", 60_000).await, "c holds it now");
    let list = store.lease_list().await.expect("list");
    let holders: Vec<(&str, &str)> = list
        .iter()
        .map(|(n, h, _)| (n.as_str(), h.as_str()))
        .collect();
    assert_eq!(
        holders,
        vec![("applier", "b"), ("push:x", "b"), ("recap", "c")]
    );
}

async fn fed_keys(store: DynStore) {
    let public = "aa".repeat(32);
    let k = key_row("node-b", "k1", &public, 1);
    store.key_upsert(&k).await.expect("insert");
    store.key_upsert(&k).await.expect("idempotent");
    let narrow = |retired: Option<i64>, revoked: Option<i64>| KeyRow {
        retired_after_seq: retired,
        revoked_from_seq: revoked,
        ..k.clone()
    };
    store
        .key_upsert(&narrow(Some(10), None))
        .await
        .expect("retire");
    store
        .key_upsert(&narrow(Some(20), None))
        .await
        .expect("later retirement");
    store
        .key_upsert(&narrow(None, None))
        .await
        .expect("no retirement");
    let got = store.key_list().await.expect("keys");
    assert_eq!(
        got,
        vec![narrow(Some(10), None)],
        "retirement is never lifted or widened"
    );
    store
        .key_upsert(&narrow(Some(5), Some(8)))
        .await
        .expect("narrower");
    store
        .key_upsert(&narrow(None, Some(9)))
        .await
        .expect("later revocation");
    store
        .key_upsert(&KeyRow {
            enc_public: Some("ee".repeat(32)),
            ..narrow(None, Some(7))
        })
        .await
        .expect("earlier revocation, encryption key");
    store
        .key_upsert(&narrow(None, None))
        .await
        .expect("no encryption key");
    assert_eq!(
        store.key_list().await.expect("keys"),
        vec![KeyRow {
            enc_public: Some("ee".repeat(32)),
            ..narrow(Some(5), Some(7))
        }]
    );
    let err = store
        .key_upsert(&key_row("node-b", "k1", &"bb".repeat(32), 1))
        .await
        .expect_err("another public key");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(store.key_list().await.expect("keys")[0].public_key, public);

    store
        .key_upsert(&key_row("node-b", "k0", &"cc".repeat(32), 100))
        .await
        .expect("k0");
    store
        .key_upsert(&key_row("node-a", "k9", &"dd".repeat(32), 1))
        .await
        .expect("other origin");
    assert_eq!(
        store
            .key_list()
            .await
            .expect("keys")
            .iter()
            .map(|k| (k.origin.as_str(), k.key_id.as_str()))
            .collect::<Vec<_>>(),
        vec![("node-a", "k9"), ("node-b", "k1"), ("node-b", "k0")],
        "by origin, then validity"
    );
}

async fn fed_consumes(store: DynStore) {
    let me = TestSigner::new("node-a", 7);
    let b = TestSigner::new("node-b", 9);
    let r = report("r1", "Jalan rusak", "Lubang besar", T0);
    store
        .report_insert(
            &r,
            None,
            &created(&r),
            Some(&draft(&me, "report.created", &r.id, T0)),
        )
        .await
        .expect("insert");
    let note = remote(&b, 1, None, &r.id, 0, "contribution");
    let note_id = note.id().to_string();
    assert_eq!(
        accept_one(&store, incoming(&note, Effect::Pending), T0 + 1).await,
        AcceptOutcome::Pending
    );
    assert_eq!(
        store.events_pending("", 10).await.expect("pending").len(),
        1
    );

    let t1 = transition(
        &r,
        ReportStatus::Verified,
        TimelineAction::Verified,
        T0 + DAY,
        "ok",
    );
    let mut d = draft(&me, "report.verified", &r.id, T0 + DAY);
    d.consumes = Some(note_id.clone());
    store
        .report_transition(&t1, Some(&d))
        .await
        .expect("consume");
    assert_eq!(
        store
            .event_get(&note_id)
            .await
            .expect("get")
            .expect("held")
            .state,
        "applied"
    );
    assert!(store
        .events_pending("", 10)
        .await
        .expect("pending")
        .is_empty());

    // Consuming it again fails and rolls back the whole change.
    let t2 = transition(
        &t1.report,
        ReportStatus::InProgress,
        TimelineAction::Acknowledged,
        T0 + 2 * DAY,
        "again",
    );
    let mut d2 = draft(&me, "report.acknowledged", &r.id, T0 + 2 * DAY);
    d2.consumes = Some(note_id.clone());
    let err = store
        .report_transition(&t2, Some(&d2))
        .await
        .expect_err("consumed twice");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.report_get(&r.id).await.expect("get"),
        Some(t1.report.clone())
    );
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline").len(),
        2
    );
    assert_eq!(head_of(&store, "node-a").await.expect("head").head_seq, 2);
    let err = store
        .event_append(&d2)
        .await
        .expect_err("append consuming twice");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    let mut d3 = draft(&me, "report.acknowledged", &r.id, T0 + 2 * DAY);
    d3.consumes = Some("0".repeat(64));
    let err = store
        .event_append(&d3)
        .await
        .expect_err("unknown contribution");
    assert!(matches!(err, StorageError::Conflict(_)), "{err:?}");
    assert_eq!(head_of(&store, "node-a").await.expect("head").head_seq, 2);
    assert_eq!(
        store
            .outbox_after("hub", 0, 10)
            .await
            .expect("outbox")
            .len(),
        3,
        "2 own + 1 forwarded"
    );
}

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

// ---------------------------------------------------------------------------------------------------------------
// Transfers

fn transfer_row(offer: &str, report_id: &str, to: &str, epoch: i64, state: &str) -> TransferRow {
    TransferRow {
        offer_id: offer.to_owned(),
        report_id: report_id.to_owned(),
        from_node: "node-a".into(),
        to_node: to.to_owned(),
        epoch,
        agency_id: None,
        reason: "misrouted".into(),
        note: Some("salah alamat".into()),
        state: state.to_owned(),
        code: None,
        expires_at: None,
        created_at: T0,
        updated_at: T0 + epoch,
    }
}

fn change(row: TransferRow, open: bool, commit: bool) -> TransferChange {
    TransferChange { row, open, commit }
}

/// The open-transfer check runs inside the transaction that commits a change: a change decided before a
/// transfer opened is refused when it commits after the offer (nothing stored), and however a chain of changes
/// and an offer interleave, nothing the owner signs at the closed epoch follows its offer in its log.
async fn fed_no_change_after_an_offer(store: DynStore) {
    let me = TestSigner::new("node-a", 7);
    let r = report("r1", "Jalan rusak", "Lubang besar", T0);
    store
        .report_insert(
            &r,
            None,
            &created(&r),
            Some(&draft(&me, "report.created", &r.id, T0)),
        )
        .await
        .expect("insert");
    let offer_of = |id: &str, at: Millis| {
        let mut o = draft(&me, "transfer.offer", id, at);
        o.transfer = Some(change(
            transfer_row("", id, "node-b", 1, "offered"),
            true,
            false,
        ));
        o
    };
    // Decided on the state before the offer; the offer commits first.
    let t = transition(
        &r,
        ReportStatus::Verified,
        TimelineAction::Verified,
        T0 + 2,
        "diverifikasi",
    );
    store
        .event_append(&offer_of(&r.id, T0 + 1))
        .await
        .expect("offer");
    match store
        .report_transition(&t, Some(&draft(&me, "report.verified", &r.id, T0 + 2)))
        .await
    {
        Err(StorageError::Conflict(Conflict::TransferPending)) => {}
        other => panic!("a change after the offer: {other:?}"),
    }
    assert_eq!(store.report_get(&r.id).await.expect("get"), Some(r.clone()));
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline").len(),
        1
    );
    assert_eq!(head_of(&store, "node-a").await.expect("head").head_seq, 2);

    // A chain of changes races an offer of the same report.
    let r2 = report("r2", "Air keruh", "Air PDAM keruh", T0);
    store
        .report_insert(
            &r2,
            None,
            &created(&r2),
            Some(&draft(&me, "report.created", &r2.id, T0)),
        )
        .await
        .expect("insert r2");
    let chain = async {
        let mut current = r2.clone();
        for i in 0..20_i64 {
            let t = transition(
                &current,
                ReportStatus::Verified,
                TimelineAction::Verified,
                T0 + 10 + i,
                &format!("perubahan {i}"),
            );
            let d = draft(&me, "report.verified", &r2.id, T0 + 10 + i);
            match store.report_transition(&t, Some(&d)).await {
                Ok(()) => current = t.report,
                Err(StorageError::Conflict(Conflict::TransferPending)) => return i,
                Err(e) => panic!("change {i}: {e:?}"),
            }
        }
        20
    };
    let offer = async {
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        store
            .event_append(&offer_of(&r2.id, T0 + 5))
            .await
            .expect("offer r2");
    };
    let (done, ()) = tokio::join!(chain, offer);
    assert!(done < 20, "the offer landed within the chain of changes");
    let log: Vec<serde_json::Value> = store
        .events_after("node-a", 0, 1000)
        .await
        .expect("log")
        .iter()
        .map(|b| serde_json::from_slice(b).expect("json"))
        .collect();
    let of_r2 = |e: &serde_json::Value| e["report_id"] == r2.id.as_str();
    let at = log
        .iter()
        .position(|e| of_r2(e) && e["type"] == "transfer.offer")
        .expect("the offer is in the log");
    let after: Vec<_> = log[at + 1..]
        .iter()
        .filter(|e| of_r2(e) && e["type"].as_str().is_some_and(|t| t.starts_with("report.")))
        .collect();
    assert!(
        after.is_empty(),
        "changes signed after the offer: {after:?}"
    );
    let timeline = store.report_timeline(&r2.id).await.expect("timeline");
    assert_eq!(
        timeline.len(),
        1 + usize::try_from(done).expect("count"),
        "every committed change, and only those"
    );
}

/// Opening, the open-transfer and epoch guards, forward-only states, and a commit moving ownership.
async fn fed_transfers(store: DynStore) {
    let me = TestSigner::new("node-a", 7);
    let hub = TestSigner::new("hub", 13);
    let r = report("r1", "Jalan rusak", "Lubang besar", T0);
    store
        .report_insert(
            &r,
            None,
            &created(&r),
            Some(&draft(&me, "report.created", &r.id, T0)),
        )
        .await
        .expect("insert");

    // The owner opens a transfer; the event's own id names it.
    let mut d = draft(&me, "transfer.offer", &r.id, T0 + 1);
    d.transfer = Some(change(
        transfer_row("", &r.id, "node-b", 1, "offered"),
        true,
        false,
    ));
    let offer = store
        .event_append(&d)
        .await
        .expect("offer")
        .id()
        .to_string();
    let rows = store.transfers_of_report(&r.id).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].offer_id.as_str(), rows[0].state.as_str()),
        (offer.as_str(), "offered")
    );
    assert!(rows[0].is_open());
    assert_eq!(store.transfers_list(true, 10).await.expect("open").len(), 1);

    // A second open transfer of the same report is refused and leaves nothing behind.
    let mut d2 = draft(&me, "transfer.offer", &r.id, T0 + 2);
    d2.transfer = Some(change(
        transfer_row("", &r.id, "node-c", 1, "offered"),
        true,
        false,
    ));
    match store.event_append(&d2).await {
        Err(StorageError::Conflict(c)) => assert_eq!(c, Conflict::TransferPending),
        other => panic!("second offer: {other:?}"),
    }
    assert_eq!(
        store.transfers_of_report(&r.id).await.expect("rows").len(),
        1
    );
    assert_eq!(head_of(&store, "node-a").await.expect("head").head_seq, 2);

    // The hub's forward moves the state on; an older state arriving later does not move it back.
    let fwd = remote(&hub, 1, None, &r.id, 0, "forwarded");
    let mut item = incoming(
        &fwd,
        Effect::Transfer {
            change: Box::new(change(
                transfer_row(&offer, &r.id, "node-b", 1, "forwarded"),
                false,
                false,
            )),
            pending: false,
        },
    );
    item.kind = "transfer.forwarded".into();
    assert_eq!(
        accept_one(&store, item, T0 + 3).await,
        AcceptOutcome::Applied
    );
    let stale = remote(
        &hub,
        2,
        Some(&fwd.id().to_string()),
        &r.id,
        0,
        "offered again",
    );
    let mut item = incoming(
        &stale,
        Effect::Transfer {
            change: Box::new(change(
                transfer_row(&offer, &r.id, "node-b", 1, "offered"),
                false,
                false,
            )),
            pending: false,
        },
    );
    item.kind = "transfer.offer".into();
    assert_eq!(
        accept_one(&store, item, T0 + 4).await,
        AcceptOutcome::Applied
    );
    let row = store.transfer_get(&offer).await.expect("get").expect("row");
    assert_eq!(row.state, "forwarded");

    // The hub's commit: ownership moves to the target at epoch 1; this node still has to act (pending).
    let commit = remote(
        &hub,
        3,
        Some(&stale.id().to_string()),
        &r.id,
        1,
        "committed",
    );
    let commit_id = commit.id().to_string();
    let mut item = incoming(
        &commit,
        Effect::Transfer {
            change: Box::new(change(
                transfer_row(&offer, &r.id, "node-b", 1, "committed"),
                false,
                true,
            )),
            pending: true,
        },
    );
    item.kind = "transfer.committed".into();
    assert_eq!(
        accept_one(&store, item, T0 + 5).await,
        AcceptOutcome::Pending
    );
    let owner = store
        .report_owner(&r.id)
        .await
        .expect("owner")
        .expect("row");
    assert_eq!(
        (
            owner.owner.as_str(),
            owner.epoch,
            owner.last_event_id.as_deref()
        ),
        ("node-b", 1, Some(commit_id.as_str()))
    );
    let pending = store
        .events_pending("transfer.", 10)
        .await
        .expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, commit_id);
    assert!(store
        .events_pending("contribution.", 10)
        .await
        .expect("pending")
        .is_empty());
    assert!(!store
        .transfer_get(&offer)
        .await
        .expect("get")
        .expect("row")
        .is_open());
    assert!(store
        .transfers_list(true, 10)
        .await
        .expect("open")
        .is_empty());

    // An offer at the old epoch is stale now.
    let mut d3 = draft(&me, "transfer.offer", &r.id, T0 + 6);
    d3.transfer = Some(change(
        transfer_row("", &r.id, "node-c", 1, "offered"),
        true,
        false,
    ));
    match store.event_append(&d3).await {
        Err(StorageError::Conflict(c)) => assert_eq!(c, Conflict::StaleEpoch),
        other => panic!("stale offer: {other:?}"),
    }

    // The tombstone consumes the commit, exactly once; it is signed at the epoch it names.
    let mut t = draft(&me, "transfer.tombstone", &r.id, T0 + 7);
    t.consumes = Some(commit_id.clone());
    let tomb = store.event_append(&t).await.expect("tombstone");
    assert_eq!(tomb.event().report_epoch, 1);
    assert_eq!(
        tomb.event().report_prev,
        vec![commit_id.parse().expect("hex")]
    );
    assert!(matches!(
        store.event_append(&t).await,
        Err(StorageError::Conflict(_))
    ));
    assert!(store
        .events_pending("transfer.", 10)
        .await
        .expect("pending")
        .is_empty());

    // A commit the node authors itself (the hub) sets ownership in the same transaction.
    let r2 = report("r2", "Air keruh", "Air PDAM keruh", T0);
    store
        .report_insert(
            &r2,
            None,
            &created(&r2),
            Some(&draft(&me, "report.created", &r2.id, T0)),
        )
        .await
        .expect("insert r2");
    let mut c = draft(&me, "transfer.committed", &r2.id, T0 + 8);
    c.epoch = Some(1);
    c.pending = true;
    c.transfer = Some(change(
        transfer_row("x1", &r2.id, "node-b", 1, "committed"),
        false,
        true,
    ));
    let signed = store.event_append(&c).await.expect("commit");
    assert_eq!(signed.event().report_epoch, 1);
    let owner = store
        .report_owner(&r2.id)
        .await
        .expect("owner")
        .expect("row");
    assert_eq!((owner.owner.as_str(), owner.epoch), ("node-b", 1));
    assert_eq!(
        store
            .events_pending("transfer.", 10)
            .await
            .expect("pending")
            .len(),
        1
    );
}

/// A report rebuilt from its history: stored with its timeline, appended to, never taken back to an
/// older epoch; the history is served with the log's events.
async fn fed_report_import(store: DynStore) {
    let r = report("node-b:r9", "Sampah menumpuk", "Sampah di pasar", T0);
    let mut verified = created(&r);
    verified.action = TimelineAction::Verified;
    verified.at = T0 + DAY;
    let history = |n: usize| -> Vec<HistoryEvent> {
        (0..n)
            .map(|i| HistoryEvent {
                id: format!("{:064x}", i + 1),
                origin: "node-b".into(),
                origin_seq: i as i64 + 1,
                kind: "report.created".into(),
                report_epoch: 0,
                wire: vec![b'{', b'}'],
            })
            .collect()
    };
    let import = |timeline: Vec<TimelineRecord>, epoch: i64, last: usize| ReportImport {
        report: r.clone(),
        timeline,
        owner: OwnerRow {
            report_id: r.id.clone(),
            owner: "node-b".into(),
            epoch,
            last_event_id: Some(format!("{last:064x}")),
        },
        history: history(last),
        merge_owned: false,
    };
    store
        .report_import(&import(vec![created(&r)], 0, 1), T0)
        .await
        .expect("import");
    assert!(store.report_get(&r.id).await.expect("get").is_some());
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline").len(),
        1
    );
    store
        .report_import(&import(vec![created(&r), verified.clone()], 0, 2), T0)
        .await
        .expect("import again");
    let timeline = store.report_timeline(&r.id).await.expect("timeline");
    assert_eq!(
        timeline.iter().map(|e| e.action).collect::<Vec<_>>(),
        vec![TimelineAction::Created, TimelineAction::Verified]
    );
    // The same import twice changes nothing.
    store
        .report_import(&import(vec![created(&r), verified.clone()], 0, 2), T0)
        .await
        .expect("idempotent");
    assert_eq!(
        store.report_timeline(&r.id).await.expect("timeline").len(),
        2
    );
    // Ownership held at a newer epoch is never taken back.
    store
        .report_owner(&r.id)
        .await
        .expect("owner")
        .expect("row");
    let mut newer = import(vec![created(&r), verified.clone()], 2, 3);
    newer.owner.owner = "node-c".into();
    store.report_import(&newer, T0).await.expect("newer");
    store
        .report_import(&import(vec![created(&r)], 1, 2), T0)
        .await
        .expect("older");
    let owner = store
        .report_owner(&r.id)
        .await
        .expect("owner")
        .expect("row");
    assert_eq!((owner.owner.as_str(), owner.epoch), ("node-c", 2));
    let held = store.report_history(&r.id).await.expect("history");
    assert_eq!(held.len(), 3);
    assert!(held
        .windows(2)
        .all(|w| w[0].report_epoch <= w[1].report_epoch));
}

/// Agencies another node publishes are stored under its id and replace what was known of it.
async fn fed_remote_agencies(store: DynStore) {
    let b = TestSigner::new("node-b", 9);
    store
        .agency_create(&agency("dinas-lokal", None))
        .await
        .expect("local");
    let remote_agency = |id: &str, active: bool| AgencyRecord {
        id: id.to_owned(),
        parent_id: None,
        path: format!("@node-b/{id}/"),
        name: format!("Remote {id}"),
        kind: "office".into(),
        region_code: Some("64.72".into()),
        active,
        created_at: T0,
        node_id: Some("node-b".into()),
    };
    let first = remote(&b, 1, None, "node-b:node", 0, "agencies");
    let mut item = incoming(
        &first,
        Effect::Agencies {
            origin: "node-b".into(),
            agencies: vec![
                remote_agency("dinas-pu-samarinda", true),
                remote_agency("dinas-lokal", true),
                remote_agency("bappeda", true),
            ],
            sms_keywords: vec![
                kw("node-b", "KOTB", None),
                kw("node-b", "PUSAMARINDA", Some("dinas-pu-samarinda")),
            ],
        },
    );
    item.kind = "node.agencies".into();
    assert_eq!(accept_one(&store, item, T0).await, AcceptOutcome::Applied);
    let got = store
        .agency_get("dinas-pu-samarinda")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(got.node_id.as_deref(), Some("node-b"));
    assert_eq!(got.path, "@node-b/dinas-pu-samarinda/");
    assert_eq!(
        store.sms_keyword_get("PUSAMARINDA").await.expect("keyword"),
        Some(kw("node-b", "PUSAMARINDA", Some("dinas-pu-samarinda")))
    );
    // A remote agency never takes over this node's own id.
    let own = store
        .agency_get("dinas-lokal")
        .await
        .expect("get")
        .expect("own");
    assert_eq!(own.node_id, None);
    assert_eq!(own.name, "Agency dinas-lokal");
    // The next list replaces the previous one: what is gone is deactivated, not deleted.
    let second = remote(
        &b,
        2,
        Some(&first.id().to_string()),
        "node-b:node",
        0,
        "agencies",
    );
    let mut item = incoming(
        &second,
        Effect::Agencies {
            origin: "node-b".into(),
            agencies: vec![remote_agency("dinas-pu-samarinda", true)],
            sms_keywords: vec![kw("node-b", "KOTB", None)],
        },
    );
    item.kind = "node.agencies".into();
    assert_eq!(
        accept_one(&store, item, T0 + 1).await,
        AcceptOutcome::Applied
    );
    // Keywords are replaced whole too.
    assert_eq!(
        store.sms_keyword_get("PUSAMARINDA").await.expect("keyword"),
        None
    );
    assert!(
        !store
            .agency_get("bappeda")
            .await
            .expect("get")
            .expect("kept")
            .active
    );
    assert!(
        store
            .agency_get("dinas-pu-samarinda")
            .await
            .expect("get")
            .expect("kept")
            .active
    );
    // Another node cannot take over an agency id node-b published first.
    let c = TestSigner::new("node-c", 10);
    let third = remote(&c, 1, None, "node-c:node", 0, "agencies");
    let mut taken = remote_agency("dinas-pu-samarinda", true);
    taken.path = "@node-c/dinas-pu-samarinda/".into();
    taken.name = "Diambil alih".into();
    let mut item = incoming(
        &third,
        Effect::Agencies {
            origin: "node-c".into(),
            agencies: vec![taken],
            sms_keywords: vec![kw("node-c", "KOTB", None)],
        },
    );
    item.kind = "node.agencies".into();
    assert_eq!(
        accept_one(&store, item, T0 + 2).await,
        AcceptOutcome::Applied
    );
    let kept = store
        .agency_get("dinas-pu-samarinda")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(
        (kept.node_id.as_deref(), kept.name.as_str()),
        (Some("node-b"), "Remote dinas-pu-samarinda")
    );
    // Nor a keyword.
    assert_eq!(
        store.sms_keyword_get("KOTB").await.expect("keyword"),
        Some(kw("node-b", "KOTB", None))
    );
}

fn kw(node: &str, keyword: &str, agency: Option<&str>) -> SmsKeywordRow {
    SmsKeywordRow {
        keyword: keyword.into(),
        node_id: node.into(),
        agency_id: agency.map(Into::into),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The audit log refuses changes at the database itself (a trigger on both backends), whatever client writes.

async fn raw_sql(db: &support::TestDb, backend: Backend, sql: &str) -> Result<u64, String> {
    match backend {
        Backend::Sqlite => {
            let path = db.url.trim_start_matches("sqlite://").to_owned();
            let sql = sql.to_owned();
            tokio::task::spawn_blocking(move || {
                let c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
                c.execute(&sql, [])
                    .map(|n| n as u64)
                    .map_err(|e| e.to_string())
            })
            .await
            .expect("join")
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&db.url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(sql)
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string())
        }
    }
}

async fn audit_rows_cannot_change(backend: Backend) {
    let Some(db) = support::fresh_db(backend).await else {
        return;
    };
    let store = storage::open(&db.url).await.expect("open store");
    store.migrate().await.expect("migrate");
    store
        .audit_append(&audit_entry(T0, "u-1", "identity.read", "node-a:1"))
        .await
        .expect("append");
    let statements = [
        "UPDATE audit_log SET actor_id = 'someone-else'",
        "DELETE FROM audit_log",
    ];
    for sql in statements {
        let err = raw_sql(&db, backend, sql).await.expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    if backend == Backend::Postgres {
        let err = raw_sql(&db, backend, "TRUNCATE audit_log")
            .await
            .expect_err("truncate");
        assert!(err.contains("append-only"), "{err}");
    }
    let rows = store
        .audit_list(&AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_id.as_deref(), Some("u-1"));
}

#[tokio::test]
async fn audit_rows_cannot_change_sqlite() {
    audit_rows_cannot_change(Backend::Sqlite).await;
}

#[tokio::test]
async fn audit_rows_cannot_change_postgres() {
    audit_rows_cannot_change(Backend::Postgres).await;
}

/// Another node's publication from the hub's directory replaces what was known of it, only when newer.
async fn directory_publications(store: DynStore) {
    let agency = |id: &str, name: &str| AgencyRecord {
        id: format!("node-b/{id}"),
        parent_id: None,
        path: format!("@node-b/{id}/"),
        name: name.to_owned(),
        kind: "office".into(),
        region_code: None,
        active: true,
        created_at: T0,
        node_id: Some("node-b".into()),
    };
    let keywords = vec![
        kw("node-b", "KOTB", None),
        kw("node-b", "PUB", Some("node-b/pu")),
    ];
    assert!(store
        .publication_apply("node-b", 3, &[agency("pu", "Dinas PU")], &keywords, T0)
        .await
        .expect("apply"));
    assert_eq!(
        store.sms_keyword_get("PUB").await.expect("keyword"),
        Some(kw("node-b", "PUB", Some("node-b/pu")))
    );
    assert_eq!(
        store
            .agency_get("node-b/pu")
            .await
            .expect("get")
            .map(|a| a.name),
        Some("Dinas PU".into())
    );
    // The same or an older publication changes nothing.
    for seq in [3, 2] {
        assert!(!store
            .publication_apply("node-b", seq, &[agency("pu", "Lama")], &[], T0 + 1)
            .await
            .expect("older"));
    }
    assert!(store
        .sms_keyword_get("KOTB")
        .await
        .expect("keyword")
        .is_some());
    // A newer one replaces it whole: keywords gone, agencies renamed.
    assert!(store
        .publication_apply(
            "node-b",
            4,
            &[agency("pu", "Dinas PUPR")],
            &[kw("node-b", "KOTB", None)],
            T0 + 2
        )
        .await
        .expect("newer"));
    assert_eq!(store.sms_keyword_get("PUB").await.expect("keyword"), None);
    assert_eq!(
        store
            .agency_get("node-b/pu")
            .await
            .expect("get")
            .map(|a| a.name),
        Some("Dinas PUPR".into())
    );
    // A keyword another node published first stays with it.
    assert!(store
        .publication_apply("node-c", 1, &[], &[kw("node-c", "KOTB", None)], T0 + 3)
        .await
        .expect("other"));
    assert_eq!(
        store.sms_keyword_get("KOTB").await.expect("keyword"),
        Some(kw("node-b", "KOTB", None))
    );
}

/// The new owner's record of an identity on its way, storing it when it arrives, and erasing a copy.
async fn identity_handover(store: DynStore) {
    use lapor_node::storage::handover::{ABSENT, CONFIRMING, DONE, FETCHING};
    let me = "node-t";
    let owned = |r: &Report, epoch: i64, anonymous: bool| ReportImport {
        report: Report {
            anonymous,
            ..r.clone()
        },
        timeline: vec![created(r)],
        owner: OwnerRow {
            report_id: r.id.clone(),
            owner: me.into(),
            epoch,
            last_event_id: None,
        },
        history: Vec::new(),
        merge_owned: false,
    };
    let a = report("h1", "Jalan rusak", "Lubang besar", T0);
    let anon = report("h2", "Pungli", "Di kelurahan", T0);
    let home = report("h3", "Sampah", "Di pasar", T0);
    store
        .report_import(&owned(&a, 1, false), T0)
        .await
        .expect("a");
    store
        .report_import(&owned(&anon, 1, true), T0)
        .await
        .expect("anon");
    // Owned at epoch 0 (filed here): never handed over.
    store
        .report_import(&owned(&home, 0, false), T0)
        .await
        .expect("home");
    let due = store.handover_due(me, T0, 10).await.expect("due");
    assert_eq!(
        due.iter().map(|h| h.report_id.as_str()).collect::<Vec<_>>(),
        vec![a.id.as_str()]
    );
    assert_eq!((due[0].epoch, due[0].state.as_deref()), (1, None));
    assert!(store
        .handover_due("node-x", T0, 10)
        .await
        .expect("other")
        .is_empty());
    // A failed attempt waits for its time.
    let failed = HandoverRow {
        state: Some(FETCHING.into()),
        attempts: 1,
        next_at: T0 + 1000,
        last_error: Some("the hub is unreachable".into()),
        updated_at: T0,
        ..due[0].clone()
    };
    store.handover_record(&failed).await.expect("record");
    assert!(store
        .handover_due(me, T0, 10)
        .await
        .expect("due")
        .is_empty());
    assert_eq!(
        store.handover_due(me, T0 + 1000, 10).await.expect("due"),
        vec![failed.clone()]
    );
    assert_eq!(
        store.handover_open().await.expect("open"),
        vec![failed.clone()]
    );
    assert_eq!(store.handover_get(&a.id).await.expect("get"), Some(failed));
    // It arrives: stored, and the former owners are to be told.
    let identity = ReporterIdentity {
        name: Some("Maria".into()),
        phone: Some("081339001122".into()),
        email: None,
    };
    store
        .handover_receive(&a.id, 1, &identity, T0 + 2000)
        .await
        .expect("receive");
    assert_eq!(
        store.report_identity(&a.id).await.expect("identity"),
        Some(identity)
    );
    let due = store.handover_due(me, T0 + 2000, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].state.as_deref(), Some(CONFIRMING));
    store
        .handover_record(&HandoverRow {
            state: Some(DONE.into()),
            ..due[0].clone()
        })
        .await
        .expect("done");
    assert!(store
        .handover_due(me, i64::MAX / 2, 10)
        .await
        .expect("due")
        .is_empty());
    assert!(store.handover_open().await.expect("open").is_empty());
    // A row of an older epoch does not stop the next one (the report came back after moving on).
    store
        .handover_record(&HandoverRow {
            report_id: home.id.clone(),
            epoch: 0,
            state: Some(ABSENT.into()),
            attempts: 0,
            next_at: T0,
            last_error: None,
            updated_at: T0,
        })
        .await
        .expect("absent");
    // Erasing a copy removes the row and the named blobs of the report only.
    store
        .report_insert(
            &report("h4", "Banjir", "Di Oesapa", T0),
            Some(&ReporterIdentity {
                name: Some("Yohanes".into()),
                phone: None,
                email: None,
            }),
            &created(&report("h4", "Banjir", "Di Oesapa", T0)),
            None,
        )
        .await
        .expect("insert");
    let h4 = "node-a:h4";
    store
        .blob_put(&"ab".repeat(32), b"sealed", T0)
        .await
        .expect("blob");
    assert!(store
        .identity_erase(h4, &["ab".repeat(32)])
        .await
        .expect("erase"));
    assert_eq!(store.report_identity(h4).await.expect("identity"), None);
    assert!(
        !store.identity_erase(h4, &[]).await.expect("again"),
        "nothing left"
    );
    assert_eq!(
        store.blob_get(&"ab".repeat(32)).await.expect("blob"),
        Some(b"sealed".to_vec()),
        "a blob not tied to the report stays"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics pre-aggregates (migration 0013)

/// A tiny deterministic generator (xorshift).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[usize::try_from(self.below(v.len() as u64)).unwrap_or(0)]
    }
}

/// The calendars of the test: this node in WIB, `node-p` in WIT (it serves Papua), the given holidays.
fn stats_calendars(holidays: &[&str]) -> lapor_node::stats::Calendars {
    let cal = lapor_node::domain::WorkCalendar::new(
        lapor_node::domain::NodeZone::WIB,
        holidays
            .iter()
            .map(|d| d.parse::<NaiveDate>().expect("date")),
    );
    let papua = vec!["91.71".to_owned()];
    lapor_node::stats::Calendars::with_nodes(&cal, [("node-p", papua.as_slice())])
}

/// Every cell of `q` read from the aggregates equals the cell recounted from one fact per report.
async fn assert_cells_match(
    store: &DynStore,
    cals: &lapor_node::stats::Calendars,
    q: &lapor_node::stats::CellQuery,
    now: Millis,
    what: &str,
) {
    use lapor_node::stats::{cells, FactQuery, Period};
    let rows = store.stats_cells(q).await.expect("stats_cells");
    let (agg, agg_daily) = cells::settle(rows, cals, now);
    let period = Period::custom(q.from, q.to - chrono::Days::new(1)).expect("period");
    let (from, to) = period.bounds(lapor_node::domain::NodeZone::WIB);
    let facts = store
        .stats_facts(&FactQuery {
            filter: ReportFilter {
                agency_path_prefix: q.agency_path_prefix.clone(),
                agency_id: q.agency_id.clone(),
                public_only: q.public_only,
                ..ReportFilter::default()
            },
            from: from - 3 * 3_600_000,
            to: to + 3 * 3_600_000,
            owned_by: None,
            titles: false,
        })
        .await
        .expect("stats_facts");
    let facts: Vec<_> = facts
        .into_iter()
        .filter(|f| {
            q.owners
                .as_ref()
                .is_none_or(|o| o.contains(&f.owner.clone().unwrap_or_default()))
        })
        .collect();
    let (recount, recount_daily) = cells::from_facts(&facts, &period, cals, now);
    assert!(!recount.is_empty(), "{what}: the query selects something");
    assert_eq!(agg.len(), recount.len(), "{what}: cells");
    for (a, b) in agg.iter().zip(&recount) {
        assert_eq!(a, b, "{what}");
    }
    assert_eq!(agg_daily, recount_daily, "{what}: daily");
    assert_eq!(
        cells::total(&agg).figures(),
        cells::total(&recount).figures(),
        "{what}: figures"
    );
}

/// A random sequence of intake, transitions (verification, follow-up, reopening, completion, archive),
/// reclassification (category, kind), moves between agencies, raised confidentiality, ratings,
/// escalations, transfers to other nodes and reports arriving late from federation: afterwards every
/// aggregate equals a full recount, and so it does after a rebuild with other holidays.
async fn stats_aggregates_match_a_recount(store: DynStore) {
    use lapor_node::stats::{CalendarSpec, CellQuery};
    let cals = stats_calendars(&["2025-01-27", "2025-01-29", "2025-03-31"]);
    assert!(store
        .stats_calendar_sync(&CalendarSpec::of(&cals))
        .await
        .expect("sync"));
    assert!(!store
        .stats_calendar_sync(&CalendarSpec::of(&cals))
        .await
        .expect("sync again"));
    let agencies = [
        (None, None),
        (Some("pemkot"), Some("/pemkot/")),
        (Some("dinas-pu"), Some("/pemkot/dinas-pu/")),
        (Some("dinas-kes"), Some("/pemkot/dinas-kes/")),
        (Some("rsud"), Some("/pemkot/dinas-kes/rsud/")),
        (Some("pemprov"), Some("/pemprov/")),
    ];
    let statuses = [
        ReportStatus::Submitted,
        ReportStatus::Verified,
        ReportStatus::OnHold,
        ReportStatus::InProgress,
        ReportStatus::Responded,
        ReportStatus::Completed,
        ReportStatus::Archived,
    ];
    let mut rng = Draw(0x2545_F491_4F6C_DD1D);
    let mut held: Vec<Report> = Vec::new();
    let mut epochs: BTreeMap<String, i64> = BTreeMap::new();
    let now = T0 + 80 * DAY;
    for step in 0..260_u32 {
        let op = if held.len() < 8 { 0 } else { rng.below(10) };
        match op {
            // Intake here, at any time of day of the last 80 days (late arrivals included).
            0..=2 => {
                let at = T0 + i64::try_from(rng.below(80 * 24)).unwrap_or(0) * 3_600_000;
                let (agency_id, path) = *rng.pick(&agencies);
                let mut r = report(&format!("s{step}"), "Jalan rusak", "Berlubang", at);
                r.agency_id = agency_id.map(str::to_owned);
                r.agency_path = path.map(str::to_owned);
                r.category_id = rng
                    .pick(&[None, Some("jalan"), Some("air")])
                    .map(str::to_owned);
                r.region_code = rng
                    .pick(&[None, Some("53.71"), Some("91.71.02")])
                    .map(str::to_owned);
                r.confidential = rng.below(6) == 0;
                insert(&store, &r).await;
                held.push(r);
            }
            // A transition, with whatever it changes on the way.
            3..=7 => {
                let i = usize::try_from(rng.below(held.len() as u64)).unwrap_or(0);
                let r = held[i].clone();
                let status = *rng.pick(&statuses);
                let at = (r.submitted_at
                    + i64::try_from(rng.below(15 * 24)).unwrap_or(0) * 3_600_000)
                    .min(now);
                let mut t = transition(&r, status, TimelineAction::Verified, at, "uji");
                let next = &mut t.report;
                if status != ReportStatus::Submitted
                    && next.verified_at.is_none()
                    && rng.below(4) != 0
                {
                    next.verified_at = Some(at);
                }
                if matches!(status, ReportStatus::Responded | ReportStatus::Completed) {
                    next.responded_at = Some(at + 3_600_000);
                }
                match rng.below(8) {
                    0 => next.category_id = Some("sampah".into()),
                    1 => next.kind = ReportKind::Aspiration,
                    2 => {
                        let (agency_id, path) = *rng.pick(&agencies);
                        next.agency_id = agency_id.map(str::to_owned);
                        next.agency_path = path.map(str::to_owned);
                    }
                    3 => next.confidential = true,
                    4 => next.rating_score = Some(i64::try_from(1 + rng.below(5)).unwrap_or(1)),
                    5 => next.escalated = true,
                    _ => {}
                }
                store
                    .report_transition(&t, None)
                    .await
                    .expect("report_transition");
                held[i] = t.report;
            }
            // A transfer to another node, or a report of another node arriving late (its submission weeks
            // before the reports already held), both through the import of its history.
            _ => {
                let fresh = rng.below(2) == 0;
                let mut r = if fresh {
                    let at = T0 + i64::try_from(rng.below(30 * 24)).unwrap_or(0) * 3_600_000;
                    let mut r = report(&format!("remote{step}"), "Air mati", "Sejak kemarin", at);
                    r.region_code = Some("91.71".into());
                    r.verified_at = Some(at + 5 * DAY);
                    r.status = ReportStatus::Verified;
                    r
                } else {
                    held[usize::try_from(rng.below(held.len() as u64)).unwrap_or(0)].clone()
                };
                let epoch = epochs.get(&r.id).map_or(1, |e| e + 1);
                epochs.insert(r.id.clone(), epoch);
                r.version += 1;
                let owner = (*rng.pick(&["node-p", "node-q"])).to_owned();
                store
                    .report_import(
                        &ReportImport {
                            report: r.clone(),
                            timeline: vec![created(&r)],
                            owner: OwnerRow {
                                report_id: r.id.clone(),
                                owner: owner.clone(),
                                epoch,
                                last_event_id: Some(format!("{:064x}", step + 1)),
                            },
                            history: vec![HistoryEvent {
                                id: format!("{:064x}", step + 1),
                                origin: owner,
                                origin_seq: i64::from(step) + 1,
                                kind: "report.created".into(),
                                report_epoch: epoch,
                                wire: vec![b'{', b'}'],
                            }],
                            merge_owned: false,
                        },
                        now,
                    )
                    .await
                    .expect("report_import");
                let stored = store.report_get(&r.id).await.expect("get").expect("held");
                match held.iter_mut().find(|h| h.id == r.id) {
                    Some(h) => *h = stored,
                    None => held.push(stored),
                }
            }
        }
    }
    let date = |s: &str| s.parse::<NaiveDate>().expect("date");
    let all = CellQuery {
        from: date("2024-12-01"),
        to: date("2025-04-01"),
        agency_path_prefix: None,
        agency_id: None,
        public_only: false,
        owners: None,
        open_since: cals.open_since(now),
    };
    let check = |cals: lapor_node::stats::Calendars| {
        let store = store.clone();
        let all = all.clone();
        async move {
            let queries = [
                ("everything (whole months)", all.clone()),
                (
                    "days across months",
                    CellQuery {
                        from: date("2025-01-09"),
                        to: date("2025-03-04"),
                        ..all.clone()
                    },
                ),
                (
                    "an agency subtree",
                    CellQuery {
                        agency_path_prefix: Some("/pemkot/dinas-kes/".into()),
                        ..all.clone()
                    },
                ),
                (
                    "one agency",
                    CellQuery {
                        agency_id: Some("dinas-pu".into()),
                        ..all.clone()
                    },
                ),
                (
                    "public only",
                    CellQuery {
                        public_only: true,
                        ..all.clone()
                    },
                ),
                (
                    "this node's",
                    CellQuery {
                        owners: Some(vec![String::new(), "node-a".into()]),
                        ..all.clone()
                    },
                ),
                (
                    "one day",
                    CellQuery {
                        from: date("2025-01-20"),
                        to: date("2025-01-21"),
                        ..all.clone()
                    },
                ),
            ];
            for (what, q) in &queries {
                let q = CellQuery {
                    open_since: cals.open_since(now),
                    ..q.clone()
                };
                assert_cells_match(&store, &cals, &q, now, what).await;
            }
        }
    };
    check(cals).await;
    // Other holidays: every working-day figure is recomputed by the rebuild.
    let other = stats_calendars(&["2025-01-28", "2025-02-03"]);
    assert!(store
        .stats_calendar_sync(&CalendarSpec::of(&other))
        .await
        .expect("rebuild"));
    check(other).await;
}
