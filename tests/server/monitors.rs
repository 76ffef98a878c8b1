//! Monitors managed through the API: created with the config's field names and its messages,
//! scheduled at once, paused and changed, kept across a restart, exported as config that
//! `panoptes check` accepts, deleted; config-declared ones stay read-only; a viewer writes
//! nothing and cannot read a monitor's secrets.

use super::*;
use reqwest::Method;

async fn call(
    s: &common::Running,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client().request(method, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Waits until monitor `id` is in `state` (it is probed every second).
async fn wait_state(s: &common::Running, token: &str, id: u64, state: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (st, v) = call(
            s,
            token,
            Method::GET,
            &format!("/api/v1/monitors/{id}"),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        if v["state"] == state {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "monitor {id} never became {state}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn config_monitor_id(list: &Value) -> u64 {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["source"] == "config")
        .and_then(|m| m["id"].as_u64())
        .expect("the embedded default's own monitor")
}

#[tokio::test]
async fn monitors_are_created_changed_kept_exported_and_deleted_through_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = create_token(dir.path(), "ci");
    common::add_user_as(dir.path(), "vic", PASSWORD, "viewer");
    let mut s = start(dir.path(), &[]);
    let viewer = {
        let c = client();
        assert!(login(&c, &s, "vic", PASSWORD).await.status().is_success());
        c
    };

    // Every wrong field at once, with the config file's messages.
    let (st, v) = call(
        &s,
        &admin,
        Method::POST,
        "/api/v1/monitors",
        Some(json!({"name": "bad", "type": "http", "url": "ftp://x", "interval": "soon", "colour": 1})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "invalid_input");
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    for f in ["url", "interval", "colour"] {
        assert!(fields.contains(&f), "{f} named in {v}");
    }
    let (st, v) = call(
        &s,
        &admin,
        Method::POST,
        "/api/v1/monitors",
        Some(json!({"name": "t"})),
    )
    .await;
    assert_eq!(
        (st, v["error"]["fields"][0]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("type"))
    );

    // A valid one is scheduled at once and probed.
    let body = json!({
        "name": "own-health", "type": "http", "url": s.url("/healthz"), "interval": "1s",
        "group": "api", "labels": {"team": "core"}, "headers": {"X-Secret": "s3cr3t"},
        "conditions": ["[STATUS] == 200", "[BODY].status == ok"]
    });
    let (st, created) = call(
        &s,
        &admin,
        Method::POST,
        "/api/v1/monitors",
        Some(body.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    assert_eq!(created["source"], "api");
    assert_eq!(created["paused"], false);
    let id = created["id"].as_u64().expect("id");
    let up = wait_state(&s, &admin, id, "UP").await;
    assert_eq!(up["conditions"][1]["seen"], "[BODY].status (ok) == ok");

    // Names are unique across the config and the API.
    let (st, _) = call(
        &s,
        &admin,
        Method::POST,
        "/api/v1/monitors",
        Some(body.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (_, list) = call(&s, &admin, Method::GET, "/api/v1/monitors", None).await;
    let from_config = config_monitor_id(&list);
    let own_name = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["id"].as_u64() == Some(from_config))
        .map(|m| m["name"].clone())
        .expect("name");
    let mut clash = body.clone();
    clash["name"] = own_name;
    let (st, v) = call(&s, &admin, Method::POST, "/api/v1/monitors", Some(clash)).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");

    // The config's own monitor is read-only here.
    let (st, v) = call(
        &s,
        &admin,
        Method::PATCH,
        &format!("/api/v1/monitors/{from_config}"),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("message")
            .contains("config file")
    );
    let (st, _) = call(
        &s,
        &admin,
        Method::DELETE,
        &format!("/api/v1/monitors/{from_config}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);

    // A viewer reads the list but changes nothing and never sees the fields as written.
    let path = format!("/api/v1/monitors/{id}");
    let r = viewer.get(s.url(&path)).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    for (m, p) in [
        (Method::PATCH, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::POST, "/api/v1/monitors".to_string()),
    ] {
        let r = viewer
            .request(m.clone(), s.url(&p))
            .header(panoptes_types::CSRF_HEADER, "1")
            .json(&json!({"enabled": false}))
            .send()
            .await
            .expect("write");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{m} {p}");
    }
    for p in [
        format!("{path}/config"),
        "/api/v1/monitors/export".to_string(),
    ] {
        let r = viewer.get(s.url(&p)).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{p}");
    }

    // Renaming is refused (history is keyed by the name); pausing keeps it listed.
    let (st, v) = call(
        &s,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"name": "other"})),
    )
    .await;
    assert_eq!(
        (st, v["error"]["fields"][0]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("name"))
    );
    let (st, v) = call(
        &s,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(
        (st, v["paused"].clone()),
        (StatusCode::OK, json!(true)),
        "{v}"
    );
    let (_, list) = call(&s, &admin, Method::GET, "/api/v1/monitors", None).await;
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|m| m["id"].as_u64() == Some(id) && m["paused"] == true)
    );
    // A bad patch leaves the monitor as it was.
    let (st, _) = call(
        &s,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"interval": "0s"})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // Resumed with a condition that cannot hold: it goes DOWN.
    let (st, v) = call(
        &s,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"enabled": true, "conditions": ["[STATUS] == 418"]})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    wait_state(&s, &admin, id, "DOWN").await;
    let (st, cfg) = call(&s, &admin, Method::GET, &format!("{path}/config"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(cfg["source"], "api");
    assert_eq!(cfg["config"]["conditions"], json!(["[STATUS] == 418"]));
    assert_eq!(cfg["config"]["headers"]["X-Secret"], "s3cr3t");

    // Kept across a restart, with its id.
    drop(s);
    s = start(dir.path(), &[]);
    let (st, v) = call(&s, &admin, Method::GET, &path, None).await;
    assert_eq!(
        (st, v["name"].clone(), v["source"].clone()),
        (StatusCode::OK, json!("own-health"), json!("api"))
    );

    // Exported as config that `panoptes check` accepts, online and (server stopped) offline.
    let r = client()
        .get(s.url("/api/v1/monitors/export"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("export");
    assert_eq!(r.status(), StatusCode::OK);
    let yaml = r.text().await.expect("yaml");
    assert!(yaml.contains("own-health"), "{yaml}");
    let file = dir.path().join("exported.yaml");
    std::fs::write(&file, &yaml).expect("write");
    let checked = common::panoptes()
        .arg("check")
        .arg(&file)
        .output()
        .expect("check");
    assert!(
        checked.status.success(),
        "{yaml}\n{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    let cli = common::panoptes()
        .args(["export", "--server", &s.url(""), "--token", &admin])
        .output()
        .expect("export --server");
    assert_eq!(String::from_utf8_lossy(&cli.stdout), yaml);

    // The audit log says who did what.
    let (_, audit) = call(&s, &admin, Method::GET, "/api/v1/audit", None).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["monitor.create", "monitor.update"] {
        assert!(actions.contains(&a), "{a} in {audit}");
    }

    // Deleted: gone from the API, from the schedule, and after a restart.
    let (st, _) = call(&s, &admin, Method::DELETE, &path, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = call(&s, &admin, Method::GET, &path, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    drop(s);
    let offline = common::panoptes()
        .args(["export", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("export offline");
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert!(!String::from_utf8_lossy(&offline.stdout).contains("own-health"));
    let s = start(dir.path(), &[]);
    let (st, _) = call(&s, &admin, Method::GET, &path, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn maintenance_windows_are_made_through_the_api_and_take_effect_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = create_token(dir.path(), "ci");
    let mut s = start(dir.path(), &[]);
    // A target that outlives the restart below (the server's own port changes).
    let target = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let target_url = format!("http://{}/", target.local_addr().expect("addr"));
    tokio::spawn(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let _ = axum::serve(target, app).await;
    });
    let body = json!({"name": "web", "type": "http", "url": target_url, "interval": "1s"});
    let (st, m) = call(&s, &admin, Method::POST, "/api/v1/monitors", Some(body)).await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let id = m["id"].as_u64().expect("id");
    wait_state(&s, &admin, id, "UP").await;

    let now = jiff::Timestamp::now();
    let window = |name: &str, monitor: &str| {
        json!({"name": name, "monitors": [monitor],
            "start": (now - jiff::SignedDuration::from_secs(60)).to_string(),
            "end": (now + jiff::SignedDuration::from_secs(3600)).to_string()})
    };
    // Wrong fields are named; a window for a monitor that does not exist is refused.
    let (st, v) = call(
        &s,
        &admin,
        Method::POST,
        "/api/v1/maintenance",
        Some(json!({"name": "x", "start": "tomorrow", "end": "later"})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "start", "{v}");
    let (st, v) = call(
        &s,
        &admin,
        Method::POST,
        "/api/v1/maintenance",
        Some(window("x", "nope")),
    )
    .await;
    assert_eq!(
        (st, v["error"]["fields"][0]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("monitors[0]"))
    );

    // In force at once: the next result is MAINTENANCE.
    let (st, v) = call(
        &s,
        &admin,
        Method::POST,
        "/api/v1/maintenance",
        Some(window("deploy", "web")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    wait_state(&s, &admin, id, "MAINTENANCE").await;
    let (st, _) = call(
        &s,
        &admin,
        Method::POST,
        "/api/v1/maintenance",
        Some(window("deploy", "web")),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);

    // Kept across a restart.
    drop(s);
    s = start(dir.path(), &[]);
    let (_, list) = call(&s, &admin, Method::GET, "/api/v1/maintenance", None).await;
    let names: Vec<(&str, &str)> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|w| Some((w["config"]["name"].as_str()?, w["source"].as_str()?)))
        .collect();
    assert_eq!(names, vec![("deploy", "api")], "{list}");

    // Ended: checks count again.
    let (st, _) = call(
        &s,
        &admin,
        Method::DELETE,
        "/api/v1/maintenance/deploy",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    wait_state(&s, &admin, id, "UP").await;
    let (st, _) = call(
        &s,
        &admin,
        Method::DELETE,
        "/api/v1/maintenance/deploy",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// The list's 24 h bar and uptimes come from what was checked: each hour's availability (the
/// current hour last, hours with nothing counted `null`) and the 24 h / 90 d uptime including
/// today.
#[tokio::test]
async fn the_list_gives_each_monitor_its_24h_bar_and_uptimes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = create_token(dir.path(), "ci");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "monitors:\n  - {name: steady, type: push, token: steady-token-0123, interval: 1h, retries: 0}\n  - {name: shaky, type: push, token: shaky-token-01234, interval: 1h, retries: 0}\n  - {name: silent, type: push, token: silent-token-0123, interval: 1h, retries: 0}\n",
    )
    .expect("config");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf-8 path")]);
    // Pushes and the list in one clock hour: not within 10 s of the next.
    let into_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
        % 3_600_000;
    if into_hour > 3_590_000 {
        tokio::time::sleep(Duration::from_millis(3_600_000 - into_hour + 100)).await;
    }
    for (token, status) in [
        ("steady-token-0123", "up"),
        ("shaky-token-01234", "up"),
        ("shaky-token-01234", "down"),
        ("shaky-token-01234", "down"),
        ("shaky-token-01234", "up"),
    ] {
        let r = client()
            .post(s.url(&format!("/api/v1/push/{token}?status={status}")))
            .send()
            .await
            .expect("push");
        assert!(r.status().is_success(), "{}", r.status());
        // Heartbeats in one millisecond are merged into one.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let (st, list) = call(&s, &admin, Method::GET, "/api/v1/monitors", None).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let by_name = |n: &str| {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|m| m["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{n} listed: {list}"))
    };
    const HOUR: u64 = 3_600_000;
    for (name, current_hour, uptime) in [
        ("steady", json!(1.0), json!(1.0)),
        ("shaky", json!(0.5), json!(0.5)),
        ("silent", Value::Null, Value::Null),
    ] {
        let m = by_name(name);
        let bar = &m["bar_24h"];
        let hours = bar["availability"].as_array().expect("availability");
        assert_eq!(hours.len(), 24, "{name}: {bar}");
        let from = bar["from_ms"].as_u64().expect("from_ms");
        assert_eq!(from % HOUR, 0, "{name}: whole hours");
        assert!(
            from + 23 * HOUR <= now && now < from + 24 * HOUR + 5_000,
            "{name}: the current hour is the last ({from}, {now})"
        );
        assert_eq!(hours[23], current_hour, "{name}: {bar}");
        assert!(
            hours[..23].iter().all(Value::is_null),
            "{name}: nothing before: {bar}"
        );
        assert_eq!(bar["degraded"], 0, "{name}");
        assert_eq!(m["uptime"]["24h"], uptime, "{name}: {m}");
        assert_eq!(m["uptime"]["90d"], uptime, "{name}: {m}");
    }

    // The detail page's timeline: the results that changed the state, newest first.
    let shaky = by_name("shaky")["id"].as_u64().expect("id");
    let path = format!("/api/v1/monitors/{shaky}/changes");
    let (st, v) = call(&s, &admin, Method::GET, &path, None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let seen: Vec<(Value, Value)> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| (c["from"].clone(), c["to"].clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (json!("DOWN"), json!("UP")),
            (json!("UP"), json!("DOWN")),
            (Value::Null, json!("UP")),
        ],
        "{v}"
    );
    assert_eq!(v["truncated"], false);
    let (_, one) = call(&s, &admin, Method::GET, &format!("{path}?limit=1"), None).await;
    assert_eq!(one["items"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one["items"][0]["to"], "UP");
    let (st, bad) = call(
        &s,
        &admin,
        Method::GET,
        &format!("{path}?from=yesterday"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
    assert!(bad.to_string().contains("`from`"), "{bad}");
}
