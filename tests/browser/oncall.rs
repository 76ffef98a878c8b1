//! On-call pages over the live feed: with the pages view open (and no longer polling), a page
//! raised by a failing monitor's alert appears without a reload, and its acknowledgement from
//! elsewhere (the API, as a phone's link would) shows on the open view too.

use super::*;

const BEAT: &str = "page-beat-token-0123456789";

#[tokio::test]
async fn a_page_raised_and_acknowledged_elsewhere_shows_on_the_open_pages_view() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "alice", "correct horse battery");
    let token = create_token(dir.path(), "test");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"monitors:
  - {{name: beat, type: push, token: {BEAT}, interval: 1h, retries: 0}}
alerts:
  rules:
    - {{name: BeatDown, monitor: {{state: down, monitors: [beat]}}}}
  route: {{receiver: web, group_wait: 1s, group_interval: 1s, escalation_policy: platform}}
  receivers:
    - {{name: web, webhook_configs: [{{url: "http://127.0.0.1:9/hook"}}]}}
oncall:
  contacts:
    ana: [{{webhook: {{url: "http://127.0.0.1:9/ana"}}}}]
  schedules:
    - name: platform
      layers:
        - {{users: [ana], rotation: weekly, handoff: {{day: monday, time: "09:00"}}, start: 2026-01-05}}
  escalation_policies:
    - name: platform
      steps:
        - {{delay: 0s, targets: [{{schedule: platform}}]}}
"#
        ),
    )
    .expect("config");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);

    let d = Driver::start().await;
    d.goto(&s.url("/oncall")).await;
    d.type_into("#username", "alice").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/oncall")).await;
    d.wait_text("#pages", "Nobody has been paged").await;
    // Listening: from here the view refetches on page messages, and polls once a minute.
    d.find("#live[data-live='on']").await;

    let r = client()
        .post(s.url(&format!("/api/v1/push/{BEAT}?status=down")))
        .send()
        .await
        .expect("push");
    assert!(r.status().is_success(), "push: {}", r.status());
    // Well within the minute (`wait_text` gives up after 40 s): it came over the feed.
    d.wait_text("tr.page-row[data-status='triggered']", "BeatDown")
        .await;
    let id = d
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "return document.querySelector('tr.page-row').dataset.id", "args": []}),
        )
        .await["value"]
        .as_str()
        .expect("the page's id")
        .to_string();

    let r = client()
        .post(s.url(&format!("/api/v1/pages/{id}/acknowledge")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("acknowledge");
    assert!(r.status().is_success(), "acknowledge: {}", r.status());
    d.wait_text("tr.page-row[data-status='acknowledged']", "acknowledged by")
        .await;
    assert_eq!(d.url().await, s.url("/oncall"), "no reload");
    d.call(reqwest::Method::DELETE, "", json!({})).await;
}
