// WeChat Channels end to end: the Worker (wrangler dev) against the Node simulator, which is
// written from the facts document and never imports the core. The list and the export walk
// 24-hour windows with next_key and look every id up; they must equal the simulator's truth
// exactly, under faults and while records are added, changed and deleted. Pushes are sealed
// by the simulator and delivered to the Worker's webhook.
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { CLIENT_KEYS, CREDENTIALS, startStack } from "./harness.mjs";

const PLATFORM = "wechat_channels";
const WEBHOOK = `/v1/webhooks/${PLATFORM}`;
/** The core's pacing of Channels calls (src/upstreams/wechat_channels/mod.rs). */
const PACER = Object.freeze({ limit: 500, windowMs: 30_000 });
let stack;

const qs = (o) => new URLSearchParams(o).toString();
const stats = () => stack.sim.stats();
const show = (res) => `${res.status} ${res.text.slice(0, 400)}`;

/** POST a control route of the simulator. */
async function control(path, body) {
  const res = await fetch(`${stack.sim.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.json();
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
  return json;
}

/** The simulator's truth for a query: `after_sale_order` objects as getaftersaleorder answers now. */
async function truth(query) {
  const res = await fetch(`${stack.sim.url}/__sim/truth?${qs({ platform: PLATFORM, ...query })}`);
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json.records;
}

/** Every record exactly once, as the upstream has it now (status and update time), and nothing else. */
function assertEqualsTruth(records, expected, what) {
  const seen = new Map();
  for (const r of records) {
    assert.equal(r.platform, PLATFORM, what);
    assert.ok(!seen.has(r.aftersale_id), `${what}: ${r.aftersale_id} twice`);
    seen.set(r.aftersale_id, r);
  }
  const want = new Map(expected.map((t) => [String(t.after_sale_order_id), t]));
  const missing = [...want.keys()].filter((id) => !seen.has(id));
  const ghosts = [...seen.keys()].filter((id) => !want.has(id));
  assert.deepEqual({ missing, ghosts }, { missing: [], ghosts: [] }, `${what}: ${records.length} delivered, ${want.size} in the truth`);
  for (const [id, t] of want) {
    const r = seen.get(id);
    assert.equal(r.status_raw, t.status, `${what}: ${id} status`);
    assert.equal(Date.parse(r.updated_at) / 1000, Number(t.update_time), `${what}: ${id} updated_at ${r.updated_at}`);
    assert.equal(Date.parse(r.created_at) / 1000, Number(t.create_time), `${what}: ${id} created_at`);
    assert.match(r.updated_at, /\+08:00$/, what);
  }
}

/** Follows cursors to the end; returns every record and the number of answers. */
async function listAll(query) {
  const records = [];
  let cursor = null;
  let answers = 0;
  do {
    const res = await stack.get(`/v1/aftersales?${qs(cursor ? { cursor } : { platform: PLATFORM, ...query })}`);
    assert.equal(res.status, 200, show(res));
    records.push(...res.json.data);
    assert.equal(res.json.total, null, "Channels counts nothing");
    cursor = res.json.next_cursor;
    answers++;
    assert.ok(answers < 2000, "the walk does not end");
  } while (cursor);
  return { records, answers };
}

/**
 * Every record of an export, following its `{"continue":"<cursor>"}` lines (a run that would
 * pass the request's subrequest budget ends so): each run's records, then `done` with that
 * run's count, or a continuation.
 */
async function followExport(target, query, options) {
  const records = [];
  let cursor = null;
  for (let runs = 1; ; runs++) {
    assert.ok(runs < 200, "the export never ends");
    const res = await target.stream(`/v1/aftersales/export?${qs(cursor ? { cursor } : { platform: PLATFORM, ...query })}`, options);
    assert.equal(res.status, 200, show(res));
    const lines = res.text.trim().split("\n").map((l) => JSON.parse(l));
    const last = lines.pop();
    records.push(...lines);
    if (typeof last?.continue === "string") {
      cursor = last.continue;
      continue;
    }
    assert.deepEqual(last, { done: true, count: lines.length }, `the export ended with ${JSON.stringify(last).slice(0, 300)}`);
    return records;
  }
}

const exportAll = (query) => followExport(stack, query);

function assertWindowsWithinADay() {
  const w = stats().channels;
  assert.equal(w.windowsOver24h, 0, "a window over 24 h was sent");
  assert.ok(w.maxWindowSeconds <= 86_400, `a window of ${w.maxWindowSeconds} s`);
  for (const win of w.windows) {
    assert.notEqual(win.errcode, 10020004, `10020004 for ${JSON.stringify(win)}`);
    assert.ok(win.span <= 86_400, JSON.stringify(win));
  }
  assert.ok(w.windows.length > 0, "the walk listed nothing");
}

describe("wechat_channels end to end", { timeout: 30 * 60_000 }, () => {
  before(async () => {
    // The shop's limit is set to the proxy's pacing (500 calls per 30 s, facts §9 publishes
    // none), and calls are metered per 30 s of real time, so "the pacer was never exceeded" is
    // measured, not assumed.
    stack = await startStack({
      name: "channels",
      seed: 4242,
      simulator: { rateWindowMs: PACER.windowMs, wechatChannels: { aftersales: 240, rateLimit: { limit: 2 * PACER.limit, windowMs: 2 * PACER.windowMs } } },
    });
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await stack?.stop();
  }, { timeout: 60_000 });

  beforeEach(() => {
    stack?.sim.reset();
  });

  afterEach(() => {
    if (!stack) return;
    // The shop's own per-minute limit was never reached: the pacer kept the walk under it
    // (tests that inject throttling say so and skip this).
    const s = stats();
    // Metered at arrival, not at sending: a burst released as the pacer's window slides can
    // land a few ms closer together than it was sent, so a 2% margin for transport jitter.
    assert.ok(s.maxRate.wechat_channels <= PACER.limit * 1.02, `${s.maxRate.wechat_channels} calls within ${PACER.windowMs} ms`);
    if (!stack.throttlingInjected) assert.equal(s.throttled.wechat_channels, 0, "the simulator throttled Channels calls");
    stack.throttlingInjected = false;
  });

  for (const date_field of ["created", "updated"]) {
    it(`the paged list by ${date_field} time equals the truth; no window over 24 h`, async () => {
      const query = { from: "2023-02-01", to: "2023-03-15", date_field };
      const { records, answers } = await listAll(query);
      assertEqualsTruth(records, await truth(query), `list by ${date_field}`);
      assert.ok(answers > 1, "the list took several answers");
      assertWindowsWithinADay();
    });
  }

  it("the export of the whole range equals the truth under token expiry, throttling and 5xx", async () => {
    stack.throttlingInjected = true;
    const query = { from: "2023-01-01", to: "2023-07-01", date_field: "updated" };
    await control("/__sim/faults", {
      // One token killed mid-walk, and every token dead after 60 uses: renewed each time.
      tokenExpiry: [{ platform: PLATFORM, count: 1 }],
      tokenMaxUses: { wechat_channels: 60 },
      throttleBurst: [{ platform: "wechat_channels_detail", count: 1 }],
      serverErrors: [{ platform: "wechat_channels_list", count: 2, status: 502 }],
      busy: { platform: PLATFORM, count: 1 },
    });
    const lines = await exportAll(query);
    assertEqualsTruth(lines, await truth(query), "export under faults");
    const s = stats();
    assert.ok(s.serverErrors.wechat_channels >= 2 && s.throttled.wechat_channels >= 1, JSON.stringify(s.serverErrors));
    assert.ok(s.tokenFetches.wechat_channels >= 2, "expired tokens were renewed");
    assertWindowsWithinADay();
  });

  for (const date_field of ["updated", "created"]) {
    it(`records added, changed and deleted during a walk by ${date_field} time: neither lost nor doubled`, async () => {
      const query = { from: "2023-01-01", to: "2023-07-01", date_field };
      await control("/__sim/faults", {
        channelsMutations: [
          { afterListCalls: 5, add: 2, change: 1, remove: 1 },
          { afterListCalls: 40, add: 1, change: 2, remove: 1 },
          { afterListCalls: 90, add: 3, change: 1 },
        ],
      });
      const lines = await exportAll(query);
      const touched = stats().channels.mutations;
      assert.ok(JSON.stringify(touched).length > 10, `the mutations fired: ${JSON.stringify(touched)}`);
      assert.ok(stats().channels.notFound >= 1, "a deleted id was looked up and skipped");
      assertEqualsTruth(lines, await truth(query), `export by ${date_field} with mutations`);
    });
  }

  it("the paged list under changes during the walk equals the truth too", async () => {
    const query = { from: "2023-03-01", to: "2023-05-01", date_field: "updated" };
    await control("/__sim/faults", {
      channelsMutations: [
        { afterListCalls: 3, add: 1, change: 1, remove: 1 },
        { afterListCalls: 20, add: 1, change: 1, remove: 1 },
      ],
    });
    const { records } = await listAll(query);
    assertEqualsTruth(records, await truth(query), "list with mutations");
  });

  it("a status filter is applied to the details", async () => {
    const query = { from: "2023-01-01", to: "2023-07-01", date_field: "created" };
    const all = await exportAll(query);
    const done = await exportAll({ ...query, status: "completed" });
    assert.ok(done.length > 0 && done.length < all.length, `${done.length} of ${all.length}`);
    assert.deepEqual(done.map((r) => r.aftersale_id), all.filter((r) => r.status === "completed").map((r) => r.aftersale_id));
  });

  it("a cursor carries its query: replaying it with other parameters is refused", async () => {
    const res = await stack.get(`/v1/aftersales?${qs({ platform: PLATFORM, from: "2023-02-01", to: "2023-02-10" })}`);
    assert.equal(res.status, 200, show(res));
    assert.ok(res.json.next_cursor, show(res));
    const other = await stack.get(`/v1/aftersales?${qs({ platform: PLATFORM, from: "2023-02-02", to: "2023-02-10", cursor: res.json.next_cursor })}`);
    assert.equal(other.status, 400, show(other));
    const refunded = await stack.get(`/v1/aftersales?${qs({ platform: PLATFORM, from: "2023-02-01", to: "2023-02-10", date_field: "refunded" })}`);
    assert.equal(refunded.status, 400, show(refunded));
    assert.match(refunded.json.error.message, /date_field/);
  });

  // ------------------------------------------------------------ pushes

  describe("webhook", () => {
    const url = () => `${stack.baseUrl}${WEBHOOK}`;

    it("a push sealed by the simulator is accepted and the after-sale it names is fetched", async () => {
      const [first] = await truth({});
      const before = stats().channels.detailCalls;
      const push = await control("/__sim/wechat_channels/push", { url: url(), after_sale_order_id: String(first.after_sale_order_id) });
      assert.equal(push.delivered.status, 200, JSON.stringify(push.delivered));
      assert.equal(push.delivered.body, "success");
      assert.equal(stats().channels.detailCalls, before + 1, "the after-sale was fetched");
      // No bearer key was sent: the signature was the proof. The Worker logged the fetched record.
      await new Promise((r) => setTimeout(r, 300));
      assert.match(stack.logText(), new RegExp(`after-sale ${first.after_sale_order_id} is `));
      // The mirror has it now, and its change feed has it once; a second push of the same
      // unchanged record adds nothing.
      const id = `wechat_channels:${first.after_sale_order_id}`;
      const mirrored = await stack.get("/v1/aftersales?platform=wechat_channels&source=mirror&limit=100");
      assert.equal(mirrored.status, 200, mirrored.text);
      assert.ok(mirrored.json.data.some((r) => r.id === id), `${id} is not in the mirror`);
      const feed = async () => (await stack.get("/v1/changes?limit=1000")).json.data.filter((c) => c.id === id);
      assert.equal((await feed()).length, 1);
      const again = await control("/__sim/wechat_channels/push", { url: url(), after_sale_order_id: String(first.after_sale_order_id) });
      assert.equal(again.delivered.body, "success");
      assert.equal((await feed()).length, 1, "an unchanged record pushed again is not a change");
    });

    for (const [what, options] of [
      ["a wrong msg_signature", { tamper: "msg_signature" }],
      ["ciphertext changed after signing", { tamper: "encrypt" }],
      ["ciphertext changed, then signed", { tamper: "ciphertext" }],
      ["a stale timestamp (a replay)", { stale: true }],
      ["another appid", { appid: "wx_someone_else_0001" }],
      ["another token", { token: "not-our-push-token" }],
    ]) {
      it(`a push with ${what} is refused (401) and changes nothing`, async () => {
        const before = stats().channels.detailCalls;
        const push = await control("/__sim/wechat_channels/push", { url: url(), ...options });
        assert.equal(push.delivered.status, 401, JSON.stringify(push.delivered));
        assert.notEqual(push.delivered.body, "success");
        assert.equal(stats().channels.detailCalls, before, "nothing was fetched");
      });
    }

    it("unsigned requests are refused, with or without a client key", async () => {
      for (const key of [null, CLIENT_KEYS[0]]) {
        const post = await stack.request(WEBHOOK, { key, method: "POST", body: '{"ToUserName":"gh_x","Encrypt":"AAAA"}' });
        assert.equal(post.status, 401, show(post));
        const get = await stack.request(`${WEBHOOK}?echostr=1`, { key });
        assert.equal(get.status, 401, show(get));
      }
      const xiaoe = await stack.request("/v1/webhooks/xiaoe", { key: null, method: "POST", body: "{}" });
      assert.equal(xiaoe.status, 404, show(xiaoe));
    });

    it("the URL check answers echostr when signed and fresh, 401 otherwise", async () => {
      const ok = await control("/__sim/wechat_channels/verify", { url: url(), echostr: "4375120948345356249" });
      assert.equal(ok.delivered.status, 200, JSON.stringify(ok.delivered));
      assert.equal(ok.delivered.echoed, true, JSON.stringify(ok.delivered));
      for (const bad of [{ tamper: true }, { stale: true }, { token: "other" }]) {
        const res = await control("/__sim/wechat_channels/verify", { url: url(), ...bad });
        assert.equal(res.delivered.status, 401, `${JSON.stringify(bad)}: ${JSON.stringify(res.delivered)}`);
      }
    });
  });

  it("no secret, token or push key reached a caller or the log", () => {
    const secrets = stack.secrets();
    assert.ok(secrets.includes(CREDENTIALS.wechat_channels.encoding_aes_key));
    const leaks = [];
    for (const res of stack.captured) {
      for (const secret of secrets) if (res.text.includes(secret) || JSON.stringify(res.headers).includes(secret)) leaks.push(`${res.path} contains ${secret.slice(0, 6)}…`);
    }
    const log = stack.logText();
    for (const secret of [...secrets, ...CLIENT_KEYS]) if (log.includes(secret)) leaks.push(`the log contains ${secret.slice(0, 6)}…`);
    assert.deepEqual([...new Set(leaks)].slice(0, 20), []);
  });
});

describe("wechat_channels in the sandbox", { timeout: 10 * 60_000 }, () => {
  it("SANDBOX=true serves the Channels list and export from the built-in simulator, no upstream", { timeout: 8 * 60_000 }, async () => {
    const vars = { SANDBOX: "true", CLIENT_KEYS: undefined, CURSOR_SECRET: undefined, WECHAT_CHANNELS_APPID: undefined, WECHAT_CHANNELS_SECRET: undefined };
    const sandbox = await startStack({ name: "channels-sandbox", vars });
    try {
      const range = (await sandbox.get("/v1/sandbox/orders", { key: null })).json.range;
      const to = range.to;
      const from = new Date(Date.parse(`${to}T00:00:00Z`) - 20 * 86_400_000).toISOString().slice(0, 10);
      const ids = new Set();
      let cursor = null;
      do {
        const res = await sandbox.get(`/v1/aftersales?${qs(cursor ? { cursor } : { platform: PLATFORM, from, to, date_field: "updated" })}`, { key: null });
        assert.equal(res.status, 200, show(res));
        for (const r of res.json.data) {
          assert.equal(r.platform, PLATFORM);
          assert.ok(!ids.has(r.aftersale_id), `${r.aftersale_id} twice`);
          assert.ok(r.updated_at >= from && r.updated_at < `${to}T`, r.updated_at);
          ids.add(r.aftersale_id);
        }
        cursor = res.json.next_cursor;
      } while (cursor);
      assert.ok(ids.size > 5, `the sandbox served ${ids.size} records in 20 days`);
      const lines = await followExport(sandbox, { from, to, date_field: "updated" }, { key: "unused" });
      assert.equal(lines.length, ids.size, "the export delivers each record once");
      assert.deepEqual(new Set(lines.map((r) => r.aftersale_id)), ids);
      const one = await sandbox.get(`/v1/aftersales/${[...ids][0]}?platform=${PLATFORM}`, { key: null });
      assert.equal(one.status, 200, show(one));
      const s = sandbox.sim.stats();
      assert.equal(s.dataCalls.wechat_channels + s.tokenFetches.wechat_channels, 0, "the sandbox reached the simulator");
    } finally {
      await sandbox.stop();
    }
  });
});
