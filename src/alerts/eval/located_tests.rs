//! Monitors checked from several locations (rules about states follow the combined state, not
//! the server's own location) and `agent_silent` (time makes an agent silent; hearing from it
//! or revoking it resolves). Time is a parameter.

use super::*;
use crate::events::AgentEvent;
use crate::probe::events::Checked;
use crate::probe::state::State;

const T0: u64 = 1_795_392_000_000;

fn rules(src: &str) -> Vec<RuleConfig> {
    crate::alerts::decode::<Vec<RuleConfig>>(src)
}

fn result(state: State, error: Option<&str>) -> Checked {
    Checked {
        monitor_id: 3,
        name: "api".into(),
        group: None,
        labels: Default::default(),
        kind: "http",
        at_ms: T0,
        previous: State::Unknown,
        state,
        ok: state != State::Down,
        latency_ms: 5,
        status: None,
        error: error.map(str::to_string),
        cert_expires_at_ms: None,
        maintenance: false,
        apdex_t_ms: 500,
        located: true,
    }
}

/// (rule, active, value) of each observation.
fn seen(obs: Vec<Observation>) -> Vec<(usize, bool, String)> {
    obs.into_iter()
        .map(|o| (o.rule, o.active, o.value))
        .collect()
}

#[test]
fn state_rules_follow_the_state_across_locations() {
    let mut e = Evaluator::new(rules(
        "- {name: Down, monitor: {state: down, monitors: [api]}}\n- {name: Degraded, monitor: {state: degraded, monitors: [api]}}\n",
    ));
    // The server's own location failing, before any decision across locations: nothing said.
    let own = DomainEvent::Probe(ProbeEvent::Checked(result(State::Down, Some("refused"))));
    assert!(seen(e.on_event(&own, T0)).is_empty());
    // One failing location of a quorum of two: DEGRADED, not DOWN.
    let why = "failing from 1 of 3 locations (quorum 2): local";
    let across = DomainEvent::Probe(ProbeEvent::Combined(result(State::Degraded, Some(why))));
    assert_eq!(
        seen(e.on_event(&across, T0)),
        [
            (0, false, format!("DEGRADED ({why})")),
            (1, true, format!("DEGRADED ({why})"))
        ]
    );
    // Later own results keep reading the combined state, whatever the own one says.
    assert_eq!(
        seen(e.on_event(&own, T0 + 1))
            .into_iter()
            .map(|(r, a, _)| (r, a))
            .collect::<Vec<_>>(),
        [(0, false), (1, true)]
    );
    let down = DomainEvent::Probe(ProbeEvent::Combined(result(State::Down, None)));
    assert_eq!(
        seen(e.on_event(&down, T0 + 2))
            .into_iter()
            .map(|(r, a, _)| (r, a))
            .collect::<Vec<_>>(),
        [(0, true), (1, false)]
    );
}

#[test]
fn a_silent_agent_fires_until_heard_from_or_revoked() {
    let mut e = Evaluator::new(rules(
        "- {name: Silent, panoptes: {event: agent_silent, window: 1m}}\n",
    ));
    let seen_at = |at_ms| {
        DomainEvent::Agent(AgentEvent::Seen {
            name: "eu-1".into(),
            location: "eu".into(),
            at_ms,
        })
    };
    let obs = e.on_event(&seen_at(T0), T0);
    assert_eq!(obs.len(), 1);
    assert!(!obs[0].active);
    assert_eq!(obs[0].source.get("agent").map(String::as_str), Some("eu-1"));
    assert_eq!(
        obs[0].source.get("location").map(String::as_str),
        Some("eu")
    );
    // Within the window: reporting. Past it: silent, on the tick.
    let tick = |e: &mut Evaluator, now| {
        e.tick(now, SelfStats::default())
            .into_iter()
            .map(|o| (o.active, o.value))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        tick(&mut e, T0 + 60_000),
        [(false, "reporting".to_string())]
    );
    assert_eq!(
        tick(&mut e, T0 + 90_000),
        [(true, "not heard from for 90s".to_string())]
    );
    // An older report arriving late does not move it back.
    assert!(e.on_event(&seen_at(T0 - 5_000), T0 + 90_000)[0].active);
    assert!(!e.on_event(&seen_at(T0 + 91_000), T0 + 91_000)[0].active);
    // Revoked: resolved and forgotten.
    assert_eq!(
        tick(&mut e, T0 + 200_000),
        [(true, "not heard from for 109s".to_string())]
    );
    let gone = DomainEvent::Agent(AgentEvent::Revoked {
        name: "eu-1".into(),
    });
    assert!(!e.on_event(&gone, T0 + 200_000)[0].active);
    assert!(tick(&mut e, T0 + 400_000).is_empty());
}
