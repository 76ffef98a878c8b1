//! Gatus-style conditions: `[STATUS] == 200`, `[RESPONSE_TIME] < 300`, `[BODY].data.status == UP`,
//! `[BODY] == pat(*ok*)`, `len([BODY].items) > 0`, `has([BODY].errors) == false`,
//! `[STATUS] == any(200, 301)`, `[CERTIFICATE_EXPIRATION] > 72h`, `[CONNECTED] == true`,
//! `[DNS_RCODE] == NOERROR`, `[IP] == 127.0.0.1`.
//!
//! Parsed once at config load (a bad condition is a config error at its line) and evaluated
//! against an [`Observation`]; every evaluation yields the condition with the value actually seen,
//! e.g. `[STATUS] (503) == 200`, for the UI and API.

use std::fmt;

/// What a check saw, for conditions to judge.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub status: Option<u16>,
    pub response_time_ms: u64,
    /// Body as read (bounded by the monitor's `max_body_bytes`).
    pub body: Option<String>,
    /// Milliseconds until the peer certificate expires (negative when expired).
    pub certificate_expiration_ms: Option<i64>,
    /// The certificate's `notAfter` (Unix ms) as the check saw it; the judge turns it into
    /// `certificate_expiration_ms` with the injected clock.
    pub certificate_not_after_ms: Option<i64>,
    pub connected: bool,
    pub dns_rcode: Option<String>,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Status,
    ResponseTime,
    Body,
    CertificateExpiration,
    Connected,
    DnsRcode,
    Ip,
}

impl Placeholder {
    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "[STATUS]" => Placeholder::Status,
            "[RESPONSE_TIME]" => Placeholder::ResponseTime,
            "[BODY]" => Placeholder::Body,
            "[CERTIFICATE_EXPIRATION]" => Placeholder::CertificateExpiration,
            "[CONNECTED]" => Placeholder::Connected,
            "[DNS_RCODE]" => Placeholder::DnsRcode,
            "[IP]" => Placeholder::Ip,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Status => "[STATUS]",
            Placeholder::ResponseTime => "[RESPONSE_TIME]",
            Placeholder::Body => "[BODY]",
            Placeholder::CertificateExpiration => "[CERTIFICATE_EXPIRATION]",
            Placeholder::Connected => "[CONNECTED]",
            Placeholder::DnsRcode => "[DNS_RCODE]",
            Placeholder::Ip => "[IP]",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PathSeg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Value(Placeholder, Vec<PathSeg>),
    Len(Placeholder, Vec<PathSeg>),
    Has(Placeholder, Vec<PathSeg>),
    Pat(String),
    Any(Vec<String>),
    Literal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    source: String,
    left: Operand,
    op: Op,
    right: Operand,
}

/// The outcome of one condition on one observation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConditionResult {
    /// The condition with the value seen, e.g. `[STATUS] (503) == 200`.
    pub shown: String,
    pub ok: bool,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

const MAX_CONDITION_LEN: usize = 1024;

impl Condition {
    pub fn parse(s: &str) -> Result<Condition, String> {
        let source = s.trim().to_string();
        if source.len() > MAX_CONDITION_LEN {
            return Err(format!("longer than {MAX_CONDITION_LEN} characters"));
        }
        // The operator is the first one found outside brackets and parentheses; two-character
        // operators are tried first at each position.
        let bytes = source.as_bytes();
        let mut depth = 0i32;
        let mut found = None;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'[' | b'(' => depth += 1,
                b']' | b')' => depth -= 1,
                _ if depth == 0 => {
                    let two = source.get(i..i + 2);
                    let op = match two {
                        Some("==") => Some((Op::Eq, 2)),
                        Some("!=") => Some((Op::Ne, 2)),
                        Some("<=") => Some((Op::Le, 2)),
                        Some(">=") => Some((Op::Ge, 2)),
                        _ => match bytes[i] {
                            b'<' => Some((Op::Lt, 1)),
                            b'>' => Some((Op::Gt, 1)),
                            _ => None,
                        },
                    };
                    if let Some(op) = op {
                        found = Some((i, op));
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        let Some((at, (op, len))) = found else {
            return Err("expected an operator: ==, !=, <, <=, > or >=".into());
        };
        let left_src = source[..at].trim();
        let right_src = source[at + len..].trim();
        if left_src.is_empty() || right_src.is_empty() {
            return Err(format!("both sides of `{}` are needed", op.as_str()));
        }
        // `[STATUS] === 200` would otherwise compare with the literal `= 200` and never pass.
        if let Some(c) = right_src.chars().next().filter(|c| "=<>!".contains(*c))
            && !right_src.starts_with("!(")
        {
            return Err(format!(
                "unexpected `{c}` after `{}`: the operators are ==, !=, <, <=, > and >=",
                op.as_str()
            ));
        }
        if left_src.ends_with(['=', '<', '>', '!']) {
            return Err(format!(
                "unexpected operator before `{}`: the operators are ==, !=, <, <=, > and >=",
                op.as_str()
            ));
        }
        let left = parse_operand(left_src)?;
        let right = parse_operand(right_src)?;
        if matches!(left, Operand::Pat(_) | Operand::Any(_)) {
            return Err("pat() and any() belong on the right-hand side".into());
        }
        if matches!(right, Operand::Pat(_) | Operand::Any(_)) && !matches!(op, Op::Eq | Op::Ne) {
            return Err("pat() and any() only work with == or !=".into());
        }
        if !matches!(
            left,
            Operand::Value(..) | Operand::Len(..) | Operand::Has(..)
        ) && !matches!(
            right,
            Operand::Value(..) | Operand::Len(..) | Operand::Has(..)
        ) {
            return Err("a condition needs a placeholder such as [STATUS] on one side".into());
        }
        Ok(Condition {
            source,
            left,
            op,
            right,
        })
    }

    /// Placeholders this condition reads, for checking them against the monitor type.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        [&self.left, &self.right]
            .into_iter()
            .filter_map(|o| match o {
                Operand::Value(p, _) | Operand::Len(p, _) | Operand::Has(p, _) => Some(*p),
                _ => None,
            })
            .collect()
    }

    pub fn evaluate(&self, obs: &Observation, body_json: &mut BodyCache) -> ConditionResult {
        let left = resolve(&self.left, obs, body_json);
        let right = resolve(&self.right, obs, body_json);
        let ok = compare(&left, self.op, &right, &self.right);
        let shown_side = |o: &Operand, v: &Resolved, src: &str| -> String {
            match o {
                Operand::Value(..) | Operand::Len(..) | Operand::Has(..) => {
                    format!("{src} ({})", v.display())
                }
                _ => src.to_string(),
            }
        };
        let (ls, rs) = split_sides(&self.source, self.op);
        ConditionResult {
            shown: format!(
                "{} {} {}",
                shown_side(&self.left, &left, ls),
                self.op.as_str(),
                shown_side(&self.right, &right, rs)
            ),
            ok,
        }
    }
}

mod eval;
mod parse;

pub use eval::BodyCache;
#[cfg(test)]
use eval::glob;
use eval::{Resolved, compare, resolve};
use parse::{parse_operand, split_sides};

#[cfg(test)]
mod tests;
