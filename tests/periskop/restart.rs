//! Restarts and reloads: totals and resolve state kept, nothing counted twice.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_and_resolve_survive_a_restart_without_counting_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let mut exporter = Exporter::spawn(0);
    exporter.cmd("record zero 3");
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!(
            "periskop:\n  compat_api: public_read\nservices:\n  - name: shop\n    static_configs: [{{targets: [\"{}\"]}}]\n    scraper: {{refresh_interval: 200ms, timeout: 2s}}\n",
            exporter.addr()
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let mut server = start(dir.path(), &["--config", &config_arg]);
    let c = client();
    let base = server.url("");
    eventually("first scrape", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&3)).then_some(())
    })
    .await;
    // public_read: the Periskop UI reads without a login, but cannot resolve.
    let compat: Value = c
        .get(server.url("/services/shop/errors/"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let key = compat[0]["aggregation_key"]
        .as_str()
        .expect("key")
        .to_string();
    let resp = c
        .delete(server.url(&format!("/services/shop/errors/{key}/")))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = c
        .post(server.url(&format!(
            "/api/v1/exceptions/services/shop/errors/{key}/resolve"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("resolve");
    assert_eq!(resp.status(), StatusCode::OK);
    server.signal("TERM");
    assert!(server.wait(Duration::from_secs(30)).success());

    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let detail_url = format!("{base}/api/v1/exceptions/services/shop/errors/{key}");
    eventually("a scrape after the restart", || async {
        let t = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        (t[0]["health"] == "up").then_some(())
    })
    .await;
    let d = get_json(&c, &detail_url, &token).await;
    assert_eq!(
        d["total_count"], 3,
        "the instance's history is not counted again"
    );
    assert_eq!(d["status"], "resolved");
    exporter.cmd("record zero 1");
    let d = eventually("the new error", || async {
        let d = get_json(&c, &detail_url, &token).await;
        (d["total_count"] == 4).then_some(d)
    })
    .await;
    assert_eq!(d["status"], "open");
    assert_eq!(d["regression"], true);
    drop(server);
}

/// An https target on 127.0.0.1 with a certificate for 127.0.0.1 issued by a fresh private CA.
/// Returns its address and the CA certificate (PEM). Speaks just enough HTTP/1.1 to answer one
/// request per connection with the captured python-client export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_changes_services_and_targets_without_losing_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let mut first = Exporter::spawn(0);
    let mut second = Exporter::spawn(0);
    first.cmd("record zero 2");
    second.cmd("record zero 5");
    let config = dir.path().join("panoptes.yaml");
    let write = |targets: &[String], extra: &str| {
        let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        std::fs::write(
            &config,
            format!(
                "services:\n  - name: shop\n    static_configs: [{{targets: [{}]}}]\n    scraper: {{refresh_interval: 200ms, timeout: 2s}}\n{extra}",
                list.join(", ")
            ),
        )
        .expect("write config");
    };
    write(&[first.addr()], "");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let c = client();
    eventually("first target counted", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&2)).then_some(())
    })
    .await;

    // Swap the target and add a service; a reload applies both at once.
    write(
        &[second.addr()],
        &format!(
            "  - name: billing\n    static_configs: [{{targets: [\"{}\"]}}]\n    scraper: {{refresh_interval: 200ms, timeout: 2s}}\n",
            first.addr()
        ),
    );
    server.signal("HUP");
    eventually("the new target counted, the old total kept", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&7)).then_some(())
    })
    .await;
    let targets = eventually("targets follow the new config", || async {
        let v = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        let pairs: Vec<(String, String)> = v
            .as_array()
            .expect("targets")
            .iter()
            .map(|t| {
                (
                    t["service"].as_str().expect("svc").to_string(),
                    t["address"].as_str().expect("addr").to_string(),
                )
            })
            .collect();
        (pairs.len() == 2).then_some(pairs)
    })
    .await;
    assert!(
        targets.contains(&("shop".to_string(), second.addr())),
        "{targets:?}"
    );
    assert!(
        targets.contains(&("billing".to_string(), first.addr())),
        "{targets:?}"
    );
    let services = list_json(&c, &format!("{base}/api/v1/exceptions/services"), &token).await;
    let names: Vec<&str> = services
        .as_array()
        .expect("services")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["billing", "shop"]);
    drop(server);
}
