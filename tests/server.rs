//! The running server over real HTTP: health, metrics, the dashboard, access control, tokens;
//! signals (shutdown with writes in flight, reload) are in `server/signals.rs`, the live feed in
//! `server/live.rs`.

mod common;
#[path = "server/live.rs"]
mod live;
#[path = "server/monitors.rs"]
mod monitors;
#[path = "server/settings.rs"]
mod settings;
#[path = "server/signals.rs"]
mod signals;
#[path = "server/users.rs"]
mod users;

use std::time::Duration;

use common::{add_user, client, create_token, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn login(
    c: &reqwest::Client,
    base: &common::Running,
    user: &str,
    pw: &str,
) -> reqwest::Response {
    c.post(base.url("/api/v1/session"))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .expect("login request")
}

#[tokio::test]
async fn healthz_reports_version_uptime_and_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), &[]);
    let resp = client().get(s.url("/healthz")).send().await.expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["uptime_seconds"].is_u64());
    assert_eq!(v["store"]["status"], "ok");
    assert_eq!(
        v["store"]["schema_version"],
        panoptes::store::LATEST_VERSION
    );
    assert!(
        v["store"]["path"]
            .as_str()
            .expect("path")
            .ends_with("panoptes.redb")
    );
}

#[tokio::test]
async fn api_routes_need_credentials_and_answer_401_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), &[]);
    let c = client();
    for path in [
        "/api/v1/status",
        "/api/v1/me",
        "/api/v1/tokens",
        "/api/v1/audit",
    ] {
        let resp = c.get(s.url(path)).send().await.expect("get");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            resp.headers().get("location").is_none(),
            "no redirect for {path}"
        );
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["error"]["code"], "unauthorized", "{path}");
        assert!(v["error"]["message"].is_string());
    }
    let resp = c
        .get(s.url("/api/v1/status"))
        .bearer_auth("pnp_not-a-real-token")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["message"], "unknown or revoked API token");
}

#[tokio::test]
async fn unknown_api_routes_are_404_json_and_other_paths_get_the_dashboard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "t");
    let s = start(dir.path(), &[]);
    let c = client();
    let resp = c
        .get(s.url("/api/v1/nope"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], "not_found");

    let mut pages = Vec::new();
    for path in ["/", "/monitors/some/deep/route"] {
        let resp = c.get(s.url(path)).send().await.expect("get");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(
            resp.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(resp.headers()["cache-control"], "no-cache");
        assert!(resp.headers().contains_key("etag"));
        let body = resp.text().await.expect("body");
        assert!(body.contains("<title>Panoptes</title>"), "{path}: {body}");
        pages.push(body);
    }
    assert_eq!(pages[0], pages[1], "a client route gets index.html itself");
    let resp = c.get(s.url("/missing.js")).send().await.expect("get");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

/// Marks the page `build.rs` embeds when the dashboard was not built (it has the same title as
/// the real one, so the title alone proves nothing).
const PLACEHOLDER_MARKER: &str = r#"<meta name="panoptes-dashboard" content="placeholder">"#;

/// The binary serves the real dashboard: its index loads the content-hashed module and
/// WebAssembly, and both are served. A binary built without the dashboard embeds a placeholder
/// page instead; that fails here when `PANOPTES_EXPECT_DASHBOARD=1` (as `make test` sets), and is
/// otherwise checked to be the placeholder and nothing else.
#[tokio::test]
async fn the_dashboard_is_embedded_or_the_placeholder_says_it_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), &[]);
    let c = client();
    let index = c
        .get(s.url("/"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    if index.contains(PLACEHOLDER_MARKER) {
        assert!(
            std::env::var("PANOPTES_EXPECT_DASHBOARD").as_deref() != Ok("1"),
            "PANOPTES_EXPECT_DASHBOARD=1 but this binary embeds the placeholder page, not the dashboard: build it first (scripts/build-frontend.sh, or `make test`, which does)"
        );
        assert!(
            index.contains("built without its dashboard"),
            "the placeholder says what it is: {index}"
        );
        assert!(
            !index.contains("/assets/"),
            "the placeholder loads nothing: {index}"
        );
        return;
    }
    // The real index: a module script file (inline scripts are forbidden by the CSP) that
    // imports the hashed JS, which loads the hashed wasm.
    let boot = index
        .split("<script type=\"module\" src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no boot script in the index:\n{index}"))
        .to_string();
    assert!(boot.starts_with("/assets/boot-"), "{boot}");
    let boot_js = c
        .get(s.url(&boot))
        .send()
        .await
        .expect("get boot")
        .text()
        .await
        .expect("boot");
    let asset = |ext: &str| -> String {
        let end = boot_js
            .find(&format!(".{ext}\""))
            .unwrap_or_else(|| panic!("no /assets/app-*.{ext} in the boot script:\n{boot_js}"));
        let start = boot_js[..end]
            .rfind("/assets/app-")
            .expect("an /assets/app- path");
        boot_js[start..end + 1 + ext.len()].to_string()
    };
    let (js, wasm) = (asset("js"), asset("wasm"));
    let resp = c.get(s.url(&js)).send().await.expect("get js");
    assert_eq!(resp.status(), StatusCode::OK, "{js}");
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        resp.text().await.expect("js").contains("WebAssembly"),
        "{js}"
    );
    let resp = c.get(s.url(&wasm)).send().await.expect("get wasm");
    assert_eq!(resp.status(), StatusCode::OK, "{wasm}");
    assert_eq!(resp.headers()["content-type"], "application/wasm");
    let bytes = resp.bytes().await.expect("wasm");
    assert!(bytes.starts_with(b"\0asm"), "{wasm} is not WebAssembly");
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_and_csrf_is_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "alice", PASSWORD);
    let s = start(dir.path(), &[]);
    let c = client();

    // An unknown user and a wrong password get the same answer: names are not revealed.
    let unknown = login(&c, &s, "mallory", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown: Value = unknown.json().await.expect("json");
    let wrong = login(&c, &s, "alice", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong: Value = wrong.json().await.expect("json");
    assert_eq!(unknown, wrong);

    let resp = login(&c, &s, "alice", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(cookie.starts_with("panoptes_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");

    let me: Value = c
        .get(s.url("/api/v1/me"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(
        me,
        json!({"name": "alice", "kind": "user", "role": "admin"})
    );

    // A state change with only the cookie (what a cross-site form could send) is refused...
    let resp = c
        .post(s.url("/api/v1/tokens"))
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], "forbidden");
    // ...and accepted with the header our own pages send.
    let resp = c
        .post(s.url("/api/v1/tokens"))
        .header("x-panoptes-csrf", "1")
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::CREATED);

    // Logout ends the session server-side.
    let resp = c
        .delete(s.url("/api/v1/session"))
        .header("x-panoptes-csrf", "1")
        .send()
        .await
        .expect("logout");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = c.get(s.url("/api/v1/me")).send().await.expect("me");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_passwords_are_rejected_and_repeated_failures_slowed_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "bob", PASSWORD);
    // A lock-out far longer than the test: however slow the machine, it cannot expire between
    // the failure that sets it and the logins that must meet it.
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "auth:\n  login_backoff: 60s\n").expect("write");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    for _ in 0..5 {
        let resp = login(&c, &s, "bob", "wrong password").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["error"]["code"], "unauthorized");
    }
    // The sixth failure locks the account for a while...
    let resp = login(&c, &s, "bob", "wrong password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // ...so even the right password waits.
    let resp = login(&c, &s, "bob", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], "too_many_requests");

    // The client address is locked too, so guessing other names from it waits as well.
    let resp = login(&client(), &s, "nobody", "whatever").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);

    let metrics = c
        .get(s.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert_eq!(
        metric(&metrics, "panoptes_login_failures_total"),
        Some(6.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn malformed_login_bodies_get_400_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), &[]);
    let c = client();
    let resp = c
        .post(s.url("/api/v1/session"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], "invalid_json");

    let resp = c
        .post(s.url("/api/v1/session"))
        .body("username=a")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], "unsupported_media_type");

    let resp = c
        .post(s.url("/api/v1/session"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn bearer_tokens_work_and_can_be_listed_and_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "deploy-bot");
    assert!(token.starts_with("pnp_"), "{token}");
    let s = start(dir.path(), &[]);
    let c = client();

    let me: Value = c
        .get(s.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(
        me,
        json!({"name": "deploy-bot", "kind": "token", "role": "admin"})
    );

    // Token-authenticated writes need no CSRF header: no browser sends bearer tokens by itself.
    let created: Value = c
        .post(s.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .json(&json!({"name": "second"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let second = created["token"].as_str().expect("token").to_string();
    let second_id = created["info"]["id"].as_str().expect("id").to_string();

    let page: Value = c
        .get(s.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let list = page["items"].as_array().expect("a page of tokens");
    assert!(page["next_cursor"].is_null(), "{page}");
    let names: Vec<&str> = list.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"deploy-bot") && names.contains(&"second"));
    assert!(
        list.iter().all(|t| t.get("token").is_none()),
        "secrets never listed"
    );

    let resp = c
        .delete(s.url(&format!("/api/v1/tokens/{second_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = c
        .get(s.url("/api/v1/me"))
        .bearer_auth(&second)
        .send()
        .await
        .expect("me");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // The audit log recorded both, newest first.
    let audit: Value = c
        .get(s.url("/api/v1/audit?limit=10"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        vec!["token.delete", "token.create", "token.create"]
    );
}

#[tokio::test]
async fn audit_pages_with_a_cursor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "t");
    let s = start(dir.path(), &[]);
    let c = client();
    for i in 0..5 {
        c.post(s.url("/api/v1/tokens"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("t{i}")}))
            .send()
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    // Bounded: a cursor that never ends must fail the test, not hang it.
    for pages in 0.. {
        assert!(pages < 20, "the cursor never ends: {seen:?}");
        let page: Value = c
            .get(s.url(&format!("/api/v1/audit?limit=2&cursor={cursor}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("audit")
            .json()
            .await
            .expect("json");
        for e in page["items"].as_array().expect("items") {
            seen.push(e["detail"].as_str().unwrap_or_default().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    // Five token creations, newest first, each once, then the CLI's own creation of `t`.
    assert_eq!(seen.len(), 6, "{seen:?}");
    for (i, d) in seen.iter().take(5).enumerate() {
        assert!(d.starts_with(&format!("t{} (", 4 - i)), "{seen:?}");
    }
    assert!(seen[5].starts_with("t ("), "{seen:?}");
    let resp = c
        .get(s.url("/api/v1/audit?cursor=garbage"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("audit");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn metrics_expose_http_and_store_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "m");
    // A config file, so no self-probe adds its own requests to `/healthz`.
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "server:\n  public_metrics: true\n").expect("write");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    c.post(s.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("create");
    c.get(s.url("/healthz")).send().await.expect("health");
    let resp = c.get(s.url("/metrics")).send().await.expect("metrics");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    let text = resp.text().await.expect("text");
    for (series, want) in [
        (
            r#"panoptes_http_requests_total{method="GET",route="/healthz",status="200"}"#,
            1.0,
        ),
        (
            r#"panoptes_http_requests_total{method="POST",route="/api/v1/tokens",status="201"}"#,
            1.0,
        ),
        ("panoptes_store_queue_depth", 0.0),
    ] {
        assert_eq!(metric(&text, series), Some(want), "{series} in\n{text}");
    }
    assert!(
        metric(&text, "panoptes_store_batches_total").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    for needle in [
        "panoptes_store_batch_size_bucket",
        "panoptes_store_commit_seconds_bucket",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

/// The value of one series (its name and labels, exactly) in Prometheus text; `} 1` would also
/// match `} 10`.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

#[tokio::test]
async fn metrics_can_require_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "server:\n  public_metrics: false\n").expect("write");
    let token = create_token(dir.path(), "m");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    let resp = c.get(s.url("/metrics")).send().await.expect("metrics");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = c
        .get(s.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), StatusCode::OK);
}
