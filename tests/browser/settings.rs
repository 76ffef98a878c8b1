//! The settings view in the browser: an admin adds a viewer and creates a token there (its
//! secret shown once), the audit log lists both; the viewer, signed in, sees no admin sections,
//! changes their own password, and a write they try elsewhere is refused with the server's 403
//! message.

use super::*;

#[tokio::test]
async fn an_admin_adds_a_viewer_whose_writes_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "root", "correct horse battery");
    let token = create_token(dir.path(), "test");
    let s = start(dir.path(), &[]);
    // A silence for the viewer to try to expire.
    let now = jiff::Timestamp::now();
    let r = client()
        .post(s.url("/api/v1/silences"))
        .bearer_auth(&token)
        .json(&json!({
            "matchers": [{"name": "alertname", "value": "Down", "isRegex": false}],
            "startsAt": now.to_string(),
            "endsAt": (now + jiff::SignedDuration::from_secs(3600)).to_string(),
            "createdBy": "root",
            "comment": "settings test",
        }))
        .send()
        .await
        .expect("silence");
    assert!(r.status().is_success(), "silence: {}", r.status());

    let d = Driver::start().await;
    d.goto(&s.url("/settings")).await;
    d.type_into("#username", "root").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/settings")).await;
    // The projects' DSNs (the embedded default project) are there for everyone.
    d.wait_text("#settings-projects", "http://").await;

    d.type_into("#new-user input[name='username']", "vic").await;
    d.type_into("#new-user input[name='password']", "viewer password 1")
        .await;
    d.click("#new-user select[name='role'] option[value='viewer']")
        .await;
    d.click("#new-user button[type='submit']").await;
    d.find("tr.user-row[data-name='vic'][data-role='viewer'][data-disabled='false']")
        .await;

    d.type_into("#new-token input[name='name']", "ci").await;
    d.click("#new-token select[name='role'] option[value='editor']")
        .await;
    d.click("#new-token button[type='submit']").await;
    let secret = d.wait_text("#token-secret", "not shown again").await;
    assert!(
        secret.contains("ci") && secret.contains("editor"),
        "{secret}"
    );
    d.find("#settings-tokens tr.token-row").await;
    d.screenshot("settings.png").await;
    // The audit log names both changes at once, and who made them.
    d.wait_text(
        "#settings-audit tr.audit-row[data-action='user.create'][data-actor='root']",
        "vic",
    )
    .await;
    d.wait_text(
        "#settings-audit tr.audit-row[data-action='token.create'][data-actor='root']",
        "ci",
    )
    .await;

    d.click("#logout").await;
    d.find("#login-form").await;
    d.type_into("#username", "vic").await;
    d.type_into("#password", "viewer password 1").await;
    d.click("#login").await;
    d.wait_text("#principal", "vic").await;
    d.goto(&s.url("/settings")).await;
    d.find("#settings-not-admin").await;
    d.find("#settings-password").await;
    assert!(
        !d.exists("#settings-users").await && !d.exists("#settings-tokens").await,
        "a viewer is not shown the admin sections"
    );
    // Their own password is theirs to change: a wrong current one is refused with the
    // server's message, the right one works, and the next sign-in needs the new one.
    let form = |field: &str| format!("#password-form input[name='{field}']");
    d.type_into(&form("current"), "not my password").await;
    d.type_into(&form("new"), "viewer password 2").await;
    d.type_into(&form("again"), "viewer password 2").await;
    d.click("#password-form button[type='submit']").await;
    d.find("#settings-password .error").await;
    d.type_into(&form("current"), "viewer password 1").await;
    d.type_into(&form("new"), "viewer password 2").await;
    d.type_into(&form("again"), "viewer password 2").await;
    d.click("#password-form button[type='submit']").await;
    d.find("#password-changed").await;

    // A write: the server refuses it, and the page says why.
    d.goto(&s.url("/alerts")).await;
    d.click("tr.silence-row .expire-silence").await;
    d.wait_text("tr.silence-row .error", "needs the editor role")
        .await;
    d.click("#logout").await;
    d.find("#login-form").await;
    d.type_into("#username", "vic").await;
    d.type_into("#password", "viewer password 2").await;
    d.click("#login").await;
    d.wait_text("#principal", "vic").await;
    d.call(reqwest::Method::DELETE, "", json!({})).await;
}

/// An admin invites an editor from Settings > Users and reads the running config there; the
/// link, opened signed out, takes a name and a password and signs the new editor in; opened
/// again, it says it has been used.
#[tokio::test]
async fn an_invite_link_signs_a_new_editor_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "root", "correct horse battery");
    let s = start(dir.path(), &[]);

    let d = Driver::start().await;
    d.goto(&s.url("/settings")).await;
    d.type_into("#username", "root").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.wait_url(&s.url("/settings")).await;

    d.click("#new-invite select[name='invite-role'] option[value='editor']")
        .await;
    d.click("#invite").await;
    let link = d.wait_text("#invite-url", "/invite/pnpi_").await;
    d.wait_text("#settings-invites tr.invite-row", "editor")
        .await;
    d.wait_text(
        "#settings-audit tr.audit-row[data-action='invite.create'][data-actor='root']",
        "editor",
    )
    .await;
    assert!(
        link.starts_with(&s.url("/invite/")),
        "an absolute link to this dashboard: {link}"
    );
    // The running config, read-only, secrets (the default project's DSN key) redacted.
    d.click("#config-details summary").await;
    d.wait_text("#config-yaml", "listen: 127.0.0.1:0").await;
    d.wait_text("#config-yaml", "keys: [<redacted>]").await;

    d.click("#logout").await;
    d.find("#login-form").await;
    d.goto(link.trim()).await;
    d.wait_text("#invite-role", "editor").await;
    d.type_into("#invite-username", "newbie").await;
    d.type_into("#invite-password", "a fine password").await;
    d.click("#invite-accept").await;
    d.wait_text("#principal", "newbie").await;
    d.wait_url(&s.url("/")).await;

    // Once only.
    d.click("#logout").await;
    d.find("#login-form").await;
    d.goto(link.trim()).await;
    d.wait_text("#invite-error", "used").await;
}
