//! The one table style: a header row of column names, then whatever rows the view renders.

use leptos::ev::MouseEvent;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use wasm_bindgen::JsCast;

#[component]
pub fn Table(
    /// Column headings, in order.
    headers: &'static [&'static str],
    /// Extra classes (the view's own, for styling and tests).
    #[prop(optional)]
    class: &'static str,
    /// The `<tr>` rows.
    children: Children,
) -> impl IntoView {
    view! {
        <table class=format!("data {class}")>
            <thead>
                <tr>{headers.iter().map(|h| view! { <th>{*h}</th> }).collect_view()}</tr>
            </thead>
            <tbody>{children()}</tbody>
        </table>
    }
}

/// A click handler for a row that leads to `href`. The row's own link (kept for keyboard users,
/// middle-click and "open in new tab") navigates by itself, so clicks on a link are left to it,
/// as are clicks asking for a new tab or window.
pub fn row_link(href: String) -> impl Fn(MouseEvent) + Clone + 'static {
    let navigate = use_navigate();
    move |ev: MouseEvent| {
        if ev.button() != 0 || ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key() {
            return;
        }
        let on_link = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("a").ok().flatten())
            .is_some();
        if !on_link {
            navigate(&href, Default::default());
        }
    }
}
