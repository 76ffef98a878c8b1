//! `probing.source_address` reaches DNS and TLS checks: the server side sees the query and the
//! connection come from the bound address (127.0.0.2, a loopback address that is not the
//! default 127.0.0.1).

use std::net::IpAddr;
use std::time::Duration;

use crate::config::shared::Nameserver;
use crate::probe::config::{DnsCheck, DnsRecord, TlsCheck};

const SOURCE: [u8; 4] = [127, 0, 0, 2];

#[tokio::test]
async fn dns_queries_leave_from_the_source_address() {
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let addr = server.local_addr().expect("addr");
    let check = DnsCheck {
        query: "example.com".into(),
        record: DnsRecord("A".into()),
        nameserver: Some(Nameserver(addr)),
        expect: Vec::new(),
        rcode: None,
    };
    let run = tokio::spawn(async move {
        super::dns::check(&check, Duration::from_secs(2), Some(IpAddr::from(SOURCE))).await
    });
    let mut buf = [0u8; 512];
    let (_, from) = server.recv_from(&mut buf).await.expect("a query");
    assert_eq!(from.ip(), IpAddr::from(SOURCE));
    run.abort();

    // A nameserver of the other family cannot be reached from it: said so, not tried.
    let v6 = DnsCheck {
        query: "example.com".into(),
        record: DnsRecord("A".into()),
        nameserver: Some(Nameserver("[::1]:53".parse().expect("addr"))),
        expect: Vec::new(),
        rcode: None,
    };
    let out = super::dns::check(&v6, Duration::from_secs(1), Some(IpAddr::from(SOURCE))).await;
    assert!(
        out.error.as_deref().is_some_and(|e| e.contains("family")),
        "{:?}",
        out.error
    );
}

#[tokio::test]
async fn tls_checks_connect_from_the_source_address() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("tcp");
    let port = l.local_addr().expect("addr").port();
    let check = TlsCheck {
        host: "127.0.0.1".into(),
        port,
        server_name: Some("localhost".into()),
        verify_tls: false,
        ca_file: None,
    };
    let run =
        tokio::spawn(async move { super::tls::check(&check, Some(IpAddr::from(SOURCE))).await });
    let (sock, peer) = l.accept().await.expect("a connection");
    assert_eq!(peer.ip(), IpAddr::from(SOURCE));
    // No handshake from this side: the check fails, having connected from the source.
    drop(sock);
    let out = run.await.expect("check");
    assert!(out.error.is_some());
}
