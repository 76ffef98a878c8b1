//! The state across locations drives alerts and status pages: simulated agents at two
//! locations report a target failing; one failing location of a quorum of two degrades the
//! monitor (a `degraded` rule fires, the page shows degraded performance, no `down` alert),
//! the second takes it DOWN (the `down` rule reaches a local webhook naming the failing
//! locations, the page shows a major outage). And a real agent killed with -9 raises
//! `agent_silent` to the webhook, resolved once it reports again.

use serde_json::Value;

use super::common::{client, create_token, start};
use super::real::{eventually, get_json, spawn_agent};
use super::receiver::Receiver;
use super::{agent_token_cli, batch, json_of, monitor_id, now_ms, post_batch};

fn alerts_named<'a>(page: &'a Value, name: &str, state: &str) -> Vec<&'a Value> {
    page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["labels"]["alertname"] == name && x["state"] == state)
                .collect()
        })
        .unwrap_or_default()
}

/// The first alert named `name` with `status` in the webhook bodies received so far.
fn delivered(r: &Receiver, from: usize, name: &str, status: &str) -> Option<Value> {
    r.hits("/hook").into_iter().skip(from).find_map(|h| {
        let body = h.json();
        body["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == name && a["status"] == status)
            .cloned()
    })
}

fn component_status(summary: &Value, name: &str) -> Option<String> {
    summary["components"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)?["status"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn the_quorum_state_pages_and_shows_on_the_status_page() {
    let hook = Receiver::start().await;
    let target = std::net::TcpListener::bind("127.0.0.1:0").expect("target");
    let port = target.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"
monitors:
  - {{name: api, type: tcp, host: 127.0.0.1, port: {port}, interval: 60s,
     locations: [local, eu, ap], quorum: 2}}
alerts:
  rules:
    - name: ApiDown
      monitor: {{state: down, monitors: [api]}}
      annotations: {{summary: "{{{{ .Monitor }}}} {{{{ .Value }}}}"}}
    - name: ApiDegraded
      monitor: {{state: degraded, monitors: [api]}}
  route: {{receiver: ops, group_by: [alertname], group_wait: 0s, group_interval: 1s}}
  receivers:
    - name: ops
      webhook_configs: [{{url: "{url}"}}]
status_pages:
  - slug: public
    title: Status
    components: [{{name: API, monitor: api}}]
"#,
            url = hook.url("/hook")
        ),
    )
    .expect("config");
    let token = create_token(dir.path(), "admin");
    let eu = agent_token_cli(dir.path(), "eu-1", "eu");
    let ap = agent_token_cli(dir.path(), "ap-1", "ap");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    let id = monitor_id(&c, &s, &token, "api").await;
    let t0 = now_ms() - 10_000;
    let summary = s.url("/status/public/api/v2/summary.json");

    // One location failing of a quorum of two: DEGRADED.
    let (status, v) = json_of(post_batch(&c, &s, &eu, &batch(1, 2, false, t0)).await).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(2)), "{v}");
    eventually(60, "the degraded alert", || async {
        delivered(&hook, 0, "ApiDegraded", "firing")
    })
    .await;
    // Both rules were evaluated on the same decision: the down one is not firing.
    let alerts = get_json(&c, &s.url("/api/v1/alerts"), &token)
        .await
        .expect("alerts");
    assert_eq!(
        alerts_named(&alerts, "ApiDegraded", "firing").len(),
        1,
        "{alerts}"
    );
    assert!(
        alerts_named(&alerts, "ApiDown", "firing").is_empty(),
        "{alerts}"
    );
    assert!(delivered(&hook, 0, "ApiDown", "firing").is_none());
    let m = get_json(&c, &s.url(&format!("/api/v1/monitors/{id}")), &token)
        .await
        .expect("monitor");
    assert_eq!(m["state"], "DEGRADED", "{m}");
    eventually(30, "the page shows degraded performance", || async {
        let v: Value = c.get(&summary).send().await.ok()?.json().await.ok()?;
        (component_status(&v, "API").as_deref() == Some("degraded_performance")).then_some(())
    })
    .await;

    // A second location agreeing: DOWN, paged with the failing locations named.
    let (status, v) = json_of(post_batch(&c, &s, &ap, &batch(1, 2, false, t0)).await).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(2)), "{v}");
    let down = eventually(60, "the down alert", || async {
        delivered(&hook, 0, "ApiDown", "firing")
    })
    .await;
    let summary_text = down["annotations"]["summary"].as_str().unwrap_or("");
    assert!(
        summary_text.starts_with("api DOWN (failing from 2 of 3 locations (quorum 2)")
            && summary_text.contains("eu")
            && summary_text.contains("ap"),
        "{down}"
    );
    eventually(30, "the page shows a major outage", || async {
        let v: Value = c.get(&summary).send().await.ok()?.json().await.ok()?;
        (component_status(&v, "API").as_deref() == Some("major_outage")).then_some(())
    })
    .await;

    // Both recover: the down alert resolves.
    let later = now_ms() - 1_000;
    for (t, from) in [(&eu, 3), (&ap, 3)] {
        let (status, _) = json_of(post_batch(&c, &s, t, &batch(from, 1, true, later)).await).await;
        assert_eq!(status, 200);
    }
    eventually(60, "the down alert resolved", || async {
        delivered(&hook, 0, "ApiDown", "resolved")
    })
    .await;
    let m = get_json(&c, &s.url(&format!("/api/v1/monitors/{id}")), &token)
        .await
        .expect("monitor");
    assert_ne!(m["state"], "DOWN", "{m}");
}

#[tokio::test]
async fn a_silent_agent_raises_an_alert_until_it_reports_again() {
    let hook = Receiver::start().await;
    let target = std::net::TcpListener::bind("127.0.0.1:0").expect("target");
    let port = target.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"
monitors:
  - {{name: db, type: tcp, host: 127.0.0.1, port: {port}, interval: 1s, locations: [eu]}}
alerts:
  evaluation_interval: 500ms
  rules:
    - name: AgentSilent
      panoptes: {{event: agent_silent, window: 8s}}
      annotations: {{summary: "{{{{ .Agent }}}} at {{{{ .Location }}}}: {{{{ .Value }}}}"}}
  route: {{receiver: ops, group_by: [alertname, agent], group_wait: 0s, group_interval: 1s}}
  receivers:
    - name: ops
      webhook_configs: [{{url: "{url}"}}]
"#,
            url = hook.url("/hook")
        ),
    )
    .expect("config");
    let token = create_token(dir.path(), "admin");
    let eu = agent_token_cli(dir.path(), "eu-1", "eu");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    let server = s.url("");
    let server = server.trim_end_matches('/');
    let agent = spawn_agent(dir.path(), server, &eu, "eu", "127.0.0.1");

    // Reporting: results arrive, and no silence alert is firing.
    eventually(60, "the agent reports", || async {
        let v = get_json(&c, &s.url("/api/v1/agents"), &token).await?;
        (v["items"][0]["results_total"].as_u64()? > 0).then_some(())
    })
    .await;
    eventually(60, "no silence alert while it reports", || async {
        let v = get_json(&c, &s.url("/api/v1/alerts"), &token).await?;
        alerts_named(&v, "AgentSilent", "firing")
            .is_empty()
            .then_some(())
    })
    .await;
    let before = hook.hits("/hook").len();

    // kill -9: after the window, the alert reaches the webhook with the agent's labels.
    drop(agent);
    let fired = eventually(60, "agent_silent fired", || async {
        delivered(&hook, before, "AgentSilent", "firing")
    })
    .await;
    assert_eq!(fired["labels"]["agent"], "eu-1", "{fired}");
    assert_eq!(fired["labels"]["location"], "eu", "{fired}");
    let summary = fired["annotations"]["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with("eu-1 at eu: not heard from for"),
        "{summary}"
    );

    // Back: it resolves.
    let _agent = spawn_agent(dir.path(), server, &eu, "eu", "127.0.0.1");
    eventually(60, "agent_silent resolved", || async {
        delivered(&hook, before, "AgentSilent", "resolved")
    })
    .await;
}
