//! `/monitors/:id`: one monitor's settings, each condition with the value the last check saw,
//! its last hour of results and its hourly roll-ups.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use panoptes_types::{ConditionView, MonitorDetail, Resolution};

use super::history::{Results, Rollups};
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
    // Hourly buckets change slowly.
    let rollups = use_poll(Duration::from_secs(60), move || {
        let id = with_id();
        async move { api::monitor_rollups(id?, Resolution::Hour).await }
    });
    view! {
        <p class="crumbs"><A href="/monitors">"← Monitors"</A></p>
        <section class="card" id="monitor-detail">
            {move || loaded(detail.get(), "monitor", |d| view! { <Detail d=d /> })}
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

#[component]
fn Detail(d: MonitorDetail) -> impl IntoView {
    let s = d.summary;
    let state = state_of(&s);
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
        </div>
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
