//! An event parsed for [`super::summarize`]: the same documents accepted and refused as by
//! `serde_json::from_slice::<Value>` (every string, number and bracket is still read and checked
//! by serde_json's own parser, with its nesting limit), but the parts grouping never reads are
//! dropped as they are read instead of built into the tree: at the top `modules`,
//! `breadcrumbs`, `extra`, `sdk`, `debug_meta`, `spans` and `measurements`; in a stack frame
//! (`…stacktrace.frames[]`, anywhere) `vars`, `pre_context` and `post_context`.
//!
//! Why: the stored payload is the bytes as received, so the tree only feeds the summary, and
//! building all of it (one allocation per node, a B-tree per object) was the largest cost of
//! the ingest request path: 18 % of the server's CPU at 64 concurrent requests, of which about
//! two thirds went on these parts of a Python SDK event (frame locals and source context,
//! the installed packages, breadcrumbs).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::de::StrRead;
use serde_json::{Map, Number, Value};

/// Top-level keys [`super::summarize`] never reads.
const SKIP_TOP: &[&str] = &[
    "modules",
    "breadcrumbs",
    "extra",
    "sdk",
    "debug_meta",
    "spans",
    "measurements",
];
/// Stack frame keys [`super::summarize`] never reads.
const SKIP_FRAME: &[&str] = &["vars", "pre_context", "post_context"];

/// serde_json's marker for a raw value. With its `raw_value` feature (which axum turns on), an
/// object whose first key is this stands for the JSON text in its string value, and `Value`
/// parses that text in the object's place (refusing anything after it); so must this.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

/// Parses `payload` as one JSON document, as `serde_json::from_slice::<Value>` would, minus
/// the parts named above.
pub fn parse(payload: &[u8]) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(payload);
    let v = Node(At::Top).deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// The [`RAW_VALUE`] object's text, parsed by `f` in the object's place.
fn raw_value<'de, A: MapAccess<'de>, T>(
    map: &mut A,
    f: impl FnOnce(&mut serde_json::Deserializer<StrRead<'_>>) -> serde_json::Result<T>,
) -> Result<T, A::Error> {
    let text: String = map.next_value()?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let v = f(&mut de).and_then(|v| de.end().map(|()| v));
    v.map_err(de::Error::custom)
}

/// Where in the event a value is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    Top,
    Any,
    /// A `stacktrace` or `raw_stacktrace` object.
    Stacktrace,
    /// Its `frames` list.
    Frames,
    /// One frame.
    Frame,
}

/// A value at `At`, built as `serde_json::Value` builds it.
struct Node(At);

impl<'de> DeserializeSeed<'de> for Node {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = if self.0 == At::Frames {
            At::Frame
        } else {
            At::Any
        };
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Node(child))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut first = true;
        while let Some(key) = map.next_key::<String>()? {
            if std::mem::take(&mut first) && key == RAW_VALUE {
                return raw_value(&mut map, |de| Node(self.0).deserialize(de));
            }
            let skip = match self.0 {
                At::Top => SKIP_TOP.contains(&key.as_str()),
                At::Frame => SKIP_FRAME.contains(&key.as_str()),
                _ => false,
            };
            if skip {
                map.next_value_seed(Checked)?;
                continue;
            }
            let child = match (self.0, key.as_str()) {
                (At::Stacktrace, "frames") => At::Frames,
                (_, "stacktrace" | "raw_stacktrace") => At::Stacktrace,
                _ => At::Any,
            };
            let v = map.next_value_seed(Node(child))?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// A value read in full and checked, but not kept. Not `IgnoredAny` on its own: serde_json
/// skips an ignored string without checking its UTF-8 or its escapes, and a document must be
/// refused here exactly when `Value` refuses it; so strings go through `deserialize_any`.
struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Checked)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match map.next_key_seed(IsRawValue)? {
            None => return Ok(()),
            Some(true) => return raw_value(&mut map, |de| Checked.deserialize(de)),
            Some(false) => map.next_value_seed(Checked)?,
        }
        while map.next_key_seed(Checked)?.is_some() {
            map.next_value_seed(Checked)?;
        }
        Ok(())
    }
}

/// Whether a key is [`RAW_VALUE`] (checked like any key, not kept).
struct IsRawValue;

impl<'de> DeserializeSeed<'de> for IsRawValue {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IsRawValue {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, s: &str) -> Result<bool, E> {
        Ok(s == RAW_VALUE)
    }
}

#[cfg(test)]
#[path = "lean_tests.rs"]
mod tests;
