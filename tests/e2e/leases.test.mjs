// End-to-end tests of the Worker's path to the upstream (issue 12): the account object grants
// leases, handlers fetch the upstream themselves. One Worker with a small subrequest budget, a
// short lease and a scaled Xiaoe window, against the simulator:
// - exports past their subrequest budget end with {"continue":"<cursor>"} and go on from it,
//   nothing lost or repeated;
// - 5 concurrent exports against tokens expiring every 6 uses all complete and equal the truth;
// - 10 concurrent exports on one account stay within its limit and each equals the truth;
// - a handler that dies holding Lingxing's one slot blocks the account only until its lease ends.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startStack } from "./harness.mjs";
import { expectLingxing, expectXiaoe, pick } from "./expect.mjs";

const RANGE = { from: "2023-01-01", to: "2023-07-01" };
const XIAOE_LIMIT = { limit: 20, windowMs: 2_000 };
const LEASE_TIMEOUT_MS = 3_000;
const BUDGET = 20;
const LINGXING_LIST = "/erp/sc/routing/amzod/order/afterSaleList";

let stack;
const qs = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null)).toString();

const truth = (platform) =>
  platform === "xiaoe"
    ? stack.sim.truth("xiaoe", { ...RANGE, date_type: "created_at" }).map(expectXiaoe)
    : stack.sim.truth("lingxing", { ...RANGE, date_type: 1 }).flatMap(expectLingxing);

/** Every expected record exactly once, with the expected fields. */
function assertTruth(records, expected, label) {
  const seen = new Map();
  for (const r of records) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
  const repeated = [...seen].filter(([, n]) => n > 1);
  assert.equal(repeated.length, 0, `${label}: repeated ${repeated.slice(0, 3).map(([id, n]) => `${id} ×${n}`).join(", ")}`);
  const byId = new Map(records.map((r) => [r.id, r]));
  const missing = expected.filter((e) => !byId.has(e.id));
  assert.equal(missing.length, 0, `${label}: ${missing.length} of ${expected.length} missing, e.g. ${missing.slice(0, 3).map((e) => e.id)}`);
  assert.equal(records.length, expected.length, `${label}: ${records.length} records, ${expected.length} expected`);
  for (const e of expected) assert.deepStrictEqual(pick(byId.get(e.id), e), e, `${label}: ${e.id}`);
}

/** An export followed through its continuation lines; returns every record and the parts. */
async function exportAll(platform) {
  const records = [];
  let cursor = null;
  let parts = 0;
  for (; parts < 100; parts++) {
    const path = `/v1/aftersales/export?${qs(cursor ? { cursor } : { platform, ...RANGE })}`;
    const res = await stack.stream(path);
    assert.equal(res.status, 200, `${path} → ${res.status} ${res.text.slice(0, 300)}`);
    assert.ok(res.text.endsWith("\n"), `no final newline: ...${res.text.slice(-200)}`);
    const lines = res.text.split("\n").slice(0, -1).map((l) => JSON.parse(l));
    const last = lines.at(-1);
    const body = lines.slice(0, -1);
    for (const r of body) assert.ok(typeof r.id === "string", `not a record: ${JSON.stringify(r).slice(0, 200)}`);
    records.push(...body);
    if (last && typeof last.continue === "string") {
      assert.deepEqual(Object.keys(last), ["continue"], `the continuation line is {"continue":"<cursor>"}: ${JSON.stringify(last)}`);
      cursor = last.continue;
      continue;
    }
    assert.deepEqual(last, { done: true, count: body.length }, `last line of part ${parts + 1}`);
    return { records, parts: parts + 1 };
  }
  assert.fail(`${platform}: still continuing after ${parts} parts`);
}

/** The most calls that arrived within any `windowMs` of `times`. */
function busiest(times, windowMs) {
  let worst = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= windowMs) j++;
    worst = Math.max(worst, i - j + 1);
  }
  return worst;
}

describe("the Worker's path to the upstream: leases", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    stack = await startStack({
      records: 300,
      seed: 1214,
      name: "wrangler-leases",
      vars: { XIAOE_RATE_LIMIT: `${XIAOE_LIMIT.limit}/${XIAOE_LIMIT.windowMs}ms`, LEASE_TIMEOUT_MS: String(LEASE_TIMEOUT_MS), SUBREQUEST_BUDGET: String(BUDGET) },
    });
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await stack?.stop();
  }, { timeout: 60_000 });

  beforeEach(() => {
    stack.sim.reset();
    stack.sim.setFaults({ xiaoeRateLimit: XIAOE_LIMIT });
  });

  it("/healthz reports no configuration problem with these variables", async () => {
    const res = await stack.get("/healthz", { key: null });
    assert.equal(res.status, 200);
    assert.equal(res.json.config_problems, undefined, res.text);
  });

  it("an export past its subrequest budget continues from its cursor: nothing lost or repeated", async () => {
    for (const platform of ["xiaoe", "lingxing"]) {
      const { records, parts } = await exportAll(platform);
      if (platform === "xiaoe") assert.ok(parts >= 2, `xiaoe: ${parts} part(s): the budget of ${BUDGET} should have cut the export`);
      assertTruth(records, truth(platform), platform);
    }
    assert.equal(stack.sim.stats().throttled.xiaoe, 0, "throttled");
  });

  it("a page request stays within its subrequest budget and says how many it made", async () => {
    const res = await stack.get(`/v1/aftersales?${qs({ platform: "xiaoe", ...RANGE, limit: 100 })}`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    const used = Number(res.headers["x-subrequests"]);
    assert.ok(used >= 2 && used <= BUDGET, `x-subrequests: ${res.headers["x-subrequests"]}`);
  });

  it("5 concurrent exports against tokens expiring every 6 uses all complete and equal the truth", async () => {
    // A Lingxing export here is one call of 5000 records: its tokens last 2 uses, so they expire too.
    stack.sim.setFaults({ tokenMaxUses: { xiaoe: 6, lingxing: 2 } });
    for (const platform of ["xiaoe", "lingxing"]) {
      const before = stack.sim.stats();
      const runs = await Promise.all(Array.from({ length: 5 }, () => exportAll(platform)));
      const expected = truth(platform);
      runs.forEach((run, i) => assertTruth(run.records, expected, `${platform} export ${i + 1}`));
      const s = stack.sim.stats();
      const fetched = s.tokenFetches[platform] - before.tokenFetches[platform] + (platform === "lingxing" ? s.refreshes.lingxing - before.refreshes.lingxing : 0);
      assert.ok(fetched >= 2, `${platform}: tokens were renewed (${fetched})`);
    }
    assert.equal(stack.sim.stats().concurrentRejections, 0, "Lingxing saw two calls in flight");
  });

  it("10 concurrent exports on one account stay within its limit and each equals the truth", async () => {
    const from = stack.upstreamCalls.length;
    const runs = await Promise.all(Array.from({ length: 10 }, () => exportAll("xiaoe")));
    const expected = truth("xiaoe");
    runs.forEach((run, i) => assertTruth(run.records, expected, `export ${i + 1}`));
    const times = stack.upstreamCalls.slice(from).filter((c) => c.endpoint === "xiaoe").map((c) => c.at);
    assert.ok(times.length > 2 * XIAOE_LIMIT.limit, `only ${times.length} calls: the limit would not bind`);
    // Arrival times at the simulator: 100 ms of slack for the latency between pacer and upstream.
    const worst = busiest(times, XIAOE_LIMIT.windowMs - 100);
    assert.ok(worst <= XIAOE_LIMIT.limit, `${worst} calls within ${XIAOE_LIMIT.windowMs - 100} ms (limit ${XIAOE_LIMIT.limit})`);
    assert.equal(stack.sim.stats().throttled.xiaoe, 0, "the upstream throttled");
    const span = times.at(-1) - times[0];
    const minimum = (Math.ceil(times.length / XIAOE_LIMIT.limit) - 1) * XIAOE_LIMIT.windowMs;
    assert.ok(span >= minimum - 200, `${times.length} calls in ${span} ms: faster than the limit allows (${minimum} ms)`);
  });

  it("a handler killed while holding Lingxing's slot blocks the account only until its lease ends", async () => {
    const route = stack.sim.simulator.routes.get(LINGXING_LIST);
    const original = route.handler;
    let first = true;
    // The first call hangs far past the lease and never reaches the bucket; the rest are served.
    route.handler = async (ctx) => {
      if (!first) return original(ctx);
      first = false;
      ctx.req.resume();
      await sleep(20_000);
      try {
        ctx.res.writeHead(503).end();
      } catch {
        // the Worker gave up on it long ago
      }
    };
    try {
      const path = `/v1/aftersales?${qs({ platform: "lingxing", from: "2023-03-01", to: "2023-03-08" })}`;
      const killed = new AbortController();
      const dying = stack.get(path, { signal: killed.signal }).catch(() => null);
      const t0 = Date.now();
      while (first && Date.now() - t0 < 10_000) await sleep(20);
      assert.equal(first, false, "the first call never reached the upstream");
      killed.abort(); // the handler's client goes away; its slot stays leased
      const start = Date.now();
      const res = await stack.get(path);
      const waited = Date.now() - start;
      assert.equal(res.status, 200, res.text.slice(0, 300));
      assert.ok(waited < LEASE_TIMEOUT_MS + 3_000, `the next caller waited ${waited} ms (lease ${LEASE_TIMEOUT_MS} ms)`);
      await dying;
    } finally {
      route.handler = original;
    }
  });
});
