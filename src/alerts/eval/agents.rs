//! `agent_silent` rules: a probing agent not heard from for the rule's `window` fires an alert
//! of its own (labels `agent`, `location`). Time alone makes an agent silent, so every tick
//! looks at every known agent; hearing from it (or revoking it) resolves the alert at once.

use std::collections::HashMap;

use serde_json::json;

use super::{Evaluator, Observation, labels};
use crate::alerts::rules::SelfCondition;
use crate::events::AgentEvent;

/// Most agents tracked (agents are created by admins; a bound all the same).
const MAX_AGENTS: usize = 10_000;

/// One agent's observation for rule `idx`.
fn observe(
    idx: usize,
    window_ms: u64,
    name: &str,
    location: &str,
    seen_ms: u64,
    now: u64,
) -> Observation {
    let silent_ms = now.saturating_sub(seen_ms);
    let active = silent_ms > window_ms;
    let value = if active {
        format!("not heard from for {}s", silent_ms / 1000)
    } else {
        "reporting".to_string()
    };
    Observation {
        rule: idx,
        base: Default::default(),
        source: labels(&[
            ("agent", name.to_string()),
            ("location", location.to_string()),
        ]),
        active,
        momentary: false,
        context: json!({"Agent": name, "Location": location, "Value": value}),
        value,
        link: "/".into(),
    }
}

/// Every known agent against one `agent_silent` rule at `now`.
pub(super) fn silent(
    idx: usize,
    window_ms: u64,
    agents: &HashMap<String, (String, u64)>,
    now: u64,
) -> Vec<Observation> {
    agents
        .iter()
        .map(|(name, (location, seen))| observe(idx, window_ms, name, location, *seen, now))
        .collect()
}

impl Evaluator {
    fn agent_rules(&self) -> Vec<(usize, u64)> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let p = r.panoptes.as_ref()?;
                (p.event == SelfCondition::AgentSilent)
                    .then(|| (i, p.window.get().as_millis() as u64))
            })
            .collect()
    }

    pub(super) fn agent_event(&mut self, e: &AgentEvent, now: u64) -> Vec<Observation> {
        let rules = self.agent_rules();
        match e {
            AgentEvent::Seen {
                name,
                location,
                at_ms,
            } => {
                if rules.is_empty()
                    || (self.agents.len() >= MAX_AGENTS && !self.agents.contains_key(name))
                {
                    return Vec::new();
                }
                let entry = self
                    .agents
                    .entry(name.clone())
                    .or_insert_with(|| (location.clone(), *at_ms));
                entry.0.clone_from(location);
                // Events may arrive out of order (a batch stored while a poll was answered).
                entry.1 = entry.1.max(*at_ms);
                let seen = entry.1;
                rules
                    .into_iter()
                    .map(|(idx, w)| observe(idx, w, name, location, seen, now))
                    .collect()
            }
            AgentEvent::Revoked { name } => {
                let Some((location, _)) = self.agents.remove(name) else {
                    return Vec::new();
                };
                // Revoked: no longer expected, so whatever fired resolves.
                rules
                    .into_iter()
                    .map(|(idx, w)| observe(idx, w, name, &location, now, now))
                    .collect()
            }
        }
    }
}
