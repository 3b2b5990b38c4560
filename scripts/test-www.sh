#!/usr/bin/env bash
# Every test of the npm module (www/): the crate's native unit tests; the wasm normalizers in Node
# and in headless Chromium; then the packed tarball installed offline, both entries (`aftersale`
# and `aftersale/client`) imported in Node and in Chromium, bundled and unbundled, the client's
# cases (tests/client/cases.mjs) run through each against a fake proxy, the .d.ts checked against
# the exports, and a consumer type-checked. Installs nothing (scripts/install-tools.sh all does);
# exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '[test-www] %s\n' "$*" >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
