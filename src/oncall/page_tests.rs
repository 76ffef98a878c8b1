use super::*;
use crate::alerts::model::AlertStatus;

const MIN: u64 = 60_000;
/// 2026-12-04T12:00:00Z, a Friday; the schedule starts that Monday at 09:00 UTC.
const NOW: u64 = 1_796_385_600_000;

fn config() -> OncallConfig {
    let text = r#"
alerts:
  receivers:
    - name: team
      webhook_configs: [{url: "http://127.0.0.1:9/a"}, {url: "http://127.0.0.1:9/b"}]
oncall:
  contacts:
    ana: [{email: ana@example.com}, {ntfy: {topic: ana-pages}, after: 2m}]
    ben: [{email: ben@example.com}]
    chen: [{email: chen@example.com}]
  schedules:
    - name: platform
      layers:
        - {users: [ana, ben, chen], rotation: weekly, handoff: {day: monday, time: "09:00"}, start: 2026-11-30}
  escalation_policies:
    - name: platform
      repeat: 1
      steps:
        - {delay: 0s, targets: [{schedule: platform}]}
        - {delay: 10m, targets: [{schedule_next: platform}]}
        - {delay: 10m, targets: [{schedule_all: platform}, {receiver: team}]}
"#;
    crate::config::root::parse(text, "t.yaml", &|_| None)
        .unwrap_or_else(|e| panic!("{e}"))
        .oncall
}

fn notification() -> Notification {
    Notification {
        receiver: "team".into(),
        group_key: "{}:{alertname=\"ApiDown\"}".into(),
        status: AlertStatus::Firing,
        group_labels: [("alertname".to_string(), "ApiDown".to_string())].into(),
        common_labels: [("alertname".to_string(), "ApiDown".to_string())].into(),
        common_annotations: Default::default(),
        external_url: "http://panoptes.test".into(),
        truncated_alerts: 0,
        alerts: Vec::new(),
    }
}

fn channels(name: &str) -> Vec<String> {
    if name == "team" {
        vec!["webhook_configs[0]".into(), "webhook_configs[1]".into()]
    } else {
        Vec::new()
    }
}

fn pending(p: &Page) -> Vec<(String, String, u64)> {
    p.deliveries
        .iter()
        .filter(|d| d.state == DeliveryState::Pending)
        .map(|d| (d.target.clone(), d.channel.clone(), (d.due_ms - NOW) / 1000))
        .collect()
}

#[test]
fn escalates_step_by_step_until_acknowledged() {
    let c = config();
    let dir = Directory {
        cfg: &c,
        overrides: &[],
        own_contacts: &Default::default(),
        receiver_channels: &channels,
    };
    let policy = c.policy("platform").expect("policy");
    let mut p = Page::open(1, policy, "team", notification(), NOW);
    p.run_steps(policy, &dir, NOW);
    // Ana is on call: e-mail at once, ntfy after 2 minutes.
    assert_eq!(
        pending(&p),
        [
            ("ana@example.com".into(), "email_configs[0]".into(), 0),
            ("ana-pages".into(), "ntfy_configs[0]".into(), 120),
        ]
    );
    assert_eq!(p.due_deliveries(NOW), [0]);
    p.delivered(0, &Verdict::Delivered, NOW);
    assert_eq!(p.next_due(), Some(NOW + 2 * MIN));
    p.run_steps(policy, &dir, NOW + 9 * MIN);
    assert_eq!(p.step, 1, "the second step waits 10 minutes");
    p.run_steps(policy, &dir, NOW + 10 * MIN);
    assert!(
        p.deliveries
            .iter()
            .any(|d| d.user.as_deref() == Some("ben") && d.step == 1),
        "the next on call is paged: {:?}",
        p.deliveries
    );
    assert!(p.acknowledge("ben", "link", NOW + 11 * MIN));
    assert!(
        pending(&p).is_empty(),
        "acknowledging cancels what was not sent"
    );
    assert_eq!(p.next_due(), None);
    p.run_steps(policy, &dir, NOW + 30 * MIN);
    assert_eq!(p.step, 2, "no step after the acknowledgement");
    assert!(
        !p.acknowledge("ana", "link", NOW + 12 * MIN),
        "first to acknowledge wins"
    );
    assert_eq!(p.acknowledged_by.as_deref(), Some("ben"));
    assert!(p.resolve("alert", NOW + 40 * MIN));
    assert!(!p.is_open());
    let kinds: Vec<&str> = p.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "triggered",
            "step",
            "notified",
            "step",
            "acknowledged",
            "resolved"
        ]
    );
}

#[test]
fn repeats_then_exhausts_and_pages_receivers() {
    let c = config();
    let dir = Directory {
        cfg: &c,
        overrides: &[],
        own_contacts: &Default::default(),
        receiver_channels: &channels,
    };
    let policy = c.policy("platform").expect("policy");
    let mut p = Page::open(1, policy, "team", notification(), NOW);
    // Nobody acknowledges for two hours: both rounds run (the repeat waits a minute).
    for m in 0..120 {
        p.run_steps(policy, &dir, NOW + m * MIN);
    }
    assert_eq!(p.round, 1);
    assert_eq!(p.next_step_ms, None);
    let steps = p
        .timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Step)
        .count();
    assert_eq!(steps, 6);
    assert_eq!(
        p.timeline.last().map(|e| e.kind.as_str()),
        Some("exhausted")
    );
    // Step 3 pages everyone and both of the receiver's channels.
    let step3: Vec<&str> = p
        .deliveries
        .iter()
        .filter(|d| d.step == 2)
        .map(|d| d.channel.as_str())
        .collect();
    // Both rounds: ana (two methods), ben, chen and the receiver's two channels, twice.
    assert_eq!(step3.len(), 2 * (2 + 1 + 1 + 2), "{step3:?}");
}

#[test]
fn retries_back_off_then_fail() {
    let c = config();
    let dir = Directory {
        cfg: &c,
        overrides: &[],
        own_contacts: &Default::default(),
        receiver_channels: &channels,
    };
    let policy = c.policy("platform").expect("policy");
    let mut p = Page::open(1, policy, "team", notification(), NOW);
    p.run_steps(policy, &dir, NOW);
    let retry = Verdict::Retry {
        after_ms: None,
        reason: "connection refused".into(),
    };
    let mut now = NOW;
    for _ in 0..MAX_ATTEMPTS {
        p.delivered(0, &retry, now);
        now = p.deliveries[0].due_ms;
    }
    assert_eq!(p.deliveries[0].state, DeliveryState::Failed);
    assert_eq!(p.deliveries[0].attempts, MAX_ATTEMPTS);
    assert!(p.timeline.iter().any(|e| e.kind == TimelineKind::Failed));
}
