//! Probing against real servers on 127.0.0.1: HTTP, HTTPS with a self-signed certificate, a TCP
//! line server, a DNS server speaking the wire protocol, TLS servers with expired and
//! soon-to-expire certificates, a hanging server and a 10 MB body. The real binary runs the
//! checks; everything is asserted through its API.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::{client, create_token, start};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::rustls;

async fn http_target() -> SocketAddr {
    let app = Router::new()
        .route(
            "/ok",
            get(|| async { axum::Json(serde_json::json!({"status": "UP", "items": [1, 2]})) }),
        )
        .route(
            "/fail",
            get(|| async {
                (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "down for repairs",
                )
            }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
        .route(
            "/big",
            get(|| async {
                let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
                let stream = futures_util::stream::iter(
                    (0..160).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
                );
                axum::body::Body::from_stream(stream)
            }),
        );
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    addr
}

struct Cert {
    der: Vec<u8>,
    key_der: Vec<u8>,
    pem: String,
}

fn cert(days_left: i64) -> Cert {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    let to_ymd = |t: jiff::Timestamp| {
        let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };
    let now = jiff::Timestamp::now();
    params.not_before = to_ymd(now - jiff::SignedDuration::from_hours(24 * 400));
    params.not_after = to_ymd(now + jiff::SignedDuration::from_hours(24 * days_left));
    let key = rcgen::KeyPair::generate().expect("key");
    let c = params.self_signed(&key).expect("sign");
    Cert {
        der: c.der().to_vec(),
        key_der: key.serialize_der(),
        pem: c.pem(),
    }
}

/// A TLS server answering every request with a fixed HTTP/1.1 200.
async fn tls_target(c: &Cert) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![c.der.clone().into()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(c.key_der.clone().into()),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

/// Reads a line, answers `PONG <line>`.
async fn tcp_target() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut line = String::new();
                if BufReader::new(r).read_line(&mut line).await.is_ok() {
                    let _ = w
                        .write_all(format!("PONG {}\n", line.trim()).as_bytes())
                        .await;
                }
            });
        }
    });
    addr
}

/// A DNS server on UDP: `svc.test.` has A 127.0.0.1 and 127.0.0.2; every other name is NXDOMAIN.
async fn dns_target() -> SocketAddr {
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::{Name, RData, Record, RecordType, rdata::A};
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = sock.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut resp = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
            resp.metadata.recursion_desired = q.metadata.recursion_desired;
            for query in &q.queries {
                resp.add_query(query.clone());
                let name = query.name().to_ascii();
                if name == "svc.test." && query.query_type() == RecordType::A {
                    for ip in [[127, 0, 0, 1], [127, 0, 0, 2]] {
                        resp.answers.push(Record::from_rdata(
                            Name::from_ascii("svc.test.").expect("name"),
                            60,
                            RData::A(A::from(std::net::Ipv4Addr::from(ip))),
                        ));
                    }
                } else if name != "svc.test." {
                    resp.metadata.response_code = ResponseCode::NXDomain;
                }
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = sock.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

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
    let selfsigned = cert(365);
    let https = tls_target(&selfsigned).await;
    let expired = tls_target(&cert(-3)).await;
    let soon = tls_target(&cert(2)).await;
    let tcp = tcp_target().await;
    let dns = dns_target().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    }; // dropped: nothing listens there now

    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &selfsigned.pem).expect("write ca");
    let cfg = dir.path().join("panoptes.yaml");
    let h = format!("http://{http}");
    let hs = format!("https://localhost:{}", https.port());
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
  - {{name: https-ca, type: http, url: "{hs}/", interval: 1s, ca_file: "{ca}"}}
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
    let days = all["tls-soon"]["certificate_days_left"]
        .as_f64()
        .expect("days");
    assert!((0.5..=2.5).contains(&days), "{days}");
    let exp_days = all["tls-expired"]["certificate_days_left"]
        .as_f64()
        .expect("days");
    assert!(exp_days < 0.0, "{exp_days}");
    let verify_err = all["https-verify"]["last_error"]
        .as_str()
        .expect("error")
        .to_lowercase();
    assert!(verify_err.contains("certificate"), "{verify_err}");
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
    assert!(
        metrics.contains(r#"panoptes_monitor_up{monitor="http-ok",kind="http"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"panoptes_monitor_up{monitor="http-fail",kind="http"} 0"#));
    assert!(
        metrics
            .contains(r#"panoptes_monitor_certificate_days_left{monitor="tls-soon",kind="tls"}"#)
    );
    assert!(metrics.contains("panoptes_probe_schedule_lag_seconds_bucket"));
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

#[tokio::test]
async fn icmp_echo_or_a_clear_start_up_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("p.yaml");
    std::fs::write(
        &cfg,
        "monitors:\n  - {name: loopback, type: icmp, host: 127.0.0.1, interval: 1s}\n",
    )
    .expect("write");
    let allowed = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::ICMPV4),
    )
    .is_ok();
    if allowed {
        let token = create_token(dir.path(), "t");
        let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
        wait_for_states(&client(), &s, &token, &[("loopback", "UP")]).await;
    } else {
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
    }
}
