//! A small subset of Go's `text/template`, the language Alertmanager and Prometheus users
//! already write, rendered over a JSON context: `{{ .Field.Sub }}`, `{{ $.Root }}`,
//! `{{ if }}` / `{{ else if }}` / `{{ else }}`, `{{ range }}` (with `{{ else }}` when empty),
//! `{{ with }}`, `{{- ` / ` -}}` trimming, `{{/* comments */}}`, string, number and boolean
//! literals, pipelines and the functions `len`, `toUpper`, `toLower`, `title`, `trimSpace`,
//! `join`, `index`, `eq`, `ne`, `not`, `and`, `or`.
//!
//! As in Alertmanager's data, an array of alerts has `.Firing` and `.Resolved`, and a map has
//! `.SortedPairs` (`.Name`, `.Value`), `.Names` and `.Values`.
//!
//! Parsed once, rendered many times. Rendering never fails: a missing field is empty, a
//! function given the wrong kind of value does the least surprising thing (`len` of a number is
//! 0), and the output is cut at [`MAX_OUTPUT`] bytes. Work is bounded too ([`MAX_STEPS`]), so a
//! template cannot stall the engine however large the context.

use std::borrow::Cow;

use serde_json::Value;

mod lex;
mod parse;
#[cfg(test)]
mod tests;

/// Largest rendered output, in bytes; the rest is cut.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// Deepest nesting of blocks (and of parentheses).
pub const MAX_DEPTH: usize = 32;
/// Most nodes executed by one rendering (range bodies count per item).
pub const MAX_STEPS: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Pipeline),
    If {
        branches: Vec<(Pipeline, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    Range {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

/// Commands separated by `|`.
#[derive(Debug, Clone, PartialEq)]
struct Pipeline(Vec<Cmd>);

#[derive(Debug, Clone, PartialEq)]
enum Cmd {
    Operand(Operand),
    Call(Func, Vec<Operand>),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `.` followed by field names (none: the dot itself).
    Dot(Vec<String>),
    /// `$` followed by field names.
    Root(Vec<String>),
    Lit(Value),
    Sub(Box<Pipeline>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Len,
    ToUpper,
    ToLower,
    Title,
    TrimSpace,
    Join,
    Index,
    Eq,
    Ne,
    Not,
    And,
    Or,
}

impl Func {
    fn named(name: &str) -> Option<Func> {
        Some(match name {
            "len" => Func::Len,
            "toUpper" => Func::ToUpper,
            "toLower" => Func::ToLower,
            "title" => Func::Title,
            "trimSpace" => Func::TrimSpace,
            "join" => Func::Join,
            "index" => Func::Index,
            "eq" => Func::Eq,
            "ne" => Func::Ne,
            "not" => Func::Not,
            "and" => Func::And,
            "or" => Func::Or,
            _ => return None,
        })
    }

    /// Arguments taken, the piped value included: (at least, at most).
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Len | Func::ToUpper | Func::ToLower | Func::Title | Func::TrimSpace => (1, 1),
            Func::Not => (1, 1),
            Func::Join | Func::Ne => (2, 2),
            Func::Index | Func::Eq => (2, usize::MAX),
            Func::And | Func::Or => (1, usize::MAX),
        }
    }

    fn arity_text(self) -> String {
        match self.arity() {
            (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
            (a, _) => format!("at least {a} arguments"),
        }
    }
}

impl Template {
    /// Parses a template; the error names the position (`line:column: message`).
    pub fn parse(src: &str) -> Result<Template, String> {
        parse::parse(src).map(|nodes| Template { nodes })
    }

    /// Renders over `ctx` (which is `.` and `$` at the top).
    pub fn render(&self, ctx: &Value) -> String {
        let mut out = Out {
            s: String::new(),
            steps: 0,
            full: false,
        };
        exec(&self.nodes, ctx, ctx, &mut out);
        out.s
    }
}

struct Out {
    s: String,
    steps: usize,
    full: bool,
}

impl Out {
    fn push(&mut self, s: &str) {
        if self.full {
            return;
        }
        if self.s.len() + s.len() <= MAX_OUTPUT {
            self.s.push_str(s);
            return;
        }
        let mut end = MAX_OUTPUT - self.s.len();
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.s.push_str(&s[..end]);
        self.full = true;
    }

    /// Counts one step; false once rendering must stop.
    fn step(&mut self) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            self.full = true;
        }
        !self.full
    }
}

fn exec(nodes: &[Node], dot: &Value, root: &Value, out: &mut Out) {
    for node in nodes {
        if !out.step() {
            return;
        }
        match node {
            Node::Text(t) => out.push(t),
            Node::Action(p) => {
                let v = eval(p, dot, root);
                out.push(&text(&v));
            }
            Node::If {
                branches,
                otherwise,
            } => {
                let taken = branches.iter().find(|(p, _)| truthy(&eval(p, dot, root)));
                exec(taken.map_or(otherwise, |(_, b)| b), dot, root, out);
            }
            Node::With {
                pipe,
                body,
                otherwise,
            } => {
                let v = eval(pipe, dot, root);
                if truthy(&v) {
                    exec(body, &v, root, out);
                } else {
                    exec(otherwise, dot, root, out);
                }
            }
            Node::Range {
                pipe,
                body,
                otherwise,
            } => {
                let v = eval(pipe, dot, root);
                let items: Vec<&Value> = match v.as_ref() {
                    Value::Array(a) => a.iter().collect(),
                    // Go ranges over a map's values in key order (serde_json's map is sorted).
                    Value::Object(m) => m.values().collect(),
                    _ => Vec::new(),
                };
                if items.is_empty() {
                    exec(otherwise, dot, root, out);
                }
                for item in items {
                    if !out.step() {
                        return;
                    }
                    exec(body, item, root, out);
                }
            }
        }
    }
}

fn eval<'v>(p: &Pipeline, dot: &'v Value, root: &'v Value) -> Cow<'v, Value> {
    let mut piped: Option<Cow<'v, Value>> = None;
    for cmd in &p.0 {
        piped = Some(match cmd {
            Cmd::Operand(o) => operand(o, dot, root),
            Cmd::Call(f, args) => {
                let mut vals: Vec<Cow<'v, Value>> =
                    args.iter().map(|a| operand(a, dot, root)).collect();
                vals.extend(piped.take());
                call(*f, vals)
            }
        });
    }
    piped.unwrap_or(Cow::Owned(Value::Null))
}

fn operand<'v>(o: &Operand, dot: &'v Value, root: &'v Value) -> Cow<'v, Value> {
    match o {
        Operand::Dot(path) => walk(dot, path),
        Operand::Root(path) => walk(root, path),
        Operand::Lit(v) => Cow::Owned(v.clone()),
        Operand::Sub(p) => eval(p, dot, root),
    }
}

const NULL: Value = Value::Null;

fn walk<'v>(start: &'v Value, path: &[String]) -> Cow<'v, Value> {
    let mut cur = Cow::Borrowed(start);
    for name in path {
        cur = match cur {
            Cow::Borrowed(v) => field(v, name),
            Cow::Owned(v) => Cow::Owned(field(&v, name).into_owned()),
        };
    }
    cur
}

/// A field of a map, or one of the helpers Alertmanager's data offers.
fn field<'v>(v: &'v Value, name: &str) -> Cow<'v, Value> {
    match v {
        Value::Object(m) => match (m.get(name), name) {
            (Some(x), _) => Cow::Borrowed(x),
            (None, "SortedPairs") => Cow::Owned(Value::Array(
                m.iter()
                    .map(|(k, v)| serde_json::json!({"Name": k, "Value": v}))
                    .collect(),
            )),
            (None, "Names") => Cow::Owned(Value::Array(
                m.keys().map(|k| Value::String(k.clone())).collect(),
            )),
            (None, "Values") => Cow::Owned(Value::Array(m.values().cloned().collect())),
            (None, _) => Cow::Borrowed(&NULL),
        },
        Value::Array(a) if name == "Firing" || name == "Resolved" => {
            let want = name.to_ascii_lowercase();
            Cow::Owned(Value::Array(
                a.iter()
                    .filter(|x| x.get("Status").and_then(Value::as_str) == Some(&want))
                    .cloned()
                    .collect(),
            ))
        }
        _ => Cow::Borrowed(&NULL),
    }
}

fn call<'v>(f: Func, mut a: Vec<Cow<'v, Value>>) -> Cow<'v, Value> {
    let s = |v: String| Cow::Owned(Value::String(v));
    let first = a.first().map(|v| v.as_ref()).unwrap_or(&NULL);
    match f {
        Func::Len => Cow::Owned(Value::from(match first {
            Value::Array(x) => x.len(),
            Value::Object(x) => x.len(),
            Value::String(x) => x.len(),
            _ => 0,
        })),
        Func::ToUpper => s(text(first).to_uppercase()),
        Func::ToLower => s(text(first).to_lowercase()),
        Func::TrimSpace => s(text(first).trim().to_string()),
        Func::Title => s(title(&text(first))),
        Func::Join => {
            let list = a.get(1).map(|v| v.as_ref()).unwrap_or(&NULL);
            s(match list {
                Value::Array(x) => x.iter().map(text).collect::<Vec<_>>().join(&text(first)),
                Value::Object(x) => x.values().map(text).collect::<Vec<_>>().join(&text(first)),
                other => text(other),
            })
        }
        Func::Index => {
            let mut cur = a.remove(0);
            for key in &a {
                cur = match (cur, key.as_ref()) {
                    (Cow::Borrowed(Value::Array(x)), Value::Number(n)) => {
                        Cow::Borrowed(n.as_u64().and_then(|i| x.get(i as usize)).unwrap_or(&NULL))
                    }
                    (Cow::Borrowed(v), k) => field(v, &text(k)),
                    (Cow::Owned(v), k) => Cow::Owned(match (&v, k) {
                        (Value::Array(x), Value::Number(n)) => n
                            .as_u64()
                            .and_then(|i| x.get(i as usize))
                            .cloned()
                            .unwrap_or(Value::Null),
                        _ => field(&v, &text(k)).into_owned(),
                    }),
                };
            }
            cur
        }
        Func::Eq => Cow::Owned(Value::Bool(a[1..].iter().any(|b| equal(first, b)))),
        Func::Ne => Cow::Owned(Value::Bool(!equal(first, &a[1]))),
        Func::Not => Cow::Owned(Value::Bool(!truthy(first))),
        // Go's `and` / `or` answer an argument, not a boolean.
        Func::And => {
            let k = a.iter().position(|v| !truthy(v)).unwrap_or(a.len() - 1);
            a.swap_remove(k)
        }
        Func::Or => {
            let k = a.iter().position(|v| truthy(v)).unwrap_or(a.len() - 1);
            a.swap_remove(k)
        }
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

/// Go's notion of truth: false, 0, nil and empty strings, arrays and maps are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// How a value prints: strings as they are, missing values as nothing, numbers without a
/// needless `.0`, lists and maps as Go prints them (`[a b]`, `map[k:v]`).
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Array(a) => format!("[{}]", a.iter().map(text).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let pairs: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{}", text(v))).collect();
            format!("map[{}]", pairs.join(" "))
        }
    }
}
