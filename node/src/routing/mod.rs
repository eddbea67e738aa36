//! Routing: which node must act on a report, so that a citizen never needs to know which office is
//! responsible ("no wrong door").
//!
//! At intake, on any node including the hub's national portal, the target is decided in this order:
//!
//! 1. the agency the citizen chose: the node that hosts it (this node's own agencies, or those other nodes
//!    publish with `node.agencies` events);
//! 2. else the region code: the node serving the longest matching code (`53.71` serves `53.71.01`), from this
//!    node's `node.region_codes` and the region codes of the nodes in the hub's directory;
//! 3. else the location: the most specific region of the boundary file (`routing.boundaries_file`) that
//!    contains the point, then as 2;
//! 4. else this node's own admin queue.
//!
//! A report whose target is another node is stored here first (so it is never lost) and then moved with a
//! transfer (`crate::federation::transfer`).

pub mod geo;

use crate::config::Config;
use crate::domain::AgencyRecord;
use crate::storage::PeerRecord;

pub use geo::Boundaries;

/// What decided a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteBy {
    /// The agency the citizen chose.
    Agency,
    /// The region code given.
    Region,
    /// The location, through the boundary file.
    Location,
    /// Nothing matched: this node's admin queue.
    Local,
}

impl RouteBy {
    /// Stable id, used in transfer reasons and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agency => "agency",
            Self::Region => "region",
            Self::Location => "location",
            Self::Local => "local",
        }
    }
}

/// Where a new report belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The node that must act.
    pub node: String,
    /// The agency chosen, when it belongs to that node.
    pub agency_id: Option<String>,
    /// The region code found from the location, when none was given.
    pub located_region: Option<String>,
    /// What decided it.
    pub by: RouteBy,
}

pub use crate::domain::region::region_within;

/// The routing table of a node.
#[derive(Debug)]
pub struct Router {
    node_id: String,
    own_regions: Vec<String>,
    boundaries: Boundaries,
}

impl Router {
    /// Builds the router from the configuration, loading the boundary file if one is set.
    pub fn open(config: &Config) -> anyhow::Result<Self> {
        let boundaries = match &config.routing.boundaries_file {
            Some(path) => {
                let b = Boundaries::load(path)
                    .map_err(|e| anyhow::anyhow!("routing.boundaries_file: {e}"))?;
                tracing::info!(file = %path.display(), regions = b.len(), "boundaries loaded");
                b
            }
            None => Boundaries::empty(),
        };
        Ok(Self {
            node_id: config.node.id.clone(),
            own_regions: config.node.region_codes.clone(),
            boundaries,
        })
    }

    /// The boundaries loaded.
    pub fn boundaries(&self) -> &Boundaries {
        &self.boundaries
    }

    /// The node serving `code`: the longest matching served code wins; on a tie this node wins, then the
    /// smallest node id.
    pub fn node_for_region(&self, code: &str, peers: &[PeerRecord]) -> Option<String> {
        let own = self
            .own_regions
            .iter()
            .filter(|s| region_within(code, s))
            .map(|s| (s.len(), 1u8, self.node_id.as_str()));
        let others = peers
            .iter()
            .filter(|p| p.node_id != self.node_id)
            .flat_map(|p| {
                p.region_codes
                    .iter()
                    .filter(|s| region_within(code, s))
                    .map(move |s| (s.len(), 0u8, p.node_id.as_str()))
            });
        own.chain(others)
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(b.2.cmp(a.2)))
            .map(|(_, _, n)| n.to_owned())
    }

    /// Where a new report belongs (see the module documentation for the order).
    pub fn route(
        &self,
        agency: Option<&AgencyRecord>,
        region_code: Option<&str>,
        location: Option<(i64, i64)>,
        peers: &[PeerRecord],
    ) -> Route {
        if let Some(a) = agency {
            return Route {
                node: a.node_id.clone().unwrap_or_else(|| self.node_id.clone()),
                agency_id: Some(a.id.clone()),
                located_region: None,
                by: RouteBy::Agency,
            };
        }
        if let Some(code) = region_code {
            if let Some(node) = self.node_for_region(code, peers) {
                return Route {
                    node,
                    agency_id: None,
                    located_region: None,
                    by: RouteBy::Region,
                };
            }
        }
        let located = location
            .and_then(|(lat, lon)| self.boundaries.locate(lat, lon))
            .map(|r| r.code.clone());
        if let Some(code) = &located {
            if let Some(node) = self.node_for_region(code, peers) {
                return Route {
                    node,
                    agency_id: None,
                    located_region: located.clone(),
                    by: RouteBy::Location,
                };
            }
        }
        Route {
            node: self.node_id.clone(),
            agency_id: None,
            located_region: located,
            by: RouteBy::Local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str, regions: &[&str]) -> PeerRecord {
        PeerRecord::new(
            id,
            id,
            "http://127.0.0.1:1",
            "regional",
            regions.iter().map(|s| (*s).to_owned()).collect(),
            None,
            0,
        )
    }

    fn router(own: &[&str]) -> Router {
        let mut config = Config::default();
        config.node.id = "hub".into();
        config.node.region_codes = own.iter().map(|s| (*s).to_owned()).collect();
        let mut r = Router::open(&config).unwrap_or_else(|e| panic!("{e}"));
        r.boundaries = Boundaries::parse(include_bytes!(
            "../../../deploy/boundaries/sample-ntt-kaltim.geojson"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        r
    }

    #[test]
    fn regions_match_by_whole_segments() {
        assert!(region_within("53.71", "53.71"));
        assert!(region_within("53.71.01", "53.71"));
        assert!(region_within("53.71.01.1001", "53"));
        assert!(!region_within("53.710", "53.71"));
        assert!(!region_within("53.7", "53.71"));
        assert!(!region_within("53", "53.71"));
    }

    #[test]
    fn the_longest_served_code_wins() {
        let r = router(&[]);
        let peers = [peer("ntt", &["53"]), peer("kupangkota", &["53.71"])];
        assert_eq!(
            r.node_for_region("53.71.01", &peers).as_deref(),
            Some("kupangkota")
        );
        assert_eq!(r.node_for_region("53.01", &peers).as_deref(), Some("ntt"));
        assert_eq!(r.node_for_region("64.72", &peers), None);
        let own = router(&["53.71"]);
        assert_eq!(
            own.node_for_region("53.71", &peers).as_deref(),
            Some("hub"),
            "a tie goes to this node"
        );
    }

    #[test]
    fn agency_then_region_then_location_then_local() {
        let r = router(&[]);
        let peers = [peer("kupangkota", &["53.71"]), peer("kaltim", &["64"])];
        let agency = AgencyRecord {
            id: "dinas-pu-samarinda".into(),
            parent_id: None,
            path: "@kaltim/dinas-pu-samarinda/".into(),
            name: "Dinas PU".into(),
            kind: "office".into(),
            region_code: None,
            active: true,
            created_at: 0,
            node_id: Some("kaltim".into()),
        };
        let by_agency = r.route(Some(&agency), Some("53.71"), None, &peers);
        assert_eq!(
            (by_agency.node.as_str(), by_agency.by),
            ("kaltim", RouteBy::Agency)
        );
        let by_region = r.route(
            None,
            Some("53.71.02"),
            Some((-500_000, 117_150_000)),
            &peers,
        );
        assert_eq!(
            (by_region.node.as_str(), by_region.by),
            ("kupangkota", RouteBy::Region)
        );
        let by_point = r.route(None, None, Some((-10_170_000, 123_600_000)), &peers);
        assert_eq!(
            (
                by_point.node.as_str(),
                by_point.by,
                by_point.located_region.as_deref()
            ),
            ("kupangkota", RouteBy::Location, Some("53.71"))
        );
        let samarinda = r.route(None, None, Some((-500_000, 117_150_000)), &peers);
        assert_eq!(samarinda.node, "kaltim");
        let jakarta = r.route(None, None, Some((-6_200_000, 106_800_000)), &peers);
        assert_eq!((jakarta.node.as_str(), jakarta.by), ("hub", RouteBy::Local));
        let unknown_region = r.route(None, Some("31.71"), None, &peers);
        assert_eq!(unknown_region.by, RouteBy::Local);
    }
}
