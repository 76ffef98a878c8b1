//! Silences through the API (Alertmanager's v2 JSON) and inhibition: muted alerts stay quiet
//! and are announced when the mute ends.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::receiver::Receiver;
use super::{Server, alerts_named};

const WAIT: Duration = Duration::from_secs(20);

fn config(r: &Receiver) -> String {
    format!(
        r#"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
  - {{name: db, type: push, token: db-token-0123456789, interval: 1h, retries: 0}}
alerts:
  rules:
    - name: HostDown
      monitor: {{state: down, monitors: [db]}}
      labels: {{host: h1}}
    - name: HttpDown
      monitor: {{state: down, monitors: [api]}}
      labels: {{host: h1}}
  route:
    receiver: web
    group_by: [alertname]
    group_wait: 1s
    group_interval: 1s
  receivers:
    - name: web
      webhook_configs: [{{url: "{hook}"}}]
  inhibit_rules:
    - source_matchers: ['alertname="HostDown"']
      target_matchers: ['alertname="HttpDown"']
      equal: [host]
"#,
        hook = r.url("/hook"),
    )
}

fn names(r: &Receiver) -> Vec<String> {
    r.hits("/hook")
        .iter()
        .map(|h| {
            let m = h.json();
            format!(
                "{}:{}",
                m["commonLabels"]["alertname"].as_str().unwrap_or(""),
                m["status"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn a_silence_mutes_until_it_is_expired() {
    let r = Receiver::start().await;
    let s = Server::start(&config(&r));
    let now = jiff::Timestamp::now();
    let (status, body) = s
        .send(
            Method::POST,
            "/api/v1/silences",
            Some(json!({
                "matchers": [{"name": "alertname", "value": "HttpDown", "isRegex": false, "isEqual": true}],
                "startsAt": (now - jiff::SignedDuration::from_secs(60)).to_string(),
                "endsAt": (now + jiff::SignedDuration::from_secs(3600)).to_string(),
                "createdBy": "ana",
                "comment": "deploying the API",
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["silenceID"].as_str().expect("silenceID").to_string();
    let list = s.json("/api/v1/silences").await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["status"]["state"], "active");
    assert_eq!(list["items"][0]["createdBy"], "ana");
    assert_eq!(list["items"][0]["matchers"][0]["isEqual"], true);

    s.push("api-token-0123456789", false).await;
    let page = s
        .wait_json("/api/v1/alerts", WAIT, |p| {
            !alerts_named(p, "HttpDown", "firing").is_empty()
        })
        .await;
    assert_eq!(
        alerts_named(&page, "HttpDown", "firing")[0]["silenced_by"],
        json!([id])
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(r.hits("/hook").is_empty(), "silenced: {:?}", names(&r));
    let active = s.json("/api/v1/alerts?silenced=false").await;
    assert!(alerts_named(&active, "HttpDown", "firing").is_empty());

    // Expiring it announces the alert at the next group interval.
    let (status, body) = s
        .send(Method::DELETE, &format!("/api/v1/silences/{id}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["state"], "expired");
    r.wait_for("/hook", 1, WAIT).await;
    assert_eq!(names(&r), ["HttpDown:firing"]);
    let (status, _) = s
        .send(Method::DELETE, "/api/v1/silences/no-such-id", None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_silences_are_refused_with_the_field() {
    let r = Receiver::start().await;
    let s = Server::start(&config(&r));
    let now = jiff::Timestamp::now();
    let later = (now + jiff::SignedDuration::from_secs(3600)).to_string();
    for (body, field) in [
        (
            json!({"matchers": [{"name": "a", "value": "b"}], "startsAt": now.to_string(), "endsAt": later, "createdBy": "ana", "comment": ""}),
            "comment",
        ),
        (
            json!({"matchers": [{"name": "a", "value": "(", "isRegex": true}], "startsAt": now.to_string(), "endsAt": later, "createdBy": "ana", "comment": "x"}),
            "matchers[0]",
        ),
        (
            json!({"matchers": [{"name": "a", "value": ".*", "isRegex": true}], "startsAt": now.to_string(), "endsAt": later, "createdBy": "ana", "comment": "x"}),
            "matchers",
        ),
        (
            json!({"matchers": [{"name": "a", "value": "b"}], "startsAt": "soon", "endsAt": later, "createdBy": "ana", "comment": "x"}),
            "startsAt",
        ),
    ] {
        let (status, resp) = s.send(Method::POST, "/api/v1/silences", Some(body)).await;
        assert_eq!(status, 400, "{resp}");
        assert!(
            resp["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(field)),
            "{field}: {resp}"
        );
    }
    let (status, resp) = s
        .send(
            Method::POST,
            "/api/v1/silences",
            Some(json!({"matchers": "nope"})),
        )
        .await;
    assert_eq!(status, 400, "{resp}");
    assert!(
        s.json("/api/v1/silences").await["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}

#[tokio::test]
async fn a_down_host_mutes_its_checks_until_it_recovers() {
    let r = Receiver::start().await;
    let s = Server::start(&config(&r));
    s.push("db-token-0123456789", false).await;
    r.wait_for("/hook", 1, WAIT).await;
    s.push("api-token-0123456789", false).await;
    let page = s
        .wait_json("/api/v1/alerts", WAIT, |p| {
            !alerts_named(p, "HttpDown", "firing").is_empty()
        })
        .await;
    assert_eq!(
        alerts_named(&page, "HttpDown", "firing")[0]["inhibited"],
        true
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        names(&r),
        ["HostDown:firing"],
        "the check's alert is inhibited"
    );
    // The host recovers: its resolution goes out and the check's alert is no longer muted.
    s.push("db-token-0123456789", true).await;
    r.wait_for("/hook", 3, WAIT).await;
    let mut got = names(&r);
    got.sort();
    assert_eq!(
        got,
        ["HostDown:firing", "HostDown:resolved", "HttpDown:firing"]
    );
}
