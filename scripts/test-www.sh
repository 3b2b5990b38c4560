#!/usr/bin/env bash
# Every test of the npm module (www/): the crate's native unit tests; the wasm tests in Node and
# in headless Chromium against a fake proxy; then the packed tarball installed, imported in Node,
# bundled and unbundled in Chromium, and type-checked. Installs nothing (scripts/install-tools.sh
# all does); exits non-zero on any failure and stops the servers it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '[test-www] %s\n' "$*" >&2; }

work=$(mktemp -d)
proxy_pid=""
cleanup() {
  if [ -n "$proxy_pid" ]; then
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in wasm-pack wasm-bindgen-test-runner node npm; do
  command -v "$tool" >/dev/null || { echo "$tool missing: run scripts/install-tools.sh all" >&2; exit 1; }
done
for f in /usr/bin/chromium /usr/bin/chromedriver node_modules/.bin/esbuild node_modules/.bin/tsc node_modules/playwright-core/package.json; do
  [ -e "$f" ] || { echo "$f missing: run scripts/install-tools.sh all" >&2; exit 1; }
done

say "native unit tests (aftersale-wasm)"
cargo test -p aftersale-wasm --lib --locked --quiet

say "building the package"
tarball=$(scripts/package.sh)

say "starting the fake proxy"
node www/tests/fake-proxy.mjs >"$work/proxy.out" 2>"$work/proxy.err" &
proxy_pid=$!
for _ in $(seq 100); do
  [ -s "$work/proxy.out" ] && break
  kill -0 "$proxy_pid" 2>/dev/null || { cat "$work/proxy.err" >&2; exit 1; }
  sleep 0.1
done
AFTERSALE_FAKE_PROXY=$(head -n1 "$work/proxy.out")
[ -n "$AFTERSALE_FAKE_PROXY" ] || { echo "the fake proxy did not start" >&2; exit 1; }
export AFTERSALE_FAKE_PROXY
say "fake proxy at $AFTERSALE_FAKE_PROXY"

# wasm-bindgen-test exits 0 when it skips a suite (wrong environment): insist that tests ran.
run_wasm_tests() { # label, command...
  local label=$1 log="$work/$1.log"
  shift
  say "wasm tests in $label"
  "$@" 2>&1 | tee "$log"
  if grep -q "skipping" "$log" || ! grep -Eq "^running [1-9][0-9]* tests" "$log"; then
    echo "wasm tests in $label did not run" >&2
    exit 1
  fi
}
run_wasm_tests node wasm-pack test --node www
WASM_BINDGEN_USE_BROWSER=1 run_wasm_tests chromium \
  wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver www

say "package tests (node --test) with $tarball"
AFTERSALE_TARBALL="$PWD/$tarball" node --test www/tests/node/

say "all www tests passed"
