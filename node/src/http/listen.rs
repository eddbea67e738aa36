//! The HTTP listener: accepts connections and serves the router on each (HTTP/1.1), with a limit on how long
//! a client may take to send a request's headers.
//!
//! `axum::serve` reads headers for as long as the client likes, so a peer (or anyone who reaches the listen
//! address) that opens connections and sends its headers a byte at a time holds a connection and a task each,
//! forever: the body and whole-request timeouts of the federation routes (`http/mod.rs`) only start once the
//! headers are in. Here every connection gets hyper's header-read timer (`federation.header_timeout_secs`):
//! a request whose headers are not complete in time, including the next request on a kept-alive connection,
//! has its connection closed without an answer.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long open connections get to finish after the shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections finish (at most
/// [`DRAIN`]). Each request carries the client's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        crate::tasks::spawn_named("http connection", async move {
            if let Err(e) = conn.await {
                tracing::debug!(client = %remote, error = %e, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open {DRAIN:?} after shutdown; closing them");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(header_timeout: Duration) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(a): ConnectInfo<SocketAddr>| async move {
                a.ip().to_string()
            }),
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        crate::tasks::spawn_named(
            "test listener",
            serve(listener, app, header_timeout, async move {
                let _ = rx.await;
            }),
        );
        (addr, tx)
    }

    #[tokio::test]
    async fn answers_with_the_client_address() {
        let (addr, _stop) = start(Duration::from_secs(5)).await;
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.ends_with("127.0.0.1"), "{out}");
    }

    #[tokio::test]
    async fn headers_sent_too_slowly_close_the_connection() {
        let (addr, _stop) = start(Duration::from_secs(1)).await;
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        // One byte of the request line, then nothing: after the limit the server closes without answering.
        s.write_all(b"G").await.expect("write");
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(_))), "closed by the server: {read:?}");
        assert!(
            !String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"),
            "{buf:?}"
        );
    }
}
