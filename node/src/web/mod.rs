//! The web interface: the citizen portal (`/`, `/report`, `/track`, `/reports`, `/stats`) and the officer
//! console (`/officer/...`), rendered on the server as plain HTML forms that work without JavaScript.
//!
//! Every page goes through the same [`App`] calls as the JSON API (create, load/access/view, act, list,
//! stats, login); this module only turns forms into those calls and their answers into HTML.
//!
//! Security at this edge:
//! * **CSRF**: every `POST` carries a token equal to `sha256("lapor-csrf-v1" | csrf cookie | session
//!   cookie)`. The random `lapor_csrf` cookie is `HttpOnly; SameSite=Strict`, so another site can neither read
//!   it nor send it along; including the session cookie binds the token to the login session, so logging in
//!   or out invalidates old forms.
//! * **Cookies**: session (`lapor_session`), CSRF seed, the report being tracked (code and secret) are all
//!   `HttpOnly; SameSite=Strict`, and `Secure` when `http.secure_cookies` is set (HTTPS deployments).
//! * **Content security policy**: scripts and styles only from this node (no inline script), images from
//!   this node and `data:`; OpenStreetMap tiles are allowed only on the pages that show a map.
//! * **Privacy**: public pages always list and count as the public does, whoever is logged in, so a
//!   confidential report can never appear there; the track page shows one only with its secret.

pub mod assets;
pub mod audit;
pub mod bulk;
pub mod chart;
pub mod citizen;
pub mod escalation;
pub mod forms;
pub mod html;
pub mod map_view;
pub mod officer;
pub mod plural;
pub mod profile;
pub mod statistics;
pub mod transfer;
pub mod unsubscribe;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use self::html::{esc, layout, tr, PageOpts};
use crate::app::{App, AppError, Viewer};
use crate::domain::tracking;
use crate::http::error::{current_lang, Lang};
use crate::http::extract::SESSION_COOKIE;

/// Cookie holding the random CSRF seed.
pub const CSRF_COOKIE: &str = "lapor_csrf";
/// Cookie remembering the chosen language.
pub const LANG_COOKIE: &str = "lapor_lang";
/// Cookie holding `CODE:SECRET` of the report the citizen is tracking.
pub const TRACK_COOKIE: &str = "lapor_track";

/// Largest request of a form with attachments.
pub const MAX_UPLOAD_BODY: usize = 24 * 1024 * 1024;

/// The routes of the web interface.
pub fn router() -> Router<App> {
    let upload_limit = DefaultBodyLimit::max(MAX_UPLOAD_BODY);
    Router::new()
        .route("/", get(citizen::home))
        .route(
            "/report",
            get(citizen::new_report)
                .post(citizen::submit_report)
                .layer(upload_limit),
        )
        .route(
            "/track",
            get(citizen::track_form).post(citizen::track_lookup),
        )
        .route("/track/{code}", get(citizen::track_page))
        .route(
            "/track/{code}/{action}",
            post(citizen::track_action).layer(upload_limit),
        )
        .route("/track/{code}/files/{sha256}", get(citizen::attachment))
        .route("/reports", get(citizen::public_list))
        .route("/stats", get(statistics::public_stats))
        .route("/stats/csv/{chart}", get(statistics::public_csv))
        .route(
            "/notifications/unsubscribe",
            get(unsubscribe::page_get).post(unsubscribe::one_click),
        )
        .route("/officer", get(officer::inbox))
        .route("/officer/", get(officer::inbox))
        .route(
            "/officer/login",
            get(officer::login_form).post(officer::login),
        )
        .route("/officer/logout", post(officer::logout))
        .route("/officer/profile", get(profile::form).post(profile::save))
        .route(
            "/officer/new",
            get(officer::new_form)
                .post(officer::log_report)
                .layer(upload_limit),
        )
        .route("/officer/dashboard", get(statistics::dashboard))
        .route(
            "/officer/dashboard/csv/{chart}",
            get(statistics::dashboard_csv),
        )
        .route("/officer/recap/{period}", get(statistics::recap_page))
        .route("/officer/recaps", get(statistics::recaps))
        .route(
            "/officer/recaps/{period}/{scope}/{format}",
            get(statistics::recap_download),
        )
        .route("/officer/audit", get(audit::page_audit))
        .route(
            "/officer/bulk",
            get(bulk::bulk_form)
                .post(bulk::bulk_verify)
                .layer(upload_limit),
        )
        .route("/officer/reports/{code}", get(officer::detail))
        .route(
            "/officer/reports/{code}/{action}",
            post(officer::action).layer(upload_limit),
        )
        .route("/assets/{version}/{*path}", get(assets::serve))
}

/// The language a `lapor_lang` cookie asks for.
pub fn lang_cookie(headers: &HeaderMap) -> Option<Lang> {
    match cookie(headers, LANG_COOKIE)?.as_str() {
        "en" => Some(Lang::En),
        "id" => Some(Lang::Id),
        _ => None,
    }
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Everything a page needs to know about the request: language, viewer, CSRF state, cookies.
#[derive(Clone)]
pub struct Ctx {
    /// Page language.
    pub lang: Lang,
    /// Who is logged in (through the session cookie only; bearer tokens are for the API).
    pub viewer: Viewer,
    /// The session cookie's value.
    pub session: Option<String>,
    /// The CSRF seed (from the cookie, or freshly made).
    pub csrf_seed: String,
    /// The seed is new and must be set as a cookie.
    pub new_seed: bool,
    /// `?lang=` was given: remember it.
    pub set_lang: Option<Lang>,
    /// Mark cookies `Secure`.
    pub secure: bool,
    /// The request path (for the language switch).
    pub path: String,
    /// The node's display name.
    pub node_name: String,
    /// The report being tracked: (code, secret).
    pub track: Option<(String, String)>,
}

impl Ctx {
    /// The CSRF token forms must send back.
    pub fn csrf(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"lapor-csrf-v1\0");
        h.update(self.csrf_seed.as_bytes());
        h.update(b"\0");
        h.update(self.session.as_deref().unwrap_or("").as_bytes());
        hex::encode(h.finalize())
    }

    /// Whether a submitted token is right (and a seed cookie came with the request).
    pub fn csrf_ok(&self, sent: &str) -> bool {
        !self.new_seed && bool::from(sent.as_bytes().ct_eq(self.csrf().as_bytes()))
    }

    /// Text in the page language.
    pub fn t(&self, id: &'static str, en: &'static str) -> &'static str {
        tr(self.lang, id, en)
    }

    /// A `Set-Cookie` value for this node.
    pub fn cookie(&self, name: &str, value: &str, max_age_s: i64) -> String {
        format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The secret of the tracked report if it is `code`.
    pub fn secret_for(&self, code: &str) -> Option<&str> {
        let want = tracking::normalise_tracking_code(code);
        self.track
            .as_ref()
            .filter(|(c, _)| tracking::normalise_tracking_code(c) == want)
            .map(|(_, s)| s.as_str())
    }

    fn base_cookies(&self, headers: &mut HeaderMap) {
        if self.new_seed {
            push_cookie(
                headers,
                &self.cookie(CSRF_COOKIE, &self.csrf_seed, 365 * 24 * 3600),
            );
        }
        if let Some(l) = self.set_lang {
            let v = match l {
                Lang::Id => "id",
                Lang::En => "en",
            };
            push_cookie(headers, &self.cookie(LANG_COOKIE, v, 365 * 24 * 3600));
        }
    }
}

/// Adds a `Set-Cookie` header.
pub fn push_cookie(headers: &mut HeaderMap, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.append(header::SET_COOKIE, v);
    }
}

impl FromRequestParts<App> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let session = cookie(&parts.headers, SESSION_COOKIE).filter(|s| !s.is_empty());
        let viewer = match &session {
            Some(token) => match app.viewer_for_token(token).await {
                Ok(v) => v.unwrap_or_default(),
                Err(e) => {
                    tracing::error!(error = %e, "session lookup failed");
                    return Err((
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Layanan sedang bermasalah, coba lagi / The service is failing, try again",
                    )
                        .into_response());
                }
            },
            None => Viewer::Public,
        };
        let seed = cookie(&parts.headers, CSRF_COOKIE)
            .filter(|s| s.len() >= 20 && s.bytes().all(|b| b.is_ascii_alphanumeric()));
        let (csrf_seed, new_seed) = match seed {
            Some(s) => (s, false),
            None => (tracking::new_secret(), true),
        };
        let query = parts.uri.query().unwrap_or("");
        let set_lang = query.split('&').find_map(|kv| match kv {
            "lang=en" => Some(Lang::En),
            "lang=id" => Some(Lang::Id),
            _ => None,
        });
        let track = cookie(&parts.headers, TRACK_COOKIE).and_then(|v| {
            let (c, s) = v.split_once(':')?;
            Some((c.to_owned(), s.to_owned()))
        });
        Ok(Self {
            lang: current_lang(),
            viewer,
            session,
            csrf_seed,
            new_seed,
            set_lang,
            secure: app.config().http.secure_cookies,
            path: parts.uri.path().to_owned(),
            node_name: app.config().node.name.clone(),
            track,
        })
    }
}

/// The content security policy of a page.
fn csp(map: bool) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:{}; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'",
        if map {
            " https://tile.openstreetmap.org"
        } else {
            ""
        }
    )
}

/// A full HTML page.
pub fn page(ctx: &Ctx, status: StatusCode, title: &str, body: &str, opts: PageOpts) -> Response {
    let html = layout(ctx, title, body, opts);
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp(opts.map)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    // Pages carry CSRF tokens and sometimes tracking secrets: never store them in any cache.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ctx.base_cookies(h);
    resp
}

/// A `303 See Other` after a successful form, with any extra cookies.
pub fn redirect(ctx: &Ctx, to: &str, cookies: &[String]) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(to) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ctx.base_cookies(h);
    for c in cookies {
        push_cookie(h, c);
    }
    resp
}

/// The page shown when a form's CSRF token is missing or stale.
pub fn csrf_failed(ctx: &Ctx, back: &str) -> Response {
    let body = format!(
        r#"<h1>{}</h1><div class="alert error" role="alert"><p>{}</p></div><p><a class="button" href="{}">{}</a></p>"#,
        ctx.t("Formulir kedaluwarsa", "The form has expired"),
        ctx.t(
            "Demi keamanan, formulir ini tidak dapat dikirim (token keamanan tidak ada atau sudah tidak berlaku, misalnya karena Anda masuk atau keluar di tab lain). Buka formulir lagi dan kirim ulang.",
            "For your security this form could not be sent (its security token is missing or no longer valid, for example after logging in or out in another tab). Open the form again and resend it."
        ),
        esc(back),
        ctx.t("Buka formulir lagi", "Open the form again"),
    );
    page(
        ctx,
        StatusCode::FORBIDDEN,
        ctx.t("Formulir kedaluwarsa", "Form expired"),
        &body,
        PageOpts::default(),
    )
}

/// A readable explanation of an application error for a page, with its status.
pub fn describe(lang: Lang, e: &AppError) -> (StatusCode, String) {
    use crate::domain::DomainError;
    let t = |id: &'static str, en: &'static str| tr(lang, id, en).to_owned();
    match e {
        AppError::NotFound(_) => (
            StatusCode::NOT_FOUND,
            t(
                "Laporan tidak ditemukan. Periksa kode pelacakan; laporan rahasia hanya dapat dilihat dengan kode rahasianya.",
                "Report not found. Check the tracking code; a confidential report can only be seen with its secret.",
            ),
        ),
        AppError::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            t("Silakan masuk terlebih dahulu.", "Please log in first."),
        ),
        AppError::Locked(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            t(
                "Akun dikunci sementara setelah beberapa kali gagal masuk. Coba lagi nanti.",
                "Account locked for a while after repeated failed logins. Try again later.",
            ),
        ),
        AppError::BadCredentials => (
            StatusCode::UNAUTHORIZED,
            t(
                "Nama pengguna atau kata sandi salah.",
                "Wrong username or password.",
            ),
        ),
        AppError::Forbidden(_) | AppError::Domain(DomainError::Forbidden { .. }) => (
            StatusCode::FORBIDDEN,
            t(
                "Anda tidak berwenang melakukan tindakan ini.",
                "You may not do this.",
            ),
        ),
        AppError::NotOwner(owner) => (
            StatusCode::CONFLICT,
            format!(
                "{} {owner}.",
                t(
                    "Laporan ini dikelola node lain; tindak lanjuti di sana:",
                    "This report is owned by another node; act on it there:"
                )
            ),
        ),
        AppError::BadSecret => (
            StatusCode::FORBIDDEN,
            t(
                "Kode rahasia laporan tidak ada atau salah. Masukkan kode rahasia di halaman Lacak.",
                "The report's secret is missing or wrong. Enter it on the Track page.",
            ),
        ),
        AppError::Domain(DomainError::IllegalTransition { from, .. }) => (
            StatusCode::CONFLICT,
            format!(
                "{} ({})",
                t(
                    "Tindakan ini tidak berlaku untuk status laporan saat ini",
                    "This action does not apply in the report's current status"
                ),
                html::status_label(lang, *from)
            ),
        ),
        AppError::Domain(DomainError::AlreadyRated) => (
            StatusCode::CONFLICT,
            t("Laporan ini sudah dinilai.", "This report was already rated."),
        ),
        AppError::Domain(DomainError::PrivacyLowered { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t(
                "Tingkat kerahasiaan hanya dapat dinaikkan.",
                "Privacy can only be raised.",
            ),
        ),
        AppError::Domain(DomainError::NoChange) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t("Tidak ada yang berubah.", "Nothing would change."),
        ),
        AppError::Domain(DomainError::Invalid { message, .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html::localise(lang, message),
        ),
        AppError::Validation(errs) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errs.iter()
                .map(|e| format!("{}: {}", e.field, html::localise(lang, &e.message)))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        AppError::Conflict(_) => (
            StatusCode::CONFLICT,
            t(
                "Laporan sedang diubah orang lain; coba lagi.",
                "The report is being changed by someone else; try again.",
            ),
        ),
        AppError::BadBootstrapSecret => (StatusCode::FORBIDDEN, t("Ditolak.", "Refused.")),
        AppError::Storage(err) => {
            tracing::error!(error = %err, "storage failure");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                t(
                    "Penyimpanan sedang bermasalah; coba lagi sebentar lagi.",
                    "Storage is failing; try again shortly.",
                ),
            )
        }
        AppError::Internal(err) => {
            tracing::error!(error = format!("{err:#}"), "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                t(
                    "Terjadi kesalahan pada server.",
                    "Something went wrong on the server.",
                ),
            )
        }
    }
}

/// A page that only explains an error.
pub fn error_page(ctx: &Ctx, e: &AppError, opts: PageOpts) -> Response {
    let (status, msg) = describe(ctx.lang, e);
    let title = ctx.t("Tidak dapat diproses", "Could not be processed");
    let body = format!(
        r#"<h1>{}</h1><div class="alert error" role="alert"><p>{}</p></div><p><a href="{}">{}</a></p>"#,
        esc(title),
        esc(&msg),
        if opts.officer { "/officer" } else { "/" },
        ctx.t("Kembali ke beranda", "Back to the start page")
    );
    page(ctx, status, title, &body, opts)
}

/// Fallback for paths nobody serves: an HTML page for people, the API's problem document under `/api/`.
pub async fn not_found(ctx: Ctx, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::http::error::ApiError::route_not_found().into_response();
    }
    let body = format!(
        r#"<h1>{}</h1><p>{}</p><p><a class="button" href="/">{}</a></p>"#,
        ctx.t("Halaman tidak ditemukan", "Page not found"),
        ctx.t(
            "Alamat ini tidak ada. Periksa kembali tautannya.",
            "There is nothing at this address. Check the link."
        ),
        ctx.t("Ke beranda", "Go to the start page"),
    );
    page(
        &ctx,
        StatusCode::NOT_FOUND,
        ctx.t("Tidak ditemukan", "Not found"),
        &body,
        PageOpts::default(),
    )
}
