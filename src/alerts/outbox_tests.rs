//! The outbox's pure parts: retries, backoff and death, `Retry-After`, recovery after a
//! restart, pacing.

use super::*;

fn record(channel: &str) -> Record {
    Record {
        id: 1,
        receiver: "web".into(),
        channel: channel.into(),
        notification: Notification {
            receiver: "web".into(),
            group_key: "{}:{}".into(),
            status: super::super::model::AlertStatus::Firing,
            group_labels: Default::default(),
            common_labels: Default::default(),
            common_annotations: Default::default(),
            external_url: String::new(),
            truncated_alerts: 0,
            alerts: Vec::new(),
        },
        escalation_policy: None,
        created_ms: 0,
        state: DeliveryState::Queued,
        next_attempt_ms: 0,
        attempt_count: 0,
        attempts: Vec::new(),
        finished_ms: None,
    }
}

fn out(v: Verdict) -> Outcome {
    Outcome {
        verdict: v,
        status: None,
        latency_ms: 3,
    }
}

#[test]
fn retries_back_off_then_die() {
    let d = DeliveryConfig::defaults(); // 1 s doubling to 300 s, dead after 1 h
    let mut r = record("webhook_configs[0]");
    let retry = || {
        out(Verdict::Retry {
            after_ms: None,
            reason: "500".into(),
        })
    };
    r.settle(&retry(), 0, &d);
    assert_eq!((r.state, r.next_attempt_ms), (DeliveryState::Queued, 1_000));
    r.settle(&retry(), 1_000, &d);
    assert_eq!(r.next_attempt_ms, 3_000);
    r.settle(&retry(), 3_000, &d);
    assert_eq!(r.next_attempt_ms, 7_000);
    for _ in 0..20 {
        let now = r.next_attempt_ms;
        r.settle(&retry(), now, &d);
    }
    assert!(r.attempts.len() <= d.max_attempts_kept);
    assert_eq!(r.attempts[0].at_ms, 0, "the first attempt is kept");
    assert!(r.next_attempt_ms - r.attempts.last().map_or(0, |a| a.at_ms) <= 300_000);
    let mut now = r.next_attempt_ms;
    while r.state == DeliveryState::Queued {
        r.settle(&retry(), now, &d);
        now = r.next_attempt_ms.max(now + 1);
    }
    assert_eq!(r.state, DeliveryState::Dead);
    assert!(r.finished_ms.is_some_and(|f| f <= 3_600_000));
}

#[test]
fn retry_after_is_honoured_and_4xx_fails_at_once() {
    let d = DeliveryConfig::defaults();
    let mut r = record("slack_configs[0]");
    r.settle(
        &out(Verdict::Retry {
            after_ms: Some(7_000),
            reason: "429".into(),
        }),
        100,
        &d,
    );
    assert_eq!(r.next_attempt_ms, 7_100);
    r.settle(
        &out(Verdict::Failed {
            reason: "400 bad".into(),
        }),
        7_100,
        &d,
    );
    assert_eq!(r.state, DeliveryState::Failed);
    assert_eq!(r.attempt_count, 2);
}

#[test]
fn interrupted_deliveries_resend_only_where_the_receiver_deduplicates() {
    let mut a = record("webhook_configs[0]");
    a.state = DeliveryState::Sending;
    let mut b = record("pagerduty_configs[0]");
    b.state = DeliveryState::Sending;
    let c = record("email_configs[0]");
    let (resume, settled) = recover(vec![a, b, c], 5);
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].state, DeliveryState::Uncertain);
    assert_eq!(settled[0].channel, "webhook_configs[0]");
    let chans: Vec<&str> = resume.iter().map(|r| r.channel.as_str()).collect();
    assert_eq!(chans, ["pagerduty_configs[0]", "email_configs[0]"]);
    assert!(resume.iter().all(|r| r.state == DeliveryState::Queued));
}

#[test]
fn the_pacer_spreads_a_burst() {
    let mut p = Pacer::default();
    for _ in 0..2 {
        assert!(p.take("a", 0, 2).is_ok());
    }
    assert_eq!(p.take("a", 0, 2), Err(500));
    assert!(p.take("b", 0, 2).is_ok(), "per channel");
    assert!(p.take("a", 500, 2).is_ok());
}
