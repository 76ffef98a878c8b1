//! Rule kinds end to end, each driven by the real thing on 127.0.0.1 and heard by a local
//! webhook receiver: a Sentry new issue selected by its tags, monitors selected by their
//! labels, latency and availability windows over real HTTP probes, certificate expiry from a
//! real TLS handshake, a Periskop new key and a target down from real scrapes; and the
//! configuration warnings a SIGHUP reload logs.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::Server;
use super::receiver::{Hit, Receiver};

const WAIT: Duration = Duration::from_secs(60);
const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";

/// The route and receiver every test here uses: one group per rule, sent at once.
fn route(r: &Receiver) -> String {
    format!(
        r#"  route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s}}
  receivers:
    - name: hook
      webhook_configs: [{{url: "{}"}}]
"#,
        r.url("/hook")
    )
}

/// The first webhook message about `alertname`, waiting for it.
async fn message_about(r: &Receiver, alertname: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = r
            .hits("/hook")
            .iter()
            .map(Hit::json)
            .find(|b| b["commonLabels"]["alertname"] == alertname);
        if let Some(b) = found {
            return b;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no message about {alertname}; got {:?}",
            r.hits("/hook")
                .iter()
                .map(|h| String::from_utf8_lossy(&h.body).into_owned())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends one event as an envelope, as the SDKs do.
async fn send_event(s: &Server, event: Value) {
    assert_eq!(super::send_envelope(s, KEY, &event).await, StatusCode::OK);
}

fn exception(ty: &str, tags: Value, browser: &str) -> Value {
    json!({
        "event_id": uuid::Uuid::new_v4().simple().to_string(),
        "platform": "python",
        "level": "error",
        "exception": {"values": [{"type": ty, "value": "it broke"}]},
        "tags": tags,
        "contexts": {"browser": {"name": browser, "version": "120.0"}},
    })
}

#[tokio::test]
async fn a_new_issue_pages_only_when_its_tags_match() {
    let r = Receiver::start().await;
    let s = Server::start(&format!(
        r#"
projects:
  - {{id: 7, name: shop, keys: [{KEY}]}}
alerts:
  rules:
    - name: NewAcmeIssue
      issue: {{event: new, tags: ['customer="acme"', 'browser=~"Chrome.*"']}}
      annotations: {{summary: "{{{{ .Title }}}}"}}
{}"#,
        route(&r)
    ));
    // Two issues that do not match (another customer; acme on Firefox), then one that does.
    // The digest publishes in arrival order and the engine evaluates in that order, so when
    // the match has paged, the others were already judged.
    send_event(
        &s,
        exception("OtherError", json!({"customer": "other"}), "Chrome"),
    )
    .await;
    send_event(
        &s,
        exception("FoxError", json!({"customer": "acme"}), "Firefox"),
    )
    .await;
    send_event(
        &s,
        exception("AcmeError", json!({"customer": "acme"}), "Chrome"),
    )
    .await;
    let m = message_about(&r, "NewAcmeIssue").await;
    let alerts = m["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "{m:#}");
    assert_eq!(alerts[0]["labels"]["project"], "7");
    assert_eq!(alerts[0]["annotations"]["summary"], "AcmeError: it broke");
    let page = s.json("/api/v1/alerts").await;
    let firing = super::alerts_named(&page, "NewAcmeIssue", "firing");
    assert_eq!(firing.len(), 1, "{page:#}");
    let issues = s.json("/api/v1/projects/7/issues").await;
    assert_eq!(
        issues["items"].as_array().map(Vec::len),
        Some(3),
        "all three were grouped: {issues:#}"
    );
}

#[tokio::test]
async fn monitor_labels_select_rules_and_label_the_alert() {
    let r = Receiver::start().await;
    let s = Server::start(&format!(
        r#"
monitors:
  - {{name: blog, type: push, token: blog-token-0123456789, interval: 1h, labels: {{team: content}}}}
  - {{name: pay, type: push, token: pay-token-0123456789, interval: 1h, labels: {{team: payments, tier: "1"}}}}
alerts:
  rules:
    - name: PaymentsDown
      monitor: {{state: down, matchers: ['team="payments"']}}
      labels: {{tier: "0"}}
      annotations: {{summary: "{{{{ .Monitor }}}} of {{{{ .Labels.team }}}}"}}
{}"#,
        route(&r)
    ));
    s.push("blog-token-0123456789", false).await;
    s.push("pay-token-0123456789", false).await;
    let m = message_about(&r, "PaymentsDown").await;
    let alerts = m["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "{m:#}");
    let labels = &alerts[0]["labels"];
    assert_eq!(labels["monitor"], "pay");
    assert_eq!(labels["team"], "payments", "the monitor's label");
    assert_eq!(labels["tier"], "0", "the rule's label wins");
    assert_eq!(alerts[0]["annotations"]["summary"], "pay of payments");
    let page = s.json("/api/v1/alerts").await;
    assert_eq!(
        super::alerts_named(&page, "PaymentsDown", "firing").len(),
        1,
        "blog is not selected: {page:#}"
    );
}

/// A target that answers slowly, and one that fails.
async fn http_target() -> std::net::SocketAddr {
    let app = axum::Router::new()
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "ok"
            }),
        )
        .route(
            "/broken",
            axum::routing::get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test]
async fn latency_and_availability_windows_fire_on_real_probes() {
    let r = Receiver::start().await;
    let t = http_target().await;
    let s = Server::start(&format!(
        r#"
monitors:
  - {{name: slow, type: http, url: "http://{t}/slow", interval: 1s, timeout: 1s}}
  - {{name: broken, type: http, url: "http://{t}/broken", interval: 1s, timeout: 1s}}
alerts:
  rules:
    - name: SlowApi
      monitor: {{state: latency, monitors: [slow], percentile: 95, above: 100ms, window: 1m}}
      annotations: {{summary: "{{{{ .Value }}}}"}}
    - name: FlakyApi
      monitor: {{state: availability, monitors: [broken], below: 99.9, window: 1m}}
      annotations: {{summary: "{{{{ .Value }}}}"}}
{}"#,
        route(&r)
    ));
    let slow = message_about(&r, "SlowApi").await;
    assert_eq!(slow["alerts"][0]["labels"]["monitor"], "slow");
    let v = slow["alerts"][0]["annotations"]["summary"]
        .as_str()
        .expect("summary");
    let ms: f64 = v
        .strip_prefix("p95 ")
        .and_then(|v| v.strip_suffix(" ms"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("p95 value: {v}"));
    assert!(
        ms > 100.0,
        "above the rule's 100 ms (the target sleeps 300 ms): {v}"
    );
    let flaky = message_about(&r, "FlakyApi").await;
    assert_eq!(flaky["alerts"][0]["labels"]["monitor"], "broken");
    assert_eq!(flaky["alerts"][0]["annotations"]["summary"], "0.000 %");
    // Each rule watches its own monitor only.
    let page = s.json("/api/v1/alerts").await;
    assert_eq!(super::alerts_named(&page, "SlowApi", "firing").len(), 1);
    assert_eq!(super::alerts_named(&page, "FlakyApi", "firing").len(), 1);
}

#[tokio::test]
async fn a_certificate_expiring_soon_fires_from_a_real_tls_probe() {
    use super::targets::{cert, days, tls_target};
    let r = Receiver::start().await;
    let soon = tls_target(&cert(days(3), None)).await;
    let later = tls_target(&cert(days(90), None)).await;
    let tls = |name: &str, a: std::net::SocketAddr| {
        format!(
            "  - {{name: {name}, type: tls, host: 127.0.0.1, port: {}, server_name: localhost, verify_tls: false, interval: 1s}}\n",
            a.port()
        )
    };
    let s = Server::start(&format!(
        r#"
monitors:
{}{}alerts:
  rules:
    - name: CertSoon
      monitor: {{state: cert_expiry, days: 14}}
      annotations: {{summary: "{{{{ .Monitor }}}}: {{{{ .Value }}}}"}}
{}"#,
        tls("soon", soon),
        tls("later", later),
        route(&r)
    ));
    let m = message_about(&r, "CertSoon").await;
    let alerts = m["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "{m:#}");
    assert_eq!(alerts[0]["labels"]["monitor"], "soon");
    let summary = alerts[0]["annotations"]["summary"]
        .as_str()
        .expect("summary");
    let left: f64 = summary
        .strip_prefix("soon: ")
        .and_then(|v| v.strip_suffix(" days left"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("summary: {summary}"));
    assert!((2.0..=3.0).contains(&left), "{summary}");
    // The 90-day certificate is probed too (its monitor is UP), and never fires.
    s.wait_json("/api/v1/monitors", WAIT, |v| {
        v["items"]
            .as_array()
            .is_some_and(|i| i.iter().all(|m| m["state"] == "UP"))
    })
    .await;
    let page = s.json("/api/v1/alerts").await;
    let firing = super::alerts_named(&page, "CertSoon", "firing");
    assert_eq!(firing.len(), 1, "{page:#}");
}

#[tokio::test]
async fn a_new_periskop_key_and_a_target_down_fire_from_real_scrapes() {
    let r = Receiver::start().await;
    let export = json!({
        "target_uuid": "5d9b4bd0-4a3b-4c0e-9a53-3f0d3c7c2b11",
        "aggregated_errors": [{
            "aggregation_key": "KeyError@charge",
            "total_count": 3,
            "severity": "error",
            "created_at": "2026-11-23T00:00:00Z",
            "latest_errors": []
        }]
    });
    let app = axum::Router::new().route(
        "/-/exceptions",
        axum::routing::get(move || {
            let e = export.clone();
            async move { axum::Json(e) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let live = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // Bound but never accepted from: the scrape connects, is never answered, and times out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = silent.local_addr().expect("addr").to_string();
    let s = Server::start(&format!(
        r#"
services:
  - name: billing
    static_configs: [{{targets: ["{live}", "{dead}"]}}]
    scraper: {{refresh_interval: 200ms, timeout: 2s}}
alerts:
  rules:
    - name: NewBillingKey
      exception: {{event: new, services: [billing], keys: "KeyError.*"}}
      annotations: {{summary: "{{{{ .Key }}}}: {{{{ .Value }}}}"}}
    - name: BillingTargetDown
      exception: {{event: targets_down, services: [billing]}}
{}"#,
        route(&r)
    ));
    let key = message_about(&r, "NewBillingKey").await;
    let a = &key["alerts"][0];
    assert_eq!(a["labels"]["service"], "billing");
    assert_eq!(a["labels"]["key"], "KeyError@charge");
    assert_eq!(
        a["annotations"]["summary"],
        "KeyError@charge: new key, 3 so far"
    );
    let down = message_about(&r, "BillingTargetDown").await;
    let alerts = down["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "only the dead target: {down:#}");
    assert_eq!(alerts[0]["labels"]["target"], dead.as_str());
    drop((s, silent));
}

#[tokio::test]
async fn a_reload_logs_the_warnings_a_start_logs() {
    let s = Server::start(
        "monitors:\n  - {name: api, type: push, token: api-token-0123456789, interval: 1h}\n",
    );
    std::fs::write(
        &s.config,
        "monitors:\n  - {name: api, type: push, token: api-token-0123456789, interval: 1h}\nalerts:\n  time_intervals: [{name: offhours}]\n  rules:\n    - {name: GhostDown, monitor: {state: down, monitors: [ghost]}}\n",
    )
    .expect("rewrite config");
    s.run.signal("HUP");
    let line = s
        .run
        .wait_for_log("SIGHUP: configuration reloaded", Duration::from_secs(30));
    let v: Value = serde_json::from_str(&line).expect("json log");
    assert_eq!(v["fields"]["warnings"], 2, "{line}");
    s.run.wait_for_log(
        "alerts.rules[0].monitor.monitors[0]: no monitor named `ghost`",
        Duration::from_secs(5),
    );
    s.run
        .wait_for_log("alerts.time_intervals", Duration::from_secs(5));
}
