//! The engine on paused tokio time, to the millisecond and without sleeping: the first step
//! pages whoever is on call, nobody answers, the next step goes out exactly after its delay,
//! the acknowledge link in that message stops the escalation, and a policy nobody answers runs
//! once more (`repeat`) before it is exhausted. Messages go to a recording transport.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::alerts::model::{Alert, Notification};
use crate::alerts::outbox::{self, Outcome};
use crate::clock::TokioClock;
use crate::oncall::ack::verify_ack;
use crate::oncall::events::{OncallEvent, PageChange};
use crate::oncall::page::PageStatus;

/// 2026-11-23T00:00:00Z, a Monday: Ana's turn (since the 16th, 09:00) ends at 09:00 today.
const BASE_MS: u64 = 1_795_392_000_000;
const MIN: u64 = 60_000;

const CONFIG: &str = r#"
alerts:
  receivers:
    - name: team
      webhook_configs: [{url: "http://127.0.0.1:9/team"}]
oncall:
  contacts:
    ana: [{email: ana@example.com}]
    ben: [{email: ben@example.com}]
    chen: [{email: chen@example.com}]
  schedules:
    - name: platform
      layers:
        - {users: [ana, ben, chen], rotation: weekly, handoff: {day: monday, time: "09:00"}, start: 2026-11-16}
  escalation_policies:
    - name: platform
      repeat: 1
      steps:
        - {delay: 0s, targets: [{schedule: platform}]}
        - {delay: 10m, targets: [{schedule_next: platform}]}
        - {delay: 10m, targets: [{schedule_all: platform}, {receiver: team}]}
"#;

/// One message: minutes after `BASE_MS`, the receiver it went to, its acknowledge token.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    minute: u64,
    receiver: String,
    token: String,
}

struct Recorder {
    clock: SharedClock,
    sent: Mutex<Vec<Sent>>,
}

impl Transport for Recorder {
    fn send<'a>(
        &'a self,
        _cfg: &'a AlertsConfig,
        r: &'a Record,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>> {
        let url = r
            .notification
            .common_annotations
            .get("ack_url")
            .cloned()
            .unwrap_or_default();
        let token = url.rsplit('/').next().unwrap_or_default().to_string();
        let elapsed = self.clock.now_ms() - BASE_MS;
        assert_eq!(
            elapsed % 1000,
            0,
            "sent between whole seconds: {elapsed} ms"
        );
        self.sent.lock().expect("lock").push(Sent {
            minute: elapsed / MIN,
            receiver: r.receiver.clone(),
            token,
        });
        Box::pin(async {
            Outcome {
                verdict: Verdict::Delivered,
                status: Some(200),
                latency_ms: 0,
            }
        })
    }
}

/// Awaits `f` while keeping the runtime busy. Store writes finish on a thread tokio cannot
/// see; an idle runtime would meanwhile move paused time on to the engine's next timer.
async fn busy<F: std::future::Future>(f: F) -> F::Output {
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

/// Keeps the runtime busy (paused time stands still) for `real` wall-clock time, or until
/// `ok` holds; returns whether it held.
async fn spin_until(real: Duration, ok: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + real;
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    ok()
}

struct Rig {
    _dir: tempfile::TempDir,
    oncall: Oncall,
    clock: SharedClock,
    rec: Arc<Recorder>,
    /// Every page change published, in order.
    changes: Arc<Mutex<Vec<(u64, PageChange)>>>,
}

impl Rig {
    async fn start() -> Rig {
        let c = crate::config::root::parse(CONFIG, "t.yaml", &|_| None)
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().expect("tempdir");
        // No write deadline: on the paused clock it would fire while the writer thread commits.
        let options = crate::store::StoreOptions {
            write_timeout: None,
            ..Default::default()
        };
        let store = Store::open(dir.path(), options, Default::default()).expect("store");
        let clock: SharedClock = TokioClock::new(BASE_MS);
        let rec = Arc::new(Recorder {
            clock: clock.clone(),
            sent: Mutex::new(Vec::new()),
        });
        let (_, config) = watch::channel(Arc::new(Settings {
            oncall: c.oncall,
            alerts: c.alerts,
        }));
        let changes = Arc::new(Mutex::new(Vec::new()));
        let seen = changes.clone();
        let events = crate::events::Publisher::from_fn(move |e: OncallEvent| {
            let OncallEvent::Page {
                page_id, change, ..
            } = e;
            seen.lock().expect("lock").push((page_id, change));
        });
        let deps = Deps {
            store,
            clock: clock.clone(),
            config,
            transport: rec.clone(),
            default_external_url: "http://panoptes.test".into(),
            shutdown: Shutdown::never(),
        };
        let (oncall, _task) = busy(start_publishing(deps, events)).await.expect("engine");
        Rig {
            _dir: dir,
            oncall,
            clock,
            rec,
            changes,
        }
    }

    /// The page's changes published so far, repeats of `Updated` merged.
    fn changes(&self, id: u64) -> Vec<PageChange> {
        let mut out: Vec<PageChange> = Vec::new();
        for (page, c) in self.changes.lock().expect("lock").iter() {
            if *page == id && !(*c == PageChange::Updated && out.last() == Some(c)) {
                out.push(*c);
            }
        }
        out
    }

    fn sent(&self) -> Vec<Sent> {
        self.rec.sent.lock().expect("lock").clone()
    }

    /// (minute, receiver) of every message so far.
    fn log(&self) -> Vec<(u64, String)> {
        self.sent()
            .into_iter()
            .map(|s| (s.minute, s.receiver))
            .collect()
    }

    /// Moves paused time to `minute:second` after `BASE_MS`; returns what was sent by then
    /// (waiting for the messages `expect` says are due, and a moment for any that are not).
    async fn at(&self, minute: u64, second: u64, expect: usize) -> Vec<(u64, String)> {
        let target = BASE_MS + minute * MIN + second * 1000;
        let now = self.clock.now_ms();
        assert!(target >= now, "time runs forward");
        tokio::time::advance(Duration::from_millis(target - now)).await;
        let ok = spin_until(Duration::from_secs(10), || self.sent().len() >= expect).await;
        assert!(
            ok,
            "expected {expect} messages by {minute}m{second}s: {:?}",
            self.log()
        );
        // Whatever else would go out now has gone out by then.
        spin_until(Duration::from_millis(100), || false).await;
        self.log()
    }

    async fn fire(&self, group: &str) -> u64 {
        let alert = Alert {
            fingerprint: "0123456789abcdef".into(),
            status: AlertStatus::Firing,
            labels: [("alertname".to_string(), group.to_string())].into(),
            annotations: Default::default(),
            starts_at_ms: self.clock.now_ms(),
            ends_at_ms: None,
            generator_url: String::new(),
        };
        let n = Notification {
            receiver: "team".into(),
            group_key: format!("{{}}:{{alertname=\"{group}\"}}"),
            status: AlertStatus::Firing,
            group_labels: alert.labels.clone(),
            common_labels: alert.labels.clone(),
            common_annotations: Default::default(),
            external_url: "http://panoptes.test".into(),
            truncated_alerts: 0,
            alerts: vec![alert],
        };
        let now = self.clock.now_ms();
        let r = Record {
            id: 1,
            receiver: "team".into(),
            channel: PAGE_CHANNEL.into(),
            notification: n,
            escalation_policy: Some("platform".into()),
            created_ms: now,
            state: outbox::DeliveryState::Queued,
            next_attempt_ms: now,
            attempt_count: 0,
            attempts: Vec::new(),
            finished_ms: None,
        };
        assert_eq!(busy(self.oncall.hand_off(r)).await, Verdict::Delivered);
        let open = read(&self.oncall.shared).open.keys().copied().max();
        open.expect("a page opened")
    }

    /// Acknowledges through the link of the last message to `receiver`, as its holder would.
    async fn ack_from(&self, receiver: &str) -> String {
        let sent = self.sent();
        let token = &sent
            .iter()
            .rev()
            .find(|s| s.receiver == receiver)
            .unwrap_or_else(|| panic!("no message to {receiver}"))
            .token;
        let claim = verify_ack(self.oncall.key(), token, self.clock.now_ms()).expect("valid link");
        let (p, acked) = busy(self.oncall.acknowledge(claim.page, &claim.user, "link"))
            .await
            .expect("acknowledge");
        assert!(acked);
        p.acknowledged_by.unwrap_or_default()
    }
}

fn msgs(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|(m, r)| (*m, r.to_string())).collect()
}

#[tokio::test(start_paused = true)]
async fn steps_run_on_time_and_the_acknowledge_link_stops_them() {
    let rig = Rig::start().await;
    let id = rig.fire("ApiDown").await;
    // Step 1 at once: Ana is on call.
    assert_eq!(rig.at(0, 0, 1).await, msgs(&[(0, "oncall:ana")]));
    // Nobody answers. Step 2 waits its 10 minutes to the second, then pages who is next.
    assert_eq!(rig.at(9, 59, 1).await.len(), 1, "step 2 is not early");
    assert_eq!(
        rig.at(10, 0, 2).await,
        msgs(&[(0, "oncall:ana"), (10, "oncall:ben")])
    );
    // Ben acknowledges from his message a minute later: step 3 (everyone, 10 minutes after
    // step 2) never goes out, nor does the repeat.
    rig.at(11, 0, 2).await;
    assert_eq!(rig.ack_from("oncall:ben").await, "ben");
    assert_eq!(rig.at(20, 0, 2).await.len(), 2, "no step 3");
    assert_eq!(rig.at(90, 0, 2).await.len(), 2, "no repeat");
    let p = rig.oncall.page(id).expect("read").expect("page");
    assert_eq!(p.status, PageStatus::Acknowledged);
    assert_eq!(p.next_step_at, None);
    let kinds: Vec<&str> = p.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "triggered",
            "step",
            "notified",
            "step",
            "notified",
            "acknowledged"
        ]
    );
    // Each change was published once stored: opened, its first step (and the outcomes of
    // deliveries) as updates, the second step as an escalation, then the acknowledgement.
    use PageChange::*;
    assert_eq!(
        rig.changes(id),
        [Created, Updated, Escalated, Updated, Acknowledged]
    );
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_policy_repeats_then_stops_and_a_team_link_acknowledges() {
    let rig = Rig::start().await;
    let id = rig.fire("DiskFull").await;
    let everyone = ["oncall:ana", "oncall:ben", "oncall:chen", "team"];
    // Each step's delay counts from the step before it, so time moves through each of them.
    assert_eq!(rig.at(0, 0, 1).await.len(), 1);
    assert_eq!(rig.at(10, 0, 2).await.len(), 2);
    let mut want = vec![(0, "oncall:ana"), (10, "oncall:ben")];
    want.extend(everyone.iter().map(|r| (20, *r)));
    assert_eq!(rig.at(20, 0, want.len()).await.len(), want.len());
    // The repeat waits at least a minute after the last step (the first step's delay is 0).
    assert_eq!(
        rig.at(20, 59, want.len()).await.len(),
        want.len(),
        "not early"
    );
    want.push((21, "oncall:ana"));
    assert_eq!(rig.at(21, 0, want.len()).await.len(), want.len());
    want.push((31, "oncall:ben"));
    assert_eq!(rig.at(31, 0, want.len()).await.len(), want.len());
    want.extend(everyone.iter().map(|r| (41, *r)));
    // Then nothing more: `repeat: 1` runs the policy twice.
    let mut got = rig.at(41, 0, want.len()).await;
    assert_eq!(
        rig.at(180, 0, want.len()).await.len(),
        want.len(),
        "exhausted"
    );
    // Messages of the same minute go out together, in no set order.
    got.sort();
    let mut want = msgs(&want);
    want.sort();
    assert_eq!(got, want);
    let p = rig.oncall.page(id).expect("read").expect("page");
    assert_eq!((p.round, p.next_step_at.as_deref()), (1, None));
    let count = |kind: &str| {
        p.timeline
            .iter()
            .filter(|e| e.kind.as_str() == kind)
            .count()
    };
    assert_eq!(
        (count("step"), count("repeat"), count("exhausted")),
        (6, 1, 1)
    );
    // The message to the team's channel carries a link too; it acknowledges as the receiver.
    assert_eq!(rig.ack_from("team").await, "team");
    let p = rig.oncall.page(id).expect("read").expect("page");
    assert_eq!(p.status, PageStatus::Acknowledged);
    assert_eq!(p.acknowledged_by.as_deref(), Some("team"));
}
