//! Floods, quotas and the issue cap.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_counted_exactly_but_stored_sparsely_and_new_issues_still_appear() {
    let s = Arc::new(Server::start());
    let n = 300u64;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let s = s.clone();
        tasks.spawn(async move {
            let mut e = exception_event("FloodError", "the same broken page");
            e["user"] = json!({"id": format!("u{}", i % 7)});
            s.send_event(7, KEY, &e).await.status()
        });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.expect("task"), StatusCode::OK);
    }
    // A new error during the flood is its own issue, with its event stored in full.
    let fresh = exception_event("FreshError", "something new");
    assert_eq!(s.send_event(7, KEY, &fresh).await.status(), StatusCode::OK);
    let new_issue = s.issue(7, "FreshError", 1).await;
    assert_eq!(new_issue["stored_events"], 1);
    let flood = s.issue(7, "FloodError", n).await;
    assert_eq!(flood["count"], n, "every copy counted: {flood:#}");
    assert_eq!(flood["users"], 7, "users counted from sampled copies too");
    let stored = flood["stored_events"].as_u64().expect("stored");
    // 5 per one-minute window; the run may straddle one window boundary.
    assert!((5..=10).contains(&stored), "stored {stored}");
    // The backlog count returns to zero once everything is grouped (it once raced with the
    // digest and stayed above zero forever).
    let deadline = Instant::now() + Duration::from_secs(20);
    let stats = loop {
        let stats = s.get("/api/v1/ingest/stats").await;
        if stats["backlog"] == 0 {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "backlog never drained: {stats:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let p = &stats["projects"][0];
    assert_eq!(p["accepted"], n + 1);
    assert_eq!(
        p["sampled"].as_u64().unwrap_or(0) + p["stored"].as_u64().unwrap_or(0),
        n + 1
    );
}

/// The quota (5 events per calendar minute for project 8) answers 429 with Sentry's headers.
/// Events are sent one at a time until the first 429, and everything is judged relative to it:
/// a minute that ends mid-run resets the window, which only moves the 429 later (at most 5
/// accepted in the old minute, then 5 more in the new one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_quota_answers_429_with_sentry_rate_limit_headers() {
    let s = Server::start();
    let mut accepted = 0u64;
    let limited = loop {
        assert!(
            accepted <= 10,
            "no 429 after {accepted} events on a quota of 5 a minute"
        );
        let r = s
            .send_event(
                8,
                LIMITED_KEY,
                &exception_event("QuotaError", &format!("n{accepted}")),
            )
            .await;
        match r.status() {
            StatusCode::OK => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => break r,
            other => panic!("event {accepted}: {other}"),
        }
    };
    assert!(
        (5..=10).contains(&accepted),
        "{accepted} accepted before the 429"
    );
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&retry));
    let limits = limited.headers()["x-sentry-rate-limits"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(limits.starts_with(&format!("{retry}:error;")), "{limits}");
    assert!(limits.contains(":project:"), "{limits}");
    // Another project is not affected.
    let r = s
        .send_event(7, KEY, &exception_event("QuotaError", "other project"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Every accepted event counted, the refused one not.
    let issue = s.issue(8, "QuotaError", accepted).await;
    assert_eq!(issue["count"], accepted);
    let stats = s.get("/api/v1/ingest/stats").await;
    assert_eq!(stats["projects"][1]["rate_limited"], 1, "{stats:#}");
    assert_eq!(stats["projects"][1]["accepted"], accepted, "{stats:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_issues_per_project_events_count_in_one_overflow_issue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = CONFIG.replace("ingest:\n", "ingest:\n  max_issues_per_project: 3\n");
    let s = Server::start_with(dir.path(), &config);
    for i in 0..6 {
        let e = exception_event(
            &format!("Distinct{}Error", ["A", "B", "C", "D", "E", "F"][i]),
            "x",
        );
        assert_eq!(s.send_event(7, KEY, &e).await.status(), StatusCode::OK);
    }
    let overflow = s.issue(7, "Further distinct errors", 3).await;
    assert_eq!(overflow["count"], 3, "{overflow:#}");
    assert_eq!(overflow["grouping_hash"], "overflow");
    let all = s.issues(7).await;
    assert_eq!(all.len(), 4, "three real issues and the overflow: {all:#?}");
    let projects = s.get("/api/v1/projects").await["items"].clone();
    assert_eq!(projects[0]["issues"], 4);
}
