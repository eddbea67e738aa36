//! The notification outbox in numbers, for `/metrics` and `lapor notifications status`. Read from storage
//! on each call, so the figures are right after a restart.

use std::fmt::Write as _;

use crate::storage::notices::{CHANNEL_EMAIL, CHANNEL_SMS};
use crate::storage::{DynStore, StorageError};

/// Every state a notice can be in.
pub const STATES: [&str; 6] = ["queued", "sending", "retrying", "sent", "failed", "skipped"];

/// `(state, channel, count)` for every state and channel, zeros included.
pub async fn counts(
    store: &DynStore,
) -> Result<Vec<(&'static str, &'static str, i64)>, StorageError> {
    let held = store.notice_counts().await?;
    let mut out = Vec::new();
    for state in STATES {
        for channel in [CHANNEL_EMAIL, CHANNEL_SMS] {
            let n = held
                .iter()
                .find(|(s, c, _)| s == state && c == channel)
                .map_or(0, |(_, _, n)| *n);
            out.push((state, channel, n));
        }
    }
    Ok(out)
}

/// The Prometheus lines of the outbox.
pub async fn metrics(store: &DynStore) -> Result<String, StorageError> {
    let mut out = String::from(
        "# HELP lapor_notices Notices in the notification outbox by state (queued, sending, retrying, sent, failed, skipped) and channel.\n\
         # TYPE lapor_notices gauge\n",
    );
    for (state, channel, n) in counts(store).await? {
        let _ = writeln!(
            out,
            "lapor_notices{{state=\"{state}\",channel=\"{channel}\"}} {n}"
        );
    }
    Ok(out)
}

/// One line per channel for people.
pub async fn summary(store: &DynStore) -> Result<String, StorageError> {
    let counts = counts(store).await?;
    let mut out = String::new();
    for channel in [CHANNEL_EMAIL, CHANNEL_SMS] {
        let _ = write!(out, "{channel:<6}");
        for (state, c, n) in &counts {
            if *c == channel {
                let _ = write!(out, " {state} {n}");
            }
        }
        out.push('\n');
    }
    Ok(out)
}
