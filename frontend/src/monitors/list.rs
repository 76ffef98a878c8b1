//! The monitors table with its search and filters, drawing only the rows in view: at 10,000
//! monitors a table of every row takes seconds to build and scrolls badly; this one builds the
//! ~50 rows around the scroll position, with spacers standing in for the rest.
//!
//! Rows have one fixed height (`ROW_PX`, matched by the CSS of `tr.monitor-row`), so the rows in
//! view follow from the scroll offset alone.

use leptos::prelude::*;
use panoptes_types::{MonitorState, MonitorSummary};

/// Height of one row in CSS pixels (`tr.monitor-row` in style.css).
pub const ROW_PX: f64 = 40.0;
/// Rows drawn beyond the visible ones, above and below, so a quick scroll shows no gap.
const OVERSCAN: usize = 15;
/// Rows the scroller shows at once at most (its CSS `max-height` divided by `ROW_PX`, rounded up).
const VISIBLE: usize = 25;

/// What the search box and the selects narrow the list to.
#[derive(Clone, Default, PartialEq)]
pub struct Filter {
    pub text: String,
    pub state: Option<MonitorState>,
    pub kind: Option<String>,
    pub group: Option<String>,
}

impl Filter {
    pub fn keeps(&self, m: &MonitorSummary) -> bool {
        let text = self.text.trim().to_lowercase();
        (text.is_empty()
            || m.name.to_lowercase().contains(&text)
            || m.target.to_lowercase().contains(&text)
            || m.group
                .as_deref()
                .is_some_and(|g| g.to_lowercase().contains(&text)))
            && self.state.is_none_or(|s| s == m.state)
            && self.kind.as_deref().is_none_or(|k| k == m.kind)
            && self
                .group
                .as_deref()
                .is_none_or(|g| m.group.as_deref() == Some(g))
    }
}

/// The rows `[start, end)` to draw at scroll offset `top` (px) out of `len`.
pub fn window(top: f64, len: usize) -> (usize, usize) {
    let first = (top.max(0.0) / ROW_PX) as usize;
    let start = first.saturating_sub(OVERSCAN).min(len);
    let end = (first + VISIBLE + OVERSCAN).min(len);
    (start, end.max(start))
}

/// The search box and the selects.
#[component]
pub fn FilterBar(
    filter: RwSignal<Filter>,
    kinds: Vec<String>,
    groups: Vec<String>,
) -> impl IntoView {
    let opt = |v: String| if v.is_empty() { None } else { Some(v) };
    view! {
        <div class="filters" role="search">
            <input id="monitor-search" type="search" placeholder="Search name, target, group"
                aria-label="Search monitors"
                prop:value=move || filter.with(|f| f.text.clone())
                on:input=move |ev| filter.update(|f| f.text = event_target_value(&ev))
                on:change=move |ev| filter.update(|f| f.text = event_target_value(&ev)) />
            <select id="filter-state" aria-label="State"
                on:change=move |ev| filter.update(|f| f.state = MonitorState::ALL.into_iter().find(|s| s.as_str() == event_target_value(&ev)))>
                <option value="">"Any state"</option>
                {MonitorState::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
            </select>
            <select id="filter-type" aria-label="Type"
                on:change=move |ev| filter.update(|f| f.kind = opt(event_target_value(&ev)))>
                <option value="">"Any type"</option>
                {kinds.into_iter().map(|k| { let label = k.clone(); view! { <option value=k>{label}</option> } }).collect_view()}
            </select>
            <select id="filter-group" aria-label="Group"
                on:change=move |ev| filter.update(|f| f.group = opt(event_target_value(&ev)))>
                <option value="">"Any group"</option>
                {groups.into_iter().map(|g| { let label = g.clone(); view! { <option value=g>{label}</option> } }).collect_view()}
            </select>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_covers_the_view_and_its_margins() {
        assert_eq!(window(0.0, 10_000), (0, VISIBLE + OVERSCAN));
        let (s, e) = window(ROW_PX * 5_000.0, 10_000);
        assert_eq!((s, e), (5_000 - OVERSCAN, 5_000 + VISIBLE + OVERSCAN));
        assert_eq!(window(ROW_PX * 20_000.0, 10_000), (10_000, 10_000));
        assert_eq!(window(-5.0, 3), (0, 3));
    }
}
