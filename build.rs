//! Embeds the dashboard: copies the built front end into `$OUT_DIR/dist` (read by rust-embed in
//! `src/http/assets.rs`) with a gzip copy beside each compressible file.
//!
//! The front end is built separately for wasm32 (`scripts/build-frontend.sh`, run by `make`), so
//! a plain `cargo build` needs no WASM toolchain: without a built dashboard, a placeholder page
//! says how to build it. The placeholder carries `<meta name="panoptes-dashboard"
//! content="placeholder">`, so tests can tell it from the dashboard (both are titled Panoptes).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=PANOPTES_DASHBOARD_DIR");
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let src = std::env::var("PANOPTES_DASHBOARD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest.join("frontend/dist"));
    println!("cargo:rerun-if-changed={}", src.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("dist");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).expect("create OUT_DIR/dist");
    if src.join("index.html").is_file() {
        copy_tree(&src, &out);
    } else {
        println!(
            "cargo:warning=dashboard not built ({} missing); embedding a placeholder. Run `make build`.",
            src.join("index.html").display()
        );
        fs::write(out.join("index.html"), PLACEHOLDER).expect("write placeholder");
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).expect("read dashboard dir") {
        let entry = entry.expect("dir entry");
        let path = entry.path();
        let target = to.join(entry.file_name());
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_dir() {
            fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&path, &target);
            continue;
        }
        if path.extension().is_some_and(|e| e == "gz") {
            continue;
        }
        let data = fs::read(&path).expect("read asset");
        fs::write(&target, &data).expect("write asset");
        let compressible = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("html" | "js" | "css" | "wasm" | "svg" | "json" | "txt")
        );
        if compressible && data.len() > 256 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(&data).expect("gzip");
            let gz = gz.finish().expect("gzip");
            let mut name = target.into_os_string();
            name.push(".gz");
            fs::write(name, gz).expect("write gz");
        }
    }
}

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Panoptes</title>
<meta name="panoptes-dashboard" content="placeholder"></head>
<body><h1>Panoptes</h1>
<p>This binary was built without its dashboard. Build it with <code>make build</code>
(or <code>scripts/build-frontend.sh</code> followed by <code>cargo build --release</code>).</p>
<p>The API is at <a href="/api/v1/status">/api/v1/status</a>; health at <a href="/healthz">/healthz</a>.</p>
</body></html>
"#;
