//! Engine timing with paused tokio time: push deadlines, retries and maintenance windows.
//! Push monitors need no sockets, so every wait here is a timer and the clock is exact.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::TokioClock;
use crate::config;
use crate::events::Publisher;
use crate::probe::rollup::Resolution;

/// 2026-11-23T00:00:00Z, a Monday.
pub(super) const BASE_MS: u64 = 1_795_392_000_000;

pub(super) fn parse(yaml: &str) -> config::root::Config {
    config::root::parse(yaml, "test.yaml", &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) async fn engine(yaml: &str) -> (tempfile::TempDir, ProbeEngine, u32) {
    let c = parse(yaml);
    let dir = tempfile::tempdir().expect("tempdir");
    // No write deadline: on the paused clock it would fire while the writer thread commits.
    let options = crate::store::StoreOptions {
        write_timeout: None,
        ..Default::default()
    };
    let store = Store::open(dir.path(), options, Default::default()).expect("store");
    let clock: SharedClock = TokioClock::new(BASE_MS);
    let e = ProbeEngine::start(
        ProbeDeps {
            store,
            clock,
            metrics: ProbeMetrics::default(),
            clients: crate::outbound::default_clients(),
            events: Publisher::discard(),
        },
        &c.probing,
        &c.monitors,
        &c.maintenance,
    )
    .await
    .expect("engine");
    let id = e.monitor_ids()[0];
    // Let monitor tasks take their first look at the clock before the test moves it.
    settle().await;
    (dir, e, id)
}

fn state(e: &ProbeEngine, id: u32) -> State {
    e.get(id).expect("monitor").state
}

/// Lets spawned tasks run after a time jump.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Awaits `f` without letting paused time jump. A heartbeat waits for the store's writer, a
/// thread tokio cannot see: meanwhile an idle runtime would auto-advance the paused clock to the
/// next timer (a push deadline) and fire it. A task that keeps yielding keeps it busy.
pub(super) async fn without_time_passing<F: std::future::Future>(f: F) -> F::Output {
    let done = std::sync::atomic::AtomicBool::new(false);
    let work = async {
        let r = f.await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        r
    };
    let spin = async {
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
    };
    let (r, ()) = tokio::join!(work, spin);
    r
}

const PUSH: &str = "
monitors:
  - name: nightly-backup
    type: push
    token: backup-token-1
    interval: 60s
    grace: 30s
    retries: 1
    retry_interval: 10s
";

#[tokio::test(start_paused = true)]
async fn a_missing_push_is_pending_then_down_after_the_retry() {
    let (_dir, e, id) = engine(PUSH).await;
    assert_eq!(state(&e, id), State::Unknown);
    tokio::time::advance(Duration::from_secs(89)).await;
    settle().await;
    assert_eq!(
        state(&e, id),
        State::Unknown,
        "deadline is interval + grace"
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(state(&e, id), State::Pending, "one failure, one retry left");
    tokio::time::advance(Duration::from_secs(9)).await;
    settle().await;
    assert_eq!(state(&e, id), State::Pending);
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(state(&e, id), State::Down, "retry also missed");
    let last = e.get(id).expect("m").last.expect("last");
    assert_eq!(last.error.as_deref(), Some("no push received within 90s"));

    assert_eq!(
        without_time_passing(e.push("backup-token-1", true, None, Some(5)))
            .await
            .expect("stored"),
        Some(State::Up)
    );
    // A push resets the deadline.
    tokio::time::advance(Duration::from_secs(80)).await;
    settle().await;
    assert_eq!(state(&e, id), State::Up);
    assert_eq!(
        without_time_passing(e.push("backup-token-1", false, Some("disk full".into()), None))
            .await
            .expect("stored"),
        Some(State::Pending)
    );
    assert_eq!(
        without_time_passing(e.push("nope", true, None, None))
            .await
            .expect("stored"),
        None
    );
}

#[tokio::test(start_paused = true)]
async fn results_inside_maintenance_are_maintenance_and_left_out_of_availability() {
    let yaml = format!(
        "{PUSH}maintenance:\n  - name: upgrade\n    monitors: [nightly-backup]\n    start: 2026-11-23T00:01:00Z\n    end: 2026-11-23T00:05:00Z\n"
    );
    let (_dir, e, id) = engine(&yaml).await;
    // t = 0: a healthy push.
    assert_eq!(
        without_time_passing(e.push("backup-token-1", true, None, None))
            .await
            .expect("stored"),
        Some(State::Up)
    );
    settle().await;
    // t = 2 min: inside the window, a failure is MAINTENANCE.
    tokio::time::advance(Duration::from_secs(120)).await;
    settle().await;
    assert_eq!(
        without_time_passing(e.push("backup-token-1", false, None, None))
            .await
            .expect("stored"),
        Some(State::Maintenance)
    );
    settle().await;
    assert_eq!(
        e.get(id)
            .expect("m")
            .last
            .expect("last")
            .maintenance
            .as_deref(),
        Some("upgrade")
    );
    // Missed deadlines inside the window are MAINTENANCE too.
    tokio::time::advance(Duration::from_secs(91)).await;
    settle().await;
    assert_eq!(state(&e, id), State::Maintenance);
    // t = 6 min: the window is over and the underlying failures show.
    tokio::time::advance(Duration::from_secs(150)).await;
    settle().await;
    assert_eq!(
        without_time_passing(e.push("backup-token-1", false, None, None))
            .await
            .expect("stored"),
        Some(State::Down)
    );

    e.stop();
    e.store().write(vec![]).await.expect("barrier");
    let hour = e
        .store()
        .probe_rollups(id, Resolution::Hour as u8, 0, u64::MAX)
        .expect("rollups");
    let r = Rollup::decode(&hour[0].1).expect("decode");
    // The push at 2 min and the missed deadline(s) inside the window are MAINTENANCE; the push
    // at 6 min is DOWN.
    assert!(r.maintenance >= 2, "{r:?}");
    assert_eq!(r.up, 1, "{r:?}");
    assert!(r.down >= 1, "{r:?}");
    assert_eq!(r.pending, 0, "{r:?}");
    // Maintenance results are not in the denominator.
    assert_eq!(r.availability(), Some(1.0 / f64::from(1 + r.down)));
}

#[tokio::test(start_paused = true)]
async fn recurring_windows_use_their_time_zone() {
    let yaml = format!(
        "{PUSH}maintenance:\n  - name: nightly\n    groups: []\n    every: [mon]\n    at: \"01:00\"\n    duration: 1h\n    timezone: Europe/Berlin\n"
    );
    // BASE is Monday 00:00 UTC = 01:00 Berlin: the window is open right away.
    let (_dir, e, _id) = engine(&yaml).await;
    assert_eq!(
        without_time_passing(e.push("backup-token-1", false, None, None))
            .await
            .expect("stored"),
        Some(State::Maintenance)
    );
    tokio::time::advance(Duration::from_secs(3600)).await;
    settle().await;
    assert_eq!(
        without_time_passing(e.push("backup-token-1", false, None, None))
            .await
            .expect("stored"),
        Some(State::Down)
    );
}

#[test]
fn monitor_config_errors_point_at_their_line() {
    let yaml = "monitors:
  - name: a
    type: http
    url: ftp://x
  - name: b
    type: tcp
    host: h
    port: 70000
  - name: c
    type: dns
    query: x
    conditions: [\"[STATUS] == 200\"]
  - name: d
    type: carrier-pigeon
  - name: a
    type: push
    token: short
  - name: e
    type: http
    url: http://x
    interval: 10s
    timeout: 20s
  - name: f
    type: http
    url: http://x
    conditions: [\"[STATUS] = 200\"]
";
    let errs = config::root::parse(yaml, "m.yaml", &|_| None).expect_err("invalid");
    let lines: Vec<String> = errs.0.iter().map(|e| e.to_string()).collect();
    let has = |needle: &str| {
        assert!(
            lines.iter().any(|l| l.contains(needle)),
            "missing {needle:?} in {lines:#?}"
        );
    };
    has("m.yaml:4:10: monitors[0].url: `ftp://x` is not an http:// or https:// URL");
    has("m.yaml:8:11: monitors[1].port: expected an integer (u16)");
    has("m.yaml:12:18: monitors[2].conditions[0]: [STATUS] is not available for a dns monitor");
    has("m.yaml:14:11: monitors[3].type: expected http, tcp, dns, tls, icmp or push");
    has("monitors[4].token: must be at least 8 characters");
    has("m.yaml:22:14: monitors[5].timeout: (20s) must not exceed interval (10s)");
    has("m.yaml:26:18: monitors[6].conditions[0]: expected a condition");
}

#[test]
fn duplicate_names_and_unknown_maintenance_targets_are_errors() {
    let yaml = "monitors:
  - {name: a, type: push, token: token-aaaa}
  - {name: a, type: push, token: token-aaaa}
maintenance:
  - {name: w, monitors: [zzz], start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}
";
    let errs = config::root::parse(yaml, "m.yaml", &|_| None).expect_err("invalid");
    let text = errs.to_string();
    assert!(text.contains("duplicate monitor name `a`"), "{text}");
    assert!(text.contains("push token already used"), "{text}");
    assert!(text.contains("no monitor named `zzz`"), "{text}");
    // Checks across monitors run even when another monitor has a wrong field: one run of
    // `panoptes check` reports both (a duplicate name used to wait until the rest was fixed).
    let yaml = "monitors:
  - {name: a, type: http, url: \"http://h/\"}
  - {name: b, type: http, url: \"http://h/\", interval: soon}
  - {name: a, type: http, url: \"http://h/\", conditions: [\"[STATUS] === 200\"]}
";
    let errs = config::root::parse(yaml, "m.yaml", &|_| None).expect_err("invalid");
    let lines: Vec<String> = errs.0.iter().map(|e| e.to_string()).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("m.yaml:3:55: monitors[1].interval: expected a duration")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("m.yaml:4:12: monitors[2].name: duplicate monitor name `a`")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "m.yaml:4:58: monitors[2].conditions[0]: expected a condition like `[STATUS] == 200`, found `[STATUS] === 200` (unexpected `=`"
        )),
        "{lines:#?}"
    );
    // A field error in a maintenance window is reported at its field.
    let errs = config::root::parse(
        "maintenance:\n  - {name: bad, at: \"25:00\", duration: 1h}\n",
        "m.yaml",
        &|_| None,
    )
    .expect_err("invalid");
    assert!(
        errs.to_string()
            .contains("maintenance[0].at: expected a time of day"),
        "{errs}"
    );
}

#[test]
fn defaults_fill_in_conditions_and_timeouts() {
    let c = parse(
        "monitors:\n  - {name: a, type: http, url: \"http://h/\", interval: 5s}\n  - {name: d, type: dns, query: x, rcode: nxdomain}\n",
    );
    let a = &c.monitors[0];
    assert_eq!(
        a.timeout,
        config::Duration::secs(5),
        "timeout defaults to min(10s, interval)"
    );
    assert_eq!(a.conditions.len(), 2);
    assert_eq!(
        c.monitors[1].conditions[0].to_string(),
        "[DNS_RCODE] == NXDOMAIN"
    );
    let _ = Arc::new(());
}

/// A Sentry cron check-in names its monitor by slug; only a push monitor that lists the sending
/// project in `check_in_projects` takes it (a DSN key is public: project 8's key must not be
/// able to heartbeat project 7's job).
#[tokio::test(start_paused = true)]
async fn check_ins_reach_only_monitors_that_accept_their_project() {
    let (_dir, e, id) = engine(&format!("{PUSH}    check_in_projects: [7]\n")).await;
    assert_eq!(
        without_time_passing(e.push_by_name(
            7,
            "nightly-backup",
            true,
            Some("cron ok".into()),
            Some(3)
        ))
        .await
        .expect("stored"),
        Some(State::Up)
    );
    assert_eq!(e.get(id).expect("m").last.expect("last").latency_ms, 3);
    assert_eq!(
        without_time_passing(e.push_by_name(8, "nightly-backup", false, None, None))
            .await
            .expect("read"),
        None,
        "another project's check-in is refused"
    );
    assert_eq!(state(&e, id), State::Up);
    assert_eq!(
        without_time_passing(e.push_by_name(7, "no-such-monitor", true, None, None))
            .await
            .expect("read"),
        None
    );
}

/// Every stored result is published once its write committed: a first heartbeat is a
/// transition from UNKNOWN, a repeated one is not; a heartbeat the deadline missed is reported.
#[tokio::test]
async fn results_are_published_after_their_commit() {
    let c = parse(PUSH);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default(), Default::default()).expect("store");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    // Heartbeats in one millisecond are merged; these three are a second apart.
    let clock = crate::clock::ManualClock::new(BASE_MS);
    let e = ProbeEngine::start(
        ProbeDeps {
            store: store.clone(),
            clock: clock.clone(),
            metrics: ProbeMetrics::default(),
            clients: crate::outbound::default_clients(),
            events: Publisher::from_fn(move |ev| sink.lock().expect("lock").push(ev)),
        },
        &c.probing,
        &c.monitors,
        &c.maintenance,
    )
    .await
    .expect("engine");
    let id = e.monitor_ids()[0];
    for (up, latency, msg) in [
        (true, Some(3), None),
        (true, Some(4), None),
        (false, None, Some("disk full".to_string())),
    ] {
        e.push("backup-token-1", up, msg, latency)
            .await
            .expect("stored");
        clock.advance(1000);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.lock().expect("lock").len() < 3 {
        assert!(std::time::Instant::now() < deadline, "events never came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got: Vec<events::Checked> = seen
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|e| match e {
            events::ProbeEvent::Checked(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|c| c.monitor_id == id && &*c.name == "nightly-backup")
    );
    assert_eq!((got[0].previous, got[0].state), (State::Unknown, State::Up));
    assert!(got[0].is_transition());
    assert!(!got[1].is_transition());
    assert_eq!(got[1].latency_ms, 4);
    assert_eq!((got[2].previous, got[2].state), (State::Up, State::Pending));
    assert_eq!(got[2].error.as_deref(), Some("disk full"));
    // Published only after the result was durable: it is in the store now.
    let rows = store.probe_results(id, 0, u64::MAX, 10).expect("results");
    assert_eq!(rows.len(), 3);
    e.stop();
    store.close().await;
}

/// A heartbeat the store refuses changes nothing: not the state, not the last result, not the
/// time of the last push (which a later result's snapshot would otherwise persist).
#[tokio::test(start_paused = true)]
async fn a_heartbeat_the_store_refuses_leaves_no_trace_in_memory() {
    let (_dir, e, id) = engine(PUSH).await;
    // While `close` waits for the writer thread an idle runtime would jump the paused clock to
    // the push deadline, whose result could still reach the closing writer and be stored.
    without_time_passing(e.store().close()).await;
    let refused = without_time_passing(e.push("backup-token-1", true, None, Some(5))).await;
    assert!(refused.is_err(), "the store is closed");
    let v = e.get(id).expect("monitor");
    assert_eq!(v.state, State::Unknown);
    assert!(v.last.is_none(), "{:?}", v.last);
    let m = read(&e.inner.monitors).get(&id).cloned().expect("monitor");
    assert_eq!(lock(&m.rt).last_push_ms, None);
    assert_eq!(
        lock(&m.rt).current[0].1,
        Rollup::default(),
        "no roll-up counted"
    );
}

/// Likewise a scheduled result (here a missed push deadline) that cannot be queued.
#[tokio::test(start_paused = true)]
async fn a_scheduled_result_the_store_refuses_changes_no_state() {
    let (_dir, e, id) = engine(PUSH).await;
    // Closed before the deadline can come: `close` waits for the writer thread, and an idle
    // runtime would meanwhile jump the paused clock to the deadline (this test failed now and
    // then under load, when the missed deadline reached the writer before it stopped).
    without_time_passing(e.store().close()).await;
    tokio::time::advance(Duration::from_secs(91)).await;
    settle().await;
    let v = e.get(id).expect("monitor");
    assert_eq!(
        v.state,
        State::Unknown,
        "the missed deadline was not stored"
    );
    assert!(v.last.is_none());
}

/// More than a thousand heartbeats a second must not move a monitor's time into the future:
/// heartbeats in the millisecond of the previous one are merged into it.
#[tokio::test(start_paused = true)]
async fn a_burst_of_heartbeats_in_one_millisecond_is_merged() {
    let (_dir, e, id) = engine(PUSH).await;
    let now = e.clock().now_ms();
    for _ in 0..1000 {
        let s = without_time_passing(e.push("backup-token-1", true, None, None))
            .await
            .expect("stored");
        assert_eq!(s, Some(State::Up));
    }
    let last = e.get(id).expect("monitor").last.expect("last");
    assert_eq!(last.at_ms, now, "no result is stamped in the future");
    without_time_passing(e.store().write(vec![]))
        .await
        .expect("barrier");
    let rows = e
        .store()
        .probe_results(id, 0, u64::MAX, 10)
        .expect("results");
    assert_eq!(rows.len(), 1, "one stored result for the burst");
    // The next millisecond takes a heartbeat again.
    tokio::time::advance(Duration::from_millis(1)).await;
    let s = without_time_passing(e.push("backup-token-1", false, Some("boom".into()), None))
        .await
        .expect("stored");
    assert_eq!(s, Some(State::Pending));
}

/// A pushed latency is the client's number: a huge one is clamped, never overflowing a sum.
#[tokio::test(start_paused = true)]
async fn a_huge_pushed_latency_is_clamped() {
    let (_dir, e, id) = engine(PUSH).await;
    for _ in 0..3 {
        without_time_passing(e.push("backup-token-1", true, None, Some(u64::MAX)))
            .await
            .expect("stored");
        tokio::time::advance(Duration::from_millis(5)).await;
    }
    let last = e.get(id).expect("monitor").last.expect("last");
    assert_eq!(last.latency_ms, MAX_PUSH_LATENCY_MS);
    without_time_passing(e.store().write(vec![]))
        .await
        .expect("barrier");
    let merged = query::merged(e.store(), id, Resolution::Minute, 0, u64::MAX).expect("rollups");
    assert_eq!(merged.latency_sum_ms, 3 * MAX_PUSH_LATENCY_MS);
}

#[tokio::test(start_paused = true)]
async fn paused_monitors_are_listed_but_assigned_to_no_agent() {
    let (_dir, e, _) = engine(
        "probing: {location: hq}\nmonitors:\n  - {name: a, type: push, token: tok-aaaaaaaa, locations: [eu, hq], enabled: false}\n  - {name: b, type: push, token: tok-bbbbbbbb, locations: [eu, hq]}\n",
    )
    .await;
    let listed: Vec<String> = e
        .monitor_ids()
        .iter()
        .filter_map(|id| e.get(*id).map(|v| v.config.name))
        .collect();
    assert_eq!(listed, ["a", "b"], "a paused monitor stays listed");
    let assigned: Vec<String> = e.assigned("eu").into_iter().map(|m| m.name).collect();
    assert_eq!(assigned, ["b"], "no agent checks a paused monitor");
}
