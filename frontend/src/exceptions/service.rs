//! `/exceptions/:service`: a service's aggregation keys, open ones first; selecting one shows
//! its newest occurrence (stack trace, HTTP request) and its rate.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use panoptes_types::{
    ExceptionDetail, ExceptionOccurrence, ExceptionStatus, ExceptionSummary, PeriskopError,
};

use crate::api::{self, ApiError};
use crate::components::{
    Empty, ErrorNote, LevelBadge, LineChart, RelativeTime, Series, Table, loaded,
};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    // The router decodes all but reserved characters; decode those too.
    let service = Memo::new(move |_| {
        params.with(|p| p.get("service")).map(|s| {
            js_sys::decode_uri_component(&s)
                .map(String::from)
                .unwrap_or(s)
        })
    });
    let keys = use_poll_on(Topics::EXCEPTIONS, EVERY, move || {
        let service = service.get();
        async move {
            let service = service.ok_or_else(|| ApiError::not_found("no such service"))?;
            let mut keys = api::exception_keys(&service).await?;
            // Open first, then the most recent.
            keys.sort_by(|a, b| {
                (a.status != ExceptionStatus::Open)
                    .cmp(&(b.status != ExceptionStatus::Open))
                    .then_with(|| b.last_seen.cmp(&a.last_seen))
            });
            Ok(keys)
        }
    });
    let selected = RwSignal::new(None::<String>);
    view! {
        <p class="crumbs"><A href="/exceptions">"← Exceptions"</A></p>
        <section class="card" id="service-detail">
            <h1>{move || service.get().unwrap_or_default()}</h1>
            {move || loaded(keys.get(), "errors", move |keys| {
                if keys.is_empty() {
                    view! { <Empty>"No errors reported by this service."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["Severity", "Error", "Count", "Last seen", "Status"] class="keys">
                            {keys.into_iter().map(|k| view! { <KeyRow k=k selected=selected /> }).collect_view()}
                        </Table>
                    }
                        .into_any()
                }
            })}
            {move || match (service.get(), selected.get()) {
                (Some(service), Some(key)) => Some(view! {
                    <KeyDetail service=service key_name=key on_resolved=Callback::new(move |()| keys.refetch()) />
                }),
                _ => None,
            }}
        </section>
    }
}

#[component]
fn KeyRow(k: ExceptionSummary, selected: RwSignal<Option<String>>) -> impl IntoView {
    let key = k.aggregation_key.clone();
    let is_selected = {
        let key = key.clone();
        move || selected.with(|s| s.as_deref() == Some(key.as_str()))
    };
    let status = if k.regression {
        view! { <span class="badge warn">"regressed"</span> }.into_any()
    } else {
        view! { <span class="badge muted">{status_text(k.status)}</span> }.into_any()
    };
    view! {
        <tr class="key-row link-row" class:selected=is_selected data-key=key.clone()
            on:click=move |_| selected.set(Some(key.clone()))>
            <td><LevelBadge level=k.severity.clone() /></td>
            <td>
                <code class="key">{k.aggregation_key.clone()}</code><br />
                <span class="muted">{format!("{}: {}", k.class, k.message)}</span>
            </td>
            <td class="num">{k.total_count}</td>
            <td><RelativeTime at=k.last_seen /></td>
            <td>{status}</td>
        </tr>
    }
}

#[component]
fn KeyDetail(service: String, key_name: String, on_resolved: Callback<()>) -> impl IntoView {
    let detail = {
        let (service, key) = (service.clone(), key_name.clone());
        use_poll_on(Topics::EXCEPTIONS, EVERY, move || {
            let (service, key) = (service.clone(), key.clone());
            async move { api::exception_key(&service, &key).await }
        })
    };
    let error = RwSignal::new(None::<ApiError>);
    let resolve = move |_| {
        let (service, key) = (service.clone(), key_name.clone());
        spawn_local(async move {
            match api::resolve_exception(&service, &key).await {
                Ok(_) => {
                    error.try_set(None);
                    detail.refetch();
                    on_resolved.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <div class="detail" id="key-detail">
            {move || loaded(detail.get(), "error", |d| {
                let open = d.summary.status == ExceptionStatus::Open;
                view! {
                    {open.then(|| view! {
                        <div class="actions"><button id="resolve-key" on:click=resolve.clone()>"Resolve"</button></div>
                    })}
                    <Key d=d />
                }
            })}
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
        </div>
    }
}

#[component]
fn Key(d: ExceptionDetail) -> impl IntoView {
    view! {
        <h2><code>{d.summary.aggregation_key}</code></h2>
        <p class="muted">
            {format!("{} occurrences, first seen ", d.summary.total_count)}
            <RelativeTime at=d.summary.first_seen />
        </p>
        {(!d.rate.is_empty()).then(|| {
            let points = d
                .rate
                .iter()
                .map(|p| (js_sys::Date::parse(&p.minute), Some(p.count as f64)))
                .filter(|(t, _)| t.is_finite())
                .collect();
            let series = vec![Series { name: "per minute", class: "rate", points }];
            view! {
                <div id="key-rate">
                    <LineChart series=series label="Occurrences per minute" format=|v| format!("{v:.0}") />
                </div>
            }
        })}
        {match d.occurrences.into_iter().next() {
            Some(o) => view! { <Occurrence o=o /> }.into_any(),
            None => view! { <Empty>"No occurrence kept."</Empty> }.into_any(),
        }}
    }
}

/// The error and its causes, each with its stack trace, as the client exported them.
fn error_lines(e: &PeriskopError, out: &mut Vec<String>) {
    out.push(format!("{}: {}", e.class, e.message));
    out.extend(e.stacktrace.iter().map(|l| format!("    {l}")));
    if let Some(cause) = &e.cause {
        out.push("caused by".into());
        error_lines(cause, out);
    }
}

#[component]
fn Occurrence(o: ExceptionOccurrence) -> impl IntoView {
    let mut lines = Vec::new();
    error_lines(&o.error, &mut lines);
    view! {
        <h3>"Newest occurrence"</h3>
        <p class="muted">
            <RelativeTime at=o.timestamp /> " on " <code>{o.instance}</code>
        </p>
        <pre class="stack">{lines.join("\n")}</pre>
        {o.http_context.map(|h| view! {
            <dl class="facts kv">
                <dt>"request"</dt><dd><code>{format!("{} {}", h.request_method, h.request_url)}</code></dd>
                {h.request_headers.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd><code>{v}</code></dd> }).collect_view()}
                {(!h.request_body.is_empty()).then(|| view! { <dt>"body"</dt><dd><code>{h.request_body}</code></dd> })}
            </dl>
        })}
    }
}

fn status_text(s: ExceptionStatus) -> &'static str {
    match s {
        ExceptionStatus::Open => "open",
        ExceptionStatus::Resolved => "resolved",
    }
}
