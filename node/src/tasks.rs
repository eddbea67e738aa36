//! Named background tasks. Every long-lived task goes through [`spawn_named`] so that it shows up in logs
//! when it starts and when it ends unexpectedly.

use std::future::Future;

/// Spawns a background task that logs its name when it ends.
pub fn spawn_named<F>(name: &'static str, fut: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    #[allow(clippy::disallowed_methods)]
    tokio::spawn(async move {
        tracing::debug!(task = name, "task started");
        fut.await;
        tracing::debug!(task = name, "task ended");
    })
}
