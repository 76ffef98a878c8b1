use super::*;
use crate::clock::{ManualClock, SharedClock};

pub(super) fn audit(at_ms: u64, action: &str) -> Write {
    Write::Audit {
        at_ms,
        record: AuditRecord {
            actor: "test".into(),
            action: action.into(),
            detail: String::new(),
        },
    }
}

pub(super) fn open(dir: &Path) -> Store {
    Store::open(dir, StoreOptions::default(), StoreMetrics::default()).expect("open store")
}

#[tokio::test]
async fn acknowledged_writes_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    assert_eq!(store.schema_version(), LATEST_VERSION);
    for i in 0..10 {
        store
            .write(vec![audit(1000 + i, &format!("a{i}"))])
            .await
            .expect("write");
    }
    store.close().await;
    drop(store);
    let store = open(dir.path());
    let rows = store.audit(None, 100).expect("read");
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0].1.action, "a9", "newest first");
    assert_eq!(rows[9].1.action, "a0");
    store.close().await;
}

#[tokio::test]
async fn concurrent_writes_share_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = StoreMetrics::default();
    let store = Store::open(dir.path(), StoreOptions::default(), metrics.clone()).expect("open");
    let mut tasks = Vec::new();
    for i in 0..200u64 {
        let s = store.clone();
        tasks.push(tokio::spawn(
            async move { s.write(vec![audit(i, "x")]).await },
        ));
    }
    for t in tasks {
        t.await.expect("join").expect("write");
    }
    assert_eq!(metrics.writes.get(), 200);
    assert!(
        metrics.batches.get() < 200,
        "200 concurrent writes took {} commits; group commit should fold them",
        metrics.batches.get()
    );
    assert_eq!(store.audit(None, 1000).expect("read").len(), 200);
    assert_eq!(metrics.queue_depth.get(), 0);
    store.close().await;
}

#[tokio::test]
async fn batches_are_capped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = StoreMetrics::default();
    let opts = StoreOptions {
        max_batch: 4,
        queue_capacity: 1000,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), opts, metrics.clone()).expect("open");
    let acks: Vec<_> = (0..40)
        .map(|i| store.enqueue(vec![audit(i, "x")]).expect("enqueue"))
        .collect();
    for a in acks {
        a.await.expect("ack").expect("write");
    }
    assert!(metrics.batches.get() >= 10, "at most 4 writes per commit");
    store.close().await;
}

#[tokio::test]
async fn a_full_queue_answers_busy_instead_of_growing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = StoreMetrics::default();
    let opts = StoreOptions {
        max_batch: 1,
        queue_capacity: 2,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path(), opts, metrics.clone()).expect("open");
    let mut busy = 0;
    let mut acks = Vec::new();
    for i in 0..1000 {
        match store.enqueue(vec![audit(i, "x")]) {
            Ok(a) => acks.push(a),
            Err(StoreError::Busy) => busy += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(busy > 0, "a 2-slot queue cannot take 1000 writes at once");
    assert_eq!(metrics.rejected_busy.get(), busy);
    let accepted = acks.len();
    for a in acks {
        a.await.expect("ack").expect("write");
    }
    assert_eq!(store.audit(None, 2000).expect("read").len(), accepted);
    store.close().await;
}

#[tokio::test]
async fn writes_after_close_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store.close().await;
    assert_eq!(
        store.write(vec![audit(1, "late")]).await,
        Err(StoreError::Closed)
    );
}

#[tokio::test]
async fn retention_deletes_only_expired_rows_in_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = StoreMetrics::default();
    let store = Store::open(dir.path(), StoreOptions::default(), metrics.clone()).expect("open");
    let day = 86_400_000u64;
    let now = 100 * day;
    let writes: Vec<Write> = (0..250)
        .map(|i| audit(now - 30 * day + i, "old"))
        .chain((0..5).map(|i| audit(now - day + i, "new")))
        .collect();
    store.write(writes).await.expect("write");
    let commits_before = metrics.batches.get();
    let clock: SharedClock = ManualClock::new(now);
    let pruners: Vec<std::sync::Arc<dyn retention::Pruner>> = vec![
        std::sync::Arc::new(retention::AuditPruner(move || {
            std::time::Duration::from_millis(7 * day)
        })),
        std::sync::Arc::new(retention::SessionPruner),
    ];
    let deleted = retention::run_once(&store, &pruners, 100, &clock, &metrics).await;
    assert_eq!(deleted, 250);
    assert_eq!(metrics.retention_deleted.get(), 250);
    // 100 + 100 + 50 for the audit log, plus one session pass.
    assert_eq!(metrics.batches.get() - commits_before, 4);
    let left = store.audit(None, 1000).expect("read");
    assert_eq!(left.len(), 5);
    assert!(left.iter().all(|(_, r)| r.action == "new"));
    store.close().await;
}

#[tokio::test]
async fn expired_sessions_are_pruned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let session = |user: &str, exp| Write::PutSession {
        hash: format!("h-{user}"),
        record: SessionRecord {
            user: user.into(),
            created_at_ms: 0,
            expires_at_ms: exp,
        },
    };
    store
        .write(vec![session("gone", 10), session("live", 1_000)])
        .await
        .expect("write");
    let removed = store
        .write(vec![Write::PruneSessions {
            now_ms: 500,
            limit: 10,
        }])
        .await
        .expect("prune");
    assert_eq!(removed, 1);
    assert!(store.session("h-gone").expect("read").is_none());
    assert!(store.session("h-live").expect("read").is_some());
    store.close().await;
}

#[tokio::test]
async fn a_locked_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let second = Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default());
    match second {
        Err(StoreError::Locked { path }) => assert!(path.ends_with(DATA_FILE)),
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("a second open of the same file must fail"),
    }
    store.close().await;
}

#[test]
fn a_corrupt_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(DATA_FILE), vec![0x42u8; 64 * 1024]).expect("write");
    match Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()) {
        Err(e @ StoreError::Corrupt { .. }) => {
            assert!(e.to_string().contains("corrupt"), "{e}")
        }
        Err(e) => panic!("expected Corrupt, got {e:?}"),
        Ok(_) => panic!("garbage must not open"),
    }
}

#[test]
fn an_unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    match Store::open(&file, StoreOptions::default(), StoreMetrics::default()) {
        Err(e @ StoreError::Io { .. }) => {
            assert!(
                e.to_string().contains("cannot create data directory"),
                "{e}"
            )
        }
        Err(e) => panic!("expected Io, got {e:?}"),
        Ok(_) => panic!("a file is not a data directory"),
    }
}

#[test]
fn a_file_from_a_newer_panoptes_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DATA_FILE);
    {
        let db = redb::Database::create(&path).expect("create");
        let tx = db.begin_write().expect("tx");
        {
            let mut meta = tx.open_table(tables::META).expect("meta");
            meta.insert(tables::SCHEMA_VERSION_KEY, u64::from(LATEST_VERSION) + 1)
                .expect("insert");
        }
        tx.commit().expect("commit");
    }
    match Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()) {
        Err(e @ StoreError::TooNew { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("newer panoptes"), "{msg}");
        }
        Err(e) => panic!("expected TooNew, got {e:?}"),
        Ok(_) => panic!("a newer file must be refused"),
    }
}

mod write_deadline {
    use super::*;

    /// A commit that does not come (here: another write transaction holds redb's single write
    /// lock, as a stalled fsync would) is answered `Busy` after `write_timeout`, not awaited
    /// for ever; the write itself stays queued and lands once the writer moves again.
    #[tokio::test]
    async fn a_stalled_commit_answers_busy_after_the_deadline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = StoreOptions {
            write_timeout: Some(std::time::Duration::from_millis(200)),
            ..StoreOptions::default()
        };
        let store = Store::open(dir.path(), options, StoreMetrics::default()).expect("open");
        let stall = store.inner.db.begin_write().expect("hold the write lock");
        let write = vec![Write::PutToken {
            hash: "h".into(),
            record: TokenRecord {
                name: "late".into(),
                created_at_ms: 1,
                role: panoptes_types::Role::Admin,
            },
        }];
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), store.write(write))
            .await
            .expect("the write answers within its deadline");
        assert_eq!(answer, Err(StoreError::Busy));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        drop(stall);
        store.write(vec![]).await.expect("the writer moves again");
        let late = store.token("h").expect("read");
        assert_eq!(
            late.map(|t| t.name).as_deref(),
            Some("late"),
            "it landed after all"
        );
        store.close().await;
    }
}
