//! Projects made through the API: a generated key and DSN that the official Python SDK sends to
//! at once, keys added and revoked (a revoked key is refused), kept across a restart, deleted;
//! the config's projects are read-only; a viewer creates nothing.

use super::*;

async fn call(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s
        .http
        .request(method, s.run.url(path))
        .bearer_auth(&s.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Sends one error event with the SDK; the status the server answered.
fn sdk_status(dsn: &str) -> Value {
    let v = run_client(clean_env(
        Command::new(PYTHON).args([PY_SDK, dsn, "gzip", "none"]),
    ));
    v["sent"][0]["status"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_made_through_the_api_takes_sdk_events_and_its_keys_can_be_revoked() {
    use reqwest::Method;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start_with(dir.path(), CONFIG);

    let (st, v) = call(
        &s,
        Method::POST,
        "/api/v1/projects",
        Some(json!({"name": " "})),
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_input"))
    );
    let (st, made) = call(
        &s,
        Method::POST,
        "/api/v1/projects",
        Some(json!({"name": "checkout", "events_per_minute": 600})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{made}");
    assert_eq!(made["source"], "api");
    let id = made["id"].as_u64().expect("id");
    assert!(id > 7, "above the config's ids: {made}");
    let dsn = made["dsn"][0].as_str().expect("dsn").to_string();
    assert!(dsn.ends_with(&format!("@{}/{id}", s.run.addr)), "{dsn}");

    // The SDK sends to it unchanged, at once.
    assert_eq!(sdk_status(&dsn), 200);
    s.issue(id, "ZeroDivisionError", 1).await;

    // A second key; the first revoked: refused from then on, the second still accepted.
    let (st, key) = call(
        &s,
        Method::POST,
        &format!("/api/v1/projects/{id}/keys"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{key}");
    let second = key["dsn"].as_str().expect("dsn").to_string();
    let first_key = dsn
        .split("://")
        .nth(1)
        .and_then(|r| r.split('@').next())
        .expect("key");
    let (st, _) = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/projects/{id}/keys/{first_key}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let refused = sdk_status(&dsn);
    assert!(
        refused == 401 || refused == 403,
        "a revoked key is refused: {refused}"
    );
    assert_eq!(sdk_status(&second), 200);
    // The last key stays.
    let last = second
        .split("://")
        .nth(1)
        .and_then(|r| r.split('@').next())
        .expect("key");
    let (st, _) = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/projects/{id}/keys/{last}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);

    // The config's project is read-only here.
    let (st, _) = call(&s, Method::DELETE, "/api/v1/projects/7", None).await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, _) = call(&s, Method::POST, "/api/v1/projects/7/keys", None).await;
    assert_eq!(st, StatusCode::CONFLICT);
    let list = s.get("/api/v1/projects").await;
    let sources: Vec<(u64, String)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| {
            (
                p["id"].as_u64().unwrap_or(0),
                p["source"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        sources.contains(&(7, "config".into())) && sources.contains(&(id, "api".into())),
        "{sources:?}"
    );

    // Kept across a restart, with its key (the token is stored too).
    let data = dir.path().join("data");
    let token = s.token.clone();
    drop(s);
    let cfg = dir.path().join("panoptes.yaml");
    let run = common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
    let s = Server {
        run,
        token,
        http: common::client(),
        _dir: None,
    };
    let second = format!("http://{last}@{}/{id}", s.run.addr);
    assert_eq!(sdk_status(&second), 200);

    // A viewer creates nothing.
    let (st, viewer) = call(
        &s,
        Method::POST,
        "/api/v1/tokens",
        Some(json!({"name": "viewer", "role": "viewer"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{viewer}");
    let r = s
        .http
        .post(s.run.url("/api/v1/projects"))
        .bearer_auth(viewer["token"].as_str().expect("token"))
        .json(&json!({"name": "nope"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Deleted: its DSN is refused.
    let (st, _) = call(&s, Method::DELETE, &format!("/api/v1/projects/{id}"), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let refused = sdk_status(&second);
    assert!(
        refused == 401 || refused == 403 || refused == 404,
        "{refused}"
    );
}
