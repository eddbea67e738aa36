//! Requests to peers other than pushes: signed GETs (log pulls, report histories, blobs, the directory) and
//! signed POSTs (catch-up). The request signature format is in [`super::auth`].

use super::auth::sign_request;
use crate::node::Node;

/// A request to a peer that did not end in a 200 answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The peer could not be reached, or the connection failed.
    #[error("{0}")]
    Send(String),
    /// The peer answered with another status.
    #[error("{status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
}

impl PeerError {
    /// Whether the peer said it does not have what was asked for.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status { status: 404, .. })
    }
}

/// The full cause chain of a client error: reqwest's own message ("error sending request") says nothing
/// about what went wrong, its sources do (refused, DNS, TLS, timeout).
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

async fn answer(resp: Result<reqwest::Response, reqwest::Error>) -> Result<Vec<u8>, PeerError> {
    let resp = resp.map_err(|e| PeerError::Send(describe(&e)))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| PeerError::Send(describe(&e)))?
        .to_vec();
    if status.is_success() {
        Ok(body)
    } else {
        Err(PeerError::Status {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        })
    }
}

/// A signed GET to a peer; the body of a 200 answer.
pub async fn signed_get(node: &Node, base: &str, path: &str) -> Result<Vec<u8>, PeerError> {
    let mut req = node.fed.client.get(url(base, path));
    for (k, v) in sign_request(&node.fed, "GET", path, b"", node.now()) {
        req = req.header(k, v);
    }
    answer(req.send().await).await
}

/// A signed POST of a JSON body to a peer; the body of a 200 answer.
pub async fn signed_post(
    node: &Node,
    base: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, PeerError> {
    let mut req = node
        .fed
        .client
        .post(url(base, path))
        .header("content-type", "application/json");
    for (k, v) in sign_request(&node.fed, "POST", path, &body, node.now()) {
        req = req.header(k, v);
    }
    answer(req.body(body).send().await).await
}

/// Posts a signed push body to a peer's push route; the body of a 200 answer.
pub async fn push(node: &Node, base: &str, body: Vec<u8>) -> Result<Vec<u8>, PeerError> {
    let req = node
        .fed
        .client
        .post(url(base, "/federation/v1/push"))
        .header("content-type", "application/json")
        .body(body);
    answer(req.send().await).await
}
