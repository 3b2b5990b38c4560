// The mirror across a crash (issue 12, "Done when"): a backfill of a few thousand records per
// platform, against the simulator with faults and a rate limit scaled down so that it binds, is
// killed mid-run (SIGKILL to wrangler's whole process group while pages are being stored), and a
// Worker restarted on the same local state (D1 and the account objects' storage) finishes it.
// Then the mirror equals the simulator's truth, the change feed holds each record's creation
// once, no upstream limit was exceeded across the kill, and the killed run's lease (renewed with
// every page, SYNC_LEASE_S) did not hold the next run back. Also: a run that outlives the
// lease's lifetime keeps it, and a run stops within its subrequest budget (SUBREQUEST_BUDGET,
// not its call budget) and the next goes on.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { delayRoute, mostInWindow, startStack } from "./harness.mjs";
import { allChanges, mirrorPages, sameIds, show, syncUntilDone, truth } from "./mirror-helpers.mjs";

const DAY_MS = 86_400_000;
const day = (offset) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
// Records created 400 to 12 days ago (and updated at most 10 days after): all behind the lag.
// 13 windows of 31 days: Lingxing's pages hold 5000 records, so its backfill takes a call a
// window, Xiaoe's (pages of 100) ~38 calls.
const RANGE = { from: day(-400), to: day(-12) };
const RECORDS = 2500; // per platform
const BUDGET = 6; // upstream calls per platform per invocation (SYNC_MAX_CALLS)
const LEASE_S = 3; // SYNC_LEASE_S: far below the 120 s the lease used to live
// Xiaoe's limit scaled down for the simulator and the proxy's pacer alike, so that it binds
// across invocations and across the kill (the pacer's memory lives in the account object's storage).
const XIAOE_LIMIT = { limit: 10, windowMs: 4_000 };
const XIAOE_LIST = "/xe.ecommerce.after_sale.list/1.0.0";
const OLD_LEASE_S = 120;
// The Channels shop is left unconfigured here: its sync lists a window a day at least, 400 days
// of them (tests/e2e/mirror.test.mjs syncs it over a few weeks).
const WITHOUT_CHANNELS = { WECHAT_CHANNELS_APPID: undefined, WECHAT_CHANNELS_SECRET: undefined };

let stack;
let persistTo;

const dataCalls = (endpoint) => stack.upstreamCalls.filter((c) => c.endpoint === endpoint);


const withinBudget = (answer) => {
  for (const [platform, p] of Object.entries(answer.platforms)) {
    assert.ok(p.pages <= BUDGET, `${platform} read ${p.pages} pages in one invocation, over its budget of ${BUDGET}`);
  }
};

describe("a sync killed mid-run", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    persistTo = mkdtempSync(join(tmpdir(), "aftersale-restart-state-"));
    stack = await startStack({
      records: RECORDS,
      name: "mirror-restart",
      persistTo,
      simulator: { dateRange: RANGE, xiaoeRateLimit: XIAOE_LIMIT, lingxingLatencyMs: 120 },
      vars: {
        ...WITHOUT_CHANNELS,
        SYNC_FROM: RANGE.from,
        SYNC_MAX_CALLS: String(BUDGET),
        SYNC_LEASE_S: String(LEASE_S),
        SYNC_LAG_S: "1",
        SYNC_OVERLAP_S: "5",
        XIAOE_RATE_LIMIT: `${XIAOE_LIMIT.limit}/${XIAOE_LIMIT.windowMs}ms`,
      },
    });
    // Faults the calls must ride out: upstream 5xx answers and tokens that expire early.
    stack.sim.setFaults({
      serverErrors: [
        { platform: "xiaoe", count: 2, status: 502 },
        { platform: "lingxing", count: 1, status: 503 },
      ],
      tokenMaxUses: { xiaoe: 9, lingxing: 8 },
    });
  });
  after(async () => {
    await stack?.stop();
    if (persistTo) rmSync(persistTo, { recursive: true, force: true });
  });

  it("resumes after the kill with nothing lost, nothing doubled and no limit exceeded", async () => {
    // Two whole invocations: Xiaoe's backfill is under way (Lingxing's pages of 5000 records may
    // have finished its own already).
    for (let i = 0; i < 2; i++) {
      const res = await stack.request("/v1/sync", { method: "POST" });
      assert.equal(res.status, 200, show(res));
      withinBudget(res.json);
      assert.equal(res.json.done, false, `the backfill should take more than ${i + 1} invocations: ${res.text}`);
    }
    const status = await stack.get("/v1/sync/status");
    assert.equal(status.status, 200, show(status));
    assert.equal(status.json.platforms.xiaoe.in_progress, true, status.text);

    // A third, killed while it stores Xiaoe's pages.
    const before = dataCalls("xiaoe").length;
    const killed = stack.request("/v1/sync", { method: "POST" }).then(
      (res) => ({ answered: res }),
      (error) => ({ error }),
    );
    const deadline = Date.now() + 60_000;
    while (dataCalls("xiaoe").length - before < BUDGET / 2) {
      assert.ok(Date.now() < deadline, `the third invocation made only ${dataCalls("xiaoe").length - before} Xiaoe calls in 60 s`);
      await sleep(5);
    }
    const killedAt = Date.now();
    const ended = await stack.restartWorker({ kill: true });
    const restartMs = Date.now() - killedAt;
    assert.equal(ended.signal, "SIGKILL", JSON.stringify(ended));
    const third = await killed;
    assert.ok(third.error, `the third invocation answered before the kill, so nothing was killed mid-run: ${third.answered?.text}`);

    // The killed run's lease lives LEASE_S past its last page: the first sync after the restart
    // finds no platform busy (with the old 120 s lease it would have, for a restart this quick).
    const wait = killedAt + (LEASE_S + 1) * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    const first = await stack.request("/v1/sync", { method: "POST" });
    assert.equal(first.status, 200, show(first));
    for (const [platform, p] of Object.entries(first.json.platforms)) {
      assert.equal(p.busy, false, `${platform} is still held by the killed run ${Date.now() - killedAt} ms after the kill: ${first.text}`);
    }
    assert.ok(restartMs < OLD_LEASE_S * 1000, `the restart took ${restartMs} ms`);
    withinBudget(first.json);
    if (!first.json.done) await syncUntilDone(stack, { check: withinBudget });

    // The mirror equals the truth; the feed holds each record's creation exactly once.
    const expected = truth(stack);
    assert.ok(expected.length > 2 * RECORDS, `the truth holds ${expected.length} after-sales (test bug)`);
    const { records, total } = await mirrorPages(stack, { platform: "all", limit: 100 });
    assert.equal(total, expected.length);
    sameIds(records, expected, "platform=all after the kill");
    const { changes } = await allChanges(stack);
    assert.deepEqual(changes.filter((c) => c.change !== "created").map((c) => `${c.change} ${c.id}`), [], "only creations: nothing changed upstream");
    sameIds(changes, expected, "the change feed after the kill");

    // No limit exceeded, the kill included: no throttled answer, never more Xiaoe calls in a
    // window than the limit, never two Lingxing list calls at once.
    const stats = stack.sim.stats();
    assert.equal(stats.throttled.xiaoe, 0, `Xiaoe throttled ${stats.throttled.xiaoe} calls`);
    assert.equal(stats.throttled.lingxing, 0, `Lingxing rejected ${stats.throttled.lingxing} calls`);
    assert.ok(mostInWindow(dataCalls("xiaoe").map((c) => c.at), XIAOE_LIMIT.windowMs) <= XIAOE_LIMIT.limit, `more than ${XIAOE_LIMIT.limit} Xiaoe calls within ${XIAOE_LIMIT.windowMs} ms`);
    assert.ok(stats.maxInFlight.lingxing <= 1, `${stats.maxInFlight.lingxing} Lingxing calls in flight at once`);
    assert.equal(stats.serverErrors.xiaoe + stats.serverErrors.lingxing, 3, "the injected 5xx answers were served (test bug otherwise)");
  });

  it("a run that outlives the lease's lifetime keeps it: a trigger meanwhile is told busy", async () => {
    const { after: seq } = await allChanges(stack);
    const added = stack.sim.addRecords("xiaoe", BUDGET * 100, { update_time: Math.floor(Date.now() / 1000) });
    await sleep(2_100); // past the lag
    const slow = delayRoute(stack.sim, XIAOE_LIST, 1_200); // BUDGET pages take well over LEASE_S
    try {
      const t0 = Date.now();
      const long = stack.request("/v1/sync?platform=xiaoe", { method: "POST" });
      const deadline = Date.now() + 60_000;
      while (Date.now() - t0 < (LEASE_S + 1.5) * 1000 || slow.calls.length < 3) {
        assert.ok(Date.now() < deadline, "the long run never got going");
        await sleep(50);
      }
      const meanwhile = await stack.request("/v1/sync?platform=xiaoe", { method: "POST" });
      assert.equal(meanwhile.status, 200, show(meanwhile));
      assert.equal(meanwhile.json.platforms.xiaoe.busy, true, `a second run took the lease ${Date.now() - t0} ms into the first: ${meanwhile.text}`);
      const res = await long;
      assert.equal(res.status, 200, show(res));
      assert.ok(Date.now() - t0 > LEASE_S * 1000, "the long run was not longer than the lease (test bug)");
      assert.equal(res.json.platforms.xiaoe.error, null, res.text);
    } finally {
      slow.restore();
    }
    await syncUntilDone(stack, { check: withinBudget });
    const { changes } = await allChanges(stack, seq);
    assert.deepEqual(changes.map((c) => c.aftersale_id).sort(), added.map((w) => w.aftersale_id).sort());
    assert.ok(changes.every((c) => c.change === "created"));
  });
});

// Its own stack: a backfill from nothing, which the subrequest budget cuts into many runs.
describe("a run out of subrequests", { timeout: 10 * 60_000 }, () => {
  const SUBREQUESTS = 12;
  const CALLS = 40; // far above what the subrequest budget lets one invocation make
  let budgeted;
  before(async () => {
    budgeted = await startStack({
      records: 800,
      name: "mirror-subrequests",
      simulator: { dateRange: RANGE },
      vars: { ...WITHOUT_CHANNELS, SYNC_FROM: RANGE.from, SUBREQUEST_BUDGET: String(SUBREQUESTS), SYNC_MAX_CALLS: String(CALLS), SYNC_LAG_S: "1", SYNC_OVERLAP_S: "5" },
    });
  });
  after(async () => {
    await budgeted?.stop();
  });

  it("stops within its budget, and the next one goes on until the mirror equals the truth", async () => {
    const answers = await syncUntilDone(budgeted, {
      check: (answer, res) => {
        const used = Number(res.headers["x-subrequests"]);
        assert.ok(used <= SUBREQUESTS, `an invocation made ${used} subrequests, over its budget of ${SUBREQUESTS}`);
      },
    });
    const cut = answers.filter((a) => Object.values(a.platforms).some((p) => !p.caught_up));
    assert.ok(cut.length > 1, `the budget should have cut the backfill into several invocations: ${JSON.stringify(answers)}`);
    for (const a of cut) {
      for (const [platform, p] of Object.entries(a.platforms)) assert.ok(p.pages < CALLS, `${platform} stopped at its call budget, not its subrequests: ${JSON.stringify(a)}`);
    }
    const expected = truth(budgeted);
    const { records } = await mirrorPages(budgeted, { platform: "all", limit: 100 });
    sameIds(records, expected, "platform=all after the budgeted runs");
    const { changes } = await allChanges(budgeted);
    assert.ok(changes.every((c) => c.change === "created"));
    sameIds(changes, expected, "the change feed after the budgeted runs");
  });
});
