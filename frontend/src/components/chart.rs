//! Line charts drawn as SVG by the app itself (no chart library): a monitor's latency
//! percentiles, an exception key's rate. Gaps stay gaps (a bucket with nothing counted is not
//! a zero). Every point has a `<title>`, so hovering shows its time and value, and the chart
//! has a text summary for screen readers; the numbers are also in the table next to it.

use leptos::prelude::*;

/// One line: a CSS class for its colour, and `(time in ms, value)` points, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: &'static str,
    pub class: &'static str,
    pub points: Vec<(f64, Option<f64>)>,
}

const W: f64 = 720.0;
const H: f64 = 200.0;
/// Room for the value labels on the left and the time labels below.
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// A value rounded up to 1, 2 or 5 times a power of ten: the top of the scale.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn time_label(ms: f64, span_ms: f64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    if span_ms > 2.0 * 86_400_000.0 {
        format!("{:02}-{:02}", d.get_month() + 1, d.get_date())
    } else {
        format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
    }
}

/// The SVG path of one series: a new segment after every gap.
fn path(points: &[(f64, Option<f64>)], x: impl Fn(f64) -> f64, y: impl Fn(f64) -> f64) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for (t, v) in points {
        match v {
            Some(v) => {
                d.push_str(&format!(
                    "{}{:.1},{:.1} ",
                    if pen_down { "L" } else { "M" },
                    x(*t),
                    y(*v)
                ));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d
}

/// A line chart of `series` over time; `unit` formats values (`ms`, `/min`).
#[component]
pub fn LineChart(
    series: Vec<Series>,
    #[prop(into)] label: String,
    format: fn(f64) -> String,
    /// The time axis (ms): the range asked for, so one point is not the whole width.
    #[prop(optional)]
    domain: Option<(f64, f64)>,
) -> impl IntoView {
    let times: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|(t, _)| *t))
        .collect();
    let (t0, t1) = times
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), t| (a.min(*t), b.max(*t)));
    if times.is_empty() || t1 < t0 {
        return view! { <p class="muted empty">"Nothing to chart yet."</p> }.into_any();
    }
    let (t0, t1) = match domain {
        Some((a, b)) if b > a => (a.min(t0), b.max(t1)),
        _ => (t0, t1),
    };
    let span = (t1 - t0).max(1.0);
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|(_, v)| *v))
        .fold(0.0, f64::max);
    let top = nice_max(max);
    let x = move |t: f64| LEFT + (t - t0) / span * (W - LEFT - 4.0);
    let y = move |v: f64| TOP + (1.0 - v / top) * (H - TOP - BOTTOM);
    let summary = format!(
        "{label}: {} series from {} to {}, highest {}",
        series.len(),
        time_label(t0, span),
        time_label(t1, span),
        format(max)
    );
    let grid = [0.0, 0.5, 1.0].map(|f| {
        let v = top * f;
        view! {
            <line class="grid" x1=LEFT x2=W y1=y(v) y2=y(v) />
            <text class="axis" x=LEFT - 6.0 y=y(v) + 4.0 text-anchor="end">{format(v)}</text>
        }
    });
    let lines = series
        .iter()
        .map(|s| {
            let dots = s
                .points
                .iter()
                .filter_map(|(t, v)| v.map(|v| (*t, v)))
                .map(|(t, v)| {
                    let title = format!("{} {}: {}", time_label(t, span), s.name, format(v));
                    view! { <circle class=format!("dot {}", s.class) cx=x(t) cy=y(v) r="2.5"><title>{title}</title></circle> }
                })
                .collect_view();
            view! {
                <path class=format!("line {}", s.class) d=path(&s.points, x, y) />
                {dots}
            }
        })
        .collect_view();
    let legend = series
        .iter()
        .map(|s| view! { <span class=format!("legend {}", s.class)>{s.name}</span> })
        .collect_view();
    let title = summary.clone();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=summary>
                <title>{title}</title>
                {grid}
                <text class="axis" x=LEFT y=H - 4.0>{time_label(t0, span)}</text>
                <text class="axis" x=W - 4.0 y=H - 4.0 text-anchor="end">{time_label(t1, span)}</text>
                {lines}
            </svg>
            <figcaption>{legend}</figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_end_on_round_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(2000.0), 2000.0);
        assert_eq!(nice_max(0.3), 0.5);
    }

    #[test]
    fn gaps_start_a_new_segment() {
        let d = path(
            &[
                (0.0, Some(1.0)),
                (1.0, None),
                (2.0, Some(2.0)),
                (3.0, Some(3.0)),
            ],
            |t| t,
            |v| v,
        );
        assert_eq!(d, "M0.0,1.0 M2.0,2.0 L3.0,3.0 ");
    }
}
