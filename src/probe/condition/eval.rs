//! Evaluating a condition against what a check observed, with the value seen for display.

use super::{Observation, Op, Operand, PathSeg, Placeholder};

/// The body parsed as JSON at most once per observation, shared by all its conditions.
#[derive(Default)]
pub struct BodyCache(Option<Option<serde_json::Value>>);

impl BodyCache {
    fn get<'a>(&'a mut self, obs: &Observation) -> Option<&'a serde_json::Value> {
        self.0
            .get_or_insert_with(|| {
                obs.body
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            })
            .as_ref()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Resolved {
    Missing,
    Text(String),
    Number(f64),
    Bool(bool),
}

impl Resolved {
    pub(super) fn display(&self) -> String {
        match self {
            Resolved::Missing => "missing".into(),
            Resolved::Text(t) => {
                let mut t = t.clone();
                if t.len() > 64 {
                    let mut cut = 64;
                    while !t.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    t.truncate(cut);
                    t.push('…');
                }
                t
            }
            Resolved::Number(n) => fmt_num(*n),
            Resolved::Bool(b) => b.to_string(),
        }
    }

    fn as_text(&self) -> Option<String> {
        match self {
            Resolved::Missing => None,
            Resolved::Text(t) => Some(t.clone()),
            Resolved::Number(n) => Some(fmt_num(*n)),
            Resolved::Bool(b) => Some(b.to_string()),
        }
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn json_at<'a>(v: &'a serde_json::Value, path: &[PathSeg]) -> Option<&'a serde_json::Value> {
    let mut cur = v;
    for seg in path {
        cur = match seg {
            PathSeg::Key(k) => cur.get(k.as_str())?,
            PathSeg::Index(i) => cur.get(*i)?,
        };
    }
    Some(cur)
}

fn json_to_resolved(v: &serde_json::Value) -> Resolved {
    match v {
        serde_json::Value::Null => Resolved::Text("null".into()),
        serde_json::Value::Bool(b) => Resolved::Bool(*b),
        serde_json::Value::Number(n) => Resolved::Number(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Resolved::Text(s.clone()),
        other => Resolved::Text(other.to_string()),
    }
}

fn placeholder_value(
    p: Placeholder,
    path: &[PathSeg],
    obs: &Observation,
    body: &mut BodyCache,
) -> Resolved {
    match p {
        Placeholder::Status => obs
            .status
            .map(|s| Resolved::Number(f64::from(s)))
            .unwrap_or(Resolved::Missing),
        Placeholder::ResponseTime => Resolved::Number(obs.response_time_ms as f64),
        Placeholder::CertificateExpiration => obs
            .certificate_expiration_ms
            .map(|ms| Resolved::Number(ms as f64))
            .unwrap_or(Resolved::Missing),
        Placeholder::Connected => Resolved::Bool(obs.connected),
        Placeholder::DnsRcode => obs
            .dns_rcode
            .clone()
            .map(Resolved::Text)
            .unwrap_or(Resolved::Missing),
        Placeholder::Ip => obs
            .ip
            .clone()
            .map(Resolved::Text)
            .unwrap_or(Resolved::Missing),
        Placeholder::Body if path.is_empty() => obs
            .body
            .clone()
            .map(Resolved::Text)
            .unwrap_or(Resolved::Missing),
        Placeholder::Body => body
            .get(obs)
            .and_then(|v| json_at(v, path))
            .map(json_to_resolved)
            .unwrap_or(Resolved::Missing),
    }
}

pub(super) fn resolve(o: &Operand, obs: &Observation, body: &mut BodyCache) -> Resolved {
    match o {
        Operand::Value(p, path) => placeholder_value(*p, path, obs, body),
        Operand::Len(p, path) => {
            if *p == Placeholder::Body && !path.is_empty() {
                match body.get(obs).and_then(|v| json_at(v, path)) {
                    Some(serde_json::Value::Array(a)) => Resolved::Number(a.len() as f64),
                    Some(serde_json::Value::Object(m)) => Resolved::Number(m.len() as f64),
                    Some(serde_json::Value::String(s)) => {
                        Resolved::Number(s.chars().count() as f64)
                    }
                    Some(other) => Resolved::Number(other.to_string().len() as f64),
                    None => Resolved::Missing,
                }
            } else {
                match placeholder_value(*p, path, obs, body).as_text() {
                    Some(t) => Resolved::Number(t.chars().count() as f64),
                    None => Resolved::Missing,
                }
            }
        }
        Operand::Has(p, path) => {
            let present = if *p == Placeholder::Body && !path.is_empty() {
                body.get(obs).and_then(|v| json_at(v, path)).is_some()
            } else {
                placeholder_value(*p, path, obs, body) != Resolved::Missing
            };
            Resolved::Bool(present)
        }
        Operand::Literal(s) => Resolved::Text(s.clone()),
        Operand::Pat(_) | Operand::Any(_) => Resolved::Missing,
    }
}

/// Parses a number, or a duration like `72h` (as milliseconds), for ordered comparisons.
fn numeric(r: &Resolved) -> Option<f64> {
    match r {
        Resolved::Number(n) => Some(*n),
        Resolved::Text(t) => t.trim().parse::<f64>().ok().or_else(|| {
            t.trim()
                .parse::<crate::config::Duration>()
                .ok()
                .map(|d| d.get().as_millis() as f64)
        }),
        _ => None,
    }
}

fn equal(l: &Resolved, r: &str) -> bool {
    match l {
        Resolved::Missing => false,
        Resolved::Bool(b) => r.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Resolved::Number(n) => r.trim().parse::<f64>().map(|x| x == *n).unwrap_or(false),
        Resolved::Text(t) => t == r,
    }
}

pub(super) fn compare(l: &Resolved, op: Op, r: &Resolved, right_op: &Operand) -> bool {
    match right_op {
        Operand::Pat(p) => {
            let hit = l.as_text().is_some_and(|t| glob(p, &t));
            return if op == Op::Eq { hit } else { !hit };
        }
        Operand::Any(items) => {
            let hit = items.iter().any(|i| equal(l, i));
            return if op == Op::Eq { hit } else { !hit };
        }
        _ => {}
    }
    match op {
        Op::Eq | Op::Ne => {
            let eq = match (l, r) {
                (Resolved::Missing, _) | (_, Resolved::Missing) => false,
                (_, Resolved::Text(rt)) => equal(l, rt),
                (Resolved::Text(lt), _) => equal(r, lt),
                (a, b) => a == b,
            };
            // A missing value is never "not equal" in the passing sense: it means the check
            // could not observe it, which must fail.
            if matches!(l, Resolved::Missing) {
                return false;
            }
            if op == Op::Eq { eq } else { !eq }
        }
        _ => match (numeric(l), numeric(r)) {
            (Some(a), Some(b)) => match op {
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Eq | Op::Ne => false,
            },
            _ => false,
        },
    }
}

/// `*` matches any run, `?` any one character.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}
