// The mirror (SPEC.md §9) end to end: workerd with its local D1 (migrations applied by the test
// toolkit) syncing from the upstream simulator. After syncs the mirror equals the simulator's
// truth; records the simulator adds or moves on reach the change feed exactly once; syncs stop
// within their budget and the next continues; two syncs at once never double a call.
// Expectations come from the simulator's truth through expect.mjs; nothing here imports the core.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startStack } from "./harness.mjs";
import { fen } from "./expect.mjs";
import { allChanges as changesOf, EVERYTHING, mirrorPages as pagesOf, qs, sameIds, show, syncUntilDone as syncOf, truth as listedTruth } from "./mirror-helpers.mjs";

const BUDGET = 8; // upstream calls per platform per invocation
const DAY = 86_400;
/** China-time dates `days` from today. */
const chinaDate = (days) => new Date(Date.now() + 8 * 3600_000 + days * DAY * 1000).toISOString().slice(0, 10);
// The Channels shop is synced by update time in windows of at most 24 h from SYNC_FROM to now,
// one list call per window at least: the data lie in recent days (updates run up to ten days
// past their range's end), so that its backfill is a few dozen windows, not years of them.
const DATA_RANGE = { from: chinaDate(-30), to: chinaDate(-18) };
const SYNC_FROM = chinaDate(-31);
const CHANNELS_RECORDS = 40;
let stack;

/** An instant as the model writes it: RFC 3339 in China time. */
const chinaIso = (unix) => `${new Date((unix + 8 * 3600) * 1000).toISOString().slice(0, 19)}+08:00`;

/** The fields checked of a Channels after-sale, from its `getaftersaleorder` object. */
const expectChannels = (wire) => ({
  id: `wechat_channels:${wire.after_sale_order_id}`,
  platform: "wechat_channels",
  aftersale_id: String(wire.after_sale_order_id),
  status_raw: wire.status,
  updated_at: chinaIso(Number(wire.update_time)),
  created_at: chinaIso(Number(wire.create_time)),
  refund: wire.refund_info ? fen(wire.refund_info.amount) : null,
});

/** POSTs a control route of the simulator. */
async function control(path, body) {
  const res = await fetch(`${stack.sim.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.json();
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
  return json;
}

// The shared helpers, on this suite's stack; the truth adds the Channels shop, synced here too.
const truth = () => [
  ...listedTruth(stack),
  ...stack.sim.truth("wechat_channels", { date_field: "updated" }).map(expectChannels),
];
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
      simulator: { dateRange: DATA_RANGE, wechatChannels: { aftersales: CHANNELS_RECORDS } },
      vars: { SYNC_FROM, SYNC_MAX_CALLS: String(BUDGET), SYNC_LAG_S: "1", SYNC_OVERLAP_S: "5" },
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
    assert.equal(both.total, expected.filter((e) => e.platform !== "wechat_channels").length);
    const channels = await mirrorPages({ platform: "wechat_channels", source: "mirror", limit: 100 });
    sameIds(channels.records, expected.filter((e) => e.platform === "wechat_channels"), "platform=wechat_channels&source=mirror");
    assert.equal(channels.records.length, CHANNELS_RECORDS);
    // By update time from SYNC_FROM's midnight, every window at most 24 h, none refused.
    const { windows } = stack.sim.stats().channels;
    assert.ok(windows.length >= 31, `${windows.length} Channels list calls`);
    assert.equal(windows[0].begin, Date.parse(`${SYNC_FROM}T00:00:00+08:00`) / 1000);
    for (const w of windows) {
      assert.equal(w.field, "update", JSON.stringify(w));
      assert.ok(w.span <= DAY && w.errcode !== 10020004, `a window over 24 h: ${JSON.stringify(w)}`);
    }
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
    // The Channels shop too: two new after-sales, one moved on.
    const addedChannels = stack.sim.addRecords("wechat_channels", 2, { update_time: now });
    const movedChannels = stack.sim.truth("wechat_channels", { date_field: "updated" })[0];
    await control("/__sim/wechat_channels/transition", { after_sale_order_id: String(movedChannels.after_sale_order_id), update_time: now });
    await sleep(2_100); // past the lag
    const runs = await syncUntilDone();
    const { changes } = await allChanges(before);
    const created = changes.filter((c) => c.change === "created").map((c) => c.aftersale_id).sort();
    const updated = changes.filter((c) => c.change === "updated").map((c) => c.aftersale_id).sort();
    const why = `syncs: ${JSON.stringify(runs)}; added ${JSON.stringify(added.map((w) => w.updated_at))}`;
    const ids = (list) => list.map((w) => String(w.aftersale_id ?? w.after_sale_order_id));
    assert.deepEqual(created, ids([...added, ...addedChannels]).sort(), why);
    assert.deepEqual(updated, ids([...moved, movedChannels]).sort(), why);
    assert.ok(changes.filter((c) => c.change === "updated" && c.platform === "xiaoe").every((c) => c.status === "completed"));
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
    for (const platform of ["xiaoe", "lingxing", "wechat_channels"]) {
      const want = expected.filter((e) => e.platform === platform).length;
      assert.equal(count(res.json.data.by_platform.filter((r) => r.key === platform)), want, platform);
    }
    const sums = new Map();
    for (const e of expected) if (e.refund) sums.set(e.refund.currency, (sums.get(e.refund.currency) ?? 0) + e.refund.minor);
    for (const [currency, minor] of sums) {
      const got = res.json.data.by_currency.find((r) => r.key === currency);
      assert.equal(got?.refund?.minor, minor, `refunds in ${currency}: ${JSON.stringify(res.json.data.by_currency)}`);
    }
    // Day × platform (the console's chart): each China-time day of the updated time, per
    // platform and refund currency, against the truth's own grouping.
    const chinaDay = (t) => new Date(Date.parse(t) + 8 * 3600_000).toISOString().slice(0, 10);
    const want = new Map();
    for (const e of expected) {
      const key = `${chinaDay(e.updated_at)}|${e.platform}|${e.refund?.currency ?? ""}`;
      const g = want.get(key) ?? { count: 0, minor: 0 };
      g.count += 1;
      g.minor += e.refund?.minor ?? 0;
      want.set(key, g);
    }
    const got = new Map(
      res.json.data.by_day_platform.map((r) => [
        `${r.day}|${r.platform}|${r.refund?.currency ?? ""}`,
        { count: r.count, minor: r.refund?.minor ?? 0 },
      ]),
    );
    assert.deepEqual(Object.fromEntries(got), Object.fromEntries(want), "by_day_platform");
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
    for (const platform of ["xiaoe", "lingxing", "wechat_channels"]) {
      const s = status.json.platforms[platform];
      assert.ok(s.watermark && s.rows > 0 && s.last_error === null, `${platform}: ${JSON.stringify(s)}`);
    }
    // One platform's sync alone.
    const one = await stack.request("/v1/sync?platform=wechat_channels", { method: "POST" });
    assert.equal(one.status, 200, show(one));
    assert.deepEqual(Object.keys(one.json.platforms), ["wechat_channels"]);
    assert.equal(one.json.platforms.wechat_channels.error, null, show(one));
    // No Channels window of any sync was over 24 h.
    const channels = stack.sim.stats().channels;
    assert.equal(channels.windowsOver24h, 0);
    assert.ok(channels.maxWindowSeconds <= DAY, `a window of ${channels.maxWindowSeconds} s`);
    for (const [path, parameter] of [
      ["/v1/changes?after=-1", "after"],
      ["/v1/changes?limit=0", "limit"],
      ["/v1/aftersales?platform=all&date_field=shipped", "date_field"],
      ["/v1/aftersales?platform=xiaoe,nowhere", "platform"],
      ["/v1/aftersales?platform=all&cursor=abc", "cursor"],
      ["/v1/sync?platform=wechat_shop", "platform"],
      ["/v1/aftersales?platform=all&source=live", "source"],
      ["/v1/aftersales?platform=xiaoe&source=elsewhere", "source"],
      ["/v1/aftersales/export?platform=xiaoe,lingxing&source=live", "source"],
    ]) {
      const res = await stack.request(path, { method: path.startsWith("/v1/sync") ? "POST" : "GET" });
      assert.equal(res.status, 400, show(res));
      assert.match(res.json.error.message, new RegExp(parameter), show(res));
    }
    // `source=live` on one platform is the default said out loud: the same live page.
    const range = qs({ platform: "xiaoe", ...DATA_RANGE, limit: 20 });
    const live = await stack.get(`/v1/aftersales?${range}`);
    const said = await stack.get(`/v1/aftersales?${range}&source=live`);
    assert.equal(said.status, 200, show(said));
    assert.equal(said.json.source, undefined, "a live page is not from the mirror");
    assert.ok(live.json.data.length > 0, `no live records in ${range} (test bug)`);
    assert.deepEqual(said.json.data.map((r) => r.id), live.json.data.map((r) => r.id));
    // A cursor replayed with other filters is refused.
    const first = await stack.get("/v1/aftersales?platform=all&limit=5");
    const replay = await stack.get(`/v1/aftersales?platform=all&limit=5&status=completed&cursor=${first.json.next_cursor}`);
    assert.equal(replay.status, 400, show(replay));
    // No key, no mirror.
    assert.equal((await stack.request("/v1/changes", { key: null })).status, 401);
  });
});
