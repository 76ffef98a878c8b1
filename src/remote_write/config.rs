//! The `remote_write:` section: endpoints to send probe results to, with Prometheus's own key
//! names where it has them (`url`, `headers`, `basic_auth`, `bearer_token`, `remote_timeout`).

use std::collections::HashSet;

use crate::config::Duration;
use crate::config::decode::{Decoder, join};
use crate::config::shared::{BasicAuth, Headers};

crate::config_section! {
    /// One receiver.
    pub struct RemoteWriteConfig {
        /// Names the endpoint in logs and its cursor; unique.
        pub name: String = "default".to_string(),
        /// e.g. `http://prometheus:9090/api/v1/write`.
        pub url: String,
        pub headers: Headers = Headers::default(),
        pub basic_auth: Option<BasicAuth> = None,
        pub bearer_token: Option<String> = None,
        /// Bound on one request.
        pub remote_timeout: Duration = Duration::secs(30),
        /// How often stored results are sent.
        pub send_interval: Duration = Duration::secs(5),
        /// Results younger than this wait for the next send: a check that is still running
        /// stores its result late, stamped with when it started.
        pub delay: Duration = Duration::secs(30),
        /// Most samples in one request.
        pub max_samples_per_send: u64 = 5000,
        /// Added to every series (e.g. `{region: eu-1}`), after Panoptes' own labels.
        pub external_labels: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new(),
    }
    check = check_endpoint;
}

fn check_endpoint(c: &RemoteWriteConfig, path: &str, d: &mut Decoder) {
    match reqwest::Url::parse(&c.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => d.error_at(&join(path, "url"), "an http:// or https:// URL"),
    }
    if c.max_samples_per_send == 0 || c.max_samples_per_send > 100_000 {
        d.error_at(&join(path, "max_samples_per_send"), "1 to 100000");
    }
    if c.send_interval.get() < std::time::Duration::from_millis(100) {
        d.error_at(&join(path, "send_interval"), "at least 100ms");
    }
    if c.basic_auth.is_some() && c.bearer_token.is_some() {
        d.error_at(path, "`basic_auth` and `bearer_token` are exclusive");
    }
    for k in c.external_labels.keys() {
        if !super::encode::valid_label_name(k) {
            d.error_at(
                &join(&join(path, "external_labels"), k),
                "a label name: [a-zA-Z_][a-zA-Z0-9_]*, not starting with __",
            );
        }
    }
}

/// Names are unique (each has its own cursor).
pub fn validate(endpoints: &[RemoteWriteConfig], d: &mut Decoder) {
    let mut seen = HashSet::new();
    for (i, e) in endpoints.iter().enumerate() {
        if !seen.insert(e.name.as_str()) {
            d.error_at(
                &format!("remote_write[{i}].name"),
                format!("`{}` names another endpoint", e.name),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    fn errors(yaml: &str) -> String {
        match crate::config::root::parse(yaml, "t.yaml", &|_| None) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn endpoints_are_checked_field_by_field() {
        assert_eq!(
            errors("remote_write:\n  - {url: \"http://127.0.0.1:9090/api/v1/write\"}\n"),
            ""
        );
        let e = errors(
            "remote_write:\n  - {url: \"ftp://x\", max_samples_per_send: 0, external_labels: {__x: a}}\n  - {url: \"http://a/w\", name: default}\n",
        );
        assert!(e.contains("remote_write[0].url"), "{e}");
        assert!(e.contains("remote_write[0].max_samples_per_send"), "{e}");
        assert!(e.contains("remote_write[0].external_labels.__x"), "{e}");
        assert!(e.contains("remote_write[1].name"), "{e}");
    }
}
