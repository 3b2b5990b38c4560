#!/usr/bin/env bash
# End-to-end tests of the Worker proxy: builds the Worker, then runs tests/e2e/ (node:test), which
# starts the upstream simulator in-process and the Worker under `wrangler dev` against it.
# Logs: test-output/e2e/ (wrangler's output of each run). Installs nothing (see `make install`).
# The tests serve a frozen copy of the build made here (tests/support/wrangler.mjs), so edits made
# to the tree while they run do not swap the Worker under test.
#   E2E_TEST_TIMEOUT_MS   per-test timeout (default 600000)
#   E2E_START_TIMEOUT_MS  how long to wait for wrangler's first /healthz (default 900000)
#   E2E_WRANGLER_BUILD=1  serve wrangler.toml as it is instead (wrangler builds and watches)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

if [ ! -x node_modules/.bin/wrangler ]; then
  echo "test-e2e: node_modules/.bin/wrangler is missing: run \`make install\` (or npm ci) first" >&2
  exit 1
fi
if [ ! -f wrangler.toml ]; then
  echo "test-e2e: no wrangler.toml at the repository root: nothing to serve" >&2
  exit 1
fi

# Build first: the tests serve this build, with the sandbox (one test serves SANDBOX=true).
# Exported, so that with E2E_WRANGLER_BUILD=1 wrangler's own build keeps it.
export WORKER_FEATURES=sandbox
if [ -f scripts/build-worker.sh ]; then
  echo "test-e2e: building the Worker (scripts/build-worker.sh)"
  bash scripts/build-worker.sh
fi
if [ ! -f worker/build/index.js ]; then
  echo "test-e2e: worker/build/index.js is missing after the build" >&2
  exit 1
fi

rm -rf test-output/e2e # this run's logs only
mkdir -p test-output/e2e
start=$(date +%s)
status=0
node --test --test-concurrency=1 --test-timeout="${E2E_TEST_TIMEOUT_MS:-600000}" tests/e2e/ || status=$?
echo "test-e2e: $(( $(date +%s) - start )) s; wrangler logs in test-output/e2e/"
exit "$status"
