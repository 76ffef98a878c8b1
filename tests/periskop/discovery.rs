//! Static, DNS (SRV and A) and file discovery of real exporters, aggregation across them, target
//! health and the Periskop-compatible routes.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_are_discovered_scraped_and_aggregated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");

    // Seven instances: three static (one healthy, one hanging, one answering garbage), two
    // behind an SRV name, one behind an A name, one in a file_sd file.
    let mut fixed = Exporter::spawn(0);
    let mut hang = Exporter::spawn(0);
    let mut garbage = Exporter::spawn(0);
    let mut srv1 = Exporter::spawn(0);
    let mut srv2 = Exporter::spawn(0);
    let mut by_a = Exporter::spawn(0);
    let mut filed = Exporter::spawn(0);
    fixed.cmd("record zero 3");
    fixed.cmd("record key 2");
    srv1.cmd("record zero 4");
    srv2.cmd("record zero 5");
    by_a.cmd("record value 1");
    filed.cmd("record zero 2");
    hang.cmd("record zero 100");
    hang.cmd("hang");
    garbage.cmd("record zero 100");
    garbage.cmd("garbage");

    let dns = Dns::start().await;
    dns.add_a("node1").await;
    dns.add_a("node2").await;
    dns.add_a("single").await;
    dns.add_srv("_periskop._tcp.shop", "node1", srv1.port).await;
    dns.add_srv("_periskop._tcp.shop", "node2", srv2.port).await;

    let sd_dir = dir.path().join("sd");
    std::fs::create_dir(&sd_dir).expect("mkdir");
    let sd_file = sd_dir.join("targets.yaml");
    std::fs::write(
        &sd_file,
        format!("- targets: [\"{}\"]\n  labels: {{zone: a}}\n", filed.addr()),
    )
    .expect("write sd file");
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
periskop:
  nameserver: "{ns}"
services:
  - name: shop
    static_configs: [{{targets: ["{fixed}", "{hang}", "{garbage}"]}}]
    dns_sd_configs:
      - {{names: [_periskop._tcp.shop.test.internal], refresh_interval: 200ms}}
      - {{names: [single.test.internal], type: A, port: {a_port}, refresh_interval: 200ms}}
    file_sd_configs: [{{files: ["{glob}"], refresh_interval: 200ms}}]
    scraper: {{endpoint: /-/exceptions, refresh_interval: 200ms, timeout: 1s}}
"#,
            ns = dns.addr,
            fixed = fixed.addr(),
            hang = hang.addr(),
            garbage = garbage.addr(),
            a_port = by_a.port,
            glob = sd_dir.join("*.yaml").display(),
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let c = client();

    // Totals match what the clients reported; the hanging and the garbage targets add nothing.
    let t = eventually("totals of every healthy instance", || async {
        let t = totals(&c, &base, &token).await;
        (t.get("ZeroDivisionError") == Some(&14)).then_some(t)
    })
    .await;
    assert_eq!(t["KeyError"], 2);
    assert_eq!(t["ValueError"], 1);

    let targets = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
    let targets = targets.as_array().expect("targets");
    assert_eq!(targets.len(), 7, "{targets:#?}");
    let find = |addr: &str| {
        targets
            .iter()
            .find(|t| t["address"] == addr)
            .unwrap_or_else(|| panic!("no target {addr}: {targets:#?}"))
            .clone()
    };
    let h = find(&hang.addr());
    assert_eq!(h["health"], "down");
    assert!(
        h["last_error"]
            .as_str()
            .expect("error")
            .contains("timed out"),
        "{h}"
    );
    let g = find(&garbage.addr());
    assert_eq!(g["health"], "down");
    assert!(
        g["last_error"]
            .as_str()
            .expect("error")
            .contains("invalid JSON"),
        "{g}"
    );
    for (addr, source) in [
        (fixed.addr(), "static".to_string()),
        (
            srv1.addr(),
            "dns:_periskop._tcp.shop.test.internal".to_string(),
        ),
        (by_a.addr(), "dns:single.test.internal".to_string()),
        (filed.addr(), format!("file:{}", sd_file.display())),
    ] {
        let t = find(&addr);
        assert_eq!(t["health"], "up", "{t}");
        assert_eq!(t["source"], source.as_str(), "{t}");
        assert!(t["target_uuid"].is_string(), "{t}");
        assert!(t["last_success"].is_string(), "{t}");
    }
    assert_eq!(find(&filed.addr())["labels"]["zone"], "a");

    // Detail: occurrences newest first with the HTTP context, and the rate series adds up.
    let list = list_json(
        &c,
        &format!("{base}/api/v1/exceptions/services/shop/errors?query=keyerror"),
        &token,
    )
    .await;
    let key_error = list[0]["aggregation_key"]
        .as_str()
        .expect("key")
        .to_string();
    assert_eq!(list.as_array().expect("list").len(), 1);
    let detail = get_json(
        &c,
        &format!("{base}/api/v1/exceptions/services/shop/errors/{key_error}"),
        &token,
    )
    .await;
    assert_eq!(detail["total_count"], 2);
    let occ = detail["occurrences"].as_array().expect("occurrences");
    assert_eq!(occ.len(), 2);
    assert_eq!(occ[0]["http_context"]["request_method"], "POST");
    assert_eq!(
        occ[0]["http_context"]["request_url"],
        "http://svc.internal/reserve/1"
    );
    assert_eq!(
        occ[1]["http_context"]["request_url"],
        "http://svc.internal/reserve/0"
    );
    let rate: u64 = detail["rate"]
        .as_array()
        .expect("rate")
        .iter()
        .map(|p| p["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(rate, 2);

    // The Periskop-compatible routes: same shapes as Periskop's server, behind a token.
    let resp = c
        .get(format!("{base}/services/"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .expect("h")
            .starts_with("Basic")
    );
    let services = get_json(&c, &format!("{base}/services/"), &token).await;
    assert_eq!(services, serde_json::json!(["shop"]));
    let resp = c
        .get(format!("{base}/services/"))
        .basic_auth("periskop-ui", Some(&token))
        .send()
        .await
        .expect("get");
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "Basic auth with the token as password"
    );
    let compat = get_json(&c, &format!("{base}/services/shop/errors/"), &token).await;
    let zde = compat
        .as_array()
        .expect("list")
        .iter()
        .find(|a| {
            a["aggregation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("ZeroDivisionError@"))
        })
        .expect("zero division aggregate")
        .clone();
    assert_eq!(zde["total_count"], 14);
    assert_eq!(zde["severity"], "error");
    assert!(zde["created_at"].is_i64());
    assert!(zde["latest_errors"][0]["timestamp"].is_i64());
    assert_eq!(
        zde["latest_errors"][0]["error"]["class"],
        "ZeroDivisionError"
    );
    let compat_targets = get_json(&c, &format!("{base}/targets/"), &token).await;
    assert_eq!(compat_targets["shop"].as_array().expect("targets").len(), 7);
    assert!(
        compat_targets["shop"]
            .as_array()
            .expect("t")
            .iter()
            .any(|t| t["endpoint"] == format!("http://{}/-/exceptions", fixed.addr()))
    );

    // A restart: the new process counts from zero under a new target_uuid; its count is new.
    let mut fixed = fixed.restart();
    fixed.cmd("record zero 1");
    srv1.cmd("record zero 2");
    eventually("restart and increase counted", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&17)).then_some(())
    })
    .await;

    // Removed from DNS: the target leaves, and what it records afterwards is not counted.
    dns.set_srv("_periskop._tcp.shop", &[("node1", srv1.port)])
        .await;
    eventually("srv2 leaves the targets", || async {
        let t = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        let gone = !t
            .as_array()
            .expect("targets")
            .iter()
            .any(|t| t["address"] == srv2.addr());
        gone.then_some(())
    })
    .await;
    srv2.cmd("record zero 50");
    fixed.cmd("record zero 1");
    // Once fixed's new error is counted, srv2 had several cycles in which it was not scraped.
    eventually("fixed's increase counted", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&18)).then_some(())
    })
    .await;
    let t = totals(&c, &base, &token).await;
    assert_eq!(
        t["ZeroDivisionError"], 18,
        "the removed instance is not scraped"
    );

    // Resolve holds while the count stays, then an increase reopens it as a regression.
    let value_key = list_json(
        &c,
        &format!("{base}/api/v1/exceptions/services/shop/errors?query=valueerror"),
        &token,
    )
    .await[0]["aggregation_key"]
        .as_str()
        .expect("key")
        .to_string();
    let resp = c
        .delete(format!("{base}/services/shop/errors/{value_key}/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let compat = get_json(&c, &format!("{base}/services/shop/errors/"), &token).await;
    assert!(
        !compat
            .as_array()
            .expect("list")
            .iter()
            .any(|a| a["aggregation_key"] == value_key.as_str()),
        "resolved keys leave the Periskop list"
    );
    let detail_url = format!("{base}/api/v1/exceptions/services/shop/errors/{value_key}");
    // Several scrapes later it is still resolved (the count did not change).
    fixed.cmd("record zero 1");
    eventually("another cycle", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&19)).then_some(())
    })
    .await;
    let d = get_json(&c, &detail_url, &token).await;
    assert_eq!(d["status"], "resolved");
    assert_eq!(d["regression"], false);
    by_a.cmd("record value 1");
    let d = eventually("regression", || async {
        let d = get_json(&c, &detail_url, &token).await;
        (d["status"] == "open").then_some(d)
    })
    .await;
    assert_eq!(d["regression"], true);
    assert_eq!(d["total_count"], 2);

    // Panoptes' own errors in Periskop format: the failing scrapes are there.
    let own: Value = c
        .get(format!("{base}/-/exceptions"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let scrape_errors: u64 = own["aggregated_errors"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|a| {
            a["aggregation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("ScrapeError@"))
        })
        .map(|a| a["total_count"].as_u64().expect("count"))
        .sum();
    assert!(scrape_errors >= 2, "{own}");
    assert!(own["target_uuid"].is_string());

    let metrics = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(&format!(
            "panoptes_periskop_target_up{{service=\"shop\",target=\"{}\"}} 0",
            hang.addr()
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "panoptes_periskop_target_up{{service=\"shop\",target=\"{}\"}} 1",
        fixed.addr()
    )));
    drop(server);
}
