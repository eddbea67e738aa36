//! Conformance of the notification outbox ([`NoticeStore`]) on both backends: a fresh SQLite file always, a
//! fresh PostgreSQL database whenever `TEST_DATABASE_URL` is set.
#![allow(clippy::expect_used)]

mod support;

use lapor_node::domain::Millis;
use lapor_node::storage::{self, Conflict, DynStore, NewNotice, NoticeOutcome, StorageError};
use support::Backend;

const T0: Millis = 1_736_121_600_000;

async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(db) = support::fresh_db(backend).await else {
        return;
    };
    let store = storage::open(&db.url).await.expect("open store");
    store.migrate().await.expect("migrate");
    test(store).await;
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::run(super::Backend::Sqlite, super::$name).await; } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::run(super::Backend::Postgres, super::$name).await; } )* }
    };
}

both!(
    cursor_moves_with_the_notices_in_one_transaction,
    claim_send_retry_fail_and_recover,
    unsubscribe_is_idempotent
);

fn notice(id: &str, dedup: &str) -> NewNotice {
    NewNotice {
        id: id.into(),
        dedup: dedup.into(),
        report_id: "kupangkota-01JREPORT".into(),
        kind: "filed".into(),
        channel: "email".into(),
        recipient: "reporter".into(),
        event_id: Some("ev1".into()),
        entry_at: Some(T0),
    }
}

async fn cursor_moves_with_the_notices_in_one_transaction(store: DynStore) {
    assert_eq!(store.notice_cursor().await.expect("cursor"), None);
    assert_eq!(
        store
            .notices_enqueue(None, 3, &[], T0)
            .await
            .expect("first"),
        0
    );
    assert_eq!(store.notice_cursor().await.expect("cursor"), Some(3));
    // A stale `from` moves nothing and records nothing.
    let stale = store
        .notices_enqueue(Some(2), 5, &[notice("n1", "ev1:email:reporter")], T0)
        .await;
    assert!(
        matches!(
            stale,
            Err(StorageError::Conflict(Conflict::NoticeCursorMoved))
        ),
        "{stale:?}"
    );
    assert!(store.notices_due(T0, 10).await.expect("due").is_empty());
    let stale_first = store.notices_enqueue(None, 9, &[], T0).await;
    assert!(matches!(
        stale_first,
        Err(StorageError::Conflict(Conflict::NoticeCursorMoved))
    ));
    // Deriving the same notice twice records it once.
    let n = store
        .notices_enqueue(
            Some(3),
            5,
            &[
                notice("n1", "ev1:email:reporter"),
                notice("n2", "ev1:email:reporter"),
            ],
            T0,
        )
        .await
        .expect("enqueue");
    assert_eq!(n, 1);
    assert_eq!(store.notice_cursor().await.expect("cursor"), Some(5));
    assert_eq!(
        store
            .notices_add(&[notice("n3", "ev1:email:reporter")], T0)
            .await
            .expect("add"),
        0
    );
    let due = store.notices_due(T0, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].notice, notice("n1", "ev1:email:reporter"));
    assert_eq!((due[0].state.as_str(), due[0].attempts), ("queued", 0));
}

async fn claim_send_retry_fail_and_recover(store: DynStore) {
    store
        .notices_add(&[notice("a", "a"), notice("b", "b"), notice("c", "c")], T0)
        .await
        .expect("add");
    // One claim wins.
    assert!(store.notice_claim("a", T0).await.expect("claim"));
    assert!(!store.notice_claim("a", T0).await.expect("claim again"));
    store
        .notice_finish("a", &NoticeOutcome::Sent, T0 + 1)
        .await
        .expect("sent");
    // Finishing a notice that is not sending is refused.
    assert!(matches!(
        store.notice_finish("a", &NoticeOutcome::Sent, T0 + 2).await,
        Err(StorageError::NotFound)
    ));
    assert!(store.notice_claim("b", T0).await.expect("claim"));
    store
        .notice_finish(
            "b",
            &NoticeOutcome::Retry {
                next_at: T0 + 60_000,
                error: "SMTP: connection refused".into(),
            },
            T0,
        )
        .await
        .expect("retry");
    let due: Vec<_> = store
        .notices_due(T0 + 1, 10)
        .await
        .expect("due")
        .into_iter()
        .map(|r| r.notice.id)
        .collect();
    assert_eq!(due, vec!["c".to_owned()], "b waits for its retry time");
    let later = store.notices_due(T0 + 60_000, 10).await.expect("due");
    let b = later.iter().find(|r| r.notice.id == "b").expect("b due");
    assert_eq!((b.state.as_str(), b.attempts), ("retrying", 1));
    assert_eq!(b.last_error.as_deref(), Some("SMTP: connection refused"));
    // A process dies while c is sending: recovery puts it back.
    assert!(store.notice_claim("c", T0).await.expect("claim"));
    assert_eq!(store.notices_recover(T0 + 5).await.expect("recover"), 1);
    let c = store
        .notices_due(T0 + 5, 10)
        .await
        .expect("due")
        .into_iter()
        .find(|r| r.notice.id == "c")
        .expect("c");
    assert_eq!((c.state.as_str(), c.attempts), ("retrying", 1));
    assert!(store.notice_claim("c", T0 + 5).await.expect("claim"));
    store
        .notice_finish(
            "c",
            &NoticeOutcome::Failed("550 no such user".into()),
            T0 + 6,
        )
        .await
        .expect("failed");
    let mut counts = store.notice_counts().await.expect("counts");
    counts.sort();
    assert_eq!(
        counts,
        vec![
            ("failed".to_owned(), "email".to_owned(), 1),
            ("retrying".to_owned(), "email".to_owned(), 1),
            ("sent".to_owned(), "email".to_owned(), 1),
        ]
    );
    let rows = store
        .notices_of_report("kupangkota-01JREPORT")
        .await
        .expect("rows");
    let a = rows.iter().find(|r| r.notice.id == "a").expect("a");
    assert_eq!((a.state.as_str(), a.sent_at), ("sent", Some(T0 + 1)));
}

async fn unsubscribe_is_idempotent(store: DynStore) {
    assert!(!store.notice_unsubscribed("r1").await.expect("read"));
    store.notice_unsubscribe("r1", T0).await.expect("once");
    store.notice_unsubscribe("r1", T0 + 1).await.expect("twice");
    assert!(store.notice_unsubscribed("r1").await.expect("read"));
    assert!(!store.notice_unsubscribed("r2").await.expect("read"));
}
