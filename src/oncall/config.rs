//! The `oncall:` section: contacts, schedules with their rotation layers, escalation policies.
//! Names follow PagerDuty's and Grafana OnCall's vocabulary (layers, hand-off, restrictions,
//! overrides); contact methods reuse the alert receivers' channel settings, so an ntfy or
//! Telegram contact takes the same keys as `ntfy_configs` / `telegram_configs`.

use std::collections::{BTreeMap, HashSet};

use jiff::civil::{Date, Time, Weekday};

use crate::alerts::config::{
    AlertsConfig, EmailConfig, NtfyConfig, SlackConfig, TelegramConfig, WebhookConfig,
};
use crate::config::Duration;
use crate::config::decode::{Decode, Decoder, join};
use crate::config::yaml::{Node, Value};

/// Steps, layers, users per layer and contacts per user at most (a config is not a database).
pub const MAX_ITEMS: usize = 256;

/// One way to reach a person, and how long after the page reaches them it is used.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactMethod {
    pub kind: ContactKind,
    pub after: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ContactKind {
    Email(EmailConfig),
    Ntfy(NtfyConfig),
    Telegram(TelegramConfig),
    Slack(SlackConfig),
    Webhook(WebhookConfig),
}

impl ContactKind {
    /// `email`, `ntfy`, ...: what the timeline and the API call it.
    pub fn name(&self) -> &'static str {
        match self {
            ContactKind::Email(_) => "email",
            ContactKind::Ntfy(_) => "ntfy",
            ContactKind::Telegram(_) => "telegram",
            ContactKind::Slack(_) => "slack",
            ContactKind::Webhook(_) => "webhook",
        }
    }

    /// Where it goes, for people (an address, a topic, a chat); never a secret.
    pub fn target(&self) -> String {
        match self {
            ContactKind::Email(e) => e.to.clone(),
            ContactKind::Ntfy(n) => n.topic.clone(),
            ContactKind::Telegram(t) => t.chat_id.to_string(),
            ContactKind::Slack(s) => s.channel.clone().unwrap_or_else(|| "webhook".into()),
            ContactKind::Webhook(_) => "webhook".into(),
        }
    }
}

const CONTACT_KINDS: &[&str] = &["email", "ntfy", "telegram", "slack", "webhook"];

impl Decode for ContactMethod {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let mut known: Vec<&str> = CONTACT_KINDS.to_vec();
        known.push("after");
        let map = d.mapping(node, path, &known)?;
        let after = match map.get("after") {
            Some(n) => d.decode(n, &join(path, "after"))?,
            None => Duration::secs(0),
        };
        let kinds: Vec<&&str> = CONTACT_KINDS
            .iter()
            .filter(|k| map.contains_key(**k))
            .collect();
        let [kind] = kinds.as_slice() else {
            d.error(
                node.mark,
                path,
                format!(
                    "a contact method has exactly one of: {}",
                    CONTACT_KINDS.join(", ")
                ),
            );
            return None;
        };
        let n = map.get(**kind)?;
        let at = join(path, kind);
        let kind = match **kind {
            // `email: ana@example.com`, or the full `email_configs` entry.
            "email" => match &n.value {
                Value::Scalar { .. } => {
                    let (to, _) = d.text(n, &at)?;
                    if !to.contains('@') {
                        d.error(n.mark, &at, format!("`{to}` is not an e-mail address"));
                        return None;
                    }
                    let mut e: EmailConfig = d.decode(&mapping_of("to", n), &at)?;
                    e.to = to;
                    ContactKind::Email(e)
                }
                _ => ContactKind::Email(d.decode(n, &at)?),
            },
            "ntfy" => ContactKind::Ntfy(d.decode(n, &at)?),
            "telegram" => ContactKind::Telegram(d.decode(n, &at)?),
            "slack" => ContactKind::Slack(d.decode(n, &at)?),
            _ => ContactKind::Webhook(d.decode(n, &at)?),
        };
        Some(ContactMethod { kind, after })
    }
}

/// `{key: <node>}`, to decode a shorthand scalar as its full form.
fn mapping_of(key: &str, n: &Node) -> Node {
    Node {
        value: Value::Map(vec![(
            Node {
                value: Value::Scalar {
                    text: key.to_string(),
                    plain: true,
                },
                mark: n.mark,
            },
            n.clone(),
        )]),
        mark: n.mark,
    }
}

/// How long each person's turn lasts. Days are calendar days in the schedule's time zone (the
/// hand-off stays at 09:00 local across DST); hours are elapsed time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rotation {
    Days(u32),
    Millis(u64),
}

impl Decode for Rotation {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let (text, _) = d.text(node, path)?;
        match text.trim() {
            "daily" => return Some(Rotation::Days(1)),
            "weekly" => return Some(Rotation::Days(7)),
            _ => {}
        }
        let dur: Duration =
            d.parse_with(node, path, "daily, weekly or a duration (36h, 2d)", |s| {
                s.parse::<Duration>().map_err(|e| e.to_string())
            })?;
        let ms = dur.get().as_millis() as u64;
        if !(3_600_000..=366 * 86_400_000).contains(&ms) {
            d.error(node.mark, path, "a rotation lasts from 1 hour to 366 days");
            return None;
        }
        Some(if ms.is_multiple_of(86_400_000) {
            Rotation::Days((ms / 86_400_000) as u32)
        } else {
            Rotation::Millis(ms)
        })
    }
}

/// A wall-clock time `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockTime(pub Time);

impl Decode for ClockTime {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a time of day as HH:MM", |s| {
            let (h, m) = s.split_once(':').ok_or_else(String::new)?;
            let h: i8 = h.parse().map_err(|_| String::new())?;
            let m: i8 = m.parse().map_err(|_| String::new())?;
            Time::new(h, m, 0, 0)
                .map(ClockTime)
                .map_err(|_| "hours 0-23, minutes 0-59".to_string())
        })
    }
}

/// A day of the week by name (`monday` or `mon`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day(pub Weekday);

impl Decode for Day {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a weekday (monday ... sunday)", |s| {
            let s = s.to_ascii_lowercase();
            let days = [
                ("mon", Weekday::Monday),
                ("tue", Weekday::Tuesday),
                ("wed", Weekday::Wednesday),
                ("thu", Weekday::Thursday),
                ("fri", Weekday::Friday),
                ("sat", Weekday::Saturday),
                ("sun", Weekday::Sunday),
            ];
            days.iter()
                .find(|(p, _)| s.len() >= 3 && s.starts_with(p))
                .map(|(_, w)| Day(*w))
                .ok_or_else(String::new)
        })
    }
}

/// A calendar date `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CivilDate(pub Date);

impl Decode for CivilDate {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a date (YYYY-MM-DD)", |s| {
            s.parse::<Date>().map(CivilDate).map_err(|e| e.to_string())
        })
    }
}

pub use crate::config::shared::Zone;

crate::config_section! {
    /// When a rotation hands over: a time, and for weekly rotations a weekday.
    pub struct Handoff {
        pub day: Option<Day> = None,
        pub time: ClockTime = ClockTime(Time::midnight()),
    }
}

crate::config_section! {
    /// Hours a layer covers (e.g. working hours); outside them the layers below answer.
    /// `to` before `from` spans midnight.
    pub struct Restriction {
        /// Days the restriction starts on (empty: every day).
        pub days: Vec<Day> = Vec::new(),
        pub from: ClockTime,
        pub to: ClockTime,
    }
}

crate::config_section! {
    /// One layer: people taking turns. Later layers override earlier ones where they apply.
    pub struct LayerConfig {
        pub name: Option<String> = None,
        pub users: Vec<String>,
        pub rotation: Rotation = Rotation::Days(7),
        pub handoff: Handoff = crate::config::section_default(),
        /// The first turn starts on this date at the hand-off (the first hand-off day on or
        /// after it for weekly rotations with `handoff.day`).
        pub start: CivilDate,
        pub restrictions: Vec<Restriction> = Vec::new(),
    }
    check = check_layer;
}

fn check_layer(l: &LayerConfig, path: &str, d: &mut Decoder) {
    if l.users.is_empty() {
        d.error_at(&join(path, "users"), "a layer needs at least one user");
    }
    if l.users.len() > MAX_ITEMS || l.restrictions.len() > MAX_ITEMS {
        d.error_at(path, format!("at most {MAX_ITEMS} users and restrictions"));
    }
}

crate::config_section! {
    pub struct ScheduleConfig {
        pub name: String,
        pub time_zone: Zone = Zone(jiff::tz::TimeZone::UTC),
        pub layers: Vec<LayerConfig>,
    }
    check = check_schedule;
}

fn check_schedule(s: &ScheduleConfig, path: &str, d: &mut Decoder) {
    if s.layers.is_empty() {
        d.error_at(&join(path, "layers"), "a schedule needs at least one layer");
    }
    if s.layers.len() > MAX_ITEMS {
        d.error_at(&join(path, "layers"), format!("at most {MAX_ITEMS} layers"));
    }
}

/// Who a step pages.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    User(String),
    /// Whoever is on call in the schedule now.
    Schedule(String),
    /// Whoever is on call next (after the current turn).
    ScheduleNext(String),
    /// Everyone in the schedule's layers.
    ScheduleAll(String),
    /// An alert receiver, with all its channels.
    Receiver(String),
}

const TARGET_KINDS: &[&str] = &[
    "user",
    "schedule",
    "schedule_next",
    "schedule_all",
    "receiver",
];

impl Decode for Target {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let map = d.mapping(node, path, TARGET_KINDS)?;
        if map.len() != 1 {
            d.error(
                node.mark,
                path,
                format!("a target has exactly one of: {}", TARGET_KINDS.join(", ")),
            );
            return None;
        }
        let (k, n) = map.into_iter().next()?;
        let name: String = d.decode(n, &join(path, k))?;
        Some(match k {
            "user" => Target::User(name),
            "schedule" => Target::Schedule(name),
            "schedule_next" => Target::ScheduleNext(name),
            "schedule_all" => Target::ScheduleAll(name),
            _ => Target::Receiver(name),
        })
    }
}

crate::config_section! {
    pub struct StepConfig {
        /// Wait after the previous step (after the page opened, for the first).
        pub delay: Duration = Duration::secs(0),
        pub targets: Vec<Target>,
    }
    check = check_step;
}

fn check_step(s: &StepConfig, path: &str, d: &mut Decoder) {
    if s.targets.is_empty() || s.targets.len() > MAX_ITEMS {
        d.error_at(
            &join(path, "targets"),
            format!("a step needs 1 to {MAX_ITEMS} targets"),
        );
    }
}

crate::config_section! {
    pub struct PolicyConfig {
        pub name: String,
        /// Times the whole policy runs again after its last step while nobody acknowledges.
        pub repeat: u32 = 0,
        pub steps: Vec<StepConfig>,
    }
    check = check_policy;
}

fn check_policy(p: &PolicyConfig, path: &str, d: &mut Decoder) {
    if p.steps.is_empty() || p.steps.len() > MAX_ITEMS {
        d.error_at(
            &join(path, "steps"),
            format!("a policy needs 1 to {MAX_ITEMS} steps"),
        );
    }
    if p.repeat > 100 {
        d.error_at(&join(path, "repeat"), "repeat at most 100 times");
    }
}

crate::config_section! {
    /// Contacts, schedules, escalation policies.
    pub struct OncallConfig {
        /// Contact methods per user, in the order they are tried.
        pub contacts: BTreeMap<String, Vec<ContactMethod>> = BTreeMap::new(),
        pub schedules: Vec<ScheduleConfig> = Vec::new(),
        pub escalation_policies: Vec<PolicyConfig> = Vec::new(),
        /// How long an acknowledge link in a notification stays valid.
        pub ack_link_ttl: Duration = Duration::secs(86_400),
        /// Resolved pages kept, with their timelines.
        pub page_retention: Duration = Duration::secs(90 * 86_400),
    }
}

impl OncallConfig {
    pub fn schedule(&self, name: &str) -> Option<&ScheduleConfig> {
        self.schedules.iter().find(|s| s.name == name)
    }

    pub fn policy(&self, name: &str) -> Option<&PolicyConfig> {
        self.escalation_policies.iter().find(|p| p.name == name)
    }
}

/// Checks that span sections: names are unique, targets and routes name what exists.
pub fn validate(c: &OncallConfig, alerts: &AlertsConfig, d: &mut Decoder) {
    let mut seen = HashSet::new();
    for (i, s) in c.schedules.iter().enumerate() {
        if !seen.insert(s.name.as_str()) {
            d.error_at(
                &format!("oncall.schedules[{i}].name"),
                format!("duplicate schedule name `{}`", s.name),
            );
        }
    }
    for (user, methods) in &c.contacts {
        if methods.len() > MAX_ITEMS {
            d.error_at(
                &format!("oncall.contacts.{user}"),
                format!("at most {MAX_ITEMS} contact methods"),
            );
        }
    }
    let mut policies = HashSet::new();
    for (i, p) in c.escalation_policies.iter().enumerate() {
        if !policies.insert(p.name.as_str()) {
            d.error_at(
                &format!("oncall.escalation_policies[{i}].name"),
                format!("duplicate policy name `{}`", p.name),
            );
        }
        for (j, s) in p.steps.iter().enumerate() {
            for (k, t) in s.targets.iter().enumerate() {
                let at = format!("oncall.escalation_policies[{i}].steps[{j}].targets[{k}]");
                // A user without contacts here may set their own (API, dashboard): a warning.
                let missing = match t {
                    Target::User(_) => None,
                    Target::Schedule(s) | Target::ScheduleNext(s) | Target::ScheduleAll(s) => c
                        .schedule(s)
                        .is_none()
                        .then(|| format!("no schedule named `{s}`")),
                    Target::Receiver(r) => (!alerts.receivers.iter().any(|x| &x.name == r))
                        .then(|| format!("no receiver named `{r}` in alerts.receivers")),
                };
                if let Some(m) = missing {
                    d.error_at(&at, m);
                }
            }
        }
    }
    if let Some(route) = &alerts.route {
        check_route(route, "alerts.route", &policies, d);
    }
}

fn check_route(
    r: &crate::alerts::config::RouteConfig,
    path: &str,
    policies: &HashSet<&str>,
    d: &mut Decoder,
) {
    if let Some(p) = &r.escalation_policy
        && !policies.contains(p.as_str())
    {
        d.error_at(
            &join(path, "escalation_policy"),
            format!("no escalation policy named `{p}` in oncall.escalation_policies"),
        );
    }
    for (i, child) in r.routes.iter().enumerate() {
        check_route(child, &format!("{path}.routes[{i}]"), policies, d);
    }
}

/// Users in schedules and steps without contact methods in the config. Warnings: a schedule
/// may be written before its people's contacts, and people may set their own.
pub fn warnings(c: &OncallConfig) -> Vec<String> {
    let mut out = Vec::new();
    for (i, p) in c.escalation_policies.iter().enumerate() {
        for (j, s) in p.steps.iter().enumerate() {
            for (k, t) in s.targets.iter().enumerate() {
                if let Target::User(u) = t
                    && !c.contacts.contains_key(u)
                {
                    out.push(format!(
                        "oncall.escalation_policies[{i}].steps[{j}].targets[{k}]: `{u}` has no contact methods in oncall.contacts and cannot be paged unless they set their own"
                    ));
                }
            }
        }
    }
    for (i, s) in c.schedules.iter().enumerate() {
        for (j, l) in s.layers.iter().enumerate() {
            for (k, u) in l.users.iter().enumerate() {
                if !c.contacts.contains_key(u) {
                    out.push(format!(
                        "oncall.schedules[{i}].layers[{j}].users[{k}]: `{u}` has no contact methods and cannot be paged"
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    fn errors(yaml: &str) -> String {
        match crate::config::root::parse(yaml, "t.yaml", &|_| None) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_issue_example_parses() {
        let c = crate::config::root::parse(
            r#"
alerts:
  route: {receiver: team, escalation_policy: platform}
  receivers: [{name: team}]
oncall:
  contacts:
    ana: [{email: ana@example.com}, {ntfy: {topic: ana-pages}, after: 2m}]
  schedules:
    - name: platform
      time_zone: Europe/Berlin
      layers:
        - users: [ana, ben, chen]
          rotation: weekly
          handoff: {day: monday, time: "09:00"}
          start: 2026-01-05
  escalation_policies:
    - name: platform
      repeat: 1
      steps:
        - {delay: 0s, targets: [{schedule: platform}]}
        - {delay: 10m, targets: [{schedule_next: platform}]}
        - {delay: 10m, targets: [{schedule_all: platform}]}
"#,
            "t.yaml",
            &|_| None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let o = &c.oncall;
        assert_eq!(o.contacts["ana"].len(), 2);
        assert_eq!(o.contacts["ana"][1].after.get().as_secs(), 120);
        assert_eq!(o.schedules[0].time_zone.name(), "Europe/Berlin");
        assert_eq!(o.escalation_policies[0].steps.len(), 3);
        assert_eq!(super::warnings(o).len(), 2, "ben and chen cannot be paged");
    }

    #[test]
    fn a_step_may_name_someone_who_sets_their_own_contacts() {
        let c = crate::config::root::parse(
            "oncall: {escalation_policies: [{name: p, steps: [{targets: [{user: zed}]}]}]}",
            "t.yaml",
            &|_| None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let w = super::warnings(&c.oncall);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("`zed` has no contact methods"), "{w:?}");
    }

    #[test]
    fn mistakes_are_reported_at_their_line() {
        let e = errors(
            r#"
alerts:
  route: {receiver: team, escalation_policy: nope}
  receivers: [{name: team}]
oncall:
  contacts:
    ana: [{email: not-an-address}, {sms: "+49"}]
  schedules:
    - name: s
      time_zone: Mars/Olympus
      layers:
        - {users: [a], rotation: fortnightly, handoff: {day: someday, time: "25:00"}, start: 2026-02-30}
    - name: t
      layers: [{users: [], start: 2026-01-05}]
  escalation_policies:
    - name: p
      steps:
        - {targets: [{schedule: missing}, {user: zed}, {receiver: nobody}, {schedule: s, user: ana}]}
"#,
        );
        for want in [
            "t.yaml:3",
            "no escalation policy named `nope`",
            "`not-an-address` is not an e-mail address",
            "unknown field `sms`",
            "unknown time zone",
            "a layer needs at least one user",
            "daily, weekly or a duration",
            "a weekday",
            "hours 0-23",
            "a date (YYYY-MM-DD)",
            "no schedule named `missing`",
            "no receiver named `nobody`",
            "a target has exactly one of",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }
}
