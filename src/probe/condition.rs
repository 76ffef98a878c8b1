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
    fn parse(s: &str) -> Option<Self> {
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
enum PathSeg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Value(Placeholder, Vec<PathSeg>),
    Len(Placeholder, Vec<PathSeg>),
    Has(Placeholder, Vec<PathSeg>),
    Pat(String),
    Any(Vec<String>),
    Literal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn as_str(self) -> &'static str {
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

fn split_sides(source: &str, op: Op) -> (&str, &str) {
    // Re-find the operator the parser chose (same scan), to print the sides as written.
    let mut depth = 0i32;
    for (i, c) in source.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            _ if depth == 0 && source[i..].starts_with(op.as_str()) => {
                return (source[..i].trim(), source[i + op.as_str().len()..].trim());
            }
            _ => {}
        }
    }
    (source, "")
}

fn parse_operand(s: &str) -> Result<Operand, String> {
    let lower = s.to_ascii_lowercase();
    if let Some(inner) = strip_call(s, &lower, "len") {
        let (p, path) = parse_placeholder(inner)?;
        return Ok(Operand::Len(p, path));
    }
    if let Some(inner) = strip_call(s, &lower, "has") {
        let (p, path) = parse_placeholder(inner)?;
        return Ok(Operand::Has(p, path));
    }
    if let Some(inner) = strip_call(s, &lower, "pat") {
        return Ok(Operand::Pat(inner.trim().to_string()));
    }
    if let Some(inner) = strip_call(s, &lower, "any") {
        let items: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
        if items.iter().any(|v| v.is_empty()) {
            return Err("any() needs a comma-separated list of values".into());
        }
        return Ok(Operand::Any(items));
    }
    if s.starts_with('[') {
        let (p, path) = parse_placeholder(s)?;
        return Ok(Operand::Value(p, path));
    }
    Ok(Operand::Literal(s.to_string()))
}

fn strip_call<'a>(s: &'a str, lower: &str, name: &str) -> Option<&'a str> {
    if lower.starts_with(&format!("{name}(")) && s.ends_with(')') {
        Some(&s[name.len() + 1..s.len() - 1])
    } else {
        None
    }
}

fn parse_placeholder(s: &str) -> Result<(Placeholder, Vec<PathSeg>), String> {
    let s = s.trim();
    let end = s
        .find(']')
        .ok_or_else(|| format!("`{s}`: unterminated placeholder"))?;
    let name = &s[..=end];
    let p = Placeholder::parse(name).ok_or_else(|| {
        format!(
            "unknown placeholder `{name}`; expected one of [STATUS], [RESPONSE_TIME], [BODY], [CERTIFICATE_EXPIRATION], [CONNECTED], [DNS_RCODE], [IP]"
        )
    })?;
    let rest = &s[end + 1..];
    if rest.is_empty() {
        return Ok((p, Vec::new()));
    }
    if p != Placeholder::Body {
        return Err(format!("only [BODY] takes a path, not {}", p.name()));
    }
    Ok((p, parse_path(rest)?))
}

/// `.data.items[0].id` or `[0].name`.
fn parse_path(mut s: &str) -> Result<Vec<PathSeg>, String> {
    let mut out = Vec::new();
    while !s.is_empty() {
        if let Some(rest) = s.strip_prefix('.') {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let key = &rest[..end];
            if key.is_empty() {
                return Err("empty key in [BODY] path".into());
            }
            out.push(PathSeg::Key(key.to_string()));
            s = &rest[end..];
        } else if let Some(rest) = s.strip_prefix('[') {
            let end = rest.find(']').ok_or("unterminated index in [BODY] path")?;
            let idx: usize = rest[..end]
                .trim()
                .parse()
                .map_err(|_| format!("`{}` is not an array index", &rest[..end]))?;
            out.push(PathSeg::Index(idx));
            s = &rest[end + 1..];
        } else {
            return Err(format!("unexpected `{s}` in [BODY] path"));
        }
        if out.len() > 32 {
            return Err("[BODY] path deeper than 32 steps".into());
        }
    }
    Ok(out)
}

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
enum Resolved {
    Missing,
    Text(String),
    Number(f64),
    Bool(bool),
}

impl Resolved {
    fn display(&self) -> String {
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

fn resolve(o: &Operand, obs: &Observation, body: &mut BodyCache) -> Resolved {
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

fn compare(l: &Resolved, op: Op, r: &Resolved, right_op: &Operand) -> bool {
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
fn glob(pattern: &str, text: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(cond: &str, obs: &Observation) -> ConditionResult {
        Condition::parse(cond)
            .unwrap_or_else(|e| panic!("{cond}: {e}"))
            .evaluate(obs, &mut BodyCache::default())
    }

    fn http(status: u16, ms: u64, body: &str) -> Observation {
        Observation {
            status: Some(status),
            response_time_ms: ms,
            body: Some(body.to_string()),
            connected: true,
            ..Default::default()
        }
    }

    #[test]
    fn status_and_latency() {
        let o = http(503, 120, "");
        let r = eval("[STATUS] == 200", &o);
        assert!(!r.ok);
        assert_eq!(r.shown, "[STATUS] (503) == 200");
        assert!(eval("[STATUS] == any(200, 503)", &o).ok);
        assert!(!eval("[STATUS] == any(200, 301)", &o).ok);
        assert!(eval("[STATUS] != 200", &o).ok);
        assert!(eval("[RESPONSE_TIME] < 300", &o).ok);
        assert!(!eval("[RESPONSE_TIME] < 100", &o).ok);
        assert!(eval("[STATUS] >= 500", &o).ok);
    }

    #[test]
    fn body_paths_len_has_and_patterns() {
        let o = http(
            200,
            5,
            r#"{"data":{"status":"UP","items":[{"id":7},{"id":8}]},"ok":true}"#,
        );
        let r = eval("[BODY].data.status == UP", &o);
        assert!(r.ok);
        assert_eq!(r.shown, "[BODY].data.status (UP) == UP");
        assert!(eval("len([BODY].data.items) > 0", &o).ok);
        assert!(eval("len([BODY].data.items) == 2", &o).ok);
        assert!(eval("[BODY].data.items[1].id == 8", &o).ok);
        assert!(eval("[BODY].ok == true", &o).ok);
        assert!(eval("has([BODY].data) == true", &o).ok);
        assert!(eval("has([BODY].errors) == false", &o).ok);
        assert!(eval("[BODY] == pat(*\"UP\"*)", &o).ok);
        assert!(!eval("[BODY] == pat(*DOWN*)", &o).ok);
        assert!(!eval("[BODY].missing == UP", &o).ok);
        assert!(!eval("[BODY].data.status != UP", &o).ok);
    }

    #[test]
    fn certificates_connectivity_dns_ip() {
        let o = Observation {
            certificate_expiration_ms: Some(48 * 3_600_000),
            connected: true,
            dns_rcode: Some("NOERROR".into()),
            ip: Some("127.0.0.1".into()),
            ..Default::default()
        };
        assert!(!eval("[CERTIFICATE_EXPIRATION] > 72h", &o).ok);
        assert!(eval("[CERTIFICATE_EXPIRATION] > 24h", &o).ok);
        assert!(eval("[CONNECTED] == true", &o).ok);
        assert!(eval("[DNS_RCODE] == NOERROR", &o).ok);
        assert!(eval("[IP] == 127.0.0.1", &o).ok);
        assert!(eval("[IP] == pat(127.*)", &o).ok);
        let r = eval("[CERTIFICATE_EXPIRATION] > 72h", &Observation::default());
        assert!(!r.ok, "missing values fail");
        assert_eq!(r.shown, "[CERTIFICATE_EXPIRATION] (missing) > 72h");
    }

    #[test]
    fn bad_conditions_are_rejected_with_reasons() {
        for (c, why) in [
            ("[STATUS] 200", "operator"),
            ("[STATUSES] == 200", "unknown placeholder"),
            ("[STATUS].x == 200", "only [BODY] takes a path"),
            ("[STATUS] < pat(2*)", "only work with =="),
            ("200 == 200", "placeholder"),
            ("[BODY].a[x] == 1", "array index"),
            ("== 200", "both sides"),
            ("[STATUS] === 200", "unexpected `=` after `==`"),
            ("[STATUS] =< 200", "unexpected operator before `<`"),
            ("[STATUS] !== 200", "unexpected `=` after `!=`"),
        ] {
            let e = Condition::parse(c).expect_err(c);
            assert!(e.contains(why), "{c}: {e}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*ok*", "all ok here"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*", ""));
        assert!(!glob("x*", "yx"));
    }
}
