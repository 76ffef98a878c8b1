//! Delivery: retries, `Retry-After`, receivers that refuse, and kill -9 at the worst moments.

use std::time::Duration;

use super::Server;
use super::receiver::{Receiver, Reply};

const WAIT: Duration = Duration::from_secs(30);

fn config(r: &Receiver, group_wait: &str, pd: bool) -> String {
    let (pager, routes) = if pd {
        (
            format!(
                "\n    - name: pager\n      pagerduty_configs: [{{routing_key: \"0123456789abcdef0123456789abcdef\", url: \"{}\"}}]",
                r.url("/v2/enqueue")
            ),
            "\n    routes:\n      - {matchers: ['alertname=\"ApiDown\"'], receiver: pager, continue: true}\n      - {matchers: ['alertname=\"ApiDown\"'], receiver: web}",
        )
    } else {
        (String::new(), "")
    };
    format!(
        r#"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
alerts:
  delivery: {{retry_backoff: 200ms, max_backoff: 2s}}
  rules:
    - name: ApiDown
      monitor: {{state: down, monitors: [api]}}
  route:
    receiver: web
    group_by: [alertname]
    group_wait: {group_wait}
    group_interval: 1s{routes}
  receivers:
    - name: web
      webhook_configs: [{{url: "{limited}"}}, {{url: "{flaky}"}}, {{url: "{refused}"}}]{pager}
"#,
        limited = r.url("/limited"),
        flaky = r.url("/flaky"),
        refused = r.url("/refused"),
    )
}

#[tokio::test]
async fn retry_after_is_honoured_5xx_retried_and_4xx_not() {
    let r = Receiver::start().await;
    r.script(
        "/limited",
        vec![Reply::Status(
            429,
            vec![("retry-after", "2".into())],
            "slow down".into(),
        )],
    );
    r.script("/flaky", vec![Reply::Status(500, vec![], "oops".into())]);
    r.script(
        "/refused",
        vec![Reply::Status(400, vec![], "bad payload".into())],
    );
    let s = Server::start(&config(&r, "1s", false));
    s.push("api-token-0123456789", false).await;

    let limited = r.wait_for("/limited", 2, WAIT).await;
    let gap = limited[1].at - limited[0].at;
    assert!(
        gap >= Duration::from_millis(1900),
        "Retry-After: 2 honoured, got {gap:?}"
    );
    assert_eq!(
        limited[0].body, limited[1].body,
        "the same message is retried"
    );
    let flaky = r.wait_for("/flaky", 2, WAIT).await;
    assert_eq!(flaky[0].body, flaky[1].body);

    let n = s
        .wait_json("/api/v1/notifications", WAIT, |n| {
            n["items"].as_array().is_some_and(|i| {
                i.len() == 3
                    && i.iter()
                        .all(|x| x["state"] != "queued" && x["state"] != "sending")
            })
        })
        .await;
    let by_channel = |c: &str| {
        n["items"]
            .as_array()
            .and_then(|i| i.iter().find(|x| x["channel"] == c).cloned())
            .expect(c)
    };
    let l = by_channel("webhook_configs[0]");
    assert_eq!(l["state"], "delivered");
    assert_eq!(l["attempt_count"], 2);
    assert_eq!(l["attempts"][0]["status"], 429);
    assert_eq!(l["attempts"][0]["outcome"], "retry");
    assert!(
        l["attempts"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("slow down"))
    );
    assert_eq!(l["attempts"][1]["status"], 200);
    let f = by_channel("webhook_configs[1]");
    assert_eq!(f["state"], "delivered");
    assert_eq!(f["attempts"][0]["status"], 500);
    let refused = by_channel("webhook_configs[2]");
    assert_eq!(refused["state"], "failed");
    assert_eq!(refused["attempt_count"], 1);
    assert!(
        refused["attempts"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("bad payload"))
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(r.hits("/refused").len(), 1, "a 4xx is not retried");
    let metrics = s.metrics().await;
    assert!(
        crate::has_line(
            &metrics,
            "panoptes_notifications_total{receiver=\"web\",result=\"failed\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        crate::has_line(
            &metrics,
            "panoptes_alerts{rule=\"ApiDown\",state=\"firing\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_kill_between_the_state_change_and_the_delivery_still_delivers() {
    let r = Receiver::start().await;
    let mut s = Server::start(&config(&r, "4s", false));
    s.push("api-token-0123456789", false).await;
    // The alert fires (durably) and its group waits 4 s: kill -9 inside the wait.
    s.wait_json("/api/v1/alerts", WAIT, |a| {
        a["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|x| x["state"] == "firing"))
    })
    .await;
    assert!(r.hits("/").is_empty());
    s.kill_and_restart();
    let hits = r.wait_for("/flaky", 1, WAIT).await;
    assert_eq!(hits[0].json()["status"], "firing");
    // Still firing after the restart, not fired again: one message, not two.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(r.hits("/flaky").len(), 1, "{}", s.run.log_text());
    let alerts = s.json("/api/v1/alerts").await;
    assert_eq!(alerts["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_kill_mid_delivery_resends_only_where_the_receiver_deduplicates() {
    let r = Receiver::start().await;
    // Both receivers take the request and never answer: Panoptes is killed mid-attempt.
    r.script("/limited", vec![Reply::Hang]);
    r.script("/v2/enqueue", vec![Reply::Hang]);
    let mut s = Server::start(&config(&r, "1s", true));
    s.push("api-token-0123456789", false).await;
    r.wait_for("/limited", 1, WAIT).await;
    r.wait_for("/v2/enqueue", 1, WAIT).await;
    // The other two webhooks answer at once; kill only once their answers are on disk, or
    // they too would be (rightly) uncertain after the restart.
    s.wait_json("/api/v1/notifications?receiver=web", WAIT, |n| {
        n["items"].as_array().is_some_and(|i| {
            i.iter()
                .filter(|x| x["channel"] != "webhook_configs[0]")
                .filter(|x| x["state"] == "delivered")
                .count()
                == 2
        })
    })
    .await;
    s.kill_and_restart();
    // PagerDuty deduplicates by dedup_key: the trigger is sent again.
    let pd = r.wait_for("/v2/enqueue", 2, WAIT).await;
    assert_eq!(pd[0].json()["dedup_key"], pd[1].json()["dedup_key"]);
    // The webhook does not: it is marked uncertain and not resent.
    let n = s
        .wait_json("/api/v1/notifications?receiver=web", WAIT, |n| {
            n["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|x| x["state"] == "uncertain"))
        })
        .await;
    let uncertain: Vec<_> = n["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|x| x["state"] == "uncertain")
        .collect();
    assert_eq!(uncertain.len(), 1);
    assert_eq!(uncertain[0]["channel"], "webhook_configs[0]");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(r.hits("/limited").len(), 1, "never sent twice");
}
