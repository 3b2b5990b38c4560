#!/usr/bin/env bash
# Builds the npm module's wasm into www/pkg/: cargo (release: opt-level 3, from the workspace),
# wasm-bindgen --target web, then wasm-opt -Oz from npm's binaryen (Debian's breaks the output).
# Installs nothing: scripts/install-tools.sh does that.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '[build-www] %s\n' "$*" >&2; }

WASM_OPT=node_modules/.bin/wasm-opt
OUT=www/pkg

# The CLI must be exactly the wasm-bindgen the lock file pins, or the glue does not match.
locked=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
cli=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }') || true
if [ -z "$cli" ] || [ "$cli" != "$locked" ]; then
  echo "wasm-bindgen CLI ${cli:-missing}, but Cargo.lock pins $locked: run scripts/install-tools.sh wasm" >&2
  exit 1
fi
[ -x "$WASM_OPT" ] || { echo "$WASM_OPT missing: run scripts/install-tools.sh node" >&2; exit 1; }

say "cargo build -p aftersale-wasm (release, wasm32)"
cargo build -p aftersale-wasm --target wasm32-unknown-unknown --release --locked
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')

say "wasm-bindgen --target web -> $OUT/"
rm -rf "$OUT"
wasm-bindgen --target web --no-typescript --out-dir "$OUT" --out-name aftersale_wasm \
  "$target_dir/wasm32-unknown-unknown/release/aftersale_wasm.wasm"

. scripts/wasm-opt-flags.sh
say "wasm-opt ${WASM_OPT_SHIP[*]} ($("$WASM_OPT" --version))"
"$WASM_OPT" "${WASM_OPT_SHIP[@]}" "$OUT/aftersale_wasm_bg.wasm" -o "$OUT/aftersale_wasm_bg.wasm"

raw=$(wc -c <"$OUT/aftersale_wasm_bg.wasm")
gz=$(gzip -9 -c "$OUT/aftersale_wasm_bg.wasm" | wc -c)
say "$OUT/aftersale_wasm_bg.wasm: $raw bytes, $gz gzipped"
