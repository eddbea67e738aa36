//! The public list and search, with its filters and pager (shared with the officer inbox).

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use lapor_schemas::ReportStatus;
use serde::Deserialize;

use crate::app::{parse_order, App, Viewer};
use crate::domain::ReportFilter;
use crate::web::html::{select, status_label, tr, url_enc, Errors, Input, PageOpts};
use crate::web::{error_page, page, Ctx};

use super::*;

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
        "<h1>{}</h1>{}<p>{}</p>{}{}",
        ctx.t("Laporan publik", "Public reports"),
        list_filters(&ctx, "/reports", &p, &statuses),
        crate::web::plural::REPORT.count(ctx.lang, page_.total),
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
