//! The pure core of the status page: what a component's monitors mean for its public status,
//! what the page's overall indicator is, and incidents with their updates (Atlassian
//! Statuspage's vocabulary, so the JSON API can use its names and values unchanged).
//!
//! No I/O: the engine feeds monitor states and incidents in, renderers read what comes out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use panoptes_types::status::{ComponentStatus, Impact, IncidentStatus};

use super::config::{ComponentConfig, Rule, StatusMapping};
use crate::probe::state::State;

/// The status a component's monitors give it (before incidents), by its rule.
///
/// Monitors in maintenance are left out; if all are, the component is under maintenance.
/// Monitors not checked yet count as up (a fresh start is not an outage).
pub fn derive(states: &[State], rule: Rule, map: &StatusMapping) -> ComponentStatus {
    let counted: Vec<ComponentStatus> = states
        .iter()
        .filter(|s| **s != State::Maintenance)
        .map(|s| match s {
            State::Up | State::Unknown | State::Maintenance => ComponentStatus::Operational,
            State::Degraded => map.degraded,
            State::Pending => map.pending,
            State::Down => map.down,
        })
        .collect();
    if counted.is_empty() {
        return if states.is_empty() {
            ComponentStatus::Operational
        } else {
            ComponentStatus::UnderMaintenance
        };
    }
    let n = counted.len();
    let ok = counted
        .iter()
        .filter(|s| **s == ComponentStatus::Operational)
        .count();
    let worst = counted
        .iter()
        .copied()
        .max()
        .unwrap_or(ComponentStatus::Operational);
    let need = match rule {
        Rule::All => n,
        Rule::Any => 1,
        Rule::AtLeast(k) => k.min(n),
    };
    if ok == n {
        ComponentStatus::Operational
    } else if ok >= need {
        // Enough are up: the rest only slows it down.
        ComponentStatus::DegradedPerformance.min(worst)
    } else if ok == 0 {
        worst
    } else {
        // Some are up, too few: an outage, but not of everything.
        worst.min(ComponentStatus::PartialOutage)
    }
}

/// The page's overall state: `status.json`'s `indicator` and `description`.
pub fn indicator(
    components: &[ComponentStatus],
    open_impacts: &[Impact],
) -> (Impact, &'static str) {
    let from_components = {
        let worst = components.iter().copied().max();
        match worst {
            Some(ComponentStatus::MajorOutage)
                if components
                    .iter()
                    .all(|c| *c == ComponentStatus::MajorOutage) =>
            {
                Impact::Critical
            }
            Some(ComponentStatus::MajorOutage | ComponentStatus::PartialOutage) => Impact::Major,
            Some(ComponentStatus::DegradedPerformance) => Impact::Minor,
            Some(ComponentStatus::UnderMaintenance) => Impact::Maintenance,
            _ => Impact::None,
        }
    };
    let worst = open_impacts
        .iter()
        .copied()
        .chain([from_components])
        .max()
        .unwrap_or(Impact::None);
    let description = match worst {
        Impact::None => "All Systems Operational",
        Impact::Maintenance => "Service Under Maintenance",
        Impact::Minor => "Partially Degraded Service",
        Impact::Major => "Partial System Outage",
        Impact::Critical => "Major System Outage",
    };
    (worst, description)
}

/// A component an update changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    pub code: String,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub id: u64,
    pub status: IncidentStatus,
    /// Markdown, as written.
    pub body: String,
    pub created_ms: u64,
    pub affected: Vec<Affected>,
    pub by: String,
}

/// An incident or a scheduled maintenance, as stored (`status_incidents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: u64,
    pub page: String,
    pub name: String,
    pub status: IncidentStatus,
    pub impact: Impact,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub started_ms: u64,
    pub monitoring_ms: Option<u64>,
    pub resolved_ms: Option<u64>,
    /// Scheduled maintenance only.
    pub scheduled_for_ms: Option<u64>,
    pub scheduled_until_ms: Option<u64>,
    /// Component id -> the status the latest update gave it.
    pub components: BTreeMap<String, ComponentStatus>,
    /// Oldest first.
    pub updates: Vec<Update>,
    /// Not public yet: on no public route, and nobody is notified until it is published.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
    /// The fingerprint of the alert it was drafted from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
}

impl Incident {
    pub fn is_maintenance(&self) -> bool {
        self.status.is_maintenance()
    }
}

/// A new incident or update, as the API takes it (names checked by [`apply`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, alias = "impact_override")]
    pub impact: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Component id (or public name) -> status during this update.
    #[serde(default)]
    pub components: BTreeMap<String, String>,
    /// RFC 3339; scheduled maintenance only.
    #[serde(default)]
    pub scheduled_for: Option<String>,
    #[serde(default)]
    pub scheduled_until: Option<String>,
    /// `true` keeps a new incident off the public routes; `false` publishes a draft.
    #[serde(default)]
    pub draft: Option<bool>,
}

/// Most characters of a name and of an update's body; most updates per incident.
pub const MAX_NAME: usize = 200;
pub const MAX_BODY: usize = 20_000;
pub const MAX_UPDATES: usize = 500;

/// A component as incidents refer to it.
pub struct ComponentRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// Its status now (for an update's `old_status`).
    pub status: ComponentStatus,
}

/// Where and when a change is made.
pub struct Context<'a> {
    pub page: &'a str,
    pub components: &'a [ComponentRef<'a>],
    pub now_ms: u64,
    pub by: &'a str,
    /// The id a new incident gets, and the update's.
    pub incident_id: u64,
    pub update_id: u64,
}

/// Applies `change` to `incident` (a new one when `None`) as one update. Every problem names
/// its field.
pub fn apply(
    incident: Option<&Incident>,
    change: &Change,
    cx: &Context<'_>,
    parse_time: impl Fn(&str) -> Option<u64>,
) -> Result<Incident, String> {
    let Context {
        page,
        components,
        now_ms,
        by,
        incident_id,
        update_id,
    } = *cx;
    let draft = match (incident, change.draft) {
        (None, d) => d.unwrap_or(false),
        (Some(i), Some(true)) if !i.draft => {
            return Err("draft: a published incident cannot become a draft again".into());
        }
        (Some(i), d) => d.unwrap_or(i.draft),
    };
    if let Some(i) = incident
        && i.draft
        && !draft
        && change.is_only_publish()
    {
        // Published as drafted: no new update, the reader sees the one written.
        return Ok(Incident {
            draft: false,
            updated_ms: now_ms,
            ..i.clone()
        });
    }
    let name = match (&change.name, incident) {
        (Some(n), _) => {
            let n = n.trim();
            if n.is_empty() || n.chars().count() > MAX_NAME {
                return Err(format!("name: 1 to {MAX_NAME} characters"));
            }
            n.to_string()
        }
        (None, Some(i)) => i.name.clone(),
        (None, None) => return Err("name: required".into()),
    };
    let scheduled_for = match &change.scheduled_for {
        Some(s) => Some(parse_time(s).ok_or("scheduled_for: not an RFC 3339 time")?),
        None => incident.and_then(|i| i.scheduled_for_ms),
    };
    let scheduled_until = match &change.scheduled_until {
        Some(s) => Some(parse_time(s).ok_or("scheduled_until: not an RFC 3339 time")?),
        None => incident.and_then(|i| i.scheduled_until_ms),
    };
    let status = match (&change.status, incident) {
        (Some(s), _) => IncidentStatus::parse(s).ok_or_else(|| {
            format!(
                "status: `{}` is not one of investigating, identified, monitoring, resolved, postmortem, scheduled, in_progress, verifying, completed",
                s.chars().take(30).collect::<String>()
            )
        })?,
        (None, Some(i)) => i.status,
        (None, None) if scheduled_for.is_some() => IncidentStatus::Scheduled,
        (None, None) => IncidentStatus::Investigating,
    };
    if let Some(i) = incident
        && i.is_maintenance() != status.is_maintenance()
    {
        return Err(format!(
            "status: `{}` is for {}",
            status.as_str(),
            if status.is_maintenance() {
                "scheduled maintenance, and this is an incident"
            } else {
                "incidents, and this is scheduled maintenance"
            }
        ));
    }
    if status.is_maintenance() {
        match (scheduled_for, scheduled_until) {
            (Some(a), Some(b)) if b > a => {}
            (Some(_), Some(_)) => return Err("scheduled_until: must be after scheduled_for".into()),
            _ => {
                return Err(
                    "scheduled_for, scheduled_until: scheduled maintenance needs both".into(),
                );
            }
        }
    }
    let impact = match (&change.impact, incident) {
        (Some(s), _) => Impact::parse(s).ok_or_else(|| {
            format!(
                "impact: `{}` is not one of none, minor, major, critical, maintenance",
                s.chars().take(30).collect::<String>()
            )
        })?,
        (None, Some(i)) => i.impact,
        (None, None) if status.is_maintenance() => Impact::Maintenance,
        (None, None) => Impact::None,
    };
    let body = change.body.clone().unwrap_or_default();
    if body.len() > MAX_BODY {
        return Err(format!("body: at most {MAX_BODY} bytes"));
    }
    let mut statuses = incident.map(|i| i.components.clone()).unwrap_or_default();
    let mut affected = Vec::new();
    for (key, value) in &change.components {
        let c = components
            .iter()
            .find(|c| c.id == key || c.name == key)
            .ok_or_else(|| format!("components: no component `{}` on this page", clip(key)))?;
        let new = ComponentStatus::parse(value).ok_or_else(|| {
            format!(
                "components.{}: `{}` is not operational, degraded_performance, partial_outage, major_outage or under_maintenance",
                clip(key),
                clip(value)
            )
        })?;
        let old = statuses.get(c.id).copied().unwrap_or(c.status);
        statuses.insert(c.id.to_string(), new);
        affected.push(Affected {
            code: c.id.to_string(),
            name: c.name.to_string(),
            old_status: old,
            new_status: new,
        });
    }
    // A resolved incident no longer holds its components down.
    if !status.is_open() && status != IncidentStatus::Scheduled {
        for s in statuses.values_mut() {
            *s = ComponentStatus::Operational;
        }
    }
    let mut updates = incident.map(|i| i.updates.clone()).unwrap_or_default();
    if updates.len() >= MAX_UPDATES {
        return Err(format!("an incident has at most {MAX_UPDATES} updates"));
    }
    updates.push(Update {
        id: update_id,
        status,
        body,
        created_ms: now_ms,
        affected,
        by: by.to_string(),
    });
    let resolved = matches!(
        status,
        IncidentStatus::Resolved | IncidentStatus::Postmortem | IncidentStatus::Completed
    );
    Ok(Incident {
        id: incident.map(|i| i.id).unwrap_or(incident_id),
        page: page.to_string(),
        name,
        status,
        impact,
        created_ms: incident.map(|i| i.created_ms).unwrap_or(now_ms),
        updated_ms: now_ms,
        started_ms: incident
            .map(|i| i.started_ms)
            .or(scheduled_for)
            .unwrap_or(now_ms),
        monitoring_ms: incident
            .and_then(|i| i.monitoring_ms)
            .or((status == IncidentStatus::Monitoring).then_some(now_ms)),
        resolved_ms: incident
            .and_then(|i| i.resolved_ms)
            .filter(|_| resolved)
            .or(resolved.then_some(now_ms)),
        scheduled_for_ms: scheduled_for,
        scheduled_until_ms: scheduled_until,
        components: statuses,
        updates,
        draft,
        alert: incident.and_then(|i| i.alert.clone()),
    })
}

impl Change {
    /// Nothing but `draft: false`.
    fn is_only_publish(&self) -> bool {
        self.draft == Some(false)
            && self.name.is_none()
            && self.status.is_none()
            && self.impact.is_none()
            && self.body.is_none()
            && self.components.is_empty()
            && self.scheduled_for.is_none()
            && self.scheduled_until.is_none()
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A component's status with the open incidents' say: the worst status an open incident (or
/// maintenance in progress) gives it, else what its monitors give it.
pub fn with_incidents<'a>(
    id: &str,
    derived: ComponentStatus,
    incidents: impl Iterator<Item = &'a Incident>,
) -> ComponentStatus {
    incidents
        .filter(|i| i.status.is_open())
        .filter_map(|i| i.components.get(id).copied())
        .max()
        .unwrap_or(derived)
}

/// A stable public id for a component (Statuspage ids are short lowercase strings): 12
/// base-36 characters of a hash of the page and the name, so ids survive restarts and reloads.
pub fn component_id(page: &str, c: &ComponentConfig) -> String {
    // FNV-1a, 64 bits: stable across builds, unlike `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in page.bytes().chain([0]).chain(c.name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::with_capacity(12);
    for _ in 0..12 {
        let d = (h % 36) as u32;
        out.push(char::from_digit(d, 36).unwrap_or('0'));
        h /= 36;
        if h == 0 {
            h = 0x9e37_79b9_7f4a_7c15;
        }
    }
    out
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
