//! Message normalisation for grouping: numbers, UUIDs, hex, dates, IPs and e-mails become
//! placeholders, so `timeout after 3012 ms` and `timeout after 2999 ms` group together.

pub fn normalize(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            out.push_str(&classify(word));
            word.clear();
        }
    };
    for c in msg.chars() {
        if c.is_alphanumeric() || matches!(c, '.' | '@' | '-' | '_' | ':' | '+') {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn classify(word: &str) -> String {
    // Trailing punctuation ("at 10.0.0.1." / "id 42:") is not part of the token.
    let core = word.trim_end_matches(['.', ':', '-', '+']);
    let tail = &word[core.len()..];
    let placeholder =
        if core.contains('@') && core.rsplit('@').next().is_some_and(|d| d.contains('.')) {
            Some("<email>")
        } else if core.parse::<std::net::IpAddr>().is_ok() {
            Some("<ip>")
        } else if is_uuid(core) {
            Some("<uuid>")
        } else if looks_like_date(core) {
            Some("<date>")
        } else if is_hex(core) {
            Some("<hex>")
        } else {
            None
        };
    if let Some(p) = placeholder {
        return format!("{p}{tail}");
    }
    replace_ints(word)
}

fn is_uuid(w: &str) -> bool {
    let b = w.as_bytes();
    (b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        }))
        || (b.len() == 32
            && b.iter().all(u8::is_ascii_hexdigit)
            && b.iter().any(u8::is_ascii_digit))
}

fn looks_like_date(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

fn is_hex(w: &str) -> bool {
    if let Some(h) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        return !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit());
    }
    w.len() >= 8
        && w.bytes().all(|c| c.is_ascii_hexdigit())
        && w.bytes().any(|c| c.is_ascii_digit())
        && w.bytes().any(|c| c.is_ascii_alphabetic())
}

/// Integers that stand alone (not part of an identifier like `utf8` or `v2`).
fn replace_ints(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let before = start.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i).copied();
            let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphabetic() || c == '_');
            if glued(before) || glued(after) {
                out.extend(&chars[start..i]);
            } else {
                out.push_str("<int>");
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}
