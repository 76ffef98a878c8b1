//! A monitor checked from several locations, on its detail view: the state across them (the
//! monitor's state, with the quorum) and each location's state, last check and 24 h uptime,
//! from `GET /api/v1/monitors/{id}/locations`. Nothing shows for a monitor checked from the
//! server alone.

use leptos::prelude::*;
use panoptes_types::{LocationInfo, MonitorLocations};

use crate::api::{self, ApiError};
use crate::components::{RelativeTime, StateBadge, Table, millis, pct};
use crate::poll::{EVERY, use_poll};

#[component]
pub fn Locations(id: Memo<Option<u32>>) -> impl IntoView {
    let answer = use_poll(EVERY, move || {
        let id = id.get();
        async move {
            let id = id.ok_or_else(|| ApiError::not_found("no such monitor"))?;
            api::get::<MonitorLocations>(&format!("/monitors/{id}/locations")).await
        }
    });
    // A monitor without locations (or an answer not there yet) adds nothing to the page.
    move || match answer.get() {
        Some(Ok(l)) if !l.locations.is_empty() => view! { <Across l=l /> }.into_any(),
        _ => ().into_any(),
    }
}

#[component]
fn Across(l: MonitorLocations) -> impl IntoView {
    let summary = format!(
        "{} of {} locations failing, {} reporting; DOWN from {} failing",
        l.failing,
        l.locations.len(),
        l.reporting,
        l.quorum
    );
    view! {
        <section class="card" id="monitor-locations">
            <div class="row">
                <h2>"Locations"</h2>
                <StateBadge state=l.state />
            </div>
            <p class="muted">{summary}</p>
            <Table headers=&["Location", "State", "Last check", "Latency", "Status", "Uptime 24 h", "Error"] class="locations">
                {l.locations.into_iter().map(|x| view! { <LocationRow x=x /> }).collect_view()}
            </Table>
        </section>
    }
}

#[component]
fn LocationRow(x: LocationInfo) -> impl IntoView {
    let name = if x.local {
        format!("{} (this server)", x.location)
    } else {
        x.location.clone()
    };
    view! {
        <tr data-location=x.location.clone() class:muted=x.stale>
            <td>{name}</td>
            <td>
                <StateBadge state=x.state />
                {x.stale.then(|| view! { <span class="muted">" silent"</span> })}
            </td>
            <td>{match x.last_at {
                Some(at) => view! { <RelativeTime at=at /> }.into_any(),
                None => "never".into_any(),
            }}</td>
            <td class="num">{millis(x.latency_ms.map(|v| v as f64))}</td>
            <td class="num">{x.status.map(|s| s.to_string()).unwrap_or_else(|| "–".into())}</td>
            <td class="num">{pct(x.uptime_24h)}</td>
            <td class="error">{x.error.unwrap_or_default()}</td>
        </tr>
    }
}
