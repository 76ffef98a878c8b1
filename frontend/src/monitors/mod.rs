//! `/monitors`: every monitor with its state, the failing ones first, so whoever is paged at
//! night sees them without scrolling; `/monitors/:id` (see `detail`) for one.

mod bar;
mod changes;
mod detail;
mod form;
mod history;
mod list;
mod locations;
mod maintenance;

pub use detail::MonitorPage;
pub use form::{EditMonitor, NewMonitor};

use leptos::prelude::*;
use leptos_router::components::A;
use panoptes_types::{MonitorSource, MonitorState, MonitorSummary, Role};

use crate::api;
use crate::app::{Session, use_session};
use crate::components::{Empty, RelativeTime, StateBadge, Table, loaded, millis, pct, row_link};
use crate::poll::{EVERY, use_poll};

/// Where a state sorts: what needs a human first.
fn rank(state: MonitorState) -> u8 {
    match state {
        MonitorState::Down => 0,
        MonitorState::Pending => 1,
        MonitorState::Degraded => 2,
        MonitorState::Maintenance => 3,
        MonitorState::Unknown => 4,
        MonitorState::Up => 5,
    }
}

/// Whether the signed-in person may change monitors (the server decides; this hides buttons
/// that would only be refused).
pub(crate) fn can_edit() -> impl Fn() -> bool + Copy {
    let session = use_session();
    move || matches!(session.get(), Session::User(p) if p.role >= Role::Editor)
}

pub(crate) fn state_of(m: &MonitorSummary) -> MonitorState {
    m.state
}

async fn sorted_monitors() -> Result<Vec<MonitorSummary>, api::ApiError> {
    let mut items = api::monitors().await?;
    items.sort_by(|a, b| {
        rank(state_of(a))
            .cmp(&rank(state_of(b)))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(items)
}

#[component]
pub fn MonitorList() -> impl IntoView {
    let monitors = use_poll(EVERY, sorted_monitors);
    let editor = can_edit();
    let filter = RwSignal::new(list::Filter::default());
    let top = RwSignal::new(0.0f64);
    view! {
        <section class="card" id="monitors">
            <div class="row">
                <h1>"Monitors"</h1>
                <Show when=editor>
                    <A href="/monitors/new" {..} id="new-monitor" class="button">"New monitor"</A>
                </Show>
            </div>
            {move || loaded(monitors.get(), "monitors", move |items| {
                if items.is_empty() {
                    return view! { <Empty>"No monitors yet: add one here, or under " <code>"monitors:"</code> " in the config."</Empty> }
                        .into_any();
                }
                let mut kinds: Vec<String> = items.iter().map(|m| m.kind.clone()).collect();
                kinds.sort();
                kinds.dedup();
                let mut groups: Vec<String> = items.iter().filter_map(|m| m.group.clone()).collect();
                groups.sort();
                groups.dedup();
                let total = items.len();
                let items = StoredValue::new(items);
                let shown = Memo::new(move |_| {
                    let f = filter.get();
                    items.with_value(|all| all.iter().filter(|m| f.keeps(m)).cloned().collect::<Vec<_>>())
                });
                let on_scroll = move |ev: leptos::ev::Event| {
                    let el = event_target::<web_sys::Element>(&ev);
                    top.set(f64::from(el.scroll_top()));
                };
                view! {
                    <list::FilterBar filter=filter kinds=kinds groups=groups />
                    <p class="muted count" id="monitor-count">
                        {move || format!("{} of {total}", shown.with(Vec::len))}
                    </p>
                    <div class="scroller" id="monitor-scroller" on:scroll=on_scroll>
                        <Table
                            headers=&["State", "Name", "Type", "Target", "Latency", "Checked", "Last 24 h", "90 d", "Last error"]
                            class="monitors"
                        >
                            {move || shown.with(|rows| {
                                let (start, end) = list::window(top.get(), rows.len());
                                let above = format!("height: {}px", start as f64 * list::ROW_PX);
                                let below = format!("height: {}px", (rows.len() - end) as f64 * list::ROW_PX);
                                view! {
                                    <tr class="spacer" style=above aria-hidden="true"></tr>
                                    {rows[start..end].iter().cloned().map(|m| view! { <MonitorRow m=m /> }).collect_view()}
                                    <tr class="spacer" style=below aria-hidden="true"></tr>
                                }
                            })}
                        </Table>
                    </div>
                }
                .into_any()
            })}
        </section>
        <maintenance::Windows editor=editor />
    }
}

#[component]
fn MonitorRow(m: MonitorSummary) -> impl IntoView {
    let href = format!("/monitors/{}", m.id);
    let on_click = row_link(href.clone());
    let state = state_of(&m);
    let name = m.name.clone();
    view! {
        <tr class="monitor-row link-row" data-name=m.name data-id=m.id on:click=on_click>
            <td><StateBadge state=state /></td>
            <td>
                <A href=href>{name}</A>
                {m.group.map(|g| view! { <span class="muted">{format!("  {g}")}</span> })}
                {m.paused.then(|| view! { <span class="badge muted paused">"paused"</span> })}
                {(m.source == MonitorSource::Config)
                    .then(|| view! { <span class="badge muted from-config" title="declared in the config file">"config"</span> })}
            </td>
            <td>{m.kind}</td>
            <td class="target"><code>{m.target}</code></td>
            <td class="num">{millis(m.last_latency_ms.map(|l| l as f64))}</td>
            <td>{m.last_check_at.map(|at| view! { <RelativeTime at=at /> })}</td>
            <td class="day" title=format!("24 h: {}", pct(m.uptime.h24))><bar::DayBar bar=m.bar_24h /></td>
            <td class="num uptime-90d">{pct(m.uptime.d90)}</td>
            <td class="error">{m.last_error.unwrap_or_default()}</td>
        </tr>
    }
}
