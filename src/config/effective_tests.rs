use super::*;

/// `render`, or a panic showing where the `Debug` text stopped parsing.
fn must_render<T: std::fmt::Debug>(value: &T) -> Rendered {
    render(value).unwrap_or_else(|e| {
        let text = format!("{value:?}");
        let b = text.as_bytes();
        let at = e.at.min(b.len());
        let before = String::from_utf8_lossy(&b[at.saturating_sub(120)..at]);
        let after = String::from_utf8_lossy(&b[at..(at + 60).min(b.len())]);
        panic!("{e}: …{before}⟨here⟩{after}…")
    })
}

/// A config with every secret the schema has, each a distinct value holding `SECRETVALUE`.
fn every_secret(dir: &std::path::Path) -> String {
    let url_file = dir.join("url");
    let cred_file = dir.join("cred");
    std::fs::write(
        &url_file,
        "https://hooks.example.com/SECRETVALUE-url-file\n",
    )
    .expect("write");
    std::fs::write(&cred_file, "SECRETVALUE-cred-file\n").expect("write");
    format!(
        r##"
monitors:
  - name: api
    type: http
    url: "https://user:SECRETVALUE-m-userinfo@api.example.com/health?api_key=SECRETVALUE-m-query&x=1"
    headers: {{X-Api-Key: SECRETVALUE-m-header}}
    basic_auth: {{username: u, password: SECRETVALUE-m-basic}}
  - name: api2
    type: http
    url: https://api.example.com/
    bearer_token: SECRETVALUE-m-bearer
  - {{name: nightly, type: push, token: SECRETVALUE-push, interval: 1h}}
services:
  - name: inventory
    static_configs: [{{targets: ["10.0.0.5:8081"]}}]
    bearer_token: SECRETVALUE-p-bearer
    headers: {{X-Scraper: SECRETVALUE-p-header}}
  - name: billing
    static_configs: [{{targets: ["10.0.0.6:8081"]}}]
    basic_auth: {{username: u, password: SECRETVALUE-p-basic}}
periskop:
  push_tokens: [SECRETVALUE-p-push]
projects:
  - id: 7
    name: web
    keys: [5ec2e75ec2e75ec2e75ec2e75ec2e7aa]
    forward: {{upstream: "https://5ec2e75ec2e75ec2e75ec2e75ec2e7bb@sentry.example.com/42"}}
remote_write:
  - name: prom
    url: http://127.0.0.1:9090/api/v1/write
    headers: {{X-Scope-OrgID: SECRETVALUE-rw-header}}
    bearer_token: SECRETVALUE-rw-bearer
  - name: mimir
    url: http://127.0.0.1:9091/api/v1/write
    basic_auth: {{username: u, password: SECRETVALUE-rw-basic}}
alerts:
  global:
    smtp_smarthost: smtp.example.com:587
    smtp_from: panoptes@example.com
    smtp_auth_username: panoptes
    smtp_auth_password: SECRETVALUE-smtp
    slack_api_url: https://hooks.slack.com/services/SECRETVALUE-g-slack
    opsgenie_api_key: SECRETVALUE-g-opsgenie
  route: {{receiver: all}}
  receivers:
    - name: all
      webhook_configs:
        - url: https://hooks.example.com/SECRETVALUE-webhook
          http_config:
            bearer_token: SECRETVALUE-w-bearer
        - url_file: {url_file}
          http_config:
            basic_auth: {{username: u, password: SECRETVALUE-w-basic}}
        - url: https://hooks.example.com/x
          http_config:
            authorization: {{credentials: SECRETVALUE-w-auth}}
        - url: https://hooks.example.com/y
          http_config:
            authorization: {{credentials_file: {cred_file}}}
      email_configs:
        - to: ops@example.com
          auth_password: SECRETVALUE-e-password
          headers: {{X-Token: SECRETVALUE-e-header}}
      slack_configs: [{{api_url: "https://hooks.slack.com/services/SECRETVALUE-slack", channel: "#ops"}}]
      msteamsv2_configs: [{{webhook_url: "https://example.webhook.office.com/SECRETVALUE-teams"}}]
      discord_configs: [{{webhook_url: "https://discord.com/api/webhooks/SECRETVALUE-discord"}}]
      telegram_configs: [{{bot_token: SECRETVALUE-telegram, chat_id: 1}}]
      pagerduty_configs:
        - routing_key: SECRETVALUE-pd-routing
        - service_key: SECRETVALUE-pd-service
      opsgenie_configs: [{{api_key: SECRETVALUE-opsgenie}}]
      ntfy_configs: [{{topic: ops, token: SECRETVALUE-ntfy}}]
oncall:
  contacts:
    ana:
      - {{email: ana@example.com}}
      - {{ntfy: {{topic: ana, token: SECRETVALUE-c-ntfy}}}}
      - {{telegram: {{bot_token: SECRETVALUE-c-telegram, chat_id: 2}}}}
      - {{slack: {{api_url: "https://hooks.slack.com/services/SECRETVALUE-c-slack"}}}}
      - {{webhook: {{url: "https://hooks.example.com/SECRETVALUE-c-webhook"}}}}
status_pages:
  - slug: public
    title: Example
    components: [{{name: API, monitor: api}}]
    subscribers:
      email: {{smarthost: "smtp.example.com:587", from: s@example.com, auth_password: SECRETVALUE-s-smtp}}
      webhook:
        endpoints: [{{url: "https://hooks.example.com/SECRETVALUE-s-webhook"}}]
"##,
        url_file = url_file.display(),
        cred_file = cred_file.display(),
    )
}

#[test]
fn no_secret_of_any_section_is_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = every_secret(dir.path());
    let config = crate::config::root::parse(&text, "secrets.yaml", &|_| None)
        .unwrap_or_else(|e| panic!("the test config is valid: {e}"));
    let debug = format!("{config:?}");
    let planted = debug.matches("SECRETVALUE").count() + debug.matches("5ec2e7").count();
    assert!(planted >= 40, "the secrets are in the config ({planted})");
    let Rendered { json: tree, yaml } = must_render(&config);
    let json = tree.to_string();
    let leaks: Vec<&str> = yaml
        .lines()
        .filter(|l| l.contains("SECRETVALUE") || l.contains("5ec2e7"))
        .collect();
    assert!(leaks.is_empty(), "secrets are shown: {leaks:#?}");
    assert!(!json.contains("SECRETVALUE") && !json.contains("5ec2e7"));
    // The rest is there, with its defaults.
    assert_eq!(tree["server"]["listen"], "127.0.0.1:8080");
    assert_eq!(tree["server"]["request_timeout"], "1m");
    assert_eq!(tree["monitors"][0]["name"], "api");
    assert_eq!(
        tree["monitors"][0]["kind"]["http"]["url"],
        "https://<redacted>@api.example.com/health?api_key=<redacted>&x=1"
    );
    assert_eq!(
        tree["monitors"][0]["kind"]["http"]["headers"]["X-Api-Key"],
        REDACTED
    );
    assert_eq!(
        tree["monitors"][1]["kind"]["http"]["basic_auth"],
        Value::Null
    );
    assert_eq!(tree["projects"][0]["keys"][0], REDACTED);
    assert_eq!(
        tree["alerts"]["global"]["smtp_from"],
        "panoptes@example.com"
    );
    assert!(yaml.contains("smtp_auth_password: <redacted>"), "{yaml}");
    assert!(
        !json.contains("\"mark\"") && !json.contains("\"source\""),
        "internal fields are left out"
    );
}

#[test]
fn the_embedded_default_and_the_example_render() {
    let example = crate::config::root::parse(crate::config::root::EXAMPLE, "x.yaml", &|_| None)
        .expect("valid");
    for config in [example, crate::config::root::Config::default()] {
        let r = must_render(&config);
        assert!(r.json["server"].is_object(), "{}", r.json);
        assert!(
            r.yaml.starts_with("server:\n  listen: 127.0.0.1:8080\n"),
            "{}",
            r.yaml
        );
    }
}

#[test]
fn debug_forms_parse() {
    #[derive(Debug)]
    #[allow(dead_code)]
    enum Kind {
        Days(u32),
        Http(Inner),
        DegradedPerformance,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Inner {
        url: String,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Outer {
        addr: std::net::SocketAddr,
        v6: std::net::SocketAddr,
        ip: std::net::IpAddr,
        wait: std::time::Duration,
        ratio: f64,
        neg: i64,
        kinds: Vec<Kind>,
        map: std::collections::BTreeMap<String, Option<String>>,
        set: std::collections::BTreeSet<u32>,
        text: String,
        c: char,
        token: Option<String>,
        none: Option<String>,
    }
    let v = must_render(&Outer {
        addr: "127.0.0.1:8080".parse().expect("addr"),
        v6: "[::1]:53".parse().expect("addr"),
        ip: "fe80::1".parse().expect("ip"),
        wait: std::time::Duration::from_millis(1500),
        ratio: 0.5,
        neg: -3,
        kinds: vec![
            Kind::Days(7),
            Kind::Http(Inner {
                url: "https://a:b@x.example/".into(),
            }),
            Kind::DegradedPerformance,
        ],
        map: [("a b".to_string(), Some("x".to_string()))].into(),
        set: [1, 2].into(),
        text: "quote \" and \\ and \n and é".into(),
        c: '\'',
        token: Some("s3cret".into()),
        none: None,
    })
    .json;
    assert_eq!(
        v,
        serde_json::json!({
            "addr": "127.0.0.1:8080",
            "v6": "[::1]:53",
            "ip": "fe80::1",
            "wait": "1500ms",
            "ratio": 0.5,
            "neg": -3,
            "kinds": [7, {"http": {"url": "https://<redacted>@x.example/"}}, "degraded_performance"],
            "map": {"a b": "x"},
            "set": [1, 2],
            "text": "quote \" and \\ and \n and é",
            "c": "'",
            "token": REDACTED,
            "none": null,
        })
    );
    assert!(render(&"unterminated").is_ok());
    assert!(
        parse::Parser::new("Foo { a: \"x").document().is_err(),
        "fails closed"
    );
    assert!(parse::Parser::new("Foo { a: 1 } junk").document().is_err());
}

#[test]
fn secrets_are_known_by_name_or_ending() {
    for name in [
        "password",
        "smtp_auth_password",
        "token",
        "bot_token",
        "push_tokens",
        "api_key",
        "routing_key",
        "client_secret",
        "keys",
        "credentials_file",
    ] {
        assert!(secret_name(name), "{name}");
    }
    for name in [
        "max_keys_per_service",
        "username",
        "url",
        "smtp_from",
        "keyring",
    ] {
        assert!(!secret_name(name), "{name}");
    }
}

#[test]
fn yaml_keeps_the_fields_order_and_quotes_what_would_read_otherwise() {
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Item {
        k: u32,
        l: &'static str,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Doc {
        z: &'static str,
        b: &'static str,
        c: &'static str,
        d: Vec<u32>,
        e: Vec<Item>,
        g: Vec<Vec<&'static str>>,
        f: &'static str,
        every: crate::config::Duration,
        password: &'static str,
    }
    let r = must_render(&Doc {
        z: "true",
        b: "x: y",
        c: "plain",
        d: vec![],
        e: vec![Item { k: 1, l: "m" }],
        g: vec![vec!["a"], vec![]],
        f: "#ops",
        every: crate::config::Duration::secs(3600),
        password: "hunter2",
    });
    assert_eq!(
        r.yaml,
        "z: \"true\"\nb: \"x: y\"\nc: plain\nd: []\ne:\n  - k: 1\n    l: m\ng: [[a], []]\nf: \"#ops\"\nevery: 1h\npassword: <redacted>\n"
    );
}
