//! Credentials and headers sent to targets, bounded bodies, and https against a private CA.

use super::*;

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/periskop/python-client-0.2.0.json"
));

/// An HTTP target on 127.0.0.1 that serves the captured python-client export only to requests
/// carrying `want` as Authorization (and `X-Scraper: panoptes` when `header` is set).
async fn guarded_target(want: &'static str, header: bool) -> SocketAddr {
    use axum::http::HeaderMap;
    let app = axum::Router::new().route(
        "/-/exceptions",
        axum::routing::get(move |h: HeaderMap| async move {
            let auth_ok = h.get("authorization").and_then(|v| v.to_str().ok()) == Some(want);
            let header_ok =
                !header || h.get("x-scraper").and_then(|v| v.to_str().ok()) == Some("panoptes");
            if auth_ok && header_ok {
                (axum::http::StatusCode::OK, FIXTURE.to_string())
            } else {
                (axum::http::StatusCode::UNAUTHORIZED, String::new())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A target whose export is larger than `periskop.max_body_bytes`.
async fn huge_target() -> SocketAddr {
    let app = axum::Router::new().route(
        "/-/exceptions",
        axum::routing::get(|| async { " ".repeat(2 * 1024 * 1024) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_send_credentials_and_headers_and_bodies_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let bearer = guarded_target("Bearer scrape-secret", true).await;
    // base64("scraper:pw")
    let basic = guarded_target("Basic c2NyYXBlcjpwdw==", false).await;
    let huge = huge_target().await;
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
periskop:
  max_body_bytes: 1048576
services:
  - name: shop
    static_configs: [{{targets: ["{bearer}", "{huge}"]}}]
    scraper: {{refresh_interval: 200ms, timeout: 2s}}
    bearer_token: scrape-secret
    headers: {{X-Scraper: panoptes}}
  - name: billing
    static_configs: [{{targets: ["{basic}"]}}]
    scraper: {{refresh_interval: 200ms, timeout: 2s}}
    basic_auth: {{username: scraper, password: pw}}
"#
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let c = client();
    // The captured export's counts: 7 ZeroDivisionError, 3 KeyError, 1 RuntimeError.
    let t = eventually("the guarded target's export", || async {
        let t = totals(&c, &base, &token).await;
        (t.len() == 3).then_some(t)
    })
    .await;
    assert_eq!(t["ZeroDivisionError"], 7);
    assert_eq!(t["KeyError"], 3);
    assert_eq!(t["RuntimeError"], 1);
    let targets = eventually("the huge target is down", || async {
        let v = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        // All three targets listed (each service's list appears after its discovery) and judged.
        let list = v.as_array().expect("targets");
        let done = [bearer, basic, huge]
            .iter()
            .all(|a| list.iter().any(|t| t["address"] == a.to_string()))
            && list.iter().all(|t| t["health"] != "unknown");
        done.then_some(v)
    })
    .await;
    let by_addr = |a: &SocketAddr| {
        targets
            .as_array()
            .expect("targets")
            .iter()
            .find(|t| t["address"] == a.to_string())
            .expect("target")
            .clone()
    };
    assert_eq!(by_addr(&bearer)["health"], "up");
    assert_eq!(by_addr(&basic)["health"], "up", "{targets}");
    let h = by_addr(&huge);
    assert_eq!(h["health"], "down");
    assert!(
        h["last_error"]
            .as_str()
            .expect("error")
            .contains("larger than 1048576 bytes"),
        "{h}"
    );
    drop(server);
}

async fn tls_target() -> (SocketAddr, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;
    panoptes::outbound::install_crypto_provider();
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &rcgen::Issuer::from_params(&ca_params, &ca_key))
        .expect("leaf cert");
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivatePkcs8KeyDer::from(leaf_key.serialize_der()).into(),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 65_536 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{FIXTURE}",
                    FIXTURE.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, ca_cert.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_are_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let (target, ca_pem) = tls_target().await;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("write ca");
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
services:
  - name: shop
    scheme: https
    tls_config: {{ca_file: "{ca}", ca_only: true}}
    static_configs: [{{targets: ["{target}"]}}]
    scraper: {{refresh_interval: 200ms, timeout: 2s}}
  - name: untrusted
    scheme: https
    static_configs: [{{targets: ["{target}"]}}]
    scraper: {{refresh_interval: 200ms, timeout: 2s}}
"#,
            ca = ca_file.display()
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let c = client();
    let t = eventually("the https export", || async {
        let t = totals(&c, &base, &token).await;
        (t.len() == 3).then_some(t)
    })
    .await;
    assert_eq!(t["ZeroDivisionError"], 7);
    let targets = eventually("both scraped", || async {
        let v = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        // Both services must be listed (the second one's target appears only once its
        // discovery ran) and every listed target judged; reading earlier found no "untrusted".
        let list = v.as_array().expect("targets");
        let listed = |svc: &str| list.iter().any(|t| t["service"] == svc);
        let done =
            listed("shop") && listed("untrusted") && list.iter().all(|t| t["health"] != "unknown");
        done.then_some(v)
    })
    .await;
    let of = |svc: &str| {
        targets
            .as_array()
            .expect("targets")
            .iter()
            .find(|t| t["service"] == svc)
            .expect("target")
            .clone()
    };
    assert_eq!(of("shop")["health"], "up");
    assert_eq!(of("shop")["url"], format!("https://{target}/-/exceptions"));
    let u = of("untrusted");
    assert_eq!(
        u["health"], "down",
        "a certificate from an unknown CA is refused"
    );
    assert!(
        u["last_error"]
            .as_str()
            .expect("error")
            .to_lowercase()
            .contains("certificate"),
        "{u}"
    );
    drop(server);
}
