//! The `status_pages:` section: public pages, each with its components (a monitor, a list of
//! monitors under a rule, or a monitor group), component groups, and how monitor states map to
//! the public component statuses. Nothing about a monitor (URL, target, error text) is shown
//! unless a component says `show_details: true`.

use std::collections::HashSet;

use crate::config::decode::{Decode, Decoder, join};
use crate::config::shared::Zone;
use crate::config::yaml::Node;
use crate::probe::config::MonitorConfig;

use super::model::ComponentStatus;

/// Pages, components per page and monitors per component at most.
pub const MAX_ITEMS: usize = 500;

/// How many of a component's monitors must be up for it to be operational.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Every monitor (the default): one down is a partial outage.
    All,
    /// One is enough (redundant replicas): some down is degraded performance.
    Any,
    /// At least N.
    AtLeast(usize),
}

impl Decode for Rule {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "`all`, `any` or a number of monitors that must be up",
            |s| match s {
                "all" => Ok(Rule::All),
                "any" => Ok(Rule::Any),
                n => match n.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(Rule::AtLeast(n)),
                    _ => Err(String::new()),
                },
            },
        )
    }
}

impl Decode for ComponentStatus {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "operational, degraded_performance, partial_outage, major_outage or under_maintenance",
            |s| ComponentStatus::parse(s).ok_or_else(String::new),
        )
    }
}

/// `light`, `dark`, or `auto` (follows the reader's system setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

impl Decode for Theme {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "auto, light or dark", |s| match s {
            "auto" => Ok(Theme::Auto),
            "light" => Ok(Theme::Light),
            "dark" => Ok(Theme::Dark),
            _ => Err(String::new()),
        })
    }
}

crate::config_section! {
    /// What a monitor's state shows as on the page.
    pub struct StatusMapping {
        pub degraded: ComponentStatus = ComponentStatus::DegradedPerformance,
        /// Failed with retries left: not yet an outage.
        pub pending: ComponentStatus = ComponentStatus::Operational,
        pub down: ComponentStatus = ComponentStatus::MajorOutage,
    }
}

crate::config_section! {
    pub struct Link {
        pub name: String,
        pub url: String,
    }
}

crate::config_section! {
    /// One public component: exactly one of `monitor`, `monitors` or `group`.
    pub struct ComponentConfig {
        pub name: String,
        pub description: String = String::new(),
        pub monitor: Option<String> = None,
        pub monitors: Vec<String> = Vec::new(),
        /// Every monitor whose `group` is this.
        pub group: Option<String> = None,
        pub rule: Rule = Rule::All,
        /// Shows the monitors' names and last error on the page (off: only the public name).
        pub show_details: bool = false,
    }
    check = check_component;
}

fn check_component(c: &ComponentConfig, path: &str, d: &mut Decoder) {
    let kinds = usize::from(c.monitor.is_some())
        + usize::from(!c.monitors.is_empty())
        + usize::from(c.group.is_some());
    if kinds != 1 {
        d.error_at(
            path,
            "a component has exactly one of `monitor`, `monitors` or `group`",
        );
    }
    if c.name.trim().is_empty() || c.name.len() > 200 {
        d.error_at(&join(path, "name"), "1 to 200 characters");
    }
    if c.monitors.len() > MAX_ITEMS {
        d.error_at(
            &join(path, "monitors"),
            format!("at most {MAX_ITEMS} monitors"),
        );
    }
    if let Rule::AtLeast(n) = c.rule
        && !c.monitors.is_empty()
        && n > c.monitors.len()
    {
        d.error_at(
            &join(path, "rule"),
            format!(
                "{n} of {} monitors can never be up: at most {}",
                c.monitors.len(),
                c.monitors.len()
            ),
        );
    }
}

crate::config_section! {
    /// How subscriber e-mail goes out; unset fields take `alerts.global`'s `smtp_*`.
    pub struct EmailSubscribers {
        pub from: Option<String> = None,
        pub smarthost: Option<String> = None,
        pub require_tls: Option<bool> = None,
        pub auth_username: Option<String> = None,
        pub auth_password: Option<String> = None,
        pub hello: Option<String> = None,
    }
}

crate::config_section! {
    /// A webhook the operator subscribes (Statuspage-shaped JSON on every incident update).
    pub struct WebhookEndpoint {
        pub url: String,
        /// Component names or ids it hears of; empty: all.
        pub components: Vec<String> = Vec::new(),
    }
    check = check_webhook;
}

fn check_webhook(w: &WebhookEndpoint, path: &str, d: &mut Decoder) {
    if let Err(e) = webhook_url(&w.url) {
        d.error_at(&join(path, "url"), e);
    }
}

/// An absolute `http` or `https` URL of at most 2,000 bytes.
pub fn webhook_url(url: &str) -> Result<(), String> {
    if url.len() > 2000 {
        return Err("at most 2000 bytes".into());
    }
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err("an http:// or https:// URL with a host".into()),
        Err(e) => Err(format!("not a URL: {e}")),
    }
}

crate::config_section! {
    /// Webhook subscribers: Statuspage's webhook notifications (`meta`, `page`, `incident`).
    pub struct WebhookSubscribers {
        /// Subscribed by the operator.
        pub endpoints: Vec<WebhookEndpoint> = Vec::new(),
        /// The page's subscribe form also takes a webhook URL (`endpoint`) from anyone. Off by
        /// default: it lets strangers make Panoptes POST to a URL of their choice.
        pub public: bool = false,
    }
}

crate::config_section! {
    /// Who may subscribe to the page's updates (nobody unless a channel is set).
    pub struct SubscribersConfig {
        pub email: Option<EmailSubscribers> = None,
        pub webhook: Option<WebhookSubscribers> = None,
    }
}

crate::config_section! {
    /// A heading over some of the page's components.
    pub struct ComponentGroupConfig {
        pub name: String,
        pub description: String = String::new(),
        pub components: Vec<ComponentConfig>,
    }
}

crate::config_section! {
    pub struct StatusPageConfig {
        /// The page's address: `/status/{slug}`.
        pub slug: String,
        pub title: String,
        pub description: String = String::new(),
        /// URL of a logo image (a `data:` URL keeps the page free of outside requests).
        pub logo: Option<String> = None,
        pub links: Vec<Link> = Vec::new(),
        /// A `Host` this page answers at `/` (a custom domain pointed at Panoptes).
        pub domain: Option<String> = None,
        /// Dates and times on the page are shown in this zone.
        pub time_zone: Zone = Zone(jiff::tz::TimeZone::UTC),
        pub theme: Theme = Theme::Auto,
        pub components: Vec<ComponentConfig> = Vec::new(),
        pub groups: Vec<ComponentGroupConfig> = Vec::new(),
        pub status_mapping: StatusMapping = crate::config::section_default(),
        pub subscribers: SubscribersConfig = crate::config::section_default(),
        /// An alert firing on a monitor of a component opens a draft incident for it (not
        /// public until an editor publishes it); the alert resolving drops a draft still
        /// unpublished.
        pub draft_from_alerts: bool = false,
    }
    check = check_page;
}

fn check_page(p: &StatusPageConfig, path: &str, d: &mut Decoder) {
    let ok_slug = !p.slug.is_empty()
        && p.slug.len() <= 64
        && p.slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !ok_slug {
        d.error_at(
            &join(path, "slug"),
            "1 to 64 characters of a-z, 0-9, `-` and `_`",
        );
    }
    let count = p.components.len() + p.groups.iter().map(|g| g.components.len()).sum::<usize>();
    if count > MAX_ITEMS {
        d.error_at(path, format!("at most {MAX_ITEMS} components"));
    }
    let mut names = HashSet::new();
    for c in p.all_components() {
        if !names.insert(c.name.as_str()) {
            d.error_at(
                &join(path, "components"),
                format!("component `{}` appears twice", c.name),
            );
        }
    }
}

impl StatusPageConfig {
    /// Ungrouped components first, then each group's, in config order.
    pub fn all_components(&self) -> impl Iterator<Item = &ComponentConfig> {
        self.components
            .iter()
            .chain(self.groups.iter().flat_map(|g| g.components.iter()))
    }
}

impl ComponentConfig {
    /// The monitors this component is made of, by name.
    pub fn monitor_names<'a>(&'a self, monitors: &'a [MonitorConfig]) -> Vec<&'a str> {
        if let Some(m) = &self.monitor {
            return vec![m.as_str()];
        }
        if let Some(g) = &self.group {
            return monitors
                .iter()
                .filter(|m| m.group.as_deref() == Some(g.as_str()))
                .map(|m| m.name.as_str())
                .collect();
        }
        self.monitors.iter().map(String::as_str).collect()
    }
}

/// What `alerts.global` provides for subscriber e-mail.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalSmtp {
    pub has_from: bool,
    pub has_smarthost: bool,
}

/// Across pages: unique slugs and domains; every monitor a component names exists; subscriber
/// e-mail has a sender and a server.
pub fn validate(
    pages: &[StatusPageConfig],
    monitors: &[MonitorConfig],
    smtp: GlobalSmtp,
    d: &mut Decoder,
) {
    if pages.len() > MAX_ITEMS {
        d.error_at("status_pages", format!("at most {MAX_ITEMS} pages"));
    }
    let names: HashSet<&str> = monitors.iter().map(|m| m.name.as_str()).collect();
    let groups: HashSet<&str> = monitors.iter().filter_map(|m| m.group.as_deref()).collect();
    let mut slugs = HashSet::new();
    let mut domains = HashSet::new();
    for (i, p) in pages.iter().enumerate() {
        let path = format!("status_pages[{i}]");
        if !slugs.insert(p.slug.as_str()) {
            d.error_at(
                &join(&path, "slug"),
                format!("slug `{}` is used by another page", p.slug),
            );
        }
        if let Some(dom) = &p.domain
            && !domains.insert(dom.to_ascii_lowercase())
        {
            d.error_at(
                &join(&path, "domain"),
                format!("domain `{dom}` is used by another page"),
            );
        }
        if let Some(e) = &p.subscribers.email {
            let epath = join(&path, "subscribers.email");
            if e.from.is_none() && !smtp.has_from {
                d.error_at(&epath, "needs `from` (or `alerts.global.smtp_from`)");
            }
            if e.smarthost.is_none() && !smtp.has_smarthost {
                d.error_at(
                    &epath,
                    "needs `smarthost` (or `alerts.global.smtp_smarthost`)",
                );
            }
        }
        for c in p.all_components() {
            let cpath = format!("{path}.components[{}]", c.name);
            for m in c.monitor_names(monitors) {
                if !names.contains(m) {
                    d.error_at(&cpath, format!("no monitor named `{m}`"));
                }
            }
            if let Some(g) = &c.group
                && !groups.contains(g.as_str())
            {
                d.error_at(&cpath, format!("no monitor has `group: {g}`"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(yaml: &str) -> Vec<String> {
        match crate::config::root::parse(yaml, "t.yaml", &|_| None) {
            Ok(_) => Vec::new(),
            Err(e) => {
                e.0.iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect()
            }
        }
    }

    const MONITORS: &str = "monitors:\n  - {name: api, type: push, token: api-token-0123456789}\n  - {name: web-1, type: push, token: web1-token-0123456789, group: web}\n";

    #[test]
    fn a_page_with_every_kind_of_component_decodes() {
        let yaml = format!(
            "{MONITORS}status_pages:\n  - slug: public\n    title: Example\n    time_zone: Europe/Berlin\n    components:\n      - {{name: API, monitor: api}}\n      - {{name: Web, group: web}}\n    groups:\n      - name: More\n        components: [{{name: Both, monitors: [api, web-1], rule: 1}}]\n"
        );
        let c = crate::config::root::parse(&yaml, "t.yaml", &|_| None).expect("valid");
        let p = &c.status_pages[0];
        assert_eq!(p.all_components().count(), 3);
        assert_eq!(p.groups[0].components[0].rule, Rule::AtLeast(1));
        assert_eq!(p.time_zone.name(), "Europe/Berlin");
    }

    #[test]
    fn unknown_monitors_bad_slugs_and_ambiguous_components_are_named() {
        let yaml = format!(
            "{MONITORS}status_pages:\n  - slug: Public Page\n    title: x\n    components:\n      - {{name: A, monitor: nope}}\n      - {{name: B, monitor: api, group: web}}\n      - {{name: C, monitors: [api], rule: 3}}\n"
        );
        let e = errors(&yaml).join("\n");
        assert!(e.contains("slug: 1 to 64 characters"), "{e}");
        assert!(e.contains("no monitor named `nope`"), "{e}");
        assert!(e.contains("exactly one of `monitor`"), "{e}");
        assert!(e.contains("3 of 1 monitors"), "{e}");
        let yaml = format!(
            "{MONITORS}status_pages:\n  - slug: p\n    title: x\n    subscribers: {{email: {{from: a@example.com}}}}\n"
        );
        let e = errors(&yaml).join("\n");
        assert!(e.contains("subscribers.email: needs `smarthost`"), "{e}");
    }
}
