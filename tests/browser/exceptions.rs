//! Scraped exceptions in the browser: a Periskop client's export (captured from the real Python
//! client, sent through the push gateway) shows as a service with its keys; a key's detail has
//! its rate chart and its stack trace, and resolving it from the page takes it off the open list
//! and is stored.

use super::*;

#[tokio::test]
async fn a_periskop_key_is_charted_and_resolved_from_the_dashboard() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "root", "correct horse battery");
    let token = create_token(dir.path(), "test");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(&cfg, "periskop:\n  push_tokens: [push-secret-0123456789]\n").expect("config");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let export = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/periskop/python-client-0.2.0.json"
    ))
    .expect("fixture");
    let r = client()
        .post(s.url("/push/periskop/shop/errors"))
        .bearer_auth("push-secret-0123456789")
        .body(export)
        .send()
        .await
        .expect("push");
    assert!(r.status().is_success(), "push: {}", r.status());

    let d = Driver::start().await;
    d.goto(&s.url("/exceptions/shop")).await;
    d.type_into("#username", "root").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/exceptions/shop")).await;
    d.click("tr.key-row[data-key^='ZeroDivisionError']").await;
    d.find("#key-rate svg circle.dot.rate").await;
    d.wait_text("#key-detail", "return a / b").await;
    d.screenshot("exceptions.png").await;
    d.click("#resolve-key").await;
    // Off the open list once resolved, and stored so: the API says so too.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while d.exists("tr.key-row[data-key^='ZeroDivisionError']").await {
        assert!(
            std::time::Instant::now() < deadline,
            "the resolved key stays listed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!d.exists("#resolve-key").await);
    let keys: Value = client()
        .get(s.url("/api/v1/exceptions/services/shop/errors?status=resolved"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("keys")
        .json()
        .await
        .expect("json");
    let resolved: Vec<&str> = keys["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|k| k["aggregation_key"].as_str())
        .collect();
    assert!(
        resolved.iter().any(|k| k.starts_with("ZeroDivisionError")),
        "{keys}"
    );
}
