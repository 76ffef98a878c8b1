//! The live feed: one `EventSource` on `/api/v1/live` for the whole tab, open while someone is
//! signed in, and the pulse views refetch on (see `poll.rs`).
//!
//! Owns: the connection, its reconnection with backoff (a server restart, a network drop), and
//! turning messages into a coalesced pulse of [`Topics`]. Depends on: `panoptes_types` (the
//! messages) and the app's session signal.
//!
//! Messages only say what changed, never the new state: a view refetches from the API, so a
//! lost message costs a delay, not a wrong screen. Every (re)connection starts with `hello`,
//! which concerns every topic, so after a restart every view shows the server's state again.
//! Bursts (a network outage turning fifty monitors DOWN) become one refetch per view: messages
//! are gathered for [`COALESCE`] and then announced together.

use std::cell::RefCell;
use std::time::Duration;

use leptos::prelude::*;
use panoptes_types::{API_PREFIX, LiveMessage, Topic};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

use crate::app::Session;

/// How long messages are gathered before views hear of them.
const COALESCE: Duration = Duration::from_millis(300);
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A set of [`Topic`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Topics(u8);

impl Topics {
    pub const ALL: Topics = Topics(0b111_1111);
    /// For views no message concerns (they refresh on their own changes and the fallback).
    pub const NONE: Topics = Topics(0);
    pub const MONITORS: Topics = Topics::of(&[Topic::Monitors]);
    pub const ISSUES: Topics = Topics::of(&[Topic::Issues]);
    pub const EXCEPTIONS: Topics = Topics::of(&[Topic::Exceptions]);
    pub const ALERTS: Topics = Topics::of(&[Topic::Alerts]);
    pub const SERVER: Topics = Topics::of(&[Topic::Server]);
    /// On-call pages: opened, acknowledged, escalated, resolved, delivered.
    pub const PAGES: Topics = Topics::of(&[Topic::Pages]);
    /// Results that kept their monitors' states: announced every few seconds while monitors
    /// run, so views refetch on them no more often than they would poll.
    pub const CHECKS: Topics = Topics::of(&[Topic::Checks]);

    const fn bit(t: Topic) -> u8 {
        match t {
            Topic::Monitors => 1,
            Topic::Issues => 2,
            Topic::Exceptions => 4,
            Topic::Alerts => 8,
            Topic::Server => 16,
            Topic::Checks => 32,
            Topic::Pages => 64,
        }
    }

    pub const fn of(topics: &[Topic]) -> Topics {
        let mut bits = 0;
        let mut i = 0;
        while i < topics.len() {
            bits |= Topics::bit(topics[i]);
            i += 1;
        }
        Topics(bits)
    }

    pub fn intersects(self, other: Topics) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn union(self, other: Topics) -> Topics {
        Topics(self.0 | other.0)
    }

    pub fn without(self, other: Topics) -> Topics {
        Topics(self.0 & !other.0)
    }

    /// What one message concerns: its topic, or everything (hello, resync, unknown types).
    fn of_message(data: Option<String>) -> Topics {
        data.and_then(|t| serde_json::from_str::<LiveMessage>(&t).ok())
            .and_then(|m| m.topic())
            .map(|t| Topics::of(&[t]))
            .unwrap_or(Topics::ALL)
    }
}

/// The feed as views see it (in the context, from [`provide`]).
#[derive(Clone, Copy)]
pub struct Live {
    /// The stream is open now: views poll only as a slow fallback.
    pub connected: RwSignal<bool>,
    /// Bumped with the topics that changed since the last bump.
    pub pulse: RwSignal<(u64, Topics)>,
}

/// The feed of the context; `None` outside the app shell.
pub fn use_live() -> Option<Live> {
    use_context::<Live>()
}

/// An open `EventSource` and the callbacks it holds; closed when dropped.
struct Conn {
    source: EventSource,
    _on_open: Closure<dyn FnMut(web_sys::Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.source.close();
    }
}

#[derive(Default)]
struct Feed {
    conn: Option<Conn>,
    /// Bumped by every connect and disconnect: callbacks and retries of an older connection
    /// find it changed and do nothing.
    epoch: u64,
    backoff: Duration,
    /// Topics gathered and not yet announced (`None`: no announcement scheduled).
    pending: Option<Topics>,
}

thread_local! {
    // The browser runs us on one thread; one feed per tab.
    static FEED: RefCell<Feed> = RefCell::new(Feed::default());
}

/// Puts the feed in the context and keeps it open exactly while someone is signed in and the
/// tab is visible.
///
/// Why not in hidden tabs: the server speaks HTTP/1, where a browser opens at most six
/// connections to one origin; a stream held by each of a dozen background tabs would starve
/// the one in front. A tab coming back reconnects, and `hello` makes its views refetch.
pub fn provide(session: RwSignal<Session>) {
    let live = Live {
        connected: RwSignal::new(false),
        pulse: RwSignal::new((0, Topics::ALL)),
    };
    provide_context(live);
    let visible = RwSignal::new(!document().hidden());
    let on_visibility = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        visible.try_set(!document().hidden());
    });
    let listening = document().add_event_listener_with_callback(
        "visibilitychange",
        on_visibility.as_ref().unchecked_ref(),
    );
    if listening.is_ok() {
        // Listens for the life of the page, as the app does.
        on_visibility.forget();
    }
    Effect::new(move || {
        if matches!(session.get(), Session::User(_)) && visible.get() {
            connect(live);
        } else {
            disconnect(live);
        }
    });
}

fn connect(live: Live) {
    let epoch = FEED.with(|f| {
        let mut f = f.borrow_mut();
        if f.conn.is_some() {
            return None;
        }
        f.epoch += 1;
        Some(f.epoch)
    });
    let Some(epoch) = epoch else { return };
    match open(live, epoch) {
        Ok(conn) => FEED.with(|f| f.borrow_mut().conn = Some(conn)),
        Err(_) => retry(live, epoch),
    }
}

fn disconnect(live: Live) {
    let old = FEED.with(|f| {
        let mut f = f.borrow_mut();
        f.epoch += 1;
        f.backoff = Duration::ZERO;
        f.conn.take()
    });
    drop(old);
    live.connected.try_set(false);
}

fn current(epoch: u64) -> bool {
    FEED.with(|f| f.borrow().epoch == epoch)
}

fn open(live: Live, epoch: u64) -> Result<Conn, wasm_bindgen::JsValue> {
    let source = EventSource::new(&format!("{API_PREFIX}/live"))?;
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        if current(epoch) {
            FEED.with(|f| f.borrow_mut().backoff = Duration::ZERO);
            live.connected.try_set(true);
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if current(epoch) {
            announce(live, Topics::of_message(e.data().as_string()));
        }
    });
    let errored = source.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        // Closed here and reopened by us, with backoff, rather than left to the browser's own
        // retry: that gives up for good on an error answer (a restart's 502 from a proxy) and
        // retries every 3 s forever otherwise. The connection itself is dropped by the retry,
        // not here: this callback belongs to it.
        errored.close();
        if current(epoch) {
            live.connected.try_set(false);
            retry(live, epoch);
        }
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Conn {
        source,
        _on_open: on_open,
        _on_message: on_message,
        _on_error: on_error,
    })
}

/// Reconnects after a growing, jittered wait (1 s doubling to [`MAX_BACKOFF`]), unless the
/// feed was closed or reopened meanwhile.
fn retry(live: Live, epoch: u64) {
    let wait = FEED.with(|f| {
        let mut f = f.borrow_mut();
        f.backoff = (f.backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
        f.backoff
    });
    // Half to all of the wait: tabs that lost the same server do not all return at once.
    let wait = wait.mul_f64(0.5 + js_sys::Math::random() / 2.0);
    set_timeout(
        move || {
            if !current(epoch) {
                return;
            }
            let old = FEED.with(|f| f.borrow_mut().conn.take());
            drop(old);
            connect(live);
        },
        wait,
    );
}

/// Gathers `topics` and announces everything gathered once [`COALESCE`] has passed.
fn announce(live: Live, topics: Topics) {
    let first = FEED.with(|f| {
        let mut f = f.borrow_mut();
        let first = f.pending.is_none();
        f.pending = Some(f.pending.unwrap_or_default().union(topics));
        first
    });
    if first {
        set_timeout(
            move || {
                if let Some(t) = FEED.with(|f| f.borrow_mut().pending.take()) {
                    live.pulse.try_update(|(n, ts)| {
                        *n += 1;
                        *ts = t;
                    });
                }
            },
            COALESCE,
        );
    }
}

/// A dot in the navigation bar: whether the dashboard is hearing changes as they happen.
#[component]
pub fn LiveDot() -> impl IntoView {
    let connected = use_live().map(|l| l.connected);
    let on = move || connected.is_some_and(|c| c.get());
    view! {
        <span
            id="live"
            class="live"
            data-live=move || if on() { "on" } else { "off" }
            title=move || {
                if on() {
                    "Live: changes show as they happen"
                } else {
                    "Not live: refreshing every few seconds"
                }
            }
        >
            {move || if on() { "● live" } else { "○ polling" }}
        </span>
    }
}
