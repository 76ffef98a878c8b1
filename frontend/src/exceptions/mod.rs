//! `/exceptions`: Periskop services (scraped or pushing) with their open errors;
//! `/exceptions/:service` (see `service`) for the aggregation keys of one.

mod service;

pub use service::ServicePage;

use leptos::prelude::*;
use leptos_router::components::A;
use panoptes_types::ExceptionService;

use crate::api;
use crate::components::{Empty, RelativeTime, Table, loaded, row_link};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

/// The client-side address of a service's page.
pub fn service_href(name: &str) -> String {
    format!("/exceptions/{}", api::segment(name))
}

#[component]
pub fn ServiceList() -> impl IntoView {
    let services = use_poll_on(Topics::EXCEPTIONS, EVERY, api::exception_services);
    view! {
        <section class="card" id="exceptions">
            <h1>"Exceptions"</h1>
            {move || loaded(services.get(), "services", |items| {
                if items.is_empty() {
                    view! { <Empty>"No Periskop services (see " <code>"periskop:"</code> " in the config, or push to "
                        <code>"/push/periskop/{service}/errors"</code> ")."</Empty> }
                        .into_any()
                } else {
                    view! {
                        <Table headers=&["Service", "Targets", "Open", "Resolved", "Occurrences", "Last seen"] class="services">
                            {items.into_iter().map(|s| view! { <ServiceRow s=s /> }).collect_view()}
                        </Table>
                    }
                        .into_any()
                }
            })}
        </section>
    }
}

#[component]
fn ServiceRow(s: ExceptionService) -> impl IntoView {
    let href = service_href(&s.name);
    let targets = if s.scraped {
        format!("{} / {} up", s.targets_up, s.targets_total)
    } else {
        "push only".to_string()
    };
    let targets_class = if s.scraped && s.targets_up < s.targets_total {
        "bad"
    } else {
        ""
    };
    let on_click = row_link(href.clone());
    let name = s.name.clone();
    view! {
        <tr class="service-row link-row" data-name=s.name on:click=on_click>
            <td>
                <A href=href>{name}</A>
                {(s.dropped_keys > 0).then(|| view! {
                    " " <span class="badge warn" title="new keys dropped: periskop.max_keys_per_service reached">
                        {format!("{} dropped", s.dropped_keys)}
                    </span>
                })}
            </td>
            <td class=targets_class>{targets}</td>
            <td class="num">{s.open_errors}</td>
            <td class="num">{s.resolved_errors}</td>
            <td class="num">{s.total_count}</td>
            <td>{s.last_seen.map(|at| view! { <RelativeTime at=at /> })}</td>
        </tr>
    }
}
