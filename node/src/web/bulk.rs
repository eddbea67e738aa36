//! Bulk verification for admins (`/officer/bulk`): tick several unverified reports, choose the agency, and
//! verify and disposition them at once. Each report goes through `App::verify` on its own, exactly as from
//! its page; the answer lists every report with its own result, so one refusal never hides the others.
//! The form carries the CSRF token like every other console form and works without JavaScript.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lapor_schemas::{ReportStatus, Role};

use super::forms::WebForm;
use super::html::{csrf_field, esc, select, textarea, url_enc, Errors};
use super::officer::{agency_options, staff, OFFICER};
use super::{csrf_failed, describe, error_page, page, Ctx};
use crate::app::{App, AppError, Disposition};
use crate::domain::{ReportFilter, ReportOrder};

/// At most this many reports per submission.
pub const MAX_BULK: usize = 50;

fn admin(ctx: &Ctx) -> Result<(), Response> {
    let me = staff(ctx)?;
    if me.role == Role::Admin {
        Ok(())
    } else {
        Err(error_page(
            ctx,
            &AppError::Forbidden("bulk actions are for admins".into()),
            OFFICER,
        ))
    }
}

async fn render(
    app: &App,
    ctx: &Ctx,
    status: StatusCode,
    results: &str,
    errors: &Errors,
) -> Response {
    let filter = ReportFilter {
        statuses: vec![ReportStatus::Submitted],
        order: ReportOrder::Deadline,
        limit: MAX_BULK as i64,
        ..ReportFilter::default()
    };
    let list = match app.list(&ctx.viewer, filter).await {
        Ok(l) => l,
        Err(e) => return error_page(ctx, &e, OFFICER),
    };
    let mut rows = String::new();
    for r in &list.items {
        let code = esc(&r.tracking_code);
        let _ = write!(
            rows,
            r#"<tr><td><input type="checkbox" name="report" value="{code}" id="b-{code}"></td><td><label for="b-{code}">{code}</label></td><td><a href="/officer/reports/{}">{}</a></td></tr>"#,
            url_enc(&r.tracking_code),
            esc(&r.title),
        );
    }
    let form = if list.items.is_empty() {
        format!(
            r#"<p class="hint">{}</p>"#,
            ctx.t(
                "Tidak ada laporan yang menunggu verifikasi.",
                "No report waits for verification."
            )
        )
    } else {
        format!(
            r#"<form method="post" action="/officer/bulk" class="card" enctype="multipart/form-data">{}<fieldset><legend>{}</legend><table class="bulk"><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>{rows}</tbody></table></fieldset>{}{}<p><button type="submit">{}</button></p></form>"#,
            csrf_field(ctx),
            ctx.t("Laporan yang diverifikasi", "Reports to verify"),
            ctx.t("Pilih", "Select"),
            ctx.t("Kode", "Code"),
            ctx.t("Judul", "Title"),
            select(
                ctx.lang,
                errors,
                "agency_id",
                ctx.t("Disposisi ke instansi", "Disposition to agency"),
                &agency_options(app, ctx).await,
                "",
            ),
            textarea(
                ctx.lang,
                errors,
                "note",
                ctx.t(
                    "Catatan untuk instansi (tidak wajib)",
                    "Note for the agency (optional)"
                ),
                "",
                "",
                false
            ),
            ctx.t("Verifikasi yang dipilih", "Verify the selected"),
        )
    };
    let body = format!(
        r#"<p><a href="/officer">← {}</a></p><h1>{}</h1>{}{results}{form}"#,
        ctx.t("Kotak masuk", "Inbox"),
        ctx.t("Verifikasi massal", "Bulk verification"),
        errors.summary(ctx.lang),
    );
    page(
        ctx,
        status,
        ctx.t("Verifikasi massal", "Bulk verification"),
        &body,
        OFFICER,
    )
}

/// `GET /officer/bulk`.
pub async fn bulk_form(State(app): State<App>, ctx: Ctx) -> Response {
    if let Err(r) = admin(&ctx) {
        return r;
    }
    render(&app, &ctx, StatusCode::OK, "", &Errors::default()).await
}

/// `POST /officer/bulk`: verifies each ticked report, and shows each one's result.
pub async fn bulk_verify(State(app): State<App>, ctx: Ctx, form: WebForm) -> Response {
    if let Err(r) = admin(&ctx) {
        return r;
    }
    if !ctx.csrf_ok(form.get("csrf")) {
        return csrf_failed(&ctx, "/officer/bulk");
    }
    let codes: Vec<String> = form
        .fields
        .iter()
        .filter(|(k, v)| k == "report" && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    let mut errors = Errors::default();
    if codes.is_empty() {
        errors.push(
            "report",
            "required",
            "pilih minimal satu laporan",
            "choose at least one report",
        );
    } else if codes.len() > MAX_BULK {
        errors.push(
            "report",
            "too_many",
            "paling banyak 50 laporan sekaligus",
            "at most 50 reports at once",
        );
    }
    if form.get("agency_id").is_empty() {
        errors.push("agency_id", "required", "wajib diisi", "is required");
    }
    if !errors.is_empty() {
        return render(&app, &ctx, StatusCode::UNPROCESSABLE_ENTITY, "", &errors).await;
    }
    let mut items = String::new();
    let mut failed = 0;
    for code in &codes {
        let outcome = app
            .verify(
                &ctx.viewer,
                code,
                Disposition {
                    agency_id: form.get("agency_id").to_owned(),
                    category: None,
                    title: None,
                    anonymous: None,
                    confidential: None,
                    note: form.opt("note"),
                },
            )
            .await;
        let (class, text) = match outcome {
            Ok(_) => (
                "ok",
                ctx.t(
                    "terverifikasi dan didisposisikan",
                    "verified and dispositioned",
                )
                .to_owned(),
            ),
            Err(e) => {
                failed += 1;
                ("error", describe(ctx.lang, &e).1)
            }
        };
        let _ = write!(
            items,
            r#"<li class="{class}" data-code="{}"><a href="/officer/reports/{}">{}</a>: {}</li>"#,
            esc(code),
            url_enc(code),
            esc(code),
            esc(&text)
        );
    }
    let results = format!(
        r#"<section class="card" aria-labelledby="h-results" role="status"><h2 id="h-results">{}</h2><p>{} {} · {} {}</p><ul class="results">{items}</ul></section>"#,
        ctx.t("Hasil", "Results"),
        codes.len() - failed,
        ctx.t("berhasil", "done"),
        failed,
        ctx.t("gagal", "failed"),
    );
    let status = if failed == 0 {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    render(&app, &ctx, status, &results, &Errors::default()).await
}
