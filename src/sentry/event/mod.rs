//! What Panoptes reads out of an event: the grouping hash, title, culprit, level, release,
//! environment and the user, from the JSON any SDK (or raven, or a CSP report) sends.
//!
//! Grouping follows Sentry's order: an explicit `fingerprint` (where `{{ default }}` stands for
//! the default grouping), else the in-app frames of the main exception (per platform: Python
//! module + function + context line; JavaScript module + lower-cased file name + context line;
//! others the function), else exception type + normalised value, else the message template (or
//! the normalised message).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Longest title and culprit kept.
const MAX_TITLE: usize = 200;

/// The facts the fast path and the digest need from one event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// 32 hex characters of SHA-256 over the grouping components.
    pub group: String,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub platform: String,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// A stable identity of the user (`id:`, `email:`, `username:` or `ip:` prefix).
    pub user: Option<String>,
    /// The event's own time, if it says (ms).
    pub timestamp_ms: Option<u64>,
    /// Exception type of the main exception, if any.
    pub exception_type: Option<String>,
    /// The event's tags, bounded (`tags.rs`), sorted by key; for alert rules' tag matchers.
    /// Absent from inbox rows written before tags were read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A string, or a number written as one (`release: 123`).
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn clip(s: &str, max: usize) -> String {
    let first = s.lines().next().unwrap_or("");
    super::auth::truncate(first, max).to_string()
}

/// `exception.values[]`, or the legacy forms (`exception: [...]`, `sentry.interfaces.Exception`).
pub fn exceptions(event: &Value) -> Vec<&Value> {
    let list = all_exceptions(event);
    // `captureMessage` in the JavaScript SDKs attaches a synthetic exception without a type
    // (for its stack trace) next to the message: the event is a message, not an exception.
    let synthetic_message = list.last().is_some_and(|e| {
        e.get("type").is_none_or(Value::is_null)
            && e.pointer("/mechanism/synthetic").and_then(Value::as_bool) == Some(true)
    }) && message(event).is_some();
    if synthetic_message { Vec::new() } else { list }
}

fn all_exceptions(event: &Value) -> Vec<&Value> {
    let e = event
        .get("exception")
        .or_else(|| event.get("sentry.interfaces.Exception"));
    match e {
        Some(Value::Object(o)) => match o.get("values") {
            Some(Value::Array(a)) => a.iter().filter(|v| v.is_object()).collect(),
            // A single exception object without `values`.
            _ if o.contains_key("type") || o.contains_key("value") => {
                vec![e.unwrap_or(&Value::Null)]
            }
            _ => Vec::new(),
        },
        Some(Value::Array(a)) => a.iter().filter(|v| v.is_object()).collect(),
        _ => Vec::new(),
    }
}

fn frames(exc: &Value) -> Vec<&Value> {
    exc.get("stacktrace")
        .and_then(|st| st.get("frames"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|f| f.is_object()).collect())
        .unwrap_or_default()
}

/// The message: `logentry`/`sentry.interfaces.Message` (`message` template with `params`, or
/// `formatted`), else a plain `message` string. Returns (template for grouping, shown text).
fn message(event: &Value) -> Option<(String, String)> {
    let entry = event
        .get("logentry")
        .or_else(|| event.get("sentry.interfaces.Message"))
        .or_else(|| event.get("message").filter(|m| m.is_object()));
    if let Some(entry) = entry {
        let template = s(entry, "message");
        let formatted = s(entry, "formatted");
        let has_params = entry
            .get("params")
            .is_some_and(|p| p.as_array().is_some_and(|a| !a.is_empty()) || p.is_object());
        let shown = formatted.or(template)?.to_string();
        let group = match (template, has_params) {
            (Some(t), true) => t.to_string(),
            _ => normalize(&shown),
        };
        return Some((group, shown));
    }
    let m = s(event, "message")?;
    Some((normalize(m), m.to_string()))
}

fn level(event: &Value, default: &str) -> String {
    match event.get("level") {
        Some(Value::String(l)) => match l.to_ascii_lowercase().as_str() {
            "fatal" | "critical" => "fatal",
            "error" => "error",
            "warning" | "warn" => "warning",
            "info" | "log" => "info",
            "debug" | "trace" => "debug",
            _ => default,
        }
        .to_string(),
        // raven and other legacy clients send Python's logging levels.
        Some(Value::Number(n)) => match n.as_i64().unwrap_or(40) {
            i64::MIN..=10 => "debug",
            11..=20 => "info",
            21..=30 => "warning",
            31..=40 => "error",
            _ => "fatal",
        }
        .to_string(),
        _ => default.to_string(),
    }
}

fn timestamp_ms(event: &Value) -> Option<u64> {
    match event.get("timestamp")? {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite() && *f > 0.0 && *f < 1e11)
            .map(|f| (f * 1000.0) as u64),
        Value::String(t) => {
            if let Ok(ts) = t.parse::<jiff::Timestamp>() {
                return u64::try_from(ts.as_millisecond()).ok();
            }
            // Naive "2026-11-22T03:21:37.188" (raven): UTC.
            t.parse::<jiff::civil::DateTime>()
                .ok()
                .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
                .and_then(|z| u64::try_from(z.timestamp().as_millisecond()).ok())
        }
        _ => None,
    }
}

fn user(event: &Value) -> Option<String> {
    let u = event
        .get("user")
        .or_else(|| event.get("sentry.interfaces.User"))?;
    for (field, prefix) in [
        ("id", "id"),
        ("email", "email"),
        ("username", "username"),
        ("ip_address", "ip"),
    ] {
        if let Some(v) = text(u.get(field)) {
            return Some(format!("{prefix}:{}", super::auth::truncate(&v, 200)));
        }
    }
    None
}

fn is_js(platform: &str) -> bool {
    matches!(platform, "javascript" | "node")
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The grouping components of one in-app frame.
fn frame_components(platform: &str, f: &Value, out: &mut Vec<String>) {
    let function = s(f, "function").unwrap_or("");
    let module = s(f, "module").unwrap_or("");
    let context = s(f, "context_line").map(str::trim).unwrap_or("");
    if platform == "python" {
        out.push(format!("{module}|{function}|{context}"));
    } else if is_js(platform) {
        let file = s(f, "filename")
            .or_else(|| s(f, "abs_path"))
            .map(|p| basename(p).to_ascii_lowercase())
            .unwrap_or_default();
        out.push(format!("{module}|{file}|{context}"));
    } else if !function.is_empty() {
        out.push(function.to_string());
    } else {
        out.push(format!("{}|{}", s(f, "filename").unwrap_or(""), context));
    }
}

/// Default grouping components (before any fingerprint).
fn default_components(event: &Value, platform: &str) -> Vec<String> {
    let excs = exceptions(event);
    if let Some(main) = excs.last() {
        let ty = s(main, "type").unwrap_or("");
        let in_app: Vec<&Value> = frames(main)
            .into_iter()
            .filter(|f| f.get("in_app").and_then(Value::as_bool) == Some(true))
            .collect();
        if !in_app.is_empty() {
            let mut out = vec![format!("exception:{ty}")];
            for f in in_app {
                frame_components(platform, f, &mut out);
            }
            return out;
        }
        let value = s(main, "value").unwrap_or("");
        if !ty.is_empty() || !value.is_empty() {
            return vec![format!("exception:{ty}"), normalize(value)];
        }
    }
    if let Some((template, _)) = message(event) {
        return vec![format!("message:{template}")];
    }
    if let Some(csp) = event.get("csp") {
        return vec![
            "csp".into(),
            s(csp, "effective_directive").unwrap_or("").into(),
            host_of(s(csp, "blocked_uri").unwrap_or("")).into(),
        ];
    }
    vec![
        "fallback".into(),
        s(event, "transaction")
            .or_else(|| s(event, "culprit"))
            .unwrap_or("")
            .into(),
    ]
}

fn host_of(uri: &str) -> &str {
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or(uri);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Most fingerprint entries read, and the longest entry kept; Sentry's SDKs send a handful of
/// short ones. Beyond, entries are ignored or clipped, so one event cannot make grouping cost
/// more than its own size (each `{{ default }}` once re-ran the default grouping).
const MAX_FINGERPRINT_ENTRIES: usize = 32;
const MAX_FINGERPRINT_ENTRY: usize = 1024;

/// `{{ default }}` with any spaces, checked without copying the entry.
fn is_default_marker(s: &str) -> bool {
    s.len() <= 64 && s.chars().filter(|c| *c != ' ').eq("{{default}}".chars())
}

/// Feeds the grouping components to `h`: each followed by a zero byte.
fn hash_component(h: &mut Sha256, c: &str) {
    h.update(c.as_bytes());
    h.update([0u8]);
}

/// Hashes the explicit `fingerprint`, if the event has one; `{{ default }}` stands for the
/// default components, computed at most once.
fn hash_fingerprint(event: &Value, platform: &str, h: &mut Sha256) -> bool {
    let Some(parts) = event.get("fingerprint").and_then(Value::as_array) else {
        return false;
    };
    if parts.is_empty() {
        return false;
    }
    let mut default: Option<Vec<String>> = None;
    for p in parts.iter().take(MAX_FINGERPRINT_ENTRIES) {
        match p {
            Value::String(s) if is_default_marker(s) => {
                let d = default.get_or_insert_with(|| default_components(event, platform));
                for c in d.iter() {
                    hash_component(h, c);
                }
            }
            Value::String(s) => {
                h.update(b"fp:");
                hash_component(h, super::auth::truncate(s, MAX_FINGERPRINT_ENTRY));
            }
            Value::Number(n) => hash_component(h, &format!("fp:{n}")),
            Value::Bool(b) => hash_component(h, &format!("fp:{b}")),
            _ => {}
        }
    }
    true
}

fn culprit(event: &Value, platform: &str) -> String {
    if let Some(c) = s(event, "culprit").or_else(|| s(event, "transaction")) {
        return clip(c, MAX_TITLE);
    }
    let excs = exceptions(event);
    let Some(main) = excs.last() else {
        return String::new();
    };
    let fr = frames(main);
    let frame = fr
        .iter()
        .rev()
        .find(|f| f.get("in_app").and_then(Value::as_bool) == Some(true))
        .or(fr.last());
    let Some(f) = frame else {
        return String::new();
    };
    let function = s(f, "function").unwrap_or("?");
    let place = if is_js(platform) {
        s(f, "filename").or_else(|| s(f, "module"))
    } else {
        s(f, "module").or_else(|| s(f, "filename"))
    }
    .unwrap_or("?");
    clip(&format!("{place} in {function}"), MAX_TITLE)
}

fn title(event: &Value) -> String {
    let excs = exceptions(event);
    if let Some(main) = excs.last() {
        let ty = s(main, "type").unwrap_or("Error");
        return match s(main, "value") {
            Some(v) => clip(&format!("{ty}: {v}"), MAX_TITLE),
            None => clip(ty, MAX_TITLE),
        };
    }
    if let Some((_, shown)) = message(event) {
        return clip(&shown, MAX_TITLE);
    }
    if let Some(csp) = event.get("csp") {
        let directive = s(csp, "effective_directive")
            .or_else(|| s(csp, "violated_directive"))
            .unwrap_or("resource");
        let directive = directive.split(['-', ' ']).next().unwrap_or(directive);
        return clip(
            &format!(
                "Blocked '{directive}' from '{}'",
                host_of(s(csp, "blocked_uri").unwrap_or("inline"))
            ),
            MAX_TITLE,
        );
    }
    "<unlabeled event>".into()
}

/// Reads everything Panoptes needs from an event. `default_level` is what a missing level means.
pub fn summarize(event: &Value) -> Summary {
    let platform = s(event, "platform").unwrap_or("other").to_ascii_lowercase();
    let mut h = Sha256::new();
    if !hash_fingerprint(event, &platform, &mut h) {
        for c in default_components(event, &platform) {
            hash_component(&mut h, &c);
        }
    }
    let digest = h.finalize();
    let group = hex::encode(&digest[..16]);
    let excs = exceptions(event);
    let level = level(event, "error");
    Summary {
        group,
        title: title(event),
        culprit: culprit(event, &platform),
        tags: tags::tags(event, &level),
        level,
        release: text(event.get("release")).map(|r| clip(&r, 200)),
        environment: text(event.get("environment")).map(|e| clip(&e, 64)),
        user: user(event),
        timestamp_ms: timestamp_ms(event),
        exception_type: excs
            .last()
            .and_then(|e| s(e, "type"))
            .map(|t| clip(t, MAX_TITLE)),
        platform,
    }
}

/// Replaces the parts of a message that vary between occurrences of the same error: e-mail
/// addresses, IP addresses, UUIDs, hex numbers, timestamps and integers.
mod normalize;
pub use normalize::normalize;
pub mod lean;
pub mod tags;

#[cfg(test)]
mod tests;
