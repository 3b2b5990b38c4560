#!/usr/bin/env bash
# Installs what the build and tests need, skipping whatever is already there.
# Everything comes from crates.io, npm or Debian (see ../shared/TOOLCHAIN.md for why each pin).
# Usage: scripts/install-tools.sh [rust|wasm|browser|node|all]...
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
WASM_PACK_VERSION=0.15.1
WORKER_BUILD_VERSION=0.8.7
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

say() { printf '[install] %s\n' "$*" >&2; }

have_version() { # command, expected substring of `command --version`
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q -- "$2"
}

install_rust() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

install_wasm() {
  install_rust
  # Not --locked: the locked set wants a webpki-roots release the registry mirror lacks.
  have_version wasm-bindgen "$WASM_BINDGEN_VERSION" || {
    say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  }
  have_version wasm-pack "$WASM_PACK_VERSION" || {
    say "cargo install wasm-pack $WASM_PACK_VERSION"
    cargo install --locked wasm-pack --version "$WASM_PACK_VERSION" --force
  }
  have_version worker-build "$WORKER_BUILD_VERSION" || {
    say "cargo install worker-build $WORKER_BUILD_VERSION"
    cargo install --locked worker-build --version "$WORKER_BUILD_VERSION" --force
  }
}

install_browser() {
  # A CJK font too, so the console's screenshots show the Chinese product names.
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then
    say "apt-get install chromium chromium-driver fonts-wqy-microhei"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null
  fi
}

install_node() {
  # wrangler, binaryen (wasm-opt), esbuild, playwright-core, typescript: pinned in package.json.
  if [ -f package.json ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
      say "npm install"
      if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
    fi
  fi
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    rust) install_rust ;;
    wasm) install_wasm ;;
    browser) install_browser ;;
    node) install_node ;;
    all) install_rust; install_node; install_browser; install_wasm ;;
    *) echo "unknown install target: $t" >&2; exit 2 ;;
  esac
done
