//! Parsing of lexed actions into the tree [`super`] executes. Every error names its position
//! as `line:column` of the source.

use super::lex::{Error, Item, Tok, Toks, err, split};
use super::{Cmd, Func, MAX_DEPTH, Node, Operand, Pipeline};

pub(super) fn parse(src: &str) -> Result<Vec<Node>, String> {
    let located = |e: Error| {
        let before = &src[..e.at.min(src.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{line}:{col}: {}", e.msg)
    };
    let items = split(src).map_err(located)?;
    let mut p = Parser { items, i: 0 };
    match p.list(0).map_err(located)? {
        (nodes, None) => Ok(nodes),
        (_, Some(End { at, word, .. })) => Err(located(Error {
            at,
            msg: format!("unexpected {{{{{word}}}}}"),
        })),
    }
}

/// How a list of nodes ended: `{{end}}` or `{{else ...}}` (with what follows `else`).
struct End {
    at: usize,
    word: &'static str,
    rest: Toks,
}

struct Parser {
    items: Vec<Item>,
    i: usize,
}

impl Parser {
    /// Nodes up to an `{{end}}` / `{{else}}` (returned) or the end of the source (`None`).
    fn list(&mut self, depth: usize) -> Result<(Vec<Node>, Option<End>), Error> {
        let mut nodes = Vec::new();
        while self.i < self.items.len() {
            let item = std::mem::replace(&mut self.items[self.i], Item::Text(String::new()));
            self.i += 1;
            let (at, toks) = match item {
                Item::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Item::Action { at, toks } => (at, toks),
            };
            let word = match toks.first() {
                Some((_, Tok::Ident(w))) => w.clone(),
                Some(_) => String::new(),
                None => return err(at, "empty action"),
            };
            let rest = || toks[1..].to_vec();
            match word.as_str() {
                "end" | "else" => {
                    if word == "end" && toks.len() > 1 {
                        return err(toks[1].0, "unexpected tokens after `end`");
                    }
                    let word = if word == "end" { "end" } else { "else" };
                    return Ok((
                        nodes,
                        Some(End {
                            at,
                            word,
                            rest: rest(),
                        }),
                    ));
                }
                "if" | "range" | "with" => {
                    if depth >= MAX_DEPTH {
                        return err(at, format!("blocks nested deeper than {MAX_DEPTH}"));
                    }
                    nodes.push(self.block(&word, at, rest(), depth)?);
                }
                _ => nodes.push(Node::Action(pipeline(&toks, at, depth)?)),
            }
        }
        Ok((nodes, None))
    }

    fn block(&mut self, word: &str, at: usize, toks: Toks, depth: usize) -> Result<Node, Error> {
        let mut branches = Vec::new();
        let mut cond = pipeline(&toks, at, depth)?;
        let unclosed = || err(at, format!("unclosed {{{{{word}}}}} (no {{{{end}}}})"));
        loop {
            let (body, end) = self.list(depth + 1)?;
            let Some(end) = end else { return unclosed() };
            branches.push((cond, body));
            if end.word == "end" {
                return Ok(block_node(word, branches, Vec::new()));
            }
            match end.rest.first() {
                None => {
                    let (otherwise, end2) = self.list(depth + 1)?;
                    match end2 {
                        Some(e) if e.word == "end" => {
                            return Ok(block_node(word, branches, otherwise));
                        }
                        Some(e) => return err(e.at, "a second {{else}} in one block"),
                        None => return unclosed(),
                    }
                }
                Some((_, Tok::Ident(w))) if w == "if" && word == "if" => {
                    cond = pipeline(&end.rest[1..], end.at, depth)?;
                }
                Some((p, _)) => return err(*p, "expected `}}` or `if` after `else`"),
            }
        }
    }
}

fn block_node(word: &str, mut branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node>) -> Node {
    match (word, branches.len()) {
        ("range" | "with", 1) => {
            let (pipe, body) = branches.remove(0);
            if word == "range" {
                Node::Range {
                    pipe,
                    body,
                    otherwise,
                }
            } else {
                Node::With {
                    pipe,
                    body,
                    otherwise,
                }
            }
        }
        _ => Node::If {
            branches,
            otherwise,
        },
    }
}

/// `cmd | cmd | ...`; each later command gets the previous value as its last argument.
fn pipeline(toks: &[(usize, Tok)], at: usize, depth: usize) -> Result<Pipeline, Error> {
    if depth > MAX_DEPTH {
        return err(at, format!("expressions nested deeper than {MAX_DEPTH}"));
    }
    let mut cmds = Vec::new();
    let mut start = 0;
    let mut parens = 0usize;
    for (k, (p, t)) in toks.iter().enumerate() {
        match t {
            Tok::Open => parens += 1,
            Tok::Close if parens == 0 => return err(*p, "unmatched `)`"),
            Tok::Close => parens -= 1,
            Tok::Pipe if parens == 0 => {
                cmds.push(command(&toks[start..k], *p, !cmds.is_empty(), depth)?);
                start = k + 1;
            }
            _ => {}
        }
    }
    if parens > 0 {
        return err(at, "unclosed `(`");
    }
    let end = toks.last().map_or(at, |(p, _)| *p);
    cmds.push(command(&toks[start..], end, !cmds.is_empty(), depth)?);
    Ok(Pipeline(cmds))
}

fn command(toks: &[(usize, Tok)], at: usize, piped: bool, depth: usize) -> Result<Cmd, Error> {
    let Some((p, first)) = toks.first() else {
        return err(at, "missing command (empty pipeline stage)");
    };
    if let Tok::Ident(name) = first
        && !matches!(name.as_str(), "true" | "false" | "nil")
    {
        let Some(f) = Func::named(name) else {
            return err(*p, format!("unknown function `{name}`"));
        };
        let args = operands(&toks[1..], depth)?;
        let n = args.len() + usize::from(piped);
        let (min, max) = f.arity();
        if n < min || n > max {
            return err(*p, format!("`{name}` takes {}, got {n}", f.arity_text()));
        }
        return Ok(Cmd::Call(f, args));
    }
    if piped {
        return err(*p, "only a function can follow `|`");
    }
    let mut ops = operands(toks, depth)?;
    if ops.len() > 1 {
        return err(
            toks[1].0,
            "unexpected operand (only a function takes arguments)",
        );
    }
    Ok(Cmd::Operand(ops.remove(0)))
}

fn operands(toks: &[(usize, Tok)], depth: usize) -> Result<Vec<Operand>, Error> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let (p, t) = &toks[k];
        k += 1;
        out.push(match t {
            Tok::Field(path) => Operand::Dot(path.clone()),
            Tok::Root(path) => Operand::Root(path.clone()),
            Tok::Str(s) => Operand::Lit(serde_json::Value::String(s.clone())),
            Tok::Num(n) => Operand::Lit(serde_json::Value::Number(n.clone())),
            Tok::Ident(w) if w == "true" || w == "false" => {
                Operand::Lit(serde_json::Value::Bool(w == "true"))
            }
            Tok::Ident(w) if w == "nil" => Operand::Lit(serde_json::Value::Null),
            Tok::Open => {
                let mut parens = 1;
                let start = k;
                while k < toks.len() && parens > 0 {
                    match toks[k].1 {
                        Tok::Open => parens += 1,
                        Tok::Close => parens -= 1,
                        _ => {}
                    }
                    k += 1;
                }
                Operand::Sub(Box::new(pipeline(&toks[start..k - 1], *p, depth + 1)?))
            }
            Tok::Ident(w) => {
                return err(*p, format!("`{w}` must come first in its command; use ( )"));
            }
            Tok::Close | Tok::Pipe => return err(*p, "unexpected `)` or `|`"),
        });
    }
    Ok(out)
}
