//! Figures per agency (with its subtree), per node and per province, summed from the cells.

use std::collections::BTreeMap;

use super::cells::Cell;
use super::figures::{Figures, Tally};

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
pub fn per_agency(agencies: &[AgencyRef], cells: &[Cell]) -> Vec<Row> {
    let mut by_path: BTreeMap<&str, Tally> = BTreeMap::new();
    for c in cells {
        for pre in prefixes(&c.key.agency_path) {
            by_path.entry(pre).or_default().add(&c.tally);
        }
    }
    agencies
        .iter()
        .map(|a| Row {
            key: a.id.clone(),
            name: a.name.clone(),
            figures: by_path
                .get(a.path.as_str())
                .map_or_else(|| Tally::default().figures(), Tally::figures),
        })
        .collect()
}

/// One row per owning node (`local` names this node's own reports when it never federated them).
pub fn per_node(cells: &[Cell], local: &str) -> Vec<Row> {
    group(cells, |c| {
        if c.key.owner.is_empty() {
            local.to_owned()
        } else {
            c.key.owner.clone()
        }
    })
}

/// One row per province (the first segment of the region code, `35`); reports without a region code are
/// under `-`.
pub fn per_province(cells: &[Cell]) -> Vec<Row> {
    group(cells, |c| {
        if c.key.province.is_empty() {
            "-".to_owned()
        } else {
            c.key.province.clone()
        }
    })
}

fn group(cells: &[Cell], key: impl Fn(&Cell) -> String) -> Vec<Row> {
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    for c in cells {
        groups.entry(key(c)).or_default().add(&c.tally);
    }
    groups
        .into_iter()
        .map(|(k, t)| Row {
            name: k.clone(),
            key: k,
            figures: t.figures(),
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
