//! E-mail subscribers of a status page: double opt-in, one-click unsubscribe (RFC 8058), the
//! messages they get, and the limiter that keeps the public subscribe form from being used to
//! mail-bomb strangers. Pure: the engine stores and sends.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::html::{markdown, when};
use super::model::Incident;
use super::view::PageView;

/// Subscribers across all pages at most (a form on the internet is not a mailing-list product).
pub const MAX_SUBSCRIBERS: usize = 100_000;
/// Longest address accepted (RFC 5321's path limit).
pub const MAX_ADDRESS: usize = 254;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscriber {
    /// Secret: in the confirm and unsubscribe links only.
    pub token: String,
    pub page: String,
    pub email: String,
    /// Component ids; empty means every component.
    pub components: Vec<String>,
    pub confirmed: bool,
    pub created_ms: u64,
    pub confirmed_ms: Option<u64>,
    /// A webhook subscriber's URL (`email` is then its contact, possibly empty). Webhooks are
    /// confirmed at once: there is no inbox to click a link in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl Subscriber {
    /// Whether an incident touching `components` is this subscriber's business.
    pub fn wants(&self, incident: &Incident) -> bool {
        if self.components.is_empty() {
            return true;
        }
        let touched = |id: &String| {
            incident.components.contains_key(id)
                || incident
                    .updates
                    .iter()
                    .any(|u| u.affected.iter().any(|a| &a.code == id))
        };
        // An incident naming no component concerns everyone.
        incident.components.is_empty() && incident.updates.iter().all(|u| u.affected.is_empty())
            || self.components.iter().any(touched)
    }
}

/// One e-mail or webhook POST waiting to go out (`status_outbox`), durable with what caused
/// it. A webhook has `endpoint` set and its JSON body in `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutMail {
    pub id: u64,
    pub page: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `List-Unsubscribe` target, when the mail goes to a confirmed subscriber.
    pub unsubscribe_url: Option<String>,
    pub created_ms: u64,
    pub attempts: u32,
    pub next_ms: u64,
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// A fresh secret token: 32 random bytes, hex.
pub fn token() -> String {
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    hex::encode(b)
}

/// A plausible single address (`local@domain`, no spaces or angle brackets); the SMTP server
/// has the last word. Lower-cased domain, so the same reader is not subscribed twice.
pub fn normalise(email: &str) -> Option<String> {
    let e = email.trim();
    if e.is_empty() || e.len() > MAX_ADDRESS {
        return None;
    }
    let (local, domain) = e.rsplit_once('@')?;
    let bad = |c: char| c.is_whitespace() || c.is_control() || "<>,;:\"()[]\\".contains(c);
    if local.is_empty() || domain.is_empty() || !domain.contains('.') {
        return None;
    }
    if local.chars().any(|c| bad(c) || c == '@') || domain.chars().any(bad) {
        return None;
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return None;
    }
    Some(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// Sliding-window limits on the subscribe form: per client address and per page.
#[derive(Debug, Default)]
pub struct Limiter {
    by_client: HashMap<String, VecDeque<u64>>,
    by_page: HashMap<String, VecDeque<u64>>,
}

/// Subscribe requests per client address per window, and per page per window.
pub const PER_CLIENT: usize = 5;
pub const PER_PAGE: usize = 200;
pub const WINDOW_MS: u64 = 10 * 60_000;
/// Clients tracked at most (the oldest are forgotten first).
const MAX_CLIENTS: usize = 10_000;

impl Limiter {
    /// Counts one request; false when over either limit (and then it is not counted).
    pub fn allow(&mut self, client: &str, page: &str, now_ms: u64) -> bool {
        let cutoff = now_ms.saturating_sub(WINDOW_MS);
        let prune = |q: &mut VecDeque<u64>| {
            while q.front().is_some_and(|t| *t <= cutoff) {
                q.pop_front();
            }
        };
        if self.by_client.len() >= MAX_CLIENTS {
            self.by_client.retain(|_, q| {
                prune(q);
                !q.is_empty()
            });
            if self.by_client.len() >= MAX_CLIENTS {
                // Still full of live clients: a flood from many addresses; the page limit
                // below still holds, so forget everyone rather than grow.
                self.by_client.clear();
            }
        }
        let c = self.by_client.entry(client.to_string()).or_default();
        prune(c);
        let p = self.by_page.entry(page.to_string()).or_default();
        prune(p);
        if c.len() >= PER_CLIENT || p.len() >= PER_PAGE {
            return false;
        }
        c.push_back(now_ms);
        p.push_back(now_ms);
        true
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The double opt-in message.
pub fn confirmation(p: &PageView, confirm_url: &str) -> (String, String, String) {
    let title = &p.config.title;
    let subject = format!("Confirm your subscription to {title}");
    let text = format!(
        "Someone (hopefully you) asked to get updates from {title} at this address.\n\nConfirm: {confirm_url}\n\nIf it was not you, ignore this message: nothing will be sent without confirmation.\n"
    );
    let html = format!(
        "<!doctype html><html><body><p>Someone (hopefully you) asked to get updates from <b>{t}</b> at this address.</p><p><a href=\"{u}\">Confirm the subscription</a></p><p>If it was not you, ignore this message: nothing will be sent without confirmation.</p></body></html>",
        t = escape(title),
        u = escape(confirm_url)
    );
    (subject, text, html)
}

/// The message for an incident's latest update.
pub fn update(p: &PageView, i: &Incident, unsubscribe_url: &str) -> (String, String, String) {
    let tz = &p.config.time_zone.0;
    let title = &p.config.title;
    let Some(u) = i.updates.last() else {
        return (String::new(), String::new(), String::new());
    };
    let subject = format!("[{title}] {}: {}", i.name, u.status.label());
    let affected: Vec<String> = u
        .affected
        .iter()
        .map(|a| format!("{} ({})", a.name, a.new_status.label()))
        .collect();
    let mut text = format!(
        "{}\n{} · {}\n\n{}\n",
        i.name,
        u.status.label(),
        when(u.created_ms, tz),
        u.body
    );
    if !affected.is_empty() {
        text.push_str(&format!("\nAffected: {}\n", affected.join(", ")));
    }
    text.push_str(&format!(
        "\nStatus page: {}\nUnsubscribe: {unsubscribe_url}\n",
        p.url
    ));
    let html = format!(
        "<!doctype html><html><body><h2>{name}</h2><p><b>{status}</b> · {at}</p>{body}{affected}<p><a href=\"{page}\">Status page</a> · <a href=\"{unsub}\">Unsubscribe</a></p></body></html>",
        name = escape(&i.name),
        status = u.status.label(),
        at = escape(&when(u.created_ms, tz)),
        body = markdown(&u.body),
        affected = if affected.is_empty() {
            String::new()
        } else {
            format!("<p>Affected: {}</p>", escape(&affected.join(", ")))
        },
        page = escape(&p.url),
        unsub = escape(unsubscribe_url),
    );
    (subject, text, html)
}

/// Wait before attempt `n + 1` of a mail: 5 s doubling, at most an hour.
pub fn backoff_ms(attempts: u32) -> u64 {
    (5_000u64 << attempts.min(10)).min(3_600_000)
}

/// A mail still failing after this long is dropped (and logged).
pub const GIVE_UP_MS: u64 = 24 * 3_600_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_normalised() {
        assert_eq!(
            normalise(" Reader@Example.COM "),
            Some("Reader@example.com".into())
        );
        for bad in [
            "",
            "no-at",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "<a@example.com>",
            "a@example..com",
            "a@b@example.com",
        ] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
        assert_eq!(normalise(&format!("{}@example.com", "a".repeat(260))), None);
    }

    #[test]
    fn the_limiter_counts_per_client_and_per_page_in_a_window() {
        let mut l = Limiter::default();
        for _ in 0..PER_CLIENT {
            assert!(l.allow("1.2.3.4", "public", 1_000));
        }
        assert!(
            !l.allow("1.2.3.4", "public", 1_000),
            "over the client limit"
        );
        assert!(l.allow("5.6.7.8", "public", 1_000), "another client");
        assert!(
            l.allow("1.2.3.4", "public", 1_000 + WINDOW_MS + 1),
            "the window slid"
        );
        let mut l = Limiter::default();
        for i in 0..PER_PAGE {
            assert!(l.allow(&format!("c{i}"), "public", 1));
        }
        assert!(!l.allow("new", "public", 1), "over the page limit");
        assert!(l.allow("new", "other", 1));
    }

    #[test]
    fn a_subscriber_of_some_components_hears_only_of_those() {
        let incident = |components: &[&str]| -> Incident {
            serde_json::from_value(serde_json::json!({
                "id": 1, "page": "p", "name": "x", "status": "investigating", "impact": "minor",
                "created_ms": 0, "updated_ms": 0, "started_ms": 0, "monitoring_ms": null,
                "resolved_ms": null, "scheduled_for_ms": null, "scheduled_until_ms": null,
                "components": components.iter().map(|c| (c.to_string(), "major_outage")).collect::<std::collections::BTreeMap<_, _>>(),
                "updates": []
            }))
            .expect("incident")
        };
        let sub = |components: &[&str]| Subscriber {
            token: "t".into(),
            page: "p".into(),
            email: "a@example.com".into(),
            components: components.iter().map(|c| c.to_string()).collect(),
            confirmed: true,
            created_ms: 0,
            confirmed_ms: None,
            endpoint: None,
        };
        assert!(sub(&[]).wants(&incident(&["api"])), "all components");
        assert!(sub(&["api"]).wants(&incident(&["api", "web"])));
        assert!(!sub(&["db"]).wants(&incident(&["api"])));
        assert!(
            sub(&["db"]).wants(&incident(&[])),
            "an incident naming nothing is everyone's"
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_ms(0), 5_000);
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(30), 3_600_000);
    }
}
