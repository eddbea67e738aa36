//! Hand-written HTML: one escaping function used for every piece of outside text, small builders for the
//! repeated parts (fields with their error messages, status badges, the page layout).
//!
//! No template engine: every page is a Rust function, so the compiler checks every value that goes into it,
//! and the rule is simple to review: text from a variable goes through [`esc`] (or a builder that calls it),
//! literal markup is written in the source.

use std::fmt::Write as _;

use lapor_schemas::problem::FieldError;
use lapor_schemas::ReportStatus;

use super::assets;
use super::Ctx;
use crate::http::error::Lang;

/// Escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
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

/// Percent-encodes a value for a URL query or path segment.
pub fn url_enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Picks the text of the page language.
pub fn tr(lang: Lang, id: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Id => id,
        Lang::En => en,
    }
}

/// Status label in the page language.
pub fn status_label(lang: Lang, s: ReportStatus) -> &'static str {
    match lang {
        Lang::Id => s.label_id(),
        Lang::En => s.label_en(),
    }
}

/// A coloured status badge.
pub fn badge(lang: Lang, s: ReportStatus) -> String {
    format!(
        r#"<span class="badge st-{}">{}</span>"#,
        s.as_str(),
        esc(status_label(lang, s))
    )
}

/// The per-field error messages of a form, keyed by field name.
#[derive(Debug, Default, Clone)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, in the page language (the service writes "id / en").
    pub fn of(&self, lang: Lang, field: &str) -> Option<String> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| localise(lang, &e.message))
    }

    /// Adds one.
    pub fn push(&mut self, field: &str, code: &str, id: &str, en: &str) {
        self.0.push(FieldError {
            field: field.into(),
            code: code.into(),
            message: format!("{id} / {en}"),
        });
    }

    /// A summary box listing every problem, or nothing.
    pub fn summary(&self, lang: Lang) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let mut s = format!(
            r#"<div class="alert error" role="alert" id="errors"><p><strong>{}</strong></p><ul>"#,
            tr(
                lang,
                "Periksa kembali isian berikut:",
                "Please check these fields:"
            )
        );
        for e in &self.0 {
            let _ = write!(
                s,
                r##"<li><a href="#f-{}">{}</a>: {}</li>"##,
                esc(&e.field.replace('.', "-")),
                esc(&e.field),
                esc(&localise(lang, &e.message))
            );
        }
        s.push_str("</ul></div>");
        s
    }
}

/// The service writes field messages as "Indonesian / English"; a page shows only its language.
pub fn localise(lang: Lang, message: &str) -> String {
    match message.split_once(" / ") {
        Some((id, en)) => match lang {
            Lang::Id => id.to_owned(),
            Lang::En => en.to_owned(),
        },
        None => message.to_owned(),
    }
}

/// The id attribute used for a field (dots are not welcome in fragment links).
pub fn field_id(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

/// A labelled text input with its hint and error.
pub struct Input<'a> {
    /// Field name.
    pub name: &'a str,
    /// Label.
    pub label: &'a str,
    /// Current value.
    pub value: &'a str,
    /// `text`, `email`, `tel`, `date`, `password`, `number`...
    pub kind: &'a str,
    /// Hint below the label.
    pub hint: &'a str,
    /// Required.
    pub required: bool,
    /// Extra attributes (literal markup).
    pub attrs: &'a str,
}

impl Input<'_> {
    /// Renders it.
    pub fn render(&self, lang: Lang, errors: &Errors) -> String {
        let id = field_id(self.name);
        let err = errors.of(lang, self.name);
        let mut s = format!(
            r#"<div class="field{}"><label for="{id}">{}{}</label>"#,
            if err.is_some() { " invalid" } else { "" },
            esc(self.label),
            if self.required { " *" } else { "" }
        );
        if !self.hint.is_empty() {
            let _ = write!(
                s,
                r#"<p class="hint" id="{id}-hint">{}</p>"#,
                esc(self.hint)
            );
        }
        if let Some(e) = &err {
            let _ = write!(s, r#"<p class="msg" id="{id}-err">{}</p>"#, esc(e));
        }
        let _ = write!(
            s,
            r#"<input type="{}" id="{id}" name="{}" value="{}"{}{}{}></div>"#,
            self.kind,
            esc(self.name),
            esc(self.value),
            if self.required { " required" } else { "" },
            described_by(&id, !self.hint.is_empty(), err.is_some()),
            if self.attrs.is_empty() {
                String::new()
            } else {
                format!(" {}", self.attrs)
            }
        );
        s
    }
}

fn described_by(id: &str, hint: bool, err: bool) -> String {
    let mut ids = Vec::new();
    if hint {
        ids.push(format!("{id}-hint"));
    }
    if err {
        ids.push(format!("{id}-err"));
    }
    if ids.is_empty() {
        String::new()
    } else {
        format!(
            r#" aria-describedby="{}"{}"#,
            ids.join(" "),
            if err { r#" aria-invalid="true""# } else { "" }
        )
    }
}

/// A labelled textarea.
pub fn textarea(
    lang: Lang,
    errors: &Errors,
    name: &str,
    label: &str,
    value: &str,
    hint: &str,
    required: bool,
) -> String {
    textarea_as(
        lang,
        errors,
        name,
        &field_id(name),
        label,
        value,
        hint,
        required,
    )
}

/// A labelled textarea with an id of its own, for pages with several forms that each have a field of the same
/// name (ids must be unique on a page, or labels point at the wrong field).
#[allow(clippy::too_many_arguments)]
pub fn textarea_as(
    lang: Lang,
    errors: &Errors,
    name: &str,
    id: &str,
    label: &str,
    value: &str,
    hint: &str,
    required: bool,
) -> String {
    let err = errors.of(lang, name);
    let mut s = format!(
        r#"<div class="field{}"><label for="{id}">{}{}</label>"#,
        if err.is_some() { " invalid" } else { "" },
        esc(label),
        if required { " *" } else { "" }
    );
    if !hint.is_empty() {
        let _ = write!(s, r#"<p class="hint" id="{id}-hint">{}</p>"#, esc(hint));
    }
    if let Some(e) = &err {
        let _ = write!(s, r#"<p class="msg" id="{id}-err">{}</p>"#, esc(e));
    }
    let _ = write!(
        s,
        r#"<textarea id="{id}" name="{}" rows="5"{}{}>{}</textarea></div>"#,
        esc(name),
        if required { " required" } else { "" },
        described_by(id, !hint.is_empty(), err.is_some()),
        esc(value)
    );
    s
}

/// A labelled select; `options` are (value, label).
pub fn select(
    lang: Lang,
    errors: &Errors,
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
) -> String {
    let id = field_id(name);
    let err = errors.of(lang, name);
    let mut s = format!(
        r#"<div class="field{}"><label for="{id}">{}</label>"#,
        if err.is_some() { " invalid" } else { "" },
        esc(label)
    );
    if let Some(e) = &err {
        let _ = write!(s, r#"<p class="msg" id="{id}-err">{}</p>"#, esc(e));
    }
    let _ = write!(
        s,
        r#"<select id="{id}" name="{}"{}>"#,
        esc(name),
        described_by(&id, false, err.is_some())
    );
    for (v, l) in options {
        let _ = write!(
            s,
            r#"<option value="{}"{}>{}</option>"#,
            esc(v),
            if v == selected { " selected" } else { "" },
            esc(l)
        );
    }
    s.push_str("</select></div>");
    s
}

/// A checkbox with its explanation.
pub fn checkbox(name: &str, label: &str, explain: &str, checked: bool) -> String {
    let id = field_id(name);
    format!(
        r#"<div class="check"><input type="checkbox" id="{id}" name="{}" value="1"{} aria-describedby="{id}-hint"><label for="{id}">{}</label><p class="hint" id="{id}-hint">{}</p></div>"#,
        esc(name),
        if checked { " checked" } else { "" },
        esc(label),
        esc(explain)
    )
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(ctx: &Ctx) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(&ctx.csrf())
    )
}

/// Options of a page.
#[derive(Debug, Default, Clone, Copy)]
pub struct PageOpts {
    /// Loads Leaflet and the map script; allows OpenStreetMap tiles in the content security policy.
    pub map: bool,
    /// Officer console navigation instead of the citizen one.
    pub officer: bool,
}

/// The whole document around `body`.
pub fn layout(ctx: &Ctx, title: &str, body: &str, opts: PageOpts) -> String {
    let lang = ctx.lang;
    let (other_code, other_label) = match lang {
        Lang::Id => ("en", "English"),
        Lang::En => ("id", "Bahasa Indonesia"),
    };
    let switch = format!("{}?lang={other_code}", esc(&ctx.path));
    let nav = if opts.officer {
        let role = ctx.viewer.user().map(|u| u.role);
        let mut n = format!(
            r#"<a href="/officer">{}</a>"#,
            tr(lang, "Kotak masuk", "Inbox")
        );
        // Only what the role can use: the assisted intake for those who may log reports, the audit log for
        // its readers.
        if role.is_some_and(crate::domain::access::logs_assisted) {
            let _ = write!(
                n,
                r#"<a href="/officer/new">{}</a>"#,
                tr(lang, "Catat laporan", "Log a report")
            );
        }
        let _ = write!(
            n,
            r#"<a href="/officer/dashboard">{}</a>"#,
            tr(lang, "Dasbor", "Dashboard")
        );
        if role.is_some_and(crate::domain::access::reads_audit) {
            let _ = write!(
                n,
                r#"<a href="/officer/audit">{}</a>"#,
                tr(lang, "Log audit", "Audit log")
            );
        }
        if ctx.viewer.user().is_some() {
            let _ = write!(
                n,
                r#"<a href="/officer/profile">{}</a>"#,
                tr(lang, "Profil", "Profile")
            );
            let _ = write!(
                n,
                r#"<form method="post" action="/officer/logout" class="inline">{}<button type="submit" class="link">{}</button></form>"#,
                csrf_field(ctx),
                tr(lang, "Keluar", "Log out")
            );
        }
        n
    } else {
        format!(
            r#"<a href="/report">{}</a><a href="/track">{}</a><a href="/reports">{}</a><a href="/stats">{}</a>"#,
            tr(lang, "Buat laporan", "New report"),
            tr(lang, "Lacak", "Track"),
            tr(lang, "Laporan publik", "Public reports"),
            tr(lang, "Statistik", "Statistics"),
        )
    };
    let map_head = if opts.map {
        format!(
            r#"<link rel="stylesheet" href="{}"><script src="{}" defer></script><script src="{}" defer></script>"#,
            assets::url("leaflet.css"),
            assets::url("leaflet.js"),
            assets::url("map.js"),
        )
    } else {
        String::new()
    };
    format!(
        r##"<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · LAPOR! {node}</title><link rel="stylesheet" href="{css}">{map_head}<script src="{draft}" defer></script></head><body><a class="skip" href="#main">{skip}</a><header class="top"><div class="wrap"><a class="brand" href="{home}">LAPOR! <span>{node}</span></a><nav aria-label="{navlabel}">{nav}</nav><a class="lang" href="{switch}" hreflang="{other_code}" lang="{other_code}">{other_label}</a></div></header><main id="main" class="wrap">{body}</main><footer class="wrap"><p>{footer}</p></footer></body></html>"##,
        html_lang = match lang {
            Lang::Id => "id",
            Lang::En => "en",
        },
        title = esc(title),
        node = esc(&ctx.node_name),
        css = assets::url("site.css"),
        draft = assets::url("draft.js"),
        skip = tr(lang, "Langsung ke isi", "Skip to content"),
        home = if opts.officer { "/officer" } else { "/" },
        navlabel = tr(lang, "Menu utama", "Main menu"),
        footer = tr(
            lang,
            "Layanan Aspirasi dan Pengaduan Online Rakyat (SP4N-LAPOR!). Laporan Anda dilindungi: identitas pelapor anonim tidak disimpan.",
            "Public service complaints (SP4N-LAPOR!). Your report is protected: the identity of anonymous reporters is not stored."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert('x') & "y"</script>"#),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(esc("Jalan Frans Seda"), "Jalan Frans Seda");
    }

    #[test]
    fn messages_are_localised() {
        assert_eq!(
            localise(Lang::Id, "wajib diisi / is required"),
            "wajib diisi"
        );
        assert_eq!(
            localise(Lang::En, "wajib diisi / is required"),
            "is required"
        );
        assert_eq!(localise(Lang::En, "plain"), "plain");
    }

    #[test]
    fn inputs_escape_values() {
        let mut e = Errors::default();
        e.push("title", "required", "wajib diisi", "is required");
        let html = Input {
            name: "title",
            label: "Judul",
            value: "\"><script>",
            kind: "text",
            hint: "",
            required: true,
            attrs: "",
        }
        .render(Lang::Id, &e);
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
        assert!(html.contains("wajib diisi"));
        assert!(html.contains(r#"aria-invalid="true""#));
    }
}
