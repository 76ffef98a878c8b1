//! Fetching one target's export: one GET with a deadline over the whole exchange (connect,
//! headers, body), a body read in chunks up to a byte limit, and a lenient, bounded parse.

use std::time::{Duration, Instant};

use super::config::ServiceConfig;

use super::internal::bounded;
use super::model::{self, Payload};

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ScrapeError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Request(String),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("response body larger than {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    Parse(String),
}

/// Everything one request needs, precomputed per service.
#[derive(Clone)]
pub struct RequestSpec {
    pub client: reqwest::Client,
    pub timeout: Duration,
    pub max_body: u64,
    pub headers: reqwest::header::HeaderMap,
}

impl RequestSpec {
    pub fn new(client: reqwest::Client, s: &ServiceConfig, max_body: u64) -> Self {
        use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
        let mut headers = HeaderMap::new();
        // Config validation rejected invalid names and values; anything else is skipped.
        for (k, v) in &s.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                headers.insert(k, v);
            }
        }
        let auth = if let Some(t) = &s.bearer_token {
            Some(format!("Bearer {t}"))
        } else {
            s.basic_auth.as_ref().map(|b| {
                use base64::Engine;
                let raw = format!("{}:{}", b.username, b.password);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            })
        };
        if let Some(a) = auth
            && let Ok(mut v) = HeaderValue::from_str(&a)
        {
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        RequestSpec {
            client,
            timeout: s.scraper.timeout.get(),
            max_body,
            headers,
        }
    }
}

/// Outcome of one scrape.
pub struct Scraped {
    pub result: Result<Payload, ScrapeError>,
    pub duration: Duration,
}

/// Fetches and parses `url`. Never takes longer than `spec.timeout`.
pub async fn scrape(spec: &RequestSpec, url: &str) -> Scraped {
    let started = Instant::now();
    let result = match tokio::time::timeout(spec.timeout, fetch(spec, url)).await {
        Ok(r) => r,
        Err(_) => Err(ScrapeError::Timeout(spec.timeout)),
    };
    Scraped {
        result,
        duration: started.elapsed(),
    }
}

async fn fetch(spec: &RequestSpec, url: &str) -> Result<Payload, ScrapeError> {
    let mut resp = spec
        .client
        .get(url)
        .headers(spec.headers.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| ScrapeError::Request(bounded(error_chain(&e))))?;
    if !resp.status().is_success() {
        return Err(ScrapeError::Status(resp.status().as_u16()));
    }
    if let Some(len) = resp.content_length()
        && len > spec.max_body
    {
        return Err(ScrapeError::TooLarge(spec.max_body));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ScrapeError::Request(bounded(error_chain(&e))))?
    {
        if (body.len() + chunk.len()) as u64 > spec.max_body {
            return Err(ScrapeError::TooLarge(spec.max_body));
        }
        body.extend_from_slice(&chunk);
    }
    parse(body).await
}

/// Parses an export off the async workers: up to `max_body_bytes` (16 MiB by default) of JSON
/// is milliseconds of CPU, which would stall every task sharing the worker. The error text is
/// bounded: it can quote the target's input, and it goes to target health, events and logs.
pub async fn parse(body: Vec<u8>) -> Result<Payload, ScrapeError> {
    match tokio::task::spawn_blocking(move || model::parse_payload(&body)).await {
        Ok(parsed) => parsed.map_err(|e| ScrapeError::Parse(bounded(e.to_string()))),
        Err(e) => Err(ScrapeError::Parse(format!("the parse task failed: {e}"))),
    }
}

/// reqwest's top-level message is vague ("error sending request"); the causes say what failed.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_parse_error_quoting_a_huge_value_is_bounded() {
        // serde quotes the whole offending string in its message.
        let body = format!(
            "{{\"aggregated_errors\": [{{\"aggregation_key\": \"k\", \"total_count\": \"{}\"}}]}}",
            "a".repeat(1 << 20)
        )
        .into_bytes();
        let Err(ScrapeError::Parse(msg)) = parse(body).await else {
            panic!("not a parse error");
        };
        assert!(
            msg.len() <= super::super::internal::MAX_MESSAGE + 3,
            "{} bytes",
            msg.len()
        );
        let long_string = format!("{{\"target_uuid\": \"{}\"}}", "b".repeat(1 << 20));
        let ok = parse(long_string.into_bytes()).await.expect("valid export");
        assert_eq!(ok.target_uuid.len(), 128, "still bounded by the model");
    }
}
