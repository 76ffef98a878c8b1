//! A monitor's config as written, carried to agents: the positioned YAML node in a JSON form
//! that keeps what the decoder looks at (plain or quoted scalars, entry order, line numbers), so
//! the agent decodes it with the same decoder and validation as the server's config file.
//!
//! `${VAR}` and `${file:...}` are substituted when the agent decodes, from the agent's own
//! environment: secrets an agent needs can stay on the agent's host.

use serde_json::{Value as Json, json};

use crate::config::decode::{Decode, Decoder};
use crate::config::yaml::{Mark, Node, Value};
use crate::probe::config::MonitorConfig;

/// Deepest nesting accepted from the server (a monitor is a few levels deep).
const MAX_DEPTH: usize = 32;

pub fn to_json(n: &Node) -> Json {
    let v = match &n.value {
        Value::Null => Json::Null,
        Value::Scalar { text, plain } => json!({ "s": text, "p": plain }),
        Value::Seq(items) => json!({ "q": items.iter().map(to_json).collect::<Vec<_>>() }),
        Value::Map(entries) => json!({
            "m": entries.iter().map(|(k, v)| json!([to_json(k), to_json(v)])).collect::<Vec<_>>()
        }),
    };
    json!([n.mark.line, n.mark.col, v])
}

pub fn from_json(j: &Json) -> Result<Node, String> {
    from_json_at(j, 0)
}

fn from_json_at(j: &Json, depth: usize) -> Result<Node, String> {
    if depth > MAX_DEPTH {
        return Err("monitor config nested too deeply".into());
    }
    let bad = || "not a monitor config node".to_string();
    let [line, col, v] = j.as_array().map(Vec::as_slice).ok_or_else(bad)? else {
        return Err(bad());
    };
    let mark = Mark {
        line: line.as_u64().ok_or_else(bad)? as usize,
        col: col.as_u64().ok_or_else(bad)? as usize,
    };
    let value = if v.is_null() {
        Value::Null
    } else if let Some(text) = v.get("s").and_then(Json::as_str) {
        Value::Scalar {
            text: text.to_string(),
            plain: v.get("p").and_then(Json::as_bool).unwrap_or(false),
        }
    } else if let Some(items) = v.get("q").and_then(Json::as_array) {
        Value::Seq(
            items
                .iter()
                .map(|i| from_json_at(i, depth + 1))
                .collect::<Result<_, _>>()?,
        )
    } else if let Some(entries) = v.get("m").and_then(Json::as_array) {
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let [k, v] = e.as_array().map(Vec::as_slice).ok_or_else(bad)? else {
                return Err(bad());
            };
            out.push((from_json_at(k, depth + 1)?, from_json_at(v, depth + 1)?));
        }
        Value::Map(out)
    } else {
        return Err(bad());
    };
    Ok(Node { value, mark })
}

/// Decodes a monitor sent by the server, with every error the decoder finds.
pub fn decode_monitor(
    j: &Json,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<MonitorConfig, String> {
    let node = from_json(j)?;
    let mut d = Decoder::new("(server)", env);
    let m = MonitorConfig::decode(&node, "monitor", &mut d);
    match (m, d.errors.is_empty()) {
        (Some(m), true) => Ok(m),
        _ => Err(d
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monitor_survives_the_trip() {
        let c = crate::config::root::parse(
            "monitors:\n  - {name: a, type: http, url: \"http://h/\", interval: 5s, locations: [eu, ap],\n     quorum: 1, headers: {X-A: \"1\"}, conditions: [\"[STATUS] == 200\"]}\n",
            "t",
            &|_| None,
        )
        .expect("config");
        let m = &c.monitors[0];
        let back = decode_monitor(&to_json(&m.source), &|_| None).expect("decodes");
        assert_eq!(&back, m);
        let mut broken = to_json(&m.source);
        broken[2] = json!({"s": "x", "p": true});
        assert!(decode_monitor(&broken, &|_| None).is_err());
        assert!(from_json(&json!("nonsense")).is_err());
    }
}
