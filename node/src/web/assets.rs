//! Static assets compiled into the binary: the stylesheet, the map script and Leaflet (vendored from the
//! released npm package, BSD-2-Clause, see `node/assets/vendor/leaflet/LICENSE`). Nothing is fetched from a
//! CDN. URLs carry a hash of all assets (`/assets/<hash>/leaflet.js`), so they can be cached for a year and
//! change whenever any asset changes.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// (path below `/assets/<hash>/`, media type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "site.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/site.css"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/map.js"),
    ),
    (
        "draft.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/draft.js"),
    ),
    (
        "leaflet.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/leaflet.js"),
    ),
    (
        "leaflet.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/leaflet.css"),
    ),
    (
        "images/marker-icon.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/marker-icon.png"),
    ),
    (
        "images/marker-icon-2x.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/marker-icon-2x.png"),
    ),
    (
        "images/marker-shadow.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/marker-shadow.png"),
    ),
    (
        "images/layers.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/layers.png"),
    ),
    (
        "images/layers-2x.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/layers-2x.png"),
    ),
];

/// The first 12 hex characters of the sha256 over every asset.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    for (name, _, bytes) in FILES {
        h.update(name.as_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())[..12].to_owned()
});

/// The versioned URL of an asset.
pub fn url(name: &str) -> String {
    format!("/assets/{}/{name}", *VERSION)
}

/// `GET /assets/{version}/{*path}`: the asset, cached for a year; 404 for an unknown path or old version.
pub async fn serve(Path((version, path)): Path<(String, String)>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == path) {
        Some((_, media_type, bytes)) if version == *VERSION => (
            [
                (header::CONTENT_TYPE, *media_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_version() {
        let u = url("leaflet.js");
        assert!(u.starts_with("/assets/") && u.ends_with("/leaflet.js"));
        assert_eq!(VERSION.len(), 12);
    }
}
