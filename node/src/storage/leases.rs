//! The lease contract ([`LeaseStore`]): which process of a node runs a worker that must run once per node.
//!
//! Several `lapor` processes of the hub share one PostgreSQL database; each worker that must not run twice
//! (push to a peer, the applier, deadlines, notifications ...) runs only in the process holding its lease. A
//! lease is a row `(name, holder, expires_at)`: the holder renews it before it expires, anyone takes it once
//! it has expired, all by one statement against the database's clock, so processes on hosts whose clocks
//! differ still agree. A process killed with SIGKILL stops renewing; its leases expire and another process
//! takes them over. The node's side (when to renew, when a held lease stops counting) is `crate::leases`.

use async_trait::async_trait;

use super::Result;

/// Leases of workers, by name.
#[async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Takes or renews the lease `name` for `holder` for `ttl_ms` from now (the database's clock). Whether
    /// `holder` holds it now: `false` when another holder's lease has not expired.
    async fn lease_acquire(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool>;
    /// Gives the lease up if `holder` holds it (at shutdown, so another process need not wait for it to
    /// expire).
    async fn lease_release(&self, name: &str, holder: &str) -> Result<()>;
    /// Every lease as `(name, holder, expires_at)`, by name.
    async fn lease_list(&self) -> Result<Vec<(String, String, i64)>>;
}
