//! What people change through the API, as the engine applies it: overrides (create, update,
//! delete) and their own contact methods. Each change is written with its audit entry before
//! the shared state the handlers read shows it.

use super::config::OncallConfig;
use super::contacts;
use super::engine::{
    Engine, MAX_OVERRIDES, NewOverride, OncallError, OverrideChange, OwnContacts, encode, read,
    write,
};
use super::rotation::{MAX_RANGE_MS, Override};
use crate::clock::rfc3339;
use crate::store::Write;
use crate::store::oncall::OncallWrite;

/// What makes an override valid, on create and on update alike.
pub fn check_override(cfg: &OncallConfig, o: &NewOverride) -> Result<(), OncallError> {
    if cfg.schedule(&o.schedule).is_none() {
        return Err(OncallError::Invalid(format!(
            "schedule: no schedule named `{}`",
            o.schedule
        )));
    }
    if o.user.trim().is_empty() || o.user.len() > 200 {
        return Err(OncallError::Invalid("user: 1 to 200 characters".into()));
    }
    if o.end_ms <= o.start_ms {
        return Err(OncallError::Invalid("end: must be after start".into()));
    }
    if o.end_ms - o.start_ms > MAX_RANGE_MS {
        return Err(OncallError::Invalid(
            "end: an override lasts at most 366 days".into(),
        ));
    }
    Ok(())
}

/// `ben from <start> to <end>`, for audit entries.
fn span(user: &str, start_ms: u64, end_ms: u64) -> String {
    format!("{user} from {} to {}", rfc3339(start_ms), rfc3339(end_ms))
}

impl Engine {
    fn find_override(&self, id: u64) -> Result<Override, OncallError> {
        read(&self.shared)
            .overrides
            .iter()
            .find(|o| o.id == id)
            .cloned()
            .ok_or(OncallError::OverrideNotFound(id))
    }

    async fn write_override(
        &self,
        o: &Override,
        audit: Write,
    ) -> Result<u64, crate::store::StoreError> {
        self.store
            .write(vec![
                Write::Oncall(OncallWrite {
                    overrides: vec![(o.id, encode(o))],
                    ..Default::default()
                }),
                audit,
            ])
            .await
    }

    pub(super) async fn put_override(
        &mut self,
        o: NewOverride,
        by: String,
        now: u64,
    ) -> Result<Override, OncallError> {
        check_override(&self.settings().oncall, &o)?;
        if read(&self.shared).overrides.len() >= MAX_OVERRIDES {
            return Err(OncallError::TooMany("overrides"));
        }
        self.next_override += 1;
        let saved = Override {
            id: self.next_override,
            schedule: o.schedule,
            user: o.user,
            start_ms: o.start_ms,
            end_ms: o.end_ms,
            created_by: by.clone(),
            created_ms: now,
        };
        let detail = format!(
            "override {} in {}: {}",
            saved.id,
            saved.schedule,
            span(&saved.user, saved.start_ms, saved.end_ms)
        );
        let audit = crate::auth::audit(now, &by, "oncall.override.create", &detail);
        self.write_override(&saved, audit).await?;
        write(&self.shared).overrides.push(saved.clone());
        Ok(saved)
    }

    /// Changes who covers and when; the schedule, author and creation time stay (so where
    /// overrides overlap, the same one still wins).
    pub(super) async fn update_override(
        &mut self,
        id: u64,
        change: OverrideChange,
        by: &str,
        now: u64,
    ) -> Result<Override, OncallError> {
        let old = self.find_override(id)?;
        let new = NewOverride {
            schedule: old.schedule.clone(),
            user: change.user.unwrap_or_else(|| old.user.clone()),
            start_ms: change.start_ms.unwrap_or(old.start_ms),
            end_ms: change.end_ms.unwrap_or(old.end_ms),
        };
        check_override(&self.settings().oncall, &new)?;
        let saved = Override {
            user: new.user,
            start_ms: new.start_ms,
            end_ms: new.end_ms,
            ..old.clone()
        };
        let detail = format!(
            "override {id} in {}: {} (was {})",
            saved.schedule,
            span(&saved.user, saved.start_ms, saved.end_ms),
            span(&old.user, old.start_ms, old.end_ms)
        );
        let audit = crate::auth::audit(now, by, "oncall.override.update", &detail);
        self.write_override(&saved, audit).await?;
        let mut s = write(&self.shared);
        if let Some(o) = s.overrides.iter_mut().find(|o| o.id == id) {
            *o = saved.clone();
        }
        Ok(saved)
    }

    pub(super) async fn delete_override(
        &mut self,
        id: u64,
        by: &str,
        now: u64,
    ) -> Result<Override, OncallError> {
        let o = self.find_override(id)?;
        self.store
            .write(vec![
                Write::Oncall(OncallWrite {
                    removed_overrides: vec![id],
                    ..Default::default()
                }),
                crate::auth::audit(
                    now,
                    by,
                    "oncall.override.delete",
                    &format!("override {id} in {}", o.schedule),
                ),
            ])
            .await?;
        write(&self.shared).overrides.retain(|x| x.id != id);
        Ok(o)
    }

    /// Sets or removes a person's own contact methods. False when there was nothing to remove.
    pub(super) async fn set_contacts(
        &mut self,
        user: String,
        own: OwnContacts,
        by: &str,
        now: u64,
    ) -> Result<bool, OncallError> {
        contacts::check_name(&user).map_err(OncallError::Invalid)?;
        let known = read(&self.shared).own_contacts.contains_key(&user);
        let key = contacts::meta_key(&user);
        let (w, action, detail) = match &own {
            Some((sent, methods)) => {
                if !known && read(&self.shared).own_contacts.len() >= contacts::MAX_PEOPLE {
                    return Err(OncallError::TooMany(
                        "people with their own contact methods",
                    ));
                }
                let w = OncallWrite {
                    meta: vec![(key, encode(sent))],
                    ..Default::default()
                };
                let detail = format!("contacts of {user}: {}", contacts::describe(methods));
                (w, "oncall.contacts.set", detail)
            }
            None if !known => return Ok(false),
            None => {
                let w = OncallWrite {
                    removed_meta: vec![key],
                    ..Default::default()
                };
                let detail = format!("contacts of {user}: back to the config's");
                (w, "oncall.contacts.delete", detail)
            }
        };
        self.store
            .write(vec![
                Write::Oncall(w),
                crate::auth::audit(now, by, action, &detail),
            ])
            .await?;
        let mut s = write(&self.shared);
        match own {
            Some((sent, methods)) => {
                s.own_contacts.insert(user.clone(), methods);
                s.own_contacts_sent.insert(user, sent);
            }
            None => {
                s.own_contacts.remove(&user);
                s.own_contacts_sent.remove(&user);
            }
        }
        Ok(true)
    }
}
