//! What an event says: titles, culprits, grouping, users.

use super::*;
use serde_json::json;

fn py_exc(value: &str, line: &str) -> Value {
    json!({"platform": "python", "exception": {"values": [{"type": "ZeroDivisionError", "value": value,
    "stacktrace": {"frames": [
        {"module": "site", "function": "run", "context_line": "x()", "in_app": false},
        {"module": "shop.checkout", "function": "price", "context_line": line, "in_app": true}
    ]}}]}})
}

#[test]
fn in_app_frames_group_python_exceptions() {
    let a = summarize(&py_exc("division by zero", "return a / b"));
    let b = summarize(&py_exc("other text", "return a / b"));
    let c = summarize(&py_exc("division by zero", "return a // b"));
    assert_eq!(
        a.group, b.group,
        "value does not matter when in-app frames exist"
    );
    assert_ne!(a.group, c.group, "the context line does");
    assert_eq!(a.title, "ZeroDivisionError: division by zero");
    assert_eq!(a.culprit, "shop.checkout in price");
    assert_eq!(a.level, "error");
    assert_eq!(a.exception_type.as_deref(), Some("ZeroDivisionError"));
}

#[test]
fn without_in_app_frames_type_and_normalised_value_group() {
    let e = |v: &str| json!({"exception": {"values": [{"type": "KeyError", "value": v}]}});
    assert_eq!(
        summarize(&e("user 42 not found at 10.0.0.1")).group,
        summarize(&e("user 7 not found at 192.168.1.1")).group
    );
    assert_ne!(
        summarize(&e("user 42 not found")).group,
        summarize(&e("order 42 not found")).group
    );
}

#[test]
fn fingerprints_and_default() {
    let mut e = py_exc("x", "return a / b");
    e["fingerprint"] = json!(["checkout-failure"]);
    let fp = summarize(&e);
    let mut e2 = py_exc("y", "totally different");
    e2["fingerprint"] = json!(["checkout-failure"]);
    assert_eq!(fp.group, summarize(&e2).group);
    let mut d = py_exc("x", "return a / b");
    d["fingerprint"] = json!(["{{ default }}", "tenant-1"]);
    let mut d2 = py_exc("x", "return a / b");
    d2["fingerprint"] = json!(["{{ default }}", "tenant-2"]);
    assert_ne!(summarize(&d).group, summarize(&d2).group);
    assert_ne!(
        summarize(&d).group,
        summarize(&py_exc("x", "return a / b")).group
    );
}

#[test]
fn messages_group_by_template_or_normalised_text() {
    let m = |f: &str| json!({"logentry": {"message": "payment %s failed", "params": [f], "formatted": format!("payment {f} failed")}});
    assert_eq!(summarize(&m("a")).group, summarize(&m("b")).group);
    assert_eq!(summarize(&m("a")).title, "payment a failed");
    let plain = |t: &str| json!({"message": t, "level": 20});
    let p = summarize(&plain(
        "job 1234 took 5s, id 9ec79c33-ec99-42ab-8353-589fcb2e04dc",
    ));
    assert_eq!(
        p.group,
        summarize(&plain(
            "job 77 took 5s, id 1ec79c33-ec99-42ab-8353-589fcb2e04dc"
        ))
        .group
    );
    assert_eq!(p.level, "info");
}

#[test]
fn javascript_frames_use_the_file_name() {
    let e = |file: &str| {
        json!({"platform": "node", "exception": {"values": [{"type": "TypeError", "value": "x",
            "stacktrace": {"frames": [{"filename": file, "function": "f", "context_line": "throw e", "in_app": true}]}}]}})
    };
    assert_eq!(
        summarize(&e("/srv/app/Orders.js")).group,
        summarize(&e("/other/path/orders.js")).group
    );
    assert_eq!(
        summarize(&e("/srv/app/orders.js")).culprit,
        "/srv/app/orders.js in f"
    );
}

#[test]
fn users_levels_releases_timestamps() {
    let e = json!({"message": "m", "level": "warn", "release": 12, "environment": "prod",
            "user": {"email": "a@b.c", "ip_address": "1.2.3.4"}, "timestamp": 1700000000.5});
    let s = summarize(&e);
    assert_eq!(s.level, "warning");
    assert_eq!(s.release.as_deref(), Some("12"));
    assert_eq!(s.user.as_deref(), Some("email:a@b.c"));
    assert_eq!(s.timestamp_ms, Some(1_700_000_000_500));
    let t = summarize(&json!({"timestamp": "2026-11-22T03:21:37.188779Z", "level": 50}));
    assert_eq!(t.level, "fatal");
    assert!(t.timestamp_ms.is_some());
    assert_eq!(t.title, "<unlabeled event>");
}

#[test]
fn normalisation() {
    assert_eq!(
        normalize(
            "user bob@example.com from 10.1.2.3 got 0x1f and 404, v2 ok; deadbeef99 at 2026-01-02T03:04:05Z"
        ),
        "user <email> from <ip> got <hex> and <int>, v2 ok; <hex> at <date>"
    );
}

#[test]
fn a_javascript_message_with_a_synthetic_exception_is_a_message() {
    let e = json!({"platform": "node", "message": "cache cold", "level": "warning",
            "exception": {"values": [{"value": "cache cold", "mechanism": {"type": "generic", "synthetic": true},
                "stacktrace": {"frames": [{"filename": "/srv/a.js", "function": "f", "in_app": true}]}}]}});
    let s = summarize(&e);
    assert_eq!(s.title, "cache cold");
    assert_eq!(s.exception_type, None);
    assert_eq!(s.group, summarize(&json!({"message": "cache cold"})).group);
}

#[test]
fn csp_reports() {
    let e = json!({"csp": {"effective_directive": "script-src", "blocked_uri": "https://evil.example/x.js"}});
    let s = summarize(&e);
    assert_eq!(s.title, "Blocked 'script' from 'evil.example'");
}

/// Fingerprints are bounded: entries past the 32nd are ignored, long ones clipped, and many
/// `{{ default }}` entries cost one default grouping (35k of them with a long function name
/// once took gigabytes).
#[test]
fn fingerprints_are_bounded() {
    let entries: Vec<String> = (0..40).map(|i| format!("part-{i}")).collect();
    let mut many = json!({"message": "m"});
    many["fingerprint"] = json!(entries);
    let mut first = json!({"message": "m"});
    first["fingerprint"] = json!(entries[..32]);
    assert_eq!(summarize(&many).group, summarize(&first).group);
    let long = |tail: &str| json!({"message": "m", "fingerprint": [format!("{}{tail}", "x".repeat(2000))]});
    assert_eq!(summarize(&long("a")).group, summarize(&long("b")).group);
    let mut e = py_exc("x", "return a / b");
    e["exception"]["values"][0]["stacktrace"]["frames"][1]["function"] = json!("f".repeat(500_000));
    e["fingerprint"] = json!(vec!["{{ default }}"; 35_000]);
    let started = std::time::Instant::now();
    let s = summarize(&e);
    assert_eq!(s.group.len(), 32);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
