// End-to-end harness: the upstream simulator in-process, the Worker under `wrangler dev`, and a
// client that keeps every response it saw (so a test can check that no secret ever leaked).
//
//   const stack = await startStack({ records: 300 });
//   const res = await stack.get("/v1/aftersales?platform=xiaoe&from=2023-01-01&to=2023-02-01");
//   ...
//   await stack.stop();
//
// Nothing here imports the project's core or its wasm: expectations come from the simulator's
// ground truth (see expect.mjs).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startSimulator } from "../simulator/simulator.mjs";
import { REPO_ROOT, startWrangler as start } from "../support/wrangler.mjs";

export { REPO_ROOT };
export const OUTPUT_DIR = join(REPO_ROOT, "test-output", "e2e");

/** Distinctive values, so a leak cannot hide behind a coincidence with generated data. */
export const CREDENTIALS = Object.freeze({
  wechat: { appid: "wx_e2e_appid_7c41", secret: "wxsecret-e2e-9b3f27d1c0" },
  xiaoe: { app_id: "app_e2e_xiaoe_52a8", client_id: "xopclient-e2e-4d61ae", secret_key: "xiaoesecret-e2e-e80c5b" },
  lingxing: { appId: "ak_e2e_key_0016x", appSecret: "lxsecret-e2e-31f9a6d2" }, // appId: 16 bytes, the AES key
  wechat_channels: {
    appid: "wx_e2e_channels_3e90",
    secret: "chsecret-e2e-a41c7d",
    push_token: "chpushtoken-e2e-58b2f0",
    encoding_aes_key: "E2eChannelsAesKey0123456789abcdefghijklmnop", // 43 Base64 characters
  },
});
export const CLIENT_KEYS = Object.freeze(["e2ekey-alpha-5a7c1e93f0", "e2ekey-beta-0b8d24c6e1", "e2ekey-gamma-c93e10f7a2"]);
export const CURSOR_SECRET = "cursorsecret-e2e-6f02d9b4a1c8";
export const ALLOWED_ORIGINS = Object.freeze(["https://console.e2e.example", "http://localhost:5173"]);

/** The Worker's variables that are secrets: they reach wrangler in a 0600 env file, not in its argv. */
const SECRET_NAMES = new Set([
  "WECHAT_SECRET",
  "XIAOE_CLIENT_ID",
  "XIAOE_SECRET_KEY",
  "LINGXING_APP_ID",
  "LINGXING_APP_SECRET",
  "WECHAT_CHANNELS_SECRET",
  "WECHAT_CHANNELS_PUSH_TOKEN",
  "WECHAT_CHANNELS_AES_KEY",
  "CLIENT_KEYS",
  "CURSOR_SECRET",
  "SESSION_SECRET",
]);
const START_TIMEOUT_MS = Number(process.env.E2E_START_TIMEOUT_MS ?? 900_000); // the first build can take minutes

const stamp = () => new Date().toISOString().replace(/[:.]/g, "-");

/**
 * Starts the simulator and the Worker. Options: `records` (per platform, Xiaoe and Lingxing),
 * `wechatOrders`, `seed`, `vars` (extra/overriding Worker vars), `name` (log file prefix),
 * `simulator` (more options of `startSimulator`), `persistTo` (the Worker's local state in this
 * directory, which outlives it: needed by `restartWorker`).
 */
export async function startStack({ records = 300, wechatOrders = 30, seed = 1, vars = {}, name = "wrangler", simulator = {}, persistTo } = {}) {
  const sim = await startSimulator({ records, wechatOrders, seed, credentials: structuredClone(CREDENTIALS), ...simulator });
  const tokens = watchTokens(sim);
  let worker;
  let workerVars;
  try {
    worker = await startWorker({
      name,
      persistTo,
      vars: (workerVars = {
        WECHAT_APPID: CREDENTIALS.wechat.appid,
        WECHAT_SECRET: CREDENTIALS.wechat.secret,
        XIAOE_APP_ID: CREDENTIALS.xiaoe.app_id,
        XIAOE_CLIENT_ID: CREDENTIALS.xiaoe.client_id,
        XIAOE_SECRET_KEY: CREDENTIALS.xiaoe.secret_key,
        LINGXING_APP_ID: CREDENTIALS.lingxing.appId,
        LINGXING_APP_SECRET: CREDENTIALS.lingxing.appSecret,
        WECHAT_CHANNELS_APPID: CREDENTIALS.wechat_channels.appid,
        WECHAT_CHANNELS_SECRET: CREDENTIALS.wechat_channels.secret,
        WECHAT_CHANNELS_PUSH_TOKEN: CREDENTIALS.wechat_channels.push_token,
        WECHAT_CHANNELS_AES_KEY: CREDENTIALS.wechat_channels.encoding_aes_key,
        CLIENT_KEYS: CLIENT_KEYS.join(","),
        CURSOR_SECRET,
        ALLOWED_ORIGINS: ALLOWED_ORIGINS.join(","),
        WECHAT_BASE_URL: sim.url,
        XIAOE_BASE_URL: sim.url,
        LINGXING_BASE_URL: sim.url,
        WECHAT_CHANNELS_BASE_URL: sim.url,
        SANDBOX: "false",
        ...vars,
      }),
    }); // a var given as undefined is left out
  } catch (error) {
    await sim.close();
    throw error;
  }
  const captured = [];
  const stack = {
    sim,
    get baseUrl() {
      return worker.baseUrl;
    },
    get logFile() {
      return worker.logFile;
    },
    /** The running wrangler (changes with restartWorker). */
    get worker() {
      return worker;
    },
    captured,
    /** Every upstream data call of the run, `{endpoint, at}`, across simulator resets. */
    upstreamCalls: tokens.calls,
    /** Every upstream token the simulator issued so far (access and refresh). */
    issuedTokens: () => (tokens.snapshot(), [...tokens.seen]),
    /** Every string that must never reach a caller or a log. */
    secrets() {
      return [
        CREDENTIALS.wechat.secret,
        CREDENTIALS.xiaoe.client_id,
        CREDENTIALS.xiaoe.secret_key,
        CREDENTIALS.lingxing.appId,
        CREDENTIALS.lingxing.appSecret,
        CREDENTIALS.wechat_channels.secret,
        CREDENTIALS.wechat_channels.push_token,
        CREDENTIALS.wechat_channels.encoding_aes_key,
        CURSOR_SECRET,
        ...stack.issuedTokens(),
      ];
    },
    /** GET (or `method`) a path of the Worker with the first client key unless `key` says otherwise (null: none); `signal` aborts it. */
    async request(path, { key = CLIENT_KEYS[0], method = "GET", headers = {}, body, signal } = {}) {
      const h = { ...headers };
      if (key !== null) h.authorization = `Bearer ${key}`;
      const res = await fetch(`${worker.baseUrl}${path}`, { method, headers: h, body, signal });
      const text = await res.text();
      tokens.snapshot();
      const record = { path, method, status: res.status, headers: Object.fromEntries(res.headers), text };
      captured.push(record);
      let json = null;
      try {
        json = text === "" ? null : JSON.parse(text);
      } catch {
        // not JSON (the export stream, or a bug the caller will report)
      }
      return { ...record, json, res };
    },
    get(path, options) {
      return stack.request(path, options);
    },
    /**
     * A streamed GET: resolves once the body has ended, with each chunk's arrival time, so a test
     * can tell a stream from a buffered answer.
     */
    async stream(path, { key = CLIENT_KEYS[0], headers = {} } = {}) {
      const started = Date.now();
      const res = await fetch(`${worker.baseUrl}${path}`, { headers: { ...headers, authorization: `Bearer ${key}` } });
      const decoder = new TextDecoder();
      const chunks = [];
      let text = "";
      let firstLineAt = null;
      if (res.body) {
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          const piece = decoder.decode(value, { stream: true });
          text += piece;
          chunks.push({ at: Date.now(), bytes: value.byteLength });
          if (firstLineAt === null && text.includes("\n")) firstLineAt = Date.now();
        }
        text += decoder.decode();
      }
      const endedAt = Date.now();
      tokens.snapshot();
      const record = { path, method: "GET", status: res.status, headers: Object.fromEntries(res.headers), text };
      captured.push(record);
      return { ...record, res, started, firstLineAt, endedAt, chunks };
    },
    /** What wrangler printed so far: its stdout and stderr, the Worker's console included. */
    logText: () => worker.logText(),
    /**
     * Ends the Worker — `kill: true` as a crash would (SIGKILL to wrangler's whole group), else
     * with a clean stop — and starts it again with the same vars on the same `persistTo` state.
     * The simulator keeps running. Resolves with how the old one ended.
     */
    async restartWorker({ kill = false } = {}) {
      if (!persistTo) throw new Error("restartWorker needs startStack({persistTo}): the restarted Worker must find the old one's state");
      const ended = kill ? await worker.kill() : await worker.stop();
      worker = await startWorker({ name: `${name}-restarted`, vars: workerVars, persistTo });
      return ended;
    },
    async stop() {
      await worker.stop();
      await sim.close();
    },
  };
  return stack;
}

/**
 * Remembers every token the simulator issues, and when each data call arrived. Tokens are issued right before (WeChat, Xiaoe) or
 * right after (Lingxing) the simulator counts a token fetch or refresh, and the simulator may
 * forget replaced ones later, so the maps are read at each count and once more after it.
 */
function watchTokens(sim) {
  const seen = new Set();
  const calls = [];
  const snapshot = () => {
    const t = sim.simulator.state.tokens;
    for (const v of t.wechat.byToken.keys()) seen.add(v);
    for (const v of Object.values(t.wechat.latest)) if (v) seen.add(v);
    for (const v of t.xiaoe.keys()) seen.add(v);
    for (const v of t.lingxing.access.keys()) seen.add(v);
    for (const v of t.lingxing.refresh.keys()) seen.add(v);
    for (const v of t.wechat_channels.byToken.keys()) seen.add(v);
    for (const v of Object.values(t.wechat_channels.latest)) if (v) seen.add(v);
  };
  const count = sim.simulator.count.bind(sim.simulator);
  sim.simulator.count = (counter, key) => {
    count(counter, key);
    if (counter === "dataCalls") calls.push({ endpoint: key, at: Date.now() });
    if (counter === "tokenFetches" || counter === "refreshes") {
      snapshot();
      queueMicrotask(snapshot);
      setImmediate(snapshot);
    }
  };
  return { seen, snapshot, calls };
}

/**
 * Delays every call to one simulator route (test-side only: wraps the route's handler), and
 * records when each call arrived. Returns { calls, restore() }.
 */
export function delayRoute(sim, path, ms) {
  const route = sim.simulator.routes.get(path);
  if (!route) throw new Error(`no simulator route ${path}`);
  const original = route.handler;
  const calls = [];
  route.handler = async (ctx) => {
    calls.push(Date.now());
    await sleep(ms);
    return original(ctx);
  };
  return {
    calls,
    restore() {
      route.handler = original;
    },
  };
}

/**
 * Starts `wrangler dev` on the Worker as built now, frozen for this run (so concurrent edits
 * elsewhere in the tree cannot swap the Worker under test mid-run), or on E2E_WRANGLER_CONFIG,
 * or with E2E_WRANGLER_BUILD=1 (or no build yet) on wrangler.toml as it is, which builds and
 * watches as `make dev` does. `vars` named in SECRET_NAMES go in as secrets; an undefined one is
 * left out. Resolves once /healthz answers 200.
 */
function startWorker({ vars, name, persistTo }) {
  const built = existsSync(join(REPO_ROOT, "worker", "build", "index.js"));
  const config = process.env.E2E_WRANGLER_CONFIG ?? (process.env.E2E_WRANGLER_BUILD === "1" || !built ? join(REPO_ROOT, "wrangler.toml") : undefined);
  const plain = {};
  const secrets = {};
  for (const [k, v] of Object.entries(vars)) (SECRET_NAMES.has(k) ? secrets : plain)[k] = v;
  return start({ config, vars: plain, secrets, persistTo, logFile: join(OUTPUT_DIR, `${name}-${stamp()}.log`), startTimeoutMs: START_TIMEOUT_MS });
}

/** The most of `times` (ms, any order) that fall within any `windowMs`: a rate limit's check. */
export function mostInWindow(times, windowMs) {
  const at = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i] - at[j] >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}
