//! The LAPOR! domain, free of I/O: reports and their lifecycle, working-day deadlines, tracking codes, who may
//! do what. Storage persists what these functions decide; HTTP only translates.

pub mod access;
pub mod calendar;
pub mod escalation;
pub mod intake;
pub mod lifecycle;
pub mod model;
pub mod region;
pub mod tracking;
pub mod zones;

pub use access::Access;
pub use calendar::{NodeZone, WorkCalendar};
pub use intake::{Submission, Submitter};
pub use lifecycle::{Command, DomainError, Transition};
pub use model::*;

/// Milliseconds since the Unix epoch, UTC. Every stored time uses this.
pub type Millis = i64;

/// Where "now" comes from: the wall clock in production, a hand-moved clock in tests.
pub trait Clock: Send + Sync + 'static {
    /// Current time.
    fn now_ms(&self) -> Millis;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to; for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock standing at `ms`.
    pub fn new(ms: Millis) -> Self {
        Self(std::sync::atomic::AtomicI64::new(ms))
    }

    /// Moves the clock to `ms`.
    pub fn set(&self, ms: Millis) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the clock forward.
    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
