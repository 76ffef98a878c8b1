//! Store benchmark: what group commit buys over one transaction per item.
//!
//!     cargo bench --bench store            (or `make bench`)
//!
//! Every scenario writes small audit rows to a fresh data file with `Durability::Immediate`
//! (fsync per commit) and reports items/s and the latency a producer sees from `write` to its
//! durable acknowledgement. The first scenario is the baseline, measured in the same run.

use std::time::{Duration, Instant};

use panoptes::metrics::StoreMetrics;
use panoptes::store::{AuditRecord, Store, StoreOptions, Write};

fn row(i: u64) -> Write {
    Write::Audit {
        at_ms: 1_700_000_000_000 + i,
        record: AuditRecord {
            actor: "bench".into(),
            action: "bench.write".into(),
            detail: format!("item {i}"),
        },
    }
}

struct Outcome {
    items: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    commits: u64,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, o: &mut Outcome) {
    o.latencies.sort();
    let rate = o.items as f64 / o.elapsed.as_secs_f64();
    println!(
        "{name:<44} {:>9} items  {:>10.0} items/s  {:>6} commits  {:>8.1} items/commit  p50 {:>7.2} ms  p99 {:>7.2} ms",
        o.items,
        rate,
        o.commits,
        o.items as f64 / o.commits.max(1) as f64,
        pct(&o.latencies, 0.50).as_secs_f64() * 1000.0,
        pct(&o.latencies, 0.99).as_secs_f64() * 1000.0,
    );
}

fn fresh() -> (tempfile::TempDir, Store, StoreMetrics) {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = StoreMetrics::default();
    let store = Store::open(dir.path(), StoreOptions::default(), metrics.clone()).expect("open");
    (dir, store, metrics)
}

/// One producer, one item per `write`, each awaited: one fsync per item.
async fn sequential(n: u64) -> Outcome {
    let (_dir, store, metrics) = fresh();
    let mut latencies = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        store.write(vec![row(i)]).await.expect("write");
        latencies.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    store.close().await;
    Outcome {
        items: n,
        elapsed,
        latencies,
        commits: metrics.batches.get(),
    }
}

/// `producers` tasks, each writing one item at a time: the writer folds whatever is queued.
async fn concurrent(producers: u64, per_producer: u64) -> Outcome {
    let (_dir, store, metrics) = fresh();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..producers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_producer as usize);
            for i in 0..per_producer {
                let t = Instant::now();
                store
                    .write(vec![row(p * per_producer + i)])
                    .await
                    .expect("write");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("join"));
    }
    let elapsed = start.elapsed();
    store.close().await;
    Outcome {
        items: producers * per_producer,
        elapsed,
        latencies,
        commits: metrics.batches.get(),
    }
}

/// One producer handing over `batch` items per `write` call.
async fn batched(n: u64, batch: u64) -> Outcome {
    let (_dir, store, metrics) = fresh();
    let mut latencies = Vec::new();
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let writes: Vec<Write> = (i..(i + batch).min(n)).map(row).collect();
        let t = Instant::now();
        store.write(writes).await.expect("write");
        latencies.push(t.elapsed());
        i += batch;
    }
    let elapsed = start.elapsed();
    store.close().await;
    Outcome {
        items: n,
        elapsed,
        latencies,
        commits: metrics.batches.get(),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // `cargo test --benches` runs this with --bench absent; keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let scale = if quick { 1 } else { 10 };
    println!("store benchmark (fsync per commit); scale {scale}");
    rt.block_on(async {
        report(
            "baseline: 1 item per transaction, sequential",
            &mut sequential(100 * scale).await,
        );
        for producers in [8, 64, 256] {
            report(
                &format!("group commit: {producers} concurrent producers"),
                &mut concurrent(producers, 20 * scale / 2 + 10).await,
            );
        }
        report(
            "batched: 1000 items per write call",
            &mut batched(10_000 * scale, 1000).await,
        );
    });
}
