//! Administrative boundaries for routing a report by its location.
//!
//! The operator provides a `GeoJSON` `FeatureCollection` in which every feature
//! is one region: `properties.code` holds its Kemendagri region code (`53`,
//! `53.71`, `53.71.01` or `53.71.01.1001`), `properties.name` its name, and the
//! geometry is a `Polygon` or `MultiPolygon` in `[lon, lat]` order.
//! [`Boundaries::locate`] finds the most specific region that contains a point.
//!
//! Coordinates are held as integer microdegrees and tested with exact integer
//! arithmetic, so a point on a boundary gives the same answer on every machine.
//!
//! The file is a little over 900 lines on purpose: the strict GeoJSON reader, its error type (every refusal
//! names the feature and the problem) and the integer point-in-polygon test are one concern and are read
//! together; the tests are in `tests.rs`.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Largest boundary file [`Boundaries::load`] reads: 64 MiB.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Largest number of features a boundary file may hold.
pub const MAX_FEATURES: usize = 100_000;

/// Largest number of positions a boundary file may hold, over all rings of all
/// features.
pub const MAX_POSITIONS: usize = 20_000_000;

/// Smallest number of positions in a ring, the closing position included.
const MIN_RING_POSITIONS: usize = 4;

/// Why a boundary file was refused.
#[derive(Debug, thiserror::Error)]
pub enum BoundaryError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {error}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path} is {size} bytes; a boundary file may be at most {MAX_FILE_BYTES} bytes (64 MiB)", path = .path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// The file was read but its content was refused.
    #[error("{path}: {error}", path = .path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// Why its content was refused.
        error: Box<BoundaryError>,
    },
    /// The text is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(serde_json::Error),
    /// The top level is not a `FeatureCollection` object.
    #[error("the top level is {found}; expected a GeoJSON FeatureCollection object")]
    NotFeatureCollection {
        /// What was found instead.
        found: String,
    },
    /// The `FeatureCollection` has no `features` array.
    #[error("the FeatureCollection's features member is {found}; expected an array")]
    MissingFeatures {
        /// What was found instead.
        found: String,
    },
    /// More features than [`MAX_FEATURES`].
    #[error("the file has {count} features; at most {limit} are allowed")]
    TooManyFeatures {
        /// Number of features in the file.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// More positions in all than [`MAX_POSITIONS`].
    #[error("feature {index} ({code}): the file has more than {limit} positions in all")]
    TooManyPositions {
        /// Index of the feature where the limit was passed, from 0.
        index: usize,
        /// Its region code.
        code: String,
        /// The limit.
        limit: usize,
    },
    /// A member of `features` is not a `Feature` object.
    #[error("feature {index} is {found}; expected a GeoJSON Feature object")]
    NotAFeature {
        /// Index of the feature, from 0.
        index: usize,
        /// What was found instead.
        found: String,
    },
    /// `properties.code` is missing or not a Kemendagri region code.
    #[error(
        "feature {index}: properties.code is {found}; expected a Kemendagri region code such as 53, 53.71, 53.71.01 or 53.71.01.1001"
    )]
    BadCode {
        /// Index of the feature, from 0.
        index: usize,
        /// What was found instead.
        found: String,
    },
    /// `properties.name` is missing, blank or not a string.
    #[error("feature {index} ({code}): properties.name is {found}; expected a non-empty string")]
    BadName {
        /// Index of the feature, from 0.
        index: usize,
        /// Its region code.
        code: String,
        /// What was found instead.
        found: String,
    },
    /// The geometry is null or missing.
    #[error(
        "feature {index} ({code}): geometry is null or missing; expected a Polygon or MultiPolygon"
    )]
    NoGeometry {
        /// Index of the feature, from 0.
        index: usize,
        /// Its region code.
        code: String,
    },
    /// The geometry is not a `Polygon` or `MultiPolygon`.
    #[error(
        "feature {index} ({code}): geometry is {found}; only Polygon and MultiPolygon are supported"
    )]
    UnsupportedGeometry {
        /// Index of the feature, from 0.
        index: usize,
        /// Its region code.
        code: String,
        /// What was found instead, for example `of type "Point"`.
        found: String,
    },
    /// The coordinates do not have the nesting the geometry type needs.
    #[error("feature {index} ({code}): {problem}")]
    BadCoordinates {
        /// Index of the feature, from 0.
        index: usize,
        /// Its region code.
        code: String,
        /// What is wrong and where.
        problem: String,
    },
    /// A position holds something other than a number.
    #[error("feature {index} ({code}): {at} has {found} where a number belongs")]
    NotANumber {
        /// Index of the feature, from 0.
        index: usize,
        /// Its region code.
        code: String,
        /// Where the position is, for example `polygon 0 ring 1 position 3`.
        at: String,
        /// What was found instead.
        found: String,
    },
    /// A position does not have 2 or 3 numbers.
    #[error(
        "feature {index} ({code}): {at} has {count} numbers; expected 2 (lon, lat) or 3 (lon, lat, altitude)"
    )]
    BadPosition {
        /// Index of the feature, from 0.
        index: usize,
        /// Its region code.
        code: String,
        /// Where the position is.
        at: String,
        /// How many numbers it has.
        count: usize,
    },
    /// A longitude is outside -180..=180 or a latitude outside -90..=90.
    #[error(
        "feature {index} ({code}): {at} is [{lon}, {lat}]; longitude must be within -180..=180 and latitude within -90..=90 (GeoJSON order is [lon, lat])"
    )]
    OutOfRange {
        /// Index of the feature, from 0.
        index: usize,
        /// Its region code.
        code: String,
        /// Where the position is.
        at: String,
        /// The longitude as given.
        lon: f64,
        /// The latitude as given.
        lat: f64,
    },
    /// A ring has fewer than 4 positions.
    #[error("feature {index} ({code}): {at} has {count} points; a ring needs at least 4")]
    RingTooShort {
        /// Index of the feature, from 0.
        index: usize,
        /// Its region code.
        code: String,
        /// Where the ring is, for example `polygon 0 ring 1`.
        at: String,
        /// How many positions it has.
        count: usize,
    },
    /// A ring's first and last positions differ.
    #[error("feature {index} ({code}): {at} is not closed; its first and last positions differ")]
    UnclosedRing {
        /// Index of the feature, from 0.
        index: usize,
        /// Its region code.
        code: String,
        /// Where the ring is.
        at: String,
    },
}

/// One administrative region and its boundary.
#[derive(Clone)]
pub struct Region {
    /// Kemendagri region code, for example `53.71`.
    pub code: String,
    /// Name as given in the file, for example `Kota Kupang`.
    pub name: String,
    /// Number of segments in `code`: 1 for a province up to 4 for a village.
    segments: usize,
    polygons: Vec<Polygon>,
    bbox: BBox,
}

impl Region {
    fn contains(&self, p: Point) -> bool {
        self.bbox.contains(p) && self.polygons.iter().any(|polygon| polygon.contains(p))
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("code", &self.code)
            .field("name", &self.name)
            .field("polygons", &self.polygons.len())
            .finish_non_exhaustive()
    }
}

/// A set of regions loaded from one boundary file.
#[derive(Clone, Default)]
pub struct Boundaries {
    regions: Vec<Region>,
}

impl fmt::Debug for Boundaries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Boundaries")
            .field("regions", &self.regions.len())
            .finish()
    }
}

impl Boundaries {
    /// Parses `GeoJSON` text.
    ///
    /// # Errors
    ///
    /// Returns an error if the text is not valid JSON, is not a
    /// `FeatureCollection`, breaks a rule for any feature, or exceeds
    /// [`MAX_FEATURES`] or [`MAX_POSITIONS`].
    pub fn parse(bytes: &[u8]) -> Result<Self, BoundaryError> {
        parse_with_limits(bytes, Limits::DEFAULT)
    }

    /// Reads and parses a boundary file.
    ///
    /// # Errors
    ///
    /// Returns an error if the file cannot be read, is larger than
    /// [`MAX_FILE_BYTES`], or its content is refused by [`Boundaries::parse`].
    /// Every error names the path.
    pub fn load(path: &Path) -> Result<Self, BoundaryError> {
        let io_error = |error| BoundaryError::Io {
            path: path.to_path_buf(),
            error,
        };
        let too_large = |size| BoundaryError::FileTooLarge {
            path: path.to_path_buf(),
            size,
        };
        let file = File::open(path).map_err(io_error)?;
        let size = file.metadata().map_err(io_error)?.len();
        if size > MAX_FILE_BYTES {
            return Err(too_large(size));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // The size may change after the check, and special files report 0.
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if read > MAX_FILE_BYTES {
            return Err(too_large(read));
        }
        Self::parse(&bytes).map_err(|error| BoundaryError::InFile {
            path: path.to_path_buf(),
            error: Box::new(error),
        })
    }

    /// A set with no regions: [`Boundaries::locate`] always returns `None`.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// Number of regions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether there are no regions.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The regions in file order.
    pub fn regions(&self) -> impl Iterator<Item = &Region> {
        self.regions.iter()
    }

    /// The most specific region containing the point (the one whose code has
    /// the most segments; ties: the first in the file), coordinates in integer
    /// microdegrees.
    ///
    /// The smallest box around the regions whose code is one of `codes`, as microdegrees
    /// `(min_lat, min_lon, max_lat, max_lon)`; `None` when none of them is in the file.
    pub fn extent_of(&self, codes: &[String]) -> Option<(i64, i64, i64, i64)> {
        let b = self
            .regions
            .iter()
            .filter(|r| codes.contains(&r.code))
            .fold(BBox::EMPTY, |b, r| BBox {
                min_lon: b.min_lon.min(r.bbox.min_lon),
                min_lat: b.min_lat.min(r.bbox.min_lat),
                max_lon: b.max_lon.max(r.bbox.max_lon),
                max_lat: b.max_lat.max(r.bbox.max_lat),
            });
        (b.min_lat <= b.max_lat && b.min_lon <= b.max_lon)
            .then_some((b.min_lat, b.min_lon, b.max_lat, b.max_lon))
    }

    /// A point on a region's boundary, a hole's boundary included, is inside
    /// that region.
    #[must_use]
    pub fn locate(&self, lat_e6: i64, lon_e6: i64) -> Option<&Region> {
        let p = Point {
            lon: lon_e6,
            lat: lat_e6,
        };
        let mut best: Option<&Region> = None;
        for region in &self.regions {
            if best.is_some_and(|b| b.segments >= region.segments) {
                continue;
            }
            if region.contains(p) {
                best = Some(region);
            }
        }
        best
    }
}

// ---------------------------------------------------------------------------
// Geometry

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Point {
    lon: i64,
    lat: i64,
}

#[derive(Clone, Copy, Debug)]
struct BBox {
    min_lon: i64,
    min_lat: i64,
    max_lon: i64,
    max_lat: i64,
}

impl BBox {
    const EMPTY: Self = Self {
        min_lon: i64::MAX,
        min_lat: i64::MAX,
        max_lon: i64::MIN,
        max_lat: i64::MIN,
    };

    fn of(points: &[Point]) -> Self {
        points.iter().fold(Self::EMPTY, |b, p| Self {
            min_lon: b.min_lon.min(p.lon),
            min_lat: b.min_lat.min(p.lat),
            max_lon: b.max_lon.max(p.lon),
            max_lat: b.max_lat.max(p.lat),
        })
    }

    fn union(self, other: Self) -> Self {
        Self {
            min_lon: self.min_lon.min(other.min_lon),
            min_lat: self.min_lat.min(other.min_lat),
            max_lon: self.max_lon.max(other.max_lon),
            max_lat: self.max_lat.max(other.max_lat),
        }
    }

    fn contains(&self, p: Point) -> bool {
        (self.min_lon..=self.max_lon).contains(&p.lon)
            && (self.min_lat..=self.max_lat).contains(&p.lat)
    }
}

#[derive(Clone, Debug)]
struct Polygon {
    outer: Vec<Point>,
    holes: Vec<Vec<Point>>,
    bbox: BBox,
}

impl Polygon {
    fn contains(&self, p: Point) -> bool {
        if !self.bbox.contains(p) {
            return false;
        }
        match ring_position(&self.outer, p) {
            RingPosition::Outside => false,
            RingPosition::Boundary => true,
            RingPosition::Inside => self
                .holes
                .iter()
                .all(|hole| ring_position(hole, p) != RingPosition::Inside),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RingPosition {
    Inside,
    Boundary,
    Outside,
}

/// Where `p` lies relative to a closed ring: even-odd ray casting towards
/// increasing longitude, with points on an edge reported as `Boundary`.
fn ring_position(ring: &[Point], p: Point) -> RingPosition {
    let (px, py) = (i128::from(p.lon), i128::from(p.lat));
    let mut inside = false;
    for edge in ring.windows(2) {
        let (ax, ay) = (i128::from(edge[0].lon), i128::from(edge[0].lat));
        let (bx, by) = (i128::from(edge[1].lon), i128::from(edge[1].lat));
        // Cross product of (b - a) and (p - a); zero when p is on the line ab.
        let cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax);
        if cross == 0
            && (ax.min(bx)..=ax.max(bx)).contains(&px)
            && (ay.min(by)..=ay.max(by)).contains(&py)
        {
            return RingPosition::Boundary;
        }
        // The edge straddles the horizontal line through p (lower end
        // included, upper end excluded); count it when it crosses that line
        // to the east of p. Its crossing is east of p exactly when p is left
        // of the edge directed upwards, that is when `cross` has the sign of
        // `by - ay`.
        if (ay > py) != (by > py) && (cross > 0) == (by > ay) {
            inside = !inside;
        }
    }
    if inside {
        RingPosition::Inside
    } else {
        RingPosition::Outside
    }
}

// ---------------------------------------------------------------------------
// JSON tree

/// A JSON value in which every array of 2 or 3 numbers is stored compactly
/// as a position, so that large coordinate arrays stay small in memory.
#[derive(Debug)]
enum Node {
    Null,
    Bool,
    Num(f64),
    Str(String),
    /// An array of 2 or 3 numbers; the first two are kept.
    Position(f64, f64),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// Describes the kind of value, for error messages.
    fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool => "a boolean",
            Node::Num(_) => "a number",
            Node::Str(_) => "a string",
            Node::Position(..) => "an array of numbers",
            Node::Array(_) => "an array",
            Node::Object(_) => "an object",
        }
    }

    /// The member `key` of an object; the last one if it repeats.
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Bool)
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "coordinates are compared as f64; huge integers are out of range anyway"
    )]
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Num(v as f64))
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "coordinates are compared as f64; huge integers are out of range anyway"
    )]
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Num(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Num(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        // Hold up to 3 leading numbers without allocating; an array that turns
        // out to be 2 or 3 numbers becomes a position.
        let mut nums = [0.0_f64; 3];
        let mut count = 0;
        let first_other = loop {
            match seq.next_element::<Node>()? {
                None => {
                    return Ok(match nums {
                        [lon, lat, _] if count >= 2 => Node::Position(lon, lat),
                        _ => Node::Array(nums[..count].iter().map(|&x| Node::Num(x)).collect()),
                    });
                }
                Some(Node::Num(x)) if count < nums.len() => {
                    nums[count] = x;
                    count += 1;
                }
                Some(other) => break other,
            }
        };
        let mut items: Vec<Node> = nums[..count].iter().map(|&x| Node::Num(x)).collect();
        items.push(first_other);
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            members.push((key, value));
        }
        Ok(Node::Object(members))
    }
}

// ---------------------------------------------------------------------------
// Validation

#[derive(Clone, Copy, Debug)]
struct Limits {
    features: usize,
    positions: usize,
}

impl Limits {
    const DEFAULT: Self = Self {
        features: MAX_FEATURES,
        positions: MAX_POSITIONS,
    };
}

fn parse_with_limits(bytes: &[u8], limits: Limits) -> Result<Boundaries, BoundaryError> {
    let root: Node = serde_json::from_slice(bytes).map_err(BoundaryError::Json)?;
    if !matches!(&root, Node::Object(_)) {
        return Err(BoundaryError::NotFeatureCollection {
            found: root.kind().to_owned(),
        });
    }
    if let Some(found) = type_mismatch(&root, "FeatureCollection") {
        return Err(BoundaryError::NotFeatureCollection { found });
    }
    let features: &[Node] = match root.get("features") {
        Some(Node::Array(items)) => items,
        // An array of 2 or 3 numbers: its first member is not a feature.
        Some(Node::Position(..)) => {
            return Err(BoundaryError::NotAFeature {
                index: 0,
                found: "a number".to_owned(),
            });
        }
        Some(other) => {
            return Err(BoundaryError::MissingFeatures {
                found: other.kind().to_owned(),
            });
        }
        None => {
            return Err(BoundaryError::MissingFeatures {
                found: "missing".to_owned(),
            });
        }
    };
    if features.len() > limits.features {
        return Err(BoundaryError::TooManyFeatures {
            count: features.len(),
            limit: limits.features,
        });
    }
    let mut positions = 0;
    let regions = features
        .iter()
        .enumerate()
        .map(|(index, feature)| build_region(index, feature, &mut positions, limits))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Boundaries { regions })
}

/// `None` if `node` is an object whose `type` is `expected`, else a
/// description of what it is.
fn type_mismatch(node: &Node, expected: &str) -> Option<String> {
    if !matches!(node, Node::Object(_)) {
        return Some(node.kind().to_owned());
    }
    match node.get("type") {
        Some(Node::Str(t)) if t == expected => None,
        Some(Node::Str(t)) => Some(format!("an object of type {t:?}")),
        Some(other) => Some(format!("an object whose type is {}", other.kind())),
        None => Some("an object without a type".to_owned()),
    }
}

/// Number of segments in a Kemendagri region code, or `None` if `code` is not
/// one (`NN`, `NN.NN`, `NN.NN.NN` or `NN.NN.NN.NNNN`, ASCII digits).
fn code_segments(code: &str) -> Option<usize> {
    const WIDTHS: [usize; 4] = [2, 2, 2, 4];
    let mut segments = 0;
    for part in code.split('.') {
        let width = *WIDTHS.get(segments)?;
        if part.len() != width || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        segments += 1;
    }
    Some(segments)
}

fn build_region(
    index: usize,
    feature: &Node,
    positions: &mut usize,
    limits: Limits,
) -> Result<Region, BoundaryError> {
    if let Some(found) = type_mismatch(feature, "Feature") {
        return Err(BoundaryError::NotAFeature { index, found });
    }
    let properties = feature.get("properties");
    let code_node = properties.and_then(|p| p.get("code"));
    let (code, segments) = match code_node {
        Some(Node::Str(s)) => match code_segments(s) {
            Some(segments) => (s.clone(), segments),
            None => {
                return Err(BoundaryError::BadCode {
                    index,
                    found: format!("{s:?}"),
                });
            }
        },
        other => {
            return Err(BoundaryError::BadCode {
                index,
                found: other.map_or("missing", Node::kind).to_owned(),
            });
        }
    };
    let name = match properties.and_then(|p| p.get("name")) {
        Some(Node::Str(s)) if !s.trim().is_empty() => s.clone(),
        other => {
            let found = match other {
                Some(Node::Str(_)) => "a blank string",
                Some(node) => node.kind(),
                None => "missing",
            };
            return Err(BoundaryError::BadName {
                index,
                code,
                found: found.to_owned(),
            });
        }
    };
    let mut ctx = FeatureContext {
        index,
        code,
        positions,
        limits,
    };
    let polygons = ctx.polygons(feature.get("geometry"))?;
    let bbox = polygons
        .iter()
        .fold(BBox::EMPTY, |b, polygon| b.union(polygon.bbox));
    Ok(Region {
        code: ctx.code,
        name,
        segments,
        polygons,
        bbox,
    })
}

/// The feature being validated, for building geometry and its errors.
struct FeatureContext<'a> {
    index: usize,
    code: String,
    positions: &'a mut usize,
    limits: Limits,
}

impl FeatureContext<'_> {
    fn bad(&self, problem: String) -> BoundaryError {
        BoundaryError::BadCoordinates {
            index: self.index,
            code: self.code.clone(),
            problem,
        }
    }

    fn polygons(&mut self, geometry: Option<&Node>) -> Result<Vec<Polygon>, BoundaryError> {
        let geometry = match geometry {
            None | Some(Node::Null) => {
                return Err(BoundaryError::NoGeometry {
                    index: self.index,
                    code: self.code.clone(),
                });
            }
            Some(node) => node,
        };
        let unsupported = |found: String| BoundaryError::UnsupportedGeometry {
            index: self.index,
            code: self.code.clone(),
            found,
        };
        let multi = match type_mismatch(geometry, "Polygon") {
            None => false,
            Some(found) => match type_mismatch(geometry, "MultiPolygon") {
                None => true,
                Some(_) => return Err(unsupported(found)),
            },
        };
        let Some(coordinates) = geometry.get("coordinates") else {
            return Err(self.bad("geometry has no coordinates".to_owned()));
        };
        if !multi {
            return Ok(vec![self.polygon(coordinates, 0)?]);
        }
        let Node::Array(parts) = coordinates else {
            return Err(self.bad(format!(
                "MultiPolygon coordinates are {}; expected an array of polygons",
                coordinates.kind()
            )));
        };
        if parts.is_empty() {
            return Err(self.bad("MultiPolygon has no polygons".to_owned()));
        }
        parts
            .iter()
            .enumerate()
            .map(|(p, part)| self.polygon(part, p))
            .collect()
    }

    fn polygon(&mut self, node: &Node, p: usize) -> Result<Polygon, BoundaryError> {
        let Node::Array(rings) = node else {
            return Err(self.bad(format!(
                "polygon {p} is {}; expected an array of rings",
                node.kind()
            )));
        };
        let mut rings = rings.iter().enumerate();
        let Some((_, outer)) = rings.next() else {
            return Err(self.bad(format!("polygon {p} has no rings")));
        };
        let outer = self.ring(outer, p, 0)?;
        let holes = rings
            .map(|(r, ring)| self.ring(ring, p, r))
            .collect::<Result<Vec<_>, _>>()?;
        let bbox = BBox::of(&outer);
        Ok(Polygon { outer, holes, bbox })
    }

    fn ring(&mut self, node: &Node, p: usize, r: usize) -> Result<Vec<Point>, BoundaryError> {
        let at = format!("polygon {p} ring {r}");
        let Node::Array(items) = node else {
            return Err(self.bad(format!(
                "{at} is {}; expected an array of positions",
                node.kind()
            )));
        };
        if items.len() < MIN_RING_POSITIONS {
            return Err(BoundaryError::RingTooShort {
                index: self.index,
                code: self.code.clone(),
                at,
                count: items.len(),
            });
        }
        *self.positions = self.positions.saturating_add(items.len());
        if *self.positions > self.limits.positions {
            return Err(BoundaryError::TooManyPositions {
                index: self.index,
                code: self.code.clone(),
                limit: self.limits.positions,
            });
        }
        let points = items
            .iter()
            .enumerate()
            .map(|(k, item)| self.point(item, &at, k))
            .collect::<Result<Vec<_>, _>>()?;
        if points.first() != points.last() {
            return Err(BoundaryError::UnclosedRing {
                index: self.index,
                code: self.code.clone(),
                at,
            });
        }
        Ok(points)
    }

    fn point(&self, node: &Node, ring_at: &str, k: usize) -> Result<Point, BoundaryError> {
        let at = || format!("{ring_at} position {k}");
        match node {
            Node::Position(lon, lat) => {
                let (lon, lat) = (*lon, *lat);
                if lon.is_finite()
                    && lat.is_finite()
                    && (-180.0..=180.0).contains(&lon)
                    && (-90.0..=90.0).contains(&lat)
                {
                    Ok(Point {
                        lon: to_microdegrees(lon),
                        lat: to_microdegrees(lat),
                    })
                } else {
                    Err(BoundaryError::OutOfRange {
                        index: self.index,
                        code: self.code.clone(),
                        at: at(),
                        lon,
                        lat,
                    })
                }
            }
            Node::Array(values) => {
                if let Some(other) = values.iter().find(|v| !matches!(v, Node::Num(_))) {
                    Err(BoundaryError::NotANumber {
                        index: self.index,
                        code: self.code.clone(),
                        at: at(),
                        found: other.kind().to_owned(),
                    })
                } else {
                    Err(BoundaryError::BadPosition {
                        index: self.index,
                        code: self.code.clone(),
                        at: at(),
                        count: values.len(),
                    })
                }
            }
            other => Err(self.bad(format!(
                "{} is {}; expected a [lon, lat] array",
                at(),
                other.kind()
            ))),
        }
    }
}

/// Degrees to integer microdegrees, rounded to nearest.
#[allow(
    clippy::cast_possible_truncation,
    reason = "callers pass degrees within -180..=180, so the result fits in i64"
)]
fn to_microdegrees(degrees: f64) -> i64 {
    (degrees * 1e6).round() as i64
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
