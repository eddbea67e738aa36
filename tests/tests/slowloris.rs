//! Slow headers (issue 11, "read timeouts"): a client that opens a connection to a node's listen address and
//! sends a federation push's headers a byte at a time is cut off once `federation.header_timeout_secs` has
//! passed without the headers being complete, while the node keeps answering everyone else. Driven with a raw
//! TCP client against a real `lapor serve`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lapor_tests::{Api, Node};

/// The headers of a push, never finished (no empty line).
const HEADERS: &[u8] = b"POST /federation/v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Lapor-Node: kaltim\r\n\
Content-Type: application/json\r\nX-Lapor-Key: ed25519-0000000000000000\r\nX-Lapor-Time: 1764790000000\r\n\
X-Lapor-Signature: 00000000000000000000000000000000000000000000000000000000000000000000000000000000\r\n\
Content-Length: 2\r\n";

/// Whether the server closed the connection (end of stream or a reset), without waiting more than a moment.
fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => true,
        // An answer (there should be none) followed by a close still counts as cut: read on.
        Ok(_) => closed(s),
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_byte_by_byte_are_cut_off() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = Node::start(
        dir.path(),
        &[
            ("LAPOR_NODE__ID", "kupangkota"),
            ("LAPOR_FEDERATION__HEADER_TIMEOUT_SECS", "1"),
        ],
    )?;
    let addr = format!("127.0.0.1:{}", node.port());
    let slow = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut s = TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(Duration::from_millis(20)))?;
        // 100 ms per byte: the whole header would take about 40 s; the limit is 1 s.
        for (sent, b) in HEADERS.iter().enumerate() {
            if s.write_all(&[*b]).is_err() || closed(&mut s) {
                return Ok(sent);
            }
            #[allow(clippy::disallowed_methods)] // the slow client is the point of the test
            std::thread::sleep(Duration::from_millis(100));
        }
        anyhow::bail!(
            "the node read {} header bytes over {:?} without cutting the connection",
            HEADERS.len(),
            Duration::from_millis(100) * u32::try_from(HEADERS.len())?
        )
    });
    // Meanwhile the node answers a normal client.
    let (st, body) = Api::new(&node.base).get_json("/healthz").await?;
    assert!(st.is_success(), "{st} {body}");
    let sent = slow.await??;
    assert!(
        sent < HEADERS.len(),
        "cut after {sent} of {} bytes",
        HEADERS.len()
    );
    eprintln!(
        "slow client cut after {sent} of {} header bytes (100 ms per byte, limit 1 s)",
        HEADERS.len()
    );
    // And after.
    let (st, _) = Api::new(&node.base).get_json("/healthz").await?;
    assert!(st.is_success());
    Ok(())
}
