//! Building blocks every view uses: tables, badges, load states, times.

mod badge;
mod chart;
mod state;
mod table;
mod time;

pub use badge::{LevelBadge, StateBadge};
pub use chart::{LineChart, Series};
pub use state::{Empty, ErrorNote, Loading, loaded};
pub use table::{Table, row_link};
pub use time::{RelativeTime, duration_text, provide_now};

/// `0.9987` -> `99.87%`; `None` (nothing counted) -> an en dash.
pub fn pct(v: Option<f64>) -> String {
    v.map(|u| format!("{:.2}%", u * 100.0))
        .unwrap_or_else(|| "–".into())
}

/// Milliseconds, rounded for reading: `0.4 ms`, `12 ms`, `1.25 s`.
pub fn millis(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(ms) if ms < 1.0 => format!("{ms:.1} ms"),
        Some(ms) if ms < 1000.0 => format!("{ms:.0} ms"),
        Some(ms) => format!("{:.2} s", ms / 1000.0),
    }
}
