//! ICMP echo through an unprivileged datagram ICMP socket (Linux `ping_group_range`), so
//! Panoptes needs neither root nor CAP_NET_RAW. Where the kernel forbids it, start-up says so.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::Outcome;
use crate::probe::condition::Observation;
use crate::probe::config::IcmpCheck;

fn open(v6: bool) -> std::io::Result<Socket> {
    if v6 {
        Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::ICMPV6))
    } else {
        Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4))
    }
}

/// Checked at start-up when any ICMP monitor is configured.
pub fn available() -> Result<(), String> {
    open(false).map(drop).map_err(|e| {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into());
        format!(
            "ICMP monitors need unprivileged ICMP sockets, which this kernel refuses ({e}; net.ipv4.ping_group_range is \"{range}\"). Allow them with: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\""
        )
    })
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum = sum.wrapping_add(u32::from(word));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ping(ip: IpAddr, timeout: Duration) -> Result<(), String> {
    let v6 = ip.is_ipv6();
    let sock = open(v6).map_err(|e| format!("icmp socket: {e}"))?;
    let (request, reply) = if v6 { (128u8, 129u8) } else { (8u8, 0u8) };
    let seq: u16 = rand::random();
    let mut packet = vec![request, 0, 0, 0, 0, 0];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(b"panoptes-echo-00");
    if !v6 {
        // The kernel fills in the ICMPv6 checksum itself, not the ICMPv4 one.
        let c = checksum(&packet);
        packet[2..4].copy_from_slice(&c.to_be_bytes());
    }
    let udp: std::net::UdpSocket = sock.into();
    let deadline = Instant::now() + timeout;
    udp.send_to(&packet, SocketAddr::new(ip, 0))
        .map_err(|e| format!("send echo to {ip}: {e}"))?;
    let mut buf = [0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no echo reply from {ip}"));
        }
        udp.set_read_timeout(Some(left))
            .map_err(|e| format!("icmp socket: {e}"))?;
        match udp.recv_from(&mut buf) {
            Ok((n, _)) if n >= 8 && buf[0] == reply && buf[6..8] == seq.to_be_bytes() => {
                return Ok(());
            }
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("no echo reply from {ip}"));
            }
            Err(e) => return Err(format!("receive from {ip}: {e}")),
        }
    }
}

pub async fn check(i: &IcmpCheck, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let ip = match i.host.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match tokio::net::lookup_host((i.host.as_str(), 0)).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => a.ip(),
                None => return Outcome::failed(started, format!("{} has no address", i.host)),
            },
            Err(e) => return Outcome::failed(started, format!("resolve {}: {e}", i.host)),
        },
    };
    let result = tokio::task::spawn_blocking(move || ping(ip, timeout)).await;
    let elapsed = started.elapsed().as_millis() as u64;
    match result {
        Ok(Ok(())) => Outcome {
            obs: Observation {
                response_time_ms: elapsed,
                connected: true,
                ip: Some(ip.to_string()),
                ..Default::default()
            },
            error: None,
        },
        Ok(Err(e)) => {
            let mut o = Outcome::failed(started, e);
            o.obs.ip = Some(ip.to_string());
            o
        }
        Err(e) => Outcome::failed(started, format!("icmp task: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071, section 3: the one's-complement sum of these bytes is 0xddf2.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
    }

    #[test]
    fn checksum_of_a_real_echo_request() {
        // Windows `ping`'s first echo request (id 1, seq 1, its 32-byte alphabet payload),
        // as every capture of it shows: checksum 0x4d5a.
        let mut p = vec![8u8, 0, 0, 0, 0x00, 0x01, 0x00, 0x01];
        p.extend_from_slice(b"abcdefghijklmnopqrstuvwabcdefghi");
        assert_eq!(checksum(&p), 0x4d5a);
        // With the checksum in place the packet sums to zero, which is what the receiver checks.
        p[2..4].copy_from_slice(&0x4d5au16.to_be_bytes());
        assert_eq!(checksum(&p), 0);
    }

    #[test]
    fn an_odd_length_is_padded_with_a_zero_byte() {
        assert_eq!(checksum(&[8, 0, 0, 0, 0, 1, 0, 1, 0xab]), 0x4cfd);
        assert_eq!(
            checksum(&[8, 0, 0, 0, 0, 1, 0, 1, 0xab]),
            checksum(&[8, 0, 0, 0, 0, 1, 0, 1, 0xab, 0])
        );
    }
}
