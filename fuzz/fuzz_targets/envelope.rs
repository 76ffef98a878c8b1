//! Envelope framing, event ids and what ingest reads out of every event item: must never panic,
//! whatever the bytes. The lean parse ingest uses must accept and refuse what the full parse
//! does, and group alike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes::sentry::{envelope, event};

fuzz_target!(|data: &[u8]| {
    let Ok(env) = envelope::parse(data) else {
        return;
    };
    if let Some(id) = &env.header.event_id {
        let _ = envelope::normalize_event_id(id);
    }
    for item in &env.items {
        let full = serde_json::from_slice::<serde_json::Value>(item.payload);
        let lean = event::lean::parse(item.payload);
        assert_eq!(full.is_ok(), lean.is_ok(), "{full:?} vs {lean:?}");
        if let (Ok(v), Ok(l)) = (full, lean) {
            let s = event::summarize(&v);
            assert_eq!(s.group.len(), 32);
            assert_eq!(s, event::summarize(&l));
        }
    }
});
