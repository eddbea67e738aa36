//! The recap as CSV (RFC 4180, UTF-8, comma-separated, Indonesian column names): one line for the whole
//! scope, then one per node, agency and province; ratios as decimal fractions with a point.

use std::fmt::Write as _;

use super::figures::Figures;
use super::recap::{RatedRow, Recap};

/// Column names, in order.
pub const HEADER: &[&str] = &[
    "tingkat",
    "kode",
    "nama",
    "penilaian",
    "di_bawah_60",
    "diterima",
    "belum_diverifikasi",
    "terverifikasi",
    "tertunda",
    "didisposisikan",
    "diproses",
    "ditanggapi",
    "selesai",
    "diarsipkan",
    "tidak_ditanggapi",
    "ditindaklanjuti",
    "rasio_tindak_lanjut",
    "rasio_selesai",
    "hari_verifikasi_median",
    "hari_verifikasi_p90",
    "hari_tindak_lanjut_median",
    "hari_tindak_lanjut_p90",
    "rasio_verifikasi_3_hari",
    "rasio_jawaban_5_hari",
    "eskalasi",
    "dibuka_kembali",
    "dinilai",
    "rata_rata_nilai",
];

/// Quotes a field when it needs it (and neutralises a leading formula character for spreadsheets).
pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn ratio(p: Option<i64>) -> String {
    p.map_or_else(String::new, |p| format!("{}.{:03}", p / 1000, p % 1000))
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

fn line(
    out: &mut String,
    level: &str,
    key: &str,
    name: &str,
    rating: &str,
    flag: bool,
    f: &Figures,
) {
    let mean = f
        .rating_mean_centi()
        .map(|c| format!("{}.{:02}", c / 100, c % 100));
    let cells = [
        field(level),
        field(key),
        field(name),
        rating.to_owned(),
        if flag { "ya" } else { "tidak" }.to_owned(),
        f.received.to_string(),
        f.unverified.to_string(),
        f.verified.to_string(),
        f.on_hold.to_string(),
        f.dispositioned.to_string(),
        f.in_progress.to_string(),
        f.responded.to_string(),
        f.completed.to_string(),
        f.archived.to_string(),
        f.never_answered.to_string(),
        f.handled.to_string(),
        ratio(f.handled_permille),
        ratio(f.completed_permille),
        opt(f.to_verification.median),
        opt(f.to_verification.p90),
        opt(f.to_followup.median),
        opt(f.to_followup.p90),
        ratio(f.verify_deadline.permille()),
        ratio(f.answer_deadline.permille()),
        f.escalated.to_string(),
        f.reopened.to_string(),
        f.rated.to_string(),
        mean.unwrap_or_default(),
    ];
    let _ = writeln!(out, "{}\r", cells.join(","));
}

fn rows(out: &mut String, level: &str, rows: &[RatedRow]) {
    for r in rows {
        line(
            out,
            level,
            &r.row.key,
            &r.row.name,
            r.rating.map_or("", |x| x.as_str()),
            r.flagged,
            &r.row.figures,
        );
    }
}

/// The recap as CSV.
pub fn render(r: &Recap) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\r", HEADER.join(","));
    line(
        &mut out,
        "total",
        &r.period.key(),
        &r.scope_name,
        "",
        false,
        &r.total,
    );
    line(
        &mut out,
        "periode_sebelumnya",
        &r.period.previous().key(),
        &r.scope_name,
        "",
        false,
        &r.previous,
    );
    rows(&mut out, "node", &r.nodes);
    rows(&mut out, "instansi", &r.agencies);
    rows(&mut out, "provinsi", &r.regions);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_defused() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(field("-3"), "-3");
        assert_eq!(ratio(Some(667)), "0.667");
        assert_eq!(ratio(Some(1000)), "1.000");
    }
}
