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
mod tests {
    use super::*;

    const SAMPLE: &[u8] = include_bytes!("../../../deploy/boundaries/sample-ntt-kaltim.geojson");

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
                format!(
                    "feature 2 (53.71): properties.name is {found}; expected a non-empty string"
                )
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
}
