//! The on-call handle: what handlers and the alert outbox ask of the task (hand-offs,
//! acknowledgements, resolutions, overrides), and the settings it reads.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::engine::{
    Command, NewOverride, Oncall, OncallError, OverrideChange, OwnContacts, Settings, read,
};
use super::page::Page;
use super::rotation::Override;
use crate::alerts::model::Verdict;
use crate::alerts::outbox::Record;

pub(super) fn external_url(s: &Settings, default: &str) -> String {
    s.alerts
        .external_url
        .clone()
        .unwrap_or_else(|| default.to_string())
        .trim_end_matches('/')
        .to_string()
}

impl Oncall {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, OncallError>>) -> Command,
    ) -> Result<T, OncallError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| OncallError::Stopped)?;
        rx.await.map_err(|_| OncallError::Stopped)?
    }

    /// Hands an alert group's notification to on-call; delivered once the page is durable.
    pub async fn hand_off(&self, r: Record) -> Verdict {
        let stopped = || Verdict::Retry {
            after_ms: None,
            reason: "on-call is shutting down".into(),
        };
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Page(Box::new(r), tx))
            .await
            .is_err()
        {
            return stopped();
        }
        rx.await.unwrap_or_else(|_| stopped())
    }

    /// The page, and whether this call acknowledged it (false: it was not triggered).
    pub async fn acknowledge(
        &self,
        id: u64,
        by: &str,
        via: &str,
    ) -> Result<(Page, bool), OncallError> {
        let (by, via) = (by.to_string(), via.to_string());
        self.ask(|tx| Command::Ack(id, by, via, tx)).await
    }

    pub async fn resolve(&self, id: u64, by: &str) -> Result<(Page, bool), OncallError> {
        let by = by.to_string();
        self.ask(|tx| Command::Resolve(id, by, tx)).await
    }

    pub async fn put_override(&self, o: NewOverride, by: &str) -> Result<Override, OncallError> {
        let by = by.to_string();
        self.ask(|tx| Command::PutOverride(o, by, tx)).await
    }

    pub async fn update_override(
        &self,
        id: u64,
        change: OverrideChange,
        by: &str,
    ) -> Result<Override, OncallError> {
        let by = by.to_string();
        self.ask(|tx| Command::UpdateOverride(id, change, by, tx))
            .await
    }

    pub async fn delete_override(&self, id: u64, by: &str) -> Result<Override, OncallError> {
        let by = by.to_string();
        self.ask(|tx| Command::DeleteOverride(id, by, tx)).await
    }

    /// Sets (or with `None` removes) `user`'s own contact methods; false when there were none
    /// to remove.
    pub async fn set_contacts(
        &self,
        user: &str,
        own: OwnContacts,
        by: &str,
    ) -> Result<bool, OncallError> {
        let (user, by) = (user.to_string(), by.to_string());
        self.ask(|tx| Command::SetContacts(user, own, by, tx)).await
    }

    /// The contact methods `user` set, as they sent them.
    pub fn own_contacts(&self, user: &str) -> Option<serde_json::Value> {
        read(&self.shared).own_contacts_sent.get(user).cloned()
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.config.borrow().clone()
    }

    pub fn overrides(&self) -> Vec<Override> {
        read(&self.shared).overrides.clone()
    }

    pub fn get_override(&self, id: u64) -> Option<Override> {
        read(&self.shared)
            .overrides
            .iter()
            .find(|o| o.id == id)
            .cloned()
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }

    pub fn external_url(&self) -> String {
        external_url(&self.settings(), &self.default_external_url)
    }
}
