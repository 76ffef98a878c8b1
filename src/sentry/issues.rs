//! Issues in memory: every issue's record, the (project, grouping hash) index and the issues of
//! each project, rebuilt from the store at start-up and kept in step by the digest and status
//! changes. Lists, filters and sorts run here, so listing issues never touches the events (fast
//! at millions of events), and listing one project never looks at another's issues (the digest
//! waits for the same lock).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::event::Summary;
use crate::clock::rfc3339;

/// The grouping key of a project's overflow issue (never a real hash: those are hex).
pub const OVERFLOW_GROUP: &str = "overflow";

/// Most releases and environments remembered per issue.
const MAX_RELEASES: usize = 100;
const MAX_ENVIRONMENTS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Unresolved,
    Resolved,
    Ignored,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unresolved => "unresolved",
            Status::Resolved => "resolved",
            Status::Ignored => "ignored",
        }
    }
    pub fn wire(self) -> panoptes_types::IssueStatus {
        match self {
            Status::Unresolved => panoptes_types::IssueStatus::Unresolved,
            Status::Resolved => panoptes_types::IssueStatus::Resolved,
            Status::Ignored => panoptes_types::IssueStatus::Ignored,
        }
    }

    pub fn from_wire(s: panoptes_types::IssueStatus) -> Status {
        match s {
            panoptes_types::IssueStatus::Unresolved => Status::Unresolved,
            panoptes_types::IssueStatus::Resolved => Status::Resolved,
            panoptes_types::IssueStatus::Ignored => Status::Ignored,
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "unresolved" => Some(Status::Unresolved),
            "resolved" => Some(Status::Resolved),
            "ignored" => Some(Status::Ignored),
            _ => None,
        }
    }
}

/// What is stored per issue (JSON; fields may be added with serde defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueRecord {
    pub id: u64,
    pub project: u64,
    pub hash: String,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub platform: String,
    pub status: Status,
    #[serde(default)]
    pub regressed: bool,
    #[serde(default)]
    pub regressions: u64,
    #[serde(default)]
    pub resolved_at_ms: Option<u64>,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    pub count: u64,
    #[serde(default)]
    pub stored_events: u64,
    #[serde(default)]
    pub users: u64,
    #[serde(default)]
    pub releases: Vec<String>,
    #[serde(default)]
    pub environments: Vec<String>,
    #[serde(default)]
    pub first_release: Option<String>,
    #[serde(default)]
    pub last_event_id: Option<String>,
    /// The project's overflow issue (see `ingest.max_issues_per_project`): its title stays.
    #[serde(default)]
    pub overflow: bool,
}

impl IssueRecord {
    pub fn new(id: u64, project: u64, s: &Summary, at_ms: u64) -> Self {
        IssueRecord {
            id,
            project,
            hash: s.group.clone(),
            title: s.title.clone(),
            culprit: s.culprit.clone(),
            level: s.level.clone(),
            platform: s.platform.clone(),
            status: Status::Unresolved,
            regressed: false,
            regressions: 0,
            resolved_at_ms: None,
            first_seen_ms: at_ms,
            last_seen_ms: at_ms,
            count: 0,
            stored_events: 0,
            users: 0,
            releases: Vec::new(),
            environments: Vec::new(),
            first_release: s.release.clone(),
            last_event_id: None,
            overflow: false,
        }
    }

    /// The issue that collects a project's events once it has `max_issues_per_project` issues.
    pub fn overflow(id: u64, project: u64, s: &Summary, at_ms: u64) -> Self {
        let mut r = IssueRecord::new(id, project, s, at_ms);
        r.hash = OVERFLOW_GROUP.to_string();
        r.title = "Further distinct errors (ingest.max_issues_per_project reached)".into();
        r.culprit = String::new();
        r.overflow = true;
        r
    }

    /// Counts one more event. A resolved issue that gets one is reopened and flagged as a
    /// regression; an ignored one stays ignored (its count still grows).
    pub fn observe(&mut self, s: &Summary, at_ms: u64) {
        self.count += 1;
        self.first_seen_ms = self.first_seen_ms.min(at_ms);
        if self.overflow {
            self.last_seen_ms = self.last_seen_ms.max(at_ms);
        }
        if at_ms >= self.last_seen_ms && !self.overflow {
            self.last_seen_ms = at_ms;
            // The newest event names the issue (a message may be reworded by a new release).
            self.level = s.level.clone();
            self.title = s.title.clone();
            if !s.culprit.is_empty() {
                self.culprit = s.culprit.clone();
            }
        }
        if self.status == Status::Resolved {
            self.status = Status::Unresolved;
            self.regressed = true;
            self.regressions += 1;
        }
        if let Some(r) = &s.release
            && !self.releases.contains(r)
            && self.releases.len() < MAX_RELEASES
        {
            self.releases.push(r.clone());
        }
        if let Some(e) = &s.environment
            && !self.environments.contains(e)
            && self.environments.len() < MAX_ENVIRONMENTS
        {
            self.environments.push(e.clone());
        }
    }

    pub fn summary(&self) -> panoptes_types::IssueSummary {
        panoptes_types::IssueSummary {
            id: self.id,
            project: self.project,
            title: self.title.clone(),
            culprit: self.culprit.clone(),
            level: panoptes_types::Level::parse(&self.level),
            platform: self.platform.clone(),
            status: self.status.wire(),
            regressed: self.regressed,
            regressions: self.regressions,
            first_seen: rfc3339(self.first_seen_ms),
            last_seen: rfc3339(self.last_seen_ms),
            count: self.count,
            stored_events: self.stored_events,
            users: self.users,
            releases: self.releases.clone(),
            environments: self.environments.clone(),
            first_release: self.first_release.clone(),
            last_event_id: self.last_event_id.clone(),
            grouping_hash: self.hash.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    LastSeen,
    FirstSeen,
    Count,
    Users,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "last_seen" | "date" => Some(Sort::LastSeen),
            "first_seen" | "new" => Some(Sort::FirstSeen),
            "count" | "freq" => Some(Sort::Count),
            "users" | "user" => Some(Sort::Users),
            _ => None,
        }
    }
    fn key(self, i: &IssueRecord) -> u64 {
        match self {
            Sort::LastSeen => i.last_seen_ms,
            Sort::FirstSeen => i.first_seen_ms,
            Sort::Count => i.count,
            Sort::Users => i.users,
        }
    }
}

#[derive(Debug, Default)]
pub struct Issues {
    /// Every issue; change it through [`Issues::upsert`], which keeps the index in step.
    pub by_id: HashMap<u64, IssueRecord>,
    pub groups: HashMap<(u64, String), u64>,
    pub next_id: u64,
    /// The issues of each project (also what `ingest.max_issues_per_project` counts).
    by_project: HashMap<u64, HashSet<u64>>,
}

/// Which issues a list asks for.
#[derive(Debug, Clone)]
pub struct Filter {
    pub project: u64,
    /// `None`: every status.
    pub status: Option<Status>,
    /// Case-insensitive substring of title, culprit or level.
    pub query: Option<String>,
    /// The issue's level (of its newest event), aliases folded (`warn` is `warning`).
    pub level: Option<panoptes_types::Level>,
    /// An environment the issue was seen in (exact).
    pub environment: Option<String>,
    /// A release the issue was seen in (exact).
    pub release: Option<String>,
    pub sort: Sort,
    /// From a previous page: (sort key, id) of its last issue.
    pub after: Option<(u64, u64)>,
    pub limit: usize,
}

impl Issues {
    pub fn load(records: Vec<IssueRecord>, groups: Vec<(u64, String, u64)>) -> Issues {
        let mut issues = Issues {
            next_id: records.iter().map(|r| r.id).max().unwrap_or(0) + 1,
            groups: groups.into_iter().map(|(p, h, id)| ((p, h), id)).collect(),
            ..Default::default()
        };
        for r in records {
            issues.upsert(r);
        }
        issues
    }

    /// Adds or replaces an issue.
    pub fn upsert(&mut self, rec: IssueRecord) {
        let (id, project) = (rec.id, rec.project);
        // An issue never changes project; the index is kept exact all the same.
        if let Some(old) = self.by_id.insert(id, rec)
            && old.project != project
            && let Some(ids) = self.by_project.get_mut(&old.project)
        {
            ids.remove(&id);
        }
        self.by_project.entry(project).or_default().insert(id);
    }

    /// How many issues `project` has.
    pub fn issue_count(&self, project: u64) -> u64 {
        self.by_project
            .get(&project)
            .map_or(0, |ids| ids.len() as u64)
    }

    fn of_project(&self, project: u64) -> impl Iterator<Item = &IssueRecord> {
        self.by_project
            .get(&project)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
    }

    /// One page, newest / largest first; returns the issues and the cursor of the next page.
    pub fn list(&self, f: &Filter) -> (Vec<&IssueRecord>, Option<(u64, u64)>) {
        let q = f.query.as_ref().map(|q| q.to_lowercase());
        let mut hits: Vec<&IssueRecord> = self
            .of_project(f.project)
            .filter(|i| f.status.is_none_or(|s| i.status == s))
            .filter(|i| {
                q.as_ref().is_none_or(|q| {
                    contains_ignoring_case(&i.title, q)
                        || contains_ignoring_case(&i.culprit, q)
                        || i.level == *q
                })
            })
            .filter(|i| {
                f.level
                    .as_ref()
                    .is_none_or(|l| panoptes_types::Level::parse(&i.level) == *l)
                    && f.environment
                        .as_ref()
                        .is_none_or(|e| i.environments.contains(e))
                    && f.release.as_ref().is_none_or(|r| i.releases.contains(r))
            })
            .filter(|i| {
                f.after
                    .is_none_or(|(k, id)| (f.sort.key(i), i.id) < (k, id))
            })
            .collect();
        hits.sort_unstable_by_key(|i| std::cmp::Reverse((f.sort.key(i), i.id)));
        let more = hits.len() > f.limit;
        hits.truncate(f.limit);
        let next = if more {
            hits.last().map(|i| (f.sort.key(i), i.id))
        } else {
            None
        };
        (hits, next)
    }

    /// The levels, environments and releases seen on a project's issues: what its list's
    /// filters can take.
    pub fn facets(&self, project: u64) -> panoptes_types::IssueFacets {
        use std::collections::BTreeSet;
        let (mut levels, mut envs, mut releases) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for i in self.of_project(project) {
            levels.insert(level_rank(&i.level));
            envs.extend(i.environments.iter().map(String::as_str));
            releases.extend(i.releases.iter().map(String::as_str));
        }
        panoptes_types::IssueFacets {
            levels: levels
                .into_iter()
                .map(|(_, l)| l.as_str().to_string())
                .collect(),
            environments: envs.into_iter().map(str::to_string).collect(),
            releases: releases.into_iter().map(str::to_string).collect(),
        }
    }

    pub fn counts(&self, project: u64) -> (u64, u64) {
        let open = self
            .of_project(project)
            .filter(|i| i.status == Status::Unresolved)
            .count() as u64;
        (self.issue_count(project), open)
    }
}

/// A level's canonical name with its place by severity (fatal first), for sorting.
fn level_rank(level: &str) -> (u8, String) {
    use panoptes_types::Level;
    let l = Level::parse(level);
    let rank = match l {
        Level::Fatal => 0,
        Level::Error => 1,
        Level::Warning => 2,
        Level::Info => 3,
        Level::Debug => 4,
        Level::Other(_) => 5,
    };
    (rank, l.as_str().to_string())
}

/// Whether `hay` contains `lower` (already lower-case) ignoring case, without a lower-case copy
/// of `hay` when `lower` is ASCII (the usual search term).
fn contains_ignoring_case(hay: &str, lower: &str) -> bool {
    if !lower.is_ascii() {
        return hay.to_lowercase().contains(lower);
    }
    let (h, n) = (hay.as_bytes(), lower.as_bytes());
    n.is_empty()
        || h.windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(group: &str) -> Summary {
        Summary {
            group: group.into(),
            title: format!("T {group}"),
            culprit: "c".into(),
            level: "error".into(),
            platform: "python".into(),
            release: Some("r1".into()),
            environment: Some("prod".into()),
            user: None,
            timestamp_ms: None,
            exception_type: None,
            tags: Vec::new(),
        }
    }

    #[test]
    fn regressions_reopen_resolved_issues() {
        let s = summary("g");
        let mut i = IssueRecord::new(1, 7, &s, 1000);
        i.observe(&s, 1000);
        i.status = Status::Resolved;
        i.observe(&s, 2000);
        assert_eq!(i.status, Status::Unresolved);
        assert!(i.regressed);
        assert_eq!(i.regressions, 1);
        assert_eq!(i.count, 2);
        i.status = Status::Ignored;
        i.observe(&s, 3000);
        assert_eq!(i.status, Status::Ignored);
        assert_eq!(i.releases, vec!["r1".to_string()]);
    }

    #[test]
    fn lists_sort_filter_and_page() {
        let mut recs = Vec::new();
        for n in 1..=5u64 {
            let s = summary(&format!("g{n}"));
            let mut r = IssueRecord::new(n, 7, &s, n * 1000);
            for _ in 0..n {
                r.observe(&s, n * 1000);
            }
            recs.push(r);
        }
        let mut other = IssueRecord::new(9, 8, &summary("x"), 0);
        other.observe(&summary("x"), 0);
        recs.push(other);
        recs[1].status = Status::Resolved;
        let issues = Issues::load(recs, vec![]);
        assert_eq!(issues.next_id, 10);
        let mut f = Filter {
            project: 7,
            status: None,
            query: None,
            level: None,
            environment: None,
            release: None,
            sort: Sort::Count,
            after: None,
            limit: 2,
        };
        let (page, next) = issues.list(&f);
        assert_eq!(page.iter().map(|i| i.id).collect::<Vec<_>>(), vec![5, 4]);
        f.after = next;
        let (page, _) = issues.list(&f);
        assert_eq!(page.iter().map(|i| i.id).collect::<Vec<_>>(), vec![3, 2]);
        f.after = None;
        f.limit = 10;
        f.status = Some(Status::Unresolved);
        let (page, next) = issues.list(&f);
        assert_eq!(page.len(), 4);
        assert!(next.is_none());
        f.query = Some("t G3".into());
        assert_eq!(issues.list(&f).0.len(), 1);
        assert_eq!(issues.counts(7), (5, 4));
    }

    /// Listing and counting go through the per-project index, which follows every insert.
    #[test]
    fn the_project_index_follows_inserts() {
        let mut issues = Issues::load(vec![IssueRecord::new(1, 7, &summary("a"), 0)], vec![]);
        for id in 2..=4 {
            issues.upsert(IssueRecord::new(id, 8, &summary("b"), 0));
        }
        let mut again = IssueRecord::new(1, 7, &summary("a"), 5);
        again.status = Status::Resolved;
        issues.upsert(again);
        assert_eq!(issues.issue_count(7), 1);
        assert_eq!(issues.issue_count(8), 3);
        assert_eq!(issues.counts(7), (1, 0));
        let f = Filter {
            project: 8,
            status: None,
            query: Some("t B".to_lowercase()),
            level: None,
            environment: None,
            release: None,
            sort: Sort::LastSeen,
            after: None,
            limit: 10,
        };
        assert_eq!(issues.list(&f).0.len(), 3);
    }

    #[test]
    fn filters_by_level_environment_and_release_and_lists_facets() {
        let mut recs = Vec::new();
        for (n, level, env, release) in [
            (1u64, "error", "prod", "r1"),
            (2, "warning", "staging", "r2"),
            (3, "warn", "prod", "r2"),
            (4, "fatal", "prod", "r1"),
        ] {
            let mut s = summary(&format!("g{n}"));
            s.level = level.into();
            s.environment = Some(env.into());
            s.release = Some(release.into());
            let mut r = IssueRecord::new(n, 7, &s, n * 1000);
            r.observe(&s, n * 1000);
            recs.push(r);
        }
        let issues = Issues::load(recs, vec![]);
        let ids = |f: &Filter| issues.list(f).0.iter().map(|i| i.id).collect::<Vec<_>>();
        let mut f = Filter {
            project: 7,
            status: None,
            query: None,
            level: Some(panoptes_types::Level::Warning),
            environment: None,
            release: None,
            sort: Sort::LastSeen,
            after: None,
            limit: 10,
        };
        assert_eq!(ids(&f), vec![3, 2], "warn counts as warning");
        f.environment = Some("prod".into());
        assert_eq!(ids(&f), vec![3]);
        f.level = None;
        f.release = Some("r1".into());
        assert_eq!(ids(&f), vec![4, 1]);
        f.environment = Some("pro".into());
        assert!(ids(&f).is_empty(), "exact match, not a prefix");
        let facets = issues.facets(7);
        assert_eq!(facets.levels, vec!["fatal", "error", "warning"]);
        assert_eq!(facets.environments, vec!["prod", "staging"]);
        assert_eq!(facets.releases, vec!["r1", "r2"]);
        assert_eq!(issues.facets(8), panoptes_types::IssueFacets::default());
    }

    #[test]
    fn search_ignores_case_without_copying() {
        assert!(contains_ignoring_case("KeyError: User 42", "user 4"));
        assert!(contains_ignoring_case("ÄRGER in Köln", "köln"));
        assert!(contains_ignoring_case("x", ""));
        assert!(!contains_ignoring_case("KeyError", "keyerrors"));
    }
}
