//! Following a report: the lookup by code and secret, the tracking page with the reporter's actions
//! (supplement, reply, accept, rate), and the report's files.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lapor_schemas::api::ReportView;
use lapor_schemas::{ReportStatus, TimelineAction};

use crate::app::{Access, App, AppError, Viewer};
use crate::attachments;
use crate::domain::{AttachmentRecord, Command};
use crate::web::forms::WebForm;
use crate::web::html::{
    badge, csrf_field, esc, textarea, textarea_as, tr, url_enc, Errors, Input, PageOpts,
};
use crate::web::{csrf_failed, error_page, page, redirect, Ctx, TRACK_COOKIE};

use super::*;

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
            r#"<div id="map" hidden data-readonly="1" data-lat="{}" data-lon="{}" data-zoom="15" role="group" aria-label="{}"></div>"#,
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
                // The thumbnail is the display version (at most 1280 px); the link opens the original for
                // staff and the display version for everyone else.
                let _ = write!(
                    s,
                    r#"<a href="{href}"><img src="{href}?size=display" alt="{}" loading="lazy"></a>"#,
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
    notice: Option<(StatusCode, String)>,
) -> Response {
    let secret = ctx.secret_for(code);
    let (bundle, access) = match app.load_bundle(&Viewer::Public, code, secret).await {
        Ok(x) => x,
        Err(e) => return error_page(ctx, &e, PageOpts::default()),
    };
    let view = match app.view_of(&Viewer::Public, &bundle, access).await {
        Ok(v) => v,
        Err(e) => return error_page(ctx, &e, PageOpts::default()),
    };
    let files = &bundle.attachments;
    let lang = ctx.lang;
    let code_q = url_enc(&view.tracking_code);
    let mut body = format!("<h1>{}</h1>", esc(&view.title));
    // The page answers with the notice's status: a refused reply or rating is a 4xx, never a 200.
    let status = notice.as_ref().map_or(StatusCode::OK, |(st, _)| *st);
    if let Some((st, msg)) = notice {
        let ok = st.is_success();
        let _ = write!(
            body,
            r#"<div class="alert {}" role="{}"><p>{}</p></div>"#,
            if ok { "ok" } else { "error" },
            if ok { "status" } else { "alert" },
            esc(&msg)
        );
    }
    let cat = bundle.category.as_ref().map(|c| match lang {
        crate::http::error::Lang::Id => c.name_id.clone(),
        crate::http::error::Lang::En => c.name_en.clone(),
    });
    body.push_str(&report_details(
        ctx,
        &view,
        files,
        &format!("/track/{code_q}/files"),
        cat.as_deref(),
    ));
    body.push_str(&crate::web::transfer::moved_notice(app, ctx, &view));
    body.push_str(&crate::web::escalation::tracking_box(
        app,
        ctx,
        &view,
        access == Access::Reporter,
    ));
    if view.location.is_some()
        && view.anonymous
        && !crate::domain::access::exact_location(access, false, true)
    {
        let _ = write!(
            body,
            r#"<p class="hint">{}</p>"#,
            tr(
                lang,
                "Lokasi laporan anonim ditampilkan dibulatkan sekitar 100 m untuk melindungi pelapor.",
                "The location of an anonymous report is shown rounded to about 100 m to protect the reporter."
            )
        );
    }
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
        status,
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
    // Supplement and reply take photos or documents too (the same checks and metadata stripping as the
    // report form); each form has its own ids so two on one page never share a label.
    let note_form = |action: &str, title: &str, label: &str, button: &str, required: bool| {
        let files = if matches!(action, "supplement" | "reply") {
            let id = format!("f-{action}-files");
            format!(
                r#"<div class="field"><label for="{id}">{}</label><p class="hint" id="{id}-hint">{}</p><input type="file" id="{id}" name="files" multiple accept="image/jpeg,image/png,application/pdf" aria-describedby="{id}-hint"></div>"#,
                tr(lang, "Lampiran (tidak wajib)", "Attachments (optional)"),
                tr(
                    lang,
                    "Foto JPEG/PNG atau PDF, maksimal 4 berkas, 5 MB per berkas. Data lokasi dan kamera di foto dihapus.",
                    "JPEG/PNG photos or PDF, at most 4 files, 5 MB each. Location and camera data in photos are removed."
                ),
            )
        } else {
            String::new()
        };
        let enctype = if files.is_empty() {
            ""
        } else {
            r#" enctype="multipart/form-data""#
        };
        format!(
            r#"<form method="post" action="/track/{code_q}/{action}"{enctype} class="card"><h2>{}</h2>{csrf}{}{files}<p><button type="submit">{}</button></p></form>"#,
            esc(title),
            textarea_as(
                lang,
                &Errors::default(),
                "note",
                &format!("f-{action}-note"),
                label,
                "",
                "",
                required
            ),
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
    if action == "ombudsman" {
        return ombudsman_decision(&app, &ctx, &code, &form).await;
    }
    let note = form.get("note").to_owned();
    // Files go with a supplement or a reply only; they are checked before anything changes, so a refused
    // photo leaves the report as it was and says which file and why.
    let files = if matches!(action.as_str(), "supplement" | "reply") {
        let mut errors = Errors::default();
        let files = crate::web::forms::check_files(&form, "files", &mut errors);
        if let Some(e) = errors.0.first() {
            let msg = crate::web::html::localise(ctx.lang, &e.message);
            return render_track(
                &app,
                &ctx,
                &code,
                Some((StatusCode::UNPROCESSABLE_ENTITY, msg)),
            )
            .await;
        }
        files
    } else {
        Vec::new()
    };
    let cmd = match action.as_str() {
        "supplement" => Command::Supplement { note },
        "reply" => Command::Reply { note },
        "accept" => Command::Accept {
            note: form.opt("note"),
        },
        "rate" => {
            let Ok(score) = form.get("score").parse::<i64>() else {
                let msg = ctx.t("Pilih nilai 1 sampai 5.", "Choose a score from 1 to 5.");
                return render_track(
                    &app,
                    &ctx,
                    &code,
                    Some((StatusCode::UNPROCESSABLE_ENTITY, msg.to_owned())),
                )
                .await;
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
        Ok((report, _)) => {
            if files.is_empty() {
                return redirect(&ctx, &back, &[]);
            }
            match app.attach(&report.id, files, "reporter").await {
                Ok(()) => redirect(&ctx, &back, &[]),
                Err(e) => {
                    // The note is recorded; say that the files were not, rather than hiding it.
                    tracing::error!(report.id = %report.id, error = %e, "storing attachments failed");
                    let msg = ctx.t(
                        "Tanggapan tersimpan, tetapi lampiran gagal disimpan. Coba kirim lampiran lagi.",
                        "Your note was saved but the attachments could not be stored. Try sending them again.",
                    );
                    render_track(
                        &app,
                        &ctx,
                        &code,
                        Some((StatusCode::INTERNAL_SERVER_ERROR, msg.to_owned())),
                    )
                    .await
                }
            }
        }
        Err(e) => {
            let (status, msg) = crate::web::describe(ctx.lang, &e);
            render_track(&app, &ctx, &code, Some((status, msg))).await
        }
    }
}

/// `POST /track/{code}/ombudsman`: the reporter agrees (`consent=yes`) or declines (`consent=no`).
async fn ombudsman_decision(app: &App, ctx: &Ctx, code: &str, form: &WebForm) -> Response {
    let consent = match form.get("consent") {
        "yes" => true,
        "no" => false,
        _ => {
            let msg = ctx.t("Pilih setuju atau tolak.", "Choose to agree or to decline.");
            return render_track(
                app,
                ctx,
                code,
                Some((StatusCode::UNPROCESSABLE_ENTITY, msg.to_owned())),
            )
            .await;
        }
    };
    let secret = ctx.secret_for(code).unwrap_or("").to_owned();
    match app
        .ombudsman_decide(&Viewer::Public, code, &secret, consent)
        .await
    {
        Ok(_) => redirect(ctx, &format!("/track/{}", url_enc(code)), &[]),
        Err(e) => {
            let (status, msg) = crate::web::describe(ctx.lang, &e);
            render_track(app, ctx, code, Some((status, msg))).await
        }
    }
}

/// Query of a file download.
#[derive(Debug, Default, serde::Deserialize)]
pub struct FileQuery {
    /// `display`: the display version (at most 1280 px) of a photo.
    #[serde(default)]
    pub size: Option<String>,
}

/// `GET /track/{code}/files/{sha256}`: an attachment, if the viewer may see the report. Photos come as
/// their display version (`?size=display`, and always for the public and the reporter); staff get the
/// original.
pub async fn attachment(
    State(app): State<App>,
    ctx: Ctx,
    Path((code, sha)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
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
    let (report, access) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(&ctx, &e, PageOpts::default()),
    };
    let files = app.attachments_of(&report.id).await.unwrap_or_default();
    let Some(file) = files.into_iter().find(|f| f.sha256 == sha) else {
        return error_page(&ctx, &AppError::NotFound("file"), PageOpts::default());
    };
    // Staff get the original unless they ask for the display version; everyone else gets the display
    // version of a large photo (the original when it needs none).
    let display = q.size.as_deref() == Some("display") || !access.is_staff();
    let display_path = if display {
        app.display_path(&file).await
    } else {
        None
    };
    let path = display_path.unwrap_or_else(|| app.attachment_path(&file.sha256));
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
