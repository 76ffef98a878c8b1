//! The running configuration as data an admin may read: every section with its defaults filled
//! in, secrets replaced by [`REDACTED`].
//!
//! Owns: the conversion of a section's `Debug` form into a tree (`effective_parse.rs`), the
//! redaction rule, and the tree as JSON and as YAML. Depends on: nothing (it works on any
//! `Debug` value).
//!
//! Why `Debug`: every section derives it (the `config_section!` macro does), so the tree covers
//! each field of each section, including the ones added later, without a second schema to keep
//! in step. The rule is by field name ([`secret_name`], [`SECRET_IN`], [`SECRET_MAPS`]) and
//! applies at any depth; URLs anywhere lose their user-info and secret-looking query values.
//! Anything the parser does not understand fails the whole rendering: it fails closed, never
//! by showing text it could not classify.

use serde_json::{Map, Number, Value};

#[path = "effective_parse.rs"]
mod parse;

/// What a secret value is replaced by.
pub const REDACTED: &str = "<redacted>";

/// Fields whose value is a secret wherever they appear: these names, and any name with one of
/// [`SECRET_SUFFIXES`]. A new credential field named like the ones before it (`*_password`,
/// `*_token`, `*_key`, `*_secret`) is redacted without touching this file.
pub const SECRET_FIELDS: &[&str] = &[
    "credentials",
    "credentials_file",
    "keys",
    "dsn",
    "webhook_url",
    "slack_api_url",
    "url_file",
];

/// Endings of secret field names (`password`, `auth_password`, `bearer_token`, `push_tokens`,
/// `api_key`, `routing_key`, `client_secret`, ...).
pub const SECRET_SUFFIXES: &[&str] = &[
    "password", "token", "tokens", "_key", "_keys", "secret", "_secrets",
];

/// Whether a field of this name holds a secret wherever it is.
pub fn secret_name(name: &str) -> bool {
    SECRET_FIELDS.contains(&name) || SECRET_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Fields that are secrets inside a given parent (list, section or enum variant): a webhook's
/// `url` and Slack's `api_url` (the incoming-webhook URL), in receivers and in on-call
/// contacts, and a status page's subscriber webhooks.
pub const SECRET_IN: &[(&str, &str)] = &[
    ("webhook_configs", "url"),
    ("webhook", "url"),
    ("slack_configs", "api_url"),
    ("slack", "api_url"),
    ("endpoints", "url"),
];

/// Maps whose keys are shown and whose values are not (request headers carry credentials).
pub const SECRET_MAPS: &[&str] = &["headers"];

/// Internal fields of a section that are not configuration (positions in the file, the
/// monitor as written, which repeats every field unredacted).
const INTERNAL_FIELDS: &[&str] = &["mark", "source"];

/// Query parameters whose values are hidden in any URL (matched as substrings, lower case).
const SECRET_QUERY: &[&str] = &["key", "token", "secret", "pass", "auth", "sig", "code"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot render the configuration at byte {at}: {what}")]
pub struct RenderError {
    pub at: usize,
    pub what: String,
}

/// A value as parsed: maps keep their fields in declaration order (the YAML reads like the
/// config file); `strukt` tells a struct's fields from a map's entries.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    List(Vec<Tree>),
    Map {
        entries: Vec<(String, Tree)>,
        strukt: bool,
    },
}

/// The running config as an admin sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub json: Value,
    pub yaml: String,
}

/// `value` with its secrets redacted, as JSON and as YAML.
pub fn render<T: std::fmt::Debug>(value: &T) -> Result<Rendered, RenderError> {
    let text = format!("{value:?}");
    let tree = redact(parse::Parser::new(&text).document()?, None);
    let mut yaml = String::new();
    match &tree {
        Tree::Map { entries, .. } if !entries.is_empty() => yaml_map(entries, 0, &mut yaml),
        Tree::List(items) if !items.is_empty() => yaml_seq(items, 0, &mut yaml),
        other => {
            yaml.push_str(&scalar(other));
            yaml.push('\n');
        }
    }
    Ok(Rendered {
        json: json(tree),
        yaml,
    })
}

fn json(t: Tree) -> Value {
    match t {
        Tree::Null => Value::Null,
        Tree::Bool(b) => Value::Bool(b),
        Tree::Num(n) => Value::Number(n),
        Tree::Str(s) => Value::String(s),
        Tree::List(items) => Value::Array(items.into_iter().map(json).collect()),
        Tree::Map { entries, .. } => Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k, json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

// ---- redaction ----

fn redact(v: Tree, parent: Option<&str>) -> Tree {
    match v {
        Tree::Map { entries, strukt } => Tree::Map {
            entries: entries
                .into_iter()
                .map(|(k, v)| {
                    let secret = secret_name(&k)
                        || parent.is_some_and(|p| SECRET_IN.contains(&(p, k.as_str())));
                    let v = if secret {
                        hide(v)
                    } else if SECRET_MAPS.contains(&k.as_str()) {
                        hide_values(v)
                    } else {
                        redact(v, Some(&k))
                    };
                    (k, v)
                })
                .collect(),
            strukt,
        },
        Tree::List(items) => Tree::List(items.into_iter().map(|v| redact(v, parent)).collect()),
        Tree::Str(s) => Tree::Str(scrub_url(&s)),
        other => other,
    }
}

/// A secret: shown as set or not, never its value (unset and empty say nothing).
fn hide(v: Tree) -> Tree {
    match v {
        Tree::Null => Tree::Null,
        Tree::Str(s) if s.is_empty() => Tree::Str(s),
        Tree::List(items) => Tree::List(items.into_iter().map(hide).collect()),
        _ => Tree::Str(REDACTED.into()),
    }
}

fn hide_values(v: Tree) -> Tree {
    match v {
        Tree::Map { entries, strukt } => Tree::Map {
            entries: entries.into_iter().map(|(k, v)| (k, hide(v))).collect(),
            strukt,
        },
        other => hide(other),
    }
}

/// A URL without its password (or a lone user-info, which is how DSNs carry their key) and
/// without the values of secret-looking query parameters. Other strings are returned as is.
fn scrub_url(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let rest = &s[scheme_end + 3..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, frag) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _))
                        if SECRET_QUERY
                            .iter()
                            .any(|w| k.to_ascii_lowercase().contains(w)) =>
                    {
                        format!("{k}={REDACTED}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            let frag = frag.map(|f| format!("#{f}")).unwrap_or_default();
            format!("{path}?{}{frag}", pairs.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{}{authority}{tail}", &s[..scheme_end + 3])
}

// ---- YAML ----

fn yaml_map(m: &[(String, Tree)], indent: usize, out: &mut String) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_key(k));
        out.push(':');
        yaml_child(v, indent, out);
    }
}

fn yaml_seq(a: &[Tree], indent: usize, out: &mut String) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match v {
            Tree::Map { entries, .. } if !entries.is_empty() => {
                // The first key on the dash's line, the rest under it.
                let mut inner = String::new();
                yaml_map(entries, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(inner.trim_start());
            }
            _ => yaml_child(v, indent, out),
        }
    }
}

fn yaml_child(v: &Tree, indent: usize, out: &mut String) {
    match v {
        Tree::Map { entries, .. } if !entries.is_empty() => {
            out.push('\n');
            yaml_map(entries, indent + 2, out);
        }
        Tree::List(items) if !items.is_empty() => match flow(v).filter(|f| f.len() <= FLOW_MAX) {
            // Short lists of scalars on one line (`keys: [<redacted>]`, `left: [status, []]`).
            Some(f) => {
                out.push(' ');
                out.push_str(&f);
                out.push('\n');
            }
            None => {
                out.push('\n');
                yaml_seq(items, indent + 2, out);
            }
        },
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

/// Longest list written on one line.
const FLOW_MAX: usize = 80;

/// A list of scalars (and such lists) in flow style; `None` when a map is in it.
fn flow(v: &Tree) -> Option<String> {
    match v {
        Tree::Map { entries, .. } if !entries.is_empty() => None,
        Tree::List(items) => {
            let parts = items.iter().map(flow).collect::<Option<Vec<_>>>()?;
            Some(format!("[{}]", parts.join(", ")))
        }
        other => Some(scalar(other)),
    }
}

fn yaml_key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
    {
        k.to_string()
    } else {
        serde_json::to_string(k).unwrap_or_default()
    }
}

fn scalar(v: &Tree) -> String {
    match v {
        Tree::Null => "null".into(),
        Tree::Bool(b) => b.to_string(),
        Tree::Num(n) => n.to_string(),
        Tree::Str(s) if s == REDACTED => s.clone(),
        Tree::Str(s) => {
            let plain = !s.is_empty()
                && s.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b':')
                })
                && !s.ends_with(':')
                && !matches!(
                    s.as_str(),
                    "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "~"
                )
                && s.parse::<f64>().is_err()
                && !s.contains(": ");
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        Tree::Map { .. } => "{}".into(),
        Tree::List(_) => "[]".into(),
    }
}

#[cfg(test)]
#[path = "effective_tests.rs"]
mod tests;
