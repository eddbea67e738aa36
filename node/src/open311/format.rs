//! One response tree, two renderings: GeoReport v2's XML (required by the specification) and its JSON, the
//! specification's mechanical mapping of the XML (a list root becomes an array, an element an object). Every
//! endpoint builds a [`Doc`] once and [`render`] writes it in the format the path's suffix asked for, so the
//! two can never disagree on a field.

use std::fmt::Write as _;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The response format, from the path's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.xml`: `text/xml; charset=utf-8`.
    Xml,
    /// `.json`: `application/json; charset=utf-8`.
    Json,
}

impl Format {
    /// Splits `services.json` into (`services`, `Json`); `None` for another or no suffix.
    pub fn split(name: &str) -> (&str, Option<Format>) {
        if let Some(base) = name.strip_suffix(".json") {
            (base, Some(Format::Json))
        } else if let Some(base) = name.strip_suffix(".xml") {
            (base, Some(Format::Xml))
        } else {
            (name.rsplit_once('.').map_or(name, |(b, _)| b), None)
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "text/xml; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
        }
    }
}

/// A value of the response tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Text (XML text, JSON string).
    Str(String),
    /// A number (JSON number; XML text).
    Num(f64),
    /// An integer.
    Int(i64),
    /// `true`/`false`.
    Bool(bool),
    /// Absent value: an empty element in XML, `null` in JSON.
    Null,
    /// An element with named children (JSON object).
    Obj(Vec<(&'static str, Val)>),
    /// A list whose items are elements named `item` in XML (a JSON array).
    List(&'static str, Vec<Val>),
}

impl Val {
    /// Text, or [`Val::Null`] when `None`.
    pub fn opt(s: Option<String>) -> Self {
        s.map_or(Val::Null, Val::Str)
    }

    /// Text.
    pub fn s(s: impl Into<String>) -> Self {
        Val::Str(s.into())
    }
}

/// A whole response: the root element's name and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Root element name in XML (`services`, `service_requests`, `errors`, ...).
    pub root: &'static str,
    /// Content: a [`Val::List`] (JSON array) or a [`Val::Obj`] (JSON object).
    pub body: Val,
}

/// Escapes text for XML element content.
fn esc(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped (they cannot come from our own data, which is
            // checked UTF-8 text, except control characters inside free text).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
}

fn num(n: f64) -> String {
    if n.is_finite() {
        format!("{n}")
    } else {
        String::new()
    }
}

fn xml_children(out: &mut String, v: &Val) {
    match v {
        Val::Str(s) => esc(out, s),
        Val::Num(n) => out.push_str(&num(*n)),
        Val::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Null => {}
        Val::Obj(fields) => {
            for (name, val) in fields {
                xml_element(out, name, val);
            }
        }
        Val::List(item, items) => {
            for i in items {
                xml_element(out, item, i);
            }
        }
    }
}

fn xml_element(out: &mut String, name: &str, v: &Val) {
    if matches!(v, Val::Null) {
        let _ = write!(out, "<{name}/>");
        return;
    }
    let _ = write!(out, "<{name}>");
    xml_children(out, v);
    let _ = write!(out, "</{name}>");
}

/// The XML document.
pub fn to_xml(doc: &Doc) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    xml_element(&mut out, doc.root, &doc.body);
    out
}

fn to_json_value(v: &Val) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Val::Str(s) => J::String(s.clone()),
        Val::Num(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Val::Int(i) => J::from(*i),
        Val::Bool(b) => J::Bool(*b),
        Val::Null => J::Null,
        Val::Obj(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), to_json_value(v)))
                .collect(),
        ),
        Val::List(_, items) => J::Array(items.iter().map(to_json_value).collect()),
    }
}

/// The JSON document (the root element is implied, as the specification's JSON examples show).
pub fn to_json(doc: &Doc) -> String {
    to_json_value(&doc.body).to_string()
}

/// The response in `format` with `status`.
pub fn render(format: Format, status: StatusCode, doc: &Doc) -> Response {
    let body = match format {
        Format::Xml => to_xml(doc),
        Format::Json => to_json(doc),
    };
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Doc {
        Doc {
            root: "service_requests",
            body: Val::List(
                "request",
                vec![Val::Obj(vec![
                    ("service_request_id", Val::s("KPG-1")),
                    ("description", Val::s("jalan <rusak> & \"licin\"")),
                    ("address_id", Val::Null),
                    ("lat", Val::Num(-10.17)),
                ])],
            ),
        }
    }

    #[test]
    fn xml_and_json_carry_the_same_fields() {
        let d = sample();
        assert_eq!(
            to_xml(&d),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request>\
             <service_request_id>KPG-1</service_request_id>\
             <description>jalan &lt;rusak&gt; &amp; &quot;licin&quot;</description>\
             <address_id/><lat>-10.17</lat></request></service_requests>"
        );
        let j: serde_json::Value = serde_json::from_str(&to_json(&d)).unwrap();
        assert_eq!(j[0]["service_request_id"], "KPG-1");
        assert_eq!(j[0]["address_id"], serde_json::Value::Null);
        assert_eq!(j[0]["lat"], -10.17);
    }

    #[test]
    fn suffixes() {
        assert_eq!(
            Format::split("services.json"),
            ("services", Some(Format::Json))
        );
        assert_eq!(Format::split("KPG-1.xml"), ("KPG-1", Some(Format::Xml)));
        assert_eq!(Format::split("services.yaml"), ("services", None));
        assert_eq!(Format::split("services"), ("services", None));
    }
}
