//! Discovery, the service list (the node's active categories) and service definitions. LAPOR! has fields
//! that Open311 lacks; they are attributes of every service: the report kind (pengaduan, aspirasi,
//! permintaan informasi), a title, and the two privacy flags.

use lapor_schemas::api::Category;
use lapor_schemas::ReportKind;

use super::format::{Doc, Val};
use super::Ctx;

/// The specification URL discovery names.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

/// A service attribute every service has.
pub struct Attribute {
    /// `code` (the `attribute[code]` of a POST).
    pub code: &'static str,
    /// `datatype`.
    pub datatype: &'static str,
    /// `description`.
    pub description: &'static str,
    /// Allowed values (`key`, `name`) of a list.
    pub values: &'static [(&'static str, &'static str)],
}

const BOOL_VALUES: &[(&str, &str)] = &[("false", "Tidak / No"), ("true", "Ya / Yes")];
const KIND_VALUES: &[(&str, &str)] = &[
    ("complaint", "Pengaduan / Complaint"),
    ("aspiration", "Aspirasi / Aspiration"),
    (
        "information_request",
        "Permintaan Informasi / Information request",
    ),
];

/// The attributes of every service, in `order`.
pub const ATTRIBUTES: [Attribute; 4] = [
    Attribute {
        code: "kind",
        datatype: "singlevaluelist",
        description: "Jenis laporan LAPOR! (bawaan: pengaduan) / LAPOR! report kind (default: complaint)",
        values: KIND_VALUES,
    },
    Attribute {
        code: "title",
        datatype: "string",
        description: "Judul laporan, 5-200 karakter (bawaan: awal deskripsi) / Report title, 5-200 characters \
                      (default: the start of the description)",
        values: &[],
    },
    Attribute {
        code: "anonymous",
        datatype: "singlevaluelist",
        description: "Anonim: identitas pelapor tidak disimpan dan tidak diteruskan / Anonymous: the reporter's \
                      identity is neither stored nor passed on",
        values: BOOL_VALUES,
    },
    Attribute {
        code: "confidential",
        datatype: "singlevaluelist",
        description: "Rahasia: laporan tidak tampil untuk publik (juga tidak lewat Open311) / Confidential: the \
                      report is hidden from the public (Open311 included)",
        values: BOOL_VALUES,
    },
];

/// Parses the value of the `kind` attribute.
pub fn kind_of(value: &str) -> Option<ReportKind> {
    ReportKind::parse(value)
}

/// `GET discovery`.
pub fn discovery(ctx: &Ctx) -> Doc {
    let endpoint = Val::Obj(vec![
        ("specification", Val::s(SPECIFICATION)),
        ("url", Val::s(format!("{}/open311/v2", ctx.base))),
        ("changeset", Val::s(super::CHANGESET)),
        ("type", Val::s("production")),
        (
            "formats",
            Val::List(
                "format",
                vec![Val::s("text/xml"), Val::s("application/json")],
            ),
        ),
    ]);
    Doc {
        root: "discovery",
        body: Val::Obj(vec![
            ("changeset", Val::s(super::CHANGESET)),
            ("contact", Val::s(ctx.contact.clone())),
            ("key_service", Val::s(ctx.key_service.clone())),
            ("endpoints", Val::List("endpoint", vec![endpoint])),
        ]),
    }
}

fn service(c: &Category, group: &str) -> Val {
    Val::Obj(vec![
        ("service_code", Val::s(c.id.clone())),
        ("service_name", Val::s(c.name_id.clone())),
        (
            "description",
            Val::s(format!("{} / {}", c.name_id, c.name_en)),
        ),
        ("metadata", Val::Bool(true)),
        ("type", Val::s("realtime")),
        (
            "keywords",
            Val::s(format!(
                "{}, {}, lapor",
                c.name_id.to_lowercase(),
                c.name_en.to_lowercase()
            )),
        ),
        ("group", Val::s(group)),
    ])
}

/// `GET services`: the active categories.
pub fn services(categories: &[Category], group: &str) -> Doc {
    Doc {
        root: "services",
        body: Val::List(
            "service",
            categories
                .iter()
                .filter(|c| c.active)
                .map(|c| service(c, group))
                .collect(),
        ),
    }
}

/// `GET services/{code}`.
pub fn definition(code: &str) -> Doc {
    let attributes = ATTRIBUTES
        .iter()
        .zip(1i64..)
        .map(|(a, order)| {
            Val::Obj(vec![
                ("variable", Val::Bool(true)),
                ("code", Val::s(a.code)),
                ("datatype", Val::s(a.datatype)),
                ("required", Val::Bool(false)),
                ("datatype_description", Val::s(a.description)),
                ("order", Val::Int(order)),
                ("description", Val::s(a.description)),
                (
                    "values",
                    Val::List(
                        "value",
                        a.values
                            .iter()
                            .map(|(k, n)| Val::Obj(vec![("key", Val::s(*k)), ("name", Val::s(*n))]))
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    Doc {
        root: "service_definition",
        body: Val::Obj(vec![
            ("service_code", Val::s(code)),
            ("attributes", Val::List("attribute", attributes)),
        ]),
    }
}
