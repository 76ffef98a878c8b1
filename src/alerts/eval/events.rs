//! Issue, exception and Panoptes' own rules: Sentry and Periskop events and self figures.

use serde_json::json;

use std::collections::HashMap;

use super::{
    Evaluator, MAX_SOURCES_PER_RULE, Measure, Observation, SelfStats, Window, agents, labels,
};
use crate::alerts::model::Labels;
use crate::alerts::rules::{ExceptionCondition, IssueCondition, IssueRule, SelfCondition};
use crate::events::{PeriskopEvent, SentryEvent};
use crate::sentry::events::IssueFacts;

/// What a batch said about an issue besides its facts: environments, releases, tags.
struct Seen<'a> {
    environments: &'a [String],
    releases: &'a [String],
    /// Sorted by key (the digest publishes them so).
    tags: &'a [(String, String)],
}

fn issue_matches(r: &IssueRule, i: &IssueFacts, seen: Seen<'_>) -> bool {
    let Seen {
        environments,
        releases,
        tags,
    } = seen;
    (r.projects.is_empty() || r.projects.contains(&i.project))
        && (r.levels.is_empty() || r.levels.iter().any(|l| l.eq_ignore_ascii_case(&i.level)))
        && r.title.as_ref().is_none_or(|p| p.0.is_match(&i.title))
        && r.culprit.as_ref().is_none_or(|p| p.0.is_match(&i.culprit))
        && r.environment
            .as_ref()
            .is_none_or(|e| environments.iter().any(|x| x == e))
        && r.release
            .as_ref()
            .is_none_or(|p| releases.iter().any(|x| p.0.is_match(x)))
        && r.tags.iter().all(|m| {
            let values = tags
                .iter()
                .filter(|(k, _)| *k == m.0.name)
                .map(|(_, v)| v.as_str());
            m.holds(values)
        })
}

fn seen<'a>(
    environments: &'a [String],
    releases: &'a [String],
    tags: &'a [(String, String)],
) -> Seen<'a> {
    Seen {
        environments,
        releases,
        tags,
    }
}

/// The window of `key`, created by `make` unless too many sources are tracked already
/// (issues and keys are created by clients).
fn window_of(
    series: &mut HashMap<(usize, String), Window>,
    key: (usize, String),
    make: impl FnOnce() -> Window,
) -> Option<&mut Window> {
    if !series.contains_key(&key) && series.len() >= MAX_SOURCES_PER_RULE {
        return None;
    }
    Some(series.entry(key).or_insert_with(make))
}

impl Evaluator {
    pub(super) fn sentry(&mut self, e: &SentryEvent, now: u64) -> Vec<Observation> {
        let mut out = Vec::new();
        let ctx = |i: &IssueFacts, value: &str| {
            json!({"Project": i.project, "Issue": i.issue_id, "Title": i.title,
                "Culprit": i.culprit, "Level": i.level, "Platform": i.platform, "Value": value})
        };
        let source = |i: &IssueFacts| {
            labels(&[
                ("project", i.project.to_string()),
                ("issue", i.issue_id.to_string()),
            ])
        };
        for (idx, r) in self.rules.iter().enumerate() {
            let Some(rule) = &r.issue else { continue };
            let window = rule.window.get().as_millis() as u64;
            let obs = match (rule.event, e) {
                (
                    IssueCondition::New,
                    SentryEvent::IssueCreated {
                        issue,
                        environments,
                        releases,
                        tags,
                        ..
                    },
                )
                | (
                    IssueCondition::Regression,
                    SentryEvent::IssueRegressed {
                        issue,
                        environments,
                        releases,
                        tags,
                        ..
                    },
                ) => issue_matches(rule, issue, seen(environments, releases, tags)).then(|| {
                    let what = if rule.event == IssueCondition::New {
                        "new issue"
                    } else {
                        "regression"
                    };
                    (issue.clone(), true, true, what.to_string())
                }),
                (
                    IssueCondition::Frequency | IssueCondition::Users,
                    SentryEvent::EventsAccepted {
                        issue,
                        count,
                        new_users,
                        environments,
                        releases,
                        tags,
                        ..
                    },
                ) if issue_matches(rule, issue, seen(environments, releases, tags)) => {
                    let (n, limit, measure) = if rule.event == IssueCondition::Frequency {
                        (*count, rule.count, Measure::Count("events"))
                    } else {
                        (*new_users, rule.users, Measure::Count("users"))
                    };
                    let key = (idx, format!("issue:{}", issue.issue_id));
                    let make = || Window::new(window, limit.unwrap_or(u64::MAX), measure);
                    let Some(w) = window_of(&mut self.series, key, make) else {
                        continue;
                    };
                    w.counts.add(now, n, window);
                    // The latest facts (a title can change) are what a tick re-reports.
                    w.source = source(issue);
                    w.context = ctx(issue, "");
                    w.link = format!("/issues/{}", issue.issue_id);
                    out.push(w.observe(idx, now));
                    None
                }
                (
                    IssueCondition::Rate,
                    SentryEvent::EventsAccepted {
                        issue,
                        count,
                        environments,
                        releases,
                        tags,
                        ..
                    },
                ) if issue_matches(rule, issue, seen(environments, releases, tags)) => {
                    let key = (idx, format!("project:{}", issue.project));
                    let limit = rule.per_minute.unwrap_or(u64::MAX);
                    let make = || Window::new(window, limit, Measure::PerMinute);
                    let Some(w) = window_of(&mut self.series, key, make) else {
                        continue;
                    };
                    w.counts.add(now, *count, window);
                    w.source = labels(&[("project", issue.project.to_string())]);
                    w.context = json!({"Project": issue.project});
                    w.link = "/issues".into();
                    out.push(w.observe(idx, now));
                    None
                }
                _ => None,
            };
            if let Some((issue, active, momentary, value)) = obs {
                out.push(Observation {
                    rule: idx,
                    base: Labels::new(),
                    source: source(&issue),
                    active,
                    momentary,
                    context: ctx(&issue, &value),
                    value,
                    link: format!("/issues/{}", issue.issue_id),
                });
            }
        }
        out
    }

    pub(super) fn periskop(&mut self, e: &PeriskopEvent, now: u64) -> Vec<Observation> {
        let mut out = Vec::new();
        for (idx, r) in self.rules.iter().enumerate() {
            let Some(rule) = &r.exception else { continue };
            let service_ok =
                |s: &str| rule.services.is_empty() || rule.services.iter().any(|x| x == s);
            let key_ok = |k: &str| rule.keys.as_ref().is_none_or(|p| p.0.is_match(k));
            let window = rule.window.get().as_millis() as u64;
            let mut push = |source: Labels,
                            active: bool,
                            momentary: bool,
                            value: String,
                            service: &str,
                            key: &str| {
                out.push(Observation {
                    rule: idx,
                    base: Labels::new(),
                    context: json!({"Service": service, "Key": key, "Value": value}),
                    source,
                    active,
                    momentary,
                    value,
                    link: format!("/exceptions/{service}"),
                });
            };
            match (rule.event, e) {
                (
                    ExceptionCondition::New,
                    PeriskopEvent::KeyCreated {
                        service,
                        key,
                        total,
                        ..
                    },
                ) if service_ok(service) && key_ok(key) => {
                    let src = labels(&[("service", service.clone()), ("key", key.clone())]);
                    push(
                        src,
                        true,
                        true,
                        format!("new key, {total} so far"),
                        service,
                        key,
                    );
                }
                (
                    ExceptionCondition::Regressed,
                    PeriskopEvent::KeyRegressed {
                        service,
                        key,
                        total,
                        ..
                    },
                ) if service_ok(service) && key_ok(key) => {
                    let src = labels(&[("service", service.clone()), ("key", key.clone())]);
                    push(
                        src,
                        true,
                        true,
                        format!("regressed, {total} in all"),
                        service,
                        key,
                    );
                }
                (
                    ExceptionCondition::Increase,
                    PeriskopEvent::CountIncreased {
                        service,
                        key,
                        increase,
                        ..
                    },
                ) if service_ok(service) && key_ok(key) => {
                    let per_service = rule.per == "service";
                    let skey = if per_service {
                        format!("s:{service}")
                    } else {
                        format!("k:{service}\u{0}{key}")
                    };
                    let limit = rule.increase.unwrap_or(u64::MAX);
                    let make = || Window::new(window, limit, Measure::Increase);
                    let Some(w) = window_of(&mut self.series, (idx, skey), make) else {
                        continue;
                    };
                    w.counts.add(now, *increase, window);
                    w.source = if per_service {
                        labels(&[("service", service.clone())])
                    } else {
                        labels(&[("service", service.clone()), ("key", key.clone())])
                    };
                    w.context = json!({"Service": service, "Key": key});
                    w.link = format!("/exceptions/{service}");
                    out.push(w.observe(idx, now));
                }
                (
                    ExceptionCondition::TargetsDown,
                    PeriskopEvent::TargetHealth {
                        service,
                        target,
                        up,
                        error,
                        ..
                    },
                ) if service_ok(service) => {
                    let src = labels(&[("service", service.clone()), ("target", target.clone())]);
                    let value = if *up {
                        "up".to_string()
                    } else {
                        format!("down: {}", error.clone().unwrap_or_default())
                    };
                    push(src, !*up, false, value, service, "");
                }
                _ => {}
            }
        }
        out
    }

    /// Panoptes' own conditions; `stats` is `None` when only the store's state changed.
    pub(super) fn self_rules(&mut self, stats: Option<SelfStats>, now: u64) -> Vec<Observation> {
        let deltas = match (stats, self.last_stats) {
            (Some(s), Some(p)) => Some((
                s.quota_rejected_total
                    .saturating_sub(p.quota_rejected_total),
                s.events_dropped_total
                    .saturating_sub(p.events_dropped_total),
            )),
            _ => None,
        };
        if let Some(s) = stats {
            self.last_stats = Some(s);
        }
        let mut out = Vec::new();
        for (idx, r) in self.rules.iter().enumerate() {
            let Some(rule) = &r.panoptes else { continue };
            let window = rule.window.get().as_millis() as u64;
            let (active, value) = match rule.event {
                SelfCondition::StoreFailed => match &self.store_failed {
                    Some(why) => (true, why.clone()),
                    None if stats.is_some() => (false, "ok".into()),
                    None => continue,
                },
                SelfCondition::Backlog => match stats {
                    Some(s) => (s.backlog > rule.above, format!("{} items", s.backlog)),
                    None => continue,
                },
                SelfCondition::QuotaRejections | SelfCondition::EventsDropped => {
                    let Some((quota, dropped)) = deltas else {
                        continue;
                    };
                    let n = if rule.event == SelfCondition::QuotaRejections {
                        quota
                    } else {
                        dropped
                    };
                    let s = self.self_series.entry(idx).or_default();
                    s.add(now, n, window);
                    let sum = s.sum(now, window);
                    (
                        sum > rule.above,
                        format!("{sum} in {}", crate::config::Duration(rule.window.get())),
                    )
                }
                // Reported by the outbox through `notification_dead`.
                SelfCondition::NotificationDead => continue,
                // One per agent, on every tick (`agents.rs`).
                SelfCondition::AgentSilent => {
                    if stats.is_some() {
                        out.extend(agents::silent(idx, window, &self.agents, now));
                    }
                    continue;
                }
            };
            out.push(Observation {
                rule: idx,
                base: Labels::new(),
                source: Labels::new(),
                active,
                momentary: false,
                context: json!({"Value": value}),
                value,
                link: "/".into(),
            });
        }
        out
    }
}
