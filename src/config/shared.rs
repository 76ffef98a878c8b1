//! Pieces several sections use, written once: DNS servers, basic auth, TLS/CA options and
//! request headers. Each is checked where it is written, so its errors carry its line.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::decode::{Decode, Decoder, join};
use super::yaml::Node;

/// A DNS server: `ip` (port 53) or `ip:port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nameserver(pub SocketAddr);

impl Nameserver {
    pub fn parse(s: &str) -> Option<Nameserver> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Some(Nameserver(a));
        }
        s.parse::<IpAddr>()
            .ok()
            .map(|ip| Nameserver(SocketAddr::new(ip, 53)))
    }
}

impl std::fmt::Display for Nameserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Decode for Nameserver {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "a nameserver like 10.0.0.2, 10.0.0.2:53 or [::1]:5353",
            |s| Nameserver::parse(s).ok_or_else(String::new),
        )
    }
}

crate::config_section! {
    /// `Authorization: Basic` credentials sent to a target.
    pub struct BasicAuth {
        pub username: String,
        pub password: String = String::new(),
    }
}

crate::config_section! {
    /// Which certificates to trust when connecting to a target over TLS.
    pub struct TlsConfig {
        /// PEM file with extra CA certificates to trust (in addition to the system's).
        pub ca_file: Option<PathBuf> = None,
        /// Trust ONLY `ca_file`, not the system roots.
        pub ca_only: bool = false,
    }
}

impl TlsConfig {
    pub fn defaults() -> Self {
        super::section_default()
    }
}

/// Checks a CA file reference: readable now, and `ca_only` only with a file. `path` is the field
/// holding the TLS settings (e.g. `services[0].tls_config`).
pub fn check_ca_file(ca_file: Option<&PathBuf>, ca_only: bool, path: &str, d: &mut Decoder) {
    if let Some(ca) = ca_file
        && std::fs::metadata(ca).is_err()
    {
        d.error_at(
            &join(path, "ca_file"),
            format!("cannot read `{}`", ca.display()),
        );
    }
    if ca_only && ca_file.is_none() {
        d.error_at(&join(path, "ca_only"), "needs a ca_file");
    }
}

/// Extra request headers: names are HTTP tokens, values carry no line breaks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub BTreeMap<String, String>);

pub fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Decode for Headers {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let map: BTreeMap<String, String> = d.decode(node, path)?;
        let mut ok = true;
        for (name, value) in &map {
            let field = join(path, name);
            if !valid_header_name(name) {
                d.error_at(&field, "not a valid HTTP header name");
                ok = false;
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                d.error_at(&field, "header values cannot contain line breaks");
                ok = false;
            }
        }
        ok.then_some(Headers(map))
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// An IANA time zone name, resolved once.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone(pub jiff::tz::TimeZone);

impl Decode for Zone {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "an IANA time zone (Europe/Berlin, UTC)", |s| {
            jiff::tz::TimeZone::get(s)
                .map(Zone)
                .map_err(|_| "unknown time zone".to_string())
        })
    }
}

impl Zone {
    pub fn name(&self) -> String {
        self.0.iana_name().unwrap_or("UTC").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_take_a_default_port() {
        assert_eq!(
            Nameserver::parse("10.0.0.2"),
            Some(Nameserver("10.0.0.2:53".parse().expect("addr")))
        );
        assert_eq!(
            Nameserver::parse("[::1]:5353"),
            Some(Nameserver("[::1]:5353".parse().expect("addr")))
        );
        assert_eq!(Nameserver::parse("ns.example"), None);
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(valid_header_name("X-Scraper"));
        assert!(!valid_header_name("X Bad"));
        assert!(!valid_header_name(""));
    }
}
