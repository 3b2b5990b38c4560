// The mirror in sandbox mode (SANDBOX=true, no credentials, no upstream): workerd syncs the
// living sandbox into its local D1 until done, and then the mirror's rows of every syncable
// platform equal the proxy's live listing of the same range; a second sync adds to the change
// feed only what the clock moved on meanwhile; the Cron Trigger (GET /__scheduled, as `make dev`
// fires it) syncs too. Expectations come from the proxy's own live answers, not from numbers.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO_ROOT, startWrangler } from "../support/wrangler.mjs";

const OUT = join(REPO_ROOT, "test-output", "e2e");
const START_TIMEOUT_MS = Number(process.env.E2E_START_TIMEOUT_MS ?? 900_000);
const DAY_MS = 86_400_000;
/** China-time date `days` from the clock's day. */
const chinaDay = (days, now = Date.now()) => new Date(now + 8 * 3_600_000 + days * DAY_MS).toISOString().slice(0, 10);
// A short backfill keeps the run quick; the sync starts there, and so does the comparison.
const SYNC_FROM = chinaDay(-40);

let worker;
const qs = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null)).toString();

async function call(path, { method = "GET" } = {}) {
  const res = await fetch(`${worker.baseUrl}${path}`, { method });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // NDJSON or an error page: the caller reads text
  }
  return { status: res.status, text, json, show: `${method} ${path} → ${res.status} ${text.slice(0, 400)}` };
}

async function syncUntilDone(max = 100) {
  for (let i = 1; i <= max; i++) {
    const res = await call("/v1/sync", { method: "POST" });
    assert.equal(res.status, 200, res.show);
    for (const [platform, p] of Object.entries(res.json.platforms)) assert.equal(p.error, null, `${platform}: ${p.error}`);
    if (res.json.done) return { invocations: i, platforms: Object.keys(res.json.platforms) };
  }
  assert.fail(`the sync was not done after ${max} invocations`);
}

/**
 * Every mirror row of `platform`, by id: what the sync read, which is the live listing by updated
 * time from SYNC_FROM (Lingxing filters by its record's gmt_modified, so a line whose own update
 * time is older comes with a sibling that moved).
 */
async function mirrorRows(platform) {
  const rows = new Map();
  let cursor = null;
  for (let pages = 0; pages < 500; pages++) {
    // A mirror cursor goes with the query it came with (one platform alone is live by default).
    const params = { platform, source: "mirror", from: "2000-01-01", to: chinaDay(1), date_field: "updated", limit: 100, cursor };
    const res = await call(`/v1/aftersales?${qs(params)}`);
    assert.equal(res.status, 200, res.show);
    assert.equal(res.json.source, "mirror");
    for (const r of res.json.data) {
      assert.ok(!rows.has(r.id), `${r.id} twice in the mirror`);
      rows.set(r.id, r);
    }
    cursor = res.json.next_cursor;
    if (cursor === null) return rows;
  }
  assert.fail("the mirror's listing never ended");
}

/** The live answer for the same range (the sandbox upstream, through the proxy), by id. */
async function liveRows(platform) {
  const rows = new Map();
  let cursor = null;
  // The Channels shop's walk (a lookup per id) ends a run at the request's subrequest budget
  // with a continue line: the same query with its cursor goes on.
  for (let runs = 0; runs < 100; runs++) {
    const res = await call(`/v1/aftersales/export?${qs({ platform, from: SYNC_FROM, to: chinaDay(1), date_field: "updated", cursor })}`);
    assert.equal(res.status, 200, res.show);
    const lines = res.text.trim().split("\n").map((l) => JSON.parse(l));
    const last = lines.pop();
    for (const r of lines) rows.set(r.id, r);
    if (last.done === true) return rows;
    assert.equal(typeof last.continue, "string", `the export ended with neither done nor continue: ${JSON.stringify(last)}`);
    cursor = last.continue;
  }
  assert.fail(`${platform}: the export never ended`);
}

/** Differences between the mirror and the live listing, as readable lines. */
function differences(mirror, live) {
  const out = [];
  for (const [id, r] of live) {
    if (!mirror.has(id)) out.push(`missing from the mirror: ${id}`);
    else if (JSON.stringify(mirror.get(id)) !== JSON.stringify(r)) out.push(`differs: ${id}\n  mirror ${JSON.stringify(mirror.get(id))}\n  live   ${JSON.stringify(r)}`);
  }
  for (const id of mirror.keys()) if (!live.has(id)) out.push(`only in the mirror: ${id}`);
  return out;
}

async function lastSeq() {
  let after = 0;
  for (let i = 0; i < 1000; i++) {
    const res = await call(`/v1/changes?${qs({ after, limit: 1000 })}`);
    assert.equal(res.status, 200, res.show);
    after = res.json.next_after;
    if (!res.json.has_more) return after;
  }
  assert.fail("the change feed never ended");
}

describe("the mirror of the living sandbox", { timeout: 20 * 60_000 }, () => {
  before(async () => {
    worker = await startWrangler({
      vars: { SANDBOX: "true", SYNC_FROM },
      args: ["--test-scheduled"],
      logFile: join(OUT, `sandbox-mirror-${new Date().toISOString().replace(/[:.]/g, "-")}.log`),
      startTimeoutMs: START_TIMEOUT_MS,
    });
  }, { timeout: START_TIMEOUT_MS + 60_000 });
  after(async () => {
    await worker?.stop();
  });

  let platforms;
  let startedAt;

  it("syncs until done, and then every syncable platform's rows equal its live listing", async () => {
    startedAt = Date.now();
    ({ platforms } = await syncUntilDone());
    for (const p of ["xiaoe", "lingxing", "wechat_channels"]) assert.ok(platforms.includes(p), `${p} not synced: ${platforms}`);
    for (const platform of platforms) {
      // The sandbox lives: a record may move on between the sync and the live read. Then the
      // next sync brings it, and the comparison is made again (a few times at most).
      let diff;
      for (let attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0) await syncUntilDone();
        const [mirror, live] = [await mirrorRows(platform), await liveRows(platform)];
        assert.ok(live.size > 0, `${platform}: the sandbox served nothing since ${SYNC_FROM}`);
        diff = differences(mirror, live);
        if (diff.length === 0) break;
      }
      assert.deepEqual(diff, [], `${platform}: the mirror is not the live listing`);
    }
    const status = await call("/v1/sync/status");
    assert.equal(status.status, 200, status.show);
    for (const platform of platforms) {
      const s = status.json.platforms[platform];
      assert.ok(s.rows > 0 && s.last_error === null && s.in_progress === false, `${platform}: ${JSON.stringify(s)}`);
    }
  });

  it("a second sync adds to the change feed only records the clock moved on meanwhile", async () => {
    assert.ok(platforms, "the first sync ran");
    const seq = await lastSeq();
    await syncUntilDone();
    const res = await call(`/v1/changes?${qs({ after: seq, limit: 1000 })}`);
    assert.equal(res.status, 200, res.show);
    // Each record the first sync read was read after startedAt: a change now means it was
    // created or moved on later (whole seconds: the sandbox's times have no fraction).
    const since = Math.floor(startedAt / 1000) * 1000;
    for (const c of res.json.data) {
      const when = Date.parse(c.change === "created" ? c.created_at : c.updated_at);
      assert.ok(when >= since, `${c.id} (${c.change}) changed again without moving on: ${c.updated_at}, first sync at ${new Date(startedAt).toISOString()}`);
    }
  });

  it("the Cron Trigger (GET /__scheduled) syncs every syncable platform in sandbox mode", async () => {
    assert.ok(platforms, "the first sync ran");
    const before = Math.floor(Date.now() / 1000) * 1000;
    const res = await call("/__scheduled?cron=*/5+*+*+*+*");
    assert.equal(res.status, 200, res.show);
    const status = await call("/v1/sync/status");
    for (const platform of platforms) {
      const s = status.json.platforms[platform];
      assert.equal(s.last_error, null, `${platform}: ${JSON.stringify(s)}`);
      assert.ok(Date.parse(s.last_run) >= before, `${platform}: the scheduled run did not sync (${JSON.stringify(s)})`);
    }
  });
});
