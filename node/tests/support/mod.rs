#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::items_after_statements,
    clippy::too_many_lines
)]
//! Shared helpers of the node's integration tests: a fresh database per test (a SQLite file in a temporary
//! directory, or a new PostgreSQL database when `TEST_DATABASE_URL` is set), an in-process app with a
//! hand-moved clock, and a small request helper.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use lapor_node::app::App;
use lapor_node::config::Config;
use lapor_node::domain::ManualClock;
use lapor_node::storage::{self, DynStore};
use serde_json::Value;
use tower::ServiceExt;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database; dropping it removes it.
pub struct TestDb {
    pub url: String,
    /// A directory for everything that is not the database (keys, attachments).
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg.take() {
            // Best effort, on a thread of its own so that it works inside and outside a runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    use sqlx::Connection;
                    let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await?;
                    Ok::<_, anyhow::Error>(())
                })
            })
            .join();
        }
    }
}

/// A fresh database on `backend`, or `None` when PostgreSQL is not configured (`TEST_DATABASE_URL`).
pub async fn fresh_db(backend: Backend) -> Option<TestDb> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("lapor.db").display());
            Some(TestDb { url, dir, pg: None })
        }
        Backend::Postgres => {
            let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
                eprintln!("TEST_DATABASE_URL is not set: PostgreSQL variant skipped");
                return None;
            };
            use sqlx::Connection;
            let name = format!("lapor_t_{}", ulid::Ulid::new().to_string().to_lowercase());
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            Some(TestDb {
                url: url.to_string(),
                dir: tempfile::tempdir().expect("tempdir"),
                pg: Some((admin_url, name)),
            })
        }
    }
}

/// Monday 2026-11-23 09:00 WIB.
pub const MONDAY: i64 = 1_795_399_200_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 24 * HOUR;

/// An app on a fresh database with a manual clock, plus the one-time bootstrap secret.
pub struct TestApp {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub store: DynStore,
    pub bootstrap: String,
    pub db: TestDb,
}

pub async fn test_app(backend: Backend) -> Option<TestApp> {
    let db = fresh_db(backend).await?;
    let store = storage::open(&db.url).await.expect("open store");
    let clock = Arc::new(ManualClock::new(MONDAY));
    let mut config = Config::default();
    config.node.id = "kupangkota".into();
    config.node.code = "KPG".into();
    config.node.data_dir = db.dir.path().to_owned();
    let app = App::new(config, store.clone(), clock.clone()).expect("app");
    let bootstrap = app
        .init()
        .await
        .expect("init")
        .expect("a bootstrap secret on a fresh database");
    Some(TestApp {
        app,
        clock,
        store,
        bootstrap,
        db,
    })
}

/// A response: status, content type and JSON body (Null when empty).
pub struct Resp {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Resp {
    /// The `code` of a problem document.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// Sends one request through the router.
    pub async fn req(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        secret: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.raw(method, uri, token, secret, body.map(|b| b.to_string()))
            .await
    }

    /// Sends one request with a raw body. A token `cookie:X` is sent as the session cookie instead.
    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        secret: Option<&str>,
        body: Option<String>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        match token.map(|t| (t, t.strip_prefix("cookie:"))) {
            Some((_, Some(cookie))) => {
                req = req.header("cookie", format!("lapor_session={cookie}"));
            }
            Some((t, None)) => req = req.header("authorization", format!("Bearer {t}")),
            None => {}
        }
        if let Some(s) = secret {
            req = req.header("x-tracking-secret", s);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = lapor_node::http::router(self.app.clone())
            .oneshot(req)
            .await
            .expect("response");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            content_type,
            body,
        }
    }

    /// Creates the first admin through the API and logs in; returns the token.
    pub async fn admin(&self) -> String {
        let r = self
            .req("POST", "/api/v1/auth/bootstrap", None, None, Some(serde_json::json!({
                "secret": self.bootstrap, "username": "admin", "password": "sandi-kota-kupang-1", "display_name": "Admin Kota"
            })))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        self.login("admin", "sandi-kota-kupang-1").await
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .req(
                "POST",
                "/api/v1/auth/login",
                None,
                None,
                Some(serde_json::json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let session = r.body["token"].as_str().expect("token").to_owned();
        // Tests move the clock by weeks: trade the 12-hour session for a year-long API token.
        let r = self
            .req(
                "POST",
                "/api/v1/auth/tokens",
                Some(&session),
                None,
                Some(serde_json::json!({"label": "test", "days": 365})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["token"].as_str().expect("token").to_owned()
    }

    /// Creates an account with `role` (and agency) and logs it in.
    pub async fn user(
        &self,
        admin: &str,
        username: &str,
        role: &str,
        agency: Option<&str>,
    ) -> String {
        let r = self
            .req("POST", "/api/v1/users", Some(admin), None, Some(serde_json::json!({
                "username": username, "password": "password-1234", "display_name": username, "role": role, "agency_id": agency
            })))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        self.login(username, "password-1234").await
    }

    pub async fn agency(&self, admin: &str, id: &str, parent: Option<&str>, kind: &str) {
        let r = self
            .req("POST", "/api/v1/agencies", Some(admin), None, Some(serde_json::json!({
                "id": id, "parent_id": parent, "name": format!("Instansi {id}"), "kind": kind, "region_code": "53.71"
            })))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
}

/// Runs an async test body on SQLite and, when configured, on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                if let Some(t) = support::test_app(support::Backend::Sqlite).await {
                    $body(t).await;
                }
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(t) = support::test_app(support::Backend::Postgres).await {
                    $body(t).await;
                }
            }
        }
    };
}

/// A freshly submitted web complaint of `node-a` (id `node-a:<id>`): the base report of the storage tests.
pub fn report(
    id: &str,
    title: &str,
    body: &str,
    submitted_at: lapor_node::domain::Millis,
) -> lapor_node::domain::Report {
    lapor_node::domain::Report {
        id: format!("node-a:{id}"),
        tracking_code: format!("TST-{}", id.to_uppercase()),
        secret_hash: format!("secret-of-{id}"),
        kind: lapor_schemas::ReportKind::Complaint,
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
        channel: lapor_schemas::Channel::Web,
        status: lapor_schemas::ReportStatus::Submitted,
        submitted_at,
        updated_at: submitted_at,
        verified_at: None,
        responded_at: None,
        closed_at: None,
        verification_due_at: Some(submitted_at + 3 * 86_400_000),
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
