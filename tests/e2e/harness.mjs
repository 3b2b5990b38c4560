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
import { spawn } from "node:child_process";
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { startSimulator } from "../simulator/simulator.mjs";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const OUTPUT_DIR = join(REPO_ROOT, "test-output", "e2e");

/** Distinctive values, so a leak cannot hide behind a coincidence with generated data. */
export const CREDENTIALS = Object.freeze({
  wechat: { appid: "wx_e2e_appid_7c41", secret: "wxsecret-e2e-9b3f27d1c0" },
  xiaoe: { app_id: "app_e2e_xiaoe_52a8", client_id: "xopclient-e2e-4d61ae", secret_key: "xiaoesecret-e2e-e80c5b" },
  lingxing: { appId: "ak_e2e_key_0016x", appSecret: "lxsecret-e2e-31f9a6d2" }, // appId: 16 bytes, the AES key
});
export const CLIENT_KEYS = Object.freeze(["e2ekey-alpha-5a7c1e93f0", "e2ekey-beta-0b8d24c6e1", "e2ekey-gamma-c93e10f7a2"]);
export const CURSOR_SECRET = "cursorsecret-e2e-6f02d9b4a1c8";
export const ALLOWED_ORIGINS = Object.freeze(["https://console.e2e.example", "http://localhost:5173"]);

const START_TIMEOUT_MS = Number(process.env.E2E_START_TIMEOUT_MS ?? 900_000); // the first build can take minutes
const STOP_GRACE_MS = 15_000;

/** A free TCP port on 127.0.0.1 (free when asked: good enough for a local test run). */
export async function freePort() {
  const server = createServer();
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, "-");

/**
 * Starts the simulator and the Worker. Options: `records` (per platform, Xiaoe and Lingxing),
 * `wechatOrders`, `seed`, `vars` (extra/overriding Worker vars), `name` (log file prefix).
 */
export async function startStack({ records = 300, wechatOrders = 30, seed = 1, vars = {}, name = "wrangler" } = {}) {
  const sim = await startSimulator({ records, wechatOrders, seed, credentials: structuredClone(CREDENTIALS) });
  const tokens = watchTokens(sim);
  let worker;
  try {
    worker = await startWrangler({
      name,
      vars: {
        WECHAT_APPID: CREDENTIALS.wechat.appid,
        WECHAT_SECRET: CREDENTIALS.wechat.secret,
        XIAOE_APP_ID: CREDENTIALS.xiaoe.app_id,
        XIAOE_CLIENT_ID: CREDENTIALS.xiaoe.client_id,
        XIAOE_SECRET_KEY: CREDENTIALS.xiaoe.secret_key,
        LINGXING_APP_ID: CREDENTIALS.lingxing.appId,
        LINGXING_APP_SECRET: CREDENTIALS.lingxing.appSecret,
        CLIENT_KEYS: CLIENT_KEYS.join(","),
        CURSOR_SECRET,
        ALLOWED_ORIGINS: ALLOWED_ORIGINS.join(","),
        WECHAT_BASE_URL: sim.url,
        XIAOE_BASE_URL: sim.url,
        LINGXING_BASE_URL: sim.url,
        SANDBOX: "false",
        ...vars,
      },
    }); // a var given as undefined is left out
  } catch (error) {
    await sim.close();
    throw error;
  }
  const captured = [];
  const stack = {
    sim,
    baseUrl: worker.baseUrl,
    logFile: worker.logFile,
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
        CURSOR_SECRET,
        ...stack.issuedTokens(),
      ];
    },
    /** GET (or `method`) a path of the Worker with the first client key unless `key` says otherwise (null: none). */
    async request(path, { key = CLIENT_KEYS[0], method = "GET", headers = {}, body } = {}) {
      const h = { ...headers };
      if (key !== null) h.authorization = `Bearer ${key}`;
      const res = await fetch(`${worker.baseUrl}${path}`, { method, headers: h, body });
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
    logText() {
      try {
        return readFileSync(worker.logFile, "utf8");
      } catch {
        return "";
      }
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
 * The Worker as built now, frozen for this run: a copy of worker/build (and the console's static
 * files) with a copy of wrangler.toml that points at it and has no [build] table. `wrangler dev`
 * otherwise re-runs the build and reloads the Worker whenever a file under src/ changes, so
 * concurrent edits elsewhere in the tree would swap the Worker under test mid-run.
 * Returns the config's path, or null to use wrangler.toml as it is (no build yet, or
 * E2E_WRANGLER_BUILD=1: let wrangler build, and watch, as `make dev` does).
 */
function frozenConfig(work) {
  const build = join(REPO_ROOT, "worker", "build");
  if (process.env.E2E_WRANGLER_BUILD === "1" || !existsSync(join(build, "index.js"))) return null;
  const snapshot = join(work, "worker-build");
  cpSync(build, snapshot, { recursive: true, filter: (src) => !src.includes(`${join(build, ".tmp")}`) });
  const lines = readFileSync(join(REPO_ROOT, "wrangler.toml"), "utf8").split("\n");
  const out = [];
  let table = null;
  let sawMain = false;
  for (const line of lines) {
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) table = header[1];
    if (table === "build") continue;
    if (table === null && /^\s*main\s*=/.test(line)) {
      const main = /=\s*"([^"]+)"/.exec(line)?.[1] ?? "worker/build/index.js";
      const inBuild = relative(build, join(REPO_ROOT, main));
      out.push(`main = ${JSON.stringify(inBuild.startsWith("..") ? join(REPO_ROOT, main) : join(snapshot, inBuild))}`);
      sawMain = true;
      continue;
    }
    if (table === "assets" && /^\s*directory\s*=/.test(line)) {
      const dir = /=\s*"([^"]+)"/.exec(line)?.[1];
      const copy = join(work, "assets");
      if (dir && existsSync(join(REPO_ROOT, dir))) cpSync(join(REPO_ROOT, dir), copy, { recursive: true });
      else mkdirSync(copy, { recursive: true });
      out.push(`directory = ${JSON.stringify(copy)}`);
      continue;
    }
    out.push(line);
  }
  if (!sawMain) return null;
  const path = join(work, "wrangler.toml");
  writeFileSync(path, out.join("\n"));
  return path;
}

/** Starts `wrangler dev` from the repository root; resolves once /healthz answers 200. */
export async function startWrangler({ vars, name = "wrangler" }) {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const port = await freePort();
  const inspectorPort = await freePort();
  const work = mkdtempSync(join(tmpdir(), "aftersale-e2e-"));
  const persist = join(work, "state");
  const at = stamp();
  const logFile = join(OUTPUT_DIR, `${name}-${at}.log`);
  // wrangler's own debug log records every outbound request of the Worker (Xiaoe's token URL
  // carries its secret_key by design), so it stays out of test-output and is deleted at the end.
  const wranglerLogDir = join(work, "wrangler-debug-logs");
  const log = createWriteStream(logFile);
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", persist, "--show-interactive-dev-session=false"];
  const config = process.env.E2E_WRANGLER_CONFIG ?? frozenConfig(work);
  if (config) args.push("--config", config);
  vars = Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== undefined));
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const bin = join(REPO_ROOT, "node_modules", ".bin", "wrangler");
  // Only the variable names go to the log: the values are what must never appear in it.
  log.write(`# ${bin} dev on 127.0.0.1:${port}, config ${config ?? "wrangler.toml (with its build)"}, vars ${Object.keys(vars).join(",")}\n`);
  const child = spawn(bin, args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_LOG_PATH: wranglerLogDir,
      NO_COLOR: "1",
      FORCE_COLOR: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: a last-resort SIGKILL reaches workerd too
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  let exited = null;
  const exit = new Promise((ok) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      ok(exited);
    }),
  );
  const killGroup = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", () => {
    if (exited === null) killGroup();
  });

  const stop = async () => {
    if (exited === null) {
      child.kill("SIGINT");
      const timer = sleep(STOP_GRACE_MS).then(() => "timeout");
      if ((await Promise.race([exit, timer])) === "timeout") {
        log.write(`# wrangler did not stop within ${STOP_GRACE_MS} ms of SIGINT: SIGKILL to its group\n`);
        killGroup();
        await Promise.race([exit, sleep(5_000)]);
      }
    }
    // workerd children left behind by a wrangler that exited (they share its process group)
    killGroupQuietly(child.pid);
    await new Promise((ok) => log.end(ok));
    rmSync(work, { recursive: true, force: true });
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`wrangler exited (${JSON.stringify(exited)}) before it served /healthz; see ${logFile}:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler did not serve /healthz within ${START_TIMEOUT_MS} ms; see ${logFile}:\n${tail(logFile)}`);
    }
    await sleep(500);
  }
  return { baseUrl, port, logFile, wranglerLogDir, stop };
}

function killGroupQuietly(pid) {
  try {
    process.kill(-pid, 0); // anything left in the group?
    process.kill(-pid, "SIGKILL");
  } catch {
    // nothing left
  }
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
