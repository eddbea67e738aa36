//! Figures per agency (with its subtree), per node and per region, from one pass over the facts.

use std::collections::BTreeMap;

use super::figures::{compute, Fact, Figures};
use crate::domain::{Millis, WorkCalendar};

/// An agency as a breakdown needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyRef {
    /// Id.
    pub id: String,
    /// Materialised path (`/root/child/`).
    pub path: String,
    /// Name.
    pub name: String,
}

/// One row of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Agency id, node id or region code.
    pub key: String,
    /// What to show.
    pub name: String,
    /// Its figures.
    pub figures: Figures,
}

/// The ancestors-or-self paths of a path: `/a/b/` gives `/a/` and `/a/b/`.
fn prefixes(path: &str) -> impl Iterator<Item = &str> {
    path.char_indices()
        .filter(|&(i, c)| c == '/' && i > 0)
        .map(move |(i, _)| &path[..=i])
}

/// One row per agency, each over the reports of its whole subtree, in the order given.
pub fn per_agency(
    agencies: &[AgencyRef],
    facts: &[Fact],
    cal: &WorkCalendar,
    now: Millis,
) -> Vec<Row> {
    let mut by_path: BTreeMap<&str, Vec<&Fact>> = BTreeMap::new();
    for f in facts {
        if let Some(p) = f.agency_path.as_deref() {
            for pre in prefixes(p) {
                by_path.entry(pre).or_default().push(f);
            }
        }
    }
    agencies
        .iter()
        .map(|a| Row {
            key: a.id.clone(),
            name: a.name.clone(),
            figures: compute(
                by_path.get(a.path.as_str()).into_iter().flatten().copied(),
                cal,
                now,
            ),
        })
        .collect()
}

/// One row per owning node (`local` names this node's own reports when it never federated them).
pub fn per_node(facts: &[Fact], local: &str, cal: &WorkCalendar, now: Millis) -> Vec<Row> {
    let mut groups: BTreeMap<&str, Vec<&Fact>> = BTreeMap::new();
    for f in facts {
        groups
            .entry(f.owner.as_deref().unwrap_or(local))
            .or_default()
            .push(f);
    }
    groups
        .into_iter()
        .map(|(k, v)| Row {
            key: k.to_owned(),
            name: k.to_owned(),
            figures: compute(v, cal, now),
        })
        .collect()
}

/// One row per region at `level` segments of the code (1: province `35`, 2: regency `35.78`); reports
/// without a region code are under `-`.
pub fn per_region(facts: &[Fact], level: usize, cal: &WorkCalendar, now: Millis) -> Vec<Row> {
    let mut groups: BTreeMap<String, Vec<&Fact>> = BTreeMap::new();
    for f in facts {
        let key = f.region_code.as_deref().map_or_else(
            || "-".to_owned(),
            |c| c.split('.').take(level).collect::<Vec<_>>().join("."),
        );
        groups.entry(key).or_default().push(f);
    }
    groups
        .into_iter()
        .map(|(k, v)| Row {
            name: k.clone(),
            key: k,
            figures: compute(v, cal, now),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_walk_up_the_tree() {
        assert_eq!(
            prefixes("/a/b/c/").collect::<Vec<_>>(),
            vec!["/a/", "/a/b/", "/a/b/c/"]
        );
        assert_eq!(prefixes("/a/").collect::<Vec<_>>(), vec!["/a/"]);
    }
}
