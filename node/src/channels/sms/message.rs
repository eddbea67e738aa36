//! What a citizen's SMS asks for, decided from its words alone (pure; the keywords are looked up by the
//! caller). The grammar, in the order tried:
//!
//! * `CEK <code>`: the status of a report;
//! * `<code> <text>`: more information for a report (a supplement while it is on hold, a reply to the
//!   follow-up);
//! * `[KEYWORD] [KIND] [ANONIM] <text>`, the three leading words in any order: a new report. `KEYWORD`
//!   names a node or an agency (`KOTKUPANG`), `KIND` a kind (`ASPIRASI`, `INFO`; otherwise a complaint),
//!   `ANONIM` files without keeping the number. Without a known keyword the whole text is the body and the
//!   report goes to this node's admin queue.

use lapor_schemas::ReportKind;

use crate::domain::tracking;

/// Longest text read, in characters (ten concatenated parts); longer ones are refused whole.
pub const MAX_TEXT_CHARS: usize = 1600;
/// Shortest report body, in characters (as at every intake).
pub const MIN_BODY_CHARS: usize = 10;
/// Longest title derived from the text, in characters.
pub const TITLE_CHARS: usize = 80;

/// Where a keyword sends a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A node's admin queue (this node's when the id is this node's).
    Node(String),
    /// An agency, on the node that hosts it.
    Agency {
        /// Agency id.
        agency_id: String,
        /// The hosting node.
        node_id: String,
    },
}

/// A new report as the SMS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// The keyword and where it sends the report; `None` for this node's admin queue.
    pub target: Option<(String, Target)>,
    /// Kind.
    pub kind: ReportKind,
    /// Filed without keeping the number.
    pub anonymous: bool,
    /// Title derived from the body.
    pub title: String,
    /// Body.
    pub body: String,
}

/// What an SMS asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Nothing but spaces.
    Empty,
    /// Longer than [`MAX_TEXT_CHARS`].
    TooLong(usize),
    /// `CEK` with a code (`None`: the code is missing or is not one).
    Status(Option<String>),
    /// A code, then more information (empty when nothing followed the code).
    FollowUp {
        /// Tracking code, normalised.
        code: String,
        /// The information.
        text: String,
    },
    /// Only keywords, no text.
    KeywordOnly(String),
    /// A text shorter than [`MIN_BODY_CHARS`].
    TooShort,
    /// A new report.
    Report(NewReport),
}

/// The vocabulary of this node: keyword lookups.
pub struct Vocabulary<'a> {
    /// Where a keyword (upper case) sends a report.
    pub target: &'a dyn Fn(&str) -> Option<Target>,
    /// The kind a second keyword sets.
    pub kind: &'a dyn Fn(&str) -> Option<ReportKind>,
    /// The anonymous keyword.
    pub anonymous: &'a str,
}

/// A word as a keyword: upper case, without the punctuation people put after it (`KOTKUPANG:`).
pub fn keyword(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric())
        .to_uppercase()
}

/// The tracking code `word` is, normalised, when it looks like one (`KPG-7Q2M9X4K1B`).
pub fn tracking_code(word: &str) -> Option<String> {
    let code =
        tracking::normalise_tracking_code(word.trim_end_matches(|c: char| ".,:;".contains(c)));
    let (node, rest) = code.split_once('-')?;
    let ok = (2..=8).contains(&node.len())
        && node
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && rest.len() == 10
        && rest
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    ok.then_some(code)
}

/// A title from the body: its first words up to [`TITLE_CHARS`], cut at a word, the first letter upper case.
pub fn title_of(body: &str) -> String {
    let mut title = String::new();
    for word in body.split_whitespace() {
        let len = title.chars().count() + usize::from(!title.is_empty()) + word.chars().count();
        if len > TITLE_CHARS {
            if title.is_empty() {
                title = word.chars().take(TITLE_CHARS).collect();
            }
            title.push('…');
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    let mut chars = title.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => title,
    }
}

/// Reads an SMS.
pub fn parse(text: &str, vocab: &Vocabulary<'_>) -> Message {
    let len = text.chars().count();
    if len > MAX_TEXT_CHARS {
        return Message::TooLong(len);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(first) = words.first() else {
        return Message::Empty;
    };
    if keyword(first) == "CEK" {
        return Message::Status(words.get(1).and_then(|w| tracking_code(w)));
    }
    if let Some(code) = tracking_code(first) {
        return Message::FollowUp {
            code,
            text: words[1..].join(" "),
        };
    }
    let (mut target, mut kind, mut anonymous) = (None, None, false);
    let mut used = 0;
    for w in words.iter().take(3) {
        let k = keyword(w);
        if target.is_none() {
            if let Some(t) = (vocab.target)(&k) {
                target = Some((k, t));
                used += 1;
                continue;
            }
        }
        if kind.is_none() {
            if let Some(found) = (vocab.kind)(&k) {
                kind = Some(found);
                used += 1;
                continue;
            }
        }
        if !anonymous && k == vocab.anonymous {
            anonymous = true;
            used += 1;
            continue;
        }
        break;
    }
    let rest = words[used..].join(" ");
    if rest.is_empty() {
        return Message::KeywordOnly(
            words
                .iter()
                .map(|w| keyword(w))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    // Without a known keyword nothing is taken off: the whole text is the body.
    let body = if target.is_some() {
        rest
    } else {
        words.join(" ")
    };
    if rest_chars(&body) < MIN_BODY_CHARS {
        return Message::TooShort;
    }
    Message::Report(NewReport {
        target,
        kind: kind.unwrap_or(ReportKind::Complaint),
        anonymous,
        title: title_of(&body),
        body,
    })
}

fn rest_chars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Message {
        let target = |k: &str| match k {
            "KOTKUPANG" => Some(Target::Node("kupangkota".into())),
            "PUPRKUPANG" => Some(Target::Agency {
                agency_id: "dinas-pupr".into(),
                node_id: "kupangkota".into(),
            }),
            _ => None,
        };
        let kind = |k: &str| (k == "ASPIRASI").then_some(ReportKind::Aspiration);
        parse(
            text,
            &Vocabulary {
                target: &target,
                kind: &kind,
                anonymous: "ANONIM",
            },
        )
    }

    #[test]
    fn keywords_select_target_kind_and_anonymity() {
        let Message::Report(r) = read("KOTKUPANG jalan rusak di Oebobo") else {
            panic!()
        };
        assert_eq!(
            r.target,
            Some(("KOTKUPANG".into(), Target::Node("kupangkota".into())))
        );
        assert_eq!((r.kind, r.anonymous), (ReportKind::Complaint, false));
        assert_eq!(
            (r.title.as_str(), r.body.as_str()),
            ("Jalan rusak di Oebobo", "jalan rusak di Oebobo")
        );
        let Message::Report(r) = read("anonim  puprkupang: ASPIRASI  tolong perbaiki\nlampu jalan")
        else {
            panic!()
        };
        assert!(r.anonymous);
        assert_eq!(r.kind, ReportKind::Aspiration);
        assert!(matches!(r.target, Some((_, Target::Agency { .. }))));
        assert_eq!(r.body, "tolong perbaiki lampu jalan");
        // Unknown keyword: the whole text, to the admin queue.
        let Message::Report(r) = read("KOTAKUPANG air PDAM mati sejak kemarin") else {
            panic!()
        };
        assert_eq!(
            (r.target, r.body.as_str()),
            (None, "KOTAKUPANG air PDAM mati sejak kemarin")
        );
    }

    #[test]
    fn status_follow_up_and_bad_input() {
        assert_eq!(read("   \n "), Message::Empty);
        assert_eq!(read("KOTKUPANG"), Message::KeywordOnly("KOTKUPANG".into()));
        assert_eq!(
            read("KOTKUPANG ANONIM"),
            Message::KeywordOnly("KOTKUPANG ANONIM".into())
        );
        assert_eq!(read("KOTKUPANG rusak"), Message::TooShort);
        assert_eq!(read(&"a".repeat(1601)), Message::TooLong(1601));
        assert!(matches!(
            read(&format!("KOTKUPANG {}", "b".repeat(990))),
            Message::Report(_)
        ));
        assert_eq!(
            read("cek kpg-7q2m9x4k1b"),
            Message::Status(Some("KPG-7Q2M9X4K1B".into()))
        );
        assert_eq!(read("CEK"), Message::Status(None));
        assert_eq!(read("CEK 12"), Message::Status(None));
        assert_eq!(
            read("KPG-7Q2M9X4KIB. fotonya sudah saya kirim"),
            Message::FollowUp {
                code: "KPG-7Q2M9X4K1B".into(),
                text: "fotonya sudah saya kirim".into()
            }
        );
    }

    #[test]
    fn titles_are_cut_at_a_word() {
        assert_eq!(title_of("jalan rusak"), "Jalan rusak");
        let t = title_of(&"kata ".repeat(40));
        assert!(
            t.chars().count() <= TITLE_CHARS + 1 && t.ends_with('…'),
            "{t}"
        );
        assert_eq!(title_of(&"x".repeat(100)).chars().count(), TITLE_CHARS + 1);
    }
}
