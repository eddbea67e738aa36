//! Open311 GeoReport v2 at `/open311/v2/`: discovery, services, service definitions, requests (filed through
//! [`App::submit`](crate::app::App::submit) with `Channel::Open311`, so routed like every report), tokens, and
//! mySociety's `servicerequestupdates` extension for the agencies' follow-ups. Every endpoint answers in
//! `.xml` and `.json`; errors are the specification's `errors` document with its statuses.
//!
//! | file | concern |
//! | --- | --- |
//! | `config.rs` | `[open311]` |
//! | `format.rs` | one response tree rendered as XML or JSON |
//! | `error.rs` | the `errors` document and statuses |
//! | `params.rs` | strict query and form decoding, W3C datetimes |
//! | `services.rs` | discovery, services, service definitions (LAPOR! fields as attributes) |
//! | `requests.rs` | a report as a `request`; `POST`/`GET requests`, `requests/{id}`, `tokens/{token}` |
//! | `updates.rs` | `servicerequestupdates` |
//! | `keys.rs` | API keys of client apps, hashed, revocable, rate-limited per key |
//! | `admin.rs` | the admin JSON API for keys (`/api/v1/open311/keys`) |
//!
//! Security: confidential reports are never listed, looked up or fed as updates; anonymous reports carry no
//! identity (no request object carries one at all); a reporter identity sent with `POST` is stored and
//! sealed like every identity, by `App::submit`.

pub mod admin;
mod config;
pub mod error;
pub mod format;
pub mod keys;
pub mod params;
mod requests;
pub mod services;
mod updates;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use chrono::FixedOffset;

pub use self::config::Open311Config;
use self::error::Open311Error;
use self::format::{render, Doc, Format};
use self::params::Params;
use crate::app::App;

/// Discovery's changeset: when this endpoint's behaviour last changed.
pub const CHANGESET: &str = "2026-12-03T00:00:00Z";

/// Largest `POST requests` body: a form, or a multipart form with up to four 5 MB files.
const BODY_LIMIT: usize = 24 * 1024 * 1024;
/// Largest form-encoded body (descriptions are at most 4,000 characters).
const FORM_LIMIT: usize = 64 * 1024;

/// State the Open311 surface keeps across requests.
pub struct Shared {
    /// Per-key token buckets.
    pub limiter: keys::KeyLimiter,
}

/// What every handler needs about the node and the request.
pub struct Ctx {
    /// The application.
    pub app: App,
    /// Base URL links are built on (`federation.public_url`, else the request's host).
    pub base: String,
    /// `jurisdiction_id` in force.
    pub jurisdiction: String,
    /// Discovery's contact.
    pub contact: String,
    /// Discovery's key_service.
    pub key_service: String,
    /// The node's zone.
    pub zone: FixedOffset,
    /// Cross-request state.
    pub shared: Arc<Shared>,
}

impl Ctx {
    fn new(app: App, shared: Arc<Shared>, headers: &HeaderMap) -> Self {
        let c = app.config();
        let public = c.federation.public_url.trim_end_matches('/');
        let base = if public.is_empty() {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
                })
                .unwrap_or("localhost");
            format!("http://{host}")
        } else {
            public.to_owned()
        };
        let o = &c.open311;
        Self {
            jurisdiction: o.jurisdiction(&c.federation.public_url, &c.node.id),
            contact: if o.contact.is_empty() {
                c.node.name.clone()
            } else {
                o.contact.clone()
            },
            key_service: o.key_service.clone(),
            zone: c.node.timezone.offset(),
            base,
            app,
            shared,
        }
    }

    /// An unknown `jurisdiction_id` is the specification's 404; a missing one is fine (one jurisdiction).
    fn check_jurisdiction(&self, p: &Params) -> Result<(), Open311Error> {
        match p.one("jurisdiction_id")? {
            Some(j) if !j.trim().eq_ignore_ascii_case(&self.jurisdiction) => {
                Err(Open311Error::not_found(
                    &format!(
                        "jurisdiction_id {j} tidak dilayani di sini; gunakan {}",
                        self.jurisdiction
                    ),
                    &format!(
                        "jurisdiction_id {j} is not served here; use {}",
                        self.jurisdiction
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The routes under `/open311/v2`.
pub fn router(config: &Open311Config) -> Router<App> {
    let shared = Arc::new(Shared {
        limiter: keys::KeyLimiter::new(config.key_burst, config.key_refill_ms),
    });
    Router::new()
        .route("/", get(index))
        .route("/{file}", get(get_file).post(post_file))
        .route("/{dir}/{file}", get(get_item))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(Extension(shared))
}

fn no_format(name: &str) -> Open311Error {
    Open311Error::bad(
        &format!("format tidak dikenal pada {name}; gunakan akhiran .xml atau .json"),
        &format!("unknown format in {name}; use the suffix .xml or .json"),
    )
}

fn respond(format: Format, result: Result<Doc, Open311Error>) -> Response {
    match result {
        Ok(doc) => render(format, axum::http::StatusCode::OK, &doc),
        Err(e) => e.render(format),
    }
}

fn disabled() -> Open311Error {
    Open311Error::not_found(
        "Open311 tidak diaktifkan di node ini",
        "Open311 is not enabled on this node",
    )
}

fn unknown_resource(name: &str) -> Open311Error {
    Open311Error::not_found(
        &format!("sumber {name} tidak ada di GeoReport v2"),
        &format!("there is no resource {name} in GeoReport v2"),
    )
}

fn not_allowed(method: &Method, name: &str) -> Open311Error {
    Open311Error::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        &format!("metode {method} tidak didukung untuk {name}"),
        &format!("method {method} is not supported for {name}"),
    )
}

fn query_params(req_query: Option<&str>) -> Result<Params, Open311Error> {
    Params::parse(req_query.unwrap_or("").as_bytes())
}

/// `GET /open311/v2/`: discovery in XML (the format the specification requires).
#[allow(clippy::unused_async)] // axum handlers are async functions
async fn index(
    State(app): State<App>,
    Extension(shared): Extension<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    if !app.config().open311.enabled {
        return disabled().render(Format::Xml);
    }
    let ctx = Ctx::new(app, shared, &headers);
    render(
        Format::Xml,
        axum::http::StatusCode::OK,
        &services::discovery(&ctx),
    )
}

/// `GET /open311/v2/{discovery|services|requests|servicerequestupdates}.{fmt}`.
#[tracing::instrument(skip_all, fields(open311.file = %file))]
async fn get_file(
    State(app): State<App>,
    Extension(shared): Extension<Arc<Shared>>,
    Path(file): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (name, format) = Format::split(&file);
    let Some(format) = format else {
        return no_format(&file).render(Format::Xml);
    };
    if !app.config().open311.enabled {
        return disabled().render(format);
    }
    let ctx = Ctx::new(app, shared, &headers);
    let result = async {
        let p = query_params(uri.query())?;
        ctx.check_jurisdiction(&p)?;
        match name {
            "discovery" => Ok(services::discovery(&ctx)),
            "services" => {
                let cats = ctx.app.node().store.category_list().await?;
                Ok(services::services(&cats, &ctx.app.config().node.name))
            }
            "requests" => requests::list(&ctx, &p).await,
            "servicerequestupdates" => updates::list(&ctx, &p).await,
            other => Err(unknown_resource(other)),
        }
    }
    .await;
    respond(format, result)
}

/// `POST /open311/v2/requests.{fmt}`.
#[tracing::instrument(skip_all, fields(open311.file = %file))]
async fn post_file(
    State(app): State<App>,
    Extension(shared): Extension<Arc<Shared>>,
    Path(file): Path<String>,
    req: Request,
) -> Response {
    let (name, format) = Format::split(&file);
    let Some(format) = format else {
        return no_format(&file).render(Format::Xml);
    };
    if !app.config().open311.enabled {
        return disabled().render(format);
    }
    if !matches!(name, "requests") {
        let err = if matches!(name, "discovery" | "services" | "servicerequestupdates") {
            not_allowed(&Method::POST, &file)
        } else {
            unknown_resource(name)
        };
        return err.render(format);
    }
    let ctx = Ctx::new(app.clone(), shared, req.headers());
    let result = async {
        let query = query_params(req.uri().query())?;
        let (body, files) = requests::read_body(&app, req).await?;
        // `jurisdiction_id` and `api_key` may come in the query string too (some clients put them there).
        ctx.check_jurisdiction(&query)?;
        requests::create(&ctx, &query, &body, files).await
    }
    .await;
    respond(format, result)
}

/// `GET /open311/v2/{services|requests|tokens}/{item}.{fmt}`.
#[tracing::instrument(skip_all, fields(open311.dir = %dir, open311.file = %file))]
async fn get_item(
    State(app): State<App>,
    Extension(shared): Extension<Arc<Shared>>,
    Path((dir, file)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (item, format) = Format::split(&file);
    let Some(format) = format else {
        return no_format(&file).render(Format::Xml);
    };
    if !app.config().open311.enabled {
        return disabled().render(format);
    }
    let ctx = Ctx::new(app, shared, &headers);
    let result = async {
        let p = query_params(uri.query())?;
        ctx.check_jurisdiction(&p)?;
        match dir.as_str() {
            "services" => {
                let known = ctx
                    .app
                    .node()
                    .store
                    .category_get(item)
                    .await?
                    .is_some_and(|c| c.active);
                if known {
                    Ok(services::definition(item))
                } else {
                    Err(Open311Error::not_found(
                        &format!("service_code {item} tidak dikenal"),
                        &format!("service_code {item} is unknown"),
                    ))
                }
            }
            "requests" => requests::one(&ctx, item).await,
            "tokens" => requests::token(&ctx, item).await,
            other => Err(unknown_resource(other)),
        }
    }
    .await;
    respond(format, result)
}

#[allow(clippy::unused_async)] // axum handlers are async functions
async fn fallback(req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let format = Format::split(&path).1.unwrap_or(Format::Xml);
    unknown_resource(&path).render(format)
}
