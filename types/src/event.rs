//! A lenient, typed view of a Sentry event as an SDK sent it.
//!
//! Only what the dashboard shows is typed; unknown fields are ignored. Every field is optional
//! and decoded with the `lenient*` helpers of [`crate::any`]: a field of an unexpected shape
//! decodes as empty instead of failing the event, because SDKs of every language and age send
//! events here and one odd field must not hide the rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::any::{
    AnyValue, Pairs, lenient, lenient_lines, lenient_map, lenient_text, lenient_values, lenient_vec,
};
use crate::sentry::Level;

/// The `event` of an [`EventDetail`](crate::EventDetail).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SentryEvent {
    #[serde(default, deserialize_with = "lenient_text")]
    pub event_id: Option<String>,
    /// When it happened, as the SDK says.
    #[serde(default, deserialize_with = "lenient")]
    pub timestamp: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    pub level: Option<Level>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub platform: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub logger: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub server_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub release: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub dist: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub environment: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub transaction: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub culprit: Option<String>,
    /// A plain string in most SDKs, an object like `logentry` in some.
    #[serde(default, deserialize_with = "lenient")]
    pub message: Option<LogEntry>,
    #[serde(default, deserialize_with = "lenient")]
    pub logentry: Option<LogEntry>,
    /// Chained exceptions, innermost (the cause) first and the one raised last.
    #[serde(default, deserialize_with = "lenient_values")]
    pub exception: Vec<ExceptionValue>,
    #[serde(default, deserialize_with = "lenient_values")]
    pub threads: Vec<Thread>,
    /// A stack trace not attached to an exception (`attach_stacktrace`).
    #[serde(default, deserialize_with = "lenient")]
    pub stacktrace: Option<Stacktrace>,
    #[serde(default, deserialize_with = "lenient_values")]
    pub breadcrumbs: Vec<Breadcrumb>,
    #[serde(default)]
    pub tags: Pairs,
    #[serde(default, deserialize_with = "lenient")]
    pub user: Option<User>,
    #[serde(default, deserialize_with = "lenient")]
    pub request: Option<RequestInfo>,
    /// `os`, `runtime`, `browser`, `device`, ...: each a free-form object.
    #[serde(default, deserialize_with = "lenient_map")]
    pub contexts: BTreeMap<String, BTreeMap<String, AnyValue>>,
    #[serde(default, deserialize_with = "lenient_map")]
    pub extra: BTreeMap<String, AnyValue>,
    #[serde(default, deserialize_with = "lenient_lines")]
    pub fingerprint: Vec<String>,
    #[serde(default, deserialize_with = "lenient_map")]
    pub modules: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "lenient")]
    pub sdk: Option<SdkInfo>,
}

impl SentryEvent {
    /// The exception raised last (Sentry lists the chain cause first).
    pub fn main_exception(&self) -> Option<&ExceptionValue> {
        self.exception.last()
    }

    /// The log message, formatted when the SDK did so.
    pub fn message_text(&self) -> Option<&str> {
        self.logentry
            .as_ref()
            .and_then(LogEntry::text)
            .or_else(|| self.message.as_ref().and_then(LogEntry::text))
    }

    /// The stack trace to show when there is no exception: the event's own, or the crashed
    /// (else the current) thread's.
    pub fn loose_stacktrace(&self) -> Option<&Stacktrace> {
        self.stacktrace.as_ref().or_else(|| {
            let pick = |f: fn(&Thread) -> bool| {
                self.threads
                    .iter()
                    .find(|t| f(t))
                    .and_then(|t| t.stacktrace.as_ref())
            };
            pick(|t| t.crashed == Some(true)).or_else(|| pick(|t| t.current == Some(true)))
        })
    }
}

/// Seconds since the epoch (a float) or an RFC 3339 string: SDKs send either.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum Timestamp {
    Seconds(f64),
    Text(String),
}

/// A log message: `message` is the template, `formatted` the result.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct LogEntry {
    pub message: Option<String>,
    pub formatted: Option<String>,
    pub params: AnyValue,
}

impl LogEntry {
    pub fn text(&self) -> Option<&str> {
        self.formatted
            .as_deref()
            .or(self.message.as_deref())
            .filter(|s| !s.is_empty())
    }
}

impl<'de> Deserialize<'de> for LogEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LogEntry, D::Error> {
        #[derive(Deserialize)]
        struct Object {
            #[serde(default, deserialize_with = "lenient_text")]
            message: Option<String>,
            #[serde(default, deserialize_with = "lenient_text")]
            formatted: Option<String>,
            #[serde(default)]
            params: AnyValue,
        }
        Ok(match AnyValue::deserialize(d)? {
            AnyValue::String(s) => LogEntry {
                formatted: Some(s),
                ..LogEntry::default()
            },
            v @ AnyValue::Object(_) => match Object::deserialize(v) {
                Ok(o) => LogEntry {
                    message: o.message,
                    formatted: o.formatted,
                    params: o.params,
                },
                Err(_) => LogEntry::default(),
            },
            _ => LogEntry::default(),
        })
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ExceptionValue {
    /// The exception's class, e.g. `ZeroDivisionError`.
    #[serde(rename = "type", default, deserialize_with = "lenient_text")]
    pub ty: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub module: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub mechanism: Option<Mechanism>,
    #[serde(default, deserialize_with = "lenient")]
    pub stacktrace: Option<Stacktrace>,
}

/// How the exception was captured.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Mechanism {
    #[serde(rename = "type", default, deserialize_with = "lenient_text")]
    pub ty: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub handled: Option<bool>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub description: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Stacktrace {
    /// Outermost call first, the frame that raised last.
    #[serde(default, deserialize_with = "lenient_vec")]
    pub frames: Vec<Frame>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Frame {
    #[serde(default, deserialize_with = "lenient_text")]
    pub filename: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub abs_path: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub function: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub module: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub package: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub lineno: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub colno: Option<u64>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub context_line: Option<String>,
    #[serde(default, deserialize_with = "lenient_lines")]
    pub pre_context: Vec<String>,
    #[serde(default, deserialize_with = "lenient_lines")]
    pub post_context: Vec<String>,
    /// Application code rather than a library.
    #[serde(default, deserialize_with = "lenient")]
    pub in_app: Option<bool>,
    /// Local variables, as the SDK rendered them.
    #[serde(default, deserialize_with = "lenient_map")]
    pub vars: BTreeMap<String, AnyValue>,
}

impl Frame {
    /// Where the frame is: its file, else its module, else its package.
    pub fn location(&self) -> Option<&str> {
        self.filename
            .as_deref()
            .or(self.abs_path.as_deref())
            .or(self.module.as_deref())
            .or(self.package.as_deref())
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Thread {
    #[serde(default, deserialize_with = "lenient_text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub crashed: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub current: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub stacktrace: Option<Stacktrace>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Breadcrumb {
    #[serde(default, deserialize_with = "lenient")]
    pub timestamp: Option<Timestamp>,
    #[serde(rename = "type", default, deserialize_with = "lenient_text")]
    pub ty: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub category: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub level: Option<Level>,
    #[serde(default, deserialize_with = "lenient_map")]
    pub data: BTreeMap<String, AnyValue>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct User {
    /// Text even when the SDK sent a number.
    #[serde(default, deserialize_with = "lenient_text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub ip_address: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_map")]
    pub data: BTreeMap<String, AnyValue>,
}

/// The HTTP request the event happened in.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RequestInfo {
    #[serde(default, deserialize_with = "lenient_text")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub method: Option<String>,
    /// A string, an object or a list of pairs, depending on the SDK.
    #[serde(default)]
    pub query_string: AnyValue,
    #[serde(default)]
    pub data: AnyValue,
    #[serde(default)]
    pub headers: Pairs,
    #[serde(default)]
    pub cookies: AnyValue,
    #[serde(default, deserialize_with = "lenient_map")]
    pub env: BTreeMap<String, AnyValue>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SdkInfo {
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub version: Option<String>,
}
