//! The receiving side: an axum extractor for push request bodies.
//!
//! [`SignedBody`] requires `Content-Type: application/json`, reads at most [`MAX_BATCH_BYTES`] + 1 bytes and
//! answers `413` with a problem document (`code` `batch_too_large`) when the body is larger, before anything is
//! parsed. The handler then authenticates the bytes with [`crate::verify_push`]. The extractor reads the raw
//! body itself, so axum's `DefaultBodyLimit` does not apply to it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use lapor_schemas::problem::Problem;

use crate::envelope::MAX_BATCH_BYTES;

/// The raw bytes of a push request body, at most [`MAX_BATCH_BYTES`], sent as `application/json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBody(pub Bytes);

/// An `application/problem+json` response with `type` `about:blank`.
pub fn problem_response(status: StatusCode, code: &str, title: &str) -> Response {
    let problem = Problem {
        type_uri: "about:blank".to_owned(),
        title: title.to_owned(),
        status: status.as_u16(),
        detail: None,
        code: code.to_owned(),
        errors: vec![],
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body,
    )
        .into_response()
}

fn too_large() -> Response {
    problem_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
        "Push request body larger than 2 MiB",
    )
}

/// Whether the `Content-Type` is `application/json`, parameters (such as `charset=utf-8`) allowed.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

impl<S> FromRequest<S> for SignedBody
where
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(problem_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Push request body must be application/json",
            ));
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BATCH_BYTES as u64) {
            return Err(too_large());
        }
        let mut body = req.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| {
                problem_response(
                    StatusCode::BAD_REQUEST,
                    "body_read_failed",
                    "Could not read the request body",
                )
            })?;
            if let Ok(data) = frame.into_data() {
                // Stop as soon as one byte more than the cap has arrived.
                let room = MAX_BATCH_BYTES + 1 - buf.len();
                buf.extend_from_slice(&data[..data.len().min(room)]);
                if buf.len() > MAX_BATCH_BYTES {
                    return Err(too_large());
                }
            }
        }
        Ok(SignedBody(Bytes::from(buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new().route(
            "/federation/v1/push",
            post(|SignedBody(body): SignedBody| async move { body.len().to_string() }),
        )
    }

    async fn send(content_type: Option<&str>, body: Body) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::builder().method("POST").uri("/federation/v1/push");
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let resp = app().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, bytes)
    }

    fn problem_of(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[tokio::test]
    async fn accepts_json_up_to_the_cap() {
        let (status, _, body) = send(Some("application/json"), Body::from("{}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"2");
        let (status, _, body) = send(
            Some("application/json; charset=utf-8"),
            Body::from(vec![b'x'; MAX_BATCH_BYTES]),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, MAX_BATCH_BYTES.to_string().as_bytes());
    }

    #[tokio::test]
    async fn refuses_bodies_over_the_cap() {
        // `Request::builder` sets no Content-Length, so this body is cut off while it is read.
        let (status, headers, body) = send(
            Some("application/json"),
            Body::from(vec![b'x'; MAX_BATCH_BYTES + 1]),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let p = problem_of(&body);
        assert_eq!(p["type"], "about:blank");
        assert_eq!(p["status"], 413);
        assert_eq!(p["code"], "batch_too_large");
        assert!(p["title"].is_string());
    }

    #[tokio::test]
    async fn refuses_a_large_declared_length_without_reading() {
        let req = Request::builder()
            .method("POST")
            .uri("/federation/v1/push")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, (MAX_BATCH_BYTES + 10).to_string())
            .body(Body::empty())
            .unwrap();
        let resp = app().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn requires_json_content_type() {
        for ct in [
            None,
            Some("text/plain"),
            Some("application/jsonx"),
            Some("multipart/form-data"),
        ] {
            let (status, headers, body) = send(ct, Body::from("{}")).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
            assert_eq!(problem_of(&body)["code"], "unsupported_media_type");
        }
        let (status, _, _) = send(Some("Application/JSON"), Body::from("{}")).await;
        assert_eq!(status, StatusCode::OK);
    }
}
