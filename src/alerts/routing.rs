//! Alertmanager's routing tree and inhibition, pure: which routes (and so receivers and group
//! timings) an alert goes to, which group it joins there, and whether a firing alert mutes it.
//! Behaviour follows Alertmanager's `dispatch/route.go` and `inhibit/inhibit.go` so a pasted
//! `route:` routes exactly as it did there.

use super::config::{GroupBy, InhibitRuleConfig, RouteConfig};
use super::matcher::{MatchOp, Matcher, all_match};
use super::model::Labels;

/// Alertmanager's defaults.
pub const GROUP_WAIT_MS: u64 = 30_000;
pub const GROUP_INTERVAL_MS: u64 = 300_000;
pub const REPEAT_INTERVAL_MS: u64 = 4 * 3_600_000;

/// One node of the tree, with inherited settings resolved.
#[derive(Debug, Clone)]
pub struct Route {
    /// Unique and stable while the config is: the parent's key, `/`, this node's matchers,
    /// and its position among siblings (as Alertmanager's `Route.ID()`).
    pub key: String,
    pub receiver: String,
    pub group_by: GroupBy,
    pub matchers: Vec<Matcher>,
    pub continue_matching: bool,
    pub group_wait_ms: u64,
    pub group_interval_ms: u64,
    pub repeat_interval_ms: u64,
    pub escalation_policy: Option<String>,
    pub routes: Vec<Route>,
}

/// A group an alert belongs to on one route: its key (`{route}:{labels}`, Alertmanager's
/// `groupKey`) and the labels it groups by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupId {
    pub key: String,
    pub labels: Labels,
}

impl Route {
    /// Builds the tree from the config; `None` when there is no route (alerts then only show in
    /// the API and dashboard).
    pub fn build(cfg: &RouteConfig) -> Route {
        let root = Route {
            key: "{}".into(),
            receiver: String::new(),
            group_by: GroupBy::Labels(Vec::new()),
            matchers: Vec::new(),
            continue_matching: false,
            group_wait_ms: GROUP_WAIT_MS,
            group_interval_ms: GROUP_INTERVAL_MS,
            repeat_interval_ms: REPEAT_INTERVAL_MS,
            escalation_policy: None,
            routes: Vec::new(),
        };
        Self::child(cfg, &root, "{}".into())
    }

    fn child(cfg: &RouteConfig, parent: &Route, key: String) -> Route {
        let ms = |d: Option<crate::config::Duration>, inherited: u64| {
            d.map_or(inherited, |d| d.get().as_millis() as u64)
        };
        let matchers = with_legacy(&cfg.matchers, &cfg.match_labels, &cfg.match_re);
        let mut node = Route {
            key,
            receiver: cfg
                .receiver
                .clone()
                .unwrap_or_else(|| parent.receiver.clone()),
            group_by: cfg
                .group_by
                .clone()
                .unwrap_or_else(|| parent.group_by.clone()),
            matchers,
            continue_matching: cfg.continue_matching,
            group_wait_ms: ms(cfg.group_wait, parent.group_wait_ms),
            group_interval_ms: ms(cfg.group_interval, parent.group_interval_ms),
            repeat_interval_ms: ms(cfg.repeat_interval, parent.repeat_interval_ms),
            escalation_policy: cfg
                .escalation_policy
                .clone()
                .or_else(|| parent.escalation_policy.clone()),
            routes: Vec::new(),
        };
        node.routes = cfg
            .routes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let m: Vec<String> = c.matchers.iter().map(|m| m.to_string()).collect();
                let mut extra: Vec<String> = c
                    .match_labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .chain(c.match_re.iter().map(|(k, v)| format!("{k}=~{v:?}")))
                    .collect();
                extra.extend(m);
                let key = format!("{}/{{{}}}/{i}", node.key, extra.join(","));
                Self::child(c, &node, key)
            })
            .collect();
        node
    }

    /// The routes `labels` go to: the deepest matching nodes, following `continue`
    /// (Alertmanager's `Route.Match`). The root matches everything.
    pub fn matching(&self, labels: &Labels) -> Vec<&Route> {
        let mut out = Vec::new();
        self.collect(labels, &mut out);
        out
    }

    fn collect<'a>(&'a self, labels: &Labels, out: &mut Vec<&'a Route>) -> bool {
        if !all_match(&self.matchers, labels) {
            return false;
        }
        let before = out.len();
        for child in &self.routes {
            if child.collect(labels, out) && !child.continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(self);
        }
        true
    }

    /// The group `labels` join on this route.
    pub fn group(&self, labels: &Labels) -> GroupId {
        let group_labels: Labels = match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        };
        let rendered: Vec<String> = group_labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        GroupId {
            key: format!("{}:{{{}}}", self.key, rendered.join(", ")),
            labels: group_labels,
        }
    }

    /// Every node, depth first (for validation and the API).
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for c in &self.routes {
            out.extend(c.walk());
        }
        out
    }
}

/// An inhibition rule (Alertmanager's `inhibit_rules` entry).
#[derive(Debug, Clone)]
pub struct Inhibition {
    pub source: Vec<Matcher>,
    pub target: Vec<Matcher>,
    pub equal: Vec<String>,
}

/// `matchers` plus Alertmanager's older `match` (equality) and `match_re` (regex) maps (their
/// regexes were checked at load).
fn with_legacy(
    matchers: &[Matcher],
    equal: &std::collections::BTreeMap<String, String>,
    regex: &std::collections::BTreeMap<String, String>,
) -> Vec<Matcher> {
    let mut out = matchers.to_vec();
    let legacy = equal
        .iter()
        .map(|(k, v)| (k, MatchOp::Equal, v))
        .chain(regex.iter().map(|(k, v)| (k, MatchOp::Regex, v)));
    out.extend(legacy.filter_map(|(k, op, v)| Matcher::new(k, op, v).ok()));
    out
}

impl From<&InhibitRuleConfig> for Inhibition {
    fn from(c: &InhibitRuleConfig) -> Self {
        Inhibition {
            source: with_legacy(&c.source_matchers, &c.source_match, &c.source_match_re),
            target: with_legacy(&c.target_matchers, &c.target_match, &c.target_match_re),
            equal: c.equal.clone(),
        }
    }
}

/// Whether `target` is muted by one of the `firing` alerts' labels. An alert never mutes
/// itself, and when a rule's source and target both match an alert, that alert can only be
/// muted by sources that are not themselves targets (Alertmanager's two-sided exclusion), so
/// two critical alerts do not silence each other.
pub fn inhibited<'a>(
    rules: &[Inhibition],
    target: &Labels,
    firing: impl Iterator<Item = &'a Labels> + Clone,
) -> bool {
    rules.iter().any(|r| {
        if !all_match(&r.target, target) {
            return false;
        }
        let target_is_source = all_match(&r.source, target);
        firing.clone().any(|s| {
            s != target
                && all_match(&r.source, s)
                && !(target_is_source && all_match(&r.target, s))
                && r.equal.iter().all(|l| s.get(l) == target.get(l))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn route(src: &str) -> Route {
        Route::build(&crate::alerts::decode::<RouteConfig>(src))
    }

    const TREE: &str = r#"
receiver: default
group_by: [alertname]
routes:
  - matchers: ['severity="critical"']
    receiver: pager
    continue: true
    group_wait: 1s
  - matchers: ['team=~"web|api"']
    receiver: web
    routes:
      - matchers: ['env="dev"']
        receiver: devnull
  - match: {team: db}
    receiver: db
"#;

    fn receivers(r: &Route, l: &Labels) -> Vec<String> {
        r.matching(l).iter().map(|r| r.receiver.clone()).collect()
    }

    #[test]
    fn routes_as_alertmanager_does() {
        let r = route(TREE);
        assert_eq!(receivers(&r, &labels(&[("alertname", "X")])), ["default"]);
        // `continue` on the critical route lets the team route match too.
        assert_eq!(
            receivers(&r, &labels(&[("severity", "critical"), ("team", "web")])),
            ["pager", "web"]
        );
        // Without `continue`, the first match wins.
        assert_eq!(
            receivers(&r, &labels(&[("team", "api"), ("env", "dev")])),
            ["devnull"]
        );
        assert_eq!(receivers(&r, &labels(&[("team", "db")])), ["db"]);
        // Regexes are anchored.
        assert_eq!(receivers(&r, &labels(&[("team", "webby")])), ["default"]);
    }

    #[test]
    fn children_inherit_and_override_timings() {
        let r = route(TREE);
        let pager = &r.routes[0];
        assert_eq!(pager.group_wait_ms, 1_000);
        assert_eq!(pager.group_interval_ms, GROUP_INTERVAL_MS);
        assert_eq!(pager.repeat_interval_ms, REPEAT_INTERVAL_MS);
        assert_eq!(r.group_wait_ms, GROUP_WAIT_MS);
        assert!(matches!(&pager.group_by, GroupBy::Labels(l) if l == &["alertname"]));
        let keys: std::collections::HashSet<&str> =
            r.walk().iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys.len(), 5, "route keys are unique");
    }

    #[test]
    fn group_keys_hold_the_grouped_labels_only() {
        let r = route(TREE);
        let a = r.group(&labels(&[("alertname", "ApiDown"), ("monitor", "a")]));
        let b = r.group(&labels(&[("alertname", "ApiDown"), ("monitor", "b")]));
        assert_eq!(a, b);
        assert_eq!(a.key, "{}:{alertname=\"ApiDown\"}");
        let all = route("receiver: x\ngroup_by: ['...']\n");
        assert_ne!(
            all.group(&labels(&[("monitor", "a")])).key,
            all.group(&labels(&[("monitor", "b")])).key
        );
    }

    #[test]
    fn a_down_host_mutes_its_checks_but_nothing_mutes_itself() {
        let rules = [Inhibition {
            source: vec![Matcher::parse("alertname=HostDown").expect("m")],
            target: vec![Matcher::parse("alertname=HttpCheckFailed").expect("m")],
            equal: vec!["host".into()],
        }];
        let host = labels(&[("alertname", "HostDown"), ("host", "db1")]);
        let check = labels(&[("alertname", "HttpCheckFailed"), ("host", "db1")]);
        let other = labels(&[("alertname", "HttpCheckFailed"), ("host", "db2")]);
        assert!(inhibited(&rules, &check, [&host].into_iter()));
        assert!(!inhibited(&rules, &other, [&host].into_iter()));
        assert!(!inhibited(&rules, &host, [&host, &check].into_iter()));
        // Two-sided: critical mutes warning; two criticals do not mute each other.
        let sev = [Inhibition {
            source: vec![Matcher::parse("severity=critical").expect("m")],
            target: vec![Matcher::parse("severity=~\"critical|warning\"").expect("m")],
            equal: vec![],
        }];
        let c1 = labels(&[("severity", "critical"), ("a", "1")]);
        let c2 = labels(&[("severity", "critical"), ("a", "2")]);
        let w = labels(&[("severity", "warning")]);
        assert!(inhibited(&sev, &w, [&c1].into_iter()));
        assert!(!inhibited(&sev, &c1, [&c2].into_iter()));
    }
}
