//! A monitor's last 24 hours as a row of small bars, one per hour (`HourBar` from the list
//! API): up, partial or degraded, down, or no data. Each bar has a `<title>` (its hour and
//! availability, shown on hover) and the whole a text summary for screen readers.

use leptos::prelude::*;
use panoptes_types::HourBar;

const HOUR_MS: f64 = 3_600_000.0;
/// One bar's width and the gap after it, in SVG units (= CSS px at the natural size).
const W: f64 = 4.0;
const GAP: f64 = 1.0;
const H: f64 = 16.0;

/// What one hour shows as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Up,
    /// Some checks failed, or some were slow (DEGRADED).
    Partial,
    Down,
    NoData,
}

impl Slot {
    pub fn of(availability: Option<f32>, degraded: bool) -> Slot {
        match availability {
            None => Slot::NoData,
            Some(a) if a <= 0.0 => Slot::Down,
            Some(a) if a >= 1.0 && !degraded => Slot::Up,
            Some(_) => Slot::Partial,
        }
    }

    fn class(self) -> &'static str {
        match self {
            Slot::Up => "ok",
            Slot::Partial => "warn",
            Slot::Down => "bad",
            Slot::NoData => "none",
        }
    }
}

/// The hours of the bar, oldest first.
pub fn slots(bar: &HourBar) -> Vec<Slot> {
    bar.availability
        .iter()
        .enumerate()
        .map(|(i, a)| Slot::of(*a, i < 32 && bar.degraded & (1 << i) != 0))
        .collect()
}

/// "Last 24 h: 20 hours up, 1 partial, 1 down, 2 without data".
pub fn summary(slots: &[Slot]) -> String {
    let n = |s: Slot| slots.iter().filter(|x| **x == s).count();
    format!(
        "Last 24 h: {} hours up, {} partial or degraded, {} down, {} without data",
        n(Slot::Up),
        n(Slot::Partial),
        n(Slot::Down),
        n(Slot::NoData)
    )
}

fn hour_label(ms: f64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    format!(
        "{:02}-{:02} {:02}:00",
        d.get_month() + 1,
        d.get_date(),
        d.get_hours()
    )
}

#[component]
pub fn DayBar(bar: HourBar) -> impl IntoView {
    let slots = slots(&bar);
    let label = summary(&slots);
    let width = slots.len() as f64 * (W + GAP);
    let rects = slots
        .iter()
        .zip(&bar.availability)
        .enumerate()
        .map(|(i, (slot, a))| {
            let start = bar.from_ms as f64 + i as f64 * HOUR_MS;
            let what = match (slot, a) {
                (Slot::NoData, _) | (_, None) => "no data".to_string(),
                (s, Some(a)) => {
                    let degraded = if *s == Slot::Partial && *a >= 1.0 {
                        ", degraded"
                    } else {
                        ""
                    };
                    format!("{:.2}% available{degraded}", f64::from(*a) * 100.0)
                }
            };
            let title = format!("{}: {what}", hour_label(start));
            view! {
                <rect class=slot.class() x=i as f64 * (W + GAP) y="0" width=W height=H rx="1">
                    <title>{title}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <svg class="day-bar" viewBox=format!("0 0 {width} {H}") width=width height=H
            role="img" aria-label=label>
            {rects}
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hour_is_classed_by_its_availability_and_degraded_bit() {
        let bar = HourBar {
            from_ms: 0,
            availability: vec![Some(1.0), Some(1.0), Some(0.5), Some(0.0), None],
            degraded: 0b10,
        };
        let s = slots(&bar);
        assert_eq!(
            s,
            vec![
                Slot::Up,
                Slot::Partial,
                Slot::Partial,
                Slot::Down,
                Slot::NoData
            ]
        );
        assert_eq!(
            summary(&s),
            "Last 24 h: 1 hours up, 2 partial or degraded, 1 down, 1 without data"
        );
    }
}
