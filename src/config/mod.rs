//! The configuration framework: YAML in, typed sections out, or every error with its location.
//!
//! Owns: the positioned YAML tree (`yaml.rs`), the error-collecting decoder and
//! `config_section!` (`decode.rs`), `Duration`, config errors, pieces several sections share
//! (`shared.rs`: nameservers, basic auth, TLS/CA options, headers), and the root (`root.rs`),
//! which aggregates every domain's section and runs the checks across sections, and the
//! redacted view of the running config an admin reads (`effective.rs`).
//! Depends on: nothing else in the crate, except `root.rs`, which names each domain's section.
//! The root is reached by its own path (`config::root::Config`), never re-exported here: the
//! framework that domains build their sections with does not lead back to the domains.
//! Each domain owns its own schema (`probe/config.rs`, `periskop/config.rs`, ...).

pub mod decode;
pub mod effective;
pub mod root;
pub mod shared;
pub mod yaml;

use std::fmt;
use std::str::FromStr;

use decode::{Decode, Decoder};
use yaml::Node;

/// A span of time written as `500ms`, `30s`, `5m`, `2h`, `7d` or combined (`1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
    pub const fn millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("empty".into());
        }
        let mut total: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err("expected a number".into());
            }
            let n: u128 = rest[..digits].parse().map_err(|_| "number too large")?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit_ms: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                "" => return Err("a unit is required (ms, s, m, h, d, w)".into()),
                other => return Err(format!("unknown unit `{other}`")),
            };
            rest = &rest[unit_len..];
            total = total
                .checked_add(n.checked_mul(unit_ms).ok_or("too large")?)
                .ok_or("too large")?;
        }
        let ms = u64::try_from(total).map_err(|_| "too large")?;
        Ok(Duration(std::time::Duration::from_millis(ms)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ] {
            if ms >= size && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

/// One problem in a config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// Dotted field path, e.g. `server.listen` or `monitors[2].url`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A section with every field at its default: decoding an empty mapping yields exactly that,
/// so defaults are written once, in the section declaration.
pub fn section_default<T: Decode>() -> T {
    let env = |_: &str| None;
    let mut d = Decoder::new("<defaults>", &env);
    match T::decode(&Node::empty_map(), "", &mut d) {
        Some(v) => v,
        // Only reachable if a section gains a required field; caught by `defaults_are_complete`.
        None => panic!("config section has a required field: {:?}", d.errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!("30s".parse::<Duration>(), Ok(Duration::secs(30)));
        assert_eq!("5m".parse::<Duration>(), Ok(Duration::secs(300)));
        assert_eq!("2h".parse::<Duration>(), Ok(Duration::secs(7200)));
        assert_eq!("1h30m".parse::<Duration>(), Ok(Duration::secs(5400)));
        assert_eq!("250ms".parse::<Duration>(), Ok(Duration::millis(250)));
        assert!("30".parse::<Duration>().is_err());
        assert!("5x".parse::<Duration>().is_err());
        assert!("".parse::<Duration>().is_err());
        assert!("99999999999999999999d".parse::<Duration>().is_err());
        assert_eq!(Duration::secs(7200).to_string(), "2h");
    }
}
