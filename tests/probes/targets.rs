//! The servers `tests/probes.rs` probes, all on 127.0.0.1, and the certificates they present.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::rustls;

pub async fn http_target() -> SocketAddr {
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

pub struct Cert {
    der: Vec<u8>,
    key_der: Vec<u8>,
}

/// A private certificate authority: what a `ca_file` holds, and what signs the leaves.
pub struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pub pem: String,
}

pub fn ca() -> Ca {
    let key = rcgen::KeyPair::generate().expect("ca key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Panoptes test CA");
    let pem = params.self_signed(&key).expect("ca cert").pem();
    Ca { params, key, pem }
}

/// A certificate for `localhost` expiring exactly `valid_for` from now (negative: expired),
/// signed by `ca`, or self-signed without one.
pub fn cert(valid_for: jiff::SignedDuration, ca: Option<&Ca>) -> Cert {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    // rcgen takes a date; the seconds since midnight are added, so the expiry is to the second
    // (a date alone is up to a day early, which made "expires in more than 24h" a coin toss
    // near UTC midnight).
    let at = |t: jiff::Timestamp| {
        let z = t.to_zoned(jiff::tz::TimeZone::UTC);
        let (d, time) = (z.date(), z.time());
        let secs = u64::from(time.hour() as u8) * 3600
            + u64::from(time.minute() as u8) * 60
            + u64::from(time.second() as u8);
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
            + Duration::from_secs(secs)
    };
    let now = jiff::Timestamp::now();
    params.not_before = at(now - jiff::SignedDuration::from_hours(24 * 400));
    params.not_after = at(now + valid_for);
    let key = rcgen::KeyPair::generate().expect("key");
    let c = match ca {
        Some(ca) => params
            .signed_by(&key, &rcgen::Issuer::from_params(&ca.params, &ca.key))
            .expect("sign"),
        None => params.self_signed(&key).expect("sign"),
    };
    Cert {
        der: c.der().to_vec(),
        key_der: key.serialize_der(),
    }
}

pub fn days(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_hours(24 * n)
}

/// A TLS server answering every request with a fixed HTTP/1.1 200.
pub async fn tls_target(c: &Cert) -> SocketAddr {
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
pub async fn tcp_target() -> SocketAddr {
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
pub async fn dns_target() -> SocketAddr {
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
