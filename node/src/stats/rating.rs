//! Ratings (Baik / Sedang / Kurang) from the share handled, and the below-60% flag.

use std::fmt;

/// Thresholds in per mille of the share handled (from `[stats]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// At or above: Baik.
    pub good_permille: i64,
    /// At or above (and below good): Sedang; below: Kurang.
    pub fair_permille: i64,
    /// Below: flagged.
    pub flag_permille: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            good_permille: 800,
            fair_permille: 600,
            flag_permille: 600,
        }
    }
}

/// A rating of an agency or a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rating {
    /// Below the fair threshold.
    Kurang,
    /// Between fair and good.
    Sedang,
    /// At or above good.
    Baik,
}

impl Rating {
    /// The id on the wire (`baik`, `sedang`, `kurang`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baik => "baik",
            Self::Sedang => "sedang",
            Self::Kurang => "kurang",
        }
    }

    /// The label shown (Indonesian in every language: it is the name of the grade).
    pub fn label(self) -> &'static str {
        match self {
            Self::Baik => "Baik",
            Self::Sedang => "Sedang",
            Self::Kurang => "Kurang",
        }
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Thresholds {
    /// The rating of a share handled (`None`: nothing to rate).
    pub fn rate(&self, handled_permille: Option<i64>) -> Option<Rating> {
        handled_permille.map(|p| {
            if p >= self.good_permille {
                Rating::Baik
            } else if p >= self.fair_permille {
                Rating::Sedang
            } else {
                Rating::Kurang
            }
        })
    }

    /// Whether a share handled is below the flag (never for nothing to rate).
    pub fn flagged(&self, handled_permille: Option<i64>) -> bool {
        handled_permille.is_some_and(|p| p < self.flag_permille)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_and_flag() {
        let t = Thresholds::default();
        assert_eq!(t.rate(Some(800)), Some(Rating::Baik));
        assert_eq!(t.rate(Some(799)), Some(Rating::Sedang));
        assert_eq!(t.rate(Some(600)), Some(Rating::Sedang));
        assert_eq!(t.rate(Some(599)), Some(Rating::Kurang));
        assert_eq!(t.rate(None), None);
        assert!(t.flagged(Some(599)));
        assert!(!t.flagged(Some(600)));
        assert!(!t.flagged(None));
    }
}
