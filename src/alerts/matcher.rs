//! Label matchers as Alertmanager writes them: `severity="critical"`, `team!=web`,
//! `instance=~"db-.*"`, `env!~"dev|test"`. Regular expressions are anchored (they must match the
//! whole value), as in Alertmanager.

use regex::Regex;

use super::model::Labels;
use crate::config::decode::{Decode, Decoder};
use crate::config::yaml::Node;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// One matcher: a label name, an operator and a value.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name && self.op == o.op && self.value == o.value
    }
}

/// Compiles `re` to match a whole value.
pub fn anchored(re: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{re})$"))
        .size_limit(1 << 20)
        .build()
}

impl Matcher {
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, String> {
        if !valid_label_name(name) {
            return Err(format!("`{name}` is not a label name"));
        }
        Matcher::unchecked(name, op, value)
    }

    /// A matcher over a name that is not a label name (a Sentry tag such as `browser.name`);
    /// the caller has checked the name.
    fn unchecked(name: &str, op: MatchOp, value: &str) -> Result<Matcher, String> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(anchored(value).map_err(|e| format!("invalid regex `{value}`: {e}"))?)
            }
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Parses `name="value"` (or unquoted `name=value`) with `=`, `!=`, `=~` or `!~`.
    pub fn parse(s: &str) -> Result<Matcher, String> {
        let (name, op, value) = split(s)?;
        Matcher::new(&name, op, &value)
    }

    /// Parses a matcher whose name `name_ok` accepts instead of a label name (`what` says what
    /// it must be, for the error).
    pub fn parse_named(s: &str, name_ok: fn(&str) -> bool, what: &str) -> Result<Matcher, String> {
        let (name, op, value) = split(s)?;
        if !name_ok(&name) {
            return Err(format!("`{name}` is not {what}"));
        }
        Matcher::unchecked(&name, op, &value)
    }

    /// Whether this matcher holds for `v` as its name's value (a missing one is the empty
    /// string).
    pub fn matches_value(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Whether `labels` satisfy this matcher (a missing label is the empty string).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).map_or("", String::as_str))
    }
}

/// `name`, operator and unquoted value of `name="value"`.
fn split(s: &str) -> Result<(String, MatchOp, String), String> {
    let s = s.trim();
    let at = s
        .find(['=', '!'])
        .ok_or_else(|| format!("`{s}` has no operator (=, !=, =~ or !~)"))?;
    let name = s[..at].trim();
    let rest = &s[at..];
    let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
        (MatchOp::Regex, v)
    } else if let Some(v) = rest.strip_prefix("!~") {
        (MatchOp::NotRegex, v)
    } else if let Some(v) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (MatchOp::Equal, v)
    } else {
        return Err(format!("`{s}` has no operator (=, !=, =~ or !~)"));
    };
    let value = value.trim();
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(quoted) => unescape(quoted)?,
        None => value.to_string(),
    };
    Ok((name.to_string(), op, value))
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        write!(f, "{}{op}{:?}", self.name, self.value)
    }
}

/// Whether every matcher holds.
pub fn all_match(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => return Err("a trailing backslash".into()),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

impl Decode for Matcher {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "a matcher like severity=\"critical\"",
            Matcher::parse,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_four_operators_and_anchoring() {
        let l = labels(&[("severity", "critical"), ("instance", "db-1")]);
        assert!(
            Matcher::parse(r#"severity="critical""#)
                .expect("m")
                .matches(&l)
        );
        assert!(Matcher::parse("severity=critical").expect("m").matches(&l));
        assert!(
            !Matcher::parse(r#"severity!="critical""#)
                .expect("m")
                .matches(&l)
        );
        assert!(
            Matcher::parse(r#"instance=~"db-.*""#)
                .expect("m")
                .matches(&l)
        );
        assert!(
            !Matcher::parse(r#"instance=~"db""#).expect("m").matches(&l),
            "anchored"
        );
        assert!(
            Matcher::parse(r#"env!~"prod|staging""#)
                .expect("m")
                .matches(&l)
        );
        assert!(
            Matcher::parse(r#"team="""#).expect("m").matches(&l),
            "missing is empty"
        );
    }

    #[test]
    fn bad_matchers_say_why() {
        assert!(Matcher::parse("severity").unwrap_err().contains("operator"));
        assert!(Matcher::parse("1x=2").unwrap_err().contains("label name"));
        assert!(Matcher::parse(r#"a=~"(""#).unwrap_err().contains("regex"));
    }
}
