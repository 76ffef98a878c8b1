#!/usr/bin/env bash
# Brings up Uptime Kuma 2.5.3 (a peer to benchmark against) under .tools/, skipping what is done:
#   - extracts ../shared/peers/uptime-kuma-2.5.3.tar.gz into .tools/uptime-kuma-2.5.3
#   - npm ci --ignore-scripts; rebuilds @louislam/sqlite3 from source against /usr/include/node
#   - npm run build (the web UI, into dist/)
#   - a Python venv .tools/kuma-venv with the Socket.IO client `uptime-kuma-api-ng` (PyPI), a fork of
#     `uptime-kuma-api`: the original (1.2.1) fails on Kuma 2.x at `add` with
#     "NOT NULL constraint failed: monitor.conditions" (2.0 added that column)
# Then `scripts/kuma-status-page.py` (run with .tools/kuma-venv/bin/python) starts a populated instance.
#
# Environment: KUMA_ARCHIVE (default /work/shared/peers/uptime-kuma-2.5.3.tar.gz)
#              KUMA_API_PKG (default uptime-kuma-api-ng; both install the module `uptime_kuma_api`)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools"
KUMA="$TOOLS/uptime-kuma-2.5.3"
VENV="$TOOLS/kuma-venv"
ARCHIVE=${KUMA_ARCHIVE:-/work/shared/peers/uptime-kuma-2.5.3.tar.gz}
log() { printf '[kuma-setup] %s\n' "$*" >&2; }
mkdir -p "$TOOLS"

# --- source ----------------------------------------------------------------------------------
if [ ! -f "$KUMA/package.json" ]; then
  [ -f "$ARCHIVE" ] || { echo "kuma-setup: no archive at $ARCHIVE" >&2; exit 1; }
  log "extracting $ARCHIVE"
  rm -rf "$KUMA"
  tar -xzf "$ARCHIVE" -C "$TOOLS/"
fi
cd "$KUMA"

# --- node dependencies -------------------------------------------------------------------------
# A stamp records the lock file's hash, so a half-finished `npm ci` is redone.
lockhash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.kuma-setup-ci 2>/dev/null)" != "$lockhash" ]; then
  log "npm ci --ignore-scripts (a few minutes)"
  npm ci --ignore-scripts --no-audit --no-fund
  echo "$lockhash" > node_modules/.kuma-setup-ci
fi

# --- native sqlite3 ----------------------------------------------------------------------------
if ! node -e 'require("@louislam/sqlite3")' 2>/dev/null; then
  log "npm rebuild @louislam/sqlite3 --build-from-source (a few minutes)"
  npm rebuild @louislam/sqlite3 --build-from-source --nodedir=/usr
  node -e 'require("@louislam/sqlite3")'
fi

# --- web UI ------------------------------------------------------------------------------------
if [ ! -f dist/index.html ]; then
  log "npm run build (vite)"
  npm run build
fi

# --- Python client -----------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV"
  python3 -m venv "$VENV"
fi
PKG=${KUMA_API_PKG:-uptime-kuma-api-ng}
if ! "$VENV/bin/pip" show -q "$PKG" >/dev/null 2>&1; then
  log "pip install $PKG"
  # the two distributions ship the same module: never leave both installed
  for other in uptime-kuma-api uptime-kuma-api-ng; do
    [ "$other" = "$PKG" ] || "$VENV/bin/pip" uninstall -q -y "$other" >/dev/null 2>&1 || true
  done
  "$VENV/bin/pip" install -q --disable-pip-version-check "$PKG"
fi
log "ready: $KUMA (node $(node -v)), client: $("$VENV/bin/pip" list 2>/dev/null | grep -i "uptime.kuma.api")"
