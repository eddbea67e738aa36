//! What each notice says: email (subject, plain text and HTML, Indonesian first then English) and SMS (GSM-7,
//! one part for a status change, at most three for a follow-up). Pure functions of the report and the notice.

use lapor_schemas::ReportStatus;

use super::gsm;
use crate::domain::Report;

/// What a notice is about, with everything its texts show. No reporter identity is in here.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// Notice kind (`filed`, `verified`, ...).
    pub kind: &'a str,
    /// The report.
    pub report: &'a Report,
    /// The agency's follow-up text (for `followup`).
    pub note: Option<&'a str>,
    /// Name of the agency the report is with.
    pub agency: Option<&'a str>,
    /// The deadline shown in the node's zone (for `deadline`).
    pub due: Option<String>,
    /// Name of this node.
    pub node_name: &'a str,
    /// The page the notice points to (tracking page for reporters, console page for officers).
    pub link: String,
    /// The unsubscribe page (reporters' email).
    pub unsubscribe: Option<String>,
}

/// An email's three parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// Subject, Indonesian / English.
    pub subject: String,
    /// text/plain part.
    pub plain: String,
    /// text/html part.
    pub html: String,
}

/// (Indonesian headline, English headline, Indonesian lead, English lead).
fn lines(s: &Subject<'_>) -> (String, String, String, String) {
    let code = &s.report.tracking_code;
    let agency = s.agency.unwrap_or("instansi terkait");
    let agency_en = s.agency.unwrap_or("the agency concerned");
    let status = s.report.status;
    match s.kind {
        "filed" => (
            "Laporan Anda telah diterima".into(),
            "Your report was received".into(),
            format!("Laporan Anda telah kami terima dengan kode pelacakan {code}. Simpan kode ini untuk mengikuti laporan Anda."),
            format!("We received your report; its tracking code is {code}. Keep it to follow your report."),
        ),
        "verified" => (
            "Laporan Anda telah diverifikasi".into(),
            "Your report was verified".into(),
            format!("Laporan {code} telah diverifikasi dan diteruskan kepada {agency}."),
            format!("Report {code} was verified and passed to {agency_en}."),
        ),
        "followup" => (
            "Instansi telah menindaklanjuti laporan Anda".into(),
            "The agency followed up on your report".into(),
            format!("{agency} telah menindaklanjuti laporan {code}. Anda dapat menanggapi atau menerima tindak lanjut ini di halaman pelacakan."),
            format!("{agency_en} followed up on report {code}. You can reply to it or accept it on the tracking page."),
        ),
        "completed" => (
            "Laporan Anda telah selesai".into(),
            "Your report is completed".into(),
            format!("Laporan {code} telah selesai. Terima kasih telah melapor; Anda dapat memberi penilaian di halaman pelacakan."),
            format!("Report {code} is completed. Thank you for reporting; you can rate it on the tracking page."),
        ),
        "disposition" => (
            format!("Laporan baru untuk {agency}"),
            format!("A new report for {agency_en}"),
            format!("Laporan {code} telah diverifikasi dan didisposisikan kepada {agency}. Mohon ditindaklanjuti sesuai batas waktu."),
            format!("Report {code} was verified and assigned to {agency_en}. Please follow it up before its deadline."),
        ),
        "deadline" => {
            let due = s.due.clone().unwrap_or_default();
            (
                "Batas waktu tindak lanjut dalam satu hari kerja".into(),
                "Follow-up due within one working day".into(),
                format!("Batas waktu tindak lanjut laporan {code} adalah {due}, dalam satu hari kerja."),
                format!("The follow-up of report {code} is due {due}, within one working day."),
            )
        }
        "overdue" => (
            "Laporan melewati batas waktu".into(),
            "Report overdue".into(),
            format!("Laporan {code} telah melewati batas waktu ({}).", status.label_id()),
            format!("Report {code} is overdue ({}).", status.label_en()),
        ),
        _ => (
            format!("Status laporan: {}", status.label_id()),
            format!("Report status: {}", status.label_en()),
            format!("Status laporan {code} sekarang: {}.", status.label_id()),
            format!("The status of report {code} is now: {}.", status.label_en()),
        ),
    }
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether the notice goes to officers (no unsubscribe, console link, no title for confidential reports).
pub fn for_officers(kind: &str) -> bool {
    matches!(kind, "disposition" | "deadline" | "overdue")
}

/// The email of a notice.
pub fn email(s: &Subject<'_>) -> Letter {
    let (head_id, head_en, lead_id, lead_en) = lines(s);
    let code = &s.report.tracking_code;
    let subject = format!("[LAPOR!] {code}: {head_id} / {head_en}");
    let title = if s.report.confidential && for_officers(s.kind) {
        None
    } else {
        Some(s.report.title.as_str())
    };
    let mut plain = format!("{head_id}\n\n{lead_id}\n");
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\
         <section lang=\"id\"><h1>{}</h1><p>{}</p>",
        esc(&subject),
        esc(&head_id),
        esc(&lead_id)
    );
    if let Some(t) = title {
        plain.push_str(&format!("Judul: {t}\n"));
        html.push_str(&format!("<p>Judul: <strong>{}</strong></p>", esc(t)));
    }
    plain.push_str(&format!("Status: {}\n", s.report.status.label_id()));
    html.push_str(&format!("<p>Status: {}</p>", esc(s.report.status.label_id())));
    if let Some(n) = s.note {
        plain.push_str(&format!("\nTindak lanjut:\n{n}\n"));
        html.push_str(&format!("<p>Tindak lanjut:</p><blockquote>{}</blockquote>", esc(n)));
    }
    plain.push_str(&format!("\nLihat: {}\n", s.link));
    html.push_str(&format!(
        "<p><a href=\"{0}\">Lihat laporan</a> ({0})</p></section><hr>",
        esc(&s.link)
    ));
    plain.push_str(&format!("\n----\n\n{head_en}\n\n{lead_en}\n"));
    html.push_str(&format!(
        "<section lang=\"en\"><h1>{}</h1><p>{}</p>",
        esc(&head_en),
        esc(&lead_en)
    ));
    if let Some(t) = title {
        plain.push_str(&format!("Title: {t}\n"));
        html.push_str(&format!("<p>Title: <strong>{}</strong></p>", esc(t)));
    }
    plain.push_str(&format!("Status: {}\n", s.report.status.label_en()));
    html.push_str(&format!("<p>Status: {}</p>", esc(s.report.status.label_en())));
    if s.note.is_some() {
        plain.push_str("(The follow-up text is above.)\n");
    }
    plain.push_str(&format!("\nView: {}\n", s.link));
    html.push_str(&format!(
        "<p><a href=\"{0}\">View the report</a> ({0})</p></section>",
        esc(&s.link)
    ));
    plain.push_str(&format!("\n-- \n{}\n", s.node_name));
    html.push_str(&format!("<hr><p>{}</p>", esc(s.node_name)));
    if let Some(u) = &s.unsubscribe {
        plain.push_str(&format!(
            "Berhenti menerima email tentang laporan ini / Stop emails about this report: {u}\n"
        ));
        html.push_str(&format!(
            "<p><a href=\"{}\">Berhenti menerima email tentang laporan ini / Stop emails about this report</a></p>",
            esc(u)
        ));
    }
    html.push_str("</body></html>");
    Letter {
        subject,
        plain,
        html,
    }
}

/// Longest SMS of a status change (one part).
pub const SMS_STATUS_SEPTETS: usize = 160;
/// Longest SMS of a follow-up (three parts of 153).
pub const SMS_FOLLOWUP_SEPTETS: usize = 3 * 153;

/// The SMS of a notice, in GSM-7: a status change in one part, a follow-up shortened to three parts, both
/// ending with the link to the tracking page.
pub fn sms(s: &Subject<'_>) -> String {
    let code = &s.report.tracking_code;
    let link = gsm::clean(&s.link);
    if s.kind == "followup" {
        let head = format!("LAPOR! {code}: Tindak lanjut instansi: ");
        let tail = format!(" Balas/terima: {link}");
        let budget = SMS_FOLLOWUP_SEPTETS.saturating_sub(gsm::septets(&head) + gsm::septets(&tail));
        let note = gsm::shorten(&gsm::clean(s.note.unwrap_or("")), budget);
        return format!("{head}{note}{tail}");
    }
    let status = gsm::clean(s.report.status.label_id());
    let advice = match s.report.status {
        ReportStatus::OnHold => " Mohon lengkapi laporan.",
        ReportStatus::Completed => " Terima kasih.",
        _ => "",
    };
    let text = format!("LAPOR! {code}: status {status}.{advice} Info: {link}");
    gsm::shorten(&text, SMS_STATUS_SEPTETS)
}
