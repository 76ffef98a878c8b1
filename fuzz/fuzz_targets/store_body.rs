//! The legacy store body (JSON or base64 of zlib), content decodings with their size limit, the
//! auth header parser and event summaries: must never panic, and never exceed the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes::sentry::{auth, body, event};

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = auth::parse_header(text);
        let _ = auth::parse_query(text);
        let _ = auth::parse_dsn(text);
        let _ = event::normalize(text);
    }
    for coding in ["gzip", "deflate", "br"] {
        let mut charge = panoptes::sentry::Charge::standalone(4 * LIMIT as u64);
        let raw = bytes::Bytes::copy_from_slice(data);
        if let Ok(out) = body::decode(Some(coding), raw, LIMIT, &mut charge) {
            assert!(out.len() <= LIMIT);
        }
    }
    let mut charge = panoptes::sentry::Charge::standalone(4 * LIMIT as u64);
    if let Ok(json) = body::legacy_store(bytes::Bytes::copy_from_slice(data), LIMIT, &mut charge) {
        assert!(json.len() <= LIMIT);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&json) {
            let _ = event::summarize(&v);
        }
    }
});
