//! Attachments: type checks by magic bytes, metadata stripping, content-addressed storage on disk.
//!
//! The client's content type and file name are never trusted: the type is decided from the first bytes
//! (JPEG, PNG, PDF; nothing else is accepted), the size is capped, and images are rewritten without their
//! metadata before anything is stored. Stripping happens for **every** report, not only anonymous ones: a
//! photo's EXIF block carries the GPS position of the camera and the device's make, model and serial number,
//! and a citizen who did not tick "anonymous" still never meant to publish where they live. PDFs are rewritten
//! too: the document information dictionary (author, creator, producer, title, dates), every XMP metadata
//! stream, the application data of `/PieceInfo` and the file identifier are removed, older revisions of an
//! incrementally updated file are dropped, and a PDF that cannot be parsed or is encrypted (so could not be
//! stripped) is refused.
//!
//! Files live under `<data_dir>/attachments/<first two hex chars>/<sha256>` where the hash is taken over the
//! stored (stripped) bytes, so the same photo uploaded twice is stored once. A file is written to a temporary
//! name, synced and renamed, so a crash never leaves half a file under its final name.
//!
//! Photos larger than 1280 px also get a display version for slow links ([`display`]); the original stays as
//! stored.

pub mod display;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Largest accepted file, in bytes.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Most files in one upload.
pub const MAX_FILES: usize = 4;

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// Bigger than [`MAX_FILE_BYTES`].
    #[error("file too large")]
    TooLarge,
    /// Not a JPEG, PNG or PDF.
    #[error("unsupported file type")]
    UnsupportedType,
    /// Claims to be an image but its structure is broken.
    #[error("damaged image: {0}")]
    Damaged(&'static str),
    /// Empty file.
    #[error("empty file")]
    Empty,
}

/// The kinds of file the node accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JPEG photo.
    Jpeg,
    /// PNG image.
    Png,
    /// PDF document.
    Pdf,
}

impl Kind {
    /// The media type served back.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }

    /// Whether browsers may show it inline as an image.
    pub fn is_image(self) -> bool {
        matches!(self, Self::Jpeg | Self::Png)
    }
}

/// Decides the kind from the magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<Kind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Kind::Jpeg)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        Some(Kind::Png)
    } else if bytes.starts_with(b"%PDF-") {
        Some(Kind::Pdf)
    } else {
        None
    }
}

/// A checked file ready to store: its kind, the bytes to store (metadata removed) and their sha256.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Kind.
    pub kind: Kind,
    /// Bytes to store.
    pub bytes: Vec<u8>,
    /// Hex sha256 of `bytes`.
    pub sha256: String,
}

/// Checks size and type and strips image metadata.
pub fn check(bytes: &[u8]) -> Result<Checked, AttachmentError> {
    if bytes.is_empty() {
        return Err(AttachmentError::Empty);
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(AttachmentError::TooLarge);
    }
    let kind = sniff(bytes).ok_or(AttachmentError::UnsupportedType)?;
    let stored = match kind {
        Kind::Jpeg => strip_jpeg(bytes)?,
        Kind::Png => strip_png(bytes)?,
        Kind::Pdf => strip_pdf(bytes)?,
    };
    let sha256 = hex::encode(Sha256::digest(&stored));
    Ok(Checked {
        kind,
        bytes: stored,
        sha256,
    })
}

/// Whether a JPEG marker segment carries metadata that must go: APP1 (Exif, XMP), APP3..APP13 (camera
/// makers' blocks, APP13 Photoshop/IPTC), APP15 and comments. APP0 (JFIF), APP2 (ICC colour profile) and
/// APP14 (Adobe colour transform) are kept because decoders need them to show the right colours.
fn jpeg_marker_dropped(marker: u8) -> bool {
    matches!(marker, 0xE1 | 0xE3..=0xED | 0xEF | 0xFE)
}

/// Rewrites a JPEG without its metadata segments. Everything from the start of scan on is copied unchanged.
pub fn strip_jpeg(bytes: &[u8]) -> Result<Vec<u8>, AttachmentError> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(AttachmentError::Damaged("no JPEG start marker"));
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut i = 2;
    loop {
        // Fill bytes (0xFF padding) may precede a marker.
        while i + 1 < bytes.len() && bytes[i] == 0xFF && bytes[i + 1] == 0xFF {
            i += 1;
        }
        if i + 1 >= bytes.len() {
            return Err(AttachmentError::Damaged("JPEG ends before the image data"));
        }
        if bytes[i] != 0xFF {
            return Err(AttachmentError::Damaged("JPEG marker expected"));
        }
        let marker = bytes[i + 1];
        match marker {
            // Start of scan: the compressed data follows; copy the rest as it is.
            0xDA => {
                out.extend_from_slice(&bytes[i..]);
                return Ok(out);
            }
            // End of image before any scan.
            0xD9 => return Err(AttachmentError::Damaged("JPEG without image data")),
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&bytes[i..i + 2]);
                i += 2;
            }
            _ => {
                if i + 4 > bytes.len() {
                    return Err(AttachmentError::Damaged("JPEG segment cut short"));
                }
                let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
                if len < 2 || i + 2 + len > bytes.len() {
                    return Err(AttachmentError::Damaged(
                        "JPEG segment length out of bounds",
                    ));
                }
                let end = i + 2 + len;
                if !jpeg_marker_dropped(marker) {
                    out.extend_from_slice(&bytes[i..end]);
                }
                i = end;
            }
        }
    }
}

const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// PNG chunks that carry metadata: Exif, text (author, software, comments), and the modification time.
const PNG_DROPPED: [&[u8; 4]; 5] = [b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"];

/// Rewrites a PNG without its metadata chunks; stops after `IEND` (trailing bytes are dropped too).
pub fn strip_png(bytes: &[u8]) -> Result<Vec<u8>, AttachmentError> {
    if !bytes.starts_with(PNG_SIGNATURE) {
        return Err(AttachmentError::Damaged("no PNG signature"));
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(PNG_SIGNATURE);
    let mut i = PNG_SIGNATURE.len();
    loop {
        if i + 8 > bytes.len() {
            return Err(AttachmentError::Damaged("PNG ends without IEND"));
        }
        let len = u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize;
        let kind = &bytes[i + 4..i + 8];
        let end = i
            .checked_add(12)
            .and_then(|n| n.checked_add(len))
            .filter(|&e| e <= bytes.len())
            .ok_or(AttachmentError::Damaged("PNG chunk length out of bounds"))?;
        if !PNG_DROPPED.iter().any(|d| d.as_slice() == kind) {
            out.extend_from_slice(&bytes[i..end]);
        }
        i = end;
        if kind == b"IEND" {
            return Ok(out);
        }
    }
}

/// Rewrites a PDF without its metadata: the trailer's `/Info` and `/ID`, every `/Metadata` (XMP) and
/// `/PieceInfo` entry, and the objects only they used. Only the live objects are written, so earlier revisions
/// of an incrementally saved file (with their own metadata) are gone too.
pub fn strip_pdf(bytes: &[u8]) -> Result<Vec<u8>, AttachmentError> {
    use lopdf::Object;
    let mut doc = lopdf::Document::load_mem(bytes)
        .map_err(|_| AttachmentError::Damaged("PDF cannot be read"))?;
    if doc.is_encrypted() {
        return Err(AttachmentError::Damaged("encrypted PDF"));
    }
    doc.trailer.remove(b"Info");
    doc.trailer.remove(b"ID");
    let mut metadata_streams = Vec::new();
    for (id, obj) in &mut doc.objects {
        let dict = match obj {
            Object::Dictionary(d) => d,
            Object::Stream(s) => {
                if s.dict.has_type(b"Metadata") {
                    metadata_streams.push(*id);
                }
                &mut s.dict
            }
            _ => continue,
        };
        dict.remove(b"Metadata");
        dict.remove(b"PieceInfo");
    }
    for id in metadata_streams {
        doc.objects.remove(&id);
    }
    doc.prune_objects();
    let mut out = Vec::with_capacity(bytes.len());
    doc.save_to(&mut out)
        .map_err(|_| AttachmentError::Damaged("PDF cannot be written"))?;
    Ok(out)
}

/// Where a file with this hash lives under `data_dir`.
pub fn path_of(data_dir: &Path, sha256: &str) -> PathBuf {
    let prefix = sha256.get(..2).unwrap_or("00");
    data_dir.join("attachments").join(prefix).join(sha256)
}

/// Whether `s` is a lowercase hex sha256 (safe to use as a file name).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Stores the bytes under their hash (nothing to do when they are there already). Blocking: call it from
/// `spawn_blocking`.
pub fn store_blocking(data_dir: &Path, file: &Checked) -> std::io::Result<()> {
    use std::io::Write;
    let path = path_of(data_dir, &file.sha256);
    if path.exists() {
        return Ok(());
    }
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("attachment path without a parent"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", file.sha256, std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&file.bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// A file name fit for display and `Content-Disposition`: the last path component, printable ASCII letters,
/// digits, `.`, `-`, `_` and spaces only, at most 100 characters; `lampiran` when nothing is left.
pub fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
        .take(100)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "lampiran".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    /// A JPEG-shaped byte string with JFIF, Exif (with a fake GPS tag), XMP, ICC, a comment, a quantisation
    /// table and a scan whose data contains bytes that look like markers.
    fn sample_jpeg() -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend(segment(0xE0, b"JFIF\0\x01\x01"));
        j.extend(segment(0xE1, b"Exif\0\0GPSLatitude-10.17 Canon EOS"));
        j.extend(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"));
        j.extend(segment(0xE2, b"ICC_PROFILE\0"));
        j.extend(segment(0xED, b"Photoshop 3.0\0IPTC"));
        j.extend(segment(0xFE, b"taken at home"));
        j.extend(segment(0xDB, &[0u8; 65]));
        j.extend(segment(0xDA, &[1, 2, 3]));
        j.extend_from_slice(&[0x12, 0xFF, 0x00, 0xFF, 0xE1, 0x34, 0xFF, 0xD9]);
        j
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn jpeg_metadata_is_dropped_and_image_kept() {
        let j = sample_jpeg();
        let s = strip_jpeg(&j).unwrap();
        assert!(!contains(&s, b"Exif"));
        assert!(!contains(&s, b"GPSLatitude"));
        assert!(!contains(&s, b"xmpmeta"));
        assert!(!contains(&s, b"Photoshop"));
        assert!(!contains(&s, b"taken at home"));
        assert!(contains(&s, b"JFIF"));
        assert!(contains(&s, b"ICC_PROFILE"));
        // The scan, including marker-like bytes inside it, is unchanged.
        assert!(s.ends_with(&[0x12, 0xFF, 0x00, 0xFF, 0xE1, 0x34, 0xFF, 0xD9]));
        // Stripping is idempotent.
        assert_eq!(strip_jpeg(&s).unwrap(), s);
    }

    #[test]
    fn broken_jpegs_are_refused() {
        let j = sample_jpeg();
        assert!(strip_jpeg(&j[..10]).is_err());
        let mut bad_len = vec![0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 0x00];
        assert!(strip_jpeg(&bad_len).is_err());
        bad_len.truncate(2);
        assert!(strip_jpeg(&bad_len).is_err());
        assert!(strip_jpeg(&[0xFF, 0xD8, 0xFF, 0xD9]).is_err());
        assert!(strip_jpeg(&[0xFF, 0xD8, 0x00, 0x00]).is_err());
    }

    fn chunk(kind: [u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(&kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0, 0, 0, 0]);
        c
    }

    #[test]
    fn png_metadata_is_dropped() {
        let mut p = PNG_SIGNATURE.to_vec();
        p.extend(chunk(*b"IHDR", &[0; 13]));
        p.extend(chunk(*b"tEXt", b"Author\0Maria"));
        p.extend(chunk(*b"eXIf", b"MM\0*GPS"));
        p.extend(chunk(*b"tIME", &[7, 234, 11, 22, 1, 2, 3]));
        p.extend(chunk(*b"iTXt", b"XML:com.adobe.xmp"));
        p.extend(chunk(*b"zTXt", b"Comment"));
        p.extend(chunk(*b"IDAT", b"pixels"));
        p.extend(chunk(*b"IEND", b""));
        p.extend_from_slice(b"trailing junk");
        let s = strip_png(&p).unwrap();
        for gone in [
            &b"tEXt"[..],
            b"eXIf",
            b"tIME",
            b"iTXt",
            b"zTXt",
            b"Maria",
            b"junk",
        ] {
            assert!(!contains(&s, gone), "{}", String::from_utf8_lossy(gone));
        }
        assert!(contains(&s, b"IHDR") && contains(&s, b"IDAT") && contains(&s, b"IEND"));
        assert!(strip_png(&p[..30]).is_err());
    }

    /// A PDF with a document information dictionary, an XMP stream in the catalog and one on the page.
    fn sample_pdf() -> Vec<u8> {
        use lopdf::{dictionary, Document, Object, Stream};
        let mut doc = Document::with_version("1.7");
        let xmp = doc.add_object(Stream::new(
            dictionary! {"Type" => "Metadata", "Subtype" => "XML"},
            b"<x:xmpmeta><dc:creator>Maria Lende</dc:creator></x:xmpmeta>".to_vec(),
        ));
        let page_xmp = doc.add_object(Stream::new(
            dictionary! {"Type" => "Metadata", "Subtype" => "XML"},
            b"<x:xmpmeta>GPS -10.17 123.60</x:xmpmeta>".to_vec(),
        ));
        let content = doc.add_object(Stream::new(dictionary! {}, b"BT ET".to_vec()));
        let pages_id = doc.new_object_id();
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content, "Metadata" => page_xmp,
            "PieceInfo" => dictionary! {"Word" => dictionary! {"Private" => Object::string_literal("laptop-budi")}},
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! {"Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1},
            ),
        );
        let catalog = doc
            .add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id, "Metadata" => xmp});
        let info = doc.add_object(dictionary! {
            "Author" => Object::string_literal("Maria Lende"),
            "Producer" => Object::string_literal("Microsoft Word for Budi's laptop"),
            "CreationDate" => Object::string_literal("D:20261201093000+08'00'"),
        });
        doc.trailer.set("Root", catalog);
        doc.trailer.set("Info", info);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn pdf_metadata_is_dropped_and_the_document_kept() {
        let p = sample_pdf();
        assert!(
            contains(&p, b"Maria Lende") && contains(&p, b"GPS") && contains(&p, b"laptop-budi")
        );
        let s = strip_pdf(&p).unwrap();
        for gone in [
            &b"Maria Lende"[..],
            b"Microsoft Word",
            b"GPS",
            b"xmpmeta",
            b"laptop-budi",
            b"/Info",
            b"D:2026",
        ] {
            assert!(!contains(&s, gone), "{}", String::from_utf8_lossy(gone));
        }
        let doc = lopdf::Document::load_mem(&s).unwrap();
        assert_eq!(doc.get_pages().len(), 1);
        assert!(contains(&s, b"BT ET"));
        // Through the checks: stored as a PDF, stripped.
        let c = check(&p).unwrap();
        assert_eq!(c.kind, Kind::Pdf);
        assert!(!contains(&c.bytes, b"Maria Lende"));
        // Not a PDF after all: refused as damaged, never stored as it is.
        assert!(matches!(
            check(b"%PDF-1.7 not really"),
            Err(AttachmentError::Damaged(_))
        ));
    }

    #[test]
    fn types_come_from_magic_bytes() {
        assert_eq!(check(&sample_jpeg()).unwrap().kind, Kind::Jpeg);
        assert_eq!(check(&sample_pdf()).unwrap().kind, Kind::Pdf);
        assert_eq!(
            check(b"<html>not a photo</html>").unwrap_err(),
            AttachmentError::UnsupportedType
        );
        assert_eq!(check(b"").unwrap_err(), AttachmentError::Empty);
        let mut big = b"%PDF-".to_vec();
        big.resize(MAX_FILE_BYTES + 1, b' ');
        assert_eq!(check(&big).unwrap_err(), AttachmentError::TooLarge);
        let c = check(&sample_jpeg()).unwrap();
        assert!(is_sha256_hex(&c.sha256));
        assert!(!contains(&c.bytes, b"Exif"));
    }

    #[test]
    fn files_are_content_addressed() {
        let dir = tempfile::tempdir().unwrap();
        let c = check(&sample_pdf()).unwrap();
        store_blocking(dir.path(), &c).unwrap();
        store_blocking(dir.path(), &c).unwrap();
        let p = path_of(dir.path(), &c.sha256);
        assert_eq!(std::fs::read(p).unwrap(), c.bytes);
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(
            clean_file_name("C:\\Users\\x\\foto jalan.jpg"),
            "foto jalan.jpg"
        );
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("<script>.png"), "script.png");
        assert_eq!(clean_file_name("..."), "lampiran");
        assert!(!is_sha256_hex("../x"));
    }
}
