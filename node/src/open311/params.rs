//! Parameters of GeoReport v2 requests: the query string of a `GET`, the form-encoded (or multipart) body of
//! a `POST`. Decoding is strict: a byte sequence that is not UTF-8 after percent-decoding is refused rather
//! than stored with replacement characters, a single-valued parameter given twice is refused, and an empty
//! parameter counts as a missing one (the specification says so).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

use super::error::Open311Error;
use crate::domain::Millis;

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn decode(s: &[u8]) -> Result<String, Open311Error> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let pair = s
                    .get(i + 1..i + 3)
                    .and_then(|h| Some(hex_val(h[0])? * 16 + hex_val(h[1])?));
                let Some(b) = pair else {
                    return Err(Open311Error::bad(
                        "pengodean persen tidak valid dalam parameter",
                        "invalid percent-encoding in a parameter",
                    ));
                };
                out.push(b);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| {
        Open311Error::bad(
            "parameter bukan teks UTF-8 yang valid",
            "a parameter is not valid UTF-8 text",
        )
    })
}

/// The parameters of one request, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a query string or a form-encoded body.
    pub fn parse(raw: &[u8]) -> Result<Self, Open311Error> {
        let mut pairs = Vec::new();
        for part in raw.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match part.iter().position(|&b| b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Self { pairs })
    }

    /// Parameters from already decoded pairs (multipart text fields).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// A single-valued parameter: `None` when missing or empty, an error when given twice.
    pub fn one(&self, name: &str) -> Result<Option<&str>, Open311Error> {
        let mut found = self
            .pairs
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(Open311Error::bad(
                &format!("parameter {name} diberikan lebih dari sekali"),
                &format!("parameter {name} is given more than once"),
            ));
        }
        Ok(first)
    }

    /// A comma-separated list parameter, trimmed, without empty items.
    pub fn list(&self, name: &str) -> Result<Vec<String>, Open311Error> {
        Ok(self
            .one(name)?
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `attribute[code]=v` and `attribute[code][]=v` values by code (empty values dropped); an error for a
    /// malformed `attribute…` name.
    pub fn attributes(&self) -> Result<BTreeMap<String, Vec<String>>, Open311Error> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &self.pairs {
            let Some(rest) = k.strip_prefix("attribute") else {
                continue;
            };
            let code = rest
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix("][]").or_else(|| r.strip_suffix(']')))
                .filter(|c| !c.is_empty() && !c.contains(['[', ']']));
            let Some(code) = code else {
                return Err(Open311Error::bad(
                    &format!("nama parameter {k} tidak valid; gunakan attribute[kode]"),
                    &format!("parameter name {k} is malformed; use attribute[code]"),
                ));
            };
            let entry = out.entry(code.to_owned()).or_default();
            if !v.trim().is_empty() {
                entry.push(v.trim().to_owned());
            }
        }
        out.retain(|_, v| !v.is_empty());
        Ok(out)
    }
}

/// Parses a W3C datetime with its zone (`2026-12-01T08:00:00+08:00`, `…Z`), or a date alone
/// (`2026-12-01`, the start of that day in the node's zone).
pub fn parse_datetime(name: &str, value: &str, zone: FixedOffset) -> Result<Millis, Open311Error> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        if let Some(t) = d
            .and_hms_opt(0, 0, 0)
            .and_then(|n| zone.from_local_datetime(&n).single())
        {
            return Ok(t.timestamp_millis());
        }
    }
    Err(Open311Error::bad(
        &format!(
            "{name} bukan tanggal-waktu W3C dengan zona waktu, mis. 2026-12-01T00:00:00+08:00"
        ),
        &format!("{name} is not a W3C datetime with a time zone, e.g. 2026-12-01T00:00:00+08:00"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_is_strict() {
        let p =
            Params::parse(b"a=1&b=jalan+rusak%21&empty=&attribute%5Bkind%5D=complaint").unwrap();
        assert_eq!(p.one("a").unwrap(), Some("1"));
        assert_eq!(p.one("b").unwrap(), Some("jalan rusak!"));
        assert_eq!(p.one("empty").unwrap(), None);
        assert_eq!(p.one("missing").unwrap(), None);
        assert_eq!(p.attributes().unwrap()["kind"], vec!["complaint"]);
        assert!(Params::parse(b"a=%FF%FE").is_err());
        assert!(Params::parse(b"a=%G1").is_err());
        assert!(Params::parse(b"a=1&a=2").unwrap().one("a").is_err());
        assert!(Params::parse(b"attribute%5B%5D=x")
            .unwrap()
            .attributes()
            .is_err());
        let multi = Params::parse(b"attribute[t][]=a&attribute[t][]=b").unwrap();
        assert_eq!(multi.attributes().unwrap()["t"], vec!["a", "b"]);
    }

    #[test]
    fn datetimes_need_a_zone() {
        let wita = FixedOffset::east_opt(8 * 3600).unwrap();
        assert_eq!(
            parse_datetime("start_date", "2026-12-01T00:00:00Z", wita).unwrap(),
            1_796_083_200_000
        );
        assert_eq!(
            parse_datetime("start_date", "2026-12-01", wita).unwrap(),
            1_796_083_200_000 - 8 * 3_600_000
        );
        assert!(parse_datetime("start_date", "2026-12-01T00:00:00", wita).is_err());
        assert!(parse_datetime("start_date", "kemarin", wita).is_err());
    }
}
