//! The `projects:` section (Sentry-compatible ingest: which projects and DSN keys exist) and the
//! global `ingest:` options (size limits, flood control, back-pressure).

use std::collections::BTreeMap;

use crate::config::Duration;
use crate::config::decode::{Decode, Decoder};
use crate::config::yaml::Node;

/// A DSN public key: 32 hex characters, as Sentry issues them (stored lower-case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub String);

impl Decode for PublicKey {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a key of 32 hexadecimal characters", |s| {
            if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(PublicKey(s.to_ascii_lowercase()))
            } else {
                Err(String::new())
            }
        })
    }
}

crate::config_section! {
    /// One project that SDKs send to (`http://KEY@host:port/ID`).
    pub struct ProjectConfig {
        /// The number at the end of the DSN; unique.
        pub id: u64,
        /// Shown in the API and dashboard.
        pub name: String,
        /// DSN public keys accepted for this project (at least one).
        pub keys: Vec<PublicKey>,
        /// Events accepted per minute before answering 429 (`X-Sentry-Rate-Limits`); none: no limit.
        pub events_per_minute: Option<u64> = None,
        /// Overrides `ingest.flood_max_events` for this project.
        pub flood_max_events: Option<u32> = None,
        /// Passes accepted envelopes on to an upstream Sentry (see the `forward:` section for
        /// the pacing knobs); none: nothing is forwarded.
        pub forward: Option<ProjectForward> = None,
    }
}

/// What a project's items may be forwarded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardItem {
    Events,
    Transactions,
    Sessions,
    Attachments,
    ClientReports,
}

impl ForwardItem {
    pub const ALL: [ForwardItem; 5] = [
        ForwardItem::Events,
        ForwardItem::Transactions,
        ForwardItem::Sessions,
        ForwardItem::Attachments,
        ForwardItem::ClientReports,
    ];
}

impl Decode for ForwardItem {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "one of events, transactions, sessions, attachments, client_reports",
            |s| match s {
                "events" => Ok(ForwardItem::Events),
                "transactions" => Ok(ForwardItem::Transactions),
                "sessions" => Ok(ForwardItem::Sessions),
                "attachments" => Ok(ForwardItem::Attachments),
                "client_reports" => Ok(ForwardItem::ClientReports),
                _ => Err(String::new()),
            },
        )
    }
}

crate::config_section! {
    /// `projects[].forward`: where this project's accepted envelopes go.
    pub struct ProjectForward {
        /// A DSN (`https://KEY@sentry.example.com/42`: sent with that key to that project) or a
        /// base URL (`https://sentry.example.com`: sent with the client's own key and project
        /// id, as Relay's proxy mode does).
        pub upstream: String,
        /// Share (0-100) of accepted events and transactions dropped before forwarding, chosen
        /// by event id (so every instance of a farm drops the same ones); counted as ignored.
        pub sample_percent: u32 = 0,
        /// Which items go; all by default.
        pub items: Vec<ForwardItem> = ForwardItem::ALL.to_vec(),
    }
    check = check_forward;
}

fn check_forward(f: &ProjectForward, path: &str, d: &mut Decoder) {
    if let Err(e) = Upstream::parse(&f.upstream) {
        d.error_at(&format!("{path}.upstream"), e);
    }
    if f.sample_percent > 100 {
        d.error_at(
            &format!("{path}.sample_percent"),
            "must be between 0 and 100",
        );
    }
}

/// Where a project forwards to, parsed from `forward.upstream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `scheme://host[:port][/path-prefix]`, without a trailing `/`.
    pub base: String,
    /// From a DSN: the key and project id to send with; `None`: the client's own.
    pub dsn: Option<(String, u64)>,
}

impl Upstream {
    pub fn parse(s: &str) -> Result<Upstream, String> {
        let (scheme, rest) = s
            .split_once("://")
            .filter(|(sc, _)| *sc == "http" || *sc == "https")
            .ok_or("must start with http:// or https://")?;
        let (user, hostpath) = match rest.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let hostpath = hostpath.trim_end_matches('/');
        if hostpath.is_empty() || hostpath.starts_with('/') {
            return Err("has no host".into());
        }
        match user {
            None => Ok(Upstream {
                base: format!("{scheme}://{hostpath}"),
                dsn: None,
            }),
            Some(user) => {
                let key = user.split(':').next().unwrap_or("");
                if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err("the DSN's key is not valid".into());
                }
                let (prefix, id) = hostpath
                    .rsplit_once('/')
                    .ok_or("a DSN ends with /PROJECT_ID")?;
                let id: u64 = id
                    .parse()
                    .map_err(|_| "a DSN ends with a numeric /PROJECT_ID".to_string())?;
                Ok(Upstream {
                    base: format!("{scheme}://{prefix}"),
                    dsn: Some((key.to_string(), id)),
                })
            }
        }
    }

    /// The envelope endpoint and the key to send with, given the client's own.
    pub fn target(&self, client_key: &str, client_project: u64) -> (String, String) {
        let (key, id) = match &self.dsn {
            Some((k, id)) => (k.clone(), *id),
            None => (client_key.to_string(), client_project),
        };
        (format!("{}/api/{id}/envelope/", self.base), key)
    }
}

crate::config_section! {
    /// Ingest limits shared by every project.
    pub struct IngestConfig {
        /// Largest request body as sent (still compressed) for envelopes and minidumps.
        pub max_envelope_bytes: u64 = 20 * 1024 * 1024,
        /// Largest body after decompression (a decompression bomb stops here with 413).
        pub max_decompressed_bytes: u64 = 100 * 1024 * 1024,
        /// Largest envelope body (as sent, and decompressed) read before its key is known: an
        /// envelope whose only credential is the `dsn` in its own header (a tunnel). Requests
        /// that carry their key in a header or the query are checked before the body is read.
        pub max_unauthenticated_bytes: u64 = 1024 * 1024,
        /// Request bodies read at once across ingest requests that carry their key in a header
        /// or the query; beyond, 503 + Retry-After (bounds the memory and sockets that clients
        /// sending slowly can hold). Applies on restart.
        pub max_concurrent_bodies: usize = 256,
        /// Envelope bodies read at once whose only credential is the `dsn` inside them; beyond,
        /// 503 + Retry-After. A pool of its own, so that senders without a key cannot take the
        /// places of those with one. Applies on restart.
        pub max_concurrent_unauthenticated_bodies: usize = 16,
        /// How long an ingest request body may take to arrive; then 408 (a client trickling
        /// its body cannot hold a place among the bodies read at once).
        pub body_read_timeout: Duration = Duration::secs(30),
        /// Largest legacy `/store/` or `/security/` body as sent.
        pub max_store_bytes: u64 = 1024 * 1024,
        /// Largest single event (or transaction, session, check-in) item, decompressed.
        pub max_event_bytes: u64 = 1024 * 1024,
        /// Largest single attachment or minidump.
        pub max_attachment_bytes: u64 = 20 * 1024 * 1024,
        /// Events of one issue stored in full per `flood_window`; further copies are counted only.
        pub flood_max_events: u32 = 10,
        /// The window for `flood_max_events`.
        pub flood_window: Duration = Duration::secs(1),
        /// Bytes held by ingest requests, charged as they are read and decompressed and kept
        /// until their commit; beyond, 503 + Retry-After. At least `max_envelope_bytes` +
        /// `max_decompressed_bytes`, so one body at both limits fits.
        pub max_inflight_bytes: u64 = 256 * 1024 * 1024,
        /// Items received but not yet grouped into issues; beyond, 503 + Retry-After.
        pub max_backlog: u64 = 1_000_000,
        /// Items grouped per digest transaction.
        pub digest_batch: usize = 512,
        /// Issues kept per project; events that would open more are counted in one overflow
        /// issue of the project instead (issues are held in memory, so this bounds it).
        pub max_issues_per_project: u64 = 100_000,
        /// Distinct users remembered per issue (the set is stored); beyond, the issue's user
        /// count stops growing and reads as "at least".
        pub max_users_per_issue: u64 = 10_000,
        /// Releases with their own session and client-report counters per project (releases
        /// are named by clients); counters of further releases add up under `other`.
        pub max_releases_per_project: usize = 1000,
        /// How long full events (and their attachments) are kept; issues and counts stay.
        pub event_retention: Duration = Duration::secs(90 * 86_400),
        /// Base URL used in the DSNs that `GET /api/v1/projects` shows (e.g.
        /// `https://panoptes.example.com`); default: the address the request came to.
        pub public_url: Option<String> = None,
    }
}

/// What ingest reads of the configuration: the `projects:` and `ingest:` sections.
#[derive(Debug, Clone, PartialEq)]
pub struct SentrySettings {
    pub projects: Vec<ProjectConfig>,
    pub ingest: IngestConfig,
}

/// Unique ids and keys, at least one key each, sane limits.
pub fn validate(projects: &[ProjectConfig], ingest: &IngestConfig, d: &mut Decoder) {
    let mut ids = BTreeMap::new();
    let mut keys = BTreeMap::new();
    for (i, p) in projects.iter().enumerate() {
        let at = |field: &str| format!("projects[{i}].{field}");
        if p.id == 0 {
            d.error_at(&at("id"), "must be at least 1");
        }
        if let Some(first) = ids.insert(p.id, i) {
            d.error_at(
                &at("id"),
                format!("duplicate project id {} (also projects[{first}])", p.id),
            );
        }
        if p.keys.is_empty() {
            d.error_at(&at("keys"), "needs at least one key");
        }
        for k in &p.keys {
            if let Some(first) = keys.insert(k.0.clone(), i)
                && first != i
            {
                d.error_at(
                    &at("keys"),
                    format!("key {} is already used by projects[{first}]", k.0),
                );
            }
        }
        if p.events_per_minute == Some(0) {
            d.error_at(
                &at("events_per_minute"),
                "must be at least 1 (leave it out for no limit)",
            );
        }
    }
    if ingest.max_decompressed_bytes < ingest.max_event_bytes {
        d.error_at(
            "ingest.max_decompressed_bytes",
            "must be at least ingest.max_event_bytes",
        );
    }
    if ingest.max_concurrent_bodies == 0 {
        d.error_at("ingest.max_concurrent_bodies", "must be at least 1");
    }
    if ingest.max_concurrent_unauthenticated_bodies == 0 {
        d.error_at(
            "ingest.max_concurrent_unauthenticated_bodies",
            "must be at least 1",
        );
    }
    if ingest.body_read_timeout.get().is_zero() {
        d.error_at("ingest.body_read_timeout", "must be positive");
    }
    if ingest.flood_window.get().is_zero() {
        d.error_at("ingest.flood_window", "must be positive");
    }
    if ingest.digest_batch == 0 {
        d.error_at("ingest.digest_batch", "must be at least 1");
    }
    // A body is charged as sent and as decompressed while it is decoded: one at both limits
    // must fit, or it would be refused as busy for ever.
    let one_body = ingest
        .max_envelope_bytes
        .saturating_add(ingest.max_decompressed_bytes)
        .max(ingest.max_event_bytes);
    if ingest.max_inflight_bytes < one_body {
        d.error_at(
            "ingest.max_inflight_bytes",
            format!(
                "must be at least ingest.max_envelope_bytes + ingest.max_decompressed_bytes ({one_body})"
            ),
        );
    }
    if let Some(u) = &ingest.public_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        d.error_at("ingest.public_url", "must start with http:// or https://");
    }
}

#[cfg(test)]
mod tests {
    use crate::config::root::parse;

    #[test]
    fn upstreams_parse() {
        use super::Upstream;
        let u = Upstream::parse("https://abc@sentry.example.com/42").expect("dsn");
        assert_eq!(u.base, "https://sentry.example.com");
        assert_eq!(
            u.target("k", 7),
            (
                "https://sentry.example.com/api/42/envelope/".into(),
                "abc".into()
            )
        );
        let u = Upstream::parse("http://127.0.0.1:9000/").expect("base");
        assert_eq!(
            u.target("k", 7),
            ("http://127.0.0.1:9000/api/7/envelope/".into(), "k".into())
        );
        assert!(Upstream::parse("ftp://x").is_err());
        assert!(Upstream::parse("https://k@host/notanumber").is_err());
        let k = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";
        let errs = parse(
            &format!("projects:\n  - id: 7\n    name: a\n    keys: [{k}]\n    forward:\n      upstream: nope\n      sample_percent: 101\n      items: [events, spans]\n"),
            "p",
            &|_| None,
        )
        .expect_err("invalid")
        .to_string();
        assert!(
            errs.contains("projects[0].forward.upstream: must start with http"),
            "{errs}"
        );
        assert!(
            errs.contains("projects[0].forward.sample_percent: must be between"),
            "{errs}"
        );
        assert!(
            errs.contains("p:8:23: projects[0].forward.items[1]: expected one of"),
            "{errs}"
        );
    }

    #[test]
    fn projects_parse_and_validate() {
        let ok = parse(
            "projects:\n  - id: 7\n    name: shop\n    keys: [3F9C2A7BE1D04C6F8A5B0E9D7C1F2A43]\n    events_per_minute: 600\n",
            "p",
            &|_| None,
        )
        .expect("valid");
        assert_eq!(ok.projects[0].keys[0].0, "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43");
        assert_eq!(ok.projects[0].events_per_minute, Some(600));
        let bad_key = parse(
            "projects:\n  - id: 7\n    name: a\n    keys: [abc]\n",
            "p",
            &|_| None,
        )
        .expect_err("invalid")
        .to_string();
        assert!(
            bad_key.contains("p:4:12: projects[0].keys[0]: expected a key of 32 hexadecimal"),
            "{bad_key}"
        );
        let k = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";
        let errs = parse(
            &format!("projects:\n  - id: 7\n    name: a\n    keys: [{k}]\n  - id: 7\n    name: b\n    keys: []\n  - id: 8\n    name: c\n    keys: [{k}]\ningest:\n  flood_window: 0s\n"),
            "p",
            &|_| None,
        )
        .expect_err("invalid");
        let text = errs.to_string();
        assert!(
            text.contains("p:5:9: projects[1].id: duplicate project id 7"),
            "{text}"
        );
        assert!(
            text.contains("projects[1].keys: needs at least one key"),
            "{text}"
        );
        assert!(text.contains("projects[2].keys: key 3f9c2a7be1d04c6f8a5b0e9d7c1f2a43 is already used by projects[0]"), "{text}");
        assert!(
            text.contains("ingest.flood_window: must be positive"),
            "{text}"
        );
    }
}
