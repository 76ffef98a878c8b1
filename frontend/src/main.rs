//! The Panoptes dashboard: a Leptos client-side app compiled to wasm32 and embedded in the
//! server binary. It talks only to the JSON API (`panoptes_types` describes every payload).

use std::time::Duration;

use gloo_net::http::{Request, Response};
use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{
    API_PREFIX, CSRF_HEADER, ErrorBody, IssueSummary, IssueUpdate, LoginRequest, MonitorDetail,
    MonitorSummary, Page, Principal, ProjectInfo, ServerStatus,
};
use serde_json::Value;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[derive(Clone, PartialEq)]
enum Screen {
    Loading,
    Login,
    Home(Principal),
}

/// The API's error message, or a generic one when the body is not ours.
async fn error_message(resp: Response) -> String {
    let status = resp.status();
    match resp.json::<ErrorBody>().await {
        Ok(body) => body.error.message,
        Err(_) => format!("request failed with HTTP {status}"),
    }
}

async fn fetch_me() -> Result<Principal, String> {
    let resp = Request::get(&format!("{API_PREFIX}/me"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.ok() {
        return Err(error_message(resp).await);
    }
    resp.json().await.map_err(|e| e.to_string())
}

async fn fetch_status() -> Result<ServerStatus, String> {
    let resp = Request::get(&format!("{API_PREFIX}/status"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.ok() {
        return Err(error_message(resp).await);
    }
    resp.json().await.map_err(|e| e.to_string())
}

async fn get_json<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, String> {
    let resp = Request::get(&format!("{API_PREFIX}{path}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.ok() {
        return Err(error_message(resp).await);
    }
    resp.json().await.map_err(|e| e.to_string())
}

async fn login(username: String, password: String) -> Result<Principal, String> {
    let req = Request::post(&format!("{API_PREFIX}/session"))
        .json(&LoginRequest { username, password })
        .map_err(|e| e.to_string())?;
    let resp = req.send().await.map_err(|e| e.to_string())?;
    if !resp.ok() {
        return Err(error_message(resp).await);
    }
    resp.json().await.map_err(|e| e.to_string())
}

async fn logout() {
    let _ = Request::delete(&format!("{API_PREFIX}/session"))
        .header(CSRF_HEADER, "1")
        .send()
        .await;
}

#[component]
fn App() -> impl IntoView {
    let screen = RwSignal::new(Screen::Loading);
    spawn_local(async move {
        match fetch_me().await {
            Ok(p) => screen.set(Screen::Home(p)),
            Err(_) => screen.set(Screen::Login),
        }
    });
    view! {
        <header class="top">
            <span class="brand">"Panoptes"</span>
        </header>
        <main>
            {move || match screen.get() {
                Screen::Loading => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Screen::Login => {
                    view! { <LoginForm on_login=Callback::new(move |p| screen.set(Screen::Home(p))) /> }
                        .into_any()
                }
                Screen::Home(p) => {
                    view! { <Home principal=p on_logout=Callback::new(move |_| screen.set(Screen::Login)) /> }
                        .into_any()
                }
            }}
        </main>
    }
}

#[component]
fn LoginForm(on_login: Callback<Principal>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let (u, p) = (username.get_untracked(), password.get_untracked());
        spawn_local(async move {
            match login(u, p).await {
                Ok(principal) => on_login.run(principal),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="card login" id="login-form" on:submit=submit>
            <h1>"Sign in"</h1>
            <label>
                "User name"
                <input id="username" type="text" autocomplete="username" required
                    prop:value=username on:input=move |ev| username.set(event_target_value(&ev)) />
            </label>
            <label>
                "Password"
                <input id="password" type="password" autocomplete="current-password" required
                    prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
            </label>
            <button id="login" type="submit" disabled=move || busy.get()>"Sign in"</button>
            {move || error.get().map(|e| view! { <p id="login-error" class="error" role="alert">{e}</p> })}
        </form>
    }
}

fn format_uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[component]
fn Home(principal: Principal, on_logout: Callback<()>) -> impl IntoView {
    let status = RwSignal::new(None::<Result<ServerStatus, String>>);
    let refresh = move || {
        spawn_local(async move {
            let s = fetch_status().await;
            status.set(Some(s));
        })
    };
    refresh();
    // Keep the page live; errors show in place rather than logging the user out.
    if let Ok(handle) = set_interval_with_handle(refresh, Duration::from_secs(5)) {
        on_cleanup(move || handle.clear());
    }
    let sign_out = move |_| {
        spawn_local(async move {
            logout().await;
            on_logout.run(());
        })
    };
    view! {
        <section class="card">
            <div class="row">
                <h1>"Server"</h1>
                <span class="muted">"Signed in as " <b id="principal">{principal.name.clone()}</b></span>
                <button id="logout" on:click=sign_out>"Sign out"</button>
            </div>
            {move || match status.get() {
                None => view! { <p class="muted">"Loading status…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" id="status-error">{e}</p> }.into_any(),
                Some(Ok(s)) => {
                    let healthy = s.store.status == "ok";
                    view! {
                        <dl class="facts">
                            <dt>"Version"</dt><dd id="version">{s.version}</dd>
                            <dt>"Uptime"</dt><dd id="uptime">{format_uptime(s.uptime_seconds)}</dd>
                            <dt>"Started"</dt><dd id="started-at">{s.started_at}</dd>
                            <dt>"Instance"</dt><dd id="instance-id"><code>{s.instance_id}</code></dd>
                            <dt>"Store"</dt>
                            <dd id="store-status" class=if healthy { "ok" } else { "bad" }>{s.store.status}</dd>
                            <dt>"Data file"</dt><dd id="store-path"><code>{s.store.path}</code></dd>
                            <dt>"Schema version"</dt><dd id="schema-version">{s.store.schema_version}</dd>
                            <dt>"Commits"</dt><dd id="commits">{s.store.commits}</dd>
                            <dt>"Queue depth"</dt><dd id="queue-depth">{s.store.queue_depth}</dd>
                            {s.store.last_error.map(|e| view! { <dt>"Last error"</dt><dd class="error">{e}</dd> })}
                        </dl>
                    }
                        .into_any()
                }
            }}
        </section>
        <Monitors />
        <Issues />
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|u| format!("{:.2}%", u * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn state_class(state: &str) -> &'static str {
    match state {
        "UP" => "badge ok",
        "DEGRADED" | "PENDING" => "badge warn",
        "DOWN" => "badge bad",
        _ => "badge muted",
    }
}

/// Every monitor with its state; the failing ones first, so the person paged at night sees
/// them without scrolling. Selecting one shows each condition with the value seen.
#[component]
fn Monitors() -> impl IntoView {
    let monitors = RwSignal::new(None::<Result<Vec<MonitorSummary>, String>>);
    let selected = RwSignal::new(None::<u32>);
    let detail = RwSignal::new(None::<Result<MonitorDetail, String>>);
    let refresh = move || {
        spawn_local(async move {
            let page = get_json::<Page<MonitorSummary>>("/monitors?limit=1000").await;
            monitors.set(Some(page.map(|mut p| {
                let rank = |s: &str| match s {
                    "DOWN" => 0,
                    "PENDING" => 1,
                    "DEGRADED" => 2,
                    "MAINTENANCE" => 3,
                    "UNKNOWN" => 4,
                    _ => 5,
                };
                p.items.sort_by(|a, b| {
                    rank(&a.state)
                        .cmp(&rank(&b.state))
                        .then(a.name.cmp(&b.name))
                });
                p.items
            })));
            if let Some(id) = selected.get_untracked() {
                detail.set(Some(
                    get_json::<MonitorDetail>(&format!("/monitors/{id}")).await,
                ));
            }
        })
    };
    refresh();
    if let Ok(handle) = set_interval_with_handle(refresh, Duration::from_secs(5)) {
        on_cleanup(move || handle.clear());
    }
    let select = move |id: u32| {
        selected.set(Some(id));
        detail.set(None);
        spawn_local(async move {
            detail.set(Some(
                get_json::<MonitorDetail>(&format!("/monitors/{id}")).await,
            ));
        });
    };
    view! {
        <section class="card" id="monitors">
            <h1>"Monitors"</h1>
            {move || match monitors.get() {
                None => view! { <p class="muted">"Loading monitors…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                Some(Ok(items)) if items.is_empty() => {
                    view! { <p class="muted">"No monitors configured."</p> }.into_any()
                }
                Some(Ok(items)) => view! {
                    <table class="monitors">
                        <thead><tr>
                            <th>"State"</th><th>"Name"</th><th>"Target"</th><th>"Latency"</th>
                            <th>"24 h"</th><th>"30 d"</th><th>"Last error"</th>
                        </tr></thead>
                        <tbody>
                            {items.into_iter().map(|m| {
                                let id = m.id;
                                view! {
                                    <tr class="monitor-row" data-name=m.name.clone() on:click=move |_| select(id)>
                                        <td><span class=state_class(&m.state)>{m.state.clone()}</span></td>
                                        <td>{m.name.clone()}<span class="muted">{m.group.clone().map(|g| format!("  {g}")).unwrap_or_default()}</span></td>
                                        <td class="target"><code>{m.target.clone()}</code></td>
                                        <td>{m.last_latency_ms.map(|l| format!("{l} ms")).unwrap_or_else(|| "–".into())}</td>
                                        <td>{pct(m.uptime.h24)}</td>
                                        <td>{pct(m.uptime.d30)}</td>
                                        <td class="error">{m.last_error.clone().unwrap_or_default()}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
            {move || detail.get().map(|d| match d {
                Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                Ok(d) => view! {
                    <div class="detail" id="monitor-detail">
                        <h2>{d.summary.name.clone()} " " <span class=state_class(&d.summary.state)>{d.summary.state.clone()}</span></h2>
                        <p class="muted">
                            {format!("{} every {}, timeout {}, retries {}", d.summary.kind, d.interval, d.timeout, d.retries)}
                            {d.maintenance.clone().map(|m| format!(" — in maintenance window \"{m}\""))}
                            {d.summary.certificate_days_left.map(|c| format!(" — certificate expires in {c:.1} days"))}
                        </p>
                        <ul class="conditions">
                            {d.conditions.into_iter().map(|c| {
                                let class = match c.ok { Some(true) => "cond ok", Some(false) => "cond bad", None => "cond muted" };
                                let mark = match c.ok { Some(true) => "✓", Some(false) => "✗", None => "·" };
                                view! { <li class=class>{mark} " " <code>{c.seen.unwrap_or(c.condition)}</code></li> }
                            }).collect_view()}
                        </ul>
                    </div>
                }.into_any(),
            })}
        </section>
    }
}

fn level_class(level: &str) -> &'static str {
    match level {
        "fatal" | "error" => "badge bad",
        "warning" => "badge warn",
        _ => "badge muted",
    }
}

/// One project's unresolved issues, most recent first.
#[derive(Clone, PartialEq)]
struct ProjectIssues {
    project: ProjectInfo,
    issues: Vec<IssueSummary>,
}

async fn fetch_issues() -> Result<Vec<ProjectIssues>, String> {
    let projects = get_json::<Vec<ProjectInfo>>("/projects").await?;
    let mut out = Vec::with_capacity(projects.len());
    for p in projects {
        let page =
            get_json::<Page<IssueSummary>>(&format!("/projects/{}/issues?limit=50", p.id)).await?;
        out.push(ProjectIssues {
            project: p,
            issues: page.items,
        });
    }
    Ok(out)
}

async fn set_status(id: u64, status: &str) -> Result<(), String> {
    let req = Request::patch(&format!("{API_PREFIX}/issues/{id}"))
        .header(CSRF_HEADER, "1")
        .json(&IssueUpdate {
            status: status.to_string(),
        })
        .map_err(|e| e.to_string())?;
    let resp = req.send().await.map_err(|e| e.to_string())?;
    if resp.ok() {
        Ok(())
    } else {
        Err(error_message(resp).await)
    }
}

/// The main exception of an event and its innermost frames, as text lines.
fn exception_lines(event: &Value) -> Vec<String> {
    let Some(exc) = event
        .pointer("/event/exception/values")
        .and_then(Value::as_array)
        .and_then(|v| v.last())
    else {
        return Vec::new();
    };
    let mut lines = vec![format!(
        "{}: {}",
        exc["type"].as_str().unwrap_or("Error"),
        exc["value"].as_str().unwrap_or("")
    )];
    let frames = exc
        .pointer("/stacktrace/frames")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for f in frames.iter().rev().take(8) {
        let place = f["filename"]
            .as_str()
            .or(f["module"].as_str())
            .unwrap_or("?");
        let line = f["lineno"]
            .as_u64()
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        let code = f["context_line"].as_str().map(str::trim).unwrap_or("");
        let app = if f["in_app"].as_bool() == Some(true) {
            ""
        } else {
            "  (library)"
        };
        lines.push(format!(
            "  at {} ({place}{line}){app}  {code}",
            f["function"].as_str().unwrap_or("?")
        ));
    }
    lines
}

/// Sentry-compatible projects: their DSN and unresolved issues; selecting one shows its
/// latest event's exception and frames, with a button to resolve it.
#[component]
fn Issues() -> impl IntoView {
    let data = RwSignal::new(None::<Result<Vec<ProjectIssues>, String>>);
    let selected = RwSignal::new(None::<u64>);
    let detail = RwSignal::new(None::<Result<Value, String>>);
    let refresh = move || {
        spawn_local(async move {
            data.set(Some(fetch_issues().await));
        })
    };
    refresh();
    if let Ok(handle) = set_interval_with_handle(refresh, Duration::from_secs(5)) {
        on_cleanup(move || handle.clear());
    }
    let select = move |id: u64| {
        selected.set(Some(id));
        detail.set(None);
        spawn_local(async move {
            detail.set(Some(get_json::<Value>(&format!("/issues/{id}")).await));
        });
    };
    let resolve = move |id: u64| {
        spawn_local(async move {
            if let Err(e) = set_status(id, "resolved").await {
                detail.set(Some(Err(e)));
                return;
            }
            selected.set(None);
            detail.set(None);
            data.set(Some(fetch_issues().await));
        });
    };
    view! {
        <section class="card" id="issues">
            <h1>"Issues"</h1>
            {move || match data.get() {
                None => view! { <p class="muted">"Loading issues…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                Some(Ok(projects)) if projects.is_empty() => view! {
                    <p class="muted">"No projects configured (see `projects:` in the config)."</p>
                }.into_any(),
                Some(Ok(projects)) => projects.into_iter().map(|p| view! {
                    <div class="project" data-project=p.project.id>
                        <h2>{p.project.name.clone()} " "
                            <span class="muted">{format!("{} unresolved", p.project.unresolved)}</span></h2>
                        <p class="muted">"DSN " <code class="dsn">{p.project.dsn.first().cloned().unwrap_or_default()}</code></p>
                        {if p.issues.is_empty() {
                            view! { <p class="muted">"No unresolved issues."</p> }.into_any()
                        } else {
                            view! {
                                <table class="monitors issues">
                                    <thead><tr>
                                        <th>"Level"</th><th>"Issue"</th><th>"Events"</th><th>"Users"</th><th>"Last seen"</th>
                                    </tr></thead>
                                    <tbody>
                                        {p.issues.into_iter().map(|i| {
                                            let id = i.id;
                                            view! {
                                                <tr class="issue-row" data-id=i.id on:click=move |_| select(id)>
                                                    <td><span class=level_class(&i.level)>{i.level.clone()}</span></td>
                                                    <td>
                                                        <span class="issue-title">{i.title.clone()}</span>
                                                        {i.regressed.then(|| view! { " " <span class="badge warn">"regressed"</span> })}
                                                        <br/><span class="muted">{i.culprit.clone()}</span>
                                                    </td>
                                                    <td class="issue-count">{i.count}</td>
                                                    <td>{i.users}</td>
                                                    <td class="muted">{i.last_seen.clone()}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    </div>
                }).collect_view().into_any(),
            }}
            {move || detail.get().map(|d| match d {
                Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                Ok(v) => {
                    let id = v["id"].as_u64().unwrap_or(0);
                    let lines = exception_lines(&v["latest_event"]);
                    let message = v.pointer("/latest_event/event/message")
                        .and_then(Value::as_str)
                        .or(v.pointer("/latest_event/event/logentry/formatted").and_then(Value::as_str))
                        .map(str::to_string);
                    view! {
                        <div class="detail" id="issue-detail">
                            <h2>{v["title"].as_str().unwrap_or("").to_string()}</h2>
                            <p class="muted">{format!(
                                "{} events ({} stored), {} users, first seen {}, releases: {}",
                                v["count"], v["stored_events"], v["users"],
                                v["first_seen"].as_str().unwrap_or(""),
                                v["releases"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()
                            )}</p>
                            <pre class="stack">{lines.join("\n")}</pre>
                            {message.map(|m| view! { <p><code>{m}</code></p> })}
                            <button id="resolve-issue" on:click=move |_| resolve(id)>"Resolve"</button>
                        </div>
                    }.into_any()
                }
            })}
        </section>
    }
}
