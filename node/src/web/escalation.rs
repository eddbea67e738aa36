//! The Ombudsman escalation on the pages: the reporter's consent form on the tracking page, and in the
//! console the escalation's state, an admin's early escalation and the handoff of a consented report
//! (`App::escalate_early`, `App::ombudsman_decide`, `App::ombudsman_handoff`).

use std::fmt::Write as _;

use lapor_schemas::api::ReportView;
use lapor_schemas::Role;

use super::html::{csrf_field, esc, textarea, url_enc, Errors};
use super::Ctx;
use crate::app::App;
use crate::domain::escalation::Escalation;
use crate::domain::UserRef;

/// The escalation state of the report as shown.
pub fn state_of(app: &App, v: &ReportView) -> Escalation {
    app.escalation_after(v.timeline.iter().map(|t| t.action))
}

fn state_text(ctx: &Ctx, s: Escalation) -> &'static str {
    match s {
        Escalation::None => "",
        Escalation::Awaiting => ctx.t(
            "Eskalasi ke Ombudsman: menunggu persetujuan pelapor.",
            "Escalation to the Ombudsman: waiting for the reporter's consent.",
        ),
        Escalation::Consented => ctx.t(
            "Pelapor setuju laporan diteruskan ke Ombudsman.",
            "The reporter agreed to pass the report to the Ombudsman.",
        ),
        Escalation::Declined => ctx.t(
            "Pelapor menolak penerusan ke Ombudsman; laporan tetap ditangani di sini.",
            "The reporter declined passing it to the Ombudsman; the report stays here.",
        ),
    }
}

/// The reporter's part on the tracking page: the consent question while it waits, else the state.
pub fn tracking_box(app: &App, ctx: &Ctx, v: &ReportView, reporter: bool) -> String {
    let state = state_of(app, v);
    if state == Escalation::None {
        return String::new();
    }
    if state != Escalation::Awaiting || !reporter || v.owner_node != app.node_id() {
        return format!(
            r#"<p class="alert" role="status" id="escalation" data-state="{}">{}</p>"#,
            state.as_str(),
            esc(state_text(ctx, state))
        );
    }
    format!(
        r#"<form method="post" action="/track/{}/ombudsman" class="card" id="escalation" data-state="{}"><h2>{}</h2>{}<p>{}</p><p>{}</p><p class="buttons"><button type="submit" name="consent" value="yes">{}</button> <button type="submit" name="consent" value="no" class="secondary">{}</button></p></form>"#,
        url_enc(&v.tracking_code),
        state.as_str(),
        ctx.t("Teruskan ke Ombudsman?", "Pass it to the Ombudsman?"),
        csrf_field(ctx),
        ctx.t(
            "Laporan Anda belum selesai dalam 60 hari (atau admin menilai perlu eskalasi). Dengan persetujuan Anda, laporan beserta riwayatnya dikirim ke Ombudsman Republik Indonesia, yang akan menanganinya.",
            "Your report was not resolved within 60 days (or an admin decided it needs escalating). With your consent, the report and its history go to the Ombudsman of the Republic of Indonesia, who will handle it."
        ),
        ctx.t(
            "Jika Anda menolak, laporan tetap ditangani di sini dan penolakan Anda dicatat.",
            "If you decline, the report stays here and your refusal is recorded."
        ),
        ctx.t("Ya, teruskan ke Ombudsman", "Yes, pass it to the Ombudsman"),
        ctx.t("Tidak, tetap di sini", "No, keep it here"),
    )
}

/// The console's part: the state, and for an admin of the owner the early escalation or the handoff.
pub fn console_box(app: &App, ctx: &Ctx, me: &UserRef, v: &ReportView) -> String {
    let state = state_of(app, v);
    let owner_admin = me.role == Role::Admin && v.owner_node == app.node_id();
    let code_q = url_enc(&v.tracking_code);
    let csrf = csrf_field(ctx);
    let mut s = String::new();
    if state != Escalation::None {
        let _ = write!(
            s,
            r#"<p class="alert" role="status" id="escalation" data-state="{}">{}</p>"#,
            state.as_str(),
            esc(state_text(ctx, state))
        );
    }
    if !owner_admin || v.status.is_terminal() {
        return s;
    }
    let transfer_open_or_done = v
        .transfer
        .as_ref()
        .is_some_and(|t| !matches!(t.state.as_str(), "refused" | "expired"));
    match state {
        Escalation::None if !v.escalated => {
            let _ = write!(
            s,
            r#"<form method="post" action="/officer/reports/{code_q}/escalate" class="card" enctype="multipart/form-data"><h2>{}</h2>{csrf}<p class="hint">{}</p>{}<p><button type="submit">{}</button></p></form>"#,
            ctx.t("Eskalasi ke Ombudsman sekarang", "Escalate to the Ombudsman now"),
            ctx.t(
                "Tanpa menunggu 60 hari: pelapor diminta persetujuan untuk meneruskan laporan ke Ombudsman.",
                "Without waiting for 60 days: the reporter is asked to agree to pass the report to the Ombudsman."
            ),
            textarea(ctx.lang, &Errors::default(), "note", ctx.t("Alasan", "Reason"), "", "", true),
            ctx.t("Minta persetujuan pelapor", "Ask the reporter"),
        );
        }
        Escalation::Consented if !transfer_open_or_done => {
            let _ = write!(
                s,
                r#"<form method="post" action="/officer/reports/{code_q}/ombudsman" class="card" enctype="multipart/form-data"><h2>{}</h2>{csrf}<p class="hint">{}</p><p><button type="submit">{}</button></p></form>"#,
                ctx.t("Teruskan ke Ombudsman", "Pass to the Ombudsman"),
                match app.ombudsman_target_name(v) {
                    Some(name) => format!(
                        "{} {}",
                        ctx.t("Node Ombudsman:", "Ombudsman node:"),
                        esc(&name)
                    ),
                    None => esc(ctx.t(
                        "Belum ada node Ombudsman di direktori.",
                        "No Ombudsman node in the directory yet."
                    )),
                },
                ctx.t("Teruskan sekarang", "Pass it on now"),
            );
        }
        _ => {}
    }
    s
}
