//! The typed payloads decode the JSON the server builds by hand (`json!` in `src/http/`), and a
//! Sentry event decodes leniently whatever shape an SDK gave its fields.

use panoptes_types::{
    AnyValue, IssueDetail, IssueStatus, Level, MonitorResults, MonitorRollups, MonitorState, Pairs,
    Resolution, SentryEvent, Timestamp,
};
use serde_json::json;

fn issue_json() -> serde_json::Value {
    json!({
        "id": 3, "project": 7, "title": "ZeroDivisionError: division by zero",
        "culprit": "shop.checkout in price_per_unit", "level": "error", "platform": "python",
        "status": "unresolved", "regressed": false, "regressions": 0,
        "first_seen": "2024-05-01T10:00:00Z", "last_seen": "2024-05-01T10:05:00Z",
        "count": 2, "stored_events": 2, "users": 1, "releases": ["shop@2.4.1"],
        "environments": [], "first_release": "shop@2.4.1",
        "last_event_id": "0123456789abcdef0123456789abcdef", "grouping_hash": "abc"
    })
}

#[test]
fn monitor_results_as_the_server_writes_them() {
    // src/http/probes.rs `results`.
    let v = json!({"monitor": "api", "from": "2024-05-01T10:00:00Z", "to": "2024-05-01T11:00:00Z",
    "items": [
        {"at": "2024-05-01T10:00:01Z", "at_ms": 1714557601000u64, "state": "UP", "ok": true,
         "latency_ms": 12.5, "status": 200, "failed_conditions": [], "error": null},
        {"at": "2024-05-01T10:00:11Z", "at_ms": 1714557611000u64, "state": "DOWN", "ok": false,
         "latency_ms": 0.0, "status": null, "failed_conditions": ["[STATUS] == 200"],
         "error": "connection refused"},
        {"at": "2024-05-01T10:00:21Z", "at_ms": 1714557621000u64, "state": "SIDEWAYS",
         "ok": false, "latency_ms": 3, "status": 503, "failed_conditions": [], "error": null}
    ]});
    let r: MonitorResults = serde_json::from_value(v).expect("decodes");
    assert_eq!(r.items[0].state, MonitorState::Up);
    assert_eq!(r.items[1].state, MonitorState::Down);
    assert_eq!(r.items[1].failed_conditions, vec!["[STATUS] == 200"]);
    // A state this client does not know is shown as UNKNOWN, not an error.
    assert_eq!(r.items[2].state, MonitorState::Unknown);
    assert_eq!(r.items[2].latency_ms, 3.0);
}

#[test]
fn monitor_rollups_as_the_server_writes_them() {
    // src/http/probes.rs `rollups`.
    let v = json!({"monitor": "api", "resolution": "hour", "items": [
        {"start": "2024-05-01T10:00:00Z", "start_ms": 1714557600000u64,
         "up": 350, "degraded": 5, "down": 5, "maintenance": 0, "pending": 1,
         "availability": 0.986, "apdex": 0.97,
         "latency_ms": {"p50": 12.0, "p95": 40.0, "p99": 80.0, "avg": 15.2}},
        {"start": "2024-05-01T11:00:00Z", "start_ms": 1714561200000u64,
         "up": 0, "degraded": 0, "down": 0, "maintenance": 4, "pending": 0,
         "availability": null, "apdex": null,
         "latency_ms": {"p50": null, "p95": null, "p99": null, "avg": null}}
    ]});
    let r: MonitorRollups = serde_json::from_value(v).expect("decodes");
    assert_eq!(r.resolution, Resolution::Hour);
    assert_eq!(r.items[0].latency_ms.p95, Some(40.0));
    assert_eq!(r.items[1].availability, None);
}

#[test]
fn issue_detail_without_a_stored_event() {
    // src/http/sentry.rs `get_issue`: the summary's fields plus `latest_event`.
    let mut v = issue_json();
    v["latest_event"] = serde_json::Value::Null;
    let d: IssueDetail = serde_json::from_value(v).expect("decodes");
    assert_eq!(d.summary.id, 3);
    assert!(d.latest_event.is_none());
    assert_eq!(d.summary.status, IssueStatus::Unresolved);
    assert_eq!(d.summary.level, Level::Error);
}

#[test]
fn issue_detail_with_its_latest_event() {
    // src/http/sentry.rs `event_json`.
    let mut v = issue_json();
    v["latest_event"] = json!({
        "event_id": "0123456789abcdef0123456789abcdef", "issue_id": 3, "project": 7,
        "received": "2024-05-01T10:05:00Z",
        "attachments": [{"index": 0, "filename": "log.txt", "size": 12,
            "content_type": "text/plain", "attachment_type": null}],
        "event": {
            "platform": "python", "level": "error", "release": "shop@2.4.1",
            "timestamp": 1714557900.25,
            "exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero",
                "mechanism": {"type": "generic", "handled": false},
                "stacktrace": {"frames": [{"filename": "checkout.py", "function": "price_per_unit",
                    "module": "shop.checkout", "lineno": 18,
                    "context_line": "    return total / quantity",
                    "pre_context": ["def price_per_unit(total, quantity):", null],
                    "in_app": true, "vars": {"total": 10, "quantity": "0"}}]}}]},
            "breadcrumbs": {"values": [{"timestamp": "2024-05-01T10:04:59Z", "category": "http",
                "message": "GET /cart", "level": "info", "data": {"status": 200}}]},
            "tags": {"region": "eu", "shard": 3},
            "user": {"id": 42, "email": "a@example.com"},
            "request": {"url": "https://shop.example/cart", "method": "POST",
                "headers": [["Accept", "text/html"], ["X-Id", 7]], "query_string": "a=1"},
            "contexts": {"os": {"name": "Linux"}, "broken": "not an object"},
            "logentry": {"message": "price for %s", "params": ["cart"], "formatted": "price for cart"},
            "environment": "production"
        }
    });
    let d: IssueDetail = serde_json::from_value(v).expect("decodes");
    let e = d.latest_event.expect("latest event");
    assert_eq!(e.issue_id, Some(3));
    assert_eq!(e.attachments[0].filename, "log.txt");
    let ev = e.event;
    assert_eq!(ev.level, Some(Level::Error));
    assert_eq!(ev.timestamp, Some(Timestamp::Seconds(1714557900.25)));
    let exc = ev.main_exception().expect("exception");
    assert_eq!(exc.ty.as_deref(), Some("ZeroDivisionError"));
    assert_eq!(exc.mechanism.as_ref().and_then(|m| m.handled), Some(false));
    let frame = &exc.stacktrace.as_ref().expect("stacktrace").frames[0];
    assert_eq!(frame.function.as_deref(), Some("price_per_unit"));
    assert_eq!(frame.lineno, Some(18));
    assert_eq!(frame.in_app, Some(true));
    assert_eq!(
        frame.pre_context,
        vec!["def price_per_unit(total, quantity):", ""]
    );
    assert_eq!(frame.vars.get("total"), Some(&AnyValue::UInt(10)));
    assert_eq!(ev.breadcrumbs[0].message.as_deref(), Some("GET /cart"));
    assert_eq!(ev.tags.get("shard"), Some("3"));
    assert_eq!(ev.user.as_ref().and_then(|u| u.id.as_deref()), Some("42"));
    let req = ev.request.as_ref().expect("request");
    assert_eq!(req.headers.get("X-Id"), Some("7"));
    assert_eq!(
        ev.contexts.len(),
        1,
        "a context that is not an object is dropped"
    );
    assert_eq!(ev.message_text(), Some("price for cart"));
}

#[test]
fn tags_as_an_object_or_as_pairs() {
    let a: Pairs = serde_json::from_value(json!({"a": "1", "b": true})).expect("object");
    let b: Pairs =
        serde_json::from_value(json!([["a", "1"], ["b", true], "junk", ["x"]])).expect("pairs");
    assert_eq!(a, b);
    let c: Pairs =
        serde_json::from_value(json!([{"key": "a", "value": "1"}])).expect("key/value objects");
    assert_eq!(c.get("a"), Some("1"));
}

#[test]
fn fields_of_the_wrong_type_do_not_sink_the_event() {
    let v = json!({
        "level": 5, "release": 2.5, "environment": ["x"], "timestamp": {"bad": true},
        "exception": [{"type": "ValueError", "stacktrace": {"frames": [
            "not a frame", {"function": "f", "lineno": "eighteen", "in_app": "yes",
                "pre_context": "not a list", "vars": [1, 2]}]}}],
        "breadcrumbs": "none", "tags": 17, "user": "bob", "request": [1],
        "contexts": [], "message": "plain message", "fingerprint": ["{{ default }}", 3],
        "threads": {"values": [{"id": 1, "crashed": true,
            "stacktrace": {"frames": [{"function": "main"}]}}]}
    });
    let ev: SentryEvent = serde_json::from_value(v).expect("decodes");
    assert_eq!(ev.level, None);
    assert_eq!(ev.release.as_deref(), Some("2.5"));
    assert_eq!(ev.environment, None);
    assert_eq!(ev.timestamp, None);
    let exc = ev.main_exception().expect("bare list of exceptions");
    let frames = &exc.stacktrace.as_ref().expect("stacktrace").frames;
    assert_eq!(
        frames.len(),
        1,
        "the frame that is not an object is dropped"
    );
    assert_eq!(frames[0].function.as_deref(), Some("f"));
    assert_eq!(frames[0].lineno, None);
    assert_eq!(frames[0].in_app, None);
    assert!(frames[0].pre_context.is_empty() && frames[0].vars.is_empty());
    assert!(ev.breadcrumbs.is_empty() && ev.tags.is_empty());
    assert!(ev.user.is_none() && ev.request.is_none() && ev.contexts.is_empty());
    assert_eq!(ev.message_text(), Some("plain message"));
    assert_eq!(ev.fingerprint, vec!["{{ default }}", "3"]);
    let thread_frames = &ev.loose_stacktrace().expect("crashed thread").frames;
    assert_eq!(thread_frames[0].function.as_deref(), Some("main"));
}

#[test]
fn an_event_that_is_not_an_object_decodes_as_empty() {
    let v = json!({"event_id": "0123456789abcdef0123456789abcdef", "issue_id": null,
        "project": 7, "received": "2024-05-01T10:05:00Z", "attachments": [], "event": null});
    let e: panoptes_types::EventDetail = serde_json::from_value(v).expect("decodes");
    assert_eq!(e.event, SentryEvent::default());
}

#[test]
fn enums_round_trip_through_their_wire_names() {
    for s in MonitorState::ALL {
        assert_eq!(s.as_str().parse::<MonitorState>(), Ok(s));
        assert_eq!(serde_json::to_value(s).expect("ser"), json!(s.as_str()));
    }
    assert_eq!("down".parse::<MonitorState>(), Ok(MonitorState::Down));
    assert!("SIDEWAYS".parse::<MonitorState>().is_err());
    assert_eq!(Level::parse("warn"), Level::Warning);
    assert_eq!(Level::parse("trace"), Level::Other("trace".into()));
    assert_eq!(
        serde_json::to_value(Level::Other("trace".into())).expect("ser"),
        json!("trace")
    );
    assert_eq!(
        serde_json::to_value(IssueStatus::Ignored).expect("ser"),
        json!("ignored")
    );
}
