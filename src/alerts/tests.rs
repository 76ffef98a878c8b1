//! The engine on paused tokio time: `for`, `keep_firing_for`, group wait, interval and repeat,
//! silences, and state that survives a restart, to the millisecond. Deliveries go to a
//! recording transport (the real channels are driven end to end in `tests/alerts/`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::engine::{self, Alerts};
use super::eval::SelfStats;
use super::model::{AlertStatus, Verdict};
use super::outbox::{Outcome, Record, Transport};
use crate::clock::{SharedClock, TokioClock};
use crate::events::{DomainEvent, Event, ProbeEvent};
use crate::probe::events::Checked;
use crate::probe::state::State;
use crate::store::{Store, StoreOptions};
use crate::tasks::Shutdown;

/// 2026-11-23T00:00:00Z.
const BASE_MS: u64 = 1_795_392_000_000;

#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(u64, String, AlertStatus, usize)>>,
    /// (time, the group's `alertname`, status) of each notification.
    named: Mutex<Vec<(u64, String, AlertStatus)>>,
    clock: Mutex<Option<SharedClock>>,
}

impl Transport for Recorder {
    fn send<'a>(
        &'a self,
        _cfg: &'a super::config::AlertsConfig,
        r: &'a Record,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>> {
        let now = self
            .clock
            .lock()
            .expect("lock")
            .as_ref()
            .map_or(0, |c| c.now_ms());
        self.named.lock().expect("lock").push((
            now - BASE_MS,
            r.notification
                .common_labels
                .get("alertname")
                .cloned()
                .unwrap_or_default(),
            r.notification.status,
        ));
        self.sent.lock().expect("lock").push((
            now - BASE_MS,
            r.channel.clone(),
            r.notification.status,
            r.notification.alerts.len(),
        ));
        Box::pin(async {
            Outcome {
                verdict: Verdict::Delivered,
                status: Some(200),
                latency_ms: 0,
            }
        })
    }
}

struct Rig {
    alerts: Alerts,
    events: mpsc::Sender<Event>,
    sent: Arc<Recorder>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

const CONFIG: &str = r#"
monitors:
  - {name: api, type: push, token: api-token-0123456789, interval: 1h}
alerts:
  rules:
    - name: ApiDown
      monitor: {state: down, monitors: [api]}
      for: 1m
      keep_firing_for: 2m
  route: {receiver: web, group_by: [alertname], group_wait: 30s, group_interval: 5m, repeat_interval: 1h}
  receivers:
    - name: web
      webhook_configs: [{url: "http://127.0.0.1:9/hook"}]
"#;

async fn rig(dir: &std::path::Path) -> Rig {
    rig_with(dir, CONFIG, Vec::new()).await
}

/// A rig on `config` over a store that first took `writes` (say, a probe's past roll-ups).
async fn rig_with(dir: &std::path::Path, config: &str, writes: Vec<crate::store::Write>) -> Rig {
    let c = crate::config::root::parse(config, "test.yaml", &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    // No write deadline: on the paused clock it would fire while the writer thread commits.
    let options = StoreOptions {
        write_timeout: None,
        ..Default::default()
    };
    let store = Store::open(dir, options, Default::default()).expect("store");
    if !writes.is_empty() {
        without_time_passing(store.write(writes))
            .await
            .expect("seed writes");
    }
    let clock: SharedClock = TokioClock::new(BASE_MS);
    let sent = Arc::new(Recorder::default());
    *sent.clock.lock().expect("lock") = Some(clock.clone());
    let (tx, rx) = mpsc::channel(1024);
    let (stop, stop_rx) = watch::channel(false);
    let (_cfg_tx, cfg_rx) = watch::channel(Arc::new(c.alerts.clone()));
    // Keep the config sender alive for the rig's life (a closed watch stops the engine).
    std::mem::forget(_cfg_tx);
    let (alerts, tasks) = engine::start(engine::Deps {
        store,
        clock,
        metrics: Default::default(),
        config: cfg_rx,
        events: rx,
        transport: sent.clone(),
        stats: Arc::new(SelfStats::default),
        default_external_url: "http://panoptes.test".into(),
        publish: crate::events::Publisher::discard(),
        shutdown: Shutdown::new(stop_rx),
    })
    .await
    .expect("engine");
    Rig {
        alerts,
        events: tx,
        sent,
        stop,
        tasks,
    }
}

impl Rig {
    async fn checked(&self, state: State) {
        self.checked_as(1, "api", state).await;
    }

    /// A result of monitor `id` named `name`.
    async fn checked_as(&self, id: u32, name: &str, state: State) {
        let now = self.alerts.clock.now_ms();
        let e = DomainEvent::Probe(ProbeEvent::Checked(Checked {
            monitor_id: id,
            name: name.into(),
            group: None,
            labels: Default::default(),
            kind: "push",
            at_ms: now,
            previous: State::Up,
            state,
            ok: state != State::Down,
            latency_ms: 5,
            status: None,
            error: None,
            cert_expires_at_ms: None,
            maintenance: false,
            apdex_t_ms: 500,
            located: false,
        }));
        self.events.send(Arc::new(e)).await.expect("send");
        settle().await;
    }

    fn states(&self) -> Vec<String> {
        let (a, _) = self.alerts.alerts(&Default::default(), None, 100);
        a.iter().map(|a| a.state.as_str().to_string()).collect()
    }

    fn sent(&self) -> Vec<(u64, String, AlertStatus, usize)> {
        self.sent.sent.lock().expect("lock").clone()
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.alerts.store.close().await;
    }
}

/// Awaits `f` (which waits for the store's writer thread) without letting paused time jump.
async fn without_time_passing<F: std::future::Future>(f: F) -> F::Output {
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

/// Lets the engine finish what it is doing without paused time jumping: the store's writer is a
/// thread tokio cannot see, so an idle runtime would auto-advance to the next timer meanwhile.
/// Lets the engine, the outbox and the store's writer thread (real time: it is an OS thread)
/// catch up with the paused clock. 40 ms was not always enough while the whole suite ran on two
/// loaded cores (a notification not yet recorded when checked); 200 ms is.
async fn settle() {
    for _ in 0..1000 {
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_micros(200));
    }
}

async fn at(secs: u64, rig: &Rig) {
    let now = rig.alerts.clock.now_ms() - BASE_MS;
    let target = secs * 1000;
    assert!(target >= now, "time moves forward: {now} -> {target}");
    tokio::time::advance(Duration::from_millis(target - now)).await;
    settle().await;
}

#[tokio::test(start_paused = true)]
async fn for_group_wait_keep_firing_for_and_group_interval_to_the_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = rig(dir.path()).await;
    rig.checked(State::Down).await;
    assert_eq!(rig.states(), ["pending"]);
    at(59, &rig).await;
    assert_eq!(rig.states(), ["pending"], "`for: 1m` holds it pending");
    at(60, &rig).await;
    assert_eq!(rig.states(), ["firing"]);
    at(89, &rig).await;
    assert!(rig.sent().is_empty(), "group_wait: 30s");
    at(90, &rig).await;
    assert_eq!(
        rig.sent(),
        [(90_000, "webhook_configs[0]".into(), AlertStatus::Firing, 1)]
    );
    // Recovers at 100 s; keep_firing_for holds it firing for 2 m.
    at(100, &rig).await;
    rig.checked(State::Up).await;
    at(219, &rig).await;
    assert_eq!(rig.states(), ["firing"]);
    at(220, &rig).await;
    assert!(rig.states().is_empty(), "resolved after keep_firing_for");
    // The resolution waits for the group's next interval: 90 s + 5 m.
    at(389, &rig).await;
    assert_eq!(rig.sent().len(), 1);
    at(390, &rig).await;
    let sent = rig.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1],
        (
            390_000,
            "webhook_configs[0]".into(),
            AlertStatus::Resolved,
            1
        )
    );
    let (history, _) = without_time_passing(super::query::history(&rig.alerts.store, None, 10))
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].rule, "ApiDown");
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn repeats_after_repeat_interval_and_silences_hold_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = rig(dir.path()).await;
    rig.checked(State::Down).await;
    at(60, &rig).await;
    at(90, &rig).await;
    assert_eq!(rig.sent().len(), 1);
    // Flushes every 5 m change nothing until the repeat interval (1 h) passed.
    at(90 + 3300, &rig).await;
    assert_eq!(rig.sent().len(), 1);
    at(90 + 3600, &rig).await;
    assert_eq!(rig.sent().len(), 2, "{:?}", rig.sent());
    // A silence from now on: the next repeat is held back.
    let now = jiff::Timestamp::from_millisecond(rig.alerts.clock.now_ms() as i64).expect("ts");
    let s = without_time_passing(rig.alerts.put_silence(panoptes_types::NewSilence {
        id: None,
        matchers: vec![panoptes_types::SilenceMatcher {
            name: "alertname".into(),
            value: "ApiDown".into(),
            is_regex: false,
            is_equal: true,
        }],
        starts_at: now.to_string(),
        ends_at: (now + jiff::SignedDuration::from_hours(2)).to_string(),
        created_by: "ana".into(),
        comment: "known".into(),
    }))
    .await
    .expect("silence");
    at(90 + 7200, &rig).await;
    assert_eq!(rig.sent().len(), 2, "silenced");
    without_time_passing(rig.alerts.expire_silence(s.id))
        .await
        .expect("expire");
    // Unmuted, it is news again at the next flush.
    at(90 + 7200 + 300, &rig).await;
    assert_eq!(rig.sent().len(), 3, "{:?}", rig.sent());
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_resumes_firing_alerts_without_firing_them_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig1 = rig(dir.path()).await;
    rig1.checked(State::Down).await;
    at(60, &rig1).await;
    at(90, &rig1).await;
    assert_eq!(rig1.sent().len(), 1);
    rig1.stop().await;
    let rig2 = rig(dir.path()).await;
    assert_eq!(
        rig2.states(),
        ["firing"],
        "the alert came back from the store"
    );
    rig2.checked(State::Down).await;
    at(400, &rig2).await;
    assert!(
        rig2.sent().is_empty(),
        "not notified again: {:?}",
        rig2.sent()
    );
    rig2.stop().await;
}

const AVAILABILITY: &str = r#"
monitors:
  - {name: api, type: push, token: api-token-0123456789, interval: 1h}
alerts:
  rules:
    - name: ApiFlaky
      monitor: {state: availability, monitors: [api], window: 10m, below: 99}
  route: {receiver: web, group_by: [alertname], group_wait: 0s}
  receivers:
    - name: web
      webhook_configs: [{url: "http://127.0.0.1:9/hook"}]
"#;

/// The minutes before a (re)start, as the probe engine stored them: `down` of every 10 results
/// down.
fn past_minutes(down: u32) -> Vec<crate::store::Write> {
    use crate::probe::rollup::{Resolution, Rollup};
    use crate::store::probes::ProbeWrite;
    let mut writes = vec![crate::store::Write::Probe(ProbeWrite::AssignIds(vec![(
        "api".into(),
        1,
    )]))];
    for m in 1..=5u64 {
        let mut r = Rollup::default();
        for i in 0..10 {
            let state = if i < down { State::Down } else { State::Up };
            r.add(state, state == State::Up, 5, 500);
        }
        let at = BASE_MS - m * 60_000;
        writes.push(crate::store::Write::Probe(ProbeWrite::Result {
            id: 1,
            at_ms: at,
            record: Vec::new(),
            rollups: vec![(Resolution::Minute as u8, at, r.encode())],
            snapshot: Vec::new(),
        }));
    }
    writes
}

#[tokio::test(start_paused = true)]
async fn windows_start_from_stored_rollups_after_a_restart() {
    // 30 % of the last five minutes were down: one more good result must not hide it.
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = rig_with(dir.path(), AVAILABILITY, past_minutes(3)).await;
    rig.checked(State::Up).await;
    assert_eq!(
        rig.states(),
        ["firing"],
        "availability counts the stored minutes"
    );
    rig.stop().await;
    // The same with a clean past: one good result, nothing fires.
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = rig_with(dir.path(), AVAILABILITY, past_minutes(0)).await;
    rig.checked(State::Up).await;
    assert!(rig.states().is_empty(), "{:?}", rig.states());
    rig.stop().await;
}

const SPIKE: &str = r#"
alerts:
  rules:
    - name: BillingSpike
      exception: {event: increase, increase: 3, window: 5m}
      keep_firing_for: 1m
  route: {receiver: web, group_by: [alertname], group_wait: 0s, group_interval: 1m}
  receivers:
    - name: web
      webhook_configs: [{url: "http://127.0.0.1:9/hook"}]
  evaluation_interval: 15s
"#;

#[tokio::test(start_paused = true)]
async fn a_count_window_alert_resolves_when_the_traffic_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = rig_with(dir.path(), SPIKE, Vec::new()).await;
    let e = DomainEvent::Periskop(crate::events::PeriskopEvent::CountIncreased {
        service: "billing".into(),
        key: "KeyError".into(),
        increase: 10,
        total: 10,
        at_ms: rig.alerts.clock.now_ms(),
    });
    rig.events.send(Arc::new(e)).await.expect("send");
    settle().await;
    assert_eq!(rig.states(), ["firing"]);
    // No event arrives again. The 5 m window holds the increase for its minutes, then the
    // tick finds it empty and `keep_firing_for` (1 m) runs out.
    at(300, &rig).await;
    assert_eq!(
        rig.states(),
        ["firing"],
        "the window still holds the increase"
    );
    // Step by the evaluation interval: one jump would wake the engine once, at its end.
    for t in (315..=405).step_by(15) {
        at(t, &rig).await;
    }
    assert_eq!(rig.states(), ["firing"], "keep_firing_for holds it");
    at(420, &rig).await;
    assert!(rig.states().is_empty(), "resolved: {:?}", rig.states());
    at(540, &rig).await;
    let sent = rig.sent();
    assert_eq!(sent.first().map(|s| s.2), Some(AlertStatus::Firing));
    assert_eq!(
        sent.last().map(|s| s.2),
        Some(AlertStatus::Resolved),
        "{sent:?}"
    );
    rig.stop().await;
}

const INHIBIT: &str = r#"
alerts:
  rules:
    - name: HostDown
      monitor: {state: down, monitors: [host]}
      labels: {host: h1}
    - name: HttpDown
      monitor: {state: down, monitors: [web]}
      labels: {host: h1}
  route: {receiver: web, group_by: [alertname], group_wait: 30s, group_interval: 5m, repeat_interval: 1h}
  receivers:
    - name: web
      webhook_configs: [{url: "http://127.0.0.1:9/hook"}]
  inhibit_rules:
    - {source_matchers: ['alertname="HostDown"'], target_matchers: ['alertname="HttpDown"'], equal: [host]}
"#;

/// A host that is down mutes its HTTP check's alert; once the host is back, the HTTP alert is
/// news at its group's next flush (`group_interval` after the first), not before.
#[tokio::test(start_paused = true)]
async fn inhibition_mutes_while_the_source_fires_and_releases_at_the_next_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = rig_with(dir.path(), INHIBIT, Vec::new()).await;
    rig.checked_as(1, "host", State::Down).await;
    rig.checked_as(2, "web", State::Down).await;
    assert_eq!(rig.states(), ["firing", "firing"]);
    let named = || rig.sent.named.lock().expect("lock").clone();
    at(29, &rig).await;
    assert!(named().is_empty(), "group_wait: 30s");
    at(30, &rig).await;
    assert_eq!(
        named(),
        [(30_000, "HostDown".to_string(), AlertStatus::Firing)],
        "HttpDown is inhibited by HostDown"
    );
    let (alerts, _) = rig.alerts.alerts(&Default::default(), None, 100);
    let http = alerts
        .iter()
        .find(|a| a.labels.get("alertname").map(String::as_str) == Some("HttpDown"))
        .expect("HttpDown listed");
    assert!(http.inhibited, "shown as inhibited");
    // Still muted at the next flushes while the host is down.
    at(330, &rig).await;
    assert_eq!(named().len(), 1, "{:?}", named());
    // The host comes back at 400 s: HostDown resolves, HttpDown is no longer muted, and both
    // groups tell at their next flush (30 s + 2 x 5 m), not at once.
    at(400, &rig).await;
    rig.checked_as(1, "host", State::Up).await;
    at(629, &rig).await;
    assert_eq!(named().len(), 1, "group_interval holds it: {:?}", named());
    at(630, &rig).await;
    let mut got = named();
    got.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    assert_eq!(
        got,
        [
            (30_000, "HostDown".to_string(), AlertStatus::Firing),
            (630_000, "HostDown".to_string(), AlertStatus::Resolved),
            (630_000, "HttpDown".to_string(), AlertStatus::Firing),
        ]
    );
    rig.stop().await;
}
