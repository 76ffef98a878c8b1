//! The README's architecture table is the map of the code, and this test keeps it true: every
//! file under `src/` belongs to a row, and imports only the top-level modules its row lists
//! (a module may always use its own parts).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// (path as written in the table, allowed modules or `None` for "everything").
fn table() -> Vec<(String, Option<BTreeSet<String>>)> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README");
    let start = readme
        .find("## Architecture")
        .expect("an Architecture section");
    let mut rows = Vec::new();
    for line in readme[start..].lines().skip(1) {
        if line.starts_with("## ") {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `path` | owns | deps |
        if cells.len() < 5 || !cells[1].starts_with("`src/") {
            continue;
        }
        let path = cells[1].trim_matches('`').to_string();
        let deps_cell = cells[3];
        let deps = if deps_cell.starts_with("everything") {
            None
        } else {
            // Backticked names, up to any parenthesis (which only comments on them).
            let names = deps_cell.split('(').next().unwrap_or("");
            Some(
                names
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect(),
            )
        };
        rows.push((path, deps));
    }
    assert!(rows.len() > 10, "the table was not found: {rows:?}");
    rows
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level modules a file refers to through `crate::` (or `panoptes::` in the binary),
/// ignoring comments and string literals' doc mentions.
fn imports(text: &str, krate: &str) -> BTreeSet<String> {
    // Comments out, lines joined: a `use crate::{...}` group may span lines.
    let code: String = text
        .lines()
        .map(|l| {
            let l = l.trim_start();
            if l.starts_with("//") {
                ""
            } else {
                l.split("//").next().unwrap_or("")
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = BTreeSet::new();
    let needle = format!("{krate}::");
    let mut rest = code.as_str();
    while let Some(i) = rest.find(&needle) {
        let before = rest[..i].chars().last();
        rest = &rest[i + needle.len()..];
        // `$crate::` inside macros and `foo_crate::` are not ours.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first name of each top-level item.
            let mut depth = 0usize;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        add(&mut out, &item);
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            add(&mut out, &item);
        } else {
            add(&mut out, rest);
        }
    }
    out
}

/// Records the module a path after `crate::` starts with.
fn add(out: &mut BTreeSet<String>, path: &str) {
    let path = path.trim_start();
    let name: String = path
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    match name.as_str() {
        "" | "self" => {}
        // The section macro lives at the crate root; it is the config framework.
        "config_section" => {
            out.insert("config".to_string());
        }
        // The root `Config` aggregates every domain's section: importing it is importing them
        // all, so it is its own name in the table (`config::root`).
        "config" if root_config(&path["config".len()..]) => {
            out.insert("config::root".to_string());
        }
        _ => {
            out.insert(name);
        }
    }
}

/// Whether what follows `config` names the root aggregator (`::Config`, `::root`, its
/// `parse`/`load`/`EXAMPLE`, or any of them inside a `::{...}` group).
fn root_config(after: &str) -> bool {
    let Some(after) = after.trim_start().strip_prefix("::") else {
        return false;
    };
    let names: Vec<&str> = match after.trim_start().strip_prefix('{') {
        Some(group) => group
            .split('}')
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .collect(),
        None => vec![after.trim_start()],
    };
    names.iter().any(|n| {
        let first: String = n
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        matches!(
            first.as_str(),
            "Config" | "root" | "parse" | "load" | "EXAMPLE"
        )
    })
}

type Rows = Vec<(String, Option<BTreeSet<String>>)>;

/// Every disagreement between `rows` and the files (path relative to the root, text).
fn check(rows: &Rows, files: &[(String, String)]) -> BTreeMap<String, String> {
    let mut problems = BTreeMap::new();
    for (rel, text) in files {
        // The most specific row: the file itself, else the longest folder containing it.
        let row = rows
            .iter()
            .filter(|(p, _)| p == rel || (p.ends_with('/') && rel.starts_with(p.as_str())))
            .max_by_key(|(p, _)| p.len());
        let Some((row_path, allowed)) = row else {
            problems.insert(
                rel.clone(),
                "has no row in the README's architecture table".to_string(),
            );
            continue;
        };
        let Some(allowed) = allowed else { continue };
        let own = rel
            .trim_start_matches("src/")
            .split(['/', '.'])
            .next()
            .unwrap_or("")
            .to_string();
        // The binary (main.rs and its own modules under cli/) reaches the library by name.
        let krate = if rel == "src/main.rs" || rel.starts_with("src/cli/") {
            "panoptes"
        } else {
            "crate"
        };
        // Test code may build a whole config (`config::parse`) to test one section with it.
        let (code, test) = if rel.ends_with("tests.rs") {
            ("", text.as_str())
        } else {
            text.split_at(text.find("#[cfg(test)]\nmod ").unwrap_or(text.len()))
        };
        let mut used = imports(code, krate);
        used.extend(
            imports(test, krate)
                .into_iter()
                .filter(|m| m != "config::root"),
        );
        let bad: Vec<String> = used
            .into_iter()
            .filter(|m| *m != own && !allowed.contains(m))
            .collect();
        if !bad.is_empty() {
            problems.insert(
                rel.clone(),
                format!("imports {bad:?}, which its row `{row_path}` does not list"),
            );
        }
    }
    problems
}

#[test]
fn every_file_imports_only_what_its_row_allows() {
    let rows = table();
    for (path, _) in &rows {
        assert!(
            Path::new(ROOT).join(path).exists(),
            "the README's architecture table names `{path}`, which does not exist"
        );
    }
    let mut paths = Vec::new();
    sources(&Path::new(ROOT).join("src"), &mut paths);
    let files: Vec<(String, String)> = paths
        .iter()
        .map(|f| {
            let rel = f
                .strip_prefix(ROOT)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(f).expect("read"))
        })
        .collect();
    let problems = check(&rows, &files);
    assert!(
        problems.is_empty(),
        "the code and the README's architecture table disagree:\n{}",
        problems
            .iter()
            .map(|(f, p)| format!("  {f}: {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_forbidden_import_and_an_unmapped_file_are_caught() {
    let set = |names: &[&str]| Some(names.iter().map(|n| n.to_string()).collect());
    let rows: Rows = vec![
        ("src/config/".into(), set(&[])),
        ("src/config/root.rs".into(), set(&["probe"])),
        ("src/probe/".into(), set(&["config", "store"])),
    ];
    let files = vec![
        // The framework naming a domain.
        (
            "src/config/decode.rs".to_string(),
            "use crate::probe::x;".to_string(),
        ),
        // The root may.
        (
            "src/config/root.rs".to_string(),
            "use crate::probe::x;".to_string(),
        ),
        // A domain importing the HTTP edge.
        (
            "src/probe/engine.rs".to_string(),
            "use crate::http::y;\nuse crate::store::z;".to_string(),
        ),
        (
            "src/probe/query.rs".to_string(),
            "use crate::probe::state::State;".to_string(),
        ),
        ("src/alerts/mod.rs".to_string(), String::new()),
        // A domain importing the root config (every other domain with it)...
        (
            "src/probe/judge.rs".to_string(),
            "use crate::config::{Duration, Config};".to_string(),
        ),
        // ...which its tests may do.
        (
            "src/probe/tests.rs".to_string(),
            "use crate::config::parse;".to_string(),
        ),
        (
            "src/probe/state.rs".to_string(),
            "use crate::config::Duration;\n#[cfg(test)]\nmod tests {\n    fn c() { crate::config::parse(); }\n}\n"
                .to_string(),
        ),
    ];
    let problems = check(&rows, &files);
    let keys: Vec<&str> = problems.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "src/alerts/mod.rs",
            "src/config/decode.rs",
            "src/probe/engine.rs",
            "src/probe/judge.rs"
        ]
    );
    assert!(problems["src/probe/judge.rs"].contains("\"config::root\""));
    assert!(problems["src/probe/engine.rs"].contains("\"http\""));
}

#[test]
fn the_checker_sees_imports_and_skips_comments() {
    let text = "use crate::store::Store;\n// crate::http is only mentioned\nlet x = crate::probe::query::x();\nmacro_rules! m { () => { $crate::config::yaml::Node } }\n";
    let got: Vec<String> = imports(text, "crate").into_iter().collect();
    assert_eq!(got, ["probe", "store"]);
}

#[test]
fn the_checker_sees_grouped_imports_and_the_root_config() {
    let text = "use crate::{\n    events::Bus,\n    store::{Store, Write},\n};\nuse crate::config::{self, Config};\nuse crate::config::Duration;\n";
    let got: Vec<String> = imports(text, "crate").into_iter().collect();
    assert_eq!(got, ["config", "config::root", "events", "store"]);
    let got: Vec<String> = imports("let c = crate::config::root::Config::default();", "crate")
        .into_iter()
        .collect();
    assert_eq!(got, ["config::root"]);
}
