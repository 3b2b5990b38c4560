#!/usr/bin/env bash
# Builds the merchant console into www/console-dist/ (git-ignored), which wrangler.toml's
# [assets] serves at /: the page (www/console/) plus the npm module's browser files it imports
# (www/js/client.js, the `aftersale/client` entry: the console normalizes nothing itself) under
# aftersale/.
# Installs nothing. Run by scripts/build-worker.sh, so `make dev` and `wrangler dev` get it too.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[build-console] %s\n' "$*" >&2; }

SRC=www/console
OUT=www/console-dist

# chart.js: the chart's SVG, drawn by hand (no charting library: see README "The console").
for f in index.html console.js chart.js console.css storefront.html storefront.js; do
  [ -f "$SRC/$f" ] || { echo "build-console: $SRC/$f is missing" >&2; exit 1; }
done

# Assemble in a staging directory, then move each file into place (rename: atomic per file) and
# drop what is no longer built. The directory itself stays, so a running `wrangler dev` keeps
# watching it and never serves a half-written file.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$SRC/index.html" "$SRC/console.js" "$SRC/chart.js" "$SRC/console.css" "$SRC/storefront.html" "$SRC/storefront.js" "$stage/"
if [ -f "$SRC/_headers" ]; then cp "$SRC/_headers" "$stage/"; fi
mkdir "$stage/aftersale"
# The console uses the client only: aftersale/client is one plain JavaScript file, no wasm.
cp www/js/client.js "$stage/aftersale/"

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
