#!/usr/bin/env bash
# Every test suite, fastest first; stops at the first failing suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

suite() { printf '\n=== %s\n' "$1"; }

suite "core: native tests (unit, golden, hostile inputs, protocol in simulated time, signing)"
cargo test -p aftersale --all-targets

suite "core: with the std feature (the wasm crates' configuration)"
cargo test -p aftersale --features std --lib

suite "core: no_std build for wasm32"
cargo build -p aftersale --target wasm32-unknown-unknown --no-default-features

suite "sandbox: the upstream simulator SANDBOX=true serves (its relative calendar included)"
cargo test -p aftersale-sandbox

suite "worker: the production build for wasm32, without the sandbox (SANDBOX=true is an error there)"
cargo build -p aftersale-worker --target wasm32-unknown-unknown
cargo test -p aftersale-worker --lib
cargo test -p aftersale-worker --lib --features sandbox
if cargo tree -p aftersale-worker -e normal --prefix none | grep -q '^aftersale-sandbox '; then
  echo "the Worker's default build depends on aftersale-sandbox: it must stay behind the \`sandbox\` feature" >&2
  exit 1
fi

suite "upstream simulator"
node --test tests/simulator/

suite "JS test toolkit: wrangler dev started and stopped on a trivial Worker (tests/support/)"
node --test --test-concurrency=1 tests/support/

suite "npm module: wasm in Node and headless Chromium, package tarball, types"
scripts/test-www.sh

suite "proxy end to end: workerd against the upstream simulator"
scripts/test-e2e.sh

suite "console in headless Chromium against the sandboxed Worker"
scripts/test-console.sh

echo
echo "all suites passed"
