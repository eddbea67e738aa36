//! Charts as SVG drawn on the server: readable without JavaScript, on a phone (a `viewBox` that scales to
//! the width, labels above their bars so they never shrink beside them) and by screen readers (`role="img"`
//! with a title and a description; every chart is followed by its table). Colours go in presentation
//! attributes, which the content security policy allows (it forbids inline styles).

use std::fmt::Write as _;

use super::html::esc;

/// One bar.
pub struct Bar {
    /// Label above the bar.
    pub label: String,
    /// Its value.
    pub value: f64,
    /// Text at the end of the bar.
    pub text: String,
    /// Drawn in the warning colour (e.g. below 60%).
    pub alert: bool,
}

const WIDTH: f64 = 400.0;
const ROW: f64 = 34.0;
const BAR_H: f64 = 12.0;

fn head(out: &mut String, id: &str, height: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(desc)
    );
}

/// Horizontal bars, scaled to `max` (or the largest value), with an optional vertical line at `mark`
/// (e.g. the 60% rule) labelled `mark_label`.
pub fn bars(
    id: &str,
    title: &str,
    desc: &str,
    items: &[Bar],
    max: Option<f64>,
    mark: Option<(f64, &str)>,
) -> String {
    let top = 8.0;
    let height = top + ROW * items.len().max(1) as f64 + 18.0;
    let mut out = String::new();
    head(&mut out, id, height, title, desc);
    let max = max
        .unwrap_or_else(|| items.iter().map(|b| b.value).fold(0.0, f64::max))
        .max(f64::EPSILON);
    let track = WIDTH - 64.0;
    for (i, b) in items.iter().enumerate() {
        let y = top + ROW * i as f64;
        let w = (b.value / max).clamp(0.0, 1.0) * track;
        let fill = if b.alert { "#b3261e" } else { "#1f6f43" };
        let _ = write!(
            out,
            r##"<g><title>{label}: {text}</title><text x="0" y="{ty}" font-size="13" fill="#1b1b1b">{label}</text><rect x="0" y="{by}" width="{track}" height="{BAR_H}" fill="#e8eaed"/><rect x="0" y="{by}" width="{w:.1}" height="{BAR_H}" fill="{fill}"/><text x="{tx}" y="{tty}" font-size="12" fill="#1b1b1b">{text}</text></g>"##,
            label = esc(&b.label),
            text = esc(&b.text),
            ty = y + 12.0,
            by = y + 16.0,
            tx = track + 6.0,
            tty = y + 26.0,
        );
    }
    if let Some((m, label)) = mark {
        let x = (m / max).clamp(0.0, 1.0) * track;
        let bottom = top + ROW * items.len().max(1) as f64;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#1b1b1b" stroke-width="1" stroke-dasharray="4 3"/><text x="{x:.1}" y="{ly}" font-size="11" text-anchor="middle" fill="#1b1b1b">{}</text>"##,
            esc(label),
            ly = bottom + 13.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// A line over evenly spaced points, labelled at both ends, with the largest value on the axis.
pub fn line(id: &str, title: &str, desc: &str, points: &[(String, f64)]) -> String {
    let (h, left, bottom) = (170.0, 34.0, 150.0);
    let mut out = String::new();
    head(&mut out, id, h + 10.0, title, desc);
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0);
    let span = (points.len().max(2) - 1) as f64;
    let plot_w = WIDTH - left - 8.0;
    let plot_h = bottom - 10.0;
    let _ = write!(
        out,
        r##"<line x1="{left}" y1="10" x2="{left}" y2="{bottom}" stroke="#8a8f98"/><line x1="{left}" y1="{bottom}" x2="{WIDTH}" y2="{bottom}" stroke="#8a8f98"/><text x="{lx}" y="18" font-size="11" text-anchor="end" fill="#1b1b1b">{max}</text><text x="{lx}" y="{bottom}" font-size="11" text-anchor="end" fill="#1b1b1b">0</text>"##,
        lx = left - 4.0,
    );
    let coords: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            format!(
                "{:.1},{:.1}",
                left + plot_w * i as f64 / span,
                bottom - plot_h * v / max
            )
        })
        .collect();
    let _ = write!(
        out,
        r##"<polyline points="{}" fill="none" stroke="#0b5cad" stroke-width="2"/>"##,
        coords.join(" ")
    );
    for ((label, v), c) in points.iter().zip(&coords) {
        let (x, y) = c.split_once(',').unwrap_or(("0", "0"));
        let _ = write!(
            out,
            r##"<circle cx="{x}" cy="{y}" r="2.5" fill="#0b5cad"><title>{}: {v}</title></circle>"##,
            esc(label)
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            out,
            r##"<text x="{left}" y="{ly}" font-size="11" fill="#1b1b1b">{}</text><text x="{WIDTH}" y="{ly}" font-size="11" text-anchor="end" fill="#1b1b1b">{}</text>"##,
            esc(&first.0),
            esc(&last.0),
            ly = bottom + 16.0,
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_accessible_and_escaped() {
        let svg = bars(
            "c1",
            "Tindak lanjut",
            "Persentase per instansi",
            &[Bar {
                label: "Dinas <PU>".into(),
                value: 0.5,
                text: "50%".into(),
                alert: true,
            }],
            Some(1.0),
            Some((0.6, "60%")),
        );
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains("<title id=\"c1-t\">Tindak lanjut</title>"));
        assert!(svg.contains("Dinas &lt;PU&gt;"));
        assert!(svg.contains("#b3261e"));
        assert!(!svg.contains("style="));
    }

    #[test]
    fn line_spans_the_points() {
        let svg = line("l", "t", "d", &[("1".into(), 0.0), ("2".into(), 4.0)]);
        assert!(svg.contains("<polyline points=\"34.0,150.0 392.0,10.0\""));
    }
}
