//! `use_poll`: data a view shows and keeps fresh, fetched again every few seconds while the view
//! is mounted.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiError;

/// How often views refresh what they show.
pub const EVERY: Duration = Duration::from_secs(5);

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

/// Calls `fetch` now and every `every` until the calling view unmounts.
///
/// Signals `fetch` reads *before* returning its future (a route parameter, typically) are
/// tracked: when they change, the answer resets to `None` (loading) and is fetched again, so a
/// view kept mounted across `/monitors/1` -> `/monitors/2` never shows the old monitor. An
/// answer equal to the current one does not notify, so unchanged views do not re-render; an
/// answer overtaken by a newer request is dropped; a tick while a request is in flight is
/// skipped, so a slow server never gets a pile of them.
pub fn use_poll<T, F, Fut>(every: Duration, fetch: F) -> Poll<T>
where
    T: PartialEq + Send + Sync + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let value = RwSignal::new(None::<Result<T, ApiError>>);
    let generation = RwSignal::new(0u64);
    let latest = Rc::new(Cell::new(0u64));
    let in_flight = Rc::new(Cell::new(false));
    let fetch = Rc::new(fetch);

    let run = {
        let (latest, in_flight) = (latest.clone(), in_flight.clone());
        Rc::new(move |fut: Fut, reset: bool| {
            if reset {
                value.try_set(None);
            }
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

    let tick = move || {
        if !in_flight.get() {
            run(untrack(|| fetch()), false);
        }
    };
    if let Ok(handle) = set_interval_with_handle(tick, every) {
        on_cleanup(move || handle.clear());
    }
    Poll { value, generation }
}
