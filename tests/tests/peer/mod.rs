//! What a peer node does on the wire, driven by a test: signed push bodies, pushes, signed log pulls, the keys
//! of a node's data directory. Shared by the federation scenarios; each test file uses a part of it.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;

use ed25519_dalek::{Signer as _, SigningKey};
use lapor_federation::canonical::{decode_canonical, encode};
use lapor_federation::{Event, Value};
use lapor_tests::cluster::{signing_key_hex, Cluster};
use lapor_tests::Api;
use serde_json::Value as Json;

/// The keys push bodies were signed with, by (sender, key id): [`push`] signs its request headers with the
/// same key, as a node does (PROTOCOL section 8.3).
fn signers() -> &'static std::sync::Mutex<BTreeMap<(String, String), SigningKey>> {
    static KEYS: std::sync::OnceLock<std::sync::Mutex<BTreeMap<(String, String), SigningKey>>> =
        std::sync::OnceLock::new();
    KEYS.get_or_init(Default::default)
}

/// A strictly increasing clock in milliseconds, so two pushes of one body are two requests, not a replay.
fn request_time() -> i64 {
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = chrono_ms();
    let prev = LAST.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
    if prev >= now {
        LAST.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    } else {
        now
    }
}

/// The `lapor-request-v1` headers of a push of `body` at `time`, signed with the key its body was signed with.
pub fn push_headers(body: &[u8], time: i64) -> Vec<(&'static str, String)> {
    // Leniently: a test may send a non-canonical body, which the node must refuse for what it is.
    let Ok(map) = serde_json::from_slice::<Json>(body) else {
        return Vec::new();
    };
    let (Some(sender), Some(key_id)) = (map["sender"].as_str(), map["key_id"].as_str()) else {
        return Vec::new();
    };
    let keys = signers().lock().unwrap();
    let Some(key) = keys.get(&(sender.to_owned(), key_id.to_owned())) else {
        return Vec::new();
    };
    lapor_federation::request::sign(
        key,
        sender,
        key_id,
        "POST",
        "/federation/v1/push",
        body,
        time,
    )
    .to_vec()
}

pub fn parse_wire(bytes: &[u8]) -> (Event, String) {
    let Value::Object(mut map) = decode_canonical(bytes).unwrap() else {
        panic!()
    };
    let Some(Value::String(sig)) = map.remove("sig") else {
        panic!()
    };
    (
        lapor_federation::canonical::from_value(Value::Object(map)).unwrap(),
        sig,
    )
}

/// A push body for the hub.
pub fn push_body(
    sender: &str,
    key: &SigningKey,
    key_id: &str,
    txn: &str,
    events: &[Vec<u8>],
) -> Vec<u8> {
    push_body_to("hub", sender, key, key_id, txn, events)
}

/// A push body for `destination`, signed by `sender`'s `key`.
pub fn push_body_to(
    destination: &str,
    sender: &str,
    key: &SigningKey,
    key_id: &str,
    txn: &str,
    events: &[Vec<u8>],
) -> Vec<u8> {
    signers()
        .lock()
        .unwrap()
        .insert((sender.to_owned(), key_id.to_owned()), key.clone());
    let mut map = BTreeMap::new();
    map.insert("destination".to_owned(), Value::from(destination));
    map.insert(
        "events".to_owned(),
        Value::Array(
            events
                .iter()
                .map(|e| decode_canonical(e).unwrap())
                .collect(),
        ),
    );
    map.insert("key_id".to_owned(), Value::from(key_id));
    map.insert("sender".to_owned(), Value::from(sender));
    map.insert("txn".to_owned(), Value::from(txn));
    map.insert("v".to_owned(), Value::Int(1));
    let unsigned = encode(&Value::Object(map.clone())).unwrap();
    let mut msg = b"lapor-push-v1".to_vec();
    msg.extend_from_slice(&unsigned);
    map.insert(
        "sig".to_owned(),
        Value::String(hex::encode(key.sign(&msg).to_bytes())),
    );
    encode(&Value::Object(map)).unwrap()
}

/// The `/metrics` text of a node.
pub async fn metrics(api: &Api) -> String {
    api.client()
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub async fn push(hub: &Api, body: Vec<u8>) -> (u16, Json) {
    let headers = push_headers(&body, request_time());
    push_with(hub, body, &headers).await
}

/// Pushes `body` with exactly these extra headers (none: an unsigned request).
pub async fn push_with(
    hub: &Api,
    body: Vec<u8>,
    headers: &[(&'static str, String)],
) -> (u16, Json) {
    let mut req = hub
        .client()
        .post(hub.url("/federation/v1/push"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = req.body(body).send().await.unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or(Json::Null))
}

/// Declares a push body of `declared` bytes, sends only its first kilobyte and returns the raw answer. A node
/// must refuse from the declared length alone (413 before reading the body): a client that sent the whole body
/// could see its write cut by that early answer, so the test does not send it.
pub async fn push_declared(hub: &Api, declared: usize) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = hub
        .base()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /federation/v1/push HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {declared}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b' '; 1024]).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(
        read.is_ok(),
        "no answer within 10 s to a declared oversize body: it must not wait for the body"
    );
    String::from_utf8_lossy(&answer).into_owned()
}

pub fn key_of(dir: &std::path::Path) -> SigningKey {
    let hexed = signing_key_hex(dir).unwrap();
    let mut b = [0u8; 32];
    hex::decode_to_slice(hexed.trim(), &mut b).unwrap();
    SigningKey::from_bytes(&b)
}

pub async fn kupang_log(c: &Cluster) -> Vec<Vec<u8>> {
    log_at_hub(c, "kupang").await
}

/// `origin`'s log as the hub holds it, through the signed pull a peer would use (signed as the hub itself,
/// whose key stays current whatever happens to the origin's keys).
pub async fn log_at_hub(c: &Cluster, origin: &str) -> Vec<Vec<u8>> {
    let signer = c.hub();
    let key = key_of(&signer.dir);
    let path = format!("/federation/v1/log/{origin}?after=0&limit=1000");
    let path = path.as_str();
    let time = chrono_ms();
    let body_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b""));
    let msg = format!("lapor-request-v1\nGET\n{path}\n{time}\n{body_hash}");
    let sig = hex::encode(key.sign(msg.as_bytes()).to_bytes());
    let hub = c.hub().api();
    let resp = hub
        .client()
        .get(hub.url(path))
        .header("x-lapor-node", "hub")
        .header("x-lapor-key", &signer.key_id)
        .header("x-lapor-time", time.to_string())
        .header("x-lapor-signature", sig)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let page = lapor_federation::wire::LogPage::decode(&resp.bytes().await.unwrap()).unwrap();
    page.events
}

pub fn chrono_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
