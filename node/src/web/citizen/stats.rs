//! The public statistics page (also embedded in the officer dashboard).

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lapor_schemas::api::Stats;
use lapor_schemas::ReportStatus;

use crate::app::{App, Viewer};
use crate::http::error::Lang;
use crate::web::html::{esc, status_label, tr, PageOpts};
use crate::web::{error_page, page, Ctx};

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
