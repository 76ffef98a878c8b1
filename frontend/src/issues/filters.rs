//! The issue list's filters. They live in the address (`/issues?level=error&sort=count`), so a
//! reload, a shared link and back/forward show the same list: the controls only navigate, and
//! the list reads what it shows from the address.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::params::ParamsMap;
use panoptes_types::{IssueFacets, ProjectInfo};

/// What the list shows, as the address says. Empty text means "not narrowed" (and, for status
/// and sort, the server's default: unresolved, most recently seen first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    pub project: Option<u64>,
    pub status: String,
    pub level: String,
    pub environment: String,
    pub release: String,
    pub query: String,
    pub sort: String,
}

/// The status choices: the address's value and what the control shows.
pub const STATUSES: &[(&str, &str)] = &[
    ("", "Unresolved"),
    ("resolved", "Resolved"),
    ("ignored", "Ignored"),
    ("all", "Any status"),
];

/// The sort choices, as the server names them.
pub const SORTS: &[(&str, &str)] = &[
    ("", "Last seen"),
    ("first_seen", "First seen"),
    ("count", "Most events"),
    ("users", "Most users"),
];

impl ListQuery {
    pub fn from_params(p: &ParamsMap) -> ListQuery {
        let text = |k: &str| p.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        let status = text("status");
        ListQuery {
            project: p.get("project").and_then(|v| v.parse().ok()),
            // The default spelled out is the default.
            status: if status == "unresolved" {
                String::new()
            } else {
                status
            },
            level: text("level"),
            environment: text("environment"),
            release: text("release"),
            query: text("query"),
            sort: match text("sort") {
                s if s == "last_seen" => String::new(),
                s => s,
            },
        }
    }

    fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("status", self.status.as_str()),
            ("level", &self.level),
            ("environment", &self.environment),
            ("release", &self.release),
            ("query", &self.query),
            ("sort", &self.sort),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }

    /// This list's address in the dashboard.
    pub fn href(&self) -> String {
        let project = self.project.map(|p| p.to_string());
        let mut parts: Vec<String> = project.iter().map(|p| format!("project={p}")).collect();
        parts.extend(
            self.pairs()
                .into_iter()
                .map(|(k, v)| format!("{k}={}", encode(v))),
        );
        if parts.is_empty() {
            "/issues".into()
        } else {
            format!("/issues?{}", parts.join("&"))
        }
    }

    /// The filters as query parameters of the list route, each starting with `&`.
    pub fn api_params(&self) -> String {
        self.pairs()
            .into_iter()
            .map(|(k, v)| format!("&{k}={}", encode(v)))
            .collect()
    }

    /// Whether anything narrows the list beyond the default (unresolved issues).
    pub fn narrowed(&self) -> bool {
        !self.status.is_empty()
            || !self.level.is_empty()
            || !self.environment.is_empty()
            || !self.release.is_empty()
            || !self.query.is_empty()
    }

    /// Whether an issue of this status belongs in the list.
    pub fn keeps_status(&self, status: panoptes_types::IssueStatus) -> bool {
        match self.status.as_str() {
            "" => status == panoptes_types::IssueStatus::Unresolved,
            "all" => true,
            s => status.as_str() == s,
        }
    }
}

/// Percent-encoding of a query value: everything but RFC 3986's unreserved characters.
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A labelled select of `choices` (value, label); `current` is selected, and kept as a choice
/// when it is not among them (a link naming a value no issue has any more). Picking one
/// navigates to the list with `set` applied.
#[component]
fn Choice(
    id: &'static str,
    label: &'static str,
    choices: Vec<(String, String)>,
    current: String,
    q: Memo<ListQuery>,
    set: fn(&mut ListQuery, String),
) -> impl IntoView {
    let navigate = use_navigate();
    let mut choices = choices;
    if !current.is_empty() && !choices.iter().any(|(v, _)| *v == current) {
        choices.push((current.clone(), current.clone()));
    }
    let on_change = move |ev: leptos::ev::Event| {
        let mut next = q.get_untracked();
        set(&mut next, event_target_value(&ev));
        navigate(&next.href(), Default::default());
    };
    view! {
        <label class="field">
            <span class="muted">{label}</span>
            <select id=id on:change=on_change>
                {choices.into_iter().map(|(v, text)| {
                    let selected = v == current;
                    view! { <option value=v selected=selected>{text}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect()
}

/// Facet values as choices, after an "any" choice.
fn facet_choices(any: &str, values: &[String]) -> Vec<(String, String)> {
    std::iter::once((String::new(), any.to_string()))
        .chain(values.iter().map(|v| (v.clone(), v.clone())))
        .collect()
}

/// The project choice (when there are several), the search box, the selects and the sort.
/// Each change is a navigation to the list's new address.
#[component]
pub fn FilterBar(
    q: Memo<ListQuery>,
    facets: Signal<IssueFacets>,
    projects: Signal<Vec<ProjectInfo>>,
) -> impl IntoView {
    let navigate = use_navigate();
    let search = NodeRef::<leptos::html::Input>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = search
            .get_untracked()
            .map(|i| i.value().trim().to_string())
            .unwrap_or_default();
        let mut next = q.get_untracked();
        next.query = text;
        navigate(&next.href(), Default::default());
    };
    view! {
        <form class="filters" role="search" aria-label="Filter issues" on:submit=on_submit>
            {move || {
                let list = projects.get();
                (list.len() > 1).then(|| {
                    let current = q
                        .with(|q| q.project)
                        .or(list.first().map(|p| p.id))
                        .map(|p| p.to_string())
                        .unwrap_or_default();
                    let choices = list.iter().map(|p| (p.id.to_string(), p.name.clone())).collect();
                    view! { <Choice id="filter-project" label="Project" choices=choices current=current
                        q=q set=|q, v| *q = ListQuery { project: v.parse().ok(), ..Default::default() } /> }
                })
            }}
            <label class="field grow">
                <span class="muted">"Search"</span>
                <input id="issue-search" type="search" node_ref=search placeholder="Title or culprit"
                    prop:value=move || q.with(|q| q.query.clone()) />
            </label>
            <button type="submit" class="secondary" id="issue-search-go">"Search"</button>
            {move || {
                let (f, cur) = (facets.get(), q.get());
                view! {
                    <Choice id="filter-status" label="Status" choices=owned(STATUSES)
                        current=cur.status.clone() q=q set=|q, v| q.status = v />
                    <Choice id="filter-level" label="Level" choices=facet_choices("Any level", &f.levels)
                        current=cur.level.clone() q=q set=|q, v| q.level = v />
                    <Choice id="filter-environment" label="Environment"
                        choices=facet_choices("Any environment", &f.environments)
                        current=cur.environment.clone() q=q set=|q, v| q.environment = v />
                    <Choice id="filter-release" label="Release" choices=facet_choices("Any release", &f.releases)
                        current=cur.release.clone() q=q set=|q, v| q.release = v />
                    <Choice id="filter-sort" label="Sort" choices=owned(SORTS)
                        current=cur.sort.clone() q=q set=|q, v| q.sort = v />
                }
            }}
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_carries_only_what_narrows() {
        let q = ListQuery::default();
        assert_eq!(q.href(), "/issues");
        assert_eq!(q.api_params(), "");
        let q = ListQuery {
            project: Some(7),
            level: "error".into(),
            release: "shop@2.4.1 beta".into(),
            ..Default::default()
        };
        assert_eq!(
            q.href(),
            "/issues?project=7&level=error&release=shop%402.4.1%20beta"
        );
        assert_eq!(q.api_params(), "&level=error&release=shop%402.4.1%20beta");
        assert!(q.narrowed());
    }
}
