//! On-call at scale:
//!
//!     cargo bench --bench oncall -- [--queries 200000] [--pages 1000]
//!
//! 1. Who is on call: `Schedule::who` for random instants over a year, on a schedule of three
//!    layers (weekly Europe/Berlin, a daily America/New_York layer, a restricted business-hours
//!    layer) under 200 overrides; the baseline in the same run is the bare arithmetic of a UTC
//!    weekly rotation (`(t - start) / week % n`), what a rotation costs without time zones,
//!    layers or overrides.
//! 2. Shifts: a 90-day shift list of that schedule.
//! 3. Pages: N alert groups handed to the on-call engine one after another (each answer means
//!    the page is durable), each paging one person by a transport that answers at once; time to
//!    open them all and until every first message is recorded delivered. The baseline in the
//!    same run is N sequential durable store writes of a record of the same size.

#[path = "util.rs"]
mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use panoptes::alerts::model::{Alert, AlertStatus, Notification, Verdict};
use panoptes::alerts::outbox::{DeliveryState, Outcome, Record, Transport};
use panoptes::clock::{SharedClock, SystemClock};
use panoptes::oncall::rotation::{Override, Schedule};
use panoptes::store::oncall::OncallWrite;
use panoptes::store::{Store, StoreOptions, Write};
use panoptes::tasks::Shutdown;
use util::cpu_seconds;

const CONFIG: &str = r#"
alerts:
  route: {receiver: team, escalation_policy: platform}
  receivers: [{name: team}]
oncall:
  contacts:
    ana: [{email: ana@example.com}]
    ben: [{email: ben@example.com}]
    chen: [{email: chen@example.com}]
  schedules:
    - name: platform
      time_zone: Europe/Berlin
      layers:
        - {users: [ana, ben, chen], rotation: weekly, handoff: {day: monday, time: "09:00"}, start: 2026-01-05}
        - {users: [ben, chen], rotation: daily, handoff: {time: "18:00"}, start: 2026-01-01, restrictions: [{days: [sat, sun], from: "00:00", to: "00:00"}]}
        - {users: [dana, eli], rotation: weekly, start: 2026-01-05, restrictions: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}]}
  escalation_policies:
    - name: platform
      steps:
        - {delay: 0s, targets: [{user: ana}]}
        - {delay: 1h, targets: [{schedule_all: platform}]}
"#;

const YEAR_START: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const YEAR_MS: u64 = 365 * 86_400_000;

/// xorshift: instants spread over the year, the same in both measurements.
fn instants(n: u64) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            YEAR_START + x % YEAR_MS
        })
        .collect()
}

struct Instant0;

impl Transport for Instant0 {
    fn send<'a>(
        &'a self,
        _cfg: &'a panoptes::alerts::config::AlertsConfig,
        _r: &'a Record,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async {
            Outcome {
                verdict: Verdict::Delivered,
                status: Some(250),
                latency_ms: 0,
            }
        })
    }
}

fn record(i: u64) -> Record {
    let labels: panoptes::alerts::model::Labels = [("alertname".to_string(), format!("Down{i}"))]
        .into_iter()
        .collect();
    Record {
        id: i,
        receiver: "team".into(),
        channel: panoptes::alerts::channels::PAGE_CHANNEL.into(),
        notification: Notification {
            receiver: "team".into(),
            group_key: format!("{{}}:{{alertname=\"Down{i}\"}}"),
            status: AlertStatus::Firing,
            group_labels: labels.clone(),
            common_labels: labels.clone(),
            common_annotations: Default::default(),
            external_url: "http://127.0.0.1:9".into(),
            truncated_alerts: 0,
            alerts: vec![Alert {
                fingerprint: format!("{i:016x}"),
                status: AlertStatus::Firing,
                labels,
                annotations: Default::default(),
                starts_at_ms: YEAR_START,
                ends_at_ms: None,
                generator_url: "http://127.0.0.1:9/monitors".into(),
            }],
        },
        escalation_policy: Some("platform".into()),
        created_ms: 0,
        state: DeliveryState::Queued,
        next_attempt_ms: 0,
        attempt_count: 0,
        attempts: Vec::new(),
        finished_ms: None,
    }
}

fn rotations(queries: u64) {
    let c = panoptes::config::root::parse(CONFIG, "bench", &|_| None).expect("config");
    let overrides: Vec<Override> = instants(200)
        .into_iter()
        .enumerate()
        .map(|(i, t)| Override {
            id: i as u64 + 1,
            schedule: "platform".into(),
            user: "zed".into(),
            start_ms: t,
            end_ms: t + 6 * 3_600_000,
            created_by: "bench".into(),
            created_ms: i as u64,
        })
        .collect();
    let s = Schedule::new(&c.oncall.schedules[0], &overrides);
    let ts = instants(queries);
    let week = 7 * 86_400_000u64;
    let start = YEAR_START + 4 * 86_400_000 + 8 * 3_600_000;
    let t0 = Instant::now();
    let mut sum = 0u64;
    for t in &ts {
        sum = sum.wrapping_add((t.saturating_sub(start) / week) % 3);
    }
    let base = t0.elapsed();
    let t0 = Instant::now();
    let mut found = 0u64;
    for t in &ts {
        if s.who(*t).is_some() {
            found += 1;
        }
    }
    let who = t0.elapsed();
    let per = |d: Duration| d.as_nanos() as f64 / queries as f64;
    println!(
        "who is on call: {queries} instants; baseline UTC modulo {:.1} ns/query (checksum {sum}); \
         3 layers + 200 overrides {:.0} ns/query ({:.0} queries/s; {found} answered)",
        per(base),
        per(who),
        queries as f64 / who.as_secs_f64()
    );
    let t0 = Instant::now();
    let mut n = 0;
    for i in 0..100u64 {
        n += s
            .shifts(
                YEAR_START + i * 86_400_000,
                YEAR_START + (i + 90) * 86_400_000,
            )
            .len();
    }
    let d = t0.elapsed();
    println!(
        "shifts: 90 days x 100 ranges, {:.2} ms per range ({} shifts each)",
        d.as_secs_f64() * 1000.0 / 100.0,
        n / 100
    );
}

async fn pages(n: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), Default::default()).expect("store");
    // Baseline: N sequential durable writes of a page-sized record.
    let sample = serde_json::to_vec(&record(1)).expect("json");
    let size = sample.len() * 2;
    let t0 = Instant::now();
    for i in 0..n {
        store
            .write(vec![Write::Oncall(OncallWrite {
                pages: vec![(1_000_000 + i, vec![7u8; size])],
                ..Default::default()
            })])
            .await
            .expect("write");
    }
    let base = t0.elapsed();
    let c = panoptes::config::root::parse(CONFIG, "bench", &|_| None).expect("config");
    let settings = panoptes::oncall::Settings {
        oncall: c.oncall.clone(),
        alerts: c.alerts.clone(),
    };
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(settings));
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let clock: SharedClock = Arc::new(SystemClock);
    let (oncall, _task) = panoptes::oncall::engine::start(panoptes::oncall::Deps {
        store: store.clone(),
        clock,
        config: rx,
        transport: Arc::new(Instant0),
        default_external_url: "http://127.0.0.1:9".into(),
        shutdown: Shutdown::new(stop_rx),
    })
    .await
    .expect("oncall");
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut lat = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        let v = oncall.hand_off(record(i)).await;
        assert_eq!(v, Verdict::Delivered);
        lat.push(t.elapsed());
    }
    let opened = t0.elapsed();
    let delivered = AtomicU64::new(0);
    loop {
        let (items, _) = oncall.pages(None, None, 1000).await.expect("pages");
        let done = items
            .iter()
            .filter(|p| {
                p.deliveries
                    .iter()
                    .any(|d| d.state == panoptes::oncall::page::DeliveryState::Delivered)
            })
            .count() as u64;
        delivered.store(done, Ordering::Relaxed);
        if done >= n.min(1000) || t0.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = t0.elapsed();
    let cpu = cpu_seconds() - cpu0;
    lat.sort();
    let q =
        |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "pages: {n} groups; baseline {n} durable writes of {size} B: {:.0} writes/s; \
         hand-off to on-call (page durable): {:.0} pages/s, p50 {:.2} ms, p99 {:.2} ms; \
         first message of each recorded delivered after {:.2} s ({} of {}); CPU {:.2} s",
        n as f64 / base.as_secs_f64(),
        n as f64 / opened.as_secs_f64(),
        q(0.5),
        q(0.99),
        all.as_secs_f64(),
        delivered.load(Ordering::Relaxed),
        n.min(1000),
        cpu
    );
}

fn main() {
    rotations(util::arg("--queries", 200_000));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(pages(util::arg("--pages", 1000)));
}
