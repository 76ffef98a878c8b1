//! Times as people read them: "3 min ago", with the exact time on hover.

use std::time::Duration;

use leptos::prelude::*;

/// The current time (ms since the epoch), ticking so relative times age without refetching.
#[derive(Clone, Copy)]
pub struct Now(pub RwSignal<f64>);

/// Installs [`Now`] for the whole app (call once, at the root).
pub fn provide_now() {
    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(handle) = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        Duration::from_secs(10),
    ) {
        on_cleanup(move || handle.clear());
    }
    provide_context(Now(now));
}

/// `93` -> `1m 33s`; days, hours, minutes, seconds, the two largest that apply.
pub fn duration_text(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

fn relative(ms_ago: f64) -> String {
    let future = ms_ago < -5_000.0;
    let secs = (ms_ago.abs() / 1000.0) as u64;
    let text = match secs {
        0..5 => return "just now".into(),
        5..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// Local time with the zone, as the browser writes it.
fn exact(ms: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    String::from(date.to_string())
}

/// An RFC 3339 time as "3 min ago"; hover shows the exact local time. Text that does not parse
/// is shown as it is.
#[component]
pub fn RelativeTime(#[prop(into)] at: String) -> impl IntoView {
    let ms = js_sys::Date::parse(&at);
    if ms.is_nan() {
        return view! { <time>{at}</time> }.into_any();
    }
    let now = use_context::<Now>().map(|n| n.0);
    let text = move || {
        let now = now.map(|n| n.get()).unwrap_or_else(js_sys::Date::now);
        relative(now - ms)
    };
    view! { <time class="relative" datetime=at.clone() title=exact(ms)>{text}</time> }.into_any()
}
