//! Configuration errors in words: figment's own say `default.node.regoin_codes` and list every field. This
//! names the key as written in the file (`node.regoin_codes`) or the environment variable, where it came from,
//! and the nearest known key.

use figment::error::Kind;

/// Every configuration error of `err`, one per line.
pub fn explain(err: figment::Error) -> String {
    let mut lines = Vec::new();
    for e in err {
        let key = e.path.join(".");
        let from = e.metadata.as_ref().map(|m| {
            let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
            match &m.source {
                Some(figment::Source::File(f)) => format!(" (in {})", f.display()),
                _ if m.name.contains("environment") => format!(
                    " (environment variable LAPOR_{})",
                    path.join("__").to_uppercase()
                ),
                _ => format!(" (from {})", m.name),
            }
        });
        let from = from.unwrap_or_default();
        let line = match &e.kind {
            Kind::UnknownField(field, expected) => {
                let suggestion = nearest(field, expected)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                let known = if expected.is_empty() {
                    String::new()
                } else {
                    format!(" Known keys here: {}.", expected.join(", "))
                };
                format!(
                    "unknown configuration key `{key}`{from}{suggestion} / kunci konfigurasi tidak dikenal.{known}"
                )
            }
            other => format!("configuration key `{key}`{from}: {other}"),
        };
        lines.push(line);
    }
    lines.join("\n")
}

/// The known name closest to `field` when it is close enough to be a typo.
fn nearest<'a>(field: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (distance(field, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn typos_are_named_with_a_suggestion() {
        assert_eq!(
            nearest("regoin_codes", &["id", "region_codes", "role"]),
            Some("region_codes")
        );
        assert_eq!(nearest("zzzzzz", &["id", "region_codes"]), None);
        assert_eq!(distance("regoin", "region"), 1);
    }
}
