//! Chat and push channels: Slack (incoming webhook: `text` fallback and blocks), Microsoft
//! Teams (Workflows webhook with an Adaptive Card), Discord (embed), Telegram (bot
//! `sendMessage`) and ntfy (JSON publish). Each takes a `template:` that replaces its payload
//! (see [`templated`]).

use serde_json::{Value, json};

use super::{default_text, looks_like_json, post_json, templated, text_or};
use crate::alerts::config::{
    DiscordConfig, GlobalConfig, NtfyConfig, SlackConfig, TeamsConfig, TelegramConfig,
};
use crate::alerts::model::HttpRequest;
use crate::alerts::model::{AlertStatus, Delivery, Notification};

/// Cuts `s` to `max` characters, marking the cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn firing(n: &Notification) -> bool {
    n.status == AlertStatus::Firing
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The request, with its body replaced by the channel's `template:` if it has one.
fn finish(
    mut req: HttpRequest,
    template: Option<&String>,
    n: &Notification,
) -> Result<Vec<Delivery>, String> {
    if let Some(t) = template {
        templated(&mut req, t, n)?;
    }
    Ok(vec![Delivery::Http(req)])
}

/// Where a click should go: the one alert's own view, else the alerts page.
fn click(n: &Notification) -> String {
    match n.alerts.as_slice() {
        [one] if !one.generator_url.is_empty() => one.generator_url.clone(),
        _ => format!("{}/alerts", n.external_url),
    }
}

pub fn slack(c: &SlackConfig, g: &GlobalConfig, n: &Notification) -> Result<Vec<Delivery>, String> {
    let url = c
        .api_url
        .clone()
        .or_else(|| g.slack_api_url.clone())
        .ok_or("slack_configs needs `api_url` (or `global.slack_api_url`)")?;
    let title = text_or(c.title.as_ref(), n, || n.title())?;
    let text = text_or(c.text.as_ref(), n, || default_text(n))?;
    let link = text_or(c.title_link.as_ref(), n, || {
        format!("{}/alerts", n.external_url)
    })?;
    let mut body = json!({
        // The fallback shown in notifications and by clients without blocks.
        "text": clip(&format!("{title}\n{text}"), 3000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": clip(&title, 150), "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(&slack_escape(&text), 3000)}},
            {"type": "context", "elements": [{"type": "mrkdwn",
                "text": format!("<{link}|Open in Panoptes>")}]},
        ],
    });
    if let Some(ch) = &c.channel {
        body["channel"] = json!(ch);
    }
    if let Some(u) = &c.username {
        body["username"] = json!(u);
    }
    if let Some(e) = &c.icon_emoji {
        body["icon_emoji"] = json!(e);
    }
    let req = post_json(&url, &body, &c.http_config);
    finish(req, c.template.as_ref(), n)
}

pub fn teams(c: &TeamsConfig, n: &Notification) -> Result<Vec<Delivery>, String> {
    let title = text_or(c.title.as_ref(), n, || n.title())?;
    let text = text_or(c.text.as_ref(), n, || default_text(n))?;
    let color = if firing(n) { "Attention" } else { "Good" };
    let body = json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "full"},
                "body": [
                    {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium",
                     "color": color, "wrap": true},
                    {"type": "TextBlock", "text": text, "wrap": true},
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Open in Panoptes",
                             "url": format!("{}/alerts", n.external_url)}],
            },
        }],
    });
    let req = post_json(&c.webhook_url, &body, &c.http_config);
    finish(req, c.template.as_ref(), n)
}

pub fn discord(c: &DiscordConfig, n: &Notification) -> Result<Vec<Delivery>, String> {
    let title = text_or(c.title.as_ref(), n, || n.title())?;
    let text = text_or(c.message.as_ref(), n, || default_text(n))?;
    // Red while firing, green when resolved.
    let color = if firing(n) { 0x00E0_3B3B } else { 0x002E_CC71 };
    let body = json!({
        "embeds": [{
            "title": clip(&title, 256),
            "description": clip(&text, 4000),
            "color": color,
            "url": format!("{}/alerts", n.external_url),
        }],
        "allowed_mentions": {"parse": []},
    });
    let req = post_json(&c.webhook_url, &body, &c.http_config);
    finish(req, c.template.as_ref(), n)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn telegram(
    c: &TelegramConfig,
    g: &GlobalConfig,
    n: &Notification,
) -> Result<Vec<Delivery>, String> {
    let base = c
        .api_url
        .clone()
        .unwrap_or_else(|| g.telegram_api_url.clone());
    let url = format!(
        "{}/bot{}/sendMessage",
        base.trim_end_matches('/'),
        c.bot_token
    );
    let text = match &c.message {
        Some(_) => text_or(c.message.as_ref(), n, String::new)?,
        None if c.parse_mode == "HTML" => format!(
            "<b>{}</b>\n{}",
            html_escape(&n.title()),
            html_escape(&default_text(n))
        ),
        // MarkdownV2 needs every special character escaped; plain text is safest.
        None => format!("{}\n{}", n.title(), default_text(n)),
    };
    let mut body = json!({
        "chat_id": c.chat_id,
        "text": clip(&text, 4096),
        "disable_notification": c.disable_notifications,
    });
    if c.message.is_some() || c.parse_mode == "HTML" {
        body["parse_mode"] = json!(c.parse_mode);
    }
    if let Some(t) = c.message_thread_id {
        body["message_thread_id"] = json!(t);
    }
    let req = post_json(&url, &body, &c.http_config);
    finish(req, c.template.as_ref(), n)
}

pub fn ntfy(c: &NtfyConfig, n: &Notification) -> Result<Vec<Delivery>, String> {
    let title = text_or(c.title.as_ref(), n, || n.title())?;
    let message = text_or(c.message.as_ref(), n, || default_text(n))?;
    let priority = c
        .priority
        .unwrap_or(if firing(n) { 4 } else { 3 })
        .clamp(1, 5);
    let mut tags: Vec<Value> = c.tags.iter().map(|t| json!(t)).collect();
    tags.push(json!(if firing(n) {
        "rotating_light"
    } else {
        "white_check_mark"
    }));
    let body = json!({
        "topic": c.topic,
        "title": clip(&title, 250),
        "message": clip(&message, 4000),
        "priority": priority,
        "tags": tags,
        "click": click(n),
    });
    let mut http = c.http_config.clone();
    if let Some(t) = &c.token {
        http.bearer_token = Some(t.clone());
    }
    // ntfy takes JSON publishes at its root URL, plain text at the topic's.
    let root = c.url.trim_end_matches('/');
    let mut req = post_json(&format!("{root}/"), &body, &http);
    if let Some(t) = &c.template {
        templated(&mut req, t, n)?;
        if !looks_like_json(&req.body) {
            req.url = format!("{root}/{}", c.topic);
        }
    }
    Ok(vec![Delivery::Http(req)])
}
