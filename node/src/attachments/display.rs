//! Display versions of photos for slow links and cheap phones.
//!
//! A phone camera's photo is 3-5 MB at 4000 px; a citizen on a 2G link in a village should not have to fetch
//! that to see a pothole. Every JPEG or PNG whose long side is over [`DISPLAY_LONG_SIDE`] gets a display
//! version scaled down to it (JPEG at quality [`JPEG_QUALITY`], PNG stays PNG), decoded and encoded with the
//! pure-Rust `image` crate. The stored original (already stripped of metadata) is kept untouched for staff and
//! is what federates; the display version is derived data under `<data_dir>/display/`, made when a file is
//! stored and again on demand when it is missing (a file that arrived from another node, a restored backup),
//! so it is not part of backups.
//!
//! Decoding is bounded: the dimensions are read from the header first, and an image over [`MAX_PIXELS`] or
//! one that fails to decode simply has no display version (the original is served), never an error for the
//! citizen.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{ImageFormat, ImageReader, Limits};

use super::Kind;

/// Longest side of a display version, in pixels.
pub const DISPLAY_LONG_SIDE: u32 = 1280;
/// JPEG quality of a display version.
pub const JPEG_QUALITY: u8 = 80;
/// Largest image (width x height) decoded to make a display version: 50 megapixels.
pub const MAX_PIXELS: u64 = 50_000_000;

/// Where the display version of stored file `sha256` lives.
pub fn display_path(data_dir: &Path, sha256: &str) -> PathBuf {
    let prefix = sha256.get(..2).unwrap_or("00");
    data_dir.join("display").join(prefix).join(sha256)
}

/// The display version of an image, or `None` when it needs none (small enough, not an image) or cannot
/// have one (too many pixels, does not decode).
pub fn make(kind: Kind, bytes: &[u8]) -> Option<Vec<u8>> {
    let format = match kind {
        Kind::Jpeg => ImageFormat::Jpeg,
        Kind::Png => ImageFormat::Png,
        Kind::Pdf => return None,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .ok()?;
    if w.max(h) <= DISPLAY_LONG_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return None;
    }
    let img = reader.decode().ok()?;
    let small = img.resize(DISPLAY_LONG_SIDE, DISPLAY_LONG_SIDE, FilterType::Triangle);
    let mut out = Vec::new();
    match kind {
        Kind::Jpeg => {
            let rgb = small.to_rgb8();
            JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
                .encode_image(&rgb)
                .ok()?;
        }
        _ => small.write_with_encoder(PngEncoder::new(&mut out)).ok()?,
    }
    Some(out)
}

/// Makes and stores the display version of stored file `sha256` when it needs one and has none yet; answers
/// its path when there is one.
pub fn ensure_blocking(
    data_dir: &Path,
    sha256: &str,
    kind: Kind,
    original: &[u8],
) -> std::io::Result<Option<PathBuf>> {
    use std::io::Write;
    let path = display_path(data_dir, sha256);
    if path.exists() {
        return Ok(Some(path));
    }
    let Some(bytes) = make(kind, original) else {
        return Ok(None);
    };
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("display path without a parent"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{sha256}.{}.tmp", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, RgbImage, RgbaImage};

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out
    }

    fn dims(bytes: &[u8]) -> (u32, u32) {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .unwrap()
            .into_dimensions()
            .unwrap()
    }

    #[test]
    fn a_large_photo_is_scaled_to_the_long_side_keeping_its_shape() {
        let big = jpeg(2000, 1500);
        let small = make(Kind::Jpeg, &big).expect("a display version");
        assert_eq!(dims(&small), (1280, 960));
        assert!(small.len() < big.len());
        assert_eq!(&small[..3], &[0xFF, 0xD8, 0xFF]);
        // Portrait too.
        let tall = make(Kind::Jpeg, &jpeg(900, 1800)).expect("a display version");
        assert_eq!(dims(&tall), (640, 1280));
    }

    #[test]
    fn a_small_photo_and_a_pdf_need_none() {
        assert!(make(Kind::Jpeg, &jpeg(1280, 720)).is_none());
        assert!(make(Kind::Pdf, b"%PDF-1.4").is_none());
    }

    #[test]
    fn a_png_stays_png_with_its_transparency() {
        let img = RgbaImage::from_pixel(1600, 400, image::Rgba([10, 20, 30, 128]));
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(img.as_raw(), 1600, 400, image::ExtendedColorType::Rgba8)
            .unwrap();
        let small = make(Kind::Png, &png).expect("a display version");
        assert!(small.starts_with(b"\x89PNG"));
        assert_eq!(dims(&small), (1280, 320));
        let decoded = image::load_from_memory(&small).unwrap();
        assert!(decoded.color().has_alpha());
    }

    #[test]
    fn a_broken_image_has_no_display_version() {
        let mut broken = jpeg(2000, 1500);
        broken.truncate(600);
        assert!(make(Kind::Jpeg, &broken).is_none());
        assert!(make(Kind::Png, b"\x89PNG\r\n\x1a\nnot really").is_none());
    }

    #[test]
    fn ensure_stores_once_under_the_display_directory() {
        let dir = tempfile::tempdir().unwrap();
        let big = jpeg(1500, 1500);
        let sha = "ab".repeat(32);
        let p = ensure_blocking(dir.path(), &sha, Kind::Jpeg, &big)
            .unwrap()
            .expect("stored");
        assert_eq!(p, display_path(dir.path(), &sha));
        assert_eq!(dims(&std::fs::read(&p).unwrap()), (1280, 1280));
        // A second call finds it.
        assert_eq!(
            ensure_blocking(dir.path(), &sha, Kind::Jpeg, b"ignored").unwrap(),
            Some(p)
        );
        assert!(
            ensure_blocking(dir.path(), &"cd".repeat(32), Kind::Jpeg, &jpeg(100, 100))
                .unwrap()
                .is_none()
        );
    }
}
