// Worker CPU per request for a 100-record page, in workerd under `wrangler dev` with SANDBOX=false
// against the upstream simulator in this Node process, so the upstream body is built outside
// workerd and its CPU is the handler's and the account object's alone (the handler fetches the
// upstream itself under the object's lease).
//
// Two measurements, both from the runtime side (a Worker's own clocks do not advance while it
// computes, so it cannot time itself):
// 1. OS CPU time (utime + stime of every workerd process of this wrangler, from /proc) over
//    blocks of sequential requests, interleaving the page with GET /healthz. The page's CPU minus
//    /healthz's is what the handler adds to a trivial request; /healthz carries the local dev
//    chain's fixed cost (wrangler's entry and proxy workers, its middleware, the inspector).
// 2. V8's sampling profiler (DevTools protocol on wrangler's inspector port) over page requests:
//    the isolate's busy time per request, split by the Worker's own (named) wasm frames:
//    normalization (aftersale::normalize_page + the records' JSON), the account object's work
//    per lease (its fetch handler: reports, grant, storage), configuration reads, and the rest. Sampling adds overhead and counts
//    preempted time, so these are upper bounds; the OS figure is the one judged.
//
// 3. One normalization in workerd, isolated: a bench-only Worker (bench/workerd-normalize.mjs)
//    normalizes the same 100-record page k times per request with the npm module's wasm or the
//    plain-JS normalizer; (OS CPU at k) - (OS CPU at k=0), per normalization.
//
//   node bench/worker-cpu.mjs --out FILE --logs DIR --module DIR [--quick]
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { page } from "./inputs.mjs";
import { startSimulator } from "../tests/simulator/simulator.mjs";
import { analyse, args, cpuMs, devtools, log, median, REPO_ROOT, simulatorWorker, startWrangler, writeJson } from "./lib.mjs";

const say = log("worker-cpu");
const opt = args();
if (!opt.out || !opt.logs || !opt.module) {
  console.error("usage: node bench/worker-cpu.mjs --out FILE --logs DIR --module DIR [--quick]");
  process.exit(2);
}
const BLOCK = opt.quick ? 40 : 100;
const ROUNDS = opt.quick ? 2 : 4;
const PROFILED = opt.quick ? 50 : 120;
async function get(url, expect = 200, headers = {}) {
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (res.status !== expect) throw new Error(`${url}: HTTP ${res.status}: ${body.slice(0, 300)}`);
  return body;
}

/** Interleaved blocks of requests; OS CPU of workerd per request for each named request kind. */
async function osCpu(pids, kinds, { block, rounds }) {
  const samples = Object.fromEntries(kinds.map(([name]) => [name, []]));
  const wall = Object.fromEntries(kinds.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [...kinds].reverse() : kinds;
    for (const [name, request] of order) {
      const c0 = cpuMs(pids);
      const t0 = performance.now();
      for (let i = 0; i < block; i++) await request();
      const t1 = performance.now();
      const c1 = cpuMs(pids);
      if (Number.isFinite(c0) && Number.isFinite(c1)) samples[name].push((c1 - c0) / block);
      wall[name].push((t1 - t0) / block);
    }
  }
  return {
    cpu_ms: Object.fromEntries(kinds.map(([name]) => [name, median(samples[name])])),
    wall_ms: Object.fromEntries(kinds.map(([name]) => [name, median(wall[name])])),
    samples,
  };
}

const result = {};

// ---------------------------------------------------------------- A. the proxy's handler
// Lingxing: a page of 100 upstream records (each 1–3 after-sale lines). Xiaoe: the sandbox's
// newest 31-day window holds fewer than 100 records, and its pacer allows 300 calls a minute,
// so it gets fewer requests. Both over the sandbox's whole range, which it gives itself (it
// ends today).
const PLATFORM_RUNS = [
  { platform: "lingxing", block: BLOCK, rounds: ROUNDS, profiled: PROFILED, warm: 40 },
  { platform: "xiaoe", block: BLOCK, rounds: ROUNDS, profiled: PROFILED, warm: 40 },
];
// 3000 records over the simulator's six months: the newest 31-day Xiaoe window holds > 100, and
// Lingxing pages of 100 records hold ~124 after-sale lines.
const sim = await startSimulator({ records: 3000, seed: 3, xiaoeRateLimit: { limit: 1_000_000, windowMs: 60_000 } });
const CLIENT_KEY = "bench-cpu-client-key-71c2";
const worker = await startWrangler({
  logDir: opt.logs,
  name: "wrangler-worker-cpu",
  // Requests back to back: the proxy's pacer must not be what is measured.
  ...simulatorWorker(sim, { clientKey: CLIENT_KEY, cursorSecret: "bench-cpu-cursor-secret-2b9f", vars: { XIAOE_RATE_LIMIT: "1000000/60s" } }),
});
const authed = (url) => get(url, 200, { authorization: `Bearer ${CLIENT_KEY}` });
try {
  const pids = worker.workerdPids();
  result.workerd_processes = pids.length;
  if (pids.length === 0) throw new Error("no workerd process found in wrangler's process group");
  const health = () => get(`${worker.baseUrl}/healthz`);
  result.proxy = [];
  for (const run of PLATFORM_RUNS) {
    run.path = `/v1/aftersales?platform=${run.platform}&from=2023-01-01&to=2023-07-01&limit=100`;
    const url = `${worker.baseUrl}${run.path}`;
    const first = await fetch(url, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    const text = await first.text();
    if (first.status !== 200) throw new Error(`${url}: HTTP ${first.status}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text);
    const r = { platform: run.platform, path: run.path, after_sales: body.data.length, response_bytes: Buffer.byteLength(text), subrequests: Number(first.headers.get("x-subrequests")) };
    for (let i = 0; i < run.warm; i++) {
      await authed(url);
      await health();
    }
    const m = await osCpu(pids, [["healthz", health], ["page", () => authed(url)]], run);
    r.os_cpu_ms_per_request = m.cpu_ms;
    r.wall_ms_per_request = m.wall_ms;
    r.os_cpu_samples = m.samples;
    r.handler_cpu_ms = m.cpu_ms.page - m.cpu_ms.healthz;
    say(`${run.platform}: OS CPU per request: page ${m.cpu_ms.page.toFixed(3)} ms, /healthz ${m.cpu_ms.healthz.toFixed(3)} ms → handler + object ${r.handler_cpu_ms.toFixed(3)} ms (${r.after_sales} after-sales, ${r.subrequests} subrequests)`);
    try {
      const dt = await devtools(worker.inspectorPort);
      await dt.send("Profiler.enable");
      await dt.send("Profiler.setSamplingInterval", { interval: 100 });
      await dt.send("Profiler.start");
      for (let i = 0; i < run.profiled; i++) await authed(url);
      const stopped = await dt.send("Profiler.stop");
      await dt.send("Profiler.disable");
      dt.close();
      r.profile = analyse(stopped.result.profile, run.profiled);
      const p = r.profile;
      const inc = p.inclusive_ms_per_request;
      // The object's share of the measured CPU, by its share of the isolate's busy time.
      r.object_cpu_ms = p.busy_ms_per_request > 0 ? (r.handler_cpu_ms * inc.account_object) / p.busy_ms_per_request : null;
      r.handler_only_cpu_ms = r.object_cpu_ms === null ? null : r.handler_cpu_ms - r.object_cpu_ms;
      say(
        `${run.platform}: profiler: isolate busy ${p.busy_ms_per_request.toFixed(3)} ms/request; normalize ${inc.normalize.toFixed(3)}, ` +
          `account object ${inc.account_object.toFixed(3)}, config ${inc.config_from_env.toFixed(3)} → handler ${r.handler_only_cpu_ms?.toFixed(3)} ms, object ${r.object_cpu_ms?.toFixed(3)} ms per lease`,
      );
    } catch (e) {
      r.profile_error = e.message;
      say(`profiler: ${e.message}`);
    }
    result.proxy.push(r);
  }
} catch (e) {
  result.error = e.message;
  say(e.message);
} finally {
  await worker.stop();
  await sim.close();
}

// ---------------------------------------------------------------- B. one normalization in workerd
// bench/workerd-normalize.mjs with the npm module's wasm and the plain-JS normalizer, on the
// 100-record pages of bench/inputs.mjs: (CPU at k=K) - (CPU at k=0), per normalization.
const K = opt.quick ? 10 : 25;
const work = mkdtempSync(join(tmpdir(), "aftersale-bench-workerd-"));
process.once("exit", () => rmSync(work, { recursive: true, force: true }));
try {
  const moduleDir = opt.module;
  for (const f of ["aftersale_wasm.js", "aftersale_wasm_bg.wasm"]) copyFileSync(join(moduleDir, f), join(work, f));
  copyFileSync(join(REPO_ROOT, "bench", "workerd-normalize.mjs"), join(work, "worker.mjs"));
  copyFileSync(join(REPO_ROOT, "bench", "js-normalizer.mjs"), join(work, "js-normalizer.mjs"));
  writeFileSync(join(work, "wrangler.toml"), `name = "aftersale-bench-normalize"\nmain = "worker.mjs"\ncompatibility_date = "2025-09-01"\n`);
  const bench = await startWrangler({ config: join(work, "wrangler.toml"), logDir: opt.logs, name: "wrangler-workerd-normalize", healthPath: "/?k=0" });
  try {
    const pids = bench.workerdPids();
    result.normalize_in_workerd = [];
    for (const platform of ["xiaoe", "lingxing"]) {
      const body = page(platform, 100);
      const call = (impl, k) => async () => {
        const res = await fetch(`${bench.baseUrl}/?platform=${platform}&impl=${impl}&k=${k}`, { method: "POST", body });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`workerd-normalize ${platform} ${impl}: HTTP ${res.status}: ${text.slice(0, 300)}`);
      };
      for (let i = 0; i < 3; i++) for (const impl of ["wasm", "js"]) await call(impl, K)();
      const m = await osCpu(pids, [["k0", call("wasm", 0)], ["wasm", call("wasm", K)], ["js", call("js", K)]], { block: opt.quick ? 4 : 6, rounds: opt.quick ? 3 : 4 });
      const r = {
        platform,
        records: 100,
        input_bytes: Buffer.byteLength(body),
        k: K,
        wasm_ms: (m.cpu_ms.wasm - m.cpu_ms.k0) / K,
        js_ms: (m.cpu_ms.js - m.cpu_ms.k0) / K,
        samples: m.samples,
      };
      r.ratio = r.js_ms / r.wasm_ms;
      say(`${platform}: one normalizeJson of 100 records in workerd: wasm ${r.wasm_ms.toFixed(3)} ms, plain JS ${r.js_ms.toFixed(3)} ms`);
      result.normalize_in_workerd.push(r);
    }
  } finally {
    await bench.stop();
  }
} catch (e) {
  result.normalize_in_workerd_error = e.message;
  say(`workerd normalize: ${e.message}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
writeJson(opt.out, result);
