//! Which role each API request needs: the whole rule in one table, so a route added later is
//! covered by its method and area without touching its handler.
//!
//! Owns: the mapping (method, path under `/api/v1`) → least role. Depends on: nothing (pure).
//!
//! Reads are for everyone signed in; changes need `editor`; users, tokens, invites, agents'
//! tokens, the audit log, backups (a copy of every secret hash) and the running config are
//! `admin` only, reads included (the link's own routes, `/invites/{token}` and its `accept`, are
//! outside the authenticated API). A few changes are a person's own business and open to every
//! role: signing out, their password, their own on-call contact methods (the handler checks it
//! is theirs).

use axum::http::Method;
use panoptes_types::Role;

/// Areas (a path and everything under it) only admins may read or change.
const ADMIN_AREAS: &[&str] = &[
    "/tokens", "/users", "/audit", "/backup", "/config", "/invites",
];
/// Areas anyone may read and only admins may change.
const ADMIN_WRITES: &[&str] = &["/agents"];

fn under(path: &str, area: &str) -> bool {
    path == area
        || path
            .strip_prefix(area)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The least role a request needs. `path` is relative to the API prefix (`/monitors`), or
/// carries it (`/api/v1/monitors`).
pub fn required(method: &Method, path: &str) -> Role {
    let path = path
        .strip_prefix(panoptes_types::API_PREFIX)
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path);
    if ADMIN_AREAS.iter().any(|a| under(path, a)) {
        return Role::Admin;
    }
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if reads && editor_reads(path) {
        return Role::Editor;
    }
    if reads {
        return Role::Viewer;
    }
    if ADMIN_WRITES.iter().any(|a| under(path, a)) {
        return Role::Admin;
    }
    if own_business(path) {
        return Role::Viewer;
    }
    Role::Editor
}

/// Reads that show what only those who may change it need: a monitor's fields as written
/// (headers, bearer tokens, passwords of basic auth) and their export.
fn editor_reads(path: &str) -> bool {
    path == "/monitors/export"
        || path
            .strip_prefix("/monitors/")
            .is_some_and(|rest| rest.ends_with("/config") && rest.matches('/').count() == 1)
}

/// Changes every signed-in person makes for themselves.
fn own_business(path: &str) -> bool {
    path == "/session"
        || path == "/me/password"
        || path
            .strip_prefix("/oncall/users/")
            .is_some_and(|rest| rest.ends_with("/contacts") && rest.matches('/').count() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_for_viewers_changes_for_editors() {
        for p in [
            "/monitors",
            "/issues/7",
            "/oncall/schedules",
            "/status-pages",
        ] {
            assert_eq!(required(&Method::GET, p), Role::Viewer, "{p}");
        }
        for (m, p) in [
            (Method::POST, "/silences"),
            (Method::DELETE, "/silences/3"),
            (Method::PATCH, "/issues/7"),
            (Method::POST, "/pages/1/acknowledge"),
            (Method::PUT, "/oncall/overrides/2"),
            (Method::POST, "/status-pages/main/incidents"),
        ] {
            assert_eq!(required(&m, p), Role::Editor, "{m} {p}");
        }
    }

    #[test]
    fn users_tokens_audit_and_backups_are_admin_only_even_to_read() {
        for p in [
            "/users",
            "/users/ana",
            "/tokens",
            "/tokens/abc",
            "/audit",
            "/backup",
            "/config",
            "/invites",
            "/invites/abc",
        ] {
            assert_eq!(required(&Method::GET, p), Role::Admin, "{p}");
            assert_eq!(required(&Method::POST, p), Role::Admin, "{p}");
        }
        assert_eq!(
            required(&Method::GET, "/api/v1/tokens"),
            Role::Admin,
            "with the prefix too"
        );
        // An area's name as a prefix of another route is not that area.
        assert_eq!(required(&Method::GET, "/usersettings"), Role::Viewer);
        assert_eq!(required(&Method::GET, "/agents"), Role::Viewer);
        assert_eq!(required(&Method::POST, "/agents"), Role::Admin);
        assert_eq!(required(&Method::DELETE, "/agents/eu-1"), Role::Admin);
    }

    #[test]
    fn a_monitors_fields_as_written_are_for_editors() {
        assert_eq!(required(&Method::GET, "/monitors/7/config"), Role::Editor);
        assert_eq!(required(&Method::GET, "/monitors/export"), Role::Editor);
        assert_eq!(required(&Method::GET, "/monitors/7"), Role::Viewer);
        assert_eq!(required(&Method::POST, "/monitors"), Role::Editor);
        assert_eq!(required(&Method::PATCH, "/monitors/7"), Role::Editor);
    }

    #[test]
    fn a_persons_own_changes_are_open_to_every_role() {
        assert_eq!(required(&Method::DELETE, "/session"), Role::Viewer);
        assert_eq!(required(&Method::POST, "/me/password"), Role::Viewer);
        assert_eq!(
            required(&Method::PUT, "/oncall/users/ana/contacts"),
            Role::Viewer
        );
        assert_eq!(
            required(&Method::PUT, "/oncall/users/ana/contacts/extra"),
            Role::Editor
        );
    }
}
