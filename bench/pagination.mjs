// Pagination against rate limits: the proxy's export (GET /v1/aftersales/export) of N records per
// platform from the upstream simulator, timed against the minimum the limits allow.
//
// - Lingxing: one request in flight per appId and URL, each list call holding the bucket
//   `lingxingLatencyMs` (50 ms). The export reads pages of EXPORT_PAGE_SIZE_LINGXING (1000)
//   records, so it needs at least ceil(N / 1000) calls, one after another: T_min = calls x 50 ms.
// - Xiaoe: at most `limit` calls per sliding `windowMs` (scaled down here to 300 per 6 s; the
//   proxy's pacer is set for the real 300 per 60 s). Pages hold 100 records and a query is split
//   into windows of at most 31 days, so the export needs C = sum over windows of
//   ceil(records in window / 100) calls. The limit allows C calls in floor((C - 1) / limit) x
//   windowMs: zero for C <= 300, i.e. it does not bind at 20,000 records (~206 calls). The floor
//   used instead is a direct client making the same calls one after another, with no processing.
// Every answer the simulator throttled is counted (GET /__sim/stats `throttled`).
//
//   node bench/pagination.mjs --out FILE --logs DIR [--records N]
import { setTimeout as sleep } from "node:timers/promises";
import { startSimulator } from "../tests/simulator/simulator.mjs";
import { args, log, startWrangler, writeJson } from "./lib.mjs";

const say = log("pagination");
const opt = args();
if (!opt.out || !opt.logs) {
  console.error("usage: node bench/pagination.mjs --out FILE --logs DIR [--records N]");
  process.exit(2);
}
const RECORDS = Number(opt.records ?? 20_000);
const LINGXING_LATENCY_MS = 50;
const XIAOE_LIMIT = { limit: 300, windowMs: 6_000 };
const LINGXING_PAGE = 1000; // aftersale::paginate::EXPORT_PAGE_SIZE_LINGXING
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
const sim = await startSimulator({ records: RECORDS, seed: 7, xiaoeRateLimit: XIAOE_LIMIT, lingxingLatencyMs: LINGXING_LATENCY_MS });
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

  const c = sim.credentials;
  worker = await startWrangler({
    logDir: opt.logs,
    name: "wrangler-pagination",
    vars: {
      SANDBOX: "false",
      XIAOE_BASE_URL: sim.url,
      LINGXING_BASE_URL: sim.url,
      WECHAT_BASE_URL: sim.url,
      XIAOE_APP_ID: c.xiaoe.app_id,
    },
    secrets: {
      XIAOE_CLIENT_ID: c.xiaoe.client_id,
      XIAOE_SECRET_KEY: c.xiaoe.secret_key,
      LINGXING_APP_ID: c.lingxing.appId,
      LINGXING_APP_SECRET: c.lingxing.appSecret,
      CLIENT_KEYS: CLIENT_KEY,
      CURSOR_SECRET: "bench-cursor-secret-8d2e61b0",
    },
  });

  result.runs = [];
  for (const platform of ["lingxing", "xiaoe"]) {
    const before = await json(`${sim.url}/__sim/stats`);
    const run = { platform };
    try {
      Object.assign(run, await exportThrough(worker.baseUrl, platform));
    } catch (e) {
      run.error = e.message;
    }
    const after = await json(`${sim.url}/__sim/stats`);
    run.sim = statsDelta(after, before, platform);
    run.expected_count = expected[platform];
    run.count_ok = run.done?.done === true && run.done.count === expected[platform];
    if (platform === "lingxing") {
      run.min_calls = Math.ceil(expected.lingxing_upstream_records / LINGXING_PAGE);
      run.t_min_ms = run.min_calls * LINGXING_LATENCY_MS;
      run.t_min_how = `ceil(${expected.lingxing_upstream_records} records / ${LINGXING_PAGE} per page) = ${run.min_calls} calls, one in flight, each holding the bucket ${LINGXING_LATENCY_MS} ms`;
      run.t_min_at_upstream_max_page_ms = Math.ceil(expected.lingxing_upstream_records / 5000) * LINGXING_LATENCY_MS;
    } else {
      run.min_calls = direct.calls;
      run.t_limit_ms = Math.floor(Math.max(direct.calls - 1, 0) / XIAOE_LIMIT.limit) * XIAOE_LIMIT.windowMs;
      run.t_min_ms = Math.max(run.t_limit_ms, direct.ms);
      run.t_min_how = `${direct.calls} calls (pages of ${XIAOE_PAGE} in ${xiaoeWindows(FROM, TO).length} windows of <= 31 days); the limit (${XIAOE_LIMIT.limit} per ${XIAOE_LIMIT.windowMs / 1000} s) allows them in ${run.t_limit_ms / 1000} s, so the floor is a direct client making the same calls serially: ${direct.ms.toFixed(0)} ms`;
      run.direct_client = direct;
    }
    if (run.ms !== undefined) run.ratio = run.ms / run.t_min_ms;
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
