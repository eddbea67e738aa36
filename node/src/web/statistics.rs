//! The executive dashboard (`/officer/dashboard`), the public statistics page (`/stats`), the printable
//! recap (`/officer/recap/{period}`), kept recaps (`/officer/recaps`) and the CSV of every chart.
//!
//! Both pages show the same recap ([`crate::stats::recap::Recap`]) as the viewer may see it: the public
//! page always as the public (public reports only), the dashboard in the account's scope. Agencies and
//! nodes below the 60% flag come first, in red. Every chart is an SVG drawn here (`web/chart.rs`),
//! followed by its table and a CSV link.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use lapor_schemas::api::Category;
use lapor_schemas::ReportStatus;
use serde::Deserialize;

use super::chart::{self, Bar};
use super::html::{esc, select, status_label, url_enc, Errors, PageOpts};
use super::plural::{RATING, REPORT};
use super::{error_page, page, redirect, Ctx};
use crate::app::{App, AppError, RecapFormat, Viewer};
use crate::http::error::Lang;
use crate::stats::figures::Figures;
use crate::stats::recap::{days, percent, RatedRow, Recap};
use crate::stats::render_csv::field;
use crate::stats::Period;

const OFFICER: PageOpts = PageOpts {
    map: false,
    officer: true,
};

/// Query of the dashboard and the public page.
#[derive(Debug, Default, Deserialize)]
pub struct StatsParams {
    /// First day.
    #[serde(default)]
    pub from: Option<String>,
    /// Last day.
    #[serde(default)]
    pub to: Option<String>,
    /// One agency subtree.
    #[serde(default)]
    pub agency_id: Option<String>,
    /// Language switch.
    #[serde(default)]
    pub lang: Option<String>,
}

impl StatsParams {
    fn agency(&self) -> Option<&str> {
        self.agency_id.as_deref().filter(|a| !a.is_empty())
    }

    fn query(&self, p: &Period) -> String {
        let mut q = format!("from={}&to={}", p.from, p.last_day());
        if let Some(a) = self.agency() {
            let _ = write!(q, "&agency_id={}", url_enc(a));
        }
        q
    }
}

fn trend(lang: Lang, now: i64, before: i64) -> String {
    let diff = now - before;
    let arrow = match diff.signum() {
        1 => "▲",
        -1 => "▼",
        _ => "=",
    };
    format!(
        "{arrow} {diff:+} {}",
        match lang {
            Lang::Id => "dibanding periode sebelumnya",
            Lang::En => "against the previous period",
        }
    )
}

fn kpis(ctx: &Ctx, f: &Figures, prev: &Figures) -> String {
    let t = |id, en| ctx.t(id, en);
    let items: Vec<(String, &str, String)> = vec![
        (
            f.received.to_string(),
            match (ctx.lang, f.received) {
                (Lang::En, 1) => "report received",
                _ => t("laporan diterima", "reports received"),
            },
            trend(ctx.lang, f.received, prev.received),
        ),
        (
            percent(f.handled_permille),
            t("ditindaklanjuti", "followed up"),
            REPORT.count(ctx.lang, f.handled),
        ),
        (
            percent(f.completed_permille),
            t("selesai", "completed"),
            REPORT.count(ctx.lang, f.completed),
        ),
        (
            f.never_answered.to_string(),
            t("tidak ditanggapi", "never answered"),
            String::new(),
        ),
        (
            days(f.to_verification.median),
            t(
                "median hari kerja sampai verifikasi",
                "median working days to verification",
            ),
            format!("p90: {}", days(f.to_verification.p90)),
        ),
        (
            days(f.to_followup.median),
            t(
                "median hari kerja sampai tindak lanjut",
                "median working days to follow-up",
            ),
            format!("p90: {}", days(f.to_followup.p90)),
        ),
        (
            percent(f.verify_deadline.permille()),
            t(
                "diverifikasi dalam 3 hari kerja",
                "verified within 3 working days",
            ),
            String::new(),
        ),
        (
            percent(f.answer_deadline.permille()),
            t(
                "ditanggapi dalam 5 hari kerja",
                "answered within 5 working days",
            ),
            String::new(),
        ),
        (
            f.escalated.to_string(),
            t("dieskalasi (60 hari)", "escalated (60 days)"),
            String::new(),
        ),
        (
            percent(f.satisfied_permille()),
            t("pelapor puas (nilai 4-5)", "satisfied reporters (4-5)"),
            RATING.count(ctx.lang, f.rated),
        ),
    ];
    let mut s = String::from(r#"<div class="kpis">"#);
    for (value, label, note) in items {
        let _ = write!(
            s,
            r#"<div class="kpi"><b>{}</b>{}{}</div>"#,
            esc(&value),
            esc(label),
            if note.is_empty() {
                String::new()
            } else {
                format!(r#"<small class="hint">{}</small>"#, esc(&note))
            }
        );
    }
    s.push_str("</div>");
    s
}

fn rated_table(ctx: &Ctx, rows: &[RatedRow], first: &str) -> String {
    let mut s = format!(
        r#"<div class="table-scroll" tabindex="0"><table><thead><tr><th scope="col">{first}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
        ctx.t("Diterima", "Received"),
        ctx.t("Ditindaklanjuti", "Followed up"),
        ctx.t("Selesai", "Completed"),
        ctx.t("Tidak ditanggapi", "Never answered"),
        ctx.t(
            "Median verifikasi (hari kerja)",
            "Median to verification (working days)"
        ),
        ctx.t(
            "Median tindak lanjut (hari kerja)",
            "Median to follow-up (working days)"
        ),
        ctx.t("Penilaian", "Rating"),
    );
    for r in rows {
        let f = &r.row.figures;
        let _ = write!(
            s,
            r#"<tr{}><th scope="row">{}{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            if r.flagged { r#" class="flag""# } else { "" },
            if r.flagged { "⚑ " } else { "" },
            esc(&r.row.name),
            f.received,
            percent(f.handled_permille),
            percent(f.completed_permille),
            f.never_answered,
            days(f.to_verification.median),
            days(f.to_followup.median),
            r.rating.map_or("-", |x| x.label()),
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

fn count_table(head: (&str, &str), rows: &[(String, i64)]) -> String {
    let mut s = format!(
        r#"<div class="table-scroll" tabindex="0"><table><thead><tr><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
        esc(head.0),
        esc(head.1)
    );
    for (k, n) in rows {
        let _ = write!(s, r#"<tr><th scope="row">{}</th><td>{n}</td></tr>"#, esc(k));
    }
    s.push_str("</tbody></table></div>");
    s
}

fn category_name(lang: Lang, cats: &[Category], key: &str) -> String {
    cats.iter().find(|c| c.id == key).map_or_else(
        || {
            if key == "none" {
                super::html::tr(lang, "Tanpa kategori", "No category").to_owned()
            } else {
                key.to_owned()
            }
        },
        |c| match lang {
            Lang::Id => c.name_id.clone(),
            Lang::En => c.name_en.clone(),
        },
    )
}

fn handled_bars(rows: &[RatedRow]) -> Vec<Bar> {
    rows.iter()
        .filter(|r| r.row.figures.received > 0)
        .take(20)
        .map(|r| Bar {
            label: r.row.name.clone(),
            value: r.row.figures.handled_permille.unwrap_or(0) as f64 / 1000.0,
            text: percent(r.row.figures.handled_permille),
            alert: r.flagged,
        })
        .collect()
}

fn csv_link(ctx: &Ctx, href: &str) -> String {
    format!(
        r#"<p><a class="csv" href="{}" download>{}</a></p>"#,
        esc(href),
        ctx.t("Unduh CSV", "Download CSV")
    )
}

/// The recap as HTML sections; `csv` is the base of the per-chart CSV links (`…/csv/{chart}?{query}`).
pub fn recap_html(ctx: &Ctx, r: &Recap, cats: &[Category], csv: &str, query: &str) -> String {
    let lang = ctx.lang;
    let flag = "60%";
    let mut out = format!(
        r#"<p class="hint">{} <b>{}</b> ({} {} – {}). {}</p>"#,
        ctx.t("Periode", "Period"),
        esc(&r.period.label_id()),
        ctx.t("laporan yang diterima", "reports received"),
        r.period.from.format("%d-%m-%Y"),
        r.period.last_day().format("%d-%m-%Y"),
        ctx.t(
            "Angka dihitung dari laporan yang diterima dalam periode ini, menurut keadaannya sekarang; \"ditindaklanjuti\" berarti instansi sudah memberi tindak lanjut (laporan diarsipkan tidak dihitung).",
            "Figures count the reports received in this period as they stand now; \"followed up\" means the agency posted a follow-up (archived reports are left out)."
        )
    );
    out.push_str(&kpis(ctx, &r.total, &r.previous));

    let flagged: Vec<&RatedRow> = r
        .agencies
        .iter()
        .chain(r.nodes.iter().filter(|_| r.nodes.len() > 1))
        .filter(|a| a.flagged)
        .collect();
    if !flagged.is_empty() {
        let _ = write!(
            out,
            r#"<section class="flagged" aria-labelledby="flagged-h"><h2 id="flagged-h">⚑ {}</h2><ul>"#,
            ctx.t("Di bawah 60% ditindaklanjuti", "Below 60% followed up")
        );
        for a in flagged {
            let _ = write!(
                out,
                "<li><b>{}</b>: {} ({} / {})</li>",
                esc(&a.row.name),
                percent(a.row.figures.handled_permille),
                a.row.figures.handled,
                a.row.figures.received - a.row.figures.archived
            );
        }
        out.push_str("</ul></section>");
    }

    if !r.agencies.is_empty() {
        let _ = write!(
            out,
            "<h2>{}</h2>{}{}{}",
            ctx.t("Tingkat tindak lanjut per instansi", "Share followed up per agency"),
            chart::bars(
                "c-agencies",
                ctx.t("Tingkat tindak lanjut per instansi", "Share followed up per agency"),
                ctx.t(
                    "Batang merah: di bawah 60%. Garis putus-putus: batas 60%. Tabel di bawah memuat angka lengkap.",
                    "Red bars: below 60%. Dashed line: the 60% rule. The table below has every figure."
                ),
                &handled_bars(&r.agencies),
                Some(1.0),
                Some((0.6, flag)),
            ),
            rated_table(ctx, &r.agencies, ctx.t("Instansi", "Agency")),
            csv_link(ctx, &format!("{csv}/agencies?{query}"))
        );
    }

    if r.nodes.len() > 1 || !r.freshness.is_empty() {
        let _ = write!(
            out,
            "<h2>{}</h2>{}{}",
            ctx.t("Per node", "Per node"),
            rated_table(ctx, &r.nodes, ctx.t("Node", "Node")),
            csv_link(ctx, &format!("{csv}/nodes?{query}"))
        );
    }
    if !r.freshness.is_empty() {
        let _ = write!(
            out,
            r#"<h3>{}</h3><div class="table-scroll" tabindex="0"><table><thead><tr><th scope="col">Node</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
            ctx.t("Kesegaran data tiap node", "How fresh each node's data is"),
            ctx.t("Peristiwa terakhir", "Last event"),
            ctx.t("Diterapkan", "Applied"),
            ctx.t("Jeda (detik)", "Lag (seconds)"),
        );
        for f in &r.freshness {
            let _ = write!(
                out,
                r#"<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&f.origin),
                f.head_seq,
                f.applied_at.map_or_else(
                    || "-".to_owned(),
                    |t| {
                        chrono::DateTime::from_timestamp_millis(t).map_or_else(String::new, |d| {
                            d.format("%d-%m-%Y %H:%M UTC").to_string()
                        })
                    },
                ),
                f.applied_at.zip(f.authored_at).map_or_else(
                    || "-".to_owned(),
                    |(a, b)| ((a - b).max(0) / 1000).to_string()
                )
            );
        }
        out.push_str("</tbody></table></div>");
    }

    let daily: Vec<(String, f64)> = r
        .daily
        .iter()
        .map(|(d, n)| (d.format("%d-%m").to_string(), *n as f64))
        .collect();
    let daily_rows: Vec<(String, i64)> = r
        .daily
        .iter()
        .map(|(d, n)| (d.format("%d-%m-%Y").to_string(), *n))
        .collect();
    let _ = write!(
        out,
        "<h2>{}</h2>{}<details><summary>{}</summary>{}</details>{}",
        ctx.t("Laporan diterima per hari", "Reports received per day"),
        chart::line(
            "c-daily",
            ctx.t("Laporan diterima per hari", "Reports received per day"),
            ctx.t(
                "Jumlah laporan per hari dalam periode; tabel di bawah.",
                "Reports per day in the period; table below."
            ),
            &daily
        ),
        ctx.t("Tabel per hari", "Table per day"),
        count_table(
            (ctx.t("Tanggal", "Date"), ctx.t("Diterima", "Received")),
            &daily_rows
        ),
        csv_link(ctx, &format!("{csv}/daily?{query}"))
    );

    let f = &r.total;
    let by_status: Vec<(String, i64)> = [
        (ReportStatus::Submitted, f.unverified),
        (ReportStatus::OnHold, f.on_hold),
        (ReportStatus::Verified, f.dispositioned),
        (ReportStatus::InProgress, f.in_progress),
        (ReportStatus::Responded, f.responded),
        (ReportStatus::Completed, f.completed),
        (ReportStatus::Archived, f.archived),
    ]
    .iter()
    .map(|(s, n)| (status_label(lang, *s).to_owned(), *n))
    .collect();
    out.push_str(&count_section(
        ctx,
        "c-status",
        ctx.t("Menurut status", "By status"),
        ctx.t(
            "Jumlah laporan per status sekarang.",
            "Reports per current status.",
        ),
        ctx.t("Status", "Status"),
        &by_status,
        &format!("{csv}/status?{query}"),
    ));

    let by_cat: Vec<(String, i64)> = f
        .by_category
        .iter()
        .map(|(k, n)| (category_name(lang, cats, k), *n))
        .collect();
    out.push_str(&count_section(
        ctx,
        "c-category",
        ctx.t("Menurut kategori", "By category"),
        ctx.t("Jumlah laporan per kategori.", "Reports per category."),
        ctx.t("Kategori", "Category"),
        &by_cat,
        &format!("{csv}/categories?{query}"),
    ));
    let by_channel: Vec<(String, i64)> = f
        .by_channel
        .iter()
        .map(|(k, n)| (channel_name(ctx.lang, k), *n))
        .collect();
    let by_kind: Vec<(String, i64)> = f
        .by_kind
        .iter()
        .map(|(k, n)| (kind_name(ctx.lang, k), *n))
        .collect();
    let _ = write!(
        out,
        "<h2>{}</h2>{}<h2>{}</h2>{}",
        ctx.t("Menurut kanal", "By channel"),
        count_table(
            (ctx.t("Kanal", "Channel"), ctx.t("Laporan", "Reports")),
            &by_channel
        ),
        ctx.t("Menurut jenis", "By kind"),
        count_table(
            (ctx.t("Jenis", "Kind"), ctx.t("Laporan", "Reports")),
            &by_kind
        ),
    );
    out
}

/// A kind key (`complaint`) as the page language names it.
fn kind_name(lang: Lang, key: &str) -> String {
    serde_json::from_value::<lapor_schemas::ReportKind>(serde_json::Value::String(key.to_owned()))
        .map_or_else(
            |_| key.to_owned(),
            |k| crate::web::citizen::kind_label(lang, k).to_owned(),
        )
}

/// A channel key (`walk_in`) as the page language names it.
fn channel_name(lang: Lang, key: &str) -> String {
    let (id, en) = match key {
        "web" => ("Web", "Web"),
        "api" => ("API", "API"),
        "sms" => ("SMS 1708", "SMS 1708"),
        "open311" => ("Open311", "Open311"),
        "phone" => ("Telepon", "Phone"),
        "whatsapp" => ("WhatsApp", "WhatsApp"),
        "walk_in" => ("Datang langsung", "Walk-in"),
        "letter" => ("Surat", "Letter"),
        other => (other, other),
    };
    match lang {
        Lang::Id => id,
        Lang::En => en,
    }
    .to_owned()
}

/// A heading, its bar chart, the chart's table and its CSV link: one breakdown of the recap.
fn count_section(
    ctx: &Ctx,
    id: &str,
    heading: &str,
    caption: &str,
    column: &str,
    rows: &[(String, i64)],
    csv_href: &str,
) -> String {
    format!(
        "<h2>{heading}</h2>{}{}{}",
        chart::bars(id, heading, caption, &count_bars(rows), None, None),
        count_table((column, ctx.t("Laporan", "Reports")), rows),
        csv_link(ctx, csv_href)
    )
}

fn count_bars(rows: &[(String, i64)]) -> Vec<Bar> {
    rows.iter()
        .map(|(k, n)| Bar {
            label: k.clone(),
            value: *n as f64,
            text: n.to_string(),
            alert: false,
        })
        .collect()
}

fn filter_form(
    ctx: &Ctx,
    action: &str,
    p: &Period,
    agencies: Option<(&[(String, String)], &str)>,
) -> String {
    let mut s = format!(
        r#"<form method="get" action="{action}" class="filters"><div class="field"><label for="f-from">{}</label><input type="date" id="f-from" name="from" value="{}"></div><div class="field"><label for="f-to">{}</label><input type="date" id="f-to" name="to" value="{}"></div>"#,
        ctx.t("Dari", "From"),
        p.from,
        ctx.t("Sampai", "To"),
        p.last_day()
    );
    if let Some((opts, selected)) = agencies {
        s.push_str(&select(
            ctx.lang,
            &Errors::default(),
            "agency_id",
            ctx.t("Instansi", "Agency"),
            opts,
            selected,
        ));
    }
    let _ = write!(
        s,
        r#"<div class="field"><button type="submit">{}</button></div></form>"#,
        ctx.t("Tampilkan", "Show")
    );
    s
}

fn emerging_html(ctx: &Ctx, found: &[crate::stats::emerging::Emerging]) -> String {
    let mut s = format!(
        "<h2>{}</h2><p class=\"hint\">{}</p>",
        ctx.t("Isu yang sedang naik", "Emerging issues"),
        ctx.t(
            "Kategori, wilayah dan kata yang jumlahnya naik tajam dibanding rata-rata periode sebelumnya.",
            "Categories, places and words whose volume rose sharply against the mean of the previous periods."
        )
    );
    if found.is_empty() {
        let _ = write!(s, "<p>{}</p>", ctx.t("Tidak ada.", "None."));
        return s;
    }
    let _ = write!(
        s,
        r#"<div class="table-scroll" tabindex="0"><table><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
        ctx.t("Jenis", "Kind"),
        ctx.t("Isu", "Issue"),
        ctx.t("Periode ini", "This period"),
        ctx.t("Rata-rata sebelumnya", "Mean before"),
        ctx.t("Laporan", "Reports"),
    );
    for e in found.iter().take(20) {
        let links: Vec<String> = e
            .reports
            .iter()
            .map(|c| {
                format!(
                    r#"<a href="/officer/reports/{}">{}</a>"#,
                    url_enc(c),
                    esc(c)
                )
            })
            .collect();
        let _ = write!(
            s,
            r#"<tr><td>{}</td><th scope="row">{}</th><td>{}</td><td>{},{:02}</td><td>{}</td></tr>"#,
            match (e.dimension, ctx.lang) {
                (crate::stats::emerging::Dimension::Category, Lang::Id) => "kategori",
                (crate::stats::emerging::Dimension::Region, Lang::Id) => "wilayah",
                (crate::stats::emerging::Dimension::Word, Lang::Id) => "kata",
                (d, Lang::En) => d.as_str(),
            },
            esc(&e.key),
            e.count,
            e.baseline_centi / 100,
            e.baseline_centi % 100,
            links.join(", ")
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

/// `GET /officer/dashboard`: the executive dashboard over the account's scope (optionally one agency).
pub async fn dashboard(State(app): State<App>, ctx: Ctx, Query(q): Query<StatsParams>) -> Response {
    if !ctx.viewer.is_staff() {
        return match ctx.viewer.user() {
            Some(_) => error_page(&ctx, &AppError::Forbidden("not staff".into()), OFFICER),
            None => redirect(&ctx, "/officer/login", &[]),
        };
    }
    let period = match app.stats_period(q.from.as_deref(), q.to.as_deref()) {
        Ok(p) => p,
        Err(e) => return error_page(&ctx, &e, OFFICER),
    };
    let recap = match app.recap(&ctx.viewer, &period, q.agency()).await {
        Ok(r) => r,
        Err(e) => return error_page(&ctx, &e, OFFICER),
    };
    let cats = app.list_categories(&ctx.viewer).await.unwrap_or_default();
    let mut opts = vec![(
        String::new(),
        ctx.t("Semua instansi", "All agencies").to_owned(),
    )];
    opts.extend(
        recap
            .agencies
            .iter()
            .map(|a| (a.row.key.clone(), a.row.name.clone())),
    );
    opts[1..].sort_by(|a, b| a.1.cmp(&b.1));
    let query = q.query(&period);
    let key = period.key();
    let mut body = format!(
        r#"<h1>{}</h1>{}<p class="actions"><a href="/officer/recap/{k}?{query}">{}</a> · <a href="/api/v1/stats/recap/{k}.pdf?{aq}">PDF</a> · <a href="/api/v1/stats/recap/{k}.csv?{aq}">CSV</a> · <a href="/officer/recaps">{}</a></p>"#,
        ctx.t("Dasbor pimpinan", "Executive dashboard"),
        filter_form(
            &ctx,
            "/officer/dashboard",
            &period,
            Some((&opts, q.agency().unwrap_or("")))
        ),
        ctx.t("Rekap siap cetak", "Printable recap"),
        ctx.t("Rekap tersimpan", "Kept recaps"),
        k = url_enc(&key),
        aq = q
            .agency()
            .map_or_else(String::new, |a| format!("agency_id={}", url_enc(a))),
    );
    body.push_str(&recap_html(
        &ctx,
        &recap,
        &cats,
        "/officer/dashboard/csv",
        &query,
    ));
    if let Ok(found) = app.emerging(&ctx.viewer, &period).await {
        body.push_str(&emerging_html(&ctx, &found));
    }
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Dasbor", "Dashboard"),
        &body,
        OFFICER,
    )
}

/// `GET /stats`: the public statistics page (public reports only).
pub async fn public_stats(
    State(app): State<App>,
    ctx: Ctx,
    Query(q): Query<StatsParams>,
) -> Response {
    let period = match app.stats_period(q.from.as_deref(), q.to.as_deref()) {
        Ok(p) => p,
        Err(e) => return error_page(&ctx, &e, PageOpts::default()),
    };
    let recap = match app.recap(&Viewer::Public, &period, None).await {
        Ok(r) => r,
        Err(e) => return error_page(&ctx, &e, PageOpts::default()),
    };
    let cats = app
        .list_categories(&Viewer::Public)
        .await
        .unwrap_or_default();
    let query = StatsParams::default().query(&period);
    let body = format!(
        "<h1>{}</h1><p class=\"hint\">{}</p>{}{}",
        ctx.t("Statistik laporan", "Report statistics"),
        ctx.t(
            "Menghitung laporan publik (tanpa laporan rahasia dan yang diarsipkan).",
            "Counts public reports (confidential and archived ones are left out)."
        ),
        filter_form(&ctx, "/stats", &period, None),
        recap_html(&ctx, &recap, &cats, "/stats/csv", &query)
    );
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Statistik", "Statistics"),
        &body,
        PageOpts::default(),
    )
}

/// The CSV of one chart of a recap.
fn chart_csv(r: &Recap, chart: &str, cats: &[Category]) -> Option<String> {
    let mut out = String::new();
    let rated = |out: &mut String, rows: &[RatedRow]| {
        out.push_str("kode,nama,diterima,ditindaklanjuti,rasio_tindak_lanjut,selesai,tidak_ditanggapi,penilaian,di_bawah_60\r\n");
        for a in rows {
            let f = &a.row.figures;
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{}\r\n",
                field(&a.row.key),
                field(&a.row.name),
                f.received,
                f.handled,
                f.handled_permille.map_or_else(String::new, |p| format!(
                    "{}.{:03}",
                    p / 1000,
                    p % 1000
                )),
                f.completed,
                f.never_answered,
                a.rating.map_or("", |x| x.as_str()),
                if a.flagged { "ya" } else { "tidak" }
            );
        }
    };
    match chart {
        "agencies" => rated(&mut out, &r.agencies),
        "nodes" => rated(&mut out, &r.nodes),
        "daily" => {
            out.push_str("tanggal,diterima\r\n");
            for (d, n) in &r.daily {
                let _ = write!(out, "{d},{n}\r\n");
            }
        }
        "status" => {
            let f = &r.total;
            out.push_str("status,laporan\r\n");
            for (k, n) in [
                ("submitted", f.unverified),
                ("on_hold", f.on_hold),
                ("verified", f.dispositioned),
                ("in_progress", f.in_progress),
                ("responded", f.responded),
                ("completed", f.completed),
                ("archived", f.archived),
            ] {
                let _ = write!(out, "{k},{n}\r\n");
            }
        }
        "categories" => {
            out.push_str("kategori,nama,laporan\r\n");
            for (k, n) in &r.total.by_category {
                let _ = write!(
                    out,
                    "{},{},{n}\r\n",
                    field(k),
                    field(&category_name(Lang::Id, cats, k))
                );
            }
        }
        _ => return None,
    }
    Some(out)
}

async fn csv_response(
    app: &App,
    ctx: &Ctx,
    viewer: &Viewer,
    chart: &str,
    q: &StatsParams,
    opts: PageOpts,
) -> Response {
    let period = match app.stats_period(q.from.as_deref(), q.to.as_deref()) {
        Ok(p) => p,
        Err(e) => return error_page(ctx, &e, opts),
    };
    let recap = match app.recap(viewer, &period, q.agency()).await {
        Ok(r) => r,
        Err(e) => return error_page(ctx, &e, opts),
    };
    let cats = app.list_categories(viewer).await.unwrap_or_default();
    match chart_csv(&recap, chart, &cats) {
        Some(csv) => crate::http::api::stats::file_response(
            RecapFormat::Csv,
            &format!("statistik-{chart}-{}", period.key()),
            csv.into_bytes(),
        ),
        None => error_page(ctx, &AppError::NotFound("chart"), opts),
    }
}

/// `GET /stats/csv/{chart}`: a chart of the public page as CSV.
pub async fn public_csv(
    State(app): State<App>,
    ctx: Ctx,
    Path(chart): Path<String>,
    Query(q): Query<StatsParams>,
) -> Response {
    csv_response(&app, &ctx, &Viewer::Public, &chart, &q, PageOpts::default()).await
}

/// `GET /officer/dashboard/csv/{chart}`: a chart of the dashboard as CSV.
pub async fn dashboard_csv(
    State(app): State<App>,
    ctx: Ctx,
    Path(chart): Path<String>,
    Query(q): Query<StatsParams>,
) -> Response {
    if !ctx.viewer.is_staff() {
        return redirect(&ctx, "/officer/login", &[]);
    }
    let viewer = ctx.viewer.clone();
    csv_response(&app, &ctx, &viewer, &chart, &q, OFFICER).await
}

/// `GET /officer/recap/{period}`: the recap as a printable page (the PDF and CSV are linked).
pub async fn recap_page(
    State(app): State<App>,
    ctx: Ctx,
    Path(key): Path<String>,
    Query(q): Query<StatsParams>,
) -> Response {
    if !ctx.viewer.is_staff() {
        return redirect(&ctx, "/officer/login", &[]);
    }
    let period = match app.stats_period_key(&key) {
        Ok(p) => p,
        Err(e) => return error_page(&ctx, &e, OFFICER),
    };
    let recap = match app.recap(&ctx.viewer, &period, q.agency()).await {
        Ok(r) => r,
        Err(e) => return error_page(&ctx, &e, OFFICER),
    };
    let cats = app.list_categories(&ctx.viewer).await.unwrap_or_default();
    let title = match period.shape {
        crate::stats::period::Shape::Quarter => "Evaluasi Triwulanan Pengelolaan Pengaduan",
        _ => "Rekapitulasi Pengelolaan Pengaduan",
    };
    let aq = q
        .agency()
        .map_or_else(String::new, |a| format!("?agency_id={}", url_enc(a)));
    let body = format!(
        r#"<article class="recap"><h1>{title}</h1><p><b>{}</b> — {} · {} {}</p><p class="actions no-print"><a href="/api/v1/stats/recap/{k}.pdf{aq}">PDF</a> · <a href="/api/v1/stats/recap/{k}.csv{aq}">CSV</a></p>{}</article>"#,
        esc(&recap.scope_name),
        esc(&recap.period.label_id()),
        ctx.t("dibuat", "made"),
        esc(&recap.generated),
        recap_html(
            &ctx,
            &recap,
            &cats,
            "/officer/dashboard/csv",
            &q.query(&period)
        ),
        k = url_enc(&period.key()),
    );
    page(&ctx, StatusCode::OK, title, &body, OFFICER)
}

/// `GET /officer/recaps`: recaps kept for download (made on demand or by the monthly job).
pub async fn recaps(State(app): State<App>, ctx: Ctx) -> Response {
    if !ctx.viewer.is_staff() {
        return redirect(&ctx, "/officer/login", &[]);
    }
    let kept = match app.recaps_kept(&ctx.viewer).await {
        Ok(k) => k,
        Err(e) => return error_page(&ctx, &e, OFFICER),
    };
    let mut body = format!(
        "<h1>{}</h1><p class=\"hint\">{}</p>",
        ctx.t("Rekap tersimpan", "Kept recaps"),
        ctx.t(
            "Rekap bulanan dibuat otomatis pada hari kerja pertama setiap bulan; rekap yang diunduh dari dasbor juga disimpan.",
            "Monthly recaps are made on the first working day of each month; recaps downloaded from the dashboard are kept too."
        )
    );
    if kept.is_empty() {
        let _ = write!(body, "<p>{}</p>", ctx.t("Belum ada.", "None yet."));
    } else {
        let _ = write!(
            body,
            r#"<div class="table-scroll" tabindex="0"><table><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
            ctx.t("Periode", "Period"),
            ctx.t("Cakupan", "Scope"),
            ctx.t("Dibuat", "Made"),
            ctx.t("Unduh", "Download")
        );
        for r in &kept {
            let label =
                Period::parse(&r.period).map_or_else(|_| r.period.clone(), |p| p.label_id());
            let _ = write!(
                body,
                r#"<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td><a href="/officer/recaps/{}/{}/{}">{}</a></td></tr>"#,
                esc(&label),
                esc(&r.scope),
                app.node().time(r.generated_at).format("%d-%m-%Y %H:%M"),
                url_enc(&r.period),
                url_enc(&r.scope),
                esc(&r.format),
                esc(&r.format.to_uppercase())
            );
        }
        body.push_str("</tbody></table></div>");
    }
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Rekap", "Recaps"),
        &body,
        OFFICER,
    )
}

/// `GET /officer/recaps/{period}/{scope}/{format}`: one kept recap.
pub async fn recap_download(
    State(app): State<App>,
    ctx: Ctx,
    Path((period, scope, format)): Path<(String, String, String)>,
) -> Response {
    if !ctx.viewer.is_staff() {
        return redirect(&ctx, "/officer/login", &[]);
    }
    let fmt = match format.as_str() {
        "pdf" => RecapFormat::Pdf,
        "csv" => RecapFormat::Csv,
        _ => return error_page(&ctx, &AppError::NotFound("recap"), OFFICER),
    };
    match app.recap_kept(&ctx.viewer, &period, &scope, fmt).await {
        Ok(file) => {
            crate::http::api::stats::file_response(fmt, &format!("rekap-{period}"), file.content)
        }
        Err(e) => error_page(&ctx, &e, OFFICER),
    }
}
