#!/usr/bin/env bash
# Builds the Worker (worker/build/index.js + index_bg.wasm) and the console's static files, with
# the tools installed by scripts/install-tools.sh — never letting worker-build download its own.
#   WORKER_FEATURES  the Worker's cargo features, e.g. `sandbox` (the simulator SANDBOX=true
#                    serves: `make dev` and the test scripts set it). Read from the environment so
#                    wrangler's own [build] step, which runs this script again, builds the same.
#                    A production build leaves it unset: SANDBOX=true then answers an error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
. scripts/wasm-opt-flags.sh
features=()
if [ -n "${WORKER_FEATURES:-}" ]; then
  features=(--features "$WORKER_FEATURES")
fi
echo "build-worker: features: ${WORKER_FEATURES:-none}" >&2
# worker-build runs no wasm-opt (worker/Cargo.toml says so): its wasm-bindgen step keeps the
# name section (~100 KB), so the optimizing and stripping happen here, with the shipped flags.
# The named copy stays beside it (not deployed: wrangler uploads what index.js imports) for
# `make bench`'s profiler and size attribution.
(cd worker && worker-build --release . "${features[@]}") >&2
wasm=worker/build/index_bg.wasm
"$WASM_OPT_BIN" "$wasm" -o worker/build/index_bg.named.wasm -Oz -g "${WASM_FEATURES[@]}" >&2
"$WASM_OPT_BIN" worker/build/index_bg.named.wasm -o "$wasm" --strip-debug --strip-producers "${WASM_FEATURES[@]}" >&2
if [ -x scripts/build-console.sh ]; then
  scripts/build-console.sh >&2
else
  mkdir -p www/console-dist
fi
