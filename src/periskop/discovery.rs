//! Service discovery: static targets, DNS (SRV, A, AAAA) through hickory against a configurable
//! nameserver, and Prometheus `file_sd` files (YAML or JSON, globs).
//!
//! Each function returns the complete current target list for one config entry; the scraper
//! merges the lists before every cycle. A lookup that fails (timeout, SERVFAIL, unreadable file)
//! returns an error and the caller keeps the previous list: a flaky resolver must not make every
//! target vanish. A name that does not exist (NXDOMAIN, no records) is an empty list: that is how
//! instances leave.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use futures_util::StreamExt;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use super::config::{
    DnsRecordType, DnsSdConfig, FileSdConfig, Nameserver, StaticConfig, check_target_addr,
};
use crate::config::yaml::{self, Node, Value};

/// Most targets taken from one file or one DNS answer.
pub const MAX_TARGETS_PER_SOURCE: usize = 10_000;
/// Largest file_sd file read.
pub const MAX_SD_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Longest one refresh of a `dns_sd_configs` entry may take (every name and every SRV target's
/// addresses); past it the refresh fails, and the previous targets stay.
pub const DNS_REFRESH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);
/// SRV targets whose addresses are looked up at once.
const CONCURRENT_LOOKUPS: usize = 8;

/// One instance to scrape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// `host:port` (DNS answers are resolved to IP addresses).
    pub address: String,
    /// `static`, `dns:<name>` or `file:<path>`.
    pub source: String,
    pub labels: BTreeMap<String, String>,
}

pub fn static_targets(configs: &[StaticConfig]) -> Vec<Target> {
    configs
        .iter()
        .flat_map(|c| {
            c.targets.iter().map(|t| Target {
                address: t.0.clone(),
                source: "static".into(),
                labels: c.labels.clone(),
            })
        })
        .collect()
}

/// A resolver that asks `nameserver` (UDP, then TCP), or the system's resolvers when `None`.
/// Cached answers live at most `max_ttl`, so removals are seen within one refresh.
pub fn resolver(
    nameserver: Option<Nameserver>,
    max_ttl: std::time::Duration,
) -> Result<TokioResolver, String> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = match nameserver {
        Some(Nameserver(addr)) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], vec![ns]),
                provider,
            )
        }
        None => TokioResolver::builder(provider)
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?,
    };
    let opts = builder.options_mut();
    opts.positive_max_ttl = Some(max_ttl);
    opts.negative_max_ttl = Some(max_ttl);
    opts.timeout = std::time::Duration::from_secs(5);
    opts.attempts = 2;
    builder
        .build()
        .map_err(|e| format!("cannot build the DNS resolver: {e}"))
}

/// Resolves every name of one `dns_sd_configs` entry, within [`DNS_REFRESH_DEADLINE`].
pub async fn dns_targets(
    resolver: &TokioResolver,
    cfg: &DnsSdConfig,
) -> Result<Vec<Target>, String> {
    dns_targets_within(resolver, cfg, DNS_REFRESH_DEADLINE).await
}

/// [`dns_targets`] with its deadline as a parameter. A resolver that answers slowly (each
/// lookup may take its timeout times its attempts) would otherwise hold a refresh for as long as
/// there are names and SRV targets.
pub async fn dns_targets_within(
    resolver: &TokioResolver,
    cfg: &DnsSdConfig,
    deadline: std::time::Duration,
) -> Result<Vec<Target>, String> {
    tokio::time::timeout(deadline, resolve_entry(resolver, cfg))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "DNS discovery did not finish within {}",
                crate::config::Duration(deadline)
            ))
        })
}

async fn resolve_entry(resolver: &TokioResolver, cfg: &DnsSdConfig) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for name in &cfg.names {
        let source = format!("dns:{name}");
        let addrs: Vec<SocketAddr> = match cfg.record_type {
            DnsRecordType::Srv => srv(resolver, name).await?,
            DnsRecordType::A | DnsRecordType::Aaaa => {
                let port = cfg.port.unwrap_or(0);
                ips(resolver, name, cfg.record_type)
                    .await?
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect()
            }
        };
        out.extend(addrs.into_iter().map(|a| Target {
            address: a.to_string(),
            source: source.clone(),
            labels: BTreeMap::new(),
        }));
        if out.len() > MAX_TARGETS_PER_SOURCE {
            out.truncate(MAX_TARGETS_PER_SOURCE);
            break;
        }
    }
    Ok(out)
}

async fn srv(resolver: &TokioResolver, name: &str) -> Result<Vec<SocketAddr>, String> {
    let lookup = match resolver.srv_lookup(name).await {
        Ok(l) => l,
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => return Ok(Vec::new()),
        Err(e) => return Err(format!("SRV lookup of {name} failed: {e}")),
    };
    let records: Vec<(String, u16)> = lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::SRV(srv) => Some((srv.target.to_utf8(), srv.port)),
            _ => None,
        })
        .take(MAX_TARGETS_PER_SOURCE)
        .collect();
    // SRV targets are host names; resolve them through the same nameserver, since the scraper's
    // HTTP client would otherwise use the system's. A and AAAA together, a few targets at once.
    let mut lookups = futures_util::stream::iter(records)
        .map(|(target, port)| async move {
            let (v4, v6) = tokio::join!(
                ips(resolver, &target, DnsRecordType::A),
                ips(resolver, &target, DnsRecordType::Aaaa)
            );
            let mut found = v4?;
            found.extend(v6?);
            Ok::<_, String>(found.into_iter().map(move |ip| SocketAddr::new(ip, port)))
        })
        .buffer_unordered(CONCURRENT_LOOKUPS);
    let mut out = Vec::new();
    while let Some(found) = lookups.next().await {
        out.extend(found?);
        if out.len() > MAX_TARGETS_PER_SOURCE {
            break;
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

async fn ips(
    resolver: &TokioResolver,
    name: &str,
    kind: DnsRecordType,
) -> Result<Vec<IpAddr>, String> {
    let result = match kind {
        DnsRecordType::Aaaa => resolver.ipv6_lookup(name).await,
        _ => resolver.ipv4_lookup(name).await,
    };
    let lookup = match result {
        Ok(l) => l,
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => return Ok(Vec::new()),
        Err(e) => return Err(format!("address lookup of {name} failed: {e}")),
    };
    let mut out: Vec<IpAddr> = lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Reads every file matched by one `file_sd_configs` entry. Blocking: run it off the runtime.
/// A file that cannot be read or parsed fails the whole entry (previous targets stay).
pub fn file_targets(cfg: &FileSdConfig) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for pattern in &cfg.files {
        let paths = glob::glob(pattern).map_err(|e| format!("invalid glob `{pattern}`: {e}"))?;
        for entry in paths {
            let path = entry.map_err(|e| format!("cannot read {}: {e}", e.path().display()))?;
            out.extend(read_sd_file(&path)?);
            if out.len() > MAX_TARGETS_PER_SOURCE {
                out.truncate(MAX_TARGETS_PER_SOURCE);
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// One file in Prometheus `file_sd` format: a list of `{targets: [...], labels: {...}}`. JSON
/// is read by the same (YAML) parser, which keeps line numbers in error messages.
pub fn read_sd_file(path: &Path) -> Result<Vec<Target>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if meta.len() > MAX_SD_FILE_BYTES {
        return Err(format!("{shown} is larger than {MAX_SD_FILE_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let root = yaml::parse(&text).map_err(|e| {
        format!(
            "{shown}:{}:{}: invalid YAML/JSON: {}",
            e.mark.line, e.mark.col, e.message
        )
    })?;
    let groups = match &root.value {
        Value::Seq(items) => items.as_slice(),
        Value::Null => &[],
        // An empty YAML document parses as an empty mapping.
        Value::Map(m) if m.is_empty() => &[],
        _ => {
            return Err(format!(
                "{shown}:{}:{}: expected a list of {{targets, labels}} groups",
                root.mark.line, root.mark.col
            ));
        }
    };
    let source = format!("file:{shown}");
    let mut out = Vec::new();
    for group in groups {
        let at = |n: &Node| format!("{shown}:{}:{}", n.mark.line, n.mark.col);
        let Value::Map(entries) = &group.value else {
            return Err(format!("{}: expected a mapping with `targets`", at(group)));
        };
        let mut targets = Vec::new();
        let mut labels = BTreeMap::new();
        for (k, v) in entries {
            match scalar(k) {
                Some("targets") => {
                    let Value::Seq(items) = &v.value else {
                        return Err(format!("{}: `targets` must be a list", at(v)));
                    };
                    for item in items {
                        let addr = scalar(item)
                            .ok_or_else(|| format!("{}: a target must be a string", at(item)))?;
                        check_target_addr(addr)
                            .map_err(|why| format!("{}: target `{addr}`: {why}", at(item)))?;
                        targets.push(addr.to_string());
                    }
                }
                Some("labels") => {
                    let Value::Map(pairs) = &v.value else {
                        return Err(format!("{}: `labels` must be a mapping", at(v)));
                    };
                    for (lk, lv) in pairs {
                        if let (Some(lk), Some(lv)) = (scalar(lk), scalar(lv)) {
                            labels.insert(lk.to_string(), lv.to_string());
                        }
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "{}: unknown field `{other}` (expected targets, labels)",
                        at(k)
                    ));
                }
                None => return Err(format!("{}: keys must be strings", at(k))),
            }
        }
        out.extend(targets.into_iter().map(|address| Target {
            address,
            source: source.clone(),
            labels: labels.clone(),
        }));
    }
    Ok(out)
}

fn scalar(n: &Node) -> Option<&str> {
    match &n.value {
        Value::Scalar { text, .. } => Some(text.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sd_reads_yaml_and_json_with_labels() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("a.yaml"),
            "- targets: [\"127.0.0.1:1\", \"host.internal:2\"]\n  labels: {zone: a}\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("b.json"),
            r#"[{"targets": ["[::1]:3"], "labels": {"zone": "b"}}]"#,
        )
        .expect("write");
        std::fs::write(dir.path().join("empty.yaml"), "").expect("write");
        let cfg = FileSdConfig {
            files: vec![
                format!("{}/*.yaml", dir.path().display()),
                format!("{}/*.json", dir.path().display()),
            ],
            refresh_interval: crate::config::Duration::secs(1),
        };
        let t = file_targets(&cfg).expect("targets");
        let addrs: Vec<&str> = t.iter().map(|t| t.address.as_str()).collect();
        assert_eq!(addrs, ["127.0.0.1:1", "host.internal:2", "[::1]:3"]);
        assert_eq!(t[0].labels["zone"], "a");
        assert_eq!(t[2].labels["zone"], "b");
        assert!(t[2].source.starts_with("file:"));
    }

    #[test]
    fn file_sd_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("bad.yaml");
        std::fs::write(&p, "- targets: [\"ok:1\"]\n- targets: [\"no-port\"]\n").expect("write");
        let err = read_sd_file(&p).expect_err("bad target");
        assert!(err.contains("bad.yaml:2:"), "{err}");
        assert!(err.contains("no-port"), "{err}");
        std::fs::write(&p, "- target: [\"ok:1\"]\n").expect("write");
        let err = read_sd_file(&p).expect_err("typo");
        assert!(err.contains("unknown field `target`"), "{err}");
    }

    /// A nameserver that never answers must not hold a refresh past its deadline (each lookup
    /// alone may take the resolver's timeout times its attempts).
    #[tokio::test]
    async fn a_silent_nameserver_fails_the_refresh_at_its_deadline() {
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = silent.local_addr().expect("addr");
        // The same port over TCP accepts and never answers either.
        let _tcp = std::net::TcpListener::bind(addr).ok();
        let r =
            resolver(Some(Nameserver(addr)), std::time::Duration::from_secs(30)).expect("resolver");
        let cfg = DnsSdConfig {
            names: vec![
                "_periskop._tcp.example.test".into(),
                "other.example.test".into(),
            ],
            record_type: DnsRecordType::Srv,
            port: None,
            refresh_interval: crate::config::Duration::secs(30),
            nameserver: None,
        };
        let started = std::time::Instant::now();
        let err = dns_targets_within(&r, &cfg, std::time::Duration::from_millis(300))
            .await
            .expect_err("no answer");
        assert!(err.contains("did not finish within"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}
