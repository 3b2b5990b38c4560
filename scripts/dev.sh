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
  LINGXING_APP_SECRET CLIENT_KEYS CURSOR_SECRET SESSION_SECRET ALLOWED_ORIGINS
  ALLOW_SECRET_KEYS_FROM_BROWSERS CALLER_QUOTA_PER_MIN STOREFRONT_SHARE WECHAT_BASE_URL
  XIAOE_BASE_URL LINGXING_BASE_URL WECHAT_CHANNELS_APPID WECHAT_CHANNELS_SECRET
  WECHAT_CHANNELS_PUSH_TOKEN WECHAT_CHANNELS_AES_KEY WECHAT_CHANNELS_BASE_URL SANDBOX SYNC_FROM
  SYNC_OVERLAP_S SYNC_LAG_S SYNC_MAX_CALLS SYNC_LEASE_S SUBREQUEST_BUDGET)
# Every variable goes to wrangler in an env file only this user can read, removed on exit, never
# on the command line (where `ps` shows it to every user of the machine).
private="$(mktemp -d "${TMPDIR:-/tmp}/aftersale-dev.XXXXXX")"
chmod 700 "$private"
sync_pid=""
# The mirror's sync loop (below, its own process group) ends with the script, however it ends.
trap '[ -z "$sync_pid" ] || kill -- "-$sync_pid" 2>/dev/null; rm -rf "$private"' EXIT
env_file="$private/vars.env"
(umask 077 && : >"$env_file")
for name in "${names[@]}"; do
  value="${!name:-}"
  if [ -n "$value" ]; then
    case "$value" in
      *$'\n'*) echo "aftersale: $name holds a line break; env files cannot carry it" >&2; exit 1 ;;
    esac
    # Single-quoted, which dotenv reads literally; a value holding a single quote is refused
    # rather than mangled.
    case "$value" in
      *"'"*) echo "aftersale: $name holds a single quote; set it in .dev.vars instead" >&2; exit 1 ;;
    esac
    printf "%s='%s'\n" "$name" "$value" >>"$env_file"
  fi
done
# wrangler copies every message it prints or logs at debug level into a log file
# (~/.config/.wrangler/logs by default), outbound request URLs included, and Xiaoe's token
# endpoint takes its credentials in the query string. Its log goes to a file that is /dev/null.
mkdir -p "$private/logs"
ln -s /dev/null "$private/logs/wrangler.log"
export WRANGLER_LOG_PATH="$private/logs/wrangler.log"

echo "aftersale: building the Worker and the console (first build takes a few minutes)..."
scripts/build-worker.sh

# Where the local D1 and Durable Objects live: wrangler's .wrangler/state unless
# AFTERSALE_DEV_STATE names another directory (the tests use a fresh one).
persist=()
if [ -n "${AFTERSALE_DEV_STATE:-}" ]; then persist=(--persist-to "$AFTERSALE_DEV_STATE"); fi

# The mirror's schema, into the local D1 that `wrangler dev` then serves (idempotent: applied
# migrations are skipped).
echo "aftersale: applying migrations/ to the local D1 database"
node_modules/.bin/wrangler d1 migrations apply aftersale --local "${persist[@]}" >&2

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

base="http://127.0.0.1:${port}"
# curl's headers from a 0600 file, so a key never shows in `ps`.
headers="$private/curl-headers"
(umask 077 && : >"$headers")
if [ -n "${CLIENT_KEYS:-}" ]; then
  printf 'Authorization: Bearer %s\n' "${CLIENT_KEYS%%,*}" >"$headers"
fi

# The mirror in sandbox mode: synced as soon as the Worker answers (POST /v1/sync until it says
# done), then on the cron of wrangler.toml (every 5 minutes), which `wrangler dev` does not fire
# by itself: GET /__scheduled (--test-scheduled) runs the Worker's scheduled handler. Quiet
# unless something fails.
mirror_sync() {
  local waited=0
  until curl -fsS -o /dev/null "$base/healthz" 2>/dev/null; do
    sleep 2
    waited=$((waited + 2))
    if [ "$waited" -ge 900 ]; then
      echo "aftersale: the Worker did not answer /healthz in 15 minutes; the mirror is not synced" >&2
      return
    fi
  done
  local answer="" n=0
  while [ "$n" -lt 200 ]; do
    n=$((n + 1))
    if ! answer="$(curl -sS -H @"$headers" -X POST "$base/v1/sync" 2>&1)"; then
      echo "aftersale: POST /v1/sync failed: $answer" >&2
      break
    fi
    case "$answer" in
      *'"done":true'*) echo "aftersale: the mirror is synced ($n sync invocations): GET /v1/sync/status"; break ;;
      *'"error":"'*) echo "aftersale: the mirror's sync reports an error: $answer" >&2; break ;;
      *'"done":false'*) ;;
      *) echo "aftersale: POST /v1/sync answered: $answer" >&2; break ;;
    esac
  done
  while :; do
    # To the next multiple of five minutes, as "*/5 * * * *" fires.
    sleep $((300 - $(date +%s) % 300))
    if ! answer="$(curl -fsS "$base/__scheduled?cron=*/5+*+*+*+*" 2>&1)"; then
      echo "aftersale: the scheduled sync (GET /__scheduled) failed: $answer" >&2
    fi
  done
}
if [ "$SANDBOX" = "true" ]; then
  # In a process group of its own, which the EXIT trap ends whole (its sleep and curl too).
  export -f mirror_sync
  base="$base" headers="$headers" setsid bash -c 'set -u; mirror_sync' &
  sync_pid=$!
fi

# Not exec: the trap removes the env file once wrangler exits (Ctrl-C reaches wrangler too, as
# part of the foreground process group, and it shuts workerd down cleanly).
# The build already ran; wrangler's [build] step re-runs it incrementally (seconds).
# With --env-file wrangler reads no .dev.vars of its own: pass it first, so the environment's
# values (the last file) win over it.
files=()
if [ -f .dev.vars ]; then files+=(--env-file .dev.vars); fi
# --test-scheduled: GET /__scheduled runs the sync's Cron Trigger at once.
node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --test-scheduled "${persist[@]}" "${files[@]}" --env-file "$env_file"
