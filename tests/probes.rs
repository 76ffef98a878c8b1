//! Probing against real servers on 127.0.0.1 (`probes/targets.rs`): HTTP, HTTPS with a
//! self-signed certificate and with a leaf of a private CA, a TCP line server, a DNS server
//! speaking the wire protocol, TLS servers with expired and soon-to-expire certificates, a
//! hanging server, a 10 MB body, and ICMP echo. The real binary runs the checks; everything is
//! asserted through its API.

mod common;
#[path = "probes/remote_write.rs"]
mod remote_write;
#[path = "probes/targets.rs"]
mod targets;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{client, create_token, start};
use serde_json::Value;
use targets::{ca, cert, days, dns_target, http_target, tcp_target, tls_target};

async fn monitors(c: &reqwest::Client, s: &common::Running, token: &str) -> HashMap<String, Value> {
    let v: Value = c
        .get(s.url("/api/v1/monitors?limit=1000"))
        .bearer_auth(token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| (m["name"].as_str().expect("name").to_string(), m.clone()))
        .collect()
}

/// Polls until every named monitor is in its expected state.
async fn wait_for_states(
    c: &reqwest::Client,
    s: &common::Running,
    token: &str,
    want: &[(&str, &str)],
) -> HashMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = monitors(c, s, token).await;
        let wrong: Vec<String> = want
            .iter()
            .filter(|(name, st)| all.get(*name).map(|m| m["state"] != *st).unwrap_or(true))
            .map(|(name, st)| {
                format!(
                    "{name}: want {st}, have {} ({})",
                    all.get(*name)
                        .map(|m| m["state"].to_string())
                        .unwrap_or_default(),
                    all.get(*name)
                        .map(|m| m["last_error"].to_string())
                        .unwrap_or_default()
                )
            })
            .collect();
        if wrong.is_empty() {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "monitors not in expected states:\n{}",
            wrong.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn detail(c: &reqwest::Client, s: &common::Running, token: &str, id: &Value) -> Value {
    c.get(s.url(&format!("/api/v1/monitors/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("detail")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_against_real_servers() {
    let http = http_target().await;
    let https = tls_target(&cert(days(365), None)).await;
    // A leaf signed by a private CA; `ca_file` holds only the CA.
    let private_ca = ca();
    let https_private = tls_target(&cert(days(365), Some(&private_ca))).await;
    let expired = tls_target(&cert(days(-3), None)).await;
    let soon = tls_target(&cert(days(2), None)).await;
    let tcp = tcp_target().await;
    let dns = dns_target().await;
    // Bound but never listening: connections are refused, and no other process can take the
    // port while the test runs (a port bound, dropped and reused could be anyone's by then).
    let closed_socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    closed_socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    let closed = closed_socket
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet");

    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &private_ca.pem).expect("write ca");
    let cfg = dir.path().join("panoptes.yaml");
    let h = format!("http://{http}");
    let hs = format!("https://localhost:{}", https.port());
    let hp = format!("https://localhost:{}", https_private.port());
    std::fs::write(
        &cfg,
        format!(
            r#"
monitors:
  - {{name: http-ok, type: http, url: "{h}/ok", interval: 1s,
      conditions: ["[STATUS] == 200", "[BODY].status == UP", "len([BODY].items) == 2", "[RESPONSE_TIME] < 5000"]}}
  - {{name: http-fail, type: http, url: "{h}/fail", interval: 2s, retries: 1, retry_interval: 1s,
      conditions: ["[STATUS] == 200"]}}
  - {{name: http-hang, type: http, url: "{h}/hang", interval: 2s, timeout: 1s}}
  - {{name: http-big, type: http, url: "{h}/big", interval: 2s, max_body_bytes: 100000,
      conditions: ["[STATUS] == 200", "len([BODY]) == 100000"]}}
  - {{name: https-noverify, type: http, url: "{hs}/", interval: 1s, verify_tls: false,
      conditions: ["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 300d"]}}
  - {{name: https-verify, type: http, url: "{hs}/", interval: 1s}}
  - {{name: https-ca, type: http, url: "{hp}/", interval: 1s, ca_file: "{ca}"}}
  - {{name: https-ca-missing, type: http, url: "{hp}/", interval: 1s}}
  - {{name: tcp-ok, type: tcp, host: 127.0.0.1, port: {tp}, send: ping, expect: PONG, interval: 1s,
      conditions: ["[CONNECTED] == true", "[BODY] == PONG ping"]}}
  - {{name: tcp-closed, type: tcp, host: 127.0.0.1, port: {cp}, interval: 1s}}
  - {{name: tcp-closed-expected, type: tcp, host: 127.0.0.1, port: {cp}, interval: 1s,
      conditions: ["[CONNECTED] == false"]}}
  - {{name: dns-ok, type: dns, query: svc.test, record: A, nameserver: "{dns}", interval: 1s,
      expect: [127.0.0.1, 127.0.0.2], conditions: ["[DNS_RCODE] == NOERROR", "[IP] == 127.0.0.1"]}}
  - {{name: dns-nx, type: dns, query: nope.test, record: A, nameserver: "{dns}", interval: 1s, rcode: NXDOMAIN}}
  - {{name: dns-wrong, type: dns, query: nope.test, record: A, nameserver: "{dns}", interval: 1s}}
  - {{name: tls-expired-verify, type: tls, host: 127.0.0.1, port: {ep}, server_name: localhost, interval: 1s}}
  - {{name: tls-expired, type: tls, host: 127.0.0.1, port: {ep}, server_name: localhost, verify_tls: false,
      interval: 1s, conditions: ["[CERTIFICATE_EXPIRATION] > 0"]}}
  - {{name: tls-soon, type: tls, host: 127.0.0.1, port: {sp}, server_name: localhost, verify_tls: false,
      interval: 1s, conditions: ["[CERTIFICATE_EXPIRATION] > 72h"]}}
  - {{name: tls-soon-ok, type: tls, host: 127.0.0.1, port: {sp}, server_name: localhost, verify_tls: false,
      interval: 1s, conditions: ["[CERTIFICATE_EXPIRATION] > 24h"]}}
  - {{name: cron, type: push, token: cron-secret-1, interval: 1h}}
"#,
            ca = ca.display(),
            tp = tcp.port(),
            cp = closed.port(),
            ep = expired.port(),
            sp = soon.port(),
        ),
    )
    .expect("write config");
    let token = create_token(dir.path(), "t");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();

    // A push arrives like a cron job's would.
    let resp = c
        .post(s.url("/api/v1/push/cron-secret-1?status=up&msg=backup%20done&latency=42"))
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status(), 200);
    let resp = c
        .post(s.url("/api/v1/push/wrong-token"))
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status(), 404);

    let all = wait_for_states(
        &c,
        &s,
        &token,
        &[
            ("http-ok", "UP"),
            ("http-fail", "DOWN"),
            ("http-hang", "DOWN"),
            ("http-big", "UP"),
            ("https-noverify", "UP"),
            ("https-verify", "DOWN"),
            ("https-ca", "UP"),
            ("https-ca-missing", "DOWN"),
            ("tcp-ok", "UP"),
            ("tcp-closed", "DOWN"),
            ("tcp-closed-expected", "UP"),
            ("dns-ok", "UP"),
            ("dns-nx", "UP"),
            ("dns-wrong", "DOWN"),
            ("tls-expired-verify", "DOWN"),
            ("tls-expired", "DOWN"),
            ("tls-soon", "DOWN"),
            ("tls-soon-ok", "UP"),
            ("cron", "UP"),
        ],
    )
    .await;

    // Each condition is shown with the value actually seen.
    let fail = detail(&c, &s, &token, &all["http-fail"]["id"]).await;
    assert_eq!(
        fail["conditions"][0]["seen"], "[STATUS] (503) == 200",
        "{fail}"
    );
    assert_eq!(fail["conditions"][0]["ok"], false);
    assert_eq!(fail["last_status"], 503);
    let hang = &all["http-hang"];
    assert!(
        hang["last_error"]
            .as_str()
            .expect("error")
            .contains("timed out after 1s"),
        "{hang}"
    );
    let soon_d = detail(&c, &s, &token, &all["tls-soon"]["id"]).await;
    let seen = soon_d["conditions"][0]["seen"].as_str().expect("seen");
    assert!(seen.starts_with("[CERTIFICATE_EXPIRATION] ("), "{seen}");
    let days_left = all["tls-soon"]["certificate_days_left"]
        .as_f64()
        .expect("days");
    assert!((1.9..=2.0).contains(&days_left), "{days_left}");
    let exp_days = all["tls-expired"]["certificate_days_left"]
        .as_f64()
        .expect("days");
    assert!(exp_days < 0.0, "{exp_days}");
    let verify_err = all["https-verify"]["last_error"]
        .as_str()
        .expect("error")
        .to_lowercase();
    assert!(verify_err.contains("certificate"), "{verify_err}");
    // The same server as `https-ca`: refused for its issuer without the CA, accepted with it.
    let missing_err = all["https-ca-missing"]["last_error"]
        .as_str()
        .expect("error")
        .to_lowercase();
    assert!(missing_err.contains("certificate"), "{missing_err}");
    let private = detail(&c, &s, &token, &all["https-ca"]["id"]).await;
    assert_eq!(private["last_error"], Value::Null, "{private}");
    assert_eq!(private["last_status"], 200, "{private}");
    let noverify_days = all["https-noverify"]["certificate_days_left"]
        .as_f64()
        .expect("days");
    assert!(noverify_days > 300.0, "{noverify_days}");
    let dns_d = detail(&c, &s, &token, &all["dns-wrong"]["id"]).await;
    assert_eq!(
        dns_d["conditions"][0]["seen"], "[DNS_RCODE] (NXDOMAIN) == NOERROR",
        "{dns_d}"
    );

    // Raw results are kept with state, latency, status and the failed conditions.
    let id = &all["http-fail"]["id"];
    let results: Value = c
        .get(s.url(&format!("/api/v1/monitors/{id}/results")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("results")
        .json()
        .await
        .expect("json");
    let items = results["items"].as_array().expect("items");
    assert!(items.len() >= 2, "{results}");
    assert_eq!(
        items[0]["state"], "PENDING",
        "first failure has a retry left"
    );
    assert!(items.iter().any(|r| r["state"] == "DOWN"));
    assert!(
        items
            .iter()
            .all(|r| r["status"] == 503 && r["failed_conditions"][0] == "[STATUS] == 200")
    );

    // Roll-ups are there at every resolution, with availability and latency percentiles.
    let id = &all["http-ok"]["id"];
    for res in ["minute", "hour", "day"] {
        let r: Value = c
            .get(s.url(&format!("/api/v1/monitors/{id}/rollups?resolution={res}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("rollups")
            .json()
            .await
            .expect("json");
        let last = r["items"]
            .as_array()
            .expect("items")
            .last()
            .cloned()
            .expect("a bucket");
        assert!(last["up"].as_u64().expect("up") >= 1, "{res}: {last}");
        assert_eq!(last["availability"], 1.0, "{res}: {last}");
        assert!(
            last["latency_ms"]["p99"].as_f64().is_some(),
            "{res}: {last}"
        );
        assert!(
            last["apdex"].as_f64().expect("apdex") > 0.9,
            "{res}: {last}"
        );
    }
    assert_eq!(all["http-ok"]["uptime"]["24h"], 1.0);

    // Filters and pagination.
    let down: Value = c
        .get(s.url("/api/v1/monitors?state=DOWN&limit=2"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(down["items"].as_array().expect("items").len(), 2);
    assert!(
        down["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|m| m["state"] == "DOWN")
    );
    assert!(down["next_cursor"].is_string());

    // Prometheus sees the same.
    let metrics = c
        .get(s.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let up = |m: &str| {
        metric(
            &metrics,
            &format!(r#"panoptes_monitor_up{{monitor="{m}",kind="http"}}"#),
        )
    };
    assert_eq!(up("http-ok"), Some(1.0), "{metrics}");
    assert_eq!(up("http-fail"), Some(0.0), "{metrics}");
    let soon_days = metric(
        &metrics,
        r#"panoptes_monitor_certificate_days_left{monitor="tls-soon",kind="tls"}"#,
    );
    assert!(
        soon_days.is_some_and(|d| (1.9..=2.0).contains(&d)),
        "{metrics}"
    );
    assert!(metrics.contains("panoptes_probe_schedule_lag_seconds_bucket"));
}

/// The value of one series (name with its labels, exactly) in Prometheus text.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

#[tokio::test]
async fn config_reload_adds_and_removes_monitors() {
    let http = http_target().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("p.yaml");
    let one = format!(
        "monitors:\n  - {{name: a, type: http, url: \"http://{http}/ok\", interval: 1s}}\n"
    );
    std::fs::write(&cfg, &one).expect("write");
    let token = create_token(dir.path(), "t");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    let before = wait_for_states(&c, &s, &token, &[("a", "UP")]).await;
    let a_id = before["a"]["id"].clone();
    std::fs::write(
        &cfg,
        format!("monitors:\n  - {{name: b, type: http, url: \"http://{http}/fail\", interval: 1s}}\n  - {{name: a, type: http, url: \"http://{http}/ok\", interval: 1s}}\n"),
    )
    .expect("write");
    s.signal("HUP");
    let after = wait_for_states(&c, &s, &token, &[("a", "UP"), ("b", "DOWN")]).await;
    assert_eq!(after["a"]["id"], a_id, "an unchanged monitor keeps its id");
    std::fs::write(
        &cfg,
        format!(
            "monitors:\n  - {{name: b, type: http, url: \"http://{http}/fail\", interval: 1s}}\n"
        ),
    )
    .expect("write");
    s.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = monitors(&c, &s, &token).await;
        if !all.contains_key("a") {
            assert!(all.contains_key("b"));
            break;
        }
        assert!(Instant::now() < deadline, "monitor a was not removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_default_config_probes_its_own_health_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "t");
    let s = start(dir.path(), &[]);
    let c = client();
    let all = wait_for_states(&c, &s, &token, &[("panoptes", "UP")]).await;
    assert_eq!(
        all["panoptes"]["target"],
        format!("http://{}/healthz", s.addr)
    );
}

/// ICMP echo through an unprivileged ICMP socket. Where the kernel refuses those sockets
/// (`net.ipv4.ping_group_range`; `scripts/setup.sh` opens it when run as root), nothing can be
/// pinged: the test then checks the start-up error and says SKIPPED, instead of passing quietly.
#[tokio::test]
async fn icmp_echo_to_loopback_and_to_nowhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("p.yaml");
    std::fs::write(
        &cfg,
        r#"monitors:
  - {name: loopback, type: icmp, host: 127.0.0.1, interval: 1s,
     conditions: ["[CONNECTED] == true", "[RESPONSE_TIME] < 5000"]}
  - {name: nowhere, type: icmp, host: 255.255.255.255, interval: 2s, timeout: 1s}
"#,
    )
    .expect("write");
    let refused = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::ICMPV4),
    )
    .err();
    if let Some(why) = refused {
        // What `serve` must do then: refuse to start, saying why.
        let out = common::panoptes()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&cfg)
            .arg("--data-dir")
            .arg(dir.path())
            .env("PANOPTES_LOG", "off")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("ping_group_range"), "{stderr}");
        let range =
            std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
        // Straight to the process's stderr: libtest hides what a passing test prints with
        // `eprintln!`, and this must be seen in `make test`'s output.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: icmp_echo_to_loopback_and_to_nowhere: the kernel refuses unprivileged ICMP sockets ({why}; net.ipv4.ping_group_range is {:?}), so no echo was checked. Allow them with: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"",
            range.trim()
        );
        return;
    }
    let token = create_token(dir.path(), "t");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    let all = wait_for_states(&c, &s, &token, &[("loopback", "UP"), ("nowhere", "DOWN")]).await;
    let lo = detail(&c, &s, &token, &all["loopback"]["id"]).await;
    assert_eq!(
        lo["conditions"][0]["seen"], "[CONNECTED] (true) == true",
        "{lo}"
    );
    // The timeout (the 1 s interval) bounds the latency, so this condition can only fail if
    // the result is not a real measurement.
    let latency = lo["conditions"][1]["seen"].as_str().expect("seen");
    assert!(latency.starts_with("[RESPONSE_TIME] ("), "{lo}");
    assert_eq!(lo["conditions"][1]["ok"], true, "{lo}");
    assert_eq!(lo["last_error"], Value::Null, "{lo}");
    // The broadcast address: the kernel refuses the echo (no SO_BROADCAST), so the check
    // fails. (An unrouted address is no negative here: some networks, sandboxes among them,
    // answer echo requests for any address.)
    let nowhere = all["nowhere"]["last_error"].as_str().expect("error");
    assert!(nowhere.contains("255.255.255.255"), "{nowhere}");
    let results: Value = c
        .get(s.url(&format!(
            "/api/v1/monitors/{}/results",
            all["loopback"]["id"]
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("results")
        .json()
        .await
        .expect("json");
    let items = results["items"].as_array().expect("items");
    assert!(!items.is_empty(), "{results}");
    assert!(items.iter().all(|r| r["state"] == "UP"), "{results}");
}
