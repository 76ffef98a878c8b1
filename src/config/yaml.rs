//! A YAML document as a tree whose every node remembers where it was written.
//!
//! serde stops at the first error and forgets positions; we want every error with its line and
//! column, so the configuration is first read into this tree and then decoded by hand
//! (`decode.rs`). Scalars keep their source text and whether they were quoted: the decoder, which
//! knows the target type, decides what `true` or `8080` means.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// Bounds that keep a hostile or broken file from exhausting memory or the stack.
const MAX_DEPTH: usize = 64;
const MAX_NODES: usize = 1_000_000;

/// A position in the source, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// `plain` is false when the scalar was quoted or a block scalar: `"true"` is a string.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in source order; duplicate keys are reported by the decoder.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub mark: Mark,
}

impl Node {
    pub fn empty_map() -> Node {
        Node {
            value: Value::Map(Vec::new()),
            mark: Mark::default(),
        }
    }

    /// What kind of node this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub mark: Mark,
    pub message: String,
}

enum Frame {
    Seq {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        mark: Mark,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parses one YAML document. An empty document is an empty mapping.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut nodes = 0usize;

    loop {
        let (event, marker) = parser.next_token().map_err(|e| ParseError {
            mark: Mark {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        let mark = Mark {
            line: marker.line(),
            col: marker.col() + 1,
        };
        let err = |message: String| ParseError { mark, message };
        let finished: Option<(Node, usize)> = match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(err("only one YAML document is allowed".into()));
                }
                None
            }
            Event::Alias(id) => {
                let node = anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone())
                    .ok_or_else(|| err("alias to an unknown anchor".into()))?;
                nodes += count(&node);
                Some((node, 0))
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = matches!(style, TScalarStyle::Plain);
                let value = if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Value::Null
                } else {
                    Value::Scalar { text, plain }
                };
                nodes += 1;
                Some((Node { value, mark }, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                stack.push(Frame::Seq {
                    mark,
                    anchor,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                stack.push(Frame::Map {
                    mark,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    mark,
                    anchor,
                    items,
                }) => {
                    nodes += 1;
                    Some((
                        Node {
                            value: Value::Seq(items),
                            mark,
                        },
                        anchor,
                    ))
                }
                _ => return Err(err("unbalanced sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    mark,
                    anchor,
                    entries,
                    ..
                }) => {
                    nodes += 1;
                    Some((
                        Node {
                            value: Value::Map(entries),
                            mark,
                        },
                        anchor,
                    ))
                }
                _ => return Err(err("unbalanced mapping".into())),
            },
        };
        if nodes > MAX_NODES {
            return Err(err(format!(
                "document too large (more than {MAX_NODES} nodes after expanding aliases)"
            )));
        }
        if let Some((node, anchor)) = finished {
            if anchor != 0 {
                anchors.push((anchor, node.clone()));
            }
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq { items, .. }) => items.push(node),
                Some(Frame::Map { entries, key, .. }) => match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                },
            }
        }
    }
    Ok(match root {
        None
        | Some(Node {
            value: Value::Null, ..
        }) => Node::empty_map(),
        Some(node) => node,
    })
}

fn count(node: &Node) -> usize {
    match &node.value {
        Value::Null | Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count(k) + count(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_their_line_and_column() {
        let doc = parse("server:\n  listen: 127.0.0.1:8080\n  data_dir: \"x\"\n").expect("parses");
        let Value::Map(top) = &doc.value else {
            panic!("not a map")
        };
        let Value::Map(server) = &top[0].1.value else {
            panic!("not a map")
        };
        assert_eq!(server[0].1.mark, Mark { line: 2, col: 11 });
        assert_eq!(
            server[1].1.value,
            Value::Scalar {
                text: "x".into(),
                plain: false
            }
        );
    }

    #[test]
    fn empty_document_is_an_empty_mapping() {
        assert_eq!(parse("").expect("parses").value, Value::Map(vec![]));
        assert_eq!(
            parse("# only a comment\n").expect("parses").value,
            Value::Map(vec![])
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("a: [1, 2\nb: 3\n").expect_err("must fail");
        assert!(e.mark.line >= 1, "{e:?}");
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&doc).expect_err("must be refused");
        assert!(e.message.contains("too large"), "{e:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let doc = "[".repeat(200) + &"]".repeat(200);
        let e = parse(&doc).expect_err("must be refused");
        assert!(e.message.contains("nesting"), "{e:?}");
    }

    #[test]
    fn two_documents_are_refused() {
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }
}
