//! Emerging issues: categories, places and words whose volume in a period rises sharply against the
//! periods before it.
//!
//! For each key the count in the period is compared with the mean count over the previous periods (as many
//! as given). A key is emerging when it has at least `min_count` reports now and at least `ratio_percent`
//! percent of that mean (a key absent before counts as a mean of 0.5, so that a new key needs the same
//! absolute volume). Words are taken from titles: lower-cased, at least four letters, common Indonesian
//! words dropped. Confidential reports are counted but never named (their words are not used at all).

use std::collections::{BTreeMap, BTreeSet};

use super::figures::Fact;

/// Words too common to signal anything.
const STOP: &[&str] = &[
    "yang", "dengan", "untuk", "dari", "pada", "tidak", "sudah", "belum", "karena", "atau", "juga",
    "oleh", "dalam", "akan", "ada", "kami", "saya", "mohon", "tolong", "sangat", "lagi", "sejak",
    "tersebut", "bapak", "warga", "kota", "jalan", "depan", "sekitar", "hari", "bulan", "tahun",
];

/// What kind of key rose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    /// A category id.
    Category,
    /// A region code (as filed, and its regency and province).
    Region,
    /// A word of the titles.
    Word,
}

impl Dimension {
    /// Wire id.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::Region => "region",
            Self::Word => "word",
        }
    }
}

/// One emerging key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emerging {
    /// What it is.
    pub dimension: Dimension,
    /// The key.
    pub key: String,
    /// Reports now.
    pub count: i64,
    /// Mean over the previous periods, in hundredths.
    pub baseline_centi: i64,
    /// Up to ten reports behind it (tracking codes; never a confidential one).
    pub reports: Vec<String>,
}

/// Thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Least reports now.
    pub min_count: i64,
    /// Least rise against the mean, in percent.
    pub ratio_percent: i64,
}

fn keys(f: &Fact) -> Vec<(Dimension, String)> {
    let mut out = Vec::new();
    out.push((
        Dimension::Category,
        f.category_id.clone().unwrap_or_else(|| "none".into()),
    ));
    if let Some(code) = &f.region_code {
        let mut seen = BTreeSet::new();
        let parts: Vec<&str> = code.split('.').collect();
        for n in 1..=parts.len().min(3) {
            seen.insert(parts[..n].join("."));
        }
        out.extend(seen.into_iter().map(|k| (Dimension::Region, k)));
    }
    if !f.confidential {
        if let Some(t) = &f.title {
            let words: BTreeSet<String> = t
                .split(|c: char| !c.is_alphanumeric())
                .map(str::to_lowercase)
                .filter(|w| w.chars().count() >= 4 && !STOP.contains(&w.as_str()))
                .collect();
            out.extend(words.into_iter().map(|w| (Dimension::Word, w)));
        }
    }
    out
}

fn count(facts: &[Fact]) -> BTreeMap<(Dimension, String), i64> {
    let mut m = BTreeMap::new();
    for f in facts {
        for k in keys(f) {
            *m.entry(k).or_default() += 1;
        }
    }
    m
}

/// The emerging keys of `now` against `before` (one fact list per earlier period), largest rise first.
pub fn detect(now: &[Fact], before: &[Vec<Fact>], rule: Rule) -> Vec<Emerging> {
    let current = count(now);
    let earlier: Vec<_> = before.iter().map(|p| count(p)).collect();
    let periods = i64::try_from(earlier.len().max(1)).unwrap_or(1);
    let mut out = Vec::new();
    for ((dim, key), n) in current {
        if n < the_min(rule) {
            continue;
        }
        let total: i64 = earlier
            .iter()
            .map(|m| m.get(&(dim, key.clone())).copied().unwrap_or(0))
            .sum();
        // Mean in hundredths; a key never seen counts as half a report.
        let baseline_centi = (total * 100 / periods).max(50);
        if n * 100 * 100 < rule.ratio_percent * baseline_centi {
            continue;
        }
        let reports = now
            .iter()
            .filter(|f| !f.confidential && keys(f).contains(&(dim, key.clone())))
            .take(10)
            .map(|f| f.tracking_code.clone())
            .collect();
        out.push(Emerging {
            dimension: dim,
            key,
            count: n,
            baseline_centi,
            reports,
        });
    }
    out.sort_by(|a, b| {
        (b.count * 10_000 / b.baseline_centi.max(1))
            .cmp(&(a.count * 10_000 / a.baseline_centi.max(1)))
            .then(a.dimension.cmp(&b.dimension))
            .then(a.key.cmp(&b.key))
    });
    out
}

fn the_min(rule: Rule) -> i64 {
    rule.min_count.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(cat: &str, region: &str, title: &str) -> Fact {
        Fact {
            tracking_code: format!("T-{title}"),
            category_id: Some(cat.into()),
            region_code: Some(region.into()),
            title: Some(title.into()),
            ..Fact::default()
        }
    }

    #[test]
    fn a_rising_category_and_word_emerge() {
        let now: Vec<Fact> = (0..6)
            .map(|i| fact("banjir", "35.78.01", &format!("genangan banjir {i}")))
            .chain([fact("jalan", "35.78.02", "lubang")])
            .collect();
        let before = vec![
            vec![fact("jalan", "35.78.02", "lubang")],
            vec![fact("banjir", "35.78.01", "genangan")],
        ];
        let rule = Rule {
            min_count: 5,
            ratio_percent: 200,
        };
        let got = detect(&now, &before, rule);
        let names: Vec<_> = got
            .iter()
            .map(|e| (e.dimension.as_str(), e.key.as_str()))
            .collect();
        assert!(names.contains(&("category", "banjir")), "{names:?}");
        assert!(names.contains(&("word", "banjir")), "{names:?}");
        assert!(names.contains(&("region", "35.78.01")), "{names:?}");
        assert!(!names.iter().any(|(_, k)| *k == "jalan"));
        let banjir = got
            .iter()
            .find(|e| e.key == "banjir" && e.dimension == Dimension::Category)
            .unwrap();
        assert_eq!(
            (banjir.count, banjir.baseline_centi, banjir.reports.len()),
            (6, 50, 6)
        );
    }
}
