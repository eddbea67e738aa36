//! Filing a report on the portal: the form (also used by the officer console to log a call), and the page
//! with the tracking code and secret.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lapor_schemas::api::CreatedReport;
use lapor_schemas::ReportKind;

use crate::app::{App, Viewer};
use crate::http::error::Lang;
use crate::web::forms::{self, WebForm};
use crate::web::html::{
    checkbox, csrf_field, esc, select, textarea, tr, url_enc, Errors, Input, PageOpts,
};
use crate::web::{csrf_failed, error_page, page, Ctx, TRACK_COOKIE};

use super::*;

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
    // `assets/draft.js` keeps what is typed in this browser and sends it when the connection is back; the
    // messages it shows are written here in the page language.
    let mut s = format!(
        r#"{}<div id="draft-status" class="alert info" role="status" aria-live="polite" hidden data-restored="{}" data-unsent="{}" data-offline="{}" data-sending="{}"></div><form method="post" action="{action}" enctype="multipart/form-data" novalidate data-draft="{}">{}"#,
        errors.summary(lang),
        esc(tr(
            lang,
            "Isian yang belum terkirim dipulihkan dari perangkat ini. Periksa lalu tekan Kirim laporan.",
            "What you typed before was restored from this device. Check it, then press Send report."
        )),
        esc(tr(
            lang,
            "Laporan ini belum terkirim karena koneksi terputus. Isian dipulihkan; pilih lagi foto Anda, lalu tekan Kirim laporan.",
            "This report was not sent because the connection dropped. What you typed is restored; choose your photos again, then press Send report."
        )),
        esc(tr(
            lang,
            "Tidak ada koneksi. Laporan Anda disimpan di perangkat ini dan akan dikirim otomatis saat koneksi kembali. Biarkan halaman ini terbuka.",
            "No connection. Your report is kept on this device and will be sent by itself when the connection is back. Keep this page open."
        )),
        esc(tr(lang, "Koneksi tersambung, laporan sedang dikirim…", "Connected, sending your report…")),
        if officer { "officer-new" } else { "report" },
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
    let map_attrs =
        crate::web::map_view::MapView::for_node(app.config(), app.node().router.boundaries())
            .data_attrs();
    let _ = write!(
        s,
        r#"<fieldset><legend>{legend}</legend><p class="hint">{hint}</p><div id="map" hidden {map_attrs} role="application" aria-label="{label}"></div><p class="hint" id="map-status" aria-live="polite" data-done="{done}"></p><div class="row">"#,
        legend = tr(lang, "Lokasi", "Location"),
        hint = tr(
            lang,
            "Ketuk peta untuk menandai lokasi, atau isi lintang/bujur, alamat, atau kode wilayah. Semua tidak wajib.",
            "Tap the map to drop a pin, or fill in latitude/longitude, an address or a region code. All optional."
        ),
        label = tr(lang, "Peta lokasi kejadian", "Map of the location"),
        done = tr(lang, "Lokasi ditandai:", "Pin placed:"),
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
            "Foto JPEG/PNG atau dokumen PDF, maksimal 4 berkas, 5 MB per berkas. Data lokasi dan perangkat di dalam foto (EXIF) serta metadata dokumen PDF (penulis, aplikasi, tanggal) dihapus sebelum disimpan.",
            "JPEG/PNG photos or PDF documents, at most 4 files of 5 MB each. Location and device data inside photos (EXIF) and PDF document metadata (author, application, dates) are removed before storing."
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
    crate::web::push_cookie(
        resp.headers_mut(),
        &ctx.cookie(
            TRACK_COOKIE,
            &format!("{}:{}", c.tracking_code, c.tracking_secret),
            30 * 24 * 3600,
        ),
    );
    resp
}
