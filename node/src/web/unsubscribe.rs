//! `/notifications/unsubscribe?r=<report id>&t=<token>`: the link in reporters' emails (`?u=<account id>`
//! in officers' notices: the account's notices stop, `/officer/profile` turns them on again). Opening it
//! unsubscribes (the signed token is the proof; no login, no form); `POST` is the RFC 8058 one-click
//! request mail providers send for the `List-Unsubscribe` header.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::html::PageOpts;
use super::{page, Ctx};
use crate::app::{App, AppError};

/// The link's parameters.
#[derive(Debug, Deserialize)]
pub struct Link {
    r: Option<String>,
    u: Option<String>,
    t: Option<String>,
}

async fn apply(app: &App, link: &Link) -> Result<(), AppError> {
    match (&link.r, &link.u, &link.t) {
        (Some(r), None, Some(t)) => app.unsubscribe(r, t).await,
        (None, Some(u), Some(t)) => app.unsubscribe_account(u, t).await,
        _ => Err(AppError::NotFound("report")),
    }
}

/// `GET /notifications/unsubscribe`.
pub async fn page_get(State(app): State<App>, ctx: Ctx, Query(link): Query<Link>) -> Response {
    match apply(&app, &link).await {
        Ok(()) => page(
            &ctx,
            StatusCode::OK,
            ctx.t("Berhenti berlangganan", "Unsubscribed"),
            &format!(
                "<h1>{}</h1><p>{}</p>",
                ctx.t("Anda telah berhenti berlangganan", "You have unsubscribed"),
                if link.u.is_some() {
                    ctx.t(
                        "Akun Anda tidak akan menerima email pemberitahuan lagi. Anda dapat menyalakannya kembali di halaman profil konsol petugas.",
                        "Your account will receive no more notice emails. You can turn them on again on the officer console's profile page."
                    )
                } else {
                    ctx.t(
                        "Kami tidak akan mengirim email lagi tentang laporan ini. Anda tetap dapat mengikuti laporan di halaman pelacakan.",
                        "We will send no more email about this report. You can still follow it on the tracking page."
                    )
                }
            ),
            PageOpts::default(),
        ),
        Err(AppError::NotFound(_)) => page(
            &ctx,
            StatusCode::NOT_FOUND,
            ctx.t("Tautan tidak berlaku", "Link not valid"),
            &format!(
                "<h1>{}</h1><p>{}</p>",
                ctx.t("Tautan tidak berlaku", "Link not valid"),
                ctx.t(
                    "Tautan berhenti berlangganan ini tidak lengkap atau tidak berlaku. Salin seluruh tautan dari email Anda.",
                    "This unsubscribe link is incomplete or not valid. Copy the whole link from your email."
                )
            ),
            PageOpts::default(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe failed");
            page(
                &ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                ctx.t("Coba lagi", "Try again"),
                &format!(
                    "<h1>{}</h1>",
                    ctx.t("Terjadi gangguan; coba lagi nanti.", "Something went wrong; try again later.")
                ),
                PageOpts::default(),
            )
        }
    }
}

/// `POST /notifications/unsubscribe` (one-click).
pub async fn one_click(State(app): State<App>, Query(link): Query<Link>) -> Response {
    match apply(&app, &link).await {
        Ok(()) => (StatusCode::OK, "berhenti berlangganan / unsubscribed\n").into_response(),
        Err(AppError::NotFound(_)) => (
            StatusCode::NOT_FOUND,
            "tautan tidak berlaku / link not valid\n",
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
