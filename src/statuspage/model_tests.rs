use super::*;
use crate::statuspage::config::{Rule, StatusMapping};

use ComponentStatus::*;
use State::{Degraded, Down, Pending, Up};

fn map() -> StatusMapping {
    crate::config::section_default()
}

#[test]
fn a_single_monitor_maps_through_the_mapping() {
    let m = map();
    assert_eq!(derive(&[Up], Rule::All, &m), Operational);
    assert_eq!(derive(&[State::Unknown], Rule::All, &m), Operational);
    assert_eq!(derive(&[Degraded], Rule::All, &m), DegradedPerformance);
    assert_eq!(derive(&[Pending], Rule::All, &m), Operational);
    assert_eq!(derive(&[Down], Rule::All, &m), MajorOutage);
    assert_eq!(
        derive(&[State::Maintenance], Rule::All, &m),
        UnderMaintenance
    );
    let strict = StatusMapping {
        pending: DegradedPerformance,
        down: PartialOutage,
        ..map()
    };
    assert_eq!(derive(&[Pending], Rule::All, &strict), DegradedPerformance);
    assert_eq!(derive(&[Down], Rule::All, &strict), PartialOutage);
}

#[test]
fn rules_decide_between_partial_outage_and_degraded_performance() {
    let m = map();
    // all: one of two down is a partial outage; both down a major one.
    assert_eq!(derive(&[Up, Down], Rule::All, &m), PartialOutage);
    assert_eq!(derive(&[Down, Down], Rule::All, &m), MajorOutage);
    // any: one up carries it, degraded.
    assert_eq!(derive(&[Up, Down], Rule::Any, &m), DegradedPerformance);
    assert_eq!(derive(&[Down, Down], Rule::Any, &m), MajorOutage);
    // 2 of 3.
    assert_eq!(
        derive(&[Up, Up, Down], Rule::AtLeast(2), &m),
        DegradedPerformance
    );
    assert_eq!(
        derive(&[Up, Down, Down], Rule::AtLeast(2), &m),
        PartialOutage
    );
    // Maintenance is left out of the count.
    assert_eq!(
        derive(&[Up, State::Maintenance], Rule::All, &m),
        Operational
    );
    assert_eq!(derive(&[], Rule::All, &m), Operational);
}

#[test]
fn the_indicator_blends_components_and_open_incidents() {
    assert_eq!(indicator(&[Operational, Operational], &[]).0, Impact::None);
    assert_eq!(indicator(&[Operational], &[]).1, "All Systems Operational");
    assert_eq!(
        indicator(&[Operational, DegradedPerformance], &[]).0,
        Impact::Minor
    );
    assert_eq!(indicator(&[Operational, MajorOutage], &[]).0, Impact::Major);
    assert_eq!(
        indicator(&[MajorOutage, MajorOutage], &[]),
        (Impact::Critical, "Major System Outage")
    );
    assert_eq!(
        indicator(&[UnderMaintenance, Operational], &[]),
        (Impact::Maintenance, "Service Under Maintenance")
    );
    assert_eq!(indicator(&[Operational], &[Impact::Major]).0, Impact::Major);
    assert_eq!(indicator(&[], &[]).0, Impact::None);
}

fn comps() -> Vec<ComponentRef<'static>> {
    vec![
        ComponentRef {
            id: "aaaa",
            name: "API",
            status: Operational,
        },
        ComponentRef {
            id: "bbbb",
            name: "Website",
            status: DegradedPerformance,
        },
    ]
}

fn parse_time(s: &str) -> Option<u64> {
    s.parse().ok()
}

fn change(json: &str) -> Change {
    serde_json::from_str(json).expect("change")
}

fn cx<'a>(components: &'a [ComponentRef<'a>], now_ms: u64) -> Context<'a> {
    Context {
        page: "public",
        components,
        now_ms,
        by: "alice",
        incident_id: 7,
        update_id: now_ms,
    }
}

#[test]
fn an_incident_opens_moves_through_its_statuses_and_resolves() {
    let c = comps();
    let opened = apply(
        None,
        &change(r#"{"name":"API errors","status":"investigating","impact":"major","body":"We are looking.","components":{"aaaa":"major_outage"}}"#),
        &cx(&c, 100),
        parse_time,
    )
    .expect("opened");
    assert_eq!(
        (opened.id, opened.status, opened.impact),
        (7, IncidentStatus::Investigating, Impact::Major)
    );
    assert_eq!(opened.components["aaaa"], MajorOutage);
    assert_eq!(opened.updates[0].affected[0].old_status, Operational);
    assert_eq!(
        with_incidents("aaaa", Operational, [&opened].into_iter()),
        MajorOutage
    );
    // By public name too; the name stays.
    let monitoring = apply(
        Some(&opened),
        &change(r#"{"status":"monitoring","body":"Fixed, watching.","components":{"API":"degraded_performance"}}"#),
        &cx(&c, 200),
        parse_time,
    )
    .expect("update");
    assert_eq!(monitoring.name, "API errors");
    assert_eq!(monitoring.monitoring_ms, Some(200));
    assert_eq!(monitoring.updates.len(), 2);
    assert_eq!(monitoring.updates[1].affected[0].old_status, MajorOutage);
    let resolved = apply(
        Some(&monitoring),
        &change(r#"{"status":"resolved","body":"All good."}"#),
        &cx(&c, 300),
        parse_time,
    )
    .expect("resolve");
    assert_eq!(resolved.resolved_ms, Some(300));
    assert_eq!(resolved.created_ms, 100);
    // A resolved incident no longer holds the component.
    assert_eq!(
        with_incidents("aaaa", Operational, [&resolved].into_iter()),
        Operational
    );
}

#[test]
fn bad_changes_name_their_field() {
    let c = comps();
    let err = |json: &str| apply(None, &change(json), &cx(&c, 1), parse_time).expect_err(json);
    assert!(err(r#"{"status":"investigating"}"#).starts_with("name:"));
    assert!(err(r#"{"name":"x","status":"on fire"}"#).starts_with("status:"));
    assert!(err(r#"{"name":"x","impact":"huge"}"#).starts_with("impact:"));
    assert!(err(r#"{"name":"x","components":{"nope":"major_outage"}}"#).starts_with("components:"));
    assert!(err(r#"{"name":"x","components":{"aaaa":"down"}}"#).starts_with("components.aaaa:"));
    assert!(err(r#"{"name":"x","status":"scheduled"}"#).contains("needs both"));
    assert!(
        err(r#"{"name":"x","scheduled_for":"20","scheduled_until":"10"}"#)
            .starts_with("scheduled_until:")
    );
    let long = format!(r#"{{"name":"{}"}}"#, "n".repeat(MAX_NAME + 1));
    assert!(err(&long).starts_with("name:"));
    assert!(serde_json::from_str::<Change>(r#"{"name":"x","colour":"red"}"#).is_err());
}

#[test]
fn maintenance_is_scheduled_then_in_progress_then_completed() {
    let c = comps();
    let m = apply(
        None,
        &change(r#"{"name":"DB upgrade","scheduled_for":"1000","scheduled_until":"2000","components":{"aaaa":"under_maintenance"}}"#),
        &cx(&c, 1),
        parse_time,
    )
    .expect("scheduled");
    assert_eq!(
        (m.status, m.impact),
        (IncidentStatus::Scheduled, Impact::Maintenance)
    );
    // Scheduled is not yet in progress: the component is not held.
    assert_eq!(
        with_incidents("aaaa", Operational, [&m].into_iter()),
        Operational
    );
    let going = apply(
        Some(&m),
        &change(r#"{"status":"in_progress"}"#),
        &cx(&c, 1000),
        parse_time,
    )
    .expect("in progress");
    assert_eq!(
        with_incidents("aaaa", Operational, [&going].into_iter()),
        UnderMaintenance
    );
    let wrong = apply(
        Some(&going),
        &change(r#"{"status":"resolved"}"#),
        &cx(&c, 1500),
        parse_time,
    );
    assert!(wrong.expect_err("kind").starts_with("status:"));
    let done = apply(
        Some(&going),
        &change(r#"{"status":"completed"}"#),
        &cx(&c, 2000),
        parse_time,
    )
    .expect("completed");
    assert_eq!(done.resolved_ms, Some(2000));
    assert_eq!(
        with_incidents("aaaa", Operational, [&done].into_iter()),
        Operational
    );
}

#[test]
fn component_ids_are_stable_short_and_distinct() {
    let cfg = |name: &str| ComponentConfig {
        name: name.into(),
        description: String::new(),
        monitor: Some("m".into()),
        monitors: Vec::new(),
        group: None,
        rule: Rule::All,
        show_details: false,
    };
    let a = component_id("public", &cfg("API"));
    assert_eq!(a, component_id("public", &cfg("API")));
    assert_eq!(a.len(), 12);
    assert!(
        a.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_ne!(a, component_id("public", &cfg("Website")));
    assert_ne!(a, component_id("internal", &cfg("API")));
}
