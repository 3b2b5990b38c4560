#!/usr/bin/env bash
# `make dev`: the proxy on 127.0.0.1:${PORT:-8787}, in sandbox mode unless SANDBOX=false, with the
# console page at /. Every SPEC.md §4 variable set in the environment is handed to the Worker.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
port="${PORT:-8787}"
export SANDBOX="${SANDBOX:-true}"
# A dev build always carries the sandbox; exported, so wrangler's rebuilds keep it.
export WORKER_FEATURES="${WORKER_FEATURES:-sandbox}"

names=(WECHAT_APPID WECHAT_SECRET XIAOE_APP_ID XIAOE_CLIENT_ID XIAOE_SECRET_KEY LINGXING_APP_ID
  LINGXING_APP_SECRET CLIENT_KEYS CURSOR_SECRET ALLOWED_ORIGINS WECHAT_BASE_URL XIAOE_BASE_URL
  LINGXING_BASE_URL SANDBOX)
vars=()
for name in "${names[@]}"; do
  if [ -n "${!name:-}" ]; then
    vars+=(--var "$name:${!name}")
  fi
done

echo "aftersale: building the Worker and the console (first build takes a few minutes)..."
scripts/build-worker.sh

# The mirror's schema, into the local D1 that `wrangler dev` then serves (idempotent: applied
# migrations are skipped).
echo "aftersale: applying migrations/ to the local D1 database"
node_modules/.bin/wrangler d1 migrations apply aftersale --local >&2

echo
echo "aftersale: console and API at http://127.0.0.1:${port}/"
if [ "$SANDBOX" = "true" ]; then
  echo "aftersale: SANDBOX=true — every platform is served by the built-in deterministic simulator; no credentials, no network."
  if [ -z "${CLIENT_KEYS:-}" ]; then
    echo "aftersale: no CLIENT_KEYS set — the local proxy accepts callers WITHOUT a key."
  fi
fi
echo "aftersale: stop with Ctrl-C."
echo
# exec: wrangler itself receives Ctrl-C's SIGINT and shuts workerd down cleanly.
# The build already ran; wrangler's [build] step re-runs it incrementally (seconds).
# --test-scheduled: GET /__scheduled runs the sync's Cron Trigger at once.
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --test-scheduled "${vars[@]}"
