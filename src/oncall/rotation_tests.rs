use super::*;
use crate::oncall::config::OncallConfig;

fn at(s: &str) -> u64 {
    ms_of(
        s.parse::<Timestamp>()
            .unwrap_or_else(|e| panic!("{s}: {e}")),
    )
}

fn iso(ms: u64) -> String {
    ts(ms).to_string()
}

fn config(yaml: &str) -> OncallConfig {
    let text = format!("oncall:\n{}", indent(yaml));
    crate::config::root::parse(&text, "test.yaml", &|_| None)
        .unwrap_or_else(|e| panic!("{e}"))
        .oncall
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

fn shifts(s: &Schedule<'_>, from: &str, to: &str) -> Vec<(String, String, String)> {
    s.shifts(at(from), at(to))
        .into_iter()
        .map(|x| (x.user, iso(x.start_ms), iso(x.end_ms)))
        .collect()
}

fn row(u: &str, a: &str, b: &str) -> (String, String, String) {
    (u.into(), a.into(), b.into())
}

const WEEKLY_BERLIN: &str = r#"
contacts: {ana: [{email: ana@example.com}], ben: [{email: ben@example.com}], chen: [{email: chen@example.com}]}
schedules:
  - name: platform
    time_zone: Europe/Berlin
    layers:
      - users: [ana, ben, chen]
        rotation: weekly
        handoff: {day: monday, time: "09:00"}
        start: 2026-01-05
"#;

#[test]
fn weekly_monday_0900_berlin_holds_across_both_dst_changes() {
    let c = config(WEEKLY_BERLIN);
    let s = Schedule::new(&c.schedules[0], &[]);
    // Spring: clocks go forward on Sunday 29 March; the hand-off stays at 09:00 local, which is
    // 08:00Z before and 07:00Z after.
    assert_eq!(
        shifts(&s, "2026-03-17T00:00:00Z", "2026-04-07T00:00:00Z"),
        [
            row("ben", "2026-03-17T00:00:00Z", "2026-03-23T08:00:00Z"),
            row("chen", "2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z"),
            row("ana", "2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z"),
            row("ben", "2026-04-06T07:00:00Z", "2026-04-07T00:00:00Z"),
        ]
    );
}

#[test]
fn the_autumn_week_lasts_169_hours() {
    let c = config(WEEKLY_BERLIN);
    let s = Schedule::new(&c.schedules[0], &[]);
    let got = s.shifts(at("2026-10-19T07:00:00Z"), at("2026-11-03T00:00:00Z"));
    assert_eq!(iso(got[0].start_ms), "2026-10-19T07:00:00Z");
    assert_eq!(iso(got[0].end_ms), "2026-10-26T08:00:00Z");
    assert_eq!((got[0].end_ms - got[0].start_ms) / 3_600_000, 169);
    assert_eq!(iso(got[1].end_ms), "2026-11-02T08:00:00Z");
    assert_eq!((got[1].end_ms - got[1].start_ms) / 3_600_000, 168);
}

#[test]
fn who_and_next_at_an_instant() {
    let c = config(WEEKLY_BERLIN);
    let s = Schedule::new(&c.schedules[0], &[]);
    // 2026-12-04 is a Friday of week 47 since 5 January (47 % 3 = 2).
    let t = at("2026-12-04T12:00:00Z");
    assert_eq!(s.on_call(t), ["chen"]);
    let (user, from) = s.next(t).expect("next");
    assert_eq!(
        (user.as_str(), iso(from).as_str()),
        ("ana", "2026-12-07T08:00:00Z")
    );
    // A minute before the first turn nobody is on call; at it, the first user.
    assert!(s.on_call(at("2026-01-05T07:59:00Z")).is_empty());
    assert_eq!(s.on_call(at("2026-01-05T08:00:00Z")), ["ana"]);
    assert_eq!(s.everyone(), ["ana", "ben", "chen"]);
}

#[test]
fn daily_and_hourly_rotations() {
    let c = config(
        r#"
schedules:
  - name: d
    time_zone: America/New_York
    layers:
      - {users: [a, b], rotation: daily, handoff: {time: "18:30"}, start: 2026-03-07}
  - name: h
    layers:
      - {users: [x, y, z], rotation: 36h, start: 2026-01-01}
"#,
    );
    let d = Schedule::new(&c.schedules[0], &[]);
    // New York springs forward on 8 March: 18:30 EST is 23:30Z, 18:30 EDT is 22:30Z.
    assert_eq!(
        shifts(&d, "2026-03-07T23:30:00Z", "2026-03-10T22:30:00Z"),
        [
            row("a", "2026-03-07T23:30:00Z", "2026-03-08T22:30:00Z"),
            row("b", "2026-03-08T22:30:00Z", "2026-03-09T22:30:00Z"),
            row("a", "2026-03-09T22:30:00Z", "2026-03-10T22:30:00Z"),
        ]
    );
    let h = Schedule::new(&c.schedules[1], &[]);
    assert_eq!(
        shifts(&h, "2026-01-01T00:00:00Z", "2026-01-05T12:00:00Z"),
        [
            row("x", "2026-01-01T00:00:00Z", "2026-01-02T12:00:00Z"),
            row("y", "2026-01-02T12:00:00Z", "2026-01-04T00:00:00Z"),
            row("z", "2026-01-04T00:00:00Z", "2026-01-05T12:00:00Z"),
        ]
    );
}

#[test]
fn a_restricted_upper_layer_covers_working_hours_only() {
    let c = config(
        r#"
schedules:
  - name: s
    layers:
      - {users: [night], rotation: weekly, start: 2026-01-05}
      - users: [day1, day2]
        rotation: weekly
        handoff: {day: monday, time: "00:00"}
        start: 2026-01-05
        restrictions: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}]
"#,
    );
    let s = Schedule::new(&c.schedules[0], &[]);
    assert_eq!(
        shifts(&s, "2026-01-09T00:00:00Z", "2026-01-12T12:00:00Z"),
        [
            row("night", "2026-01-09T00:00:00Z", "2026-01-09T09:00:00Z"),
            row("day1", "2026-01-09T09:00:00Z", "2026-01-09T17:00:00Z"),
            // The weekend: the upper layer does not apply.
            row("night", "2026-01-09T17:00:00Z", "2026-01-12T09:00:00Z"),
            row("day2", "2026-01-12T09:00:00Z", "2026-01-12T12:00:00Z"),
        ]
    );
}

#[test]
fn overnight_restrictions_span_midnight() {
    let c = config(
        r#"
schedules:
  - name: s
    layers:
      - {users: [base], rotation: weekly, start: 2026-01-05}
      - {users: [owl], rotation: weekly, start: 2026-01-05, restrictions: [{days: [fri], from: "22:00", to: "06:00"}]}
"#,
    );
    let s = Schedule::new(&c.schedules[0], &[]);
    assert_eq!(s.on_call(at("2026-01-09T23:00:00Z")), ["owl"]);
    assert_eq!(
        s.on_call(at("2026-01-10T05:59:00Z")),
        ["owl"],
        "Saturday early"
    );
    assert_eq!(s.on_call(at("2026-01-10T06:00:00Z")), ["base"]);
    assert_eq!(
        s.on_call(at("2026-01-08T23:00:00Z")),
        ["base"],
        "Thursday night"
    );
}

#[test]
fn an_override_splits_a_shift_and_the_newest_override_wins() {
    let c = config(WEEKLY_BERLIN);
    let o = |id, user: &str, a: &str, b: &str, created| Override {
        id,
        schedule: "platform".into(),
        user: user.into(),
        start_ms: at(a),
        end_ms: at(b),
        created_by: "admin".into(),
        created_ms: created,
    };
    let overrides = vec![
        // Ana covers Ben from Friday 18:00 to Monday 09:00 (Berlin).
        o(1, "ana", "2026-03-20T17:00:00Z", "2026-03-23T08:00:00Z", 1),
        // Another schedule's override is not ours.
        Override {
            schedule: "other".into(),
            ..o(2, "zed", "2026-03-18T00:00:00Z", "2026-03-19T00:00:00Z", 2)
        },
        // A newer override on top for Saturday noon to 14:00 UTC.
        o(3, "chen", "2026-03-21T12:00:00Z", "2026-03-21T14:00:00Z", 3),
    ];
    let s = Schedule::new(&c.schedules[0], &overrides);
    let got = s.shifts(at("2026-03-16T08:00:00Z"), at("2026-03-23T08:00:00Z"));
    let simple: Vec<_> = got
        .iter()
        .map(|x| (x.user.as_str(), iso(x.start_ms), x.override_id))
        .collect();
    assert_eq!(
        simple,
        [
            ("ben", "2026-03-16T08:00:00Z".to_string(), None),
            ("ana", "2026-03-20T17:00:00Z".to_string(), Some(1)),
            ("chen", "2026-03-21T12:00:00Z".to_string(), Some(3)),
            ("ana", "2026-03-21T14:00:00Z".to_string(), Some(1)),
        ]
    );
    assert_eq!(iso(got[3].end_ms), "2026-03-23T08:00:00Z");
    // Next on call after Thursday: Ana from the override's start.
    let (u, from) = s.next(at("2026-03-19T10:00:00Z")).expect("next");
    assert_eq!(
        (u.as_str(), iso(from).as_str()),
        ("ana", "2026-03-20T17:00:00Z")
    );
}

#[test]
fn ranges_are_bounded() {
    let c = config(
        r#"
schedules:
  - name: s
    layers:
      - {users: [a, b], rotation: 1h, start: 2020-01-01}
"#,
    );
    let s = Schedule::new(&c.schedules[0], &[]);
    let got = s.shifts(0, u64::MAX);
    assert!(got.len() <= MAX_SHIFTS);
    assert!(s.shifts(10, 5).is_empty());
}
