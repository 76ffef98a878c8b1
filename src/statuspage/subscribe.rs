//! Subscribing, confirming, unsubscribing, and the e-mails an incident update queues. Every
//! change is durable before it is answered; the subscribe form answers the same whether or not
//! the address is known.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};

use super::engine::{StatusError, StatusPages, read, write};
use super::model::Incident;
use super::subscribers::{self, MAX_SUBSCRIBERS, OutMail, Subscriber};
use super::view::PageView;
use crate::outbound::smtp::{EmailMessage, SmtpSettings};
use crate::store::Write;
use crate::store::statuspage::StatusWrite;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a subscribe request came to (the reader is told the same either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// A confirmation mail is queued (a new address, or one still unconfirmed).
    ConfirmationQueued,
    /// Already confirmed, or the subscriber list is full: nothing sent.
    Nothing,
}

impl StatusPages {
    fn page_url(&self, view: &PageView) -> String {
        view.url.clone()
    }

    /// Whether page `slug` takes e-mail subscriptions.
    pub fn takes_subscribers(&self, slug: &str) -> bool {
        self.get(slug)
            .is_some_and(|r| r.view.config.subscribers.email.is_some())
    }

    /// The subscribe form: rate-limited per client and page, then a pending subscriber and its
    /// confirmation mail, durably.
    pub async fn subscribe(
        &self,
        slug: &str,
        email: &str,
        components: &[String],
        client: &str,
    ) -> Result<Subscribed, StatusError> {
        let r = self
            .get(slug)
            .filter(|r| r.view.config.subscribers.email.is_some())
            .ok_or_else(|| {
                StatusError::NotFound(format!("status page `{slug}` takes no subscriptions"))
            })?;
        let email = subscribers::normalise(email)
            .ok_or_else(|| StatusError::Invalid("email: not an e-mail address".into()))?;
        let now = self.inner.clock.now_ms();
        if !lock(&self.inner.limiter).allow(client, slug, now) {
            return Err(StatusError::RateLimited);
        }
        // Only ids of this page's components; unknown ones are ignored.
        let comps: Vec<String> = components
            .iter()
            .filter_map(|c| {
                r.view
                    .all()
                    .find(|v| v.id == *c || v.name == *c)
                    .map(|v| v.id.clone())
            })
            .collect();
        let existing = read(&self.inner.subscribers)
            .values()
            .find(|s| s.page == slug && s.email.eq_ignore_ascii_case(&email))
            .cloned();
        let sub = match existing {
            Some(s) if s.confirmed => return Ok(Subscribed::Nothing),
            Some(s) => s,
            None => {
                if read(&self.inner.subscribers).len() >= MAX_SUBSCRIBERS {
                    tracing::warn!(
                        page = slug,
                        "subscriber list full; a subscription was not taken"
                    );
                    return Ok(Subscribed::Nothing);
                }
                Subscriber {
                    token: subscribers::token(),
                    page: slug.to_string(),
                    email: email.clone(),
                    components: comps,
                    confirmed: false,
                    created_ms: now,
                    confirmed_ms: None,
                }
            }
        };
        let confirm_url = format!("{}/subscribe/confirm/{}", self.page_url(&r.view), sub.token);
        let (subject, text, html) = subscribers::confirmation(&r.view, &confirm_url);
        let mail = OutMail {
            id: self.inner.next_mail.fetch_add(1, Ordering::SeqCst),
            page: slug.to_string(),
            to: email,
            subject,
            text,
            html,
            unsubscribe_url: None,
            created_ms: now,
            attempts: 0,
            next_ms: now,
            last_error: None,
        };
        self.inner
            .store
            .write(vec![Write::Status(StatusWrite {
                subscribers: vec![(sub.token.clone(), json(&sub))],
                mails: vec![(mail.id, json(&mail))],
                ..Default::default()
            })])
            .await?;
        write(&self.inner.subscribers).insert(sub.token.clone(), sub);
        self.queue_mails(vec![mail]);
        Ok(Subscribed::ConfirmationQueued)
    }

    /// The subscriber a link's token names on page `slug`.
    pub fn subscriber(&self, slug: &str, token: &str) -> Option<Subscriber> {
        read(&self.inner.subscribers)
            .get(token)
            .filter(|s| s.page == slug)
            .cloned()
    }

    /// Confirms a pending subscription; false when the token names none.
    pub async fn confirm(&self, slug: &str, token: &str) -> Result<bool, StatusError> {
        let Some(mut sub) = self.subscriber(slug, token) else {
            return Ok(false);
        };
        if sub.confirmed {
            return Ok(true);
        }
        sub.confirmed = true;
        sub.confirmed_ms = Some(self.inner.clock.now_ms());
        self.inner
            .store
            .write(vec![Write::Status(StatusWrite {
                subscribers: vec![(sub.token.clone(), json(&sub))],
                ..Default::default()
            })])
            .await?;
        write(&self.inner.subscribers).insert(sub.token.clone(), sub);
        Ok(true)
    }

    /// Removes a subscriber (and drops their queued mails); false when the token names none.
    pub async fn unsubscribe(&self, slug: &str, token: &str) -> Result<bool, StatusError> {
        let Some(sub) = self.subscriber(slug, token) else {
            return Ok(false);
        };
        let queued: Vec<u64> = lock(&self.inner.outbox)
            .values()
            .filter(|m| m.page == slug && m.to.eq_ignore_ascii_case(&sub.email))
            .map(|m| m.id)
            .collect();
        self.inner
            .store
            .write(vec![Write::Status(StatusWrite {
                removed_subscribers: vec![sub.token.clone()],
                removed_mails: queued.clone(),
                ..Default::default()
            })])
            .await?;
        write(&self.inner.subscribers).remove(&sub.token);
        let mut outbox = lock(&self.inner.outbox);
        for id in queued {
            outbox.remove(&id);
        }
        Ok(true)
    }

    /// The mails an incident's latest update sends: one per confirmed subscriber of the page
    /// who follows a component it touches.
    pub(super) fn update_mails(&self, view: &PageView, i: &Incident, now: u64) -> Vec<OutMail> {
        if view.config.subscribers.email.is_none() {
            return Vec::new();
        }
        let subs: Vec<Subscriber> = read(&self.inner.subscribers)
            .values()
            .filter(|s| s.page == i.page && s.confirmed && s.wants(i))
            .cloned()
            .collect();
        subs.into_iter()
            .map(|s| {
                let unsubscribe = format!("{}/unsubscribe/{}", self.page_url(view), s.token);
                let (subject, text, html) = subscribers::update(view, i, &unsubscribe);
                OutMail {
                    id: self.inner.next_mail.fetch_add(1, Ordering::SeqCst),
                    page: i.page.clone(),
                    to: s.email,
                    subject,
                    text,
                    html,
                    unsubscribe_url: Some(unsubscribe),
                    created_ms: now,
                    attempts: 0,
                    next_ms: now,
                    last_error: None,
                }
            })
            .collect()
    }

    /// Hands durable mails to the sender.
    pub(super) fn queue_mails(&self, mails: Vec<OutMail>) {
        if mails.is_empty() {
            return;
        }
        let mut outbox = lock(&self.inner.outbox);
        for m in mails {
            outbox.insert(m.id, m);
        }
        drop(outbox);
        self.inner.mail_wake.notify_one();
    }

    /// The message `m` as the SMTP sender takes it, with the page's settings (and
    /// `alerts.global`'s where the page sets none); `None` when the page no longer takes
    /// subscribers or has no sender or server.
    pub(super) fn email_of(&self, m: &OutMail) -> Option<EmailMessage> {
        let r = self.get(&m.page)?;
        let e = r.view.config.subscribers.email.clone()?;
        let s = self.inner.settings.borrow().clone();
        let g = &s.smtp;
        let mut headers = Vec::new();
        if let Some(u) = &m.unsubscribe_url {
            // RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` to the URL.
            headers.push(("List-Unsubscribe".to_string(), format!("<{u}>")));
            headers.push((
                "List-Unsubscribe-Post".to_string(),
                "List-Unsubscribe=One-Click".to_string(),
            ));
        }
        Some(EmailMessage {
            from: e.from.or_else(|| g.from.clone())?,
            to: vec![m.to.clone()],
            subject: m.subject.clone(),
            text: m.text.clone(),
            html: Some(m.html.clone()),
            headers,
            smtp: SmtpSettings {
                smarthost: e.smarthost.or_else(|| g.smarthost.clone())?,
                require_tls: e.require_tls.unwrap_or(g.require_tls),
                username: e.auth_username.or_else(|| g.username.clone()),
                password: e.auth_password.or_else(|| g.password.clone()),
                ca_file: None,
                insecure_skip_verify: false,
                hello: e.hello.or_else(|| g.hello.clone()),
            },
        })
    }
}

/// JSON bytes of a stored record (serialising these plain structs cannot fail).
fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
