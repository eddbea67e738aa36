//! Which of Indonesia's three time zones a region lies in, from its Kemendagri code.
//!
//! A report is shown in the time zone of the node that owns it (its deadlines are counted there): a report
//! filed at the national portal (WIB) and owned by Kupang reads in WITA on every node. This node knows its own
//! zone from `node.timezone`; another node's zone follows from the regions it serves, as listed in the
//! directory, because a province lies wholly in one zone (Permendagri on the zone boundaries: Sumatra, Java,
//! West and Central Kalimantan WIB; Bali, Nusa Tenggara, the rest of Kalimantan and Sulawesi WITA; Maluku and
//! Papua WIT).

use super::calendar::NodeZone;

/// The zone of a province, from the first two digits of a region code (`53`, `53.71`, `53.71.01.1001`).
pub fn region_zone(code: &str) -> Option<NodeZone> {
    let province = code.get(..2)?;
    if code.len() > 2 && code.as_bytes()[2] != b'.' {
        return None;
    }
    Some(match province {
        "11" | "12" | "13" | "14" | "15" | "16" | "17" | "18" | "19" | "21" | "31" | "32"
        | "33" | "34" | "35" | "36" | "61" | "62" => NodeZone::WIB,
        "51" | "52" | "53" | "63" | "64" | "65" | "71" | "72" | "73" | "74" | "75" | "76" => {
            NodeZone::WITA
        }
        "81" | "82" | "91" | "92" | "93" | "94" | "95" | "96" => NodeZone::WIT,
        _ => return None,
    })
}

/// The zone of a node serving `regions`: the zone of the first region code that names a known province.
pub fn regions_zone<'a>(regions: impl IntoIterator<Item = &'a str>) -> Option<NodeZone> {
    regions.into_iter().find_map(region_zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provinces_fall_in_their_zone() {
        assert_eq!(region_zone("31"), Some(NodeZone::WIB));
        assert_eq!(region_zone("61.71"), Some(NodeZone::WIB));
        assert_eq!(region_zone("53.71"), Some(NodeZone::WITA));
        assert_eq!(region_zone("53.71.01.1001"), Some(NodeZone::WITA));
        assert_eq!(region_zone("64.72"), Some(NodeZone::WITA));
        assert_eq!(region_zone("81"), Some(NodeZone::WIT));
        assert_eq!(region_zone("94.01"), Some(NodeZone::WIT));
    }

    #[test]
    fn unknown_or_malformed_codes_have_no_zone() {
        assert_eq!(region_zone("99"), None);
        assert_eq!(region_zone("5"), None);
        assert_eq!(region_zone("537"), None);
        assert_eq!(region_zone(""), None);
        assert_eq!(region_zone("é1"), None);
    }

    #[test]
    fn a_node_takes_the_zone_of_its_first_known_region() {
        assert_eq!(regions_zone(["xx", "53.71"]), Some(NodeZone::WITA));
        assert_eq!(regions_zone([]), None);
    }
}
