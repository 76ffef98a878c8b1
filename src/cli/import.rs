//! `panoptes import gatus FILE`: a Gatus configuration's endpoints as Panoptes monitors, printed
//! as the `monitors:` section of a Panoptes config (Panoptes' conditions are Gatus' syntax, so
//! most endpoints carry over as they are).
//!
//! What cannot be carried over is left out and said, one line per item, on stderr: endpoint
//! types Panoptes has no check for (ssh, udp, sctp, starttls, websocket, grpc), conditions its
//! parser does not know, and Gatus' alerting (Panoptes' alerts are rules of their own). The
//! output is checked by decoding it as a Panoptes config before it is printed, so what is
//! printed loads.

use std::fmt::Write as _;

use panoptes::config::yaml::{self, Node, Value};
use panoptes::probe::condition::Condition;

/// Most endpoints read (a Gatus file is written by people; this bounds a hostile one).
const MAX_ENDPOINTS: usize = 100_000;

/// The converted monitors as YAML, and what was left out.
pub struct Imported {
    pub yaml: String,
    pub monitors: usize,
    pub notes: Vec<String>,
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn text(node: Option<&Node>) -> Option<String> {
    match node.map(|n| &n.value) {
        Some(Value::Scalar { text, .. }) => Some(text.clone()),
        _ => None,
    }
}

/// A YAML double-quoted string (JSON's escaping is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `host:port` of a `scheme://host:port` URL.
fn host_port(rest: &str) -> Option<(String, u16)> {
    let authority = rest.split(['/', '?']).next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port.parse().ok()?))
}

/// Converts the `endpoints:` of a Gatus config.
pub fn gatus(source: &str, file: &str) -> Result<Imported, String> {
    let root = yaml::parse(source)
        .map_err(|e| format!("{file}:{}:{}: {}", e.mark.line, e.mark.col, e.message))?;
    let Some(Value::Seq(endpoints)) = get(&root, "endpoints").map(|n| &n.value) else {
        return Err(format!(
            "{file}: no `endpoints:` list (is this a Gatus config?)"
        ));
    };
    if endpoints.len() > MAX_ENDPOINTS {
        return Err(format!(
            "{file}: {} endpoints; at most {MAX_ENDPOINTS} are imported at once",
            endpoints.len()
        ));
    }
    let mut notes = Vec::new();
    let mut out = String::from("monitors:\n");
    let mut monitors = 0;
    for (i, e) in endpoints.iter().enumerate() {
        let at = format!("{file}:{}", e.mark.line);
        let Some(name) = text(get(e, "name")) else {
            notes.push(format!("{at}: endpoints[{i}] has no name; skipped"));
            continue;
        };
        let Some(url) = text(get(e, "url")) else {
            notes.push(format!("{at}: `{name}` has no url; skipped"));
            continue;
        };
        let Some(check) = check(e, &url, &name, &at, &mut notes) else {
            continue;
        };
        let _ = writeln!(out, "  - name: {}", quoted(&name));
        if let Some(g) = text(get(e, "group")) {
            let _ = writeln!(out, "    group: {}", quoted(&g));
        }
        out.push_str(&check);
        // Gatus checks every 60 s unless told otherwise; so does Panoptes.
        if let Some(iv) = text(get(e, "interval")) {
            let _ = writeln!(out, "    interval: {iv}");
        }
        if let Some(t) = text(get(e, "client").and_then(|c| get(c, "timeout"))) {
            let _ = writeln!(out, "    timeout: {t}");
        }
        if text(get(e, "enabled")).as_deref() == Some("false") {
            out.push_str("    enabled: false\n");
        }
        let conditions = conditions(e, &name, &at, &mut notes);
        if !conditions.is_empty() {
            out.push_str("    conditions:\n");
            for c in conditions {
                let _ = writeln!(out, "      - {}", quoted(&c));
            }
        }
        if get(e, "alerts").is_some() {
            notes.push(format!(
                "{at}: `{name}`: its Gatus alerts are not imported (write an alert rule: README, Alerts)"
            ));
        }
        monitors += 1;
    }
    if monitors == 0 {
        out = String::from("monitors: []\n");
    }
    // What is printed must load: decode it as Panoptes would.
    if let Err(errors) = panoptes::config::root::parse(&out, "<imported>", &|_| None) {
        return Err(format!(
            "the converted monitors do not load (please report this):\n{errors}"
        ));
    }
    Ok(Imported {
        yaml: out,
        monitors,
        notes,
    })
}

/// The type-specific lines of a monitor, or `None` (with a note) when Panoptes has no such check.
fn check(e: &Node, url: &str, name: &str, at: &str, notes: &mut Vec<String>) -> Option<String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let mut s = String::new();
    if let Some(dns) = get(e, "dns") {
        let query = text(get(dns, "query-name"))?;
        let record = text(get(dns, "query-type")).unwrap_or_else(|| "A".into());
        let _ = writeln!(
            s,
            "    type: dns\n    query: {}\n    record: {record}",
            quoted(&query)
        );
        let server = if scheme.is_empty() { url } else { rest };
        let _ = writeln!(
            s,
            "    nameserver: {}",
            quoted(server.trim_end_matches('/'))
        );
        return Some(s);
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => {
            let _ = writeln!(s, "    type: http\n    url: {}", quoted(url));
            if let Some(m) = text(get(e, "method")) {
                let _ = writeln!(s, "    method: {}", quoted(&m.to_ascii_uppercase()));
            }
            if let Some(b) = text(get(e, "body")) {
                let _ = writeln!(s, "    body: {}", quoted(&b));
            }
            if let Some(Value::Map(h)) = get(e, "headers").map(|n| &n.value) {
                s.push_str("    headers:\n");
                for (k, v) in h {
                    if let (Some(k), Some(v)) = (text(Some(k)), text(Some(v))) {
                        let _ = writeln!(s, "      {}: {}", quoted(&k), quoted(&v));
                    }
                }
            }
            if text(get(e, "client").and_then(|c| get(c, "insecure"))).as_deref() == Some("true") {
                s.push_str("    verify_tls: false\n");
            }
            Some(s)
        }
        "tcp" | "tls" => {
            let Some((host, port)) = host_port(rest) else {
                notes.push(format!("{at}: `{name}`: `{url}` has no host:port; skipped"));
                return None;
            };
            let kind = if scheme == "tls" { "tls" } else { "tcp" };
            let _ = writeln!(
                s,
                "    type: {kind}\n    host: {}\n    port: {port}",
                quoted(&host)
            );
            Some(s)
        }
        "icmp" => {
            let host = rest.split(['/', ':']).next().unwrap_or(rest);
            let _ = writeln!(s, "    type: icmp\n    host: {}", quoted(host));
            Some(s)
        }
        other => {
            notes.push(format!(
                "{at}: `{name}`: {} endpoints have no Panoptes check; skipped",
                if other.is_empty() {
                    "scheme-less"
                } else {
                    other
                }
            ));
            None
        }
    }
}

/// The endpoint's conditions that Panoptes reads; the others are noted and left out.
fn conditions(e: &Node, name: &str, at: &str, notes: &mut Vec<String>) -> Vec<String> {
    let Some(Value::Seq(items)) = get(e, "conditions").map(|n| &n.value) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|c| text(Some(c)))
        .filter(|c| match Condition::parse(c) {
            Ok(_) => true,
            Err(why) => {
                notes.push(format!("{at}: `{name}`: condition `{c}` left out ({why})"));
                false
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GATUS: &str = r#"
# The example of Gatus' README, plus the other endpoint kinds.
endpoints:
  - name: website
    group: core
    url: "https://twin.sh/health"
    interval: 5m
    conditions:
      - "[STATUS] == 200"
      - "[BODY].status == UP"
      - "[RESPONSE_TIME] < 300"
    alerts:
      - type: slack
  - name: make-coffee
    group: core
    url: "http://127.0.0.1:8080/api/coffee"
    method: post
    body: '{"size": "large"}'
    headers: {Content-Type: application/json}
    client: {insecure: true, timeout: 5s}
    conditions: ["[STATUS] == 201"]
  - name: db
    url: "tcp://10.0.0.5:5432"
    conditions: ["[CONNECTED] == true"]
  - name: cert
    url: "tls://example.org:443"
  - name: ping
    url: "icmp://10.0.0.1"
  - name: dns
    url: "8.8.8.8"
    dns: {query-name: example.org, query-type: AAAA}
    conditions: ["[DNS_RCODE] == NOERROR"]
  - name: shell
    url: "ssh://10.0.0.9:22"
  - name: off
    url: "https://example.org"
    enabled: false
"#;

    #[test]
    fn every_kind_panoptes_has_carries_over_and_what_it_lacks_is_said() {
        let got = gatus(GATUS, "gatus.yaml").expect("imports");
        let cfg = panoptes::config::root::parse(&got.yaml, "out", &|_| None).expect("loads");
        let names: Vec<&str> = cfg.monitors.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["website", "make-coffee", "db", "cert", "ping", "dns", "off"]
        );
        assert_eq!(got.monitors, 7);
        let types: Vec<&str> = cfg.monitors.iter().map(|m| m.kind.type_name()).collect();
        assert_eq!(types, ["http", "http", "tcp", "tls", "icmp", "dns", "http"]);
        let website = &cfg.monitors[0];
        assert_eq!(website.group.as_deref(), Some("core"));
        assert_eq!(website.interval.get().as_secs(), 300);
        assert_eq!(website.conditions.len(), 3, "{}", got.yaml);
        assert!(!cfg.monitors[6].enabled);
        assert_eq!(cfg.monitors[1].timeout.get().as_secs(), 5);
        assert!(
            got.notes.iter().any(|n| n.contains("ssh endpoints")),
            "{:?}",
            got.notes
        );
        assert!(
            got.notes
                .iter()
                .any(|n| n.contains("alerts are not imported"))
        );
        assert!(
            got.notes.iter().all(|n| n.starts_with("gatus.yaml:")),
            "notes say where: {:?}",
            got.notes
        );
    }

    #[test]
    fn not_a_gatus_file_is_a_clear_error() {
        let e = gatus("monitors: []\n", "x.yaml").err().expect("refused");
        assert!(e.contains("no `endpoints:`"), "{e}");
        let e = gatus("endpoints: [\n", "x.yaml").err().expect("refused");
        assert!(e.starts_with("x.yaml:"), "{e}");
    }
}
