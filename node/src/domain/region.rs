//! Kemendagri region codes (province `53`, city `53.71`, district `53.71.01`, village `53.71.01.1001`) and the
//! id rule agencies and categories share. Pure: config, intake and routing all check codes with the same rule.

use super::calendar::NodeZone;

/// Whether `code` looks like a Kemendagri region code (`53`, `53.71`, `53.71.01`, `53.71.01.1001`).
pub fn valid_region_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('.').collect();
    let widths = [2, 2, 2, 4];
    !parts.is_empty()
        && parts.len() <= 4
        && parts
            .iter()
            .zip(widths)
            .all(|(p, w)| p.len() == w && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `code` lies within the region `served`, by whole segments: `53.71` serves `53.71.01`, not
/// `53.710`.
pub fn region_within(code: &str, served: &str) -> bool {
    code == served
        || code
            .strip_prefix(served)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The time zone of a region, by its province (the first segment of the code): WIT for Maluku, North
/// Maluku and the Papua provinces, WITA for Bali, the Nusa Tenggaras, South, East and North Kalimantan and
/// Sulawesi, WIB for the rest (Sumatra, Java, West and Central Kalimantan). `None` for an invalid code.
pub fn zone_of(code: &str) -> Option<NodeZone> {
    if !valid_region_code(code) {
        return None;
    }
    Some(match code.get(..2)? {
        "81" | "82" | "91" | "92" | "93" | "94" | "95" | "96" | "97" => NodeZone::WIT,
        "51" | "52" | "53" | "63" | "64" | "65" | "71" | "72" | "73" | "74" | "75" | "76" => {
            NodeZone::WITA
        }
        _ => NodeZone::WIB,
    })
}

/// Whether `id` is a valid agency or category id: 2..=64 of `a-z`, `0-9`, `-`.
pub fn valid_slug(id: &str) -> bool {
    (2..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_follow_the_province() {
        assert_eq!(zone_of("35.78"), Some(NodeZone::WIB));
        assert_eq!(zone_of("64.72"), Some(NodeZone::WITA));
        assert_eq!(zone_of("53.71.01"), Some(NodeZone::WITA));
        assert_eq!(zone_of("91"), Some(NodeZone::WIT));
        assert_eq!(zone_of("81.71"), Some(NodeZone::WIT));
        assert_eq!(zone_of("x"), None);
    }

    #[test]
    fn region_codes() {
        for ok in ["53", "53.71", "53.71.01", "53.71.01.1001"] {
            assert!(valid_region_code(ok), "{ok}");
        }
        for bad in ["", "5", "53.7", "53.71.01.100", "53.71.01.1001.1", "ab"] {
            assert!(!valid_region_code(bad), "{bad}");
        }
    }

    #[test]
    fn slugs() {
        assert!(valid_slug("dinas-kesehatan"));
        assert!(!valid_slug("D"));
        assert!(!valid_slug("dinas_kesehatan"));
    }
}
