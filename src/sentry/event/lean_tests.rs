use serde_json::{Value, json};

use super::super::summarize;
use super::{SKIP_FRAME, SKIP_TOP, parse};
use crate::sentry::envelope;

/// The full tree minus what `lean::parse` drops, walked here on the full tree: the oracle.
fn pruned(mut v: Value) -> Value {
    fn frames(v: &mut Value, in_stacktrace: bool) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if in_stacktrace
                        && k == "frames"
                        && let Value::Array(list) = child
                    {
                        for f in list.iter_mut() {
                            if let Value::Object(fm) = f {
                                for key in SKIP_FRAME {
                                    fm.remove(*key);
                                }
                            }
                            frames(f, false);
                        }
                        continue;
                    }
                    frames(child, k == "stacktrace" || k == "raw_stacktrace");
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| frames(c, false)),
            _ => {}
        }
    }
    if let Value::Object(m) = &mut v {
        for key in SKIP_TOP {
            m.remove(*key);
        }
    }
    frames(&mut v, false);
    v
}

fn agree(doc: &[u8]) {
    let full = serde_json::from_slice::<Value>(doc);
    let lean = parse(doc);
    match (full, lean) {
        (Ok(full), Ok(lean)) => {
            assert_eq!(
                summarize(&lean),
                summarize(&full),
                "{}",
                String::from_utf8_lossy(doc)
            );
            assert_eq!(lean, pruned(full), "{}", String::from_utf8_lossy(doc));
        }
        (Err(_), Err(_)) => {}
        (full, lean) => panic!(
            "full {:?} vs lean {:?} for {}",
            full.map(|_| ()),
            lean.map(|_| ()),
            String::from_utf8_lossy(doc)
        ),
    }
}

#[test]
fn every_captured_sdk_event_groups_and_reads_the_same() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sentry");
    let (mut events, mut dropping) = (0, 0);
    for dir in std::fs::read_dir(root).expect("fixtures").flatten() {
        for f in std::fs::read_dir(dir.path())
            .expect("fixture dir")
            .flatten()
        {
            if f.path().extension().is_none_or(|e| e != "decoded") {
                continue;
            }
            let data = std::fs::read(f.path()).expect("fixture");
            let env = envelope::parse(&data).expect("envelope");
            for item in env.items.iter().filter(|i| i.header.ty == "event") {
                agree(item.payload);
                let full: Value = serde_json::from_slice(item.payload).expect("event");
                if full != pruned(full.clone()) {
                    dropping += 1;
                }
                events += 1;
            }
        }
    }
    assert!(events >= 4, "{events} events in the fixtures");
    // The comparison covers events with something to drop (SDK events carry `sdk` at least).
    assert_eq!(dropping, events);
}

#[test]
fn frames_lose_only_what_grouping_never_reads() {
    let doc = json!({
        "platform": "python",
        "modules": {"django": "5.0"},
        "extra": {"stacktrace": {"frames": [{"vars": 1}]}},
        "tags": {"vars": "kept", "stacktrace": "kept too"},
        "exception": {"values": [{"type": "E", "value": "v", "stacktrace": {"frames": [
            {"module": "app", "function": "f", "context_line": "x()", "in_app": true,
             "vars": {"secret": "a"}, "pre_context": ["a"], "post_context": ["b"]}
        ]}}]},
        "threads": {"values": [{"raw_stacktrace": {"frames": [{"function": "g", "vars": {}}]}}]},
        "contexts": {"vars": {"name": "kept: not a frame"}}
    });
    let text = serde_json::to_vec(&doc).expect("json");
    agree(&text);
    let lean = parse(&text).expect("parse");
    let frame = &lean["exception"]["values"][0]["stacktrace"]["frames"][0];
    assert_eq!(frame["context_line"], "x()");
    assert!(frame.get("vars").is_none() && frame.get("pre_context").is_none());
    assert!(
        lean["threads"]["values"][0]["raw_stacktrace"]["frames"][0]
            .get("vars")
            .is_none()
    );
    assert_eq!(lean["tags"]["vars"], "kept");
    assert_eq!(lean["contexts"]["vars"]["name"], "kept: not a frame");
    assert!(lean.get("modules").is_none() && lean.get("extra").is_none());
}

#[test]
fn a_document_is_refused_exactly_when_the_full_parse_refuses_it() {
    let deep = format!("{{\"extra\": {}1{}}}", "[".repeat(200), "]".repeat(200));
    let cases: Vec<Vec<u8>> = vec![
        // Invalid UTF-8 and escapes inside dropped parts: refused, as before.
        b"{\"extra\": \"\xff\"}".to_vec(),
        b"{\"modules\": {\"a\": \"\\ud800\"}}".to_vec(),
        b"{\"sdk\": \"\\x\"}".to_vec(),
        b"{\"exception\": {\"values\": [{\"stacktrace\": {\"frames\": [{\"vars\": \"\xc3\"}]}}]}}"
            .to_vec(),
        b"{\"breadcrumbs\": 1e400}".to_vec(),
        b"{\"extra\": {\"\xfe\": 1}}".to_vec(),
        deep.into_bytes(),
        b"{\"a\": 1} x".to_vec(),
        b"{\"a\": 1,}".to_vec(),
        b"".to_vec(),
        // Accepted alike.
        b"{\"extra\": \"\\ud83d\\ude00\", \"level\": \"warning\"}".to_vec(),
        b"{\"sdk\": 1, \"sdk\": {\"x\": [null, true, -1, 2.5, 18446744073709551615]}}".to_vec(),
        b"{\"message\": \"a\", \"message\": \"b\"}".to_vec(),
        b"[1, {\"modules\": 2}]".to_vec(),
        b"  {\"platform\": \"javascript\"}\n".to_vec(),
        b"null".to_vec(),
        // serde_json's raw-value marker as the first key: the string is parsed in the
        // object's place, anything after it refused; as a later key it is an ordinary key.
        br#"{"$serde_json::private::RawValue":"x"}"#.to_vec(),
        br#"{"$serde_json::private::RawValue":1}"#.to_vec(),
        br#"{"$serde_json::private::RawValue":"{}", "a": 1}"#.to_vec(),
        br#"{"extra": {"$serde_json::private::RawValue":1}}"#.to_vec(),
        br#"{"extra": {"$serde_json::private::RawValue":"[1,"}}"#.to_vec(),
        br#"{"extra": {"$serde_json::private::RawValue":"{}"}, "level": "info"}"#.to_vec(),
        br#"{"$serde_json::private::RawValue":"{"message":"boom","modules":{"a":1}}"}"#.to_vec(),
        br#"{"level": {"$serde_json::private::RawValue":""fatal""}}"#.to_vec(),
        br#"{"exception": {"values": [{"stacktrace": {"$serde_json::private::RawValue":
            "{"frames": [{"function": "f", "vars": {"x": 1}}]}"}}]}}"#
            .to_vec(),
        br#"{"a": 1, "$serde_json::private::RawValue": "x"}"#.to_vec(),
        br#"{"extra": {}, "sdk": {"a": {}}}"#.to_vec(),
    ];
    for doc in cases {
        agree(&doc);
    }
}
