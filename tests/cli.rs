//! The command line as a user meets it.

mod common;

use common::{panoptes, start};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn version_prints_the_package_version() {
    let out = panoptes().arg("--version").output().expect("run");
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("panoptes {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn init_writes_an_example_that_check_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("panoptes.yaml");
    let out = panoptes().arg("init").arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&file).expect("read");
    for section in ["server:", "log:", "store:", "auth:"] {
        assert!(written.contains(section), "example lacks {section}");
    }
    let out = panoptes().arg("check").arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(": ok"));

    // A second init refuses to clobber the file.
    let out = panoptes().arg("init").arg(&file).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already exists"));
}

#[test]
fn check_reports_every_error_with_location_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "server:\n  listen: 127.0.0.1:99999\n  colour: blue\nlog:\n  format: yaml\nauth:\n  session_ttl: forever\n",
    )
    .expect("write");
    let out = panoptes().arg("check").arg(&file).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let f = file.display().to_string();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("{f}:2:11: server.listen: ")),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(&format!("{f}:3:3: server.colour: unknown field")),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(&format!("{f}:5:11: log.format: ")),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with(&format!("{f}:7:16: auth.session_ttl: expected a duration")),
        "{}",
        lines[3]
    );
}

#[test]
fn check_of_a_missing_file_fails_clearly() {
    let out = panoptes()
        .args(["check", "/nonexistent/panoptes.yaml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("cannot read"));
}

#[test]
fn serve_refuses_an_invalid_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "server:\n  listen: nope\n").expect("write");
    let out = panoptes()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("invalid configuration"), "{stderr}");
    assert!(stderr.contains("server.listen"), "{stderr}");
}

#[test]
fn a_bad_listen_address_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = panoptes()
        .args(["serve", "--listen", "not-an-address", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("invalid --listen address `not-an-address`"),
        "{stderr}"
    );
}

#[test]
fn a_port_in_use_is_one_line_and_exit_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = panoptes()
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(dir.path())
        .env("PANOPTES_LOG", "off")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn environment_variables_stand_in_for_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = panoptes()
        .args(["serve"])
        .env("PANOPTES_LISTEN", "bogus")
        .env("PANOPTES_DATA_DIR", dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("invalid --listen address `bogus`"));
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = start(dir.path(), &[]);
    let out = panoptes()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("PANOPTES_LOG", "off")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is locked by another process"), "{stderr}");
}

#[test]
fn a_corrupt_data_file_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("panoptes.redb"), b"this is not a database").expect("write");
    let out = panoptes()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("PANOPTES_LOG", "off")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("corrupt"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn user_add_rejects_short_passwords() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = panoptes()
        .args(["user", "add", "alice", "--data-dir"])
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"short\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("at least 8 characters"));
}

/// `check` shows what `serve` would warn about (a valid file that will not do all it says),
/// and still exits 0.
#[test]
fn check_prints_the_warnings_serve_would_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("warn.yaml");
    std::fs::write(
        &file,
        "monitors:\n  - {name: api, type: push, token: api-token-0123456789, labels: {team: web}}\nalerts:\n  time_intervals: [{name: offhours}]\n  rules:\n    - {name: A, monitor: {state: down, monitors: [nope]}}\n    - {name: B, monitor: {state: down, matchers: ['team=\"payments\"']}}\n",
    )
    .expect("write");
    let out = panoptes().arg("check").arg(&file).output().expect("run");
    assert!(out.status.success(), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[0].starts_with("warning: alerts.time_intervals:"),
        "{stdout}"
    );
    assert!(
        lines[1]
            .starts_with("warning: alerts.rules[0].monitor.monitors[0]: no monitor named `nope`"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with(
            "warning: alerts.rules[1].monitor.matchers: no monitor has labels matching them"
        ),
        "{stdout}"
    );
    assert!(lines[3].ends_with(": ok"), "{stdout}");
}
