//! What each notice says: email (subject, plain text and HTML, Indonesian first then English) and SMS (GSM-7,
//! one part for a status change, at most three for a follow-up). Pure functions of the report and the notice.

use std::fmt::Write as _;

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
    /// The unsubscribe page (reporters' email, and officers' own accounts).
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
        "ombudsman" => (
            "Teruskan laporan Anda ke Ombudsman?".into(),
            "Pass your report to the Ombudsman?".into(),
            format!("Laporan {code} belum selesai dalam 60 hari atau perlu dieskalasi. Dengan persetujuan Anda, laporan ini diteruskan ke Ombudsman Republik Indonesia. Setujui atau tolak di halaman pelacakan (dengan kode rahasia Anda)."),
            format!("Report {code} was not resolved within 60 days, or needs escalating. With your consent it goes to the Ombudsman of the Republic of Indonesia. Agree or decline on the tracking page (with your secret)."),
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
    let mut plain = String::new();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>",
        esc(&subject)
    );
    let sections = [
        (
            "id",
            &head_id,
            &lead_id,
            "Judul",
            s.report.status.label_id(),
            "Lihat",
            "Lihat laporan",
        ),
        (
            "en",
            &head_en,
            &lead_en,
            "Title",
            s.report.status.label_en(),
            "View",
            "View the report",
        ),
    ];
    for (lang, head, lead, title_label, status, view, view_link) in sections {
        if lang == "en" {
            plain.push_str("\n----\n\n");
            html.push_str("<hr>");
        }
        let _ = write!(plain, "{head}\n\n{lead}\n");
        let _ = write!(
            html,
            "<section lang=\"{lang}\"><h1>{}</h1><p>{}</p>",
            esc(head),
            esc(lead)
        );
        if let Some(t) = title {
            let _ = writeln!(plain, "{title_label}: {t}");
            let _ = write!(html, "<p>{title_label}: <strong>{}</strong></p>", esc(t));
        }
        let _ = writeln!(plain, "Status: {status}");
        let _ = write!(html, "<p>Status: {}</p>", esc(status));
        if let Some(n) = s.note {
            if lang == "id" {
                let _ = write!(plain, "\nTindak lanjut:\n{n}\n");
                let _ = write!(
                    html,
                    "<p>Tindak lanjut:</p><blockquote>{}</blockquote>",
                    esc(n)
                );
            } else {
                plain.push_str("(The follow-up text is above.)\n");
            }
        }
        let _ = write!(plain, "\n{view}: {}\n", s.link);
        let _ = write!(
            html,
            "<p><a href=\"{0}\">{view_link}</a> ({0})</p></section>",
            esc(&s.link)
        );
    }
    let _ = write!(plain, "\n-- \n{}\n", s.node_name);
    let _ = write!(html, "<hr><p>{}</p>", esc(s.node_name));
    if let Some(u) = &s.unsubscribe {
        // An officer's link stops the account's notices; a reporter's, the report's.
        let what = if for_officers(s.kind) {
            "Berhenti menerima email pemberitahuan untuk akun ini / Stop notice emails to this account"
        } else {
            "Berhenti menerima email tentang laporan ini / Stop emails about this report"
        };
        let _ = writeln!(plain, "{what}: {u}");
        let _ = write!(html, "<p><a href=\"{}\">{what}</a></p>", esc(u));
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
    if s.kind == "ombudsman" {
        let text = format!(
            "LAPOR! {code}: belum selesai. Teruskan ke Ombudsman? Setujui/tolak di: {link}"
        );
        return gsm::shorten(&text, SMS_STATUS_SEPTETS);
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

#[cfg(test)]
mod tests {
    use lapor_schemas::{Channel, ReportKind};

    use super::*;

    fn report() -> Report {
        Report {
            id: "kupangkota-01JTEST".into(),
            tracking_code: "KPG-ABC123".into(),
            secret_hash: String::new(),
            kind: ReportKind::Complaint,
            title: "Jalan rusak <di> Oebobo".into(),
            body: String::new(),
            category_id: None,
            agency_id: Some("pupr".into()),
            agency_path: None,
            region_code: None,
            lat_e6: None,
            lon_e6: None,
            address: None,
            incident_date: None,
            anonymous: false,
            confidential: false,
            channel: Channel::Sms,
            status: ReportStatus::Verified,
            submitted_at: 0,
            updated_at: 0,
            verified_at: None,
            responded_at: None,
            closed_at: None,
            verification_due_at: None,
            followup_due_at: None,
            autocomplete_at: None,
            escalation_at: None,
            verification_overdue: false,
            followup_overdue: false,
            escalated: false,
            archive_reason: None,
            duplicate_of: None,
            rating_score: None,
            rating_comment: None,
            reporter_user_id: None,
            created_by: None,
            version: 1,
        }
    }

    fn subject<'a>(kind: &'a str, r: &'a Report, note: Option<&'a str>) -> Subject<'a> {
        Subject {
            kind,
            report: r,
            note,
            agency: Some("Dinas PUPR"),
            due: None,
            node_name: "LAPOR! Kota Kupang",
            link: "https://lapor.kupangkota.go.id/track/KPG-ABC123".into(),
            unsubscribe: (!for_officers(kind))
                .then(|| "https://lapor.kupangkota.go.id/notifications/unsubscribe?r=x&t=y".into()),
        }
    }

    #[test]
    fn email_is_indonesian_first_escaped_and_unsubscribable() {
        let r = report();
        let l = email(&subject("verified", &r, None));
        assert_eq!(
            l.subject,
            "[LAPOR!] KPG-ABC123: Laporan Anda telah diverifikasi / Your report was verified"
        );
        let (id, en) = (
            l.plain.find("Judul:").unwrap(),
            l.plain.find("Title:").unwrap(),
        );
        assert!(id < en, "{}", l.plain);
        assert!(
            l.html.contains("Jalan rusak &lt;di&gt; Oebobo"),
            "{}",
            l.html
        );
        assert!(!l.html.contains("<di>"));
        assert!(l.plain.contains("notifications/unsubscribe"));
        assert!(l.html.contains("notifications/unsubscribe"));
    }

    #[test]
    fn officers_do_not_see_the_title_of_a_confidential_report() {
        let mut r = report();
        r.confidential = true;
        let l = email(&subject("disposition", &r, None));
        assert!(!l.plain.contains("Jalan rusak"), "{}", l.plain);
        assert!(!l.plain.contains("unsubscribe"));
        let reporter = email(&subject("verified", &r, None));
        assert!(reporter.plain.contains("Jalan rusak"));
    }

    #[test]
    fn sms_fit_their_budget() {
        let r = report();
        let s = sms(&subject("status", &r, None));
        assert_eq!(
            s,
            "LAPOR! KPG-ABC123: status Terverifikasi. Info: https://lapor.kupangkota.go.id/track/KPG-ABC123"
        );
        assert!(gsm::septets(&s) <= SMS_STATUS_SEPTETS);
        let long = "Perbaikan jalan “selesai” — terima kasih. ".repeat(40);
        let f = sms(&subject("followup", &r, Some(&long)));
        assert!(
            gsm::septets(&f) <= SMS_FOLLOWUP_SEPTETS,
            "{}",
            gsm::septets(&f)
        );
        assert!(gsm::parts(&f) <= 3);
        assert!(
            f.ends_with("Balas/terima: https://lapor.kupangkota.go.id/track/KPG-ABC123"),
            "{f}"
        );
        assert!(f.contains("\"selesai\" - terima"), "{f}");
    }

    #[test]
    fn the_consent_question_names_the_ombudsman_and_the_tracking_page() {
        let r = report();
        let l = email(&subject("ombudsman", &r, None));
        assert!(l.subject.contains("Ombudsman"), "{}", l.subject);
        assert!(l.plain.contains("persetujuan"), "{}", l.plain);
        let s = sms(&subject("ombudsman", &r, None));
        assert!(gsm::septets(&s) <= SMS_STATUS_SEPTETS, "{s}");
        assert!(s.contains("Ombudsman"), "{s}");
        assert!(
            s.ends_with("https://lapor.kupangkota.go.id/track/KPG-ABC123"),
            "{s}"
        );
    }
}
