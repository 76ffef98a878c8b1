//! Each channel's payload, field by field, from a firing alert to its resolution.

use std::time::Duration;

use serde_json::Value;

use super::receiver::Receiver;
use super::{Server, alerts_named, is_fingerprint, is_time};

const WAIT: Duration = Duration::from_secs(20);

fn config(r: &Receiver) -> String {
    format!(
        r##"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
  - {{name: cron, type: push, token: cron-token-0123456789, interval: 1h, retries: 0, group: jobs}}
alerts:
  rules:
    - name: ApiDown
      monitor: {{state: down, monitors: [api]}}
      for: 0s
      labels: {{team: web}}
      severity: critical
      annotations: {{summary: "{{{{ .Monitor }}}} is {{{{ .State }}}}", description: "seen {{{{ .Value }}}}"}}
    - name: JobDown
      monitor: {{state: down, groups: [jobs]}}
      severity: warning
      annotations: {{summary: "job {{{{ .Monitor }}}} failed"}}
  route:
    receiver: web
    group_by: [alertname]
    group_wait: 1s
    group_interval: 1s
    routes:
      - {{matchers: ['severity="critical"'], receiver: pager, continue: true}}
      - {{matchers: ['team="web"'], receiver: chat}}
  receivers:
    - name: web
      webhook_configs: [{{url: "{hook}"}}]
    - name: pager
      pagerduty_configs: [{{routing_key: "0123456789abcdef0123456789abcdef", url: "{pd}"}}]
      opsgenie_configs: [{{api_key: "genie-key", api_url: "{og}"}}]
    - name: chat
      slack_configs: [{{api_url: "{slack}", channel: "#ops"}}]
      msteamsv2_configs: [{{webhook_url: "{teams}"}}]
      discord_configs: [{{webhook_url: "{discord}"}}]
      telegram_configs: [{{bot_token: "123:abc", chat_id: -100, api_url: "{tg}"}}]
      ntfy_configs: [{{url: "{ntfy}", topic: "alerts", token: "tk_secret"}}]
      webhook_configs: [{{url: "{tmpl}", template: "{{{{ .Status }}}}:{{{{ range .Alerts }}}}{{{{ .Labels.alertname }}}};{{{{ end }}}}"}}]
"##,
        hook = r.url("/hook"),
        pd = r.url("/v2/enqueue"),
        og = r.url("/og"),
        slack = r.url("/slack"),
        teams = r.url("/teams"),
        discord = r.url("/discord"),
        tg = r.url("/tg"),
        ntfy = r.url("/ntfy"),
        tmpl = r.url("/tmpl"),
    )
}

#[tokio::test]
async fn webhook_carries_alertmanagers_payload_from_firing_to_resolved() {
    let r = Receiver::start().await;
    let s = Server::start(&config(&r));
    s.push("cron-token-0123456789", false).await;

    let hits = r.wait_for("/hook", 1, WAIT).await;
    let m = hits[0].json();
    assert_eq!(hits[0].method, "POST");
    assert_eq!(hits[0].header("content-type"), "application/json");
    assert_eq!(m["version"], "4");
    assert_eq!(m["status"], "firing");
    assert_eq!(m["receiver"], "web");
    assert_eq!(m["groupKey"], "{}:{alertname=\"JobDown\"}");
    assert_eq!(
        m["groupLabels"],
        serde_json::json!({"alertname": "JobDown"})
    );
    assert_eq!(m["commonLabels"]["alertname"], "JobDown");
    assert_eq!(m["commonLabels"]["monitor"], "cron");
    assert_eq!(m["commonLabels"]["group"], "jobs");
    assert_eq!(m["commonLabels"]["severity"], "warning");
    assert_eq!(m["commonAnnotations"]["summary"], "job cron failed");
    assert_eq!(m["truncatedAlerts"], 0);
    assert!(
        m["externalURL"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:"))
    );
    let a = &m["alerts"][0];
    assert_eq!(m["alerts"].as_array().map(Vec::len), Some(1));
    assert_eq!(a["status"], "firing");
    assert_eq!(a["labels"], m["commonLabels"]);
    assert_eq!(a["annotations"]["summary"], "job cron failed");
    assert!(is_time(&a["startsAt"]));
    assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
    assert!(is_fingerprint(&a["fingerprint"]), "{a}");
    let monitor_id = s.json("/api/v1/monitors").await["items"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|x| x["name"] == "cron")
                .map(|x| x["id"].clone())
        })
        .expect("cron monitor");
    assert!(
        a["generatorURL"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/monitors/{monitor_id}"))),
        "{a}"
    );

    // The API shows it firing, with its fingerprint and value.
    let page = s.json("/api/v1/alerts?state=firing").await;
    let firing = alerts_named(&page, "JobDown", "firing");
    assert_eq!(firing.len(), 1, "{page}");
    assert_eq!(firing[0]["fingerprint"], a["fingerprint"]);
    assert_eq!(firing[0]["rule"], "JobDown");
    assert!(is_time(&firing[0]["since"]));

    // Recovery: one resolved message with endsAt set.
    s.push("cron-token-0123456789", true).await;
    let hits = r.wait_for("/hook", 2, WAIT).await;
    let m = hits[1].json();
    assert_eq!(m["status"], "resolved");
    assert_eq!(m["alerts"][0]["status"], "resolved");
    assert_eq!(m["alerts"][0]["fingerprint"], a["fingerprint"]);
    assert!(is_time(&m["alerts"][0]["endsAt"]));
    assert_ne!(m["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    let history = s
        .wait_json("/api/v1/alerts/history", WAIT, |h| {
            h["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    assert_eq!(history["items"][0]["fingerprint"], a["fingerprint"]);
    assert!(is_time(&history["items"][0]["resolved_at"]));
    assert!(
        s.json("/api/v1/alerts").await["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // Both deliveries recorded with their attempts.
    let n = s
        .wait_json("/api/v1/notifications?receiver=web", WAIT, |n| {
            n["items"]
                .as_array()
                .is_some_and(|i| i.len() == 2 && i.iter().all(|x| x["state"] == "delivered"))
        })
        .await;
    let first = &n["items"][1];
    assert_eq!(first["channel"], "webhook_configs[0]");
    assert_eq!(first["attempts"][0]["status"], 200);
    assert_eq!(first["attempts"][0]["outcome"], "delivered");
    // Nothing more is sent: a resolution is told once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(r.hits("/hook").len(), 2);
    let metrics = s.metrics().await;
    assert!(
        crate::has_line(
            &metrics,
            "panoptes_notifications_total{receiver=\"web\",result=\"delivered\"} 2"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn pagers_and_chats_get_their_own_payloads() {
    let r = Receiver::start().await;
    let s = Server::start(&config(&r));
    s.push("api-token-0123456789", false).await;

    // PagerDuty: trigger with the fingerprint as dedup_key.
    let pd = r.wait_for("/v2/enqueue", 1, WAIT).await;
    let e = pd[0].json();
    assert_eq!(e["routing_key"], "0123456789abcdef0123456789abcdef");
    assert_eq!(e["event_action"], "trigger");
    assert!(is_fingerprint(&e["dedup_key"]));
    assert_eq!(e["payload"]["summary"], "api is DOWN");
    assert_eq!(e["payload"]["severity"], "critical");
    assert_eq!(e["payload"]["source"], "api");
    assert!(is_time(&e["payload"]["timestamp"]));
    assert_eq!(e["payload"]["custom_details"]["labels"]["team"], "web");
    let fp = e["dedup_key"].clone();

    // Opsgenie: create with the fingerprint as alias, GenieKey auth.
    let og = r.wait_for("/og/v2/alerts", 1, WAIT).await;
    assert_eq!(og[0].header("authorization"), "GenieKey genie-key");
    let o = og[0].json();
    assert_eq!(o["alias"], fp);
    assert_eq!(o["message"], "api is DOWN");
    assert_eq!(o["priority"], "P1");
    assert_eq!(o["details"]["monitor"], "api");

    // `continue` on the critical route lets the team route match too.
    let slack = r.wait_for("/slack", 1, WAIT).await.remove(0).json();
    assert!(
        slack["text"]
            .as_str()
            .is_some_and(|t| t.contains("[FIRING:1] ApiDown") && t.contains("api is DOWN")),
        "{slack}"
    );
    assert_eq!(slack["channel"], "#ops");
    assert_eq!(slack["blocks"][0]["type"], "header");
    assert_eq!(slack["blocks"][1]["text"]["type"], "mrkdwn");

    let teams = r.wait_for("/teams", 1, WAIT).await.remove(0).json();
    assert_eq!(teams["type"], "message");
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert!(
        card["content"]["body"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("ApiDown"))
    );

    let discord = r.wait_for("/discord", 1, WAIT).await.remove(0).json();
    let embed = &discord["embeds"][0];
    assert!(
        embed["title"]
            .as_str()
            .is_some_and(|t| t.contains("ApiDown"))
    );
    assert!(
        embed["description"]
            .as_str()
            .is_some_and(|d| d.contains("api is DOWN"))
    );
    assert!(embed["color"].is_u64());

    let tg = r
        .wait_for("/tg/bot123:abc/sendMessage", 1, WAIT)
        .await
        .remove(0)
        .json();
    assert_eq!(tg["chat_id"], -100);
    assert_eq!(tg["parse_mode"], "HTML");
    assert!(
        tg["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("<b>[FIRING:1] ApiDown")),
        "{tg}"
    );

    let ntfy_hit = r.wait_for("/ntfy", 1, WAIT).await.remove(0);
    assert_eq!(ntfy_hit.header("authorization"), "Bearer tk_secret");
    let ntfy = ntfy_hit.json();
    assert_eq!(ntfy["topic"], "alerts");
    assert_eq!(ntfy["priority"], 4);
    assert!(
        ntfy["title"]
            .as_str()
            .is_some_and(|t| t.contains("ApiDown"))
    );
    assert!(
        ntfy["click"]
            .as_str()
            .is_some_and(|c| c.contains("/monitors/")),
        "{ntfy}"
    );

    let tmpl = r.wait_for("/tmpl", 1, WAIT).await.remove(0);
    assert_eq!(String::from_utf8_lossy(&tmpl.body), "firing:ApiDown;");

    // Resolution: PagerDuty resolves and Opsgenie closes by the same key.
    s.push("api-token-0123456789", true).await;
    let pd = r.wait_for("/v2/enqueue", 2, WAIT).await;
    let e = pd[1].json();
    assert_eq!(e["event_action"], "resolve");
    assert_eq!(e["dedup_key"], fp);
    let close = r.wait_for("/og/v2/alerts/", 1, WAIT).await;
    assert_eq!(
        close[0].path,
        format!(
            "/og/v2/alerts/{}/close?identifierType=alias",
            fp.as_str().unwrap_or_default()
        )
    );
    // Slack's default is not to send resolutions (as Alertmanager).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(r.hits("/slack").len(), 1);
    assert_eq!(
        r.hits("/ntfy").len(),
        2,
        "ntfy sends resolutions by default"
    );
    let v: Value = r.hits("/ntfy")[1].json();
    assert_eq!(v["priority"], 3);
}

#[tokio::test]
async fn the_test_button_sends_to_every_channel_of_a_receiver() {
    let r = Receiver::start().await;
    r.script(
        "/v2/enqueue",
        vec![super::receiver::Reply::Status(
            400,
            vec![],
            "{\"status\":\"invalid event\"}".into(),
        )],
    );
    let s = Server::start(&config(&r));
    let (status, body) = s
        .send(reqwest::Method::POST, "/api/v1/receivers/pager/test", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let results = body.as_array().expect("array");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["channel"], "pagerduty_configs[0]");
    assert_eq!(results[0]["delivered"], false);
    assert_eq!(results[0]["status"], 400);
    assert!(
        results[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("invalid event"))
    );
    assert_eq!(results[1]["channel"], "opsgenie_configs[0]");
    assert_eq!(results[1]["delivered"], true);
    let og = r.hits("/og/v2/alerts");
    assert_eq!(og[0].json()["details"]["alertname"], "PanoptesTest");
    let (status, _) = s
        .send(reqwest::Method::POST, "/api/v1/receivers/nobody/test", None)
        .await;
    assert_eq!(status, 404);
    let receivers = s.json("/api/v1/receivers").await;
    let names: Vec<&str> = receivers["items"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["web", "pager", "chat"]);
}
