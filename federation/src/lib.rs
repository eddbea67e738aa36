#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod canonical;
pub mod envelope;
pub mod keys;
pub mod kind;
pub mod log;
pub mod request;
pub mod seal;
pub mod transport;
pub mod wire;

pub use canonical::{decode_canonical, CanonicalError, Value};
pub use envelope::{
    verify_push, verify_received, verify_received_batch, Batch, BlobHash, EnvelopeError, Event,
    EventId, KeyLookup, KeyRing, PushRequest, SignedEvent, VerifiedPush,
};
pub use keys::{key_id_for, revocation_payload, rotation_payload, KeyEntry, KeyError, KeyLog};
pub use kind::{ContributionKind, EventClass, EventKind, TransferKind};
pub use log::{classify, Classification, Equivocation, Link, LogHead, OriginState};
pub use seal::{open, seal, EncryptionSecret, SealError};
pub use wire::{CatchUpRequest, LogPage, PushResponse, Rejected};
