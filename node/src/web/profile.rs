//! `/officer/profile`: the logged-in staff member's own contact (the email address their notices go to, a
//! phone number) and whether they receive notices. Saved through [`App::update_user`], so the API and the
//! console validate the same way.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use lapor_schemas::api::{UpdateUser, User};

use super::forms::WebForm;
use super::html::{checkbox, csrf_field, esc, Errors, Input, PageOpts};
use super::{csrf_failed, error_page, page, redirect, Ctx};
use crate::app::{App, AppError};

const OFFICER: PageOpts = PageOpts {
    map: false,
    officer: true,
};

fn profile_page(
    ctx: &Ctx,
    user: &User,
    email: &str,
    phone: &str,
    errors: &Errors,
    saved: bool,
    status: StatusCode,
) -> Response {
    let notice = if saved {
        format!(
            r#"<p class="notice" role="status">{}</p>"#,
            ctx.t("Profil disimpan.", "Profile saved.")
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<h1>{}</h1>{notice}{}<p>{}: <strong>{}</strong></p><form method="post" action="/officer/profile" class="card">{}{}{}{}<p><button type="submit">{}</button></p></form>"#,
        ctx.t("Profil saya", "My profile"),
        errors.summary(ctx.lang),
        ctx.t("Akun", "Account"),
        esc(&user.username),
        csrf_field(ctx),
        Input {
            name: "email",
            label: ctx.t("Email untuk pemberitahuan", "Email for notices"),
            value: email,
            kind: "email",
            hint: ctx.t(
                "Laporan baru yang didisposisikan ke instansi Anda, tenggat yang mendekat dan yang terlewat. Kosongkan untuk menghapus.",
                "New reports dispositioned to your agency, deadlines near and missed. Leave empty to remove.",
            ),
            required: false,
            attrs: r#"autocomplete="email" maxlength="254""#,
        }
        .render(ctx.lang, errors),
        Input {
            name: "phone",
            label: ctx.t("Nomor telepon", "Phone number"),
            value: phone,
            kind: "tel",
            hint: ctx.t("8 sampai 16 angka, mis. 0813 3900 1122", "8 to 16 digits, e.g. 0813 3900 1122"),
            required: false,
            attrs: r#"autocomplete="tel" maxlength="24""#,
        }
        .render(ctx.lang, errors),
        checkbox(
            "notices",
            ctx.t("Terima email pemberitahuan", "Receive notice emails"),
            ctx.t(
                "Matikan untuk berhenti menerima email; tautan berhenti berlangganan di setiap email melakukan hal yang sama.",
                "Turn off to stop the emails; the unsubscribe link in every email does the same.",
            ),
            user.notices,
        ),
        ctx.t("Simpan", "Save"),
    );
    page(
        ctx,
        status,
        ctx.t("Profil saya", "My profile"),
        &body,
        OFFICER,
    )
}

/// The query of the profile page: `?saved=1` after saving.
#[derive(Debug, serde::Deserialize)]
pub struct ProfileQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /officer/profile`.
pub async fn form(State(app): State<App>, ctx: Ctx, Query(q): Query<ProfileQuery>) -> Response {
    if ctx.viewer.user().is_none() {
        return redirect(&ctx, "/officer/login", &[]);
    }
    match app.me(&ctx.viewer).await {
        Ok(user) => {
            let (email, phone) = (
                user.email.clone().unwrap_or_default(),
                user.phone.clone().unwrap_or_default(),
            );
            let saved = q.saved.is_some();
            profile_page(
                &ctx,
                &user,
                &email,
                &phone,
                &Errors::default(),
                saved,
                StatusCode::OK,
            )
        }
        Err(e) => error_page(&ctx, &e, OFFICER),
    }
}

/// `POST /officer/profile`: saves the contact and the notices switch.
pub async fn save(State(app): State<App>, ctx: Ctx, form: WebForm) -> Response {
    let Some(me) = ctx.viewer.user().cloned() else {
        return redirect(&ctx, "/officer/login", &[]);
    };
    if !ctx.csrf_ok(form.get("csrf")) {
        return csrf_failed(&ctx, "/officer/profile");
    }
    let req = UpdateUser {
        email: Some(form.get("email").to_owned()),
        phone: Some(form.get("phone").to_owned()),
        notices: Some(!form.get("notices").is_empty()),
        ..UpdateUser::default()
    };
    match app.update_user(&ctx.viewer, &me.id, req).await {
        Ok(_) => redirect(&ctx, "/officer/profile?saved=1", &[]),
        Err(AppError::Validation(errors)) => match app.me(&ctx.viewer).await {
            Ok(user) => profile_page(
                &ctx,
                &user,
                form.get("email"),
                form.get("phone"),
                &Errors(errors),
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Err(e) => error_page(&ctx, &e, OFFICER),
        },
        Err(e) => error_page(&ctx, &e, OFFICER),
    }
}
