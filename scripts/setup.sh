#!/usr/bin/env bash
# Installs what building the dashboard and running every test needs, skipping what is present
# (with --build-only, only the first three: what `make run` needs):
#   - the wasm32-unknown-unknown target (rustup)
#   - wasm-bindgen-cli at exactly the version of the `wasm-bindgen` crate in Cargo.lock
#   - wasm-opt from the npm package `binaryen` (Debian's binaryen 108 emits broken modules)
#   - chromium + chromium-driver (Debian) for the browser test
#   - prometheus-alertmanager (Debian) for the alerting tests
#   - prometheus (Debian) for the remote-write test
#   - Python (.tools/venv) and npm test clients
# Tools land in .tools/ inside the repository, so nothing global is assumed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS/bin"
log() { printf '[setup] %s\n' "$*" >&2; }

# --build-only: what building the dashboard and the server needs (`make run`), nothing for the
# tests; --no-browser: everything but Chromium.
want_browser=1
build_only=0
for arg in "$@"; do
  case "$arg" in
    --no-browser) want_browser=0 ;;
    --build-only) build_only=1 ;;
    *) log "unknown option $arg (--build-only, --no-browser)"; exit 2 ;;
  esac
done

# --- wasm target -----------------------------------------------------------------------------
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding rustup target wasm32-unknown-unknown"
  timeout 600 rustup target add wasm32-unknown-unknown
fi

# --- wasm-bindgen-cli, pinned to Cargo.lock ---------------------------------------------------
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -z "$WB_VERSION" ]; then
  echo "setup: cannot find the wasm-bindgen version in Cargo.lock" >&2
  exit 1
fi
if ! "$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $WB_VERSION\$"; then
  log "installing wasm-bindgen-cli $WB_VERSION (takes a few minutes)"
  # `cargo install --locked wasm-bindgen-cli` can fail when its lock file names a crate version
  # the registry no longer serves; install from the unpacked crate and re-resolve only what fails.
  work=$(mktemp -d)
  (
    cd "$work"
    cargo new -q --vcs none fetcher
    cd fetcher
    cargo add -q "wasm-bindgen-cli@=$WB_VERSION"
    cargo fetch -q
  ) || true
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wasm-bindgen-cli-"$WB_VERSION" 2>/dev/null | head -n1)
  if [ -z "$src" ]; then
    echo "setup: could not download wasm-bindgen-cli $WB_VERSION from crates.io" >&2
    exit 1
  fi
  cp -r "$src" "$work/cli"
  cd "$work/cli"
  if ! cargo install -q --locked --path . --root "$TOOLS" 2>"$work/err.log"; then
    # Re-resolve any crate the lock file pins to a version that is not available.
    for pkg in $(grep -oE 'failed to select a version for the requirement `[a-z0-9_-]+ = "=[0-9.]+"' "$work/err.log" \
      | sed -E 's/.*`([a-z0-9_-]+) = "=([0-9.]+)".*/\1@\2/'); do
      cargo update -q -p "$pkg" || true
    done
    cargo update -q -p webpki-roots 2>/dev/null || true
    cargo install -q --locked --path . --root "$TOOLS"
  fi
  cd "$ROOT"
  rm -rf "$work"
fi

# --- wasm-opt (npm binaryen) -------------------------------------------------------------------
if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ]; then
  log "installing binaryen (wasm-opt) from npm"
  (cd "$TOOLS" && [ -f package.json ] || echo '{"private":true}' > "$TOOLS/package.json")
  (cd "$TOOLS" && npm install --silent --no-audit --no-fund binaryen@132.0.0)
fi
ln -sf ../node_modules/.bin/wasm-opt "$TOOLS/bin/wasm-opt"
if [ "$build_only" = 1 ]; then
  log "build tools ready"
  exit 0
fi

# --- chromium for the browser test ------------------------------------------------------------
if [ "$want_browser" = 1 ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  log "installing chromium and chromium-driver (apt)"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
# --- Prometheus Alertmanager: the alerting tests push to a real one ----------------------------
if ! command -v prometheus-alertmanager >/dev/null; then
  log "installing prometheus-alertmanager (apt)"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # The package's service is not wanted; the tests start their own Alertmanager.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus-alertmanager >/dev/null
fi
# --- Prometheus: the remote-write test writes to a real one and queries it back ----------------
if ! command -v prometheus >/dev/null; then
  log "installing prometheus (apt)"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # Its service is not wanted either: the test starts its own, with the receiver enabled.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# --- real clients the integration tests drive ----------------------------------------------------
# Python packages (sentry-sdk, periskop-client, ...) go into .tools/venv from every
# tests/python/requirements*.txt; npm packages (@sentry/node, ...) from tests/node/package.json.
shopt -s nullglob
reqs=(tests/python/requirements*.txt)
if [ ${#reqs[@]} -gt 0 ]; then
  stamp="$TOOLS/venv/.installed"
  want=$(cat "${reqs[@]}" | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python test clients into .tools/venv"
    [ -x "$TOOLS/venv/bin/python" ] || python3 -m venv "$TOOLS/venv"
    for r in "${reqs[@]}"; do
      "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check -r "$r"
    done
    echo "$want" > "$stamp"
  fi
fi
# Bugsink (PyPI), a second real upstream for tests/forward/; a venv of its own (its pins are not
# the test clients'). scripts/bench/bugsink-run.sh starts it.
if [ ! -x "$TOOLS/bugsink-venv/bin/bugsink-manage" ]; then
  log "installing Bugsink 2.6.2 into .tools/bugsink-venv"
  python3 -m venv "$TOOLS/bugsink-venv"
  "$TOOLS/bugsink-venv/bin/pip" install -q --disable-pip-version-check bugsink==2.6.2
fi
if [ -f tests/node/package.json ]; then
  stamp="tests/node/node_modules/.installed"
  want=$(cat tests/node/package.json tests/node/package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Node test clients (npm)"
    (cd tests/node && npm install --silent --no-audit --no-fund)
    echo "$want" > "$stamp"
  fi
fi
# --- ICMP monitors use unprivileged ICMP sockets; let every group open them (root only) -------
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/net/ipv4/ping_group_range ] \
  && [ "$(awk '{print $1}' /proc/sys/net/ipv4/ping_group_range)" != 0 ]; then
  log "allowing unprivileged ICMP sockets (net.ipv4.ping_group_range) for the ICMP tests"
  sysctl -q -w net.ipv4.ping_group_range="0 2147483647" || true
fi
log "tools ready"
