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

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode(e.to_string()))
}
