//! The writer: lazy writes share commits at low rates and never hold up anyone else; a request
//! that cannot be applied fails alone; a failing file or writer fails the store.

use std::time::Duration;

use crate::metrics::StoreMetrics;
use crate::store::{AuditRecord, Store, StoreError, StoreOptions, Write};

fn audit(at_ms: u64) -> Write {
    audit_named(at_ms, "a")
}

fn audit_named(at_ms: u64, action: &str) -> Write {
    Write::Audit {
        at_ms,
        record: AuditRecord {
            actor: "test".into(),
            action: action.into(),
            detail: String::new(),
        },
    }
}

#[tokio::test]
async fn lazy_writes_arriving_one_by_one_share_a_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = StoreMetrics::default();
    let store = Store::open(dir.path(), StoreOptions::default(), metrics.clone()).expect("open");
    let mut acks = Vec::new();
    for i in 0..5 {
        acks.push(store.enqueue_lazy(vec![audit(1_000 + i)]).expect("queued"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for a in acks {
        a.await.expect("ack").expect("committed");
    }
    assert_eq!(metrics.writes.get(), 5);
    // One at a time they would be five commits (eager writes are: see below).
    assert!(
        metrics.batches.get() < 5,
        "{} commits for 5 lazy writes",
        metrics.batches.get()
    );
    assert_eq!(store.audit(None, 10).expect("read").len(), 5);
    store.close().await;
}

#[tokio::test]
async fn an_eager_write_takes_a_lingering_batch_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = StoreMetrics::default();
    let store = Store::open(dir.path(), StoreOptions::default(), metrics.clone()).expect("open");
    let lazy = store.enqueue_lazy(vec![audit(1)]).expect("queued");
    store.write(vec![audit(2)]).await.expect("eager write");
    // The lazy one was committed with it, in the same transaction.
    lazy.await.expect("ack").expect("committed");
    assert_eq!(metrics.batches.get(), 1);
    // Eager writes one by one: a commit each.
    for i in 0..3 {
        store.write(vec![audit(10 + i)]).await.expect("write");
    }
    assert_eq!(metrics.batches.get(), 4);
    store.close().await;
}

/// A batch commits at the earliest deadline of its writes: a short linger does not wait out a
/// lazy write's second, and two writes lingering together share one commit.
#[tokio::test]
async fn a_batch_commits_at_its_earliest_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = StoreMetrics::default();
    let store = Store::open(dir.path(), StoreOptions::default(), metrics.clone()).expect("open");
    let lazy = store.enqueue_lazy(vec![audit(1)]).expect("queued");
    let short = store
        .enqueue_within(vec![audit(2)], Duration::from_millis(20))
        .expect("queued");
    // Well under the lazy write's `LINGER` (1 s): the short deadline commits both.
    tokio::time::timeout(Duration::from_millis(800), short)
        .await
        .expect("committed by the short deadline")
        .expect("ack")
        .expect("committed");
    lazy.await.expect("ack").expect("committed");
    assert_eq!(metrics.batches.get(), 1);
    let a = store
        .enqueue_within(vec![audit(3)], Duration::from_millis(300))
        .expect("queued");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let b = store
        .enqueue_within(vec![audit(4)], Duration::from_millis(300))
        .expect("queued");
    a.await.expect("ack").expect("committed");
    b.await.expect("ack").expect("committed");
    assert_eq!(
        metrics.batches.get(),
        2,
        "two lingering writes share a commit"
    );
    assert_eq!(store.audit(None, 10).expect("read").len(), 4);
    store.close().await;
}

/// A write's linger counts from its enqueueing, not from when the writer last went idle: after
/// a quiet spell two writes lingering together still share a commit.
#[tokio::test]
async fn a_linger_counts_from_the_enqueueing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = StoreMetrics::default();
    let store = Store::open(dir.path(), StoreOptions::default(), metrics.clone()).expect("open");
    store.write(vec![audit(1)]).await.expect("write");
    // The writer has been idle much longer than the linger below.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let a = store
        .enqueue_within(vec![audit(2)], Duration::from_millis(300))
        .expect("queued");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let b = store
        .enqueue_within(vec![audit(3)], Duration::from_millis(300))
        .expect("queued");
    a.await.expect("ack").expect("committed");
    b.await.expect("ack").expect("committed");
    assert_eq!(
        metrics.batches.get(),
        2,
        "the two lingering writes share a commit"
    );
    store.close().await;
}

#[tokio::test]
async fn closing_commits_lingering_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()).expect("open");
    let lazy = store.enqueue_lazy(vec![audit(1)]).expect("queued");
    store.close().await;
    lazy.await
        .expect("ack")
        .expect("committed before the writer stopped");
    drop(store);
    let store =
        Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()).expect("reopen");
    assert_eq!(store.audit(None, 10).expect("read").len(), 1);
    store.close().await;
}

/// A write that cannot be applied fails alone; the writes batched with it commit, and the store
/// stays healthy.
#[tokio::test]
async fn a_write_that_cannot_be_applied_fails_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()).expect("open");
    // Queued together so the writer takes them as one batch.
    let a = store
        .enqueue(vec![audit_named(1, "before")])
        .expect("queue");
    let bad = store
        .enqueue(vec![audit_named(2, "with the bad one"), Write::Refuse])
        .expect("queue");
    let b = store.enqueue(vec![audit_named(3, "after")]).expect("queue");
    assert_eq!(a.await.expect("ack"), Ok(0));
    assert!(bad.await.expect("ack").is_err());
    assert_eq!(b.await.expect("ack"), Ok(0));
    assert!(store.is_healthy());
    let actions: Vec<String> = store
        .audit(None, 10)
        .expect("read")
        .into_iter()
        .map(|(_, r)| r.action)
        .collect();
    assert_eq!(
        actions,
        ["after", "before"],
        "the refused request left nothing behind"
    );
    store.close().await;
}

/// A panic of the writer thread marks the store failed (so `/healthz` answers 503) and every
/// later write is refused instead of hanging.
#[tokio::test]
async fn a_writer_panic_fails_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()).expect("open");
    store
        .write(vec![audit_named(1, "ok")])
        .await
        .expect("first");
    assert!(store.write(vec![Write::Panic]).await.is_err());
    assert!(!store.is_healthy());
    assert_eq!(store.status().status, panoptes_types::StoreState::Failed);
    assert!(matches!(
        store.write(vec![audit_named(2, "late")]).await,
        Err(StoreError::Failed(_))
    ));
    store.close().await;
}

/// A failure of the file while one request is applied (an I/O error, corruption) fails the
/// store: the other requests of the batch are refused, not retried over a broken file.
#[tokio::test]
async fn a_disk_failure_while_applying_fails_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()).expect("open");
    let bad = store.enqueue(vec![Write::DiskFail]).expect("queue");
    let other = store.enqueue(vec![audit(2)]).expect("queue");
    assert!(matches!(bad.await.expect("ack"), Err(StoreError::Disk(_))));
    assert!(
        other.await.expect("ack").is_err(),
        "not committed over a failed file"
    );
    assert!(!store.is_healthy());
    assert!(matches!(
        store.write(vec![audit(3)]).await,
        Err(StoreError::Failed(_))
    ));
    assert!(store.audit(None, 10).expect("read").is_empty());
    store.close().await;
}

#[test]
fn redb_errors_are_sorted_into_the_files_and_the_requests() {
    let io = redb::StorageError::Io(std::io::Error::other("disk gone"));
    assert!(matches!(StoreError::storage(io), StoreError::Disk(_)));
    let corrupt = redb::TableError::Storage(redb::StorageError::Corrupted("x".into()));
    assert!(matches!(StoreError::storage(corrupt), StoreError::Disk(_)));
    let large = redb::StorageError::ValueTooLarge(1 << 40);
    assert!(matches!(StoreError::storage(large), StoreError::Storage(_)));
    assert!(matches!(
        StoreError::storage("a message"),
        StoreError::Storage(_)
    ));
}
