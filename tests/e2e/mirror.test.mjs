// The mirror (SPEC.md §9) end to end: workerd with its local D1 (migrations applied by the test
// toolkit) syncing from the upstream simulator. After syncs the mirror equals the simulator's
// truth; records the simulator adds or moves on reach the change feed exactly once; syncs stop
// within their budget and the next continues; two syncs at once never double a call.
// Expectations come from the simulator's truth through expect.mjs; nothing here imports the core.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startStack } from "./harness.mjs";
import { allChanges as changesOf, EVERYTHING, mirrorPages as pagesOf, qs, sameIds, show, syncUntilDone as syncOf, truth as mirrorTruth } from "./mirror-helpers.mjs";

const BUDGET = 8; // upstream calls per platform per invocation
let stack;

// The shared helpers, on this suite's stack.
const truth = () => mirrorTruth(stack);
const mirrorPages = (params) => pagesOf(stack, params);
const allChanges = (after) => changesOf(stack, after);
const syncUntilDone = () =>
  syncOf(stack, {
    check: (answer) => {
      for (const [platform, p] of Object.entries(answer.platforms)) {
        assert.ok(p.pages <= BUDGET, `${platform} read ${p.pages} pages in one invocation, over its budget of ${BUDGET}`);
      }
    },
  });

describe("the mirror", () => {
  before(async () => {
    // A lag of 1 s and an overlap of 5 s (defaults 180 and 300), so that a record written now is
    // promised by a sync two seconds later.
    stack = await startStack({
      records: 120,
      name: "mirror",
      vars: { SYNC_FROM: "2023-01-01", SYNC_MAX_CALLS: String(BUDGET), SYNC_LAG_S: "1", SYNC_OVERLAP_S: "5" },
    });
  });
  after(async () => {
    await stack?.stop();
  });

  it("a backfill in budgeted invocations equals the truth for every platform", async () => {
    const answers = await syncUntilDone();
    assert.ok(answers.length > 1, `the budget should have cut the backfill into several invocations (${answers.length})`);
    const expected = truth();
    const { records, total } = await mirrorPages({ platform: "all", date_field: "updated", limit: 100 });
    assert.equal(total, expected.length);
    sameIds(records, expected, "platform=all");
    // Newest first by the date field.
    const times = records.map((r) => Date.parse(r.updated_at)).filter(Number.isFinite);
    assert.ok(times.every((t, i) => i === 0 || times[i - 1] >= t), "not newest first");
    // One platform, a list of platforms.
    const xiaoe = await mirrorPages({ platform: "xiaoe", source: "mirror", date_field: "updated", limit: 37 });
    sameIds(xiaoe.records, expected.filter((e) => e.platform === "xiaoe"), "platform=xiaoe&source=mirror");
    const both = await mirrorPages({ platform: "lingxing,xiaoe", limit: 100 });
    assert.equal(both.total, expected.length);
  });

  it("the change feed has every record once, in strictly increasing sequence", async () => {
    const { changes } = await allChanges();
    const seqs = changes.map((c) => c.seq);
    assert.ok(seqs.every((s, i) => i === 0 || seqs[i - 1] < s), "sequence not strictly increasing");
    assert.ok(changes.every((c) => c.change === "created"));
    sameIds(changes, truth(), "changes");
  });

  it("records added or moved on upstream appear in the feed exactly once after the next sync", async () => {
    const { after: before } = await allChanges();
    const now = Math.floor(Date.now() / 1000);
    const added = stack.sim.addRecords("xiaoe", 5, { update_time: now });
    // Three records the mirror already holds, not yet completed, move on.
    const fresh = new Set(added.map((w) => w.aftersale_id));
    const moved = stack.sim
      .truth("xiaoe", { ...EVERYTHING, date_type: "updated_at" })
      .filter((w) => !fresh.has(w.aftersale_id) && w.state !== 13)
      .slice(0, 3);
    assert.equal(moved.length, 3, "the truth has too few records to move on (test bug)");
    for (const wire of moved) stack.sim.touchXiaoe(wire.aftersale_id, { state: 13, update_time: now });
    await sleep(2_100); // past the lag
    const runs = await syncUntilDone();
    const { changes } = await allChanges(before);
    const created = changes.filter((c) => c.change === "created").map((c) => c.aftersale_id).sort();
    const updated = changes.filter((c) => c.change === "updated").map((c) => c.aftersale_id).sort();
    const why = `syncs: ${JSON.stringify(runs)}; added ${JSON.stringify(added.map((w) => w.updated_at))}`;
    assert.deepEqual(created, added.map((w) => w.aftersale_id).sort(), why);
    assert.deepEqual(updated, moved.map((w) => w.aftersale_id).sort(), why);
    assert.ok(changes.filter((c) => c.change === "updated").every((c) => c.status === "completed"));
    // A sync that finds nothing new adds nothing.
    await syncUntilDone();
    assert.equal((await allChanges(before)).changes.length, changes.length);
    const { records } = await mirrorPages({ platform: "all", limit: 100 });
    sameIds(records, truth(), "after the increments");
  });

  it("the stream gives the same changes and ends with the last sequence", async () => {
    const { changes, after: last } = await allChanges();
    const res = await stack.get("/v1/changes/stream?after=0");
    assert.equal(res.status, 200, show(res));
    const lines = res.text.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.at(-1), { done: true, last_seq: last });
    assert.deepEqual(lines.slice(0, -1).map((c) => c.seq), changes.map((c) => c.seq));
  });

  it("two syncs at once never sync one account twice", async () => {
    stack.sim.addRecords("xiaoe", 2, { update_time: Math.floor(Date.now() / 1000) });
    await sleep(2_100); // past the lag
    const calls = () => stack.upstreamCalls.filter((c) => c.endpoint === "xiaoe").length;
    const before = calls();
    const [a, b] = await Promise.all([stack.request("/v1/sync", { method: "POST" }), stack.request("/v1/sync", { method: "POST" })]);
    assert.equal(a.status, 200, show(a));
    assert.equal(b.status, 200, show(b));
    const busy = [a, b].filter((r) => r.json.platforms.xiaoe.busy).length;
    const pages = a.json.platforms.xiaoe.pages + b.json.platforms.xiaoe.pages;
    assert.ok(busy === 1 || pages <= BUDGET, `both runs synced xiaoe at once: ${JSON.stringify([a.json, b.json])}`);
    assert.ok(calls() - before <= BUDGET + 1, `${calls() - before} Xiaoe calls for two concurrent syncs`);
  });

  it("the summary's counts and refund totals, computed in the database, match the truth", async () => {
    const expected = truth();
    const res = await stack.get(`/v1/summary?${qs({ from: "2023-01-01", to: "2100-01-01" })}`);
    assert.equal(res.status, 200, show(res));
    const count = (rows) => rows.reduce((n, r) => n + r.count, 0);
    for (const name of ["by_platform", "by_status", "by_kind", "by_currency", "by_day"]) {
      assert.equal(count(res.json.data[name]), expected.length, `${name} counts every record once`);
    }
    for (const platform of ["xiaoe", "lingxing"]) {
      const want = expected.filter((e) => e.platform === platform).length;
      assert.equal(count(res.json.data.by_platform.filter((r) => r.key === platform)), want, platform);
    }
    const sums = new Map();
    for (const e of expected) if (e.refund) sums.set(e.refund.currency, (sums.get(e.refund.currency) ?? 0) + e.refund.minor);
    for (const [currency, minor] of sums) {
      const got = res.json.data.by_currency.find((r) => r.key === currency);
      assert.equal(got?.refund?.minor, minor, `refunds in ${currency}: ${JSON.stringify(res.json.data.by_currency)}`);
    }
    const one = await stack.get(`/v1/summary?${qs({ from: "2023-01-01", to: "2100-01-01", platform: "lingxing" })}`);
    assert.equal(count(one.json.data.by_platform), expected.filter((e) => e.platform === "lingxing").length);
    assert.equal((await stack.get("/v1/summary?from=2023-01-01")).status, 400);
  });

  it("platforms without a list are mirrored from their lookups", async () => {
    const order = stack.sim.orders().find((o) => stack.sim.truth("wechat_shop", { order_id: o.order_id }).length > 0);
    assert.ok(order, "no simulator order has after-sales (test bug)");
    const live = await stack.get(`/v1/orders/${order.order_id}/aftersales?${qs({ platform: "wechat_shop", openid: order.openid })}`);
    assert.equal(live.status, 200, show(live));
    const { records } = await mirrorPages({ platform: "wechat_shop", source: "mirror", limit: 100 });
    assert.deepEqual(records.map((r) => r.id).sort(), live.json.data.map((r) => r.id).sort());
    // Looking the same order up again changes nothing in the feed.
    const { after: last } = await allChanges();
    await stack.get(`/v1/orders/${order.order_id}/aftersales?${qs({ platform: "wechat_shop", openid: order.openid })}`);
    assert.equal((await allChanges(last)).changes.length, 0);
  });

  it("status, bad input and cursors", async () => {
    const status = await stack.get("/v1/sync/status");
    assert.equal(status.status, 200, show(status));
    for (const platform of ["xiaoe", "lingxing"]) {
      const s = status.json.platforms[platform];
      assert.ok(s.watermark && s.rows > 0 && s.last_error === null, `${platform}: ${JSON.stringify(s)}`);
    }
    for (const [path, parameter] of [
      ["/v1/changes?after=-1", "after"],
      ["/v1/changes?limit=0", "limit"],
      ["/v1/aftersales?platform=all&date_field=shipped", "date_field"],
      ["/v1/aftersales?platform=xiaoe,nowhere", "platform"],
      ["/v1/aftersales?platform=all&cursor=abc", "cursor"],
      ["/v1/sync?platform=wechat_shop", "platform"],
    ]) {
      const res = await stack.request(path, { method: path.startsWith("/v1/sync") ? "POST" : "GET" });
      assert.equal(res.status, 400, show(res));
      assert.match(res.json.error.message, new RegExp(parameter), show(res));
    }
    // A cursor replayed with other filters is refused.
    const first = await stack.get("/v1/aftersales?platform=all&limit=5");
    const replay = await stack.get(`/v1/aftersales?platform=all&limit=5&status=completed&cursor=${first.json.next_cursor}`);
    assert.equal(replay.status, 400, show(replay));
    // No key, no mirror.
    assert.equal((await stack.request("/v1/changes", { key: null })).status, 401);
  });
});
