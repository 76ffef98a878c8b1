#!/usr/bin/env bash
# Builds the dashboard into frontend/dist: cargo (wasm32, release) -> wasm-bindgen -> wasm-opt,
# with content-hashed file names so the server can cache them forever. Run scripts/setup.sh first
# (make does).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools/bin"
export PATH="$TOOLS:$PATH"
OUT="$ROOT/frontend/dist"
TARGET_DIR="$ROOT/target/wasm"

cargo build -q -p panoptes-frontend --release --target wasm32-unknown-unknown --target-dir "$TARGET_DIR"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$stage" --out-name app \
  "$TARGET_DIR/wasm32-unknown-unknown/release/panoptes-frontend.wasm"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$stage/app_bg.wasm" -o "$stage/app_bg.opt.wasm"

hash() { sha256sum "$1" | cut -c1-16; }
rm -rf "$OUT"
mkdir -p "$OUT/assets"
js="app-$(hash "$stage/app.js").js"
wasm="app-$(hash "$stage/app_bg.opt.wasm").wasm"
css="style-$(hash frontend/static/style.css).css"
cp "$stage/app.js" "$OUT/assets/$js"
cp "$stage/app_bg.opt.wasm" "$OUT/assets/$wasm"
cp frontend/static/style.css "$OUT/assets/$css"
# The boot script is a file, not inline, so the page's Content-Security-Policy can forbid inline
# scripts altogether.
printf 'import init from "/assets/%s";\ninit({ module_or_path: "/assets/%s" });\n' "$js" "$wasm" > "$stage/boot.js"
boot="boot-$(hash "$stage/boot.js").js"
cp "$stage/boot.js" "$OUT/assets/$boot"
sed -e "s/@JS@/$js/g" -e "s/@WASM@/$wasm/g" -e "s/@CSS@/$css/g" -e "s/@BOOT@/$boot/g" frontend/static/index.html > "$OUT/index.html"
printf '[frontend] %s (%s bytes), %s\n' "$wasm" "$(stat -c %s "$OUT/assets/$wasm")" "$js" >&2
