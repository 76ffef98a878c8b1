//! Silences in Alertmanager's v2 JSON: matchers, start, end, author, comment. Pure: validation,
//! state at a time, and whether one mutes an alert. Stored by the engine; they expire by
//! themselves (a silence past `endsAt` mutes nothing and is pruned after the history retention).

use panoptes_types::{NewSilence, SilenceMatcher, SilenceState, SilenceStatus, SilenceView};
use serde::{Deserialize, Serialize};

use super::matcher::{MatchOp, Matcher};
use super::model::Labels;
use crate::clock::rfc3339;

/// Bounds on what a client may post.
pub const MAX_MATCHERS: usize = 64;
pub const MAX_TEXT: usize = 4096;
pub const MAX_SILENCES: usize = 10_000;

/// Compiles a silence matcher.
pub fn compile(m: &SilenceMatcher) -> Result<Matcher, String> {
    let op = match (m.is_regex, m.is_equal) {
        (false, true) => MatchOp::Equal,
        (false, false) => MatchOp::NotEqual,
        (true, true) => MatchOp::Regex,
        (true, false) => MatchOp::NotRegex,
    };
    Matcher::new(&m.name, op, &m.value)
}

/// A stored silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at_ms: u64,
    pub ends_at_ms: u64,
    pub created_by: String,
    pub comment: String,
    pub updated_at_ms: u64,
}

/// A field of a posted silence that was wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

fn parse_time(field: &str, s: &str) -> Result<u64, Invalid> {
    let t: jiff::Timestamp = s
        .parse()
        .map_err(|e| invalid(field, format!("not an RFC 3339 time: {e}")))?;
    u64::try_from(t.as_millisecond()).map_err(|_| invalid(field, "before 1970"))
}

/// A posted silence (Alertmanager's `postableSilence`).
pub type PostableSilence = NewSilence;

/// Checks a posted silence and turns it into a stored one with `id`, as of `now`.
pub fn validate(p: PostableSilence, id: String, now: u64) -> Result<Silence, Invalid> {
    if p.matchers.is_empty() {
        return Err(invalid("matchers", "at least one matcher is required"));
    }
    if p.matchers.len() > MAX_MATCHERS {
        return Err(invalid(
            "matchers",
            format!("at most {MAX_MATCHERS} matchers"),
        ));
    }
    let mut all_match_empty = true;
    for (i, m) in p.matchers.iter().enumerate() {
        if m.name.len() > MAX_TEXT || m.value.len() > MAX_TEXT {
            return Err(invalid(
                &format!("matchers[{i}]"),
                format!("name and value are at most {MAX_TEXT} bytes"),
            ));
        }
        let c = compile(m).map_err(|e| invalid(&format!("matchers[{i}]"), e))?;
        if !c.matches(&Labels::new()) {
            all_match_empty = false;
        }
    }
    // As Alertmanager: a silence whose matchers all match the empty label set would mute
    // every alert.
    if all_match_empty {
        return Err(invalid(
            "matchers",
            "at least one matcher must not match an empty value (it would silence everything)",
        ));
    }
    let starts = parse_time("startsAt", &p.starts_at)?;
    let ends = parse_time("endsAt", &p.ends_at)?;
    if ends <= starts {
        return Err(invalid("endsAt", "must be after startsAt"));
    }
    if ends <= now {
        return Err(invalid("endsAt", "is in the past"));
    }
    if p.created_by.trim().is_empty() {
        return Err(invalid("createdBy", "is required"));
    }
    if p.comment.trim().is_empty() {
        return Err(invalid("comment", "is required"));
    }
    if p.created_by.len() > MAX_TEXT || p.comment.len() > MAX_TEXT {
        return Err(invalid(
            "comment",
            format!("createdBy and comment are at most {MAX_TEXT} bytes"),
        ));
    }
    Ok(Silence {
        id,
        matchers: p.matchers,
        // A silence starting in the past starts now (Alertmanager does the same).
        starts_at_ms: starts.max(now),
        ends_at_ms: ends,
        created_by: p.created_by,
        comment: p.comment,
        updated_at_ms: now,
    })
}

impl Silence {
    pub fn state(&self, now: u64) -> SilenceState {
        if now >= self.ends_at_ms {
            SilenceState::Expired
        } else if now < self.starts_at_ms {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    /// Whether this silence mutes `labels` at `now`.
    pub fn mutes(&self, labels: &Labels, now: u64) -> bool {
        self.state(now) == SilenceState::Active
            && self
                .matchers
                .iter()
                .all(|m| compile(m).is_ok_and(|c| c.matches(labels)))
    }

    /// Ends it now (a pending silence ends before it started).
    pub fn expire(&mut self, now: u64) {
        if self.state(now) == SilenceState::Pending {
            self.starts_at_ms = now;
        }
        self.ends_at_ms = self.ends_at_ms.min(now);
        self.updated_at_ms = now;
    }

    /// Alertmanager's `gettableSilence`.
    pub fn view(&self, now: u64) -> SilenceView {
        SilenceView {
            id: self.id.clone(),
            status: SilenceStatus {
                state: self.state(now),
            },
            updated_at: rfc3339(self.updated_at_ms),
            matchers: self.matchers.clone(),
            starts_at: rfc3339(self.starts_at_ms),
            ends_at: rfc3339(self.ends_at_ms),
            created_by: self.created_by.clone(),
            comment: self.comment.clone(),
        }
    }
}

/// The ids of the silences that mute `labels` at `now`.
pub fn muting<'a>(
    silences: impl Iterator<Item = &'a Silence>,
    labels: &Labels,
    now: u64,
) -> Vec<String> {
    silences
        .filter(|s| s.mutes(labels, now))
        .map(|s| s.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn post(matchers: &str, starts: &str, ends: &str) -> PostableSilence {
        serde_json::from_str(&format!(
            r#"{{"matchers": {matchers}, "startsAt": "{starts}", "endsAt": "{ends}",
                "createdBy": "ana", "comment": "deploy"}}"#
        ))
        .expect("json")
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_silence_mutes_matching_alerts_while_active_only() {
        let s = post(
            r#"[{"name": "alertname", "value": "ApiDown", "isRegex": false},
                {"name": "env", "value": "dev|test", "isRegex": true, "isEqual": false}]"#,
            "2026-01-01T01:00:00Z",
            "2026-01-01T02:00:00Z",
        );
        let s = validate(s, "s1".into(), T0).expect("valid");
        let prod = labels(&[("alertname", "ApiDown"), ("env", "prod")]);
        let dev = labels(&[("alertname", "ApiDown"), ("env", "dev")]);
        let hour = 3_600_000;
        assert_eq!(s.state(T0), SilenceState::Pending);
        assert!(!s.mutes(&prod, T0));
        assert!(s.mutes(&prod, T0 + hour));
        assert!(!s.mutes(&dev, T0 + hour), "isEqual false negates");
        assert!(!s.mutes(&prod, T0 + 2 * hour), "expired by itself");
        let j = serde_json::to_value(s.view(T0 + hour)).expect("json");
        assert_eq!(j["status"]["state"], "active");
        assert_eq!(j["startsAt"], "2026-01-01T01:00:00Z");
        assert_eq!(j["matchers"][1]["isEqual"], false);
    }

    #[test]
    fn bad_silences_name_the_field() {
        let ok_m = r#"[{"name": "a", "value": "b", "isRegex": false}]"#;
        let err = |p: PostableSilence| validate(p, "x".into(), T0).expect_err("invalid").field;
        assert_eq!(
            err(post("[]", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")),
            "matchers"
        );
        assert_eq!(
            err(post(
                r#"[{"name": "a", "value": ".*", "isRegex": true}]"#,
                "2026-01-01T00:00:00Z",
                "2026-01-02T00:00:00Z"
            )),
            "matchers"
        );
        assert_eq!(
            err(post(
                r#"[{"name": "a", "value": "(", "isRegex": true}]"#,
                "2026-01-01T00:00:00Z",
                "2026-01-02T00:00:00Z"
            )),
            "matchers[0]"
        );
        assert_eq!(
            err(post(ok_m, "yesterday", "2026-01-02T00:00:00Z")),
            "startsAt"
        );
        assert_eq!(
            err(post(ok_m, "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")),
            "endsAt"
        );
        assert_eq!(
            err(post(ok_m, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")),
            "endsAt"
        );
    }

    #[test]
    fn expiring_ends_it_now() {
        let p = post(
            r#"[{"name": "a", "value": "b", "isRegex": false}]"#,
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:00Z",
        );
        let mut s = validate(p, "x".into(), T0).expect("valid");
        assert_eq!(s.state(T0 + 1), SilenceState::Active);
        s.expire(T0 + 10);
        assert_eq!(s.state(T0 + 10), SilenceState::Expired);
        assert_eq!(s.ends_at_ms, T0 + 10);
    }
}
