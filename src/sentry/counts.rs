//! Counters from session updates, session aggregates and client reports, named so that a client
//! cannot invent keys: statuses are a fixed list, client-report reasons and categories Sentry's
//! own enums (anything else counts as `other`), releases bounded per project.
//!
//! Owns: counter names and the release each counter is kept under. Depends on: `record` (item
//! kinds). Quantities are client-supplied up to `u64::MAX`: every sum saturates.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::OTHER_RELEASE;
use super::record::Kind;

/// Why an SDK discarded items (Sentry's client reports; the develop docs' list).
const DISCARD_REASONS: &[&str] = &[
    "queue_overflow",
    "cache_overflow",
    "buffer_overflow",
    "ratelimit_backoff",
    "network_error",
    "sample_rate",
    "before_send",
    "event_processor",
    "send_error",
    "internal_sdk_error",
    "insufficient_data",
    "backpressure",
];

/// Sentry's data categories (the same names as in rate limits).
const DATA_CATEGORIES: &[&str] = &[
    "default",
    "error",
    "transaction",
    "security",
    "attachment",
    "attachment_item",
    "session",
    "profile",
    "profile_chunk",
    "profile_chunk_ui",
    "replay",
    "feedback",
    "user_report_v2",
    "span",
    "monitor",
    "monitor_seat",
    "log_item",
    "log_byte",
    "metric_bucket",
    "statsd",
    "trace_metric",
    "internal",
];

/// `value` when it is one of `known`, else `other`.
fn known(value: Option<&str>, list: &[&'static str]) -> &'static str {
    value
        .and_then(|v| list.iter().find(|k| **k == v))
        .copied()
        .unwrap_or("other")
}

fn release_of(v: &Value) -> String {
    v.pointer("/attrs/release")
        .and_then(Value::as_str)
        .map(|r| super::auth::truncate(r, 200).to_string())
        .unwrap_or_default()
}

/// One counter to add to: (release, counter name, amount).
pub(super) type Count = (String, String, u64);

/// Counters from a session update, a session aggregate or a client report.
pub(super) fn session_counts(kind: Kind, v: &Value) -> Vec<Count> {
    let mut out = Vec::new();
    match kind {
        Kind::Session => {
            let release = release_of(v);
            if v.get("init").and_then(Value::as_bool) == Some(true) {
                out.push((release.clone(), "sessions.started".into(), 1));
            }
            if let Some(status) = v.get("status").and_then(Value::as_str)
                && matches!(status, "exited" | "crashed" | "abnormal" | "errored")
            {
                out.push((release, format!("sessions.{status}"), 1));
            }
        }
        Kind::Sessions => {
            let release = release_of(v);
            for agg in v
                .get("aggregates")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .take(1000)
            {
                let mut started: u64 = 0;
                for status in ["exited", "errored", "abnormal", "crashed"] {
                    let n = agg.get(status).and_then(Value::as_u64).unwrap_or(0);
                    if n > 0 {
                        started = started.saturating_add(n);
                        out.push((release.clone(), format!("sessions.{status}"), n));
                    }
                }
                if started > 0 {
                    out.push((release.clone(), "sessions.started".into(), started));
                }
            }
        }
        Kind::ClientReport => {
            for d in v
                .get("discarded_events")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .take(100)
            {
                let reason = known(d.get("reason").and_then(Value::as_str), DISCARD_REASONS);
                let category = known(d.get("category").and_then(Value::as_str), DATA_CATEGORIES);
                let n = d.get("quantity").and_then(Value::as_u64).unwrap_or(0);
                if n > 0 {
                    out.push((String::new(), format!("discarded.{reason}.{category}"), n));
                }
            }
        }
        _ => {}
    }
    out
}

/// The release a counter is kept under: its own when `known` (the releases with counters in
/// the store) or this batch's `new` ones already have it, or while the project has fewer than
/// `max`; else `other`. A release taken here is added to `new`, which joins `known` only once
/// the batch is committed.
pub(super) fn release_label(
    known: &HashMap<u64, HashSet<String>>,
    new: &mut HashMap<u64, HashSet<String>>,
    project: u64,
    release: String,
    max: usize,
) -> String {
    let stored = known.get(&project);
    if stored.is_some_and(|k| k.contains(&release)) {
        return release;
    }
    let added = new.entry(project).or_default();
    if added.contains(&release) {
        return release;
    }
    if stored.map_or(0, HashSet::len) + added.len() >= max {
        return OTHER_RELEASE.to_string();
    }
    added.insert(release.clone());
    release
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_updates_aggregates_and_client_reports_count() {
        let s = session_counts(
            Kind::Session,
            &json!({"init": true, "status": "exited", "attrs": {"release": "r1"}}),
        );
        assert_eq!(
            s,
            vec![
                ("r1".to_string(), "sessions.started".to_string(), 1),
                ("r1".to_string(), "sessions.exited".to_string(), 1)
            ]
        );
        let a = session_counts(
            Kind::Sessions,
            &json!({"aggregates": [{"started": "x", "exited": 3, "crashed": 1}], "attrs": {"release": "r2"}}),
        );
        assert!(a.contains(&("r2".into(), "sessions.started".into(), 4)));
        assert!(a.contains(&("r2".into(), "sessions.crashed".into(), 1)));
        let c = session_counts(
            Kind::ClientReport,
            &json!({"discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 23}, {"reason": "x;DROP", "category": "e", "quantity": 0}]}),
        );
        assert_eq!(
            c,
            vec![(String::new(), "discarded.queue_overflow.error".into(), 23)]
        );
    }

    /// A client inventing reasons and categories adds no counter names: they are Sentry's
    /// enums, anything else `other`.
    #[test]
    fn client_report_names_are_sentrys_enums() {
        let invented: Vec<Value> = (0..100)
            .map(|i| json!({"reason": format!("reason{i}"), "category": format!("cat{i}"), "quantity": 1}))
            .collect();
        let c = session_counts(Kind::ClientReport, &json!({ "discarded_events": invented }));
        assert_eq!(c.len(), 100);
        assert!(
            c.iter().all(|(_, name, _)| name == "discarded.other.other"),
            "{c:?}"
        );
        let c = session_counts(
            Kind::ClientReport,
            &json!({"discarded_events": [{"reason": "sample_rate", "category": "transaction", "quantity": 2}, {"reason": "before_send", "category": "lemon", "quantity": 1}]}),
        );
        let names: Vec<&str> = c.iter().map(|(_, n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "discarded.sample_rate.transaction",
                "discarded.before_send.other"
            ]
        );
    }

    /// Quantities are the client's, up to u64::MAX: sums saturate instead of panicking.
    #[test]
    fn huge_quantities_saturate() {
        let a = session_counts(
            Kind::Sessions,
            &json!({"aggregates": [{"exited": u64::MAX, "crashed": u64::MAX, "errored": 5}]}),
        );
        assert!(a.contains(&(String::new(), "sessions.started".into(), u64::MAX)));
    }

    #[test]
    fn releases_beyond_the_bound_count_as_other_and_stay_new_until_committed() {
        let known: HashMap<u64, HashSet<String>> =
            HashMap::from([(7, HashSet::from(["r1".to_string()]))]);
        let mut new = HashMap::new();
        assert_eq!(release_label(&known, &mut new, 7, "r1".into(), 2), "r1");
        assert_eq!(release_label(&known, &mut new, 7, "r2".into(), 2), "r2");
        assert_eq!(release_label(&known, &mut new, 7, "r2".into(), 2), "r2");
        assert_eq!(release_label(&known, &mut new, 7, "r3".into(), 2), "other");
        assert_eq!(release_label(&known, &mut new, 8, "r3".into(), 2), "r3");
        assert!(!known[&7].contains("r2"), "known only after the commit");
        assert_eq!(new[&7], HashSet::from(["r2".to_string()]));
    }
}
