//! Handover of the reporter identity to a report's new owner (PROTOCOL section 9.5).
//!
//! A transfer moves the report (its signed history) but not who filed it: the identity (name, phone, email)
//! stays where it was filed, sealed at rest to that node's key. Once the hub committed the transfer, the new
//! owner asks for it and the former owner erases its copy:
//!
//! ```text
//!  new owner T ── POST /federation/v1/identity {report_id, for: T} ──> hub
//!     hub: T owns the report here? holds the identity itself? else asks each former owner (newest first)
//!          ── POST /federation/v1/identity {report_id, for: T} ──> former owner O
//!     O: T owns the report here (O applied the commit)? seals its identity to T's current encryption key
//!  T opens it, stores it (sealed at rest to its own key), then
//!  T ── POST /federation/v1/identity/erase {report_id, for: T} ──> hub ──> every former owner: erase
//! ```
//!
//! The identity is sealed to the new owner's X25519 key with associated data binding it to the report and the
//! recipient, so the hub that relays it cannot read it and nobody can replay it for another report. A node
//! answers only for a report whose current owner (as this node holds it, from the hub's commit) is the node
//! named in `for`, asked by that node itself or by a hub; an anonymous report has no identity to give. No
//! event carries any of it: the log stays free of personal data, and what was erased stays erased.
//!
//! The new owner's side is a worker ([`run_handover`]) over [`HandoverStore::handover_due`]: every report it
//! owns at an epoch above 0 without an identity is asked for until it arrives (retried with backoff) or no
//! former owner holds one; every received one is confirmed until the former owners erased theirs.
//!
//! [`HandoverStore::handover_due`]: crate::storage::HandoverStore::handover_due

use lapor_federation::seal::{open, seal};
use lapor_federation::EventKind;
use serde::{Deserialize, Serialize};

use super::apply::parse_event;
use super::client::PeerError;
use super::payload::{self, ReportPayload};
use crate::domain::{Millis, ReporterIdentity};
use crate::node::Node;
use crate::storage::handover::{ABSENT, CONFIRMING, DONE, FETCHING};
use crate::storage::{HandoverRow, StorageError};

/// Route of the request for an identity.
pub const FETCH_PATH: &str = "/federation/v1/identity";
/// Route of the request to erase one.
pub const ERASE_PATH: &str = "/federation/v1/identity/erase";

const AAD_DOMAIN: &str = "lapor-identity-handover-v1";

/// Longest field of a received identity (characters).
const MAX_FIELD: usize = 320;

/// The body of both requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRequest {
    /// The report.
    pub report_id: String,
    /// The node that owns it now and is to receive the identity.
    #[serde(rename = "for")]
    pub for_node: String,
}

/// The answer to [`FETCH_PATH`]: the identity sealed to the new owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedIdentity {
    /// Format version, 1.
    pub v: u64,
    /// The report.
    pub report_id: String,
    /// The recipient.
    #[serde(rename = "for")]
    pub for_node: String,
    /// The recipient's key id whose encryption key it is sealed to.
    pub sealed_to: String,
    /// `seal(recipient's X25519 key, {"email","name","phone"}, aad)`, hex.
    pub sealed: String,
}

/// The answer to [`ERASE_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erased {
    /// Whether this node (or, on a hub, any former owner) held a copy it erased now.
    pub erased: bool,
}

/// The plaintext inside the box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Plain {
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

/// Why a node refused to hand over or erase an identity.
#[derive(Debug, thiserror::Error)]
pub enum HandoverRefusal {
    /// The body is not an [`IdentityRequest`].
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The node named in `for` does not own the report here (yet).
    #[error("{0}")]
    NotOwner(String),
    /// The requester may not ask on behalf of that node.
    #[error("{0}")]
    NotAuthorised(String),
    /// No identity of that report here (never had one, anonymous, or erased).
    #[error("no identity of this report is held here")]
    NotHeld,
    /// The former owner that holds it could not be reached; try again later.
    #[error("{0}")]
    Unavailable(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Anything else.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn aad(report_id: &str, for_node: &str) -> Vec<u8> {
    format!("{AAD_DOMAIN}\n{report_id}\n{for_node}").into_bytes()
}

/// Checks that `requester` may ask about `req` here: the report's owner held here is `req.for_node` at an
/// epoch above 0, not this node, and the requester is that node or a hub.
async fn authorise(
    node: &Node,
    requester: &str,
    req: &IdentityRequest,
) -> Result<(), HandoverRefusal> {
    if requester != req.for_node && !node.fed.is_hub_node(requester) {
        return Err(HandoverRefusal::NotAuthorised(format!(
            "{requester} may not ask for the identity on behalf of {}",
            req.for_node
        )));
    }
    let held = node.store.report_owner(&req.report_id).await?;
    match held {
        Some(o) if o.owner == req.for_node && o.epoch >= 1 && o.owner != node.id() => Ok(()),
        Some(o) => Err(HandoverRefusal::NotOwner(format!(
            "{} does not own {} here (owner {} at epoch {})",
            req.for_node, req.report_id, o.owner, o.epoch
        ))),
        None => Err(HandoverRefusal::NotOwner(format!(
            "{} is not held here",
            req.report_id
        ))),
    }
}

fn parse_request(body: &[u8]) -> Result<IdentityRequest, HandoverRefusal> {
    serde_json::from_slice(body).map_err(|e| HandoverRefusal::Malformed(e.to_string()))
}

/// The identity of a report this node holds, if it may give one (not anonymous, some field given).
async fn held_identity(
    node: &Node,
    report_id: &str,
) -> Result<Option<ReporterIdentity>, StorageError> {
    let Some(report) = node.store.report_get(report_id).await? else {
        return Ok(None);
    };
    if report.anonymous {
        return Ok(None);
    }
    Ok(node
        .store
        .report_identity(report_id)
        .await?
        .filter(|i| !i.is_empty()))
}

/// Seals `identity` to `for_node`'s current encryption key.
fn seal_for(
    node: &Node,
    report_id: &str,
    for_node: &str,
    identity: &ReporterIdentity,
) -> Result<SealedIdentity, HandoverRefusal> {
    let (key_id, enc) = node
        .fed
        .keylog_snapshot()?
        .current(for_node)
        .and_then(|k| k.enc_public.map(|e| (k.key_id.clone(), e)))
        .ok_or_else(|| {
            HandoverRefusal::Unavailable(format!("no encryption key of {for_node} is known here"))
        })?;
    let plain = serde_json::to_vec(&Plain {
        name: identity.name.clone(),
        phone: identity.phone.clone(),
        email: identity.email.clone(),
    })
    .map_err(anyhow::Error::from)?;
    let sealed = seal(&enc, &plain, &aad(report_id, for_node))
        .map_err(|e| anyhow::anyhow!("sealing the identity for {for_node}: {e}"))?;
    Ok(SealedIdentity {
        v: 1,
        report_id: report_id.to_owned(),
        for_node: for_node.to_owned(),
        sealed_to: key_id,
        sealed: hex::encode(sealed),
    })
}

/// Opens an identity sealed to this node, checking what it is bound to.
fn open_sealed(
    node: &Node,
    req: &IdentityRequest,
    s: &SealedIdentity,
) -> anyhow::Result<ReporterIdentity> {
    anyhow::ensure!(s.v == 1, "unsupported sealed identity version {}", s.v);
    anyhow::ensure!(
        s.report_id == req.report_id && s.for_node == req.for_node,
        "the answer is for {} / {}, not {} / {}",
        s.report_id,
        s.for_node,
        req.report_id,
        req.for_node
    );
    let secret = node.fed.enc_secret(&s.sealed_to).ok_or_else(|| {
        anyhow::anyhow!(
            "sealed to key {}, which this node does not hold",
            s.sealed_to
        )
    })?;
    let bytes = hex::decode(&s.sealed)?;
    let plain = open(&secret, &bytes, &aad(&req.report_id, &req.for_node))
        .map_err(|e| anyhow::anyhow!("opening the sealed identity: {e}"))?;
    let p: Plain = serde_json::from_slice(&plain)?;
    for (field, v) in [("name", &p.name), ("phone", &p.phone), ("email", &p.email)] {
        if let Some(v) = v {
            anyhow::ensure!(
                v.chars().count() <= MAX_FIELD && !v.chars().any(char::is_control),
                "the reporter {field} received is longer than {MAX_FIELD} characters or has control characters"
            );
        }
    }
    Ok(ReporterIdentity {
        name: p.name,
        phone: p.phone,
        email: p.email,
    })
}

/// The nodes that owned a report before, newest first (the targets' `from` of the committed transfers).
async fn former_owners(
    node: &Node,
    report_id: &str,
    for_node: &str,
) -> Result<Vec<String>, StorageError> {
    let mut out: Vec<String> = Vec::new();
    for t in node.store.transfers_of_report(report_id).await? {
        if t.state == "committed"
            && t.from_node != for_node
            && t.from_node != node.id()
            && !out.contains(&t.from_node)
        {
            out.push(t.from_node);
        }
    }
    Ok(out)
}

/// Whether a peer answered that it holds no identity of the report (not merely a 404: a node older than the
/// handover has no such route, and is asked again after it was upgraded).
fn not_held(e: &PeerError) -> bool {
    e.is_not_found() && e.problem_code() == Some("identity_not_held")
}

async fn ask(
    node: &Node,
    peer: &str,
    path: &str,
    req: &IdentityRequest,
) -> Result<Vec<u8>, PeerError> {
    let Some(p) = node.fed.peer(peer) else {
        return Err(PeerError::Connect(format!("{peer} is not a known peer")));
    };
    let body = serde_json::to_vec(req).map_err(|e| PeerError::Request(e.to_string()))?;
    node.fed
        .client
        .post_signed(
            &p.base_url,
            path,
            body,
            &node.fed.request_signer(),
            node.now(),
        )
        .await
}

/// Asks the former owners of a report (newest first) for its identity sealed to `req.for_node`.
async fn fetch_from_former_owners(
    node: &Node,
    req: &IdentityRequest,
) -> Result<SealedIdentity, HandoverRefusal> {
    let mut failures = Vec::new();
    for peer in former_owners(node, &req.report_id, &req.for_node).await? {
        match ask(node, &peer, FETCH_PATH, req).await {
            Ok(bytes) => match serde_json::from_slice::<SealedIdentity>(&bytes) {
                Ok(s) if s.report_id == req.report_id && s.for_node == req.for_node => {
                    return Ok(s)
                }
                Ok(_) => failures.push(format!("{peer}: an answer for another report or node")),
                Err(e) => failures.push(format!("{peer}: malformed answer: {e}")),
            },
            Err(e) if not_held(&e) => {}
            Err(e) => failures.push(format!("{peer}: {e}")),
        }
    }
    if failures.is_empty() {
        Err(HandoverRefusal::NotHeld)
    } else {
        Err(HandoverRefusal::Unavailable(failures.join("; ")))
    }
}

/// `POST /federation/v1/identity` from `requester`: the identity sealed to the report's new owner, from this
/// node's copy or (on a hub asked by the owner itself) from a former owner's.
pub async fn serve_fetch(
    node: &Node,
    requester: &str,
    body: &[u8],
) -> Result<Vec<u8>, HandoverRefusal> {
    let req = parse_request(body)?;
    authorise(node, requester, &req).await?;
    let sealed = match held_identity(node, &req.report_id).await? {
        Some(identity) => seal_for(node, &req.report_id, &req.for_node, &identity)?,
        None if node.is_hub() && requester == req.for_node => {
            fetch_from_former_owners(node, &req).await?
        }
        None => return Err(HandoverRefusal::NotHeld),
    };
    tracing::info!(report.id = %req.report_id, peer.node = %requester, to = %req.for_node,
        "reporter identity handed over, sealed to the new owner");
    Ok(serde_json::to_vec(&sealed).map_err(anyhow::Error::from)?)
}

/// The sealed identity blobs this node holds for a report (named by its `report.created`).
async fn identity_blobs(node: &Node, report_id: &str) -> Result<Vec<String>, StorageError> {
    let mut out = Vec::new();
    for e in node.store.report_events(report_id).await? {
        if e.kind != EventKind::REPORT_CREATED {
            continue;
        }
        let Ok(event) = parse_event(&e.wire) else {
            continue;
        };
        if let Ok(p) = payload::decode::<ReportPayload>(&event.payload) {
            out.extend(p.identity.map(|i| i.blob));
        }
    }
    Ok(out)
}

/// Erases this node's copy of a report's identity (the at-rest row and its sealed blob). Whether it held one.
pub async fn erase_local(node: &Node, report_id: &str) -> Result<bool, StorageError> {
    let blobs = identity_blobs(node, report_id).await?;
    let erased = node.store.identity_erase(report_id, &blobs).await?;
    if erased {
        tracing::info!(report.id = %report_id, "reporter identity erased here: the new owner holds it");
    }
    Ok(erased)
}

/// Asks every former owner of a report to erase its copy; all must answer.
async fn erase_at_former_owners(
    node: &Node,
    req: &IdentityRequest,
) -> Result<bool, HandoverRefusal> {
    let mut erased = false;
    let mut failures = Vec::new();
    for peer in former_owners(node, &req.report_id, &req.for_node).await? {
        match ask(node, &peer, ERASE_PATH, req).await {
            Ok(bytes) => match serde_json::from_slice::<Erased>(&bytes) {
                Ok(e) => erased |= e.erased,
                Err(e) => failures.push(format!("{peer}: malformed answer: {e}")),
            },
            Err(e) => failures.push(format!("{peer}: {e}")),
        }
    }
    if failures.is_empty() {
        Ok(erased)
    } else {
        Err(HandoverRefusal::Unavailable(failures.join("; ")))
    }
}

/// `POST /federation/v1/identity/erase` from `requester`: the new owner holds the identity, so this node
/// erases its copy (and a hub asked by the owner itself has every former owner erase theirs).
pub async fn serve_erase(
    node: &Node,
    requester: &str,
    body: &[u8],
) -> Result<Vec<u8>, HandoverRefusal> {
    let req = parse_request(body)?;
    authorise(node, requester, &req).await?;
    let mut erased = erase_local(node, &req.report_id).await?;
    if node.is_hub() && requester == req.for_node {
        erased |= erase_at_former_owners(node, &req).await?;
    }
    Ok(serde_json::to_vec(&Erased { erased }).map_err(anyhow::Error::from)?)
}

/// How one step of the new owner's handover ended.
enum Step {
    /// Moved on to this state.
    To(&'static str),
    /// Failed; try again later.
    Retry(String),
}

/// New owner: asks for the identity (through the hub, or on a hub directly from the former owners).
async fn fetch(node: &Node, req: &IdentityRequest, epoch: i64) -> anyhow::Result<Step> {
    let answer = match node.hub_peer() {
        Some(hub) if !node.is_hub() => match ask(node, &hub.node_id, FETCH_PATH, req).await {
            Ok(bytes) => {
                serde_json::from_slice::<SealedIdentity>(&bytes).map_err(|e| e.to_string())
            }
            Err(e) if not_held(&e) => return Ok(Step::To(ABSENT)),
            Err(e) => Err(e.to_string()),
        },
        _ => match fetch_from_former_owners(node, req).await {
            Ok(s) => Ok(s),
            Err(HandoverRefusal::NotHeld) => return Ok(Step::To(ABSENT)),
            Err(e) => Err(e.to_string()),
        },
    };
    let sealed = match answer {
        Ok(s) => s,
        Err(e) => return Ok(Step::Retry(e)),
    };
    let identity = match open_sealed(node, req, &sealed) {
        Ok(i) => i,
        Err(e) => return Ok(Step::Retry(format!("{e:#}"))),
    };
    node.store
        .handover_receive(&req.report_id, epoch, &identity, node.now())
        .await?;
    tracing::info!(report.id = %req.report_id, "reporter identity received from the former owner");
    Ok(Step::To(CONFIRMING))
}

/// New owner: tells the former owners to erase their copies.
async fn confirm(node: &Node, req: &IdentityRequest) -> Step {
    let outcome = match node.hub_peer() {
        Some(hub) if !node.is_hub() => ask(node, &hub.node_id, ERASE_PATH, req)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => erase_at_former_owners(node, req)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
    };
    match outcome {
        Ok(()) => Step::To(DONE),
        Err(e) => Step::Retry(e),
    }
}

fn record_of(row: &HandoverRow, step: &Step, state: &str, node: &Node) -> HandoverRow {
    let now = node.now();
    match step {
        Step::To(next) => HandoverRow {
            state: Some((*next).to_owned()),
            attempts: 0,
            next_at: now,
            last_error: None,
            updated_at: now,
            ..row.clone()
        },
        Step::Retry(e) => {
            let attempts = row.attempts + 1;
            let wait = node.fed.backoff(attempts);
            HandoverRow {
                state: Some(state.to_owned()),
                attempts,
                next_at: now + Millis::try_from(wait.as_millis()).unwrap_or(Millis::MAX / 4),
                last_error: Some(e.clone()),
                updated_at: now,
                ..row.clone()
            }
        }
    }
}

/// One pass of the new owner's handover worker. Returns how many steps moved on.
pub async fn handover_once(node: &Node) -> anyhow::Result<usize> {
    let mut moved = 0;
    for row in node.store.handover_due(node.id(), node.now(), 50).await? {
        let req = IdentityRequest {
            report_id: row.report_id.clone(),
            for_node: node.id().to_owned(),
        };
        let mut row = row;
        if row.state.as_deref().is_none_or(|s| s == FETCHING) {
            let step = fetch(node, &req, row.epoch).await?;
            if let Step::Retry(e) = &step {
                tracing::info!(report.id = %row.report_id, error = %e, "reporter identity not received yet; will retry");
            }
            match step {
                Step::To(CONFIRMING) => {
                    moved += 1;
                    row.state = Some(CONFIRMING.into());
                    row.attempts = 0;
                }
                other => {
                    moved += usize::from(matches!(other, Step::To(_)));
                    node.store
                        .handover_record(&record_of(&row, &other, FETCHING, node))
                        .await?;
                    continue;
                }
            }
        }
        if row.state.as_deref() == Some(CONFIRMING) {
            let step = confirm(node, &req).await;
            match &step {
                Step::To(_) => {
                    moved += 1;
                    tracing::info!(report.id = %row.report_id, "the former owners erased the reporter identity");
                }
                Step::Retry(e) => {
                    tracing::info!(report.id = %row.report_id, error = %e, "former owners not told to erase yet; will retry");
                }
            }
            node.store
                .handover_record(&record_of(&row, &step, CONFIRMING, node))
                .await?;
        }
    }
    Ok(moved)
}

/// The handover loop.
pub async fn run_handover(node: Node) {
    let poll = std::time::Duration::from_millis(node.fed.config.poll_ms);
    loop {
        match handover_once(&node).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "identity handover failed; retrying"),
        }
        tokio::time::sleep(poll).await;
    }
}

/// Whether a notice to the reporter of `report_id` should wait: this node owns the report after a transfer
/// and its identity is still on its way from the former owner.
pub async fn awaited(node: &Node, report_id: &str) -> Result<bool, StorageError> {
    let Some(held) = node.store.report_owner(report_id).await? else {
        return Ok(false);
    };
    if held.owner != node.id() || held.epoch < 1 {
        return Ok(false);
    }
    Ok(match node.store.handover_get(report_id).await? {
        Some(h) if h.epoch == held.epoch => h.state.as_deref() == Some(FETCHING),
        _ => node.store.report_identity(report_id).await?.is_none(),
    })
}
