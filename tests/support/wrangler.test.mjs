// Tests of tests/support/wrangler.mjs with a trivial Worker (fixtures/echo-worker.mjs), so they
// need wrangler and workerd from node_modules but not the Worker's build.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { encodeEnvFile, freePort, processGroup, startWrangler, writeEnvFile } from "./wrangler.mjs";

const FIXTURE = new URL("./fixtures/echo-worker.mjs", import.meta.url).pathname;
const HOLD = new URL("./fixtures/hold-wrangler.mjs", import.meta.url).pathname;
const START_TIMEOUT_MS = 180_000;
let dir;

/** A wrangler.toml for the echo Worker, with `extra` appended. */
function echoConfig(name, extra = "") {
  const path = join(dir, `${name}.toml`);
  writeFileSync(path, `name = "toolkit-${name}"\nmain = ${JSON.stringify(FIXTURE)}\ncompatibility_date = "2025-09-01"\n\n${extra}`);
  return path;
}

/** Whether `pid` is a live process (a zombie is not: PID 1 here may never reap it). */
const alive = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), "aftersale-toolkit-test-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("freePort", () => {
  it("gives a port that can be bound on 127.0.0.1", async () => {
    const port = await freePort();
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536, String(port));
    const server = createServer();
    await new Promise((ok, fail) => server.once("error", fail).listen(port, "127.0.0.1", ok));
    await new Promise((ok) => server.close(ok));
  });
});

describe("env files", () => {
  it("leaves out undefined values and refuses what an env file cannot carry, naming the variable", () => {
    assert.equal(encodeEnvFile({ A: "1", B: undefined }), "A='1'\n");
    assert.equal(encodeEnvFile({}), "");
    assert.throws(() => encodeEnvFile({ PEM: "line one\nline two" }), /PEM holds a line break/);
    assert.throws(() => encodeEnvFile({ "BAD-NAME": "x" }), /"BAD-NAME" is not a variable name/);
    assert.throws(() => encodeEnvFile({ N: 5 }), /N must be a string/);
    assert.throws(() => encodeEnvFile({ Q: `'"\`` }), /Q holds every kind of quote/);
  });

  it("are written with mode 0600, and never over an existing file", () => {
    const path = join(dir, "mode.env");
    writeEnvFile(path, { S: "secret" });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(readFileSync(path, "utf8"), "S='secret'\n");
    assert.throws(() => writeEnvFile(path, { S: "other" }), /EEXIST/);
  });
});

describe("startWrangler on a trivial Worker", { timeout: 10 * 60_000 }, () => {
  // Values that dotenv or dotenv-expand would alter if written naively.
  const secrets = {
    PLAIN_SECRET: "toolkit-secret-5e1f0a",
    DOLLARS: "a$HOME b${PATH} c\\$d $",
    QUOTES: `it's "quoted" # not a comment`,
    BACKSLASH_N: "C:\\new\\rules 'x'",
    SPACES: "  padded  ",
    UNICODE: "售后 ✓",
    OVERRIDDEN: "from the env file",
    BOTH: "from the env file",
    GONE: undefined,
  };
  let worker;
  let workerd;
  let stopped;

  before(async () => {
    const envFile = join(dir, "extra.env");
    writeFileSync(envFile, "FROM_EXTRA_FILE=extra\nOVERRIDDEN=extra\n");
    worker = await startWrangler({
      config: echoConfig("echo", `[vars]\nFROM_CONFIG = "config"\nOVERRIDDEN = "config"\nBY_VAR = "config"\n`),
      logFile: join(dir, "logs", "echo.log"),
      vars: { BY_VAR: "cli", BOTH: "cli", PLAIN: "plain value", SKIPPED: undefined },
      secrets,
      envFiles: [envFile],
      args: ["--test-scheduled"],
      startTimeoutMs: START_TIMEOUT_MS,
    });
  });
  after(async () => {
    await worker?.stop();
  });

  it("serves on 127.0.0.1 with vars, config vars and secrets bound exactly", async () => {
    assert.match(worker.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const env = await (await fetch(`${worker.baseUrl}/env`)).json();
    const { GONE, OVERRIDDEN, BOTH, ...kept } = secrets;
    for (const [k, v] of Object.entries(kept)) assert.equal(env[k], v, k);
    assert.equal(env.OVERRIDDEN, "from the env file", "the secrets' file is read after the extra one");
    assert.equal(env.FROM_EXTRA_FILE, "extra");
    assert.equal(env.FROM_CONFIG, "config");
    assert.equal(env.BY_VAR, "cli", "--var wins over [vars]");
    assert.equal(env.BOTH, "cli", "--var wins over the env file");
    assert.equal(env.PLAIN, "plain value");
    assert.ok(!("GONE" in env) && !("SKIPPED" in env), "undefined values are left out");
    assert.ok(!("PATH" in env) && !("HOME" in env), "the process environment is not bound");
  });

  it("passes extra flags (--test-scheduled)", async () => {
    const res = await fetch(`${worker.baseUrl}/__scheduled`);
    await res.arrayBuffer();
    assert.notEqual(res.status, 404, "/__scheduled is routed only with --test-scheduled");
  });

  it("keeps secrets off every command line and out of the log; the env file is 0600", () => {
    assert.equal(statSync(join(worker.workDir, "secrets.env")).mode & 0o777, 0o600);
    const group = processGroup(worker.pid);
    assert.ok(group.length >= 2, `wrangler's group: ${JSON.stringify(group)}`);
    for (const { pid, comm } of group) {
      let cmdline;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      assert.ok(!cmdline.includes(secrets.PLAIN_SECRET), `${comm}[${pid}]'s command line holds a secret`);
    }
    const log = worker.logText();
    assert.match(log, /secrets \(env file\) PLAIN_SECRET,DOLLARS/);
    assert.ok(!log.includes(secrets.PLAIN_SECRET), "the log holds a secret");
  });

  it("stops with SIGINT: wrangler and workerd exit without being killed, the temporary directory goes", async () => {
    workerd = worker.workerdPids();
    assert.ok(workerd.length > 0, "no workerd in wrangler's process group");
    const { pid, workDir } = worker;
    assert.ok(existsSync(workDir));
    stopped = await worker.stop();
    assert.equal(stopped.forced, false, `stop had to SIGKILL: ${JSON.stringify(stopped)}`);
    assert.deepEqual(stopped.leftBehind, []);
    assert.deepEqual(processGroup(pid), []);
    for (const p of [pid, ...workerd]) assert.equal(alive(p), false, `process ${p} is still alive`);
    assert.equal(existsSync(workDir), false, `${workDir} is still there`);
    assert.equal(await worker.stop(), stopped, "a second stop is the first one");
    await assert.rejects(fetch(`${worker.baseUrl}/healthz`, { signal: AbortSignal.timeout(3_000) }));
  });
});

describe("startWrangler before the start and on failure", { timeout: 10 * 60_000 }, () => {
  it("runs wrangler commands before the start against the same state (D1 migrations)", async () => {
    const migrations = join(dir, "migrations");
    mkdirSync(migrations, { recursive: true });
    writeFileSync(join(migrations, "0001_fruit.sql"), "CREATE TABLE fruit (name TEXT);\nINSERT INTO fruit VALUES ('pear'), ('apple');\n");
    const config = echoConfig(
      "d1",
      `[[d1_databases]]\nbinding = "DB"\ndatabase_name = "toolkit-test"\ndatabase_id = "00000000-0000-4000-8000-000000000000"\nmigrations_dir = ${JSON.stringify(migrations)}\n`,
    );
    let seen;
    const worker = await startWrangler({
      config,
      logFile: join(dir, "logs", "d1.log"),
      startTimeoutMs: START_TIMEOUT_MS,
      beforeStart: async ({ config, persistTo, run }) => {
        seen = persistTo;
        await run(["d1", "migrations", "apply", "toolkit-test", "--local", "--persist-to", persistTo, "--config", config]);
        await assert.rejects(run(["d1", "migrations", "apply", "no-such-db", "--local", "--persist-to", persistTo, "--config", config]), /wrangler d1 migrations apply failed/);
      },
    });
    try {
      assert.equal(seen, worker.persistTo);
      assert.deepEqual(await (await fetch(`${worker.baseUrl}/d1`)).json(), [{ name: "apple" }, { name: "pear" }]);
    } finally {
      await worker.stop();
    }
  });

  it("kills with SIGKILL to the group, keeps a given persistTo, and a restart on it serves the same state", async () => {
    const migrations = join(dir, "migrations-kept");
    mkdirSync(migrations, { recursive: true });
    writeFileSync(join(migrations, "0001_fruit.sql"), "CREATE TABLE fruit (name TEXT);\nINSERT INTO fruit VALUES ('pear');\n");
    const config = echoConfig(
      "kept",
      `[[d1_databases]]\nbinding = "DB"\ndatabase_name = "toolkit-kept"\ndatabase_id = "00000000-0000-4000-8000-000000000001"\nmigrations_dir = ${JSON.stringify(migrations)}\n`,
    );
    const persistTo = join(dir, "kept-state");
    const first = await startWrangler({
      config,
      persistTo,
      logFile: join(dir, "logs", "kept-1.log"),
      startTimeoutMs: START_TIMEOUT_MS,
      beforeStart: ({ config, persistTo, run }) =>
        run(["d1", "execute", "toolkit-kept", "--local", "--persist-to", persistTo, "--config", config, "--command", "INSERT INTO fruit VALUES ('plum')"]),
    });
    const { pid, workDir } = first;
    const workerd = first.workerdPids();
    assert.equal(first.persistTo, persistTo);
    const killed = await first.kill();
    assert.equal(killed.signal, "SIGKILL", JSON.stringify(killed));
    assert.deepEqual(processGroup(pid), []);
    for (const p of [pid, ...workerd]) assert.equal(alive(p), false, `process ${p} outlived the kill`);
    assert.equal(existsSync(workDir), false, "the temporary directory is still there");
    assert.ok(existsSync(persistTo), "the given state directory went with the run");
    assert.equal(await first.stop(), killed, "a stop after a kill is the kill");
    const second = await startWrangler({ config, persistTo, logFile: join(dir, "logs", "kept-2.log"), startTimeoutMs: START_TIMEOUT_MS });
    try {
      assert.deepEqual(await (await fetch(`${second.baseUrl}/d1`)).json(), [{ name: "pear" }, { name: "plum" }]);
    } finally {
      await second.stop();
    }
  });

  it("gives up at the deadline when the Worker never gets ready, with the log's path, and leaves nothing", async () => {
    let workDir;
    const logFile = join(dir, "logs", "never.log");
    await assert.rejects(
      startWrangler({
        config: echoConfig("never"),
        logFile,
        vars: { READY: "no" },
        startTimeoutMs: 15_000,
        beforeStart: (ctx) => {
          workDir = ctx.workDir;
        },
      }),
      (e) => e.message.includes("not make /healthz ready within 15000 ms") && e.message.includes(logFile),
    );
    assert.equal(existsSync(workDir), false);
    assert.ok(!/SIGKILL/.test(readFileSync(logFile, "utf8")), "stopping the unready wrangler needed SIGKILL");
  });

  it("reports a wrangler that exits at start, with the end of its log", async () => {
    let workDir;
    const config = join(dir, "broken.toml");
    writeFileSync(config, `name = "toolkit-broken"\nmain = ${JSON.stringify(join(dir, "no-such-worker.mjs"))}\ncompatibility_date = "2025-09-01"\n`);
    await assert.rejects(
      startWrangler({ config, logFile: join(dir, "logs", "broken.log"), startTimeoutMs: START_TIMEOUT_MS, beforeStart: (ctx) => void (workDir = ctx.workDir) }),
      (e) => /wrangler exited .* before \/healthz was ready/.test(e.message) && e.message.includes("no-such-worker.mjs"),
    );
    assert.equal(existsSync(workDir), false);
  });

  it("stops wrangler and workerd when the process that started them is interrupted", async () => {
    const child = spawn(process.execPath, [HOLD, echoConfig("held"), join(dir, "logs", "held.log")], { stdio: ["ignore", "pipe", "inherit"] });
    const exit = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!out.includes("\n")) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `the holder did not start wrangler: ${out}`);
      await sleep(200);
    }
    const held = JSON.parse(out);
    assert.ok(held.workerd.length > 0);
    child.kill("SIGINT");
    assert.deepEqual(await exit, { code: 130, signal: null });
    assert.deepEqual(processGroup(held.pid), []);
    for (const p of [held.pid, ...held.workerd]) assert.equal(alive(p), false, `process ${p} outlived its test process`);
    assert.equal(existsSync(held.workDir), false);
    assert.ok(!/SIGKILL/.test(readFileSync(join(dir, "logs", "held.log"), "utf8")), "the interrupted stop needed SIGKILL");
  });
});
