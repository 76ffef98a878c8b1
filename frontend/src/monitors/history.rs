//! A monitor's recent past: the last hour of raw results as a strip of ticks, latency
//! percentiles as a chart, and hourly roll-ups as a table.

use leptos::prelude::*;
use panoptes_types::{MonitorResults, MonitorRollups, MonitorState, ResultItem, RollupItem};

use crate::components::{Empty, LineChart, RelativeTime, Series, Table, millis, pct};

fn tick_class(state: MonitorState) -> &'static str {
    match state {
        MonitorState::Up => "tick ok",
        MonitorState::Degraded | MonitorState::Pending => "tick warn",
        MonitorState::Down => "tick bad",
        MonitorState::Maintenance | MonitorState::Unknown => "tick muted",
    }
}

fn tick_title(r: &ResultItem) -> String {
    let mut t = format!("{} — {} — {}", r.at, r.state, millis(Some(r.latency_ms)));
    if let Some(status) = r.status {
        t.push_str(&format!(" — HTTP {status}"));
    }
    for c in &r.failed_conditions {
        t.push_str(&format!("\nfailed: {c}"));
    }
    if let Some(e) = &r.error {
        t.push_str(&format!("\n{e}"));
    }
    t
}

/// Median of the latencies of passing checks.
fn median_latency(items: &[ResultItem]) -> Option<f64> {
    let mut l: Vec<f64> = items
        .iter()
        .filter(|r| r.ok)
        .map(|r| r.latency_ms)
        .collect();
    l.sort_by(f64::total_cmp);
    l.get(l.len() / 2).copied()
}

#[component]
pub fn Results(r: MonitorResults) -> impl IntoView {
    if r.items.is_empty() {
        return view! { <Empty>"No results in the last hour."</Empty> }.into_any();
    }
    let failed = r.items.iter().filter(|i| !i.ok).count();
    let n = r.items.len();
    let summary = format!(
        "{n} check{}, {} failed, median latency {}",
        if n == 1 { "" } else { "s" },
        failed,
        millis(median_latency(&r.items))
    );
    // The newest 120 results fit one row; the summary counts them all.
    let skip = r.items.len().saturating_sub(120);
    view! {
        <div class="strip" role="img" aria-label=summary.clone()>
            {r.items
                .into_iter()
                .skip(skip)
                .map(|i| view! { <span class=tick_class(i.state) title=tick_title(&i)></span> })
                .collect_view()}
        </div>
        <p class="muted">{summary}</p>
    }
    .into_any()
}

#[component]
pub fn Rollups(r: MonitorRollups) -> impl IntoView {
    if r.items.is_empty() {
        return view! { <Empty>"No roll-ups yet."</Empty> }.into_any();
    }
    view! {
        <Table
            headers=&["Hour", "Availability", "Apdex", "p50", "p95", "p99", "Up", "Degraded", "Down", "Pending", "Maint."]
            class="rollups"
        >
            {r.items.into_iter().rev().take(24).map(|b| view! { <RollupRow b=b /> }).collect_view()}
        </Table>
    }
    .into_any()
}

#[component]
fn RollupRow(b: RollupItem) -> impl IntoView {
    view! {
        <tr>
            <td><RelativeTime at=b.start /></td>
            <td class="num">{pct(b.availability)}</td>
            <td class="num">{b.apdex.map(|a| format!("{a:.2}")).unwrap_or_else(|| "–".into())}</td>
            <td class="num">{millis(b.latency_ms.p50)}</td>
            <td class="num">{millis(b.latency_ms.p95)}</td>
            <td class="num">{millis(b.latency_ms.p99)}</td>
            <td class="num">{b.up}</td>
            <td class="num">{b.degraded}</td>
            <td class="num">{b.down}</td>
            <td class="num">{b.pending}</td>
            <td class="num">{b.maintenance}</td>
        </tr>
    }
}

/// p50, p95 and p99 latency of every bucket, as a chart.
#[component]
pub fn LatencyChart(r: MonitorRollups, from_ms: f64) -> impl IntoView {
    let pick = |f: fn(&RollupItem) -> Option<f64>| -> Vec<(f64, Option<f64>)> {
        r.items.iter().map(|b| (b.start_ms as f64, f(b))).collect()
    };
    let series = vec![
        Series {
            name: "p50",
            class: "p50",
            points: pick(|b| b.latency_ms.p50),
        },
        Series {
            name: "p95",
            class: "p95",
            points: pick(|b| b.latency_ms.p95),
        },
        Series {
            name: "p99",
            class: "p99",
            points: pick(|b| b.latency_ms.p99),
        },
    ];
    let domain = (from_ms, js_sys::Date::now());
    view! { <LineChart series=series label="Latency" format=|v| millis(Some(v)) domain=domain /> }
}
