//! Parsing a condition's operands: placeholders with JSON paths, `len()`, `has()`, `pat()`,
//! `any()` and literals.

use super::{Op, Operand, PathSeg, Placeholder};

pub(super) fn split_sides(source: &str, op: Op) -> (&str, &str) {
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

pub(super) fn parse_operand(s: &str) -> Result<Operand, String> {
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
