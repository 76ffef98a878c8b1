//! The running configuration (admins only), read-only: every section with its defaults, as
//! the server renders it with secrets replaced by `<redacted>` (`GET /api/v1/config`).

use leptos::prelude::*;
use panoptes_types::EffectiveConfig;

use super::QUIET;
use crate::api;
use crate::components::loaded;
use crate::poll::use_poll_on;

#[component]
pub fn RunningConfig() -> impl IntoView {
    let config = use_poll_on(QUIET.0, QUIET.1, || api::get::<EffectiveConfig>("/config"));
    view! {
        <section class="card" id="settings-config">
            <h2>"Config"</h2>
            <p class="muted">
                "The configuration this server runs with, defaults included; secrets are shown as "
                <code>"<redacted>"</code>
                ". Change it in the config file and reload (SIGHUP)."
            </p>
            <details id="config-details">
                <summary>"Show the running configuration"</summary>
                {move || loaded(config.get(), "configuration", |c| view! {
                    <pre class="snippet" id="config-yaml" style="max-height: 70vh">{c.yaml}</pre>
                })}
            </details>
        </section>
    }
}
