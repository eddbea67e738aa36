//! Error policy at the HTTP edge.
//!
//! Every failure leaves as `application/problem+json` ([`Problem`]) with a stable snake_case `code` that
//! clients branch on, a `title` and `detail` in the request's language (Indonesian unless the request
//! prefers English through `Accept-Language` or `?lang=en`), and per-field `errors` for validation. A 5xx
//! never shows internals: the cause is logged once, here, with the request's span, and the client gets a
//! generic message. Nothing is changed in storage by a request that ends in an error: validation happens
//! before any write, and every write is one transaction.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lapor_schemas::problem::{FieldError, Problem};

use crate::app::AppError;
use crate::domain::DomainError;
use crate::federation::FedError;
use crate::storage::StorageError;

/// Languages the node speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Bahasa Indonesia (default).
    #[default]
    Id,
    /// English.
    En,
}

tokio::task_local! {
    /// The language of the request being handled; set by the language middleware.
    pub static LANG: Lang;
}

/// The current request's language.
pub fn current_lang() -> Lang {
    LANG.try_with(|l| *l).unwrap_or_default()
}

/// An error ready to leave as a problem document.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    title_id: &'static str,
    title_en: &'static str,
    detail_id: Option<String>,
    detail_en: Option<String>,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// Says when to try again (`Retry-After`, seconds).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// A problem with a status, a code and titles in both languages.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title_id: &'static str,
        title_en: &'static str,
    ) -> Self {
        Self {
            status,
            code,
            title_id,
            title_en,
            detail_id: None,
            detail_en: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// Adds the same detail in both languages (for technical text such as parser messages).
    pub fn detail(mut self, text: impl Into<String>) -> Self {
        let t = text.into();
        self.detail_en = Some(t.clone());
        self.detail_id = Some(t);
        self
    }

    /// Adds a detail per language.
    pub fn detail2(mut self, id: impl Into<String>, en: impl Into<String>) -> Self {
        self.detail_id = Some(id.into());
        self.detail_en = Some(en.into());
        self
    }

    /// Adds per-field errors.
    pub fn fields(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// 404 for a path nobody serves.
    pub fn route_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "Alamat tidak ditemukan",
            "No such route",
        )
    }

    /// 500 without details.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Terjadi kesalahan pada server",
            "Internal server error",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)?;
        if let Some(d) = &self.detail_en {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let lang = current_lang();
        let (title, detail) = match lang {
            Lang::Id => (self.title_id, self.detail_id),
            Lang::En => (self.title_en, self.detail_en),
        };
        let problem = Problem {
            type_uri: format!("tag:lapor,2026:problem:{}", self.code),
            title: title.to_owned(),
            status: self.status.as_u16(),
            detail,
            code: self.code.to_owned(),
            errors: self.errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        let retry_after = self
            .retry_after
            .or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(30));
        if let Some(secs) = retry_after {
            // Every 503 is temporary, every 429 too: say when to come back.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }
}

fn status_id(s: lapor_schemas::ReportStatus) -> &'static str {
    s.label_id()
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::IllegalTransition { action, from } => Self::new(
                StatusCode::CONFLICT,
                "illegal_transition",
                "Tindakan tidak dapat dilakukan pada status laporan ini",
                "This action is not possible in the report's status",
            )
            .detail2(
                format!(
                    "Tindakan `{action}` tidak berlaku untuk laporan berstatus {}.",
                    status_id(from)
                ),
                format!(
                    "Action `{action}` does not apply to a report that is {}.",
                    from.label_en()
                ),
            ),
            DomainError::Forbidden { action, role } => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Anda tidak berwenang melakukan tindakan ini",
                "You may not do this",
            )
            .detail2(
                format!("Peran `{role}` tidak boleh melakukan `{action}`."),
                format!("Role `{role}` may not `{action}`."),
            ),
            DomainError::PrivacyLowered { flag } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "privacy_cannot_be_lowered",
                "Tingkat kerahasiaan hanya dapat dinaikkan",
                "Privacy can only be raised",
            )
            .fields(vec![FieldError {
                field: flag.into(),
                code: "cannot_lower".into(),
                message: "tidak dapat diturunkan / cannot be lowered".into(),
            }]),
            DomainError::NoChange => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_change",
                "Tidak ada yang berubah",
                "Nothing would change",
            ),
            DomainError::Invalid { field, message } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Data tidak valid",
                "Invalid input",
            )
            .fields(vec![FieldError {
                field: field.into(),
                code: "invalid".into(),
                message,
            }]),
            DomainError::AlreadyRated => Self::new(
                StatusCode::CONFLICT,
                "already_rated",
                "Laporan ini sudah dinilai",
                "This report was already rated",
            ),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound("report") => Self::new(
                StatusCode::NOT_FOUND,
                "report_not_found",
                "Laporan tidak ditemukan",
                "Report not found",
            )
            .detail2(
                "Periksa kode pelacakan. Laporan rahasia hanya terlihat dengan kode rahasia (header X-Tracking-Secret).",
                "Check the tracking code. A confidential report is only visible with its secret (header X-Tracking-Secret).",
            ),
            AppError::NotFound(what) => Self::new(StatusCode::NOT_FOUND, "not_found", "Tidak ditemukan", "Not found")
                .detail2(format!("{what} tidak ditemukan"), format!("{what} not found")),
            AppError::Locked(secs) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "account_locked",
                "Akun dikunci sementara setelah beberapa kali gagal masuk",
                "Account locked for a while after repeated failed logins",
            )
            .detail2(
                format!("Coba lagi dalam {secs} detik."),
                format!("Try again in {secs} s."),
            )
            .retry_after(secs),
            AppError::Unauthenticated => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Silakan masuk terlebih dahulu",
                "Authentication required",
            ),
            AppError::BadCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "Nama pengguna atau kata sandi salah",
                "Wrong username or password",
            ),
            AppError::Forbidden(why) => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Anda tidak berwenang melakukan tindakan ini",
                "You may not do this",
            )
            .detail(why),
            AppError::BadSecret => Self::new(
                StatusCode::FORBIDDEN,
                "tracking_secret_invalid",
                "Kode rahasia laporan tidak ada atau salah",
                "The report's tracking secret is missing or wrong",
            ),
            AppError::BadBootstrapSecret => Self::new(
                StatusCode::FORBIDDEN,
                "bootstrap_secret_invalid",
                "Kode bootstrap salah atau sudah dipakai",
                "The bootstrap secret is wrong or was used already",
            ),
            AppError::Validation(errors) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Data tidak valid",
                "Invalid input",
            )
            .fields(errors),
            AppError::Domain(d) => d.into(),
            AppError::Conflict(msg) => {
                Self::new(StatusCode::CONFLICT, "conflict", "Data bertabrakan dengan yang sudah ada", "Conflict").detail(msg)
            }
            AppError::NotOwner(owner) => Self::new(
                StatusCode::CONFLICT,
                "not_owner",
                "Laporan ini dikelola node lain; tindak lanjuti di sana",
                "This report is owned by another node; act on it there",
            )
            .detail2(
                format!("Pemilik laporan: node {owner}"),
                format!("The report's owner is node {owner}"),
            ),
            AppError::Storage(StorageError::NotFound) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", "Tidak ditemukan", "Not found")
            }
            AppError::Storage(e) => {
                tracing::error!(error = %e, "storage failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "Penyimpanan sedang bermasalah, coba lagi",
                    "Storage is failing; try again",
                )
            }
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                Self::internal()
            }
        }
    }
}

impl From<FedError> for ApiError {
    fn from(e: FedError) -> Self {
        AppError::from(e).into()
    }
}

/// Result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
