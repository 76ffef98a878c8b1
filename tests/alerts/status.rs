//! Public status pages against the real binary: components follow their monitors and the
//! incidents opened through the API; the Statuspage JSON carries Atlassian's field lists; the
//! feeds parse with Python's `feedparser`; nothing private (monitor URLs, error texts,
//! monitors no component names) appears on any public route; caching headers and encodings.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Server;

use super::common::PYTHON;

/// `secret-db` is probed at a URL that must never be shown; `internal` is on no page.
fn config() -> String {
    // A daily window twelve hours from now: announced, never open during the test.
    let at = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(12))
        .strftime("%H:%M")
        .to_string();
    format!(
        r#"
maintenance:
  - {{name: Nightly DB upkeep, monitors: [secret-db], every: [day], at: "{at}", duration: 30m}}
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
  - {{name: web-1, type: push, token: web1-token-0123456789, interval: 1h, retries: 0, group: web}}
  - {{name: web-2, type: push, token: web2-token-0123456789, interval: 1h, retries: 0, group: web}}
  - {{name: secret-db, type: http, url: "http://127.0.0.1:9/private-path-x7", interval: 1h, retries: 0}}
  - {{name: internal, type: push, token: internal-token-0123456789, interval: 1h, retries: 0}}
status_pages:
  - slug: public
    title: Example Inc. status
    description: "Our <services> & more"
    time_zone: Europe/Berlin
    domain: status.example.test
    components:
      - {{name: API, monitor: api, description: The public API}}
      - {{name: Website, monitors: [web-1, web-2], rule: any}}
    groups:
      - name: Backend
        components:
          - {{name: Database, monitor: secret-db}}
  - slug: second
    title: Second page
    components:
      - {{name: Web group, group: web}}
"#
    )
}

/// Statuspage's field lists (external-formats.md, section 1).
const PAGE_FIELDS: &[&str] = &["id", "name", "url", "time_zone", "updated_at"];
const COMPONENT_FIELDS: &[&str] = &[
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
];
const INCIDENT_FIELDS: &[&str] = &[
    "id",
    "name",
    "status",
    "impact",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "started_at",
    "shortlink",
    "page_id",
    "incident_updates",
    "components",
];
const UPDATE_FIELDS: &[&str] = &[
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
];

fn has_fields(v: &Value, fields: &[&str], what: &str) {
    for f in fields {
        assert!(v.get(*f).is_some(), "{what} lacks `{f}`: {v:#}");
    }
}

pub(super) async fn public(
    s: &Server,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let r = s.http.get(s.url(path)).send().await.expect("get");
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.text().await.expect("body"))
}

async fn public_json(s: &Server, path: &str) -> Value {
    let (status, _, body) = public(s, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// Waits until the page's JSON satisfies `ok` (pages re-render within about a second).
async fn wait_summary(s: &Server, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v = public_json(s, "/status/public/api/v2/summary.json").await;
        if ok(&v) {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "never: {v:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn component<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}: {summary:#}"))
}

#[tokio::test]
async fn the_status_page_follows_monitors_and_incidents_and_publishes_nothing_private() {
    let s = Server::start(&config());
    for t in ["api", "web1", "web2", "internal"] {
        s.push(&format!("{t}-token-0123456789"), true).await;
    }
    let summary = wait_summary(&s, |v| {
        v["status"]["indicator"] == "major" || v["status"]["indicator"] == "none"
    })
    .await;
    has_fields(&summary["page"], PAGE_FIELDS, "page");
    assert_eq!(summary["page"]["id"], "public");
    assert_eq!(summary["page"]["time_zone"], "Europe/Berlin");
    for c in summary["components"].as_array().expect("components") {
        has_fields(c, COMPONENT_FIELDS, "component");
    }
    let backend = component(&summary, "Backend");
    assert_eq!(backend["group"], true);
    let db = component(&summary, "Database");
    assert_eq!(db["group_id"], backend["id"]);
    assert_eq!(component(&summary, "API")["description"], "The public API");

    // One of two web monitors down: the `any` rule keeps the site up, degraded.
    s.push("web1-token-0123456789", false).await;
    let v = wait_summary(&s, |v| {
        component(v, "Website")["status"] == "degraded_performance"
    })
    .await;
    assert_eq!(component(&v, "API")["status"], "operational");
    // The API down is a major outage of that component: a partial system outage of the page.
    s.push("api-token-0123456789", false).await;
    let v = wait_summary(&s, |v| component(v, "API")["status"] == "major_outage").await;
    assert_eq!(v["status"]["indicator"], "major");
    assert_eq!(v["status"]["description"], "Partial System Outage");
    let status = public_json(&s, "/status/public/api/v2/status.json").await;
    assert_eq!(status["status"], v["status"]);

    // An incident through the API, with Statuspage's fields (wrapped, as its API sends them).
    let api_id = component(&v, "API")["id"].as_str().expect("id").to_string();
    let (code, inc) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/status-pages/public/incidents",
            Some(json!({"incident": {"name": "API errors", "status": "identified", "impact": "critical",
                "body": "We found it. <script>alert(1)</script> **Fix** underway.",
                "components": {api_id.clone(): "partial_outage"}}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{inc:#}");
    has_fields(&inc, INCIDENT_FIELDS, "incident");
    has_fields(&inc["incident_updates"][0], UPDATE_FIELDS, "update");
    assert_eq!(inc["impact"], "critical");
    assert_eq!(
        inc["incident_updates"][0]["affected_components"][0]["code"],
        api_id.as_str()
    );
    let id = inc["id"].as_str().expect("string id").to_string();
    // The incident's word wins over the monitors' while it is open.
    let v = public_json(&s, "/status/public/api/v2/summary.json").await;
    assert_eq!(component(&v, "API")["status"], "partial_outage");
    assert_eq!(v["status"]["indicator"], "critical");
    assert_eq!(v["incidents"][0]["id"], id.as_str());
    let unresolved = public_json(&s, "/status/public/api/v2/incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"].as_array().map(Vec::len), Some(1));

    // Bad input names its field and changes nothing.
    for (body, field) in [
        (json!({"status": "investigating"}), "name"),
        (json!({"name": "x", "status": "on fire"}), "status"),
        (
            json!({"name": "x", "components": {"nope": "major_outage"}}),
            "components",
        ),
        (json!({"name": "x", "colour": "red"}), "colour"),
    ] {
        let (code, err) = s
            .send(
                reqwest::Method::POST,
                "/api/v1/status-pages/public/incidents",
                Some(body),
            )
            .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{err:#}");
        assert!(err.to_string().contains(field), "{field}: {err:#}");
    }
    let (code, _) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/status-pages/nope/incidents",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let anonymous = s
        .http
        .post(s.url("/api/v1/status-pages/public/incidents"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("post");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Resolved: the component is the monitors' again; the incident is history.
    let (code, upd) = s
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/status-pages/public/incidents/{id}/updates"),
            Some(json!({"status": "resolved", "body": "Fixed."})),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{upd:#}");
    assert_eq!(upd["incident_updates"].as_array().map(Vec::len), Some(2));
    assert!(upd["resolved_at"].is_string());
    s.push("api-token-0123456789", true).await;
    let v = wait_summary(&s, |v| component(v, "API")["status"] == "operational").await;
    assert!(v["incidents"].as_array().is_some_and(Vec::is_empty));
    let all = public_json(&s, "/status/public/api/v2/incidents.json").await;
    assert_eq!(all["incidents"][0]["status"], "resolved");

    // Scheduled maintenance.
    let (code, m) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/status-pages/public/incidents",
            Some(
                json!({"name": "DB upgrade", "scheduled_for": "2099-01-01T02:00:00Z",
                "scheduled_until": "2099-01-01T03:00:00Z", "body": "Short downtime."}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{m:#}");
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["scheduled_for"], "2099-01-01T02:00:00Z");
    let upcoming = public_json(
        &s,
        "/status/public/api/v2/scheduled-maintenances/upcoming.json",
    )
    .await;
    assert_eq!(upcoming["scheduled_maintenances"][0]["name"], "DB upgrade");
    // The configured daily window over the database is announced too, with its component.
    let nightly = upcoming["scheduled_maintenances"]
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["name"] == "Nightly DB upkeep")
        .unwrap_or_else(|| panic!("the configured window is listed: {upcoming:#}"))
        .clone();
    assert_eq!(nightly["status"], "scheduled");
    assert_eq!(nightly["impact"], "maintenance");
    assert_eq!(nightly["components"][0]["name"], "Database");
    let active = public_json(
        &s,
        "/status/public/api/v2/scheduled-maintenances/active.json",
    )
    .await;
    assert!(
        active["scheduled_maintenances"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // The HTML page: escaped, no script, the incident's Markdown rendered, linked feeds.
    let (code, headers, html) = public(&s, "/status/public").await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        headers[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert!(
        html.contains("Our &lt;services&gt; &amp; more"),
        "the description is escaped"
    );
    assert!(!html.contains("<script"), "no script on the page");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "an update's HTML is shown as text"
    );
    assert!(
        html.contains("<strong>Fix</strong>"),
        "Markdown is rendered"
    );
    assert!(html.contains("href=\"/status/public/history.atom\""));
    assert!(html.contains("aria-label=\"API uptime, last 90 days\""));
    assert!(html.len() < 100_000, "the page is {} bytes", html.len());
    // The history page lists the resolved incident.
    let (code, _, history) = public(&s, "/status/public/history").await;
    assert_eq!(code, StatusCode::OK);
    assert!(history.contains("API errors"), "{history}");
    let (code, _, _) = public(&s, "/status/public/history?month=2026-13").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);

    // Badges: per component (by id or public name), shields.io's endpoint JSON, and Gatus'
    // paths for monitors a page publishes (never for one it does not).
    let r = s
        .http
        .get(s.url(&format!("/status/public/badge/{api_id}/status.svg")))
        .send()
        .await
        .expect("badge");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("image/svg+xml")
    );
    let svg = r.text().await.expect("svg");
    assert!(svg.contains("API: operational"), "{svg}");
    let shield = public_json(&s, "/status/public/badge/API/uptime/7d.json").await;
    assert_eq!(shield["schemaVersion"], 1);
    assert_eq!(shield["label"], "uptime 7d");
    assert!(
        shield["message"].as_str().is_some_and(|m| m.ends_with('%')),
        "{shield}"
    );
    let (code, _, rt) = public(&s, "/status/public/badge/Website/response-time/24h.svg").await;
    assert_eq!(code, StatusCode::OK, "{rt}");
    assert!(rt.contains("response time 24h"), "{rt}");
    for (path, want) in [
        (
            "/status/public/badge/nope/status.svg",
            StatusCode::NOT_FOUND,
        ),
        (
            "/status/public/badge/API/uptime/3d.svg",
            StatusCode::NOT_FOUND,
        ),
        ("/api/v1/endpoints/_api/health/badge.svg", StatusCode::OK),
        (
            "/api/v1/endpoints/web_web-1/uptimes/7d/badge.svg",
            StatusCode::OK,
        ),
        (
            "/api/v1/endpoints/_api/response-times/24h/badge.svg",
            StatusCode::OK,
        ),
        (
            "/api/v1/endpoints/_api/uptimes/3d/badge.svg",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/endpoints/_internal/health/badge.svg",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (code, _, body) = public(&s, path).await;
        assert_eq!(code, want, "{path}: {body}");
    }
    let (_, _, health) = public(&s, "/api/v1/endpoints/_api/health/badge.svg").await;
    assert!(health.contains("health: up"), "{health}");
    let gatus = public_json(&s, "/api/v1/endpoints/web_web-1/health/badge.shields").await;
    assert_eq!(gatus["message"], "down");

    // Nothing private on any public route.
    let mut everything = html.clone() + &history;
    for f in [
        "summary.json",
        "components.json",
        "incidents.json",
        "scheduled-maintenances.json",
    ] {
        everything += &public(&s, &format!("/status/public/api/v2/{f}")).await.2;
    }
    everything += &public(&s, "/status/public/history.atom").await.2;
    everything += &public(&s, "/status/public/history.rss").await.2;
    everything += &public(&s, "/status/second").await.2;
    for secret in [
        "private-path-x7",
        "127.0.0.1:9",
        "secret-db",
        "internal",
        "api-token",
        "connection refused",
    ] {
        assert!(
            !everything.to_ascii_lowercase().contains(secret),
            "`{secret}` leaked onto a public route"
        );
    }

    // Caching: an ETag that answers 304, compressed bodies, and `/status` with two pages lists
    // them.
    let etag = headers[reqwest::header::ETAG]
        .to_str()
        .expect("etag")
        .to_string();
    let r = s
        .http
        .get(s.url("/status/public"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("conditional");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let raw = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .expect("client");
    let r = raw
        .get(s.url("/status/public/api/v2/summary.json"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .expect("br");
    assert_eq!(r.headers()["content-encoding"], "br");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    // The custom domain gets the page at `/`; any other host gets the dashboard there.
    let r = s
        .http
        .get(s.url("/"))
        .header("host", "Status.Example.Test:443")
        .send()
        .await
        .expect("custom domain");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .expect("html")
            .contains("<title>Example Inc. status</title>")
    );
    let (_, _, dashboard) = public(&s, "/").await;
    assert!(!dashboard.contains("<title>Example Inc. status</title>"));
    let (_, _, list) = public(&s, "/status").await;
    assert!(list.contains("/status/second"), "{list}");
    let (code, _, _) = public(&s, "/status/public/api/v2/nothing.json").await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // The feeds, as a real feed reader parses them.
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, version) in [("history.atom", "atom10"), ("history.rss", "rss20")] {
        let (_, _, body) = public(&s, &format!("/status/public/{name}")).await;
        let path = dir.path().join(name);
        std::fs::write(&path, &body).expect("write feed");
        let out = Command::new(PYTHON)
            .arg("-c")
            .arg("import sys, json, feedparser\nf = feedparser.parse(sys.argv[1])\nprint(json.dumps({'bozo': f.bozo, 'version': f.version, 'titles': [e.title for e in f.entries], 'links': [e.link for e in f.entries]}))")
            .arg(&path)
            .output()
            .expect("python feedparser");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let parsed: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(parsed["bozo"], false, "{name}: {parsed}");
        assert_eq!(parsed["version"], version, "{name}");
        assert_eq!(
            parsed["titles"],
            json!(["DB upgrade", "API errors"]),
            "{name}"
        );
        assert!(
            parsed["links"][1]
                .as_str()
                .is_some_and(|l| l.ends_with(&format!("#incident-{id}")))
        );
    }

    // After a restart the incidents are still there.
    let mut s = s;
    s.kill_and_restart();
    let all = public_json(&s, "/status/public/api/v2/incidents.json").await;
    assert_eq!(all["incidents"][0]["id"], id.as_str());
}
