// Helpers shared by the benchmark scripts: statistics, ports, and `wrangler dev` started on a
// frozen copy of the built Worker (no [build] step, no file watching), stopped with SIGINT.
import { spawn } from "node:child_process";
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
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

/** A free TCP port on 127.0.0.1. */
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

/**
 * wrangler.toml rewritten for a frozen copy of worker/build: absolute `main`, no [build] table (so
 * `wrangler dev` neither rebuilds nor watches the tree other people are editing), assets copied.
 */
function frozenConfig(work) {
  const build = join(REPO_ROOT, "worker", "build");
  if (!existsSync(join(build, "index.js"))) throw new Error("worker/build/index.js is missing: run scripts/build-worker.sh");
  const snapshot = join(work, "worker-build");
  cpSync(build, snapshot, { recursive: true, filter: (src) => !src.includes(join(build, ".tmp")) });
  // Profile the same code with its names (scripts/build-worker.sh keeps a named copy), so V8's
  // profiler can say which functions the time goes to; names do not change what runs.
  const named = join(snapshot, "index_bg.named.wasm");
  if (existsSync(named)) cpSync(named, join(snapshot, "index_bg.wasm"));
  const out = [];
  let table = null;
  for (const line of readFileSync(join(REPO_ROOT, "wrangler.toml"), "utf8").split("\n")) {
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) table = header[1];
    if (table === "build") continue;
    if (table === null && /^\s*main\s*=/.test(line)) {
      out.push(`main = ${JSON.stringify(join(snapshot, "index.js"))}`);
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
  const path = join(work, "wrangler.toml");
  writeFileSync(path, out.join("\n"));
  return path;
}

const children = new Map(); // pid -> stop()
process.once("exit", () => {
  for (const pid of children.keys()) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, async () => {
    // Stop what we started (SIGINT to each wrangler, as they expect), then leave.
    await Promise.race([Promise.allSettled([...children.values()].map((stop) => stop())), sleep(20_000)]);
    process.exit(130);
  });
}

/**
 * Starts `wrangler dev` on the built Worker with `vars` (or on `config`, a wrangler.toml of
 * another Worker); resolves once `healthPath` answers 200.
 * Returns { baseUrl, inspectorPort, logFile, stop }. `stop` sends SIGINT to wrangler's PID and
 * waits (SIGKILL to its process group after a grace period).
 */
export async function startWrangler({ vars = {}, logDir, name = "wrangler", startTimeoutMs = 120_000, config: givenConfig, healthPath = "/healthz" }) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const work = mkdtempSync(join(tmpdir(), "aftersale-bench-"));
  const config = givenConfig ?? frozenConfig(work);
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  const logStream = createWriteStream(logFile);
  const argv = ["dev", "--config", config, "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
    "--persist-to", join(work, "state"), "--show-interactive-dev-session=false", "--log-level", "warn"];
  for (const [k, v] of Object.entries(vars)) argv.push("--var", `${k}:${v}`);
  logStream.write(`# wrangler dev on 127.0.0.1:${port}, vars ${Object.keys(vars).join(",")}\n`);
  const child = spawn(join(REPO_ROOT, "node_modules", ".bin", "wrangler"), argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG_PATH: join(work, "logs"), NO_COLOR: "1", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout.pipe(logStream, { end: false });
  child.stderr.pipe(logStream, { end: false });
  let exited = null;
  const exit = new Promise((ok) => child.once("exit", (code, signal) => ok((exited = { code, signal }))));
  const stop = async () => {
    if (exited === null) {
      child.kill("SIGINT");
      if ((await Promise.race([exit, sleep(15_000).then(() => "timeout")])) === "timeout") {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone
        }
        await Promise.race([exit, sleep(5_000)]);
      }
    }
    try {
      process.kill(-child.pid, "SIGKILL"); // workerd left in the group
    } catch {
      // nothing left
    }
    children.delete(child.pid);
    await new Promise((ok) => logStream.end(ok));
    rmSync(work, { recursive: true, force: true });
  };
  children.set(child.pid, stop);
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`wrangler exited (${JSON.stringify(exited)}) before serving /healthz; see ${logFile}`);
    }
    try {
      const res = await fetch(`${baseUrl}${healthPath}`, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler did not serve /healthz within ${startTimeoutMs} ms; see ${logFile}`);
    }
    await sleep(300);
  }
  return { baseUrl, inspectorPort, logFile, pid: child.pid, stop };
}
