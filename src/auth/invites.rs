//! Invites: an admin makes a one-time link carrying a role (and optionally the user name to
//! take); whoever opens it chooses a name and a password and becomes that user, signed in.
//!
//! Owns: the invite rules (expiry, single use, the pending limit, pruning). Depends on: `store`
//! (invites, users and sessions through the writer), `clock`.
//!
//! The token is a secret like an API token's (256 random bits), so the store keeps its SHA-256
//! only and the admin sees it once. Accepting runs under the users lock and writes the user,
//! the invite marked used, the audit entry and the session in one batch: two accepts of one
//! link cannot both make a user. A used or expired invite answers `410` (kept for
//! [`KEEP_AFTER_MS`], then pruned); a revoked or unknown one `404`.

use panoptes_types::{CreatedInvite, InviteInfo, InviteState, NewInvite, Role};

use super::{
    Auth, AuthError, Principal, audit, hash_off_thread, new_secret, sha256_hex, token_id,
    validate_password, validate_user_name,
};
use crate::clock::rfc3339;
use crate::store::invites::InvitesWrite;
use crate::store::{InviteRecord, UserRecord, Write};

/// Prefix of invite tokens, so they are recognisable in logs and secret scanners.
pub const INVITE_PREFIX: &str = "pnpi_";
/// Default lifetime of a link.
pub const DEFAULT_TTL_MS: u64 = 7 * 86_400_000;
/// Longest lifetime an admin may give a link.
pub const MAX_TTL_MS: u64 = 30 * 86_400_000;
/// Shortest (a link meant to be used at once, while the admin watches).
const MIN_TTL_MS: u64 = 1_000;
/// Pending invites at most (a bound on the table; nobody needs more links at once).
pub const MAX_PENDING: usize = 1000;
/// How long a used or expired invite is kept so its link says "used" or "expired" rather than
/// "unknown".
pub const KEEP_AFTER_MS: u64 = 30 * 86_400_000;

/// Where an invite stands now.
enum Standing {
    Pending,
    Used,
    Expired,
}

fn standing(r: &InviteRecord, now: u64) -> Standing {
    if r.used_at_ms.is_some() {
        Standing::Used
    } else if r.expires_at_ms <= now {
        Standing::Expired
    } else {
        Standing::Pending
    }
}

fn info(hash: &str, r: &InviteRecord) -> InviteInfo {
    InviteInfo {
        id: token_id(hash),
        role: r.role,
        username: r.username.clone(),
        created_by: r.created_by.clone(),
        created_at: rfc3339(r.created_at_ms),
        expires_at: rfc3339(r.expires_at_ms),
    }
}

/// The lifetime asked for (`30m`, `24h`, `7d`), bounded.
fn ttl_ms(expires_in: Option<&str>) -> Result<u64, AuthError> {
    let Some(text) = expires_in.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_TTL_MS);
    };
    let d: crate::config::Duration = text
        .parse()
        .map_err(|e| AuthError::Invalid(format!("expires_in: {e} (like 30m, 24h or 7d)")))?;
    let ms = u64::try_from(d.get().as_millis()).unwrap_or(u64::MAX);
    if !(MIN_TTL_MS..=MAX_TTL_MS).contains(&ms) {
        return Err(AuthError::Invalid(
            "expires_in: from 1 second to 30 days".into(),
        ));
    }
    Ok(ms)
}

impl Auth {
    /// Makes an invite; its token is returned this once. `base` is the dashboard's address
    /// (the link is `{base}/invite/{token}`).
    pub async fn create_invite(
        &self,
        actor: &str,
        req: &NewInvite,
        base: &str,
    ) -> Result<CreatedInvite, AuthError> {
        let username = req
            .username
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if let Some(name) = username {
            validate_user_name(name)?;
        }
        let ttl = ttl_ms(req.expires_in.as_deref())?;
        let now = self.clock.now_ms();
        let all = self.store.read(|s| s.invites()).await?;
        let pending = all
            .iter()
            .filter(|(_, r)| matches!(standing(r, now), Standing::Pending))
            .count();
        if pending >= MAX_PENDING {
            return Err(AuthError::Conflict(format!(
                "{MAX_PENDING} invites are pending already: revoke some first"
            )));
        }
        let token = format!("{INVITE_PREFIX}{}", new_secret());
        let hash = sha256_hex(&token);
        let id = token_id(&hash);
        let record = InviteRecord {
            role: req.role,
            username: username.map(str::to_string),
            created_by: actor.to_string(),
            created_at_ms: now,
            expires_at_ms: now.saturating_add(ttl),
            used_at_ms: None,
            used_by: None,
        };
        // Old used and expired invites go with this write: the table stays bounded.
        let mut writes: Vec<Write> = all
            .iter()
            .filter(|(_, r)| {
                let ended = r.used_at_ms.unwrap_or(r.expires_at_ms);
                !matches!(standing(r, now), Standing::Pending)
                    && ended.saturating_add(KEEP_AFTER_MS) <= now
            })
            .map(|(h, _)| Write::Invites(InvitesWrite::Remove { hash: h.clone() }))
            .collect();
        let detail = match username {
            Some(n) => format!("{id} ({}, for {n})", req.role),
            None => format!("{id} ({})", req.role),
        };
        writes.push(Write::Invites(InvitesWrite::Put {
            hash,
            record: record.clone(),
        }));
        writes.push(audit(now, actor, "invite.create", &detail));
        self.store.write(writes).await?;
        Ok(CreatedInvite {
            url: format!("{}/invite/{token}", base.trim_end_matches('/')),
            id,
            token,
            role: record.role,
            username: record.username,
            expires_at: rfc3339(record.expires_at_ms),
        })
    }

    /// Pending invites (not used, not expired), oldest first.
    pub async fn invites(&self) -> Result<Vec<InviteInfo>, AuthError> {
        let now = self.clock.now_ms();
        let mut rows: Vec<(String, InviteRecord)> = self
            .store
            .read(|s| s.invites())
            .await?
            .into_iter()
            .filter(|(_, r)| matches!(standing(r, now), Standing::Pending))
            .collect();
        rows.sort_by(|a, b| (a.1.created_at_ms, &a.0).cmp(&(b.1.created_at_ms, &b.0)));
        Ok(rows.iter().map(|(h, r)| info(h, r)).collect())
    }

    /// Revokes an invite by its id (whatever it stands at: a used one is only forgotten).
    pub async fn revoke_invite(&self, actor: &str, id: &str) -> Result<(), AuthError> {
        let _one_at_a_time = self.users_lock.lock().await;
        let hash = self
            .store
            .read(|s| s.invites())
            .await?
            .into_iter()
            .map(|(h, _)| h)
            .find(|h| token_id(h) == id)
            .ok_or_else(|| AuthError::NotFound(format!("no invite with id {id}")))?;
        let now = self.clock.now_ms();
        self.store
            .write(vec![
                Write::Invites(InvitesWrite::Remove { hash }),
                audit(now, actor, "invite.revoke", id),
            ])
            .await?;
        Ok(())
    }

    /// The pending invite a token names, or why it cannot be used.
    async fn usable(&self, token: &str) -> Result<(String, InviteRecord), AuthError> {
        let unknown = || {
            AuthError::NotFound(
                "this invite link is unknown or was revoked: ask an admin for a new one".into(),
            )
        };
        if !token.starts_with(INVITE_PREFIX) || token.len() > 128 {
            return Err(unknown());
        }
        let hash = sha256_hex(token);
        let key = hash.clone();
        let record = self
            .store
            .read(move |s| s.invite(&key))
            .await?
            .ok_or_else(unknown)?;
        match standing(&record, self.clock.now_ms()) {
            Standing::Pending => Ok((hash, record)),
            Standing::Used => Err(AuthError::Gone(
                "this invite link has been used already: sign in, or ask an admin for a new one"
                    .into(),
            )),
            Standing::Expired => Err(AuthError::Gone(
                "this invite link has expired: ask an admin for a new one".into(),
            )),
        }
    }

    /// What a link offers (for the page that opens it).
    pub async fn invite_state(&self, token: &str) -> Result<InviteState, AuthError> {
        let (_, r) = self.usable(token).await?;
        Ok(InviteState {
            valid: true,
            role: r.role,
            username: r.username,
            expires_at: rfc3339(r.expires_at_ms),
        })
    }

    /// Creates the invited user and signs them in: the session secret and who it is.
    pub async fn accept_invite(
        &self,
        token: &str,
        username: &str,
        password: &str,
    ) -> Result<(String, Principal), AuthError> {
        let username = username.trim();
        validate_user_name(username)?;
        validate_password(password)?;
        let _one_at_a_time = self.users_lock.lock().await;
        let (hash, mut invite) = self.usable(token).await?;
        if let Some(wanted) = &invite.username
            && wanted != username
        {
            return Err(AuthError::Invalid(format!(
                "this invite is for the user name `{wanted}`"
            )));
        }
        let name = username.to_string();
        if self.store.read(move |s| s.user(&name)).await?.is_some() {
            return Err(AuthError::Conflict(format!(
                "a user named `{username}` exists already: choose another name"
            )));
        }
        let now = self.clock.now_ms();
        let role: Role = invite.role;
        let record = UserRecord {
            password_hash: hash_off_thread(password).await?,
            created_at_ms: now,
            role,
            disabled: false,
        };
        let id = token_id(&hash);
        invite.used_at_ms = Some(now);
        invite.used_by = Some(username.to_string());
        let secret = self
            .open_session(
                username,
                vec![
                    Write::PutUser {
                        name: username.to_string(),
                        record,
                    },
                    Write::Invites(InvitesWrite::Put {
                        hash,
                        record: invite,
                    }),
                    audit(
                        now,
                        username,
                        "invite.accept",
                        &format!("{id}: {username} ({role})"),
                    ),
                ],
            )
            .await?;
        Ok((
            secret,
            Principal::User {
                name: username.to_string(),
                role,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, SharedClock};
    use crate::store::Store;

    #[tokio::test]
    async fn an_invite_makes_one_user_until_it_expires() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Default::default(), Default::default()).expect("open");
        let clock = ManualClock::new(1_000_000);
        let shared: SharedClock = clock.clone();
        let auth = Auth::new(store, shared, crate::config::section_default()).expect("auth");
        let ask = |role, username: Option<&str>, expires_in: &str| NewInvite {
            role,
            username: username.map(str::to_string),
            expires_in: Some(expires_in.to_string()),
        };
        let made = auth
            .create_invite("ana", &ask(Role::Editor, None, "1h"), "http://x/")
            .await
            .expect("create");
        assert_eq!(made.url, format!("http://x/invite/{}", made.token));
        assert_eq!(auth.invites().await.expect("list").len(), 1);
        let state = auth.invite_state(&made.token).await.expect("valid");
        assert_eq!(state.role, Role::Editor);
        let (_, who) = auth
            .accept_invite(&made.token, "ben", "battery staple")
            .await
            .expect("accept");
        assert_eq!(who.role(), Role::Editor);
        let again = auth
            .accept_invite(&made.token, "cy", "battery staple")
            .await;
        assert!(matches!(again, Err(AuthError::Gone(_))), "{again:?}");
        assert!(
            auth.invites().await.expect("list").is_empty(),
            "used: not pending"
        );

        // For one name only; then it expires.
        let named = auth
            .create_invite("ana", &ask(Role::Viewer, Some("dee"), "1h"), "http://x")
            .await
            .expect("create");
        let other = auth
            .accept_invite(&named.token, "eve", "battery staple")
            .await;
        assert!(matches!(other, Err(AuthError::Invalid(_))), "{other:?}");
        clock.advance(3_600_000);
        let late = auth
            .accept_invite(&named.token, "dee", "battery staple")
            .await;
        assert!(matches!(late, Err(AuthError::Gone(m)) if m.contains("expired")));

        // Ended invites are pruned a while later, when another is made.
        clock.advance(KEEP_AFTER_MS);
        let revoked = auth
            .create_invite("ana", &ask(Role::Viewer, None, "1h"), "http://x")
            .await
            .expect("create");
        let left = auth.store.read(|s| s.invites()).await.expect("read");
        assert_eq!(left.len(), 1, "only the new one is left");
        auth.revoke_invite("ana", &revoked.id)
            .await
            .expect("revoke");
        let gone = auth.invite_state(&revoked.token).await;
        assert!(matches!(gone, Err(AuthError::NotFound(_))), "{gone:?}");
    }

    #[test]
    fn lifetimes_are_bounded() {
        assert_eq!(ttl_ms(None).expect("default"), DEFAULT_TTL_MS);
        assert_eq!(ttl_ms(Some("24h")).expect("24h"), 86_400_000);
        assert!(ttl_ms(Some("31d")).is_err());
        assert!(ttl_ms(Some("500ms")).is_err());
        assert!(ttl_ms(Some("soon")).is_err());
    }
}
