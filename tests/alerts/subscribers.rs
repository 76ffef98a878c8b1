//! Status page subscribers by e-mail, through a real SMTP server (see `status.rs` for the pages
//! themselves).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::Server;
use super::status::public;

/// The subscription round trip through a real SMTP server: the form answers the same for a
/// new and a known address, the confirmation link is a form (a scanner's GET confirms nothing),
/// an incident update reaches the confirmed reader with RFC 8058 unsubscribe headers, the
/// one-click POST unsubscribes, and nothing more arrives; the form is rate-limited.
#[tokio::test]
async fn subscribers_confirm_get_updates_and_unsubscribe_in_one_click() {
    use super::email::{start_sink, wait_mail};
    let sink = start_sink();
    let s = Server::start(&format!(
        r#"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
status_pages:
  - slug: public
    title: Example Inc. status
    components: [{{name: API, monitor: api}}]
    subscribers:
      email: {{from: "status@example.com", smarthost: "127.0.0.1:{}", require_tls: false}}
"#,
        sink.port
    ));
    let form = |email: &str| {
        let body = format!("email={}", email.replace('@', "%40"));
        s.http
            .post(s.url("/status/public/subscribe"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let (_, _, page) = public(&s, "/status/public").await;
    assert!(
        page.contains("action=\"/status/public/subscribe\""),
        "the page has the form"
    );
    let first = form("reader@example.com").await.expect("subscribe");
    assert_eq!(first.status(), StatusCode::OK);
    let first = first.text().await.expect("html");
    assert!(first.contains("Check your inbox"), "{first}");
    let bad = form("not an address").await.expect("subscribe");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let m1 = wait_mail(&sink, 1);
    assert_eq!(m1["to"], json!(["reader@example.com"]));
    let data = m1["data"]
        .as_str()
        .expect("data")
        .replace("=\r\n", "")
        .replace("=3D", "=");
    assert!(
        data.contains("Subject: Confirm your subscription to Example Inc. status"),
        "{data}"
    );
    let start = data
        .find("/status/public/subscribe/confirm/")
        .expect("confirm link");
    let link: String = data[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
        .collect();
    let (code, _, confirm_page) = public(&s, &link).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        confirm_page.contains("<form method=\"post\">"),
        "{confirm_page}"
    );
    let done = s.http.post(s.url(&link)).send().await.expect("confirm");
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.expect("html").contains("Subscribed"));
    // The same address again: the same answer, and no second mail.
    let again = form("reader@example.com").await.expect("subscribe");
    assert!(
        again
            .text()
            .await
            .expect("html")
            .contains("Check your inbox")
    );

    // An incident: the confirmed reader hears of it, with the unsubscribe headers.
    let (code, _) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/status-pages/public/incidents",
            Some(
                json!({"name": "API errors", "status": "investigating", "impact": "major",
                "body": "We are **looking into it**.", "components": {"API": "major_outage"}}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let m2 = wait_mail(&sink, 2);
    assert_eq!(
        m2["to"],
        json!(["reader@example.com"]),
        "no second confirmation was sent"
    );
    let data = m2["data"]
        .as_str()
        .expect("data")
        .replace("=\r\n", "")
        .replace("=3D", "=");
    assert!(
        data.contains("Subject: [Example Inc. status] API errors: Investigating"),
        "{data}"
    );
    assert!(
        data.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{data}"
    );
    let start =
        data.find("List-Unsubscribe: <").expect("List-Unsubscribe") + "List-Unsubscribe: <".len();
    let unsubscribe = data[start..].split('>').next().expect("url").to_string();
    assert!(
        unsubscribe.contains("/status/public/unsubscribe/"),
        "{unsubscribe}"
    );
    // One click, as a mail client does it (RFC 8058).
    let r = s
        .http
        .post(&unsubscribe)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("one-click");
    assert_eq!(r.status(), StatusCode::OK);
    let (code, _) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/status-pages/public/incidents/1/updates",
            Some(json!({"status": "resolved", "body": "Fixed."})),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !sink.dir.path().join("3.json").exists(),
        "an unsubscribed reader gets nothing"
    );

    // The form is rate-limited per client (5 in 10 minutes; this client used 3).
    let mut limited = false;
    for i in 0..5 {
        let r = form(&format!("flood{i}@example.com"))
            .await
            .expect("subscribe");
        limited |= r.status() == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "the subscribe form is rate-limited");
}
