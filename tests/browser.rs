//! The dashboard in a real browser: headless Debian Chromium driven through chromedriver's
//! WebDriver protocol (a handful of JSON calls, spoken directly with reqwest).
//!
//! It logs in and checks that the page shows this server run's instance id, a value only the
//! running WASM could have fetched from the API; then walks the views through the navigation bar,
//! and checks that deep links survive a reload and that the back button returns to the previous
//! view (every view has a real URL).

mod common;
#[path = "browser/driver.rs"]
mod driver;
#[path = "browser/exceptions.rs"]
mod exceptions;
#[path = "browser/issues.rs"]
mod issues;
#[path = "browser/live.rs"]
mod live;
#[path = "browser/locations.rs"]
mod locations;
#[path = "browser/monitors.rs"]
mod monitors;
#[path = "browser/oncall.rs"]
mod oncall;
#[path = "browser/overview.rs"]
mod overview;
#[path = "browser/projects.rs"]
mod projects;
#[path = "browser/settings.rs"]
mod settings;

use std::time::Duration;

use common::{add_user, client, create_token, start};
use driver::Driver;
use serde_json::{Value, json};

/// A push monitor with an alert rule, and a receiver whose webhook nobody listens to (the Test
/// button shows the refusal); its route pages the `platform` schedule, where ana is always on
/// call (contacts nobody listens to either: the page's timeline says so).
const ALERTS: &str = r#"  - {name: cron, type: push, token: cron-token-0123456789, interval: 1h, retries: 0}
alerts:
  rules:
    - {name: CronDown, monitor: {state: down, monitors: [cron]}, annotations: {summary: "cron failed"}}
  route: {receiver: web, group_wait: 1s, group_interval: 1s, escalation_policy: platform}
  receivers:
    - {name: web, webhook_configs: [{url: "http://127.0.0.1:9/hook"}]}
oncall:
  contacts:
    ana: [{webhook: {url: "http://127.0.0.1:9/ana"}}]
    ben: [{webhook: {url: "http://127.0.0.1:9/ben"}}]
  schedules:
    - name: platform
      time_zone: Europe/Berlin
      layers:
        - {users: [ana], rotation: weekly, handoff: {day: monday, time: "09:00"}, start: 2026-01-05}
  escalation_policies:
    - name: platform
      steps:
        - {delay: 0s, targets: [{schedule: platform}]}
        - {delay: 30m, targets: [{user: ben}]}
status_pages:
  - slug: public
    title: Public status
    components: [{name: Cron jobs, monitor: cron}]
"#;

#[tokio::test]
async fn logging_in_shows_what_only_the_running_wasm_could_fetch() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "alice", "correct horse battery");
    let token = create_token(dir.path(), "test");
    // A Sentry project; the self-probe (which the embedded default adds) is added by a reload
    // once the port is known.
    let cfg = dir.path().join("panoptes.yaml");
    let project =
        "projects:\n  - id: 7\n    name: shop\n    keys: [3f9c2a7be1d04c6f8a5b0e9d7c1f2a43]\n";
    std::fs::write(&cfg, project).expect("config");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    std::fs::write(
        &cfg,
        format!(
            "{project}monitors:\n  - name: panoptes\n    type: http\n    url: http://{}/healthz\n    interval: 2s\n    conditions: [\"[STATUS] == 200\", \"[BODY].status == ok\"]\n{ALERTS}",
            s.addr
        ),
    )
    .expect("config");
    s.signal("HUP");
    s.wait_for_log("configuration reloaded", Duration::from_secs(30));
    // One error event, as an SDK sends it.
    let event = json!({"platform": "python", "level": "error", "release": "shop@2.4.1",
        "breadcrumbs": {"values": [{"timestamp": 1764900000.0, "category": "http", "level": "info",
            "message": "GET /cart/42 200"}]},
        "exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero",
            "stacktrace": {"frames": [{"filename": "checkout.py", "function": "price_per_unit",
                "module": "shop.checkout", "lineno": 18, "context_line": "    return total / quantity",
                "in_app": true}]}}]}})
    .to_string();
    let envelope = format!("{{}}\n{{\"type\":\"event\"}}\n{event}\n");
    let r = client()
        .post(s.url("/api/7/envelope/?sentry_key=3f9c2a7be1d04c6f8a5b0e9d7c1f2a43"))
        .body(envelope)
        .send()
        .await
        .expect("envelope");
    assert_eq!(r.status(), reqwest::StatusCode::OK);

    // The binary under test must embed the real dashboard, not the placeholder.
    let index = client()
        .get(s.url("/"))
        .send()
        .await
        .expect("index")
        .text()
        .await
        .expect("text");
    assert!(
        index.contains("/assets/app-"),
        "the dashboard is not built into this binary: run scripts/build-frontend.sh before the tests (make test does)"
    );

    let status: Value = client()
        .get(s.url("/api/v1/status"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    let instance_id = status["instance_id"].as_str().expect("instance id");

    // The monitor's id, for a deep link.
    let monitors: Value = client()
        .get(s.url("/api/v1/monitors"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("monitors")
        .json()
        .await
        .expect("json");
    let monitor_id = monitors["items"]
        .as_array()
        .and_then(|items| items.iter().find(|m| m["name"] == "panoptes"))
        .and_then(|m| m["id"].as_u64())
        .expect("the panoptes monitor");

    let d = Driver::start().await;
    // Any view without a session leads to the login screen, which remembers where to go next.
    d.goto(&s.url("/")).await;
    d.find("#login-form").await;
    d.wait_url(&s.url("/login?next=%2F")).await;

    // A wrong password shows the API's message.
    d.type_into("#username", "alice").await;
    d.type_into("#password", "wrong password").await;
    d.click("#login").await;
    assert_eq!(d.text("#login-error").await, "wrong user name or password");

    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/")).await;
    assert_eq!(d.text("#instance-id").await, instance_id);
    assert_eq!(d.text("#principal").await, "alice");
    assert_eq!(d.text("#store-status").await, "ok");
    assert_eq!(
        d.text("#schema-version").await,
        panoptes::store::LATEST_VERSION.to_string()
    );
    assert_eq!(d.text("#version").await, env!("CARGO_PKG_VERSION"));

    // The monitor list shows the embedded default's self-probe; its page shows each condition
    // with the value the last check saw.
    d.click("a#nav-monitors").await;
    d.wait_url(&s.url("/monitors")).await;
    d.click("tr.monitor-row[data-name='panoptes']").await;
    d.wait_url(&s.url(&format!("/monitors/{monitor_id}"))).await;
    let detail = d
        .wait_text("#monitor-detail", "[STATUS] (200) == 200")
        .await;
    assert!(detail.contains("[BODY].status (ok) == ok"), "{detail}");
    d.wait_text("#monitor-results", "checks").await;
    d.screenshot("dashboard-monitor.png").await;
    // Back returns to the list.
    d.back().await;
    d.wait_url(&s.url("/monitors")).await;
    d.find("tr.monitor-row[data-name='panoptes']").await;
    assert!(!d.exists("#monitor-detail").await);
    // A deep link survives a reload: the server serves the app, the app the route.
    d.goto(&s.url(&format!("/monitors/{monitor_id}"))).await;
    d.wait_text("#monitor-detail", "[STATUS] (200) == 200")
        .await;

    // The issue the event opened, its DSN, its frames; resolving it takes it off the list.
    d.click("a#nav-issues").await;
    d.wait_url(&s.url("/issues")).await;
    let issues = d
        .wait_text("#issues", "ZeroDivisionError: division by zero")
        .await;
    assert!(
        issues.contains(&format!(
            "http://3f9c2a7be1d04c6f8a5b0e9d7c1f2a43@{}/7",
            s.addr
        )),
        "{issues}"
    );
    d.click("tr.issue-row").await;
    let issue = d.wait_text("#issue-detail", "price_per_unit").await;
    assert!(issue.contains("return total / quantity"), "{issue}");
    assert!(issue.contains("shop@2.4.1"), "{issue}");
    d.wait_text("#issue-detail table.breadcrumbs", "GET /cart/42 200")
        .await;
    let issue_url = d.url().await;
    assert!(
        issue_url.starts_with(&s.url("/issues/")),
        "clicking an issue leads to its page, not {issue_url}"
    );
    d.screenshot("dashboard-issue.png").await;
    // Reloading the issue's address shows it again.
    d.goto(&issue_url).await;
    d.wait_text("#issue-detail", "price_per_unit").await;
    d.click("#resolve-issue").await;
    d.wait_url(&s.url("/issues")).await;
    d.wait_text("#issues", "No unresolved issues.").await;
    // Back shows the issue again, now resolved.
    d.back().await;
    d.wait_url(&issue_url).await;
    d.wait_text("#issue-status", "resolved").await;

    // No Periskop service is configured: the view says so.
    d.click("a#nav-exceptions").await;
    d.wait_url(&s.url("/exceptions")).await;
    d.wait_text("#exceptions", "No Periskop services").await;

    // The alert the failed cron job raised; silencing it from its row, then expiring the
    // silence; the receiver's Test button shows each channel's answer.
    let r = client()
        .post(s.url("/api/v1/push/cron-token-0123456789?status=down"))
        .send()
        .await
        .expect("push");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    d.click("a#nav-alerts").await;
    d.wait_url(&s.url("/alerts")).await;
    let alerts = d.wait_text("#alerts", "CronDown").await;
    assert!(alerts.contains("cron failed"), "{alerts}");
    d.click("tr.alert-row[data-state='firing'] .silence-alert")
        .await;
    d.wait_text("#alerts", "silenced").await;
    let silences = d.wait_text("#silences", "alertname=\"CronDown\"").await;
    assert!(
        silences.contains("alice"),
        "the silence names its author: {silences}"
    );
    d.click(".expire-silence").await;
    d.wait_text("tr.silence-row", "expired").await;
    d.click(".test-receiver").await;
    let test = d.wait_text("#receivers", "webhook_configs[0]").await;
    d.find("li[data-channel='webhook_configs[0]'][data-delivered='false']")
        .await;
    assert!(test.contains("web"), "{test}");
    d.screenshot("dashboard-alerts.png").await;

    // On call: the alert paged ana, the one on call; acknowledging the page from its row stops
    // the escalation and names who did; its link opens the timeline. An override added with
    // the form puts ben on call now, in the schedule and on the overview; deleting it puts ana
    // back.
    d.click("a#nav-oncall").await;
    d.wait_url(&s.url("/oncall")).await;
    d.wait_text("tr.schedule-row[data-schedule='platform'] .on-call", "ana")
        .await;
    d.find("tr.shift-row[data-schedule='platform'][data-user='ana']")
        .await;
    d.wait_text("#policies", "user:ben").await;
    let page = d
        .wait_text("tr.page-row[data-status='triggered']", "CronDown")
        .await;
    assert!(
        page.contains("platform"),
        "the page names its policy: {page}"
    );
    d.click("tr.page-row[data-status='triggered'] button.ack")
        .await;
    let acked = d
        .wait_text(
            "tr.page-row[data-status='acknowledged']",
            "acknowledged by alice",
        )
        .await;
    assert!(!acked.contains("Acknowledge"), "{acked}");
    d.click("tr.page-row .page-title").await;
    let timeline = d.wait_text("#page-detail .timeline", "acknowledged").await;
    assert!(timeline.contains("triggered"), "{timeline}");
    assert!(d.url().await.contains("/oncall?page="), "{}", d.url().await);
    d.type_into("#override-form input[name='user']", "ben")
        .await;
    d.click("#override-form button[type='submit']").await;
    d.wait_text("tr.override-row[data-user='ben']", "alice")
        .await;
    d.wait_text("tr.schedule-row[data-schedule='platform'] .on-call", "ben")
        .await;
    d.find("tr.shift-row[data-user='ben']").await;
    d.screenshot("dashboard-oncall.png").await;
    d.click("a#nav-overview").await;
    d.wait_text("#glance-oncall", "platform: ben").await;
    d.click("a#nav-oncall").await;
    d.click("tr.override-row[data-user='ben'] .delete-override")
        .await;
    d.wait_text("tr.schedule-row[data-schedule='platform'] .on-call", "ana")
        .await;
    d.click("tr.page-row button.resolve").await;
    d.find("tr.page-row[data-status='resolved']").await;

    // Status pages: an incident opened from the dashboard is on the public page at once; an
    // update posted from its row resolves it.
    d.click("a#nav-statuspages").await;
    d.wait_url(&s.url("/statuspages")).await;
    d.wait_text(".status-page[data-slug='public']", "Cron jobs")
        .await;
    d.click(".open-incident summary").await;
    d.type_into(".incident-form input[name='name']", "Cron delays")
        .await;
    d.type_into(".incident-form textarea[name='body']", "Jobs run **late**.")
        .await;
    d.click(".incident-form select[name^='component-'] option[value='partial_outage']")
        .await;
    d.click(".incident-form button[type='submit']").await;
    d.wait_text(".incident-row[data-status='investigating']", "Cron delays")
        .await;
    let public = client()
        .get(s.url("/status/public"))
        .send()
        .await
        .expect("status page")
        .text()
        .await
        .expect("html");
    assert!(public.contains("Cron delays"), "{public}");
    assert!(
        public.contains("Jobs run <strong>late</strong>"),
        "{public}"
    );
    assert!(
        public.contains("data-status=\"partial_outage\""),
        "{public}"
    );
    d.click(".incident-row .update-form select option[value='resolved']")
        .await;
    d.type_into(
        ".incident-row .update-form input[name='body']",
        "Back on time.",
    )
    .await;
    d.click(".incident-row .post-update").await;
    d.wait_text(".incident-row[data-status='resolved']", "Back on time.")
        .await;
    // A draft (the form is still open) is marked, stays off the public page until its
    // Publish button is pressed.
    d.type_into(".incident-form input[name='name']", "Queue backlog")
        .await;
    d.click(".incident-form input[name='draft']").await;
    d.click(".incident-form button[type='submit']").await;
    d.wait_text(".incident-row[data-draft='true']", "Queue backlog")
        .await;
    let public_html = || async {
        client()
            .get(s.url("/status/public"))
            .send()
            .await
            .expect("status page")
            .text()
            .await
            .expect("html")
    };
    assert!(!public_html().await.contains("Queue backlog"));
    d.click(".incident-row[data-draft='true'] button.publish")
        .await;
    d.wait_text(".incident-row[data-draft='false']", "Queue backlog")
        .await;
    assert!(public_html().await.contains("Queue backlog"));
    d.screenshot("dashboard-statuspages.png").await;

    // An address no view claims says so, inside the app.
    d.goto(&s.url("/no/such/view")).await;
    d.find("#not-found").await;

    // A reload keeps the session (the cookie), and signing out returns to the form.
    d.goto(&s.url("/")).await;
    assert_eq!(d.text("#instance-id").await, instance_id);
    d.click("#logout").await;
    d.find("#login-form").await;
    d.goto(&s.url("/")).await;
    d.find("#login-form").await;
    // A deep link without a session goes through the login screen and then to the link.
    let monitor_url = s.url(&format!("/monitors/{monitor_id}"));
    d.goto(&monitor_url).await;
    d.find("#login-form").await;
    d.type_into("#username", "alice").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&monitor_url).await;
    d.wait_text("#monitor-detail", "[STATUS] (200) == 200")
        .await;
    d.call(reqwest::Method::DELETE, "", json!({})).await;
}

/// First run without a terminal: a fresh server has no user; the dashboard offers the
/// first-admin form instead of the login, creates the admin and signs them in; afterwards the
/// login form is back (setup is over).
#[tokio::test]
async fn the_first_admin_is_created_in_the_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), &[]);
    let d = Driver::start().await;
    d.goto(&s.url("/")).await;
    d.find("#setup-form").await;
    assert!(
        !d.exists("#setup-code").await,
        "a local browser needs no code"
    );
    d.type_into("#setup-username", "root").await;
    d.type_into("#setup-password", "short").await;
    d.click("#setup").await;
    // The server's own message, field by field.
    d.wait_text("#setup-error", "at least 8 characters").await;
    d.type_into("#setup-password", "correct horse battery")
        .await;
    d.screenshot("first-run.png").await;
    d.click("#setup").await;
    d.wait_url(&s.url("/")).await;
    assert_eq!(d.text("#principal").await, "root");
    d.click("#logout").await;
    d.find("#login-form").await;
    assert!(
        !d.exists("#setup-form").await,
        "setup is over once a user exists"
    );
    d.type_into("#username", "root").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/")).await;
    d.call(reqwest::Method::DELETE, "", json!({})).await;
}

/// The public status page in a real browser: a phone-sized window with JavaScript off reads the
/// whole page (components, bars, uptimes, the open incident); with JavaScript on, focusing a
/// day's bar shows its date and uptime (CSS only, from the bar's label).
#[tokio::test]
async fn the_status_page_reads_on_a_phone_without_javascript() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        r#"monitors:
  - {name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}
  - {name: web, type: push, token: web-token-0123456789, interval: 1h, retries: 0}
status_pages:
  - slug: public
    title: Example Inc. status
    components:
      - {name: API, monitor: api, description: The public API}
      - {name: Website, monitor: web}
"#,
    )
    .expect("config");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    for (t, up) in [("api", true), ("web", false)] {
        let r = client()
            .post(s.url(&format!(
                "/api/v1/push/{t}-token-0123456789?status={}",
                if up { "up" } else { "down" }
            )))
            .send()
            .await
            .expect("push");
        assert_eq!(r.status(), reqwest::StatusCode::OK);
    }
    let r = client()
        .post(s.url("/api/v1/status-pages/public/incidents"))
        .bearer_auth(&token)
        .json(
            &json!({"name": "Website unreachable", "status": "investigating", "impact": "major",
            "body": "We are **looking into it**.", "components": {"Website": "major_outage"}}),
        )
        .send()
        .await
        .expect("incident");
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);

    let d = Driver::start_with(&[
        "--window-size=390,844",
        "--blink-settings=scriptEnabled=false",
    ])
    .await;
    d.goto(&s.url("/status/public")).await;
    let banner = d.wait_text("#status", "Outage").await;
    assert!(banner.contains("Partial System Outage"), "{banner}");
    d.wait_text("li.component[data-status='major_outage']", "Website")
        .await;
    d.wait_text("li.component[data-status='operational']", "The public API")
        .await;
    let incident = d.wait_text("#incidents", "Website unreachable").await;
    assert!(incident.contains("looking into it"), "{incident}");
    d.find("ol.bars li[aria-label]").await;
    let uptime = d.text("li.component dl.uptime").await;
    assert!(uptime.contains("90 days"), "{uptime}");
    d.screenshot("status-page-phone.png").await;
    d.call(reqwest::Method::DELETE, "", json!({})).await;

    let d = Driver::start().await;
    d.goto(&s.url("/status/public")).await;
    d.find("ol.bars li:last-child").await;
    let tip = d
        .call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "const b = document.querySelector('ol.bars li:last-child'); b.focus(); return [document.activeElement === b, getComputedStyle(b, '::after').content, b.getAttribute('aria-label')];", "args": []}),
        )
        .await;
    assert_eq!(tip["value"][0], true, "{tip}");
    let label = tip["value"][2].as_str().expect("label").to_string();
    assert!(label.contains('%'), "today's bar has an uptime: {label}");
    assert!(
        tip["value"][1].as_str().is_some_and(|c| c.contains(&label)),
        "the focused bar shows its label: {tip}"
    );
    d.screenshot("status-page.png").await;
    d.call(reqwest::Method::DELETE, "", json!({})).await;
}
