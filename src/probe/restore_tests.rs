//! A restart: every monitor's runtime rebuilt from the store (see `engine.rs`, `restore_many`).

use super::tests::{BASE_MS, engine, parse, without_time_passing};
use super::*;
use crate::clock::TokioClock;
use crate::events::Publisher;

/// A restart rebuilds every monitor's state, last push and current roll-ups from the store, each
/// its own (they are read for all monitors in one transaction and handed out in order).
#[tokio::test(start_paused = true)]
async fn a_restart_restores_each_monitors_state_and_rollups() {
    let yaml = "monitors:\n  - {name: a, type: push, token: token-a-0123, interval: 1h, retries: 0}\n  - {name: b, type: push, token: token-b-0123, interval: 1h, retries: 0}\n  - {name: c, type: push, token: token-c-0123, interval: 1h, retries: 0}\n";
    let (dir, e, _) = engine(yaml).await;
    without_time_passing(e.push("token-a-0123", true, None, Some(5)))
        .await
        .expect("a");
    without_time_passing(e.push("token-b-0123", false, None, None))
        .await
        .expect("b");
    e.stop();
    without_time_passing(e.store().close()).await;
    drop(e);
    let c = parse(yaml);
    let options = crate::store::StoreOptions {
        write_timeout: None,
        ..Default::default()
    };
    let store = Store::open(dir.path(), options, Default::default()).expect("reopen");
    let e = ProbeEngine::start(
        ProbeDeps {
            store,
            clock: TokioClock::new(BASE_MS),
            metrics: ProbeMetrics::default(),
            clients: crate::outbound::default_clients(),
            events: Publisher::discard(),
        },
        &c.probing,
        &c.monitors,
        &c.maintenance,
    )
    .await
    .expect("engine");
    let by_name = |n: &str| {
        let (id, m) = read(&e.inner.monitors)
            .iter()
            .find(|(_, m)| m.config.name == n)
            .map(|(id, m)| (*id, m.clone()))
            .expect("monitor");
        (e.get(id).expect("view"), lock(&m.rt).clone())
    };
    let (a, a_rt) = by_name("a");
    let (b, b_rt) = by_name("b");
    let (c, c_rt) = by_name("c");
    assert_eq!(
        (a.state, b.state, c.state),
        (State::Up, State::Down, State::Unknown)
    );
    assert_eq!(a_rt.last_push_ms, Some(BASE_MS));
    assert_eq!(c_rt.last_push_ms, None);
    let day = 2; // `current` follows `Resolution::ALL`: minute, hour, day
    assert_eq!((a_rt.current[day].1.up, a_rt.current[day].1.down), (1, 0));
    assert_eq!((b_rt.current[day].1.up, b_rt.current[day].1.down), (0, 1));
    assert_eq!(c_rt.current[day].1, Rollup::default());
    assert_eq!(b_rt.hours.len(), 1, "the hour's tally is back");
}
