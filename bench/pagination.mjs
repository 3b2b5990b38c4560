// Pagination against rate limits: the proxy's export (GET /v1/aftersales/export) of N records per
// platform from the upstream simulator, timed against the minimum the limits allow.
//
// - Lingxing: one request in flight per appId and URL, each list call holding the bucket
//   `lingxingLatencyMs` (50 ms). The export reads pages of 5000 records (the largest `length`
//   Lingxing allows), so it needs ceil(N / 5000) calls, one after another. The limit alone allows
//   them in calls x 50 ms; the upstream itself also takes time to build and send a 5000-record
//   page (~10 MB), which no client can avoid: T_min = the larger of calls x 50 ms and the sum of
//   the simulator's own time per call (measured around its list handler, serial by the bucket).
// - Xiaoe: at most `limit` calls per sliding `windowMs`, scaled down here to 100 per 5 s for both
//   the simulator and the proxy's pacer (the Worker's XIAOE_RATE_LIMIT var, bench and tests
//   only), so the limit binds: pages hold 100 records and a query is split into windows of at
//   most 31 days, so the export needs C = sum over windows of ceil(records in window / 100)
//   calls (203 at 20,000 records), which the limit allows in floor((C - 1) / limit) x windowMs.
//   T_min = the larger of that and a direct client making the same calls one after another.
// Every answer the simulator throttled is counted (GET /__sim/stats `throttled`). The Worker
// logs each export's subrequests ("export ended: ... subrequests"), read back from its log.
//
//   node bench/pagination.mjs --out FILE --logs DIR [--records N] [--xiaoe-limit CALLS/WINDOW_MS]
import { setTimeout as sleep } from "node:timers/promises";
import { startSimulator } from "../tests/simulator/simulator.mjs";
import { args, log, simulatorWorker, startWrangler, writeJson } from "./lib.mjs";

const say = log("pagination");
const opt = args();
if (!opt.out || !opt.logs) {
  console.error("usage: node bench/pagination.mjs --out FILE --logs DIR [--records N]");
  process.exit(2);
}
const RECORDS = Number(opt.records ?? 20_000);
const LINGXING_LATENCY_MS = 50;
// 100 calls per 5 s: 50 ms per call, still 4× the real limit's pace (300 a minute, 200 ms per
// call), so the limit binds as it does in production; `--xiaoe-limit 100/2000` (20 ms per call,
// the pace of 300 per 6 s) makes the run bound by the proxy's own per-call cost instead.
const [xiaoeLimit, xiaoeWindowMs] = String(opt["xiaoe-limit"] ?? "100/5000").split("/").map(Number);
const XIAOE_LIMIT = { limit: xiaoeLimit, windowMs: xiaoeWindowMs };
const LINGXING_PAGE = 5000; // the Lingxing upstream's export page (its largest `length`)
const LINGXING_LIST = "/erp/sc/routing/amzod/order/afterSaleList";
const XIAOE_PAGE = 100; // aftersale::paginate::EXPORT_PAGE_SIZE_XIAOE
const XIAOE_WINDOW_DAYS = 31;
const FROM = "2023-01-01"; // the simulator's default data range, half-open
const TO = "2023-07-01";
const CLIENT_KEY = "bench-client-key-3f9a1c";
const EXPORT_TIMEOUT_MS = 240_000;

const DAY_MS = 86_400_000;
const addDays = (date, n) => new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

/** The proxy's Xiaoe windows: [from, to) cut into spans of at most 31 days, newest first. */
function xiaoeWindows(from, to) {
  const out = [];
  for (let end = to; end > from; ) {
    const start = addDays(end, -XIAOE_WINDOW_DAYS) > from ? addDays(end, -XIAOE_WINDOW_DAYS) : from;
    out.push([start, addDays(end, -1)]); // Xiaoe's created_at is "a||b", both days included
    end = start;
  }
  return out;
}

async function json(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url}: not JSON (HTTP ${res.status}): ${text.slice(0, 200)}`);
  }
}

/** The floor for Xiaoe: a direct client making the export's calls one after another. */
async function xiaoeDirect(sim) {
  const c = sim.credentials.xiaoe;
  const t0 = performance.now();
  const tok = await json(`${sim.url}/token?app_id=${c.app_id}&client_id=${c.client_id}&secret_key=${c.secret_key}&grant_type=client_credential`);
  const token = tok.data.access_token;
  let calls = 0;
  let records = 0;
  for (const [a, b] of xiaoeWindows(FROM, TO)) {
    for (let page = 1; ; page++) {
      const body = { access_token: token, created_at: `${a}||${b}`, page_index: page, page_size: XIAOE_PAGE };
      const r = await json(`${sim.url}/xe.ecommerce.after_sale.list/1.0.0`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      calls++;
      if (r.code !== 0) throw new Error(`direct Xiaoe call: ${r.code} ${r.msg}`);
      records += r.data.list.length;
      if (page * XIAOE_PAGE >= r.data.row_count) break;
    }
  }
  return { ms: performance.now() - t0, calls, records };
}

/** The export through the proxy: total time, first-line time, the done line. */
async function exportThrough(baseUrl, platform) {
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}/v1/aftersales/export?platform=${platform}&from=${FROM}&to=${TO}`, {
    headers: { authorization: `Bearer ${CLIENT_KEY}` },
    signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS),
  });
  if (res.status !== 200) throw new Error(`export ${platform}: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const decoder = new TextDecoder();
  let tail = "";
  let lines = 0;
  let firstAt = null;
  let last = null;
  for await (const chunk of res.body) {
    firstAt ??= performance.now() - t0;
    tail += decoder.decode(chunk, { stream: true });
    const parts = tail.split("\n");
    tail = parts.pop();
    for (const line of parts) {
      if (line === "") continue;
      lines++;
      last = line;
    }
  }
  if (tail.trim() !== "") {
    lines++;
    last = tail;
  }
  const ms = performance.now() - t0;
  let done = null;
  try {
    done = JSON.parse(last);
  } catch {
    // reported below
  }
  return { ms, first_line_ms: firstAt, lines, done };
}

const statsDelta = (after, before, platform) => {
  const pick = (s, k) => s[k]?.[platform] ?? 0;
  const keys = ["dataCalls", "okCalls", "throttled", "serverErrors", "authErrors", "tokenFetches", "maxInFlight"];
  return Object.fromEntries(keys.map((k) => [k, k === "maxInFlight" ? pick(after, k) : pick(after, k) - pick(before, k)]));
};

const result = { records: RECORDS, from: FROM, to: TO, xiaoe_limit: XIAOE_LIMIT, lingxing_latency_ms: LINGXING_LATENCY_MS };
say(`simulator with ${RECORDS} records per platform...`);
// The direct client runs unthrottled (its serial time is one floor); the limit is set after it.
const sim = await startSimulator({ records: RECORDS, seed: 7, xiaoeRateLimit: { limit: 1_000_000, windowMs: 60_000 }, lingxingLatencyMs: LINGXING_LATENCY_MS });
let worker = null;
try {
  // Ground truth: what the export must deliver.
  const truthX = await json(`${sim.url}/__sim/truth?platform=xiaoe&from=${FROM}&to=${TO}`);
  const truthL = await json(`${sim.url}/__sim/truth?platform=lingxing&from=${FROM}&to=${TO}`);
  const expected = {
    xiaoe: truthX.count,
    lingxing: truthL.records.reduce((n, r) => n + (r.item_list?.length ?? 0), 0),
    lingxing_upstream_records: truthL.count,
  };
  result.expected = expected;

  // Xiaoe's floor, measured before the proxy runs (then the simulator is reset: windows, stats).
  const direct = await xiaoeDirect(sim);
  say(`xiaoe direct client: ${direct.calls} calls, ${direct.records} records in ${direct.ms.toFixed(0)} ms`);
  await json(`${sim.url}/__sim/reset`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  await json(`${sim.url}/__sim/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ xiaoeRateLimit: XIAOE_LIMIT, lingxingLatencyMs: LINGXING_LATENCY_MS }),
  });
  await sleep(XIAOE_LIMIT.windowMs); // the direct client's calls leave the window

  worker = await startWrangler({
    logDir: opt.logs,
    name: "wrangler-pagination",
    logLevel: "log",
    ...simulatorWorker(sim, {
      clientKey: CLIENT_KEY,
      cursorSecret: "bench-cursor-secret-8d2e61b0",
      vars: {
        XIAOE_RATE_LIMIT: `${XIAOE_LIMIT.limit}/${XIAOE_LIMIT.windowMs}ms`,
        // A paid plan's budget: one export of 20,000 Xiaoe records makes ~200 upstream calls.
        SUBREQUEST_BUDGET: "1000",
      },
    }),
  });

  // The simulator's own time per Lingxing list call (bucket hold + building and sending the page).
  const route = sim.simulator.routes.get(LINGXING_LIST);
  const original = route.handler;
  const upstreamMs = [];
  route.handler = async (ctx) => {
    const t0 = performance.now();
    try {
      return await original(ctx);
    } finally {
      upstreamMs.push(performance.now() - t0);
    }
  };

  result.runs = [];
  for (const platform of ["lingxing", "xiaoe"]) {
    const logStart = worker.logText().length;
    upstreamMs.length = 0;
    const before = await json(`${sim.url}/__sim/stats`);
    const run = { platform };
    try {
      Object.assign(run, await exportThrough(worker.baseUrl, platform));
    } catch (e) {
      run.error = e.message;
    }
    const after = await json(`${sim.url}/__sim/stats`);
    await sleep(500); // wrangler writes the Worker's log line a little after the stream ends
    run.sim = statsDelta(after, before, platform);
    run.expected_count = expected[platform];
    run.count_ok = run.done?.done === true && run.done.count === expected[platform];
    const ended = [...worker.logText().slice(logStart).matchAll(/export ended: (\d+) records, (\d+) upstream calls, (\d+) subrequests/g)].at(-1);
    if (ended) run.subrequests = { records: Number(ended[1]), upstream_calls: Number(ended[2]), subrequests: Number(ended[3]) };
    if (platform === "lingxing") {
      run.min_calls = Math.ceil(expected.lingxing_upstream_records / LINGXING_PAGE);
      run.t_limit_ms = run.min_calls * LINGXING_LATENCY_MS;
      run.upstream_ms = upstreamMs.reduce((a, b) => a + b, 0);
      run.upstream_calls_ms = upstreamMs.map((x) => Math.round(x));
      run.t_min_ms = Math.max(run.t_limit_ms, run.upstream_ms);
      run.t_min_how = `ceil(${expected.lingxing_upstream_records} records / ${LINGXING_PAGE} per page) = ${run.min_calls} calls, one in flight: the bucket alone allows them in ${run.t_limit_ms} ms; the simulator itself took ${run.upstream_ms.toFixed(0)} ms serving them (bucket hold + building and sending each page)`;
    } else {
      run.min_calls = direct.calls;
      run.t_limit_ms = Math.floor(Math.max(direct.calls - 1, 0) / XIAOE_LIMIT.limit) * XIAOE_LIMIT.windowMs;
      run.t_min_ms = Math.max(run.t_limit_ms, direct.ms);
      run.t_min_how = `${direct.calls} calls (pages of ${XIAOE_PAGE} in ${xiaoeWindows(FROM, TO).length} windows of <= 31 days); the limit (${XIAOE_LIMIT.limit} per ${XIAOE_LIMIT.windowMs / 1000} s) allows them in ${run.t_limit_ms / 1000} s; a direct client making the same calls serially takes ${direct.ms.toFixed(0)} ms`;
      run.direct_client = direct;
    }
    if (run.ms !== undefined) run.ratio = run.ms / run.t_min_ms;
    if (run.subrequests) say(`${platform}: ${run.subrequests.subrequests} subrequests for ${run.subrequests.upstream_calls} upstream calls`);
    say(
      `${platform}: ${run.error ?? `${run.done?.count} records in ${run.ms.toFixed(0)} ms (first line at ${run.first_line_ms?.toFixed(0)} ms)`}; ` +
        `${run.sim.dataCalls} data calls, ${run.sim.throttled} throttled; T_min ${run.t_min_ms.toFixed(0)} ms → ${run.ratio?.toFixed(2)}×` +
        (run.count_ok ? "" : ` — COUNT MISMATCH (expected ${run.expected_count}, done line ${JSON.stringify(run.done)})`),
    );
    result.runs.push(run);
  }
} catch (e) {
  result.error = e.message;
  say(e.message);
} finally {
  if (worker) await worker.stop();
  await sim.close();
}
writeJson(opt.out, result);
