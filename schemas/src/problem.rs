//! The error document every HTTP API answers with (RFC 9457 `application/problem+json`).
//!
//! Clients branch on `code`, which is stable `snake_case`; `title` and `detail` are for people and come in the
//! language the request asked for (Indonesian by default).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Path of the field, e.g. `title` or `location.lat`.
    pub field: String,
    /// Stable code of the problem, e.g. `required`, `too_long`.
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

/// RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// URI naming the problem type (`about:blank` or a tag URI with the code).
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What happened in this case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code, e.g. `illegal_transition`.
    pub code: String,
    /// Per-field messages for validation failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}
