//! Counted windows re-checked by the tick (an alert over a window resolves once the traffic
//! stops), and the built-in dead-notification alert with its loop guard. Time is a parameter.

use super::*;
use crate::events::{PeriskopEvent, SentryEvent};
use crate::probe::events::Checked;
use crate::sentry::events::IssueFacts;

const T0: u64 = 1_795_392_000_000;

fn rules(src: &str) -> Vec<RuleConfig> {
    crate::alerts::decode::<Vec<RuleConfig>>(src)
}

fn events(issue_id: u64, count: u64) -> DomainEvent {
    DomainEvent::Sentry(SentryEvent::EventsAccepted {
        issue: IssueFacts {
            project: 7,
            issue_id,
            title: "Timeout".into(),
            culprit: "checkout".into(),
            level: "error".into(),
            platform: "python".into(),
        },
        count,
        new_users: count,
        environments: Vec::new(),
        releases: Vec::new(),
        tags: Vec::new(),
        at_ms: T0,
    })
}

fn created(tags: &[(&str, &str)]) -> DomainEvent {
    DomainEvent::Sentry(SentryEvent::IssueCreated {
        issue: IssueFacts {
            project: 7,
            issue_id: 1,
            title: "Timeout".into(),
            culprit: "checkout".into(),
            level: "error".into(),
            platform: "python".into(),
        },
        environments: Vec::new(),
        releases: Vec::new(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        at_ms: T0,
    })
}

#[test]
fn tag_matchers_select_new_issues_by_their_batch_tags() {
    let mut e = Evaluator::new(rules(
        r#"
- {name: ChromeAcme, issue: {event: new, tags: ['browser=~"Chrome.*"', 'customer="acme"']}}
- {name: NoCustomer, issue: {event: new, tags: ['customer=""']}}
- {name: NotWeb1, issue: {event: new, tags: ['server_name!="web-1"', 'browser.name="Chrome"']}}
"#,
    ));
    let mut fired = |t: &[(&str, &str)]| -> Vec<usize> {
        e.on_event(&created(t), T0).iter().map(|o| o.rule).collect()
    };
    assert_eq!(
        fired(&[("browser", "Chrome 120.0"), ("customer", "acme")]),
        [0]
    );
    assert!(fired(&[("browser", "Firefox 121.0"), ("customer", "acme")]).is_empty());
    // A tag the event lacks is the empty value.
    assert_eq!(fired(&[("browser", "Chrome 1")]), [1]);
    // In a batch of several events, a matcher holds when one of their values does.
    assert_eq!(
        fired(&[
            ("browser", "Chrome 2"),
            ("browser", "Firefox 3"),
            ("customer", "acme")
        ]),
        [0]
    );
    assert_eq!(
        fired(&[
            ("browser.name", "Chrome"),
            ("customer", "x"),
            ("server_name", "web-2")
        ]),
        [2]
    );
    assert!(
        fired(&[
            ("browser.name", "Chrome"),
            ("customer", "x"),
            ("server_name", "web-1")
        ])
        .is_empty()
    );
}

fn checked(id: u32, name: &str, group: Option<&str>, labels: &[(&str, &str)]) -> DomainEvent {
    use crate::probe::state::State;
    DomainEvent::Probe(ProbeEvent::Checked(Checked {
        monitor_id: id,
        name: name.into(),
        group: group.map(Into::into),
        labels: std::sync::Arc::new(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        kind: "http",
        at_ms: T0,
        previous: State::Up,
        state: State::Down,
        ok: false,
        latency_ms: 5,
        status: Some(500),
        error: None,
        cert_expires_at_ms: None,
        maintenance: false,
        apdex_t_ms: 500,
        located: false,
    }))
}

#[test]
fn monitor_rules_select_by_labels_and_bring_them_to_the_alert() {
    let mut e = Evaluator::new(rules(
        r#"
- {name: PaymentsDown, monitor: {state: down, matchers: ['team="payments"']}}
- {name: WebTopDown, monitor: {state: down, groups: [web], matchers: ['tier=~"1|2"']}}
"#,
    ));
    let mut fired = |ev: DomainEvent| -> Vec<(usize, Vec<String>)> {
        e.on_event(&ev, T0)
            .iter()
            .map(|o| {
                let base = o.base.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (o.rule, base)
            })
            .collect()
    };
    assert_eq!(
        fired(checked(
            1,
            "pay",
            None,
            &[("team", "payments"), ("tier", "1")]
        )),
        [(0, vec!["team=payments".to_string(), "tier=1".to_string()])]
    );
    assert_eq!(
        fired(checked(2, "shop", Some("web"), &[("tier", "2")])),
        [(1, vec!["tier=2".to_string()])]
    );
    assert!(fired(checked(3, "blog", Some("web"), &[("tier", "3")])).is_empty());
    assert!(fired(checked(4, "api", Some("web"), &[])).is_empty());
}

#[test]
fn a_bad_tag_matcher_is_an_error_at_its_line() {
    let src =
        "alerts:\n  rules:\n    - name: A\n      issue: {event: new, tags: ['bad key=\"x\"']}\n";
    let err = crate::config::root::parse(src, "t.yaml", &|_| None)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("t.yaml:4")
            && err.contains("alerts.rules[0].issue.tags[0]")
            && err.contains("tag key"),
        "{err}"
    );
}

fn increased(key: &str, increase: u64) -> DomainEvent {
    DomainEvent::Periskop(PeriskopEvent::CountIncreased {
        service: "billing".into(),
        key: key.into(),
        increase,
        total: increase,
        at_ms: T0,
    })
}

/// (rule, source labels, active) of each observation.
fn seen(obs: &[Observation]) -> Vec<(usize, Vec<String>, bool)> {
    obs.iter()
        .map(|o| {
            let l = o.source.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (o.rule, l, o.active)
        })
        .collect()
}

#[test]
fn a_tick_reports_counted_windows_inactive_once_their_traffic_stopped() {
    let mut e = Evaluator::new(rules(
        r#"
- {name: Hot, issue: {event: frequency, count: 5, window: 10m}}
- {name: Crowd, issue: {event: users, users: 5, window: 10m}}
- {name: Busy, issue: {event: rate, per_minute: 1, window: 2m}}
- {name: Spike, exception: {event: increase, increase: 3, window: 5m}}
"#,
    ));
    let mut obs = e.on_event(&events(42, 10), T0);
    obs.extend(e.on_event(&increased("KeyError", 4), T0));
    let issue = vec!["issue=42".to_string(), "project=7".to_string()];
    let key = vec!["key=KeyError".to_string(), "service=billing".to_string()];
    assert_eq!(
        seen(&obs),
        [
            (0, issue.clone(), true),
            (1, issue.clone(), true),
            (2, vec!["project=7".to_string()], true),
            (3, key.clone(), true),
        ]
    );
    // Four minutes on without an event: the rate's 2 m window emptied, the others hold and
    // keep their labels and value.
    let obs = e.tick(T0 + 4 * MINUTE, SelfStats::default());
    assert_eq!(seen(&obs).into_iter().filter(|o| o.2).count(), 3, "{obs:?}");
    assert!(seen(&obs).contains(&(2, vec!["project=7".to_string()], false)));
    let hot = obs
        .iter()
        .find(|o| o.rule == 0)
        .expect("frequency re-checked");
    assert_eq!(hot.value, "10 events in 10m");
    assert_eq!(hot.context["Title"], "Timeout");
    assert_eq!(hot.link, "/issues/42");
    // The increase's 5 m window is over: inactive, so its alert resolves.
    let obs = e.tick(T0 + 7 * MINUTE, SelfStats::default());
    assert!(seen(&obs).contains(&(3, key, false)), "{obs:?}");
    let obs = e.tick(T0 + 12 * MINUTE, SelfStats::default());
    assert!(seen(&obs).contains(&(0, issue.clone(), false)), "{obs:?}");
    assert!(seen(&obs).contains(&(1, issue, false)), "{obs:?}");
    // Reported inactive once, then forgotten: later ticks say nothing.
    assert!(e.tick(T0 + 13 * MINUTE, SelfStats::default()).is_empty());
    assert!(e.series.is_empty());
}

#[test]
fn a_window_below_its_threshold_is_not_reported_by_ticks() {
    let mut e = Evaluator::new(rules(
        "- {name: Hot, issue: {event: frequency, count: 5, window: 10m}}",
    ));
    let obs = e.on_event(&events(42, 2), T0);
    assert_eq!(seen(&obs).len(), 1);
    assert!(!obs[0].active);
    assert!(e.tick(T0 + MINUTE, SelfStats::default()).is_empty());
}

#[test]
fn a_dead_delivery_raises_the_built_in_alert_but_not_about_itself() {
    let e = Evaluator::new(crate::alerts::rules::effective(&[]));
    let obs = e.notification_dead("web", "webhook_configs[0]", "HTTP 500", &["ApiDown".into()]);
    assert_eq!(obs.len(), 1);
    assert_eq!(e.rules()[obs[0].rule].name, "PanoptesNotificationDead");
    assert_eq!(
        seen(&obs)[0].1,
        ["channel=webhook_configs[0]", "receiver=web"]
    );
    assert!(obs[0].active && obs[0].momentary);
    assert_eq!(obs[0].context["Receiver"], "web");
    // The notification that died carried only dead-notification alerts: raising another would
    // send it to the same broken channel, for ever.
    let about_itself = ["PanoptesNotificationDead".to_string()];
    assert!(
        e.notification_dead("web", "webhook_configs[0]", "HTTP 500", &about_itself)
            .is_empty()
    );
    // A rule of that name replaces the built-in one.
    let own = rules(
        "- {name: PanoptesNotificationDead, panoptes: {event: notification_dead}, severity: warning}",
    );
    let all = crate::alerts::rules::effective(&own);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].severity.as_deref(), Some("warning"));
}

#[test]
fn monitor_labels_are_checked_at_their_line() {
    let src = "monitors:\n  - name: a\n    type: push\n    token: tok-0123456789\n    labels:\n      team: payments\n      9lives: x\n      monitor: y\n";
    let errs = crate::config::root::parse(src, "t.yaml", &|_| None)
        .expect_err("refused")
        .0;
    let got: Vec<String> = errs
        .iter()
        .map(|e| format!("{}:{}", e.line, e.path))
        .collect();
    assert_eq!(
        got,
        [
            "7:monitors[0].labels.9lives",
            "8:monitors[0].labels.monitor"
        ],
        "{errs:?}"
    );
    let ok = "monitors:\n  - {name: a, type: push, token: tok-0123456789, labels: {team: payments, tier: \"1\"}}\n";
    let c = crate::config::root::parse(ok, "t.yaml", &|_| None).expect("valid");
    assert_eq!(c.monitors[0].labels["tier"], "1");
}
