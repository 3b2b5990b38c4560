// Helpers shared by the benchmark scripts: statistics, arguments, output, and `wrangler dev` on a
// frozen copy of the built Worker (tests/support/wrangler.mjs), stopped with SIGINT.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startWrangler as start } from "../tests/support/wrangler.mjs";

export { REPO_ROOT } from "../tests/support/wrangler.mjs";

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const TICK_MS = 1000 / 100; // USER_HZ; Linux reports 100 on every supported architecture

/** utime + stime of `pids`, in ms (10 ms resolution per process); NaN if one left meanwhile. */
export function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      return NaN; // a process left mid-measure: the block is void
    }
  }
  return ticks * TICK_MS;
}

export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}

/** `--name value` and `--flag` arguments. */
export function args(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) out[a.slice(2)] = true;
    else out[a.slice(2)] = argv[++i];
  }
  return out;
}

export function writeJson(path, value) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

export const log = (tag) => (...parts) => console.error(`[${tag}]`, ...parts);

/**
 * tests/support/wrangler.mjs's startWrangler with the benchmarks' defaults: the log in
 * `logDir`/`name`.log, warnings only, and the wasm that keeps its names, so V8's profiler can say
 * which functions the time goes to (names do not change what runs). `logLevel: "log"` keeps the
 * Worker's own console lines (pagination reads its subrequest counts there). Other options pass through.
 */
/**
 * The vars and secrets of the Worker against the upstream simulator `sim` (SANDBOX=false, its
 * base URLs and credentials for Xiaoe and Lingxing), callers presenting `clientKey`; `vars` added.
 */
export function simulatorWorker(sim, { clientKey, cursorSecret, vars = {} }) {
  const c = sim.credentials;
  return {
    vars: { SANDBOX: "false", XIAOE_BASE_URL: sim.url, LINGXING_BASE_URL: sim.url, WECHAT_BASE_URL: sim.url, XIAOE_APP_ID: c.xiaoe.app_id, ...vars },
    secrets: {
      XIAOE_CLIENT_ID: c.xiaoe.client_id,
      XIAOE_SECRET_KEY: c.xiaoe.secret_key,
      LINGXING_APP_ID: c.lingxing.appId,
      LINGXING_APP_SECRET: c.lingxing.appSecret,
      CLIENT_KEYS: clientKey,
      CURSOR_SECRET: cursorSecret,
    },
  };
}

export function startWrangler({ logDir, name = "wrangler", args = [], logLevel = "warn", ...options }) {
  return start({ logFile: join(logDir, `${name}.log`), namedWasm: true, args: ["--log-level", logLevel, ...args], ...options });
}

// ---------------------------------------------------------------- V8's sampling profiler

/** A DevTools protocol session on wrangler's inspector port (the Worker's isolate). */
export async function devtools(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  let WebSocketImpl = globalThis.WebSocket;
  if (!WebSocketImpl) WebSocketImpl = (await import("ws")).default;
  const ws = new WebSocketImpl(target.webSocketDebuggerUrl);
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = (e) => fail(new Error(`inspector: ${e.message ?? "connection failed"}`));
  });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (event) => {
    const msg = JSON.parse(typeof event.data === "string" ? event.data : event.data.toString());
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  };
  const send = (method, params = {}) =>
    Promise.race([
      new Promise((ok) => {
        const i = ++id;
        pending.set(i, ok);
        ws.send(JSON.stringify({ id: i, method, params }));
      }),
      sleep(60_000).then(() => {
        throw new Error(`inspector: no answer to ${method}`);
      }),
    ]);
  return { send, close: () => ws.close() };
}

/** Frames of interest, matched on every frame of a sample's stack (inclusive time). */
export const GROUPS = {
  normalize: /^aftersale::normalize_page|^aftersale::parse_page|^aftersale_worker::routes::push_records|^serde_json::ser::to_vec/,
  sandbox_upstream: /^aftersale_sandbox::/,
  account_object: /^aftersale_worker::account_object::|UpstreamAccount/,
  config_from_env: /^aftersale_worker::config::(Config|Settings)::from_env/,
};

/** A V8 CPU profile of `n` requests: busy, idle and GC time per request, inclusive time of each of `groups` (frames matched anywhere on a sample's stack), top self time. */
export function analyse(profile, n, groups = GROUPS) {
  const byId = new Map(profile.nodes.map((nd) => [nd.id, nd]));
  const parent = new Map();
  for (const nd of profile.nodes) for (const c of nd.children ?? []) parent.set(c, nd.id);
  const inclusive = Object.fromEntries(Object.keys(groups).map((k) => [k, 0]));
  const self = new Map();
  let busy = 0;
  let idle = 0;
  let program = 0;
  let gcTime = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000; // µs → ms
    const leaf = byId.get(profile.samples[i]);
    const name = leaf.callFrame.functionName;
    if (name === "(idle)") {
      idle += dt;
      continue;
    }
    if (name === "(program)") {
      program += dt;
      continue;
    }
    if (name === "(garbage collector)") gcTime += dt;
    busy += dt;
    const label = name || `(anonymous ${leaf.callFrame.url.split("/").pop()}:${leaf.callFrame.lineNumber})`;
    self.set(label, (self.get(label) ?? 0) + dt);
    const hit = new Set();
    for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const fn = byId.get(id).callFrame.functionName;
      for (const [k, re] of Object.entries(groups)) if (!hit.has(k) && re.test(fn)) hit.add(k);
    }
    for (const k of hit) inclusive[k] += dt;
  }
  const per = (x) => x / n;
  return {
    requests: n,
    busy_ms_per_request: per(busy),
    program_ms_per_request: per(program),
    idle_ms_per_request: per(idle),
    gc_ms_per_request: per(gcTime),
    inclusive_ms_per_request: Object.fromEntries(Object.entries(inclusive).map(([k, v]) => [k, per(v)])),
    top_self: [...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([name, ms]) => ({ name: name.replace(/::h[0-9a-f]{16}/g, "").replace(/\[[0-9a-f]{16}\]/g, ""), ms_per_request: per(ms) })),
  };
}
