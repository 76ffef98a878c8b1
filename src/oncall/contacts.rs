//! Contact methods people set for themselves (API or dashboard), over those of the config:
//! a person's own list replaces the config's `oncall.contacts.<user>` wherever pages look
//! contacts up. The list has the config's shape (`[{email: ...}, {ntfy: {...}, after: 2m}]`,
//! as JSON) and is decoded by the config's own decoder, so both accept exactly the same
//! methods and report mistakes by field. Pure: the engine stores and loads the lists.

use std::collections::BTreeMap;

use serde_json::Value;

use super::config::{ContactKind, ContactMethod, MAX_ITEMS, OncallConfig};
use crate::config::decode::Decoder;

/// Where a person's list is kept in `oncall_meta` (`contacts/ana`).
pub const META_PREFIX: &str = "contacts/";
/// Largest list accepted, as JSON.
pub const MAX_BODY: usize = 64 * 1024;
/// People with a list of their own at most.
pub const MAX_PEOPLE: usize = 10_000;
/// Longest user name (as in overrides).
pub const MAX_NAME: usize = 200;

pub fn meta_key(user: &str) -> String {
    format!("{META_PREFIX}{user}")
}

pub fn check_name(user: &str) -> Result<(), String> {
    if user.trim().is_empty() || user.len() > MAX_NAME || user.chars().any(char::is_control) {
        return Err(format!(
            "user: 1 to {MAX_NAME} characters, no control characters"
        ));
    }
    Ok(())
}

/// Every string of `v` with `$` doubled: values from the API are literal. The config decoder
/// expands `${VAR}` and `${file:/path}`, which must not let a request read the server's
/// environment or files.
fn literal(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace('$', "$$")),
        Value::Array(a) => Value::Array(a.iter().map(literal).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), literal(v))).collect()),
        other => other.clone(),
    }
}

/// Whether a method names a file on the server (a CA file the TLS client would read).
fn names_a_file(k: &ContactKind) -> bool {
    let ca = match k {
        ContactKind::Email(e) => &e.tls_config.ca_file,
        ContactKind::Ntfy(n) => &n.http_config.tls_config.ca_file,
        ContactKind::Telegram(t) => &t.http_config.tls_config.ca_file,
        ContactKind::Slack(s) => &s.http_config.tls_config.ca_file,
        ContactKind::Webhook(w) => &w.http_config.tls_config.ca_file,
    };
    ca.is_some()
}

/// A person's list as posted: 1 to [`MAX_ITEMS`] methods in the config's shape. Errors name
/// the field (`contacts[1].ntfy.topic: ...`).
pub fn decode(v: &Value) -> Result<Vec<ContactMethod>, String> {
    let Value::Array(items) = v else {
        return Err("contacts: expected a list of contact methods".into());
    };
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(format!(
            "contacts: 1 to {MAX_ITEMS} contact methods (DELETE falls back to the config's)"
        ));
    }
    // Pretty JSON is YAML as well (flow collections with `": "`), so the config parser reads it.
    let text = serde_json::to_string_pretty(&literal(v)).map_err(|e| e.to_string())?;
    if text.len() > MAX_BODY {
        return Err(format!("contacts: at most {MAX_BODY} bytes"));
    }
    let node = crate::config::yaml::parse(&text).map_err(|e| format!("contacts: {}", e.message))?;
    let mut d = Decoder::new("request", &|_| None);
    let methods: Option<Vec<ContactMethod>> = d.decode(&node, "contacts");
    if !d.errors.is_empty() {
        let msgs: Vec<String> = d
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect();
        return Err(msgs.join("; "));
    }
    let methods = methods.ok_or_else(|| "contacts: not a list of contact methods".to_string())?;
    if let Some(i) = methods.iter().position(|m| names_a_file(&m.kind)) {
        return Err(format!(
            "contacts[{i}]: ca_file is for the config file only (the server would read a local file)"
        ));
    }
    Ok(methods)
}

/// Everyone's contact methods: the config's, with each person's own list in place of theirs.
pub fn merged<'a>(
    cfg: &'a OncallConfig,
    own: &'a BTreeMap<String, Vec<ContactMethod>>,
) -> BTreeMap<&'a str, &'a [ContactMethod]> {
    let mut out: BTreeMap<&str, &[ContactMethod]> = cfg
        .contacts
        .iter()
        .map(|(u, m)| (u.as_str(), m.as_slice()))
        .collect();
    out.extend(own.iter().map(|(u, m)| (u.as_str(), m.as_slice())));
    out
}

/// What the audit log says about a list: methods and where they go, never a secret.
pub fn describe(methods: &[ContactMethod]) -> String {
    methods
        .iter()
        .map(|m| format!("{} {}", m.kind.name(), m.kind.target()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_config_shape_decodes() {
        let m = decode(&json!([
            {"email": "ana@example.com"},
            {"ntfy": {"topic": "ana-pages"}, "after": "2m"},
            {"webhook": {"url": "http://127.0.0.1:9/hook"}}
        ]))
        .expect("decodes");
        let names: Vec<(&str, String, u64)> = m
            .iter()
            .map(|m| (m.kind.name(), m.kind.target(), m.after.get().as_secs()))
            .collect();
        assert_eq!(
            names,
            [
                ("email", "ana@example.com".to_string(), 0),
                ("ntfy", "ana-pages".to_string(), 120),
                ("webhook", "webhook".to_string(), 0)
            ]
        );
    }

    #[test]
    fn mistakes_name_the_field() {
        for (body, want) in [
            (json!({"email": "a@b"}), "expected a list"),
            (json!([]), "1 to 256"),
            (
                json!([{"email": "nope"}]),
                "contacts[0].email: `nope` is not an e-mail",
            ),
            (
                json!([{"sms": "+49"}]),
                "contacts[0].sms: unknown field `sms`",
            ),
            (
                json!([{"ntfy": {"topic": "t"}, "after": "soon"}]),
                "contacts[0].after",
            ),
            (
                json!([{"webhook": {"url": "https://x", "http_config": {"tls_config": {"ca_file": "/etc/shadow"}}}}]),
                "ca_file is for the config file only",
            ),
        ] {
            let e = decode(&body).expect_err(want);
            assert!(e.contains(want), "{want:?} not in {e:?}");
        }
    }

    #[test]
    fn values_are_literal() {
        // Neither a file nor an environment variable is read: `${...}` stays as written.
        let m =
            decode(&json!([{"webhook": {"url": "http://127.0.0.1:9/${file:/etc/passwd}$HOME"}}]))
                .expect("decodes");
        let ContactKind::Webhook(w) = &m[0].kind else {
            panic!("a webhook");
        };
        assert_eq!(w.url, "http://127.0.0.1:9/${file:/etc/passwd}$HOME");
    }

    #[test]
    fn own_lists_replace_the_configs() {
        let cfg = crate::config::root::parse(
            "oncall: {contacts: {ana: [{email: ana@example.com}], ben: [{email: ben@example.com}]}}",
            "t.yaml",
            &|_| None,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .oncall;
        let own: BTreeMap<String, Vec<ContactMethod>> = [
            (
                "ben".to_string(),
                decode(&json!([{"ntfy": {"topic": "ben"}}])).expect("ok"),
            ),
            (
                "dana".to_string(),
                decode(&json!([{"email": "d@example.com"}])).expect("ok"),
            ),
        ]
        .into();
        let m = merged(&cfg, &own);
        let kinds: Vec<(&str, &str)> = m.iter().map(|(u, v)| (*u, v[0].kind.name())).collect();
        assert_eq!(
            kinds,
            [("ana", "email"), ("ben", "ntfy"), ("dana", "email")]
        );
        assert_eq!(describe(m["ben"]), "ntfy ben");
    }
}
