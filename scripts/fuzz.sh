#!/usr/bin/env bash
# Runs each cargo-fuzz target for SECS seconds (default 30), seeded from fuzz/corpus/<target>/
# (real data: SDK payloads, a Periskop client export, the conditions of the README and tests):
# the Sentry envelope and store-body parsers, the Periskop export parser, and the Gatus
# condition parser and evaluator. New inputs go to a scratch directory, so the committed corpus
# only changes by hand. cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP lets the stable
# toolchain accept them. A crash fails the run and leaves its input in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
export PATH="$PWD/.tools/bin:$PATH" RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null; then
  echo "[fuzz] installing cargo-fuzz into .tools" >&2
  cargo install -q --locked cargo-fuzz --root .tools
fi
for target in envelope store_body periskop_export condition probe_chunk; do
  scratch=$(mktemp -d)
  echo "[fuzz] $target for ${secs}s" >&2
  log="$scratch.log"
  set +e
  cargo fuzz run --sanitizer none "$target" "$scratch" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  grep -E "^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|==[0-9]+==|SUMMARY)|panicked" "$log" || true
  [ "$status" -eq 0 ] || tail -n 40 "$log"
  rm -f "$log"
  rm -rf "$scratch"
  if [ "$status" -ne 0 ]; then
    echo "[fuzz] $target FAILED (exit $status); see fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
echo "[fuzz] no crashes"
