//! GeoReport v2 errors: an array of `{code, description}` (`<errors><error>…</error></errors>` in XML) with
//! the specification's statuses: 404 for a missing resource (service, request, token, jurisdiction), 403 for
//! a missing or invalid `api_key`, 400 for everything else. The body `code` is the HTTP status (the
//! specification allows a more specific one; clients compare it with the status). Descriptions are
//! Indonesian first, English second, like every message of the node. A 5xx never says more than that
//! something failed; the cause is logged.

use axum::http::StatusCode;
use axum::response::Response;

use super::format::{render, Doc, Format, Val};
use crate::app::AppError;

/// One or more errors answered together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open311Error {
    /// HTTP status.
    pub status: StatusCode,
    /// Descriptions, each answered as one `error` with `code` = the status.
    pub descriptions: Vec<String>,
}

impl Open311Error {
    /// One error.
    pub fn new(status: StatusCode, id: &str, en: &str) -> Self {
        Self {
            status,
            descriptions: vec![format!("{id} / {en}")],
        }
    }

    /// 400 with one description.
    pub fn bad(id: &str, en: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, id, en)
    }

    /// 404 with one description.
    pub fn not_found(id: &str, en: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, id, en)
    }

    /// 403: the `api_key` is missing, unknown or revoked.
    pub fn forbidden(id: &str, en: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, id, en)
    }

    /// 400 with a description that is already bilingual.
    pub fn bad_text(description: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            descriptions: vec![description],
        }
    }

    /// 500 without details.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "terjadi gangguan pada server; coba lagi nanti",
            "the server failed; try again later",
        )
    }

    /// The error document.
    pub fn doc(&self) -> Doc {
        let code = i64::from(self.status.as_u16());
        Doc {
            root: "errors",
            body: Val::List(
                "error",
                self.descriptions
                    .iter()
                    .map(|d| Val::Obj(vec![("code", Val::Int(code)), ("description", Val::s(d))]))
                    .collect(),
            ),
        }
    }

    /// The response in `format`.
    pub fn render(&self, format: Format) -> Response {
        let mut resp = render(format, self.status, &self.doc());
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("2"),
            );
        }
        resp
    }
}

/// Open311 names of the node's own field names, so a client reads the parameter it sent.
fn open311_field(field: &str) -> &str {
    match field {
        "title" => "attribute[title]",
        "body" => "description",
        "address" => "address_string",
        "region_code" => "address_id",
        "category" => "service_code",
        "location.lat" => "lat",
        "location.lon" => "long",
        "reporter.name" => "first_name/last_name",
        "reporter.phone" => "phone",
        "reporter.email" => "email",
        other => other,
    }
}

impl From<AppError> for Open311Error {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Validation(fields) => Self {
                status: StatusCode::BAD_REQUEST,
                descriptions: fields
                    .iter()
                    .map(|f| format!("{}: {}", open311_field(&f.field), f.message))
                    .collect(),
            },
            AppError::NotFound(what) => Self::not_found(
                &format!("{what} tidak ditemukan"),
                &format!("{what} not found"),
            ),
            other => {
                tracing::error!(error = %other, "open311 request failed");
                Self::internal()
            }
        }
    }
}

impl From<crate::storage::StorageError> for Open311Error {
    fn from(e: crate::storage::StorageError) -> Self {
        tracing::error!(error = %e, "open311 storage failed");
        Self::internal()
    }
}
