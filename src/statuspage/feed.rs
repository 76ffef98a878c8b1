//! `history.atom` (Atom 1.0, RFC 4287) and `history.rss` (RSS 2.0): the page's incidents and
//! maintenance, newest first, each with its updates as escaped HTML content.

use std::fmt::Write;

use jiff::Timestamp;

use super::html::{markdown, rfc3339, when};
use super::model::Incident;
use super::view::PageView;

/// Entries per feed.
const LIMIT: usize = 50;

/// Escapes text for XML content and attribute values.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// An entry's body: every update, newest first, as HTML.
fn content(i: &Incident, p: &PageView) -> String {
    let tz = &p.config.time_zone.0;
    let mut html = String::new();
    for u in i.updates.iter().rev() {
        let _ = write!(
            html,
            "<p><small>{}</small><br><strong>{}</strong></p>{}",
            when(u.created_ms, tz),
            u.status.label(),
            markdown(&u.body)
        );
    }
    html
}

fn link(i: &Incident, p: &PageView) -> String {
    format!("{}/history#incident-{}", p.url, i.id)
}

pub fn atom(p: &PageView) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n<id>{url}</id>\n<title>{title} status history</title>\n<updated>{updated}</updated>\n<link rel=\"alternate\" type=\"text/html\" href=\"{url}\"/>\n<link rel=\"self\" type=\"application/atom+xml\" href=\"{url}/history.atom\"/>\n<author><name>{title}</name></author>\n",
        url = xml(&p.url),
        title = xml(&p.config.title),
        updated = rfc3339(p.updated_ms),
    );
    for i in p.incidents.iter().take(LIMIT) {
        let _ = write!(
            out,
            "<entry>\n<id>tag:panoptes,{slug}:incident:{id}</id>\n<title>{name}</title>\n<published>{published}</published>\n<updated>{updated}</updated>\n<link rel=\"alternate\" type=\"text/html\" href=\"{link}\"/>\n<content type=\"html\">{content}</content>\n</entry>\n",
            slug = xml(&p.config.slug),
            id = i.id,
            name = xml(&i.name),
            published = rfc3339(i.created_ms),
            updated = rfc3339(i.updated_ms),
            link = xml(&link(i, p)),
            content = xml(&content(i, p)),
        );
    }
    out.push_str("</feed>\n");
    out
}

/// RFC 822 dates, as RSS 2.0 wants them.
fn rfc822(ms: u64) -> String {
    Timestamp::from_millisecond(ms as i64)
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_default()
}

pub fn rss(p: &PageView) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n<title>{title} status history</title>\n<link>{url}</link>\n<description>Incidents and maintenance of {title}</description>\n<lastBuildDate>{updated}</lastBuildDate>\n<atom:link href=\"{url}/history.rss\" rel=\"self\" type=\"application/rss+xml\"/>\n",
        url = xml(&p.url),
        title = xml(&p.config.title),
        updated = rfc822(p.updated_ms),
    );
    for i in p.incidents.iter().take(LIMIT) {
        let _ = write!(
            out,
            "<item>\n<title>{name}</title>\n<link>{link}</link>\n<guid isPermaLink=\"false\">tag:panoptes,{slug}:incident:{id}</guid>\n<pubDate>{date}</pubDate>\n<description>{content}</description>\n</item>\n",
            name = xml(&i.name),
            link = xml(&link(i, p)),
            slug = xml(&p.config.slug),
            id = i.id,
            date = rfc822(i.created_ms),
            content = xml(&content(i, p)),
        );
    }
    out.push_str("</channel>\n</rss>\n");
    out
}
