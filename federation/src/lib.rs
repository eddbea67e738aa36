#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod canonical;
pub mod envelope;
pub mod log;

pub use canonical::{decode_canonical, CanonicalError, Value};
pub use envelope::{
    verify_push, verify_received, Batch, BlobHash, EnvelopeError, Event, EventId, KeyLookup,
    KeyRing, PushRequest, SignedEvent, VerifiedPush,
};
pub use log::{classify, Classification, Equivocation, Link, LogHead, OriginState};
