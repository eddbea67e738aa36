//! Transfers between nodes in the officer console: where a report is now and how its latest transfer stands,
//! and the admin's form to move a report to another node or to an agency hosted anywhere in the federation
//! (chosen from the directory, with the reason). The federation engine does the moving
//! (`App::request_transfer` -> `federation::transfer::open`); this only renders and translates.

use std::fmt::Write as _;

use lapor_schemas::api::{ReportView, TransferRequest, TransferView};
use lapor_schemas::Role;

use super::forms::WebForm;
use super::html::{csrf_field, esc, select, textarea, url_enc, Errors};
use super::Ctx;
use crate::app::{App, AppError};
use crate::domain::UserRef;
use crate::http::error::Lang;

/// A transfer's state in the page language.
pub fn state_label(lang: Lang, state: &str) -> &'static str {
    let (id, en) = match state {
        "offered" => (
            "Diajukan, menunggu pemeriksaan hub",
            "Offered, waiting for the hub's check",
        ),
        "forwarded" => (
            "Diteruskan hub, menunggu node tujuan",
            "Forwarded by the hub, waiting for the target node",
        ),
        "accepted" => (
            "Diterima node tujuan, menunggu pengesahan hub",
            "Accepted by the target, waiting for the hub's commit",
        ),
        "committed" => ("Selesai dialihkan", "Transferred"),
        "refused" => ("Ditolak", "Refused"),
        "expired" => (
            "Kedaluwarsa: node tujuan tidak menjawab",
            "Expired: the target did not answer",
        ),
        _ => ("Tidak diketahui", "Unknown"),
    };
    super::html::tr(lang, id, en)
}

/// A transfer reason in the page language.
pub fn reason_label(lang: Lang, reason: &str) -> &'static str {
    let (id, en) = match reason {
        "misrouted" => ("Salah alamat", "Misrouted"),
        "not_authority" => ("Bukan wewenang", "Not our authority"),
        "routing" => ("Perutean saat laporan masuk", "Routing at intake"),
        "ombudsman" => ("Eskalasi ke Ombudsman", "Escalation to the Ombudsman"),
        _ => ("Lainnya", "Other"),
    };
    super::html::tr(lang, id, en)
}

/// The progress of a transfer as a definition list.
pub fn progress(ctx: &Ctx, t: &TransferView) -> String {
    let lang = ctx.lang;
    let steps = ["offered", "forwarded", "accepted", "committed"];
    let reached = steps.iter().position(|s| *s == t.state);
    let mut ol = String::from(r#"<ol class="steps">"#);
    for (i, s) in steps.iter().enumerate() {
        let mark = match reached {
            Some(r) if i < r => "done",
            Some(r) if i == r && t.state == "committed" => "done",
            Some(r) if i == r => "current",
            _ => "todo",
        };
        let _ = write!(
            ol,
            r#"<li class="{mark}"{}>{}</li>"#,
            if mark == "current" {
                r#" aria-current="step""#
            } else {
                ""
            },
            esc(state_label(lang, s))
        );
    }
    ol.push_str("</ol>");
    let failed = matches!(t.state.as_str(), "refused" | "expired");
    format!(
        r#"<dl class="facts"><dt>{}</dt><dd>{} ({})</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id="transfer-state" data-state="{}">{}{}</dd></dl>{}"#,
        ctx.t("Tujuan", "Target"),
        esc(&t.to_name),
        esc(&t.to_node),
        ctx.t("Alasan", "Reason"),
        esc(reason_label(lang, &t.reason)),
        ctx.t("Status pengalihan", "Transfer status"),
        esc(&t.state),
        esc(state_label(lang, &t.state)),
        t.code
            .as_deref()
            .map(|c| format!(" — {}", esc(crate::app::transfer_refusal_text(c))))
            .unwrap_or_default(),
        if failed { String::new() } else { ol },
    )
}

/// On the tracking page: which node handles the report now, when it left this one.
pub fn moved_notice(app: &App, ctx: &Ctx, v: &ReportView) -> String {
    if v.owner_node == app.node_id() {
        return String::new();
    }
    let link = app
        .tracking_url_at(&v.owner_node, &v.tracking_code)
        .map(|u| {
            format!(
                r#" <a href="{}">{}</a>"#,
                esc(&u),
                ctx.t("Ikuti di sana", "Follow it there")
            )
        })
        .unwrap_or_default();
    format!(
        r#"<p class="alert ok" role="status" id="moved">{} <strong>{}</strong>.{link}</p>"#,
        ctx.t(
            "Laporan ini sekarang ditangani oleh",
            "This report is now handled by"
        ),
        esc(&v.owner_name),
    )
}

/// Where the report is now, and its latest transfer (for every staff viewer).
pub fn whereabouts(app: &App, ctx: &Ctx, v: &ReportView) -> String {
    let mut s = String::new();
    if v.owner_node != app.node_id() {
        let link = app
            .tracking_url_at(&v.owner_node, &v.tracking_code)
            .map(|u| {
                format!(
                    r#" <a href="{}">{}</a>"#,
                    esc(&u),
                    ctx.t("Lihat di node itu", "See it on that node")
                )
            })
            .unwrap_or_default();
        let _ = write!(
            s,
            r#"<div class="alert ok" role="status" id="moved"><p>{} <strong>{}</strong>. {}{link}</p></div>"#,
            ctx.t("Laporan ini telah dialihkan ke", "This report moved to"),
            esc(&v.owner_name),
            ctx.t(
                "Node ini tidak lagi menanganinya; laporan tidak muncul di kotak masuk.",
                "This node no longer handles it; it is not in the inbox."
            ),
        );
    }
    if let Some(t) = &v.transfer {
        let _ = write!(
            s,
            r#"<section class="card" aria-labelledby="h-transfer"><h2 id="h-transfer">{}</h2>{}</section>"#,
            ctx.t("Pengalihan antarnode", "Transfer between nodes"),
            progress(ctx, t)
        );
    }
    s
}

/// The admin's form to move the report to another node of the federation, or an empty string when the
/// report cannot move from here (not an admin, not the owner, closed, or a transfer is open).
pub async fn form(app: &App, ctx: &Ctx, me: &UserRef, v: &ReportView) -> String {
    let open = v
        .transfer
        .as_ref()
        .is_some_and(|t| matches!(t.state.as_str(), "offered" | "forwarded" | "accepted"));
    let may_move = v.owner_node == app.node_id() || app.is_hub();
    if me.role != Role::Admin || !may_move || v.status.is_terminal() || open {
        return String::new();
    }
    let lang = ctx.lang;
    let none = Errors::default();
    let mut nodes = vec![(
        String::new(),
        ctx.t("— Pilih node —", "— Choose a node —").to_owned(),
    )];
    nodes.extend(app.transfer_targets().into_iter().map(|(id, name, role)| {
        let kind = match role.as_str() {
            "hub" => ctx.t("hub nasional", "national hub"),
            "ombudsman" => "Ombudsman",
            _ => ctx.t("node daerah", "regional node"),
        };
        (id.clone(), format!("{name} ({id}, {kind})"))
    }));
    let mut agencies = vec![(
        String::new(),
        ctx.t("— Tidak ada (pilih node) —", "— None (choose a node) —")
            .to_owned(),
    )];
    agencies.extend(
        app.list_agencies()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.active && a.node_id.is_some())
            .map(|a| {
                let node = a.node_id.clone().unwrap_or_default();
                (a.id, format!("{} — {}", a.name, app.node_name(&node)))
            }),
    );
    let reasons = [
        ("misrouted", reason_label(lang, "misrouted")),
        ("not_authority", reason_label(lang, "not_authority")),
    ]
    .map(|(v, l)| (v.to_owned(), l.to_owned()));
    if nodes.len() == 1 && agencies.len() == 1 {
        return String::new();
    }
    format!(
        r#"<form method="post" action="/officer/reports/{}/move" class="card" enctype="multipart/form-data"><h2>{}</h2><p class="hint">{}</p>{}{}{}{}{}<p><button type="submit">{}</button></p></form>"#,
        url_enc(&v.tracking_code),
        ctx.t(
            "Alihkan ke node atau instansi lain",
            "Transfer to another node or agency"
        ),
        ctx.t(
            "Laporan dikirim lewat hub dengan riwayat bertanda tangan. Pilih instansi di node lain, atau node tujuan.",
            "The report travels through the hub with its signed history. Choose an agency on another node, or the target node."
        ),
        csrf_field(ctx),
        select(
            lang,
            &none,
            "agency_id",
            ctx.t("Instansi di node lain", "Agency on another node"),
            &agencies,
            ""
        ),
        select(
            lang,
            &none,
            "to_node",
            ctx.t("Node tujuan", "Target node"),
            &nodes,
            ""
        ),
        select(
            lang,
            &none,
            "reason",
            ctx.t("Alasan", "Reason"),
            &reasons,
            "misrouted"
        ),
        textarea(
            lang,
            &none,
            "note",
            ctx.t("Penjelasan untuk node tujuan", "Explanation for the target node"),
            "",
            "",
            true
        ),
        ctx.t("Alihkan", "Transfer"),
    )
}

/// `POST /officer/reports/{code}/move`: opens the transfer; back to the report, which shows its progress.
pub async fn run(app: &App, ctx: &Ctx, code: &str, form: &WebForm) -> Result<String, AppError> {
    let req = TransferRequest {
        to_node: form.opt("to_node"),
        agency_id: form.opt("agency_id"),
        reason: form.opt("reason"),
        note: form.get("note").to_owned(),
    };
    if req.to_node.is_none() && req.agency_id.is_none() {
        return Err(AppError::field(
            "to_node",
            "required",
            "pilih node tujuan atau instansi di node lain / choose a target node or an agency on another node",
        ));
    }
    app.request_transfer(&ctx.viewer, code, req).await?;
    Ok(format!("/officer/reports/{}", url_enc(code)))
}
