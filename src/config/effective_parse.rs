//! The parser of `Debug` text into the tree `effective` redacts: structs (`Name { f: v }`),
//! tuples and enum variants (`Name(v)`), lists, maps and sets, strings with their escapes, and
//! atoms (numbers, addresses, durations). Anything else is an error, never a guess.

use serde_json::Number;

use super::{INTERNAL_FIELDS, RenderError, Tree, json};

pub(super) struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Parser {
            s: text.as_bytes(),
            text,
            i: 0,
        }
    }

    /// The whole text as one value.
    pub(super) fn document(mut self) -> Result<Tree, RenderError> {
        let v = self.value()?;
        self.ws();
        if self.i != self.s.len() {
            return Err(self.err("trailing text"));
        }
        Ok(v)
    }
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
    Some(crate::config::Duration::millis(ms as u64).to_string())
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
