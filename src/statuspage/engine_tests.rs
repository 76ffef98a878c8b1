use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc as std_mpsc;

use super::*;
use crate::clock::ManualClock;
use crate::probe::rollup::{Resolution, Rollup};
use crate::probe::state::State;
use crate::store::StoreOptions;

/// Monitors whose roll-up reads can be held mid-render, to make two renders overlap.
struct Gate {
    hold: AtomicBool,
    entered: Mutex<Option<std_mpsc::Sender<()>>>,
    release: Mutex<Option<std_mpsc::Receiver<()>>>,
}

impl Monitors for Gate {
    fn state(&self, _: &str) -> Option<State> {
        Some(State::Up)
    }
    fn last_error(&self, _: &str) -> Option<String> {
        None
    }
    fn rollups(&self, _: &str, _: Resolution, _: u64, _: u64) -> Vec<(u64, Rollup)> {
        if self.hold.swap(false, Ordering::SeqCst) {
            if let Some(tx) = self.entered.lock().expect("lock").take() {
                let _ = tx.send(());
            }
            if let Some(rx) = self.release.lock().expect("lock").take() {
                let _ = rx.recv();
            }
        }
        Vec::new()
    }
}

fn settings() -> Settings {
    let c = crate::config::root::parse(
        "monitors:\n  - {name: api, type: push, token: api-token-0123456789}\nstatus_pages:\n  - {slug: public, title: T, components: [{name: API, monitor: api}]}\n",
        "t.yaml",
        &|_| None,
    )
    .expect("config");
    Settings {
        pages: c.status_pages,
        monitors: c.monitors,
        external_url: None,
        maintenance: Vec::new(),
        smtp: Default::default(),
    }
}

/// A render that started before an incident was opened but finishes after the incident's own
/// render must not leave the page without the incident (it did before renders took turns).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_render_never_overwrites_a_newer_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), Default::default()).expect("store");
    let (entered_tx, entered_rx) = std_mpsc::channel();
    let (release_tx, release_rx) = std_mpsc::channel();
    let gate = Arc::new(Gate {
        hold: AtomicBool::new(false),
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(Some(release_rx)),
    });
    let (_settings_tx, settings_rx) = watch::channel(Arc::new(settings()));
    let (_events_tx, events_rx) = mpsc::channel(1);
    let (pages, _task) = start(Deps {
        store,
        clock: ManualClock::new(1_700_000_000_000),
        settings: settings_rx,
        monitors: gate.clone(),
        events: events_rx,
        default_external_url: "http://status.test".into(),
        clients: crate::outbound::default_clients(),
        shutdown: crate::tasks::Shutdown::never(),
    })
    .await
    .expect("start");
    // A render that reads its inputs, then stalls in the middle.
    gate.hold.store(true, Ordering::SeqCst);
    let slow = tokio::spawn({
        let pages = pages.clone();
        async move { pages.render_all().await }
    });
    tokio::task::spawn_blocking(move || entered_rx.recv())
        .await
        .expect("join")
        .expect("the slow render started");
    // An incident opens meanwhile; its render waits its turn (or, without turns, finishes
    // first and is then overwritten).
    let change: Change =
        serde_json::from_str(r#"{"name":"API errors","components":{"API":"major_outage"}}"#)
            .expect("change");
    let opening = tokio::spawn({
        let pages = pages.clone();
        async move { pages.change("public", None, &change, "alice").await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    release_tx.send(()).expect("release");
    slow.await.expect("slow render");
    let (incident, _) = opening.await.expect("join").expect("opened");
    assert_eq!(pages.incident_count(), 1);
    let page = pages.get("public").expect("rendered");
    assert_eq!(
        page.view.incidents.first().map(|i| i.id),
        Some(incident.id),
        "the cached page has the incident"
    );
    assert_eq!(page.view.indicator, model::Impact::Critical);
}
