#!/usr/bin/env bash
# `make bench` (issue 7): builds what is measured, runs every benchmark, prints one table and
# writes it with its method notes and appendix to BENCHMARKS.md. Intermediate results and logs go
# to target/bench/. Each step is bounded in time; a failing step leaves its figure "not measured"
# and the others still run. Every process started here is stopped on exit (SIGINT to wrangler).
#   BENCH_QUICK=1   shorter runs (for trying the script, not for figures)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$root/node_modules/.bin:$PATH"
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

say() { printf '[bench] %s\n' "$*" >&2; }

target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))') || target_dir=$root/target
[ -n "$target_dir" ] || target_dir=$root/target
out=$target_dir/bench
logs=$out/logs
rm -rf "$out/criterion" "$out"/*.json "$logs"
mkdir -p "$logs"
quick=()
[ -n "${BENCH_QUICK:-}" ] && quick=(--quick)

# ------------------------------------------------------------------ running steps, bounded
step_pid=""
steps_json=$out/steps.json
echo '{}' >"$steps_json"
record_step() { # name status seconds
  node -e 'const fs=require("fs");const [f,n,s,t]=process.argv.slice(1);const j=JSON.parse(fs.readFileSync(f,"utf8"));j[n]={status:+s,seconds:+t};fs.writeFileSync(f,JSON.stringify(j,null,2))' \
    "$steps_json" "$1" "$2" "$3"
}
stop_step() {
  if [ -n "$step_pid" ] && kill -0 "$step_pid" 2>/dev/null; then
    # timeout(1) relays SIGINT to the step, whose own handlers stop wrangler with SIGINT.
    kill -INT "$step_pid" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$step_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$step_pid" 2>/dev/null
  fi
  step_pid=""
  if [ -n "${twiggy_pid:-}" ] && kill -0 "$twiggy_pid" 2>/dev/null; then
    kill -INT "$twiggy_pid" 2>/dev/null
    wait "$twiggy_pid" 2>/dev/null
  fi
}
trap 'stop_step' EXIT
trap 'say "interrupted"; stop_step; exit 130' INT TERM

# run NAME SECONDS CMD...: output to $logs/NAME.log (stderr also to the terminal), killed after SECONDS.
run() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS status
  say "$name (at most ${limit}s)"
  timeout -k 30 -s INT "$limit" "$@" > >(tee "$logs/$name.log" >&2) 2>&1 &
  step_pid=$!
  wait "$step_pid"
  status=$?
  step_pid=""
  record_step "$name" "$status" "$((SECONDS - t0))"
  [ "$status" = 0 ] || say "$name: exit $status (see $logs/$name.log)"
  return "$status"
}

# ------------------------------------------------------------------ builds
# twiggy (size attribution) installs alongside the builds, whose LTO steps leave a core idle;
# it must be done before anything is timed.
twiggy_bin=$(command -v twiggy || true)
twiggy_pid=""
if [ -z "$twiggy_bin" ]; then
  say "cargo install twiggy --locked (in the background, during the builds)"
  timeout -k 10 -s INT 480 cargo install twiggy --locked >"$logs/twiggy-install.log" 2>&1 &
  twiggy_pid=$!
fi
built_www=0
built_worker=0
run build-www 600 scripts/build-www.sh && built_www=1
# The Worker CPU benchmark serves the sandbox.
run build-worker 600 env WORKER_FEATURES=sandbox scripts/build-worker.sh && built_worker=1

module=$out/module
rm -rf "$module"
if [ "$built_www" = 1 ]; then
  mkdir -p "$module"
  cp www/js/api.js www/js/node.js www/js/client.js www/pkg/aftersale_wasm.js www/pkg/aftersale_wasm_bg.wasm "$module/"
  echo '{"type":"module"}' >"$module/package.json"
fi

if [ -n "$twiggy_pid" ]; then
  say "waiting for the twiggy install"
  step_pid=$twiggy_pid
  wait "$twiggy_pid"
  tw_status=$?
  step_pid=""
  twiggy_pid=""
  record_step twiggy-install "$tw_status" 0
  [ "$tw_status" = 0 ] || say "twiggy install failed (exit $tw_status, see $logs/twiggy-install.log): sizes without attribution"
  twiggy_bin=$(command -v twiggy || true)
fi

run inputs 120 node bench/inputs.mjs "$out/inputs"

# ------------------------------------------------------------------ 1. Node normalization
if [ "$built_www" = 1 ]; then
  run node 300 node --expose-gc bench/node-normalize.mjs --module "$module" --out "$out/node.json" "${quick[@]}"
fi

# ------------------------------------------------------------------ 2. native throughput
bench_env=(CRITERION_HOME="$out/criterion" AFTERSALE_BENCH_INPUTS="$out/inputs")
[ -n "${BENCH_QUICK:-}" ] && bench_env+=(AFTERSALE_BENCH_QUICK=1)
run criterion 600 env "${bench_env[@]}" cargo bench -p aftersale --bench normalize

# ------------------------------------------------------------------ 3. size
named=$out/named
rm -rf "$named"
mkdir -p "$named"
. scripts/wasm-opt-flags.sh
size_args=(--out "$out/size.json")
[ -n "$twiggy_bin" ] && size_args+=(--twiggy "$twiggy_bin")
if [ "$built_www" = 1 ] && [ -n "$twiggy_bin" ]; then
  # The module's cargo output as shipped (wasm-bindgen, wasm-opt -Oz) but keeping its names.
  run named-module 300 bash -c "wasm-bindgen --target web --no-typescript --keep-debug --out-dir '$named/module' \
      --out-name aftersale_wasm '$target_dir/wasm32-unknown-unknown/release/aftersale_wasm.wasm' &&
    node_modules/.bin/wasm-opt -Oz -g ${WASM_FEATURES[*]} '$named/module/aftersale_wasm_bg.wasm' -o '$named/module.wasm'" &&
    size_args+=(--named-module "$named/module.wasm")
fi
[ -f worker/build/index_bg.named.wasm ] && size_args+=(--named-worker "$PWD/worker/build/index_bg.named.wasm")
[ "$built_www" = 1 ] || size_args+=(--skip-module)
[ "$built_worker" = 1 ] || size_args+=(--skip-worker)
run size 180 node bench/size.mjs "${size_args[@]}"

# ------------------------------------------------------------------ 4. Worker CPU, 5. pagination
if [ "$built_worker" = 1 ] && [ "$built_www" = 1 ]; then
  run worker-cpu 420 node bench/worker-cpu.mjs --out "$out/worker-cpu.json" --logs "$logs" --module "$module" "${quick[@]}"
fi
if [ "$built_worker" = 1 ]; then
  records=20000
  [ -n "${BENCH_QUICK:-}" ] && records=4000
  run pagination 480 node bench/pagination.mjs --out "$out/pagination.json" --logs "$logs" --records "$records"
fi

# ------------------------------------------------------------------ 6. the mirror
if [ "$built_worker" = 1 ]; then
  records=20000
  [ -n "${BENCH_QUICK:-}" ] && records=4000
  run mirror 600 node bench/mirror.mjs --out "$out/mirror.json" --logs "$logs" --records "$records" "${quick[@]}"
fi

# ------------------------------------------------------------------ environment and report
version() { "$@" 2>/dev/null | head -1 | sed 's/"/\\"/g'; }
elapsed=$(($(date +%s) - started))
cat >"$out/env.json" <<EOF
{
  "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
  "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')",
  "cores": $(nproc),
  "load_start": "$load_start",
  "load_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "rustc": "$(version rustc -V)",
  "node": "$(version node -v)",
  "wasm_bindgen": "$(version wasm-bindgen --version | awk '{print $2}')",
  "wasm_opt": "$(version node_modules/.bin/wasm-opt --version | awk '{print $3}')",
  "wrangler": "$(version node -p 'require("./node_modules/wrangler/package.json").version')",
  "workerd": "$(version node_modules/.bin/workerd --version | sed "s/^workerd //")",
  "twiggy": "$(if [ -n "$twiggy_bin" ]; then version "$twiggy_bin" --version | awk '{print $2}'; fi)",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null)",
  "dirty": $(if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^??' | head -1)" ]; then echo true; else echo false; fi),
  "elapsed_s": $elapsed
}
EOF
echo
node bench/report.mjs --dir "$out" --out BENCHMARKS.md
say "written BENCHMARKS.md ($elapsed s; details and logs in $out)"
