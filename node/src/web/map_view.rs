//! Where the report form's map opens: on the node's own area, not on all of Indonesia.
//!
//! In order: the configured `web.map_center` and `web.map_zoom`; else the box around this node's regions
//! (`node.region_codes`) in the boundary file, which the map script fits to the screen; else Indonesia. The
//! answer is written as `data-` attributes of the map element, read by `assets/map.js`.

use crate::config::Config;
use crate::routing::geo::Boundaries;

/// The opening view of a map.
#[derive(Debug, Clone, PartialEq)]
pub enum MapView {
    /// A centre and zoom level.
    Centre {
        /// Latitude.
        lat: f64,
        /// Longitude.
        lon: f64,
        /// Zoom level.
        zoom: u8,
    },
    /// A box to fit: south, west, north, east in degrees.
    Bounds([f64; 4]),
}

/// All of Indonesia, from Sabang to Merauke.
pub const INDONESIA: MapView = MapView::Centre {
    lat: -2.5,
    lon: 118.0,
    zoom: 4,
};

impl MapView {
    /// The view for this node.
    pub fn for_node(config: &Config, boundaries: &Boundaries) -> Self {
        if let Some([lat, lon]) = config.web.map_center {
            return Self::Centre {
                lat,
                lon,
                zoom: config.web.map_zoom,
            };
        }
        boundaries
            .extent_of(&config.node.region_codes)
            .map_or(INDONESIA, |(s, w, n, e)| {
                let deg = |v: i64| v as f64 / 1e6;
                Self::Bounds([deg(s), deg(w), deg(n), deg(e)])
            })
    }

    /// The `data-` attributes of the map element (numbers only, nothing to escape).
    pub fn data_attrs(&self) -> String {
        match self {
            Self::Centre { lat, lon, zoom } => {
                format!(r#"data-lat="{lat}" data-lon="{lon}" data-zoom="{zoom}""#)
            }
            Self::Bounds([s, w, n, e]) => {
                let (lat, lon) = ((s + n) / 2.0, (w + e) / 2.0);
                format!(
                    r#"data-lat="{lat}" data-lon="{lon}" data-zoom="10" data-bounds="{s},{w},{n},{e}""#
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = include_bytes!("../../../deploy/boundaries/sample-ntt-kaltim.geojson");

    #[test]
    fn configured_centre_wins() {
        let mut c = Config::default();
        c.web.map_center = Some([-10.1772, 123.607]);
        c.web.map_zoom = 13;
        c.node.region_codes = vec!["53.71".into()];
        let b = Boundaries::parse(SAMPLE).unwrap();
        assert_eq!(
            MapView::for_node(&c, &b).data_attrs(),
            r#"data-lat="-10.1772" data-lon="123.607" data-zoom="13""#
        );
    }

    #[test]
    fn the_nodes_regions_in_the_boundary_file_make_the_box() {
        let mut c = Config::default();
        c.node.region_codes = vec!["53.71".into()];
        let b = Boundaries::parse(SAMPLE).unwrap();
        let MapView::Bounds([south, west, north, east]) = MapView::for_node(&c, &b) else {
            panic!("expected bounds");
        };
        // Kota Kupang lies around 10.2° S, 123.6° E.
        assert!(
            south < -10.1 && north > -10.3 && south < north,
            "{south} {north}"
        );
        assert!(west < 123.7 && east > 123.5 && west < east, "{west} {east}");
        assert!(MapView::for_node(&c, &b)
            .data_attrs()
            .contains("data-bounds="));
    }

    #[test]
    fn without_either_the_map_shows_indonesia() {
        let mut c = Config::default();
        c.node.region_codes = vec!["53.71".into()];
        assert_eq!(MapView::for_node(&c, &Boundaries::empty()), INDONESIA);
        c.node.region_codes = vec!["11".into()];
        let b = Boundaries::parse(SAMPLE).unwrap();
        assert_eq!(MapView::for_node(&c, &b), INDONESIA);
    }
}
