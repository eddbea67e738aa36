//! The read side of the SQLite store: a fixed set of reader threads, each owning one connection for the life
//! of the store, taking read jobs from one queue.
//!
//! Why not `spawn_blocking` with a pool of idle connections (what this replaced): under 32 concurrent
//! requests the idle list emptied, every miss opened a new connection (a WAL file open, the schema parsed
//! again, a cold page cache and no prepared statements) and dropped it afterwards, about 130 times a second;
//! and every read borrowed one of tokio's blocking threads, which grew to a hundred. Here the number of
//! threads and connections is fixed at open ([`crate::config::StorageConfig::sqlite_readers`]), their caches stay warm,
//! and a burst waits in the queue instead of growing threads and memory.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::open_connection;
use crate::storage::{Result, StorageError};

type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// Reader threads with their connections.
pub(super) struct ReadPool {
    jobs: mpsc::Sender<ReadJob>,
}

impl ReadPool {
    /// Opens `readers` connections to `path` and starts one thread for each.
    pub(super) fn start(path: &Path, readers: usize) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::channel::<ReadJob>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..readers.max(1) {
            let conn = open_connection(path)?;
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{i}"))
                .spawn(move || reader_loop(&conn, &rx))?;
        }
        Ok(Self { jobs: tx })
    }

    /// Runs `f` on the next free reader connection.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: ReadJob = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.jobs
            .send(job)
            .map_err(|_| StorageError::Backend("the SQLite readers have stopped".into()))?;
        rx.await
            .map_err(|_| StorageError::Backend("a SQLite reader failed on this read".into()))?
    }
}

/// One reader: takes the next job (the queue's lock is held only while waiting for it) and runs it. A job
/// that panics loses only its own answer; the thread and its connection go on. Ends when the store is gone.
fn reader_loop(conn: &Connection, jobs: &Mutex<mpsc::Receiver<ReadJob>>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
            tracing::error!("a SQLite read panicked");
            // A statement left open by the panic would hold the read snapshot: end any transaction.
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }
}
