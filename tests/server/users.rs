//! First run without a terminal, and roles enforced on the server for every route: the first
//! admin made through `POST /api/v1/setup` (from this machine, or with the logged code), users
//! an admin manages, and what a viewer, an editor and a viewer's token may and may not do.

use super::*;

/// A client with its own cookie jar (one per person).
fn person() -> reqwest::Client {
    client()
}

pub(super) async fn send(
    c: &reqwest::Client,
    s: &common::Running,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = c
        .request(method, s.url(path))
        .header(panoptes_types::CSRF_HEADER, "1");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn silence() -> Value {
    let now = jiff::Timestamp::now();
    json!({
        "matchers": [{"name": "alertname", "value": "HttpDown", "isRegex": false}],
        "startsAt": now.to_string(),
        "endsAt": (now + jiff::SignedDuration::from_secs(3600)).to_string(),
        "createdBy": "test",
        "comment": "roles",
    })
}

/// The code the server logged for creating the first admin from elsewhere.
fn setup_code(s: &common::Running) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = s.log_text();
        if let Some(code) = text.lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            v["fields"]["setup_code"]
                .as_str()
                .or(v["setup_code"].as_str())
                .map(str::to_string)
        }) {
            return code;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no setup code in the log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn the_first_admin_is_made_from_the_dashboard_and_roles_hold_on_every_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), &[]);
    use reqwest::Method;

    // Nobody yet: the dashboard is told to offer the form; this client is local.
    let ana = person();
    let (st, v) = send(&ana, &s, Method::GET, "/api/v1/setup", None).await;
    assert_eq!(
        (st, v.clone()),
        (
            StatusCode::OK,
            json!({"needed": true, "code_required": false})
        )
    );
    // Through a proxy every client looks local: the code is asked for.
    let proxied = ana
        .post(s.url("/api/v1/setup"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"username": "ana", "password": PASSWORD}))
        .send()
        .await
        .expect("setup");
    assert_eq!(proxied.status(), StatusCode::FORBIDDEN);
    let wrong = ana
        .post(s.url("/api/v1/setup"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"username": "ana", "password": PASSWORD, "code": "not-the-code"}))
        .send()
        .await
        .expect("setup");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let made = ana
        .post(s.url("/api/v1/setup"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"username": "ana", "password": PASSWORD, "code": setup_code(&s)}))
        .send()
        .await
        .expect("setup");
    assert_eq!(made.status(), StatusCode::CREATED);
    let me: Value = made.json().await.expect("json");
    assert_eq!(me["role"], "admin");
    // Signed in by it.
    let (st, me) = send(&ana, &s, Method::GET, "/api/v1/me", None).await;
    assert_eq!((st, me["name"].clone()), (StatusCode::OK, json!("ana")));
    // Once anyone exists, setup is over, even from this machine.
    let (st, v) = send(
        &person(),
        &s,
        Method::POST,
        "/api/v1/setup",
        Some(json!({"username": "eve", "password": PASSWORD})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "conflict");
    let (_, v) = send(&person(), &s, Method::GET, "/api/v1/setup", None).await;
    assert_eq!(v["needed"], false);

    // The admin adds a viewer and an editor.
    for (name, role) in [("vic", "viewer"), ("eddie", "editor")] {
        let (st, v) = send(
            &ana,
            &s,
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": name, "password": PASSWORD, "role": role})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(v["role"], role);
    }
    let (st, v) = send(
        &ana,
        &s,
        Method::POST,
        "/api/v1/users",
        Some(json!({"username": "vic", "password": PASSWORD, "role": "viewer"})),
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict"))
    );
    let (st, v) = send(
        &ana,
        &s,
        Method::POST,
        "/api/v1/users",
        Some(json!({"username": "x", "password": PASSWORD, "role": "owner"})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "an unknown role: {v}");

    let vic = person();
    assert_eq!(
        login(&vic, &s, "vic", PASSWORD).await.status(),
        StatusCode::OK
    );
    let eddie = person();
    assert_eq!(
        login(&eddie, &s, "eddie", PASSWORD).await.status(),
        StatusCode::OK
    );

    // A viewer reads, and nothing else.
    for path in [
        "/api/v1/monitors",
        "/api/v1/silences",
        "/api/v1/oncall/schedules",
    ] {
        let (st, v) = send(&vic, &s, Method::GET, path, None).await;
        assert_eq!(st, StatusCode::OK, "{path}: {v}");
    }
    let (st, v) = send(&vic, &s, Method::POST, "/api/v1/silences", Some(silence())).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "forbidden");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("editor")),
        "{v}"
    );
    for path in [
        "/api/v1/users",
        "/api/v1/tokens",
        "/api/v1/audit",
        "/api/v1/backup",
    ] {
        let (st, _) = send(&vic, &s, Method::GET, path, None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
    }
    // An editor changes things, but not people or tokens.
    let (st, v) = send(
        &eddie,
        &s,
        Method::POST,
        "/api/v1/silences",
        Some(silence()),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, _) = send(
        &eddie,
        &s,
        Method::POST,
        "/api/v1/tokens",
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // A token carries a role: a viewer's token reads and cannot write.
    let (st, t) = send(
        &ana,
        &s,
        Method::POST,
        "/api/v1/tokens",
        Some(json!({"name": "dashboards", "role": "viewer"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    assert_eq!(t["info"]["role"], "viewer");
    let token = t["token"].as_str().expect("token").to_string();
    let bare = reqwest::Client::new();
    let r = bare
        .get(s.url("/api/v1/monitors"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let r = bare
        .post(s.url("/api/v1/silences"))
        .bearer_auth(&token)
        .json(&silence())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The last admin can be neither demoted nor deleted.
    let (st, _) = send(
        &ana,
        &s,
        Method::PATCH,
        "/api/v1/users/ana",
        Some(json!({"role": "editor"})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    // Disabling a user ends their session at once.
    let (st, v) = send(
        &ana,
        &s,
        Method::PATCH,
        "/api/v1/users/vic",
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!((st, v["disabled"].clone()), (StatusCode::OK, json!(true)));
    let (st, _) = send(&vic, &s, Method::GET, "/api/v1/monitors", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&vic, &s, "vic", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // People change their own password, proving the current one.
    let (st, _) = send(
        &eddie,
        &s,
        Method::POST,
        "/api/v1/me/password",
        Some(json!({"current_password": "wrong one", "new_password": "a new password"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = send(
        &eddie,
        &s,
        Method::POST,
        "/api/v1/me/password",
        Some(json!({"current_password": PASSWORD, "new_password": "a new password"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        login(&person(), &s, "eddie", "a new password")
            .await
            .status(),
        StatusCode::OK
    );

    // All of it in the audit log.
    let (_, audit) = send(&ana, &s, Method::GET, "/api/v1/audit", None).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    for a in [
        "user.setup",
        "user.create",
        "user.update",
        "user.password",
        "token.create",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

/// With a user made by the CLI, the log carries no setup code and setup is closed.
#[tokio::test]
async fn no_setup_once_a_user_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "ana", PASSWORD);
    let s = start(dir.path(), &[]);
    let (st, v) = send(&person(), &s, reqwest::Method::GET, "/api/v1/setup", None).await;
    assert_eq!((st, v["needed"].clone()), (StatusCode::OK, json!(false)));
    assert!(!s.log_text().contains("setup_code"));
}

/// The DSN the server logged for its default project.
fn logged_dsn(s: &common::Running) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = s.log_text();
        if let Some(dsn) = text.lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            v["fields"]["dsn"]
                .as_str()
                .or(v["dsn"].as_str())
                .map(str::to_string)
        }) {
            return dsn;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no DSN in the log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fresh install on the embedded default has a Sentry project ready: the official Python SDK,
/// pointed at the DSN `serve` logs, is accepted and grouped; the key is kept in the data
/// directory (owner-only) and the DSN survives a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_install_takes_events_at_the_dsn_it_logs() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let s = start(dir.path(), &[]);
    let dsn = logged_dsn(&s);
    assert!(dsn.ends_with("/1"), "{dsn}");
    let out = std::process::Command::new(common::PYTHON)
        .args([common::PY_SDK, &dsn, "gzip", "fresh"])
        .env_remove("SENTRY_DSN")
        .output()
        .expect("run the Python SDK");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let http = client();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v: Value = http
            .get(s.url("/api/v1/projects/1/issues"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("issues")
            .json()
            .await
            .expect("json");
        let titles: Vec<&str> = v["items"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["title"].as_str()).collect())
            .unwrap_or_default();
        if titles.iter().any(|t| t.contains("ZeroDivisionError")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no issue: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let key_file = dir.path().join("default-project.key");
    let mode = std::fs::metadata(&key_file)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "only its owner reads the key: {mode:o}");
    drop(s);
    let again = start(dir.path(), &[]);
    let key = |d: &str| d.split('@').next().map(str::to_string);
    assert_eq!(
        key(&logged_dsn(&again)),
        key(&dsn),
        "the same key after a restart (the port is new: port 0)"
    );
}
