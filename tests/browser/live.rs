//! The live feed in the browser: a monitor going down shows on the open monitors page without
//! a reload, and the page picks the feed up again after the server restarts.

use super::*;

const BEAT: &str = "beat-token-0123456789";

/// `panoptes serve` on a fixed port (a restart must come back where the browser looks).
fn serve_on(dir: &std::path::Path, cfg: &std::path::Path, port: u16) -> common::Running {
    let mut cmd = common::panoptes();
    cmd.args(["--log-format", "json", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(cfg);
    common::spawn_serving(cmd, dir)
}

async fn push(s: &common::Running, status: &str) {
    let r = client()
        .post(s.url(&format!("/api/v1/push/{BEAT}?status={status}")))
        .send()
        .await
        .expect("push");
    assert!(r.status().is_success(), "push: {}", r.status());
}

#[tokio::test]
async fn a_monitor_going_down_shows_on_the_open_page_and_the_feed_resumes_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "alice", "correct horse battery");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!(
            "monitors:\n  - {{name: beat, type: push, token: {BEAT}, interval: 1h, retries: 0}}\n"
        ),
    )
    .expect("config");
    let port = common::reserved_port();
    let mut s = serve_on(dir.path(), &cfg, port);

    let d = Driver::start().await;
    d.goto(&s.url("/monitors")).await;
    d.type_into("#username", "alice").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/monitors")).await;
    d.find("tr.monitor-row[data-name='beat']").await;
    // Listening: from here the page refetches on messages, and polls only once a minute.
    d.find("#live[data-live='on']").await;
    // Both changes show well within the minute (`wait_text` gives up after 40 s), so they
    // came over the feed.
    push(&s, "up").await;
    d.wait_text("tr.monitor-row[data-name='beat']", "UP").await;
    push(&s, "down").await;
    d.wait_text("tr.monitor-row[data-name='beat']", "DOWN")
        .await;

    // The server goes away: the page says it is no longer live...
    s.signal("TERM");
    assert!(s.wait(Duration::from_secs(15)).success());
    d.find("#live[data-live='off']").await;
    // ...and once the server is back, it listens again (the session is stored) and shows
    // what happened there.
    let s = serve_on(dir.path(), &cfg, port);
    d.find("#live[data-live='on']").await;
    push(&s, "up").await;
    d.wait_text("tr.monitor-row[data-name='beat']", "UP").await;
    assert_eq!(d.url().await, s.url("/monitors"), "no reload, no login");

    // Its page has the timeline of those changes, newest first, across the restart.
    d.click("tr.monitor-row[data-name='beat']").await;
    let timeline = d.wait_text("#monitor-changes", "from DOWN").await;
    assert!(timeline.contains("from UP"), "{timeline}");
    let v = d
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "return Array.from(document.querySelectorAll('#monitor-changes li.change')).map(e => e.dataset.to)", "args": []}),
        )
        .await;
    assert_eq!(v["value"], json!(["UP", "DOWN", "UP"]), "{timeline}");
    d.call(reqwest::Method::DELETE, "", json!({})).await;
}
