//! Envelope framing, event ids and what ingest reads out of every event item: must never panic,
//! whatever the bytes.
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
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(item.payload) {
            let s = event::summarize(&v);
            assert_eq!(s.group.len(), 32);
        }
    }
});
