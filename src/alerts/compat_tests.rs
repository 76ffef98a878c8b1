//! A real Alertmanager configuration pastes in: its keys parse, the ones Panoptes honours
//! change what is sent, the rest are listed as warnings. Also the `template:` body of chat
//! channels.

use serde_json::Value;

use super::compat::ignored;
use super::config::AlertsConfig;
use super::model::{Alert, AlertStatus, Delivery, HttpRequest, Labels, Notification};
use super::notify::{attempt_timeout, render};
use super::routing::{Inhibition, inhibited};

/// An Alertmanager configuration as teams run it, under `alerts:`; `URL_FILE` is replaced.
const ALERTMANAGER: &str = r#"
global:
  resolve_timeout: 5m
  smtp_smarthost: 'smtp.example.com:587'
  smtp_from: 'alertmanager@example.com'
  slack_api_url: 'https://hooks.slack.com/services/T000/B000/XXXX'
templates:
  - '/etc/alertmanager/templates/*.tmpl'
route:
  receiver: team-web
  group_by: ['alertname', 'cluster']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - match_re: {service: '^(foo1|foo2|baz)$'}
      receiver: team-web
      mute_time_intervals: [offhours]
      active_time_intervals: [business]
inhibit_rules:
  - source_match: {severity: critical}
    target_match: {severity: warning}
    equal: [alertname, cluster]
  - source_match_re: {alertname: 'Host.*Down'}
    target_match_re: {alertname: 'Http.*'}
    equal: [host]
time_intervals:
  - name: offhours
    time_intervals:
      - times: [{start_time: '18:00', end_time: '24:00'}]
receivers:
  - name: team-web
    email_configs:
      - to: 'web@example.com'
        auth_identity: 'alertmanager'
        html: '<b>{{ .Status }}</b>{{ range .Alerts }} {{ .Labels.alertname }}{{ end }}'
        text: '{{ .Status }}: {{ .CommonLabels.alertname }}'
    slack_configs:
      - channel: '#web'
        color: '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
        icon_emoji: ':fire:'
        title_link: '{{ .ExternalURL }}/runbooks'
        send_resolved: true
    webhook_configs:
      - url_file: URL_FILE
        timeout: 5s
        http_config:
          authorization: {type: Bearer, credentials: s3cr3t}
  - name: pager
    pagerduty_configs:
      - service_key: '0123456789abcdef0123456789abcdef'
        details: {firing: '{{ .CommonLabels.alertname }}'}
        links: [{href: 'https://runbooks.example.com/{{ .CommonLabels.alertname }}', text: Runbook}]
    opsgenie_configs:
      - api_key: 'key'
        responders: [{name: web-team, type: team}, {username: ana@example.com, type: user}]
        details: {cluster: '{{ .CommonLabels.cluster }}'}
        note: 'Raised by Panoptes'
"#;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn notification(receiver: &str) -> Notification {
    let l = labels(&[("alertname", "HostDown"), ("cluster", "eu1")]);
    Notification {
        receiver: receiver.into(),
        group_key: "{}:{alertname=\"HostDown\"}".into(),
        status: AlertStatus::Firing,
        group_labels: labels(&[("alertname", "HostDown")]),
        common_labels: l.clone(),
        common_annotations: Labels::new(),
        external_url: "https://panoptes.example.com".into(),
        truncated_alerts: 0,
        alerts: vec![Alert {
            fingerprint: super::state::fingerprint(&l),
            status: AlertStatus::Firing,
            labels: l,
            annotations: Labels::new(),
            starts_at_ms: 1_795_392_000_000,
            ends_at_ms: None,
            generator_url: "https://panoptes.example.com/monitors/1".into(),
        }],
    }
}

/// The one HTTP request `channel` of `receiver` sends (or the first, for paging channels).
fn http(cfg: &AlertsConfig, receiver: &str, channel: &str) -> HttpRequest {
    let r = cfg
        .receivers
        .iter()
        .find(|r| r.name == receiver)
        .expect("receiver");
    match render(cfg, r, channel, &notification(receiver), 0).expect("render") {
        d if matches!(d.first(), Some(Delivery::Http(_))) => match d.into_iter().next() {
            Some(Delivery::Http(h)) => h,
            _ => unreachable!(),
        },
        other => panic!("not HTTP: {other:?}"),
    }
}

fn body(r: &HttpRequest) -> Value {
    serde_json::from_slice(&r.body).expect("json body")
}

fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn pasted(dir: &std::path::Path) -> AlertsConfig {
    let file = dir.join("webhook-url");
    std::fs::write(&file, "http://127.0.0.1:9000/hook\n").expect("url file");
    let src = ALERTMANAGER.replace("URL_FILE", file.to_str().expect("utf8"));
    super::decode(&src)
}

#[test]
fn an_alertmanager_configuration_parses_and_its_extra_keys_are_honoured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = pasted(dir.path());

    // Legacy inhibition matchers: a critical alert mutes the warning of its cluster only.
    let rules: Vec<Inhibition> = cfg.inhibit_rules.iter().map(Inhibition::from).collect();
    let critical = labels(&[
        ("alertname", "X"),
        ("cluster", "eu1"),
        ("severity", "critical"),
    ]);
    let warning = labels(&[
        ("alertname", "X"),
        ("cluster", "eu1"),
        ("severity", "warning"),
    ]);
    let elsewhere = labels(&[
        ("alertname", "X"),
        ("cluster", "us1"),
        ("severity", "warning"),
    ]);
    assert!(inhibited(&rules, &warning, [&critical].into_iter()));
    assert!(!inhibited(&rules, &elsewhere, [&critical].into_iter()));
    let host = labels(&[("alertname", "HostDown"), ("host", "db1")]);
    let check = labels(&[("alertname", "HttpSlow"), ("host", "db1")]);
    assert!(inhibited(&rules, &check, [&host].into_iter()));

    // Webhook: the URL read from `url_file`, `authorization`, and its own `timeout`.
    let hook = http(&cfg, "team-web", "webhook_configs[0]");
    assert_eq!(hook.url, "http://127.0.0.1:9000/hook");
    assert_eq!(header(&hook, "authorization"), Some("Bearer s3cr3t"));
    assert_eq!(hook.timeout_ms, Some(5_000));
    let t = attempt_timeout(&cfg, "team-web", "webhook_configs[0]");
    assert_eq!(t, std::time::Duration::from_secs(5));
    let t = attempt_timeout(&cfg, "team-web", "slack_configs[0]");
    assert_eq!(t, cfg.delivery.timeout.get());

    // E-mail: the `text` and `html` templates make the parts.
    let r = &cfg.receivers[0];
    let mail = render(&cfg, r, "email_configs[0]", &notification("team-web"), 0).expect("mail");
    let Some(Delivery::Email(m)) = mail.first() else {
        panic!("{mail:?}")
    };
    assert_eq!(m.text, "firing: HostDown");
    assert_eq!(m.html.as_deref(), Some("<b>firing</b> HostDown"));

    // Slack: `icon_emoji`, and `title_link` is where the message links.
    let slack = body(&http(&cfg, "team-web", "slack_configs[0]"));
    assert_eq!(slack["icon_emoji"], ":fire:");
    let context = slack["blocks"][2]["elements"][0]["text"]
        .as_str()
        .expect("context");
    assert!(
        context.starts_with("<https://panoptes.example.com/runbooks|"),
        "{context}"
    );

    // PagerDuty: the v1 `service_key` is the routing key; `details` and `links` added.
    let pd = body(&http(&cfg, "pager", "pagerduty_configs[0]"));
    assert_eq!(pd["routing_key"], "0123456789abcdef0123456789abcdef");
    assert_eq!(pd["payload"]["custom_details"]["firing"], "HostDown");
    assert_eq!(pd["payload"]["custom_details"]["labels"]["cluster"], "eu1");
    assert_eq!(
        pd["links"][1]["href"],
        "https://runbooks.example.com/HostDown"
    );
    assert_eq!(pd["links"][1]["text"], "Runbook");

    // Opsgenie: `responders`, `details` and `note`.
    let og = body(&http(&cfg, "pager", "opsgenie_configs[0]"));
    assert_eq!(
        og["responders"][0],
        serde_json::json!({"type": "team", "name": "web-team"})
    );
    assert_eq!(
        og["responders"][1],
        serde_json::json!({"type": "user", "username": "ana@example.com"})
    );
    assert_eq!(og["details"]["cluster"], "eu1");
    assert_eq!(og["note"], "Raised by Panoptes");
}

#[test]
fn keys_panoptes_cannot_honour_are_warned_about_at_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = pasted(dir.path());
    let warnings = ignored(&cfg);
    let at: Vec<&str> = warnings
        .iter()
        .map(|w| w.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        at,
        [
            "alerts.templates",
            "alerts.time_intervals",
            "alerts.route.routes[1].mute_time_intervals",
            "alerts.route.routes[1].active_time_intervals",
            "alerts.receivers[0].email_configs[0].auth_identity",
            "alerts.receivers[0].slack_configs[0].color",
        ],
        "{warnings:#?}"
    );
    assert!(warnings[2].contains("offhours"), "{}", warnings[2]);
}

/// Errors of decoding `src` as the `alerts:` section: (line, path, message).
fn errors(src: &str) -> Vec<(usize, String, String)> {
    let node = crate::config::yaml::parse(src).expect("yaml");
    let env = |_: &str| None;
    let mut d = crate::config::decode::Decoder::new("test", &env);
    let _: Option<AlertsConfig> = d.decode(&node, "alerts");
    d.errors
        .iter()
        .map(|e| (e.line, e.path.clone(), e.message.clone()))
        .collect()
}

#[test]
fn an_unreadable_url_file_or_a_bad_legacy_regex_is_an_error_at_its_line() {
    let e = errors(
        r#"receivers:
  - name: web
    webhook_configs:
      - url_file: /nonexistent/panoptes-url
inhibit_rules:
  - source_match_re: {alertname: '(unclosed'}
"#,
    );
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].0, 4);
    assert_eq!(e[0].1, "alerts.receivers[0].webhook_configs[0].url_file");
    assert!(e[0].2.contains("/nonexistent/panoptes-url"), "{}", e[0].2);
    assert_eq!(e[1].0, 6);
    assert_eq!(e[1].1, "alerts.inhibit_rules[0].source_match_re.alertname");
    // Neither or both of `url` and `url_file`; neither or both PagerDuty keys.
    let e = errors(
        r#"receivers:
  - name: web
    webhook_configs: [{send_resolved: true}]
    pagerduty_configs: [{routing_key: a, service_key: b}]
"#,
    );
    let messages: Vec<&str> = e.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(
        messages,
        [
            "needs exactly one of `url` or `url_file`",
            "needs exactly one of `routing_key` or `service_key`"
        ]
    );
}

#[test]
fn a_chat_channel_template_replaces_its_payload() {
    let cfg: AlertsConfig = super::decode(
        r#"
receivers:
  - name: chat
    slack_configs:
      - api_url: https://hooks.slack.com/services/T/B/X
        template: '{"text": "{{ .CommonLabels.alertname }} in {{ .CommonLabels.cluster }}"}'
    ntfy_configs:
      - topic: alerts
        template: '{{ .Status }}: {{ .CommonLabels.alertname }}'
"#,
    );
    let slack = http(&cfg, "chat", "slack_configs[0]");
    assert_eq!(body(&slack), serde_json::json!({"text": "HostDown in eu1"}));
    assert_eq!(header(&slack, "content-type"), Some("application/json"));
    // Plain text goes to the topic's URL, as ntfy takes it.
    let ntfy = http(&cfg, "chat", "ntfy_configs[0]");
    assert_eq!(ntfy.url, "https://ntfy.sh/alerts");
    assert_eq!(String::from_utf8_lossy(&ntfy.body), "firing: HostDown");
    assert_eq!(
        header(&ntfy, "content-type"),
        Some("text/plain; charset=utf-8")
    );
}
