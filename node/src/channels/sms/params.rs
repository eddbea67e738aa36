//! What Kannel sends: the `sms-service` parameters as query or form parameters, percent-decoded to bytes
//! (the text of a binary or UCS-2 message is not UTF-8), and the text decoded by its `coding` and `charset`.

/// The parameters of one request. A name given twice keeps its first value; query parameters come first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(Vec<(String, Vec<u8>)>);

/// Percent-decodes `application/x-www-form-urlencoded` bytes (`+` is a space). A malformed escape is kept as
/// it is, as browsers do.
fn decode_component(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(raw[i + 1]), hex(raw[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

impl Params {
    /// Parses a query string and a form body (either may be empty).
    pub fn parse(query: &[u8], body: &[u8]) -> Self {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        for part in query
            .split(|b| *b == b'&')
            .chain(body.split(|b| *b == b'&'))
        {
            if part.is_empty() {
                continue;
            }
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(at) => (&part[..at], &part[at + 1..]),
                None => (part, &b""[..]),
            };
            let name = String::from_utf8_lossy(&decode_component(k)).into_owned();
            if out.iter().any(|(n, _)| *n == name) {
                continue;
            }
            out.push((name, decode_component(v)));
        }
        Self(out)
    }

    /// A message sent as the request body (Kannel's `post-url`) when no `text` parameter came: its charset
    /// from the `Content-Type` unless a `charset` parameter says it, and 8-bit data
    /// (`application/octet-stream`) as coding 1 unless a `coding` parameter says it.
    pub fn body_text(&mut self, body: &[u8], content_type: &str) {
        if self.bytes("text").is_some() {
            return;
        }
        self.0.push(("text".into(), body.to_vec()));
        if content_type.starts_with("application/octet-stream") && self.bytes("coding").is_none() {
            self.0.push(("coding".into(), b"1".to_vec()));
        }
        let charset = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("charset="))
            .map(|c| c.trim_matches('"').to_owned());
        if let (Some(c), None) = (charset, self.bytes("charset")) {
            self.0.push(("charset".into(), c.into_bytes()));
        }
    }

    /// The raw bytes of a parameter.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// A parameter as text, trimmed; `None` when missing, empty or not UTF-8.
    pub fn text(&self, name: &str) -> Option<String> {
        self.bytes(name)
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }
}

/// Why a message's text cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// 8-bit data (coding 1), or bytes that are not text in the declared charset.
    Binary,
    /// The message had a user data header (a part of a longer message Kannel did not join, a ringtone...).
    Udh,
    /// A `coding` value Kannel does not define.
    Coding(String),
    /// A `charset` this node does not read.
    Charset(String),
}

/// The text of a message: `coding` 0 (GSM 7-bit) or 2 (UCS-2) and `charset` UTF-8 (Kannel's default),
/// UTF-16BE/UCS-2 (when `mo-recode` is off) or ISO-8859-1; no UDH. Control characters other than line
/// breaks become spaces.
pub fn decode_text(p: &Params) -> Result<String, Unreadable> {
    if p.bytes("udh").is_some_and(|u| !u.is_empty()) {
        return Err(Unreadable::Udh);
    }
    match p.text("coding").as_deref() {
        None | Some("0" | "2") => {}
        Some("1") => return Err(Unreadable::Binary),
        Some(other) => return Err(Unreadable::Coding(other.chars().take(20).collect())),
    }
    let raw = p.bytes("text").unwrap_or_default();
    let charset = p.text("charset").map(|c| c.to_ascii_uppercase());
    let text = match charset.as_deref() {
        None | Some("UTF-8" | "UTF8") => {
            String::from_utf8(raw.to_vec()).map_err(|_| Unreadable::Binary)?
        }
        Some("UTF-16BE" | "UCS-2" | "UCS-2BE" | "UTF-16") => {
            if !raw.len().is_multiple_of(2) {
                return Err(Unreadable::Binary);
            }
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| Unreadable::Binary)?
        }
        Some("ISO-8859-1" | "LATIN1") => raw.iter().map(|b| char::from(*b)).collect(),
        Some(other) => return Err(Unreadable::Charset(other.chars().take(20).collect())),
    };
    if text.contains('\0') {
        return Err(Unreadable::Binary);
    }
    Ok(text
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_form_parameters() {
        let p = Params::parse(
            b"token=abc&sender=%2B6281&text=KOTKUPANG+jalan+rusak",
            b"text=ignored&smsc=FAKE&ts=2026-12-03+14%3A58%3A51",
        );
        assert_eq!(p.text("token").as_deref(), Some("abc"));
        assert_eq!(p.text("sender").as_deref(), Some("+6281"));
        assert_eq!(decode_text(&p).unwrap(), "KOTKUPANG jalan rusak");
        assert_eq!(p.text("ts").as_deref(), Some("2026-12-03 14:58:51"));
        assert_eq!(p.text("missing"), None);
        assert_eq!(
            Params::parse(b"a=%zz%4", b"").bytes("a"),
            Some(&b"%zz%4"[..])
        );
    }

    #[test]
    fn post_url_bodies() {
        let mut p = Params::parse(b"token=t&sender=0812", b"");
        p.body_text(
            "KOTKUPANG jalan rusak".as_bytes(),
            "text/plain; charset=utf-8",
        );
        assert_eq!(decode_text(&p).unwrap(), "KOTKUPANG jalan rusak");
        let mut p = Params::parse(b"token=t", b"");
        p.body_text(
            &[0x00, 0x4B, 0x00, 0xE9],
            "text/plain; charset=\"UTF-16BE\"",
        );
        assert_eq!(decode_text(&p).unwrap(), "Ké");
        let mut p = Params::parse(b"token=t", b"");
        p.body_text(&[0xFF, 0x00], "application/octet-stream");
        assert_eq!(decode_text(&p), Err(Unreadable::Binary));
        let mut p = Params::parse(b"text=given", b"");
        p.body_text(b"ignored", "text/plain");
        assert_eq!(decode_text(&p).unwrap(), "given");
    }

    #[test]
    fn codings_and_charsets() {
        let ucs2 = Params::parse(b"text=%00K%00O%00T%00%E9&coding=2&charset=UTF-16BE", b"");
        assert_eq!(decode_text(&ucs2).unwrap(), "KOTé");
        let binary = Params::parse(b"text=%FF%FE%00%01&coding=1&charset=8-BIT", b"");
        assert_eq!(decode_text(&binary), Err(Unreadable::Binary));
        let bad_utf8 = Params::parse(b"text=%FF%FE", b"");
        assert_eq!(decode_text(&bad_utf8), Err(Unreadable::Binary));
        let udh = Params::parse(b"text=x&udh=%06%05%04%0B%84%23%F0", b"");
        assert_eq!(decode_text(&udh), Err(Unreadable::Udh));
        let coding = Params::parse(b"text=x&coding=7", b"");
        assert_eq!(decode_text(&coding), Err(Unreadable::Coding("7".into())));
        let charset = Params::parse(b"text=x&charset=KOI8-R", b"");
        assert_eq!(
            decode_text(&charset),
            Err(Unreadable::Charset("KOI8-R".into()))
        );
        let latin = Params::parse(b"text=caf%E9%07", b"charset=ISO-8859-1");
        assert_eq!(decode_text(&latin).unwrap(), "café ");
    }
}
