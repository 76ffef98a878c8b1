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
    let ical = schedules[0]["ical_url"].as_str().expect("ical_url");
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
