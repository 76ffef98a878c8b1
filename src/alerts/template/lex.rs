//! Splits a template into text and lexed actions, applying `{{-` / `-}}` trimming and dropping
//! comments.

/// An error at a byte offset of the source.
pub(super) struct Error {
    pub(super) at: usize,
    pub(super) msg: String,
}

pub(super) fn err<T>(at: usize, msg: impl Into<String>) -> Result<T, Error> {
    Err(Error {
        at,
        msg: msg.into(),
    })
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// `.` (empty) or `.A.B`.
    Field(Vec<String>),
    /// `$` (empty) or `$.A.B`.
    Root(Vec<String>),
    Ident(String),
    Str(String),
    Num(serde_json::Number),
    Pipe,
    Open,
    Close,
}

pub(super) type Toks = Vec<(usize, Tok)>;

pub(super) enum Item {
    Text(String),
    Action { at: usize, toks: Toks },
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_ident(c: u8, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || (!first && c.is_ascii_digit())
}

/// Splits the source into text and actions (lexed), applying `{{-` / `-}}` trimming and
/// dropping comments.
pub(super) fn split(src: &str) -> Result<Vec<Item>, Error> {
    let b = src.as_bytes();
    let mut items = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    while i < b.len() {
        if !b[i..].starts_with(b"{{") {
            i += 1;
            continue;
        }
        let at = i;
        let mut text = &src[text_start..at];
        i += 2;
        if b.get(i) == Some(&b'-') && b.get(i + 1).is_some_and(|c| is_space(*c)) {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            i += 1;
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        let (toks, next, trim) = lex_action(src, i, at)?;
        i = next;
        if trim {
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
        }
        text_start = i;
        if let Some(toks) = toks {
            items.push(Item::Action { at, toks });
        }
    }
    if text_start < b.len() {
        items.push(Item::Text(src[text_start..].to_string()));
    }
    Ok(items)
}

/// Lexes one action from `i` (after `{{` and any `-`) to its `}}`. Returns the tokens (`None`
/// for a comment), the offset after `}}`, and whether `-}}` asked to trim what follows.
fn lex_action(src: &str, mut i: usize, open: usize) -> Result<(Option<Toks>, usize, bool), Error> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut comment = false;
    loop {
        let ws_start = i;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        let had_space = i > ws_start;
        let rest = &src[i..];
        if rest.is_empty() {
            return err(open, "unclosed action (no `}}`)");
        }
        if had_space && rest.starts_with("-}}") {
            return Ok(((!comment).then_some(toks), i + 3, true));
        }
        if rest.starts_with("}}") {
            return Ok(((!comment).then_some(toks), i + 2, false));
        }
        if comment || (toks.is_empty() && rest.starts_with("/*")) {
            if comment {
                return err(i, "a comment must be alone in its action");
            }
            let Some(end) = rest.find("*/") else {
                return err(i, "unclosed comment");
            };
            comment = true;
            i += end + 2;
            continue;
        }
        let start = i;
        let c = b[i];
        let tok = match c {
            b'.' | b'$' => {
                let mut path = Vec::new();
                i += 1;
                if c == b'$' && b.get(i) == Some(&b'.') {
                    i += 1;
                    if !b.get(i).is_some_and(|c| is_ident(*c, true)) {
                        return err(start, "expected a field name after `$.`");
                    }
                }
                while i < b.len() && is_ident(b[i], true) {
                    let s = i;
                    while i < b.len() && is_ident(b[i], false) {
                        i += 1;
                    }
                    path.push(src[s..i].to_string());
                    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(|c| is_ident(*c, true)) {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if c == b'.' {
                    Tok::Field(path)
                } else {
                    Tok::Root(path)
                }
            }
            b'"' => {
                let (s, next) = lex_string(src, i)?;
                i = next;
                Tok::Str(s)
            }
            b'`' => {
                let Some(end) = src[i + 1..].find('`') else {
                    return err(start, "unterminated raw string");
                };
                i += end + 2;
                Tok::Str(src[start + 1..i - 1].to_string())
            }
            b'|' | b'(' | b')' => {
                i += 1;
                match c {
                    b'|' => Tok::Pipe,
                    b'(' => Tok::Open,
                    _ => Tok::Close,
                }
            }
            c if c.is_ascii_digit()
                || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let lit = &src[start..i];
                let n = match lit.parse::<i64>() {
                    Ok(n) => Some(serde_json::Number::from(n)),
                    Err(_) => lit.parse().ok().and_then(serde_json::Number::from_f64),
                };
                match n {
                    Some(n) => Tok::Num(n),
                    None => return err(start, format!("bad number `{lit}`")),
                }
            }
            c if is_ident(c, true) => {
                while i < b.len() && is_ident(b[i], false) {
                    i += 1;
                }
                Tok::Ident(src[start..i].to_string())
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or(' ');
                return err(i, format!("unexpected `{ch}` in action"));
            }
        };
        toks.push((start, tok));
    }
}

fn lex_string(src: &str, start: usize) -> Result<(String, usize), Error> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((j, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + j + 1)),
            '\n' => break,
            '\\' => match chars.next().map(|(_, e)| e) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(e) => return err(start + 1 + j, format!("unknown escape `\\{e}`")),
                None => break,
            },
            c => out.push(c),
        }
    }
    err(start, "unterminated string")
}
