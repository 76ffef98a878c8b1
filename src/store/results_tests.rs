//! Probe results through the real table: a model (a map by time) against the chunks, with
//! results out of order, replaced, read in ranges both ways and pruned; and the migration from
//! a row per result.

use std::collections::BTreeMap;

use super::super::probes::{ProbeWrite, RESULTS};
use super::super::tests::open;
use super::super::{DATA_FILE, Store, Write};

fn result(id: u32, at_ms: u64, record: Vec<u8>) -> Write {
    Write::Probe(ProbeWrite::Result {
        id,
        at_ms,
        record,
        rollups: Vec::new(),
        snapshot: b"{}".to_vec(),
    })
}

fn prune(ids: Vec<u32>, before_ms: u64, limit: usize) -> Write {
    Write::Probe(ProbeWrite::Prune {
        ids,
        resolution: None,
        before_ms,
        limit,
    })
}

type Model = BTreeMap<(u32, u64), Vec<u8>>;

fn expect_span(store: &Store, model: &Model, id: u32, from: u64, to: u64, limit: usize) {
    let span: Vec<(u64, Vec<u8>)> = model
        .range((id, from)..(id, to.max(from)))
        .map(|((_, ms), r)| (*ms, r.clone()))
        .collect();
    let oldest: Vec<_> = span.iter().take(limit).cloned().collect();
    let newest: Vec<_> = span.iter().rev().take(limit).cloned().collect();
    let ctx = format!("monitor {id} [{from}, {to}) limit {limit}");
    assert_eq!(
        store.probe_results(id, from, to, limit).expect("read"),
        oldest,
        "{ctx}"
    );
    assert_eq!(
        store
            .probe_results_newest(id, from, to, limit)
            .expect("read"),
        newest,
        "{ctx} newest first"
    );
}

#[tokio::test]
async fn results_read_back_as_stored_in_any_order_range_and_direction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let ids = (1..=3u32).map(|id| (format!("m{id}"), id)).collect();
    store
        .write(vec![Write::Probe(ProbeWrite::AssignIds(ids))])
        .await
        .expect("ids");
    let mut model = Model::new();
    let mut x = 7u64;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    // Mostly in order at 20 s per monitor, with late results (an agent's batch) and repeats.
    for round in 0..600u64 {
        let mut batch = Vec::new();
        for id in 1..=3u32 {
            let ms = if next() % 10 == 0 {
                next() % (round + 1) * 20_000
            } else {
                round * 20_000 + u64::from(id)
            };
            let record = vec![(round % 256) as u8; 3 + (next() % 30) as usize];
            model.insert((id, ms), record.clone());
            batch.push(result(id, ms, record));
        }
        store.write(batch).await.expect("write");
    }
    let (rows, stored, _) = store.probe_results_stats().expect("stats");
    assert_eq!(rows, model.len() as u64);
    assert!(stored < rows * 40, "{stored} bytes for {rows} results");
    for id in 1..=3u32 {
        expect_span(&store, &model, id, 0, u64::MAX, usize::MAX);
        for _ in 0..40 {
            let from = next() % 12_500_000;
            let to = from + next() % 3_000_000;
            expect_span(&store, &model, id, from, to, 1 + (next() % 200) as usize);
        }
        expect_span(&store, &model, id, 40_000, 40_000, 10);
        expect_span(&store, &model, id, 0, u64::MAX, 0);
    }
    let between = store
        .probe_results_between(1_000_000, 2_000_000)
        .expect("between");
    let want: Vec<(u32, u64, Vec<u8>)> = model
        .iter()
        .filter(|((_, ms), _)| (1_000_000..2_000_000).contains(ms))
        .map(|((id, ms), r)| (*id, *ms, r.clone()))
        .collect();
    assert_eq!(between, want);

    // Retention: in small budgets until nothing older is left, then exactly the rest remains.
    let cut = 6_000_000;
    let mut removed = 0;
    loop {
        let n = store
            .write(vec![prune(vec![1, 2, 3], cut, 50)])
            .await
            .expect("prune");
        removed += n;
        if n < 50 {
            break;
        }
    }
    let before = model.len();
    model.retain(|(_, ms), _| *ms >= cut);
    assert_eq!(removed as usize, before - model.len(), "removed");
    for id in 1..=3u32 {
        expect_span(&store, &model, id, 0, u64::MAX, usize::MAX);
    }
    // New results still land after pruning.
    store
        .write(vec![result(2, 5_000, b"late".to_vec())])
        .await
        .expect("write");
    model.insert((2, 5_000), b"late".to_vec());
    expect_span(&store, &model, 2, 0, u64::MAX, usize::MAX);
    store.close().await;
}

/// A data file of version 9, a row per result, opens with every result in chunks, in order.
#[tokio::test]
async fn a_row_per_result_migrates_into_chunks() {
    const RESULTS_V3: redb::TableDefinition<(u32, u64), &[u8]> =
        redb::TableDefinition::new("probe_results");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DATA_FILE);
    super::super::migrate::create_at_version(&path, 9).expect("create v9");
    let mut model = Model::new();
    {
        let db = redb::Database::open(&path).expect("open v9");
        let tx = db.begin_write().expect("tx");
        {
            let mut t = tx.open_table(RESULTS_V3).expect("table");
            for id in [1u32, 2, 7] {
                for i in 0..(400 * id as u64) {
                    let ms = 1_699_920_000_000 + i * 20_000 + u64::from(id);
                    let record = vec![id as u8; 4 + (i % 9) as usize];
                    t.insert((id, ms), record.as_slice()).expect("insert");
                    model.insert((id, ms), record);
                }
            }
        }
        tx.commit().expect("commit");
    }
    let store = open(dir.path());
    assert_eq!(store.schema_version(), super::super::LATEST_VERSION);
    let (rows, stored, _) = store.probe_results_stats().expect("stats");
    assert_eq!(rows, model.len() as u64);
    // ~11 bytes of record, time and length a result here; a row each was 12 bytes of key more.
    assert!(
        stored as f64 / (rows as f64) < 13.0,
        "{stored} bytes for {rows} results"
    );
    for id in [1u32, 2, 7] {
        expect_span(&store, &model, id, 0, u64::MAX, usize::MAX);
        expect_span(
            &store,
            &model,
            id,
            1_699_920_000_000 + 1_000_000,
            1_699_920_000_000 + 5_000_000,
            1000,
        );
    }
    store.close().await;
    drop(store);
    let db = redb::Database::open(&path).expect("reopen");
    let tx = redb::ReadableDatabase::begin_read(&db).expect("read");
    assert!(
        matches!(
            tx.open_table(RESULTS_V3),
            Err(redb::TableError::TableDoesNotExist(_))
        ),
        "the old table is gone"
    );
    let t = tx.open_table(RESULTS).expect("chunks");
    assert!(
        redb::ReadableTableMetadata::len(&t).expect("len") < 100,
        "packed"
    );
}
