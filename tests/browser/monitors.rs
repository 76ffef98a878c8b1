//! Monitors managed from the dashboard: an admin creates one in the form (a wrong field is named
//! under its input first), sees it probed, reaches its edit form by a deep link that survives a
//! reload, pauses it, and finds the config's own monitor read-only. Its latency chart is drawn.

use super::*;

#[tokio::test]
async fn a_monitor_created_in_the_form_is_probed_and_can_be_paused() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "root", "correct horse battery");
    let s = start(dir.path(), &[]);
    let d = Driver::start().await;
    d.goto(&s.url("/monitors")).await;
    d.type_into("#username", "root").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/monitors")).await;
    // The embedded default's own monitor comes from the config.
    d.find("tr.monitor-row .from-config").await;

    d.click("#new-monitor").await;
    d.wait_url(&s.url("/monitors/new")).await;
    d.type_into("#f-name", "own health").await;
    d.type_into("#f-url", "ftp://nowhere").await;
    d.type_into("#f-interval", "1s").await;
    d.click("#f-save").await;
    // The server's message for that field, under its input; nothing was created.
    let said = d
        .wait_text("[data-field='url']", "is not an http:// or https:// URL")
        .await;
    assert!(said.contains("ftp://nowhere"), "{said}");
    assert_eq!(d.url().await, s.url("/monitors/new"));

    d.type_into("#f-url", &s.url("/healthz")).await;
    d.click("#f-save").await;
    d.find("#monitor-actions").await;
    let url = d.url().await;
    let id: u32 = url
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a monitor's page: {url}"));
    // Probed every second: it is UP without a reload.
    d.find("#monitor-detail [data-state='UP']").await;
    // Its latency percentiles are charted (the current hour's bucket is a point already).
    d.find("#monitor-latency svg circle.dot.p95").await;
    d.click("#monitor-latency .segmented button:first-child")
        .await;
    d.find("#monitor-latency svg circle.dot.p50").await;
    d.screenshot("monitor-detail.png").await;

    // The edit form by its address, after a reload, holds what was saved.
    d.goto(&s.url(&format!("/monitors/{id}/edit"))).await;
    d.find("#f-url").await;
    d.wait_text("#monitor-form h1", "Edit monitor").await;
    let value = d
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "return document.querySelector('#f-url').value", "args": []}),
        )
        .await;
    assert_eq!(value["value"], s.url("/healthz"));
    d.screenshot("monitor-form.png").await;

    // Paused from its page; listed as paused.
    d.goto(&s.url(&format!("/monitors/{id}"))).await;
    d.click("#pause-monitor").await;
    d.find("#monitor-detail .paused").await;
    d.goto(&s.url("/monitors")).await;
    d.find(&format!("tr.monitor-row[data-id='{id}'] .paused"))
        .await;
    // Searching narrows the list; the count says how much of it shows.
    d.wait_text("#monitor-count", "2 of 2").await;
    d.type_into("#monitor-search", "own heal").await;
    d.wait_text("#monitor-count", "1 of 2").await;
    assert!(d.exists(&format!("tr.monitor-row[data-id='{id}']")).await);
    d.type_into("#monitor-search", "").await;
    d.click("#filter-state option[value='DOWN']").await;
    d.wait_text("#monitor-count", "0 of 2").await;
    d.click("#filter-state option[value='']").await;
    d.wait_text("#monitor-count", "2 of 2").await;
    d.find("tr.monitor-row .from-config").await;
    // Each row has its 24 h bar, one slot per hour.
    let slots = d
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "return document.querySelectorAll('tr.monitor-row')[0].querySelectorAll('svg.day-bar rect').length", "args": []}),
        )
        .await;
    assert_eq!(slots["value"], 24, "{slots}");
    d.screenshot("monitors.png").await;

    // The config's monitor shows no buttons, only where to change it.
    let own = d
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "return document.querySelector('tr.monitor-row .from-config').closest('tr').dataset.id", "args": []}),
        )
        .await;
    let own = own["value"]
        .as_str()
        .expect("the config monitor's id")
        .to_string();
    d.goto(&s.url(&format!("/monitors/{own}"))).await;
    d.find("#from-config").await;
    assert!(!d.exists("#edit-monitor").await);
}

#[tokio::test]
async fn a_maintenance_window_is_listed_and_ended_from_the_monitors_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "root", "correct horse battery");
    let token = create_token(dir.path(), "test");
    let s = start(dir.path(), &[]);
    let now = jiff::Timestamp::now();
    let r = client()
        .post(s.url("/api/v1/maintenance"))
        .bearer_auth(&token)
        .json(&json!({"name": "db upgrade", "monitors": ["panoptes"],
            "start": now.to_string(),
            "end": (now + jiff::SignedDuration::from_secs(3600)).to_string()}))
        .send()
        .await
        .expect("window");
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let d = Driver::start().await;
    d.goto(&s.url("/monitors")).await;
    d.type_into("#username", "root").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_text("tr.window-row[data-name='db upgrade']", "panoptes")
        .await;
    d.find("#new-window").await;
    d.click("tr.window-row[data-name='db upgrade'] .delete-window")
        .await;
    d.wait_text("#maintenance", "None.").await;
}
