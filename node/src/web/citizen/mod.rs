//! The citizen portal: submit, track (with the secret: supplement, reply, accept, rate), public list and
//! search, public statistics, attachments. One file per page group; the labels every page shares are here.

mod lists;
mod submit;
mod track;

pub use lists::{filter_of, list_filters, pager, public_list, ListParams};
pub use submit::{created_page, new_report, report_form, submit_report};
pub use track::{attachment, report_details, track_action, track_form, track_lookup, track_page};

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, FixedOffset};
use lapor_schemas::{ReportKind, TimelineAction};

use super::html::{badge, esc, tr, url_enc, PageOpts};
use super::{page, Ctx};
use crate::app::{App, Viewer};
use crate::domain::ReportFilter;
use crate::http::error::Lang;

/// A time in the node's zone, with the Indonesian zone name.
pub fn fmt_time(t: &DateTime<FixedOffset>) -> String {
    let zone = match t.offset().local_minus_utc() {
        25_200 => "WIB",
        28_800 => "WITA",
        32_400 => "WIT",
        _ => "",
    };
    format!("{} {zone}", t.format("%d-%m-%Y %H:%M"))
}

/// Kind label in the page language.
pub fn kind_label(lang: Lang, k: ReportKind) -> &'static str {
    match (lang, k) {
        (Lang::Id, _) => k.label_id(),
        (Lang::En, ReportKind::Complaint) => "Complaint",
        (Lang::En, ReportKind::Aspiration) => "Aspiration",
        (Lang::En, ReportKind::InformationRequest) => "Information request",
    }
}

/// The display name of a category in the page language.
pub async fn category_name(app: &App, lang: Lang, id: Option<&str>) -> Option<String> {
    let id = id?;
    let cats = app.list_categories(&Viewer::Public).await.ok()?;
    cats.into_iter().find(|c| c.id == id).map(|c| match lang {
        Lang::Id => c.name_id,
        Lang::En => c.name_en,
    })
}

/// A timeline entry's label in the page language (the service gives the Indonesian one).
pub fn action_label(lang: Lang, a: TimelineAction, indonesian: &str) -> String {
    if lang == Lang::Id {
        return indonesian.to_owned();
    }
    match a {
        TimelineAction::Created => "Report received",
        TimelineAction::Verified => "Verified and dispositioned",
        TimelineAction::Held => "On hold: waiting for the reporter",
        TimelineAction::Supplemented => "The reporter completed the report",
        TimelineAction::NotAuthority => "Not within the agency's authority",
        TimelineAction::Acknowledged => "Acknowledged by the agency",
        TimelineAction::Responded => "The agency's follow-up",
        TimelineAction::Replied => "The reporter's reply",
        TimelineAction::Accepted => "The reporter accepted the follow-up",
        TimelineAction::Rated => "The reporter's rating",
        TimelineAction::AutoCompleted => "Completed automatically",
        TimelineAction::Archived => "Archived",
        TimelineAction::PrivacyRaised => "Privacy raised",
        TimelineAction::VerificationOverdue => "Verification deadline missed",
        TimelineAction::FollowupOverdue => "Follow-up deadline missed",
        TimelineAction::Escalated => {
            "Escalation to the Ombudsman: waiting for the reporter's consent"
        }
        TimelineAction::Transferred => "Moved to the office that must act on it",
        TimelineAction::OmbudsmanConsented => "The reporter agreed to pass it to the Ombudsman",
        TimelineAction::OmbudsmanDeclined => "The reporter declined passing it to the Ombudsman",
    }
    .to_owned()
}

/// The public actor names the service gives ("Sistem", "Pelapor", "Instansi") in the page language; staff
/// names pass through.
pub fn actor_label(lang: Lang, actor: &str) -> String {
    match (lang, actor) {
        (Lang::En, "Sistem") => "System".into(),
        (Lang::En, "Pelapor") => "Reporter".into(),
        (Lang::En, "Instansi") => "Agency".into(),
        _ => actor.to_owned(),
    }
}

/// `GET /`: what LAPOR! is, the two main actions, the latest public reports.
pub async fn home(State(app): State<App>, ctx: Ctx) -> Response {
    let latest = app
        .list(
            &Viewer::Public,
            ReportFilter {
                limit: 5,
                ..ReportFilter::default()
            },
        )
        .await;
    let mut body = format!(
        r#"<h1>{}</h1><p>{}</p><p><a class="button" href="/report">{}</a> <a class="button secondary" href="/track">{}</a></p>"#,
        ctx.t("Sampaikan laporan Anda", "Tell the government what needs fixing"),
        ctx.t(
            "Pengaduan, aspirasi atau permintaan informasi tentang pelayanan publik. Laporan diverifikasi dalam 3 hari kerja dan instansi wajib menindaklanjuti dalam 5 hari kerja.",
            "Complaints, suggestions or requests for information about public services. Reports are verified within 3 working days and the agency must follow up within 5 working days."
        ),
        ctx.t("Buat laporan", "Make a report"),
        ctx.t("Lacak laporan", "Track a report"),
    );
    if let Ok(page_) = latest {
        let _ = write!(
            body,
            "<h2>{}</h2>",
            ctx.t("Laporan terbaru", "Latest reports")
        );
        body.push_str(&summary_list(ctx.lang, &page_.items, "/track/"));
        let _ = write!(
            body,
            r#"<p><a href="/reports">{}</a> · <a href="/stats">{}</a></p>"#,
            ctx.t("Semua laporan publik", "All public reports"),
            ctx.t("Statistik", "Statistics")
        );
    }
    page(
        &ctx,
        StatusCode::OK,
        ctx.t("Beranda", "Home"),
        &body,
        PageOpts::default(),
    )
}

/// A list of report summaries linking to `link_base` + code.
pub fn summary_list(
    lang: Lang,
    items: &[lapor_schemas::api::ReportSummary],
    link_base: &str,
) -> String {
    if items.is_empty() {
        return format!(
            "<p>{}</p>",
            tr(lang, "Belum ada laporan.", "No reports yet.")
        );
    }
    let mut s = String::from(r#"<ul class="list">"#);
    for r in items {
        let _ = write!(
            s,
            r#"<li><a href="{}{}"><strong>{}</strong></a><p class="meta">{}{} · {} · {} · {}{}</p></li>"#,
            link_base,
            url_enc(&r.tracking_code),
            esc(&r.title),
            badge(lang, r.status),
            if r.overdue {
                format!(
                    r#" <span class="badge overdue">{}</span>"#,
                    tr(lang, "Terlambat", "Overdue")
                )
            } else {
                String::new()
            },
            esc(&r.tracking_code),
            esc(kind_label(lang, r.kind)),
            fmt_time(&r.submitted_at),
            r.due_at
                .map(|d| format!(" · {} {}", tr(lang, "batas", "due"), fmt_time(&d)))
                .unwrap_or_default(),
        );
    }
    s.push_str("</ul>");
    s
}
