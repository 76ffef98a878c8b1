//! `/`: what needs attention now, ranked (`attention.rs`), then the healthy counts at a
//! glance and the server itself (version, uptime, store).

mod attention;

use leptos::prelude::*;
use leptos_router::components::A;
use panoptes_types::{MonitorState, ServerStatus, StoreState};

use crate::api::{self, ApiError};
use crate::components::{RelativeTime, StateBadge, duration_text, loaded};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};
use attention::{AttentionList, attention};

#[component]
pub fn Overview() -> impl IntoView {
    let status = use_poll_on(Topics::SERVER, EVERY, api::status);
    let glance = use_poll_on(Topics::MONITORS.union(Topics::ISSUES), EVERY, glance);
    let topics = Topics::MONITORS
        .union(Topics::ALERTS)
        .union(Topics::ISSUES)
        .union(Topics::EXCEPTIONS);
    let attention = use_poll_on(topics, EVERY, attention);
    view! {
        <section class="card" id="attention">
            <h1>"Needs attention"</h1>
            {move || loaded(attention.get(), "what needs attention", |items| {
                if items.is_empty() {
                    view! { <p id="all-clear" class="ok">"All clear"</p> }.into_any()
                } else {
                    view! { <AttentionList items=items /> }.into_any()
                }
            })}
        </section>
        <section class="card" id="glance">
            <h1>"At a glance"</h1>
            {move || loaded(glance.get(), "summary", |g| view! { <Glance g=g /> })}
        </section>
        <section class="card" id="server">
            <h1>"Server"</h1>
            {move || loaded(status.get(), "status", |s| view! { <StatusFacts s=s /> })}
        </section>
    }
}

#[component]
fn StatusFacts(s: ServerStatus) -> impl IntoView {
    let healthy = s.store.status == StoreState::Ok;
    view! {
        <dl class="facts">
            <dt>"Version"</dt><dd id="version">{s.version}</dd>
            <dt>"Uptime"</dt><dd id="uptime">{duration_text(s.uptime_seconds)}</dd>
            <dt>"Started"</dt><dd id="started-at"><RelativeTime at=s.started_at /></dd>
            <dt>"Instance"</dt><dd id="instance-id"><code>{s.instance_id}</code></dd>
            <dt>"Store"</dt>
            <dd id="store-status" class=if healthy { "ok" } else { "bad" }>{s.store.status.as_str()}</dd>
            <dt>"Data file"</dt><dd id="store-path"><code>{s.store.path}</code></dd>
            <dt>"Schema version"</dt><dd id="schema-version">{s.store.schema_version}</dd>
            <dt>"Commits"</dt><dd id="commits">{s.store.commits}</dd>
            <dt>"Queue depth"</dt><dd id="queue-depth">{s.store.queue_depth}</dd>
            {s.store.last_error.map(|e| view! { <dt>"Last error"</dt><dd class="error">{e}</dd> })}
        </dl>
    }
}

/// Monitors per state and unresolved issues: the counts that say whether to look further.
#[derive(Clone, PartialEq)]
struct Glance {
    states: Vec<(MonitorState, usize)>,
    unresolved: u64,
    projects: usize,
    /// `platform: ana · db: ben`; empty without schedules.
    on_call: String,
}

async fn glance() -> Result<Glance, ApiError> {
    let monitors = api::monitors().await?;
    let projects = api::projects().await?;
    let on_call = crate::oncall::now_text(&crate::oncall::on_call_now().await?);
    let states = MonitorState::ALL
        .into_iter()
        .map(|st| {
            let n = monitors.iter().filter(|m| m.state == st).count();
            (st, n)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    Ok(Glance {
        states,
        unresolved: projects.iter().map(|p| p.unresolved).sum(),
        projects: projects.len(),
        on_call,
    })
}

#[component]
fn Glance(g: Glance) -> impl IntoView {
    view! {
        <dl class="facts">
            <dt><A href="/monitors">"Monitors"</A></dt>
            <dd id="glance-monitors">
                {if g.states.is_empty() {
                    view! { <span class="muted">"none configured"</span> }.into_any()
                } else {
                    g.states
                        .into_iter()
                        .map(|(st, n)| view! { <span class="count">{n} " " <StateBadge state=st /></span> })
                        .collect_view()
                        .into_any()
                }}
            </dd>
            <dt><A href="/issues">"Issues"</A></dt>
            <dd id="glance-issues">
                {format!("{} unresolved in {} project(s)", g.unresolved, g.projects)}
            </dd>
            {(!g.on_call.is_empty()).then(|| view! {
                <dt><A href="/oncall">"On call now"</A></dt>
                <dd id="glance-oncall">{g.on_call}</dd>
            })}
        </dl>
    }
}
