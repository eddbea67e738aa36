//! The recap as a PDF (A4, pdf-writer): key figures, the daily volume as a line chart and the share handled
//! per agency as a bar chart with the 60% line, both drawn as vector paths, then the table of every agency
//! (flagged first) over as many pages as it needs. Text is Helvetica (one of the fonts every PDF reader
//! has) in WinAnsi encoding; characters outside Latin-1 print as `?`.

// Coordinates, SQL placeholders and generator draws read best as single letters.
#![allow(clippy::many_single_char_names)]

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::figures::Figures;
use super::period::Shape;
use super::recap::{days, percent, RatedRow, Recap};

const W: f32 = 595.0;
const H: f32 = 842.0;
const MARGIN: f32 = 48.0;
const ROWS_PER_PAGE: usize = 44;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Latin-1 bytes of a text (WinAnsi agrees with Latin-1 on every letter Indonesian uses).
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| {
            u8::try_from(u32::from(c))
                .ok()
                .filter(|b| *b >= 0x20)
                .unwrap_or(b'?')
        })
        .collect()
}

/// At most `n` characters, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('\u{2026}');
        t.replace('\u{2026}', "...")
    }
}

struct Page {
    c: Content,
}

impl Page {
    fn new() -> Self {
        Self { c: Content::new() }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, s: &str) {
        let bytes = latin1(s);
        self.c
            .begin_text()
            .set_font(if bold { BOLD } else { REGULAR }, size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    /// Right-aligned at `x` (Helvetica digits are 0.556 em wide; good enough for figures).
    fn text_right(&mut self, x: f32, y: f32, size: f32, s: &str) {
        let width = s.chars().count() as f32 * size * 0.556;
        self.text(x - width, y, size, false, s);
    }

    fn rgb(&mut self, r: f32, g: f32, b: f32) {
        self.c.set_fill_rgb(r, g, b).set_stroke_rgb(r, g, b);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.c.rect(x, y, w, h).fill_nonzero();
    }

    fn line(&mut self, pts: &[(f32, f32)], width: f32) {
        if let Some((first, rest)) = pts.split_first() {
            self.c.set_line_width(width).move_to(first.0, first.1);
            for p in rest {
                self.c.line_to(p.0, p.1);
            }
            self.c.stroke();
        }
    }
}

fn title_of(r: &Recap) -> &'static str {
    match r.period.shape {
        Shape::Quarter => "Evaluasi Triwulanan Pengelolaan Pengaduan",
        Shape::Year => "Rekapitulasi Tahunan Pengelolaan Pengaduan",
        _ => "Rekapitulasi Bulanan Pengelolaan Pengaduan",
    }
}

fn key_figures(f: &Figures, prev: &Figures) -> Vec<(&'static str, String, String)> {
    let n = |v: i64| v.to_string();
    vec![
        ("Laporan diterima", n(f.received), n(prev.received)),
        ("Terverifikasi", n(f.verified), n(prev.verified)),
        ("Ditindaklanjuti", n(f.handled), n(prev.handled)),
        (
            "Tingkat tindak lanjut",
            percent(f.handled_permille),
            percent(prev.handled_permille),
        ),
        ("Selesai", n(f.completed), n(prev.completed)),
        (
            "Tingkat penyelesaian",
            percent(f.completed_permille),
            percent(prev.completed_permille),
        ),
        (
            "Dalam proses (diverifikasi, diproses, ditanggapi)",
            n(f.dispositioned + f.in_progress + f.responded),
            n(prev.dispositioned + prev.in_progress + prev.responded),
        ),
        (
            "Belum diverifikasi / tertunda",
            n(f.unverified + f.on_hold),
            n(prev.unverified + prev.on_hold),
        ),
        (
            "Tidak ditanggapi",
            n(f.never_answered),
            n(prev.never_answered),
        ),
        ("Diarsipkan", n(f.archived), n(prev.archived)),
        (
            "Median hari kerja sampai verifikasi (p90)",
            format!(
                "{} ({})",
                days(f.to_verification.median),
                days(f.to_verification.p90)
            ),
            format!(
                "{} ({})",
                days(prev.to_verification.median),
                days(prev.to_verification.p90)
            ),
        ),
        (
            "Median hari kerja sampai tindak lanjut (p90)",
            format!(
                "{} ({})",
                days(f.to_followup.median),
                days(f.to_followup.p90)
            ),
            format!(
                "{} ({})",
                days(prev.to_followup.median),
                days(prev.to_followup.p90)
            ),
        ),
        (
            "Diverifikasi dalam 3 hari kerja",
            percent(f.verify_deadline.permille()),
            percent(prev.verify_deadline.permille()),
        ),
        (
            "Ditanggapi dalam 5 hari kerja",
            percent(f.answer_deadline.permille()),
            percent(prev.answer_deadline.permille()),
        ),
        ("Eskalasi ke Ombudsman", n(f.escalated), n(prev.escalated)),
        (
            "Kepuasan pelapor (nilai 4-5)",
            percent(f.satisfied_permille()),
            percent(prev.satisfied_permille()),
        ),
    ]
}

/// The daily volume as a line chart in the box `(x, y, w, h)`.
fn daily_chart(p: &mut Page, r: &Recap, x: f32, y: f32, w: f32, h: f32) {
    p.text(x, y + h + 8.0, 10.0, true, "Laporan diterima per hari");
    let max = r.daily.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f32;
    p.rgb(0.6, 0.6, 0.6);
    p.line(&[(x, y + h), (x, y), (x + w, y)], 0.5);
    p.rgb(0.2, 0.2, 0.2);
    p.text_right(x - 3.0, y + h - 3.0, 7.0, &format!("{}", max as i64));
    p.text_right(x - 3.0, y - 2.0, 7.0, "0");
    let n = r.daily.len().max(2) - 1;
    let pts: Vec<(f32, f32)> = r
        .daily
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (x + w * i as f32 / n as f32, y + h * (*v as f32) / max))
        .collect();
    p.rgb(0.05, 0.35, 0.65);
    p.line(&pts, 1.5);
    p.rgb(0.2, 0.2, 0.2);
    if let (Some(first), Some(last)) = (r.daily.first(), r.daily.last()) {
        p.text(
            x,
            y - 11.0,
            7.0,
            false,
            &first.0.format("%d-%m").to_string(),
        );
        p.text_right(x + w, y - 11.0, 7.0, &last.0.format("%d-%m").to_string());
    }
}

/// The share handled per agency as horizontal bars, with the flag line.
fn handled_chart(p: &mut Page, rows: &[RatedRow], x: f32, top: f32, w: f32) -> f32 {
    p.rgb(0.0, 0.0, 0.0);
    p.text(
        x,
        top,
        10.0,
        true,
        "Tingkat tindak lanjut per instansi (garis: 60%)",
    );
    let label_w = 170.0;
    let bar_w = w - label_w - 40.0;
    let mut y = top - 16.0;
    for r in rows.iter().take(12) {
        let share = r.row.figures.handled_permille.unwrap_or(0) as f32 / 1000.0;
        p.rgb(0.1, 0.1, 0.1);
        p.text(x, y + 1.0, 7.5, r.flagged, &clip(&r.row.name, 38));
        if r.flagged {
            p.rgb(0.75, 0.1, 0.1);
        } else {
            p.rgb(0.1, 0.5, 0.25);
        }
        p.rect(x + label_w, y, bar_w * share, 8.0);
        p.rgb(0.1, 0.1, 0.1);
        p.text(
            x + label_w + bar_w + 4.0,
            y + 1.0,
            7.5,
            false,
            &percent(r.row.figures.handled_permille),
        );
        y -= 12.0;
    }
    p.rgb(0.3, 0.3, 0.3);
    p.line(
        &[
            (x + label_w + bar_w * 0.6, top - 6.0),
            (x + label_w + bar_w * 0.6, y + 8.0),
        ],
        0.75,
    );
    y
}

const COLS: [(&str, f32); 8] = [
    ("Instansi", MARGIN),
    ("Diterima", 300.0),
    ("Tindak lanjut", 350.0),
    ("Selesai", 395.0),
    ("Verif.", 430.0),
    ("TL", 460.0),
    ("Tdk dtgp", 500.0),
    ("Penilaian", 547.0),
];

fn table_header(p: &mut Page, y: f32) {
    p.rgb(0.0, 0.0, 0.0);
    for (i, (name, x)) in COLS.iter().enumerate() {
        if i == 0 {
            p.text(*x, y, 8.0, true, name);
        } else {
            let width = name.chars().count() as f32 * 8.0 * 0.556;
            p.text(x - width, y, 8.0, true, name);
        }
    }
    p.line(&[(MARGIN, y - 3.0), (W - MARGIN, y - 3.0)], 0.5);
}

fn table_row(p: &mut Page, y: f32, r: &RatedRow) {
    let f = &r.row.figures;
    if r.flagged {
        p.rgb(0.75, 0.1, 0.1);
    } else {
        p.rgb(0.0, 0.0, 0.0);
    }
    let name = if r.flagged {
        format!("! {}", clip(&r.row.name, 44))
    } else {
        clip(&r.row.name, 46)
    };
    p.text(MARGIN, y, 8.0, r.flagged, &name);
    let cells = [
        f.received.to_string(),
        percent(f.handled_permille),
        percent(f.completed_permille),
        days(f.to_verification.median),
        days(f.to_followup.median),
        f.never_answered.to_string(),
        r.rating.map_or("-", |x| x.label()).to_owned(),
    ];
    for (cell, (_, x)) in cells.iter().zip(COLS.iter().skip(1)) {
        p.text_right(*x, y, 8.0, cell);
    }
}

/// The recap as PDF bytes.
pub fn render(r: &Recap) -> Vec<u8> {
    let mut pages = Vec::new();

    let mut p = Page::new();
    p.rgb(0.0, 0.0, 0.0);
    p.text(MARGIN, H - 60.0, 15.0, true, title_of(r));
    p.text(
        MARGIN,
        H - 78.0,
        11.0,
        false,
        &format!("{} - {}", r.scope_name, r.period.label_id()),
    );
    p.text(
        MARGIN,
        H - 92.0,
        8.0,
        false,
        &format!(
            "{} | dibuat {} | dihitung dari laporan yang diterima dalam periode",
            r.node_name, r.generated
        ),
    );
    let mut y = H - 120.0;
    p.text(MARGIN, y, 9.0, true, "Ringkasan");
    p.text_right(430.0, y, 9.0, "Periode ini");
    p.text_right(W - MARGIN, y, 9.0, "Sebelumnya");
    y -= 4.0;
    p.line(&[(MARGIN, y), (W - MARGIN, y)], 0.5);
    for (label, now, before) in key_figures(&r.total, &r.previous) {
        y -= 12.0;
        p.text(MARGIN, y, 8.5, false, label);
        p.text_right(430.0, y, 8.5, &now);
        p.text_right(W - MARGIN, y, 8.5, &before);
    }
    y -= 40.0;
    daily_chart(
        &mut p,
        r,
        MARGIN + 20.0,
        y - 90.0,
        W - 2.0 * MARGIN - 20.0,
        90.0,
    );
    y -= 130.0;
    let flagged = r.agencies.iter().filter(|a| a.flagged).count();
    p.rgb(0.0, 0.0, 0.0);
    p.text(
        MARGIN,
        y,
        9.0,
        true,
        &format!("{flagged} instansi di bawah 60% tindak lanjut (ditandai merah, ditampilkan lebih dulu)"),
    );
    handled_chart(&mut p, &r.agencies, MARGIN, y - 18.0, W - 2.0 * MARGIN);
    pages.push(p);

    for (i, chunk) in r.agencies.chunks(ROWS_PER_PAGE).enumerate() {
        let mut p = Page::new();
        p.rgb(0.0, 0.0, 0.0);
        p.text(
            MARGIN,
            H - 56.0,
            11.0,
            true,
            &format!("Kinerja per instansi - {} ({})", r.period.label_id(), i + 1),
        );
        p.text(
            MARGIN,
            H - 70.0,
            7.5,
            false,
            "Verif./TL: median hari kerja sampai verifikasi / tindak lanjut pertama; Tdk dtgp: tidak ditanggapi",
        );
        let mut y = H - 92.0;
        table_header(&mut p, y);
        for row in chunk {
            y -= 14.0;
            table_row(&mut p, y, row);
        }
        pages.push(p);
    }

    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let first = 10;
    let ids: Vec<(Ref, Ref)> = (0..pages.len())
        .map(|i| {
            let n = first + 2 * i32::try_from(i).unwrap_or(0);
            (Ref::new(n), Ref::new(n + 1))
        })
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|(page, _)| *page))
        .count(i32::try_from(ids.len()).unwrap_or(0));
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr(&format!(
            "{} - {}",
            title_of(r),
            r.period.label_id()
        )))
        .producer(TextStr("LAPOR! node"));
    for (page, (page_id, content_id)) in pages.into_iter().zip(ids) {
        let mut pg = pdf.page(page_id);
        pg.media_box(Rect::new(0.0, 0.0, W, H))
            .parent(tree)
            .contents(content_id);
        pg.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        pg.finish();
        pdf.stream(content_id, &page.c.finish());
    }
    pdf.finish()
}
