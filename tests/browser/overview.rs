//! The overview leads with what needs attention: "All clear" while nothing does; once a
//! monitor goes down it is listed first (before the alert it fires, a new issue and a growing
//! exception key), without a reload, and its link opens the monitor's page.

use super::*;

const BEAT: &str = "beat-token-0123456789";
const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";

#[tokio::test]
async fn a_monitor_going_down_leads_the_overview_and_links_to_its_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "alice", "correct horse battery");
    let token = create_token(dir.path(), "test");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!(
            "monitors:\n  - {{name: beat, type: push, token: {BEAT}, interval: 1h, retries: 0}}\n\
             projects:\n  - {{id: 7, name: shop, keys: [{KEY}]}}\n\
             periskop:\n  push_tokens: [push-secret-0123456789]\n\
             alerts:\n  rules:\n    - {{name: BeatDown, monitor: {{state: down, monitors: [beat]}}}}\n  \
             route: {{receiver: web}}\n  receivers:\n    - {{name: web, webhook_configs: [{{url: \"http://127.0.0.1:9/hook\"}}]}}\n"
        ),
    )
    .expect("config");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let push = |status: &'static str| {
        let url = s.url(&format!("/api/v1/push/{BEAT}?status={status}"));
        async move {
            let r = client().post(url).send().await.expect("push");
            assert!(r.status().is_success(), "push: {}", r.status());
        }
    };
    push("up").await;

    let d = Driver::start().await;
    d.goto(&s.url("/")).await;
    d.type_into("#username", "alice").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/")).await;
    // Nothing needs attention: said so, with the healthy counts below.
    d.wait_text("#attention", "All clear").await;
    d.wait_text("#glance-monitors", "UP").await;
    d.find("#live[data-live='on']").await;

    // A new issue and a growing exception key need attention...
    let event = json!({"platform": "python", "level": "error",
        "exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero"}]}});
    let envelope = format!("{{}}\n{{\"type\":\"event\"}}\n{event}\n");
    let r = client()
        .post(s.url(&format!("/api/7/envelope/?sentry_key={KEY}")))
        .body(envelope)
        .send()
        .await
        .expect("envelope");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let export = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/periskop/python-client-0.2.0.json"
    ))
    .expect("fixture");
    let r = client()
        .post(s.url("/push/periskop/shop/errors"))
        .bearer_auth("push-secret-0123456789")
        .body(export)
        .send()
        .await
        .expect("periskop push");
    assert!(r.status().is_success(), "periskop push: {}", r.status());
    d.find("li.attention-item[data-kind='new-issue']").await;
    d.find("li.attention-item[data-kind='exception']").await;

    // ...but a monitor going down comes first, then the alert it fires.
    push("down").await;
    let monitors: Value = client()
        .get(s.url("/api/v1/monitors"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("monitors")
        .json()
        .await
        .expect("json");
    let id = monitors["items"][0]["id"]
        .as_u64()
        .expect("the monitor's id");
    d.wait_text("li.attention-item:nth-child(1)[data-kind='down']", "beat")
        .await;
    d.wait_text(
        "li.attention-item:nth-child(2)[data-kind='alert']",
        "BeatDown",
    )
    .await;
    d.find("li.attention-item:nth-child(3)[data-kind='new-issue']")
        .await;
    d.find("li.attention-item:nth-child(4)[data-kind='exception']")
        .await;
    assert!(!d.exists("#all-clear").await);
    d.screenshot("overview.png").await;
    d.click("li.attention-item[data-kind='down'] a").await;
    d.wait_url(&s.url(&format!("/monitors/{id}"))).await;
    d.find("#monitor-detail").await;
    d.call(reqwest::Method::DELETE, "", json!({})).await;
}
