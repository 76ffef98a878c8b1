//! Browser CSP reports (`/security/`, `/csp-report/`): the classic `{"csp-report": {...}}` body
//! or a Reporting API list, each report becoming an event; one commit per request.

use std::collections::HashMap;

use serde_json::Value;

use super::budget::RawBody;
use super::plan::{Plan, blocking, decode};
use super::{Accepted, Ingest, IngestError, SentryAuth};

/// Most reports read from one request.
const MAX_REPORTS: usize = 100;

impl Ingest {
    /// `POST /api/{project}/security/` (and `/csp-report/`): a browser CSP report (the classic
    /// `{"csp-report": {...}}` or a Reporting API list) becomes an event. Every report of one
    /// request is planned into one plan and committed once: all of them are stored or none,
    /// so a retry after an error duplicates nothing.
    pub async fn security(
        &self,
        path_project: u64,
        auth: Option<SentryAuth>,
        query: HashMap<String, String>,
        user_agent: Option<String>,
        body: RawBody,
    ) -> Result<Accepted, IngestError> {
        let this = self.clone();
        let inline = body.is_small_plain();
        let (plan, charge) = blocking(inline, move || {
            let cfg = this.settings();
            let project = this.project(&cfg, Some(path_project), auth.as_ref())?;
            let (data, charge) = decode(body)?;
            let v: Value = serde_json::from_slice(&data)
                .map_err(|e| IngestError::InvalidEvent(format!("report is not JSON: {e}")))?;
            drop(data);
            let reports = reports(v)?;
            let now = this.inner.clock.now_ms();
            let mut plan = Plan::new(&this, project.id);
            for r in reports.into_iter().take(MAX_REPORTS) {
                this.count_item(project.id, "security");
                let event = csp_event(&r, &query, user_agent.as_deref());
                this.plan_made_event(&mut plan, &project, &event, now)?;
            }
            Ok((plan, charge))
        })
        .await?;
        self.commit(plan, charge).await
    }
}

/// The reports of a body: the classic `{"csp-report": {...}}`, or the `csp-violation` entries of
/// a Reporting API list.
fn reports(v: Value) -> Result<Vec<Value>, IngestError> {
    Ok(match v {
        Value::Array(list) => list
            .into_iter()
            .filter(|r| {
                r.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t == "csp-violation")
            })
            .take(MAX_REPORTS)
            .filter_map(|r| r.get("body").cloned())
            .map(reporting_api_to_classic)
            .collect(),
        Value::Object(mut o) => match o.remove("csp-report") {
            Some(r) => vec![r],
            None => {
                return Err(IngestError::InvalidEvent(
                    "expected {\"csp-report\": {...}} or a Reporting API list".into(),
                ));
            }
        },
        _ => return Err(IngestError::InvalidEvent("report must be an object".into())),
    })
}

/// A Reporting API `csp-violation` body uses camelCase names; the classic report uses kebab-case.
fn reporting_api_to_classic(body: Value) -> Value {
    let map = [
        ("documentURL", "document-uri"),
        ("blockedURL", "blocked-uri"),
        ("effectiveDirective", "effective-directive"),
        ("originalPolicy", "original-policy"),
        ("sourceFile", "source-file"),
        ("lineNumber", "line-number"),
        ("columnNumber", "column-number"),
        ("disposition", "disposition"),
        ("referrer", "referrer"),
        ("statusCode", "status-code"),
    ];
    let mut out = serde_json::Map::new();
    for (from, to) in map {
        if let Some(v) = body.get(from) {
            out.insert(to.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn csp_event(r: &Value, query: &HashMap<String, String>, user_agent: Option<&str>) -> Value {
    let get = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let effective = {
        let e = get("effective-directive");
        if e.is_empty() {
            get("violated-directive")
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        } else {
            e
        }
    };
    let blocked = get("blocked-uri");
    let document = get("document-uri");
    let mut event = serde_json::json!({
        "level": "error",
        "platform": "javascript",
        "logger": "csp",
        "csp": {
            "effective_directive": effective,
            "blocked_uri": blocked,
            "document_uri": document,
            "violated_directive": get("violated-directive"),
            "original_policy": get("original-policy"),
            "source_file": get("source-file"),
            "disposition": get("disposition"),
        },
        "culprit": effective,
        "tags": {"effective-directive": effective, "blocked-uri": blocked},
        "request": {"url": document, "headers": {"User-Agent": user_agent.unwrap_or("")}},
    });
    if let Some(r) = query.get("sentry_release") {
        event["release"] = Value::from(r.as_str());
    }
    if let Some(e) = query.get("sentry_environment") {
        event["environment"] = Value::from(e.as_str());
    }
    event
}
