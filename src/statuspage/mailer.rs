//! Sends the status pages' queued e-mails and webhook POSTs, one at a time, oldest due first: a
//! sent one is removed from the outbox durably; a transient failure waits (5 s doubling, at
//! most an hour) and is dropped after a day; a permanent one is dropped at once. Both are
//! logged. A crash between sending and removing sends that one again (at least once).
//!
//! Webhooks follow Statuspage's rules: a 2xx answer within 30 s is delivered; a redirect is a
//! failure (not followed); 408, 429 and 5xx are tried again, other 4xx are not.

use std::time::Duration;

use tracing::warn;

use super::engine::StatusPages;
use super::subscribers::{GIVE_UP_MS, backoff_ms};
use crate::outbound::smtp::{self, Outcome};
use crate::outbound::{ClientOptions, Redirects};
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
        let outcome = match &mail.endpoint {
            Some(url) => {
                tokio::select! {
                    _ = shutdown.wait() => return,
                    o = post(&pages, url, &mail.text) => o,
                }
            }
            None => match pages.email_of(&mail) {
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
                let to = mail.endpoint.as_deref().unwrap_or(&mail.to);
                warn!(page = %mail.page, %to, %reason, "status page notification dropped");
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

/// One webhook POST of a JSON body through the shared client factory.
async fn post(pages: &StatusPages, url: &str, body: &str) -> Outcome {
    let options = ClientOptions {
        redirects: Redirects::None,
        connect_timeout: Some(SEND_TIMEOUT),
        timeout: Some(SEND_TIMEOUT),
        ..ClientOptions::default()
    };
    let client = match pages.inner.clients.client(&options) {
        Ok(c) => c,
        Err(reason) => return Outcome::Transient { reason, code: None },
    };
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    match sent {
        Ok(resp) => webhook_outcome(resp.status().as_u16()),
        Err(e) if e.is_builder() => Outcome::Permanent {
            reason: crate::outbound::error_chain(&e),
            code: None,
        },
        Err(e) => Outcome::Transient {
            reason: crate::outbound::error_chain(&e),
            code: None,
        },
    }
}

/// What a webhook's HTTP status means for the delivery.
fn webhook_outcome(code: u16) -> Outcome {
    let reason = format!("the receiver answered HTTP {code}");
    match code {
        200..=299 => Outcome::Sent { code: Some(code) },
        408 | 429 | 500..=599 => Outcome::Transient {
            reason,
            code: Some(code),
        },
        _ => Outcome::Permanent {
            reason,
            code: Some(code),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_answers_are_sorted_like_statuspage_does() {
        assert!(matches!(webhook_outcome(204), Outcome::Sent { .. }));
        // A redirect is a failure, and not one that goes away by itself.
        assert!(matches!(webhook_outcome(301), Outcome::Permanent { .. }));
        assert!(matches!(webhook_outcome(404), Outcome::Permanent { .. }));
        for code in [408, 429, 500, 503] {
            assert!(
                matches!(webhook_outcome(code), Outcome::Transient { .. }),
                "{code}"
            );
        }
    }
}
