//! The writer's lazy writes: they share commits at low rates, and never hold up anyone else.

use std::time::Duration;

use crate::metrics::StoreMetrics;
use crate::store::{AuditRecord, Store, StoreOptions, Write};

fn audit(at_ms: u64) -> Write {
    Write::Audit {
        at_ms,
        record: AuditRecord {
            actor: "test".into(),
            action: "a".into(),
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
