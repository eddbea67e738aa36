//! Counted nouns in the page language: "1 report", "2 reports", "1 laporan", "2 laporan".
//!
//! Indonesian does not inflect a noun after a number (the number already says how many; `laporan-laporan`
//! is only used without one), so its form never changes. English takes the singular for exactly one and the
//! plural for everything else, zero included ("0 reports").

use crate::http::error::Lang;

/// A noun in its three forms: Indonesian, English singular, English plural.
#[derive(Debug, Clone, Copy)]
pub struct Noun {
    /// Indonesian (same for every number).
    pub id: &'static str,
    /// English, for exactly one.
    pub one: &'static str,
    /// English, for every other number.
    pub many: &'static str,
}

/// Reports (laporan).
pub const REPORT: Noun = Noun {
    id: "laporan",
    one: "report",
    many: "reports",
};
/// Ratings (penilaian).
pub const RATING: Noun = Noun {
    id: "penilaian",
    one: "rating",
    many: "ratings",
};

impl Noun {
    /// The noun's form for `n` in `lang`, without the number.
    pub fn word(self, lang: Lang, n: i64) -> &'static str {
        match lang {
            Lang::Id => self.id,
            Lang::En if n == 1 => self.one,
            Lang::En => self.many,
        }
    }

    /// `n` followed by the noun's form for it: "1 report", "12 laporan".
    pub fn count(self, lang: Lang, n: i64) -> String {
        format!("{n} {}", self.word(lang, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_singular_only_for_one() {
        assert_eq!(REPORT.count(Lang::En, 1), "1 report");
        assert_eq!(REPORT.count(Lang::En, 0), "0 reports");
        assert_eq!(REPORT.count(Lang::En, 2), "2 reports");
        assert_eq!(RATING.count(Lang::En, 1), "1 rating");
        assert_eq!(RATING.count(Lang::En, 21), "21 ratings");
    }

    #[test]
    fn indonesian_never_inflects() {
        assert_eq!(REPORT.count(Lang::Id, 1), "1 laporan");
        assert_eq!(REPORT.count(Lang::Id, 7), "7 laporan");
        assert_eq!(RATING.count(Lang::Id, 1), "1 penilaian");
    }
}
