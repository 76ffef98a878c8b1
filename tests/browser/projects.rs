//! Sentry projects from the settings view: an admin creates one (a key is generated), its DSN is
//! shown with each SDK's setup line, takes an event at once, gains a key and has one revoked.

use super::*;

fn dsn_texts(page: &str) -> Vec<String> {
    page.split_whitespace()
        .filter(|w| w.starts_with("http://") && w.contains('@'))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_project_is_created_in_the_settings_and_takes_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "root", "correct horse battery");
    let s = start(dir.path(), &[]);
    let d = Driver::start().await;
    d.goto(&s.url("/settings")).await;
    d.type_into("#username", "root").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/settings")).await;
    d.type_into("#new-project input[name='name']", "checkout")
        .await;
    d.click("#new-project button[type='submit']").await;
    let row = d
        .wait_text("tr.project-row[data-source='api']", "checkout")
        .await;
    let dsns = dsn_texts(&row);
    assert_eq!(dsns.len(), 1, "{row}");
    let dsn = dsns[0].clone();
    let snippets = d.text("#dsn-snippets").await;
    assert!(!snippets.is_empty());

    // The DSN takes an envelope now.
    let (key, rest) = dsn
        .trim_start_matches("http://")
        .split_once('@')
        .expect("key@host/id");
    let id = rest.rsplit('/').next().expect("id");
    let send = |key: String| {
        let url = s.url(&format!("/api/{id}/envelope/?sentry_key={key}"));
        async move {
            client()
                .post(url)
                .body("{}\n{\"type\":\"event\"}\n{\"message\":\"hello\"}\n")
                .send()
                .await
                .expect("envelope")
                .status()
        }
    };
    assert_eq!(send(key.to_string()).await, reqwest::StatusCode::OK);

    // A second key, then the first revoked: refused from then on.
    d.click("tr.project-row[data-source='api'] .add-key").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while dsn_texts(&d.text("tr.project-row[data-source='api']").await).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no second key shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    d.click("tr.project-row[data-source='api'] .dsn-line:first-child .revoke-key")
        .await;
    while dsn_texts(&d.text("tr.project-row[data-source='api']").await).len() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the revoked key stays shown"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!send(key.to_string()).await.is_success());
    // The default project comes from the embedded config: read-only.
    d.find("tr.project-row[data-source='config'] .from-config")
        .await;
    assert!(
        !d.exists("tr.project-row[data-source='config'] .add-key")
            .await
    );
}
