//! Settings an admin uses against a running server: the running config, redacted and for admins
//! only, and invites by one-time link (made, listed, accepted once, expired, revoked).

use super::users::send;
use super::*;
use reqwest::Method;

/// A client signed in as `user`.
async fn signed_in(s: &common::Running, user: &str) -> reqwest::Client {
    let c = client();
    let resp = login(&c, s, user, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK, "{user} signs in");
    c
}

#[tokio::test]
async fn the_running_config_is_for_admins_and_shows_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        r#"
monitors:
  - name: api
    type: http
    url: "https://u:SECRETVALUE1@127.0.0.1:9/health"
    bearer_token: SECRETVALUE2
    headers: {X-Api-Key: SECRETVALUE3}
alerts:
  global:
    smtp_smarthost: smtp.example.com:587
    smtp_from: panoptes@example.com
    smtp_auth_password: SECRETVALUE4
  route: {receiver: pager}
  receivers:
    - name: pager
      pagerduty_configs: [{routing_key: SECRETVALUE5}]
      slack_configs: [{api_url: "https://hooks.slack.com/services/SECRETVALUE6"}]
"#,
    )
    .expect("write config");
    add_user(dir.path(), "ana", PASSWORD);
    common::add_user_as(dir.path(), "vic", PASSWORD, "viewer");
    common::add_user_as(dir.path(), "ed", PASSWORD, "editor");
    let config_arg = config.display().to_string();
    let s = start(dir.path(), &["--config", &config_arg]);

    let ana = signed_in(&s, "ana").await;
    let (st, v) = send(&ana, &s, Method::GET, "/api/v1/config", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let text = v.to_string();
    assert!(!text.contains("SECRETVALUE"), "a secret is shown: {text}");
    assert_eq!(v["config"]["monitors"][0]["name"], "api");
    // The flag's value, which wins over the file's: what the server runs with.
    assert_eq!(v["config"]["server"]["listen"], "127.0.0.1:0");
    assert_eq!(
        v["config"]["alerts"]["receivers"][0]["pagerduty_configs"][0]["routing_key"],
        "<redacted>"
    );
    let yaml = v["yaml"].as_str().expect("yaml text");
    assert!(yaml.starts_with("server:\n"), "{yaml}");
    assert!(yaml.contains("smtp_auth_password: <redacted>"), "{yaml}");

    for who in ["vic", "ed"] {
        let c = signed_in(&s, who).await;
        let (st, v) = send(&c, &s, Method::GET, "/api/v1/config", None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}: {v}");
        assert_eq!(v["error"]["code"], "forbidden");
    }
}

#[tokio::test]
async fn an_invite_link_makes_one_user_with_its_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "ana", PASSWORD);
    common::add_user_as(dir.path(), "vic", PASSWORD, "viewer");
    common::add_user_as(dir.path(), "ed", PASSWORD, "editor");
    let s = start(dir.path(), &[]);
    let ana = signed_in(&s, "ana").await;

    // Viewers and editors cannot invite, nor list invites.
    for who in ["vic", "ed"] {
        let c = signed_in(&s, who).await;
        let (st, _) = send(
            &c,
            &s,
            Method::POST,
            "/api/v1/invites",
            Some(json!({"role": "viewer"})),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who} creates");
        let (st, _) = send(&c, &s, Method::GET, "/api/v1/invites", None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who} lists");
    }

    let (st, made) = send(
        &ana,
        &s,
        Method::POST,
        "/api/v1/invites",
        Some(json!({"role": "editor", "expires_in": "1d"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("pnpi_"), "{token}");
    assert_eq!(
        made["url"],
        format!("http://{}/invite/{token}", s.addr),
        "the link is the dashboard's page"
    );
    assert_eq!(made["role"], "editor");
    let (st, list) = send(&ana, &s, Method::GET, "/api/v1/invites", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["id"], made["id"]);
    assert!(
        !list.to_string().contains(&token),
        "the token is not listed"
    );

    // The link's page, without a credential.
    let stranger = client();
    let (st, state) = send(
        &stranger,
        &s,
        Method::GET,
        &format!("/api/v1/invites/{token}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{state}");
    assert_eq!(state["valid"], true);
    assert_eq!(state["role"], "editor");
    let accept = format!("/api/v1/invites/{token}/accept");
    let (st, v) = send(
        &stranger,
        &s,
        Method::POST,
        &accept,
        Some(json!({"username": "newbie", "password": "a fine password"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["role"], "editor");
    // Signed in by the answer's cookie, as an editor.
    let (st, me) = send(&stranger, &s, Method::GET, "/api/v1/me", None).await;
    assert_eq!((st, me["name"].clone()), (StatusCode::OK, json!("newbie")));
    assert_eq!(me["role"], "editor");
    // And the password works for a new login.
    let fresh = client();
    let resp = login(&fresh, &s, "newbie", "a fine password").await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Once only.
    let (st, v) = send(
        &client(),
        &s,
        Method::POST,
        &accept,
        Some(json!({"username": "another", "password": "a fine password"})),
    )
    .await;
    assert_eq!(st, StatusCode::GONE, "{v}");
    assert_eq!(v["error"]["code"], "gone");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("used")),
        "{v}"
    );
    let (st, _) = send(
        &client(),
        &s,
        Method::GET,
        &format!("/api/v1/invites/{token}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::GONE);
    let (_, list) = send(&ana, &s, Method::GET, "/api/v1/invites", None).await;
    assert_eq!(list["items"], json!([]), "no longer pending");

    // Expired.
    let (st, short) = send(
        &ana,
        &s,
        Method::POST,
        "/api/v1/invites",
        Some(json!({"role": "viewer", "expires_in": "1s"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{short}");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let late = format!(
        "/api/v1/invites/{}/accept",
        short["token"].as_str().expect("token")
    );
    let (st, v) = send(
        &client(),
        &s,
        Method::POST,
        &late,
        Some(json!({"username": "late", "password": "a fine password"})),
    )
    .await;
    assert_eq!(st, StatusCode::GONE, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired")),
        "{v}"
    );

    // Revoked.
    let (_, revoked) = send(
        &ana,
        &s,
        Method::POST,
        "/api/v1/invites",
        Some(json!({"role": "admin"})),
    )
    .await;
    let id = revoked["id"].as_str().expect("id");
    let (st, _) = send(
        &ana,
        &s,
        Method::DELETE,
        &format!("/api/v1/invites/{id}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v) = send(
        &client(),
        &s,
        Method::POST,
        &format!(
            "/api/v1/invites/{}/accept",
            revoked["token"].as_str().expect("token")
        ),
        Some(json!({"username": "sneaky", "password": "a fine password"})),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let resp = login(&client(), &s, "sneaky", "a fine password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "no user was made");

    // Every step is in the audit log.
    let (_, audit) = send(&ana, &s, Method::GET, "/api/v1/audit", None).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["invite.create", "invite.accept", "invite.revoke"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}
