//! Periskop's wire formats: what clients export (parsed leniently, then bounded) and what
//! Periskop's server answers (rendered for the compatible routes).
//!
//! Clients differ in small ways (null vs missing, `created_at` or not, `target_uuid` or not), so
//! parsing accepts all of them; everything kept is then cut to fixed sizes, so one noisy target
//! cannot grow memory or the store without bound.

use std::collections::BTreeMap;

use panoptes_types::{PeriskopError, PeriskopHttpContext, null_default};
use serde::{Deserialize, Serialize};

/// Bounds applied to every parsed payload.
pub const MAX_KEYS_PER_PAYLOAD: usize = 10_000;
pub const MAX_OCCURRENCES_PER_KEY: usize = 100;
pub const MAX_KEY_LEN: usize = 512;
pub const MAX_CLASS_LEN: usize = 512;
pub const MAX_MESSAGE_LEN: usize = 16 * 1024;
pub const MAX_STACK_LINES: usize = 256;
pub const MAX_STACK_LINE_LEN: usize = 2048;
pub const MAX_CAUSE_DEPTH: usize = 16;
pub const MAX_HEADERS: usize = 64;
pub const MAX_HEADER_LEN: usize = 4096;
pub const MAX_REQUEST_BODY: usize = 16 * 1024;
pub const MAX_URL_LEN: usize = 4096;

/// What a client exports (`GET /-/exceptions`) or pushes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Payload {
    #[serde(default, deserialize_with = "null_default")]
    pub aggregated_errors: Vec<Aggregate>,
    /// Unique per process; absent in older clients.
    #[serde(default, deserialize_with = "null_default")]
    pub target_uuid: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Aggregate {
    pub aggregation_key: String,
    #[serde(default, deserialize_with = "null_default")]
    pub total_count: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub severity: String,
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: String,
    #[serde(default, deserialize_with = "null_default")]
    pub latest_errors: Vec<Occurrence>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Occurrence {
    #[serde(default, deserialize_with = "null_default")]
    pub error: PeriskopError,
    #[serde(default, deserialize_with = "null_default")]
    pub uuid: String,
    #[serde(default, deserialize_with = "null_default")]
    pub timestamp: String,
    #[serde(default, deserialize_with = "null_default")]
    pub severity: String,
    #[serde(default)]
    pub http_context: Option<PeriskopHttpContext>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("aggregated_errors[{index}]: {message}")]
    Invalid { index: usize, message: String },
}

/// Parses and bounds an export. Unknown fields are ignored (clients add some), empty severities
/// become `error` (as in Periskop), oversized strings are cut, and keys beyond the bound are
/// dropped.
pub fn parse_payload(bytes: &[u8]) -> Result<Payload, ParseError> {
    let mut p: Payload = serde_json::from_slice(bytes).map_err(|e| ParseError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    p.aggregated_errors.truncate(MAX_KEYS_PER_PAYLOAD);
    truncate(&mut p.target_uuid, 128);
    for (index, a) in p.aggregated_errors.iter_mut().enumerate() {
        if a.aggregation_key.is_empty() {
            return Err(ParseError::Invalid {
                index,
                message: "empty aggregation_key".into(),
            });
        }
        truncate(&mut a.aggregation_key, MAX_KEY_LEN);
        a.severity = normalize_severity(&a.severity);
        truncate(&mut a.created_at, 64);
        // Clients append, so the newest occurrences are at the end.
        if a.latest_errors.len() > MAX_OCCURRENCES_PER_KEY {
            let drop = a.latest_errors.len() - MAX_OCCURRENCES_PER_KEY;
            a.latest_errors.drain(..drop);
        }
        for o in &mut a.latest_errors {
            bound_occurrence(o);
        }
    }
    p.aggregated_errors = merge_duplicate_keys(std::mem::take(&mut p.aggregated_errors));
    Ok(p)
}

/// One aggregate per key: a client that reports a key twice (or two keys that are equal once
/// cut to `MAX_KEY_LEN`) would otherwise look, to the increase arithmetic, like a process
/// restarting on every scrape. Counts add up, occurrences are kept in order (bounded), the
/// earliest `created_at` wins.
fn merge_duplicate_keys(list: Vec<Aggregate>) -> Vec<Aggregate> {
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out: Vec<Aggregate> = Vec::with_capacity(list.len());
    for a in list {
        match index.get(&a.aggregation_key) {
            Some(&i) => {
                let kept = &mut out[i];
                kept.total_count = kept.total_count.saturating_add(a.total_count);
                if !a.created_at.is_empty()
                    && (kept.created_at.is_empty() || a.created_at < kept.created_at)
                {
                    kept.created_at = a.created_at;
                }
                kept.latest_errors.extend(a.latest_errors);
                if kept.latest_errors.len() > MAX_OCCURRENCES_PER_KEY {
                    let drop = kept.latest_errors.len() - MAX_OCCURRENCES_PER_KEY;
                    kept.latest_errors.drain(..drop);
                }
            }
            None => {
                index.insert(a.aggregation_key.clone(), out.len());
                out.push(a);
            }
        }
    }
    out
}

/// `info`, `warning` or `error`; anything else (including empty) is `error`.
pub fn normalize_severity(s: &str) -> String {
    match s.to_ascii_lowercase().as_str() {
        "info" => "info".into(),
        "warning" | "warn" => "warning".into(),
        _ => "error".into(),
    }
}

fn bound_occurrence(o: &mut Occurrence) {
    truncate(&mut o.uuid, 128);
    truncate(&mut o.timestamp, 64);
    o.severity = normalize_severity(&o.severity);
    bound_error(&mut o.error, 0);
    if let Some(h) = &mut o.http_context {
        truncate(&mut h.request_method, 32);
        truncate(&mut h.request_url, MAX_URL_LEN);
        truncate(&mut h.request_body, MAX_REQUEST_BODY);
        if h.request_headers.len() > MAX_HEADERS {
            h.request_headers = std::mem::take(&mut h.request_headers)
                .into_iter()
                .take(MAX_HEADERS)
                .collect();
        }
        let headers: BTreeMap<String, String> = std::mem::take(&mut h.request_headers)
            .into_iter()
            .map(|(mut k, mut v)| {
                truncate(&mut k, 256);
                truncate(&mut v, MAX_HEADER_LEN);
                (k, v)
            })
            .collect();
        h.request_headers = headers;
    }
}

fn bound_error(e: &mut PeriskopError, depth: usize) {
    truncate(&mut e.class, MAX_CLASS_LEN);
    truncate(&mut e.message, MAX_MESSAGE_LEN);
    e.stacktrace.truncate(MAX_STACK_LINES);
    for line in &mut e.stacktrace {
        truncate(line, MAX_STACK_LINE_LEN);
    }
    if depth + 1 >= MAX_CAUSE_DEPTH {
        e.cause = None;
    } else if let Some(c) = &mut e.cause {
        bound_error(c, depth + 1);
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// RFC 3339 text to Unix milliseconds.
pub fn parse_time_ms(s: &str) -> Option<u64> {
    let t: jiff::Timestamp = s.parse().ok()?;
    u64::try_from(t.as_millisecond()).ok()
}

/// Periskop server's `ErrorAggregate` (what `GET /services/{name}/errors/` returns): times are
/// Unix seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompatAggregate {
    pub aggregation_key: String,
    pub total_count: u64,
    pub severity: String,
    pub latest_errors: Vec<CompatOccurrence>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompatOccurrence {
    pub error: PeriskopError,
    pub uuid: String,
    pub timestamp: i64,
    pub severity: String,
    pub http_context: Option<PeriskopHttpContext>,
}

/// Periskop server's target entry (`GET /targets/` maps service names to lists of these).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompatTarget {
    pub endpoint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reported_twice_is_one_aggregate() {
        let long = "k".repeat(MAX_KEY_LEN + 10);
        let body = format!(
            r#"{{"aggregated_errors": [
                {{"aggregation_key": "a", "total_count": 2, "created_at": "2026-01-02T00:00:00Z"}},
                {{"aggregation_key": "b", "total_count": 1}},
                {{"aggregation_key": "a", "total_count": 3, "created_at": "2026-01-01T00:00:00Z"}},
                {{"aggregation_key": "{long}x", "total_count": 4}},
                {{"aggregation_key": "{long}y", "total_count": 5}}
            ], "target_uuid": "t"}}"#
        );
        let p = parse_payload(body.as_bytes()).expect("parses");
        let keys: Vec<(&str, u64)> = p
            .aggregated_errors
            .iter()
            .map(|a| (a.aggregation_key.as_str(), a.total_count))
            .collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert_eq!(keys[0], ("a", 5));
        assert_eq!(keys[1], ("b", 1));
        assert_eq!(keys[2].1, 9, "keys equal once cut are one");
        assert_eq!(p.aggregated_errors[0].created_at, "2026-01-01T00:00:00Z");
    }

    const FIXTURE: &str = include_str!("../../fixtures/periskop/python-client-0.2.0.json");

    #[test]
    fn the_python_client_export_parses() {
        let p = parse_payload(FIXTURE.as_bytes()).expect("fixture parses");
        assert_eq!(p.target_uuid, "d45bffe6-e623-11f1-b93e-02fc00000001");
        assert_eq!(p.aggregated_errors.len(), 3);
        let zde = &p.aggregated_errors[0];
        assert_eq!(zde.aggregation_key, "ZeroDivisionError@d76f75e7");
        assert_eq!(zde.total_count, 7);
        assert_eq!(zde.severity, "error");
        assert_eq!(zde.latest_errors.len(), 7);
        assert_eq!(zde.latest_errors[0].error.class, "ZeroDivisionError");
        assert_eq!(zde.latest_errors[0].error.message, "division by zero");
        assert!(zde.latest_errors[0].http_context.is_none());
        assert_eq!(
            parse_time_ms(&zde.created_at),
            Some(1_795_317_698_624),
            "2026-11-22T03:21:38.624Z"
        );
        let key_error = &p.aggregated_errors[1];
        assert_eq!(key_error.total_count, 3);
        let http = key_error.latest_errors[2]
            .http_context
            .as_ref()
            .expect("http context");
        assert_eq!(http.request_method, "POST");
        assert_eq!(http.request_url, "http://inventory.internal/reserve/sku-2");
        assert_eq!(http.request_headers["Accept"], "application/json");
        assert_eq!(http.request_body, "{\"qty\": 2}");
        let runtime = &p.aggregated_errors[2];
        assert_eq!(runtime.total_count, 1);
        assert!(runtime.latest_errors[0].error.stacktrace.len() > 5);
    }

    #[test]
    fn older_clients_without_uuid_or_created_at_and_with_nulls_parse() {
        let body = br#"{"aggregated_errors":[{"aggregation_key":"E@1","total_count":2,
            "severity":"","latest_errors":[{"error":{"class":"E","message":null,
            "stacktrace":null,"cause":{"class":"Inner","message":"m","stacktrace":[],"cause":null}},
            "uuid":"u","timestamp":"2021-01-01T00:00:00Z","severity":null,"http_context":null}]}]}"#;
        let p = parse_payload(body).expect("parses");
        assert_eq!(p.target_uuid, "");
        let a = &p.aggregated_errors[0];
        assert_eq!(a.severity, "error");
        assert_eq!(a.created_at, "");
        let e = &a.latest_errors[0].error;
        assert_eq!(e.message, "");
        assert_eq!(e.cause.as_ref().map(|c| c.class.as_str()), Some("Inner"));
    }

    #[test]
    fn garbage_is_an_error_with_a_position() {
        let err = parse_payload(b"<html>oops</html>").expect_err("not json");
        assert!(err.to_string().contains("line 1 column 1"), "{err}");
        let err = parse_payload(br#"{"aggregated_errors":[{"aggregation_key":""}]}"#)
            .expect_err("empty key");
        assert!(err.to_string().contains("aggregated_errors[0]"), "{err}");
        let err =
            parse_payload(br#"{"aggregated_errors":[{"aggregation_key":"k","total_count":-1}]}"#)
                .expect_err("negative count");
        assert!(err.to_string().contains("invalid JSON"), "{err}");
    }

    #[test]
    fn sizes_and_cause_depth_are_bounded() {
        let mut cause = serde_json::json!(null);
        for i in 0..40 {
            cause = serde_json::json!({"class": format!("C{i}"), "message": "", "stacktrace": [], "cause": cause});
        }
        let body = serde_json::json!({"aggregated_errors": [{
            "aggregation_key": "k".repeat(5000), "total_count": 1,
            "latest_errors": [{"error": {"class": "X", "message": "é".repeat(20_000),
                "stacktrace": vec!["line"; 1000], "cause": cause}}]
        }]});
        let p = parse_payload(body.to_string().as_bytes()).expect("parses");
        let a = &p.aggregated_errors[0];
        assert_eq!(a.aggregation_key.len(), MAX_KEY_LEN);
        let e = &a.latest_errors[0].error;
        assert!(e.message.len() <= MAX_MESSAGE_LEN);
        assert_eq!(e.stacktrace.len(), MAX_STACK_LINES);
        let mut depth = 0;
        let mut c = e.cause.as_deref();
        while let Some(x) = c {
            depth += 1;
            c = x.cause.as_deref();
        }
        assert_eq!(depth, MAX_CAUSE_DEPTH - 1);
    }
}
