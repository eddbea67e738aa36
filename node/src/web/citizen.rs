//! The citizen portal: submit, track (with the secret: supplement, reply, accept, rate), public list and
//! search, public statistics, attachments.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use lapor_schemas::api::{CreatedReport, ReportView, Stats};
use lapor_schemas::{ReportKind, ReportStatus, TimelineAction};
use serde::Deserialize;

use super::forms::{self, WebForm};
use super::html::{
    badge, checkbox, csrf_field, esc, select, status_label, textarea, tr, url_enc, Errors, Input,
    PageOpts,
};
use super::{csrf_failed, error_page, page, redirect, Ctx, TRACK_COOKIE};
use crate::app::{parse_order, Access, App, AppError, Viewer};
use crate::attachments;
use crate::domain::{AttachmentRecord, Command, ReportFilter};
use crate::http::error::Lang;

/// A time in the node's zone, with the Indonesian zone name.
pub fn fmt_time(t: &DateTime<FixedOffset>) -> String {
    let zone = match t.offset().local_minus_utc() {
        25_200 => "WIB",
        28_800 => "WITA",
        32_400 => "WIT",
        _ => "",
    };
    format!("{} {zone}", t.format("%d-%m-%Y %H:%M"))
}

/// Kind label in the page language.
pub fn kind_label(lang: Lang, k: ReportKind) -> &'static str {
    match (lang, k) {
        (Lang::Id, _) => k.label_id(),
        (Lang::En, ReportKind::Complaint) => "Complaint",
        (Lang::En, ReportKind::Aspiration) => "Aspiration",
        (Lang::En, ReportKind::InformationRequest) => "Information request",
    }
}

/// The display name of a category in the page language.
pub async fn category_name(app: &App, lang: Lang, id: Option<&str>) -> Option<String> {
    let id = id?;
    let cats = app.list_categories(&Viewer::Public).await.ok()?;
    cats.into_iter().find(|c| c.id == id).map(|c| match lang {
        Lang::Id => c.name_id,
        Lang::En => c.name_en,
    })
}

/// A timeline entry's label in the page language (the service gives the Indonesian one).
pub fn action_label(lang: Lang, a: TimelineAction, indonesian: &str) -> String {
    if lang == Lang::Id {
        return indonesian.to_owned();
    }
    match a {
        TimelineAction::Created => "Report received",
        TimelineAction::Verified => "Verified and dispositioned",
        TimelineAction::Held => "On hold: waiting for the reporter",
        TimelineAction::Supplemented => "The reporter completed the report",
        TimelineAction::NotAuthority => "Not within the agency's authority",
        TimelineAction::Acknowledged => "Acknowledged by the agency",
        TimelineAction::Responded => "The agency's follow-up",
        TimelineAction::Replied => "The reporter's reply",
        TimelineAction::Accepted => "The reporter accepted the follow-up",
        TimelineAction::Rated => "The reporter's rating",
        TimelineAction::AutoCompleted => "Completed automatically",
        TimelineAction::Archived => "Archived",
        TimelineAction::PrivacyRaised => "Privacy raised",
        TimelineAction::VerificationOverdue => "Verification deadline missed",
        TimelineAction::FollowupOverdue => "Follow-up deadline missed",
        TimelineAction::Escalated => "Flagged for escalation to the Ombudsman",
        TimelineAction::Transferred => "Moved to the office that must act on it",
    }
    .to_owned()
}

/// The public actor names the service gives ("Sistem", "Pelapor", "Instansi") in the page language; staff
/// names pass through.
pub fn actor_label(lang: Lang, actor: &str) -> String {
    match (lang, actor) {
        (Lang::En, "Sistem") => "System".into(),
        (Lang::En, "Pelapor") => "Reporter".into(),
        (Lang::En, "Instansi") => "Agency".into(),
        _ => actor.to_owned(),
    }
}

/// `GET /`: what LAPOR! is, the two main actions, the latest public reports.
pub async fn home(State(app): State<App>, ctx: Ctx) -> Response {
    let latest = app
        .list(
            &Viewer::Public,
            ReportFilter {
                limit: 5,
                ..ReportFilter::default()
            },
        )
        .await;
    let mut body = format!(
        r#"<h1>{}</h1><p>{}</p><p><a class="button" href="/report">{}</a> <a class="button secondary" href="/track">{}</a></p>"#,
        ctx.t("Sampaikan laporan Anda", "Tell the government what needs fixing"),
        ctx.t(
            "Pengaduan, aspirasi atau permintaan informasi tentang pelayanan publik. Laporan diverifikasi dalam 3 hari kerja dan instansi wajib menindaklanjuti dalam 5 hari kerja.",
            "Complaints, suggestions or requests for information about public services. Reports are verified within 3 working days and the agency must follow up within 5 working days."
        ),
        ctx.t("Buat laporan", "Make a report"),
        ctx.t("Lacak laporan", "Track a report"),
    );
    if let Ok(page_) = latest {
        let _ = write!(
            body,
            "<h2>{}</h2>",
            ctx.t("Laporan terbaru", "Latest reports")
        );
        body.push_str(&summary_list(ctx.lang, &page_.items, "/track/"));
        let _ = write!(
            body,
            r#"<p><a href="/reports">{}</a> · <a href="/stats">{}</a></p>"#,
            ctx.t("Semua laporan publik", "All public reports"),
            ctx.t("Statistik", "Statistics")
        );
    }
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Beranda", "Home"),
        &body,
        PageOpts::default(),
    )
}

/// A list of report summaries linking to `link_base` + code.
pub fn summary_list(
    lang: Lang,
    items: &[lapor_schemas::api::ReportSummary],
    link_base: &str,
) -> String {
    if items.is_empty() {
        return format!(
            "<p>{}</p>",
            tr(lang, "Belum ada laporan.", "No reports yet.")
        );
    }
    let mut s = String::from(r#"<ul class="list">"#);
    for r in items {
        let _ = write!(
            s,
            r#"<li><a href="{}{}"><strong>{}</strong></a><p class="meta">{}{} · {} · {} · {}{}</p></li>"#,
            link_base,
            url_enc(&r.tracking_code),
            esc(&r.title),
            badge(lang, r.status),
            if r.overdue {
                format!(
                    r#" <span class="badge overdue">{}</span>"#,
                    tr(lang, "Terlambat", "Overdue")
                )
            } else {
                String::new()
            },
            esc(&r.tracking_code),
            esc(kind_label(lang, r.kind)),
            fmt_time(&r.submitted_at),
            r.due_at
                .map(|d| format!(" · {} {}", tr(lang, "batas", "due"), fmt_time(&d)))
                .unwrap_or_default(),
        );
    }
    s.push_str("</ul>");
    s
}

/// Renders the report form (citizen or officer) with the values and errors of `form`.
pub async fn report_form(
    app: &App,
    ctx: &Ctx,
    form: &WebForm,
    errors: &Errors,
    officer: bool,
) -> String {
    let lang = ctx.lang;
    let cats = app
        .list_categories(&Viewer::Public)
        .await
        .unwrap_or_default();
    let agencies = app.list_agencies().await.unwrap_or_default();
    let mut cat_opts = vec![(
        String::new(),
        tr(lang, "— Pilih kategori —", "— Choose a category —").to_owned(),
    )];
    cat_opts.extend(cats.iter().map(|c| {
        (
            c.id.clone(),
            match lang {
                Lang::Id => c.name_id.clone(),
                Lang::En => c.name_en.clone(),
            },
        )
    }));
    let mut agency_opts = vec![(
        String::new(),
        tr(
            lang,
            "Tidak tahu (admin akan meneruskan ke instansi yang tepat)",
            "Don't know (the admin will forward it to the right agency)",
        )
        .to_owned(),
    )];
    agency_opts.extend(
        agencies
            .iter()
            .filter(|a| a.active)
            .map(|a| (a.id.clone(), a.name.clone())),
    );
    let kind_now = if form.get("kind").is_empty() {
        "complaint"
    } else {
        form.get("kind")
    };
    let action = if officer { "/officer/new" } else { "/report" };
    let mut s = format!(
        r#"{}<form method="post" action="{action}" enctype="multipart/form-data" novalidate>{}"#,
        errors.summary(lang),
        csrf_field(ctx)
    );
    if officer {
        let channels = [
            ("phone", tr(lang, "Telepon", "Phone")),
            ("whatsapp", "WhatsApp"),
            ("walk_in", tr(lang, "Datang langsung", "Walk-in")),
            ("letter", tr(lang, "Surat", "Letter")),
        ];
        let opts: Vec<(String, String)> = channels
            .iter()
            .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
            .collect();
        s.push_str(&select(
            lang,
            errors,
            "channel",
            tr(lang, "Diterima melalui", "Received by"),
            &opts,
            form.get("channel"),
        ));
    }
    let _ = write!(
        s,
        "<fieldset><legend>{}</legend>",
        tr(lang, "Jenis laporan", "Kind of report")
    );
    for (k, hint_id, hint_en) in [
        (
            ReportKind::Complaint,
            "Layanan publik yang buruk atau tidak berjalan.",
            "A public service that is poor or not working.",
        ),
        (
            ReportKind::Aspiration,
            "Saran atau usulan perbaikan.",
            "A suggestion or proposal.",
        ),
        (
            ReportKind::InformationRequest,
            "Meminta informasi publik.",
            "Asking for public information.",
        ),
    ] {
        let _ = write!(
            s,
            r#"<div class="check"><input type="radio" id="f-kind-{v}" name="kind" value="{v}"{c}><label for="f-kind-{v}">{l}</label><p class="hint">{h}</p></div>"#,
            v = k.as_str(),
            c = if kind_now == k.as_str() {
                " checked"
            } else {
                ""
            },
            l = esc(kind_label(lang, k)),
            h = esc(tr(lang, hint_id, hint_en)),
        );
    }
    s.push_str("</fieldset>");
    s.push_str(
        &Input {
            name: "title",
            label: tr(lang, "Judul laporan", "Title"),
            value: form.get("title"),
            kind: "text",
            hint: tr(
                lang,
                "Ringkas, 5 sampai 200 karakter. Contoh: Jalan berlubang di depan SD Inpres Oebobo",
                "Short, 5 to 200 characters. Example: Pothole in front of the Oebobo primary school",
            ),
            required: true,
            attrs: r#"maxlength="200""#,
        }
        .render(lang, errors),
    );
    s.push_str(&textarea(
        lang,
        errors,
        "body",
        tr(lang, "Isi laporan", "What happened"),
        form.get("body"),
        tr(
            lang,
            "Apa, di mana, kapan, siapa yang terlibat, dan apa yang Anda harapkan.",
            "What, where, when, who was involved, and what you expect.",
        ),
        true,
    ));
    s.push_str(r#"<div class="row">"#);
    s.push_str(&select(
        lang,
        errors,
        "category",
        tr(lang, "Kategori", "Category"),
        &cat_opts,
        form.get("category"),
    ));
    s.push_str(&select(
        lang,
        errors,
        "agency_id",
        tr(lang, "Instansi tujuan (jika tahu)", "Agency (if known)"),
        &agency_opts,
        form.get("agency_id"),
    ));
    s.push_str("</div>");
    s.push_str(
        &Input {
            name: "incident_date",
            label: tr(lang, "Tanggal kejadian", "Date it happened"),
            value: form.get("incident_date"),
            kind: "date",
            hint: "",
            required: false,
            attrs: "",
        }
        .render(lang, errors),
    );
    let _ = write!(
        s,
        r#"<fieldset><legend>{}</legend><p class="hint">{}</p><div id="map" hidden data-lat="-2.5" data-lon="118" data-zoom="4" role="application" aria-label="{}"></div><p class="hint" id="map-status" aria-live="polite" data-done="{}"></p><div class="row">"#,
        tr(lang, "Lokasi", "Location"),
        tr(
            lang,
            "Ketuk peta untuk menandai lokasi, atau isi lintang/bujur, alamat, atau kode wilayah. Semua tidak wajib.",
            "Tap the map to drop a pin, or fill in latitude/longitude, an address or a region code. All optional."
        ),
        tr(lang, "Peta lokasi kejadian", "Map of the location"),
        tr(lang, "Lokasi ditandai:", "Pin placed:"),
    );
    for (name, label) in [
        ("lat", tr(lang, "Lintang", "Latitude")),
        ("lon", tr(lang, "Bujur", "Longitude")),
    ] {
        s.push_str(
            &Input {
                name,
                label,
                value: form.get(name),
                kind: "text",
                hint: "",
                required: false,
                attrs: r#"inputmode="decimal""#,
            }
            .render(lang, errors),
        );
    }
    s.push_str("</div>");
    s.push_str(
        &Input {
            name: "address",
            label: tr(lang, "Alamat atau patokan", "Address or landmark"),
            value: form.get("address"),
            kind: "text",
            hint: "",
            required: false,
            attrs: r#"maxlength="500""#,
        }
        .render(lang, errors),
    );
    s.push_str(
        &Input {
            name: "region_code",
            label: tr(
                lang,
                "Kode wilayah (Kemendagri)",
                "Region code (Kemendagri)",
            ),
            value: form.get("region_code"),
            kind: "text",
            hint: tr(
                lang,
                "Contoh: 53.71 (Kota Kupang)",
                "Example: 53.71 (Kupang City)",
            ),
            required: false,
            attrs: r#"inputmode="decimal""#,
        }
        .render(lang, errors),
    );
    s.push_str("</fieldset>");
    let file_err = errors.of(lang, "files");
    let _ = write!(
        s,
        r#"<div class="field{}"><label for="f-files">{}</label><p class="hint" id="f-files-hint">{}</p>{}<input type="file" id="f-files" name="files" multiple accept="image/jpeg,image/png,application/pdf" aria-describedby="f-files-hint"></div>"#,
        if file_err.is_some() { " invalid" } else { "" },
        tr(lang, "Lampiran (foto atau dokumen)", "Attachments (photos or documents)"),
        tr(
            lang,
            "Foto JPEG/PNG atau dokumen PDF, maksimal 4 berkas, 5 MB per berkas. Data lokasi dan perangkat di dalam foto (EXIF) dihapus sebelum disimpan. Dokumen PDF disimpan apa adanya.",
            "JPEG/PNG photos or PDF documents, at most 4 files of 5 MB each. Location and device data inside photos (EXIF) is removed before storing. PDFs are stored as they are."
        ),
        file_err
            .map(|e| format!(r#"<p class="msg">{}</p>"#, esc(&e)))
            .unwrap_or_default(),
    );
    let _ = write!(
        s,
        "<fieldset><legend>{}</legend>",
        tr(lang, "Privasi", "Privacy")
    );
    s.push_str(&checkbox(
        "anonymous",
        tr(lang, "Anonim: rahasiakan identitas saya", "Anonymous: hide who I am"),
        tr(
            lang,
            "Nama, telepon dan email Anda tidak disimpan sama sekali, juga tidak terlihat oleh instansi. Laporan tetap bisa dilacak dengan kode pelacakan dan kode rahasia.",
            "Your name, phone and e-mail are not stored at all, and the agency never sees them. You can still follow the report with its tracking code and secret.",
        ),
        form.checked("anonymous"),
    ));
    s.push_str(&checkbox(
        "confidential",
        tr(lang, "Rahasia: jangan tampilkan laporan ke publik", "Confidential: do not show the report to the public"),
        tr(
            lang,
            "Isi laporan hanya dilihat oleh petugas yang menanganinya dan oleh Anda (dengan kode rahasia). Laporan tidak muncul di daftar, pencarian maupun statistik publik.",
            "Only the officers handling it and you (with the secret) can read it. It never appears in public lists, search or statistics.",
        ),
        form.checked("confidential"),
    ));
    s.push_str("</fieldset>");
    let _ = write!(
        s,
        r#"<fieldset><legend>{}</legend><p class="hint">{}</p>"#,
        tr(lang, "Identitas pelapor (tidak wajib)", "About you (optional)"),
        tr(
            lang,
            "Membantu petugas menghubungi Anda. Diabaikan bila Anda memilih anonim; tidak pernah ditampilkan ke publik.",
            "Helps officers contact you. Ignored when you choose anonymous; never shown to the public."
        ),
    );
    for (name, label, kind) in [
        ("reporter.name", tr(lang, "Nama", "Name"), "text"),
        (
            "reporter.phone",
            tr(lang, "Nomor telepon", "Phone number"),
            "tel",
        ),
        ("reporter.email", "Email", "email"),
    ] {
        s.push_str(
            &Input {
                name,
                label,
                value: form.get(name),
                kind,
                hint: "",
                required: false,
                attrs: "",
            }
            .render(lang, errors),
        );
    }
    let _ = write!(
        s,
        r#"</fieldset><p><button type="submit">{}</button></p></form>"#,
        tr(lang, "Kirim laporan", "Send report")
    );
    s
}

/// `GET /report`: the empty form.
pub async fn new_report(State(app): State<App>, ctx: Ctx) -> Response {
    let form = report_form(&app, &ctx, &WebForm::default(), &Errors::default(), false).await;
    let body = format!("<h1>{}</h1>{form}", ctx.t("Buat laporan", "Make a report"));
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Buat laporan", "Make a report"),
        &body,
        PageOpts {
            map: true,
            officer: false,
        },
    )
}

/// `POST /report`: files the report, or shows the form again with what is wrong.
pub async fn submit_report(State(app): State<App>, ctx: Ctx, form: WebForm) -> Response {
    if !ctx.csrf_ok(form.get("csrf")) {
        return csrf_failed(&ctx, "/report");
    }
    // A citizen's report is filed as the public, even if a staff session cookie is around.
    match forms::file_report(&app, &Viewer::Public, &form).await {
        Ok((created, files_stored)) => created_page(&ctx, &created, files_stored, "/track"),
        Err((errors, None)) => {
            let html = report_form(&app, &ctx, &form, &errors, false).await;
            let body = format!("<h1>{}</h1>{html}", ctx.t("Buat laporan", "Make a report"));
            page(
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                ctx.t("Buat laporan", "Make a report"),
                &body,
                PageOpts {
                    map: true,
                    officer: false,
                },
            )
        }
        Err((_, Some(e))) => error_page(&ctx, &e, PageOpts::default()),
    }
}

/// The page after filing: code and secret, how to keep them. Also remembers them in a cookie so the
/// citizen can go straight to tracking.
pub fn created_page(
    ctx: &Ctx,
    c: &CreatedReport,
    files_stored: bool,
    track_base: &str,
) -> Response {
    let text = format!(
        "LAPOR! {}: {} / {}: {}",
        ctx.t("kode pelacakan", "tracking code"),
        c.tracking_code,
        ctx.t("kode rahasia", "secret"),
        c.tracking_secret
    );
    let body = format!(
        r#"<h1>{title}</h1><div class="alert ok" role="status"><p>{intro}</p></div>{files_warning}
<div class="card"><p>{code_l}<br><span class="secret" id="tracking-code">{code}</span></p><p>{secret_l}<br><span class="secret" id="tracking-secret">{secret}</span></p><p>{keep}</p><p>{due_l}: {due}</p>
<p><a class="button secondary" href="mailto:?subject=LAPOR!%20{code_q}&amp;body={text_q}">{mail}</a> <a class="button secondary" href="sms:?body={text_q}">SMS</a></p></div>
<p><a class="button" href="{track_base}/{code_q}">{track}</a></p>"#,
        title = ctx.t("Laporan terkirim", "Report sent"),
        files_warning = if files_stored {
            String::new()
        } else {
            format!(
                r#"<div class="alert error" role="alert"><p>{}</p></div>"#,
                ctx.t(
                    "Lampiran tidak dapat disimpan karena gangguan server. Laporan Anda tetap tersimpan tanpa lampiran.",
                    "The attachments could not be stored because of a server problem. Your report is stored without them."
                )
            )
        },
        intro = ctx.t(
            "Terima kasih. Laporan Anda sudah tersimpan dan akan diverifikasi.",
            "Thank you. Your report is stored and will be verified."
        ),
        code_l = ctx.t("Kode pelacakan", "Tracking code"),
        code = esc(&c.tracking_code),
        secret_l = ctx.t("Kode rahasia", "Secret"),
        secret = esc(&c.tracking_secret),
        keep = ctx.t(
            "Simpan kedua kode ini. Kode rahasia hanya ditampilkan sekali; dengan kode ini Anda dapat melihat laporan rahasia, menjawab tindak lanjut dan memberi penilaian.",
            "Keep both codes. The secret is shown only once; you need it to see a confidential report, reply to the follow-up and rate it."
        ),
        due_l = ctx.t("Batas verifikasi", "Verification due"),
        due = fmt_time(&c.verification_due_at),
        code_q = url_enc(&c.tracking_code),
        text_q = url_enc(&text),
        mail = ctx.t("Kirim ke email saya", "Send to my e-mail"),
        track = ctx.t("Lihat laporan", "View the report"),
    );
    let mut resp = page(
        ctx,
        StatusCode::CREATED,
        ctx.t("Laporan terkirim", "Report sent"),
        &body,
        PageOpts::default(),
    );
    super::push_cookie(
        resp.headers_mut(),
        &ctx.cookie(
            TRACK_COOKIE,
            &format!("{}:{}", c.tracking_code, c.tracking_secret),
            30 * 24 * 3600,
        ),
    );
    resp
}

fn track_box(ctx: &Ctx, code: &str, errors: &Errors) -> String {
    format!(
        r#"{}<form method="post" action="/track" class="card">{}{}{}<p><button type="submit">{}</button></p></form>"#,
        errors.summary(ctx.lang),
        csrf_field(ctx),
        Input {
            name: "code",
            label: ctx.t("Kode pelacakan", "Tracking code"),
            value: code,
            kind: "text",
            hint: ctx.t("Contoh: KPG-7H3K9QX2MA", "Example: KPG-7H3K9QX2MA"),
            required: true,
            attrs: r#"autocapitalize="characters" autocomplete="off""#,
        }
        .render(ctx.lang, errors),
        Input {
            name: "secret",
            label: ctx.t("Kode rahasia (tidak wajib)", "Secret (optional)"),
            value: "",
            kind: "password",
            hint: ctx.t(
                "Diperlukan untuk laporan rahasia dan untuk menjawab atau menilai.",
                "Needed for confidential reports and to reply or rate."
            ),
            required: false,
            attrs: r#"autocomplete="off""#,
        }
        .render(ctx.lang, errors),
        ctx.t("Lacak", "Track"),
    )
}

/// `GET /track`.
pub async fn track_form(ctx: Ctx) -> Response {
    let body = format!(
        "<h1>{}</h1>{}",
        ctx.t("Lacak laporan", "Track a report"),
        track_box(&ctx, "", &Errors::default())
    );
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Lacak laporan", "Track a report"),
        &body,
        PageOpts::default(),
    )
}

/// `POST /track`: checks code (and secret), remembers them, and goes to the report page.
pub async fn track_lookup(State(app): State<App>, ctx: Ctx, form: WebForm) -> Response {
    if !ctx.csrf_ok(form.get("csrf")) {
        return csrf_failed(&ctx, "/track");
    }
    let code = form.get("code").to_owned();
    let secret = form.opt("secret");
    let mut errors = Errors::default();
    if code.is_empty() {
        errors.push("code", "required", "wajib diisi", "is required");
    } else {
        match app.load(&Viewer::Public, &code, secret.as_deref()).await {
            Ok((report, access)) => {
                if secret.is_some() && access != Access::Reporter {
                    errors.push("secret", "invalid", "kode rahasia salah", "wrong secret");
                } else {
                    let cookies = match &secret {
                        Some(s) => vec![ctx.cookie(
                            TRACK_COOKIE,
                            &format!("{}:{s}", report.tracking_code),
                            30 * 24 * 3600,
                        )],
                        None => Vec::new(),
                    };
                    return redirect(
                        &ctx,
                        &format!("/track/{}", url_enc(&report.tracking_code)),
                        &cookies,
                    );
                }
            }
            Err(AppError::NotFound(_)) => errors.push(
                "code",
                "unknown",
                "laporan tidak ditemukan (laporan rahasia hanya dengan kode rahasia yang benar)",
                "report not found (a confidential report only with its right secret)",
            ),
            Err(e) => return error_page(&ctx, &e, PageOpts::default()),
        }
    }
    let body = format!(
        "<h1>{}</h1>{}",
        ctx.t("Lacak laporan", "Track a report"),
        track_box(&ctx, &code, &errors)
    );
    page(
        &ctx,
        StatusCode::UNPROCESSABLE_ENTITY,
        ctx.t("Lacak laporan", "Track a report"),
        &body,
        PageOpts::default(),
    )
}

/// The parts of a report page shared by the citizen and officer views: facts, deadlines, follow-ups,
/// timeline, attachments, map.
pub fn report_details(
    ctx: &Ctx,
    v: &ReportView,
    files: &[AttachmentRecord],
    file_base: &str,
    category_name: Option<&str>,
) -> String {
    let lang = ctx.lang;
    let mut s = format!(
        r#"<p>{} {}{}</p><div class="card"><p class="note">{}</p><dl class="facts"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>"#,
        badge(lang, v.status),
        if v.verification_overdue || v.followup_overdue {
            format!(
                r#" <span class="badge overdue">{}</span>"#,
                tr(lang, "Terlambat", "Overdue")
            )
        } else {
            String::new()
        },
        if v.confidential {
            format!(
                r#" <span class="badge st-archived">{}</span>"#,
                tr(lang, "Rahasia", "Confidential")
            )
        } else {
            String::new()
        },
        esc(&v.body),
        tr(lang, "Kode", "Code"),
        esc(&v.tracking_code),
        tr(lang, "Jenis", "Kind"),
        esc(kind_label(lang, v.kind)),
    );
    let mut fact = |label: &str, value: &str| {
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", esc(label), esc(value));
    };
    if let Some(c) = &v.category {
        fact(tr(lang, "Kategori", "Category"), category_name.unwrap_or(c));
    }
    if let Some(a) = v.agency_name.as_ref().or(v.agency_id.as_ref()) {
        fact(tr(lang, "Instansi", "Agency"), a);
    }
    if let Some(a) = &v.address {
        fact(tr(lang, "Alamat", "Address"), a);
    }
    if let Some(r) = &v.region_code {
        fact(tr(lang, "Wilayah", "Region"), r);
    }
    if let Some(l) = &v.location {
        fact(
            tr(lang, "Koordinat", "Coordinates"),
            &format!("{:.6}, {:.6}", l.lat, l.lon),
        );
    }
    if let Some(d) = &v.incident_date {
        fact(
            tr(lang, "Tanggal kejadian", "Date it happened"),
            &d.format("%d-%m-%Y").to_string(),
        );
    }
    fact(tr(lang, "Dikirim", "Submitted"), &fmt_time(&v.submitted_at));
    let d = &v.deadlines;
    for (label, t) in [
        (
            tr(lang, "Batas verifikasi", "Verification due"),
            &d.verification_due_at,
        ),
        (
            tr(lang, "Batas tindak lanjut", "Follow-up due"),
            &d.followup_due_at,
        ),
        (
            tr(lang, "Selesai otomatis", "Completes by itself"),
            &d.autocomplete_at,
        ),
    ] {
        if let Some(t) = t {
            fact(label, &fmt_time(t));
        }
    }
    if let Some(r) = &v.rating {
        fact(
            tr(lang, "Penilaian", "Rating"),
            &format!(
                "{} / 5{}",
                r.score,
                r.comment
                    .as_ref()
                    .map(|c| format!(" – {c}"))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(rep) = &v.reporter {
        let who = [&rep.name, &rep.phone, &rep.email]
            .iter()
            .filter_map(|x| x.as_deref())
            .collect::<Vec<_>>()
            .join(" · ");
        fact(tr(lang, "Pelapor", "Reporter"), &who);
    } else if v.anonymous {
        fact(
            tr(lang, "Pelapor", "Reporter"),
            tr(lang, "Anonim", "Anonymous"),
        );
    }
    s.push_str("</dl></div>");
    if let Some(l) = &v.location {
        let _ = write!(
            s,
            r#"<div id="map" hidden data-readonly="1" data-lat="{}" data-lon="{}" data-zoom="15" role="img" aria-label="{}"></div>"#,
            l.lat,
            l.lon,
            tr(lang, "Peta lokasi", "Map of the location")
        );
    }
    if !files.is_empty() {
        let _ = write!(
            s,
            r#"<h2>{}</h2><div class="thumbs">"#,
            tr(lang, "Lampiran", "Attachments")
        );
        for f in files {
            let href = format!("{file_base}/{}", f.sha256);
            if f.media_type.starts_with("image/") {
                let _ = write!(
                    s,
                    r#"<a href="{href}"><img src="{href}" alt="{}" loading="lazy"></a>"#,
                    esc(&f.file_name)
                );
            } else {
                let _ = write!(
                    s,
                    r#"<a href="{href}">{} ({} KB)</a>"#,
                    esc(&f.file_name),
                    f.size_bytes / 1024 + 1
                );
            }
        }
        s.push_str("</div>");
    }
    let followups: Vec<_> = v
        .timeline
        .iter()
        .filter(|e| e.action == TimelineAction::Responded)
        .collect();
    if !followups.is_empty() {
        let _ = write!(
            s,
            "<h2>{}</h2>",
            tr(lang, "Tindak lanjut instansi", "The agency's follow-up")
        );
        for e in followups {
            let _ = write!(
                s,
                r#"<div class="followup"><p class="when">{} · {}</p>{}</div>"#,
                fmt_time(&e.at),
                esc(&actor_label(lang, &e.actor)),
                esc(e.note.as_deref().unwrap_or(""))
            );
        }
    }
    let _ = write!(
        s,
        r#"<h2>{}</h2><ol class="timeline">"#,
        tr(lang, "Riwayat", "Timeline")
    );
    for e in &v.timeline {
        let _ = write!(
            s,
            r#"<li><span class="when">{}</span><br><strong>{}</strong> · {}{}</li>"#,
            fmt_time(&e.at),
            esc(&action_label(lang, e.action, &e.label)),
            esc(&actor_label(lang, &e.actor)),
            e.note
                .as_ref()
                .map(|n| format!(r#"<p class="note">{}</p>"#, esc(n)))
                .unwrap_or_default()
        );
    }
    s.push_str("</ol>");
    s
}

async fn render_track(
    app: &App,
    ctx: &Ctx,
    code: &str,
    notice: Option<(bool, String)>,
) -> Response {
    let secret = ctx.secret_for(code);
    let (report, access) = match app.load(&Viewer::Public, code, secret).await {
        Ok(x) => x,
        Err(e) => return error_page(ctx, &e, PageOpts::default()),
    };
    let view = match app.view(&report, access).await {
        Ok(v) => v,
        Err(e) => return error_page(ctx, &e, PageOpts::default()),
    };
    let files = app.attachments_of(&report.id).await.unwrap_or_default();
    let lang = ctx.lang;
    let code_q = url_enc(&view.tracking_code);
    let mut body = format!("<h1>{}</h1>", esc(&view.title));
    if let Some((ok, msg)) = notice {
        let _ = write!(
            body,
            r#"<div class="alert {}" role="{}"><p>{}</p></div>"#,
            if ok { "ok" } else { "error" },
            if ok { "status" } else { "alert" },
            esc(&msg)
        );
    }
    let cat = category_name(app, lang, view.category.as_deref()).await;
    body.push_str(&report_details(
        ctx,
        &view,
        &files,
        &format!("/track/{code_q}/files"),
        cat.as_deref(),
    ));
    if access == Access::Reporter {
        body.push_str(&reporter_actions(ctx, &view));
    } else {
        let _ = write!(
            body,
            r#"<p class="hint">{} <a href="/track">{}</a></p>"#,
            tr(
                lang,
                "Anda pelapornya? Masukkan kode rahasia untuk menjawab atau menilai.",
                "Are you the reporter? Enter your secret to reply or rate."
            ),
            tr(lang, "Masukkan kode rahasia", "Enter the secret")
        );
    }
    page(
        ctx,
        StatusCode::OK,
        &view.title,
        &body,
        PageOpts {
            map: view.location.is_some(),
            officer: false,
        },
    )
}

fn reporter_actions(ctx: &Ctx, v: &ReportView) -> String {
    let lang = ctx.lang;
    let code_q = url_enc(&v.tracking_code);
    let csrf = csrf_field(ctx);
    let note_form = |action: &str, title: &str, label: &str, button: &str, required: bool| {
        format!(
            r#"<form method="post" action="/track/{code_q}/{action}" class="card"><h2>{}</h2>{csrf}{}<p><button type="submit">{}</button></p></form>"#,
            esc(title),
            textarea(lang, &Errors::default(), "note", label, "", "", required),
            esc(button)
        )
    };
    let mut s = String::from(r#"<div class="actions">"#);
    match v.status {
        ReportStatus::OnHold => s.push_str(&note_form(
            "supplement",
            tr(lang, "Lengkapi laporan", "Complete your report"),
            tr(
                lang,
                "Jawaban atas pertanyaan admin",
                "Your answer to the admin's question",
            ),
            tr(lang, "Kirim jawaban", "Send answer"),
            true,
        )),
        ReportStatus::Responded => {
            s.push_str(&note_form(
                "reply",
                tr(lang, "Tanggapi tindak lanjut", "Reply to the follow-up"),
                tr(
                    lang,
                    "Tanggapan Anda (laporan akan dibuka kembali)",
                    "Your reply (the report is reopened)",
                ),
                tr(lang, "Kirim tanggapan", "Send reply"),
                true,
            ));
            s.push_str(&note_form(
                "accept",
                tr(lang, "Terima tindak lanjut", "Accept the follow-up"),
                tr(lang, "Catatan (tidak wajib)", "Note (optional)"),
                tr(lang, "Terima dan selesaikan", "Accept and complete"),
                false,
            ));
        }
        _ => {}
    }
    if matches!(v.status, ReportStatus::Responded | ReportStatus::Completed) && v.rating.is_none() {
        let mut stars = String::new();
        for n in 1..=5 {
            let _ = write!(
                stars,
                r#"<label><input type="radio" name="score" value="{n}"{}> {n}</label>"#,
                if n == 5 { " required" } else { "" }
            );
        }
        let _ = write!(
            s,
            r#"<form method="post" action="/track/{code_q}/rate" class="card"><h2>{}</h2>{csrf}<fieldset class="stars"><legend>{}</legend>{stars}</fieldset>{}<p><button type="submit">{}</button></p></form>"#,
            tr(lang, "Beri penilaian", "Rate the handling"),
            tr(
                lang,
                "Nilai 1 (sangat buruk) sampai 5 (sangat baik)",
                "Score 1 (very poor) to 5 (very good)"
            ),
            textarea(
                lang,
                &Errors::default(),
                "comment",
                tr(lang, "Komentar (tidak wajib)", "Comment (optional)"),
                "",
                "",
                false
            ),
            tr(lang, "Kirim penilaian", "Send rating"),
        );
    }
    s.push_str("</div>");
    s
}

/// `GET /track/{code}`.
pub async fn track_page(State(app): State<App>, ctx: Ctx, Path(code): Path<String>) -> Response {
    render_track(&app, &ctx, &code, None).await
}

/// `POST /track/{code}/{action}`: supplement, reply, accept, rate, with the secret from the cookie.
pub async fn track_action(
    State(app): State<App>,
    ctx: Ctx,
    Path((code, action)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    let back = format!("/track/{}", url_enc(&code));
    if !ctx.csrf_ok(form.get("csrf")) {
        return csrf_failed(&ctx, &back);
    }
    let note = form.get("note").to_owned();
    let cmd = match action.as_str() {
        "supplement" => Command::Supplement { note },
        "reply" => Command::Reply { note },
        "accept" => Command::Accept {
            note: form.opt("note"),
        },
        "rate" => {
            let Ok(score) = form.get("score").parse::<i64>() else {
                let msg = ctx.t("Pilih nilai 1 sampai 5.", "Choose a score from 1 to 5.");
                return render_track(&app, &ctx, &code, Some((false, msg.to_owned()))).await;
            };
            Command::Rate {
                score,
                comment: form.opt("comment"),
            }
        }
        _ => return error_page(&ctx, &AppError::NotFound("action"), PageOpts::default()),
    };
    let secret = ctx.secret_for(&code).map(ToOwned::to_owned);
    match app
        .act(
            &Viewer::Public,
            &code,
            Some(secret.as_deref().unwrap_or("")),
            cmd,
        )
        .await
    {
        Ok(_) => redirect(&ctx, &back, &[]),
        Err(e) => {
            let (_, msg) = super::describe(ctx.lang, &e);
            render_track(&app, &ctx, &code, Some((false, msg))).await
        }
    }
}

/// `GET /track/{code}/files/{sha256}`: an attachment, if the viewer may see the report.
pub async fn attachment(
    State(app): State<App>,
    ctx: Ctx,
    Path((code, sha)): Path<(String, String)>,
) -> Response {
    if !attachments::is_sha256_hex(&sha) {
        return error_page(&ctx, &AppError::NotFound("file"), PageOpts::default());
    }
    let secret = ctx.secret_for(&code);
    // Staff in scope (session cookie) and the reporter (secret cookie) may see files of confidential reports.
    let loaded = match app.load(&ctx.viewer, &code, secret).await {
        Ok(x) => Ok(x),
        Err(AppError::NotFound(_)) => app.load(&Viewer::Public, &code, secret).await,
        Err(e) => Err(e),
    };
    let report = match loaded {
        Ok((r, _)) => r,
        Err(e) => return error_page(&ctx, &e, PageOpts::default()),
    };
    let files = app.attachments_of(&report.id).await.unwrap_or_default();
    let Some(file) = files.into_iter().find(|f| f.sha256 == sha) else {
        return error_page(&ctx, &AppError::NotFound("file"), PageOpts::default());
    };
    let path = app.attachment_path(&file.sha256);
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) => {
            return error_page(
                &ctx,
                &AppError::Internal(anyhow::anyhow!("reading {}: {e}", path.display())),
                PageOpts::default(),
            )
        }
    };
    let disposition = format!(
        "{}; filename=\"{}\"",
        if file.media_type.starts_with("image/") {
            "inline"
        } else {
            "attachment"
        },
        file.file_name.replace('"', "")
    );
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&file.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

/// Query of the public list.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    /// Search words.
    #[serde(default)]
    pub q: Option<String>,
    /// One status id.
    #[serde(default)]
    pub status: Option<String>,
    /// Category id.
    #[serde(default)]
    pub category: Option<String>,
    /// `newest` or `deadline`.
    #[serde(default)]
    pub order: Option<String>,
    /// Page start (anything that is not a number counts as 0).
    #[serde(default)]
    pub offset: Option<String>,
    /// Language switch (read by the middleware).
    #[serde(default)]
    pub lang: Option<String>,
}

fn offset_of(p: &ListParams) -> i64 {
    p.offset
        .as_deref()
        .and_then(|o| o.parse::<i64>().ok())
        .unwrap_or(0)
        .max(0)
}

/// Turns list parameters into a filter (unknown values are ignored rather than refused on a web page).
pub fn filter_of(p: &ListParams, limit: i64) -> ReportFilter {
    ReportFilter {
        statuses: p
            .status
            .as_deref()
            .and_then(ReportStatus::parse)
            .into_iter()
            .collect(),
        category: p.category.clone().filter(|c| !c.is_empty()),
        query: p.q.clone().filter(|q| !q.trim().is_empty()),
        order: parse_order(p.order.as_deref()),
        limit,
        offset: offset_of(p),
        ..ReportFilter::default()
    }
}

/// The search form of a list page.
pub fn list_filters(ctx: &Ctx, action: &str, p: &ListParams, statuses: &[ReportStatus]) -> String {
    let lang = ctx.lang;
    let mut opts = vec![(
        String::new(),
        tr(lang, "Semua status", "Any status").to_owned(),
    )];
    opts.extend(
        statuses
            .iter()
            .map(|s| (s.as_str().to_owned(), status_label(lang, *s).to_owned())),
    );
    format!(
        r#"<form method="get" action="{action}" class="filters" role="search">{}{}<div class="field"><button type="submit">{}</button></div></form>"#,
        Input {
            name: "q",
            label: tr(lang, "Cari", "Search"),
            value: p.q.as_deref().unwrap_or(""),
            kind: "text",
            hint: "",
            required: false,
            attrs: r#"type="search""#,
        }
        .render(lang, &Errors::default()),
        select(
            lang,
            &Errors::default(),
            "status",
            tr(lang, "Status", "Status"),
            &opts,
            p.status.as_deref().unwrap_or("")
        ),
        tr(lang, "Tampilkan", "Show"),
    )
}

/// Links to the previous and next page.
pub fn pager(ctx: &Ctx, base: &str, p: &ListParams, next: Option<i64>, limit: i64) -> String {
    let q = |offset: i64| {
        format!(
            "{base}?q={}&amp;status={}&amp;offset={offset}",
            url_enc(p.q.as_deref().unwrap_or("")),
            url_enc(p.status.as_deref().unwrap_or(""))
        )
    };
    let offset = offset_of(p);
    let mut s = String::from("<p>");
    if offset > 0 {
        let _ = write!(
            s,
            r#"<a href="{}">← {}</a> "#,
            q((offset - limit).max(0)),
            ctx.t("Sebelumnya", "Previous")
        );
    }
    if let Some(n) = next {
        let _ = write!(
            s,
            r#"<a href="{}">{} →</a>"#,
            q(n),
            ctx.t("Berikutnya", "Next")
        );
    }
    s.push_str("</p>");
    s
}

/// `GET /reports`: public list and search (never confidential or archived reports).
pub async fn public_list(
    State(app): State<App>,
    ctx: Ctx,
    Query(p): Query<ListParams>,
) -> Response {
    let limit = 20;
    let result = app.list(&Viewer::Public, filter_of(&p, limit)).await;
    let page_ = match result {
        Ok(x) => x,
        Err(e) => return error_page(&ctx, &e, PageOpts::default()),
    };
    let statuses = [
        ReportStatus::Submitted,
        ReportStatus::Verified,
        ReportStatus::InProgress,
        ReportStatus::Responded,
        ReportStatus::Completed,
    ];
    let body = format!(
        "<h1>{}</h1>{}<p>{} {}</p>{}{}",
        ctx.t("Laporan publik", "Public reports"),
        list_filters(&ctx, "/reports", &p, &statuses),
        page_.total,
        ctx.t("laporan", "reports"),
        summary_list(ctx.lang, &page_.items, "/track/"),
        pager(&ctx, "/reports", &p, page_.next_offset, limit),
    );
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Laporan publik", "Public reports"),
        &body,
        PageOpts::default(),
    )
}

/// Bars of counts, labelled.
pub fn bars(items: &[(String, i64)]) -> String {
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let mut s = String::from(r#"<ul class="bars">"#);
    for (label, n) in items {
        // A <progress> element draws the bar: no inline style, which the content security policy forbids.
        let _ = write!(
            s,
            r#"<li><span>{}</span><progress max="{max}" value="{n}">{n}</progress><span class="n">{n}</span></li>"#,
            esc(label)
        );
    }
    s.push_str("</ul>");
    s
}

/// Key figures and bars of a statistics answer.
pub async fn stats_html(app: &App, ctx: &Ctx, s: &Stats) -> String {
    let lang = ctx.lang;
    let cats = app
        .list_categories(&Viewer::Public)
        .await
        .unwrap_or_default();
    let count_of = |st: ReportStatus| {
        s.by_status
            .iter()
            .find(|c| c.key == st.as_str())
            .map_or(0, |c| c.count)
    };
    let done = count_of(ReportStatus::Completed);
    let mut out = format!(
        r#"<div class="kpis"><div class="kpi"><b>{}</b>{}</div><div class="kpi"><b>{}</b>{}</div><div class="kpi"><b>{}</b>{}</div><div class="kpi"><b>{}</b>{}</div></div>"#,
        s.total,
        tr(lang, "laporan", "reports"),
        done,
        tr(lang, "selesai", "completed"),
        s.overdue,
        tr(lang, "melewati batas waktu", "past their deadline"),
        s.escalated,
        tr(lang, "dieskalasi (60 hari)", "escalated (60 days)"),
    );
    let by_status: Vec<(String, i64)> = ReportStatus::ALL
        .iter()
        .map(|st| (status_label(lang, *st).to_owned(), count_of(*st)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let _ = write!(
        out,
        "<h2>{}</h2>{}",
        tr(lang, "Menurut status", "By status"),
        bars(&by_status)
    );
    let by_cat: Vec<(String, i64)> = s
        .by_category
        .iter()
        .map(|c| {
            let name = cats.iter().find(|x| x.id == c.key).map_or_else(
                || {
                    if c.key == "none" {
                        tr(lang, "Tanpa kategori", "No category").to_owned()
                    } else {
                        c.key.clone()
                    }
                },
                |x| match lang {
                    Lang::Id => x.name_id.clone(),
                    Lang::En => x.name_en.clone(),
                },
            );
            (name, c.count)
        })
        .collect();
    let _ = write!(
        out,
        "<h2>{}</h2>{}",
        tr(lang, "Menurut kategori", "By category"),
        bars(&by_cat)
    );
    out
}

/// `GET /stats`: counts over public reports only.
pub async fn public_stats(State(app): State<App>, ctx: Ctx) -> Response {
    let stats = match app.stats(&Viewer::Public, None).await {
        Ok(s) => s,
        Err(e) => return error_page(&ctx, &e, PageOpts::default()),
    };
    let body = format!(
        "<h1>{}</h1><p class=\"hint\">{}</p>{}",
        ctx.t("Statistik laporan", "Report statistics"),
        ctx.t(
            "Menghitung laporan publik (tanpa laporan rahasia dan yang diarsipkan).",
            "Counts public reports (confidential and archived ones are left out)."
        ),
        stats_html(&app, &ctx, &stats).await
    );
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Statistik", "Statistics"),
        &body,
        PageOpts::default(),
    )
}
