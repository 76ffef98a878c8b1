//! The push gateway, as the Python client's `push_to_gateway` uses it.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_push_gateway_takes_the_python_clients_push_to_gateway() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let secret = "push-secret-0123456789";
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!("periskop:\n  push_tokens: [\"{secret}\"]\n"),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let c = client();

    let resp = c
        .post(server.url("/push/periskop/billing-cron/errors"))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // The client appends `/errors` to the address it is given; the secret rides in the URL's
    // user info, which `requests` sends as Basic auth.
    let mut job = Exporter::spawn(0);
    let gateway = format!(
        "http://push:{secret}@{}/push/periskop/billing-cron",
        server.addr
    );
    job.cmd(&format!("push {gateway} 3"));
    let url = server.url("/api/v1/exceptions/services/billing-cron/errors");
    let v = list_json(&c, &url, &token).await;
    assert_eq!(v[0]["total_count"], 3, "{v}");
    // Same process pushing again: only the increase counts.
    job.cmd(&format!("push {gateway} 2"));
    let v = list_json(&c, &url, &token).await;
    assert_eq!(v[0]["total_count"], 5, "{v}");
    // A second run of the job (new process, new target_uuid) adds its whole count.
    let mut next = Exporter::spawn(0);
    next.cmd(&format!("push {gateway} 4"));
    let v = list_json(&c, &url, &token).await;
    assert_eq!(v[0]["total_count"], 9, "{v}");

    let resp = c
        .post(server.url("/push/periskop/billing-cron/errors"))
        .bearer_auth(secret)
        .body("not json")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], "invalid_json");
    drop(server);
}
