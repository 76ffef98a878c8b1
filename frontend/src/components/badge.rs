//! Coloured badges for states and levels: the colour classes live here only.

use leptos::prelude::*;
use panoptes_types::{Level, MonitorState};

fn state_class(state: MonitorState) -> &'static str {
    match state {
        MonitorState::Up => "badge ok",
        MonitorState::Degraded | MonitorState::Pending => "badge warn",
        MonitorState::Down => "badge bad",
        MonitorState::Maintenance | MonitorState::Unknown => "badge muted",
    }
}

#[component]
pub fn StateBadge(state: MonitorState) -> impl IntoView {
    view! { <span class=state_class(state) data-state=state.as_str()>{state.as_str()}</span> }
}

fn level_class(level: &Level) -> &'static str {
    match level {
        Level::Fatal | Level::Error => "badge bad",
        Level::Warning => "badge warn",
        Level::Info | Level::Debug | Level::Other(_) => "badge muted",
    }
}

#[component]
pub fn LevelBadge(level: Level) -> impl IntoView {
    view! { <span class=level_class(&level)>{level.as_str().to_string()}</span> }
}
