//! Projects and their DSNs: what an SDK's `dsn` option needs, ready to copy, with a snippet per
//! SDK. Editors create projects here (a key is generated), add and revoke keys, and delete the
//! projects made here; the config file's projects are marked and read-only.

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{MonitorSource, NewProject, ProjectInfo, Role};

use super::QUIET;
use crate::api::{self, ApiError};
use crate::app::{Session, use_session};
use crate::components::{Empty, ErrorNote, Table, loaded};
use crate::poll::use_poll_on;

/// The key inside a DSN (`http://KEY@host/ID`).
fn key_of(dsn: &str) -> &str {
    dsn.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map_or("", |(k, _)| k)
}

/// How each official SDK is pointed at a DSN.
fn snippets(dsn: &str) -> [(&'static str, String); 4] {
    [
        (
            "Python",
            format!("import sentry_sdk\nsentry_sdk.init(dsn=\"{dsn}\")"),
        ),
        (
            "JavaScript",
            format!(
                "import * as Sentry from \"@sentry/browser\";\nSentry.init({{ dsn: \"{dsn}\" }});"
            ),
        ),
        (
            "Node",
            format!(
                "const Sentry = require(\"@sentry/node\");\nSentry.init({{ dsn: \"{dsn}\" }});"
            ),
        ),
        (
            "Rust",
            format!("let _guard = sentry::init((\"{dsn}\", sentry::ClientOptions::default()));"),
        ),
    ]
}

#[component]
pub fn Projects() -> impl IntoView {
    let projects = use_poll_on(QUIET.0, QUIET.1, api::projects);
    let session = use_session();
    let editor = move || matches!(session.get(), Session::User(p) if p.role >= Role::Editor);
    let error = RwSignal::new(None::<ApiError>);
    let changed = Callback::new(move |r: Result<(), ApiError>| match r {
        Ok(()) => {
            error.set(None);
            projects.refetch();
        }
        Err(e) => error.set(Some(e)),
    });
    view! {
        <section class="card" id="settings-projects">
            <h2>"Projects"</h2>
            {move || loaded(projects.get(), "projects", move |list| {
                if list.is_empty() {
                    return view! { <Empty>"No projects yet: create one below, or under `projects:` in the config."</Empty> }
                        .into_any();
                }
                let first = list.first().and_then(|p| p.dsn.first().cloned());
                view! {
                    <Table headers=&["Id", "Name", "DSN", "Issues", "Unresolved", ""] class="projects">
                        {list.into_iter().map(|p| view! { <ProjectRow p=p editor=editor() changed=changed /> }).collect_view()}
                    </Table>
                    {first.map(|dsn| view! { <Snippets dsn=dsn /> })}
                }
                .into_any()
            })}
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            <Show when=editor>
                <NewProjectForm changed=changed />
            </Show>
        </section>
    }
}

#[component]
fn ProjectRow(
    p: ProjectInfo,
    editor: bool,
    changed: Callback<Result<(), ApiError>>,
) -> impl IntoView {
    let id = p.id;
    let managed = p.source == MonitorSource::Api && editor;
    let last_key = p.dsn.len() <= 1;
    let add_key = move |_| {
        spawn_local(async move { changed.run(api::add_project_key(id).await.map(drop)) });
    };
    let remove = move |_| {
        let sure = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message(
                    "Delete this project? SDKs sending to it are refused from now on.",
                )
                .ok()
            })
            .unwrap_or(false);
        if sure {
            spawn_local(async move { changed.run(api::delete_project(id).await) });
        }
    };
    view! {
        <tr class="project-row" data-id=id.to_string() data-source=if p.source == MonitorSource::Api { "api" } else { "config" }>
            <td>{id}</td>
            <td>
                {p.name}
                {(p.source == MonitorSource::Config).then(|| view! { <span class="badge muted from-config" title="declared in the config file">" config"</span> })}
            </td>
            <td>
                {p.dsn.into_iter().map(|d| {
                    let key = key_of(&d).to_string();
                    let revoke = move |_| {
                        let key = key.clone();
                        spawn_local(async move { changed.run(api::revoke_project_key(id, &key).await) });
                    };
                    view! {
                        <div class="dsn-line">
                            <code class="dsn">{d}</code>
                            {(managed && !last_key).then(|| view! {
                                <button class="secondary small revoke-key" on:click=revoke>"Revoke"</button>
                            })}
                        </div>
                    }
                }).collect_view()}
            </td>
            <td>{p.issues}</td>
            <td>{p.unresolved}</td>
            <td>
                {managed.then(|| view! {
                    <button class="secondary small add-key" on:click=add_key>"Add key"</button>
                    " "
                    <button class="secondary small delete-project" on:click=remove>"Delete"</button>
                })}
            </td>
        </tr>
    }
}

/// The first DSN in each SDK's setup line.
#[component]
fn Snippets(dsn: String) -> impl IntoView {
    view! {
        <details class="snippets" id="dsn-snippets">
            <summary>"Send from an SDK"</summary>
            {snippets(&dsn).into_iter().map(|(sdk, code)| view! {
                <h3>{sdk}</h3>
                <pre class="snippet"><code>{code}</code></pre>
            }).collect_view()}
        </details>
    }
}

#[component]
fn NewProjectForm(changed: Callback<Result<(), ApiError>>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let limit = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let events_per_minute = limit.get_untracked().trim().parse::<u64>().ok();
        let body = NewProject {
            name: name.get_untracked(),
            events_per_minute,
        };
        spawn_local(async move {
            let r = api::create_project(&body).await.map(drop);
            if r.is_ok() {
                name.set(String::new());
                limit.set(String::new());
            }
            changed.run(r);
        });
    };
    view! {
        <form class="inline-form" id="new-project" on:submit=submit>
            <label>
                "New project"
                <input name="name" required placeholder="name" prop:value=name
                    on:input=move |ev| name.set(event_target_value(&ev)) />
            </label>
            <label>
                "Events per minute (optional)"
                <input name="events_per_minute" inputmode="numeric" prop:value=limit
                    on:input=move |ev| limit.set(event_target_value(&ev)) />
            </label>
            <button type="submit">"Create"</button>
        </form>
    }
}
