//! Users and roles: first-run setup, the users an admin manages, the role every request carries
//! (`/api/v1/setup`, `/api/v1/users`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnknownVariant;

/// What a user or an API token may do. Ordered: each role may do what the ones below it may.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything except users, tokens, the audit log and backups.
    Viewer,
    /// Also changes monitors, silences, incidents, overrides, issue and exception states.
    Editor,
    /// Also users, tokens, agents, the audit log and backups.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, UnknownVariant> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownVariant::new("role", s))
    }
}

/// `GET /api/v1/setup`: whether the first admin still has to be created.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SetupState {
    /// No user exists yet.
    pub needed: bool,
    /// This client is not on the server's machine: it must send the setup code `serve` logged.
    pub code_required: bool,
}

/// `POST /api/v1/setup`: creates the first admin (and signs it in).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SetupRequest {
    pub username: String,
    pub password: String,
    /// The one-time code from the server's log; needed unless the client is on loopback.
    #[serde(default)]
    pub code: Option<String>,
}

/// `GET /api/v1/users`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UserView {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// `POST /api/v1/users`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
}

/// `PATCH /api/v1/users/{name}`: the fields given change.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct UserUpdate {
    #[serde(default)]
    pub role: Option<Role>,
    /// A new password (an admin resetting it).
    #[serde(default)]
    pub password: Option<String>,
    /// A disabled user cannot sign in and their sessions stop working.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `POST /api/v1/me/password`: a signed-in user changes their own password.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// `GET /api/v1/config` (admins): the running configuration, every section with its defaults,
/// secrets replaced by `<redacted>`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EffectiveConfig {
    /// The same tree as `config`, as YAML text.
    pub yaml: String,
    pub config: serde_json::Value,
}

/// `POST /api/v1/invites`: a one-time link that lets someone create their own user.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NewInvite {
    pub role: Role,
    /// The user name the invitee must take; any free one when absent.
    #[serde(default)]
    pub username: Option<String>,
    /// How long the link works, like `30m`, `24h` or `7d` (default 7 days, at most 30).
    #[serde(default)]
    pub expires_in: Option<String>,
}

/// A pending invite, as listed (`GET /api/v1/invites`); the token is never shown again.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InviteInfo {
    pub id: String,
    pub role: Role,
    pub username: Option<String>,
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// `POST /api/v1/invites` answer: the token and its link, shown this once.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CreatedInvite {
    pub id: String,
    pub token: String,
    /// The dashboard's page for it (`/invite/{token}`), absolute when the server knows its URL.
    pub url: String,
    pub role: Role,
    pub username: Option<String>,
    /// RFC 3339.
    pub expires_at: String,
}

/// `GET /api/v1/invites/{token}` (public): what the link offers, when it still works.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InviteState {
    pub valid: bool,
    pub role: Role,
    pub username: Option<String>,
    /// RFC 3339.
    pub expires_at: String,
}

/// `POST /api/v1/invites/{token}/accept` (public): creates the user and signs them in.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AcceptInvite {
    pub username: String,
    pub password: String,
}
