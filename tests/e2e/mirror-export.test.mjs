// The export of a mirror query (SPEC.md §9) end to end: workerd with its local D1 synced from the
// upstream simulator. The export of every platform equals the mirror list's rows and the
// simulator's truth; filters apply as on the list; continue lines (the budget of D1 queries an
// invocation may make) resume and together give every row once; rows a sync changes between
// the runs of an export, or while its stream is read, still arrive exactly once.
// Expectations come from the simulator's truth through expect.mjs; nothing here imports the core.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CLIENT_KEYS, startStack } from "./harness.mjs";
import { pick } from "./expect.mjs";
import { EVERYTHING, mirrorPages, qs, show, syncUntilDone as syncOf, truth as listedTruth } from "./mirror-helpers.mjs";

const BUDGET = 50; // SUBREQUEST_BUDGET: the free plan's D1 queries (and subrequests) per invocation
let stack;

const byId = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const truth = () => listedTruth(stack);
// The platforms this file exports (the Channels shop's sync by day windows is the mirror test's).
const SYNCED = ["xiaoe", "lingxing"];

async function syncUntilDone() {
  for (const platform of SYNCED) await syncOf(stack, { platform });
}

/** Every row of a mirror listing, page by page. */
const listAll = async (params) => (await mirrorPages(stack, { ...params, limit: 100 })).records;

/** One run of an export: its records and its last line. */
function parseRun(res) {
  assert.equal(res.status, 200, show(res));
  assert.match(res.headers["content-type"], /application\/x-ndjson/);
  const lines = res.text.split("\n");
  assert.equal(lines.pop(), "", "the stream ends with a newline");
  const values = lines.map((l) => JSON.parse(l));
  const end = values.pop();
  assert.ok(end && (end.done === true || typeof end.continue === "string"), `the last line: ${JSON.stringify(end)}`);
  for (const v of values) assert.equal(typeof v.id, "string", `a line that is no record: ${JSON.stringify(v)}`);
  if (end.done) assert.equal(end.count, values.length, "`done` counts the records of its run");
  return { records: values, end };
}

/** Every run of an export, following its continue lines with the same query. */
async function exportAll(params, { between } = {}) {
  const runs = [];
  let cursor;
  for (let i = 0; i < 100; i++) {
    const run = parseRun(await stack.get(`/v1/aftersales/export?${qs({ ...params, cursor })}`));
    runs.push(run);
    if (run.end.done) return { runs, records: runs.flatMap((r) => r.records) };
    assert.ok(!runs.slice(0, -1).some((r) => r.end.continue === run.end.continue), "a continuation given twice");
    cursor = run.end.continue;
    await between?.(runs);
  }
  assert.fail("the export never ended");
}

function sameRecords(got, want, label) {
  const ids = got.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, `${label}: an id twice`);
  assert.deepEqual([...ids].sort(byId), want.map((r) => r.id).sort(byId), `${label}: the ids differ`);
}

describe("the export of a mirror query", () => {
  before(async () => {
    // A lag of 1 s and an overlap of 5 s, so that a record changed now is synced two seconds later.
    stack = await startStack({
      records: 120,
      name: "mirror-export",
      vars: { SYNC_FROM: "2023-01-01", SYNC_LAG_S: "1", SYNC_OVERLAP_S: "5", SUBREQUEST_BUDGET: String(BUDGET) },
    });
    await syncUntilDone();
  });
  after(async () => {
    await stack?.stop();
  });

  it("the export of all platforms equals the list's rows and the truth, by id", async () => {
    const expected = truth();
    const { runs, records } = await exportAll({ platform: "all" });
    assert.equal(runs.length, 1, "a few hundred rows fit one invocation");
    sameRecords(records, expected, "export");
    const ids = records.map((r) => r.id);
    assert.deepEqual(ids, [...ids].sort(byId), "the export is ordered by id");
    const listed = new Map((await listAll({ platform: "all" })).map((r) => [r.id, r]));
    assert.equal(listed.size, records.length);
    for (const r of records) assert.deepStrictEqual(r, listed.get(r.id), `the export's ${r.id} is the list's`);
    const wanted = new Map(expected.map((e) => [e.id, e]));
    for (const r of records) assert.deepStrictEqual(pick(r, wanted.get(r.id)), wanted.get(r.id), r.id);
    // `source=mirror` for one platform; a list of platforms.
    const xiaoe = await exportAll({ platform: "xiaoe", source: "mirror" });
    sameRecords(xiaoe.records, expected.filter((e) => e.platform === "xiaoe"), "platform=xiaoe&source=mirror");
    sameRecords((await exportAll({ platform: "lingxing,xiaoe" })).records, expected, "platform=lingxing,xiaoe");
  });

  it("filters apply as on the list", async () => {
    const expected = truth();
    const sample = expected.find((e) => e.platform === "xiaoe" && e.order_id);
    const listed = await listAll({ platform: "all" });
    const withBuyer = listed.find((r) => r.buyer?.openid);
    const created = listed.map((r) => r.created_at).filter(Boolean).sort();
    const middle = created[Math.floor(created.length / 2)].slice(0, 10);
    const filters = [
      { platform: "all", status: "completed" },
      { platform: "lingxing,xiaoe", kind: "refund,exchange" },
      { platform: "all", date_field: "created", from: middle },
      { platform: "all", date_field: "created", to: middle },
      { platform: "all", q: sample.order_id },
      { platform: "xiaoe", source: "mirror", status: "completed,refunding" },
    ];
    if (withBuyer) filters.push({ platform: "all", openid: withBuyer.buyer.openid });
    for (const filter of filters) {
      const list = await listAll(filter);
      const { records } = await exportAll({ ...filter, limit: 7 });
      assert.ok(list.length > 0 && list.length < expected.length, `${qs(filter)} should select some rows (test bug): ${list.length}`);
      sameRecords(records, list, qs(filter));
    }
    // Against the truth too, where expect.mjs maps the status (Xiaoe's codes).
    const completed = (await exportAll({ platform: "xiaoe", source: "mirror", status: "completed" })).records;
    const want = expected.filter((e) => e.platform === "xiaoe" && e.status === "completed");
    assert.ok(want.length > 0, "the truth has completed Xiaoe records (test bug)");
    sameRecords(completed, want, "xiaoe status=completed against the truth");
  });

  it("a small budget ends runs with continue lines that together give every row once", async () => {
    const expected = truth();
    // Two rows a read: the budget of D1 queries runs out long before the rows do.
    const { runs, records } = await exportAll({ platform: "all", limit: 2 });
    assert.ok(runs.length >= 3, `expected several runs, got ${runs.length}`);
    for (const run of runs.slice(0, -1)) {
      assert.ok(run.records.length > 0 && run.records.length <= 2 * BUDGET, `a run of ${run.records.length} records`);
    }
    sameRecords(records, expected, "the runs together");
    const ids = records.map((r) => r.id);
    assert.deepEqual(ids, [...ids].sort(byId), "the runs continue in id order");
  });

  it("rows a sync changes between the runs of an export arrive exactly once", async () => {
    const before = new Set(truth().map((e) => e.id));
    // Sized so the first run ends among the Xiaoe rows (ids sort lingxing:… before xiaoe:…).
    const limit = Math.max(1, Math.floor(before.size / (BUDGET + 10)));
    let touched;
    let firstLast;
    const { runs, records } = await exportAll({ platform: "all", limit }, {
      between: async (done) => {
        if (done.length !== 1) return;
        firstLast = done[0].records.at(-1).id;
        const exported = new Set(done[0].records.map((r) => r.id));
        const movable = stack.sim
          .truth("xiaoe", { ...EVERYTHING, date_type: "updated_at" })
          .filter((w) => w.state !== 13)
          .map((w) => ({ wire: w, id: `xiaoe:${w.aftersale_id}` }));
        // Rows already streamed and rows still ahead move on: newest updated time, new status.
        // A keyset on the updated time would skip those ahead or repeat those behind.
        const behind = movable.filter((m) => exported.has(m.id)).slice(0, 3);
        const ahead = movable.filter((m) => !exported.has(m.id)).slice(0, 3);
        assert.equal(behind.length, 3, `the first run (${done[0].records.length} rows, to ${firstLast}) should hold Xiaoe rows to move (test bug)`);
        assert.equal(ahead.length, 3, "Xiaoe rows should remain after the first run (test bug)");
        const now = Math.floor(Date.now() / 1000);
        for (const m of [...behind, ...ahead]) stack.sim.touchXiaoe(m.wire.aftersale_id, { state: 13, update_time: now });
        stack.sim.addRecords("xiaoe", 3, { update_time: now });
        touched = { behind: behind.map((m) => m.id), ahead: ahead.map((m) => m.id) };
        await sleep(2_100); // past the sync's lag
        await syncUntilDone();
      },
    });
    assert.ok(runs.length >= 2 && touched, `the export should have continued at least once (${runs.length} runs)`);
    const after = new Set(truth().map((e) => e.id));
    const ids = records.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, `an id twice: ${ids.filter((id, i) => ids.indexOf(id) !== i)}`);
    for (const id of before) assert.ok(ids.includes(id), `${id}, in the mirror all along, is missing`);
    for (const id of ids) assert.ok(after.has(id), `${id} is in no truth`);
    // Rows added behind the cursor belong to the next export; those ahead of it are in this one.
    for (const id of after) if (!before.has(id) && id > firstLast) assert.ok(ids.includes(id), `${id}, added ahead, is missing`);
    const got = new Map(records.map((r) => [r.id, r]));
    for (const id of touched.ahead) assert.equal(got.get(id).status, "completed", `${id} changed ahead of the cursor: its newest content`);
    for (const id of touched.behind) assert.notEqual(got.get(id).status, "completed", `${id} was streamed before it changed`);
  });

  it("rows a sync changes while the stream is read arrive exactly once", async (t) => {
    const before = new Set(truth().map((e) => e.id));
    const res = await fetch(`${stack.baseUrl}/v1/aftersales/export?${qs({ platform: "all", limit: 3 })}`, {
      headers: { authorization: `Bearer ${CLIENT_KEYS[0]}` },
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const first = await reader.read();
    text += decoder.decode(first.value, { stream: true });
    // The reader stops; meanwhile rows move on and a sync writes them.
    const now = Math.floor(Date.now() / 1000);
    const movable = stack.sim.truth("xiaoe", { ...EVERYTHING, date_type: "updated_at" }).filter((w) => w.state !== 13).slice(-4);
    for (const w of movable) stack.sim.touchXiaoe(w.aftersale_id, { state: 13, update_time: now });
    await sleep(2_100);
    await syncUntilDone();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      await sleep(5); // a slow reader
    }
    text += decoder.decode();
    let cursor;
    const runs = [parseRun({ status: 200, headers: { "content-type": res.headers.get("content-type") }, text, path: "stream" })];
    for (cursor = runs[0].end.continue; cursor; cursor = runs.at(-1).end.continue) {
      runs.push(parseRun(await stack.get(`/v1/aftersales/export?${qs({ platform: "all", limit: 3, cursor })}`)));
    }
    const records = runs.flatMap((r) => r.records);
    const ids = records.map((x) => x.id);
    assert.equal(new Set(ids).size, ids.length, "an id twice");
    for (const id of before) assert.ok(ids.includes(id), `${id} is missing`);
    const moved = new Set(movable.map((w) => `xiaoe:${w.aftersale_id}`));
    const fresh = records.filter((r) => moved.has(r.id) && r.status === "completed").length;
    t.diagnostic(`${runs.length} runs; ${fresh} of ${moved.size} moved rows streamed after the sync wrote them`);
  });

  it("bad parameters and foreign cursors are clear 400s", async () => {
    const continued = parseRun(await stack.get(`/v1/aftersales/export?${qs({ platform: "all", limit: 1 })}`));
    assert.equal(typeof continued.end.continue, "string", "one row a read continues (test bug)");
    const page = await stack.get("/v1/aftersales?platform=all&limit=5");
    assert.equal(typeof page.json.next_cursor, "string", show(page));
    for (const [params, parameter] of [
      [{ platform: "all", date_field: "shipped" }, "date_field"],
      [{ platform: "xiaoe,nowhere" }, "platform"],
      [{ platform: "all", source: "elsewhere" }, "source"],
      [{ platform: "all", status: "lost" }, "status"],
      [{ platform: "all", kind: "gift" }, "kind"],
      [{ platform: "all", from: "2023-13-01" }, "from"],
      [{ platform: "all", limit: "0" }, "limit"],
      [{ platform: "all", limit: "501" }, "limit"],
      [{ platform: "all", include_raw: "true" }, "include_raw"],
      [{ platform: "all", cursor: "abc" }, "cursor"],
      // The list's cursor is not an export's; an export's cursor goes with its own filters.
      [{ platform: "all", limit: 5, cursor: page.json.next_cursor }, "cursor"],
      [{ platform: "all", limit: 1, status: "completed", cursor: continued.end.continue }, "cursor"],
      [{ platform: "all", limit: 1, from: "2023-01-01", cursor: continued.end.continue }, "cursor"],
    ]) {
      const res = await stack.get(`/v1/aftersales/export?${qs(params)}`);
      assert.equal(res.status, 400, show(res));
      assert.equal(res.json.error.code, "invalid_request", show(res));
      assert.match(res.json.error.message, new RegExp(parameter), show(res));
    }
    // An export's cursor is no list cursor either.
    const list = await stack.get(`/v1/aftersales?${qs({ platform: "all", limit: 1, cursor: continued.end.continue })}`);
    assert.equal(list.status, 400, show(list));
    assert.match(list.json.error.message, /cursor/);
    // No key, no export.
    assert.equal((await stack.request("/v1/aftersales/export?platform=all", { key: null })).status, 401);
  });
});
