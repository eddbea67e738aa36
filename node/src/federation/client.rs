//! Requests to peers, through the federation crate's transport client
//! ([`lapor_federation::transport::client::FederationClient`]): pushes, and the signed GETs and POSTs of pulls,
//! report histories, blobs, the directory and catch-up (`lapor-request-v1`, [`lapor_federation::request`]).
//! This module only supplies the node's signer and clock.

pub use lapor_federation::transport::client::TransportError as PeerError;
use lapor_federation::wire::{CatchUpRequest, LogPage, PushResponse};

use crate::node::Node;

/// A signed GET to a peer; the body of a 200 answer.
pub async fn signed_get(node: &Node, base: &str, path: &str) -> Result<Vec<u8>, PeerError> {
    node.fed
        .client
        .get_signed(base, path, &node.fed.request_signer(), node.now())
        .await
}

/// A signed pull of `origin`'s log after `after` from a peer (at most `limit` events).
pub async fn log_after(
    node: &Node,
    base: &str,
    origin: &str,
    after: u64,
    limit: u64,
) -> Result<LogPage, PeerError> {
    node.fed
        .client
        .log_after(
            base,
            origin,
            after,
            limit,
            &node.fed.request_signer(),
            node.now(),
        )
        .await
}

/// A signed catch-up request to a hub: every event after what `req` says this node holds.
pub async fn catch_up(node: &Node, base: &str, req: &CatchUpRequest) -> Result<LogPage, PeerError> {
    node.fed
        .client
        .catch_up(base, req, &node.fed.request_signer(), node.now())
        .await
}

/// Posts a signed push body to a peer's push route; its answer.
pub async fn push(node: &Node, base: &str, body: Vec<u8>) -> Result<PushResponse, PeerError> {
    node.fed
        .client
        .push(base, body, &node.fed.request_signer(), node.now())
        .await
}
