//! The public page as HTML, rendered by `maud` (compiled templates that escape every value):
//! semantic markup, inline CSS, no script and no outside requests (except a configured logo),
//! readable on a phone and with a screen reader. The 90 day bars show their date, uptime and
//! incidents on hover and on keyboard focus from the bar's `aria-label`.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::model::{ComponentStatus, Impact, Incident};
use super::view::{ComponentView, PageView};

const CSS: &str = include_str!("page.css");

/// `Dec 4, 2026 14:05 CET` in the page's zone.
pub fn when(ms: u64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms as i64)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%b %-d, %Y %H:%M %Z")
                .to_string()
        })
        .unwrap_or_default()
}

/// Markdown to HTML with raw HTML shown as text: an update's body can never inject markup.
pub fn markdown(src: &str) -> String {
    use pulldown_cmark::{Event, Parser};
    let events = Parser::new(src).map(|e| match e {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

fn status_class(s: ComponentStatus) -> &'static str {
    match s {
        ComponentStatus::Operational => "ok",
        ComponentStatus::UnderMaintenance => "maint",
        ComponentStatus::DegradedPerformance => "minor",
        ComponentStatus::PartialOutage => "major",
        ComponentStatus::MajorOutage => "critical",
    }
}

fn impact_class(i: Impact) -> &'static str {
    match i {
        Impact::None => "ok",
        Impact::Maintenance => "maint",
        Impact::Minor => "minor",
        Impact::Major => "major",
        Impact::Critical => "critical",
    }
}

/// Colour of a day's bar by its availability. One letter: a page has 90 bars per component,
/// and every byte of them counts against the page's budget.
fn bar_class(a: Option<f64>) -> &'static str {
    match a {
        None => "n",
        Some(a) if a >= 0.999 => "o",
        Some(a) if a >= 0.99 => "m",
        Some(a) if a >= 0.95 => "j",
        Some(_) => "c",
    }
}

/// Consecutive days that look and read the same (colour, uptime as shown, no incident) as one
/// run: (first index, length). Most days of a healthy component are alike, and 90 separate
/// bars per component (57 bytes each) would put a 20-component page over its 100 KB budget. A
/// run is drawn as as many bars (CSS), and its label names its first and last day.
fn runs(days: &[super::view::DayBar]) -> Vec<(usize, usize)> {
    let key = |d: &super::view::DayBar| {
        (d.incidents.is_empty()).then(|| (bar_class(d.availability), short_pct(d.availability)))
    };
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, d) in days.iter().enumerate() {
        match out.last_mut() {
            Some((start, n)) if key(d).is_some() && key(d) == key(&days[*start]) => *n += 1,
            _ => out.push((i, 1)),
        }
    }
    out
}

/// `Dec 5` in the page's zone (the bars span 90 days: the year is clear from the page).
fn short_day(ms: u64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms as i64)
        .map(|t| t.to_zoned(tz.clone()).strftime("%b %-d").to_string())
        .unwrap_or_default()
}

/// `100%`, `99.95%`, `no data`.
fn short_pct(a: Option<f64>) -> String {
    match a {
        Some(a) if a >= 0.99995 => "100%".into(),
        Some(a) => format!("{:.2}%", a * 100.0),
        None => "no data".into(),
    }
}

pub fn pct(a: Option<f64>) -> String {
    match a {
        Some(a) => format!("{:.2}%", a * 100.0),
        None => "no data".into(),
    }
}

/// A response-time line as an inline SVG (`role="img"` with the range in words).
fn chart(points: &[Option<f64>], label: &str) -> Markup {
    let max = points.iter().flatten().copied().fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return html! { p.muted { "No response times yet." } };
    }
    let (w, h) = (300.0, 60.0);
    let step = w / (points.len().max(2) - 1) as f64;
    let mut path = String::new();
    let mut pen_up = true;
    for (i, p) in points.iter().enumerate() {
        match p {
            Some(v) => {
                let x = i as f64 * step;
                let y = h - (v / max) * (h - 4.0) - 2.0;
                path.push_str(&format!("{}{x:.0},{y:.0} ", if pen_up { "M" } else { "L" }));
                pen_up = false;
            }
            None => pen_up = true,
        }
    }
    let known: Vec<f64> = points.iter().flatten().copied().collect();
    let mean = known.iter().sum::<f64>() / known.len() as f64;
    let words = format!("{label}: mean {mean:.0} ms, peak {max:.0} ms");
    html! {
        svg.chart viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label=(words) {
            path d=(path.trim_end()) {}
        }
        p.muted.small { (words) }
    }
}

fn component(c: &ComponentView, p: &PageView) -> Markup {
    let tz = &p.config.time_zone.0;
    html! {
        li.component id=(format!("c-{}", c.id)) data-status=(c.status.as_str()) {
            div.row {
                h3 { (c.name) }
                span.status.(status_class(c.status)) { (c.status.label()) }
            }
            @if !c.description.is_empty() { p.muted { (c.description) } }
            ol.bars aria-label=(format!("{} uptime, last 90 days", c.name)) {
                @for (i, n) in runs(&c.days) {
                    @let d = &c.days[i];
                    @let day = if n == 1 {
                        short_day(d.start_ms, tz)
                    } else {
                        format!("{} – {}", short_day(d.start_ms, tz), short_day(c.days[i + n - 1].start_ms, tz))
                    };
                    @let tip = if d.incidents.is_empty() {
                        format!("{day}: {}", short_pct(d.availability))
                    } else {
                        format!("{day}: {}; {}", short_pct(d.availability), d.incidents.join("; "))
                    };
                    @if n == 1 {
                        li.(bar_class(d.availability)) tabindex="0" aria-label=(tip) {}
                    } @else {
                        li.(bar_class(d.availability)) style=(format!("--n:{n}")) tabindex="0" aria-label=(tip) {}
                    }
                }
            }
            dl.uptime {
                @for (label, u) in ["24 hours", "7 days", "30 days", "90 days"].iter().zip(c.uptime.iter()) {
                    div { dt { (label) } dd { (pct(*u)) } }
                }
            }
            (chart(&c.hourly_ms, "Response time, last 24 hours"))
            details {
                summary { "Response time, last 90 days" }
                (chart(&c.daily_ms, "Response time per day, last 90 days"))
            }
            @if let Some(details) = &c.details {
                ul.details {
                    @for d in details {
                        li { (d.monitor) ": " (d.state) @if let Some(e) = &d.error { " — " (e) } }
                    }
                }
            }
        }
    }
}

fn incident(i: &Incident, p: &PageView) -> Markup {
    let tz = &p.config.time_zone.0;
    html! {
        article.incident id=(format!("incident-{}", i.id)) data-status=(i.status.as_str()) {
            h3.(impact_class(i.impact)) { (i.name) }
            @if let (Some(a), Some(b)) = (i.scheduled_for_ms, i.scheduled_until_ms) {
                p.muted { "Scheduled " (when(a, tz)) " – " (when(b, tz)) }
            }
            @for u in i.updates.iter().rev() {
                section.update {
                    p { strong { (u.status.label()) } " · " time datetime=(rfc3339(u.created_ms)) { (when(u.created_ms, tz)) } }
                    div.body { (PreEscaped(markdown(&u.body))) }
                    @if !u.affected.is_empty() {
                        p.muted.small {
                            "Affected: "
                            @for (n, a) in u.affected.iter().enumerate() {
                                @if n > 0 { ", " }
                                (a.name) " (" (a.new_status.label()) ")"
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn rfc3339(ms: u64) -> String {
    Timestamp::from_millisecond(ms as i64)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The whole page.
pub fn page(p: &PageView) -> String {
    let cfg = &p.config;
    let tz = &cfg.time_zone.0;
    let open: Vec<&Incident> = p
        .incidents
        .iter()
        .filter(|i| i.status.is_open() && !i.is_maintenance())
        .collect();
    let maintenance: Vec<&Incident> = p
        .incidents
        .iter()
        .chain(p.windows.iter())
        .filter(|i| {
            i.is_maintenance()
                && (i.status.is_open() || i.status == super::model::IncidentStatus::Scheduled)
        })
        .collect();
    let week_ago = p.now_ms.saturating_sub(14 * super::view::DAY_MS);
    let past: Vec<&Incident> = p
        .incidents
        .iter()
        .filter(|i| !i.status.is_open() && i.status != super::model::IncidentStatus::Scheduled)
        .filter(|i| i.updated_ms >= week_ago)
        .take(20)
        .collect();
    let base = format!("/status/{}", cfg.slug);
    html! {
        (DOCTYPE)
        html lang="en" data-theme=(cfg.theme.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (cfg.title) }
                @if !cfg.description.is_empty() { meta name="description" content=(cfg.description); }
                link rel="alternate" type="application/atom+xml" title=(format!("{} history (Atom)", cfg.title)) href=(format!("{base}/history.atom"));
                link rel="alternate" type="application/rss+xml" title=(format!("{} history (RSS)", cfg.title)) href=(format!("{base}/history.rss"));
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    @if let Some(logo) = &cfg.logo { img.logo src=(logo) alt=""; }
                    h1 { (cfg.title) }
                    @if !cfg.description.is_empty() { p.muted { (cfg.description) } }
                    @if !cfg.links.is_empty() {
                        nav aria-label="Links" {
                            @for l in &cfg.links { a href=(l.url) rel="noopener" { (l.name) } " " }
                        }
                    }
                }
                main {
                    section.banner.(impact_class(p.indicator)) id="status" role="status" {
                        h2 { (p.description) }
                    }
                    @if !open.is_empty() {
                        section id="incidents" aria-labelledby="incidents-h" {
                            h2 id="incidents-h" { "Current incidents" }
                            @for i in &open { (incident(i, p)) }
                        }
                    }
                    @if !maintenance.is_empty() {
                        section id="maintenance" aria-labelledby="maintenance-h" {
                            h2 id="maintenance-h" { "Scheduled maintenance" }
                            @for i in &maintenance { (incident(i, p)) }
                        }
                    }
                    section id="components" aria-labelledby="components-h" {
                        h2 id="components-h" { "Components" }
                        ul.components {
                            @for c in &p.components { (component(c, p)) }
                        }
                        @for g in &p.groups {
                            section.group id=(format!("g-{}", g.id)) {
                                h2 { (g.name) }
                                @if !g.description.is_empty() { p.muted { (g.description) } }
                                ul.components {
                                    @for c in &g.components { (component(c, p)) }
                                }
                            }
                        }
                    }
                    section id="history" aria-labelledby="history-h" {
                        h2 id="history-h" { "Past incidents" }
                        @if past.is_empty() {
                            p.muted { "No incidents in the last 14 days." }
                        }
                        @for i in &past { (incident(i, p)) }
                        p { a href=(format!("{base}/history")) { "Incident history" } }
                    }
                }
                footer {
                    @if cfg.subscribers.email.is_some() {
                        form.subscribe method="post" action=(format!("{base}/subscribe")) {
                            label for="email" { "Get updates by e-mail" }
                            " "
                            input id="email" name="email" type="email" required autocomplete="email";
                            " "
                            button type="submit" { "Subscribe" }
                        }
                    }
                    @if cfg.subscribers.webhook.as_ref().is_some_and(|w| w.public) {
                        form.subscribe method="post" action=(format!("{base}/subscribe")) {
                            label for="endpoint" { "Get updates by webhook" }
                            " "
                            input id="endpoint" name="endpoint" type="url" required placeholder="https://";
                            " "
                            button type="submit" { "Subscribe" }
                        }
                    }
                    p.muted.small {
                        "Updated " time datetime=(rfc3339(p.updated_ms)) { (when(p.updated_ms, tz)) }
                        " · " a href=(format!("{base}/history.atom")) { "Atom" }
                        " · " a href=(format!("{base}/history.rss")) { "RSS" }
                        " · " a href=(format!("{base}/api/v2/summary.json")) { "JSON" }
                    }
                }
            }
        }
    }
    .into_string()
}

/// The embeddable summary (`/status/{slug}/widget`, for an `iframe` on another site): the
/// page's state in one line, a link to the page, refreshed every minute without script.
pub fn widget(p: &PageView) -> String {
    let cfg = &p.config;
    let open = p.incidents.iter().filter(|i| i.status.is_open()).count();
    html! {
        (DOCTYPE)
        html lang="en" data-theme=(cfg.theme.as_str()) {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="60";
                title { (cfg.title) }
                style { (PreEscaped(WIDGET_CSS)) }
            }
            body {
                a href=(p.url) target="_top" {
                    span.dot.(impact_class(p.indicator)) aria-hidden="true" {}
                    b { (p.description) }
                    @if open > 0 {
                        " · " (open) @if open == 1 { " open incident" } @else { " open incidents" }
                    }
                }
            }
        }
    }
    .into_string()
}

const WIDGET_CSS: &str = ":root{--bg:#fff;--fg:#1b1f24;--ok:#1f9d55;--minor:#d69e2e;--major:#dd6b20;--critical:#c53030;--maint:#3182ce}@media (prefers-color-scheme:dark){html[data-theme=auto]{--bg:#111418;--fg:#e6e9ed}}html[data-theme=dark]{--bg:#111418;--fg:#e6e9ed}body{margin:0;padding:10px 12px;font:14px/1.4 system-ui,sans-serif;background:var(--bg)}a{color:var(--fg);text-decoration:none}.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:8px;background:var(--ok)}.dot.minor{background:var(--minor)}.dot.major{background:var(--major)}.dot.critical{background:var(--critical)}.dot.maint{background:var(--maint)}";

/// The incident history page: every incident of one month, newest first, with links to the
/// months before and after.
pub fn history(p: &PageView, month: (i16, i8), months: &[(i16, i8)]) -> String {
    let cfg = &p.config;
    let tz = &cfg.time_zone.0;
    let base = format!("/status/{}", cfg.slug);
    let of_month = |i: &&Incident| {
        Timestamp::from_millisecond(i.started_ms as i64)
            .map(|t| {
                let z = t.to_zoned(tz.clone());
                (z.year(), z.month()) == month
            })
            .unwrap_or(false)
    };
    let list: Vec<&Incident> = p.incidents.iter().filter(of_month).collect();
    let idx = months.iter().position(|m| *m == month);
    let older = idx.and_then(|i| months.get(i + 1)).copied();
    let newer = idx
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| months.get(i))
        .copied();
    let name = |m: (i16, i8)| jiff::civil::date(m.0, m.1, 1).strftime("%B %Y").to_string();
    html! {
        (DOCTYPE)
        html lang="en" data-theme=(cfg.theme.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (cfg.title) " – incident history" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header { h1 { a href=(base) { (cfg.title) } } }
                main {
                    h2 { "Incident history: " (name(month)) }
                    @if list.is_empty() { p.muted { "No incidents this month." } }
                    @for i in &list { (incident(i, p)) }
                    nav aria-label="Months" {
                        @if let Some(m) = newer { a href=(format!("{base}/history?month={}-{:02}", m.0, m.1)) { "← " (name(m)) } " " }
                        @if let Some(m) = older { a href=(format!("{base}/history?month={}-{:02}", m.0, m.1)) { (name(m)) " →" } }
                    }
                }
                footer { p.muted.small { "Times in " (cfg.time_zone.name()) " · " (when(p.now_ms, tz)) } }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statuspage::view::DayBar;

    fn day(a: Option<f64>, incident: bool) -> DayBar {
        DayBar {
            start_ms: 0,
            availability: a,
            incidents: if incident {
                vec!["API errors".into()]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn alike_days_are_one_run_and_days_with_incidents_stand_alone() {
        let days = [
            day(None, false),
            day(None, false),
            day(Some(1.0), false),
            day(Some(1.0), false),
            day(Some(1.0), false),
            // Same colour, another figure: its own bar.
            day(Some(0.9995), false),
            day(Some(1.0), true),
            day(Some(1.0), true),
            day(Some(1.0), false),
        ];
        assert_eq!(
            runs(&days),
            vec![(0, 2), (2, 3), (5, 1), (6, 1), (7, 1), (8, 1)]
        );
        assert_eq!(runs(&[]), vec![]);
    }
}
