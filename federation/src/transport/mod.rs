//! HTTP adapters for the federation routes, each behind a cargo feature so the crate stays transport-agnostic
//! by default:
//!
//! * feature `reqwest`: `client::FederationClient`, the sending side (push, and signed pulls of an origin's log,
//!   catch-up and any other route, see [`crate::request`]).
//! * feature `axum`: `server::SignedBody`, an extractor for push request bodies with the size cap applied
//!   before anything is parsed.
//!
//! Routes, all under `/federation/v1/`:
//!
//! | Method and path | Body | Answer |
//! | --- | --- | --- |
//! | `POST /federation/v1/push` | signed push request ([`crate::PushRequest`]) | [`crate::wire::PushResponse`] |
//! | `GET /federation/v1/log/{origin}?after=N&limit=M` | | [`crate::wire::LogPage`] |
//! | `POST /federation/v1/catch-up` | [`crate::wire::CatchUpRequest`] | [`crate::wire::LogPage`] |
//!
//! Errors are RFC 9457 `application/problem+json` documents with a stable `code`.

/// Path of the push route.
pub const PUSH_PATH: &str = "/federation/v1/push";
/// Path prefix of the log route; the origin follows, percent-encoded.
pub const LOG_PATH_PREFIX: &str = "/federation/v1/log/";
/// Path of the catch-up route.
pub const CATCH_UP_PATH: &str = "/federation/v1/catch-up";

#[cfg(feature = "reqwest")]
pub mod client;
#[cfg(feature = "axum")]
pub mod server;

/// Percent-encodes one path segment: everything but `A-Z a-z 0-9 - . _ ~` becomes `%XX`.
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        assert_eq!(
            encode_path_segment("lapor.kupangkota.go.id"),
            "lapor.kupangkota.go.id"
        );
        assert_eq!(encode_path_segment("a/b?c#d%e:f"), "a%2Fb%3Fc%23d%25e%3Af");
        assert_eq!(encode_path_segment("é"), "%C3%A9");
    }
}
