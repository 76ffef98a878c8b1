//! `use_poll`: data a view shows and keeps fresh while the view is mounted.
//!
//! Fresh how: while the live feed is open (`live.rs`), a view refetches when a message of its
//! topics arrives, and otherwise only every [`FALLBACK`]; while the feed is down (a server
//! restart, a proxy that cuts streams) it polls every few seconds as before. Every view gets
//! this from here, without knowing about the feed.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiError;
use crate::live::{Topics, use_live};

/// How often views refresh what they show while the live feed is down.
pub const EVERY: Duration = Duration::from_secs(5);
/// How often views refresh anyway while the live feed is open: for what has no message
/// (latencies, counts, shifts changing hands) and messages lost on the way.
pub const FALLBACK: Duration = Duration::from_secs(60);

/// The latest answer of a polled fetch: `None` until the first one arrives.
pub struct Poll<T: Send + Sync + 'static> {
    value: RwSignal<Option<Result<T, ApiError>>>,
    generation: RwSignal<u64>,
}

impl<T: Send + Sync + 'static> Clone for Poll<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Poll<T> {}

impl<T: Clone + Send + Sync + 'static> Poll<T> {
    /// Tracked: a view reading this re-renders when a different answer arrives.
    pub fn get(&self) -> Option<Result<T, ApiError>> {
        self.value.get()
    }

    /// Fetches again now (after an action changed what the server holds), keeping the current
    /// answer on screen until the new one arrives.
    pub fn refetch(&self) {
        self.generation.update(|g| *g += 1);
    }
}

/// [`use_poll_on`] for every topic: views that did not say which changes concern them
/// refetch on any.
pub fn use_poll<T, F, Fut>(every: Duration, fetch: F) -> Poll<T>
where
    T: PartialEq + Send + Sync + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    use_poll_on(Topics::ALL, every, fetch)
}

/// Calls `fetch` now, again when the live feed announces a change of `topics` (or reconnects),
/// and every `every` while the feed is down (every [`FALLBACK`] while it is up), until the
/// calling view unmounts.
///
/// Signals `fetch` reads *before* returning its future (a route parameter, typically) are
/// tracked: when they change, the answer resets to `None` (loading) and is fetched again, so a
/// view kept mounted across `/monitors/1` -> `/monitors/2` never shows the old monitor. An
/// answer equal to the current one does not notify, so unchanged views do not re-render; an
/// answer overtaken by a newer request is dropped; a tick while a request is in flight is
/// skipped, so a slow server never gets a pile of them.
pub fn use_poll_on<T, F, Fut>(topics: Topics, every: Duration, fetch: F) -> Poll<T>
where
    T: PartialEq + Send + Sync + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let value = RwSignal::new(None::<Result<T, ApiError>>);
    let generation = RwSignal::new(0u64);
    let latest = Rc::new(Cell::new(0u64));
    let in_flight = Rc::new(Cell::new(false));
    // When the last request went out (ms since the epoch).
    let sent_at = Rc::new(Cell::new(0f64));
    let fetch = Rc::new(fetch);

    let run = {
        let (latest, in_flight, sent_at) = (latest.clone(), in_flight.clone(), sent_at.clone());
        Rc::new(move |fut: Fut, reset: bool| {
            if reset {
                value.try_set(None);
            }
            sent_at.set(js_sys::Date::now());
            let seq = latest.get() + 1;
            latest.set(seq);
            in_flight.set(true);
            let (latest, in_flight) = (latest.clone(), in_flight.clone());
            spawn_local(async move {
                let answer = fut.await;
                if latest.get() != seq {
                    return;
                }
                in_flight.set(false);
                // `try_*`: the view may have unmounted while the request was out.
                let changed = value.try_with_untracked(|v| v.as_ref() != Some(&answer));
                if changed == Some(true) {
                    value.try_set(Some(answer));
                }
            });
        })
    };

    {
        let (fetch, run) = (fetch.clone(), run.clone());
        Effect::new(move |previous: Option<u64>| {
            let current = generation.get();
            let fut = fetch();
            // Re-run with the same generation: a tracked input of `fetch` changed.
            run(fut, previous == Some(current));
            current
        });
    }

    let live = use_live();
    let every_ms = every.as_millis() as f64;
    if let Some(live) = live {
        let (fetch, run, sent_at) = (fetch.clone(), run.clone(), sent_at.clone());
        Effect::new(move |previous: Option<u64>| {
            let (n, changed) = live.pulse.get();
            // Changes are fetched at once; quiet checks no more often than `every`, the pace
            // the view asked for.
            let news = changed.intersects(topics.without(Topics::CHECKS));
            let checks = changed.intersects(topics) && changed.intersects(Topics::CHECKS);
            let due = js_sys::Date::now() - sent_at.get() >= every_ms;
            if previous.is_some_and(|p| p != n) && (news || (checks && due)) {
                run(untrack(|| fetch()), false);
            }
            n
        });
    }
    let fallback_ms = FALLBACK.max(every).as_millis() as f64;
    let tick = move || {
        // A hidden tab fetches nothing: when it is shown again the feed reconnects, and its
        // `hello` refetches every view.
        if live.is_some() && document().hidden() {
            return;
        }
        let live_up = live.is_some_and(|l| l.connected.get_untracked());
        let due = !live_up || js_sys::Date::now() - sent_at.get() >= fallback_ms;
        if due && !in_flight.get() {
            run(untrack(|| fetch()), false);
        }
    };
    if let Ok(handle) = set_interval_with_handle(tick, every) {
        on_cleanup(move || handle.clear());
    }
    Poll { value, generation }
}
