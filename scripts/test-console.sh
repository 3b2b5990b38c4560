#!/usr/bin/env bash
# Browser test of the merchant console: builds the Worker and the console (scripts/build-worker.sh,
# which runs scripts/build-console.sh), then runs tests/console/ (node:test), which serves them with
# `wrangler dev` in sandbox mode and drives Debian's Chromium through playwright-core.
# Screenshots and wrangler's log: test-output/console/. Installs nothing (see `make install`);
# exits non-zero on any failure.
#   CONSOLE_TEST_TIMEOUT_MS   per-test timeout (default 120000)
#   CONSOLE_START_TIMEOUT_MS  how long to wait for wrangler's first /healthz (default 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

missing=0
for f in node_modules/.bin/wrangler node_modules/playwright-core/package.json /usr/bin/chromium wrangler.toml; do
  if [ ! -e "$f" ]; then
    echo "test-console: $f is missing: run \`make install\` (scripts/install-tools.sh all) first" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 1

start=$(date +%s)
echo "test-console: building the Worker with its sandbox and the console (scripts/build-worker.sh)"
export WORKER_FEATURES=sandbox
bash scripts/build-worker.sh
for f in worker/build/index.js www/console-dist/index.html www/console-dist/aftersale/client.js; do
  [ -f "$f" ] || { echo "test-console: $f is missing after the build" >&2; exit 1; }
done

mkdir -p test-output/console
status=0
node --test --test-concurrency=1 --test-timeout="${CONSOLE_TEST_TIMEOUT_MS:-120000}" tests/console/ || status=$?
echo "test-console: $(( $(date +%s) - start )) s; screenshots and wrangler's log in test-output/console/"
exit "$status"
