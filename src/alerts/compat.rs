//! Alertmanager keys read so a pasted Alertmanager configuration loads: the ones Panoptes
//! honours (`url_file`, `http_config.authorization`, the legacy inhibition matchers, ...) and
//! the ones it accepts but cannot honour, which are listed as warnings at each load instead of
//! refusing the file.

use crate::config::decode::{Decode, Decoder, join};
use crate::config::yaml::Node;

use super::config::{AlertsConfig, RouteConfig};

/// Largest file read for a `*_file` key (a URL or a credential).
const MAX_FILE: u64 = 64 * 1024;

/// The contents of a file named in the config (`url_file`, `credentials_file`), read at load
/// so an unreadable file is an error at its line, not a failed delivery at 3 am.
#[derive(Debug, Clone, PartialEq)]
pub struct FileText(pub String);

impl Decode for FileText {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let file: std::path::PathBuf = d.decode(node, path)?;
        let read = std::fs::File::open(&file).and_then(|f| {
            use std::io::Read;
            let mut buf = String::new();
            f.take(MAX_FILE + 1).read_to_string(&mut buf)?;
            Ok(buf)
        });
        let why = match read {
            // Files usually end with a newline that is not part of the value.
            Ok(s) if (s.len() as u64) <= MAX_FILE => return Some(FileText(s.trim().to_string())),
            Ok(_) => format!("is larger than {MAX_FILE} bytes"),
            Err(e) => format!("cannot be read: {e}"),
        };
        d.error(node.mark, path, format!("`{}` {why}", file.display()));
        // Still counts as given, so checks do not also report it missing (the error refuses
        // the file anyway).
        Some(FileText(String::new()))
    }
}

crate::config_section! {
    /// `http_config.authorization`, as Alertmanager: `Authorization: <type> <credentials>`.
    pub struct Authorization {
        pub auth_type as "type": String = "Bearer".to_string(),
        pub credentials: Option<String> = None,
        /// A file holding the credentials, read at load.
        pub credentials_file: Option<FileText> = None,
    }
    check = check_authorization;
}

fn check_authorization(a: &Authorization, path: &str, d: &mut Decoder) {
    if a.credentials.is_some() == a.credentials_file.is_some() {
        d.error_at(
            path,
            "needs exactly one of `credentials` or `credentials_file`",
        );
    }
    if a.auth_type.eq_ignore_ascii_case("basic") {
        d.error_at(
            &join(path, "type"),
            "`Basic` is not allowed here; use `basic_auth`",
        );
    }
}

impl Authorization {
    /// The `Authorization` header's value.
    pub fn header(&self) -> String {
        let credentials = self
            .credentials
            .clone()
            .or_else(|| self.credentials_file.as_ref().map(|f| f.0.clone()))
            .unwrap_or_default();
        format!("{} {credentials}", self.auth_type)
    }
}

crate::config_section! {
    /// A link of a PagerDuty event (`links:` of `pagerduty_configs`). Both are templates.
    pub struct PagerdutyLink {
        pub href: String,
        pub text: String = String::new(),
    }
}

crate::config_section! {
    /// Who an Opsgenie alert is for (`responders:` of `opsgenie_configs`): one of `id`,
    /// `name` or `username`, and a `type` (`team`, `user`, `escalation` or `schedule`).
    pub struct OpsgenieResponder {
        pub id: Option<String> = None,
        pub name: Option<String> = None,
        pub username: Option<String> = None,
        pub responder_type as "type": String,
    }
    check = check_responder;
}

fn check_responder(r: &OpsgenieResponder, path: &str, d: &mut Decoder) {
    let set = [&r.id, &r.name, &r.username]
        .iter()
        .filter(|v| v.is_some())
        .count();
    if set != 1 {
        d.error_at(path, "needs exactly one of `id`, `name` or `username`");
    }
    if !matches!(
        r.responder_type.as_str(),
        "team" | "teams" | "user" | "escalation" | "schedule"
    ) {
        d.error_at(
            &join(path, "type"),
            "must be team, teams, user, escalation or schedule",
        );
    }
}

impl OpsgenieResponder {
    /// As Opsgenie's API takes them: Alertmanager's `type: teams` names several teams,
    /// comma-separated, one responder each.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        if self.responder_type == "teams" {
            let names = self.name.as_deref().unwrap_or("");
            return names
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| serde_json::json!({"type": "team", "name": t}))
                .collect();
        }
        let mut v = serde_json::json!({"type": self.responder_type});
        for (k, x) in [
            ("id", &self.id),
            ("name", &self.name),
            ("username", &self.username),
        ] {
            if let Some(x) = x {
                v[k] = serde_json::json!(x);
            }
        }
        vec![v]
    }
}

/// Alertmanager keys that were accepted but have no effect in Panoptes, one line each with
/// where they are. Logged at every load: silently ignoring a mute interval would be worse
/// than refusing it, refusing it would make pasting a config fail.
pub fn ignored(c: &AlertsConfig) -> Vec<String> {
    let mut out = Vec::new();
    for (key, present) in [
        ("templates", !c.templates.is_empty()),
        ("time_intervals", !c.time_intervals.is_empty()),
        ("mute_time_intervals", !c.mute_time_intervals.is_empty()),
    ] {
        if present {
            out.push(format!(
                "alerts.{key}: Alertmanager's {key} are not supported by Panoptes; ignored"
            ));
        }
    }
    if let Some(r) = &c.route {
        route_ignored(r, "alerts.route", &mut out);
    }
    for (i, r) in c.receivers.iter().enumerate() {
        let at =
            |kind: &str, j: usize, key: &str| format!("alerts.receivers[{i}].{kind}[{j}].{key}");
        for (j, e) in r.email_configs.iter().enumerate() {
            if e.auth_identity.is_some() {
                out.push(format!(
                    "{}: SMTP PLAIN identities are not supported; ignored (auth_username logs in)",
                    at("email_configs", j, "auth_identity")
                ));
            }
        }
        for (j, s) in r.slack_configs.iter().enumerate() {
            if s.color.is_some() {
                out.push(format!(
                    "{}: Panoptes sends Slack blocks, which have no colour bar; ignored",
                    at("slack_configs", j, "color")
                ));
            }
        }
    }
    out
}

fn route_ignored(r: &RouteConfig, path: &str, out: &mut Vec<String>) {
    for (key, names) in [
        ("mute_time_intervals", &r.mute_time_intervals),
        ("active_time_intervals", &r.active_time_intervals),
    ] {
        if !names.is_empty() {
            out.push(format!(
                "{path}.{key}: time intervals are not supported by Panoptes; the route is always \
                 active (ignored: {})",
                names.join(", ")
            ));
        }
    }
    for (i, child) in r.routes.iter().enumerate() {
        route_ignored(child, &format!("{path}.routes[{i}]"), out);
    }
}

/// Any value, accepted and not read (Alertmanager sections Panoptes has no use for).
#[derive(Debug, Clone, PartialEq)]
pub struct Unused;

impl Decode for Unused {
    fn decode(_: &Node, _: &str, _: &mut Decoder) -> Option<Self> {
        Some(Unused)
    }
}
