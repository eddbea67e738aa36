//! The HTTP surface. Every route of the node is listed in [`router`]: the JSON API (handlers in `api/`, one
//! per endpoint), the federation routes (`federation.rs`), the web pages (`crate::web`) and the operations
//! endpoints.

pub mod api;
pub mod error;
pub mod extract;
pub mod federation;
pub mod limit;
pub mod listen;
pub mod security;
pub mod upload;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;

use self::api::{agencies, audit, auth, categories, files, health, metrics, reports, stats, users};
use self::error::{ApiError, Lang, LANG};
use self::federation as fed;
use crate::app::App;
use crate::open311::admin as o311;

/// The OpenAPI document of `/api/v1`, generated from the handlers' annotations and the schema types.
#[derive(OpenApi)]
#[openapi(
    info(title = "LAPOR! node API", description = "JSON API of a federated SP4N-LAPOR! node. Errors are application/problem+json."),
    paths(
        health::healthz, health::readyz,
        auth::login, auth::logout, auth::create_token, auth::bootstrap, auth::register,
        users::me, users::list, users::create, users::update,
        agencies::list, agencies::get, agencies::create, agencies::update,
        categories::list, categories::create, categories::update,
        reports::create, reports::list, reports::get, reports::stats,
        reports::verify, reports::hold, reports::supplement, reports::not_authority, reports::transfer, reports::acknowledge,
        reports::respond, reports::reply, reports::accept, reports::rate, reports::archive, reports::privacy,
        reports::escalate, reports::ombudsman,
        audit::list, audit::export,
        o311::list, o311::create, o311::revoke, files::list, files::get,
        stats::agencies, stats::recap, stats::emerging, stats::recaps,
    ),
    components(schemas(lapor_schemas::problem::Problem, lapor_schemas::problem::FieldError,
        o311::CreateKey, o311::KeyView, o311::IssuedKey, files::FileView)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Picks the response language: `?lang=en|id`, else `Accept-Language`, else Indonesian.
fn lang_of(req: &Request) -> Lang {
    let query = req.uri().query().unwrap_or("");
    if query.split('&').any(|kv| kv == "lang=en") {
        return Lang::En;
    }
    if query.split('&').any(|kv| kv == "lang=id") {
        return Lang::Id;
    }
    // The web pages remember an explicit choice in a cookie (set by `web::Ctx` when `?lang=` is given).
    if let Some(lang) = crate::web::lang_cookie(req.headers()) {
        return lang;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match accept
        .split(',')
        .next()
        .map(|l| l.trim().to_ascii_lowercase())
    {
        Some(l) if l.starts_with("en") => Lang::En,
        _ => Lang::Id,
    }
}

async fn language(req: Request, next: Next) -> Response {
    let lang = lang_of(&req);
    LANG.scope(lang, next.run(req)).await
}

async fn not_found() -> ApiError {
    ApiError::route_not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Metode tidak didukung untuk alamat ini",
        "Method not allowed for this route",
    )
}

/// Every route of the node.
pub fn router(app: App) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(health::openapi))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/tokens", post(auth::create_token))
        .route("/auth/bootstrap", post(auth::bootstrap))
        .route("/auth/register", post(auth::register))
        .route("/users", get(users::list).post(users::create))
        .route("/users/me", get(users::me))
        .route("/users/{id}", patch(users::update))
        .route("/agencies", get(agencies::list).post(agencies::create))
        .route("/agencies/{id}", get(agencies::get).patch(agencies::update))
        .route(
            "/categories",
            get(categories::list).post(categories::create),
        )
        .route("/categories/{id}", patch(categories::update))
        .route(
            "/reports",
            get(reports::list)
                .post(reports::create)
                .layer(DefaultBodyLimit::max(upload::UPLOAD_LIMIT)),
        )
        .route("/reports/{key}", get(reports::get))
        .route("/reports/{key}/files", get(files::list))
        .route("/reports/{key}/files/{sha256}", get(files::get))
        .route("/reports/{key}/verify", post(reports::verify))
        .route("/reports/{key}/hold", post(reports::hold))
        .route(
            "/reports/{key}/supplement",
            post(reports::supplement).layer(DefaultBodyLimit::max(upload::UPLOAD_LIMIT)),
        )
        .route("/reports/{key}/not-authority", post(reports::not_authority))
        .route("/reports/{key}/transfer", post(reports::transfer))
        .route("/reports/{key}/acknowledge", post(reports::acknowledge))
        .route("/reports/{key}/respond", post(reports::respond))
        .route(
            "/reports/{key}/reply",
            post(reports::reply).layer(DefaultBodyLimit::max(upload::UPLOAD_LIMIT)),
        )
        .route("/reports/{key}/accept", post(reports::accept))
        .route("/reports/{key}/rate", post(reports::rate))
        .route("/reports/{key}/archive", post(reports::archive))
        .route("/reports/{key}/privacy", post(reports::privacy))
        .route("/reports/{key}/escalate", post(reports::escalate))
        .route("/reports/{key}/ombudsman", post(reports::ombudsman))
        .route("/stats", get(reports::stats))
        .route("/audit", get(audit::list))
        .route("/audit/export", get(audit::export))
        .route("/open311/keys", get(o311::list).post(o311::create))
        .route("/open311/keys/{id}", delete(o311::revoke))
        .route("/stats/agencies", get(stats::agencies))
        .route("/stats/recap/{period}", get(stats::recap))
        .route("/stats/emerging", get(stats::emerging))
        .route("/stats/recaps", get(stats::recaps))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);

    let fed_timeout =
        std::time::Duration::from_secs(app.config().federation.request_timeout_secs.max(1));
    let federation = Router::new()
        .route("/push", post(fed::push))
        .route("/log/{origin}", get(fed::log))
        .route("/catch-up", post(fed::catch_up))
        .route("/blobs/{hash}", get(fed::blob))
        .route("/reports/{key}/history", get(fed::history))
        .route("/identity", post(fed::identity_fetch))
        .route("/identity/erase", post(fed::identity_erase))
        .route("/directory", get(fed::directory))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(fed::BODY_LIMIT))
        // Read timeouts: a peer that sends its body slowly, or a request that takes too long as a whole, is
        // cut off (408) instead of holding a connection and a task forever.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            fed_timeout,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            fed_timeout * 2,
        ));

    // The SMS channel (`crate::channels::sms`): a 404 unless `sms.enabled`.
    let mut sms = Router::new().route(
        "/channels/sms/kannel",
        get(crate::channels::sms::kannel::inbound).post(crate::channels::sms::kannel::inbound),
    );
    match crate::channels::sms::Gateway::new(&app) {
        Ok(Some(gateway)) => sms = sms.layer(axum::Extension(std::sync::Arc::new(gateway))),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "SMS channel off: its configuration is unusable"),
    }
    let sms = sms.layer(DefaultBodyLimit::max(
        crate::channels::sms::kannel::BODY_LIMIT,
    ));

    let body_limit = app.config().http.max_body_bytes;
    let limiter = std::sync::Arc::new(limit::Limiter::default());
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/metrics",
            get(metrics::metrics).route_layer(middleware::from_fn_with_state(
                app.clone(),
                security::metrics_access,
            )),
        )
        .nest("/api/v1", api)
        .nest("/federation/v1", federation)
        .merge(sms)
        .nest("/open311/v2", crate::open311::router(&app.config().open311))
        .merge(crate::web::router())
        .fallback(crate::web::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(limiter, limit::rate_limit))
        .layer(middleware::from_fn(language))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            security::protect,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The query of a channel request carries a shared secret and a phone number: never logged.
                    let uri = req.uri();
                    let shown = if uri.path().starts_with("/channels/") {
                        uri.path()
                    } else {
                        uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
                    };
                    tracing::info_span!("request", method = %req.method(), uri = %shown, version = ?req.version())
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(app)
}
