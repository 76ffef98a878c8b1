//! People: the first admin created from the dashboard on first run, and the users an admin
//! manages afterwards (create, change role, reset a password, disable, delete), and a person
//! changing their own password.
//!
//! Owns: the setup code, the "no user yet" and "last admin" rules. Depends on: `store` (users
//! and sessions through the writer), `clock`.
//!
//! Who may create the first admin: "a person at the server". A client on loopback is one, unless
//! the request came through a proxy (then every client looks local, so the setup code is asked
//! for); anyone else shows the one-time code `serve` logs at start-up, which expires.

use panoptes_types::{NewUser, Role, UserUpdate, UserView};

use super::{
    Auth, AuthError, Principal, audit, hash_off_thread, new_secret, validate_password,
    validate_user_name, verify_password,
};
use crate::clock::rfc3339;
use crate::store::{UserRecord, Write};

/// How long the setup code logged at start-up stays valid.
pub const SETUP_CODE_TTL_MS: u64 = 3_600_000;

impl Auth {
    /// With no user yet, a new one-time setup code (for the start-up log), valid for
    /// [`SETUP_CODE_TTL_MS`]; `None` once someone exists.
    pub async fn prepare_setup(&self) -> Result<Option<String>, AuthError> {
        if !self.setup_needed().await? {
            return Ok(None);
        }
        // 96 bits: not guessable through the API, short enough to type.
        let code: String = new_secret().chars().take(16).collect();
        let expires = self.clock.now_ms().saturating_add(SETUP_CODE_TTL_MS);
        *self.setup_code.lock().unwrap_or_else(|p| p.into_inner()) = Some((code.clone(), expires));
        Ok(Some(code))
    }

    /// No user exists yet.
    pub async fn setup_needed(&self) -> Result<bool, AuthError> {
        Ok(self.store.read(|s| s.user_count()).await? == 0)
    }

    /// Creates the first admin and signs them in (the session secret and who it is). `local`:
    /// the client is on the server's machine (loopback, no proxy in between).
    pub async fn setup(
        &self,
        username: &str,
        password: &str,
        code: Option<&str>,
        local: bool,
    ) -> Result<(String, Principal), AuthError> {
        let _one_at_a_time = self.users_lock.lock().await;
        if !self.setup_needed().await? {
            return Err(AuthError::Conflict(
                "Panoptes has users already: sign in (an admin adds more users)".into(),
            ));
        }
        if !local {
            self.check_setup_code(code)?;
        }
        validate_user_name(username)?;
        validate_password(password)?;
        let hash = hash_off_thread(password).await?;
        let now = self.clock.now_ms();
        let record = UserRecord {
            password_hash: hash,
            created_at_ms: now,
            role: Role::Admin,
            disabled: false,
        };
        let how = if local {
            "from the server's machine"
        } else {
            "with the setup code"
        };
        let secret = self
            .open_session(
                username,
                vec![
                    Write::PutUser {
                        name: username.to_string(),
                        record,
                    },
                    audit(now, username, "user.setup", how),
                ],
            )
            .await?;
        *self.setup_code.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok((
            secret,
            Principal::User {
                name: username.to_string(),
                role: Role::Admin,
            },
        ))
    }

    fn check_setup_code(&self, code: Option<&str>) -> Result<(), AuthError> {
        let held = self
            .setup_code
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some((expected, expires)) = held else {
            return Err(AuthError::Forbidden(
                "no setup code is active: restart panoptes and use the code it logs, or create \
                 the first admin from the server's machine"
                    .into(),
            ));
        };
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return Err(AuthError::Forbidden(
                "from another machine, the first admin needs the setup code `panoptes serve` \
                 logged at start-up"
                    .into(),
            ));
        };
        if self.clock.now_ms() >= expires {
            return Err(AuthError::Forbidden(
                "the setup code has expired: restart panoptes for a new one".into(),
            ));
        }
        if !super::same_secret(code, &expected) {
            return Err(AuthError::Forbidden("wrong setup code".into()));
        }
        Ok(())
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserView>, AuthError> {
        let rows = self.store.read(|s| s.users()).await?;
        Ok(rows.iter().map(|(n, r)| view(n, r)).collect())
    }

    /// One user, by name.
    pub async fn user(&self, name: &str) -> Result<Option<UserView>, AuthError> {
        let key = name.to_string();
        let found = self.store.read(move |s| s.user(&key)).await?;
        Ok(found.map(|r| view(name, &r)))
    }

    pub async fn create_user(&self, actor: &str, u: &NewUser) -> Result<UserView, AuthError> {
        validate_user_name(&u.username)?;
        validate_password(&u.password)?;
        let _one_at_a_time = self.users_lock.lock().await;
        let name = u.username.clone();
        if self.store.read(move |s| s.user(&name)).await?.is_some() {
            return Err(AuthError::Conflict(format!(
                "a user named `{}` exists already",
                u.username
            )));
        }
        let now = self.clock.now_ms();
        let record = UserRecord {
            password_hash: hash_off_thread(&u.password).await?,
            created_at_ms: now,
            role: u.role,
            disabled: false,
        };
        let shown = view(&u.username, &record);
        self.store
            .write(vec![
                Write::PutUser {
                    name: u.username.clone(),
                    record,
                },
                audit(
                    now,
                    actor,
                    "user.create",
                    &format!("{} ({})", u.username, u.role),
                ),
            ])
            .await?;
        Ok(shown)
    }

    /// Changes the fields given. The last enabled admin cannot be demoted or disabled.
    pub async fn update_user(
        &self,
        actor: &str,
        name: &str,
        u: &UserUpdate,
    ) -> Result<UserView, AuthError> {
        if let Some(p) = &u.password {
            validate_password(p)?;
        }
        let _one_at_a_time = self.users_lock.lock().await;
        let mut all = self.store.read(|s| s.users()).await?;
        let Some(i) = all.iter().position(|(n, _)| n == name) else {
            return Err(AuthError::NotFound(format!("no user named `{name}`")));
        };
        let mut changes = Vec::new();
        if let Some(role) = u.role {
            all[i].1.role = role;
            changes.push(format!("role {role}"));
        }
        if let Some(disabled) = u.disabled {
            all[i].1.disabled = disabled;
            changes.push(if disabled { "disabled" } else { "enabled" }.to_string());
        }
        if let Some(p) = &u.password {
            all[i].1.password_hash = hash_off_thread(p).await?;
            changes.push("password reset".into());
        }
        keeps_an_admin(&all, name)?;
        let (_, record) = all.swap_remove(i);
        let shown = view(name, &record);
        let now = self.clock.now_ms();
        self.store
            .write(vec![
                Write::PutUser {
                    name: name.to_string(),
                    record,
                },
                audit(
                    now,
                    actor,
                    "user.update",
                    &format!("{name}: {}", changes.join(", ")),
                ),
            ])
            .await?;
        Ok(shown)
    }

    /// Deletes a user; their sessions stop working at once. Not the last enabled admin.
    pub async fn delete_user(&self, actor: &str, name: &str) -> Result<(), AuthError> {
        let _one_at_a_time = self.users_lock.lock().await;
        let mut all = self.store.read(|s| s.users()).await?;
        let Some(i) = all.iter().position(|(n, _)| n == name) else {
            return Err(AuthError::NotFound(format!("no user named `{name}`")));
        };
        all.swap_remove(i);
        keeps_an_admin(&all, name)?;
        let now = self.clock.now_ms();
        self.store
            .write(vec![
                Write::DeleteUser {
                    name: name.to_string(),
                },
                audit(now, actor, "user.delete", name),
            ])
            .await?;
        Ok(())
    }

    /// A signed-in person changes their own password, proving the current one (throttled
    /// like a login: a stolen session must not become a password-guessing oracle).
    pub async fn change_password(
        &self,
        user: &str,
        current: &str,
        new: &str,
    ) -> Result<(), AuthError> {
        validate_password(new)?;
        let key = format!("user:{}", user.to_ascii_lowercase());
        let now = self.clock.now_ms();
        self.throttle
            .reserve(&[key.as_str()], now)
            .map_err(|wait_ms| AuthError::Throttled {
                retry_after_secs: wait_ms.div_ceil(1000).max(1),
            })?;
        let _one_at_a_time = self.users_lock.lock().await;
        let name = user.to_string();
        let Some(mut record) = self.store.read(move |s| s.user(&name)).await? else {
            return Err(AuthError::NotFound(format!("no user named `{user}`")));
        };
        let (hash, pw) = (record.password_hash.clone(), current.to_string());
        let Ok(_turn) = self.verifying.clone().acquire_owned().await else {
            return Err(AuthError::Busy {
                retry_after_secs: 1,
            });
        };
        let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &pw))
            .await
            .unwrap_or(false);
        if !matches {
            return Err(AuthError::Forbidden("the current password is wrong".into()));
        }
        self.throttle.succeed(&[key.as_str()]);
        record.password_hash = hash_off_thread(new).await?;
        self.store
            .write(vec![
                Write::PutUser {
                    name: user.to_string(),
                    record,
                },
                audit(now, user, "user.password", user),
            ])
            .await?;
        Ok(())
    }
}

fn view(name: &str, r: &UserRecord) -> UserView {
    UserView {
        username: name.to_string(),
        role: r.role,
        disabled: r.disabled,
        created_at: rfc3339(r.created_at_ms),
    }
}

/// After a change, at least one enabled admin remains: nobody could manage users otherwise
/// (and with no user left at all, the first-run setup would be open again).
fn keeps_an_admin(after: &[(String, UserRecord)], changed: &str) -> Result<(), AuthError> {
    let admins = after
        .iter()
        .filter(|(_, r)| r.role == Role::Admin && !r.disabled)
        .count();
    if admins == 0 {
        return Err(AuthError::Conflict(format!(
            "`{changed}` is the last admin: make someone else an admin first"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, SharedClock};
    use crate::store::Store;
    use std::sync::Arc;

    async fn open() -> (tempfile::TempDir, Arc<Auth>, Arc<ManualClock>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), Default::default(), Default::default()).expect("open");
        let clock = ManualClock::new(1_000_000);
        let shared: SharedClock = clock.clone();
        let auth = Auth::new(store, shared, crate::config::section_default()).expect("auth");
        (dir, auth, clock)
    }

    #[tokio::test]
    async fn the_first_admin_needs_the_code_from_afar_and_only_one_is_made() {
        let (_dir, auth, clock) = open().await;
        let code = auth.prepare_setup().await.expect("ok").expect("a code");
        let far = auth.setup("ana", "correct horse", None, false).await;
        assert!(matches!(far, Err(AuthError::Forbidden(_))), "{far:?}");
        let wrong = auth
            .setup("ana", "correct horse", Some("nope"), false)
            .await;
        assert!(matches!(wrong, Err(AuthError::Forbidden(_))));
        let (_, who) = auth
            .setup("ana", "correct horse", Some(&code), false)
            .await
            .expect("with the code");
        assert_eq!(who.role(), Role::Admin);
        let again = auth.setup("ben", "correct horse", None, true).await;
        assert!(matches!(again, Err(AuthError::Conflict(_))), "{again:?}");
        assert!(auth.prepare_setup().await.expect("ok").is_none());
        // An expired code is refused even when right.
        let (_dir2, auth2, clock2) = open().await;
        let code2 = auth2.prepare_setup().await.expect("ok").expect("code");
        clock2.advance(SETUP_CODE_TTL_MS);
        let late = auth2
            .setup("ana", "correct horse", Some(&code2), false)
            .await;
        assert!(matches!(late, Err(AuthError::Forbidden(m)) if m.contains("expired")));
        drop(clock);
    }

    #[tokio::test]
    async fn the_last_admin_stays_and_a_disabled_user_loses_their_session() {
        let (_dir, auth, _clock) = open().await;
        let (_, _) = auth
            .setup("ana", "correct horse", None, true)
            .await
            .expect("setup");
        let demote = UserUpdate {
            role: Some(Role::Viewer),
            ..UserUpdate::default()
        };
        assert!(matches!(
            auth.update_user("ana", "ana", &demote).await,
            Err(AuthError::Conflict(_))
        ));
        assert!(matches!(
            auth.delete_user("ana", "ana").await,
            Err(AuthError::Conflict(_))
        ));
        let ben = NewUser {
            username: "ben".into(),
            password: "battery staple".into(),
            role: Role::Viewer,
        };
        auth.create_user("ana", &ben).await.expect("create");
        assert!(matches!(
            auth.create_user("ana", &ben).await,
            Err(AuthError::Conflict(_))
        ));
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        let (secret, who) = auth
            .login("ben", "battery staple", ip)
            .await
            .expect("login");
        assert_eq!(who.role(), Role::Viewer);
        let promote = UserUpdate {
            role: Some(Role::Editor),
            ..UserUpdate::default()
        };
        auth.update_user("ana", "ben", &promote)
            .await
            .expect("promote");
        let now = auth
            .session(&secret)
            .await
            .expect("session")
            .expect("valid");
        assert_eq!(now.role(), Role::Editor, "a new role applies at once");
        let disable = UserUpdate {
            disabled: Some(true),
            ..UserUpdate::default()
        };
        auth.update_user("ana", "ben", &disable)
            .await
            .expect("disable");
        assert_eq!(auth.session(&secret).await.expect("session"), None);
        assert!(matches!(
            auth.login("ben", "battery staple", ip).await,
            Err(AuthError::InvalidCredentials)
        ));
    }

    #[tokio::test]
    async fn people_change_their_own_password_only_with_the_current_one() {
        let (_dir, auth, _clock) = open().await;
        auth.setup("ana", "correct horse", None, true)
            .await
            .expect("setup");
        let wrong = auth
            .change_password("ana", "not it", "new password 1")
            .await;
        assert!(matches!(wrong, Err(AuthError::Forbidden(_))), "{wrong:?}");
        auth.change_password("ana", "correct horse", "new password 1")
            .await
            .expect("change");
        let ip = std::net::IpAddr::from([127, 0, 0, 2]);
        assert!(auth.login("ana", "new password 1", ip).await.is_ok());
    }
}
