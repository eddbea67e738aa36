//! The officer console: login, inbox by deadline, report detail with the actions the role and status allow
//! (verify and disposition, hold, archive, raise privacy, acknowledge, follow-up with files, not-authority,
//! re-disposition to another agency, transfer to another node: `transfer.rs`, Ombudsman escalation:
//! `escalation.rs`), logging a report received by phone or WhatsApp, and a dashboard; bulk verification is
//! in `bulk.rs`.
//! Everything is scoped by the service: an officer only ever sees their agency subtree.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use lapor_schemas::api::{LoginRequest, ReportView};
use lapor_schemas::{ArchiveReason, ReportStatus, Role};

use super::citizen::{
    self, filter_of, list_filters, pager, report_details, summary_list, ListParams,
};
use super::forms::{self, WebForm};
use super::html::{
    checkbox, csrf_field, esc, select, textarea_as, url_enc, Errors, Input, PageOpts,
};
use super::{csrf_failed, describe, error_page, page, redirect, Ctx};
use crate::app::{App, AppError, Disposition};
use crate::domain::{Command, UserRef};
use crate::http::extract::SESSION_COOKIE;

pub(super) const OFFICER: PageOpts = PageOpts {
    map: false,
    officer: true,
};

/// The logged-in staff account, or the response to send instead (login page, or 403 for reporters).
pub(super) fn staff(ctx: &Ctx) -> Result<&UserRef, Response> {
    match ctx.viewer.user() {
        Some(u) if u.role.is_staff() => Ok(u),
        Some(_) => Err(error_page(
            ctx,
            &AppError::Forbidden("not staff".into()),
            OFFICER,
        )),
        None => Err(redirect(ctx, "/officer/login", &[])),
    }
}

fn login_page(ctx: &Ctx, username: &str, errors: &Errors, status: StatusCode) -> Response {
    let body = format!(
        r#"<h1>{}</h1>{}<form method="post" action="/officer/login" class="card">{}{}{}<p><button type="submit">{}</button></p></form>"#,
        ctx.t("Masuk petugas", "Officer login"),
        errors.summary(ctx.lang),
        csrf_field(ctx),
        Input {
            name: "username",
            label: ctx.t("Nama pengguna", "Username"),
            value: username,
            kind: "text",
            hint: "",
            required: true,
            attrs: r#"autocomplete="username" autocapitalize="none""#,
        }
        .render(ctx.lang, errors),
        Input {
            name: "password",
            label: ctx.t("Kata sandi", "Password"),
            value: "",
            kind: "password",
            hint: "",
            required: true,
            attrs: r#"autocomplete="current-password""#,
        }
        .render(ctx.lang, errors),
        ctx.t("Masuk", "Log in"),
    );
    page(
        ctx,
        status,
        ctx.t("Masuk petugas", "Officer login"),
        &body,
        OFFICER,
    )
}

/// `GET /officer/login`.
pub async fn login_form(ctx: Ctx) -> Response {
    if ctx.viewer.user().is_some_and(|u| u.role.is_staff()) {
        return redirect(&ctx, "/officer", &[]);
    }
    login_page(&ctx, "", &Errors::default(), StatusCode::OK)
}

/// `POST /officer/login`: opens a session (cookie) and goes to the inbox.
pub async fn login(State(app): State<App>, ctx: Ctx, form: WebForm) -> Response {
    if !ctx.csrf_ok(form.get("csrf")) {
        return csrf_failed(&ctx, "/officer/login");
    }
    let username = form.get("username").to_owned();
    let mut errors = Errors::default();
    if username.is_empty() {
        errors.push("username", "required", "wajib diisi", "is required");
    }
    if form.get("password").is_empty() {
        errors.push("password", "required", "wajib diisi", "is required");
    }
    if !errors.is_empty() {
        return login_page(&ctx, &username, &errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let req = LoginRequest {
        username: username.clone(),
        password: form
            .fields
            .iter()
            .find(|(k, _)| k == "password")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
    };
    match app.login(req).await {
        Ok(token) => {
            let max_age = app.config().http.session_hours * 3600;
            redirect(
                &ctx,
                "/officer",
                &[ctx.cookie(SESSION_COOKIE, &token.token, max_age)],
            )
        }
        Err(AppError::BadCredentials) => {
            errors.push(
                "password",
                "bad_credentials",
                "nama pengguna atau kata sandi salah",
                "wrong username or password",
            );
            login_page(&ctx, &username, &errors, StatusCode::UNAUTHORIZED)
        }
        Err(e) => error_page(&ctx, &e, OFFICER),
    }
}

/// `POST /officer/logout`.
pub async fn logout(State(app): State<App>, ctx: Ctx, form: WebForm) -> Response {
    if !ctx.csrf_ok(form.get("csrf")) {
        return csrf_failed(&ctx, "/officer");
    }
    if let Some(token) = &ctx.session {
        if let Err(e) = app.logout(token).await {
            return error_page(&ctx, &e, OFFICER);
        }
    }
    redirect(&ctx, "/officer/login", &[ctx.cookie(SESSION_COOKIE, "", 0)])
}

/// `GET /officer`: the inbox, open reports by deadline (overdue ones marked), scoped to the account.
pub async fn inbox(State(app): State<App>, ctx: Ctx, Query(p): Query<ListParams>) -> Response {
    let me = match staff(&ctx) {
        Ok(u) => u.clone(),
        Err(r) => return r,
    };
    let limit = 50;
    let mut filter = filter_of(&p, limit);
    if filter.statuses.is_empty() {
        filter.statuses = vec![
            ReportStatus::Submitted,
            ReportStatus::OnHold,
            ReportStatus::Verified,
            ReportStatus::InProgress,
            ReportStatus::Responded,
        ];
    }
    if p.order.is_none() {
        filter.order = crate::domain::ReportOrder::Deadline;
    }
    // The inbox is a worklist, on the hub too: a report that moved to another node is not in it.
    filter.owned_by = Some(app.node_id().to_owned());
    let list = match app.list(&ctx.viewer, filter).await {
        Ok(l) => l,
        Err(e) => return error_page(&ctx, &e, OFFICER),
    };
    let bulk = if me.role == Role::Admin {
        format!(
            r#"<p><a href="/officer/bulk">{}</a></p>"#,
            ctx.t(
                "Verifikasi beberapa laporan sekaligus",
                "Verify several reports at once"
            )
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<h1>{}</h1><p class="hint">{} · {}</p>{bulk}{}<p>{}, {}</p>{}{}"#,
        ctx.t("Kotak masuk", "Inbox"),
        esc(&me.display_name),
        esc(me.agency_id.as_deref().unwrap_or(me.role.as_str())),
        list_filters(&ctx, "/officer", &p, &ReportStatus::ALL),
        super::plural::REPORT.count(ctx.lang, list.total),
        ctx.t("batas waktu terdekat di atas", "nearest deadline first"),
        summary_list(ctx.lang, &list.items, "/officer/reports/"),
        pager(&ctx, "/officer", &p, list.next_offset, limit),
    );
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Kotak masuk", "Inbox"),
        &body,
        OFFICER,
    )
}

pub(super) async fn agency_options(app: &App, ctx: &Ctx) -> Vec<(String, String)> {
    let mut opts = vec![(
        String::new(),
        ctx.t("— Pilih instansi —", "— Choose an agency —")
            .to_owned(),
    )];
    opts.extend(
        app.list_agencies()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.active)
            .map(|a| (a.id, a.name)),
    );
    opts
}

async fn category_options(app: &App, ctx: &Ctx) -> Vec<(String, String)> {
    let mut opts = vec![(String::new(), ctx.t("— Tetap —", "— Keep —").to_owned())];
    opts.extend(
        app.list_categories(&ctx.viewer)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.active)
            .map(|c| match ctx.lang {
                crate::http::error::Lang::Id => (c.id, c.name_id),
                crate::http::error::Lang::En => (c.id, c.name_en),
            }),
    );
    opts
}

/// The action forms the account may use on the report in its status.
async fn action_forms(app: &App, ctx: &Ctx, me: &UserRef, v: &ReportView) -> String {
    let lang = ctx.lang;
    let no_errors = Errors::default();
    let code_q = url_enc(&v.tracking_code);
    let csrf = csrf_field(ctx);
    let admin = me.role == Role::Admin;
    let agency_role = matches!(me.role, Role::Admin | Role::AgencyOfficer);
    let form = |action: &str, title: &str, inner: &str, button: &str| {
        format!(
            r#"<form method="post" action="/officer/reports/{code_q}/{action}" class="card" enctype="multipart/form-data"><h2>{}</h2>{csrf}{inner}<p><button type="submit">{}</button></p></form>"#,
            esc(title),
            esc(button)
        )
    };
    // Every form has a note field; each gets its own id (`f-note-1`, `f-note-2`...).
    let notes = std::sync::atomic::AtomicUsize::new(0);
    let note = |label: &str, required: bool| {
        let n = notes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let id = format!("f-note-{n}");
        textarea_as(lang, &no_errors, "note", &id, label, "", "", required)
    };
    let mut s = String::from(r#"<div class="actions">"#);
    let status = v.status;
    if admin && status == ReportStatus::Submitted {
        let agencies = agency_options(app, ctx).await;
        let cats = category_options(app, ctx).await;
        let mut inner = select(
            lang,
            &no_errors,
            "agency_id",
            ctx.t("Disposisi ke instansi", "Disposition to agency"),
            &agencies,
            v.agency_id.as_deref().unwrap_or(""),
        );
        inner.push_str(&select(
            lang,
            &no_errors,
            "category",
            ctx.t("Kategori", "Category"),
            &cats,
            "",
        ));
        if !v.anonymous {
            inner.push_str(&checkbox(
                "anonymous",
                ctx.t("Jadikan anonim", "Make anonymous"),
                ctx.t(
                    "Identitas pelapor dihapus permanen.",
                    "The reporter's identity is erased for good.",
                ),
                false,
            ));
        }
        if !v.confidential {
            inner.push_str(&checkbox(
                "confidential",
                ctx.t("Jadikan rahasia", "Make confidential"),
                ctx.t(
                    "Laporan disembunyikan dari publik.",
                    "The report is hidden from the public.",
                ),
                false,
            ));
        }
        inner.push_str(&note(
            ctx.t("Catatan untuk instansi", "Note for the agency"),
            false,
        ));
        s.push_str(&form(
            "verify",
            ctx.t("Verifikasi dan disposisi", "Verify and disposition"),
            &inner,
            ctx.t("Verifikasi", "Verify"),
        ));
        s.push_str(&form(
            "hold",
            ctx.t("Tunda: tanya pelapor", "Hold: ask the reporter"),
            &note(
                ctx.t("Pertanyaan untuk pelapor", "Question for the reporter"),
                true,
            ),
            ctx.t("Tunda", "Hold"),
        ));
    }
    if agency_role && status == ReportStatus::Verified {
        s.push_str(&form(
            "acknowledge",
            ctx.t("Terima disposisi", "Acknowledge"),
            &note(ctx.t("Catatan (tidak wajib)", "Note (optional)"), false),
            ctx.t("Terima", "Acknowledge"),
        ));
    }
    if agency_role && matches!(status, ReportStatus::Verified | ReportStatus::InProgress) {
        let mut inner = note(
            ctx.t("Tindak lanjut untuk pelapor", "Follow-up for the reporter"),
            true,
        );
        let _ = write!(
            inner,
            r#"<div class="field"><label for="f-files">{}</label><p class="hint">{}</p><input type="file" id="f-files" name="files" multiple accept="image/jpeg,image/png,application/pdf"></div>"#,
            ctx.t("Lampiran (tidak wajib)", "Attachments (optional)"),
            ctx.t(
                "JPEG, PNG atau PDF, maksimal 4 berkas, 5 MB per berkas.",
                "JPEG, PNG or PDF, at most 4 files of 5 MB each."
            ),
        );
        s.push_str(&form(
            "respond",
            ctx.t("Kirim tindak lanjut", "Post the follow-up"),
            &inner,
            ctx.t("Kirim tindak lanjut", "Post follow-up"),
        ));
        s.push_str(&form(
            "not-authority",
            ctx.t("Bukan wewenang", "Not our authority"),
            &note(ctx.t("Alasan", "Reason"), true),
            ctx.t("Kembalikan ke admin", "Send back to the admin"),
        ));
    }
    if admin && matches!(status, ReportStatus::Verified | ReportStatus::InProgress) {
        let agencies = agency_options(app, ctx).await;
        let mut inner = select(
            lang,
            &no_errors,
            "agency_id",
            ctx.t("Instansi baru", "New agency"),
            &agencies,
            "",
        );
        inner.push_str(&note(ctx.t("Alasan", "Reason"), true));
        s.push_str(&form(
            "transfer",
            ctx.t(
                "Alihkan ke instansi lain",
                "Re-disposition to another agency",
            ),
            &inner,
            ctx.t("Alihkan", "Re-disposition"),
        ));
    }
    if admin && !status.is_terminal() {
        let reasons = [
            ("invalid", ctx.t("Tidak valid", "Invalid")),
            ("duplicate", ctx.t("Duplikat", "Duplicate")),
            ("spam", "Spam"),
        ]
        .map(|(v, l)| (v.to_owned(), l.to_owned()));
        let mut inner = select(
            lang,
            &no_errors,
            "reason",
            ctx.t("Alasan", "Reason"),
            &reasons,
            "invalid",
        );
        inner.push_str(
            &Input {
                name: "duplicate_of",
                label: ctx.t(
                    "Kode laporan asli (untuk duplikat)",
                    "Original's tracking code (for a duplicate)",
                ),
                value: "",
                kind: "text",
                hint: "",
                required: false,
                attrs: "",
            }
            .render(lang, &no_errors),
        );
        inner.push_str(&note(
            ctx.t("Catatan (tidak wajib)", "Note (optional)"),
            false,
        ));
        s.push_str(&form(
            "archive",
            ctx.t("Arsipkan", "Archive"),
            &inner,
            ctx.t("Arsipkan", "Archive"),
        ));
        if !(v.anonymous && v.confidential) {
            let mut inner = String::new();
            if !v.anonymous {
                inner.push_str(&checkbox(
                    "anonymous",
                    ctx.t("Jadikan anonim", "Make anonymous"),
                    ctx.t(
                        "Identitas pelapor dihapus permanen.",
                        "The reporter's identity is erased for good.",
                    ),
                    false,
                ));
            }
            if !v.confidential {
                inner.push_str(&checkbox(
                    "confidential",
                    ctx.t("Jadikan rahasia", "Make confidential"),
                    ctx.t(
                        "Laporan disembunyikan dari publik.",
                        "The report is hidden from the public.",
                    ),
                    false,
                ));
            }
            inner.push_str(&note(
                ctx.t("Catatan (tidak wajib)", "Note (optional)"),
                false,
            ));
            s.push_str(&form(
                "privacy",
                ctx.t("Naikkan privasi", "Raise privacy"),
                &inner,
                ctx.t("Simpan", "Save"),
            ));
        }
    }
    s.push_str("</div>");
    s
}

async fn render_detail(
    app: &App,
    ctx: &Ctx,
    me: &UserRef,
    code: &str,
    notice: Option<(StatusCode, String)>,
) -> Response {
    let (bundle, access) = match app.load_bundle(&ctx.viewer, code, None).await {
        Ok(x) => x,
        Err(e) => return error_page(ctx, &e, OFFICER),
    };
    let view = match app.view_of(&ctx.viewer, &bundle, access).await {
        Ok(v) => v,
        Err(e) => return error_page(ctx, &e, OFFICER),
    };
    let files = &bundle.attachments;
    let mut body = format!(
        r#"<p><a href="/officer">← {}</a></p><h1>{}</h1>"#,
        ctx.t("Kotak masuk", "Inbox"),
        esc(&view.title)
    );
    let status = match &notice {
        Some((st, msg)) => {
            let _ = write!(
                body,
                r#"<div class="alert error" role="alert"><p>{}</p></div>"#,
                esc(msg)
            );
            *st
        }
        None => StatusCode::OK,
    };
    let cat = bundle.category.as_ref().map(|c| match ctx.lang {
        crate::http::error::Lang::Id => c.name_id.clone(),
        crate::http::error::Lang::En => c.name_en.clone(),
    });
    body.push_str(&report_details(
        ctx,
        &view,
        files,
        &format!("/track/{}/files", url_enc(&view.tracking_code)),
        cat.as_deref(),
    ));
    body.push_str(&super::transfer::whereabouts(app, ctx, &view));
    body.push_str(&super::escalation::console_box(app, ctx, me, &view));
    if view.owner_node == app.node_id() {
        body.push_str(&action_forms(app, ctx, me, &view).await);
    }
    body.push_str(&super::transfer::form(app, ctx, me, &view).await);
    page(
        ctx,
        status,
        &view.title,
        &body,
        PageOpts {
            map: view.location.is_some(),
            officer: true,
        },
    )
}

/// `GET /officer/reports/{code}`.
pub async fn detail(State(app): State<App>, ctx: Ctx, Path(code): Path<String>) -> Response {
    let me = match staff(&ctx) {
        Ok(u) => u.clone(),
        Err(r) => return r,
    };
    render_detail(&app, &ctx, &me, &code, None).await
}

/// Builds and runs one console action.
async fn run_action(
    app: &App,
    ctx: &Ctx,
    code: &str,
    action: &str,
    form: &WebForm,
) -> Result<String, AppError> {
    let note = form.get("note").to_owned();
    let opt_note = form.opt("note");
    let raise = |name: &str| form.checked(name).then_some(true);
    let back = format!("/officer/reports/{}", url_enc(code));
    let cmd = match action {
        "verify" => {
            app.verify(
                &ctx.viewer,
                code,
                Disposition {
                    agency_id: form.get("agency_id").to_owned(),
                    category: form.opt("category"),
                    title: None,
                    anonymous: raise("anonymous"),
                    confidential: raise("confidential"),
                    note: opt_note,
                },
            )
            .await?;
            return Ok(back);
        }
        "hold" => Command::Hold { note },
        "acknowledge" => Command::Acknowledge { note: opt_note },
        "respond" => {
            let mut errors = Errors::default();
            let files = forms::check_files(form, "files", &mut errors);
            if !errors.is_empty() {
                return Err(AppError::Validation(errors.0));
            }
            let (report, _) = app
                .act(&ctx.viewer, code, None, Command::Respond { note })
                .await?;
            app.attach(&report.id, files, "staff").await?;
            return Ok(back);
        }
        "not-authority" => {
            app.act(&ctx.viewer, code, None, Command::NotAuthority { note })
                .await?;
            // The report left this officer's scope: back to the inbox.
            return Ok("/officer".into());
        }
        "transfer" => {
            // A re-disposition inside this node: back to the admin queue, then verified to the new agency.
            ctx.viewer.require_role(&[Role::Admin])?;
            let agency = app.agency_target(form.get("agency_id")).await?;
            app.act(
                &ctx.viewer,
                code,
                None,
                Command::NotAuthority { note: note.clone() },
            )
            .await?;
            Command::Verify {
                agency,
                category: None,
                title: None,
                anonymous: None,
                confidential: None,
                note: Some(note),
            }
        }
        "move" => return super::transfer::run(app, ctx, code, form).await,
        "escalate" => {
            app.escalate_early(&ctx.viewer, code, &note).await?;
            return Ok(back);
        }
        "ombudsman" => {
            app.ombudsman_handoff(&ctx.viewer, code).await?;
            return Ok(back);
        }
        "archive" => {
            ctx.viewer.require_role(&[Role::Admin])?;
            let reason = ArchiveReason::parse(form.get("reason")).ok_or_else(|| {
                AppError::Validation(vec![lapor_schemas::problem::FieldError {
                    field: "reason".into(),
                    code: "invalid".into(),
                    message: "pilih alasan / choose a reason".into(),
                }])
            })?;
            let duplicate_of = match form.opt("duplicate_of") {
                Some(k) => Some(app.original_of(&k).await?),
                None => None,
            };
            Command::Archive {
                reason,
                duplicate_of,
                note: opt_note,
            }
        }
        "privacy" => Command::RaisePrivacy {
            anonymous: raise("anonymous"),
            confidential: raise("confidential"),
            note: opt_note,
        },
        _ => return Err(AppError::NotFound("action")),
    };
    app.act(&ctx.viewer, code, None, cmd).await?;
    Ok(back)
}

/// `POST /officer/reports/{code}/{action}`.
pub async fn action(
    State(app): State<App>,
    ctx: Ctx,
    Path((code, action)): Path<(String, String)>,
    form: WebForm,
) -> Response {
    let me = match staff(&ctx) {
        Ok(u) => u.clone(),
        Err(r) => return r,
    };
    if !ctx.csrf_ok(form.get("csrf")) {
        return csrf_failed(&ctx, &format!("/officer/reports/{}", url_enc(&code)));
    }
    match run_action(&app, &ctx, &code, &action, &form).await {
        Ok(to) => redirect(&ctx, &to, &[]),
        Err(e @ AppError::NotFound(_)) => error_page(&ctx, &e, OFFICER),
        Err(e) => {
            let notice = describe(ctx.lang, &e);
            render_detail(&app, &ctx, &me, &code, Some(notice)).await
        }
    }
}

async fn new_page(
    app: &App,
    ctx: &Ctx,
    form: &WebForm,
    errors: &Errors,
    status: StatusCode,
) -> Response {
    let html = citizen::report_form(app, ctx, form, errors, true).await;
    let body = format!(
        "<h1>{}</h1><p class=\"hint\">{}</p>{html}",
        ctx.t(
            "Catat laporan dari telepon atau WhatsApp",
            "Log a report received by phone or WhatsApp"
        ),
        ctx.t(
            "Setelah disimpan, sampaikan kode pelacakan dan kode rahasia kepada pelapor.",
            "After saving, give the tracking code and secret to the reporter."
        ),
    );
    page(
        ctx,
        status,
        ctx.t("Catat laporan", "Log a report"),
        &body,
        PageOpts {
            map: true,
            officer: true,
        },
    )
}

/// The logged-in account if it may log assisted reports, or the response to send instead.
fn assisted_intake(ctx: &Ctx) -> Result<&UserRef, Response> {
    let me = staff(ctx)?;
    if crate::domain::access::logs_assisted(me.role) {
        Ok(me)
    } else {
        Err(error_page(
            ctx,
            &AppError::Forbidden(format!(
                "role {} may not log reports on a citizen's behalf",
                me.role.as_str()
            )),
            OFFICER,
        ))
    }
}

/// `GET /officer/new` (admins and agency officers).
pub async fn new_form(State(app): State<App>, ctx: Ctx) -> Response {
    if let Err(r) = assisted_intake(&ctx) {
        return r;
    }
    new_page(
        &app,
        &ctx,
        &WebForm::default(),
        &Errors::default(),
        StatusCode::OK,
    )
    .await
}

/// `POST /officer/new`: files the report on the citizen's behalf with its channel.
pub async fn log_report(State(app): State<App>, ctx: Ctx, form: WebForm) -> Response {
    if let Err(r) = assisted_intake(&ctx) {
        return r;
    }
    if !ctx.csrf_ok(form.get("csrf")) {
        return csrf_failed(&ctx, "/officer/new");
    }
    match forms::file_report(&app, &ctx.viewer, &form).await {
        Ok((created, files_stored)) => {
            citizen::created_page(&ctx, &created, files_stored, "/officer/reports")
        }
        Err((errors, None)) => {
            new_page(&app, &ctx, &form, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err((_, Some(e))) => error_page(&ctx, &e, OFFICER),
    }
}
