//! An event's tags, as Sentry's "The event's tags match {key} {match} {value}" alert condition
//! sees them: the event's own `tags` (an object, or a list of `[key, value]` pairs), then the
//! fields Sentry promotes to tags (`level`, `environment`, `release`, `dist`, `server_name`,
//! `logger`, `transaction`, and `browser`, `os`, `runtime` with their `.name` from `contexts`).
//!
//! Bounded, because the list travels in the inbox row and in the domain event: at most
//! [`MAX_TAGS`], keys of at most [`MAX_KEY`] characters of `[a-zA-Z0-9_.:-]`, values of at most
//! [`MAX_VALUE`] characters without control characters. A tag outside those bounds is dropped,
//! as Sentry drops it, rather than clipped into a value the client never sent.

use serde_json::Value;

/// Most tags kept per event (the first ones, explicit tags before promoted fields).
pub const MAX_TAGS: usize = 64;
/// Longest tag key kept (Sentry's historical limit).
pub const MAX_KEY: usize = 32;
/// Longest tag value kept (Sentry's limit).
pub const MAX_VALUE: usize = 200;

/// Whether `k` is a tag key Sentry accepts: 1 to 32 characters of `[a-zA-Z0-9_.:-]`.
pub fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= MAX_KEY
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

fn value_text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty() && s.chars().count() <= MAX_VALUE && !s.chars().any(char::is_control))
        .then_some(s)
}

fn push(out: &mut Vec<(String, String)>, key: &str, value: Option<&Value>) {
    if out.len() >= MAX_TAGS || !valid_key(key) || out.iter().any(|(k, _)| k == key) {
        return;
    }
    if let Some(v) = value.and_then(value_text) {
        out.push((key.to_string(), v));
    }
}

/// The tags of `event`, whose level (normalised, defaulted) is `level`, sorted by key; each
/// key once (the first value given wins).
pub fn tags(event: &Value, level: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match event.get("tags") {
        Some(Value::Object(m)) => {
            for (k, v) in m {
                push(&mut out, k, Some(v));
            }
        }
        Some(Value::Array(a)) => {
            for pair in a {
                if let Some([Value::String(k), v]) = pair.as_array().map(Vec::as_slice) {
                    push(&mut out, k, Some(v));
                }
            }
        }
        _ => {}
    }
    push(&mut out, "level", Some(&Value::String(level.to_string())));
    for field in [
        "environment",
        "release",
        "dist",
        "server_name",
        "logger",
        "transaction",
    ] {
        push(&mut out, field, event.get(field));
    }
    let contexts = event.get("contexts");
    for ctx in ["browser", "os", "runtime"] {
        let Some(c) = contexts.and_then(|c| c.get(ctx)) else {
            continue;
        };
        let name = c.get("name").and_then(Value::as_str);
        let version = c.get("version").and_then(Value::as_str);
        let both = match (name, version) {
            (Some(n), Some(v)) => Some(Value::String(format!("{n} {v}"))),
            (Some(n), None) => Some(Value::String(n.to_string())),
            _ => None,
        };
        push(&mut out, ctx, both.as_ref());
        push(&mut out, &format!("{ctx}.name"), c.get("name"));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn explicit_tags_then_promoted_fields_bounded() {
        let mut e = json!({
            "tags": {"customer": "acme", "bad key": "x", "empty": "", "long": "v".repeat(201),
                     "nested": {"a": 1}, "n": 5},
            "server_name": "web-1",
            "contexts": {"browser": {"name": "Chrome", "version": "120.0"}, "os": {"name": "Linux"}}
        });
        e["tags"]["k".repeat(33)] = json!("too long a key");
        let t = tags(&e, "error");
        let keys: Vec<&str> = t.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "browser",
                "browser.name",
                "customer",
                "level",
                "n",
                "os",
                "os.name",
                "server_name"
            ]
        );
        assert!(t.contains(&("browser".into(), "Chrome 120.0".into())));
        assert!(t.contains(&("n".into(), "5".into())));
    }

    #[test]
    fn pairs_count_and_the_first_value_wins() {
        let pairs: Vec<Value> = (0..100).map(|i| json!([format!("k{i}"), "v"])).collect();
        let e = json!({"tags": pairs, "level": "info"});
        assert_eq!(tags(&e, "info").len(), MAX_TAGS);
        let e = json!({"tags": [["level", "fatal"]], "level": "info"});
        assert_eq!(
            tags(&e, "info"),
            [("level".to_string(), "fatal".to_string())]
        );
    }
}
