//! Readiness and the federation snapshot operators read at `/metrics`.

use super::{App, AppResult};
use crate::federation::status::{self, Snapshot};

impl App {
    /// Whether the node can serve: its database answers.
    pub async fn ready(&self) -> AppResult<()> {
        Ok(self.node.store.ping().await?)
    }

    /// The federation state for `/metrics` (the inbox is not counted: a scrape must stay cheap).
    pub async fn federation_snapshot(&self) -> AppResult<Snapshot> {
        Ok(status::snapshot(&self.node, 0, false).await?)
    }
}
