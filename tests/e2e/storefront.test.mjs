// End-to-end tests of buyer sessions, their scope and caller quotas (SPEC.md §10, issue 13) under
// `wrangler dev`, against the upstream simulator (and, for /v1/me/aftersales, the sandbox, whose
// Xiaoe records carry a buyer id: the documented Xiaoe list answer, which the simulator follows,
// has none). Run by scripts/test-e2e.sh with the rest of tests/e2e/.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ALLOWED_ORIGINS, CLIENT_KEYS, CURSOR_SECRET, startStack } from "./harness.mjs";
import { expectXiaoe } from "./expect.mjs";

const SESSION_SECRET = "sessionsecret-e2e-71d0c4b9a2e6";
const RANGE = { from: "2023-01-01", to: "2023-07-01" };
const qs = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null)).toString();
const show = (res) => `${res.method ?? "GET"} ${res.path} → ${res.status} ${res.text?.slice(0, 500)}`;
const b64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A JWT signed HS256 with `secret`, as any JWT library would make it. */
function jwt(claims, secret, header = { alg: "HS256", typ: "JWT" }) {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** Runs `tasks` (functions returning promises) at most `width` at a time: local wrangler's proxy
 * drops a connection now and then past a couple of hundred at once. */
async function pool(tasks, width = 32) {
  const results = new Array(tasks.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  }));
  return results;
}

function assertError(res, status, code, pattern) {
  assert.equal(res.status, status, show(res));
  assert.equal(res.json?.error?.code, code, show(res));
  if (pattern) assert.match(res.json.error.message, pattern, show(res));
  return res.json.error;
}

/** Every session token a stack minted, to check none leaks anywhere but its own answer. */
function leakCheck(stack, tokens) {
  const secrets = [...stack.secrets(), SESSION_SECRET, ...CLIENT_KEYS];
  const leaks = [];
  for (const res of stack.captured) {
    const minted = res.method === "POST" && res.path.startsWith("/v1/sessions");
    for (const s of [...secrets, ...(minted ? [] : tokens)]) {
      if (res.text.includes(s) || JSON.stringify(res.headers).includes(s)) leaks.push(`${res.method} ${res.path} contains ${s.slice(0, 8)}…`);
    }
    for (const m of res.text.matchAll(/"next_cursor":"([^"]+)"/g)) {
      const decoded = m[1].split(".").map((part) => Buffer.from(part, "base64url").toString("latin1")).join("|");
      for (const s of [...secrets, ...tokens]) if (decoded.includes(s)) leaks.push(`a cursor holds ${s.slice(0, 8)}…`);
    }
  }
  const log = stack.logText();
  assert.ok(log.length > 0, "the wrangler log is empty");
  for (const s of [...secrets, ...tokens]) if (log.includes(s)) leaks.push(`the wrangler log holds ${s.slice(0, 8)}…`);
  assert.deepEqual([...new Set(leaks)].slice(0, 20), []);
}

describe("buyer sessions and their scope", { timeout: 20 * 60_000 }, () => {
  let stack;
  const tokens = [];
  let A;
  let B;
  let sessionA; // wechat_shop, buyer A
  let storeA; // wechat_store, buyer A

  async function mint(body, key = CLIENT_KEYS[0]) {
    const res = await stack.request("/v1/sessions", { method: "POST", key, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (res.json?.session) tokens.push(res.json.session);
    return res;
  }
  const asSession = (session, path, headers = {}) => stack.get(path, { key: session, headers });

  before(async () => {
    stack = await startStack({ records: 120, wechatOrders: 30, seed: 1313, name: "wrangler-storefront", vars: { SESSION_SECRET, CALLER_QUOTA_PER_MIN: "100000" } });
    const orders = stack.sim.orders().filter((o) => o.aftersale_ids.length > 0);
    A = orders[0];
    B = orders.find((o) => o.openid !== A.openid);
    assert.ok(A && B, "the simulator needs two buyers with after-sales");
    sessionA = (await mint({ platform: "wechat_shop", openid: A.openid, ttl_s: 600 })).json.session;
    storeA = (await mint({ platform: "wechat_store", openid: A.openid })).json.session;
  }, { timeout: 15 * 60_000 });

  after(async () => {
    if (stack) leakCheck(stack, tokens);
    await stack?.stop();
  }, { timeout: 60_000 });

  describe("minting", () => {
    it("POST /v1/sessions with a secret key gives a JWT bound to the buyer, living ttl_s", async () => {
      const res = await mint({ platform: "wechat_shop", openid: A.openid, ttl_s: 120 });
      assert.equal(res.status, 200, show(res));
      assert.equal(res.json.platform, "wechat_shop");
      assert.equal(res.json.openid, A.openid);
      assert.equal(res.json.expires_in, 120);
      const [header, payload] = res.json.session.split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url").toString() || "null"));
      assert.equal(header.alg, "HS256");
      assert.equal(payload.exp - payload.iat, 120);
      assert.ok(Math.abs(payload.exp - res.json.expires_at) <= 1);
    });

    it("refuses what cannot be a session, before minting", async () => {
      assertError(await mint({ platform: "wechat_shop", openid: A.openid, ttl_s: 3601 }), 400, "invalid_request", /ttl_s/);
      assertError(await mint({ platform: "wechat_shop", openid: A.openid, ttl_s: 0 }), 400, "invalid_request", /ttl_s/);
      assertError(await mint({ platform: "wechat_shop", openid: A.openid, user_id: "u1" }), 400, "invalid_request", /openid/);
      assertError(await mint({ platform: "wechat_shop" }), 400, "invalid_request", /openid/);
      assertError(await mint({ platform: "nowhere", openid: A.openid }), 400, "invalid_request", /platform/);
      assertError(await mint({ platform: "wechat_shop", openid: A.openid, scope: "all" }), 400, "invalid_request", /body/);
      assertError(await mint({ platform: "wechat_shop", openid: A.openid }, null), 401, "unauthorized");
      assertError(await mint({ platform: "wechat_shop", openid: B.openid }, sessionA), 403, "forbidden", /secret key/);
      assertError(await stack.get("/v1/sessions"), 405, "invalid_request", /POST/);
    });

    it("a mini program signs its buyer in with wx.login()'s code, once per code", async () => {
      const code = stack.sim.simulator.upstreams.wechat.issueLoginCode(B.openid);
      const body = JSON.stringify({ code, platform: "wechat_shop", ttl_s: 300 });
      const res = await stack.request("/v1/sessions/wechat", { method: "POST", key: null, body });
      assert.equal(res.status, 200, show(res));
      tokens.push(res.json.session);
      assert.equal(res.json.openid, B.openid);
      assert.ok(!res.text.includes("session_key"), "the upstream's session key is dropped");
      assertError(await stack.request("/v1/sessions/wechat", { method: "POST", key: null, body }), 400, "invalid_request", /code/);
      assertError(await stack.request("/v1/sessions/wechat", { method: "POST", key: null, body: JSON.stringify({ code: "made-up" }) }), 400, "invalid_request", /code/);
      assertError(await stack.request("/v1/sessions/nowhere", { method: "POST", key: null, body }), 404, "not_found");
      assert.equal(stack.sim.stats().logins.wechat, 1);
      // The session reads B's order, not A's.
      const own = await asSession(res.json.session, `/v1/orders/${B.order_id}/aftersales?platform=wechat_shop`);
      assert.equal(own.status, 200, show(own));
    });
  });

  describe("a session for buyer A", () => {
    it("reads A's after-sales without naming A, and without merchant-only fields", async () => {
      const res = await asSession(sessionA, `/v1/orders/${A.order_id}/aftersales?platform=wechat_shop`);
      assert.equal(res.status, 200, show(res));
      const truth = stack.sim.truth("wechat_shop", { order_id: A.order_id });
      assert.equal(res.json.data.length, truth.length);
      for (const r of res.json.data) {
        assert.equal(r.buyer.openid, A.openid);
        assert.equal(r.merchant_note, null, "merchant_note is merchant-only");
        assert.ok(!("raw" in r) || r.raw === null, "raw is merchant-only");
      }
      const named = await asSession(sessionA, `/v1/orders/${A.order_id}/aftersales?${qs({ platform: "wechat_shop", openid: A.openid })}`);
      assert.equal(named.status, 200, show(named));
    });

    it("every way of reading buyer B is refused", async () => {
      const B_PATHS = [
        ["another openid=", `/v1/orders/${B.order_id}/aftersales?${qs({ platform: "wechat_shop", openid: B.openid })}`, 403],
        ["A's order naming B", `/v1/orders/${A.order_id}/aftersales?${qs({ platform: "wechat_shop", openid: B.openid })}`, 403],
        ["the list route", `/v1/aftersales?${qs({ platform: "xiaoe", ...RANGE })}`, 403],
        ["the export route", `/v1/aftersales/export?${qs({ platform: "xiaoe", ...RANGE })}`, 403],
        ["include_raw", `/v1/orders/${A.order_id}/aftersales?${qs({ platform: "wechat_shop", include_raw: "true" })}`, 403],
        ["another platform's order", `/v1/orders/${A.order_id}?platform=wechat_store`, 401],
        ["another platform's list of mine", `/v1/me/aftersales?${qs({ platform: "xiaoe", ...RANGE })}`, 401],
      ];
      for (const [what, path, status] of B_PATHS) {
        const res = await asSession(sessionA, path);
        assert.equal(res.status, status, `${what}: ${show(res)}`);
        assert.ok(!res.text.includes(B.openid), `${what} showed B's openid`);
      }
      // Another order id with A's session: the upstream is asked for A's after-sales of B's
      // order; whatever it answers, nothing of B's comes back.
      const other = await asSession(sessionA, `/v1/orders/${B.order_id}/aftersales?platform=wechat_shop`);
      assert.ok(other.status >= 400, show(other));
      for (const id of B.aftersale_ids) assert.ok(!other.text.includes(id), `B's after-sale ${id} leaked`);
      // B's store order read with A's store session: the record names B, so 403.
      const store = await asSession(storeA, `/v1/orders/${B.order_id}?platform=wechat_store`);
      assertError(store, 403, "forbidden", /buyer/);
      assert.ok(!store.text.includes(B.openid));
      const mine = await asSession(storeA, `/v1/orders/${A.order_id}?platform=wechat_store`);
      assert.equal(mine.status, 200, show(mine));
      assert.equal(mine.json.data.buyer.openid, A.openid);
      assert.equal(mine.json.data.merchant_note, null);
    });

    it("a cursor from a secret-key query is refused, on the list and on /v1/me", async () => {
      const keyed = await stack.get(`/v1/aftersales?${qs({ platform: "xiaoe", ...RANGE, limit: 5 })}`);
      assert.equal(keyed.status, 200, show(keyed));
      const cursor = keyed.json.next_cursor;
      assert.ok(cursor);
      assertError(await asSession(sessionA, `/v1/aftersales?${qs({ cursor })}`), 403, "forbidden");
      const xiaoe = (await mint({ platform: "xiaoe", user_id: "u_someone" })).json.session;
      assertError(await asSession(xiaoe, `/v1/me/aftersales?${qs({ cursor })}`), 403, "forbidden", /cursor/);
      // /v1/me with a secret key is not a thing: it has no buyer.
      assertError(await stack.get(`/v1/me/aftersales?${qs(RANGE)}`), 403, "forbidden", /session/);
    });

    it("forged, expired, tampered and cross-platform sessions are 401", async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: "aftersale", sub: A.openid, bid: "openid", plt: "wechat_shop", iat: now, exp: now + 600 };
      const path = `/v1/orders/${A.order_id}/aftersales?platform=wechat_shop`;
      // Sanity: the test's own signing is right (it knows SESSION_SECRET), so refusals below are the proxy's.
      const genuine = jwt(claims, SESSION_SECRET);
      tokens.push(genuine);
      assert.equal((await asSession(genuine, path)).status, 200);
      const cases = [
        ["forged with another secret", jwt(claims, "not-the-secret")],
        ["expired", jwt({ ...claims, iat: now - 4000, exp: now - 400 }, SESSION_SECRET)],
        ["living longer than an hour", jwt({ ...claims, exp: now + 7200 }, SESSION_SECRET)],
        ["alg none", `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.`],
        ["tampered buyer", (() => { const [h, , s] = genuine.split("."); return `${h}.${b64url({ ...claims, sub: B.openid })}.${s}`; })()],
        ["tampered platform", (() => { const [h, , s] = genuine.split("."); return `${h}.${b64url({ ...claims, plt: "xiaoe" })}.${s}`; })()],
        ["not a JWT", "eyJhbGciOi.broken"],
      ];
      const calls = stack.sim.stats().dataCalls.wechat;
      for (const [what, token] of cases) {
        const res = await asSession(token, path);
        assert.equal(res.status, 401, `${what}: ${show(res)}`);
        assert.equal(res.json?.error?.code, "unauthorized", `${what}: ${show(res)}`);
      }
      // Cross-platform: a genuine wechat_shop session on a wechat_store route.
      assertError(await asSession(sessionA, `/v1/orders/${A.order_id}?platform=wechat_store`), 401, "unauthorized", /platform/);
      assert.equal(stack.sim.stats().dataCalls.wechat, calls, "a refused session reached the upstream");
    });
  });

  describe("secret keys from browsers", () => {
    const path = `/v1/aftersales?${qs({ platform: "xiaoe", from: "2023-03-01", to: "2023-03-08" })}`;
    it("a key sent from an allowed browser origin is refused, saying why, readable by the page", async () => {
      const res = await stack.get(path, { headers: { origin: ALLOWED_ORIGINS[0] } });
      assertError(res, 403, "forbidden_origin", /ALLOW_SECRET_KEYS_FROM_BROWSERS/);
      assert.equal(res.headers["access-control-allow-origin"], ALLOWED_ORIGINS[0], "the page can read why");
    });
    it("a session from that origin is served with its CORS grant; the Worker's own origin may use keys", async () => {
      const res = await asSession(sessionA, `/v1/orders/${A.order_id}/aftersales?platform=wechat_shop`, { origin: ALLOWED_ORIGINS[1] });
      assert.equal(res.status, 200, show(res));
      assert.equal(res.headers["access-control-allow-origin"], ALLOWED_ORIGINS[1]);
      const own = await stack.get(path, { headers: { origin: stack.baseUrl } });
      assert.equal(own.status, 200, show(own));
    });
  });

  describe("mends", () => {
    const path = `/v1/aftersales?${qs({ platform: "xiaoe", from: "2023-03-01", to: "2023-03-08" })}`;
    it("unknown methods are 405 with Allow, not served as GET", async () => {
      for (const method of ["PROPFIND", "MKCOL", "PUT", "DELETE", "PATCH"]) {
        const res = await stack.request(path, { method });
        assert.equal(res.status, 405, `${method}: ${show(res)}`);
        assert.match(res.headers.allow ?? "", /GET/);
        assert.ok(!res.text.includes('"data"'), `${method} was served as GET`);
      }
    });
    it("the Bearer scheme is case-insensitive", async () => {
      for (const scheme of ["bearer", "BEARER", "BeArEr"]) {
        const res = await stack.get(path, { key: null, headers: { authorization: `${scheme} ${CLIENT_KEYS[1]}` } });
        assert.equal(res.status, 200, `${scheme}: ${show(res)}`);
      }
    });
    it("a repeated parameter is refused, naming it; year 0 is 400, not 502", async () => {
      assertError(await stack.get(`${path}&status=completed&status=rejected`), 400, "invalid_request", /status/);
      assertError(await stack.get(`${path}&platform=lingxing`), 400, "invalid_request", /platform/);
      assertError(await stack.get(`/v1/orders/${A.order_id}/aftersales?platform=wechat_shop&openid=${A.openid}&openid=${B.openid}`), 400, "invalid_request", /openid/);
      assertError(await stack.get(`/v1/aftersales?${qs({ platform: "xiaoe", from: "0000-01-01", to: "2023-03-08" })}`), 400, "invalid_request", /from/);
    });
    it("order_id that matches nothing gives nothing, not other orders' records", async () => {
      const res = await stack.get(`/v1/aftersales?${qs({ platform: "xiaoe", ...RANGE, order_id: "o_matches_nothing" })}`);
      assert.equal(res.status, 200, show(res));
      assert.deepEqual(res.json.data, []);
    });
  });
});

describe("caller quotas and the storefront share", { timeout: 20 * 60_000 }, () => {
  let stack;
  const tokens = [];
  const PER_MIN = 6;

  before(async () => {
    stack = await startStack({
      records: 300,
      wechatOrders: 20,
      seed: 1314,
      name: "wrangler-quota",
      vars: { SESSION_SECRET, CALLER_QUOTA_PER_MIN: String(PER_MIN), STOREFRONT_SHARE: "0.5", ALLOW_SECRET_KEYS_FROM_BROWSERS: "true" },
    });
  }, { timeout: 15 * 60_000 });

  after(async () => {
    if (stack) leakCheck(stack, tokens);
    await stack?.stop();
  }, { timeout: 60_000 });

  it("ALLOW_SECRET_KEYS_FROM_BROWSERS=true lets a key through from an allowed origin", async () => {
    const res = await stack.get(`/v1/aftersales?${qs({ platform: "xiaoe", from: "2023-03-01", to: "2023-03-02" })}`, { key: CLIENT_KEYS[2], headers: { origin: ALLOWED_ORIGINS[0] } });
    assert.equal(res.status, 200, show(res));
  });

  it("a storefront burst at 10× its quota gets 429s while a secret-key export completes, equal to the truth, under the upstream's limit", async (t) => {
    const buyers = ["u_burst_1", "u_burst_2", "u_burst_3"];
    const sessions = [];
    for (const user_id of buyers) {
      const res = await stack.request("/v1/sessions", { method: "POST", body: JSON.stringify({ platform: "xiaoe", user_id, ttl_s: 900 }) });
      assert.equal(res.status, 200, show(res));
      sessions.push(res.json.session);
      tokens.push(res.json.session);
    }
    stack.sim.reset();
    const startedAt = Date.now();
    const exporting = stack.stream(`/v1/aftersales/export?${qs({ platform: "xiaoe", ...RANGE })}`);
    // 10× the quota per buyer, all at once; each admitted one scans Xiaoe pages for its buyer.
    const burst = await pool(sessions.flatMap((session) => Array.from({ length: 10 * PER_MIN }, () => () => stack.get(`/v1/me/aftersales?${qs({ ...RANGE, limit: 50 })}`, { key: session }))));
    const exported = await exporting;
    assert.equal(exported.status, 200, show(exported));
    const lines = exported.text.trim().split("\n").map((l) => JSON.parse(l));
    const done = lines.at(-1);
    assert.deepEqual(done, { done: true, count: lines.length - 1 }, exported.text.slice(-300));
    const truth = stack.sim.truth("xiaoe", { from: RANGE.from, to: RANGE.to, date_type: "created_at" }).map(expectXiaoe);
    assert.deepEqual(new Set(lines.slice(0, -1).map((r) => r.id)), new Set(truth.map((t) => t.id)), "the export equals the truth");
    assert.equal(lines.length - 1, truth.length);

    const limited = burst.filter((r) => r.status === 429);
    const served = burst.filter((r) => r.status === 200);
    assert.equal(limited.length + served.length, burst.length, `unexpected statuses: ${[...new Set(burst.map((r) => r.status))]}`);
    assert.ok(limited.length > 0, "the burst got no 429");
    // Each buyer's bucket holds PER_MIN, refilled at PER_MIN a minute while the burst runs.
    assert.ok(served.length <= buyers.length * (PER_MIN + 2), `${served.length} burst requests served`);
    for (const r of limited) {
      assert.equal(r.json?.error?.code, "rate_limited", show(r));
      const after = Number(r.headers["retry-after"]);
      assert.ok(Number.isInteger(after) && after >= 1 && after <= 60, `Retry-After ${r.headers["retry-after"]}`);
    }
    const s = stack.sim.stats();
    assert.equal(s.throttled.xiaoe, 0, "the upstream's rate limit was exceeded");
    const calls = stack.upstreamCalls.filter((c) => c.endpoint === "xiaoe" && c.at >= startedAt).length;
    // The whole test is far shorter than a minute: every call it made fits in one window.
    assert.ok(calls <= 300, `${calls} Xiaoe calls in one minute`);
    t.diagnostic(`burst: ${burst.length} requests, ${served.length} served, ${limited.length} answered 429; ${calls} Xiaoe calls; export ${lines.length - 1} records in ${exported.endedAt - startedAt} ms`);
  });

  it("sessions together spend at most the storefront share of the upstream's calls; keys keep the rest", async (t) => {
    // Forty buyers (sessions signed as the Worker signs them: the test knows SESSION_SECRET),
    // each within their own quota, each request one Xiaoe call: 200 calls wanted, more than
    // the share of 150 a minute.
    const now = Math.floor(Date.now() / 1000);
    const sessions = Array.from({ length: 40 }, (_, i) => jwt({ iss: "aftersale", sub: `u_share_${i}`, bid: "user_id", plt: "xiaoe", iat: now, exp: now + 600 }, SESSION_SECRET));
    tokens.push(...sessions);
    const startedAt = Date.now();
    const path = `/v1/me/aftersales?${qs({ from: "2023-03-01", to: "2023-03-08", limit: 100 })}`;
    const answers = await pool(sessions.flatMap((session) => Array.from({ length: PER_MIN - 1 }, () => () => stack.get(path, { key: session }))));
    const seconds = (Date.now() - startedAt) / 1000;
    const calls = stack.upstreamCalls.filter((c) => c.endpoint === "xiaoe" && c.at >= startedAt).length;
    const shareRefusals = answers.filter((r) => r.status === 429 && /storefront share/.test(r.json?.error?.message ?? ""));
    const served = answers.filter((r) => r.status === 200);
    t.diagnostic(`${answers.length} session requests in ${seconds.toFixed(1)} s: ${served.length} served, ${calls} Xiaoe calls, ${shareRefusals.length} refused for the share`);
    assert.equal(served.length + shareRefusals.length, answers.length, `other statuses: ${[...new Set(answers.map((r) => r.status))]}`);
    // The share holds 150 and refills 150 every 61 s; the tests before spent some of it.
    assert.ok(calls <= 150 + Math.ceil((150 / 61) * seconds) + 1, `sessions spent ${calls} Xiaoe calls`);
    assert.ok(shareRefusals.length >= 200 - 150 - Math.ceil((150 / 61) * seconds) - 1, `only ${shareRefusals.length} refused for the share`);
    for (const r of shareRefusals) assert.ok(Number(r.headers["retry-after"]) >= 1, show(r));
    // The back office is not starved: a key's request right after is served at once.
    const keyed = await stack.get(`/v1/aftersales?${qs({ platform: "xiaoe", from: "2023-03-01", to: "2023-03-08" })}`, { key: CLIENT_KEYS[2] });
    assert.equal(keyed.status, 200, show(keyed));
  });

  it("a caller over its quota spends no upstream call", async () => {
    const res = await stack.request("/v1/sessions", { method: "POST", key: CLIENT_KEYS[1], body: JSON.stringify({ platform: "xiaoe", user_id: "u_quiet" }) });
    assert.equal(res.status, 200, show(res));
    tokens.push(res.json.session);
    const path = `/v1/me/aftersales?${qs({ from: "2023-03-01", to: "2023-03-02" })}`;
    let limited = null;
    for (let i = 0; i < PER_MIN + 3 && !limited; i++) {
      const r = await stack.get(path, { key: res.json.session });
      if (r.status === 429) limited = r;
    }
    assert.ok(limited, "no 429 after the quota");
    const before = stack.sim.stats().dataCalls.xiaoe;
    assert.equal((await stack.get(path, { key: res.json.session })).status, 429);
    assert.equal(stack.sim.stats().dataCalls.xiaoe, before, "a refused request reached the upstream");
  });
});

describe("GET /v1/me/aftersales in the sandbox", { timeout: 20 * 60_000 }, () => {
  let stack;
  const tokens = [];

  before(async () => {
    const vars = { SANDBOX: "true", SESSION_SECRET, CALLER_QUOTA_PER_MIN: "100000" };
    stack = await startStack({ records: 10, wechatOrders: 5, seed: 1315, name: "wrangler-me-sandbox", vars });
  }, { timeout: 15 * 60_000 });

  after(async () => {
    if (stack) leakCheck(stack, tokens);
    await stack?.stop();
  }, { timeout: 60_000 });

  it("a buyer's session pages through exactly that buyer's after-sales, newest first, without merchant-only fields", async () => {
    const day = (offset) => new Date(Date.now() + 8 * 3600_000 + offset * 86_400_000).toISOString().slice(0, 10);
    const range = { from: day(-200), to: day(1) };
    const exported = await stack.stream(`/v1/aftersales/export?${qs({ platform: "xiaoe", ...range })}`);
    assert.equal(exported.status, 200, show(exported));
    const all = exported.text.trim().split("\n").map((l) => JSON.parse(l)).slice(0, -1);
    const byBuyer = new Map();
    for (const r of all) if (r.buyer.user_id) byBuyer.set(r.buyer.user_id, [...(byBuyer.get(r.buyer.user_id) ?? []), r]);
    const [[userId, theirs], [otherId]] = [...byBuyer].sort((a, b) => b[1].length - a[1].length);
    assert.ok(theirs.length >= 2, "the sandbox needs a buyer with several after-sales");
    const mint = async (user_id) => {
      const res = await stack.request("/v1/sessions", { method: "POST", body: JSON.stringify({ platform: "xiaoe", user_id }) });
      assert.equal(res.status, 200, show(res));
      tokens.push(res.json.session);
      return res.json.session;
    };
    const session = await mint(userId);
    const other = await mint(otherId);
    const got = [];
    let cursor = null;
    let firstCursor = null;
    for (let n = 0; n < 200; n++) {
      const res = await stack.get(`/v1/me/aftersales?${cursor ? qs({ cursor }) : qs({ ...range, limit: 20 })}`, { key: session });
      assert.equal(res.status, 200, show(res));
      for (const r of res.json.data) {
        assert.equal(r.buyer.user_id, userId);
        assert.equal(r.merchant_note, null);
        got.push(r);
      }
      cursor = res.json.next_cursor;
      firstCursor ??= cursor;
      if (cursor === null) break;
    }
    assert.equal(cursor, null, "next_cursor never ended");
    assert.deepEqual(got.map((r) => r.id).sort(), theirs.map((r) => r.id).sort(), "exactly the buyer's after-sales");
    assert.equal(new Set(got.map((r) => r.id)).size, got.length, "a record came twice");
    const created = got.map((r) => r.created_at);
    assert.deepEqual(created, [...created].sort().reverse(), "newest first");
    if (firstCursor) {
      assertError(await stack.get(`/v1/me/aftersales?${qs({ cursor: firstCursor })}`, { key: other }), 403, "forbidden", /cursor/);
      const [inner, tag] = [firstCursor.slice(0, firstCursor.lastIndexOf(".")), firstCursor.slice(firstCursor.lastIndexOf(".") + 1)];
      const flipped = `${inner}.${tag[0] === "A" ? "B" : "A"}${tag.slice(1)}`;
      assertError(await stack.get(`/v1/me/aftersales?${qs({ cursor: flipped })}`, { key: session }), 403, "forbidden", /cursor/);
      assert.ok(!firstCursor.includes(CURSOR_SECRET));
    }
  });
});
