//! Panoptes' own errors (failed scrapes, store errors, refused pushes), aggregated the way a
//! Periskop client would and exported at `/-/exceptions`, so one Panoptes can scrape another.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use panoptes_types::{PeriskopError, PeriskopHttpContext};
use sha2::{Digest, Sha256};

use super::model::{Aggregate, Occurrence, Payload};
use crate::clock::rfc3339;

/// Distinct keys kept; further kinds of error are counted into one overflow key.
const MAX_KEYS: usize = 1000;
/// Occurrences kept per key, as Periskop clients do.
const MAX_LATEST: usize = 10;
/// Longest message kept, in bytes. Error texts quote their input (a JSON error can quote a whole
/// 16 MiB string; a target's error text is the target's), and they end up in the export, in
/// target health, in events and in logs.
pub const MAX_MESSAGE: usize = 1024;
/// The scope of errors about services that do not exist (yet): a name in a URL must not be able
/// to mint keys of its own.
pub const UNKNOWN_SERVICE: &str = "(unknown service)";

/// `s` cut to [`MAX_MESSAGE`] bytes on a character boundary, with a mark when cut.
pub fn bounded(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        super::model::truncate(&mut s, MAX_MESSAGE);
        s.push('…');
    }
    s
}

struct Agg {
    severity: String,
    created_at_ms: u64,
    total: u64,
    latest: VecDeque<Occurrence>,
}

pub struct InternalErrors {
    target_uuid: String,
    keys: Mutex<BTreeMap<String, Agg>>,
}

impl InternalErrors {
    pub fn new(target_uuid: String) -> Self {
        InternalErrors {
            target_uuid,
            keys: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records one error. `scope` (e.g. the service name) separates keys of the same class, so
    /// "scrapes of inventory fail" and "scrapes of billing fail" are two keys, not thousands of
    /// per-message ones.
    pub fn report(
        &self,
        class: &str,
        scope: &str,
        message: String,
        http: Option<PeriskopHttpContext>,
        now_ms: u64,
    ) {
        let message = bounded(message);
        let scope = bounded(scope.to_string());
        let mut h = Sha256::new();
        h.update(class.as_bytes());
        h.update([0]);
        h.update(scope.as_bytes());
        let digest = hex::encode(h.finalize());
        let mut key = format!("{class}@{}", &digest[..8]);
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if !keys.contains_key(&key) && keys.len() >= MAX_KEYS {
            key = "Overflow@00000000".to_string();
        }
        let agg = keys.entry(key).or_insert_with(|| Agg {
            severity: "error".into(),
            created_at_ms: now_ms,
            total: 0,
            latest: VecDeque::new(),
        });
        agg.total += 1;
        if agg.latest.len() >= MAX_LATEST {
            agg.latest.pop_front();
        }
        agg.latest.push_back(Occurrence {
            error: PeriskopError {
                class: class.to_string(),
                message,
                stacktrace: vec![format!("{class} in {scope}")],
                cause: None,
            },
            uuid: uuid::Uuid::new_v4().to_string(),
            timestamp: rfc3339(now_ms),
            severity: "error".into(),
            http_context: http,
        });
    }

    /// The Periskop client export format.
    pub fn export(&self) -> Payload {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        Payload {
            target_uuid: self.target_uuid.clone(),
            aggregated_errors: keys
                .iter()
                .map(|(k, a)| Aggregate {
                    aggregation_key: k.clone(),
                    total_count: a.total,
                    severity: a.severity.clone(),
                    created_at: rfc3339(a.created_at_ms),
                    latest_errors: a.latest.iter().cloned().collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_aggregate_per_class_and_scope_and_export_parses_as_periskop() {
        let e = InternalErrors::new("me".into());
        for i in 0..12 {
            e.report(
                "ScrapeError",
                "inventory",
                format!("fail {i}"),
                None,
                1000 + i,
            );
        }
        e.report("ScrapeError", "billing", "x".into(), None, 5);
        let p = e.export();
        assert_eq!(p.aggregated_errors.len(), 2);
        let inv = p
            .aggregated_errors
            .iter()
            .find(|a| a.latest_errors[0].error.message.starts_with("fail"))
            .expect("inventory key");
        assert_eq!(inv.total_count, 12);
        assert_eq!(inv.latest_errors.len(), MAX_LATEST);
        assert_eq!(inv.latest_errors[MAX_LATEST - 1].error.message, "fail 11");
        let json = serde_json::to_vec(&p).expect("json");
        let back = super::super::model::parse_payload(&json).expect("our export parses");
        assert_eq!(back, p);
    }

    #[test]
    fn messages_are_cut_to_a_kibibyte_on_a_character_boundary() {
        let e = InternalErrors::new("me".into());
        let huge = format!("invalid type: string \"{}\"", "é".repeat(1 << 20));
        e.report("PushRejected", "billing", huge, None, 1);
        let p = e.export();
        let msg = &p.aggregated_errors[0].latest_errors[0].error.message;
        assert!(
            msg.len() <= MAX_MESSAGE + '…'.len_utf8(),
            "{} bytes",
            msg.len()
        );
        assert!(msg.starts_with("invalid type: string"));
        assert!(msg.ends_with('…'));
        assert_eq!(bounded("short".into()), "short");
    }
}
