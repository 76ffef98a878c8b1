//! Monitors managed through the API and the dashboard (`POST/PATCH/DELETE /api/v1/monitors`).
//! The body is a JSON object with the config file's field names; it is turned into the same
//! positioned tree the YAML parser makes and decoded by the same decoder, so the rules and the
//! messages are the config file's, field by field.
//!
//! Owns: JSON -> config node, the stored record, JSON merge patch (RFC 7396), and the YAML that
//! `panoptes export` writes. Depends on: the config framework and `probe::config`. Pure.
//!
//! Why strings escape `$`: the config decoder substitutes `${VAR}` and `${file:/path}`. From a
//! file the operator wrote that is a feature; from an API body it would let an editor read the
//! server's environment and files into a request sent where they choose. Every `$` in a body
//! is literal (written `$$` in the node, which the decoder reads back as `$`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use panoptes_types::FieldError;

use super::config::MonitorConfig;
use crate::config::decode::{Decode, Decoder};
use crate::config::yaml::{Mark, Node, Value};

/// Deepest nesting accepted in a body (a monitor is a few levels deep).
pub const MAX_DEPTH: usize = 16;
/// Largest body, as JSON text.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the store keeps for one managed monitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The fields as given (after a PATCH, as merged), the config's names.
    pub config: Json,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// Who created or last changed it.
    pub by: String,
}

/// The positioned tree for a JSON value. Marks carry no file position (there is none); the
/// decoder's field paths name the fields.
pub fn to_node(j: &Json) -> Result<Node, FieldError> {
    to_node_at(j, 0, "")
}

fn to_node_at(j: &Json, depth: usize, path: &str) -> Result<Node, FieldError> {
    if depth > MAX_DEPTH {
        return Err(FieldError {
            field: path.to_string(),
            message: format!("nested deeper than {MAX_DEPTH} levels"),
        });
    }
    let scalar = |text: String, plain: bool| Value::Scalar { text, plain };
    let value = match j {
        Json::Null => Value::Null,
        Json::Bool(b) => scalar(b.to_string(), true),
        Json::Number(n) => scalar(n.to_string(), true),
        Json::String(s) => scalar(s.replace('$', "$$"), false),
        Json::Array(items) => Value::Seq(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| to_node_at(v, depth + 1, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let at = crate::config::decode::join(path, k);
                    Ok((
                        Node {
                            value: scalar(k.replace('$', "$$"), true),
                            mark: Mark::default(),
                        },
                        to_node_at(v, depth + 1, &at)?,
                    ))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(Node {
        value,
        mark: Mark::default(),
    })
}

/// Decodes a body as a monitor of the config file, with every wrong field.
pub fn decode(j: &Json) -> Result<MonitorConfig, Vec<FieldError>> {
    decode_as(j, "monitor")
}

/// Decodes a body as a `T` of the config file (a monitor, a maintenance window), with every
/// wrong field named as the file would name it.
pub fn decode_as<T: Decode>(j: &Json, what: &str) -> Result<T, Vec<FieldError>> {
    let whole = |message: String| {
        vec![FieldError {
            field: String::new(),
            message,
        }]
    };
    if !j.is_object() {
        return Err(whole(format!(
            "expected a JSON object with the {what}'s fields"
        )));
    }
    let node = to_node(j).map_err(|e| vec![e])?;
    // No substitution from a body (see the module header): every lookup misses.
    let mut d = Decoder::new("(api)", &|_| None);
    let decoded = T::decode(&node, "", &mut d);
    let errors: Vec<FieldError> = d
        .errors
        .into_iter()
        .map(|e| FieldError {
            field: e.path,
            message: e.message,
        })
        .collect();
    match decoded {
        Some(v) if errors.is_empty() => Ok(v),
        _ if errors.is_empty() => Err(whole(format!("not a valid {what}"))),
        _ => Err(errors),
    }
}

/// Applies a JSON merge patch (RFC 7396): objects merge key by key, `null` removes a key, any
/// other value replaces.
pub fn merge_patch(target: &mut Json, patch: &Json) {
    let Json::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Json::Object(Map::new());
    }
    if let Json::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Json::Null), v);
            }
        }
    }
}

/// A config-declared monitor's fields as JSON, for the read-only view: scalars the decoder would
/// read as booleans or numbers become those, everything else a string.
pub fn node_to_json(n: &Node) -> Json {
    match &n.value {
        Value::Null => Json::Null,
        Value::Scalar { text, plain } => {
            if *plain {
                match text.as_str() {
                    "true" => return Json::Bool(true),
                    "false" => return Json::Bool(false),
                    _ => {}
                }
                if let Ok(i) = text.parse::<i64>() {
                    return Json::from(i);
                }
            }
            Json::String(text.clone())
        }
        Value::Seq(items) => Json::Array(items.iter().map(node_to_json).collect()),
        Value::Map(entries) => {
            let mut out = Map::new();
            for (k, v) in entries {
                if let Value::Scalar { text, .. } = &k.value {
                    out.insert(text.clone(), node_to_json(v));
                }
            }
            Json::Object(out)
        }
    }
}

/// The managed monitors as a config file's `monitors:` section: block YAML, strings in JSON's
/// double-quoted form (valid YAML) with `$` doubled so the file means what the API stored.
pub fn to_yaml(monitors: &[&Json]) -> String {
    let mut out = String::from(
        "# Monitors created through the Panoptes API, as config (`panoptes export`).\nmonitors:\n",
    );
    if monitors.is_empty() {
        out.truncate(out.len() - 1);
        out.push_str(" []\n");
    }
    for m in monitors {
        out.push_str("  -");
        write_value(&mut out, m, 4, true);
    }
    out
}

fn quoted(s: &str) -> String {
    serde_json::to_string(&s.replace('$', "$$")).unwrap_or_else(|_| "\"\"".into())
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        quoted(k)
    }
}

/// Writes `v` after a `-` or `key:` already on the line; `indent` is where nested lines start.
fn write_value(out: &mut String, v: &Json, indent: usize, in_seq: bool) {
    let pad = " ".repeat(indent);
    match v {
        Json::Object(m) if !m.is_empty() => {
            let mut first = in_seq;
            if !in_seq {
                out.push('\n');
            }
            for (k, val) in m {
                if first {
                    out.push(' ');
                    first = false;
                } else {
                    out.push_str(&pad);
                }
                out.push_str(&key(k));
                out.push(':');
                write_value(out, val, indent + 2, false);
            }
        }
        Json::Array(items) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                out.push_str(&pad);
                out.push('-');
                write_value(out, item, indent + 2, true);
            }
        }
        Json::Object(_) => out.push_str(" {}\n"),
        Json::Array(_) => out.push_str(" []\n"),
        Json::Null => out.push_str(" null\n"),
        Json::Bool(b) => out.push_str(&format!(" {b}\n")),
        Json::Number(n) => out.push_str(&format!(" {n}\n")),
        Json::String(s) => out.push_str(&format!(" {}\n", quoted(s))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn comparable(mut m: MonitorConfig) -> MonitorConfig {
        m.mark = Mark::default();
        m.source = Node::empty_map();
        m
    }

    #[test]
    fn a_body_decodes_like_the_same_monitor_in_a_file() {
        let body = json!({
            "name": "api", "type": "http", "url": "https://example.com/health",
            "interval": "30s", "retries": 2, "enabled": true,
            "headers": {"X-Key": "a$b"}, "conditions": ["[STATUS] == 200", "[RESPONSE_TIME] < 500"],
            "labels": {"team": "core"}
        });
        let from_api = decode(&body).expect("valid");
        let file = crate::config::root::parse(
            "monitors:\n  - name: api\n    type: http\n    url: https://example.com/health\n    interval: 30s\n    retries: 2\n    headers: {X-Key: \"a$$b\"}\n    conditions: [\"[STATUS] == 200\", \"[RESPONSE_TIME] < 500\"]\n    labels: {team: core}\n",
            "t",
            &|_| None,
        )
        .expect("config");
        assert_eq!(
            comparable(from_api),
            comparable(file.monitors[0].clone()),
            "`$` is literal from the API"
        );
    }

    #[test]
    fn every_wrong_field_is_named_with_the_config_message() {
        let errs = decode(&json!({
            "name": "x", "type": "http", "url": "ftp://nope", "interval": "soon",
            "retries": -1, "colour": "red"
        }))
        .expect_err("invalid");
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in ["url", "interval", "retries", "colour"] {
            assert!(fields.contains(&f), "{f} in {errs:?}");
        }
        let missing = decode(&json!({"name": "x"})).expect_err("no type");
        assert_eq!(missing[0].field, "type");
        assert!(decode(&json!([1])).is_err());
    }

    #[test]
    fn substitution_never_reaches_the_environment_or_files() {
        let m = decode(&json!({
            "name": "s", "type": "http", "url": "http://h/${HOME}", "bearer_token": "${file:/etc/passwd}"
        }))
        .expect("valid, literally");
        let super::super::config::CheckKind::Http(h) = &m.kind else {
            panic!("http")
        };
        assert_eq!(h.url, "http://h/${HOME}");
        assert_eq!(h.bearer_token.as_deref(), Some("${file:/etc/passwd}"));
    }

    #[test]
    fn depth_is_bounded() {
        let mut v = json!(1);
        for _ in 0..40 {
            v = json!([v]);
        }
        let errs =
            decode(&json!({"name": "d", "type": "http", "url": "http://h/", "conditions": v}))
                .expect_err("too deep");
        assert!(errs[0].message.contains("nested deeper"), "{errs:?}");
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}, "k": [1]});
        merge_patch(
            &mut t,
            &json!({"a": "z", "c": {"f": null}, "k": [2, 3], "n": 1}),
        );
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}, "k": [2, 3], "n": 1}));
    }

    #[test]
    fn the_export_reads_back_as_the_same_monitors() {
        let a = json!({"name": "a: b", "type": "http", "url": "http://h/$x", "interval": "15s",
            "headers": {"X-Y": "1", "X.Odd": "\"q\""}, "conditions": ["[STATUS] == 200"],
            "labels": {}, "locations": [], "enabled": false, "retries": 3});
        let b = json!({"name": "t", "type": "tcp", "host": "127.0.0.1", "port": 5432});
        let yaml = to_yaml(&[&a, &b]);
        let c = crate::config::root::parse(&yaml, "export", &|_| None).expect(&yaml);
        assert_eq!(c.monitors.len(), 2);
        assert_eq!(
            comparable(c.monitors[0].clone()),
            comparable(decode(&a).expect("a"))
        );
        assert_eq!(
            comparable(c.monitors[1].clone()),
            comparable(decode(&b).expect("b"))
        );
        let empty = crate::config::root::parse(&to_yaml(&[]), "e", &|_| None).expect("empty");
        assert!(empty.monitors.is_empty());
    }

    #[test]
    fn a_config_node_reads_as_json() {
        let c = crate::config::root::parse(
            "monitors:\n  - {name: n, type: tcp, host: h, port: 80, enabled: false, group: \"7\"}\n",
            "t",
            &|_| None,
        )
        .expect("config");
        assert_eq!(
            node_to_json(&c.monitors[0].source),
            json!({"name": "n", "type": "tcp", "host": "h", "port": 80, "enabled": false, "group": "7"})
        );
    }
}
