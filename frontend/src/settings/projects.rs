//! Projects and their DSNs: what an SDK's `dsn` option needs, ready to copy.

use leptos::prelude::*;

use super::QUIET;
use crate::api;
use crate::components::{Empty, Table, loaded};
use crate::poll::use_poll_on;

#[component]
pub fn Projects() -> impl IntoView {
    let projects = use_poll_on(QUIET.0, QUIET.1, api::projects);
    view! {
        <section class="card" id="settings-projects">
            <h2>"Projects"</h2>
            {move || loaded(projects.get(), "projects", |list| {
                if list.is_empty() {
                    return view! { <Empty>"No projects: add one under `projects:` in the config."</Empty> }
                        .into_any();
                }
                view! {
                    <Table headers=&["Id", "Name", "DSN", "Issues", "Unresolved"] class="projects">
                        {list.into_iter().map(|p| view! {
                            <tr class="project-row" data-id=p.id.to_string()>
                                <td>{p.id}</td>
                                <td>{p.name}</td>
                                <td>{p.dsn.into_iter().map(|d| view! { <code class="dsn">{d}</code><br /> }).collect_view()}</td>
                                <td>{p.issues}</td>
                                <td>{p.unresolved}</td>
                            </tr>
                        }).collect_view()}
                    </Table>
                }
                .into_any()
            })}
        </section>
    }
}
