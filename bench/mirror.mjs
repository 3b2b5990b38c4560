// The mirror (SPEC.md §9, issue 12): a full sync of N records against the rate limit's minimum,
// with the Worker's CPU per sync invocation, and a 100-record page from the mirror against the
// same page live. `wrangler dev` on the frozen build (SANDBOX=false) against the upstream
// simulator in this process.
//
// 1. Sync, driven as the cron would: POST /v1/sync?platform=P back to back until it answers
//    done (the cron fires every 5 minutes; the gaps between its invocations are left out).
//    - Xiaoe: pages of 100 by updated time in windows of <= 31 days, at most `limit` calls per
//      sliding `windowMs` for the simulator and the proxy's pacer alike (XIAOE_RATE_LIMIT). The
//      default, 25 per 5 s, is the production pace (300 a minute: 200 ms a call) in a window
//      short enough that a 20,000-record backfill (~210 calls) is bound by it rather than fitting
//      in one burst. C = the calls needed (sum over the windows of ceil(records / 100), at least
//      one each, from the simulator's truth); the sliding window allows them in
//      floor((C - 1) / limit) x windowMs at best: T_min.
//    - Lingxing: one call in flight, pages of 5000: T_min = the simulator's own serving time of
//      the calls (measured around its handler), which no client can go below.
//    Each invocation's OS CPU (utime + stime of every workerd process of this wrangler, from
//    /proc) is read around it; the local D1 and the account object run in those processes too,
//    so this is the Worker's CPU plus its storage's (an upper bound of what Cloudflare bills).
//    Around each upstream call the simulator records arrival and answer times, so the time of an
//    invocation splits into its start (state, lease, token: request to first call), upstream
//    time, the time between an answer and the next call (normalize, the D1 batch, the next
//    upstream lease, pacing waits) and its end (last answer to response: the last page's
//    store, the release, the reports).
//    The isolate's own CPU per invocation (what Cloudflare bills; D1 runs outside it) comes from
//    V8's sampling profiler over a few more invocations of the same shape (10 pages of 100) on
//    the second run below, split by the Worker's named wasm frames.
// 2. Pages: on the synced state, wrangler restarted with the limit lifted, the same 100-record
//    query (Xiaoe, newest updated first) live and from the mirror, and `platform=all`, in
//    interleaved blocks of sequential requests: median wall time per request of each, and the
//    ratio live / mirror.
//
//   node bench/mirror.mjs --out FILE --logs DIR [--records N] [--xiaoe-limit CALLS/WINDOW_MS] [--quick]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator } from "../tests/simulator/simulator.mjs";
import { analyse, args, cpuMs, devtools, GROUPS, log, median, simulatorWorker, startWrangler, writeJson } from "./lib.mjs";

const say = log("mirror");
const opt = args();
if (!opt.out || !opt.logs) {
  console.error("usage: node bench/mirror.mjs --out FILE --logs DIR [--records N] [--xiaoe-limit CALLS/WINDOW_MS] [--quick]");
  process.exit(2);
}
const RECORDS = Number(opt.records ?? 20_000);
// 25 calls per 5 s: the production pace (300 a minute, 200 ms a call) in a window short enough
// that the backfill is bound by it, and long enough that the pacer's margin (a fortieth of the
// window) covers the jitter of the local proxy chain.
const [xiaoeLimit, xiaoeWindowMs] = String(opt["xiaoe-limit"] ?? "25/5000").split("/").map(Number);
const XIAOE_LIMIT = { limit: xiaoeLimit, windowMs: xiaoeWindowMs };
const LINGXING_LATENCY_MS = 50;
const XIAOE_PAGE = 100;
const WINDOW_DAYS = 31;
const MAX_INVOCATIONS = 400;
const BLOCK = opt.quick ? 10 : 25;
const ROUNDS = opt.quick ? 3 : 7;
const CLIENT_KEY = "bench-mirror-client-key-5e1d";
const PROFILED = opt.quick ? 2 : 4; // sync invocations under the profiler
const SYNC_GROUPS = {
  normalize: /^aftersale::normalize_page|^aftersale::parse_page/,
  mirror_rows: /MirrorRow.*from_record/,
  mirror_store: /^aftersale_worker::mirror::Mirror::(store|upsert|save_state)/,
  account_object: GROUPS.account_object,
};
const LISTS = { xiaoe: "/xe.ecommerce.after_sale.list/1.0.0", lingxing: "/erp/sc/routing/amzod/order/afterSaleList" };

const DAY_MS = 86_400_000;
const day = (offset) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
// Six months of records, all updated (at most 10 days after creation) well before now.
const RANGE = { from: day(-195), to: day(-12) };
const SYNC_FROM = RANGE.from;

/** The calls a sync of Xiaoe needs: windows of <= 31 China-time days from SYNC_FROM to today. */
function xiaoeCallsNeeded(sim) {
  const updatedDay = (w) => w.updated_at.slice(0, 10); // China time, as Xiaoe writes it
  const days = sim.truth("xiaoe", { from: "2000-01-01", to: "2100-01-01", date_type: "updated_at" }).map(updatedDay);
  const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
  let calls = 0;
  let windows = 0;
  for (let start = SYNC_FROM; start <= today; ) {
    const next = new Date(Date.parse(`${start}T00:00:00Z`) + WINDOW_DAYS * DAY_MS).toISOString().slice(0, 10);
    const n = days.filter((d) => d >= start && d < next).length;
    calls += Math.max(1, Math.ceil(n / XIAOE_PAGE));
    windows++;
    start = next;
  }
  return { calls, windows, records: days.length };
}

/** Wraps a simulator route to record each call's arrival and answer times. */
function timeRoute(sim, path) {
  const route = sim.simulator.routes.get(path);
  const original = route.handler;
  const calls = [];
  route.handler = async (ctx) => {
    const c = { at: performance.now(), done: null };
    calls.push(c);
    try {
      return await original(ctx);
    } finally {
      c.done = performance.now();
    }
  };
  return { calls, restore: () => (route.handler = original) };
}

async function request(baseUrl, path, init = {}) {
  const res = await fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${CLIENT_KEY}`, ...init.headers } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return { json: JSON.parse(text), headers: res.headers };
}

/** POST /v1/sync?platform=P until done; per invocation its wall time, OS CPU and call times. */
async function syncUntilDone(worker, platform, timed) {
  const pids = worker.workerdPids();
  const invocations = [];
  const t0 = performance.now();
  for (let i = 0; i < MAX_INVOCATIONS; i++) {
    const first = timed.calls.length;
    const c0 = cpuMs(pids);
    const start = performance.now();
    const { json, headers } = await request(worker.baseUrl, `/v1/sync?platform=${platform}`, { method: "POST" });
    const end = performance.now();
    const c1 = cpuMs(pids);
    const p = json.platforms[platform];
    if (p.error) throw new Error(`${platform} sync: ${p.error}`);
    const calls = timed.calls.slice(first);
    const upstream = calls.reduce((s, c) => s + (c.done - c.at), 0);
    const between = calls.slice(1).reduce((s, c, k) => s + (c.at - calls[k].done), 0);
    invocations.push({
      ms: end - start,
      cpu_ms: c1 - c0,
      pages: p.pages,
      records: p.records,
      calls: calls.length,
      subrequests: Number(headers.get("x-subrequests")),
      start_ms: calls.length ? calls[0].at - start : end - start,
      upstream_ms: upstream,
      between_ms: between,
      end_ms: calls.length ? end - calls.at(-1).done : 0,
    });
    if (json.done) return { ms: performance.now() - t0, invocations };
  }
  throw new Error(`${platform}: not caught up in ${MAX_INVOCATIONS} invocations`);
}

const sum = (xs, k) => xs.reduce((s, x) => s + x[k], 0);

function summarize(run) {
  const inv = run.invocations;
  return {
    invocations: inv.length,
    pages: sum(inv, "pages"),
    calls: sum(inv, "calls"),
    cpu_ms_per_invocation: { median: median(inv.map((x) => x.cpu_ms)), max: Math.max(...inv.map((x) => x.cpu_ms)) },
    cpu_ms_per_page: sum(inv, "cpu_ms") / Math.max(sum(inv, "pages"), 1),
    wall_ms_per_invocation: median(inv.map((x) => x.ms)),
    max_subrequests: Math.max(...inv.map((x) => x.subrequests)),
    split_ms: { start: sum(inv, "start_ms"), upstream: sum(inv, "upstream_ms"), between: sum(inv, "between_ms"), end: sum(inv, "end_ms") },
  };
}

/** Interleaved blocks of sequential requests: median wall time (and OS CPU) per request of each kind. */
async function compare(worker, kinds) {
  const pids = worker.workerdPids();
  const wall = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  for (const path of Object.values(kinds)) for (let i = 0; i < 5; i++) await request(worker.baseUrl, path); // warm
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? Object.entries(kinds).reverse() : Object.entries(kinds);
    for (const [name, path] of order) {
      const c0 = cpuMs(pids);
      const t0 = performance.now();
      for (let i = 0; i < BLOCK; i++) await request(worker.baseUrl, path);
      wall[name].push((performance.now() - t0) / BLOCK);
      cpu[name].push((cpuMs(pids) - c0) / BLOCK);
    }
  }
  return Object.fromEntries(Object.keys(kinds).map((k) => [k, { path: kinds[k], wall_ms: median(wall[k]), cpu_ms: median(cpu[k]), wall_samples: wall[k] }]));
}

const result = { records: RECORDS, range: RANGE, xiaoe_limit: XIAOE_LIMIT, lingxing_latency_ms: LINGXING_LATENCY_MS };
say(`simulator with ${RECORDS} records per platform (${RANGE.from} to ${RANGE.to})...`);
const sim = await startSimulator({ records: RECORDS, seed: 11, dateRange: RANGE, xiaoeRateLimit: XIAOE_LIMIT, lingxingLatencyMs: LINGXING_LATENCY_MS });
const persistTo = mkdtempSync(join(tmpdir(), "aftersale-bench-mirror-"));
const workerOptions = (name, vars) => ({
  logDir: opt.logs,
  name,
  persistTo,
  ...simulatorWorker(sim, { clientKey: CLIENT_KEY, cursorSecret: "bench-mirror-cursor-secret-0c7a", vars: { SYNC_FROM, SYNC_LAG_S: "60", ...vars } }),
});
let worker = null;
try {
  worker = await startWrangler(workerOptions("wrangler-mirror-sync", { XIAOE_RATE_LIMIT: `${XIAOE_LIMIT.limit}/${XIAOE_LIMIT.windowMs}ms`, ...(opt["sync-calls"] ? { SYNC_MAX_CALLS: String(opt["sync-calls"]) } : {}) }));
  result.sync_calls_per_invocation = Number(opt["sync-calls"] ?? 10);
  const healthPids = worker.workerdPids();
  const h0 = cpuMs(healthPids);
  for (let i = 0; i < 50; i++) await fetch(`${worker.baseUrl}/healthz`).then((r) => r.arrayBuffer());
  result.healthz_cpu_ms = (cpuMs(healthPids) - h0) / 50;

  result.sync = [];
  for (const platform of ["xiaoe", "lingxing"]) {
    const timed = timeRoute(sim, LISTS[platform]);
    const before = sim.stats();
    const run = { platform };
    try {
      const done = await syncUntilDone(worker, platform, timed);
      run.ms = done.ms;
      run.per_invocation = done.invocations;
      Object.assign(run, summarize(done));
    } catch (e) {
      run.error = e.message;
    } finally {
      timed.restore();
    }
    const after = sim.stats();
    run.throttled = after.throttled[platform] - before.throttled[platform];
    run.data_calls = after.dataCalls[platform] - before.dataCalls[platform];
    const status = await request(worker.baseUrl, "/v1/sync/status");
    run.rows = status.json.platforms[platform].rows;
    if (platform === "xiaoe") {
      const need = xiaoeCallsNeeded(sim);
      run.expected_rows = need.records;
      run.min_calls = need.calls;
      run.t_min_ms = Math.floor(Math.max(need.calls - 1, 0) / XIAOE_LIMIT.limit) * XIAOE_LIMIT.windowMs;
      run.t_min_how = `${need.calls} calls (pages of ${XIAOE_PAGE} in ${need.windows} windows of <= ${WINDOW_DAYS} days); ${XIAOE_LIMIT.limit} calls per ${XIAOE_LIMIT.windowMs} ms sliding window allow them in floor((C - 1) / limit) x window = ${run.t_min_ms} ms`;
    } else {
      const truthL = sim.truth("lingxing", { from: "2000-01-01", to: "2100-01-01", date_type: 3 });
      run.expected_rows = truthL.reduce((n, r) => n + (r.item_list?.length ?? 0), 0);
      run.t_min_ms = timed.calls.reduce((s, x) => s + (x.done - x.at), 0);
      run.min_calls = run.calls;
      run.t_min_how = `one call in flight: the simulator's own time serving the ${run.calls ?? "?"} calls (pages of 5000, ${LINGXING_LATENCY_MS} ms bucket hold each) = ${Math.round(run.t_min_ms)} ms`;
    }
    if (run.ms !== undefined) run.ratio = run.ms / run.t_min_ms;
    say(
      `${platform} sync: ${run.error ?? `${run.rows} rows (expected ${run.expected_rows}) in ${(run.ms / 1000).toFixed(2)} s over ${run.invocations} invocations, ${run.calls} calls (needed ${run.min_calls}), ` +
        `T_min ${(run.t_min_ms / 1000).toFixed(2)} s → ${run.ratio.toFixed(2)}×; CPU per invocation median ${run.cpu_ms_per_invocation.median.toFixed(1)} ms, max ${run.cpu_ms_per_invocation.max.toFixed(1)} ms; ` +
        `split (ms): ${JSON.stringify(Object.fromEntries(Object.entries(run.split_ms).map(([k, v]) => [k, Math.round(v)])))}`}; throttled ${run.throttled}`,
    );
    result.sync.push(run);
  }
  await worker.stop();
  worker = null;

  // Pages: the same state, the limit lifted, so only the proxy's own work is timed.
  sim.setFaults({ xiaoeRateLimit: { limit: 1_000_000, windowMs: 60_000 } });
  worker = await startWrangler(workerOptions("wrangler-mirror-pages", { XIAOE_RATE_LIMIT: "1000000/60s" }));
  const query = `from=${RANGE.from}&to=${day(1)}&date_field=updated&limit=100`;
  const kinds = {
    live: `/v1/aftersales?platform=xiaoe&${query}`,
    mirror: `/v1/aftersales?platform=xiaoe&source=mirror&${query}`,
    all: `/v1/aftersales?platform=all&limit=100`,
  };
  const live = (await request(worker.baseUrl, kinds.live)).json;
  const mirror = (await request(worker.baseUrl, kinds.mirror)).json;
  const ids = (page) => page.data.map((r) => r.id);
  result.same_records = JSON.stringify([...ids(live)].sort()) === JSON.stringify([...ids(mirror)].sort());
  result.same_order = JSON.stringify(ids(live)) === JSON.stringify(ids(mirror));
  result.page_records = { live: live.data.length, mirror: mirror.data.length };
  result.pages = await compare(worker, kinds);
  result.ratio_live_over_mirror = result.pages.live.wall_ms / result.pages.mirror.wall_ms;
  result.ratio_live_over_all = result.pages.live.wall_ms / result.pages.all.wall_ms;
  say(
    `pages of 100: live ${result.pages.live.wall_ms.toFixed(2)} ms, mirror ${result.pages.mirror.wall_ms.toFixed(2)} ms, platform=all ${result.pages.all.wall_ms.toFixed(2)} ms ` +
      `→ live / mirror ${result.ratio_live_over_mirror.toFixed(2)}× (same records: ${result.same_records}, same order: ${result.same_order})`,
  );

  // The isolate's CPU per sync invocation: records updated today, then invocations of 10 pages
  // of 100 under V8's profiler (today's day is re-read whole, so each has its full 10 pages).
  sim.addRecords("xiaoe", 100 * 10 * (PROFILED + 1), { update_time: Math.floor(Date.now() / 1000) - 300 });
  const dt = await devtools(worker.inspectorPort);
  try {
    await dt.send("Profiler.enable");
    await dt.send("Profiler.setSamplingInterval", { interval: 100 });
    await dt.send("Profiler.start");
    const pages = [];
    for (let i = 0; i < PROFILED; i++) pages.push((await request(worker.baseUrl, "/v1/sync?platform=xiaoe", { method: "POST" })).json.platforms.xiaoe.pages);
    const stopped = await dt.send("Profiler.stop");
    await dt.send("Profiler.disable");
    result.sync_profile = { pages_per_invocation: pages, ...analyse(stopped.result.profile, PROFILED, SYNC_GROUPS) };
    const p = result.sync_profile;
    say(
      `sync under the profiler: ${pages.join(", ")} pages an invocation; isolate busy ${p.busy_ms_per_request.toFixed(1)} ms an invocation (GC ${p.gc_ms_per_request.toFixed(1)}); ` +
        Object.entries(p.inclusive_ms_per_request).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", "),
    );
  } catch (e) {
    result.sync_profile_error = e.message;
    say(`profiler: ${e.message}`);
  } finally {
    dt.close();
  }
} catch (e) {
  result.error = e.message;
  say(e.message);
} finally {
  if (worker) await worker.stop();
  await sim.close();
  rmSync(persistTo, { recursive: true, force: true });
}
writeJson(opt.out, result);
