//! DNS: one query over UDP to the configured (or system) nameserver, built and parsed with
//! hickory-proto, so the raw response code is visible ([DNS_RCODE]) and answers become [BODY].

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

use super::Outcome;
use crate::probe::condition::Observation;
use crate::probe::config::{DnsCheck, Nameserver, RCODES};

fn record_type(s: &str) -> Option<RecordType> {
    RecordType::from_str(&s.to_ascii_uppercase()).ok()
}

/// `ip` or `ip:port` (port 53 by default); IPv6 as `[::1]:53` or bare `::1`.
fn parse_nameserver(s: &str) -> Option<SocketAddr> {
    Nameserver::parse(s).map(|n| n.0)
}

fn rcode_name(rc: ResponseCode) -> String {
    let code = u16::from(rc);
    RCODES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| format!("RCODE{code}"))
}

/// The first nameserver in /etc/resolv.conf.
fn system_nameserver() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .find_map(|rest| parse_nameserver(rest.trim()))
}

pub async fn check(d: &DnsCheck, timeout: Duration, source: Option<std::net::IpAddr>) -> Outcome {
    let started = Instant::now();
    let Some(rtype) = record_type(&d.record.0) else {
        return Outcome::failed(started, format!("unknown record type {}", d.record.0));
    };
    let server = match d.nameserver {
        Some(ns) => Some(ns.0),
        None => system_nameserver(),
    };
    let Some(server) = server else {
        return Outcome::failed(
            started,
            "no nameserver configured and none in /etc/resolv.conf",
        );
    };
    let name = match Name::from_utf8(&d.query) {
        Ok(n) => n,
        Err(e) => return Outcome::failed(started, format!("bad query name `{}`: {e}", d.query)),
    };
    let id: u16 = rand::random();
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name, rtype));
    let bytes = match msg.to_vec() {
        Ok(b) => b,
        Err(e) => return Outcome::failed(started, format!("encoding query: {e}")),
    };
    // From `probing.source_address` when set: a query must leave from the same address as
    // the other checks of this location, or a resolver's view (split horizon, ACLs) differs.
    let bind: SocketAddr = match source {
        Some(ip) if ip.is_ipv4() == server.is_ipv4() => (ip, 0).into(),
        Some(ip) => {
            return Outcome::failed(
                started,
                format!("nameserver {server} is not of the source address {ip}'s family"),
            );
        }
        None if server.is_ipv4() => ([0, 0, 0, 0], 0).into(),
        None => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => return Outcome::failed(started, format!("udp socket: {e}")),
    };
    if let Err(e) = sock.connect(server).await {
        return Outcome::failed(started, format!("nameserver {server}: {e}"));
    }
    if let Err(e) = sock.send(&bytes).await {
        return Outcome::failed(started, format!("send to {server}: {e}"));
    }
    let mut buf = vec![0u8; 4096];
    // Stray datagrams (wrong id) are ignored until the timeout the caller enforces.
    let reply = loop {
        let n = match tokio::time::timeout(timeout, sock.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Outcome::failed(started, format!("receive from {server}: {e}")),
            Err(_) => return Outcome::failed(started, format!("no answer from {server}")),
        };
        match Message::from_vec(&buf[..n]) {
            Ok(m) if m.metadata.id == id && m.metadata.message_type == MessageType::Response => {
                break m;
            }
            _ => continue,
        }
    };
    let answers: Vec<String> = reply
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype)
        .map(|r| match &r.data {
            RData::A(a) => a.to_string(),
            RData::AAAA(a) => a.to_string(),
            other => other.to_string(),
        })
        .collect();
    let ip = reply.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.to_string()),
        RData::AAAA(a) => Some(a.to_string()),
        _ => None,
    });
    let missing: Vec<&String> = d
        .expect
        .iter()
        .filter(|want| {
            !answers
                .iter()
                .any(|a| a.trim_end_matches('.') == want.trim_end_matches('.'))
        })
        .collect();
    let error = (!missing.is_empty()).then(|| {
        format!(
            "expected answers missing: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    Outcome {
        obs: Observation {
            response_time_ms: started.elapsed().as_millis() as u64,
            body: Some(answers.join("\n")),
            dns_rcode: Some(rcode_name(reply.metadata.response_code)),
            connected: true,
            ip,
            ..Default::default()
        },
        error,
    }
}
