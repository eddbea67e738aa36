//! Multipart bodies of the JSON API and Open311 (`multipart/form-data`): text fields and files, read in
//! memory under the route's body limit. Text fields must be UTF-8: one that is not is refused and never
//! stored with replacement characters. Files are only read here; their type and metadata are checked by
//! [`crate::attachments::check`] before anything is stored.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;

use crate::attachments::{self, AttachmentError, MAX_FILES};

/// One uploaded file, not yet checked.
#[derive(Debug, Clone)]
pub struct RawFile {
    /// Form field name.
    pub field: String,
    /// File name the client sent.
    pub file_name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A multipart body: text fields in order, and files.
#[derive(Debug, Clone, Default)]
pub struct MultipartBody {
    /// Text fields.
    pub fields: Vec<(String, String)>,
    /// Files (parts with a file name).
    pub files: Vec<RawFile>,
}

/// Why a multipart body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// Over the route's body limit.
    #[error("the upload is too large")]
    TooLarge,
    /// Not a well-formed multipart body.
    #[error("the multipart body could not be read")]
    Malformed,
    /// A text field is not UTF-8.
    #[error("field `{0}` is not valid UTF-8")]
    NotUtf8(String),
    /// More files than [`MAX_FILES`].
    #[error("at most 4 files")]
    TooManyFiles,
    /// A file was refused by the checks (name, reason).
    #[error("{0}: {1}")]
    BadFile(String, AttachmentError),
}

impl UploadError {
    /// The message a client reads, Indonesian first.
    pub fn message(&self) -> String {
        match self {
            Self::TooLarge => {
                "unggahan terlalu besar (maksimal 5 MB per berkas, 4 berkas) / the upload is too \
                               large (at most 5 MB per file, 4 files)"
                    .into()
            }
            Self::Malformed => {
                "isi multipart tidak dapat dibaca / the multipart body could not be read".into()
            }
            Self::NotUtf8(f) => {
                format!("kolom {f} bukan teks UTF-8 yang valid / field {f} is not valid UTF-8 text")
            }
            Self::TooManyFiles => "maksimal 4 berkas / at most 4 files".into(),
            Self::BadFile(name, e) => {
                let (id, en) = file_error_text(e);
                format!("{name}: {id} / {name}: {en}")
            }
        }
    }
}

/// The bilingual text of a refused file.
pub fn file_error_text(e: &AttachmentError) -> (&'static str, &'static str) {
    match e {
        AttachmentError::TooLarge => ("terlalu besar (maksimal 5 MB)", "too large (at most 5 MB)"),
        AttachmentError::UnsupportedType => (
            "jenis berkas tidak diterima (hanya foto JPEG/PNG atau dokumen PDF)",
            "file type not accepted (only JPEG/PNG photos or PDF documents)",
        ),
        AttachmentError::Damaged(_) => ("berkas rusak", "the file is damaged"),
        AttachmentError::Empty => ("berkas kosong", "the file is empty"),
    }
}

/// Whether a content type is `multipart/form-data`.
pub fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    })
}

/// Reads a multipart body.
pub async fn read<S: Send + Sync>(req: Request, state: &S) -> Result<MultipartBody, UploadError> {
    let mut mp = Multipart::from_request(req, state)
        .await
        .map_err(|_| UploadError::Malformed)?;
    let mut body = MultipartBody::default();
    let too_large = |status: StatusCode| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            UploadError::TooLarge
        } else {
            UploadError::Malformed
        }
    };
    while let Some(field) = mp.next_field().await.map_err(|e| too_large(e.status()))? {
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(ToOwned::to_owned);
        let bytes = field.bytes().await.map_err(|e| too_large(e.status()))?;
        if let Some(file_name) = file_name {
            if !bytes.is_empty() || !file_name.is_empty() {
                body.files.push(RawFile {
                    field: name,
                    file_name,
                    bytes: bytes.to_vec(),
                });
            }
        } else {
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| UploadError::NotUtf8(name.clone()))?;
            body.fields.push((name, text));
        }
    }
    Ok(body)
}

/// Checks the files of `fields` (magic bytes, size, metadata stripped): all of them, or the first refusal.
pub fn check_files(
    files: &[RawFile],
    fields: &[&str],
) -> Result<Vec<(String, attachments::Checked)>, UploadError> {
    let chosen: Vec<&RawFile> = files
        .iter()
        .filter(|f| fields.contains(&f.field.as_str()))
        .collect();
    if chosen.len() > MAX_FILES {
        return Err(UploadError::TooManyFiles);
    }
    chosen
        .into_iter()
        .map(|f| {
            let name = attachments::clean_file_name(&f.file_name);
            attachments::check(&f.bytes)
                .map(|c| (name.clone(), c))
                .map_err(|e| UploadError::BadFile(name, e))
        })
        .collect()
}

/// Largest body of the routes that take files (`POST /api/v1/reports`, `…/reply`, `…/supplement`).
pub const UPLOAD_LIMIT: usize = 24 * 1024 * 1024;

/// A JSON API body with optional files: `application/json` as before (capped at `http.max_body_bytes`), or
/// `multipart/form-data` with the same JSON object in the part `json` and up to four files in parts named
/// `files`. Files are checked (magic bytes, size, metadata stripped) before the handler runs, so a refused file
/// stores nothing; a text part that is not UTF-8 is refused with 422.
pub struct WithFiles<T> {
    /// The JSON body.
    pub body: T,
    /// Checked files, with their cleaned names.
    pub files: Vec<(String, attachments::Checked)>,
}

fn unprocessable(field: &str, code: &str, message: String) -> super::error::ApiError {
    super::error::ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "Isi permintaan tidak valid",
        "The request body is invalid",
    )
    .fields(vec![lapor_schemas::problem::FieldError {
        field: field.into(),
        code: code.into(),
        message,
    }])
}

impl<T: serde::de::DeserializeOwned> FromRequest<crate::app::App> for WithFiles<T> {
    type Rejection = super::error::ApiError;

    async fn from_request(req: Request, app: &crate::app::App) -> Result<Self, Self::Rejection> {
        use super::error::ApiError;
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if !is_multipart(content_type.as_deref()) {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, app.config().http.max_body_bytes)
                .await
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        "Data yang dikirim terlalu besar",
                        "The body is too large",
                    )
                })?;
            let req = Request::from_parts(parts, axum::body::Body::from(bytes));
            let super::extract::ApiJson(body) =
                super::extract::ApiJson::<T>::from_request(req, app).await?;
            return Ok(Self {
                body,
                files: Vec::new(),
            });
        }
        let mp = read(req, app).await.map_err(|e| match e {
            UploadError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "Data yang dikirim terlalu besar (maksimal 5 MB per berkas, 4 berkas)",
                "The body is too large (at most 5 MB per file, 4 files)",
            ),
            UploadError::NotUtf8(ref f) => unprocessable(f, "invalid_utf8", e.message()),
            other => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_multipart",
                "Isi multipart tidak dapat dibaca",
                "The multipart body could not be read",
            )
            .detail(other.to_string()),
        })?;
        if let Some(extra) = mp
            .fields
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(mp.files.iter().map(|f| f.field.as_str()))
            .find(|k| !matches!(*k, "json" | "files"))
        {
            return Err(unprocessable(
                extra,
                "unknown_field",
                format!("bagian {extra} tidak dikenal; gunakan json dan files / unknown part {extra}; use json and files"),
            ));
        }
        let mut json_parts = mp.fields.iter().filter(|(k, _)| k == "json");
        let Some((_, json)) = json_parts.next() else {
            return Err(unprocessable(
                "json",
                "required",
                "bagian json (objek JSON permintaan) wajib ada / the json part (the request's JSON object) is required"
                    .into(),
            ));
        };
        if json_parts.next().is_some() {
            return Err(unprocessable(
                "json",
                "duplicate",
                "bagian json hanya boleh satu / only one json part".into(),
            ));
        }
        if !json.trim_start().starts_with('{') {
            return Err(unprocessable(
                "json",
                "invalid",
                "bagian json harus berupa objek {...} / the json part must be an object {...}"
                    .into(),
            ));
        }
        let body = serde_json::from_str::<T>(json).map_err(|e| {
            unprocessable(
                "json",
                "invalid",
                format!("bagian json tidak sesuai / the json part does not fit: {e}"),
            )
        })?;
        let files = check_files(&mp.files, &["files"]).map_err(|e| {
            let code = match e {
                UploadError::TooManyFiles => "too_many",
                _ => "invalid",
            };
            unprocessable("files", code, e.message())
        })?;
        Ok(Self { body, files })
    }
}
