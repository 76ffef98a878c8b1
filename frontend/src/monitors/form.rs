//! `/monitors/new` and `/monitors/:id/edit`: a monitor's fields, with the config file's names.
//! The common fields and each type's target have inputs; every other field the config has
//! (headers, body, basic auth, labels, locations, ...) goes in "More fields" as JSON, so nothing
//! the config can say is out of reach. The server decodes the body with the config's own
//! decoder and names each wrong field; the message is shown under that field's input.
//!
//! Editing sends a JSON merge patch: changed fields, and `null` for any field removed.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use panoptes_types::{FieldError, MonitorSource};
use serde_json::{Map, Value};

use crate::api::{self, ApiError};

const TYPES: &[&str] = &["http", "tcp", "dns", "tls", "icmp", "push"];

/// The inputs of the form, by config field name; which ones a type shows is [`shown`].
const INPUTS: &[(&str, &str, &str)] = &[
    (
        "name",
        "Name",
        "unique; also the monitor's id in alerts and metrics",
    ),
    ("group", "Group", "optional"),
    ("url", "URL", "http:// or https://"),
    ("method", "Method", "GET by default"),
    ("host", "Host", "name or address"),
    ("port", "Port", ""),
    ("query", "Query", "the name to resolve"),
    (
        "record",
        "Record",
        "A, AAAA, CNAME, MX, NS, TXT, SOA, SRV, PTR, CAA",
    ),
    (
        "nameserver",
        "Nameserver",
        "ip[:port]; default: the system's",
    ),
    ("token", "Push token", "at least 8 of [A-Za-z0-9_-]"),
    ("interval", "Interval", "e.g. 30s, 1m"),
    (
        "timeout",
        "Timeout",
        "default 10s, or the interval if shorter",
    ),
    ("retries", "Retries", "failed attempts before DOWN"),
];

fn shown(kind: &str, field: &str) -> bool {
    match field {
        "url" | "method" => kind == "http",
        "host" => matches!(kind, "tcp" | "tls" | "icmp"),
        "port" => matches!(kind, "tcp" | "tls"),
        "query" | "record" | "nameserver" => kind == "dns",
        "token" => kind == "push",
        _ => true,
    }
}

/// Fields whose value is a number in the config.
fn numeric(field: &str) -> bool {
    matches!(field, "port" | "retries")
}

#[derive(Clone, Copy)]
struct Form {
    kind: RwSignal<String>,
    inputs: StoredValue<Vec<(&'static str, RwSignal<String>)>>,
    conditions: RwSignal<String>,
    enabled: RwSignal<bool>,
    more: RwSignal<String>,
}

impl Form {
    fn new() -> Form {
        Form {
            kind: RwSignal::new("http".into()),
            inputs: StoredValue::new(
                INPUTS
                    .iter()
                    .map(|(f, _, _)| (*f, RwSignal::new(String::new())))
                    .collect(),
            ),
            conditions: RwSignal::new("[STATUS] == 200".into()),
            enabled: RwSignal::new(true),
            more: RwSignal::new("{}".into()),
        }
    }

    fn input(&self, field: &str) -> Option<RwSignal<String>> {
        self.inputs
            .with_value(|i| i.iter().find(|(f, _)| *f == field).map(|(_, s)| *s))
    }

    /// Fills the inputs from a monitor's config; what has no input goes to "More fields".
    fn fill(&self, config: &Value) {
        let mut rest = config.as_object().cloned().unwrap_or_default();
        if let Some(Value::String(t)) = rest.remove("type") {
            self.kind.set(t);
        }
        self.inputs.with_value(|inputs| {
            for (field, signal) in inputs {
                let text = match rest.remove(*field) {
                    Some(Value::String(s)) => s,
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                signal.set(text);
            }
        });
        let conditions = match rest.remove("conditions") {
            Some(Value::Array(c)) => c
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        };
        self.conditions.set(conditions);
        self.enabled.set(
            rest.remove("enabled")
                .and_then(|v| v.as_bool())
                .unwrap_or(true),
        );
        self.more.set(
            serde_json::to_string_pretty(&Value::Object(rest)).unwrap_or_else(|_| "{}".into()),
        );
    }

    /// The body, or the field that cannot be one (the JSON of "More fields").
    fn body(&self) -> Result<Value, FieldError> {
        let mut out: Map<String, Value> = match serde_json::from_str(&self.more.get_untracked()) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(more_error("must be a JSON object")),
            Err(e) => return Err(more_error(&e.to_string())),
        };
        let kind = self.kind.get_untracked();
        out.insert("type".into(), Value::String(kind.clone()));
        self.inputs.with_value(|inputs| {
            for (field, signal) in inputs {
                let text = signal.get_untracked().trim().to_string();
                if text.is_empty() || !shown(&kind, field) {
                    continue;
                }
                let value = match text.parse::<u64>() {
                    Ok(n) if numeric(field) => Value::from(n),
                    _ => Value::String(text),
                };
                out.insert((*field).to_string(), value);
            }
        });
        let conditions: Vec<Value> = self
            .conditions
            .get_untracked()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| Value::String(l.to_string()))
            .collect();
        if !conditions.is_empty() {
            out.insert("conditions".into(), Value::Array(conditions));
        }
        if !self.enabled.get_untracked() {
            out.insert("enabled".into(), Value::Bool(false));
        }
        Ok(Value::Object(out))
    }
}

fn more_error(message: &str) -> FieldError {
    FieldError {
        field: "more".into(),
        message: format!("More fields: {message}"),
    }
}

/// A merge patch from `old` to `new`: every field of `new`, and `null` for each one dropped.
fn patch_between(old: &Value, new: &Value) -> Value {
    let mut patch = new.as_object().cloned().unwrap_or_default();
    if let Some(old) = old.as_object() {
        for k in old.keys() {
            if !patch.contains_key(k) {
                patch.insert(k.clone(), Value::Null);
            }
        }
    }
    Value::Object(patch)
}

/// `/monitors/new`.
#[component]
pub fn NewMonitor() -> impl IntoView {
    view! { <MonitorForm id=None /> }
}

/// `/monitors/:id/edit`.
#[component]
pub fn EditMonitor() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id").and_then(|s| s.parse::<u32>().ok()));
    view! { <MonitorForm id=id /> }
}

#[component]
fn MonitorForm(id: Option<u32>) -> impl IntoView {
    let form = Form::new();
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let original = StoredValue::new(Value::Null);
    let read_only = RwSignal::new(false);
    if let Some(id) = id {
        spawn_local(async move {
            match api::monitor_config(id).await {
                Ok(v) => {
                    read_only.set(v.source == MonitorSource::Config);
                    form.fill(&v.config);
                    original.set_value(v.config);
                }
                Err(e) => failure.set(Some(e.to_string())),
            }
        });
    }
    let navigate = use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.set(Vec::new());
        failure.set(None);
        let body = match form.body() {
            Ok(b) => b,
            Err(e) => {
                errors.set(vec![e]);
                return;
            }
        };
        busy.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            let answer = match id {
                None => api::create_monitor(&body).await,
                Some(id) => {
                    let patch = patch_between(&original.get_value(), &body);
                    api::update_monitor(id, &patch).await
                }
            };
            busy.set(false);
            match answer {
                Ok(d) => navigate(&format!("/monitors/{}", d.summary.id), Default::default()),
                Err(ApiError::Invalid { fields, message }) => {
                    failure.set(Some(message));
                    errors.set(fields);
                }
                Err(e) => failure.set(Some(e.to_string())),
            }
        });
    };
    let error_of = move |field: &'static str| {
        move || {
            errors.with(|errs| {
                errs.iter()
                    .filter(|e| {
                        e.field == field
                            || (field == "more"
                                && !INPUTS.iter().any(|(f, _, _)| *f == e.field)
                                && !matches!(e.field.as_str(), "type" | "enabled")
                                && !e.field.starts_with("conditions"))
                            || (field == "conditions" && e.field.starts_with("conditions"))
                            || (field == "type" && e.field == "type")
                    })
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        }
    };
    let back = match id {
        Some(id) => format!("/monitors/{id}"),
        None => "/monitors".into(),
    };
    let title = if id.is_some() {
        "Edit monitor"
    } else {
        "New monitor"
    };
    view! {
        <p class="crumbs"><A href=back>"← Back"</A></p>
        <section class="card" id="monitor-form">
            <h1>{title}</h1>
            <Show when=move || read_only.get()>
                <p class="note muted" id="read-only">
                    "Declared in the config file: change it there (shown read-only)."
                </p>
            </Show>
            <form class="monitor-form" on:submit=submit>
                <fieldset prop:disabled=move || read_only.get() || busy.get()>
                    <label>
                        "Type"
                        <select id="f-type" prop:value=move || form.kind.get()
                            on:change=move |ev| form.kind.set(event_target_value(&ev))
                            prop:disabled=id.is_some()>
                            {TYPES.iter().map(|t| view! { <option value=*t>{*t}</option> }).collect_view()}
                        </select>
                        <span class="error field-error">{error_of("type")}</span>
                    </label>
                    {INPUTS.iter().map(|(field, label, hint)| {
                        let field: &'static str = field;
                        let signal = form.input(field).unwrap_or_else(|| RwSignal::new(String::new()));
                        view! {
                            <Show when=move || shown(&form.kind.get(), field)>
                                <label>
                                    {*label}
                                    <input id=format!("f-{field}") placeholder=*hint
                                        prop:value=signal on:input=move |ev| signal.set(event_target_value(&ev))
                                        prop:readonly=field == "name" && id.is_some() />
                                    <span class="error field-error" data-field=field>{error_of(field)}</span>
                                </label>
                            </Show>
                        }
                    }).collect_view()}
                    <label>
                        "Conditions (one per line, Gatus syntax)"
                        <textarea id="f-conditions" rows="3" prop:value=move || form.conditions.get()
                            on:input=move |ev| form.conditions.set(event_target_value(&ev))></textarea>
                        <span class="error field-error" data-field="conditions">{error_of("conditions")}</span>
                    </label>
                    <label class="check">
                        <input id="f-enabled" type="checkbox" prop:checked=move || form.enabled.get()
                            on:change=move |ev| form.enabled.set(event_target_checked(&ev)) />
                        "Enabled (unchecked: paused)"
                    </label>
                    <label>
                        "More fields (JSON: headers, body, basic_auth, labels, locations, ...)"
                        <textarea id="f-more" rows="6" class="code" prop:value=move || form.more.get()
                            on:input=move |ev| form.more.set(event_target_value(&ev))></textarea>
                        <span class="error field-error" data-field="more">{error_of("more")}</span>
                    </label>
                    <div class="actions">
                        <button type="submit" id="f-save">{if id.is_some() { "Save" } else { "Create" }}</button>
                    </div>
                </fieldset>
            </form>
            {move || failure.get().map(|f| view! { <p class="error note" role="alert" id="form-error">{f}</p> })}
        </section>
    }
}
