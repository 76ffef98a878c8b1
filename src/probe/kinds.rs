//! The check types' own config sections (`type: http`, `tcp`, `dns`, `tls`, `icmp`, `push`) and
//! the check kind a monitor decodes to; `config.rs` holds the fields every monitor shares and
//! the checks across them, and re-exports these.

use std::path::PathBuf;

use crate::config::Duration;
use crate::config::decode::{Decode, Decoder};
use crate::config::shared::{BasicAuth, Headers, Nameserver};
use crate::config::yaml::Node;

use super::condition::Placeholder;

crate::config_section! {
    pub struct HttpCheck {
        /// `http://` or `https://` URL.
        pub url: String,
        pub method: String = "GET".to_string(),
        pub headers: Headers = Headers::default(),
        pub body: Option<String> = None,
        pub basic_auth: Option<BasicAuth> = None,
        pub bearer_token: Option<String> = None,
        pub follow_redirects: bool = true,
        /// Verify the server's certificate chain and name.
        pub verify_tls: bool = true,
        /// Extra PEM CA certificate(s) to trust.
        pub ca_file: Option<PathBuf> = None,
        /// Read at most this much of the body (conditions see the prefix).
        pub max_body_bytes: u64 = 1024 * 1024,
    }
}

crate::config_section! {
    pub struct TcpCheck {
        pub host: String,
        pub port: u16,
        /// A line to send after connecting.
        pub send: Option<String> = None,
        /// Text the first line received must contain (exposed as [BODY]).
        pub expect: Option<String> = None,
    }
}

/// Record types a DNS monitor can ask for.
pub const DNS_RECORDS: &[&str] = &[
    "A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "PTR", "CAA",
];

/// A record type, upper-case, one of [`DNS_RECORDS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord(pub String);

impl Decode for DnsRecord {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "a record type (A, AAAA, CNAME, MX, NS, TXT, SOA, SRV, PTR, CAA)",
            |s| {
                let upper = s.to_ascii_uppercase();
                DNS_RECORDS
                    .contains(&upper.as_str())
                    .then_some(DnsRecord(upper))
                    .ok_or_else(String::new)
            },
        )
    }
}

/// DNS response codes by name.
pub const RCODES: &[(&str, u16)] = &[
    ("NOERROR", 0),
    ("FORMERR", 1),
    ("SERVFAIL", 2),
    ("NXDOMAIN", 3),
    ("NOTIMP", 4),
    ("REFUSED", 5),
];

/// An expected response code (upper-case name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rcode(pub String);

impl Decode for Rcode {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "a response code (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED)",
            |s| {
                RCODES
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(s))
                    .map(|(n, _)| Rcode(n.to_string()))
                    .ok_or_else(String::new)
            },
        )
    }
}

crate::config_section! {
    pub struct DnsCheck {
        /// The name to resolve.
        pub query: String,
        /// A, AAAA, CNAME, MX, NS, TXT, SOA, SRV, PTR, CAA.
        pub record: DnsRecord = DnsRecord("A".to_string()),
        /// `ip` or `ip:port`; defaults to the first nameserver in /etc/resolv.conf.
        pub nameserver: Option<Nameserver> = None,
        /// Answers that must all be present (e.g. addresses).
        pub expect: Vec<String> = Vec::new(),
        /// Expected response code; shorthand for a `[DNS_RCODE] == ...` condition.
        pub rcode: Option<Rcode> = None,
    }
}

crate::config_section! {
    pub struct TlsCheck {
        pub host: String,
        pub port: u16 = 443,
        /// SNI name and name to verify; defaults to host.
        pub server_name: Option<String> = None,
        pub verify_tls: bool = true,
        pub ca_file: Option<PathBuf> = None,
    }
}

crate::config_section! {
    pub struct IcmpCheck {
        pub host: String,
    }
}

crate::config_section! {
    pub struct PushCheck {
        /// Secret in the push URL: POST /api/v1/push/{token}.
        pub token: String,
        /// Extra time after the interval before a missing push means DOWN.
        pub grace: Duration = Duration::secs(30),
        /// Sentry projects whose cron check-ins (`monitor_slug` = this monitor's name) count as
        /// heartbeats. None by default: a DSN key is public, so check-ins are opt-in per project.
        pub check_in_projects: Vec<u64> = Vec::new(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    Http(HttpCheck),
    Tcp(TcpCheck),
    Dns(DnsCheck),
    Tls(TlsCheck),
    Icmp(IcmpCheck),
    Push(PushCheck),
}

impl CheckKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::Http(_) => "http",
            CheckKind::Tcp(_) => "tcp",
            CheckKind::Dns(_) => "dns",
            CheckKind::Tls(_) => "tls",
            CheckKind::Icmp(_) => "icmp",
            CheckKind::Push(_) => "push",
        }
    }

    /// What the check targets, for display and per-host concurrency.
    pub fn target(&self) -> String {
        match self {
            CheckKind::Http(h) => h.url.clone(),
            CheckKind::Tcp(t) => format!("{}:{}", t.host, t.port),
            CheckKind::Dns(d) => format!(
                "{} {} @{}",
                d.record.0,
                d.query,
                d.nameserver
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "system".into())
            ),
            CheckKind::Tls(t) => format!("{}:{}", t.host, t.port),
            CheckKind::Icmp(i) => i.host.clone(),
            CheckKind::Push(_) => "push".into(),
        }
    }

    /// The host part, the key for per-host concurrency limits.
    pub fn host(&self) -> String {
        match self {
            CheckKind::Http(h) => url_host(&h.url).unwrap_or_default(),
            CheckKind::Tcp(t) => t.host.clone(),
            CheckKind::Dns(d) => d
                .nameserver
                .map(|n| n.to_string())
                .unwrap_or_else(|| "system-dns".into()),
            CheckKind::Tls(t) => t.host.clone(),
            CheckKind::Icmp(i) => i.host.clone(),
            CheckKind::Push(_) => String::new(),
        }
    }

    pub(super) fn placeholders(&self) -> &'static [Placeholder] {
        use Placeholder::*;
        match self {
            CheckKind::Http(_) => &[
                Status,
                ResponseTime,
                Body,
                CertificateExpiration,
                Connected,
                Ip,
            ],
            CheckKind::Tcp(_) => &[ResponseTime, Body, Connected, Ip],
            CheckKind::Dns(_) => &[ResponseTime, Body, DnsRcode, Connected, Ip],
            CheckKind::Tls(_) => &[ResponseTime, CertificateExpiration, Connected, Ip],
            CheckKind::Icmp(_) => &[ResponseTime, Connected, Ip],
            CheckKind::Push(_) => &[Status, ResponseTime, Body],
        }
    }

    pub(super) fn default_conditions(&self) -> Vec<&'static str> {
        match self {
            CheckKind::Http(_) => vec!["[STATUS] >= 200", "[STATUS] < 300"],
            CheckKind::Tcp(_) | CheckKind::Icmp(_) => vec!["[CONNECTED] == true"],
            CheckKind::Dns(_) => vec![],
            CheckKind::Tls(_) => vec!["[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 0"],
            // A push reporting `status=down` fails through the status the push carried.
            CheckKind::Push(_) => vec!["[STATUS] == 200"],
        }
    }
}

pub(super) fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    Some(host_port.to_ascii_lowercase())
}
