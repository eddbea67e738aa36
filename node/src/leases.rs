//! Which process runs the workers that must run once per node.
//!
//! The hub may run as several `lapor` processes on one PostgreSQL database behind a load balancer. Any of
//! them answers HTTP (intake, API, pushes from peers); authoring is safe from any of them because storage
//! allocates sequence numbers under a row lock of the origin. What must not run twice runs only in the
//! process that holds its lease ([`crate::storage::LeaseStore`]):
//!
//! | lease | worker |
//! | --- | --- |
//! | `push:<peer>` | the push worker of that peer (one cursor, one batch at a time) |
//! | `applier`, `contributions`, `transfers` | the federation workers |
//! | `deadlines` | the deadline worker (marks, escalations, auto-completion) |
//! | `recap` | the monthly recap job |
//! | `notify` | the notification worker (a notice sent once) |
//! | `agencies` | publishing this node's agencies at start |
//!
//! A worker asks [`Leases::hold`] before each step. The answer is renewed in the database at most every
//! third of `cluster.lease_ms`; a lease taken at local instant `t` counts here until `t + lease_ms / 2` at
//! the latest, while the database lets nobody else take it before `t + lease_ms` (its clock started later),
//! so two processes never both count one lease as theirs. A process killed with SIGKILL stops renewing and
//! another process takes its leases over once they expire; at SIGTERM a process gives them up at once.
//!
//! On SQLite one process runs a node (the data directory's lock), and every lease is held without asking.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::storage::DynStore;

/// What [`Leases::hold`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// This process held it already and still does.
    Held,
    /// This process has just taken it (the previous holder stopped, or nobody held it): a worker that
    /// keeps durable "in progress" marks picks up what the previous holder left.
    Taken,
    /// Another process holds it.
    Elsewhere,
}

impl Lease {
    /// Whether this process may run the worker now.
    pub fn is_held(self) -> bool {
        self != Lease::Elsewhere
    }
}

/// The leases of this process.
#[derive(Debug)]
pub struct Leases {
    holder: String,
    ttl: Duration,
    /// SQLite: one process, every lease held.
    single: bool,
    /// Lease name -> the instant just before the database last confirmed it.
    held: Mutex<HashMap<String, Instant>>,
}

impl Leases {
    /// The leases of a process of node `node_id` on `backend` (`sqlite` or `postgres`), held for `ttl`.
    pub fn new(node_id: &str, backend: &str, ttl: Duration) -> Self {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".to_owned());
        let holder = format!(
            "{node_id}@{host}:{}:{}",
            std::process::id(),
            ulid::Ulid::new()
        );
        Self {
            holder,
            ttl,
            single: backend != "postgres",
            held: Mutex::default(),
        }
    }

    /// This process's holder id in the lease table (`<node>@<host>:<pid>:<ulid>`).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn last(&self, name: &str) -> Option<Instant> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .copied()
    }

    fn set(&self, name: &str, at: Option<Instant>) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match at {
            Some(t) => {
                held.insert(name.to_owned(), t);
            }
            None => {
                held.remove(name);
            }
        }
    }

    /// Whether this process may run worker `name` now: takes or renews its lease in the database when it
    /// is due for renewal, answers from memory otherwise.
    pub async fn hold(&self, store: &DynStore, name: &str) -> Lease {
        if self.single {
            return Lease::Held;
        }
        let last = self.last(name);
        if last.is_some_and(|t| t.elapsed() < self.ttl / 3) {
            return Lease::Held;
        }
        let asked = Instant::now();
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        match store.lease_acquire(name, &self.holder, ttl_ms).await {
            Ok(true) => {
                self.set(name, Some(asked));
                if last.is_some() {
                    Lease::Held
                } else {
                    tracing::info!(lease.name = name, lease.holder = %self.holder, "took the lease");
                    Lease::Taken
                }
            }
            Ok(false) => {
                if last.is_some() {
                    tracing::warn!(lease.name = name, "lost the lease to another process");
                }
                self.set(name, None);
                Lease::Elsewhere
            }
            Err(e) => {
                // The database is out of reach: the lease counts only while nobody else can have it.
                if last.is_some_and(|t| t.elapsed() < self.ttl / 2) {
                    tracing::warn!(lease.name = name, error = %e, "renewing the lease failed; retrying");
                    Lease::Held
                } else {
                    tracing::warn!(lease.name = name, error = %e, "renewing the lease failed; the worker pauses");
                    self.set(name, None);
                    Lease::Elsewhere
                }
            }
        }
    }

    /// Whether a lease taken earlier still counts, without asking the database (between the steps of one
    /// pass of a worker).
    pub fn still_held(&self, name: &str) -> bool {
        self.single || self.last(name).is_some_and(|t| t.elapsed() < self.ttl / 2)
    }

    /// Gives up every lease this process holds (at shutdown).
    pub async fn release_all(&self, store: &DynStore) {
        if self.single {
            return;
        }
        let names: Vec<String> = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .map(|(n, _)| n)
            .collect();
        for name in names {
            if let Err(e) = store.lease_release(&name, &self.holder).await {
                tracing::warn!(lease.name = %name, error = %e, "releasing the lease failed; it expires");
            }
        }
    }
}

/// The lease of the push worker of `peer`.
pub fn push_lease(peer: &str) -> String {
    format!("push:{peer}")
}
