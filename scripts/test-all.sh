#!/usr/bin/env bash
# Every test suite, in order from fastest to slowest; stops at the first failing suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

suite() { printf '\n=== %s\n' "$1"; }

suite "core: native tests"
cargo test -p aftersale --all-targets

suite "core: no_std build for wasm32"
cargo build -p aftersale --target wasm32-unknown-unknown --no-default-features

suite "upstream simulator"
node --test tests/simulator/

for extra in scripts/test-www.sh scripts/test-e2e.sh scripts/test-console.sh; do
  if [ -x "$extra" ]; then
    suite "$extra"
    "$extra"
  fi
done
echo
echo "all suites passed"
