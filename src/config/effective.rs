//! The running configuration as data an admin may read: every section with its defaults filled
//! in, secrets replaced by [`REDACTED`].
//!
//! Owns: the conversion of a section's `Debug` form into a JSON tree, the redaction rule, and a
//! YAML rendering of the tree. Depends on: nothing (it works on any `Debug` value).
//!
//! Why `Debug`: every section derives it (the `config_section!` macro does), so the tree covers
//! each field of each section, including the ones added later, without a second schema to keep
//! in step. The rule is by field name ([`SECRET_FIELDS`], [`SECRET_IN`], [`SECRET_MAPS`]) and
//! applies at any depth; URLs anywhere lose their user-info and secret-looking query values.
//! Anything the parser does not understand fails the whole rendering: it fails closed, never
//! by showing text it could not classify.

use serde_json::{Map, Number, Value};

/// What a secret value is replaced by.
pub const REDACTED: &str = "<redacted>";

/// Fields whose value is a secret wherever they appear. A new credential field with one of
/// these names is redacted without touching this file; one with a new name must be added.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "auth_password",
    "smtp_auth_password",
    "token",
    "bearer_token",
    "bot_token",
    "push_tokens",
    "credentials",
    "credentials_file",
    "api_key",
    "opsgenie_api_key",
    "routing_key",
    "service_key",
    "secret",
    "keys",
    "webhook_url",
    "slack_api_url",
    "url_file",
];

/// Fields that are secrets inside a given parent (list, section or enum variant): a webhook's
/// `url` and Slack's `api_url` (the incoming-webhook URL), in receivers and in on-call
/// contacts, and a status page's subscriber webhooks.
pub const SECRET_IN: &[(&str, &str)] = &[
    ("webhook_configs", "url"),
    ("webhook", "url"),
    ("slack_configs", "api_url"),
    ("slack", "api_url"),
    ("endpoints", "url"),
];

/// Maps whose keys are shown and whose values are not (request headers carry credentials).
pub const SECRET_MAPS: &[&str] = &["headers"];

/// Internal fields of a section that are not configuration (positions in the file, the
/// monitor as written, which repeats every field unredacted).
const INTERNAL_FIELDS: &[&str] = &["mark", "source"];

/// Query parameters whose values are hidden in any URL (matched as substrings, lower case).
const SECRET_QUERY: &[&str] = &["key", "token", "secret", "pass", "auth", "sig", "code"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot render the configuration at byte {at}: {what}")]
pub struct RenderError {
    pub at: usize,
    pub what: String,
}

/// A value as parsed: maps keep their fields in declaration order (the YAML reads like the
/// config file); `strukt` tells a struct's fields from a map's entries.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    List(Vec<Tree>),
    Map {
        entries: Vec<(String, Tree)>,
        strukt: bool,
    },
}

/// The running config as an admin sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub json: Value,
    pub yaml: String,
}

/// `value` with its secrets redacted, as JSON and as YAML.
pub fn render<T: std::fmt::Debug>(value: &T) -> Result<Rendered, RenderError> {
    let text = format!("{value:?}");
    let mut p = Parser {
        s: text.as_bytes(),
        text: &text,
        i: 0,
    };
    let parsed = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("trailing text"));
    }
    let tree = redact(parsed, None);
    let mut yaml = String::new();
    match &tree {
        Tree::Map { entries, .. } if !entries.is_empty() => yaml_map(entries, 0, &mut yaml),
        Tree::List(items) if !items.is_empty() => yaml_seq(items, 0, &mut yaml),
        other => {
            yaml.push_str(&scalar(other));
            yaml.push('\n');
        }
    }
    Ok(Rendered {
        json: json(tree),
        yaml,
    })
}

fn json(t: Tree) -> Value {
    match t {
        Tree::Null => Value::Null,
        Tree::Bool(b) => Value::Bool(b),
        Tree::Num(n) => Value::Number(n),
        Tree::Str(s) => Value::String(s),
        Tree::List(items) => Value::Array(items.into_iter().map(json).collect()),
        Tree::Map { entries, .. } => Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k, json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

// ---- redaction ----

fn redact(v: Tree, parent: Option<&str>) -> Tree {
    match v {
        Tree::Map { entries, strukt } => Tree::Map {
            entries: entries
                .into_iter()
                .map(|(k, v)| {
                    let secret = SECRET_FIELDS.contains(&k.as_str())
                        || parent.is_some_and(|p| SECRET_IN.contains(&(p, k.as_str())));
                    let v = if secret {
                        hide(v)
                    } else if SECRET_MAPS.contains(&k.as_str()) {
                        hide_values(v)
                    } else {
                        redact(v, Some(&k))
                    };
                    (k, v)
                })
                .collect(),
            strukt,
        },
        Tree::List(items) => Tree::List(items.into_iter().map(|v| redact(v, parent)).collect()),
        Tree::Str(s) => Tree::Str(scrub_url(&s)),
        other => other,
    }
}

/// A secret: shown as set or not, never its value (unset and empty say nothing).
fn hide(v: Tree) -> Tree {
    match v {
        Tree::Null => Tree::Null,
        Tree::Str(s) if s.is_empty() => Tree::Str(s),
        Tree::List(items) => Tree::List(items.into_iter().map(hide).collect()),
        _ => Tree::Str(REDACTED.into()),
    }
}

fn hide_values(v: Tree) -> Tree {
    match v {
        Tree::Map { entries, strukt } => Tree::Map {
            entries: entries.into_iter().map(|(k, v)| (k, hide(v))).collect(),
            strukt,
        },
        other => hide(other),
    }
}

/// A URL without its password (or a lone user-info, which is how DSNs carry their key) and
/// without the values of secret-looking query parameters. Other strings are returned as is.
fn scrub_url(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let rest = &s[scheme_end + 3..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, frag) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _))
                        if SECRET_QUERY
                            .iter()
                            .any(|w| k.to_ascii_lowercase().contains(w)) =>
                    {
                        format!("{k}={REDACTED}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            let frag = frag.map(|f| format!("#{f}")).unwrap_or_default();
            format!("{path}?{}{frag}", pairs.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{}{authority}{tail}", &s[..scheme_end + 3])
}

// ---- the `Debug` parser ----

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> RenderError {
        RenderError {
            at: self.i,
            what: what.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), RenderError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(&format!("expected `{}`", c as char)))
        }
    }

    fn value(&mut self) -> Result<Tree, RenderError> {
        self.ws();
        match self.peek() {
            Some(b'"') => self.string().map(Tree::Str),
            Some(b'\'') => self.char_lit(),
            Some(b'[') if self.bracketed_address() => {
                let start = self.i;
                while self.peek() != Some(b']') {
                    self.i += 1;
                }
                self.i += 1;
                let port = self.atom();
                Ok(Tree::Str(format!(
                    "{}{port}",
                    &self.text[start..self.i - port.len()]
                )))
            }
            Some(b'[') => {
                self.i += 1;
                self.items(b']').map(Tree::List)
            }
            Some(b'{') => {
                self.i += 1;
                self.braces()
            }
            Some(b'(') => {
                self.i += 1;
                self.items(b')').map(Tree::List)
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.named(),
            Some(_) => Ok(atom_value(self.atom())),
            None => Err(self.err("unexpected end")),
        }
    }

    /// `[::1]:8080`: a socket address, not a list.
    fn bracketed_address(&self) -> bool {
        let rest = &self.s[self.i + 1..];
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let inner = &rest[..close];
        !inner.is_empty()
            && inner.contains(&b':')
            && inner
                .iter()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'%'))
            && rest.get(close + 1) == Some(&b':')
    }

    /// Text up to the next delimiter: `,` `)` `]` `}` or `: ` (a key's end).
    fn atom(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b')' | b']' | b'}') {
                break;
            }
            if c == b':' && self.s.get(self.i + 1) == Some(&b' ') {
                break;
            }
            if c == b' ' && matches!(self.s.get(self.i + 1), Some(b'}') | Some(b'{')) {
                break;
            }
            self.i += 1;
        }
        self.text[start..self.i].trim_end().to_string()
    }

    fn string(&mut self) -> Result<String, RenderError> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.i..];
            let Some(c) = rest.chars().next() else {
                return Err(self.err("unterminated string"));
            };
            self.i += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.escape()?),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, RenderError> {
        let c = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
        self.i += 1;
        Ok(match c {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'0' => '\0',
            b'\\' => '\\',
            b'"' => '"',
            b'\'' => '\'',
            b'u' => {
                self.expect(b'{')?;
                let start = self.i;
                while self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                    self.i += 1;
                }
                let code = u32::from_str_radix(&self.text[start..self.i], 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.err("bad unicode escape"))?;
                self.expect(b'}')?;
                code
            }
            _ => return Err(self.err("unknown escape")),
        })
    }

    fn char_lit(&mut self) -> Result<Tree, RenderError> {
        self.i += 1;
        let c = match self.text[self.i..].chars().next() {
            Some('\\') => {
                self.i += 1;
                self.escape()?
            }
            Some(c) => {
                self.i += c.len_utf8();
                c
            }
            None => return Err(self.err("unterminated char")),
        };
        if self.peek() != Some(b'\'') {
            return Err(self.err("unterminated char"));
        }
        self.i += 1;
        Ok(Tree::Str(c.to_string()))
    }

    /// Comma-separated values up to `close`.
    fn items(&mut self, close: u8) -> Result<Vec<Tree>, RenderError> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        loop {
            out.push(self.value()?);
            if self.eat(close) {
                return Ok(out);
            }
            self.expect(b',')?;
            if self.eat(close) {
                return Ok(out);
            }
        }
    }

    /// `{...}` without a name: a map (`{k: v}`) or a set (`{a, b}`).
    fn braces(&mut self) -> Result<Tree, RenderError> {
        if self.eat(b'}') {
            return Ok(map(Vec::new(), false));
        }
        let first = self.value()?;
        self.ws();
        if self.peek() != Some(b':') {
            // A set: the rest are plain values.
            let mut out = vec![first];
            loop {
                if self.eat(b'}') {
                    return Ok(Tree::List(out));
                }
                self.expect(b',')?;
                if self.eat(b'}') {
                    return Ok(Tree::List(out));
                }
                out.push(self.value()?);
            }
        }
        let mut entries = Vec::new();
        let mut key = first;
        loop {
            self.expect(b':')?;
            let v = self.value()?;
            entries.push((key_text(key), v));
            if self.eat(b'}') {
                return Ok(map(entries, false));
            }
            self.expect(b',')?;
            if self.eat(b'}') {
                return Ok(map(entries, false));
            }
            key = self.value()?;
        }
    }

    /// `Name`, `Name { field: v, .. }`, `Name(v, ..)`, or an atom that starts with a letter.
    fn named(&mut self) -> Result<Tree, RenderError> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        let name = self.text[start..self.i].to_string();
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let mut fields = self.items(b')')?;
                Ok(match (name.as_str(), fields.len()) {
                    ("Some", 1) => fields.remove(0),
                    // A wrapper around a struct (an enum's variant): keep which one it is.
                    (_, 1) if matches!(fields[0], Tree::Map { strukt: true, .. }) => {
                        map(vec![(snake(&name), fields.remove(0))], true)
                    }
                    (_, 1) => fields.remove(0),
                    (_, 0) => Tree::Str(snake(&name)),
                    _ => Tree::List(fields),
                })
            }
            Some(b' ') if self.s.get(self.i + 1) == Some(&b'{') => {
                self.i += 2;
                self.fields()
            }
            Some(c) if !matches!(c, b',' | b')' | b']' | b'}' | b' ') => {
                // `fe80::1`, `x86_64-linux`: letters first, but an atom.
                self.i = start;
                Ok(atom_value(self.atom()))
            }
            _ => Ok(match name.as_str() {
                "None" => Tree::Null,
                "true" => Tree::Bool(true),
                "false" => Tree::Bool(false),
                _ => Tree::Str(snake(&name)),
            }),
        }
    }

    /// A struct's `field: value` pairs up to `}`.
    fn fields(&mut self) -> Result<Tree, RenderError> {
        let mut m = Vec::new();
        if self.eat(b'}') {
            return Ok(map(m, true));
        }
        loop {
            self.ws();
            if self.s[self.i..].starts_with(b"..") {
                // A `finish_non_exhaustive` struct: some fields are not shown.
                self.i += 2;
                self.expect(b'}')?;
                return Ok(map(m, true));
            }
            let start = self.i;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                self.i += 1;
            }
            if start == self.i {
                return Err(self.err("expected a field name"));
            }
            let name = self.text[start..self.i].to_string();
            self.expect(b':')?;
            let v = self.value()?;
            if !INTERNAL_FIELDS.contains(&name.as_str()) {
                m.push((name, v));
            }
            if self.eat(b'}') {
                return Ok(map(m, true));
            }
            self.expect(b',')?;
        }
    }
}

fn map(entries: Vec<(String, Tree)>, strukt: bool) -> Tree {
    Tree::Map { entries, strukt }
}

fn key_text(v: Tree) -> String {
    match v {
        Tree::Str(s) => s,
        Tree::Num(n) => n.to_string(),
        other => json(other).to_string(),
    }
}

fn atom_value(s: String) -> Tree {
    if let Ok(n) = s.parse::<i64>() {
        return Tree::Num(n.into());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Tree::Num(n.into());
    }
    if s.contains('.')
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && let Ok(f) = s.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Tree::Num(n);
    }
    Tree::Str(std_duration(&s).unwrap_or(s))
}

/// A `std::time::Duration` as `Debug` prints it (`3600s`, `1.5s`, `250ms`), in the config's
/// spelling (`1h`, `1500ms`); `None` for anything else.
fn std_duration(s: &str) -> Option<String> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("µs") {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix("ns") {
        (n, 1e-9)
    } else {
        (s.strip_suffix('s')?, 1.0)
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs: f64 = num.parse().ok()?;
    let ms = secs * scale * 1000.0;
    if ms.fract() != 0.0 || !(0.0..1e15).contains(&ms) {
        return Some(s.to_string());
    }
    Some(super::Duration::millis(ms as u64).to_string())
}

/// `DegradedPerformance` -> `degraded_performance`: the config's spelling of a variant.
fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

// ---- YAML ----

fn yaml_map(m: &[(String, Tree)], indent: usize, out: &mut String) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_key(k));
        out.push(':');
        yaml_child(v, indent, out);
    }
}

fn yaml_seq(a: &[Tree], indent: usize, out: &mut String) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match v {
            Tree::Map { entries, .. } if !entries.is_empty() => {
                // The first key on the dash's line, the rest under it.
                let mut inner = String::new();
                yaml_map(entries, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(inner.trim_start());
            }
            _ => yaml_child(v, indent, out),
        }
    }
}

fn yaml_child(v: &Tree, indent: usize, out: &mut String) {
    match v {
        Tree::Map { entries, .. } if !entries.is_empty() => {
            out.push('\n');
            yaml_map(entries, indent + 2, out);
        }
        Tree::List(items) if !items.is_empty() => {
            out.push('\n');
            yaml_seq(items, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn yaml_key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
    {
        k.to_string()
    } else {
        serde_json::to_string(k).unwrap_or_default()
    }
}

fn scalar(v: &Tree) -> String {
    match v {
        Tree::Null => "null".into(),
        Tree::Bool(b) => b.to_string(),
        Tree::Num(n) => n.to_string(),
        Tree::Str(s) if s == REDACTED => s.clone(),
        Tree::Str(s) => {
            let plain = !s.is_empty()
                && s.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b':')
                })
                && !s.ends_with(':')
                && !matches!(
                    s.as_str(),
                    "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "~"
                )
                && s.parse::<f64>().is_err()
                && !s.contains(": ");
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        Tree::Map { .. } => "{}".into(),
        Tree::List(_) => "[]".into(),
    }
}

#[cfg(test)]
#[path = "effective_tests.rs"]
mod tests;
