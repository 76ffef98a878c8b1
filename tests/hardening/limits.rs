//! Metric labels a client cannot multiply, and a login throttle that holds when attempts come
//! all at once.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_and_unknown_projects_add_no_series() {
    let s = Server::start(CONFIG);
    for i in 0..5 {
        let m = reqwest::Method::from_bytes(format!("ZZ{i}").as_bytes()).expect("method");
        let _ = s.http.request(m, s.url("/healthz")).send().await;
    }
    for p in [999u64, 1000, 1001] {
        let resp = s
            .http
            .post(s.url(&format!("/api/{p}/envelope/?sentry_key={KEY7}")))
            .body("not an envelope")
            .send()
            .await
            .expect("post");
        assert!(resp.status().is_client_error());
    }
    let m = s.metrics().await;
    assert!(!m.contains("method=\"ZZ"), "{m}");
    assert!(
        m.contains("method=\"other\""),
        "invented methods count as other"
    );
    for p in ["999", "1000", "1001"] {
        assert!(
            !m.contains(&format!("project=\"{p}\"")),
            "project {p} is not configured and must not be a label"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_wrong_passwords_at_once_get_at_most_six_verifications() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A long lock-out, so the count cannot depend on how slow the machine is.
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        "auth:\n  login_backoff: 1h\n  login_backoff_max: 2h\n",
    )
    .expect("cfg");
    let data = dir.path().join("data");
    common::add_user(&data, "bob", "correct horse battery");
    let run = common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
    let http = common::client();
    let attempts: Vec<_> = (0..30)
        .map(|_| {
            let (http, url) = (http.clone(), run.url("/api/v1/session"));
            tokio::spawn(async move {
                http.post(url)
                    .json(&serde_json::json!({"username": "bob", "password": "wrong password"}))
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    let mut unauthorized = 0;
    let mut throttled = 0;
    for a in attempts {
        match a.await.expect("join").expect("answer") {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(unauthorized <= 6, "{unauthorized} passwords were checked");
    assert_eq!(unauthorized + throttled, 30);
    // A user name of a megabyte is refused like any wrong login, not stored anywhere.
    let resp = http
        .post(run.url("/api/v1/session"))
        .json(&serde_json::json!({"username": "x".repeat(1 << 20), "password": "p"}))
        .send()
        .await
        .expect("login");
    assert!(
        matches!(
            resp.status(),
            StatusCode::UNAUTHORIZED
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{}",
        resp.status()
    );
}
