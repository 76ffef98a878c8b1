//! Type-directed decoding of a positioned YAML tree that records *every* error.
//!
//! Each config type implements [`Decode`]; on a bad value it records an error (file, line, column,
//! field path, message) and returns `None`, and decoding carries on with the siblings, so one run
//! of `panoptes check` lists everything wrong with a file. Sections are declared with
//! [`config_section!`](crate::config_section), which also rejects unknown fields.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;

use super::yaml::{Mark, Node, Value};
use super::{ConfigError, Duration};

/// Looks up a variable for `${VAR}` substitution. Injected so tests do not touch the process
/// environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub struct Decoder<'a> {
    file: String,
    env: EnvLookup<'a>,
    pub(crate) errors: Vec<ConfigError>,
    /// Where each decoded field path was written, so checks that run after decoding (unique
    /// names, fields that exclude each other) report the line of the field they are about.
    marks: HashMap<String, Mark>,
}

/// Maximum size of a file read through `${file:...}`.
const MAX_SECRET_FILE: u64 = 64 * 1024;

impl<'a> Decoder<'a> {
    pub fn new(file: impl Into<String>, env: EnvLookup<'a>) -> Self {
        Decoder {
            file: file.into(),
            env,
            errors: Vec::new(),
            marks: HashMap::new(),
        }
    }

    /// Where `path` (e.g. `services[2].tls_config.ca_file`) was written: the field itself when it
    /// was decoded, else the nearest enclosing field that was.
    pub fn mark_of(&self, path: &str) -> Mark {
        let mut p = path;
        loop {
            if let Some(m) = self.marks.get(p) {
                return *m;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.marks.get("").copied().unwrap_or_default(),
            }
        }
    }

    /// An error about `path`, located where that field (or its nearest written parent) is.
    pub fn error_at(&mut self, path: &str, message: impl Into<String>) {
        let mark = self.mark_of(path);
        self.error(mark, path, message);
    }

    pub fn error(&mut self, mark: Mark, path: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: mark.line,
            col: mark.col,
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// Decodes `node` as the field at `path`, remembering where it was written.
    pub fn decode<T: Decode>(&mut self, node: &Node, path: &str) -> Option<T> {
        self.marks.entry(path.to_string()).or_insert(node.mark);
        T::decode(node, path, self)
    }

    /// Checks that `node` is a mapping whose keys are unique and all among `known`; returns its
    /// entries by key. Unknown keys are errors (typos must not be silently ignored).
    pub fn mapping<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: &[&str],
    ) -> Option<BTreeMap<&'n str, &'n Node>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node.mark,
                path,
                format!("expected a mapping, found {}", node.kind()),
            );
            return None;
        };
        let mut out = BTreeMap::new();
        for (k, v) in entries {
            let Value::Scalar { text, .. } = &k.value else {
                self.error(k.mark, path, "mapping keys must be plain strings");
                continue;
            };
            let field = join(path, text);
            if !known.contains(&text.as_str()) {
                let hint = closest(text, known)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                self.error(
                    k.mark,
                    &field,
                    format!(
                        "unknown field `{text}`{hint}; expected one of: {}",
                        known.join(", ")
                    ),
                );
                continue;
            }
            if out.insert(text.as_str(), v).is_some() {
                self.error(k.mark, &field, format!("duplicate field `{text}`"));
            }
        }
        Some(out)
    }

    /// A scalar's text after `${VAR}` / `${file:/path}` substitution.
    pub fn text(&mut self, node: &Node, path: &str) -> Option<(String, bool)> {
        match &node.value {
            Value::Scalar { text, plain } => {
                let text = self.substitute(text, node.mark, path)?;
                Some((text, *plain))
            }
            other => {
                let kind = Node {
                    value: other.clone(),
                    mark: node.mark,
                }
                .kind();
                self.error(node.mark, path, format!("expected a value, found {kind}"));
                None
            }
        }
    }

    fn substitute(&mut self, text: &str, mark: Mark, path: &str) -> Option<String> {
        if !text.contains('$') {
            return Some(text.to_string());
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(stripped) = after.strip_prefix('$') {
                // `$$` is a literal dollar sign.
                out.push('$');
                rest = stripped;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(end) = body.find('}') else {
                    self.error(mark, path, "unterminated `${` in value");
                    return None;
                };
                let name = &body[..end];
                rest = &body[end + 1..];
                if let Some(file) = name.strip_prefix("file:") {
                    out.push_str(&self.read_secret_file(file, mark, path)?);
                } else if name.is_empty()
                    || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.error(
                        mark,
                        path,
                        format!("`${{{name}}}` is not a valid variable name"),
                    );
                    return None;
                } else {
                    match (self.env)(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            self.error(
                                mark,
                                path,
                                format!("environment variable `{name}` is not set"),
                            );
                            return None;
                        }
                    }
                }
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        Some(out)
    }

    fn read_secret_file(&mut self, file: &str, mark: Mark, path: &str) -> Option<String> {
        let result = std::fs::File::open(file).and_then(|f| {
            use std::io::Read;
            let mut buf = String::new();
            f.take(MAX_SECRET_FILE + 1).read_to_string(&mut buf)?;
            Ok(buf)
        });
        match result {
            Ok(s) if s.len() as u64 > MAX_SECRET_FILE => {
                self.error(
                    mark,
                    path,
                    format!("`{file}` is larger than {MAX_SECRET_FILE} bytes"),
                );
                None
            }
            // Secret files usually end with a newline that is not part of the secret.
            Ok(s) => Some(s.trim_end_matches(['\n', '\r']).to_string()),
            Err(e) => {
                self.error(mark, path, format!("cannot read `{file}`: {e}"));
                None
            }
        }
    }

    /// Parses a scalar with `FromStr`, reporting `expected` on failure.
    pub fn parse_with<T>(
        &mut self,
        node: &Node,
        path: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let (text, _) = self.text(node, path)?;
        match parse(text.trim()) {
            Ok(v) => Some(v),
            Err(why) => {
                let why = if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({why})")
                };
                self.error(
                    node.mark,
                    path,
                    format!("expected {expected}, found `{text}`{why}"),
                );
                None
            }
        }
    }
}

/// `a.b` / `a[3]` style paths for messages.
pub fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (levenshtein(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

pub trait Decode: Sized {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self>;
}

impl Decode for String {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.text(node, path).map(|(t, _)| t)
    }
}

impl Decode for PathBuf {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let (text, _) = d.text(node, path)?;
        if text.is_empty() {
            d.error(node.mark, path, "expected a path, found an empty string");
            return None;
        }
        Some(PathBuf::from(text))
    }
}

impl Decode for bool {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "true or false", |s| match s {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            _ => Err(String::new()),
        })
    }
}

macro_rules! decode_int {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
                d.parse_with(node, path, concat!("an integer (", stringify!($t), ")"), |s| {
                    s.replace('_', "").parse::<$t>().map_err(|e| e.to_string())
                })
            }
        }
    )*};
}
decode_int!(u8, u16, u32, u64, usize, i64);

impl Decode for f64 {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a number", |s| match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err("must be finite".into()),
            Err(e) => Err(e.to_string()),
        })
    }
}

impl Decode for SocketAddr {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "an address like 127.0.0.1:8080 or [::1]:8080",
            |s| s.parse::<SocketAddr>().map_err(|_| String::new()),
        )
    }
}

impl Decode for Duration {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "a duration like 500ms, 30s, 5m, 2h or 7d",
            |s| s.parse::<Duration>(),
        )
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        if node.value == Value::Null {
            return Some(None);
        }
        T::decode(node, path, d).map(Some)
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let items = match &node.value {
            Value::Seq(items) => items,
            Value::Null => return Some(Vec::new()),
            _ => {
                d.error(
                    node.mark,
                    path,
                    format!("expected a list, found {}", node.kind()),
                );
                return None;
            }
        };
        // Items that failed are left out (their errors are recorded, so the file is refused
        // anyway); the rest stay, so checks across items still run and report what they find.
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(v) = d.decode(item, &format!("{path}[{i}]")) {
                out.push(v);
            }
        }
        Some(out)
    }
}

impl<T: Decode> Decode for BTreeMap<String, T> {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => return Some(BTreeMap::new()),
            _ => {
                d.error(
                    node.mark,
                    path,
                    format!("expected a mapping, found {}", node.kind()),
                );
                return None;
            }
        };
        let mut out = BTreeMap::new();
        for (k, v) in entries {
            let Some(key) = String::decode(k, path, d) else {
                continue;
            };
            let field = join(path, &key);
            if let Some(v) = d.decode(v, &field)
                && out.insert(key.clone(), v).is_some()
            {
                d.error(k.mark, &field, format!("duplicate key `{key}`"));
            }
        }
        Some(out)
    }
}

/// Declares a config section: the struct, and a [`Decode`] impl that rejects unknown fields,
/// reports missing required fields, and fills defaults. A field with `= expr` is optional with
/// that default; a field without one is required. `field as "key"` reads the field from another
/// key (e.g. `record_type as "type"`, since `type` is a Rust keyword). A field whose value is
/// wrong takes its default after the error is recorded, so cross-field checks still run on the
/// rest (the file is refused either way). Doc comments on fields are the user documentation
/// (mirrored in `panoptes init`'s example). An optional `check = path;` after the struct names a
/// `fn(&Self, path: &str, &mut Decoder)` that checks fields against each other once decoded.
#[macro_export]
macro_rules! config_section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident $(as $key:literal)? : $ty:ty $(= $default:expr)? ),* $(,)?
        }
        $(check = $check:path;)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty, )* }

        impl $crate::config::decode::Decode for $name {
            fn decode(
                node: &$crate::config::yaml::Node,
                path: &str,
                d: &mut $crate::config::decode::Decoder,
            ) -> Option<Self> {
                let map = d.mapping(node, path, &[$($crate::config_section!(@key $field $(, $key)?)),*])?;
                $(
                    let key = $crate::config_section!(@key $field $(, $key)?);
                    let $field: Option<$ty> = match map.get(key) {
                        Some(n) => d
                            .decode(n, &$crate::config::decode::join(path, key))
                            $(.or_else(|| Some($default)))?,
                        None => $crate::config_section!(@default d, node, path, key $(, $default)?),
                    };
                )*
                let value = Self { $( $field: $field?, )* };
                $( $check(&value, path, d); )?
                Some(value)
            }
        }
    };
    (@key $field:ident, $key:literal) => { $key };
    (@key $field:ident) => { stringify!($field) };
    (@default $d:ident, $node:ident, $path:ident, $key:ident, $default:expr) => { Some($default) };
    (@default $d:ident, $node:ident, $path:ident, $key:ident) => {{
        $d.error(
            $node.mark,
            &$crate::config::decode::join($path, $key),
            format!("missing required field `{}`", $key),
        );
        None
    }};
}
