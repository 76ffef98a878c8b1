//! Credentials: dashboard users (argon2id passwords), sessions, API tokens, invites, login
//! throttling.
//!
//! Owns: how secrets are generated, hashed, checked and expired. Depends on: `store`, `clock`,
//! `config` (for `AuthConfig`). Secrets never reach the store in clear: tokens and session ids are
//! high-entropy, so a SHA-256 of them is enough; passwords are low-entropy and get argon2id.

pub mod config;
pub mod invites;
pub mod roles;
mod throttle;
pub mod users;

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::clock::{SharedClock, rfc3339};
use crate::store::{AuditRecord, SessionRecord, Store, StoreError, TokenRecord, UserRecord, Write};
pub use config::AuthConfig;
pub use panoptes_types::Role;
pub use throttle::Throttle;

/// Prefix of API tokens, so they are recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "pnp_";
/// Shortest password `user add` accepts.
pub const MIN_PASSWORD_LEN: usize = 8;
const MAX_NAME_LEN: usize = 64;
const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong user name or password")]
    InvalidCredentials,
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// Every password-check slot stayed taken; the attempt was not counted against anyone.
    #[error("too many logins are being checked right now; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    /// It existed and can no longer be used (an expired or used invite).
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Who made a request, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User {
        name: String,
        role: Role,
    },
    Token {
        id: String,
        name: String,
        role: Role,
    },
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::User { name, .. } | Principal::Token { name, .. } => name,
        }
    }

    pub fn role(&self) -> Role {
        match self {
            Principal::User { role, .. } | Principal::Token { role, .. } => *role,
        }
    }

    /// Whether this is the signed-in person `user` (not a token of that name).
    pub fn is_user(&self, user: &str) -> bool {
        matches!(self, Principal::User { name, .. } if name == user)
    }

    pub fn to_wire(&self) -> panoptes_types::Principal {
        panoptes_types::Principal {
            name: self.name().to_string(),
            kind: match self {
                Principal::User { .. } => panoptes_types::PrincipalKind::User,
                Principal::Token { .. } => panoptes_types::PrincipalKind::Token,
            },
            role: self.role(),
        }
    }
}

/// A new random secret: 32 bytes, URL-safe base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Constant-time comparison through hashes, so the time taken says nothing about the secret.
pub fn same_secret(a: &str, b: &str) -> bool {
    let ha = Sha256::digest(a.as_bytes());
    let hb = Sha256::digest(b.as_bytes());
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The public id of a token: a prefix of its hash (enough to name it, useless to forge it).
pub fn token_id(hash: &str) -> String {
    hash.chars().take(16).collect()
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

pub fn verify_password(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

pub fn validate_user_name(name: &str) -> Result<(), AuthError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(AuthError::Invalid(format!(
            "user name must be 1 to {MAX_NAME_LEN} characters"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(AuthError::Invalid(
            "user name may contain only letters, digits, and . _ - @".into(),
        ));
    }
    Ok(())
}

pub fn validate_password(password: &str) -> Result<(), AuthError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(AuthError::Invalid(format!(
            "password must be at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AuthError::Invalid(format!(
            "password must be at most {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Ok(())
}

/// An argon2id hash of `password`, computed off the async workers.
pub async fn hash_off_thread(password: &str) -> Result<String, AuthError> {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?
}

/// Creates or replaces a dashboard user (the offline CLI: `panoptes user add`).
pub async fn set_user(
    store: &Store,
    clock: &SharedClock,
    name: &str,
    password: &str,
    role: Role,
) -> Result<(), AuthError> {
    validate_user_name(name)?;
    validate_password(password)?;
    let hash = hash_off_thread(password).await?;
    let now = clock.now_ms();
    store
        .write(vec![
            Write::PutUser {
                name: name.to_string(),
                record: UserRecord {
                    password_hash: hash,
                    created_at_ms: now,
                    role,
                    disabled: false,
                },
            },
            audit(now, "cli", "user.set", &format!("{name} ({role})")),
        ])
        .await?;
    Ok(())
}

/// Creates an API token; the secret is returned once and stored only as a hash.
pub async fn create_token(
    store: &Store,
    clock: &SharedClock,
    actor: &str,
    name: &str,
    role: Role,
) -> Result<panoptes_types::CreatedToken, AuthError> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(AuthError::Invalid(format!(
            "token name must be 1 to {MAX_NAME_LEN} characters"
        )));
    }
    let secret = format!("{TOKEN_PREFIX}{}", new_secret());
    let hash = sha256_hex(&secret);
    let now = clock.now_ms();
    let id = token_id(&hash);
    store
        .write(vec![
            Write::PutToken {
                hash,
                record: TokenRecord {
                    name: name.to_string(),
                    created_at_ms: now,
                    role,
                },
            },
            audit(
                now,
                actor,
                "token.create",
                &format!("{name} ({id}, {role})"),
            ),
        ])
        .await?;
    Ok(panoptes_types::CreatedToken {
        token: secret,
        info: panoptes_types::TokenInfo {
            id,
            name: name.to_string(),
            role,
            created_at: rfc3339(now),
        },
    })
}

/// The throttle key of a client address: IPv4 as is, IPv6 by its /64 (what one subscriber or
/// host is given; keyed per address, one network could mint unlimited fresh keys).
fn ip_key(ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => format!("ip:{v4}"),
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

pub fn audit(at_ms: u64, actor: &str, action: &str, detail: &str) -> Write {
    Write::Audit {
        at_ms,
        record: AuditRecord {
            actor: actor.to_string(),
            action: action.to_string(),
            detail: detail.to_string(),
        },
    }
}

/// Logins, sessions and request authentication for the running server.
pub struct Auth {
    store: Store,
    clock: SharedClock,
    config: AuthConfig,
    throttle: Throttle,
    /// A real hash to verify against when the user does not exist, so a login for an unknown
    /// name costs the same time as a wrong password and does not reveal which names exist.
    decoy_hash: String,
    /// Password verifications running at once.
    verifying: Arc<tokio::sync::Semaphore>,
    /// Changes to users one at a time: "no user yet" and "the last admin" are checked and
    /// acted on without another change in between.
    users_lock: tokio::sync::Mutex<()>,
    /// The first-run setup code and when it expires (see `users.rs`).
    setup_code: std::sync::Mutex<Option<(String, u64)>>,
}

/// argon2 verifications at once (each ~19 MiB and a core for ~50 ms).
const MAX_VERIFYING: usize = 4;
/// How long a login waits for its turn to verify before being told to retry.
const VERIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Auth {
    pub fn new(
        store: Store,
        clock: SharedClock,
        config: AuthConfig,
    ) -> Result<Arc<Auth>, AuthError> {
        let decoy_hash = hash_password(&new_secret())?;
        Ok(Arc::new(Auth {
            throttle: Throttle::new(
                config.login_free_failures,
                config.login_backoff.get(),
                config.login_backoff_max.get(),
            ),
            store,
            clock,
            config,
            decoy_hash,
            verifying: Arc::new(tokio::sync::Semaphore::new(MAX_VERIFYING)),
            users_lock: tokio::sync::Mutex::new(()),
            setup_code: std::sync::Mutex::new(None),
        }))
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Checks a password and opens a session. Returns the session secret (the cookie value)
    /// and who it signs in.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: std::net::IpAddr,
    ) -> Result<(String, Principal), AuthError> {
        let now = self.clock.now_ms();
        // Only a valid name becomes a throttle key (an invalid one, up to a request body long,
        // must not be stored); the client address is always one.
        let valid = validate_user_name(username).is_ok() && password.len() <= MAX_PASSWORD_LEN;
        let user_key = valid.then(|| format!("user:{}", username.to_ascii_lowercase()));
        let ip_key = ip_key(client);
        let keys: Vec<&str> = user_key
            .as_deref()
            .into_iter()
            .chain([ip_key.as_str()])
            .collect();
        self.throttle
            .reserve(&keys, now)
            .map_err(|wait_ms| AuthError::Throttled {
                retry_after_secs: wait_ms.div_ceil(1000).max(1),
            })?;
        let record = if valid {
            let name = username.to_string();
            self.store.read(move |s| s.user(&name)).await?
        } else {
            None
        };
        let hash = record
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| self.decoy_hash.clone());
        let pw = password.to_string();
        // argon2 costs ~50 ms of a core and 19 MiB: at most `MAX_VERIFYING` run at once, the rest
        // wait their turn (bounded), so a login storm cannot take every core and the memory.
        // A login that never got its turn was not a guess: its reservation is given back, so a
        // storm of logins cannot lock out the user and addresses it names.
        let Ok(Ok(_turn)) =
            tokio::time::timeout(VERIFY_WAIT, self.verifying.clone().acquire_owned()).await
        else {
            self.throttle.refund(&keys);
            return Err(AuthError::Busy {
                retry_after_secs: 1,
            });
        };
        let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &pw))
            .await
            .unwrap_or(false);
        // A disabled user's right password is refused like a wrong one (and counted as one).
        let Some(record) = record.filter(|r| matches && !r.disabled) else {
            // Already counted by the reservation.
            return Err(AuthError::InvalidCredentials);
        };
        self.throttle.succeed(&keys);
        let secret = self
            .open_session(
                username,
                vec![audit(now, username, "session.login", &client.to_string())],
            )
            .await?;
        let who = Principal::User {
            name: username.to_string(),
            role: record.role,
        };
        Ok((secret, who))
    }

    /// Writes a new session for `user` along with `with`, and returns its secret.
    pub(crate) async fn open_session(
        &self,
        user: &str,
        mut with: Vec<Write>,
    ) -> Result<String, AuthError> {
        let now = self.clock.now_ms();
        let secret = new_secret();
        let ttl = self.config.session_ttl.get().as_millis() as u64;
        with.insert(
            0,
            Write::PutSession {
                hash: sha256_hex(&secret),
                record: SessionRecord {
                    user: user.to_string(),
                    created_at_ms: now,
                    expires_at_ms: now.saturating_add(ttl),
                },
            },
        );
        self.store.write(with).await?;
        Ok(secret)
    }

    pub async fn logout(&self, session_secret: &str) -> Result<(), AuthError> {
        self.store
            .write(vec![Write::DeleteSession {
                hash: sha256_hex(session_secret),
            }])
            .await?;
        Ok(())
    }

    /// The user behind a session cookie, if the session exists and has not expired.
    pub async fn session(&self, secret: &str) -> Result<Option<Principal>, AuthError> {
        let hash = sha256_hex(secret);
        // The session and its user as they are now, in one read: deleted or disabled ends
        // every session of theirs, a new role applies at the next request.
        let found = self
            .store
            .read(move |st| {
                let Some(s) = st.session(&hash)? else {
                    return Ok(None);
                };
                Ok(st.user(&s.user)?.map(|u| (s, u)))
            })
            .await?;
        let Some((s, user)) = found else {
            return Ok(None);
        };
        if s.expires_at_ms <= self.clock.now_ms() || user.disabled {
            return Ok(None);
        }
        Ok(Some(Principal::User {
            name: s.user,
            role: user.role,
        }))
    }

    /// The token behind a bearer credential.
    pub async fn token(&self, secret: &str) -> Result<Option<Principal>, AuthError> {
        let hash = sha256_hex(secret);
        let key = hash.clone();
        let found = self.store.read(move |s| s.token(&key)).await?;
        Ok(found.map(|t| Principal::Token {
            id: token_id(&hash),
            name: t.name,
            role: t.role,
        }))
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_secret() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong horse"));
        assert!(!verify_password("not a phc string", "x"));
    }

    #[test]
    fn secrets_are_distinct_and_url_safe() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn names_and_passwords_are_validated() {
        assert!(validate_user_name("alice").is_ok());
        assert!(validate_user_name("").is_err());
        assert!(validate_user_name("a b").is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let key = |s: &str| ip_key(s.parse().expect("address"));
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(key("2001:db8:1:2::1"), "ip:2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("192.0.2.7"), "ip:192.0.2.7");
        assert_eq!(
            key("::ffff:192.0.2.7"),
            "ip:192.0.2.7",
            "mapped IPv4 is IPv4"
        );
    }

    /// A login that timed out waiting for a verification slot was never checked: it answers
    /// "busy" and leaves no failure behind (it used to keep its reservation, so a burst of
    /// logins locked the user out).
    #[tokio::test(start_paused = true)]
    async fn a_login_that_never_verified_is_not_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Default::default(), Default::default()).expect("store");
        let clock: SharedClock = Arc::new(crate::clock::SystemClock);
        let config = AuthConfig {
            login_free_failures: 1,
            ..crate::config::section_default()
        };
        let auth = Auth::new(store.clone(), clock, config).expect("auth");
        // Every verification slot is taken for the whole test.
        let _slots = auth
            .verifying
            .clone()
            .acquire_many_owned(MAX_VERIFYING as u32)
            .await
            .expect("slots");
        let ip: std::net::IpAddr = [192, 0, 2, 1].into();
        for _ in 0..5 {
            match auth.login("alice", "password1", ip).await {
                Err(AuthError::Busy { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
                other => panic!("expected busy, got {other:?}"),
            }
        }
        assert_eq!(
            auth.throttle
                .wait(&["user:alice", "ip:192.0.2.1"], auth.clock.now_ms()),
            None,
            "nothing was counted"
        );
        store.close().await;
    }
}
