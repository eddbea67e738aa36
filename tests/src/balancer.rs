//! A small TCP load balancer on 127.0.0.1 for tests of several processes of one node: each new connection
//! goes to the next backend in turn; a backend that refuses the connection (a killed process) is skipped
//! for that connection, as a balancer with health checks would. Bytes are copied both ways untouched.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

/// A running balancer; stops when dropped.
#[derive(Debug)]
pub struct Balancer {
    addr: SocketAddr,
    served: Arc<Vec<AtomicU64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    /// Starts a balancer on a free port in front of `backends` (`127.0.0.1:PORT` each).
    pub async fn start(backends: Vec<SocketAddr>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let served: Arc<Vec<AtomicU64>> =
            Arc::new(backends.iter().map(|_| AtomicU64::new(0)).collect());
        let next = Arc::new(AtomicUsize::new(0));
        let backends = Arc::new(backends);
        let counts = served.clone();
        let task = spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (backends, next, counts) = (backends.clone(), next.clone(), counts.clone());
                spawn(async move {
                    let start = next.fetch_add(1, Ordering::Relaxed);
                    for i in 0..backends.len() {
                        let which = (start + i) % backends.len();
                        if let Ok(mut upstream) = TcpStream::connect(backends[which]).await {
                            counts[which].fetch_add(1, Ordering::Relaxed);
                            let mut client = client;
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                            return;
                        }
                    }
                });
            }
        });
        Ok(Self { addr, served, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections sent to each backend so far, in the order given.
    pub fn served(&self) -> Vec<u64> {
        self.served
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

// The balancer's own tasks: this crate does not depend on lapor-node's `spawn_named`; the accept loop is
// aborted when the balancer is dropped and each connection task ends with its connection.
#[allow(clippy::disallowed_methods)]
fn spawn<F>(f: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(f)
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
