// `make dev` (scripts/dev.sh) with no credentials: on a free PORT and a fresh local state it
// serves the sandbox and syncs the mirror at start, so /v1/sync/status shows rows for every
// syncable platform without anyone calling /v1/sync; Ctrl-C (SIGINT to its process group) ends
// it and its background sync loop. Needs the Worker's build (scripts/test-e2e.sh makes it; the
// script's own build step is then incremental).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, REPO_ROOT } from "../support/wrangler.mjs";

const OUT = join(REPO_ROOT, "test-output", "e2e");
const READY_TIMEOUT_MS = Number(process.env.DEV_SCRIPT_TIMEOUT_MS ?? 600_000);

/**
 * The live processes started by this run of dev.sh, whatever their process group (its sync loop
 * has one of its own): those whose environment names this run's state directory.
 */
function startedBy(state) {
  const mark = `AFTERSALE_DEV_STATE=${state}\0`;
  const found = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") continue;
      if (readFileSync(`/proc/${d}/environ`, "latin1").includes(mark)) found.push({ pid: Number(d), comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

describe("scripts/dev.sh", { timeout: READY_TIMEOUT_MS + 120_000 }, () => {
  let child;
  let state;
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGKILL");
    if (state) {
      for (const { pid } of startedBy(state)) process.kill(pid, "SIGKILL");
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("syncs the sandbox's mirror at start, with no credentials, and stops with Ctrl-C", { timeout: READY_TIMEOUT_MS + 60_000 }, async () => {
    const port = await freePort();
    state = mkdtempSync(join(tmpdir(), "aftersale-dev-state-"));
    mkdirSync(OUT, { recursive: true });
    const log = createWriteStream(join(OUT, `dev-script-${new Date().toISOString().replace(/[:.]/g, "-")}.log`));
    let output = "";
    const env = { ...process.env, PORT: String(port), SANDBOX: "true", AFTERSALE_DEV_STATE: state, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
    for (const name of ["CLIENT_KEYS", "CURSOR_SECRET", "WECHAT_APPID", "XIAOE_APP_ID", "LINGXING_APP_ID"]) delete env[name];
    child = spawn("bash", [join(REPO_ROOT, "scripts", "dev.sh")], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    for (const s of [child.stdout, child.stderr]) {
      s.on("data", (b) => {
        output += b;
        log.write(b);
      });
    }
    const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));

    // Nobody calls /v1/sync here: the script does. Wait for the status to show rows everywhere.
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let status = null;
    for (;;) {
      assert.ok(child.exitCode === null, `dev.sh exited early:\n${output.slice(-2000)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v1/sync/status`);
        if (res.ok) status = await res.json();
      } catch {
        // not up yet
      }
      const platforms = Object.entries(status?.platforms ?? {});
      if (platforms.length > 0 && platforms.every(([, p]) => p.rows > 0 && !p.in_progress) && /the mirror is synced/.test(output)) break;
      assert.ok(Date.now() < deadline, `no synced mirror in ${READY_TIMEOUT_MS} ms: ${JSON.stringify(status)}\n${output.slice(-2000)}`);
      await sleep(2000);
    }
    assert.ok("xiaoe" in status.platforms && "lingxing" in status.platforms, JSON.stringify(status));
    for (const [platform, p] of Object.entries(status.platforms)) assert.equal(p.last_error, null, `${platform}: ${p.last_error}`);
    assert.doesNotMatch(output, /^aftersale: .*(failed|error|did not)/m, "the start sync complained");
    // The mirror answers across platforms.
    const all = await (await fetch(`http://127.0.0.1:${port}/v1/aftersales?platform=all&limit=5`)).json();
    assert.equal(all.source, "mirror");
    assert.ok(all.total > 0, JSON.stringify(all).slice(0, 400));

    // Ctrl-C: the terminal sends SIGINT to the whole foreground group.
    process.kill(-child.pid, "SIGINT");
    const end = await Promise.race([exited, sleep(30_000).then(() => null)]);
    assert.ok(end, "dev.sh did not exit within 30 s of SIGINT");
    let left = startedBy(state);
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await sleep(500);
      left = startedBy(state);
    }
    assert.deepEqual(left, [], `processes of dev.sh outlived it: ${JSON.stringify(left)}`);
    log.end();
  });
});
