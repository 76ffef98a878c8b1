//! The Periskop client export parser (what a scrape or a push hands to `parse_payload`): must
//! never panic, and what it accepts must be bounded and stable (parsing its own output again
//! changes nothing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes::periskop::model::{
    self, MAX_CAUSE_DEPTH, MAX_CLASS_LEN, MAX_KEY_LEN, MAX_KEYS_PER_PAYLOAD, MAX_MESSAGE_LEN,
    MAX_OCCURRENCES_PER_KEY, MAX_STACK_LINE_LEN, MAX_STACK_LINES,
};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = model::parse_payload(data) else {
        return;
    };
    assert!(p.aggregated_errors.len() <= MAX_KEYS_PER_PAYLOAD);
    assert!(p.target_uuid.len() <= 128);
    for a in &p.aggregated_errors {
        assert!(!a.aggregation_key.is_empty());
        assert!(a.aggregation_key.len() <= MAX_KEY_LEN);
        assert!(matches!(a.severity.as_str(), "info" | "warning" | "error"));
        assert!(a.latest_errors.len() <= MAX_OCCURRENCES_PER_KEY);
        // The aggregation reads these times; they must not panic whatever they hold.
        let _ = model::parse_time_ms(&a.created_at);
        for o in &a.latest_errors {
            let _ = model::parse_time_ms(&o.timestamp);
            assert!(matches!(o.severity.as_str(), "info" | "warning" | "error"));
            let mut depth = 0;
            let mut e = Some(&o.error);
            while let Some(x) = e {
                assert!(x.class.len() <= MAX_CLASS_LEN);
                assert!(x.message.len() <= MAX_MESSAGE_LEN);
                assert!(x.stacktrace.len() <= MAX_STACK_LINES);
                assert!(x.stacktrace.iter().all(|l| l.len() <= MAX_STACK_LINE_LEN));
                depth += 1;
                e = x.cause.as_deref();
            }
            assert!(depth <= MAX_CAUSE_DEPTH);
        }
    }
    // What was accepted and bounded is a fixed point: Panoptes stores and re-serves it.
    let json = serde_json::to_vec(&p).expect("a parsed payload serialises");
    let again = model::parse_payload(&json).expect("a bounded payload parses again");
    assert_eq!(again, p);
});
