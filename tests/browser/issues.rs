//! Issue triage in the browser: the list filtered by level from its filter bar (the filter is in
//! the address and survives back/forward), two issues resolved at once with the bulk bar
//! (checked through the API), and an issue's events walked with Older / Newer, the event shown
//! surviving a reload.

use super::*;

const KEY: &str = "5b1e0c9d2a8f4e7b9c3d6a0f1e2b4c8d";

fn event(id: &str, ty: &str, level: &str, environment: &str) -> Value {
    json!({"event_id": id, "platform": "python", "level": level, "environment": environment,
        "release": "shop@1.0.0",
        "exception": {"values": [{"type": ty, "value": "in the browser test",
            "stacktrace": {"frames": [{"filename": "jobs.py", "function": "run",
                "lineno": 7, "context_line": format!("    raise {ty}()"), "in_app": true}]}}]}})
}

async fn send(s: &common::Running, e: &Value) {
    let id = e["event_id"].as_str().expect("event id");
    let r = client()
        .post(s.url(&format!("/api/7/envelope/?sentry_key={KEY}")))
        .body(format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{e}\n"
        ))
        .send()
        .await
        .expect("envelope");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
}

async fn api(s: &common::Running, token: &str, path: &str) -> Value {
    client()
        .get(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json")
}

/// Waits until the project's issues (any status) are `n`, each with its stored events; returns
/// them by title.
async fn issues(s: &common::Running, token: &str, n: usize, events: u64) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = api(s, token, "/api/v1/projects/7/issues?status=all").await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        let stored: u64 = items
            .iter()
            .filter_map(|i| i["stored_events"].as_u64())
            .sum();
        if items.len() == n && stored == events {
            return items;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "issues never came: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn id_of(items: &[Value], title_starts: &str) -> u64 {
    items
        .iter()
        .find(|i| {
            i["title"]
                .as_str()
                .is_some_and(|t| t.starts_with(title_starts))
        })
        .and_then(|i| i["id"].as_u64())
        .unwrap_or_else(|| panic!("no issue {title_starts} in {items:?}"))
}

/// The ids of the rows shown, sorted, once they are `expected` (the list refreshes itself).
async fn wait_rows(d: &Driver, mut expected: Vec<u64>) {
    expected.sort_unstable();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = d
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                json!({"script": "return [...document.querySelectorAll('tr.issue-row')].map(r => Number(r.dataset.id));", "args": []}),
            )
            .await;
        let mut shown: Vec<u64> = v["value"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        shown.sort_unstable();
        if shown == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rows {shown:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn issues_are_filtered_triaged_in_bulk_and_their_events_walked() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "alice", "correct horse battery");
    let token = create_token(dir.path(), "test");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!("projects:\n  - id: 7\n    name: shop\n    keys: [{KEY}]\n"),
    )
    .expect("config");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    // Three events of one issue, received in this order; three more issues.
    let walk = [
        "a0000000000000000000000000000001",
        "a0000000000000000000000000000002",
        "a0000000000000000000000000000003",
    ];
    for (n, id) in walk.iter().enumerate() {
        send(&s, &event(id, "ZeroDivisionError", "error", "production")).await;
        issues(&s, &token, 1, n as u64 + 1).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    send(
        &s,
        &event(
            "b0000000000000000000000000000001",
            "TimeoutError",
            "error",
            "staging",
        ),
    )
    .await;
    send(
        &s,
        &event(
            "c0000000000000000000000000000001",
            "DeprecationWarning",
            "warning",
            "production",
        ),
    )
    .await;
    send(
        &s,
        &event(
            "d0000000000000000000000000000001",
            "CacheMiss",
            "info",
            "staging",
        ),
    )
    .await;
    let items = issues(&s, &token, 4, 6).await;
    let zero = id_of(&items, "ZeroDivisionError");
    let timeout = id_of(&items, "TimeoutError");
    let warning = id_of(&items, "DeprecationWarning");
    let info = id_of(&items, "CacheMiss");

    let d = Driver::start().await;
    d.goto(&s.url("/issues")).await;
    d.type_into("#username", "alice").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/issues")).await;
    wait_rows(&d, vec![zero, timeout, warning, info]).await;

    // The level filter offers the levels seen; picking one narrows the list and the address.
    d.find("#filter-level option[value='warning']").await;
    d.click("#filter-level option[value='error']").await;
    d.wait_url(&s.url("/issues?level=error")).await;
    wait_rows(&d, vec![zero, timeout]).await;
    // Back and forward keep what the address says.
    d.back().await;
    d.wait_url(&s.url("/issues")).await;
    wait_rows(&d, vec![zero, timeout, warning, info]).await;
    d.call(reqwest::Method::POST, "/forward", json!({})).await;
    d.wait_url(&s.url("/issues?level=error")).await;
    wait_rows(&d, vec![zero, timeout]).await;
    // So does a reload.
    d.goto(&s.url("/issues?level=error&environment=staging"))
        .await;
    wait_rows(&d, vec![timeout]).await;
    // A level no issue has: the list says so.
    d.goto(&s.url("/issues?level=fatal")).await;
    d.wait_text("#issues", "No issues match these filters.")
        .await;
    d.goto(&s.url("/issues?level=error")).await;
    wait_rows(&d, vec![zero, timeout]).await;

    // Both checked (select-all), resolved at once: gone from the unresolved list, resolved in
    // the API.
    d.click("#select-all").await;
    d.wait_text("#bulk-status", "2 checked").await;
    d.screenshot("issues.png").await;
    d.click("#bulk-resolve").await;
    d.wait_text("#bulk-status", "2 issues resolved").await;
    d.wait_text("#issues", "No issues match these filters.")
        .await;
    for id in [zero, timeout] {
        let issue = api(&s, &token, &format!("/api/v1/issues/{id}")).await;
        assert_eq!(issue["status"], "resolved", "{issue}");
    }
    let open = api(&s, &token, "/api/v1/projects/7/issues").await;
    assert_eq!(open["items"].as_array().map(Vec::len), Some(2), "{open}");
    // One checked by its own box, then unresolved again from the resolved list.
    d.click("#filter-status option[value='resolved']").await;
    d.wait_url(&s.url("/issues?status=resolved&level=error"))
        .await;
    wait_rows(&d, vec![zero, timeout]).await;
    d.click(&format!(
        "tr.issue-row[data-id='{timeout}'] input.select-issue"
    ))
    .await;
    d.wait_text("#bulk-status", "1 checked").await;
    d.click("#bulk-unresolve").await;
    wait_rows(&d, vec![zero]).await;
    let issue = api(&s, &token, &format!("/api/v1/issues/{timeout}")).await;
    assert_eq!(issue["status"], "unresolved", "{issue}");

    // The issue opens on its newest event; Older steps back, to the oldest (where Older is
    // disabled), Newer forward; the event is in the address, so a reload shows the same one.
    d.click(&format!("tr.issue-row[data-id='{zero}']")).await;
    d.wait_url(&s.url(&format!("/issues/{zero}"))).await;
    let shows = |e: &str| format!("#latest-event[data-event-id='{e}']");
    d.find(&shows(walk[2])).await;
    assert!(d.exists("#event-newer:disabled").await);
    assert!(d.exists("#event-newest:disabled").await);
    d.click("#event-older").await;
    d.wait_url(&s.url(&format!("/issues/{zero}?event={}", walk[1])))
        .await;
    d.find(&shows(walk[1])).await;
    d.click("#event-older").await;
    d.find(&shows(walk[0])).await;
    d.find("#event-older:disabled").await;
    d.wait_text("#event-position", "oldest").await;
    d.click("#event-newer").await;
    d.wait_url(&s.url(&format!("/issues/{zero}?event={}", walk[1])))
        .await;
    d.find(&shows(walk[1])).await;
    d.goto(&s.url(&format!("/issues/{zero}?event={}", walk[1])))
        .await;
    d.find(&shows(walk[1])).await;
    d.wait_text("#issue-detail", "ZeroDivisionError").await;
    d.find("#event-newer:enabled").await;
    d.screenshot("issue-events.png").await;
    d.click("#event-newest").await;
    d.wait_url(&s.url(&format!("/issues/{zero}"))).await;
    d.find(&shows(walk[2])).await;

    // Every open one ignored from the list: a fresh load says there is nothing left.
    d.goto(&s.url("/issues")).await;
    wait_rows(&d, vec![timeout, warning, info]).await;
    d.click("#select-all").await;
    d.wait_text("#bulk-status", "3 checked").await;
    d.click("#bulk-ignore").await;
    d.wait_text("#bulk-status", "3 issues ignored").await;
    d.goto(&s.url("/issues")).await;
    d.wait_text("#issues", "No unresolved issues.").await;
    d.call(reqwest::Method::DELETE, "", json!({})).await;
}
