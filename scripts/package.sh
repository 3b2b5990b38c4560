#!/usr/bin/env bash
# Builds the npm package and writes dist/aftersale-<version>.tgz (the version is the workspace's,
# from Cargo.toml). Stages the files in www/dist/package/ first. Installs nothing.
# Usage: scripts/package.sh [--no-build]   (--no-build: reuse www/pkg/ as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '[package] %s\n' "$*" >&2; }

[ "${1:-}" = "--no-build" ] || scripts/build-www.sh
[ -f www/pkg/aftersale_wasm_bg.wasm ] || { echo "www/pkg/ is empty: run scripts/build-www.sh" >&2; exit 1; }

version=$(cargo metadata --format-version 1 --no-deps | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    console.log(JSON.parse(s).packages.find((p) => p.name === "aftersale-wasm").version);
  });')

stage=www/dist/package
rm -rf "$stage"
mkdir -p "$stage" dist
cp www/js/api.js www/js/browser.js www/js/node.js www/js/client.js www/js/index.d.ts www/js/client.d.ts www/README.md "$stage/"
cp www/pkg/aftersale_wasm.js www/pkg/aftersale_wasm_bg.wasm "$stage/"
for f in LICENSE*; do [ -f "$f" ] && cp "$f" "$stage/"; done
VERSION="$version" node -e '
  const fs = require("node:fs");
  const path = process.argv[1];
  const pkg = JSON.parse(fs.readFileSync("www/package.json", "utf8"));
  pkg.version = process.env.VERSION;
  fs.writeFileSync(path, JSON.stringify(pkg, null, 2) + "\n");
' "$stage/package.json"

rm -f "dist/aftersale-$version.tgz"
npm pack --silent --pack-destination dist "./$stage" >/dev/null
[ -f "dist/aftersale-$version.tgz" ] || { echo "npm pack did not write dist/aftersale-$version.tgz" >&2; exit 1; }
say "dist/aftersale-$version.tgz ($(wc -c <"dist/aftersale-$version.tgz") bytes)"
echo "dist/aftersale-$version.tgz"
