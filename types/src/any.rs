//! Free-form values and tolerant decoding.
//!
//! [`AnyValue`] is a JSON-shaped value for the parts of a payload that are free-form by design
//! (Sentry's `extra`, `contexts`, frame `vars`, request bodies). It is also the buffer the
//! `lenient*` deserializers decode through: a field is read into an `AnyValue` first, then into
//! its real type, and a value of the wrong shape becomes the type's default instead of failing
//! the whole payload. SDKs send whatever they send; one odd field must not hide an event.
//!
//! This keeps the crate on serde alone (no `serde_json`), so it stays small on wasm32.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

/// Any JSON value. Object keys are kept sorted.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AnyValue {
    #[default]
    Null,
    Bool(bool),
    /// Negative integers (non-negative ones are `UInt`).
    Int(i64),
    UInt(u64),
    Float(f64),
    String(String),
    Array(Vec<AnyValue>),
    Object(BTreeMap<String, AnyValue>),
}

impl AnyValue {
    pub fn is_null(&self) -> bool {
        matches!(self, AnyValue::Null)
    }

    /// A scalar as text (`"7"`, `"true"`, `"abc"`); `None` for null, arrays and objects.
    pub fn as_text(&self) -> Option<String> {
        match self {
            AnyValue::Bool(b) => Some(b.to_string()),
            AnyValue::Int(i) => Some(i.to_string()),
            AnyValue::UInt(u) => Some(u.to_string()),
            AnyValue::Float(f) => Some(f.to_string()),
            AnyValue::String(s) => Some(s.clone()),
            AnyValue::Null | AnyValue::Array(_) | AnyValue::Object(_) => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&AnyValue> {
        match self {
            AnyValue::Object(m) => m.get(key),
            _ => None,
        }
    }
}

/// Compact JSON-like text, for showing free-form values: strings unquoted at the top level.
impl fmt::Display for AnyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn write(v: &AnyValue, f: &mut fmt::Formatter<'_>, quote: bool) -> fmt::Result {
            match v {
                AnyValue::Null => f.write_str("null"),
                AnyValue::String(s) if quote => write!(f, "{s:?}"),
                AnyValue::Array(items) => {
                    f.write_str("[")?;
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write(item, f, true)?;
                    }
                    f.write_str("]")
                }
                AnyValue::Object(m) => {
                    f.write_str("{")?;
                    for (i, (k, item)) in m.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{k:?}: ")?;
                        write(item, f, true)?;
                    }
                    f.write_str("}")
                }
                scalar => f.write_str(&scalar.as_text().unwrap_or_default()),
            }
        }
        write(self, f, false)
    }
}

impl Serialize for AnyValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AnyValue::Null => s.serialize_unit(),
            AnyValue::Bool(b) => s.serialize_bool(*b),
            AnyValue::Int(i) => s.serialize_i64(*i),
            AnyValue::UInt(u) => s.serialize_u64(*u),
            AnyValue::Float(f) => s.serialize_f64(*f),
            AnyValue::String(v) => s.serialize_str(v),
            AnyValue::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            AnyValue::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

struct AnyVisitor;

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = AnyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<AnyValue, E> {
        Ok(AnyValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<AnyValue, E> {
        Ok(u64::try_from(v).map_or(AnyValue::Int(v), AnyValue::UInt))
    }
    fn visit_u64<E>(self, v: u64) -> Result<AnyValue, E> {
        Ok(AnyValue::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<AnyValue, E> {
        Ok(AnyValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<AnyValue, E> {
        Ok(AnyValue::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<AnyValue, E> {
        Ok(AnyValue::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<AnyValue, E> {
        Ok(AnyValue::String(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<AnyValue, E> {
        Ok(AnyValue::Null)
    }
    fn visit_none<E>(self) -> Result<AnyValue, E> {
        Ok(AnyValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<AnyValue, D::Error> {
        AnyValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(AnyValue::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, AnyValue>()? {
            out.insert(k, v);
        }
        Ok(AnyValue::Object(out))
    }
}

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AnyValue, D::Error> {
        d.deserialize_any(AnyVisitor)
    }
}

/// An `AnyValue` can itself be decoded into any type: how the lenient helpers retry.
impl<'de> Deserializer<'de> for AnyValue {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self {
            AnyValue::Null => v.visit_unit(),
            AnyValue::Bool(b) => v.visit_bool(b),
            AnyValue::Int(i) => v.visit_i64(i),
            AnyValue::UInt(u) => v.visit_u64(u),
            AnyValue::Float(f) => v.visit_f64(f),
            AnyValue::String(s) => v.visit_string(s),
            AnyValue::Array(items) => {
                let mut seq = de::value::SeqDeserializer::new(items.into_iter());
                let out = v.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            AnyValue::Object(m) => {
                let mut map = de::value::MapDeserializer::new(m.into_iter());
                let out = v.visit_map(&mut map)?;
                map.end()?;
                Ok(out)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self {
            AnyValue::Null => v.visit_none(),
            other => v.visit_some(other),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            AnyValue::String(s) => v.visit_enum(s.into_deserializer()),
            other => Err(de::Error::invalid_type(other.unexpected(), &"a string")),
        }
    }

    /// Only from an object: serde would also fill a struct from a list, positionally, which
    /// for an SDK's payload is never what was meant.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            AnyValue::Object(_) => self.deserialize_any(v),
            other => Err(de::Error::invalid_type(other.unexpected(), &"an object")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

impl AnyValue {
    fn unexpected(&self) -> de::Unexpected<'_> {
        match self {
            AnyValue::Null => de::Unexpected::Unit,
            AnyValue::Bool(b) => de::Unexpected::Bool(*b),
            AnyValue::Int(i) => de::Unexpected::Signed(*i),
            AnyValue::UInt(u) => de::Unexpected::Unsigned(*u),
            AnyValue::Float(f) => de::Unexpected::Float(*f),
            AnyValue::String(s) => de::Unexpected::Str(s),
            AnyValue::Array(_) => de::Unexpected::Seq,
            AnyValue::Object(_) => de::Unexpected::Map,
        }
    }
}

impl<'de> IntoDeserializer<'de, de::value::Error> for AnyValue {
    type Deserializer = AnyValue;
    fn into_deserializer(self) -> AnyValue {
        self
    }
}

/// `deserialize_with`: the field's type if the value fits, its default otherwise.
pub fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let v = AnyValue::deserialize(d)?;
    Ok(T::deserialize(v).unwrap_or_default())
}

/// `deserialize_with` for `Option<String>`: any scalar as text (SDKs send numeric user ids and
/// releases), `None` for anything else.
pub fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(AnyValue::deserialize(d)?.as_text())
}

/// `deserialize_with` for a list: the elements that fit; not a list: empty.
pub fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match AnyValue::deserialize(d)? {
        AnyValue::Array(items) => items
            .into_iter()
            .filter_map(|v| T::deserialize(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// `deserialize_with` for lines of text (source context): every element kept, so line numbers
/// stay aligned; scalars as text, anything else as an empty line.
pub fn lenient_lines<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match AnyValue::deserialize(d)? {
        AnyValue::Array(items) => items
            .iter()
            .map(|v| v.as_text().unwrap_or_default())
            .collect(),
        _ => Vec::new(),
    })
}

/// `deserialize_with` for a string-keyed map: the entries whose value fits; not an object: empty.
pub fn lenient_map<'de, D, T>(d: D) -> Result<BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match AnyValue::deserialize(d)? {
        AnyValue::Object(m) => m
            .into_iter()
            .filter_map(|(k, v)| Some((k, T::deserialize(v).ok()?)))
            .collect(),
        _ => BTreeMap::new(),
    })
}

/// `deserialize_with` for Sentry's interface lists, sent either as `{"values": [...]}` or as a
/// bare list: the elements that fit.
pub fn lenient_values<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let items = match AnyValue::deserialize(d)? {
        AnyValue::Array(items) => items,
        AnyValue::Object(mut m) => match m.remove("values") {
            Some(AnyValue::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(items
        .into_iter()
        .filter_map(|v| T::deserialize(v).ok())
        .collect())
}

/// Key/value pairs sent either as an object (`{"k": "v"}`) or as a list of pairs
/// (`[["k", "v"]]`, also `[{"key": "k", "value": "v"}]`): Sentry tags and request headers.
/// Order is kept; scalar values become text; entries of any other shape are dropped.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn from_any(v: AnyValue) -> Pairs {
        let pair = |item: AnyValue| -> Option<(String, String)> {
            match item {
                AnyValue::Array(kv) if kv.len() == 2 => Some((kv[0].as_text()?, kv[1].as_text()?)),
                AnyValue::Object(m) => Some((m.get("key")?.as_text()?, m.get("value")?.as_text()?)),
                _ => None,
            }
        };
        Pairs(match v {
            AnyValue::Object(m) => m
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.as_text()?)))
                .collect(),
            AnyValue::Array(items) => items.into_iter().filter_map(pair).collect(),
            _ => Vec::new(),
        })
    }
}

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        Ok(Pairs::from_any(AnyValue::deserialize(d)?))
    }
}
