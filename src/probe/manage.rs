//! The engine's side of API-managed monitors: load them at start, check a change against every
//! running monitor, store it, and reconcile at once (the new monitor is scheduled before the
//! request is answered).
//!
//! The config file stays the source of truth for what it declares: its monitors cannot be
//! changed here, and a name the file takes later wins over a managed monitor of that name (which
//! is then left out, with a warning, until one of the two is renamed).

use std::collections::HashSet;

use serde_json::Value as Json;
use tracing::warn;

use panoptes_types::{FieldError, MonitorSource};

use super::config::{CheckKind, MonitorConfig};
use super::managed::{self, Record};
use super::{ProbeEngine, ProbeError, read, write};
use crate::store::probes::ProbeWrite;
use crate::store::{StoreError, Write};

/// A monitor created through the API: its stored record and the decoded monitor.
#[derive(Debug, Clone)]
pub struct Managed {
    pub record: Record,
    pub config: MonitorConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Field by field, with the config decoder's messages.
    #[error("invalid monitor")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    /// A name or push token in use, or a monitor the config file declares.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Probe(#[from] ProbeError),
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        ManageError::Probe(ProbeError::Store(e))
    }
}

fn field(field: &str, message: impl Into<String>) -> ManageError {
    ManageError::Invalid(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

impl ProbeEngine {
    /// Reads the managed monitors from the store. One that no longer decodes (a newer release
    /// tightened a rule) is left out with a warning and kept in the store, so nothing is lost.
    pub(super) fn load_managed(&self) -> Result<(), ProbeError> {
        let mut out = std::collections::BTreeMap::new();
        for (name, bytes) in self.inner.store.managed_monitors()? {
            let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
                warn!(monitor = %name, "stored managed monitor is unreadable; left out");
                continue;
            };
            match managed::decode(&record.config) {
                Ok(config) => {
                    out.insert(name, Managed { record, config });
                }
                Err(errors) => warn!(
                    monitor = %name,
                    errors = ?errors,
                    "stored managed monitor no longer validates; left out until it is edited"
                ),
            }
        }
        *write(&self.inner.managed) = out;
        Ok(())
    }

    /// The monitors to run: the config file's, then the managed ones whose name it leaves free.
    /// `log_shadowed`: warn about managed monitors left out (once per reconcile, not per read).
    pub(super) fn effective(&self, log_shadowed: bool) -> Vec<MonitorConfig> {
        let config = read(&self.inner.from_config).clone();
        let taken: HashSet<&str> = config.iter().map(|m| m.name.as_str()).collect();
        let mut out: Vec<MonitorConfig> = config.iter().cloned().collect();
        for (name, m) in read(&self.inner.managed).iter() {
            if taken.contains(name.as_str()) {
                if log_shadowed {
                    warn!(monitor = %name, "the config file declares a monitor of this name; \
                      the one created through the API is left out");
                }
            } else {
                out.push(m.config.clone());
            }
        }
        out
    }

    /// Where the monitor `name` is declared.
    pub fn source_of(&self, name: &str) -> MonitorSource {
        let in_config = read(&self.inner.from_config).iter().any(|m| m.name == name);
        if !in_config && read(&self.inner.managed).contains_key(name) {
            MonitorSource::Api
        } else {
            MonitorSource::Config
        }
    }

    /// A monitor's fields as the config names them: as stored for a managed one, read from the
    /// file's tree for a config one.
    pub fn config_json(&self, name: &str) -> Option<(MonitorSource, Json)> {
        if let Some(m) = read(&self.inner.from_config)
            .iter()
            .find(|m| m.name == name)
        {
            return Some((MonitorSource::Config, managed::node_to_json(&m.source)));
        }
        read(&self.inner.managed)
            .get(name)
            .map(|m| (MonitorSource::Api, m.record.config.clone()))
    }

    /// The managed monitors' fields, by name (what `panoptes export` writes).
    pub fn managed_configs(&self) -> Vec<Json> {
        read(&self.inner.managed)
            .values()
            .map(|m| m.record.config.clone())
            .collect()
    }

    /// Creates a monitor from a body with the config's field names. `audit` is written in the
    /// same transaction. Returns its id once it is scheduled.
    pub async fn create_managed(
        &self,
        body: Json,
        by: &str,
        audit: impl FnOnce(&MonitorConfig) -> Write,
    ) -> Result<u32, ManageError> {
        let config = managed::decode(&body).map_err(ManageError::Invalid)?;
        let _one = self.inner.managing.lock().await;
        if read(&self.inner.from_config)
            .iter()
            .any(|m| m.name == config.name)
            || read(&self.inner.managed).contains_key(&config.name)
        {
            return Err(ManageError::Conflict(format!(
                "a monitor named `{}` exists",
                config.name
            )));
        }
        self.check_against_others(&config, None)?;
        let now = self.inner.clock.now_ms();
        let record = Record {
            config: body,
            created_at_ms: now,
            updated_at_ms: now,
            by: by.to_string(),
        };
        self.put(&config, record, audit(&config)).await?;
        self.id_of(&config.name)
    }

    /// Applies a JSON merge patch to a managed monitor (`{"enabled": false}` pauses it).
    pub async fn update_managed(
        &self,
        id: u32,
        patch: &Json,
        by: &str,
        audit: impl FnOnce(&MonitorConfig) -> Write,
    ) -> Result<u32, ManageError> {
        if !patch.is_object() {
            return Err(field("", "expected a JSON object of the fields to change"));
        }
        let _one = self.inner.managing.lock().await;
        let name = self.managed_name(id)?;
        let Some(old) = read(&self.inner.managed).get(&name).cloned() else {
            return Err(ManageError::NotFound(format!("no monitor with id {id}")));
        };
        let mut body = old.record.config.clone();
        managed::merge_patch(&mut body, patch);
        let config = managed::decode(&body).map_err(ManageError::Invalid)?;
        if config.name != name {
            // Results, roll-ups and alerts are keyed by the name's id: a rename would orphan
            // them. A new monitor under the new name says what happens honestly.
            return Err(field(
                "name",
                format!("cannot change (`{name}`); create a monitor with the new name instead"),
            ));
        }
        self.check_against_others(&config, Some(&name))?;
        let record = Record {
            config: body,
            created_at_ms: old.record.created_at_ms,
            updated_at_ms: self.inner.clock.now_ms(),
            by: by.to_string(),
        };
        self.put(&config, record, audit(&config)).await?;
        Ok(id)
    }

    /// Deletes a managed monitor; its results stay until retention removes them.
    pub async fn delete_managed(&self, id: u32, audit: Write) -> Result<(), ManageError> {
        let _one = self.inner.managing.lock().await;
        let name = self.managed_name(id)?;
        self.inner
            .store
            .write(vec![
                Write::Probe(ProbeWrite::RemoveManaged { name: name.clone() }),
                audit,
            ])
            .await?;
        write(&self.inner.managed).remove(&name);
        self.reconcile().await?;
        Ok(())
    }

    /// The name of managed monitor `id`; a config one is refused, naming where to change it.
    fn managed_name(&self, id: u32) -> Result<String, ManageError> {
        let Some(view) = self.get(id) else {
            return Err(ManageError::NotFound(format!("no monitor with id {id}")));
        };
        match self.source_of(&view.config.name) {
            MonitorSource::Api => Ok(view.config.name),
            MonitorSource::Config => Err(ManageError::Conflict(format!(
                "`{}` is declared in the config file; change it there",
                view.config.name
            ))),
        }
    }

    /// Rules across monitors (the config's `probe::config::validate`, for one new monitor):
    /// push tokens are unique, ICMP needs the kernel's permission.
    fn check_against_others(
        &self,
        config: &MonitorConfig,
        itself: Option<&str>,
    ) -> Result<(), ManageError> {
        if let CheckKind::Push(p) = &config.kind {
            let taken = self
                .effective(false)
                .into_iter()
                .filter(|m| Some(m.name.as_str()) != itself)
                .any(|m| matches!(&m.kind, CheckKind::Push(o) if o.token == p.token));
            if taken {
                return Err(field("token", "push token already used by another monitor"));
            }
        }
        if config.enabled
            && matches!(config.kind, CheckKind::Icmp(_))
            && let Err(e) = super::check::icmp::available()
        {
            return Err(field("type", e));
        }
        Ok(())
    }

    async fn put(
        &self,
        config: &MonitorConfig,
        record: Record,
        audit: Write,
    ) -> Result<(), ManageError> {
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| ProbeError::Config(format!("cannot encode the monitor: {e}")))?;
        self.inner
            .store
            .write(vec![
                Write::Probe(ProbeWrite::PutManaged {
                    name: config.name.clone(),
                    record: bytes,
                }),
                audit,
            ])
            .await?;
        write(&self.inner.managed).insert(
            config.name.clone(),
            Managed {
                record,
                config: config.clone(),
            },
        );
        self.reconcile().await?;
        Ok(())
    }

    fn id_of(&self, name: &str) -> Result<u32, ManageError> {
        self.by_name(name)
            .map(|v| v.id)
            .ok_or_else(|| ManageError::NotFound(format!("monitor `{name}` was not scheduled")))
    }
}
