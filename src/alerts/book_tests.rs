//! The ledger with real rules and templates: annotations that link back to the dashboard, and
//! the built-in `PanoptesNotificationDead` alert routed like any other. Time is a parameter.

use serde_json::json;

use super::book::Book;
use super::channels::receiver_channels;
use super::config::AlertsConfig;
use super::engine::annotate;
use super::eval::{Evaluator, Observation};
use super::rules::effective;

const NOW: u64 = 1_795_392_000_000;

fn book(cfg: &AlertsConfig) -> Book {
    Book::new(
        cfg,
        receiver_channels(&cfg.receivers),
        "https://panoptes.example.com".into(),
    )
}

#[test]
fn annotations_link_back_to_the_dashboard() {
    let cfg: AlertsConfig = super::decode(
        r#"
rules:
  - name: ApiDown
    monitor: {state: down}
    annotations:
      summary: "{{ .Monitor }} is down"
      dashboard: "{{ .Link }}"
      generator: "{{ .GeneratorURL }}"
"#,
    );
    let mut b = book(&cfg);
    let obs = Observation {
        rule: 0,
        base: Default::default(),
        source: [("monitor".to_string(), "api".to_string())].into(),
        active: true,
        momentary: false,
        value: "DOWN".into(),
        context: json!({"Monitor": "api", "State": "DOWN"}),
        link: "/monitors/3".into(),
    };
    b.observe(vec![obs], NOW, &annotate);
    let i = b.instances.values().next().expect("an alert");
    assert_eq!(i.annotations["summary"], "api is down");
    assert_eq!(
        i.annotations["dashboard"],
        "https://panoptes.example.com/monitors/3"
    );
    assert_eq!(i.annotations["generator"], i.generator_url);
}

#[test]
fn a_dead_delivery_fires_the_built_in_alert_through_the_root_route() {
    let cfg: AlertsConfig = super::decode(
        r#"
route: {receiver: ops, group_wait: 0s}
receivers:
  - name: web
    webhook_configs: [{url: "http://127.0.0.1:9/hook"}]
  - name: ops
    webhook_configs: [{url: "http://127.0.0.1:9/ops"}]
"#,
    );
    let eval = Evaluator::new(effective(&cfg.rules));
    let mut b = book(&cfg);
    let obs = eval.notification_dead("web", "webhook_configs[0]", "HTTP 500: down", &[]);
    b.observe(obs, NOW, &annotate);
    b.flush(NOW);
    let queued = b.take_dirty().queued;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].receiver, "ops");
    let a = &queued[0].notification.alerts[0];
    assert_eq!(a.labels["alertname"], "PanoptesNotificationDead");
    assert_eq!(a.labels["receiver"], "web");
    assert_eq!(a.labels["channel"], "webhook_configs[0]");
    assert_eq!(a.labels["severity"], "critical");
    assert_eq!(
        a.annotations["summary"],
        "A notification to web (webhook_configs[0]) was given up"
    );
    assert_eq!(a.annotations["description"], "HTTP 500: down");
}

/// A monitor's labels join its alerts' labels; the rule's own labels override them, as a
/// Prometheus rule's labels override its series' labels.
#[test]
fn monitor_labels_join_the_alert_and_the_rule_labels_win() {
    let cfg: AlertsConfig = super::decode(
        r#"
rules:
  - name: ApiDown
    monitor: {state: down}
    labels: {team: web}
"#,
    );
    let rule = &cfg.rules[0];
    let pairs = |p: &[(&str, &str)]| -> super::model::Labels {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let got = Book::alert_labels(
        rule,
        &pairs(&[("team", "payments"), ("tier", "1")]),
        &pairs(&[("monitor", "api")]),
    );
    assert_eq!(
        got,
        pairs(&[
            ("alertname", "ApiDown"),
            ("monitor", "api"),
            ("team", "web"),
            ("tier", "1")
        ])
    );
}
