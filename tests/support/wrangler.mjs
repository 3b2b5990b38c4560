// `wrangler dev` for the test suites and the benchmarks: free ports on 127.0.0.1, a frozen copy of
// the Worker's build to serve, secrets in a 0600 env file, readiness by polling a path with a
// deadline, and a stop that sends SIGINT to wrangler and waits for it and its workerd to exit
// (or a kill: SIGKILL to its whole group at once, as a crash would).
//
//   const worker = await startWrangler({ vars: { SANDBOX: "true" }, secrets: { CURSOR_SECRET: "…" }, logFile });
//   await fetch(`${worker.baseUrl}/healthz`);
//   await worker.stop();
//
// A suite that needs more passes it in the options, not by editing this file: `args` (more
// `wrangler dev` flags, e.g. ["--test-scheduled"]), `envFiles`, `config` (another Worker), and
// `beforeStart` (e.g. `run(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo])`).
import { spawn } from "node:child_process";
import { closeSync, cpSync, createWriteStream, existsSync, fchmodSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const WRANGLER_BIN = join(REPO_ROOT, "node_modules", ".bin", "wrangler");

/** A free TCP port on 127.0.0.1 (free when asked: good enough for a local run). */
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

/** The live processes whose process group is `pgid` (zombies left out), as `{ pid, comm }`. */
export function processGroup(pgid) {
  const found = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // comm may hold spaces and parentheses: the fields after it start past the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") found.push({ pid: Number(d), comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * The text of an env file that wrangler reads back to exactly `values` (undefined ones left out).
 * wrangler parses it with dotenv and then expands `$NAME` and `${NAME}` (dotenv-expand), which
 * turns `\$` into `$`; so every `$` is written as `\$`, and the value is quoted with a quote it
 * does not contain. A value no quoting can carry (a line break) is refused, naming the variable.
 */
export function encodeEnvFile(values) {
  const lines = [];
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`env file: ${JSON.stringify(name)} is not a variable name`);
    if (typeof value !== "string") throw new Error(`env file: ${name} must be a string, not ${typeof value}`);
    if (/[\r\n\0]/.test(value)) throw new Error(`env file: ${name} holds a line break or NUL, which an env file cannot carry`);
    // Double quotes come last: inside them dotenv turns the two characters `\n` into a newline.
    const quote = ["'", "`", '"'].find((q) => !value.includes(q) && (q !== '"' || !/\\[nr]/.test(value)));
    if (quote === undefined) throw new Error(`env file: ${name} holds every kind of quote, which an env file cannot carry`);
    lines.push(`${name}=${quote}${value.replaceAll("$", "\\$")}${quote}`);
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/** Writes `values` as an env file readable by its owner only (mode 0600 from creation on). */
export function writeEnvFile(path, values) {
  const fd = openSync(path, "wx", 0o600);
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    writeSync(fd, encodeEnvFile(values));
  } finally {
    closeSync(fd);
  }
  return path;
}

/**
 * The Worker as built now, frozen into `dir`: a copy of worker/build and of the static assets,
 * and a copy of wrangler.toml that points at them and has no [build] table. `wrangler dev`
 * otherwise re-runs the build at start and reloads the Worker whenever a source file changes, so
 * edits made elsewhere in the tree would swap the Worker under test mid-run.
 * `namedWasm`: serve the copy of the wasm that keeps its function names (scripts/build-worker.sh
 * writes it beside the stripped one) so a profiler can name frames; it runs the same code.
 * Returns the config's path.
 */
export function freezeWorker(dir, { namedWasm = false } = {}) {
  const build = join(REPO_ROOT, "worker", "build");
  if (!existsSync(join(build, "index.js"))) throw new Error(`${join(build, "index.js")} is missing: run scripts/build-worker.sh first`);
  const snapshot = join(dir, "worker-build");
  const scratch = join(build, ".tmp");
  cpSync(build, snapshot, { recursive: true, filter: (src) => src !== scratch && !src.startsWith(`${scratch}/`) });
  const named = join(snapshot, "index_bg.named.wasm");
  if (namedWasm && existsSync(named)) cpSync(named, join(snapshot, "index_bg.wasm"));
  const out = [];
  let table = null;
  let sawMain = false;
  for (const line of readFileSync(join(REPO_ROOT, "wrangler.toml"), "utf8").split("\n")) {
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
    if (table === "d1_databases" && /^\s*migrations_dir\s*=/.test(line)) {
      const from = /=\s*"([^"]+)"/.exec(line)?.[1] ?? "migrations";
      out.push(`migrations_dir = ${JSON.stringify(join(REPO_ROOT, from))}`);
      continue;
    }
    if (table === "assets" && /^\s*directory\s*=/.test(line)) {
      const from = /=\s*"([^"]+)"/.exec(line)?.[1];
      const copy = join(dir, "assets");
      if (from && existsSync(join(REPO_ROOT, from))) cpSync(join(REPO_ROOT, from), copy, { recursive: true });
      else mkdirSync(copy, { recursive: true });
      out.push(`directory = ${JSON.stringify(copy)}`);
      continue;
    }
    out.push(line);
  }
  if (!sawMain) throw new Error(`${join(REPO_ROOT, "wrangler.toml")} has no top-level main`);
  const config = join(dir, "wrangler.toml");
  writeFileSync(config, out.join("\n"));
  return config;
}

// ------------------------------------------------------------------------------------ running

const running = new Map(); // wrangler pid -> stop()
let handlersInstalled = false;

function killGroup(pgid) {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // nothing left
  }
}

/** Stops every running wrangler if this process dies or is interrupted first. */
function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once("exit", () => {
    for (const pid of running.keys()) killGroup(pid); // no time for SIGINT: nothing async runs here
  });
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]]) {
    process.once(signal, async () => {
      await Promise.race([Promise.allSettled([...running.values()].map((stop) => stop())), sleep(30_000)]);
      process.exit(code);
    });
  }
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const defined = (values) => Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));

/**
 * Starts `wrangler dev` on 127.0.0.1 and resolves once `healthPath` answers as `ready` says.
 *
 * Options:
 * - `logFile` (required): wrangler's stdout and stderr, the Worker's console included.
 * - `config`: a wrangler config to serve as it is; default: the Worker's build frozen into a
 *   temporary directory (freezeWorker), `namedWasm` passed on.
 * - `vars`: `--var NAME:VALUE` each; the command line is visible to every user, so not for secrets.
 * - `secrets`: written to a 0600 env file in the temporary directory and passed with `--env-file`
 *   (wrangler binds them as secrets, shown "(hidden)"). The file is always passed, empty if need
 *   be, so a developer's .dev.vars or .env never reaches a run. `--var` wins over it, and it over
 *   the config's [vars]. A value given as undefined (in either) is left out.
 * - `envFiles`: more env files, read before the secrets' file (a later file wins).
 * - `args`: more `wrangler dev` flags.
 * - `env`: more environment for wrangler itself.
 * - `beforeStart({ config, persistTo, workDir, run })`: runs before `wrangler dev`; `run(argv)`
 *   runs another wrangler command (same environment and log) and rejects if it fails.
 * - `persistTo`: keep the local state (D1, Durable Objects) in this directory, which outlives the
 *   run, instead of in the temporary one: a later start with the same `persistTo` serves the same
 *   state (migrations already applied are skipped).
 * - `healthPath` ("/healthz"), `ready(response)` (status 200), `startTimeoutMs` (120 s),
 *   `stopGraceMs` (15 s: how long `stop` waits after SIGINT before SIGKILL to the group).
 *
 * Returns { baseUrl, port, inspectorPort, pid, config, persistTo, workDir, logFile, logText(),
 * workerdPids(), stop(), kill() }. `stop()` (idempotent) sends SIGINT to wrangler's PID, waits for it and
 * for every process of its group (workerd) to exit, SIGKILLs the group only after the grace
 * period, removes the temporary directory and resolves { code, signal, forced, leftBehind }.
 * `kill()` instead sends SIGKILL to the whole group at once (wrangler and workerd die mid-work,
 * nothing shuts down), waits for them to be gone and cleans up the same way; whichever of the two
 * comes first is the one both return.
 */
/** The `database_name`s of a wrangler.toml's `[[d1_databases]]`. */
export function d1Databases(config) {
  const names = [];
  let table = null;
  for (const line of readFileSync(config, "utf8").split("\n")) {
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) table = header[1];
    const name = table === "d1_databases" && /^\s*database_name\s*=\s*"([^"]+)"/.exec(line);
    if (name) names.push(name[1]);
  }
  return names;
}

export async function startWrangler(options) {
  const {
    logFile,
    config: givenConfig,
    namedWasm = false,
    vars = {},
    secrets = {},
    envFiles = [],
    args = [],
    env = {},
    beforeStart,
    persistTo: givenPersistTo,
    healthPath = "/healthz",
    ready = (res) => res.status === 200,
    startTimeoutMs = 120_000,
    stopGraceMs = 15_000,
  } = options;
  if (!logFile) throw new Error("startWrangler: logFile is required");
  if (!existsSync(WRANGLER_BIN)) throw new Error(`${WRANGLER_BIN} is missing: run \`make install\` (or npm ci) first`);
  installHandlers();
  const workDir = mkdtempSync(join(tmpdir(), "aftersale-wrangler-"));
  const persistTo = givenPersistTo ? resolve(givenPersistTo) : join(workDir, "state");
  const envFile = join(workDir, "secrets.env");
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile);
  const closeLog = () => new Promise((ok) => log.end(ok));
  const childEnv = {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    // wrangler's debug log records the Worker's outbound requests (a token URL can carry a
    // secret), so it stays in the temporary directory and goes with it.
    WRANGLER_LOG_PATH: join(workDir, "wrangler-debug-logs"),
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    // The env files are read, and the rest of this process's environment is not bound.
    CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true",
    CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
    ...env,
  };

  let config, port, inspectorPort, plain, argv;
  try {
    config = givenConfig ?? freezeWorker(workDir, { namedWasm });
    const kept = defined(secrets);
    writeEnvFile(envFile, kept);
    const run = (argv) => runWrangler(argv, { env: childEnv, log });
    // A Worker with D1 databases gets their migrations applied to its fresh local state first,
    // as `make dev` does: every suite serves the schema of migrations/.
    for (const database of d1Databases(config)) {
      await run(["d1", "migrations", "apply", database, "--local", "--persist-to", persistTo, "--config", config]);
    }
    if (beforeStart) await beforeStart({ config, persistTo, workDir, run });
    port = await freePort();
    inspectorPort = await freePort();
    plain = defined(vars);
    argv = ["dev", "--config", config, "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
      "--persist-to", persistTo, "--show-interactive-dev-session=false"];
    for (const file of [...envFiles, envFile]) argv.push("--env-file", resolve(file));
    for (const [k, v] of Object.entries(plain)) argv.push("--var", `${k}:${v}`);
    argv.push(...args);
    // Names only: values could be what a test checks never appears in a log.
    log.write(`# ${WRANGLER_BIN} dev on 127.0.0.1:${port}, config ${config}, vars ${Object.keys(plain).join(",") || "-"}, ` +
      `secrets (env file) ${Object.keys(kept).join(",") || "-"}${args.length ? `, flags ${args.join(" ")}` : ""}\n`);
  } catch (error) {
    await closeLog();
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }

  const child = spawn(WRANGLER_BIN, argv, {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group (pgid = its pid): workerd can be found, and killed if need be
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  let exited = null;
  const exit = new Promise((ok) => child.once("exit", (code, signal) => ok((exited = { code, signal }))));

  let stopping = null;
  const finish = (hard) =>
    (stopping ??= (async () => {
      let forced = false;
      if (exited === null && hard) {
        log.write("# kill: SIGKILL to wrangler's group\n");
        killGroup(child.pid);
        await Promise.race([exit, sleep(5_000)]);
      } else if (exited === null) {
        child.kill("SIGINT");
        if ((await Promise.race([exit, sleep(stopGraceMs).then(() => "timeout")])) === "timeout") {
          log.write(`# wrangler did not exit within ${stopGraceMs} ms of SIGINT: SIGKILL to its group\n`);
          forced = true;
          killGroup(child.pid);
          await Promise.race([exit, sleep(5_000)]);
        }
      }
      // workerd is wrangler's child: give it a moment to follow wrangler out, then force it.
      let leftBehind = processGroup(child.pid);
      for (let i = 0; i < 20 && leftBehind.length > 0; i++) {
        await sleep(100);
        leftBehind = processGroup(child.pid);
      }
      if (leftBehind.length > 0) {
        log.write(`# left in wrangler's group after it exited: ${leftBehind.map((p) => `${p.comm}[${p.pid}]`).join(" ")}: SIGKILL\n`);
        forced = true;
        killGroup(child.pid);
      }
      running.delete(child.pid);
      // What a process of the group still prints (its pipes outlive wrangler) goes nowhere now,
      // rather than into a closed log.
      child.stdout.unpipe(log);
      child.stderr.unpipe(log);
      await closeLog();
      rmSync(workDir, { recursive: true, force: true });
      return { ...exited, forced, leftBehind };
    })());
  const stop = () => finish(false);
  const kill = () => finish(true);
  running.set(child.pid, stop);

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`wrangler exited (${JSON.stringify(exited)}) before ${healthPath} was ready; see ${logFile}:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${baseUrl}${healthPath}`, { signal: AbortSignal.timeout(5_000) });
      const ok = await ready(res);
      if (!res.bodyUsed) await res.arrayBuffer();
      if (ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler did not make ${healthPath} ready within ${startTimeoutMs} ms; see ${logFile}:\n${tail(logFile)}`);
    }
    await sleep(300);
  }
  return {
    baseUrl,
    port,
    inspectorPort,
    pid: child.pid,
    config,
    persistTo,
    workDir,
    logFile,
    /** What wrangler printed so far. */
    logText: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    /** PIDs of the workerd processes serving this Worker. */
    workerdPids: () => processGroup(child.pid).filter((p) => p.comm.startsWith("workerd")).map((p) => p.pid),
    stop,
    kill,
  };
}

/** Runs a wrangler command to completion (output to `log`); rejects on a non-zero exit. */
function runWrangler(argv, { env, log }) {
  log.write(`# ${WRANGLER_BIN} ${argv.join(" ")}\n`);
  return new Promise((ok, fail) => {
    const child = spawn(WRANGLER_BIN, argv, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const output = [];
    for (const stream of [child.stdout, child.stderr]) {
      stream.on("data", (chunk) => output.push(chunk));
      stream.pipe(log, { end: false });
    }
    child.once("error", fail);
    child.once("exit", (code, signal) => {
      if (code === 0) ok();
      else fail(new Error(`wrangler ${argv.slice(0, 3).join(" ")} failed (${JSON.stringify({ code, signal })}):\n${Buffer.concat(output).toString().slice(-4000)}`));
    });
  });
}
