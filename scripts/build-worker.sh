#!/usr/bin/env bash
# Builds the Worker (worker/build/index.js + index_bg.wasm) and the console's static files, with
# the tools installed by scripts/install-tools.sh — never letting worker-build download its own.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
(cd worker && worker-build --release) >&2
if [ -x scripts/build-console.sh ]; then
  scripts/build-console.sh >&2
else
  mkdir -p www/console-dist
fi
