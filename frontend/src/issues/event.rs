//! One Sentry event in full: exception chain with frames (source context, locals), message,
//! breadcrumbs, tags, user, request, contexts, attachments.

use std::collections::BTreeMap;

use leptos::prelude::*;
use panoptes_types::{
    API_PREFIX, AnyValue, Breadcrumb, EventDetail, ExceptionValue, Frame, Level, SentryEvent,
    Stacktrace, Timestamp,
};

use crate::components::{LevelBadge, RelativeTime, Table};

#[component]
pub fn EventView(
    e: EventDetail,
    /// "Latest event", or "Event" for an earlier one.
    heading: &'static str,
) -> impl IntoView {
    let EventDetail {
        event_id,
        project,
        received,
        attachments,
        event,
        ..
    } = e;
    let ev = event;
    let facts = event_facts(&ev);
    let message = ev.message_text().map(str::to_string);
    let loose = ev
        .exception
        .is_empty()
        .then(|| ev.loose_stacktrace().cloned())
        .flatten();
    let SentryEvent {
        exception,
        breadcrumbs,
        tags,
        user,
        request,
        contexts,
        extra,
        ..
    } = ev;
    view! {
        <div class="event" id="latest-event" data-event-id=event_id.clone()>
            <h2>{heading}</h2>
            <p class="muted">
                <code>{event_id.clone()}</code> " received " <RelativeTime at=received />
            </p>
            {message.map(|m| view! { <pre class="message">{m}</pre> })}
            // Raised last first, as Sentry shows a chain.
            {exception.into_iter().rev().map(|x| view! { <Exception x=x /> }).collect_view()}
            {loose.map(|st| view! { <Frames st=st /> })}
            <KeyValues title="Event" rows=facts />
            {(!tags.is_empty()).then(|| view! {
                <h3>"Tags"</h3>
                <ul class="tags">
                    {tags.0.into_iter().map(|(k, v)| view! {
                        <li><span class="k">{k}</span><span class="v">{v}</span></li>
                    }).collect_view()}
                </ul>
            })}
            {(!breadcrumbs.is_empty()).then(|| view! { <Breadcrumbs items=breadcrumbs /> })}
            {user.map(|u| {
                let mut rows = vec![];
                push(&mut rows, "id", u.id);
                push(&mut rows, "e-mail", u.email);
                push(&mut rows, "user name", u.username);
                push(&mut rows, "name", u.name);
                push(&mut rows, "IP address", u.ip_address);
                rows.extend(any_rows(u.data));
                view! { <KeyValues title="User" rows=rows /> }
            })}
            {request.map(|r| {
                let mut rows = vec![];
                push(&mut rows, "method", r.method);
                push(&mut rows, "URL", r.url);
                push(&mut rows, "query", text_of(&r.query_string));
                push(&mut rows, "body", text_of(&r.data));
                rows.extend(r.headers.0);
                view! { <KeyValues title="Request" rows=rows /> }
            })}
            {contexts.into_iter().map(|(name, ctx)| view! {
                <KeyValues title=name rows=any_rows(ctx) />
            }).collect_view()}
            {(!extra.is_empty()).then(|| view! { <KeyValues title="Extra" rows=any_rows(extra) /> })}
            {(!attachments.is_empty()).then(|| view! {
                <h3>"Attachments"</h3>
                <ul>
                    {attachments.into_iter().map(|a| {
                        let href = format!("{API_PREFIX}/projects/{project}/events/{event_id}/attachments/{}", a.index);
                        view! { <li><a href=href download=a.filename.clone()>{a.filename.clone()}</a>
                            <span class="muted">{format!(" {} bytes", a.size)}</span></li> }
                    }).collect_view()}
                </ul>
            })}
        </div>
    }
}

fn push(rows: &mut Vec<(String, String)>, key: &str, value: Option<String>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        rows.push((key.to_string(), v));
    }
}

fn text_of(v: &AnyValue) -> Option<String> {
    (!v.is_null()).then(|| v.to_string())
}

fn any_rows(map: BTreeMap<String, AnyValue>) -> Vec<(String, String)> {
    map.into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

fn event_facts(ev: &SentryEvent) -> Vec<(String, String)> {
    let mut rows = vec![];
    push(&mut rows, "level", ev.level.as_ref().map(|l| l.to_string()));
    push(&mut rows, "platform", ev.platform.clone());
    push(&mut rows, "release", ev.release.clone());
    push(&mut rows, "environment", ev.environment.clone());
    push(&mut rows, "server", ev.server_name.clone());
    push(&mut rows, "transaction", ev.transaction.clone());
    push(&mut rows, "logger", ev.logger.clone());
    push(&mut rows, "time", ev.timestamp.as_ref().and_then(iso_time));
    let sdk = ev.sdk.as_ref().and_then(|s| {
        Some(format!(
            "{} {}",
            s.name.as_deref()?,
            s.version.as_deref().unwrap_or("")
        ))
    });
    push(&mut rows, "SDK", sdk);
    rows
}

/// RFC 3339 for a Sentry timestamp (seconds since the epoch, or already text).
fn iso_time(t: &Timestamp) -> Option<String> {
    match t {
        Timestamp::Text(s) => Some(s.clone()),
        Timestamp::Seconds(s) => {
            let ms = s * 1000.0;
            // Outside this range `toISOString` throws.
            (ms.is_finite() && ms.abs() <= 8.64e15).then(|| {
                String::from(
                    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms)).to_iso_string(),
                )
            })
        }
    }
}

#[component]
fn KeyValues(#[prop(into)] title: String, rows: Vec<(String, String)>) -> impl IntoView {
    (!rows.is_empty()).then(|| view! {
        <h3>{title}</h3>
        <dl class="facts kv">
            {rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd><code>{v}</code></dd> }).collect_view()}
        </dl>
    })
}

#[component]
fn Exception(x: ExceptionValue) -> impl IntoView {
    let ty = x.ty.unwrap_or_else(|| "Error".into());
    let head = match x.value {
        Some(v) if !v.is_empty() => format!("{ty}: {v}"),
        _ => ty,
    };
    let unhandled = x.mechanism.as_ref().and_then(|m| m.handled) == Some(false);
    view! {
        <div class="exception">
            <h3>
                <span class="exception-head">{head}</span>
                {unhandled.then(|| view! { " " <span class="badge bad">"unhandled"</span> })}
            </h3>
            {x.stacktrace.map(|st| view! { <Frames st=st /> })}
        </div>
    }
}

/// Innermost call first. Application frames open with their source; library frames folded.
#[component]
fn Frames(st: Stacktrace) -> impl IntoView {
    let any_in_app = st.frames.iter().any(|f| f.in_app == Some(true));
    view! {
        <ol class="frames">
            {st.frames.into_iter().rev().enumerate().map(|(i, f)| {
                let open = f.in_app == Some(true) || (!any_in_app && i == 0);
                view! { <FrameView f=f open=open /> }
            }).collect_view()}
        </ol>
    }
}

#[component]
fn FrameView(f: Frame, open: bool) -> impl IntoView {
    let place = format!(
        "{}{}",
        f.location().unwrap_or("?"),
        f.lineno.map(|l| format!(":{l}")).unwrap_or_default()
    );
    let function = f.function.clone().unwrap_or_else(|| "?".into());
    let library = f.in_app != Some(true);
    let start = f
        .lineno
        .map(|l| l.saturating_sub(f.pre_context.len() as u64));
    let mut lines: Vec<(Option<u64>, String, bool)> = Vec::new();
    let mut n = start;
    for (text, current) in f
        .pre_context
        .iter()
        .map(|t| (t, false))
        .chain(f.context_line.iter().map(|t| (t, true)))
        .chain(f.post_context.iter().map(|t| (t, false)))
    {
        lines.push((n, text.clone(), current));
        n = n.map(|x| x + 1);
    }
    view! {
        <li class=if library { "frame library" } else { "frame app" }>
            <details open=open>
                <summary>
                    <code class="function">{function}</code> " " <span class="muted">{place}</span>
                    {library.then(|| view! { " " <span class="badge muted">"library"</span> })}
                </summary>
                {(!lines.is_empty()).then(|| view! {
                    <pre class="source">
                        {lines.into_iter().map(|(n, text, current)| view! {
                            <span class=if current { "line current" } else { "line" }>
                                <span class="lineno">{n.map(|n| format!("{n:>5} ")).unwrap_or_default()}</span>
                                {text} "\n"
                            </span>
                        }).collect_view()}
                    </pre>
                })}
                {(!f.vars.is_empty()).then(|| view! {
                    <dl class="facts vars">
                        {f.vars.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd><code>{v.to_string()}</code></dd> }).collect_view()}
                    </dl>
                })}
            </details>
        </li>
    }
}

#[component]
fn Breadcrumbs(items: Vec<Breadcrumb>) -> impl IntoView {
    view! {
        <h3>"Breadcrumbs"</h3>
        <Table headers=&["Time", "Category", "Level", "Message"] class="breadcrumbs">
            // Newest first, next to the event.
            {items.into_iter().rev().map(|b| {
                let message = b.message.clone().unwrap_or_else(|| {
                    b.data.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
                });
                view! {
                    <tr>
                        <td>{b.timestamp.as_ref().and_then(iso_time).map(|at| view! { <RelativeTime at=at /> })}</td>
                        <td>{b.category.or(b.ty).unwrap_or_default()}</td>
                        <td><LevelBadge level=b.level.unwrap_or(Level::Info) /></td>
                        <td><code>{message}</code></td>
                    </tr>
                }
            }).collect_view()}
        </Table>
    }
}
