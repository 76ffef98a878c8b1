//! Values stored in the tables. JSON, so fields can be added without a migration (unknown fields
//! are ignored on read, missing ones take their serde default).

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use panoptes_types::Role;

use super::StoreError;

/// Users and tokens stored before roles existed could do everything: they read back as admins.
fn admin() -> Role {
    Role::Admin
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// PHC string (argon2id).
    pub password_hash: String,
    pub created_at_ms: u64,
    #[serde(default = "admin")]
    pub role: Role,
    /// Cannot sign in; their sessions stop working.
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub created_at_ms: u64,
    #[serde(default = "admin")]
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub actor: String,
    pub action: String,
    #[serde(default)]
    pub detail: String,
}

/// A one-time link to create a user (`auth::invites`), keyed by the SHA-256 of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    pub role: Role,
    /// The only user name it may create; any free one when `None`.
    #[serde(default)]
    pub username: Option<String>,
    pub created_by: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    /// When it was accepted, and the user it made; a used invite is kept (to say so) until
    /// pruned.
    #[serde(default)]
    pub used_at_ms: Option<u64>,
    #[serde(default)]
    pub used_by: Option<String>,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode(e.to_string()))
}
