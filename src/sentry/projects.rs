//! Sentry projects created through the API and the dashboard: a name, generated DSN keys that
//! can be added and revoked, an optional rate limit. They are accepted beside the config file's
//! projects; the config stays the source of truth for its own (read-only here), and an id the
//! file takes later wins over a managed project of that id (left out, with a warning).
//!
//! Owns: the managed projects, their records in the store, and the merged project list ingest
//! reads (`merged`). Depends on: `store` (through the writer), `clock`, `sentry::config`.
//!
//! Why a merged watch: ingest reads its settings on every request; the merge happens once per
//! change here, never per request.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::warn;

use super::config::{ProjectConfig, PublicKey, SentrySettings};
use crate::clock::SharedClock;
use crate::store::sentry::SentryWrite;
use crate::store::{Store, StoreError, Write};

/// Keys a managed project may hold at once.
pub const MAX_KEYS: usize = 16;
/// Longest project name.
pub const MAX_NAME: usize = 100;

/// What the store keeps for one managed project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub keys: Vec<String>,
    pub events_per_minute: Option<u64>,
    pub created_at_ms: u64,
    pub by: String,
}

impl Record {
    fn config(&self, id: u64) -> ProjectConfig {
        ProjectConfig {
            id,
            name: self.name.clone(),
            keys: self.keys.iter().map(|k| PublicKey(k.clone())).collect(),
            events_per_minute: self.events_per_minute,
            flood_max_events: None,
            forward: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// A project the config file declares, or a rule about keys.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The managed projects; cheap to clone.
#[derive(Clone)]
pub struct ManagedProjects {
    store: Store,
    clock: SharedClock,
    list: Arc<watch::Sender<Arc<BTreeMap<u64, Record>>>>,
    /// The config's project ids, as last merged (ids of new projects start above them).
    config_ids: Arc<Mutex<HashSet<u64>>>,
    /// One change at a time: id choice, store write and publication.
    changing: Arc<tokio::sync::Mutex<()>>,
}

fn new_key() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

impl ManagedProjects {
    /// Loads them from the store; an unreadable record is left out with a warning (and kept).
    pub fn load(store: Store, clock: SharedClock) -> Result<ManagedProjects, StoreError> {
        let mut list = BTreeMap::new();
        for (id, bytes) in store.managed_projects()? {
            match serde_json::from_slice::<Record>(&bytes) {
                Ok(r) => {
                    list.insert(id, r);
                }
                Err(e) => warn!(project = id, error = %e, "stored project unreadable; left out"),
            }
        }
        Ok(ManagedProjects {
            store,
            clock,
            list: Arc::new(watch::channel(Arc::new(list)).0),
            config_ids: Arc::default(),
            changing: Arc::default(),
        })
    }

    /// Whether project `id` was created here (and not shadowed by the config).
    pub fn is_managed(&self, id: u64) -> bool {
        self.list.borrow().contains_key(&id) && !self.config_ids().contains(&id)
    }

    fn config_ids(&self) -> HashSet<u64> {
        self.config_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Ingest's settings: the config's projects, then the managed ones whose id it leaves free.
    /// Recomputed when either changes.
    pub fn merged(
        &self,
        mut config: watch::Receiver<Arc<SentrySettings>>,
    ) -> watch::Receiver<Arc<SentrySettings>> {
        let mut managed = self.list.subscribe();
        let ids = self.config_ids.clone();
        let merge = move |c: &SentrySettings, m: &BTreeMap<u64, Record>| {
            let taken: HashSet<u64> = c.projects.iter().map(|p| p.id).collect();
            let mut projects = c.projects.clone();
            for (id, r) in m {
                if taken.contains(id) {
                    warn!(
                        project = id,
                        "the config file declares a project with this id; \
                          the one created through the API is left out"
                    );
                } else {
                    projects.push(r.config(*id));
                }
            }
            *ids.lock().unwrap_or_else(|p| p.into_inner()) = taken;
            SentrySettings {
                projects,
                ingest: c.ingest.clone(),
            }
        };
        let first = merge(&config.borrow_and_update(), &managed.borrow_and_update());
        let (tx, rx) = watch::channel(Arc::new(first));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = config.changed() => if r.is_err() { break },
                    r = managed.changed() => if r.is_err() { break },
                }
                let next = merge(&config.borrow_and_update(), &managed.borrow_and_update());
                tx.send_replace(Arc::new(next));
            }
        });
        rx
    }

    /// Creates a project with one new key; returns its id.
    pub async fn create(
        &self,
        name: &str,
        events_per_minute: Option<u64>,
        by: &str,
        audit: impl FnOnce(u64) -> Write,
    ) -> Result<u64, ProjectError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(ProjectError::Invalid(format!(
                "name: must be 1 to {MAX_NAME} characters without control characters"
            )));
        }
        if events_per_minute == Some(0) {
            return Err(ProjectError::Invalid(
                "events_per_minute: must be at least 1 (leave it out for no limit)".into(),
            ));
        }
        let _one = self.changing.lock().await;
        let config = self.config_ids();
        let id = self
            .list
            .borrow()
            .keys()
            .chain(config.iter())
            .max()
            .map_or(1, |m| m + 1);
        let record = Record {
            name: name.to_string(),
            keys: vec![new_key()],
            events_per_minute,
            created_at_ms: self.clock.now_ms(),
            by: by.to_string(),
        };
        self.put(id, record, audit(id)).await?;
        Ok(id)
    }

    /// Adds a key; returns it.
    pub async fn add_key(&self, id: u64, audit: Write) -> Result<String, ProjectError> {
        let _one = self.changing.lock().await;
        let mut r = self.managed(id)?;
        if r.keys.len() >= MAX_KEYS {
            return Err(ProjectError::Conflict(format!(
                "a project holds at most {MAX_KEYS} keys; revoke one first"
            )));
        }
        let key = new_key();
        r.keys.push(key.clone());
        self.put(id, r, audit).await?;
        Ok(key)
    }

    /// Revokes a key: SDKs using it are refused from now on. The last key stays (delete the
    /// project instead), so a project never silently accepts nothing.
    pub async fn revoke_key(&self, id: u64, key: &str, audit: Write) -> Result<(), ProjectError> {
        let _one = self.changing.lock().await;
        let mut r = self.managed(id)?;
        let before = r.keys.len();
        r.keys.retain(|k| !k.eq_ignore_ascii_case(key));
        if r.keys.len() == before {
            return Err(ProjectError::NotFound(format!(
                "project {id} has no key {key}"
            )));
        }
        if r.keys.is_empty() {
            return Err(ProjectError::Conflict(
                "the last key cannot be revoked; add another first, or delete the project".into(),
            ));
        }
        self.put(id, r, audit).await
    }

    /// Deletes a managed project; its issues and events stay until retention removes them.
    pub async fn delete(&self, id: u64, audit: Write) -> Result<(), ProjectError> {
        let _one = self.changing.lock().await;
        self.managed(id)?;
        self.store
            .write(vec![Write::Sentry(SentryWrite::RemoveProject(id)), audit])
            .await?;
        self.list.send_modify(|l| {
            Arc::make_mut(l).remove(&id);
        });
        Ok(())
    }

    fn managed(&self, id: u64) -> Result<Record, ProjectError> {
        if self.config_ids().contains(&id) {
            return Err(ProjectError::Conflict(format!(
                "project {id} is declared in the config file; change it there"
            )));
        }
        self.list
            .borrow()
            .get(&id)
            .cloned()
            .ok_or_else(|| ProjectError::NotFound(format!("no project with id {id}")))
    }

    async fn put(&self, id: u64, record: Record, audit: Write) -> Result<(), ProjectError> {
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| ProjectError::Invalid(format!("cannot encode the project: {e}")))?;
        self.store
            .write(vec![
                Write::Sentry(SentryWrite::PutProject(id, bytes)),
                audit,
            ])
            .await?;
        self.list.send_modify(|l| {
            Arc::make_mut(l).insert(id, record);
        });
        Ok(())
    }
}
