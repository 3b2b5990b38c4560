#!/usr/bin/env bash
# Builds the merchant console into www/console-dist/ (git-ignored), which wrangler.toml's
# [assets] serves at /: the page (www/console/) plus the npm module's browser files it imports
# (www/js/api.js, www/js/browser.js and the wasm-bindgen output of www/pkg/) under aftersale/.
# Rebuilds www/pkg/ first (scripts/build-www.sh) when it is missing or older than its sources.
# Installs nothing. Run by scripts/build-worker.sh, so `make dev` and `wrangler dev` get it too.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[build-console] %s\n' "$*" >&2; }

SRC=www/console
OUT=www/console-dist
PKG_WASM=www/pkg/aftersale_wasm_bg.wasm

# www/pkg is the wasm-bindgen output of the aftersale-wasm crate, which is built from the core.
pkg_stale() {
  [ -f "$PKG_WASM" ] && [ -f www/pkg/aftersale_wasm.js ] || return 0
  local newer
  newer=$(find src www/src www/Cargo.toml Cargo.toml Cargo.lock -newer "$PKG_WASM" -type f -print -quit 2>/dev/null)
  [ -n "$newer" ]
}
if pkg_stale; then
  say "www/pkg is missing or older than its sources: scripts/build-www.sh"
  scripts/build-www.sh
fi

for f in index.html console.js console.css; do
  [ -f "$SRC/$f" ] || { echo "build-console: $SRC/$f is missing" >&2; exit 1; }
done

# Assemble in a staging directory, then move each file into place (rename: atomic per file) and
# drop what is no longer built. The directory itself stays, so a running `wrangler dev` keeps
# watching it and never serves a half-written file.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$SRC/index.html" "$SRC/console.js" "$SRC/console.css" "$stage/"
if [ -f "$SRC/_headers" ]; then cp "$SRC/_headers" "$stage/"; fi
mkdir "$stage/aftersale"
cp www/js/api.js www/js/browser.js "$stage/aftersale/"
cp www/pkg/aftersale_wasm.js "$PKG_WASM" "$stage/aftersale/"

mkdir -p "$OUT/aftersale"
(cd "$stage" && find . -type f) | while read -r f; do
  cp "$stage/$f" "$OUT/$f.tmp.$$"
  chmod a+r "$OUT/$f.tmp.$$"
  mv -f "$OUT/$f.tmp.$$" "$OUT/$f"
done
(cd "$OUT" && find . -type f) | while read -r f; do
  [ -e "$stage/$f" ] || rm -f "$OUT/$f"
done
say "$OUT/: $(find "$OUT" -type f | wc -l) files, $(du -sk "$OUT" | cut -f1) KB"
