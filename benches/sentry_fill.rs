//! Fills a store with Sentry events and issues as ingest and the digest write them (included
//! with `#[path]` by the issues and start-up benchmarks).

#![allow(dead_code)]

use panoptes::sentry::event::summarize;
use panoptes::sentry::issues::IssueRecord;
use panoptes::store::sentry::{DigestWrite, EventRow, Received, SentryWrite};
use panoptes::store::{Store, Write};

pub const BASE_MS: u64 = 1_790_000_000_000;

pub fn payload(n: u64, issue: u64) -> Vec<u8> {
    // The stored form: a header line, then the SDK's JSON.
    let mut p = format!(r#"{{"project":7,"received_ms":{}}}"#, BASE_MS + n).into_bytes();
    p.push(b'\n');
    p.extend_from_slice(
        serde_json::json!({
            "event_id": format!("{n:032x}"),
            "platform": "python", "level": "error", "release": "shop@2.4.1",
            "exception": {"values": [{"type": format!("Error{issue}"), "value": "division by zero",
                "stacktrace": {"frames": [{"filename": "checkout.py", "function": "price_per_unit",
                    "module": "shop.checkout", "lineno": 18, "context_line": "    return total / quantity",
                    "pre_context": ["def price_per_unit(total, quantity):"], "in_app": true}]}}]},
            "user": {"id": format!("u{}", n % 977)}, "tags": {"region": "eu-west-1"},
            "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}},
        })
        .to_string()
        .as_bytes(),
    );
    p
}

/// `events` events of project 7 spread round-robin over `issues` issues, 5,000 per transaction.
pub async fn fill(store: &Store, events: u64, issues: u64) {
    let batch = 5_000;
    let mut n = 0;
    while n < events {
        // As ingest and digest write them: the event once, then its index rows.
        let mut r = Received {
            project: 7,
            ..Default::default()
        };
        let mut w = DigestWrite::default();
        for _ in 0..batch.min(events - n) {
            let issue = n % issues + 1;
            r.events.push((format!("{n:032x}"), payload(n, issue)));
            w.events.push(EventRow {
                project: 7,
                event_id: format!("{n:032x}"),
                issue,
                received_ms: BASE_MS + n,
            });
            n += 1;
        }
        store
            .write(vec![
                Write::Sentry(SentryWrite::Received(Box::new(r))),
                Write::Sentry(SentryWrite::Digest(Box::new(w))),
            ])
            .await
            .expect("fill");
    }
    let mut w = DigestWrite::default();
    for issue in 1..=issues {
        let v: serde_json::Value = serde_json::json!({"exception": {"values": [{"type": format!("Error{issue}"), "value": "x"}]}});
        let s = summarize(&v);
        let mut r = IssueRecord::new(issue, 7, &s, BASE_MS + issue);
        for k in 0..(events / issues) {
            r.observe(&s, BASE_MS + issue + k * issues);
        }
        r.stored_events = events / issues;
        w.groups.push((7, s.group.clone(), issue));
        w.issues
            .push((issue, serde_json::to_vec(&r).expect("json")));
    }
    store
        .write(vec![Write::Sentry(SentryWrite::Digest(Box::new(w)))])
        .await
        .expect("issues");
}
