//! Badges for READMEs and wikis: flat shields-style SVGs (status, uptime, response time) and
//! the shields.io endpoint JSON (`img.shields.io/endpoint?url=...`). Rendered per request
//! from the cached view: string formatting only, no store read.

use serde_json::{Value, json};

use super::model::ComponentStatus;

/// Gatus' response-time colour bands (ms), its default `ui.badge.response-time.thresholds`.
const LATENCY_BANDS: [f64; 5] = [50.0, 200.0, 300.0, 500.0, 750.0];
const LATENCY_COLOURS: [&str; 6] = [
    "#40cc11", "#94cc11", "#ccd311", "#ccb311", "#cc8111", "#c7130a",
];

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Rough width of `s` at 11 px Verdana (what shields.io's flat badges use).
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | '|' | '!' | '\'' | ' ' => 4,
            'm' | 'w' | 'M' | 'W' | '%' => 10,
            c if c.is_ascii_uppercase() => 8,
            _ => 7,
        })
        .sum::<usize>()
        + 10
}

/// A flat two-part badge.
pub fn svg(label: &str, message: &str, colour: &str) -> String {
    let label: String = label.chars().take(60).collect();
    let message: String = message.chars().take(60).collect();
    let (lw, mw) = (width(&label), width(&message));
    let total = lw + mw;
    let (l, m) = (esc(&label), esc(&message));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{l}: {m}"><title>{l}: {m}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{colour}"/><rect width="{total}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">{l}</text><text x="{mx}" y="14">{m}</text></g></svg>"##,
        lx = lw / 2,
        mx = lw + mw / 2,
    )
}

pub fn status_colour(s: ComponentStatus) -> &'static str {
    match s {
        ComponentStatus::Operational => "#40cc11",
        ComponentStatus::UnderMaintenance => "#3182ce",
        ComponentStatus::DegradedPerformance => "#ccb311",
        ComponentStatus::PartialOutage => "#cc8111",
        ComponentStatus::MajorOutage => "#c7130a",
    }
}

/// Gatus' uptime colours.
pub fn uptime_colour(u: Option<f64>) -> &'static str {
    match u {
        None => "#9f9f9f",
        Some(u) if u >= 0.975 => "#40cc11",
        Some(u) if u >= 0.95 => "#94cc11",
        Some(u) if u >= 0.9 => "#ccd311",
        Some(u) if u >= 0.8 => "#ccb311",
        Some(u) if u >= 0.65 => "#cc8111",
        Some(_) => "#c7130a",
    }
}

pub fn latency_colour(ms: Option<f64>) -> &'static str {
    match ms {
        None => "#9f9f9f",
        Some(ms) => {
            let band = LATENCY_BANDS.iter().take_while(|b| ms > **b).count();
            LATENCY_COLOURS[band]
        }
    }
}

pub fn uptime_text(u: Option<f64>) -> String {
    match u {
        None => "no data".into(),
        // Like Gatus: 100% when perfect, otherwise two decimals.
        Some(u) if u >= 1.0 => "100%".into(),
        Some(u) => format!("{:.2}%", u * 100.0),
    }
}

pub fn latency_text(ms: Option<f64>) -> String {
    match ms {
        None => "no data".into(),
        Some(ms) => format!("{}ms", ms.round() as u64),
    }
}

/// shields.io's endpoint schema.
pub fn shields(label: &str, message: &str, colour: &str) -> Value {
    json!({
        "schemaVersion": 1,
        "label": label,
        "message": message,
        "color": colour.trim_start_matches('#'),
    })
}

/// Gatus' endpoint key: `<group>_<name>`, lower-cased, with ` /_,.#+&` replaced by `-`.
pub fn gatus_key(group: Option<&str>, name: &str) -> String {
    let clean = |s: &str| -> String {
        s.to_lowercase()
            .chars()
            .map(|c| if " /_,.#+&".contains(c) { '-' } else { c })
            .collect()
    };
    format!("{}_{}", clean(group.unwrap_or("")), clean(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_badge_escapes_and_sizes_its_text() {
        let s = svg("API <x>", "99.95%", "#40cc11");
        assert!(s.starts_with("<svg"));
        assert!(s.contains("API &lt;x&gt;: 99.95%"));
        assert!(!s.contains("<x>"));
        let wide = svg("a much longer label than that", "ok", "#fff");
        let w = |s: &str| -> usize {
            s.split("width=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        assert!(w(&wide) > w(&s));
    }

    #[test]
    fn colours_and_texts_follow_gatus() {
        assert_eq!(latency_colour(Some(10.0)), "#40cc11");
        assert_eq!(latency_colour(Some(250.0)), "#ccd311");
        assert_eq!(latency_colour(Some(5000.0)), "#c7130a");
        assert_eq!(uptime_colour(Some(0.99)), "#40cc11");
        assert_eq!(uptime_colour(Some(0.5)), "#c7130a");
        assert_eq!(uptime_text(Some(1.0)), "100%");
        assert_eq!(uptime_text(Some(0.99951)), "99.95%");
        assert_eq!(latency_text(Some(12.4)), "12ms");
        assert_eq!(gatus_key(Some("core"), "Front End"), "core_front-end");
        assert_eq!(gatus_key(None, "api.v2"), "_api-v2");
        assert_eq!(shields("API", "operational", "#40cc11")["color"], "40cc11");
    }
}
