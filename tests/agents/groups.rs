//! `probing.groups`: a group's `locations`/`quorum` reach its monitors that set none, a
//! monitor's own win (its `locations` whole, its `quorum` over the group's), and what is
//! assigned to an agent and reported per location follows; mistakes are reported at their line.

use serde_json::Value;

use super::common::{client, create_token, panoptes, start};
use super::{agent_token_cli, json_of, locations, monitor_id};

const CONFIG: &str = r#"
probing:
  groups:
    prod: {locations: [local, eu, ap], quorum: 1}
monitors:
  - {name: inherits, group: prod, type: tcp, host: 127.0.0.1, port: 1, interval: 60s}
  - {name: own-quorum, group: prod, type: tcp, host: 127.0.0.1, port: 1, interval: 60s, quorum: 3}
  - {name: own-locations, group: prod, type: tcp, host: 127.0.0.1, port: 1, interval: 60s,
     locations: [eu]}
  - {name: elsewhere, group: staging, type: tcp, host: 127.0.0.1, port: 1, interval: 60s}
"#;

fn listed(v: &Value) -> Vec<String> {
    v["locations"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l["location"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_groups_locations_reach_its_monitors_and_their_own_win() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(&cfg, CONFIG).expect("config");
    let token = create_token(dir.path(), "admin");
    let eu = agent_token_cli(dir.path(), "eu-1", "eu");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();

    let mut seen = Vec::new();
    for name in ["inherits", "own-quorum", "own-locations"] {
        let id = monitor_id(&c, &s, &token, name).await;
        let v = locations(&c, &s, &token, id).await;
        seen.push((name, listed(&v), v["quorum"].as_u64()));
    }
    let all = vec!["local".to_string(), "eu".into(), "ap".into()];
    assert_eq!(
        seen,
        [
            ("inherits", all.clone(), Some(1)),
            ("own-quorum", all, Some(3)),
            ("own-locations", vec!["eu".to_string()], Some(1)),
        ]
    );

    // The eu agent is assigned every monitor of the group, and nothing of another group.
    let (status, a) = json_of(
        c.get(s.url("/api/v1/agent/assignments"))
            .bearer_auth(&eu)
            .send()
            .await
            .expect("assignments"),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    let names: Vec<&str> = a["monitors"]
        .as_array()
        .expect("monitors")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["inherits", "own-locations", "own-quorum"], "{a}");
    let q: Vec<u64> = a["monitors"]
        .as_array()
        .expect("monitors")
        .iter()
        .filter_map(|m| m["quorum"].as_u64())
        .collect();
    assert_eq!(q, [1, 1, 3], "{a}");
}

#[test]
fn group_mistakes_are_reported_at_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(
        &cfg,
        "probing:\n  groups:\n    empty: {locations: []}\n    big: {locations: [eu], quorum: 2}\nmonitors:\n  - {name: a, type: tcp, host: 127.0.0.1, port: 1, quorum: 1}\n  - {name: b, group: big, type: tcp, host: 127.0.0.1, port: 1, quorum: 2}\n",
    )
    .expect("write");
    let out = panoptes().arg("check").arg(&cfg).output().expect("check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    for (path, says) in [
        ("probing.groups.empty.locations", "at least one location"),
        ("probing.groups.big.quorum", "must not exceed"),
        ("monitors[0].quorum", "needs `locations`"),
        ("monitors[1].quorum", "must not exceed"),
    ] {
        assert!(
            text.lines().any(|l| l.contains(path) && l.contains(says)),
            "{path}: {says}\n{text}"
        );
    }
}
