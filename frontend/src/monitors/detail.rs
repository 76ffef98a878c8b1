//! `/monitors/:id`: one monitor's settings, each condition with the value the last check saw,
//! its locations when it has several (`locations.rs`), its state changes (`changes.rs`), its
//! last hour of results and its hourly roll-ups.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use panoptes_types::{ConditionView, MonitorDetail, MonitorSource, Resolution};

use super::changes::Changes;
use super::history::{LatencyChart, Results, Rollups};
use super::locations::Locations;
use super::state_of;
use crate::api::{self, ApiError};
use crate::components::{RelativeTime, StateBadge, loaded, millis, pct};
use crate::poll::{EVERY, use_poll};

#[component]
pub fn MonitorPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .with(|p| p.get("id"))
            .and_then(|s| s.parse::<u32>().ok())
    });
    let with_id = move || {
        id.get()
            .ok_or_else(|| ApiError::not_found("no such monitor"))
    };

    let detail = use_poll(EVERY, move || {
        let id = with_id();
        async move { api::monitor(id?).await }
    });
    let results = use_poll(EVERY, move || {
        let id = with_id();
        async move { api::monitor_results(id?).await }
    });
    let changes = use_poll(EVERY, move || {
        let id = with_id();
        async move { api::monitor_changes(id?).await }
    });
    // Hourly buckets change slowly.
    let rollups = use_poll(Duration::from_secs(60), move || {
        let id = with_id();
        async move { api::monitor_rollups(id?, Resolution::Hour).await }
    });
    // The chart's range: its resolution and how far back.
    let range = RwSignal::new(Range::Day);
    let chart = use_poll(Duration::from_secs(60), move || {
        let id = with_id();
        let r = range.get();
        async move {
            let from = (js_sys::Date::now() as u64).saturating_sub(r.span_ms());
            api::monitor_rollups_since(id?, r.resolution(), from).await
        }
    });
    view! {
        <p class="crumbs"><A href="/monitors">"← Monitors"</A></p>
        <section class="card" id="monitor-detail">
            {move || loaded(detail.get(), "monitor", |d| {
                view! { <Detail d=d changed=Callback::new(move |_| detail.refetch()) /> }
            })}
        </section>
        <Locations id=id />
        <section class="card" id="monitor-latency">
            <div class="row">
                <h2>"Latency"</h2>
                <div class="segmented" role="group" aria-label="Range">
                    {Range::ALL.into_iter().map(|r| view! {
                        <button class="secondary" class:selected=move || range.get() == r
                            aria-pressed=move || (range.get() == r).to_string()
                            on:click=move |_| range.set(r)>{r.label()}</button>
                    }).collect_view()}
                </div>
            </div>
            {move || loaded(chart.get(), "latency", |r| {
                let from_ms = js_sys::Date::now() - range.get_untracked().span_ms() as f64;
                view! { <LatencyChart r=r from_ms=from_ms /> }
            })}
        </section>
        <section class="card" id="monitor-changes">
            <h2>"State changes"</h2>
            {move || loaded(changes.get(), "state changes", |c| view! { <Changes c=c /> })}
        </section>
        <section class="card" id="monitor-results">
            <h2>"Last hour"</h2>
            {move || loaded(results.get(), "results", |r| view! { <Results r=r /> })}
        </section>
        <section class="card" id="monitor-rollups">
            <h2>"By hour"</h2>
            {move || loaded(rollups.get(), "roll-ups", |r| view! { <Rollups r=r /> })}
        </section>
    }
}

/// The latency chart's ranges: minutes over 6 hours, hours over 7 days, days over 90.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Range {
    Hours6,
    Day,
    Week,
    Days90,
}

impl Range {
    const ALL: [Range; 4] = [Range::Hours6, Range::Day, Range::Week, Range::Days90];

    fn label(self) -> &'static str {
        match self {
            Range::Hours6 => "6 h",
            Range::Day => "24 h",
            Range::Week => "7 d",
            Range::Days90 => "90 d",
        }
    }

    fn span_ms(self) -> u64 {
        const H: u64 = 3_600_000;
        match self {
            Range::Hours6 => 6 * H,
            Range::Day => 24 * H,
            Range::Week => 7 * 24 * H,
            Range::Days90 => 90 * 24 * H,
        }
    }

    fn resolution(self) -> Resolution {
        match self {
            Range::Hours6 => Resolution::Minute,
            Range::Day | Range::Week => Resolution::Hour,
            Range::Days90 => Resolution::Day,
        }
    }
}

/// Edit, pause/resume and delete, for a monitor made here by someone who may change it; a
/// note for one the config file declares.
#[component]
fn Actions(id: u32, source: MonitorSource, paused: bool, changed: Callback<()>) -> impl IntoView {
    let editor = super::can_edit();
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let toggle = move |_| {
        spawn_local(async move {
            let patch = serde_json::json!({ "enabled": paused });
            match api::update_monitor(id, &patch).await {
                Ok(_) => changed.run(()),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let remove = move |_| {
        let confirmed = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message(
                    "Delete this monitor? Its results stay until retention removes them.",
                )
                .ok()
            })
            .unwrap_or(false);
        if !confirmed {
            return;
        }
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::delete_monitor(id).await {
                Ok(()) => navigate("/monitors", Default::default()),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    match source {
        MonitorSource::Config => view! {
            <p class="muted" id="from-config">"Declared in the config file: change it there."</p>
        }
        .into_any(),
        MonitorSource::Api => view! {
            <Show when=editor>
                <div class="actions" id="monitor-actions">
                    <A href=format!("/monitors/{id}/edit") {..} id="edit-monitor" class="button">"Edit"</A>
                    <button class="secondary" id="pause-monitor" on:click=toggle>
                        {if paused { "Resume" } else { "Pause" }}
                    </button>
                    <button class="secondary" id="delete-monitor" on:click=remove.clone()>"Delete"</button>
                </div>
            </Show>
            {move || error.get().map(|e| view! { <p class="error note" role="alert">{e}</p> })}
        }
        .into_any(),
    }
}

#[component]
fn Detail(d: MonitorDetail, changed: Callback<()>) -> impl IntoView {
    let s = d.summary;
    let state = state_of(&s);
    let (id, source, paused) = (s.id, s.source, s.paused);
    let uptime = [
        ("24 h", s.uptime.h24),
        ("7 d", s.uptime.d7),
        ("30 d", s.uptime.d30),
        ("90 d", s.uptime.d90),
    ];
    view! {
        <div class="row">
            <h1>{s.name.clone()}</h1>
            <StateBadge state=state />
            {paused.then(|| view! { <span class="badge muted paused">"paused"</span> })}
        </div>
        <Actions id=id source=source paused=paused changed=changed />
        <p class="muted">
            {format!("{} {} every {}, timeout {}, retries {} ({} apart), recovery after {}",
                s.kind, s.target, d.interval, d.timeout, d.retries, d.retry_interval, d.recovery)}
            {d.degraded_above.map(|t| format!(", degraded above {t}"))}
            {format!(", Apdex T {}", d.apdex_t)}
            {s.group.map(|g| format!(", group {g}"))}
        </p>
        {d.maintenance.map(|m| view! { <p class="badge muted">{format!("in maintenance window \"{m}\"")}</p> })}
        <dl class="facts">
            <dt>"Last check"</dt>
            <dd>{match s.last_check_at {
                Some(at) => view! { <RelativeTime at=at /> }.into_any(),
                None => view! { <span class="muted">"not yet"</span> }.into_any(),
            }}</dd>
            <dt>"Latency"</dt><dd>{millis(s.last_latency_ms.map(|l| l as f64))}</dd>
            {d.last_status.map(|st| view! { <dt>"HTTP status"</dt><dd>{st}</dd> })}
            {s.certificate_days_left.map(|c| view! { <dt>"Certificate"</dt><dd>{format!("expires in {c:.1} days")}</dd> })}
            {s.last_error.map(|e| view! { <dt>"Last error"</dt><dd class="error">{e}</dd> })}
            <dt>"Availability"</dt>
            <dd class="uptime">
                {uptime.into_iter().map(|(w, v)| view! { <span>{w} " " <b>{pct(v)}</b></span> }).collect_view()}
            </dd>
        </dl>
        <h2>"Conditions"</h2>
        <ul class="conditions">
            {d.conditions.into_iter().map(|c| view! { <Condition c=c /> }).collect_view()}
        </ul>
    }
}

#[component]
fn Condition(c: ConditionView) -> impl IntoView {
    let (class, mark) = match c.ok {
        Some(true) => ("cond ok", "✓"),
        Some(false) => ("cond bad", "✗"),
        None => ("cond muted", "·"),
    };
    view! { <li class=class>{mark} " " <code>{c.seen.unwrap_or(c.condition)}</code></li> }
}
