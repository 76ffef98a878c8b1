//! Exception scraping over a reload and a broken resolver: a removed service's series go, a
//! failed discovery says so on its service, pushes that do not parse stay bounded.

use super::*;

fn has_service(metrics: &str, name: &str) -> bool {
    let label = format!("service=\"{name}\"");
    metrics
        .lines()
        .any(|l| l.starts_with("panoptes_periskop_") && l.contains(&label))
}

/// A service removed by a reload loses its `panoptes_periskop_target_up` and scrape-count series
/// and its target health; they used to stay, frozen, until a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_removed_by_a_reload_leaves_no_series_behind() {
    let s = Server::start(
        r#"
services:
  - name: gone
    static_configs: [{targets: ["127.0.0.1:1"]}]
    scraper: {refresh_interval: 100ms, timeout: 1s}
  - name: kept
    static_configs: [{targets: ["127.0.0.1:2"]}]
    scraper: {refresh_interval: 100ms, timeout: 1s}
"#,
    );
    eventually("series of both services", || async {
        let m = s.metrics().await;
        (has_service(&m, "gone") && has_service(&m, "kept")).then_some(())
    })
    .await;
    std::fs::write(
        s.dir.path().join("panoptes.yaml"),
        r#"
services:
  - name: kept
    static_configs: [{targets: ["127.0.0.1:2"]}]
    scraper: {refresh_interval: 100ms, timeout: 1s}
"#,
    )
    .expect("rewrite config");
    s.run.signal("HUP");
    eventually("the removed service's series to go", || async {
        let m = s.metrics().await;
        (!has_service(&m, "gone") && has_service(&m, "kept")).then_some(())
    })
    .await;
    let targets = s.json("/api/v1/exceptions/targets").await;
    let services: Vec<&str> = targets["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["service"].as_str())
        .collect();
    assert!(!services.contains(&"gone"), "{targets}");
}

/// A DNS discovery that fails keeps the previous targets and says why on its service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_discovery_shows_on_its_service() {
    // Answers every query with SERVFAIL at once.
    let dns = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ns = dns.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = dns.recv_from(&mut buf).await {
            if n < 12 {
                continue;
            }
            let mut reply = buf[..n].to_vec();
            reply[2] = 0x80 | (buf[2] & 0x79); // QR, same opcode and RD
            reply[3] = 0x82; // RA, SERVFAIL
            let _ = dns.send_to(&reply, from).await;
        }
    });
    let s = Server::start(&format!(
        r#"
services:
  - name: inventory
    dns_sd_configs: [{{names: [_periskop._tcp.inventory.test], nameserver: "{ns}", refresh_interval: 1s}}]
"#
    ));
    let error = eventually("the service's last_error", || async {
        let v = s.json("/api/v1/exceptions/services").await;
        v["items"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == "inventory")?["last_error"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(error.starts_with("dns_sd_configs[0]: "), "{error}");
    assert!(
        error.contains("keeping the 0 previous target(s)"),
        "{error}"
    );
}
