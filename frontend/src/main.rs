//! The Panoptes dashboard: a Leptos client-side app compiled to wasm32 and embedded in the
//! server binary. It talks only to the JSON API (`panoptes_types` describes every payload).
//!
//! Layout: `api` (the one fetch path), `poll` (data that refreshes itself), `live` (the live
//! feed it listens to), `components`
//! (tables, badges, load states, times), `app` (session, routes, navigation bar), and one
//! module per area: `overview`, `monitors`, `issues`, `exceptions`, `alerts`, `oncall`, `statuspages`, `settings`, `login`,
//! `invite` (the page an invite link opens).

mod alerts;
mod api;
mod app;
mod components;
mod exceptions;
mod invite;
mod issues;
mod live;
mod login;
mod monitors;
mod oncall;
mod overview;
mod poll;
mod settings;
mod statuspages;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
