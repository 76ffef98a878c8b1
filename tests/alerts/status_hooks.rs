//! Status page notifications beyond e-mail, against the real binary: webhook subscribers (one
//! from the config, one through the public form) get Atlassian Statuspage's webhook body on
//! every incident update, a 503 is tried again, unsubscribing stops them; scheduled
//! maintenance — from the API and from a configured window — starts and completes by the
//! clock, and subscribers hear of both.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Server;
use super::receiver::{Receiver, Reply};

/// `application/x-www-form-urlencoded` value escaping.
fn url_escape(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn rfc3339_in(secs: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(secs)).to_string()
}

/// The config with the window `start_in`..`end_in` seconds from now.
fn config(hooks: &Receiver, start_in: i64, end_in: i64) -> String {
    format!(
        r#"
maintenance:
  - {{name: Planned network work, monitors: [web], start: "{start}", end: "{end}"}}
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
  - {{name: web, type: push, token: web-token-0123456789, interval: 1h, retries: 0}}
status_pages:
  - slug: public
    title: Example Inc. status
    components:
      - {{name: API, monitor: api}}
      - {{name: Website, monitor: web}}
    subscribers:
      webhook:
        public: true
        endpoints:
          - {{url: "{config_hook}"}}
          - {{url: "{website_hook}", components: [Website]}}
"#,
        start = rfc3339_in(start_in),
        end = rfc3339_in(end_in),
        config_hook = hooks.url("/config-hook"),
        website_hook = hooks.url("/website-hook"),
    )
}

/// The bodies posted to `path` that concern the incident or maintenance named `name`.
fn about(hooks: &Receiver, path: &str, name: &str) -> Vec<Value> {
    hooks
        .hits(path)
        .iter()
        .map(|h| {
            assert_eq!(h.method, "POST");
            assert_eq!(h.header("content-type"), "application/json");
            h.json()
        })
        .filter(|v| v["incident"]["name"] == name)
        .collect()
}

async fn wait_about(hooks: &Receiver, path: &str, name: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = about(hooks, path, name);
        if got.len() >= n {
            return got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path}: {} of {n} notifications about {name}: {got:#?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_subscribers_hear_of_incidents_and_of_maintenance_starting_and_ending() {
    let hooks = Receiver::start().await;
    // The configured hook fails once: the update reaches it on the second try.
    hooks.script(
        "/config-hook",
        vec![Reply::Status(503, Vec::new(), "busy".into())],
    );
    // The window is far off until the incident below is over, then brought near by a reload:
    // by the clock alone, a loaded machine could start it while the incident is still open.
    let s = Server::start(&config(&hooks, 86_400, 86_410));

    // The public form takes a webhook URL (this page allows it) and checks it.
    let form = |fields: Vec<(&str, String)>| {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", url_escape(v)))
            .collect::<Vec<_>>()
            .join("&");
        s.http
            .post(s.url("/status/public/subscribe"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let bad = form(vec![("endpoint", "ftp://example.com/x".into())])
        .await
        .expect("post");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.expect("text").contains("endpoint"));
    let ok = form(vec![
        ("endpoint", hooks.url("/public-hook")),
        ("component", "API".into()),
    ])
    .await
    .expect("post");
    assert_eq!(ok.status(), StatusCode::OK);
    let page = s
        .http
        .get(s.url("/status/public"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    assert!(
        page.contains(r#"name="endpoint""#),
        "the form offers webhooks"
    );

    // An incident on API: the public hook (follows API) and the configured catch-all hear of
    // it; the configured Website hook does not.
    let (code, inc) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/status-pages/public/incidents",
            Some(
                json!({"name": "API errors", "status": "investigating", "impact": "major",
                "body": "Looking into it.", "components": {"API": "major_outage"}}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{inc:#}");
    let id = inc["id"].as_str().expect("id").to_string();
    let first = wait_about(&hooks, "/public-hook", "API errors", 1).await;
    let v = &first[0];
    assert_eq!(v["page"]["id"], "public");
    assert_eq!(v["page"]["status_indicator"], "major");
    assert!(v["page"]["status_description"].is_string());
    assert_eq!(v["incident"]["id"], id.as_str());
    assert_eq!(v["incident"]["status"], "investigating");
    assert_eq!(v["incident"]["impact"], "major");
    assert_eq!(
        v["incident"]["incident_updates"][0]["body"],
        "Looking into it."
    );
    let unsubscribe = v["meta"]["unsubscribe"]
        .as_str()
        .expect("the public subscriber's unsubscribe link")
        .to_string();
    assert!(v["meta"]["documentation"].is_string());
    // Answered 503 first, then delivered (the retry waits ~5 s): the same body twice.
    let configured = wait_about(&hooks, "/config-hook", "API errors", 2).await;
    assert!(configured[0]["meta"]["unsubscribe"].is_null());
    assert_eq!(configured[0], configured[1]);

    // Resolving it is one more notification each.
    let (code, _) = s
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/status-pages/public/incidents/{id}/updates"),
            Some(json!({"status": "resolved", "body": "Fixed."})),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let resolved = wait_about(&hooks, "/public-hook", "API errors", 2).await;
    assert_eq!(resolved[1]["incident"]["status"], "resolved");
    assert_eq!(resolved[1]["page"]["status_indicator"], "none");
    wait_about(&hooks, "/config-hook", "API errors", 3).await;
    s.reload(&config(&hooks, 2, 6));

    // The configured window over Website starts and ends by the clock: the hooks that follow
    // Website hear both; the public hook (API only) hears neither.
    let window = wait_about(&hooks, "/website-hook", "Planned network work", 2).await;
    assert_eq!(window[0]["incident"]["status"], "in_progress");
    assert_eq!(window[0]["incident"]["impact"], "maintenance");
    assert_eq!(window[0]["page"]["status_indicator"], "maintenance");
    assert_eq!(window[0]["scheduled_maintenance"], window[0]["incident"]);
    assert_eq!(window[1]["incident"]["status"], "completed");
    wait_about(&hooks, "/config-hook", "Planned network work", 2).await;
    // Stored once it started: in the history, once, completed.
    let all = s
        .wait_json(
            "/status/public/api/v2/scheduled-maintenances.json",
            Duration::from_secs(10),
            |v| {
                v["scheduled_maintenances"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|m| m["name"] == "Planned network work" && m["status"] == "completed")
                })
            },
        )
        .await;
    let listed: Vec<&Value> = all["scheduled_maintenances"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|m| m["name"] == "Planned network work")
        .collect();
    assert_eq!(listed.len(), 1, "{all:#}");
    assert_eq!(listed[0]["status"], "completed");

    // Maintenance scheduled through the API moves by the clock too.
    let (code, m) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/status-pages/public/incidents",
            Some(
                json!({"name": "API database upgrade", "body": "Short and planned.",
                "scheduled_for": rfc3339_in(2), "scheduled_until": rfc3339_in(4),
                "components": {"API": "under_maintenance"}}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{m:#}");
    assert_eq!(m["status"], "scheduled");
    let heard = wait_about(&hooks, "/public-hook", "API database upgrade", 3).await;
    let statuses: Vec<&str> = heard
        .iter()
        .map(|v| v["incident"]["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["scheduled", "in_progress", "completed"]);

    // Unsubscribed (the link's POST, as a receiver would): nothing more arrives there.
    let path = unsubscribe
        .split_once("/status/")
        .map(|(_, p)| format!("/status/{p}"))
        .expect("path");
    let gone = s.http.post(s.url(&path)).send().await.expect("post");
    assert_eq!(gone.status(), StatusCode::OK);
    let (code, _) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/status-pages/public/incidents",
            Some(json!({"name": "API slow", "impact": "minor", "components": {"API": "degraded_performance"}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    wait_about(&hooks, "/config-hook", "API slow", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(about(&hooks, "/public-hook", "API slow").is_empty());
    assert!(about(&hooks, "/website-hook", "API slow").is_empty());
}

/// Incidents drafted from alerts: an alert on a published monitor opens a draft that no public
/// route shows and no subscriber hears of; publishing it (`draft: false`) puts it on the page
/// and notifies; a draft whose alert resolves unpublished is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_draft_incidents_that_stay_private_until_published() {
    let hooks = Receiver::start().await;
    let s = Server::start(&format!(
        r#"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
  - {{name: web, type: push, token: web-token-0123456789, interval: 1h, retries: 0}}
alerts:
  rules:
    - name: ApiDown
      monitor: {{state: down, monitors: [api, web]}}
      labels: {{severity: critical}}
      annotations: {{summary: "db-7.internal refused connections"}}
  route: {{receiver: none}}
  receivers: [{{name: none}}]
status_pages:
  - slug: public
    title: Example Inc. status
    draft_from_alerts: true
    components:
      - {{name: API, monitor: api}}
      - {{name: Website, monitor: web}}
    subscribers:
      webhook: {{endpoints: [{{url: "{hook}"}}]}}
"#,
        hook = hooks.url("/hook"),
    ));
    let drafts = |v: &Value| -> Vec<Value> {
        v["items"]
            .as_array()
            .map(|a| a.iter().filter(|i| i["draft"] == true).cloned().collect())
            .unwrap_or_default()
    };
    s.push("api-token-0123456789", false).await;
    let list = s
        .wait_json(
            "/api/v1/status-pages/public/incidents",
            Duration::from_secs(20),
            |v| drafts(v).len() == 1,
        )
        .await;
    let draft = &drafts(&list)[0];
    assert_eq!(draft["name"], "Problems with API");
    assert_eq!(draft["status"], "investigating");
    assert_eq!(draft["impact"], "major");
    assert!(draft["alert"].is_string(), "{draft:#}");
    let id = draft["id"].as_str().expect("id").to_string();
    // Private: on no public route, in no notification; the alert's words are nowhere.
    for path in [
        "/status/public",
        "/status/public/widget",
        "/status/public/api/v2/incidents.json",
        "/status/public/history.atom",
    ] {
        let body = s
            .http
            .get(s.url(path))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("text");
        assert!(
            !body.contains("Problems with API"),
            "{path} shows the draft"
        );
        assert!(!body.contains("db-7.internal"), "{path}");
    }
    assert!(hooks.hits("/hook").is_empty(), "a draft notifies nobody");

    // Published as drafted: on the page, and the webhook hears of it once.
    let (code, published) = s
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/status-pages/public/incidents/{id}/updates"),
            Some(json!({"draft": false})),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{published:#}");
    assert_eq!(published["draft"], false);
    assert_eq!(
        published["incident_updates"].as_array().map(Vec::len),
        Some(1),
        "publishing adds no update"
    );
    let heard = wait_about(&hooks, "/hook", "Problems with API", 1).await;
    assert_eq!(heard[0]["incident"]["status"], "investigating");
    let public = s
        .json("/status/public/api/v2/incidents/unresolved.json")
        .await;
    assert_eq!(public["incidents"][0]["name"], "Problems with API");
    // The embeddable widget: the page's state in a line, framable by any site.
    let widget = s
        .http
        .get(s.url("/status/public/widget"))
        .send()
        .await
        .expect("widget");
    assert_eq!(widget.status(), StatusCode::OK);
    let csp = widget
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    let widget = widget.text().await.expect("text");
    assert!(widget.contains("1 open incident"), "{widget}");
    assert!(
        widget.contains("/status/public\""),
        "links to the page: {widget}"
    );
    // A published incident cannot go back to draft.
    let (code, _) = s
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/status-pages/public/incidents/{id}/updates"),
            Some(json!({"draft": true})),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);

    // Website's alert drafts another; it resolves before anyone publishes: the draft goes.
    s.push("web-token-0123456789", false).await;
    s.wait_json(
        "/api/v1/status-pages/public/incidents",
        Duration::from_secs(20),
        |v| {
            drafts(v)
                .iter()
                .any(|d| d["name"] == "Problems with Website")
        },
    )
    .await;
    s.push("web-token-0123456789", true).await;
    s.wait_json(
        "/api/v1/status-pages/public/incidents",
        Duration::from_secs(20),
        |v| drafts(v).is_empty(),
    )
    .await;
    // The published one stays: resolving it is the editors' call.
    let list = s.json("/api/v1/status-pages/public/incidents").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["items"][0]["status"], "investigating");
}
