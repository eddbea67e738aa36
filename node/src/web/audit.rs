//! The audit log in the officer console (`/officer/audit`, admins and auditors): the newest lines, filtered by
//! actor, action or target, with a link to the CSV export of the same filter (`/api/v1/audit/export`, which
//! takes the session cookie like every API route).

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::html::{esc, url_enc, PageOpts};
use super::{error_page, page, redirect, Ctx};
use crate::app::{App, AuditQuery};

const OFFICER: PageOpts = PageOpts {
    map: false,
    officer: true,
};

/// Filters of the page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditPageParams {
    /// Only this account id.
    #[serde(default)]
    pub actor: Option<String>,
    /// Only this action.
    #[serde(default)]
    pub action: Option<String>,
    /// Only this target id.
    #[serde(default)]
    pub target: Option<String>,
    /// Older than this line id.
    #[serde(default)]
    pub before: Option<i64>,
    /// Language switch (read by the middleware).
    #[serde(default)]
    pub lang: Option<String>,
}

fn some(s: Option<&String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `GET /officer/audit`.
pub async fn page_audit(
    State(app): State<App>,
    ctx: Ctx,
    Query(p): Query<AuditPageParams>,
) -> Response {
    if ctx.viewer.user().is_none() {
        return redirect(&ctx, "/officer/login", &[]);
    }
    let q = AuditQuery {
        actor: some(p.actor.as_ref()),
        action: some(p.action.as_ref()),
        target: some(p.target.as_ref()),
        since: None,
        until: None,
        before: p.before.filter(|b| *b > 0),
        limit: 100,
    };
    let list = match app.audit_list(&ctx.viewer, &q).await {
        Ok(l) => l,
        Err(e) => return error_page(&ctx, &e, OFFICER),
    };
    let field = |name: &str, label: &str, value: Option<&String>| {
        format!(
            r#"<label>{label} <input name="{name}" value="{}"></label> "#,
            esc(value.map_or("", String::as_str))
        )
    };
    let mut query = String::new();
    for (k, v) in [
        ("actor", &q.actor),
        ("action", &q.action),
        ("target", &q.target),
    ] {
        if let Some(v) = v {
            let _ = write!(
                query,
                "{}{k}={}",
                if query.is_empty() { "?" } else { "&" },
                url_enc(v)
            );
        }
    }
    let mut rows = String::new();
    for e in &list.items {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.at.format("%Y-%m-%d %H:%M:%S").to_string()),
            esc(e.actor_name.as_deref().unwrap_or("—")),
            esc(e.actor_role.as_deref().unwrap_or("")),
            esc(&e.action),
            esc(&format!(
                "{} {}",
                e.target_kind.as_deref().unwrap_or(""),
                e.target_id.as_deref().unwrap_or("")
            )),
            esc(e.detail.as_deref().unwrap_or("")),
            esc(e.ip.as_deref().unwrap_or("")),
        );
    }
    let older = list.next_before.map_or_else(String::new, |b| {
        let sep = if query.is_empty() { "?" } else { "&" };
        format!(
            r#"<p><a href="/officer/audit{query}{sep}before={b}">{}</a></p>"#,
            ctx.t("Lebih lama", "Older")
        )
    });
    let body = format!(
        r#"<h1>{}</h1><p class="hint">{}</p><form method="get" action="/officer/audit" class="card">{}{}{}<button type="submit">{}</button></form><p><a class="button" href="/api/v1/audit/export{query}">{}</a></p><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{rows}</tbody></table>{older}"#,
        ctx.t("Log audit", "Audit log"),
        ctx.t(
            "Siapa melakukan apa, kapan dan dari mana: tindakan petugas dan admin, perubahan akun, dan setiap pembacaan identitas pelapor. Baris tidak dapat diubah atau dihapus.",
            "Who did what, when and from where: officer and admin actions, account changes and every read of a reporter's identity. Lines cannot be changed or deleted."
        ),
        field("actor", ctx.t("Akun (id)", "Account (id)"), q.actor.as_ref()),
        field("action", ctx.t("Tindakan", "Action"), q.action.as_ref()),
        field("target", ctx.t("Sasaran (id)", "Target (id)"), q.target.as_ref()),
        ctx.t("Saring", "Filter"),
        ctx.t("Unduh CSV", "Download CSV"),
        ctx.t("Waktu", "Time"),
        ctx.t("Pelaku", "Actor"),
        ctx.t("Peran", "Role"),
        ctx.t("Tindakan", "Action"),
        ctx.t("Sasaran", "Target"),
        ctx.t("Rincian", "Detail"),
        ctx.t("Alamat", "Address"),
    );
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Log audit", "Audit log"),
        &body,
        OFFICER,
    )
}
