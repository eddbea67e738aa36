//! Service requests: a LAPOR! report as a GeoReport v2 `request`, filing one (`POST requests`), querying many
//! (`GET requests`, with every filter of the specification and its default window and limit), one
//! (`GET requests/{id}`, where the id is the tracking code, so it works on every node and at the hub), and
//! `GET tokens/{token}` (the token is the report's id).
//!
//! Mapping: `status` is `closed` for Selesai and Diarsipkan and `open` otherwise; `status_notes` carries the
//! LAPOR! status label and, once posted, the agency's follow-up; `agency_responsible` is the agency the report
//! is dispositioned to (the node while none is); `expected_datetime` is the deadline of the current stage;
//! every datetime is RFC 3339 in the zone of the report's owner (the node's own for times that are no
//! report's); `lat`/`long` of an anonymous report are rounded to about 100 m; `address_id` is the Kemendagri region code; `media_url` is
//! the first photo. No request object carries a name, e-mail or phone.

use std::collections::HashMap;

use axum::extract::Request;
use axum::http::header;
use chrono::SecondsFormat;
use lapor_schemas::api::{Category, Location, Reporter};
use lapor_schemas::{ReportKind, ReportStatus, TimelineAction};

use super::error::Open311Error;
use super::format::{Doc, Val};
use super::params::{parse_datetime, Params};
use super::{keys, services, Ctx, FORM_LIMIT};
use crate::app::{App, Intake, Viewer};
use crate::attachments::Checked;
use crate::domain::{access, tracking, Access, Millis, NodeZone, Report, Submitter};
use crate::http::upload;
use crate::storage::RequestQuery;

/// Longest `description` (the specification's limit).
pub const MAX_DESCRIPTION: usize = 4000;
/// Indonesia's extent with a margin: latitudes and longitudes outside it are not Indonesian places.
const LAT_RANGE: std::ops::RangeInclusive<f64> = -11.5..=6.5;
const LON_RANGE: std::ops::RangeInclusive<f64> = 94.0..=141.5;

/// `open` or `closed`.
pub fn open311_status(s: ReportStatus) -> &'static str {
    if s.is_terminal() {
        "closed"
    } else {
        "open"
    }
}

/// A datetime as RFC 3339 in the node's zone.
pub fn datetime(app: &App, ms: Millis) -> String {
    app.time(ms).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A datetime as RFC 3339 in `zone` (a report's owner's, see [`App::report_zone`]).
fn zoned(zone: NodeZone, ms: Millis) -> String {
    zone.datetime(ms)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Names looked up once per response.
#[derive(Default)]
struct Names {
    categories: HashMap<String, String>,
    agencies: HashMap<String, Option<String>>,
}

impl Names {
    async fn load(app: &App) -> Result<Self, Open311Error> {
        let cats: Vec<Category> = app.node().store.category_list().await?;
        Ok(Self {
            categories: cats.into_iter().map(|c| (c.id, c.name_id)).collect(),
            agencies: HashMap::new(),
        })
    }

    async fn agency(&mut self, app: &App, id: &str) -> Result<Option<String>, Open311Error> {
        if let Some(n) = self.agencies.get(id) {
            return Ok(n.clone());
        }
        let name = app.node().store.agency_get(id).await?.map(|a| a.name);
        self.agencies.insert(id.to_owned(), name.clone());
        Ok(name)
    }
}

/// The request object of a report a member of the public may see.
async fn request_val(ctx: &Ctx, r: &Report, names: &mut Names) -> Result<Val, Open311Error> {
    let app = &ctx.app;
    let store = &app.node().store;
    let timeline = store.report_timeline(&r.id).await?;
    let followup = timeline
        .iter()
        .rev()
        .find(|e| e.action == TimelineAction::Responded)
        .and_then(|e| e.note.clone());
    let mut notes = format!("{} / {}", r.status.label_id(), r.status.label_en());
    if let Some(f) = followup {
        notes.push_str("; Tindak lanjut / Follow-up: ");
        notes.push_str(&f);
    }
    let agency = match &r.agency_id {
        Some(a) => names.agency(app, a).await?,
        None => None,
    };
    let agency = agency.unwrap_or_else(|| app.config().node.name.clone());
    let photo = store
        .attachment_list(&r.id)
        .await?
        .into_iter()
        .find(|a| a.media_type.starts_with("image/"))
        .map(|a| format!("{}/track/{}/files/{}", ctx.base, r.tracking_code, a.sha256));
    let owner = app.node().owner_of(&r.id).await?;
    let node_name = app.node_name(&owner);
    let zone = app.report_zone(&owner, r.region_code.as_deref());
    // The public sees an anonymous report's pin rounded to about 100 m (`domain::access::exact_location`).
    let (lat_e6, lon_e6) = match (r.lat_e6, r.lon_e6) {
        (Some(lat), Some(lon)) => {
            let exact = access::exact_location(Access::Public, false, r.anonymous);
            let (lat, lon) = access::shown_location(lat, lon, exact);
            (Some(lat), Some(lon))
        }
        _ => (None, None),
    };
    let coord = |v: Option<i64>| v.map_or(Val::Null, |e6| Val::Num(e6 as f64 / 1e6));
    let updated = if r.status.is_terminal() {
        r.closed_at.unwrap_or(r.updated_at)
    } else {
        r.updated_at
    };
    Ok(Val::Obj(vec![
        ("service_request_id", Val::s(r.tracking_code.clone())),
        ("status", Val::s(open311_status(r.status))),
        ("status_notes", Val::s(notes)),
        (
            "service_name",
            Val::opt(
                r.category_id
                    .as_ref()
                    .map(|c| names.categories.get(c).cloned().unwrap_or_else(|| c.clone())),
            ),
        ),
        ("service_code", Val::opt(r.category_id.clone())),
        ("description", Val::s(r.body.clone())),
        ("agency_responsible", Val::s(agency)),
        (
            "service_notice",
            Val::s(format!(
                "Ditangani melalui SP4N-LAPOR! oleh {node_name}; lacak dengan kode {code} / Handled through \
                 SP4N-LAPOR! by {node_name}; track with code {code}",
                code = r.tracking_code
            )),
        ),
        ("requested_datetime", Val::s(zoned(zone, r.submitted_at))),
        ("updated_datetime", Val::s(zoned(zone, updated))),
        (
            "expected_datetime",
            Val::opt(r.current_due().map(|d| zoned(zone, d))),
        ),
        ("address", Val::opt(r.address.clone())),
        ("address_id", Val::opt(r.region_code.clone())),
        ("zipcode", Val::Null),
        ("lat", coord(lat_e6)),
        ("long", coord(lon_e6)),
        ("media_url", Val::opt(photo)),
    ]))
}

fn requests_doc(items: Vec<Val>) -> Doc {
    Doc {
        root: "service_requests",
        body: Val::List("request", items),
    }
}

/// The window `[from, to]` of `start_date`/`end_date`: at most `window_days` long, the most recent ones when
/// neither is given.
pub fn window(ctx: &Ctx, p: &Params) -> Result<(Millis, Millis), Open311Error> {
    let days = i64::from(ctx.app.config().open311.window_days);
    let span = days * 86_400_000;
    let start = p
        .one("start_date")?
        .map(|v| parse_datetime("start_date", v, ctx.zone))
        .transpose()?;
    let end = p
        .one("end_date")?
        .map(|v| parse_datetime("end_date", v, ctx.zone))
        .transpose()?;
    let (from, to) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s.saturating_add(span)),
        (None, Some(e)) => (e.saturating_sub(span), e),
        (None, None) => {
            let now = ctx.app.now();
            (now - span, now)
        }
    };
    if from > to {
        return Err(Open311Error::bad(
            "start_date harus sebelum end_date",
            "start_date must be before end_date",
        ));
    }
    if to - from > span {
        return Err(Open311Error::bad(
            &format!("rentang start_date sampai end_date maksimal {days} hari"),
            &format!("start_date to end_date may span at most {days} days"),
        ));
    }
    Ok((from, to))
}

/// `GET requests`.
pub async fn list(ctx: &Ctx, p: &Params) -> Result<Doc, Open311Error> {
    let app = &ctx.app;
    let max = i64::from(app.config().open311.max_requests);
    let ids = p.list("service_request_id")?;
    let query = if ids.is_empty() {
        let mut categories = p.list("service_code")?;
        categories.dedup();
        for c in &categories {
            if !app
                .node()
                .store
                .category_get(c)
                .await?
                .is_some_and(|c| c.active)
            {
                return Err(Open311Error::bad(
                    &format!("service_code {c} tidak dikenal"),
                    &format!("service_code {c} is unknown"),
                ));
            }
        }
        let mut statuses = Vec::new();
        for s in p.list("status")? {
            match s.to_ascii_lowercase().as_str() {
                "open" => {
                    statuses.extend(ReportStatus::ALL.into_iter().filter(|s| !s.is_terminal()));
                }
                "closed" => {
                    statuses.extend(ReportStatus::ALL.into_iter().filter(|s| s.is_terminal()));
                }
                _ => {
                    return Err(Open311Error::bad(
                        &format!("status {s} tidak dikenal; gunakan open atau closed"),
                        &format!("status {s} is unknown; use open or closed"),
                    ))
                }
            }
        }
        let (from, to) = window(ctx, p)?;
        RequestQuery {
            tracking_codes: Vec::new(),
            categories,
            statuses,
            from,
            to,
            limit: max,
        }
    } else {
        if ids.len() as i64 > max {
            return Err(Open311Error::bad(
                &format!("maksimal {max} service_request_id sekaligus"),
                &format!("at most {max} service_request_id at once"),
            ));
        }
        RequestQuery {
            tracking_codes: ids
                .iter()
                .map(|i| tracking::normalise_tracking_code(i))
                .collect(),
            limit: max,
            ..RequestQuery::default()
        }
    };
    let reports = app.node().store.open311_requests(&query).await?;
    let mut names = Names::load(app).await?;
    let mut items = Vec::with_capacity(reports.len());
    for r in &reports {
        items.push(request_val(ctx, r, &mut names).await?);
    }
    Ok(requests_doc(items))
}

fn valid_key(item: &str) -> bool {
    !item.is_empty()
        && item.len() <= 120
        && item
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'_'))
}

/// `GET requests/{id}`: the id is the tracking code (looked up at the hub when this node does not hold it).
pub async fn one(ctx: &Ctx, id: &str) -> Result<Doc, Open311Error> {
    let missing = || {
        Open311Error::not_found(
            &format!("service_request_id {id} tidak ditemukan"),
            &format!("service_request_id {id} not found"),
        )
    };
    if !valid_key(id) || id.contains(':') {
        return Err(missing());
    }
    let report = match ctx.app.load(&Viewer::Public, id, None).await {
        Ok((r, _)) => r,
        Err(crate::app::AppError::NotFound(_)) => return Err(missing()),
        Err(e) => return Err(e.into()),
    };
    let mut names = Names::load(&ctx.app).await?;
    Ok(requests_doc(vec![
        request_val(ctx, &report, &mut names).await?,
    ]))
}

/// `GET tokens/{token}`: the token is the report's id (`<node>:<ULID>`, as the JSON API names it).
pub async fn token(ctx: &Ctx, token: &str) -> Result<Doc, Open311Error> {
    let missing = || {
        Open311Error::not_found(
            &format!("token {token} tidak ditemukan"),
            &format!("token {token} not found"),
        )
    };
    if !valid_key(token) || !token.contains(':') {
        return Err(missing());
    }
    let report = match ctx.app.load(&Viewer::Public, token, None).await {
        Ok((r, _)) => r,
        Err(crate::app::AppError::NotFound(_)) => return Err(missing()),
        Err(e) => return Err(e.into()),
    };
    Ok(requests_doc(vec![Val::Obj(vec![
        ("service_request_id", Val::s(report.tracking_code)),
        ("token", Val::s(report.id)),
    ])]))
}

/// Reads a `POST` body: form-encoded (the specification), or multipart with files in `media` (an extension
/// many clients use).
pub async fn read_body(
    app: &App,
    req: Request,
) -> Result<(Params, Vec<(String, Checked)>), Open311Error> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if upload::is_multipart(content_type.as_deref()) {
        let body = upload::read(req, app)
            .await
            .map_err(|e| Open311Error::bad_text(e.message()))?;
        let files = upload::check_files(&body.files, &["media", "media[]"])
            .map_err(|e| Open311Error::bad_text(e.message()))?;
        return Ok((Params::from_pairs(body.fields), files));
    }
    let form = content_type.as_deref().is_some_and(|c| {
        c.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form {
        return Err(Open311Error::bad(
            "kirim isi sebagai application/x-www-form-urlencoded (atau multipart/form-data)",
            "send the body as application/x-www-form-urlencoded (or multipart/form-data)",
        ));
    }
    let bytes = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
        .await
        .map_err(|_| {
            Open311Error::bad(
                "isi formulir terlalu besar (maksimal 64 KB)",
                "the form body is too large (at most 64 KB)",
            )
        })?;
    Ok((Params::parse(&bytes)?, Vec::new()))
}

fn has_html(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?')))
}

fn parse_bool(name: &str, v: &str, errors: &mut Vec<String>) -> bool {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "ya" => true,
        "false" | "0" | "no" | "tidak" => false,
        _ => {
            errors.push(format!(
                "attribute[{name}] harus true atau false / attribute[{name}] must be true or false"
            ));
            false
        }
    }
}

fn title_from(description: &str) -> String {
    let line = description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= 80 {
        return line.to_owned();
    }
    let cut: String = line.chars().take(77).collect();
    let cut = cut
        .rsplit_once(' ')
        .map_or(cut.as_str(), |(a, _)| a)
        .trim_end();
    format!("{cut}...")
}

/// `POST requests`: files a report through `App::submit` with `Channel::Open311`.
pub async fn create(
    ctx: &Ctx,
    query: &Params,
    body: &Params,
    files: Vec<(String, Checked)>,
) -> Result<Doc, Open311Error> {
    let app = &ctx.app;
    ctx.check_jurisdiction(body)?;
    // The key first: without a valid one nothing else is looked at (the specification's 403).
    let Some(secret) = body.one("api_key")?.or(query.one("api_key")?) else {
        return Err(Open311Error::forbidden(
            "api_key wajib untuk mengirim laporan",
            "api_key is required to file a request",
        ));
    };
    let key = keys::verify(app.node(), secret).await?.ok_or_else(|| {
        Open311Error::forbidden(
            "api_key tidak dikenal atau sudah dicabut",
            "api_key is unknown or revoked",
        )
    })?;
    if let Err(wait) = ctx.shared.limiter.take(&key.id) {
        tracing::warn!(key.id = %key.id, "open311 key rate limited");
        return Err(Open311Error::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "terlalu banyak permintaan dengan api_key ini; coba lagi dalam {} detik",
                wait.as_secs().max(1)
            ),
            &format!(
                "too many requests with this api_key; try again in {} s",
                wait.as_secs().max(1)
            ),
        ));
    }

    let mut errors: Vec<String> = Vec::new();
    let service_code = body.one("service_code")?;
    let Some(service_code) = service_code else {
        return Err(Open311Error::bad(
            "service_code wajib diisi",
            "service_code is required",
        ));
    };
    if !app
        .node()
        .store
        .category_get(service_code)
        .await?
        .is_some_and(|c| c.active)
    {
        return Err(Open311Error::not_found(
            &format!("service_code {service_code} tidak dikenal"),
            &format!("service_code {service_code} is unknown"),
        ));
    }

    // Location: lat and long together, or an address, or an address id (a Kemendagri region code).
    let lat = body.one("lat")?;
    let long = body.one("long")?;
    let address = body
        .one("address_string")?
        .map(str::trim)
        .map(str::to_owned);
    let address_id = body.one("address_id")?.map(str::trim).map(str::to_owned);
    let mut location = None;
    match (lat, long) {
        (Some(la), Some(lo)) => {
            let la_v = la.trim().parse::<f64>().ok().filter(|v| v.is_finite());
            let lo_v = lo.trim().parse::<f64>().ok().filter(|v| v.is_finite());
            match (la_v, lo_v) {
                (Some(la), Some(lo)) if LAT_RANGE.contains(&la) && LON_RANGE.contains(&lo) => {
                    location = Some(Location { lat: la, lon: lo });
                }
                (Some(_), Some(_)) => errors.push(
                    "lat/long berada di luar Indonesia (lintang -11,5..6,5, bujur 94..141,5) / lat/long \
                     lie outside Indonesia (latitude -11.5..6.5, longitude 94..141.5)"
                        .into(),
                ),
                _ => errors.push(
                    "lat dan long harus berupa angka desimal WGS84 / lat and long must be WGS84 decimal \
                     numbers"
                        .into(),
                ),
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            errors.push(
                "lat dan long harus diberikan bersama / lat and long must be given together".into(),
            );
        }
        (None, None) => {}
    }
    if lat.is_none() && long.is_none() && address.is_none() && address_id.is_none() {
        errors.push(
            "lokasi wajib: lat dan long, address_string, atau address_id / a location is required: lat and \
             long, address_string or address_id"
                .into(),
        );
    }

    let description = body.one("description")?.unwrap_or("").trim().to_owned();
    if description.is_empty() {
        errors.push("description wajib diisi / description is required".into());
    } else if description.chars().count() > MAX_DESCRIPTION {
        errors.push(format!(
            "description maksimal {MAX_DESCRIPTION} karakter / description may have at most \
             {MAX_DESCRIPTION} characters"
        ));
    } else if has_html(&description) {
        errors
            .push("description tidak boleh berisi HTML / description must not contain HTML".into());
    }
    let media_url = body.one("media_url")?.map(str::trim);
    if let Some(m) = media_url {
        let ok = m.len() <= 2000
            && url::Url::parse(m).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            errors.push(
                "media_url harus berupa URL http(s) / media_url must be an http(s) URL".into(),
            );
        }
    }
    for name in ["first_name", "last_name"] {
        if body.one(name)?.is_some_and(|v| v.chars().count() > 100) {
            errors.push(format!(
                "{name} maksimal 100 karakter / {name} may have at most 100 characters"
            ));
        }
    }
    for name in ["device_id", "account_id"] {
        if body.one(name)?.is_some_and(|v| v.chars().count() > 200) {
            errors.push(format!(
                "{name} maksimal 200 karakter / {name} may have at most 200 characters"
            ));
        }
    }

    // LAPOR! fields come as attributes of the service definition.
    let attributes = body.attributes()?;
    let mut kind = ReportKind::Complaint;
    let mut title = None;
    let (mut anonymous, mut confidential) = (false, false);
    for (code, values) in &attributes {
        if values.len() > 1 {
            errors.push(format!(
                "attribute[{code}] hanya menerima satu nilai / attribute[{code}] takes one value"
            ));
            continue;
        }
        let v = values[0].as_str();
        match code.as_str() {
            "kind" => match services::kind_of(v) {
                Some(k) => kind = k,
                None => errors.push(format!(
                    "attribute[kind] {v} tidak dikenal; gunakan complaint, aspiration atau information_request \
                     / attribute[kind] {v} is unknown; use complaint, aspiration or information_request"
                )),
            },
            "title" => title = Some(v.to_owned()),
            "anonymous" => anonymous = parse_bool("anonymous", v, &mut errors),
            "confidential" => confidential = parse_bool("confidential", v, &mut errors),
            other => errors.push(format!(
                "attribute[{other}] tidak dikenal; layanan ini menerima kind, title, anonymous dan confidential / \
                 attribute[{other}] is unknown; this service takes kind, title, anonymous and confidential"
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Open311Error {
            status: axum::http::StatusCode::BAD_REQUEST,
            descriptions: errors,
        });
    }

    let name = [body.one("first_name")?, body.one("last_name")?]
        .into_iter()
        .flatten()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let reporter = Reporter {
        name: (!name.is_empty()).then_some(name),
        phone: body.one("phone")?.map(|s| s.trim().to_owned()),
        email: body.one("email")?.map(|s| s.trim().to_owned()),
    };
    let mut text = description.clone();
    if let Some(m) = media_url {
        text.push_str("\n\nMedia: ");
        text.push_str(m);
    }
    let intake = Intake {
        channel: lapor_schemas::Channel::Open311,
        submitter: Submitter::Citizen { account: None },
        kind,
        title: title.unwrap_or_else(|| title_from(&description)),
        body: text,
        category: Some(service_code.to_owned()),
        agency_id: None,
        region_code: address_id,
        location,
        address,
        incident_date: None,
        anonymous,
        confidential,
        reporter: Some(reporter),
    };
    let created = app.submit(intake).await?;
    if !files.is_empty() {
        app.attach(&created.id, files, "reporter").await?;
    }
    tracing::info!(report.id = %created.id, key.id = %key.id, app = %key.app_name, "open311 request filed");
    let node_name = app.config().node.name.clone();
    Ok(requests_doc(vec![Val::Obj(vec![
        ("service_request_id", Val::s(created.tracking_code.clone())),
        (
            "service_notice",
            Val::s(format!(
                "Laporan diterima {node_name}; diverifikasi paling lambat {} / Report received by {node_name}; \
                 verified by {}",
                created.verification_due_at.to_rfc3339_opts(SecondsFormat::Secs, false),
                created.verification_due_at.to_rfc3339_opts(SecondsFormat::Secs, false)
            )),
        ),
        ("account_id", Val::Null),
    ])]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_description() {
        assert_eq!(
            title_from("Jalan rusak di depan pasar"),
            "Jalan rusak di depan pasar"
        );
        let long = "Lampu jalan di sepanjang Jalan El Tari mati sejak dua minggu dan warga takut melintas pada malam hari";
        let t = title_from(long);
        assert!(t.ends_with("...") && t.chars().count() <= 80, "{t}");
        assert!(has_html("<script>alert(1)</script>"));
        assert!(!has_html("suhu < 5 derajat dan 3<4"));
        assert_eq!(open311_status(ReportStatus::Completed), "closed");
        assert_eq!(open311_status(ReportStatus::Responded), "open");
    }
}
