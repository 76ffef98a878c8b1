//! On-call end to end, on the real binary with a real SMTP server: an alert routed to an
//! escalation policy e-mails whoever the schedule says is on call; nobody acknowledges, so
//! after the step's delay the next person is paged, across a kill -9 in the middle of the
//! escalation; the acknowledge link in that e-mail (a form, then a POST, no login) stops the
//! escalation; the alert resolving resolves the page.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::Server;
use super::email::{Sink, start_sink, wait_mail};

fn config(smtp_port: u16) -> String {
    format!(
        r#"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
alerts:
  global: {{smtp_smarthost: "127.0.0.1:{smtp_port}", smtp_from: "panoptes@example.com", smtp_require_tls: false}}
  rules:
    - name: ApiDown
      monitor: {{state: down, monitors: [api]}}
      annotations: {{summary: "{{{{ .Monitor }}}} is {{{{ .State }}}}"}}
  route: {{receiver: team, group_by: [alertname], group_wait: 0s, group_interval: 1s, escalation_policy: platform}}
  receivers:
    - name: team
oncall:
  contacts:
    ana: [{{email: ana@example.com}}]
    ben: [{{email: ben@example.com}}]
    chen: [{{email: chen@example.com}}]
  schedules:
    - name: platform
      time_zone: Europe/Berlin
      layers:
        - users: [ana, ben, chen]
          rotation: weekly
          handoff: {{day: monday, time: "09:00"}}
          start: 2026-01-05
  escalation_policies:
    - name: platform
      steps:
        - {{delay: 0s, targets: [{{schedule: platform}}]}}
        - {{delay: 6s, targets: [{{schedule_next: platform}}]}}
        - {{delay: 6s, targets: [{{schedule_all: platform}}]}}
"#
    )
}

/// The message's text with quoted-printable soft breaks and `=3D` undone.
fn text_of(mail: &Value) -> String {
    mail["data"]
        .as_str()
        .unwrap_or_default()
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The acknowledge link's path in an e-mail.
fn ack_path(mail: &Value) -> String {
    let text = text_of(mail);
    let start = text
        .find("/oncall/ack/")
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_.".contains(*c))
        .collect()
}

fn mails(sink: &Sink) -> usize {
    std::fs::read_dir(sink.dir.path())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_page_escalates_survives_kill_9_and_stops_at_the_acknowledge_link() {
    let sink = start_sink();
    let mut s = Server::start(&config(sink.port));
    // Who is on call now, and next, by the schedule (the test runs on any date).
    let who = s.json("/api/v1/oncall?schedule=platform").await;
    let first = who["on_call"][0]
        .as_str()
        .expect("someone on call")
        .to_string();
    let second = who["next"]["user"].as_str().expect("next").to_string();
    assert_ne!(first, second);
    assert!(
        who["next"]["from"]
            .as_str()
            .is_some_and(|f| f.parse::<jiff::Timestamp>().is_ok())
    );

    s.push("api-token-0123456789", false).await;
    let m1 = wait_mail(&sink, 1);
    assert_eq!(
        m1["to"],
        serde_json::json!([format!("{first}@example.com")])
    );
    let t1 = text_of(&m1);
    assert!(t1.contains("api is DOWN"), "{t1}");
    assert!(t1.contains("Acknowledge: http://"), "{t1}");
    let pages = s.json("/api/v1/pages?status=triggered").await;
    let id = pages["items"][0]["id"].as_u64().expect("a triggered page");
    assert_eq!(pages["items"][0]["policy"], "platform");

    // The first message is recorded delivered (a message in flight at a crash is sent again,
    // at least once); nobody answers; the server dies before the second step is due.
    s.wait_json(
        &format!("/api/v1/pages/{id}"),
        Duration::from_secs(10),
        |p| p["deliveries"][0]["state"] == "delivered",
    )
    .await;
    s.kill_and_restart();
    let m2 = wait_mail(&sink, 2);
    assert_eq!(
        m2["to"],
        serde_json::json!([format!("{second}@example.com")]),
        "after the restart, the next person is paged at the second step"
    );
    assert_eq!(mails(&sink), 2, "the first person was not paged again");

    // The second person acknowledges from the e-mail: the GET is a form (a mail scanner
    // fetching the link acknowledges nothing), the POST acknowledges.
    let link = ack_path(&m2);
    let form = s.http.get(s.url(&link)).send().await.expect("get link");
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.expect("html");
    assert!(html.contains("<form method=\"post\">"), "{html}");
    let page = s.json(&format!("/api/v1/pages/{id}")).await;
    assert_eq!(page["status"], "triggered", "a GET does not acknowledge");
    let done = s.http.post(s.url(&link)).send().await.expect("post link");
    assert_eq!(done.status(), StatusCode::OK);
    let html = done.text().await.expect("html");
    assert!(html.contains("Acknowledged"), "{html}");
    let page = s.json(&format!("/api/v1/pages/{id}")).await;
    assert_eq!(page["status"], "acknowledged");
    assert_eq!(page["acknowledged_by"], second.as_str());
    // Used again, the link changes nothing; tampered, it is refused.
    let again = s.http.post(s.url(&link)).send().await.expect("post again");
    assert!(
        again
            .text()
            .await
            .expect("html")
            .contains("Already handled")
    );
    let forged = s
        .http
        .post(s.url(&format!("{link}x")))
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The third step (everyone) would have gone out 6 s after the second: nothing more comes.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(mails(&sink), 2, "escalation stopped at the acknowledgement");

    s.push("api-token-0123456789", true).await;
    let page = s
        .wait_json(
            &format!("/api/v1/pages/{id}"),
            Duration::from_secs(20),
            |p| p["status"] == "resolved",
        )
        .await;
    let kinds: Vec<&str> = page["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "triggered",
            "step",
            "notified",
            "step",
            "notified",
            "acknowledged",
            "resolved"
        ],
        "{page:#}"
    );
    let delivered: Vec<&Value> = page["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter(|d| d["state"] == "delivered")
        .collect();
    assert_eq!(delivered.len(), 2);
    let audit = s.json("/api/v1/audit").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    for a in ["page.trigger", "page.acknowledge", "page.resolve"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn schedules_overrides_and_calendars_through_the_api() {
    let sink = start_sink();
    let s = Server::start(&config(sink.port));
    let at = "2026-03-25T12:00:00Z";
    // Week 11 since 5 January: chen; next ana from Monday 30 March 09:00 Berlin (07:00Z).
    let who = s
        .json(&format!("/api/v1/oncall?schedule=platform&at={at}"))
        .await;
    assert_eq!(
        who,
        serde_json::json!({"schedule": "platform", "on_call": ["chen"], "next": {"user": "ana", "from": "2026-03-30T07:00:00Z"}})
    );
    let (status, o) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/oncall/overrides",
            Some(serde_json::json!({"schedule": "platform", "user": "ben", "start": "2026-03-25T00:00:00Z", "end": "2026-03-26T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{o}");
    let who = s
        .json(&format!("/api/v1/oncall?schedule=platform&at={at}"))
        .await;
    assert_eq!(who["on_call"], serde_json::json!(["ben"]));
    let shifts = s
        .json("/api/v1/oncall/schedules/platform/shifts?from=2026-03-24T00:00:00Z&to=2026-03-27T00:00:00Z")
        .await;
    let users: Vec<&str> = shifts["shifts"]
        .as_array()
        .expect("shifts")
        .iter()
        .filter_map(|x| x["user"].as_str())
        .collect();
    assert_eq!(users, ["chen", "ben", "chen"]);
    assert_eq!(shifts["shifts"][1]["override_id"], o["id"]);
    // Bad input names the field.
    let (status, e) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/oncall/overrides",
            Some(serde_json::json!({"schedule": "platform", "user": "ben", "start": "tomorrow", "end": "2026-03-26T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(e.to_string().contains("start"), "{e}");
    let (status, _) = s
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/oncall/overrides/{}", o["id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let who = s
        .json(&format!("/api/v1/oncall?schedule=platform&at={at}"))
        .await;
    assert_eq!(who["on_call"], serde_json::json!(["chen"]));
    // The secret calendar URL works without a login; a wrong one does not.
    let schedules = s.json("/api/v1/oncall/schedules").await;
    let ical = schedules["items"][0]["ical_url"]
        .as_str()
        .expect("ical_url");
    let path = &ical[ical.find("/oncall/calendar/").expect("path")..];
    let resp = s.http.get(s.url(path)).send().await.expect("ics");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/calendar"))
    );
    let ics = resp.text().await.expect("ics");
    assert!(
        ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains("SUMMARY:On call: "),
        "{ics}"
    );
    let wrong = s
        .http
        .get(s.url("/oncall/calendar/00000000000000000000000000000000.ics"))
        .send()
        .await
        .expect("ics");
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    // Without credentials the API refuses.
    let anon = s
        .http
        .get(s.url("/api/v1/oncall"))
        .send()
        .await
        .expect("anon");
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn overrides_are_read_and_updated_one_by_one() {
    let sink = start_sink();
    let s = Server::start(&config(sink.port));
    // An offset written with an unencoded `+` (read as a space by query decoding) is an offset.
    let plus = s
        .json("/api/v1/oncall?schedule=platform&at=2026-03-29T01:30:00+02:00")
        .await;
    let utc = s
        .json("/api/v1/oncall?schedule=platform&at=2026-03-28T23:30:00Z")
        .await;
    assert_eq!(plus, utc);
    assert_eq!(plus["on_call"], serde_json::json!(["chen"]));
    let shifts = s
        .json("/api/v1/oncall/schedules/platform/shifts?from=2026-03-24T00:00:00+01:00&to=2026-03-27T00:00:00+01:00")
        .await;
    assert_eq!(shifts["from"], "2026-03-23T23:00:00Z");

    let at = "2026-03-25T12:00:00Z";
    let (status, o) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/oncall/overrides",
            Some(serde_json::json!({"schedule": "platform", "user": "ben", "start": "2026-03-25T00:00:00Z", "end": "2026-03-26T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{o}");
    let path = format!("/api/v1/oncall/overrides/{}", o["id"]);
    assert_eq!(s.json(&path).await, o);

    // Ana covers instead, and only until 18:00; fields left out stay.
    let (status, u) = s
        .send(
            reqwest::Method::PUT,
            &path,
            Some(serde_json::json!({"user": "ana", "end": "2026-03-25T18:00:00Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(
        (&u["id"], &u["schedule"], &u["user"], &u["start"], &u["end"]),
        (
            &o["id"],
            &serde_json::json!("platform"),
            &serde_json::json!("ana"),
            &serde_json::json!("2026-03-25T00:00:00Z"),
            &serde_json::json!("2026-03-25T18:00:00Z")
        )
    );
    assert_eq!(s.json(&path).await, u);
    let who = s
        .json(&format!("/api/v1/oncall?schedule=platform&at={at}"))
        .await;
    assert_eq!(who["on_call"], serde_json::json!(["ana"]));
    let who = s
        .json("/api/v1/oncall?schedule=platform&at=2026-03-25T19:00:00Z")
        .await;
    assert_eq!(
        who["on_call"],
        serde_json::json!(["chen"]),
        "the override ends at 18:00"
    );

    // Checked as a new override is; an override stays in its schedule; unknown ids are 404.
    for (body, field) in [
        (serde_json::json!({"end": "2026-03-24T00:00:00Z"}), "end"),
        (serde_json::json!({"start": "tomorrow"}), "start"),
        (serde_json::json!({"user": " "}), "user"),
        (serde_json::json!({"schedule": "other"}), "schedule"),
    ] {
        let (status, e) = s.send(reqwest::Method::PUT, &path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    assert_eq!(s.json(&path).await, u, "a refused change changes nothing");
    for method in [reqwest::Method::GET, reqwest::Method::PUT] {
        let body = (method == reqwest::Method::PUT).then(|| serde_json::json!({"user": "ana"}));
        let (status, _) = s.send(method, "/api/v1/oncall/overrides/999", body).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let audit = s.json("/api/v1/audit").await;
    let update = audit["items"]
        .as_array()
        .expect("audit")
        .iter()
        .find(|a| a["action"] == "oncall.override.update")
        .expect("an update in the audit log");
    let detail = update.to_string();
    assert!(
        detail.contains("ana from") && detail.contains("was ben from"),
        "{detail}"
    );
}

/// A server whose data holds a dashboard user (a viewer: they change only what is their own),
/// and a client logged in as them.
async fn start_with_user(config: &str, user: &str) -> (Server, reqwest::Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(&cfg, config).expect("config");
    let data = dir.path().join("data");
    let token = super::common::create_token(&data, "test");
    super::common::add_user_as(&data, user, "correct horse battery", "viewer");
    let run = super::common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
    let s = Server {
        run,
        token,
        http: super::common::client(),
        dir,
        config: cfg,
    };
    let session = super::common::client();
    let resp = session
        .post(s.url("/api/v1/session"))
        .json(&serde_json::json!({"username": user, "password": "correct horse battery"}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::OK);
    (s, session)
}

#[tokio::test]
async fn people_set_their_own_contact_methods_and_pages_reach_them() {
    let hooks = super::receiver::Receiver::start().await;
    let config = format!(
        r#"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
alerts:
  rules:
    - name: ApiDown
      monitor: {{state: down, monitors: [api]}}
  route: {{receiver: team, group_by: [alertname], group_wait: 0s, group_interval: 1s, escalation_policy: solo}}
  receivers:
    - name: team
oncall:
  contacts:
    ana: [{{webhook: {{url: "{config_hook}"}}}}]
  schedules:
    - name: solo
      layers: [{{users: [ana], rotation: weekly, start: 2026-01-05}}]
  escalation_policies:
    - name: solo
      steps: [{{delay: 0s, targets: [{{schedule: solo}}]}}]
"#,
        config_hook = hooks.url("/config")
    );
    let (s, ana) = start_with_user(&config, "ana").await;
    let put = |who: &str, body: Value| {
        ana.put(s.url(&format!("/api/v1/oncall/users/{who}/contacts")))
            .header("x-panoptes-csrf", "1")
            .json(&body)
            .send()
    };
    let mine = serde_json::json!([{"webhook": {"url": hooks.url("/mine")}}]);

    // Ana (a viewer) sets her own; not Ben's (an editor, an admin or their token may).
    let resp = put("ben", mine.clone()).await.expect("put");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = put("ana", serde_json::json!([{"webhook": {}}]))
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let e = resp.text().await.expect("body");
    assert!(e.contains("contacts[0].webhook"), "{e}");
    let resp = put("ana", mine.clone()).await.expect("put");
    assert_eq!(resp.status(), StatusCode::OK);
    let view: Value = resp.json().await.expect("json");
    assert_eq!(view["own"], true);
    assert_eq!(view["contacts"][0]["method"], "webhook");
    let shown = ana
        .get(s.url("/api/v1/oncall/users/ana/contacts"))
        .send()
        .await
        .expect("get");
    assert_eq!(shown.json::<Value>().await.expect("json"), mine);
    let users = s.json("/api/v1/oncall/users").await;
    assert_eq!(users["items"][0]["user"], "ana");
    assert_eq!(users["items"][0]["own"], true);
    let (status, _) = s
        .send(
            reqwest::Method::PUT,
            "/api/v1/oncall/users/ben/contacts",
            Some(serde_json::json!([{"email": "ben@example.com"}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "a token sets anyone's");

    // A page reaches the contact Ana set, not the config's, with an acknowledge link.
    s.push("api-token-0123456789", false).await;
    let hit = hooks
        .wait_for("/mine", 1, Duration::from_secs(20))
        .await
        .remove(0);
    let body = hit.json();
    assert!(
        body["commonAnnotations"]["ack_url"]
            .as_str()
            .is_some_and(|u| u.contains("/oncall/ack/")),
        "{body:#}"
    );
    assert!(
        hooks.hits("/config").is_empty(),
        "the config's contact is replaced"
    );

    // Back to the config's; the audit log has both changes.
    let resp = ana
        .delete(s.url("/api/v1/oncall/users/ana/contacts"))
        .header("x-panoptes-csrf", "1")
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let users = s.json("/api/v1/oncall/users").await;
    assert_eq!(users["items"][0]["own"], false);
    let audit = s.json("/api/v1/audit").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    for a in ["oncall.contacts.set", "oncall.contacts.delete"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}
