//! The issue API at a million events: how long the reads behind `GET /api/v1/projects/{id}/issues`,
//! `GET /api/v1/issues/{id}/events` and `GET /api/v1/events/{id}` take, and how long start-up
//! needs to load the issues: 10,000 events over 1,000 issues (the baseline, same run), then
//! 1,000,000 events over the same 1,000 issues, then over 10,000 (one factor at a time).
//!
//!     cargo bench --bench issues            # BENCH_EVENTS=1000000 BENCH_ISSUES=10000 by default
//!
//! The store is filled through the digest's own write (`SentryWrite::Digest`), 5,000 events per
//! transaction, each event ~700 bytes of SDK JSON, spread over the issues round-robin.

#[path = "sentry_fill.rs"]
mod sentry_fill;

use std::sync::Arc;
use std::time::{Duration, Instant};

use panoptes::clock::{SharedClock, SystemClock};
use panoptes::config::root::Config;
use panoptes::metrics::Metrics;
use panoptes::sentry::config::SentrySettings;
use panoptes::sentry::issues::{Filter, Sort};
use panoptes::sentry::{Ingest, IngestDeps};
use panoptes::store::{Store, StoreOptions};
use sentry_fill::fill;

fn mean<F: FnMut(u64)>(runs: u64, mut f: F) -> Duration {
    let t = Instant::now();
    for i in 0..runs {
        f(i);
    }
    t.elapsed() / runs as u32
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn run(events: u64, issues: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Arc::new(Metrics::new());
    let store =
        Store::open(dir.path(), StoreOptions::default(), metrics.store.clone()).expect("open");
    let t = Instant::now();
    fill(&store, events, issues).await;
    let fill_s = t.elapsed().as_secs_f64();
    let clock: SharedClock = Arc::new(SystemClock);
    let c = Config::default();
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(SentrySettings {
        projects: c.projects.clone(),
        ingest: c.ingest.clone(),
    }));
    let t = Instant::now();
    let ingest = Ingest::open(IngestDeps {
        store: store.clone(),
        clock,
        metrics,
        settings: rx,
        events: panoptes::events::Publisher::discard(),
        check_ins: None,
    })
    .expect("ingest");
    let load = t.elapsed();
    let list = |sort: Sort, query: Option<&str>| {
        mean(100, |_| {
            let f = Filter {
                project: 7,
                status: None,
                query: query.map(str::to_string),
                level: None,
                environment: None,
                release: None,
                sort,
                after: None,
                limit: 50,
            };
            // What the API returns: the page converted to its wire form.
            let page: Vec<_> =
                ingest.with_issues(|i| i.list(&f).0.iter().map(|r| r.summary()).collect());
            let n = page.len();
            assert_eq!(n, 50.min(issues as usize));
        })
    };
    let by_last_seen = list(Sort::LastSeen, None);
    let by_count = list(Sort::Count, None);
    let with_query = list(Sort::LastSeen, Some("error7"));
    let page = mean(200, |i| {
        let rows = store
            .sentry_issue_events(i * 7919 % issues + 1, None, 50)
            .expect("events");
        assert!(!rows.is_empty());
    });
    let get = mean(2000, |i| {
        let id = format!("{:032x}", i * 104_729 % events);
        let e = store.sentry_event(7, &id).expect("get").expect("present");
        let _: serde_json::Value =
            serde_json::from_slice(&e[e.iter().position(|b| *b == b'\n').unwrap_or(0) + 1..])
                .expect("json");
    });
    let size = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "| {events} | {issues} | {fill_s:.1} s | {:.0} MiB | {} | {} | {} | {} | {} | {} |",
        size as f64 / 1048576.0,
        ms(load),
        ms(by_last_seen),
        ms(by_count),
        ms(with_query),
        ms(page),
        ms(get),
    );
    store.close().await;
}

fn main() {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let issues: u64 = std::env::var("BENCH_ISSUES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "| events | issues | fill | data file | load issues at start | list 50 by last_seen | by count | with query | 50 events of an issue | one event by id |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    rt.block_on(async {
        // One factor at a time: events x100 at the same issues, then issues x10 at the same
        // events, so each cost can be put down to the one that grew.
        let few = 1_000.min(issues);
        run(10_000, few).await;
        run(events, few).await;
        run(events, issues).await;
    });
}
