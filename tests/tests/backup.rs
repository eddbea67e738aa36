#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `lapor backup` and `lapor restore` on a running node, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL:
//! the backup is taken while the node serves, is mode 0600, holds what was there at that moment and nothing
//! after; a restore refuses while the node runs, refuses an encrypted backup without the key, and on a new
//! machine (an empty data directory) brings back the node's identity too.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use lapor_tests::cluster::{file_report, report, Member};
use lapor_tests::pg::PgDatabase;
use lapor_tests::run_cli;

fn member(dir: &Path, database_url: Option<&str>) -> Member {
    std::fs::create_dir_all(dir).unwrap();
    let mut env = vec![
        ("LAPOR_NODE__ID".to_owned(), "kupang".to_owned()),
        ("LAPOR_NODE__CODE".to_owned(), "KPG".to_owned()),
        ("LAPOR_NODE__TIMEZONE".to_owned(), "WITA".to_owned()),
    ];
    if let Some(url) = database_url {
        env.push(("LAPOR_DATABASE__URL".to_owned(), url.to_owned()));
    }
    Member {
        id: "kupang".into(),
        code: "KPG".into(),
        role: "regional".into(),
        dir: dir.to_owned(),
        port: lapor_tests::free_port().unwrap(),
        env,
        public_key: String::new(),
        enc_public: String::new(),
        key_id: String::new(),
        node: None,
        admin: None,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn cli_fails(m: &Member, args: &[&str]) -> String {
    let env: Vec<(&str, &str)> = m
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, out, err) = run_cli(&m.dir, args, &env).unwrap();
    assert!(!status.success(), "lapor {args:?} should fail: {out}{err}");
    err
}

async fn drill(database_url: Option<&str>) {
    let root = tempfile::tempdir().unwrap();
    let mut m = member(&root.path().join("node"), database_url);
    m.start().unwrap();
    let admin = m.bootstrap().await.unwrap();
    let key_before = m.cli(&["keys", "show"]).unwrap();
    let (kept, _, _) = file_report(&admin, "Sebelum pencadangan").await.unwrap();

    // Online backups, plain and encrypted to an operator key kept elsewhere.
    let plain = root.path().join("kupang.lapor-backup");
    let out = m
        .cli(&["backup", "--out", plain.to_str().unwrap()])
        .unwrap();
    assert!(out.contains("mode 0600"), "{out}");
    assert_eq!(mode(&plain), 0o600, "the backup holds reporter identities");
    let key_file = root.path().join("operator.key");
    let out = m
        .cli(&["backup-key", "--out", key_file.to_str().unwrap()])
        .unwrap();
    assert_eq!(mode(&key_file), 0o600);
    let public = out
        .lines()
        .find_map(|l| l.strip_prefix("public key (for lapor backup --encrypt-to): "))
        .unwrap()
        .to_owned();
    let sealed = root.path().join("kupang.sealed");
    m.cli(&[
        "backup",
        "--out",
        sealed.to_str().unwrap(),
        "--encrypt-to",
        &public,
    ])
    .unwrap();
    assert_eq!(mode(&sealed), 0o600);
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(
        !bytes.windows(19).any(|w| w == b"Sebelum pencadangan"),
        "nothing in clear"
    );
    assert!(
        std::fs::read(&plain)
            .unwrap()
            .windows(19)
            .any(|w| w == b"Sebelum pencadangan")
            || database_url.is_some(),
        "the plain SQLite backup holds the report (the check above can fail)"
    );
    let err = cli_fails(&m, &["backup", "--out", plain.to_str().unwrap()]);
    assert!(err.contains("already exists"), "{err}");

    // A change after the backup, which the restore must take away (a node without a hub).
    let (lost, _, _) = file_report(&admin, "Setelah pencadangan").await.unwrap();

    let err = cli_fails(&m, &["restore", plain.to_str().unwrap()]);
    assert!(
        err.contains("running"),
        "restore refuses a running node: {err}"
    );
    assert!(report(&admin, &lost).await.unwrap().is_some());

    m.stop().unwrap();
    let err = cli_fails(&m, &["restore", sealed.to_str().unwrap()]);
    assert!(err.contains("--key"), "{err}");
    let out = m.cli(&["restore", plain.to_str().unwrap()]).unwrap();
    assert!(out.contains("restored node kupang"), "{out}");
    m.start().unwrap();
    assert!(
        report(&admin, &kept).await.unwrap().is_some(),
        "kept is back"
    );
    assert!(
        report(&admin, &lost).await.unwrap().is_none(),
        "what came after the backup is gone"
    );
    m.stop().unwrap();

    // A new machine: an empty data directory (and, on PostgreSQL, an empty database) and the sealed backup.
    let fresh_db = database_url.map(|_| PgDatabase::create("restore_fresh").unwrap().unwrap());
    let mut n = member(
        &root.path().join("new-machine"),
        fresh_db.as_ref().map(|d| d.url.as_str()),
    );
    n.port = m.port;
    n.cli(&[
        "restore",
        sealed.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(
        n.cli(&["keys", "show"]).unwrap(),
        key_before,
        "same identity"
    );
    n.start().unwrap();
    assert!(
        report(&admin, &kept).await.unwrap().is_some(),
        "the sealed backup restores on a new machine (same admin token)"
    );
    assert!(report(&admin, &lost).await.unwrap().is_none());
    n.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_on_sqlite() {
    drill(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_on_postgres() {
    let Some(db) = PgDatabase::create("backup").unwrap() else {
        eprintln!("TEST_DATABASE_URL unset: PostgreSQL variant skipped");
        return;
    };
    drill(Some(&db.url)).await;
}
