//! Notification channels: what each receiver type sends for a notification (rendering, pure)
//! and how one attempt goes (sending, through the shared outbound client factory or SMTP).
//! Wire shapes follow each provider's documentation; the README's "Alerts" section lists the
//! options of each channel.
//!
//! Owns: payloads, the answer → verdict mapping (2xx delivered; 429 and 5xx and network errors
//! retried, honouring `Retry-After` and the `retry_after` of Discord's and Telegram's bodies;
//! other 4xx failed with the receiver's answer). Depends on: `outbound`, `lettre`.

mod chat;
mod email;
mod paging;
mod webhook;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::config::{AlertsConfig, HttpConfig, ReceiverConfig};
use super::model::{Alert, Delivery, HttpRequest, Notification, Verdict};
use super::outbox::{Outcome, Record, Transport};
use super::template::Template;
use crate::clock::rfc3339;
use crate::outbound::{ClientOptions, Redirects, SharedClients, Tls};

pub use webhook::RESEND_MS as ALERTMANAGER_RESEND_MS;

/// Most bytes of a receiver's answer kept for the attempt record.
const MAX_ANSWER: usize = 2048;

/// `webhook_configs[2]` -> (`webhook_configs`, 2).
pub fn parse_channel(id: &str) -> Option<(&str, usize)> {
    let (kind, rest) = id.split_once('[')?;
    let idx = rest.strip_suffix(']')?.parse().ok()?;
    Some((kind, idx))
}

/// RFC 3339 for receivers; Alertmanager's zero time for "not ended".
pub fn am_time(ms: Option<u64>) -> String {
    ms.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339)
}

/// The data templates see: Alertmanager's template data (`.Status`, `.Alerts`,
/// `.CommonLabels`, ...).
pub fn template_data(n: &Notification) -> Value {
    json!({
        "Receiver": n.receiver,
        "Status": n.status.as_str(),
        "Alerts": n.alerts.iter().map(|a| json!({
            "Status": a.status.as_str(),
            "Labels": a.labels,
            "Annotations": a.annotations,
            "StartsAt": rfc3339(a.starts_at_ms),
            "EndsAt": am_time(a.ends_at_ms),
            "GeneratorURL": a.generator_url,
            "Fingerprint": a.fingerprint,
        })).collect::<Vec<_>>(),
        "GroupLabels": n.group_labels,
        "CommonLabels": n.common_labels,
        "CommonAnnotations": n.common_annotations,
        "ExternalURL": n.external_url,
        "GroupKey": n.group_key,
        "TruncatedAlerts": n.truncated_alerts,
    })
}

/// Renders an optional template over the notification, or the default.
pub fn text_or(
    t: Option<&String>,
    n: &Notification,
    default: impl FnOnce() -> String,
) -> Result<String, String> {
    match t {
        Some(src) => Template::parse(src)
            .map(|t| t.render(&template_data(n)))
            .map_err(|e| format!("template: {e}")),
        None => Ok(default()),
    }
}

/// The default message body: one line per alert with its summary, then its description
/// and link.
pub fn default_text(n: &Notification) -> String {
    let mut out = String::new();
    for a in &n.alerts {
        out.push_str(&alert_line(a));
        out.push('\n');
        if let Some(d) = a.annotations.get("description") {
            out.push_str("  ");
            out.push_str(d);
            out.push('\n');
        }
        if !a.generator_url.is_empty() {
            out.push_str("  ");
            out.push_str(&a.generator_url);
            out.push('\n');
        }
    }
    if n.truncated_alerts > 0 {
        out.push_str(&format!("… and {} more\n", n.truncated_alerts));
    }
    // On-call pages carry their links as common annotations.
    if let Some(u) = n.common_annotations.get("ack_url") {
        out.push_str(&format!("Acknowledge: {u}\n"));
    }
    if let Some(u) = n.common_annotations.get("page_url") {
        out.push_str(&format!("Page: {u}\n"));
    }
    out
}

/// `[FIRING] ApiDown: api is DOWN (monitor=api, severity=critical)`.
pub fn alert_line(a: &Alert) -> String {
    let summary = a
        .annotations
        .get("summary")
        .cloned()
        .unwrap_or_else(|| a.name().to_string());
    let labels: Vec<String> = a
        .labels
        .iter()
        .filter(|(k, _)| *k != "alertname")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "[{}] {}: {} ({})",
        a.status.as_str().to_ascii_uppercase(),
        a.name(),
        summary,
        labels.join(", ")
    )
}

/// The notification with at most `max` alerts (0: all), the rest counted.
pub fn truncated(n: &Notification, max: u64) -> Notification {
    let mut n = n.clone();
    if max > 0 && n.alerts.len() as u64 > max {
        n.truncated_alerts += n.alerts.len() as u64 - max;
        n.alerts.truncate(max as usize);
    }
    n
}

/// A JSON POST with the channel's HTTP options.
pub fn post_json(url: &str, body: &Value, http: &HttpConfig) -> HttpRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    auth_headers(http, &mut headers);
    HttpRequest {
        method: "POST".into(),
        url: url.to_string(),
        headers,
        body: serde_json::to_vec(body).unwrap_or_default(),
        ca_file: http
            .tls_config
            .ca_file
            .as_ref()
            .map(|p| p.display().to_string()),
        insecure_skip_verify: http.tls_config.insecure_skip_verify,
        proxy: http.proxy_url.clone(),
        timeout_ms: None,
    }
}

/// A channel's `template:`: the body rendered over the notification replaces the channel's
/// own payload (for what the payload does not cover). Sent as JSON when it looks like JSON,
/// else as plain text.
pub fn templated(req: &mut HttpRequest, template: &str, n: &Notification) -> Result<(), String> {
    let body = Template::parse(template)
        .map(|t| t.render(&template_data(n)))
        .map_err(|e| format!("template: {e}"))?;
    req.body = body.into_bytes();
    if !looks_like_json(&req.body) {
        for h in &mut req.headers {
            if h.0 == "content-type" {
                h.1 = "text/plain; charset=utf-8".into();
            }
        }
    }
    Ok(())
}

pub fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[')
}

fn auth_headers(http: &HttpConfig, headers: &mut Vec<(String, String)>) {
    if let Some(a) = &http.authorization {
        headers.push(("authorization".into(), a.header()));
    } else if let Some(t) = &http.bearer_token {
        headers.push(("authorization".into(), format!("Bearer {t}")));
    } else if let Some(b) = &http.basic_auth {
        use base64::Engine;
        let raw = format!("{}:{}", b.username, b.password);
        headers.push((
            "authorization".into(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ),
        ));
    }
}

/// What one channel of `receiver` sends for `n`, at `now` (as configured now).
pub fn render(
    cfg: &AlertsConfig,
    receiver: &ReceiverConfig,
    channel: &str,
    n: &Notification,
    now: u64,
) -> Result<Vec<Delivery>, String> {
    let (kind, i) =
        parse_channel(channel).ok_or_else(|| format!("`{channel}` is not a channel id"))?;
    let missing = || format!("receiver `{}` has no {channel} any more", receiver.name);
    let g = &cfg.global;
    match kind {
        "webhook_configs" => {
            webhook::webhook(receiver.webhook_configs.get(i).ok_or_else(missing)?, n)
        }
        "alertmanager_configs" => webhook::alertmanager(
            receiver.alertmanager_configs.get(i).ok_or_else(missing)?,
            n,
            now,
        ),
        "email_configs" => email::render(receiver.email_configs.get(i).ok_or_else(missing)?, g, n),
        "slack_configs" => chat::slack(receiver.slack_configs.get(i).ok_or_else(missing)?, g, n),
        "msteamsv2_configs" => {
            chat::teams(receiver.msteamsv2_configs.get(i).ok_or_else(missing)?, n)
        }
        "discord_configs" => chat::discord(receiver.discord_configs.get(i).ok_or_else(missing)?, n),
        "telegram_configs" => {
            chat::telegram(receiver.telegram_configs.get(i).ok_or_else(missing)?, g, n)
        }
        "ntfy_configs" => chat::ntfy(receiver.ntfy_configs.get(i).ok_or_else(missing)?, n),
        "pagerduty_configs" => {
            paging::pagerduty(receiver.pagerduty_configs.get(i).ok_or_else(missing)?, g, n)
        }
        "opsgenie_configs" => {
            paging::opsgenie(receiver.opsgenie_configs.get(i).ok_or_else(missing)?, g, n)
        }
        _ => Err(format!("unknown channel type `{kind}`")),
    }
}

/// How long one attempt of `channel` may take: the channel's own `timeout` (webhooks, as
/// Alertmanager's), else `alerts.delivery.timeout`.
pub fn attempt_timeout(cfg: &AlertsConfig, receiver: &str, channel: &str) -> Duration {
    let own = match parse_channel(channel) {
        Some(("webhook_configs", i)) => cfg
            .receivers
            .iter()
            .find(|r| r.name == receiver)
            .and_then(|r| r.webhook_configs.get(i))
            .and_then(|c| c.timeout()),
        _ => None,
    };
    own.unwrap_or_else(|| cfg.delivery.timeout.get())
}

/// `Retry-After` as seconds or an HTTP date, in ms.
fn retry_after(headers: &reqwest::header::HeaderMap, now_ms: u64) -> Option<u64> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as u64);
    }
    let at = httpdate_ms(v)?;
    Some(at.saturating_sub(now_ms))
}

fn httpdate_ms(v: &str) -> Option<u64> {
    // `Sun, 06 Nov 1994 08:49:37 GMT`
    let t = jiff::fmt::rfc2822::parse(v).ok()?;
    u64::try_from(t.timestamp().as_millisecond()).ok()
}

/// Discord's and Telegram's `retry_after` (seconds) in a JSON body.
fn body_retry_after(body: &str) -> Option<u64> {
    let v: Value = serde_json::from_str(body).ok()?;
    let s = v
        .get("retry_after")
        .or_else(|| v.pointer("/parameters/retry_after"))?
        .as_f64()?;
    (s.is_finite() && s >= 0.0).then_some((s * 1000.0) as u64)
}

/// The verdict on an HTTP answer.
pub fn verdict(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    now_ms: u64,
) -> Verdict {
    let answer = || {
        // The answer ends up in logs and the dashboard: no control characters.
        let b: String = body
            .chars()
            .take(MAX_ANSWER)
            .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
            .collect();
        format!("HTTP {status}: {}", b.trim())
    };
    match status {
        200..=299 => Verdict::Delivered,
        429 => Verdict::Retry {
            after_ms: retry_after(headers, now_ms).or_else(|| body_retry_after(body)),
            reason: answer(),
        },
        500..=599 | 408 => Verdict::Retry {
            after_ms: retry_after(headers, now_ms),
            reason: answer(),
        },
        _ => Verdict::Failed { reason: answer() },
    }
}

/// Sends over HTTP and SMTP; the one [`Transport`] of a running server.
pub struct Live {
    pub clients: SharedClients,
    pub clock: crate::clock::SharedClock,
}

impl Live {
    pub fn new(clients: SharedClients, clock: crate::clock::SharedClock) -> Arc<Live> {
        Arc::new(Live { clients, clock })
    }

    async fn http(&self, r: &HttpRequest, timeout: Duration) -> (Verdict, Option<u16>) {
        let options = ClientOptions {
            tls: Tls {
                insecure: r.insecure_skip_verify,
                ca_file: r.ca_file.as_ref().map(Into::into),
                ca_only: false,
            },
            // Credentials in headers stay with the receiver's host.
            redirects: Redirects::SameOrigin(3),
            connect_timeout: Some(timeout),
            timeout: Some(timeout),
            proxy: r.proxy.clone(),
            ..ClientOptions::default()
        };
        let client = match self.clients.client(&options) {
            Ok(c) => c,
            Err(e) => return (Verdict::Failed { reason: e }, None),
        };
        let method =
            reqwest::Method::from_bytes(r.method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut req = client.request(method, &r.url).body(r.body.clone());
        for (k, v) in &r.headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = read_capped(resp).await;
                (
                    verdict(status, &headers, &body, self.clock.now_ms()),
                    Some(status),
                )
            }
            // A request that cannot be built (a malformed URL) will never go out.
            Err(e) if e.is_builder() => (
                Verdict::Failed {
                    reason: crate::outbound::error_chain(&e),
                },
                None,
            ),
            Err(e) => (
                Verdict::Retry {
                    after_ms: None,
                    reason: crate::outbound::error_chain(&e),
                },
                None,
            ),
        }
    }
}

/// The start of an answer body (a hostile receiver cannot make us read a gigabyte).
async fn read_capped(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        buf.extend_from_slice(&chunk);
        if buf.len() >= MAX_ANSWER * 2 {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

impl Transport for Live {
    fn send<'a>(
        &'a self,
        cfg: &'a AlertsConfig,
        record: &'a Record,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            let started = Instant::now();
            let done = |verdict, status| Outcome {
                verdict,
                status,
                latency_ms: started.elapsed().as_millis() as u64,
            };
            let Some(receiver) = cfg.receivers.iter().find(|r| r.name == record.receiver) else {
                return done(
                    Verdict::Failed {
                        reason: format!("no receiver named `{}` any more", record.receiver),
                    },
                    None,
                );
            };
            let deliveries = match render(
                cfg,
                receiver,
                &record.channel,
                &record.notification,
                self.clock.now_ms(),
            ) {
                Ok(d) => d,
                Err(e) => return done(Verdict::Failed { reason: e }, None),
            };
            let timeout = cfg.delivery.timeout.get();
            // Several deliveries (one per alert for PagerDuty and Opsgenie): all must go; the
            // worst verdict stands, so a retry resends them all (they deduplicate).
            let mut worst = (Verdict::Delivered, None);
            for d in &deliveries {
                let (v, s) = match d {
                    Delivery::Http(r) => {
                        let t = r.timeout_ms.map_or(timeout, Duration::from_millis);
                        self.http(r, t).await
                    }
                    Delivery::Email(m) => email::send(m, timeout).await,
                };
                let rank = |v: &Verdict| match v {
                    Verdict::Delivered => 0,
                    Verdict::Retry { .. } => 1,
                    Verdict::Failed { .. } => 2,
                };
                if rank(&v) > rank(&worst.0) {
                    worst = (v, s);
                } else if worst.1.is_none() {
                    worst.1 = s;
                }
            }
            done(worst.0, worst.1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_verdicts() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(verdict(202, &h, "", 0), Verdict::Delivered);
        assert!(
            matches!(verdict(400, &h, "invalid_payload", 0), Verdict::Failed { reason } if reason.contains("invalid_payload"))
        );
        assert!(matches!(
            verdict(503, &h, "", 0),
            Verdict::Retry { after_ms: None, .. }
        ));
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().expect("header"));
        assert!(matches!(
            verdict(429, &h, "", 0),
            Verdict::Retry {
                after_ms: Some(7000),
                ..
            }
        ));
        let h = reqwest::header::HeaderMap::new();
        assert!(matches!(
            verdict(
                429,
                &h,
                r#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#,
                0
            ),
            Verdict::Retry {
                after_ms: Some(1500),
                ..
            }
        ));
        assert!(matches!(
            verdict(
                429,
                &h,
                r#"{"ok":false,"error_code":429,"parameters":{"retry_after":3}}"#,
                0
            ),
            Verdict::Retry {
                after_ms: Some(3000),
                ..
            }
        ));
        let mut d = reqwest::header::HeaderMap::new();
        d.insert(
            reqwest::header::RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().expect("h"),
        );
        let at = httpdate_ms("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        assert!(matches!(
            verdict(503, &d, "", at - 2000),
            Verdict::Retry {
                after_ms: Some(2000),
                ..
            }
        ));
    }

    #[test]
    fn channel_ids_parse() {
        assert_eq!(
            parse_channel("webhook_configs[2]"),
            Some(("webhook_configs", 2))
        );
        assert_eq!(parse_channel("webhook_configs"), None);
        assert_eq!(parse_channel("x[y]"), None);
    }
}
