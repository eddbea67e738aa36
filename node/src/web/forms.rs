//! Form bodies (`application/x-www-form-urlencoded` and `multipart/form-data` with files) and the report
//! form shared by the citizen portal and the officers' "log a report" page.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use lapor_schemas::api::{CreateReport, CreatedReport, Location, Reporter};
use lapor_schemas::{Channel, ReportKind};

use super::html::Errors;
use crate::app::{App, AppError, Viewer};
use crate::attachments::{self, AttachmentError, MAX_FILES};
use crate::http::error::Lang;

/// One uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Form field name.
    pub field: String,
    /// File name the browser sent.
    pub file_name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A submitted form: its text fields in order and its files.
#[derive(Debug, Clone, Default)]
pub struct WebForm {
    /// Text fields.
    pub fields: Vec<(String, String)>,
    /// Non-empty files.
    pub files: Vec<Upload>,
}

impl WebForm {
    /// The first value of `name`, trimmed, or "".
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// The value of `name` when it is not blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name);
        (!v.is_empty()).then(|| v.to_owned())
    }

    /// Whether checkbox `name` is ticked.
    pub fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
}

fn rejection(status: StatusCode, id: &str, en: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><meta charset=utf-8><title>LAPOR!</title><p>{id}</p><p lang=en>{en}</p><p><a href=\"/\">LAPOR!</a></p>"
        ),
    )
        .into_response()
}

/// A text field that is not UTF-8: refused (422) rather than stored with replacement characters.
fn not_utf8(field: &str) -> Response {
    let field = super::html::esc(field);
    rejection(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!(
            "Isian `{field}` bukan teks UTF-8 yang sah; kirim ulang dari formulir di halaman ini."
        ),
        &format!(
            "Field `{field}` is not valid UTF-8 text; send it again from the form on the page."
        ),
    )
}

/// `application/x-www-form-urlencoded` pairs, strictly: a name or value whose percent-decoded bytes are not
/// UTF-8 is an error naming the field (`url::form_urlencoded::parse` would replace them silently).
pub fn parse_urlencoded(input: &[u8]) -> Result<Vec<(String, String)>, String> {
    fn decode(part: &[u8]) -> Option<String> {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < part.len()
                    && part[i + 1].is_ascii_hexdigit()
                    && part[i + 2].is_ascii_hexdigit() =>
                {
                    // Two hex digits exactly (`from_str_radix` alone would take "+b" as 0x0b).
                    let hex = std::str::from_utf8(&part[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    let mut fields = Vec::new();
    for pair in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[..0]),
        };
        let name_text = decode(name).ok_or_else(|| String::from_utf8_lossy(name).into_owned())?;
        let value_text = decode(value).ok_or_else(|| name_text.clone())?;
        fields.push((name_text, value_text));
    }
    Ok(fields)
}

impl<S: Send + Sync> FromRequest<S> for WebForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let too_large = || {
            rejection(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Data yang dikirim terlalu besar (lampiran maksimal 5 MB per berkas, 4 berkas).",
                "The upload is too large (at most 5 MB per file, 4 files).",
            )
        };
        if content_type.starts_with("multipart/form-data") {
            let mut mp = Multipart::from_request(req, state).await.map_err(|_| {
                rejection(
                    StatusCode::BAD_REQUEST,
                    "Formulir tidak dapat dibaca.",
                    "The form could not be read.",
                )
            })?;
            let mut form = Self::default();
            loop {
                let field = match mp.next_field().await {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(too_large())
                    }
                    Err(_) => {
                        return Err(rejection(
                            StatusCode::BAD_REQUEST,
                            "Formulir tidak dapat dibaca.",
                            "The form could not be read.",
                        ))
                    }
                };
                let name = field.name().unwrap_or("").to_owned();
                let file_name = field.file_name().map(ToOwned::to_owned);
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large()
                    } else {
                        rejection(
                            StatusCode::BAD_REQUEST,
                            "Formulir tidak dapat dibaca.",
                            "The form could not be read.",
                        )
                    }
                })?;
                match file_name {
                    Some(file_name) => {
                        if !bytes.is_empty() || !file_name.is_empty() {
                            form.files.push(Upload {
                                field: name,
                                file_name,
                                bytes: bytes.to_vec(),
                            });
                        }
                    }
                    None => match String::from_utf8(bytes.to_vec()) {
                        Ok(text) => form.fields.push((name, text)),
                        Err(_) => return Err(not_utf8(&name)),
                    },
                }
            }
            Ok(form)
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|_| too_large())?;
            Ok(Self {
                fields: parse_urlencoded(&bytes).map_err(|name| not_utf8(&name))?,
                files: Vec::new(),
            })
        } else {
            Err(rejection(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Kirim melalui formulir di halaman ini.",
                "Send this through the form on the page.",
            ))
        }
    }
}

/// Checks the uploaded files: count, size, type by magic bytes; strips image metadata. Problems are added
/// to `errors` under `field`.
pub fn check_files(
    form: &WebForm,
    field: &str,
    errors: &mut Errors,
) -> Vec<(String, attachments::Checked)> {
    let uploads: Vec<&Upload> = form.files.iter().filter(|u| u.field == field).collect();
    if uploads.len() > MAX_FILES {
        errors.push(field, "too_many", "maksimal 4 berkas", "at most 4 files");
        return Vec::new();
    }
    let mut ok = Vec::new();
    for u in uploads {
        let name = attachments::clean_file_name(&u.file_name);
        match attachments::check(&u.bytes) {
            Ok(c) => ok.push((name, c)),
            Err(e) => {
                let (id, en) = match e {
                    AttachmentError::TooLarge => {
                        ("terlalu besar (maksimal 5 MB)", "too large (at most 5 MB)")
                    }
                    AttachmentError::UnsupportedType => (
                        "jenis berkas tidak diterima (hanya foto JPEG/PNG atau dokumen PDF)",
                        "file type not accepted (only JPEG/PNG photos or PDF documents)",
                    ),
                    AttachmentError::Damaged(_) => {
                        ("berkas gambar rusak", "the image file is damaged")
                    }
                    AttachmentError::Empty => ("berkas kosong", "the file is empty"),
                };
                errors.push(
                    field,
                    "invalid",
                    &format!("{name}: {id}"),
                    &format!("{name}: {en}"),
                );
            }
        }
    }
    ok
}

/// Reads the report form into the API's request, collecting what cannot even be parsed.
pub fn report_request(form: &WebForm, errors: &mut Errors) -> CreateReport {
    let kind = ReportKind::parse(form.get("kind")).unwrap_or_else(|| {
        errors.push(
            "kind",
            "invalid",
            "pilih jenis laporan",
            "choose a kind of report",
        );
        ReportKind::Complaint
    });
    let mut number = |name: &str| -> Option<f64> {
        let v = form.get(name).replace(',', ".");
        if v.is_empty() {
            return None;
        }
        match v.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                errors.push(
                    name,
                    "invalid",
                    "harus berupa angka, mis. -10.1772",
                    "must be a number, e.g. -10.1772",
                );
                None
            }
        }
    };
    let lat = number("lat");
    let lon = number("lon");
    let location = match (lat, lon) {
        (Some(lat), Some(lon)) => Some(Location { lat, lon }),
        (None, None) => None,
        (Some(_), None) => {
            errors.push(
                "lon",
                "required",
                "isi juga bujur",
                "give the longitude too",
            );
            None
        }
        (None, Some(_)) => {
            errors.push(
                "lat",
                "required",
                "isi juga lintang",
                "give the latitude too",
            );
            None
        }
    };
    let incident_date = form.opt("incident_date").and_then(|d| {
        let parsed = NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok();
        if parsed.is_none() {
            errors.push(
                "incident_date",
                "invalid",
                "tanggal tidak valid (TTTT-BB-HH)",
                "invalid date (YYYY-MM-DD)",
            );
        }
        parsed
    });
    let anonymous = form.checked("anonymous");
    let reporter = Reporter {
        name: form.opt("reporter.name"),
        phone: form.opt("reporter.phone"),
        email: form.opt("reporter.email"),
    };
    let has_reporter =
        reporter.name.is_some() || reporter.phone.is_some() || reporter.email.is_some();
    let channel = form.opt("channel").and_then(|c| {
        let parsed = Channel::parse(&c);
        if parsed.is_none() {
            errors.push(
                "channel",
                "invalid",
                "kanal tidak dikenal",
                "unknown channel",
            );
        }
        parsed
    });
    CreateReport {
        kind,
        title: form.get("title").to_owned(),
        body: form.get("body").to_owned(),
        category: form.opt("category"),
        agency_id: form.opt("agency_id"),
        region_code: form.opt("region_code"),
        location,
        address: form.opt("address"),
        incident_date,
        anonymous,
        confidential: form.checked("confidential"),
        reporter: (!anonymous && has_reporter).then_some(reporter),
        channel,
    }
}

/// Files a report from the form: parse, check files, create, store files. Answers the created report and
/// whether its files were stored; on any problem before the report exists, the per-field errors to show with
/// the form again (or the application error).
pub async fn file_report(
    app: &App,
    viewer: &Viewer,
    form: &WebForm,
) -> Result<(CreatedReport, bool), (Errors, Option<AppError>)> {
    let mut errors = Errors::default();
    let req = report_request(form, &mut errors);
    let files = check_files(form, "files", &mut errors);
    // Problems the service cannot see (unreadable numbers or dates, refused files) stop here, before any
    // report exists; the service's own validation runs next and names its fields the same way.
    if !errors.is_empty() {
        return Err((errors, None));
    }
    let created = match app.create_report(viewer, req).await {
        Ok(c) => c,
        Err(AppError::Validation(v)) => {
            for e in v {
                let field = match e.field.as_str() {
                    "location.lat" => "lat".to_owned(),
                    "location.lon" => "lon".to_owned(),
                    other => other.to_owned(),
                };
                errors
                    .0
                    .push(lapor_schemas::problem::FieldError { field, ..e });
            }
            return Err((errors, None));
        }
        Err(other) => return Err((errors, Some(other))),
    };
    // The report is stored; a file that cannot be stored must not hide its code and secret from the
    // citizen, so the failure is logged and reported on the confirmation page instead.
    let id = created.id.clone();
    let added_by = if viewer.user().is_some_and(|u| u.role.is_staff()) {
        "staff"
    } else {
        "reporter"
    };
    let files_stored = match app.attach(&id, files, added_by).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(report.id = %id, error = %e, "storing attachments failed");
            false
        }
    };
    Ok((created, files_stored))
}

/// Language-neutral helper so handlers can say which language the form was in.
pub fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::Id => "id",
        Lang::En => "en",
    }
}

#[cfg(test)]
mod tests {
    use super::parse_urlencoded;

    #[test]
    fn urlencoded_is_strict_utf8() {
        let input =
            b"csrf=ab&title=Jalan+rusak+%E2%80%94+Oebobo&empty=&flag&pct=100%25&bad=%zz&sign=%+b&end=%4";
        let strict = parse_urlencoded(input).unwrap();
        let lossy: Vec<(String, String)> =
            url::form_urlencoded::parse(input).into_owned().collect();
        assert_eq!(strict, lossy);
        assert_eq!(
            parse_urlencoded(b"title=ok&body=%FF%FE").unwrap_err(),
            "body"
        );
        assert_eq!(parse_urlencoded(b"%C3=1").unwrap_err(), "%C3");
    }
}
