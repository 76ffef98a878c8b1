//! Subscribing, confirming, unsubscribing, and the e-mails an incident update queues. Every
//! change is durable before it is answered; the subscribe form answers the same whether or not
//! the address is known.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};

use super::engine::{StatusError, StatusPages, read, write};
use super::model::Incident;
use super::subscribers::{self, MAX_SUBSCRIBERS, OutMail, Subscriber};
use super::view::PageView;
use super::webhooks;
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

    /// Component ids of page `view` among `wanted` (ids or names; unknown ones are ignored).
    fn component_ids(view: &PageView, wanted: &[String]) -> Vec<String> {
        wanted
            .iter()
            .filter_map(|c| {
                view.all()
                    .find(|v| v.id == *c || v.name == *c)
                    .map(|v| v.id.clone())
            })
            .collect()
    }

    /// The subscribe form with a webhook URL (`endpoint`), when the page takes them from the
    /// public: rate-limited like e-mail, confirmed at once (a URL has no inbox), durable
    /// before it answers. `contact` is an optional e-mail address kept with it.
    pub async fn subscribe_webhook(
        &self,
        slug: &str,
        endpoint: &str,
        contact: &str,
        components: &[String],
        client: &str,
    ) -> Result<Subscriber, StatusError> {
        let r = self
            .get(slug)
            .filter(|r| {
                r.view
                    .config
                    .subscribers
                    .webhook
                    .as_ref()
                    .is_some_and(|w| w.public)
            })
            .ok_or_else(|| {
                StatusError::NotFound(format!(
                    "status page `{slug}` takes no webhook subscriptions"
                ))
            })?;
        let endpoint = endpoint.trim();
        super::config::webhook_url(endpoint)
            .map_err(|e| StatusError::Invalid(format!("endpoint: {e}")))?;
        let contact = match contact.trim() {
            "" => String::new(),
            c => subscribers::normalise(c)
                .ok_or_else(|| StatusError::Invalid("email: not an e-mail address".into()))?,
        };
        let now = self.inner.clock.now_ms();
        if !lock(&self.inner.limiter).allow(client, slug, now) {
            return Err(StatusError::RateLimited);
        }
        let existing = read(&self.inner.subscribers)
            .values()
            .find(|s| s.page == slug && s.endpoint.as_deref() == Some(endpoint))
            .cloned();
        if let Some(s) = existing {
            return Ok(s);
        }
        if read(&self.inner.subscribers).len() >= MAX_SUBSCRIBERS {
            return Err(StatusError::Invalid(
                "the subscriber list is full; ask the page's owner".into(),
            ));
        }
        let sub = Subscriber {
            token: subscribers::token(),
            page: slug.to_string(),
            email: contact,
            components: Self::component_ids(&r.view, components),
            confirmed: true,
            created_ms: now,
            confirmed_ms: Some(now),
            endpoint: Some(endpoint.to_string()),
        };
        self.inner
            .store
            .write(vec![Write::Status(StatusWrite {
                subscribers: vec![(sub.token.clone(), json(&sub))],
                ..Default::default()
            })])
            .await?;
        write(&self.inner.subscribers).insert(sub.token.clone(), sub.clone());
        Ok(sub)
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
        let comps = Self::component_ids(&r.view, components);
        let existing = read(&self.inner.subscribers)
            .values()
            .find(|s| {
                s.page == slug && s.endpoint.is_none() && s.email.eq_ignore_ascii_case(&email)
            })
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
                    endpoint: None,
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
            endpoint: None,
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
        self.queue_mails(vec![mail], true);
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
            .filter(|m| {
                m.page == slug
                    && match (&sub.endpoint, &m.endpoint) {
                        (Some(a), Some(b)) => a == b,
                        (None, None) => m.to.eq_ignore_ascii_case(&sub.email),
                        _ => false,
                    }
            })
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

    /// What an incident's latest update sends: an e-mail to each confirmed subscriber of the
    /// page who follows a component it touches, and a Statuspage-shaped POST to each webhook
    /// (subscribed or configured) that does.
    pub(super) fn update_mails(&self, view: &PageView, i: &Incident, now: u64) -> Vec<OutMail> {
        let cfg = &view.config.subscribers;
        let subs: Vec<Subscriber> = read(&self.inner.subscribers)
            .values()
            .filter(|s| s.page == i.page && s.confirmed && s.wants(i))
            .filter(|s| match s.endpoint {
                Some(_) => cfg.webhook.is_some(),
                None => cfg.email.is_some(),
            })
            .cloned()
            .collect();
        let out = |to: String, subject, text, html, unsubscribe_url, endpoint| OutMail {
            id: self.inner.next_mail.fetch_add(1, Ordering::SeqCst),
            page: i.page.clone(),
            to,
            subject,
            text,
            html,
            unsubscribe_url,
            created_ms: now,
            attempts: 0,
            next_ms: now,
            last_error: None,
            endpoint,
        };
        let mut mails: Vec<OutMail> = subs
            .into_iter()
            .map(|s| {
                let unsubscribe = format!("{}/unsubscribe/{}", self.page_url(view), s.token);
                match s.endpoint {
                    Some(url) => {
                        let body = webhooks::incident_body(view, i, Some(&unsubscribe));
                        out(s.email, String::new(), body, String::new(), None, Some(url))
                    }
                    None => {
                        let (subject, text, html) = subscribers::update(view, i, &unsubscribe);
                        out(s.email, subject, text, html, Some(unsubscribe), None)
                    }
                }
            })
            .collect();
        for w in cfg.webhook.iter().flat_map(|w| w.endpoints.iter()) {
            let follows = Subscriber {
                token: String::new(),
                page: i.page.clone(),
                email: String::new(),
                components: Self::component_ids(view, &w.components),
                confirmed: true,
                created_ms: 0,
                confirmed_ms: None,
                endpoint: None,
            };
            // A configured list naming only unknown components follows nothing, not all.
            if !w.components.is_empty() && follows.components.is_empty() || !follows.wants(i) {
                continue;
            }
            let body = webhooks::incident_body(view, i, None);
            mails.push(out(
                String::new(),
                String::new(),
                body,
                String::new(),
                None,
                Some(w.url.clone()),
            ));
        }
        mails
    }

    /// Hands durable mails to the sender; `wake`: at once (else at the next render, so a
    /// reader who follows an update's link finds the page showing it).
    pub(super) fn queue_mails(&self, mails: Vec<OutMail>, wake: bool) {
        if mails.is_empty() {
            return;
        }
        let mut outbox = lock(&self.inner.outbox);
        for m in mails {
            outbox.insert(m.id, m);
        }
        drop(outbox);
        if wake {
            self.inner.mail_wake.notify_one();
        }
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
