// End-to-end tests of the Worker proxy (SPEC.md §3, §4) under `wrangler dev`, against the upstream
// simulator. Run by scripts/test-e2e.sh (`node --test tests/e2e/`).
//
// Expectations come from the simulator's ground truth (its raw upstream records) through the small
// mapping in expect.mjs; nothing here imports the project's core or its wasm.
import assert from "node:assert/strict";
import { afterEach, after, before, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ALLOWED_ORIGINS, CLIENT_KEYS, delayRoute, mostInWindow, startStack } from "./harness.mjs";
import { ORDER_STATUS, STATUSES, expectLingxing, expectWechatShop, expectXiaoe, pick, xiaoeKind, xiaoeMatchesStatus } from "./expect.mjs";

const RANGE = { from: "2023-01-01", to: "2023-07-01" }; // the simulator's whole date range
const XIAOE_LIST = "/xe.ecommerce.after_sale.list/1.0.0";
const XIAOE_DATE_TYPE = { created: "created_at", updated: "updated_at", refunded: "refund_time" };
const LINGXING_DATE_TYPE = { created: 1, updated: 3 };
const MAX_REQUESTS = 400; // any walk longer than this is a pagination bug, not a slow proxy

let stack;

// ---------------------------------------------------------------- helpers

const qs = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null)).toString();
const show = (res) => `${res.method ?? "GET"} ${res.path} → ${res.status} ${res.text?.slice(0, 600)}`;

/** Retry-After in ms (seconds or an HTTP date), capped so a test stays bounded. */
function retryAfterMs(res, capMs = 70_000) {
  const value = res.headers["retry-after"];
  if (value === undefined) return 1_000;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Math.min(Math.max(ms, 0), capMs);
}

/**
 * Follows next_cursor from the first page to the last; returns every record and each page's
 * size. A 429 is honoured (Retry-After, at most a few times), as a client would.
 */
async function walk(params, { key, path = "/v1/aftersales", maxThrottled = 4 } = {}) {
  const records = [];
  const pages = [];
  let cursor = null;
  let throttled = 0;
  for (let n = 0; n < MAX_REQUESTS; n++) {
    const res = await stack.get(`${path}?${qs({ ...params, cursor })}`, { key });
    if (res.status === 429 && throttled < maxThrottled) {
      throttled += 1;
      assert.ok(res.headers["retry-after"] !== undefined, `429 without Retry-After: ${show(res)}`);
      await sleep(Math.min(retryAfterMs(res), 10_000));
      continue;
    }
    assert.equal(res.status, 200, show(res));
    assert.match(res.headers["content-type"] ?? "", /^application\/json/, show(res));
    const body = res.json;
    assert.ok(body && Array.isArray(body.data), `no data array: ${show(res)}`);
    assert.ok(body.next_cursor === null || (typeof body.next_cursor === "string" && body.next_cursor !== ""), `bad next_cursor: ${show(res)}`);
    assert.ok("total" in body && (body.total === null || (Number.isInteger(body.total) && body.total >= 0)), `bad total: ${show(res)}`);
    pages.push({ size: body.data.length, total: body.total });
    records.push(...body.data);
    if (body.next_cursor === null) return { records, pages, throttled };
    cursor = body.next_cursor;
  }
  assert.fail(`${path} ${qs(params)}: next_cursor still set after ${MAX_REQUESTS} requests`);
}

/** Every expected record arrives exactly once, with the expected fields, and nothing else. */
function assertSameRecords(actual, expected, label) {
  const problems = [];
  const seen = new Map();
  for (const record of actual) {
    assert.ok(record && typeof record.id === "string", `${label}: a record without an id: ${JSON.stringify(record)?.slice(0, 300)}`);
    seen.set(record.id, (seen.get(record.id) ?? 0) + 1);
  }
  const duplicates = [...seen].filter(([, n]) => n > 1);
  if (duplicates.length) problems.push(`${duplicates.length} ids delivered more than once, e.g. ${duplicates.slice(0, 3).map(([id, n]) => `${id} ×${n}`).join(", ")}`);
  const byId = new Map(actual.map((r) => [r.id, r]));
  const wanted = new Map(expected.map((e) => [e.id, e]));
  assert.equal(wanted.size, expected.length, `${label}: the truth itself repeats ids (test bug)`);
  const missing = [...wanted.keys()].filter((id) => !byId.has(id));
  const extra = [...byId.keys()].filter((id) => !wanted.has(id));
  if (missing.length) problems.push(`${missing.length} of ${wanted.size} expected ids missing, e.g. ${missing.slice(0, 3).join(", ")}`);
  if (extra.length) problems.push(`${extra.length} unexpected ids, e.g. ${extra.slice(0, 3).join(", ")}`);
  let mismatches = 0;
  for (const [id, exp] of wanted) {
    const got = byId.get(id);
    if (!got) continue;
    const picked = pick(got, exp);
    try {
      assert.deepStrictEqual(picked, exp);
    } catch {
      if (mismatches++ < 3) problems.push(`${id}: expected ${JSON.stringify(exp)}, got ${JSON.stringify(picked)}`);
    }
  }
  if (mismatches > 3) problems.push(`... ${mismatches} records with wrong fields in all`);
  assert.ok(problems.length === 0, `${label} (${actual.length} received, ${expected.length} expected):\n  ${problems.join("\n  ")}`);
}

const xiaoeTruth = (params, filter = () => true) =>
  stack.sim.truth("xiaoe", { from: params.from, to: params.to, date_type: XIAOE_DATE_TYPE[params.date_field ?? "created"], order_id: params.order_id }).filter(filter).map(expectXiaoe);
const lingxingTruth = (params) =>
  stack.sim.truth("lingxing", { from: params.from, to: params.to, date_type: LINGXING_DATE_TYPE[params.date_field ?? "created"] }).flatMap(expectLingxing);

/** Checks an error answer: status, JSON shape of SPEC §3, code, and (optionally) what the message names. */
function assertError(res, status, code, messagePattern) {
  assert.equal(res.status, status, show(res));
  assert.match(res.headers["content-type"] ?? "", /^application\/json/, show(res));
  const error = res.json?.error;
  assert.ok(error && typeof error === "object", `no error object: ${show(res)}`);
  assert.equal(error.code, code, show(res));
  assert.ok(typeof error.message === "string" && error.message.length > 0, `no message: ${show(res)}`);
  assert.ok("upstream" in error, `error.upstream missing (null or an object expected): ${show(res)}`);
  if (messagePattern) assert.match(error.message, messagePattern, `the message should say what was wrong: ${show(res)}`);
  return error;
}

/** The NDJSON export: lines, the final count line, and how the stream arrived. */
async function exportAll(params) {
  const res = await stack.stream(`/v1/aftersales/export?${qs(params)}`);
  assert.equal(res.status, 200, show(res));
  assert.match(res.headers["content-type"] ?? "", /^application\/x-ndjson/, show(res));
  assert.ok(res.text.endsWith("\n"), `the export should end with a newline: ...${res.text.slice(-200)}`);
  const lines = res.text.split("\n").slice(0, -1);
  const parsed = lines.map((line, i) => {
    try {
      return JSON.parse(line);
    } catch {
      assert.fail(`export line ${i + 1} is not JSON: ${line.slice(0, 300)}`);
    }
  });
  const last = parsed.at(-1);
  assert.deepEqual(last, { done: true, count: parsed.length - 1 }, `the last line should be {"done":true,"count":${parsed.length - 1}}`);
  return { ...res, records: parsed.slice(0, -1) };
}

const stats = () => stack.sim.stats();
const tokenUse = (s, account) => s.tokenFetches[account] + (account === "lingxing" ? s.refreshes.lingxing : 0);

// ---------------------------------------------------------------- the suite

describe("aftersale proxy end to end", { timeout: 30 * 60_000 }, () => {
  before(async () => {
    stack = await startStack({ records: 300, wechatOrders: 30, seed: 20230214 });
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await stack?.stop();
  }, { timeout: 60_000 });

  beforeEach(() => {
    stack?.sim.reset(); // data, faults, rate windows and stats; issued tokens survive
  });

  afterEach(() => {
    if (!stack) return;
    const s = stats();
    assert.equal(s.rejectedSigns, 0, "the simulator rejected a Lingxing sign or timestamp");
    assert.equal(s.concurrentRejections, 0, "Lingxing saw two calls in flight at once (the one-in-flight bucket)");
  });

  // ------------------------------------------------------------ access

  describe("access: keys, origins, health", () => {
    const path = `/v1/aftersales?${qs({ platform: "xiaoe", from: "2023-03-01", to: "2023-03-08" })}`;

    it("GET /healthz answers without a key", async () => {
      const res = await stack.get("/healthz", { key: null });
      assert.equal(res.status, 200, show(res));
      assert.match(res.headers["content-type"] ?? "", /^application\/json/);
      assert.equal(res.json?.ok, true, show(res));
      assert.ok("version" in res.json, show(res));
    });

    it("401 without a key, with a wrong key, with a malformed header", async () => {
      assertError(await stack.get(path, { key: null }), 401, "unauthorized");
      assertError(await stack.get(path, { key: "e2ekey-not-a-key" }), 401, "unauthorized");
      assertError(await stack.get(path, { key: null, headers: { authorization: CLIENT_KEYS[0] } }), 401, "unauthorized");
      assertError(await stack.get(path, { key: `${CLIENT_KEYS[0]}x` }), 401, "unauthorized");
      assert.equal(stats().dataCalls.xiaoe, 0, "an unauthenticated request reached the upstream");
    });

    it("every configured key is accepted", async () => {
      for (const key of CLIENT_KEYS) {
        const res = await stack.get(path, { key });
        assert.equal(res.status, 200, show(res));
      }
    });

    it("403 for a foreign Origin, and no CORS grant for it", async () => {
      const res = await stack.get(path, { headers: { origin: "https://evil.e2e.example" } });
      assertError(res, 403, "forbidden_origin");
      const granted = res.headers["access-control-allow-origin"];
      assert.ok(granted === undefined || (granted !== "*" && granted !== "https://evil.e2e.example"), `granted ${granted}`);
      assert.equal(stats().dataCalls.xiaoe, 0, "a request from a foreign origin reached the upstream");
    });

    it("an allowed Origin gets its CORS grant (and a secret key from it is refused, readably: SPEC §10)", async () => {
      for (const origin of ALLOWED_ORIGINS) {
        const res = await stack.get(path, { headers: { origin } });
        assertError(res, 403, "forbidden_origin", /ALLOW_SECRET_KEYS_FROM_BROWSERS/);
        assert.equal(res.headers["access-control-allow-origin"], origin, show(res));
      }
    });

    it("a preflight from an allowed origin is answered, with no key", async () => {
      const res = await stack.request(path, {
        method: "OPTIONS",
        key: null,
        headers: { origin: ALLOWED_ORIGINS[0], "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
      });
      assert.ok(res.status === 204 || res.status === 200, show(res));
      assert.equal(res.headers["access-control-allow-origin"], ALLOWED_ORIGINS[0], JSON.stringify(res.headers));
      assert.match(res.headers["access-control-allow-methods"] ?? "", /GET/i, JSON.stringify(res.headers));
      assert.match(res.headers["access-control-allow-headers"] ?? "", /authorization|\*/i, JSON.stringify(res.headers));
    });

    it("a preflight from a foreign origin is not granted", async () => {
      const res = await stack.request(path, {
        method: "OPTIONS",
        key: null,
        headers: { origin: "https://evil.e2e.example", "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
      });
      const granted = res.headers["access-control-allow-origin"];
      assert.ok(granted === undefined || (granted !== "*" && granted !== "https://evil.e2e.example"), `${show(res)} granted ${granted}`);
    });

    it("404 not_found for an unknown route", async () => {
      assertError(await stack.get("/v1/nothing-here"), 404, "not_found");
      assertError(await stack.get("/v2/aftersales?platform=xiaoe&from=2023-01-01&to=2023-01-02"), 404, "not_found");
      assertError(await stack.get("/v1/aftersales/nothing/more?platform=xiaoe"), 404, "not_found");
    });

    it("one after-sale by id only for platforms that look them up by id, naming the ones that do", async () => {
      const res = await stack.get("/v1/aftersales/nothing?platform=xiaoe");
      assertError(res, 400, "invalid_request");
      assert.match(res.json.error.message, /platform/);
      assert.match(res.json.error.message, /wechat_channels/);
    });
  });

  // ------------------------------------------------------------ validation

  describe("400 invalid_request names the parameter", () => {
    const base = { platform: "xiaoe", from: "2023-03-01", to: "2023-04-01" };
    const cases = [
      ["unknown platform", { ...base, platform: "amazon" }, /platform/],
      ["missing platform", { from: base.from, to: base.to }, /platform/],
      ["wechat platform on the list route", { ...base, platform: "wechat_shop" }, /platform/],
      ["impossible date", { ...base, from: "2023-02-30" }, /from/],
      ["not a date", { ...base, from: "20230301" }, /from/],
      ["bad to", { ...base, to: "2023-13-01" }, /\bto\b/],
      ["missing from", { platform: "xiaoe", to: base.to }, /from/],
      ["from equal to to", { ...base, to: base.from }, /from|to/],
      ["from after to", { ...base, from: "2023-05-01" }, /from|to/],
      ["limit 0", { ...base, limit: "0" }, /limit/],
      ["limit 101", { ...base, limit: "101" }, /limit/],
      ["limit not a number", { ...base, limit: "ten" }, /limit/],
      ["unknown status", { ...base, status: "pending,teleported" }, /status/],
      ["unknown kind", { ...base, kind: "gift" }, /kind/],
      ["unknown date_field", { ...base, date_field: "shipped" }, /date_field/],
      ["garbage cursor", { ...base, cursor: "not-a-cursor" }, /cursor/],
    ];
    for (const [name, params, pattern] of cases) {
      it(name, async () => {
        assertError(await stack.get(`/v1/aftersales?${qs(params)}`), 400, "invalid_request", pattern);
        assertError(await stack.get(`/v1/aftersales/export?${qs(params)}`), 400, "invalid_request", pattern);
        assert.equal(stats().dataCalls.xiaoe, 0, "an invalid request reached the upstream");
      });
    }

    it("missing openid for wechat_shop", async () => {
      const order = stack.sim.orders()[0];
      assertError(await stack.get(`/v1/orders/${order.order_id}/aftersales?platform=wechat_shop`), 400, "invalid_request", /openid/);
      assert.equal(stats().dataCalls.wechat, 0, "an invalid request reached the upstream");
    });

    it("a tampered cursor", async () => {
      const params = { ...base, limit: "5" };
      const first = await stack.get(`/v1/aftersales?${qs(params)}`);
      assert.equal(first.status, 200, show(first));
      const cursor = first.json.next_cursor;
      assert.ok(cursor, `a 5-record page of a month should have a next_cursor: ${show(first)}`);
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
      for (const at of [Math.floor(cursor.length / 2), Math.floor(cursor.length / 4), cursor.length - 3]) {
        const c = cursor[at];
        const swapped = alphabet[(alphabet.indexOf(c) + 7) % alphabet.length];
        const tampered = cursor.slice(0, at) + (alphabet.includes(c) ? swapped : "A") + cursor.slice(at + 1);
        assert.notEqual(tampered, cursor);
        assertError(await stack.get(`/v1/aftersales?${qs({ ...params, cursor: tampered })}`), 400, "invalid_request", /cursor/);
      }
      assertError(await stack.get(`/v1/aftersales?${qs({ ...params, cursor: cursor.slice(0, -4) })}`), 400, "invalid_request", /cursor/);
    });

    it("a cursor replayed with other filters", async () => {
      const params = { ...base, limit: "5" };
      const first = await stack.get(`/v1/aftersales?${qs(params)}`);
      assert.equal(first.status, 200, show(first));
      const cursor = first.json.next_cursor;
      assert.ok(cursor, show(first));
      // the same filters are fine
      const same = await stack.get(`/v1/aftersales?${qs({ ...params, cursor })}`);
      assert.equal(same.status, 200, show(same));
      for (const other of [{ to: "2023-04-02" }, { from: "2023-02-28" }, { status: "completed" }, { kind: "refund" }, { platform: "lingxing" }, { date_field: "updated" }]) {
        const res = await stack.get(`/v1/aftersales?${qs({ ...params, ...other, cursor })}`);
        assertError(res, 400, "invalid_request", /cursor/);
      }
    });
  });

  // ------------------------------------------------------------ xiaoe

  describe("xiaoe: paging equals the truth", () => {
    const cases = [
      ["the whole range (181 days: six upstream windows), limit 37", { ...RANGE, limit: "37" }],
      ["73 days (> 31), limit 100", { from: "2023-02-03", to: "2023-04-17", limit: "100" }],
      ["a month, default limit", { from: "2023-05-01", to: "2023-06-01" }],
      ["exactly 31 days", { from: "2023-03-01", to: "2023-04-01", limit: "13" }],
      ["32 days", { from: "2023-03-01", to: "2023-04-02", limit: "13" }],
      ["by update date, 75 days", { from: "2023-03-01", to: "2023-05-15", date_field: "updated", limit: "50" }],
      ["by refund date, whole range", { ...RANGE, date_field: "refunded", limit: "40" }],
    ];
    for (const [name, q] of cases) {
      it(name, async () => {
        const params = { platform: "xiaoe", ...q };
        const expected = xiaoeTruth(params);
        assert.ok(expected.length > 0, "the truth is empty (test bug)");
        const { records, pages } = await walk(params);
        assertSameRecords(records, expected, `xiaoe ${qs(params)}`);
        const limit = Number(q.limit ?? 50);
        const over = pages.filter((p) => p.size > limit);
        assert.equal(over.length, 0, `Xiaoe pages larger than limit ${limit}: ${JSON.stringify(over)}`);
        assert.ok(tokenUse(stats(), "xiaoe") <= 1, `token fetched ${tokenUse(stats(), "xiaoe")} times for one walk`);
      });
    }

    const filtered = [
      ["status=refunding,completed", { status: "refunding,completed" }, (w) => xiaoeMatchesStatus(w, ["refunding", "completed"])],
      ["status=rejected,closed (outside Xiaoe's sales_state groups)", { status: "rejected,closed" }, (w) => xiaoeMatchesStatus(w, ["rejected", "closed"])],
      ["status=pending (overdue included)", { status: "pending" }, (w) => xiaoeMatchesStatus(w, ["pending"])],
      ["status=awaiting_merchant_receipt,cancelled", { status: "awaiting_merchant_receipt,cancelled" }, (w) => xiaoeMatchesStatus(w, ["awaiting_merchant_receipt", "cancelled"])],
      ["kind=exchange", { kind: "exchange" }, (w) => xiaoeKind(w) === "exchange"],
      ["kind=return_refund", { kind: "return_refund" }, (w) => xiaoeKind(w) === "return_refund"],
      ["kind=refund and status=completed", { kind: "refund", status: "completed" }, (w) => xiaoeKind(w) === "refund" && xiaoeMatchesStatus(w, ["completed"])],
    ];
    for (const [name, filter, predicate] of filtered) {
      it(`${name}, whole range, limit 20`, async () => {
        const params = { platform: "xiaoe", ...RANGE, limit: "20", ...filter };
        const expected = xiaoeTruth(params, predicate);
        assert.ok(expected.length > 0, "the truth is empty (test bug)");
        const { records } = await walk(params);
        assertSameRecords(records, expected, `xiaoe ${qs(params)}`);
      });
    }

    it("a cursor alone carries the whole query", async () => {
      const params = { platform: "xiaoe", from: "2023-02-10", to: "2023-05-20", limit: "30", status: "completed,refunding,pending" };
      const expected = xiaoeTruth(params, (w) => xiaoeMatchesStatus(w, ["completed", "refunding", "pending"]));
      const first = await stack.get(`/v1/aftersales?${qs(params)}`);
      assert.equal(first.status, 200, show(first));
      const records = [...first.json.data];
      let cursor = first.json.next_cursor;
      for (let n = 0; cursor !== null && n < MAX_REQUESTS; n++) {
        const res = await stack.get(`/v1/aftersales?${qs({ cursor })}`);
        assert.equal(res.status, 200, show(res));
        records.push(...res.json.data);
        cursor = res.json.next_cursor;
      }
      assert.equal(cursor, null, "next_cursor never became null");
      assertSameRecords(records, expected, `xiaoe by cursor alone ${qs(params)}`);
    });

    it("order_id filter", async () => {
      const some = stack.sim.truth("xiaoe", { from: "2023-04-01", to: "2023-05-01" })[3];
      const params = { platform: "xiaoe", ...RANGE, order_id: some.order_id };
      const expected = xiaoeTruth(params);
      assert.ok(expected.length >= 1);
      const { records } = await walk(params);
      assertSameRecords(records, expected, `xiaoe ${qs(params)}`);
    });

    it("include_raw=true gives the upstream record; without it there is none", async () => {
      const params = { platform: "xiaoe", from: "2023-04-01", to: "2023-04-15" };
      const wires = new Map(stack.sim.truth("xiaoe", params).map((w) => [`xiaoe:${w.aftersale_id}`, w]));
      const withRaw = await walk({ ...params, include_raw: "true" });
      assert.equal(withRaw.records.length, wires.size);
      for (const record of withRaw.records) assert.deepEqual(record.raw, wires.get(record.id), `raw of ${record.id}`);
      const without = await walk(params);
      for (const record of without.records) assert.ok(record.raw === undefined || record.raw === null, `raw given unasked for ${record.id}`);
    });
  });

  // ------------------------------------------------------------ lingxing

  describe("lingxing: paging equals the truth", () => {
    const cases = [
      ["the whole range, limit 40", { ...RANGE, limit: "40" }],
      ["70 days, default limit", { from: "2023-02-10", to: "2023-04-21" }],
      ["the whole range, limit 100", { ...RANGE, limit: "100" }],
      ["by update date, limit 25", { from: "2023-02-01", to: "2023-05-01", date_field: "updated", limit: "25" }],
    ];
    for (const [name, q] of cases) {
      it(name, async () => {
        const params = { platform: "lingxing", ...q };
        const expected = lingxingTruth(params);
        assert.ok(expected.length > 0, "the truth is empty (test bug)");
        const { records } = await walk(params);
        assertSameRecords(records, expected, `lingxing ${qs(params)}`);
        for (const r of records) {
          assert.ok(STATUSES.has(r.status), `${r.id}: status ${JSON.stringify(r.status)} is not one of SPEC §2`);
          // Every simulated shop has a known marketplace: site times carry its offset, updates Beijing's.
          assert.match(r.created_at, /[+-]\d\d:\d\d$/, `${r.id}: a site time without its marketplace's offset`);
          assert.match(r.updated_at, /\+08:00$/, `${r.id}: an update time not in Beijing time`);
        }
        assert.ok(tokenUse(stats(), "lingxing") <= 1, `token fetched ${tokenUse(stats(), "lingxing")} times for one walk`);
      });
    }

    it("kind=exchange gives the exchange lines", async () => {
      const params = { platform: "lingxing", ...RANGE, kind: "exchange", limit: "30" };
      const expected = lingxingTruth(params).filter((e) => e.kind === "exchange");
      assert.ok(expected.length > 0);
      const { records } = await walk(params);
      assertSameRecords(records, expected, `lingxing ${qs(params)}`);
    });
  });

  // ------------------------------------------------------------ export

  describe("export: NDJSON of every page", () => {
    it("xiaoe, whole range: every record once, a count line, streamed", async () => {
      const delay = delayRoute(stack.sim, XIAOE_LIST, 250);
      try {
        const params = { platform: "xiaoe", ...RANGE };
        const res = await exportAll(params);
        assertSameRecords(res.records, xiaoeTruth(params), `export ${qs(params)}`);
        assert.ok(delay.calls.length >= 6, `six windows need six upstream calls at least (saw ${delay.calls.length})`);
        assert.ok(res.firstLineAt !== null);
        const lastCall = delay.calls.at(-1);
        assert.ok(
          res.firstLineAt < lastCall,
          `the first line arrived ${res.firstLineAt - res.started} ms after the request, after the last upstream call began (${lastCall - res.started} ms): the export is buffered, not streamed`,
        );
      } finally {
        delay.restore();
      }
    });

    it("xiaoe with filters", async () => {
      const params = { platform: "xiaoe", ...RANGE, status: "completed,refunding", kind: "return_refund" };
      const res = await exportAll(params);
      const expected = xiaoeTruth(params, (w) => xiaoeKind(w) === "return_refund" && xiaoeMatchesStatus(w, ["completed", "refunding"]));
      assertSameRecords(res.records, expected, `export ${qs(params)}`);
    });

    it("lingxing, whole range", async () => {
      const params = { platform: "lingxing", ...RANGE };
      const res = await exportAll(params);
      assertSameRecords(res.records, lingxingTruth(params), `export ${qs(params)}`);
    });

    it("an empty range still ends with a count line", async () => {
      const res = await exportAll({ platform: "xiaoe", from: "2024-01-01", to: "2024-01-05" });
      assert.equal(res.records.length, 0);
    });
  });

  // ------------------------------------------------------------ faults

  describe("under upstream faults the results still equal the truth", () => {
    it("tokens that expire after a few uses", async () => {
      const maxUses = 3;
      stack.sim.setFaults({ tokenMaxUses: { xiaoe: maxUses, lingxing: maxUses, wechat: 2 } });
      const xiaoe = { platform: "xiaoe", ...RANGE, limit: "25" };
      assertSameRecords((await walk(xiaoe)).records, xiaoeTruth(xiaoe), "xiaoe");
      const lingxing = { platform: "lingxing", ...RANGE, limit: "30" };
      assertSameRecords((await walk(lingxing)).records, lingxingTruth(lingxing), "lingxing");
      for (const order of stack.sim.orders().slice(0, 6)) {
        const res = await stack.get(`/v1/orders/${order.order_id}?platform=wechat_store`);
        assert.equal(res.status, 200, show(res));
        assert.equal(res.json.data.order_id, order.order_id);
      }
      const s = stats();
      for (const account of ["xiaoe", "lingxing", "wechat"]) {
        const uses = account === "wechat" ? 2 : maxUses;
        const bound = Math.ceil(s.okCalls[account] / uses) + 2;
        assert.ok(tokenUse(s, account) <= bound, `${account}: ${tokenUse(s, account)} token fetches for ${s.okCalls[account]} calls (tokens last ${uses} calls; bound ${bound})`);
        assert.ok(s.authErrors[account] <= tokenUse(s, account) + 1, `${account}: ${s.authErrors[account]} token rejections for ${tokenUse(s, account)} fetches: the proxy retries with a dead token`);
      }
    });

    it("a burst of rate-limit answers (Xiaoe 2054, Lingxing 3001008)", async () => {
      stack.sim.setFaults({ throttleBurst: [{ platform: "xiaoe", count: 2 }, { platform: "lingxing", count: 2 }] });
      const xiaoe = { platform: "xiaoe", ...RANGE, limit: "50" };
      assertSameRecords((await walk(xiaoe)).records, xiaoeTruth(xiaoe), "xiaoe");
      const lingxing = { platform: "lingxing", ...RANGE, limit: "50" };
      assertSameRecords((await walk(lingxing)).records, lingxingTruth(lingxing), "lingxing");
      const s = stats();
      assert.equal(s.throttled.xiaoe, 2);
      assert.equal(s.throttled.lingxing, 2);
      assert.ok(tokenUse(s, "xiaoe") <= 1 && tokenUse(s, "lingxing") <= 1, `throttling should not cost tokens: ${JSON.stringify(s.tokenFetches)}`);
    });

    it("HTTP 503/502 pages from the upstream", async () => {
      stack.sim.setFaults({ serverErrors: [{ platform: "xiaoe", count: 2, status: 503 }, { platform: "lingxing", count: 1, status: 502 }] });
      const xiaoe = { platform: "xiaoe", ...RANGE, limit: "50" };
      assertSameRecords((await walk(xiaoe)).records, xiaoeTruth(xiaoe), "xiaoe");
      const lingxing = { platform: "lingxing", ...RANGE, limit: "50" };
      assertSameRecords((await walk(lingxing)).records, lingxingTruth(lingxing), "lingxing");
      const s = stats();
      assert.equal(s.serverErrors.xiaoe, 2);
      assert.equal(s.serverErrors.lingxing, 1);
    });

    it("WeChat system busy (-1)", async () => {
      stack.sim.setFaults({ busy: { platform: "wechat", count: 2 } });
      const order = stack.sim.orders().find((o) => o.aftersale_ids.length > 0);
      const res = await stack.get(`/v1/orders/${order.order_id}/aftersales?${qs({ platform: "wechat_shop", openid: order.openid })}`);
      assert.equal(res.status, 200, show(res));
      assertSameRecords(res.json.data, stack.sim.truth("wechat_shop", { order_id: order.order_id }).map(expectWechatShop), "wechat_shop");
      assert.equal(stats().busy.wechat, 2);
    });

    it("the list grows mid-walk (Xiaoe and Lingxing)", async () => {
      stack.sim.setFaults({ growAfterCalls: [{ platform: "xiaoe", afterCalls: 2, add: 3 }, { platform: "lingxing", afterCalls: 1, add: 2 }] });
      const xiaoe = { platform: "xiaoe", ...RANGE, limit: "10" };
      const before = xiaoeTruth(xiaoe).length;
      const xRecords = (await walk(xiaoe)).records;
      const xExpected = xiaoeTruth(xiaoe); // after the growth
      assert.equal(xExpected.length, before + 3, "the growth did not happen (test bug)");
      assertSameRecords(xRecords, xExpected, "xiaoe, grown");
      const lingxing = { platform: "lingxing", ...RANGE, limit: "30" };
      const lBefore = stack.sim.truth("lingxing", lingxing).length;
      const lRecords = (await walk(lingxing)).records;
      assert.equal(stack.sim.truth("lingxing", lingxing).length, lBefore + 2, "the growth did not happen (test bug)");
      assertSameRecords(lRecords, lingxingTruth(lingxing), "lingxing, grown");
    });

    it("the list grows during an export", async () => {
      stack.sim.setFaults({ growAfterCalls: { platform: "xiaoe", afterCalls: 1, add: 4 } });
      // One 31-day window with more records than an upstream page holds (100), so the growth
      // lands between two pages of the same window.
      stack.sim.addRecords("xiaoe", 500);
      const params = { platform: "xiaoe", from: "2023-03-01", to: "2023-04-01" };
      const before = xiaoeTruth(params).length;
      assert.ok(before > 100, `only ${before} records in the window (test bug)`);
      const res = await exportAll(params);
      assert.equal(xiaoeTruth(params).length, before + 4, "the growth did not happen (test bug)");
      assertSameRecords(res.records, xiaoeTruth(params), "export, grown");
    });

    it("Lingxing's one-in-flight bucket with several clients at once", async () => {
      stack.sim.setFaults({ lingxingLatencyMs: 150 });
      const ranges = [
        ["2023-01-01", "2023-02-15"],
        ["2023-02-15", "2023-04-01"],
        ["2023-04-01", "2023-05-15"],
        ["2023-05-15", "2023-07-01"],
      ];
      const walks = ranges.map(([from, to], i) => {
        const params = { platform: "lingxing", from, to, limit: "15" };
        return walk(params, { key: CLIENT_KEYS[i % CLIENT_KEYS.length] }).then((r) => ({ params, ...r }));
      });
      const exported = exportAll({ platform: "lingxing", ...RANGE });
      for (const { params, records } of await Promise.all(walks)) assertSameRecords(records, lingxingTruth(params), `lingxing ${qs(params)}`);
      assertSameRecords((await exported).records, lingxingTruth({ ...RANGE }), "lingxing export alongside");
      const s = stats();
      assert.ok(s.okCalls.lingxing >= 12, `expected a dozen upstream calls at least, saw ${s.okCalls.lingxing}`);
      assert.equal(s.maxInFlight.lingxing, 1, "more than one Lingxing call in flight at once");
      assert.ok(tokenUse(s, "lingxing") <= 1, `${tokenUse(s, "lingxing")} Lingxing token fetches for concurrent clients`);
    });

    it("many clients at once on Xiaoe share one token", async () => {
      stack.sim.reset({ tokens: true }); // force a fetch: concurrent clients must not each fetch one
      const walks = CLIENT_KEYS.flatMap((key, i) => [
        walk({ platform: "xiaoe", from: "2023-01-01", to: "2023-04-01", limit: String(20 + i) }, { key }),
        walk({ platform: "xiaoe", from: "2023-04-01", to: "2023-07-01", limit: String(30 + i) }, { key }),
      ]);
      const results = await Promise.all(walks);
      const firstHalf = xiaoeTruth({ from: "2023-01-01", to: "2023-04-01" });
      const secondHalf = xiaoeTruth({ from: "2023-04-01", to: "2023-07-01" });
      results.forEach((r, i) => assertSameRecords(r.records, i % 2 === 0 ? firstHalf : secondHalf, `xiaoe concurrent walk ${i}`));
      const s = stats();
      assert.ok(tokenUse(s, "xiaoe") <= 2, `${tokenUse(s, "xiaoe")} Xiaoe token fetches for ${walks.length} concurrent clients`);
    });
  });

  // ------------------------------------------------------------ wechat

  describe("wechat_shop and wechat_store", () => {
    it("after-sales of several orders equal the truth", async () => {
      const orders = stack.sim.orders().filter((o) => o.aftersale_ids.length > 0);
      const picked = [
        ...orders.filter((o) => o.aftersale_list_key === "aftersale_infos").slice(0, 3),
        ...orders.filter((o) => o.aftersale_list_key !== "aftersale_infos").slice(0, 3),
      ];
      assert.ok(picked.length >= 4, "not enough orders with after-sales (test bug)");
      for (const order of picked) {
        const res = await stack.get(`/v1/orders/${order.order_id}/aftersales?${qs({ platform: "wechat_shop", openid: order.openid })}`);
        assert.equal(res.status, 200, show(res));
        assert.ok(Array.isArray(res.json?.data), show(res));
        assertSameRecords(res.json.data, stack.sim.truth("wechat_shop", { order_id: order.order_id }).map(expectWechatShop), `wechat_shop ${order.order_id}`);
      }
      assert.ok(tokenUse(stats(), "wechat") <= 1);
    });

    it("an order without after-sales gives an empty list", async () => {
      const order = stack.sim.orders().find((o) => o.aftersale_ids.length === 0);
      const res = await stack.get(`/v1/orders/${order.order_id}/aftersales?${qs({ platform: "wechat_shop", openid: order.openid })}`);
      assert.equal(res.status, 200, show(res));
      assert.deepEqual(res.json.data, []);
    });

    it("someone else's openid is an error with the upstream's code", async () => {
      const [a, b] = stack.sim.orders();
      const res = await stack.get(`/v1/orders/${a.order_id}/aftersales?${qs({ platform: "wechat_shop", openid: b.openid })}`);
      assert.ok([400, 404, 502].includes(res.status), show(res));
      assert.ok(res.json?.error?.code, show(res));
      assert.equal(String(res.json.error.upstream?.code), "9401020", `the upstream's code should be passed on: ${show(res)}`);
    });

    it("orders from wechat_store, 19-digit ids intact", async () => {
      for (const order of stack.sim.orders().slice(0, 12)) {
        const res = await stack.get(`/v1/orders/${order.order_id}?platform=wechat_store`);
        assert.equal(res.status, 200, show(res));
        assert.match(res.headers["content-type"] ?? "", /^application\/json/);
        const data = res.json?.data;
        assert.ok(data && typeof data === "object", show(res));
        // The 19-digit id must survive as a string (a JSON number would lose digits): check the raw text too.
        assert.ok(res.text.includes(`"${order.order_id}"`), `order_id ${order.order_id} not in the body as a string`);
        const got = {
          id: data.id,
          platform: data.platform,
          order_id: data.order_id,
          out_order_id: data.out_order_id,
          status: data.status,
          status_raw: data.status_raw,
          aftersale_ids: (data.aftersale_ids ?? []).map((id) => String(id).replace(/^wechat_(shop|store):/, "")).sort(),
        };
        assert.deepEqual(got, {
          id: `wechat_store:${order.order_id}`,
          platform: "wechat_store",
          order_id: order.order_id,
          out_order_id: order.out_order_id,
          status: ORDER_STATUS[order.status] ?? "unknown",
          status_raw: order.status,
          aftersale_ids: [...order.aftersale_ids].sort(),
        });
      }
    });

    it("an unknown order is an error, not a crash", async () => {
      const res = await stack.get(`/v1/orders/3799999999999999999?platform=wechat_store`);
      assert.ok([400, 404, 502].includes(res.status), show(res));
      assert.ok(res.json?.error?.code, show(res));
    });
  });

  // ------------------------------------------------------------ upstream failures surfaced

  describe("failures the proxy cannot absorb", () => {
    /** Rotates an account's secret in the simulator and forgets every issued token. */
    async function withRotatedSecret(account, field, fn) {
      const creds = stack.sim.credentials[account];
      const saved = creds[field];
      creds[field] = `${saved}-rotated`;
      stack.sim.reset({ tokens: true });
      try {
        await fn();
      } finally {
        creds[field] = saved;
      }
    }

    async function recovers(path, label) {
      let res;
      for (let attempt = 0; attempt < 5; attempt++) {
        res = await stack.get(path);
        if (res.status === 200) return res;
        await sleep(Math.min(retryAfterMs(res), 5_000));
      }
      assert.fail(`${label}: no recovery after the upstream came back: ${show(res)}`);
    }

    const targets = [
      ["wechat", "secret", () => `/v1/orders/${stack.sim.orders()[0].order_id}?platform=wechat_store`],
      ["xiaoe", "secret_key", () => `/v1/aftersales?${qs({ platform: "xiaoe", from: "2023-03-01", to: "2023-03-05" })}`],
      ["lingxing", "appSecret", () => `/v1/aftersales?${qs({ platform: "lingxing", from: "2023-03-01", to: "2023-03-05" })}`],
    ];
    for (const [account, field, path] of targets) {
      it(`502 upstream_auth when ${account} refuses the credentials, and recovery`, async () => {
        await withRotatedSecret(account, field, async () => {
          const res = await stack.get(path());
          const error = assertError(res, 502, "upstream_auth");
          assert.ok(error.upstream && typeof error.upstream.platform === "string", `error.upstream should name the platform: ${show(res)}`);
        });
        await recovers(path(), account);
      });
    }

    it("429 rate_limited with Retry-After when Xiaoe keeps throttling, then recovery", async () => {
      stack.sim.setFaults({ throttleBurst: { platform: "xiaoe", count: 10_000 } });
      const path = `/v1/aftersales?${qs({ platform: "xiaoe", from: "2023-03-01", to: "2023-03-05" })}`;
      const res = await stack.get(path);
      assertError(res, 429, "rate_limited");
      const retryAfter = res.headers["retry-after"];
      assert.ok(retryAfter !== undefined && /^\d+$/.test(retryAfter), `Retry-After should be whole seconds: ${JSON.stringify(res.headers)}`);
      const calls = stats().dataCalls.xiaoe;
      assert.ok(calls >= 1 && calls <= 10, `${calls} upstream calls for one throttled request`);
      stack.sim.reset();
      await sleep(retryAfterMs(res));
      await recovers(path, "xiaoe after throttling");
    });

    it("502/504 when the upstream keeps failing, then recovery", async () => {
      stack.sim.setFaults({ serverErrors: { platform: "lingxing", count: 10_000, status: 503 }, busy: { platform: "wechat", count: 10_000 } });
      const lx = `/v1/aftersales?${qs({ platform: "lingxing", from: "2023-03-01", to: "2023-03-05" })}`;
      const wx = `/v1/orders/${stack.sim.orders()[1].order_id}?platform=wechat_store`;
      for (const path of [lx, wx]) {
        const res = await stack.get(path);
        assert.ok([502, 504].includes(res.status), show(res));
        assert.ok(["upstream_error", "upstream_unavailable"].includes(res.json?.error?.code), show(res));
      }
      const s = stats();
      assert.ok(s.serverErrors.lingxing <= 10 && s.busy.wechat <= 10, `retries should be bounded: ${JSON.stringify({ serverErrors: s.serverErrors, busy: s.busy })}`);
      stack.sim.reset();
      await recovers(lx, "lingxing");
      await recovers(wx, "wechat");
    });
  });

  // ------------------------------------------------------------ pacing over the whole run

  describe("pacing over the whole run", () => {
    it("Xiaoe never got more than 300 calls a minute (the simulator's windows were reset between tests; the proxy's pacer was not)", () => {
      const times = stack.upstreamCalls.filter((c) => c.endpoint === "xiaoe").map((c) => c.at);
      assert.ok(times.length > 300, `only ${times.length} Xiaoe calls in the run: the check would prove little`);
      const busiest = (windowMs) => mostInWindow(times, windowMs);
      // Times are arrivals at the simulator: allow a second for the latency between the proxy's
      // pacer and the simulator's clock.
      const worstStart = (windowMs) => {
        let worst = 0;
        let at = 0;
        for (let i = 0, j = 0; i < times.length; i++) {
          while (times[i] - times[j] >= windowMs) j++;
          if (i - j + 1 > worst) [worst, at] = [i - j + 1, times[j]];
        }
        return new Date(at).toISOString();
      };
      assert.ok(busiest(59_000) <= 300, `${busiest(59_000)} Xiaoe calls within 59 s (${busiest(60_000)} within 60 s), from ${worstStart(59_000)}`);
    });
  });

  // ------------------------------------------------------------ secrets

  describe("no secret leaves the Worker", () => {
    it("no credential, token or cursor secret in any response, cursor or log", () => {
      const secrets = stack.secrets();
      assert.ok(stack.issuedTokens().length >= 3, `the simulator issued only ${stack.issuedTokens().length} tokens: the scan would prove little`);
      assert.ok(stack.captured.length >= 100, `only ${stack.captured.length} responses captured`);
      const leaks = [];
      const scan = (where, text) => {
        for (const secret of secrets) if (text.includes(secret)) leaks.push(`${where} contains ${secret.slice(0, 6)}…`);
      };
      for (const res of stack.captured) {
        scan(`${res.method} ${res.path} body`, res.text);
        scan(`${res.method} ${res.path} headers`, JSON.stringify(res.headers));
        for (const m of res.text.matchAll(/"next_cursor":"([^"]+)"/g)) {
          for (const encoding of ["base64url", "base64"]) scan(`a cursor (${encoding}-decoded)`, Buffer.from(m[1], encoding).toString("latin1"));
        }
      }
      const log = stack.logText();
      assert.ok(log.length > 0, "the wrangler log is empty");
      scan(`the wrangler log ${stack.logFile}`, log);
      for (const key of CLIENT_KEYS) if (log.includes(key)) leaks.push(`the wrangler log contains the client key ${key.slice(0, 6)}…`);
      assert.deepEqual([...new Set(leaks)].slice(0, 20), []);
    });
  });
});

// ---------------------------------------------------------------- other configurations

describe("other configurations (each its own Worker and simulator)", { timeout: 10 * 60_000 }, () => {
  /** Starts a stack with `vars`, runs `fn(stack)`, stops it, and checks no secret leaked. */
  async function withStack(vars, name, fn) {
    const other = await startStack({ records: 40, wechatOrders: 5, seed: 7, vars, name });
    try {
      await fn(other);
    } finally {
      await other.stop();
    }
    const secrets = other.secrets();
    for (const res of other.captured) for (const secret of secrets) assert.ok(!res.text.includes(secret), `${res.path} leaked ${secret.slice(0, 6)}…`);
    const log = other.logText();
    for (const secret of [...secrets, ...CLIENT_KEYS]) assert.ok(!log.includes(secret), `${other.logFile} leaked ${secret.slice(0, 6)}…`);
  }

  it("a platform without credentials answers 400 naming what is missing; the others still work", { timeout: 5 * 60_000 }, async () => {
    await withStack({ XIAOE_SECRET_KEY: undefined, LINGXING_APP_ID: undefined, LINGXING_APP_SECRET: undefined }, "wrangler-missing-credentials", async (other) => {
      const range = qs({ from: "2023-03-01", to: "2023-05-01" });
      assertError(await other.get(`/v1/aftersales?platform=xiaoe&${range}`), 400, "invalid_request", /XIAOE_SECRET_KEY/);
      const lx = assertError(await other.get(`/v1/aftersales?platform=lingxing&${range}`), 400, "invalid_request", /LINGXING_APP_SECRET/);
      assert.match(lx.message, /LINGXING_APP_ID/);
      assertError(await other.get(`/v1/aftersales/export?platform=xiaoe&${range}`), 400, "invalid_request", /XIAOE_SECRET_KEY/);
      const order = other.sim.orders()[0];
      const res = await other.get(`/v1/orders/${order.order_id}?platform=wechat_store`);
      assert.equal(res.status, 200, show(res));
      const s = other.sim.stats();
      assert.equal(s.dataCalls.xiaoe + s.dataCalls.lingxing + s.tokenFetches.xiaoe + s.tokenFetches.lingxing, 0, "an unconfigured platform reached its upstream");
    });
  });

  it("with no CLIENT_KEYS outside the sandbox no caller is served", { timeout: 5 * 60_000 }, async () => {
    await withStack({ CLIENT_KEYS: undefined }, "wrangler-no-client-keys", async (other) => {
      const health = await other.get("/healthz", { key: null });
      assert.equal(health.status, 200, show(health));
      const path = `/v1/aftersales?${qs({ platform: "xiaoe", from: "2023-03-01", to: "2023-04-01" })}`;
      assertError(await other.get(path, { key: null }), 401, "unauthorized");
      assertError(await other.get(path), 401, "unauthorized");
      assert.equal(other.sim.stats().dataCalls.xiaoe, 0);
    });
  });

  it("SANDBOX=true with no CLIENT_KEYS serves every platform without a key and without upstreams", { timeout: 5 * 60_000 }, async () => {
    const vars = { SANDBOX: "true", CLIENT_KEYS: undefined, CURSOR_SECRET: undefined };
    for (const name of ["WECHAT_APPID", "WECHAT_SECRET", "XIAOE_APP_ID", "XIAOE_CLIENT_ID", "XIAOE_SECRET_KEY", "LINGXING_APP_ID", "LINGXING_APP_SECRET"]) vars[name] = undefined;
    // The base URLs still point at the simulator: the sandbox must not use them (no network).
    await withStack(vars, "wrangler-sandbox", async (other) => {
      for (const platform of ["xiaoe", "lingxing"]) {
        // The sandbox's calendar is its own: look through ten years, one year a query.
        const ids = new Set();
        for (let year = 2020; year < 2030; year++) {
          const params = { platform, from: `${year}-01-01`, to: `${year + 1}-01-01`, limit: "100" };
          let cursor = null;
          let pages = 0;
          do {
            const res = await other.get(`/v1/aftersales?${qs({ ...params, cursor })}`, { key: null });
            assert.equal(res.status, 200, show(res));
            for (const r of res.json.data) {
              assert.equal(r.platform, platform);
              assert.ok(r.id.startsWith(`${platform}:`), r.id);
              assert.ok(!ids.has(r.id), `${r.id} delivered twice`);
              ids.add(r.id);
            }
            cursor = res.json.next_cursor;
          } while (cursor !== null && ++pages < MAX_REQUESTS);
        }
        assert.ok(ids.size > 0, `the sandbox served no ${platform} records`);
      }
      const s = other.sim.stats();
      const calls = Object.values(s.dataCalls).reduce((a, b) => a + b, 0) + Object.values(s.tokenFetches).reduce((a, b) => a + b, 0);
      assert.equal(calls, 0, "the sandbox reached the simulator");
    });
  });
});
