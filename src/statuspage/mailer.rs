//! Sends the status pages' queued e-mails, one at a time, oldest due first: a sent mail is
//! removed from the outbox durably; a transient failure waits (5 s doubling, at most an hour)
//! and is dropped after a day; a permanent one is dropped at once. Both are logged. A crash
//! between sending and removing sends that one mail again (at least once).

use std::time::Duration;

use tracing::warn;

use super::engine::StatusPages;
use super::subscribers::{GIVE_UP_MS, backoff_ms};
use crate::outbound::smtp::{self, Outcome};
use crate::store::Write;
use crate::store::statuspage::StatusWrite;
use crate::tasks::Shutdown;

/// One SMTP conversation's limit.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest idle wait (a mail's retry time also wakes it, and so does a new mail).
const IDLE: Duration = Duration::from_secs(5);

pub(super) async fn run(pages: StatusPages, mut shutdown: Shutdown) {
    loop {
        let now = pages.inner.clock.now_ms();
        let due = {
            let outbox = pages.inner.outbox.lock().unwrap_or_else(|e| e.into_inner());
            outbox
                .values()
                .filter(|m| m.next_ms <= now)
                .min_by_key(|m| (m.next_ms, m.id))
                .cloned()
        };
        let Some(mut mail) = due else {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = pages.inner.mail_wake.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
            continue;
        };
        let outcome = match pages.email_of(&mail) {
            Some(m) => {
                tokio::select! {
                    _ = shutdown.wait() => return,
                    o = smtp::send(&m, SEND_TIMEOUT) => o,
                }
            }
            None => Outcome::Permanent {
                reason: "the page no longer takes e-mail subscribers".into(),
                code: None,
            },
        };
        let now = pages.inner.clock.now_ms();
        let write = match outcome {
            Outcome::Sent { .. } => StatusWrite {
                removed_mails: vec![mail.id],
                ..Default::default()
            },
            Outcome::Transient { reason, .. }
                if now.saturating_sub(mail.created_ms) < GIVE_UP_MS =>
            {
                mail.attempts += 1;
                mail.next_ms = now + backoff_ms(mail.attempts - 1);
                mail.last_error = Some(reason);
                StatusWrite {
                    mails: vec![(mail.id, serde_json::to_vec(&mail).unwrap_or_default())],
                    ..Default::default()
                }
            }
            Outcome::Transient { reason, .. } | Outcome::Permanent { reason, .. } => {
                warn!(page = %mail.page, to = %mail.to, %reason, "status page e-mail dropped");
                StatusWrite {
                    removed_mails: vec![mail.id],
                    ..Default::default()
                }
            }
        };
        let done = !write.removed_mails.is_empty();
        match pages.inner.store.write(vec![Write::Status(write)]).await {
            Ok(_) => {
                let mut outbox = pages.inner.outbox.lock().unwrap_or_else(|e| e.into_inner());
                if done {
                    outbox.remove(&mail.id);
                } else {
                    outbox.insert(mail.id, mail);
                }
            }
            Err(e) => {
                // Kept as it was: tried again after a pause (a sent one may go twice).
                warn!(error = %e, "status page outbox not updated");
                tokio::select! {
                    _ = shutdown.wait() => return,
                    _ = tokio::time::sleep(IDLE) => {}
                }
            }
        }
    }
}
