//! Verifying what other nodes send: every event is checked against the key log (signature, key validity at
//! its sequence number, exact canonical bytes) before anything of it is stored. Pushes, pulls, catch-up and
//! report histories all come through here.

use std::sync::Arc;

use lapor_federation::keys::KeyLog;
use lapor_federation::{EnvelopeError, SignedEvent};

use crate::storage::{HistoryEvent, InboxEvent};

/// Why one event was refused: (its id if it could be computed, stable code, reason).
pub type Refusal = (Option<String>, &'static str, String);

/// Verifies one received event against the key log (and the key changes earlier in the same batch): its
/// signature, its key's validity at its sequence number, and that it is not this node's own. A key change it
/// carries takes effect for the events after it.
pub fn check_event(log: &mut KeyLog, local: &str, bytes: &[u8]) -> Result<SignedEvent, Refusal> {
    let signed = lapor_federation::verify_received(bytes, &*log)
        .map_err(|e| (None, e.code(), e.to_string()))?;
    check_verified(log, local, signed)
}

/// Fewest events worth spreading over several cores.
const PARALLEL_FROM: usize = 16;

/// The signature checks of many received events at once (a push, a pulled page): split over every core, each
/// share checked with batch verification ([`lapor_federation::verify_received_batch`], which finds each bad
/// signature when its share does not verify). Checked against `log` as it is before these events; pass the
/// results to [`check_events`], which takes the events' own key changes into account.
pub async fn verify_signatures(
    log: Arc<KeyLog>,
    events: Arc<Vec<Vec<u8>>>,
) -> Vec<Result<SignedEvent, EnvelopeError>> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let shares = if events.len() < PARALLEL_FROM {
        1
    } else {
        cores.min(events.len() / (PARALLEL_FROM / 2)).max(1)
    };
    let per = events.len().div_ceil(shares.max(1)).max(1);
    let mut tasks = Vec::with_capacity(shares);
    for start in (0..events.len()).step_by(per) {
        let (log, events) = (Arc::clone(&log), Arc::clone(&events));
        tasks.push(tokio::task::spawn_blocking(move || {
            let end = (start + per).min(events.len());
            let wires: Vec<&[u8]> = events[start..end].iter().map(Vec::as_slice).collect();
            lapor_federation::verify_received_batch(&wires, &*log)
        }));
    }
    let mut out = Vec::with_capacity(events.len());
    for (n, task) in tasks.into_iter().enumerate() {
        if let Ok(results) = task.await {
            out.extend(results);
        } else {
            // A share whose task died is checked here, one by one.
            let end = ((n + 1) * per).min(events.len());
            out.extend(
                events[n * per..end]
                    .iter()
                    .map(|e| lapor_federation::verify_received(e, &*log)),
            );
        }
    }
    out
}

/// The rest of [`check_event`] for events whose signatures [`verify_signatures`] checked: in order, each
/// event's key validity at its sequence number against the key log and the key changes earlier among them,
/// and that it is not this node's own. An event refused there is checked again here against the key log as
/// the earlier events left it (a key announced earlier in the same push).
pub fn check_events(
    log: &mut KeyLog,
    local: &str,
    events: &[Vec<u8>],
    verified: Vec<Result<SignedEvent, EnvelopeError>>,
) -> Vec<Result<SignedEvent, Refusal>> {
    events
        .iter()
        .zip(verified)
        .map(|(bytes, v)| match v {
            Ok(signed) => check_verified(log, local, signed),
            Err(_) => check_event(log, local, bytes),
        })
        .collect()
}

fn check_verified(
    log: &mut KeyLog,
    local: &str,
    signed: SignedEvent,
) -> Result<SignedEvent, Refusal> {
    let id = signed.id().to_string();
    let event = signed.event();
    if event.origin == local {
        return Err((
            Some(id),
            "own_origin",
            "this node's own events are not accepted from others".into(),
        ));
    }
    log.check(event)
        .map_err(|e| (Some(id.clone()), e.code(), e.to_string()))?;
    log.apply_key_event(event)
        .map_err(|e| (Some(id), e.code(), e.to_string()))?;
    Ok(signed)
}

/// Applies the key events among a push's events (each verified against the keys known before it) to `log`,
/// so that a push signed with a key announced inside it can be checked.
pub fn learn_keys(log: &mut KeyLog, local: &str, body: &[u8]) {
    let Ok(lapor_federation::Value::Object(map)) = lapor_federation::decode_canonical(body) else {
        return;
    };
    let Some(lapor_federation::Value::Array(events)) = map.get("events") else {
        return;
    };
    for e in events {
        if let Ok(bytes) = lapor_federation::canonical::encode(e) {
            let _ = check_event(log, local, &bytes);
        }
    }
}

/// The inbox row of a verified event.
pub fn inbox_event(signed: &SignedEvent, wire: &[u8]) -> InboxEvent {
    InboxEvent {
        event_id: signed.id().to_string(),
        origin: signed.event().origin.clone(),
        origin_seq: signed.event().origin_seq as i64,
        wire: wire.to_vec(),
    }
}

/// The events of a pulled page (a log pull or catch-up) that verify, as inbox rows; refused ones are logged
/// and left out, this node's own are skipped.
pub async fn verify_pulled(log: &KeyLog, local: &str, events: &[Vec<u8>]) -> Vec<InboxEvent> {
    let shared = Arc::new(events.to_vec());
    let verified = verify_signatures(Arc::new(log.clone()), Arc::clone(&shared)).await;
    let mut log = log.clone();
    let mut good = Vec::new();
    for (bytes, checked) in events
        .iter()
        .zip(check_events(&mut log, local, &shared, verified))
    {
        match checked {
            Ok(signed) => good.push(inbox_event(&signed, bytes)),
            Err((_, "own_origin", _)) => {}
            Err((id, code, reason)) => {
                tracing::warn!(event.id = ?id, code, %reason, "pulled event refused");
            }
        }
    }
    good
}

/// Most events of one report's history served or imported.
pub const MAX_HISTORY: usize = 5000;

/// Verifies the events of one report's history received from a peer (signatures and key validity) and turns
/// them into history rows.
pub fn verify_history(log: &KeyLog, wires: &[Vec<u8>]) -> anyhow::Result<Vec<HistoryEvent>> {
    anyhow::ensure!(
        wires.len() <= MAX_HISTORY,
        "history longer than {MAX_HISTORY} events"
    );
    wires
        .iter()
        .map(|bytes| {
            let signed = lapor_federation::verify_received(bytes, log)?;
            log.check(signed.event())?;
            let e = signed.event();
            Ok(HistoryEvent {
                id: signed.id().to_string(),
                origin: e.origin.clone(),
                origin_seq: e.origin_seq as i64,
                kind: e.kind.clone(),
                report_epoch: e.report_epoch as i64,
                wire: bytes.clone(),
            })
        })
        .collect()
}
