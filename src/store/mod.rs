//! The embedded store: one redb file, one writer thread that group-commits, MVCC reads.
//!
//! Owns: the data file, table layout (`tables.rs`), schema migrations (`../migrations/`), the
//! writer (`writer.rs`) and retention (`retention.rs`). Depends on: `metrics`, `clock`.
//! Nothing outside this module touches redb, so a redb major upgrade stays inside it.
//!
//! Contract: `Store::write` resolves only after the batch holding the write has been committed
//! with `Durability::Immediate` (fsynced). Producers are never held hostage by a long batch: the
//! writer takes at most `max_batch` write requests per transaction and never waits to fill one.

pub mod agents;
pub mod alerts;
pub mod backup;
pub mod chunk;
pub mod config;
pub mod events;
pub mod forward;
pub mod invites;
mod migrate;
pub mod oncall;
pub mod periskop;
pub mod probes;
pub mod records;
mod results;
pub mod retention;
pub mod sentry;
pub mod statuspage;
mod tables;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::StoreMetrics;
pub use migrate::{LATEST_VERSION, create_at_version};
pub use records::{AuditRecord, InviteRecord, SessionRecord, TokenRecord, UserRecord};
use writer::Request;

/// Key of an audit entry: (unix ms, sequence).
pub type AuditKey = (u64, u64);

/// File name of the data file inside the data directory.
pub const DATA_FILE: &str = "panoptes.redb";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "data file {path} is locked by another process (is another `panoptes serve` using this data directory?)"
    )]
    Locked { path: String },
    #[error("data file {path} is corrupt or not a Panoptes data file: {detail}")]
    Corrupt { path: String, detail: String },
    #[error("cannot use data file {path}: {detail}")]
    Io { path: String, detail: String },
    #[error(
        "data file {path} has schema version {found}, but this panoptes supports up to {supported}: it was written by a newer panoptes; upgrade panoptes or restore a backup"
    )]
    TooNew {
        path: String,
        found: u64,
        supported: u32,
    },
    #[error("migrating data file {path} to schema version {version} failed: {detail}")]
    Migration {
        path: String,
        version: u32,
        detail: String,
    },
    #[error("the store is busy: its write queue is full, or a commit is overdue")]
    Busy,
    #[error("the store is shut down")]
    Closed,
    #[error("the store has failed and refuses writes until panoptes restarts: {0}")]
    Failed(String),
    #[error("storage error: {0}")]
    Storage(String),
    /// The file itself failed (I/O, corruption, a poisoned lock): no later write can be trusted,
    /// unlike [`StoreError::Storage`], which one request's bad data can cause.
    #[error("storage I/O error: {0}")]
    Disk(String),
    #[error("a stored record could not be decoded: {0}")]
    Decode(String),
}

impl StoreError {
    /// Wraps an error from redb (or any other) and sorts it: errors of the file itself become
    /// [`StoreError::Disk`], so the writer fails the store rather than refusing one request and
    /// carrying on over a broken file.
    pub(crate) fn storage<E: std::fmt::Display + 'static>(e: E) -> Self {
        let any = &e as &dyn std::any::Any;
        let storage = any.downcast_ref::<redb::StorageError>().or_else(|| {
            match any.downcast_ref::<redb::TableError>() {
                Some(redb::TableError::Storage(s)) => Some(s),
                _ => None,
            }
        });
        match storage {
            Some(redb::StorageError::ValueTooLarge(_)) | None => StoreError::Storage(e.to_string()),
            Some(_) => StoreError::Disk(e.to_string()),
        }
    }
}

/// One change, applied by the writer inside a batch transaction.
#[derive(Debug, Clone)]
pub enum Write {
    /// Appends to the audit log at `at_ms` (the writer assigns a sequence number).
    Audit {
        at_ms: u64,
        record: AuditRecord,
    },
    PutUser {
        name: String,
        record: UserRecord,
    },
    DeleteUser {
        name: String,
    },
    PutToken {
        hash: String,
        record: TokenRecord,
    },
    DeleteToken {
        hash: String,
    },
    PutSession {
        hash: String,
        record: SessionRecord,
    },
    DeleteSession {
        hash: String,
    },
    /// Sets a counter in `meta` (not `schema_version` or `audit_seq`, which the store owns):
    /// a remote-write endpoint's cursor, `remote_write/<name>`.
    PutMeta {
        key: String,
        value: u64,
    },
    /// Deletes up to `limit` audit entries older than `before_ms`; counts into the outcome.
    PruneAudit {
        before_ms: u64,
        limit: usize,
    },
    /// Deletes up to `limit` sessions that expired before `now_ms`; counts into the outcome.
    PruneSessions {
        now_ms: u64,
        limit: usize,
    },
    /// Probe results, roll-ups, ids (see `probes.rs`).
    Probe(probes::ProbeWrite),
    /// Periskop exception aggregation (`periskop.rs`).
    Periskop(periskop::PeriskopWrite),
    /// Sentry-compatible ingest: inbox, digest, issues (`sentry.rs`).
    Sentry(sentry::SentryWrite),
    /// Alert states, groups, silences, notifications (`alerts.rs`).
    Alerts(alerts::AlertsWrite),
    /// Pages, overrides, the link-signing key (`oncall.rs`).
    Oncall(oncall::OncallWrite),
    /// Status page incidents (`statuspage.rs`).
    Status(statuspage::StatusWrite),
    /// The forward outbox (`forward.rs`).
    Forward(forward::ForwardWrite),
    /// Probing agents and their tokens (`agents.rs`).
    Agents(agents::AgentsWrite),
    /// One-time links to create a user (`invites.rs`).
    Invites(invites::InvitesWrite),
    /// Cannot be applied (tests of the writer's per-request failure).
    #[cfg(test)]
    Refuse,
    /// Panics the writer (tests of `/healthz` after a writer panic).
    #[cfg(test)]
    Panic,
    /// Fails as an I/O error of the file would (tests of the writer's failure rule).
    #[cfg(test)]
    DiskFail,
}

#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Most write requests per transaction.
    pub max_batch: usize,
    /// Write requests queued before `write` answers `Busy`.
    pub queue_capacity: usize,
    /// Memory redb may use to cache pages (its own default is 1 GiB).
    pub cache_bytes: usize,
    /// How long `write` waits for its commit before answering `Busy`; `None` waits as long as
    /// it takes (tests on tokio's paused clock, which would otherwise jump to the deadline while
    /// the writer thread, which tokio cannot see, commits).
    pub write_timeout: Option<std::time::Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: 4096,
            queue_capacity: 65_536,
            cache_bytes: 256 * 1024 * 1024,
            write_timeout: Some(std::time::Duration::from_secs(30)),
        }
    }
}

struct Inner {
    db: Arc<Database>,
    path: PathBuf,
    schema_version: u32,
    requests: mpsc::Sender<Request>,
    write_timeout: Option<std::time::Duration>,
    metrics: StoreMetrics,
    /// Set when a commit failed; redb then refuses further writes until the file is reopened.
    failure: Arc<Mutex<Option<String>>>,
    /// Who hears that the store failed.
    hook: writer::FailureHook,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens (creating if needed) the data file in `dir`, migrates it, and starts the writer.
    pub fn open(
        dir: &Path,
        options: StoreOptions,
        metrics: StoreMetrics,
    ) -> Result<Store, StoreError> {
        let path = dir.join(DATA_FILE);
        let shown = path.display().to_string();
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io {
            path: dir.display().to_string(),
            detail: format!("cannot create data directory: {e}"),
        })?;
        let db = open_database(&path, options.cache_bytes)?;
        let schema_version = migrate::run(&db, &shown)?;
        let db = Arc::new(db);
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let failure = Arc::new(Mutex::new(None));
        let hook = writer::FailureHook::default();
        let handle = writer::spawn(
            db.clone(),
            rx,
            options.max_batch.max(1),
            metrics.clone(),
            failure.clone(),
            hook.clone(),
        )
        .map_err(|e| StoreError::Io {
            path: shown.clone(),
            detail: format!("cannot start the writer thread: {e}"),
        })?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                path,
                schema_version,
                requests: tx,
                write_timeout: options.write_timeout,
                metrics,
                failure,
                hook,
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// Applies `writes` atomically; resolves once they are durable. Returns the number of rows
    /// removed by prune writes.
    ///
    /// Waits at most `write_timeout` for the commit, then answers `Busy` (503 at the edge): a
    /// stalled fsync must not hold every request, and the permits and memory each holds, for
    /// ever. The write stays queued, so it may still land after the caller heard `Busy`;
    /// callers treat `Busy` as "not known to be stored", never as "known not to be stored".
    pub async fn write(&self, writes: Vec<Write>) -> Result<u64, StoreError> {
        let ack = self.enqueue(writes)?;
        let Some(limit) = self.inner.write_timeout else {
            return ack.await.unwrap_or(Err(StoreError::Closed));
        };
        match tokio::time::timeout(limit, ack).await {
            Ok(done) => done.unwrap_or(Err(StoreError::Closed)),
            Err(_) => {
                self.inner.metrics.rejected_busy.inc();
                Err(StoreError::Busy)
            }
        }
    }

    /// Queues `writes` without waiting for the commit: for producers that pipeline.
    pub fn enqueue(
        &self,
        writes: Vec<Write>,
    ) -> Result<oneshot::Receiver<Result<u64, StoreError>>, StoreError> {
        self.enqueue_as(writes, Duration::ZERO)
    }

    /// [`Store::enqueue`] for writes nobody waits on soon: they may wait up to
    /// `writer::LINGER` to share a commit with others (see `writer.rs`).
    pub fn enqueue_lazy(
        &self,
        writes: Vec<Write>,
    ) -> Result<oneshot::Receiver<Result<u64, StoreError>>, StoreError> {
        self.enqueue_as(writes, writer::LINGER)
    }

    /// [`Store::enqueue`] for a write that may wait up to `linger` (from now) to share a commit.
    pub fn enqueue_within(
        &self,
        writes: Vec<Write>,
        linger: Duration,
    ) -> Result<oneshot::Receiver<Result<u64, StoreError>>, StoreError> {
        self.enqueue_as(writes, linger)
    }

    fn enqueue_as(
        &self,
        writes: Vec<Write>,
        linger: Duration,
    ) -> Result<oneshot::Receiver<Result<u64, StoreError>>, StoreError> {
        if let Some(why) = lock(&self.inner.failure).clone() {
            return Err(StoreError::Failed(why));
        }
        let (ack, done) = oneshot::channel();
        // Bounded, so no linger can overflow the clock (an hour is longer than any use).
        let deadline = std::time::Instant::now() + linger.min(Duration::from_secs(3600));
        match self.inner.requests.try_send(Request::Write {
            writes,
            ack,
            deadline,
        }) {
            Ok(()) => {
                self.inner.metrics.queue_depth.inc();
                Ok(done)
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.inner.metrics.rejected_busy.inc();
                Err(StoreError::Busy)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(StoreError::Closed),
        }
    }

    /// Runs a read on the blocking pool, so a scan of the data file never holds an async worker.
    /// Reads are MVCC snapshots: they never wait for the writer, nor it for them.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Storage(format!("read task failed: {e}")))?
    }

    /// Commits everything queued so far, then stops the writer. Writes after this fail with
    /// `Closed`. Safe to call more than once.
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        // A full queue still drains: `send` waits for room rather than dropping the request.
        if self
            .inner
            .requests
            .send(Request::Shutdown { ack })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
        let handle = lock(&self.inner.writer).take();
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn schema_version(&self) -> u32 {
        self.inner.schema_version
    }

    pub fn status(&self) -> panoptes_types::StoreStatus {
        let failure = lock(&self.inner.failure).clone().or_else(|| {
            self.writer_died()
                .then(|| "the store writer thread has stopped".to_string())
        });
        panoptes_types::StoreStatus {
            status: if failure.is_some() {
                panoptes_types::StoreState::Failed
            } else {
                panoptes_types::StoreState::Ok
            },
            path: self.inner.path.display().to_string(),
            schema_version: self.inner.schema_version,
            size_bytes: std::fs::metadata(&self.inner.path)
                .map(|m| m.len())
                .unwrap_or(0),
            queue_depth: self.inner.metrics.queue_depth.get().max(0) as u64,
            commits: self.inner.metrics.batches.get(),
            last_error: failure,
        }
    }

    /// False once a commit failed or the writer thread died.
    pub fn is_healthy(&self) -> bool {
        lock(&self.inner.failure).is_none() && !self.writer_died()
    }

    fn writer_died(&self) -> bool {
        lock(&self.inner.writer)
            .as_ref()
            .is_some_and(|h| h.is_finished())
    }

    /// Reports the store's failure to `publisher` (the event bus) from now on.
    pub fn on_failure(&self, publisher: crate::events::Publisher<events::StoreEvent>) {
        let _ = self.inner.hook.set(publisher);
    }

    /// A counter of `meta` (see [`Write::PutMeta`]).
    pub fn meta(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(tables::META))? else {
            return Ok(None);
        };
        Ok(t.get(key).map_err(StoreError::storage)?.map(|v| v.value()))
    }

    fn read_txn(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.inner.db.begin_read().map_err(StoreError::storage)
    }

    pub fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let txn = self.read_txn()?;
        let table = txn.open_table(tables::USERS).map_err(StoreError::storage)?;
        let value = table.get(name).map_err(StoreError::storage)?;
        value.map(|v| records::decode(v.value())).transpose()
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<(String, UserRecord)>, StoreError> {
        let txn = self.read_txn()?;
        let table = txn.open_table(tables::USERS).map_err(StoreError::storage)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value().to_string(), records::decode(v.value())?));
        }
        Ok(out)
    }

    pub fn user_count(&self) -> Result<u64, StoreError> {
        let txn = self.read_txn()?;
        let table = txn.open_table(tables::USERS).map_err(StoreError::storage)?;
        table.len().map_err(StoreError::storage)
    }

    pub fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let txn = self.read_txn()?;
        let table = txn
            .open_table(tables::TOKENS)
            .map_err(StoreError::storage)?;
        let value = table.get(hash).map_err(StoreError::storage)?;
        value.map(|v| records::decode(v.value())).transpose()
    }

    pub fn tokens(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        let txn = self.read_txn()?;
        let table = txn
            .open_table(tables::TOKENS)
            .map_err(StoreError::storage)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value().to_string(), records::decode(v.value())?));
        }
        Ok(out)
    }

    pub fn session(&self, hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let txn = self.read_txn()?;
        let table = txn
            .open_table(tables::SESSIONS)
            .map_err(StoreError::storage)?;
        let value = table.get(hash).map_err(StoreError::storage)?;
        value.map(|v| records::decode(v.value())).transpose()
    }

    /// Audit entries, newest first, strictly older than `before` (a key from a previous page).
    pub fn audit(
        &self,
        before: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<(AuditKey, AuditRecord)>, StoreError> {
        let txn = self.read_txn()?;
        let table = txn.open_table(tables::AUDIT).map_err(StoreError::storage)?;
        let range = match before {
            Some(key) => table.range(..key),
            None => table.range::<(u64, u64)>(..),
        }
        .map_err(StoreError::storage)?;
        let mut out = Vec::new();
        for row in range.rev().take(limit) {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value(), records::decode(v.value())?));
        }
        Ok(out)
    }
}

/// A table that was never written to reads as empty (a fresh file has no rows in it yet).
pub(crate) fn missing_is_empty<T>(r: Result<T, redb::TableError>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(other) => Err(StoreError::storage(other)),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it; the data (an
    // Option<String> or a join handle) is still meaningful.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Opens or creates the redb file, turning every failure into a message a user can act on.
fn open_database(path: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    let shown = path.display().to_string();
    // redb reports corruption as errors, but a damaged file must never take the process down
    // with a panic, so the open is fenced.
    let opened =
        std::panic::catch_unwind(|| Database::builder().set_cache_size(cache_bytes).create(path));
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(map_open_error(&shown, e)),
        Err(_) => Err(StoreError::Corrupt {
            path: shown,
            detail: "the storage engine could not read it".into(),
        }),
    }
}

fn map_open_error(path: &str, e: redb::DatabaseError) -> StoreError {
    use redb::{DatabaseError, StorageError};
    let path = path.to_string();
    match e {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            StoreError::Locked { path }
        }
        DatabaseError::Storage(StorageError::Io(io)) => {
            if io.kind() == std::io::ErrorKind::InvalidData {
                StoreError::Corrupt {
                    path,
                    detail: io.to_string(),
                }
            } else if io.kind() == std::io::ErrorKind::WouldBlock {
                StoreError::Locked { path }
            } else {
                StoreError::Io {
                    path,
                    detail: io.to_string(),
                }
            }
        }
        DatabaseError::Storage(StorageError::Corrupted(detail)) => {
            StoreError::Corrupt { path, detail }
        }
        DatabaseError::UpgradeRequired(v) => StoreError::Corrupt {
            path,
            detail: format!("written in storage format {v}, which this build cannot read"),
        },
        other => StoreError::Corrupt {
            path,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
pub(crate) mod migrate_tests;
#[cfg(test)]
mod tests;
