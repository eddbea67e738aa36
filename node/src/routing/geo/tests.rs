//! Tests of the boundary geometry: sample lookups, holes, edges, every refusal of a bad file, size limits.

use super::*;

const SAMPLE: &[u8] = include_bytes!("../../../../deploy/boundaries/sample-ntt-kaltim.geojson");

fn sample() -> Boundaries {
    Boundaries::parse(SAMPLE).unwrap()
}

fn e6(degrees: f64) -> i64 {
    to_microdegrees(degrees)
}

/// Code of the region found at a point given in degrees.
fn code_at(b: &Boundaries, lat: f64, lon: f64) -> Option<&str> {
    b.locate(e6(lat), e6(lon)).map(|r| r.code.as_str())
}

/// A feature collection with the given features, written as JSON.
fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

/// A feature with the given code and geometry JSON.
fn feature(code: &str, geometry: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"code":"{code}","name":"Region {code}"}},"geometry":{geometry}}}"#
    )
}

/// A closed square ring from (lon0, lat0) to (lon1, lat1), as JSON.
fn square(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> String {
    format!("[[{lon0},{lat0}],[{lon1},{lat0}],[{lon1},{lat1}],[{lon0},{lat1}],[{lon0},{lat0}]]")
}

fn polygon(rings: &[String]) -> String {
    format!(
        r#"{{"type":"Polygon","coordinates":[{}]}}"#,
        rings.join(",")
    )
}

fn parse(text: &str) -> Result<Boundaries, BoundaryError> {
    Boundaries::parse(text.as_bytes())
}

fn parse_err(text: &str) -> BoundaryError {
    parse(text).unwrap_err()
}

/// A polygon feature whose single ring is the given JSON.
fn with_ring(ring: &str) -> String {
    collection(&[feature(
        "53.71",
        &format!(r#"{{"type":"Polygon","coordinates":[{ring}]}}"#),
    )])
}

// --- sample file ---

#[test]
fn sample_has_six_regions_in_file_order() {
    let b = sample();
    assert_eq!(b.len(), 6);
    assert!(!b.is_empty());
    let codes: Vec<&str> = b.regions().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["53", "53.71", "53.01", "64", "64.72", "64.71"]);
    let kupang = b.regions().nth(1).unwrap();
    assert_eq!(kupang.name, "Kota Kupang");
}

#[test]
fn sample_locates_kota_kupang() {
    let b = sample();
    let region = b.locate(-10_170_000, 123_600_000).unwrap();
    assert_eq!(region.code, "53.71");
    assert_eq!(region.name, "Kota Kupang");
}

#[test]
fn sample_locates_kabupaten_kupang_outside_the_city() {
    assert_eq!(code_at(&sample(), -10.0, 123.9), Some("53.01"));
}

#[test]
fn sample_locates_samarinda() {
    assert_eq!(code_at(&sample(), -0.50, 117.15), Some("64.72"));
}

#[test]
fn sample_locates_balikpapan() {
    assert_eq!(code_at(&sample(), -1.2, 116.95), Some("64.71"));
}

#[test]
fn sample_locates_kaltim_outside_both_cities() {
    assert_eq!(code_at(&sample(), 0.5, 116.5), Some("64"));
}

#[test]
fn sample_locates_ntt_outside_kupang() {
    // Ende, on Flores.
    assert_eq!(code_at(&sample(), -8.84, 121.66), Some("53"));
}

#[test]
fn sample_finds_nothing_in_jakarta() {
    assert_eq!(code_at(&sample(), -6.2, 106.8), None);
}

#[test]
fn sample_file_describes_itself_as_unofficial() {
    let root: serde_json::Value = serde_json::from_slice(SAMPLE).unwrap();
    assert_eq!(
        root["description"],
        "Simplified sample boundaries for tests and demos; not official Kemendagri boundaries"
    );
    assert!(root["name"].is_string());
}

// --- point in polygon ---

#[test]
fn hole_is_outside_its_polygon() {
    let text = collection(&[feature(
        "53.01",
        &polygon(&[square(0.0, 0.0, 10.0, 10.0), square(4.0, 4.0, 6.0, 6.0)]),
    )]);
    let b = parse(&text).unwrap();
    assert_eq!(code_at(&b, 5.0, 5.0), None, "inside the hole");
    assert_eq!(code_at(&b, 2.0, 2.0).unwrap(), "53.01", "outside the hole");
    assert_eq!(code_at(&b, 5.0, 8.0).unwrap(), "53.01", "beside the hole");
    // The hole's boundary belongs to the polygon.
    assert_eq!(
        code_at(&b, 4.0, 5.0).unwrap(),
        "53.01",
        "on the hole's edge"
    );
    assert_eq!(
        code_at(&b, 6.0, 6.0).unwrap(),
        "53.01",
        "on the hole's corner"
    );
}

#[test]
fn hole_in_sample_leaves_the_city_to_the_city() {
    let b = sample();
    let kabupaten = b.regions().find(|r| r.code == "53.01").unwrap();
    let city_centre = Point {
        lon: e6(123.60),
        lat: e6(-10.17),
    };
    assert!(!kabupaten.contains(city_centre));
    let province = b.regions().find(|r| r.code == "53").unwrap();
    assert!(province.contains(city_centre));
}

#[test]
fn point_on_an_edge_is_inside() {
    let text = collection(&[feature("53", &polygon(&[square(0.0, 0.0, 10.0, 10.0)]))]);
    let b = parse(&text).unwrap();
    for (lat, lon) in [
        (0, 5_000_000),          // bottom edge
        (10_000_000, 5_000_000), // top edge
        (5_000_000, 0),          // left edge
        (5_000_000, 10_000_000), // right edge
        (0, 0),                  // corner
        (10_000_000, 10_000_000),
    ] {
        assert_eq!(
            b.locate(lat, lon).map(|r| r.code.as_str()),
            Some("53"),
            "({lat}, {lon})"
        );
    }
    for (lat, lon) in [
        (-1, 5_000_000),
        (10_000_001, 5_000_000),
        (5_000_000, -1),
        (5_000_000, 10_000_001),
    ] {
        assert!(b.locate(lat, lon).is_none(), "({lat}, {lon})");
    }
}

#[test]
fn point_on_a_sloped_edge_is_inside() {
    // Triangle (0,0), (3,0), (0,3) in degrees; (1.5, 1.5) lies on its hypotenuse.
    let text = with_ring("[[0,0],[3,0],[0,3],[0,0]]");
    let b = parse(&text).unwrap();
    assert!(b.locate(1_500_000, 1_500_000).is_some());
    assert!(b.locate(1_500_001, 1_500_000).is_none());
    assert!(b.locate(1_499_999, 1_500_000).is_some());
}

#[test]
fn concave_ring_and_ray_through_vertices() {
    // A "U" shape: the ray from (lat 5, lon 1) passes through the
    // vertices at lat 5 of the notch.
    let ring = "[[0,0],[9,0],[9,9],[6,9],[6,5],[3,5],[3,9],[0,9],[0,0]]";
    let b = parse(&with_ring(ring)).unwrap();
    let at = |lat: f64, lon: f64| b.locate(e6(lat), e6(lon)).is_some();
    assert!(at(5.0, 1.0));
    assert!(at(4.0, 4.5));
    assert!(!at(7.0, 4.5), "inside the notch");
    assert!(at(7.0, 1.0));
    assert!(at(7.0, 8.0));
    assert!(at(5.0, 4.5), "on the notch's bottom edge");
    assert!(!at(5.0, 9.5));
    assert!(!at(5.0, -0.5));
}

#[test]
fn extreme_coordinates_do_not_overflow() {
    let text = with_ring("[[-180,-90],[180,-90],[180,90],[-180,90],[-180,-90]]");
    let b = parse(&text).unwrap();
    assert!(b.locate(0, 0).is_some());
    assert!(b.locate(90_000_000, 180_000_000).is_some());
    assert!(b.locate(i64::MAX, i64::MAX).is_none());
    assert!(b.locate(i64::MIN, 0).is_none());
    // Far outside but inside nothing's bounding box: the ray test itself
    // must also cope with large values.
    let ring = [
        Point {
            lon: -180_000_000,
            lat: -90_000_000,
        },
        Point {
            lon: 180_000_000,
            lat: 90_000_000,
        },
        Point {
            lon: -180_000_000,
            lat: 90_000_000,
        },
        Point {
            lon: -180_000_000,
            lat: -90_000_000,
        },
    ];
    assert_eq!(
        ring_position(
            &ring,
            Point {
                lon: i64::MIN,
                lat: 0
            }
        ),
        RingPosition::Outside
    );
    assert_eq!(
        ring_position(
            &ring,
            Point {
                lon: i64::MAX,
                lat: 0
            }
        ),
        RingPosition::Outside
    );
}

#[test]
fn multipolygon_contains_each_part() {
    let geometry = format!(
        r#"{{"type":"MultiPolygon","coordinates":[[{}],[{},{}]]}}"#,
        square(0.0, 0.0, 1.0, 1.0),
        square(5.0, 5.0, 8.0, 8.0),
        square(6.0, 6.0, 7.0, 7.0)
    );
    let b = parse(&collection(&[feature("53.71.01", &geometry)])).unwrap();
    assert_eq!(code_at(&b, 0.5, 0.5), Some("53.71.01"));
    assert_eq!(code_at(&b, 5.5, 5.5), Some("53.71.01"));
    assert_eq!(code_at(&b, 6.5, 6.5), None, "hole of the second part");
    assert_eq!(code_at(&b, 3.0, 3.0), None, "between the parts");
}

#[test]
fn most_specific_region_wins_and_ties_go_to_the_first() {
    let big = polygon(&[square(0.0, 0.0, 10.0, 10.0)]);
    let small = polygon(&[square(2.0, 2.0, 4.0, 4.0)]);
    let text = collection(&[
        feature("53.71.01.1001", &small),
        feature("53", &big),
        feature("53.71", &big),
        feature("53.72", &big),
    ]);
    let b = parse(&text).unwrap();
    assert_eq!(code_at(&b, 3.0, 3.0), Some("53.71.01.1001"));
    assert_eq!(code_at(&b, 8.0, 8.0), Some("53.71"));
}

#[test]
fn empty_boundaries_locate_nothing() {
    let b = Boundaries::empty();
    assert!(b.is_empty());
    assert_eq!(b.len(), 0);
    assert_eq!(b.regions().count(), 0);
    assert!(b.locate(0, 0).is_none());
    let b = parse(r#"{"type":"FeatureCollection","features":[]}"#).unwrap();
    assert!(b.is_empty());
}

#[test]
fn altitude_and_foreign_members_are_ignored() {
    let text = r#"{"type":"FeatureCollection","bbox":[0,0,1,1],"features":[
        {"type":"Feature","id":7,"bbox":[0,0,1,1],
         "properties":{"code":"53","name":"X","extra":[1,2]},
         "geometry":{"type":"Polygon","coordinates":[[[0,0,12.5],[1,0,3],[1,1,0],[0,1],[0,0,12.5]]]}}]}"#;
    let b = parse(text).unwrap();
    assert_eq!(code_at(&b, 0.5, 0.5), Some("53"));
}

#[test]
fn coordinates_round_to_the_nearest_microdegree() {
    assert_eq!(to_microdegrees(123.000_000_4), 123_000_000);
    assert_eq!(to_microdegrees(123.000_000_6), 123_000_001);
    assert_eq!(to_microdegrees(-10.17), -10_170_000);
    assert_eq!(to_microdegrees(-180.0), -180_000_000);
}

#[test]
fn code_segments_follow_the_kemendagri_pattern() {
    assert_eq!(code_segments("53"), Some(1));
    assert_eq!(code_segments("53.71"), Some(2));
    assert_eq!(code_segments("53.71.01"), Some(3));
    assert_eq!(code_segments("53.71.01.1001"), Some(4));
    for bad in [
        "",
        "5",
        "530",
        "53.",
        ".53",
        "53.7",
        "53.711",
        "53.71.1",
        "53.71.01.100",
        "53.71.01.10011",
        "53.71.01.1001.01",
        "53-71",
        "5a",
        "53..71",
        " 53",
        "٥٣",
    ] {
        assert_eq!(code_segments(bad), None, "{bad:?}");
    }
}

// --- errors ---

#[test]
fn error_invalid_json() {
    let err = parse_err("{not json");
    assert!(matches!(err, BoundaryError::Json(_)), "{err}");
    assert!(err.to_string().starts_with("invalid JSON: "), "{err}");
}

#[test]
fn error_wrong_top_level_type() {
    let err = parse_err(&feature("53", &polygon(&[square(0.0, 0.0, 1.0, 1.0)])));
    assert!(
        matches!(err, BoundaryError::NotFeatureCollection { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        r#"the top level is an object of type "Feature"; expected a GeoJSON FeatureCollection object"#
    );
    let err = parse_err("[]");
    assert!(
        err.to_string().starts_with("the top level is an array;"),
        "{err}"
    );
    let err = parse_err(r#"{"features":[]}"#);
    assert!(
        err.to_string()
            .starts_with("the top level is an object without a type;"),
        "{err}"
    );
}

#[test]
fn error_missing_features() {
    let err = parse_err(r#"{"type":"FeatureCollection"}"#);
    assert!(
        matches!(err, BoundaryError::MissingFeatures { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the FeatureCollection's features member is missing; expected an array"
    );
    let err = parse_err(r#"{"type":"FeatureCollection","features":{}}"#);
    assert!(
        err.to_string().contains("is an object; expected an array"),
        "{err}"
    );
    let err = parse_err(r#"{"type":"FeatureCollection","features":[1,2]}"#);
    assert_eq!(
        err.to_string(),
        "feature 0 is a number; expected a GeoJSON Feature object"
    );
}

#[test]
fn error_not_a_feature() {
    let good = feature("53", &polygon(&[square(0.0, 0.0, 1.0, 1.0)]));
    let err = parse_err(&collection(&[
        good.clone(),
        r#"{"type":"Polygon"}"#.to_owned(),
    ]));
    assert!(
        matches!(err, BoundaryError::NotAFeature { index: 1, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        r#"feature 1 is an object of type "Polygon"; expected a GeoJSON Feature object"#
    );
    let err = parse_err(&collection(&[good, "\"x\"".to_owned()]));
    assert_eq!(
        err.to_string(),
        "feature 1 is a string; expected a GeoJSON Feature object"
    );
}

#[test]
fn error_bad_code() {
    let geometry = polygon(&[square(0.0, 0.0, 1.0, 1.0)]);
    let err = parse_err(&collection(&[
        feature("53", &geometry),
        feature("53.7", &geometry),
    ]));
    assert!(
        matches!(err, BoundaryError::BadCode { index: 1, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        r#"feature 1: properties.code is "53.7"; expected a Kemendagri region code such as 53, 53.71, 53.71.01 or 53.71.01.1001"#
    );
    for (properties, found) in [
        (r#"{"code":53,"name":"X"}"#, "a number"),
        (r#"{"name":"X"}"#, "missing"),
        ("null", "missing"),
    ] {
        let text = collection(&[format!(
            r#"{{"type":"Feature","properties":{properties},"geometry":{geometry}}}"#
        )]);
        let err = parse_err(&text);
        assert!(
            matches!(err, BoundaryError::BadCode { index: 0, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("properties.code is {found};")),
            "{err}"
        );
    }
}

#[test]
fn error_missing_or_blank_name() {
    let geometry = polygon(&[square(0.0, 0.0, 1.0, 1.0)]);
    for (properties, found) in [
        (r#"{"code":"53.71"}"#, "missing"),
        (r#"{"code":"53.71","name":""}"#, "a blank string"),
        (r#"{"code":"53.71","name":"  "}"#, "a blank string"),
        (r#"{"code":"53.71","name":null}"#, "null"),
    ] {
        let text = collection(&[
            feature("53", &geometry),
            feature("53.01", &geometry),
            format!(r#"{{"type":"Feature","properties":{properties},"geometry":{geometry}}}"#),
        ]);
        let err = parse_err(&text);
        assert!(
            matches!(err, BoundaryError::BadName { index: 2, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("feature 2 (53.71): properties.name is {found}; expected a non-empty string")
        );
    }
}

#[test]
fn error_unclosed_ring() {
    let err = parse_err(&with_ring("[[0,0],[1,0],[1,1],[0,1]]"));
    assert!(matches!(err, BoundaryError::UnclosedRing { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "feature 0 (53.71): polygon 0 ring 0 is not closed; its first and last positions differ"
    );
}

#[test]
fn error_ring_with_too_few_points() {
    let text = collection(&[
        feature("53", &polygon(&[square(0.0, 0.0, 1.0, 1.0)])),
        feature("53.01", &polygon(&[square(0.0, 0.0, 1.0, 1.0)])),
        feature("53.02", &polygon(&[square(0.0, 0.0, 1.0, 1.0)])),
        feature("53.71", &polygon(&["[[0,0],[1,1]]".to_owned()])),
    ]);
    let err = parse_err(&text);
    assert!(
        matches!(
            err,
            BoundaryError::RingTooShort {
                index: 3,
                count: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "feature 3 (53.71): polygon 0 ring 0 has 2 points; a ring needs at least 4"
    );
    // A closed triangle written with 3 positions is also too short.
    let err = parse_err(&with_ring("[[0,0],[1,0],[0,0]]"));
    assert!(
        matches!(err, BoundaryError::RingTooShort { count: 3, .. }),
        "{err}"
    );
    // So is a hole.
    let text = collection(&[feature(
        "53",
        &polygon(&[square(0.0, 0.0, 9.0, 9.0), "[[1,1],[2,2],[1,1]]".to_owned()]),
    )]);
    let err = parse_err(&text);
    assert!(
        err.to_string().contains("polygon 0 ring 1 has 3 points"),
        "{err}"
    );
}

#[test]
fn error_coordinate_out_of_range() {
    // Latitude and longitude swapped: [lat, lon] for Kupang.
    let err = parse_err(&with_ring(
        "[[-10.2,123.5],[-10.1,123.5],[-10.1,123.6],[-10.2,123.5]]",
    ));
    assert!(matches!(err, BoundaryError::OutOfRange { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "feature 0 (53.71): polygon 0 ring 0 position 0 is [-10.2, 123.5]; longitude must be within -180..=180 and latitude within -90..=90 (GeoJSON order is [lon, lat])"
    );
    let err = parse_err(&with_ring("[[0,0],[180.5,0],[1,1],[0,0]]"));
    assert!(
        err.to_string().contains("position 1 is [180.5, 0]"),
        "{err}"
    );
    // The limits themselves are allowed.
    parse(&with_ring("[[-180,-90],[180,-90],[180,90],[-180,-90]]")).unwrap();
    // Numbers too large for f64 are refused by the JSON parser.
    let err = parse_err(&with_ring("[[0,0],[1e999,0],[1,1],[0,0]]"));
    assert!(matches!(err, BoundaryError::Json(_)), "{err}");
}

#[test]
fn error_unsupported_geometry_type() {
    let err = parse_err(&collection(&[feature(
        "64.72",
        r#"{"type":"Point","coordinates":[117.15,-0.5]}"#,
    )]));
    assert!(
        matches!(err, BoundaryError::UnsupportedGeometry { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        r#"feature 0 (64.72): geometry is an object of type "Point"; only Polygon and MultiPolygon are supported"#
    );
    let err = parse_err(&collection(&[feature("64", r#"{"coordinates":[]}"#)]));
    assert!(
        err.to_string()
            .contains("geometry is an object without a type;"),
        "{err}"
    );
    let err = parse_err(&collection(&[feature("64", "[]")]));
    assert!(err.to_string().contains("geometry is an array;"), "{err}");
}

#[test]
fn error_null_or_missing_geometry() {
    let err = parse_err(&collection(&[feature("64.71", "null")]));
    assert!(
        matches!(err, BoundaryError::NoGeometry { index: 0, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "feature 0 (64.71): geometry is null or missing; expected a Polygon or MultiPolygon"
    );
    let text =
        collection(&[r#"{"type":"Feature","properties":{"code":"64","name":"X"}}"#.to_owned()]);
    assert!(matches!(parse_err(&text), BoundaryError::NoGeometry { .. }));
}

#[test]
fn error_non_number_coordinate() {
    let err = parse_err(&with_ring(r#"[[0,0],[1,0],["1",1],[0,0]]"#));
    assert!(matches!(err, BoundaryError::NotANumber { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "feature 0 (53.71): polygon 0 ring 0 position 2 has a string where a number belongs"
    );
    let err = parse_err(&with_ring("[[0,0],[1,null],[1,1],[0,0]]"));
    assert!(
        err.to_string()
            .contains("position 1 has null where a number belongs"),
        "{err}"
    );
}

#[test]
fn error_position_with_wrong_number_count() {
    let err = parse_err(&with_ring("[[0,0],[1],[1,1],[0,0]]"));
    assert!(
        matches!(err, BoundaryError::BadPosition { count: 1, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "feature 0 (53.71): polygon 0 ring 0 position 1 has 1 numbers; expected 2 (lon, lat) or 3 (lon, lat, altitude)"
    );
    let err = parse_err(&with_ring("[[0,0],[1,0,0,0],[1,1],[0,0]]"));
    assert!(
        matches!(err, BoundaryError::BadPosition { count: 4, .. }),
        "{err}"
    );
    let err = parse_err(&with_ring("[[0,0],[],[1,1],[0,0]]"));
    assert!(
        matches!(err, BoundaryError::BadPosition { count: 0, .. }),
        "{err}"
    );
}

#[test]
fn error_wrong_nesting() {
    // Polygon coordinates given one level too shallow.
    let text = collection(&[feature(
        "53",
        r#"{"type":"Polygon","coordinates":[[0,0],[1,0],[1,1],[0,0]]}"#,
    )]);
    let err = parse_err(&text);
    assert!(matches!(err, BoundaryError::BadCoordinates { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "feature 0 (53): polygon 0 ring 0 is an array of numbers; expected an array of positions"
    );
    // MultiPolygon coordinates given at Polygon depth.
    let geometry = format!(
        r#"{{"type":"MultiPolygon","coordinates":[{}]}}"#,
        square(0.0, 0.0, 1.0, 1.0)
    );
    let err = parse_err(&collection(&[feature("53", &geometry)]));
    assert!(
        err.to_string()
            .contains("polygon 0 ring 0 is an array of numbers"),
        "{err}"
    );
    // Empty geometries.
    for (geometry, problem) in [
        (
            r#"{"type":"Polygon","coordinates":[]}"#,
            "polygon 0 has no rings",
        ),
        (
            r#"{"type":"MultiPolygon","coordinates":[]}"#,
            "MultiPolygon has no polygons",
        ),
        (r#"{"type":"Polygon"}"#, "geometry has no coordinates"),
        (
            r#"{"type":"Polygon","coordinates":"x"}"#,
            "polygon 0 is a string; expected an array of rings",
        ),
        (
            r#"{"type":"Polygon","coordinates":[[1,2,3,4,5]]}"#,
            "polygon 0 ring 0 position 0 is a number; expected a [lon, lat] array",
        ),
    ] {
        let err = parse_err(&collection(&[feature("53", geometry)]));
        assert_eq!(err.to_string(), format!("feature 0 (53): {problem}"));
    }
}

#[test]
fn error_too_many_features() {
    let limits = Limits {
        features: 2,
        positions: MAX_POSITIONS,
    };
    let f = feature("53", &polygon(&[square(0.0, 0.0, 1.0, 1.0)]));
    let text = collection(&[f.clone(), f.clone(), f.clone()]);
    let err = parse_with_limits(text.as_bytes(), limits).unwrap_err();
    assert!(
        matches!(err, BoundaryError::TooManyFeatures { count: 3, limit: 2 }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the file has 3 features; at most 2 are allowed"
    );
    parse_with_limits(collection(&[f.clone(), f]).as_bytes(), limits).unwrap();
}

#[test]
fn error_too_many_features_at_the_real_limit() {
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[{}{{}}]}}"#,
        "{},".repeat(MAX_FEATURES)
    );
    let err = parse_err(&text);
    assert!(
        matches!(err, BoundaryError::TooManyFeatures { count, limit: MAX_FEATURES } if count == MAX_FEATURES + 1),
        "{err}"
    );
}

#[test]
fn error_too_many_positions() {
    let limits = Limits {
        features: MAX_FEATURES,
        positions: 14,
    };
    let geometry = polygon(&[square(0.0, 0.0, 1.0, 1.0)]);
    let text = collection(&[
        feature("53", &geometry),
        feature("53.01", &geometry),
        feature("53.71", &geometry),
    ]);
    let err = parse_with_limits(text.as_bytes(), limits).unwrap_err();
    assert!(
        matches!(
            err,
            BoundaryError::TooManyPositions {
                index: 2,
                limit: 14,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "feature 2 (53.71): the file has more than 14 positions in all"
    );
    let limits = Limits {
        positions: 15,
        ..limits
    };
    parse_with_limits(text.as_bytes(), limits).unwrap();
}

// --- files ---

/// A path in the temporary directory unique to this process and test.
fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("geo-test-{}-{name}", std::process::id()))
}

#[test]
fn load_reads_a_file() {
    let path = temp_path("sample.geojson");
    std::fs::write(&path, SAMPLE).unwrap();
    let result = Boundaries::load(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(result.unwrap().len(), 6);
}

#[test]
fn load_names_the_path_of_a_missing_file() {
    let path = temp_path("does-not-exist.geojson");
    let err = Boundaries::load(&path).unwrap_err();
    assert!(matches!(err, BoundaryError::Io { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot read {}: ", path.display())),
        "{message}"
    );
}

#[test]
fn load_names_the_path_of_invalid_content() {
    let path = temp_path("bad.geojson");
    std::fs::write(&path, with_ring("[[0,0],[1,0],[1,1],[0,1]]")).unwrap();
    let result = Boundaries::load(&path);
    std::fs::remove_file(&path).unwrap();
    let err = result.unwrap_err();
    let BoundaryError::InFile {
        path: in_path,
        error,
    } = &err
    else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(in_path, &path);
    assert!(
        matches!(**error, BoundaryError::UnclosedRing { .. }),
        "{error}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: feature 0 (53.71): polygon 0 ring 0 is not closed; its first and last positions differ",
            path.display()
        )
    );
}

#[test]
fn load_refuses_a_file_over_64_mib() {
    let path = temp_path("large.geojson");
    let file = File::create(&path).unwrap();
    // Sparse on most file systems, so this is quick and takes no space.
    file.set_len(MAX_FILE_BYTES + 1).unwrap();
    drop(file);
    let result = Boundaries::load(&path);
    std::fs::remove_file(&path).unwrap();
    let err = result.unwrap_err();
    assert!(
        matches!(err, BoundaryError::FileTooLarge { size, .. } if size == MAX_FILE_BYTES + 1),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} is 67108865 bytes; a boundary file may be at most 67108864 bytes (64 MiB)",
            path.display()
        )
    );
}

#[test]
fn debug_output_is_short() {
    let b = sample();
    assert_eq!(format!("{b:?}"), "Boundaries { regions: 6 }");
    let region = b.regions().next().unwrap();
    assert_eq!(
        format!("{region:?}"),
        r#"Region { code: "53", name: "Nusa Tenggara Timur", polygons: 1, .. }"#
    );
}
