// Tests of the simulator's WeChat Channels shop against ../shared/upstreams/wechat_channels.md:
// `node --test tests/simulator/`. Section numbers are the facts document's.
import assert from "node:assert/strict";
import { createServer, request as httpRequest } from "node:http";
import { once } from "node:events";
import { after, before, beforeEach, describe, it } from "node:test";
import { DEFAULT_CREDENTIALS, startSimulator } from "./simulator.mjs";
import { CHANNELS_STATUSES, STATUSES_BY_TYPE, aesKeyOf, decryptPush, encryptPush, wechatSignature } from "./wechat_channels.mjs";

const CH = DEFAULT_CREDENTIALS.wechat_channels;
const WX = DEFAULT_CREDENTIALS.wechat;
const LIST = "/channels/ec/aftersale/getaftersalelist";
const DETAIL = "/channels/ec/aftersale/getaftersaleorder";
const DAY = 86400;
const TWO_53 = 2n ** 53n;
/** Unix seconds of China midnight starting a YYYY-MM-DD date. */
const chinaMidnight = (date) => Date.parse(`${date}T00:00:00+08:00`) / 1000;

// ---------------------------------------------------------------- clients

async function call(url, { method = "POST", body } = {}) {
  const res = await fetch(url, { method, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body), headers: body === undefined ? {} : { "content-type": "application/json" } });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // an injected HTML error page
  }
  return { status: res.status, text, json, contentType: res.headers.get("content-type") };
}
const stable = async (sim, extra = {}) =>
  (await call(`${sim.url}/cgi-bin/stable_token`, { body: { grant_type: "client_credential", appid: CH.appid, secret: CH.secret, ...extra } })).json;
const classic = async (sim, creds = CH) => (await call(`${sim.url}/cgi-bin/token?grant_type=client_credential&appid=${creds.appid}&secret=${creds.secret}`, { method: "GET" })).json;
const api = (sim, path, token, body) => call(`${sim.url}${path}?access_token=${encodeURIComponent(token)}`, { body });
const list = (sim, token, body) => api(sim, LIST, token, body);
const detail = (sim, token, id) => api(sim, DETAIL, token, { after_sale_order_id: id });
const control = (sim, path, body) => call(`${sim.url}/__sim/${path}`, { body });
const codeOf = (reply) => reply.json?.errcode;

/** §0: error messages end with a request id. */
const assertRid = (reply) => assert.match((reply.json ?? reply).errmsg, / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
/** Moves the simulated clock to a unix-ms moment. */
const setClock = (sim, ms) => sim.advance(ms - sim.simulator.now());

/**
 * A correct walker: pages each window with next_key, fetches every listed id, keeps the detail it
 * fetched last, skips ids that are gone, drops details whose time left the window. Returns every
 * listing (with repeats) and the final records in the list's order.
 */
async function walk(sim, token, { field, windows, inclusive = true }) {
  const listed = [];
  const kept = new Map();
  const timeOf = (r) => (field === "create" ? r.create_time : r.update_time);
  for (const [begin, end] of windows) {
    let nextKey;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 1000, "the walk does not end");
      const body = { [`begin_${field}_time`]: begin, [`end_${field}_time`]: end, ...(nextKey ? { next_key: nextKey } : {}) };
      const reply = await list(sim, token, body);
      assert.equal(codeOf(reply), 0, reply.text);
      for (const id of reply.json.after_sale_order_id_list) {
        listed.push(id);
        const d = await detail(sim, token, id);
        if (codeOf(d) === 10021050) {
          kept.delete(id);
          continue;
        }
        assert.equal(codeOf(d), 0, d.text);
        const t = timeOf(d.json.after_sale_order);
        if (t >= begin && (inclusive ? t <= end : t < end)) kept.set(id, d.json.after_sale_order);
        else kept.delete(id);
      }
      if (!reply.json.has_more) break;
      nextKey = reply.json.next_key;
    }
  }
  const records = [...kept.values()].sort((a, b) => timeOf(a) - timeOf(b) || (BigInt(a.after_sale_order_id) < BigInt(b.after_sale_order_id) ? -1 : 1));
  return { listed, records };
}

/** Consecutive windows covering [from, to) (China dates): inclusive ends are one second short of the next begin. */
function dayWindows(from, to, inclusive = true) {
  const out = [];
  for (let b = chinaMidnight(from); b < chinaMidnight(to); b += DAY) out.push([b, inclusive ? b + DAY - 1 : b + DAY]);
  return out;
}

// ---------------------------------------------------------------- §10.6 official vector

describe("Channels push cryptography (§10.6 official vector)", () => {
  const V = {
    token: "AAAAA",
    key: "A".repeat(43),
    appid: "wxba5fad812f8e6fb9",
    timestamp: "1714112445",
    nonce: "415670741",
    encrypt:
      "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=",
    msg: '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}',
  };

  it("the key is 32 zero bytes", () => {
    assert.deepEqual(aesKeyOf(V.key), Buffer.alloc(32));
    assert.throws(() => aesKeyOf("short"), /43 Base64/);
  });

  it("msg_signature and the URL's plain signature", () => {
    assert.equal(wechatSignature(V.token, V.timestamp, V.nonce, V.encrypt), "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3");
    assert.equal(wechatSignature(V.token, V.timestamp, V.nonce), "6c5c811b55cc85e0e1b54100749188c20beb3f5d");
    assert.equal(wechatSignature(V.token, "1714037059", "486452656"), "899cf89e464efb63f54ddac96b0a0a235f53aa78");
    assert.equal(wechatSignature(V.token, "1714036504", "1514711492"), "f464b24fc39322e44b38aa78f5edd27bd1441696"); // §10.2
  });

  it("decrypts the event byte for byte and re-encrypts it with its random bytes", () => {
    assert.equal(Buffer.from(V.encrypt, "base64").length, 224);
    const opened = decryptPush({ encrypt: V.encrypt, encodingAESKey: V.key });
    assert.equal(opened.random.toString("latin1"), "a8eedb185eb2fecf");
    assert.equal(Buffer.byteLength(opened.message), 167);
    assert.equal(opened.message, V.msg);
    assert.equal(opened.appid, V.appid);
    assert.equal(16 + 4 + 167 + V.appid.length, 205); // FullStr unpadded; 19 bytes of padding make 224
    assert.equal(encryptPush({ message: V.msg, appid: V.appid, encodingAESKey: V.key, random: "a8eedb185eb2fecf" }), V.encrypt);
  });

  it("reproduces the encrypted reply and its MsgSignature", () => {
    const encrypt = encryptPush({ message: '{"demo_resp":"good luck"}', appid: V.appid, encodingAESKey: V.key, random: "707722b803182950" });
    assert.equal(encrypt, "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==");
    assert.equal(Buffer.from(encrypt, "base64").length, 64);
    assert.equal(wechatSignature(V.token, "1713424427", "415670741", encrypt), "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1");
  });

  it("pads an aligned plaintext with a whole block of 32, and refuses broken ciphertexts", () => {
    const appid = "x".repeat(32 - 20 - 4); // 16 + 4 + 4 + 8 = 32 bytes exactly
    const sealed = encryptPush({ message: "abcd", appid, encodingAESKey: V.key, random: "0123456789abcdef" });
    assert.equal(Buffer.from(sealed, "base64").length, 64);
    assert.equal(decryptPush({ encrypt: sealed, encodingAESKey: V.key }).appid, appid);
    assert.throws(() => decryptPush({ encrypt: sealed, encodingAESKey: "B".repeat(43) }), /padding|length/);
    assert.throws(() => decryptPush({ encrypt: Buffer.alloc(31).toString("base64"), encodingAESKey: V.key }), /multiple of 32/);
  });
});

// ---------------------------------------------------------------- tokens (§2)

describe("Channels tokens", () => {
  let sim;
  before(async () => {
    sim = await startSimulator({ seed: 5, wechatOrders: 3 });
  });
  after(() => sim.close());
  beforeEach(() => sim.reset({ tokens: true }));

  const anyId = () => sim.truth("wechat_channels", {})[0].after_sale_order_id;

  it("routes the token paths by appid: the shop's tokens and the mini program's do not mix", async () => {
    const shop = await stable(sim);
    assert.deepEqual(Object.keys(shop), ["access_token", "expires_in"]);
    assert.equal(shop.expires_in, 7200);
    const mini = (await call(`${sim.url}/cgi-bin/stable_token`, { body: { grant_type: "client_credential", appid: WX.appid, secret: WX.secret } })).json;
    assert.notEqual(mini.access_token, shop.access_token);
    assert.equal(codeOf(await detail(sim, shop.access_token, anyId())), 0);
    assert.equal(codeOf(await detail(sim, mini.access_token, anyId())), 40001);
    const order = sim.orders()[0];
    assert.equal(codeOf(await api(sim, "/product/order/get", shop.access_token, `{"order_id":${order.order_id}}`)), 40001);
    assert.equal(codeOf(await api(sim, "/product/order/get", mini.access_token, `{"order_id":${order.order_id}}`)), 0);
    assert.equal(sim.stats().tokenFetches.wechat_channels, 1);
    assert.equal(sim.stats().tokenFetches.wechat, 1);
  });

  it("answers credential errors: 40013 unknown appid, 40001 wrong secret (configurable), 40002 grant_type", async () => {
    assert.equal((await stable(sim, { appid: "wx_nobody" })).errcode, 40013);
    const wrong = await stable(sim, { secret: "nope" });
    assert.equal(wrong.errcode, 40001);
    assert.match(wrong.errmsg, / rid: /);
    assert.equal((await stable(sim, { grant_type: "password" })).errcode, 40002);
    assert.equal((await classic(sim, { appid: CH.appid, secret: "nope" })).errcode, 40001);
    sim.setFaults({ wechatChannels: { wrongSecretErrcode: 40125 } });
    assert.equal((await stable(sim, { secret: "nope" })).errcode, 40125);
    assert.equal(sim.stats().authErrors.wechat_channels, 4);
  });

  it("normal mode returns the same token, rotates in its last 300 s and lets the old one live out its time", async () => {
    const a = await stable(sim);
    sim.advance(1000 * 1000);
    const b = await stable(sim);
    assert.equal(b.access_token, a.access_token);
    assert.equal(b.expires_in, 7200 - 1000);
    sim.advance((7200 - 1000 - 299) * 1000); // 299 s left: inside the last 5 minutes
    const c = await stable(sim);
    assert.notEqual(c.access_token, a.access_token);
    assert.equal(c.expires_in, 7200);
    assert.equal(codeOf(await detail(sim, a.access_token, anyId())), 0, "both valid during the overlap");
    assert.equal(codeOf(await detail(sim, c.access_token, anyId())), 0);
    sim.advance(300 * 1000);
    const expired = await detail(sim, a.access_token, anyId());
    assert.equal(codeOf(expired), 42001);
    assertRid(expired);
    assert.equal(codeOf(await detail(sim, c.access_token, anyId())), 0);
  });

  it("expires_in is configurable", async () => {
    sim.setFaults({ wechatChannels: { tokenTtlSeconds: 300 } });
    const a = await stable(sim);
    assert.equal(a.expires_in, 300);
    sim.advance(301 * 1000);
    assert.equal(codeOf(await detail(sim, a.access_token, anyId())), 42001);
    assert.notEqual((await stable(sim)).access_token, a.access_token);
  });

  it("force_refresh invalidates at once, is ignored within 30 s and limited to 20 a day", async () => {
    setClock(sim, Date.parse("2026-06-01T01:00:00+08:00")); // the day's count must not roll over mid-test
    const a = await stable(sim);
    const b = await stable(sim, { force_refresh: true });
    assert.notEqual(b.access_token, a.access_token);
    assert.equal(codeOf(await detail(sim, a.access_token, anyId())), 40001);
    const c = await stable(sim, { force_refresh: true });
    assert.equal(c.access_token, b.access_token, "within 30 s: no refresh");
    assert.equal(sim.stats().channels.forceRefreshIgnored, 1);
    sim.setFaults({ wechatChannels: { forceRefreshTooSoon: 45011 } });
    assert.equal((await stable(sim, { force_refresh: true })).errcode, 45011);
    for (let i = 1; i < 20; i++) {
      sim.advance(30 * 1000);
      assert.equal(typeof (await stable(sim, { force_refresh: true })).access_token, "string");
    }
    assert.equal(sim.stats().channels.forceRefreshes, 20);
    sim.advance(30 * 1000);
    const refused = await stable(sim, { force_refresh: true });
    assert.equal(refused.errcode, 45009);
    assertRid(refused);
    assert.equal((await stable(sim, { force_refresh: "yes" })).errcode, 47001);
  });

  it("classic tokens: a new one each call, the previous lives 5 more minutes; separate from stable ones", async () => {
    const s = await stable(sim);
    const a = await classic(sim);
    const b = await classic(sim);
    assert.notEqual(a.access_token, b.access_token);
    assert.equal(codeOf(await detail(sim, a.access_token, anyId())), 0);
    sim.advance(300 * 1000);
    assert.equal(codeOf(await detail(sim, a.access_token, anyId())), 42001);
    assert.equal(codeOf(await detail(sim, b.access_token, anyId())), 0);
    assert.equal(codeOf(await detail(sim, s.access_token, anyId())), 0);
    assert.equal(sim.stats().channels.tokenCalls.classic, 2);
    assert.equal((await call(`${sim.url}/cgi-bin/stable_token?appid=${CH.appid}`, { method: "GET" })).json.errcode, 43002);
  });

  it("data calls: 41001 without a token, 40001 unknown, 42001 after tokenMaxUses, tokenExpiry kills the token", async () => {
    const id = anyId();
    assert.equal(codeOf(await call(`${sim.url}${DETAIL}`, { body: { after_sale_order_id: id } })), 41001);
    assert.equal(codeOf(await detail(sim, "nope", id)), 40001);
    sim.setFaults({ tokenMaxUses: { wechat_channels: 2 } });
    const a = await stable(sim);
    assert.equal(codeOf(await detail(sim, a.access_token, id)), 0);
    assert.equal(codeOf(await detail(sim, a.access_token, id)), 0);
    assert.equal(codeOf(await detail(sim, a.access_token, id)), 42001);
    const b = await stable(sim);
    assert.notEqual(b.access_token, a.access_token, "an unusable token is replaced");
    sim.setFaults({ tokenMaxUses: { wechat_channels: null } });
    sim.setFaults({ tokenExpiry: [{ platform: "wechat_channels", count: 1 }] });
    assert.equal(codeOf(await detail(sim, b.access_token, id)), 42001);
    assert.equal(codeOf(await detail(sim, b.access_token, id)), 40001, "dead for good");
    const c = await stable(sim);
    assert.notEqual(c.access_token, b.access_token);
    sim.setFaults({ tokenExpiry: { platform: "wechat_channels_list", count: 1, errcode: 40001 } });
    assert.equal(codeOf(await detail(sim, c.access_token, id)), 0, "the list's fault leaves the detail alone");
    assert.equal(codeOf(await list(sim, c.access_token, { begin_create_time: 0, end_create_time: 10 })), 40001);
    assert.throws(() => sim.setFaults({ tokenExpiry: { platform: "xiaoe", count: 1 } }), /platform/);
    assert.throws(() => sim.setFaults({ tokenExpiry: { platform: "wechat_channels", count: 1, errcode: 45011 } }), /errcode/);
  });
});

// ---------------------------------------------------------------- list and detail (§4, §5)

describe("Channels getaftersalelist and getaftersaleorder", () => {
  let sim;
  let token;
  before(async () => {
    sim = await startSimulator({ seed: 13, wechatOrders: 0, records: 0, dateRange: { from: "2023-03-01", to: "2023-04-01" }, wechatChannels: { aftersales: 240, rateLimit: { limit: 100_000, windowMs: 60_000 } } });
  });
  after(() => sim.close());
  beforeEach(async () => {
    sim.reset({ tokens: true });
    token = (await stable(sim)).access_token;
  });

  it("the list answers §4.2's shape with ids as digit strings beyond 2^53", async () => {
    const busiest = sim.truth("wechat_channels", {}).reduce((m, r) => {
      const day = Math.floor((r.create_time + 8 * 3600) / DAY);
      m.set(day, (m.get(day) ?? 0) + 1);
      return m;
    }, new Map());
    const [day, count] = [...busiest].sort((a, b) => b[1] - a[1])[0];
    assert.ok(count > 10, "a busy day needs several pages (test data)");
    const begin = day * DAY - 8 * 3600;
    const reply = await list(sim, token, { begin_create_time: begin, end_create_time: begin + DAY - 1 });
    assert.deepEqual(Object.keys(reply.json), ["errcode", "errmsg", "after_sale_order_id_list", "has_more", "next_key"]);
    assert.equal(reply.json.errcode, 0);
    assert.equal(reply.json.errmsg, "ok");
    assert.equal(reply.json.after_sale_order_id_list.length, 10);
    assert.equal(reply.json.has_more, true);
    assert.equal(typeof reply.json.next_key, "string");
    for (const id of reply.json.after_sale_order_id_list) {
      assert.match(id, /^\d{19}$/);
      assert.ok(BigInt(id) > TWO_53);
      assert.ok(reply.text.includes(`"${id}"`), "a JSON string on the wire");
    }
  });

  it("walking every 24 h window equals the truth, by create and by update time, inclusive and exclusive ends", async () => {
    sim.setFaults({ wechatChannels: { pageSize: 3 } });
    for (const inclusive of [true, false]) {
      sim.setFaults({ wechatChannels: { windowEnd: inclusive ? "inclusive" : "exclusive" } });
      for (const field of ["create", "update"]) {
        const windows = dayWindows("2023-02-25", "2023-04-15", inclusive);
        const { listed, records } = await walk(sim, token, { field, windows, inclusive });
        const truth = sim.truth("wechat_channels", { date_field: `${field}d`, begin: windows[0][0], end: windows.at(-1)[0] + DAY });
        assert.equal(new Set(listed).size, listed.length, "no id listed twice without changes");
        assert.deepEqual(records, truth);
        assert.ok(truth.length > 200, `${field}: ${truth.length}`);
      }
    }
  });

  it("an inclusive end includes a record at exactly the end second (a walker must not reuse it as the next begin)", async () => {
    const onMidnight = sim.truth("wechat_channels", {}).find((r) => (r.create_time + 8 * 3600) % DAY === 0);
    assert.ok(onMidnight, "generated data has records at China midnight");
    const t = onMidnight.create_time;
    const ids = async (begin, end) => (await list(sim, token, { begin_create_time: begin, end_create_time: end })).json.after_sale_order_id_list;
    const all = async (begin, end) => {
      const out = [];
      let nextKey;
      for (;;) {
        const r = (await list(sim, token, { begin_create_time: begin, end_create_time: end, ...(nextKey ? { next_key: nextKey } : {}) })).json;
        out.push(...r.after_sale_order_id_list);
        if (!r.has_more) return out;
        nextKey = r.next_key;
      }
    };
    assert.ok((await all(t - DAY, t)).includes(onMidnight.after_sale_order_id));
    assert.ok((await all(t, t + DAY)).includes(onMidnight.after_sale_order_id));
    sim.setFaults({ wechatChannels: { windowEnd: "exclusive" } });
    assert.ok(!(await all(t - DAY, t)).includes(onMidnight.after_sale_order_id));
    assert.deepEqual(await ids(t, t), [], "an empty exclusive window");
  });

  it("refuses windows over 24 h with 10020004 and logs every window sent", async () => {
    const begin = chinaMidnight("2023-03-10");
    assert.equal(codeOf(await list(sim, token, { begin_create_time: begin, end_create_time: begin + DAY })), 0);
    const over = await list(sim, token, { begin_update_time: begin, end_update_time: begin + DAY + 1 });
    assert.equal(codeOf(over), 10020004);
    assertRid(over);
    assert.equal(codeOf(await list(sim, token, { begin_create_time: begin + 10, end_create_time: begin })), 10020004, "begin after end");
    const windows = (await call(`${sim.url}/__sim/wechat_channels/windows`, { method: "GET" })).json;
    assert.equal(windows.windows.length, 3);
    assert.deepEqual(windows.windows.map((w) => [w.field, w.span, w.errcode]), [["create", DAY, 0], ["update", DAY + 1, 10020004], ["create", -10, 10020004]]);
    assert.equal(windows.maxWindowSeconds, DAY + 1);
    assert.equal(windows.windowsOver24h, 1);
    sim.setFaults({ wechatChannels: { maxWindowSeconds: 3600 } });
    assert.equal(codeOf(await list(sim, token, { begin_create_time: begin, end_create_time: begin + 3601 })), 10020004);
  });

  it("checks the body: one complete pair of integer seconds, next_key of the same window, POST, JSON", async () => {
    const begin = chinaMidnight("2023-03-10");
    const expect = async (body, code, pattern) => {
      const reply = await list(sim, token, body);
      assert.equal(codeOf(reply), code, reply.text);
      if (pattern) assert.match(reply.json.errmsg, pattern);
    };
    await expect({}, 47001, /begin_create_time/);
    await expect({ begin_create_time: begin, end_create_time: begin + 1, begin_update_time: begin, end_update_time: begin + 1 }, 47001, /not both/);
    await expect({ begin_create_time: begin }, 47001, /end_create_time is missing/);
    await expect({ begin_update_time: String(begin), end_update_time: begin + 1 }, 47001, /begin_update_time must be unix seconds/);
    await expect({ begin_create_time: begin * 1000, end_create_time: begin * 1000 + 1000 }, 0); // milliseconds are just far-future seconds
    await expect("", 44002);
    await expect("{not json", 47001);
    await expect("[]", 47001);
    await expect({ begin_create_time: begin, end_create_time: begin + DAY, next_key: 7 }, 47001, /next_key/);
    await expect({ begin_create_time: begin, end_create_time: begin + DAY, next_key: "forged.key" }, 47001, /next_key/);
    sim.setFaults({ wechatChannels: { pageSize: 1 } });
    const first = (await list(sim, token, { begin_create_time: begin, end_create_time: begin + DAY })).json;
    assert.equal(first.has_more, true);
    await expect({ begin_create_time: begin, end_create_time: begin + DAY - 1, next_key: first.next_key }, 47001, /another time window/);
    await expect({ begin_update_time: begin, end_update_time: begin + DAY, next_key: first.next_key }, 47001, /another time window/);
    const [payload, mac] = first.next_key.split(".");
    const edited = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url")), t: 0 })).toString("base64url");
    await expect({ begin_create_time: begin, end_create_time: begin + DAY, next_key: `${edited}.${mac}` }, 47001, /next_key/);
    assert.equal(codeOf(await call(`${sim.url}${LIST}?access_token=${token}`, { method: "GET" })), 43002);
  });

  it("the last page: has_more false with a key past the end (default), an empty key, or none", async () => {
    const begin = chinaMidnight("2023-03-10");
    const body = { begin_create_time: begin, end_create_time: begin + DAY - 1 };
    const walkKeys = async () => {
      let reply;
      let nextKey;
      do {
        reply = (await list(sim, token, { ...body, ...(nextKey ? { next_key: nextKey } : {}) })).json;
        nextKey = reply.next_key;
      } while (reply.has_more);
      return reply;
    };
    const last = await walkKeys();
    assert.ok(last.next_key.length > 0);
    const beyond = (await list(sim, token, { ...body, next_key: last.next_key })).json;
    assert.deepEqual(beyond.after_sale_order_id_list, []);
    assert.equal(beyond.has_more, false);
    sim.setFaults({ wechatChannels: { lastPageNextKey: "empty" } });
    assert.equal((await walkKeys()).next_key, "");
    sim.setFaults({ wechatChannels: { lastPageNextKey: "absent" } });
    assert.ok(!("next_key" in (await walkKeys())));
    const empty = (await list(sim, token, { begin_create_time: 1000, end_create_time: 2000 })).json;
    assert.deepEqual(empty.after_sale_order_id_list, []);
    assert.equal(empty.has_more, false);
  });

  it("every detail answers §5's shape and equals the truth", async () => {
    const truth = sim.truth("wechat_channels", {});
    assert.equal(truth.length, 240);
    const combos = new Set();
    for (const want of truth) {
      const reply = await detail(sim, token, want.after_sale_order_id);
      assert.equal(codeOf(reply), 0);
      assert.equal(reply.json.errmsg, "ok");
      assert.deepEqual(Object.keys(reply.json), ["errcode", "errmsg", "after_sale_order"]);
      const a = reply.json.after_sale_order;
      assert.deepEqual(a, want);
      assert.ok(reply.text.includes(`"after_sale_order_id":"${a.after_sale_order_id}"`));
      assert.ok(reply.text.includes(`"order_id":"${a.order_id}"`));
      for (const key of ["after_sale_order_id", "order_id", "openid", "status", "reason", "reason_text", "type", "sub_type"]) assert.equal(typeof a[key], "string", key);
      for (const key of ["create_time", "update_time", "gen_scene"]) assert.ok(Number.isInteger(a[key]), key);
      assert.ok(a.update_time >= a.create_time);
      assert.ok(BigInt(a.after_sale_order_id) > TWO_53 && BigInt(a.order_id) > TWO_53);
      assert.ok(CHANNELS_STATUSES.includes(a.status), a.status);
      assert.ok(STATUSES_BY_TYPE[a.type].includes(a.status), `${a.type} ${a.status}`);
      combos.add(`${a.type} ${a.status}`);
      const p = a.product_info;
      assert.ok(typeof p.product_id === "string" && typeof p.sku_id === "string" && Number.isInteger(p.count) && p.count >= 1);
      const d = a.details;
      assert.ok(typeof d.desc === "string" && typeof d.receive_product === "boolean" && Number.isInteger(d.cancel_time) && Array.isArray(d.media_id_list));
      assert.equal(d.cancel_time > 0, a.status === "USER_CANCELD");
      assert.ok(Number.isInteger(a.refund_info.amount) && a.refund_info.amount >= 0, "fen");
      if (a.type === "REFUND" || a.type === "RETURN") assert.ok(a.refund_info.amount > 0);
      assert.deepEqual(Object.keys(a.return_info).slice(0, 3), ["waybill_id", "delivery_id", "delivery_name"]);
      if (a.status === "MERCHANT_WAIT_RECEIPT") assert.notEqual(a.return_info.waybill_id, "");
      if (a.type === "REFUND") assert.equal(a.return_info.waybill_id, "");
      assert.equal(typeof a.merchant_upload_info.reject_reason, "string");
      assert.equal(a.merchant_upload_info.reject_reason !== "", a.status.startsWith("MERCHANT_REJECT_"));
      assert.equal("deadline" in a, a.status === "MERCHANT_PROCESSING" || a.status === "MERCHANT_WAIT_RECEIPT");
      if ("deadline" in a) assert.ok(a.deadline > 1e9 && a.deadline > a.update_time, "a timestamp by default");
      assert.equal("exchange_product_info" in a, a.type === "EXCHANGE");
      assert.equal("exchange_delivery_info" in a, a.type === "EXCHANGE" && ["USER_WAIT_RECEIPT", "MERCHANT_EXCHANGE_SUCCESS"].includes(a.status));
      if (a.exchange_delivery_info) assert.match(a.exchange_delivery_info.address_info.tel_number, /\*{4}/, "desensitised");
      assert.equal("merchant_update_detail" in a, a.status === "USER_WAIT_CONFIRM_UPDATE");
      assert.equal("need_offline_refund" in a, a.status === "PLATFORM_REFUND_FAIL");
      assert.equal("refund_resp" in a, "refund_reason" in a.refund_info);
      if (/^\d+$/.test(a.reason)) assert.match(a.reason, /^100000\d\d$/);
    }
    const expected = Object.entries(STATUSES_BY_TYPE).filter(([t]) => t !== "RESHIP").flatMap(([t, ss]) => ss.map((s) => `${t} ${s}`));
    assert.deepEqual([...combos].filter((c) => expected.includes(c)).sort(), expected.sort(), "every (type, status) pair occurs");
    const ids = truth.map((r) => BigInt(r.after_sale_order_id));
    assert.ok(ids.some((id) => ids.includes(id + 1n)), "some ids differ by one, which a float would merge");
  });

  it("deadline readings are configurable (§13)", async () => {
    const open = sim.truth("wechat_channels", {}).filter((r) => "deadline" in r);
    assert.ok(open.length > 2);
    sim.advance(-(sim.simulator.now() - (open[0].update_time + 3600) * 1000)); // an hour after it was due to start counting
    sim.setFaults({ wechatChannels: { deadline: "remaining" } });
    const reply = (await detail(sim, token, open[0].after_sale_order_id)).json.after_sale_order;
    assert.ok(reply.deadline > 0 && reply.deadline < 7 * DAY, `remaining seconds: ${reply.deadline}`);
    assert.ok(Math.abs(reply.deadline - (open[0].deadline - open[0].update_time - 3600)) <= 2);
    sim.setFaults({ wechatChannels: { deadline: "alternate" } });
    const kinds = new Set(sim.truth("wechat_channels", {}).filter((r) => "deadline" in r).map((r) => r.deadline > 1e9));
    assert.deepEqual([...kinds].sort(), [false, true]);
  });

  it("getaftersaleorder errors: unknown id (configurable code), missing, not a string", async () => {
    const unknown = await detail(sim, token, "1999999999999999999");
    assert.equal(codeOf(unknown), 10021050);
    assertRid(unknown);
    sim.setFaults({ wechatChannels: { notFoundErrcode: 10020000 } });
    assert.equal(codeOf(await detail(sim, token, "1999999999999999999")), 10020000);
    assert.equal(codeOf(await api(sim, DETAIL, token, {})), 47001);
    const id = sim.truth("wechat_channels", {})[0].after_sale_order_id;
    const asNumber = await api(sim, DETAIL, token, `{"after_sale_order_id":${id}}`);
    assert.equal(codeOf(asNumber), 47001);
    assert.match(asNumber.json.errmsg, /must be a string/);
    assert.equal(sim.stats().channels.notFound, 2);
  });

  it("truth over HTTP, and records added at given times", async () => {
    const from = "2023-03-05";
    const to = "2023-03-09";
    const http = (await call(`${sim.url}/__sim/truth?platform=wechat_channels&from=${from}&to=${to}&date_field=updated`, { method: "GET" })).json;
    assert.deepEqual(http.records, sim.truth("wechat_channels", { from, to, date_field: "updated" }));
    assert.ok(http.records.every((r) => r.update_time >= chinaMidnight(from) && r.update_time < chinaMidnight(to)));
    const one = (await call(`${sim.url}/__sim/truth?platform=wechat_channels&after_sale_order_id=${http.records[0].after_sale_order_id}`, { method: "GET" })).json;
    assert.deepEqual(one.records, [http.records[0]]);
    const t = chinaMidnight("2023-03-07") + 5;
    const added = (await control(sim, "records", { platform: "wechat_channels", n: 2, at: { create_time: t, update_time: t + 60 } })).json;
    assert.equal(added.added, 2);
    assert.deepEqual(added.records.map((r) => r.create_time), [t, t]);
    const listed = (await list(sim, token, { begin_create_time: t, end_create_time: t })).json.after_sale_order_id_list;
    assert.deepEqual(new Set(listed), new Set(added.records.map((r) => r.after_sale_order_id)));
    assert.equal((await control(sim, "records", { platform: "xiaoe", n: 1, at: { create_time: 1 } })).status, 400);
    assert.equal((await call(`${sim.url}/__sim/truth?platform=wechat_channels&date_field=paid`, { method: "GET" })).status, 400);
  });
});

// ---------------------------------------------------------------- changes during a walk

describe("Channels records added, changed and deleted during a walk", () => {
  let sim;
  let token;
  const range = { from: "2023-05-01", to: "2023-05-11" };
  before(async () => {
    sim = await startSimulator({ seed: 21, wechatOrders: 0, records: 0, dateRange: range, wechatChannels: { aftersales: 150, pageSize: 4 } });
  });
  after(() => sim.close());
  beforeEach(async () => {
    sim.reset({ tokens: true });
    token = (await stable(sim)).access_token;
  });

  for (const field of ["create", "update"]) {
    it(`by ${field} time: a correct walker ends equal to the truth; ids come back or vanish as announced`, async () => {
      sim.setFaults({
        channelsMutations: [
          { afterListCalls: 2, add: 3, change: 2, remove: 1 },
          { afterListCalls: 9, change: 3 },
          { afterListCalls: 15, remove: 2, add: 1 },
        ],
      });
      const windows = dayWindows(range.from, range.to);
      const { listed, records } = await walk(sim, token, { field, windows });
      const mutations = sim.stats().channels.mutations;
      assert.equal(mutations.length, 3, "every mutation fired");
      const removed = mutations.flatMap((m) => m.removed);
      const changed = mutations.flatMap((m) => m.changed);
      const added = mutations.flatMap((m) => m.added);
      assert.equal(removed.length, 3);
      assert.equal(changed.length, 5);
      assert.equal(added.length, 4);
      const truth = sim.truth("wechat_channels", { date_field: `${field}d`, begin: windows[0][0], end: windows.at(-1)[0] + DAY });
      assert.deepEqual(records, truth);
      for (const id of removed) assert.ok(!truth.some((r) => r.after_sale_order_id === id));
      for (const id of added) assert.ok(listed.includes(id), `added ${id} was listed later in the walk`);
      assert.ok(sim.stats().channels.notFound >= 3, "deleted between list and detail");
      const repeats = listed.length - new Set(listed).size;
      if (field === "update") assert.ok(repeats >= 1, "changed records come back later in an update-time walk: a walker must not double them");
      else assert.equal(repeats, 0);
    });
  }

  it("a change is a step of §5.5 with a later update_time", async () => {
    const before = new Map(sim.truth("wechat_channels", {}).map((r) => [r.after_sale_order_id, r]));
    sim.setFaults({ channelsMutations: { afterListCalls: 1, change: 4 } });
    const begin = chinaMidnight("2023-05-03");
    await list(sim, token, { begin_create_time: begin, end_create_time: begin + DAY - 1 });
    const [{ changed }] = sim.stats().channels.mutations;
    assert.equal(changed.length, 4);
    for (const id of changed) {
      const [now] = sim.truth("wechat_channels", { after_sale_order_id: id });
      const was = before.get(id);
      assert.equal(now.create_time, was.create_time);
      assert.ok(now.update_time > was.update_time);
      assert.ok(now.status !== was.status || (now.complaint_id && !was.complaint_id), `${was.status} -> ${now.status}`);
    }
  });

  it("rejects malformed mutations and data settings given as faults", () => {
    assert.throws(() => sim.setFaults({ channelsMutations: { afterListCalls: 0 } }), /afterListCalls/);
    assert.throws(() => sim.setFaults({ channelsMutations: { afterListCalls: 1, add: -1 } }), /add/);
    assert.throws(() => sim.setFaults({ wechatChannels: { aftersales: 3 } }), /startSimulator/);
    assert.throws(() => sim.setFaults({ wechatChannels: { pageSize: 0 } }), /pageSize/);
    assert.throws(() => sim.setFaults({ wechatChannels: { nope: 1 } }), /nope/);
    assert.throws(() => sim.setFaults({ wechatChannels: { pageSize: 2 }, nope: 1 }));
    assert.equal(sim.state.faults.wechatChannels.pageSize, 4, "nothing applied");
  });
});

// ---------------------------------------------------------------- faults and counters

describe("Channels faults and counters", () => {
  let sim;
  let token;
  let id;
  before(async () => {
    sim = await startSimulator({ seed: 8, wechatOrders: 0, records: 0, wechatChannels: { aftersales: 30 } });
  });
  after(() => sim.close());
  beforeEach(async () => {
    sim.reset({ tokens: true });
    token = (await stable(sim)).access_token;
    id = sim.truth("wechat_channels", {})[0].after_sale_order_id;
  });

  it("throttleBurst answers 45011 (or 45009, 30000), busy -1, serverErrors an HTML 5xx", async () => {
    sim.setFaults({ throttleBurst: [{ platform: "wechat_channels", count: 1 }, { platform: "wechat_channels_list", count: 1, errcode: 30000 }] });
    assert.equal(codeOf(await list(sim, token, { begin_create_time: 0, end_create_time: 1 })), 30000);
    const limited = await detail(sim, token, id);
    assert.equal(codeOf(limited), 45011);
    assertRid(limited);
    assert.equal(codeOf(await detail(sim, token, id)), 0);
    sim.setFaults({ throttleBurst: { platform: "wechat_channels_detail", count: 1, errcode: 45009 } });
    assert.equal(codeOf(await detail(sim, token, id)), 45009);
    assert.throws(() => sim.setFaults({ throttleBurst: { platform: "xiaoe", count: 1, errcode: 45009 } }), /errcode/);
    sim.setFaults({ busy: { platform: "wechat_channels", count: 2 } });
    assert.equal(codeOf(await detail(sim, token, id)), -1);
    assert.match((await detail(sim, token, id)).json.errmsg, /^system error rid: /);
    assert.equal(codeOf(await detail(sim, token, id)), 0);
    sim.setFaults({ serverErrors: { platform: "wechat_channels_list", count: 1, status: 502 } });
    const page = await list(sim, token, { begin_update_time: 100, end_update_time: 100 + 2 * DAY });
    assert.equal(page.status, 502);
    assert.match(page.contentType, /text\/html/);
    const s = sim.stats();
    assert.equal(s.throttled.wechat_channels, 3);
    assert.equal(s.busy.wechat_channels, 2);
    assert.equal(s.serverErrors.wechat_channels, 1);
    assert.deepEqual(s.channels.windows.at(-1).errcode, "http 502");
    assert.equal(s.channels.windowsOver24h, 1, "the window of a call answered 5xx is logged too");
  });

  it("a per-minute rate limit (45011) and a daily quota (45009) on the simulated clock", async () => {
    sim.setFaults({ wechatChannels: { rateLimit: { limit: 3, windowMs: 60_000 } } });
    for (let i = 0; i < 3; i++) assert.equal(codeOf(await detail(sim, token, id)), 0);
    assert.equal(codeOf(await detail(sim, token, id)), 45011);
    sim.advance(60_000);
    assert.equal(codeOf(await detail(sim, token, id)), 0);
    sim.setFaults({ wechatChannels: { rateLimit: { limit: 1000, windowMs: 60_000 }, dailyQuota: { limit: 2 } } });
    assert.equal(codeOf(await detail(sim, token, id)), 0);
    assert.equal(codeOf(await detail(sim, token, id)), 0);
    assert.equal(codeOf(await detail(sim, token, id)), 45009);
    assert.equal(codeOf(await list(sim, token, { begin_create_time: 0, end_create_time: 1 })), 0, "per endpoint");
    sim.advance(DAY * 1000);
    token = (await stable(sim)).access_token; // the old one expired meanwhile
    assert.equal(codeOf(await detail(sim, token, id)), 0);
  });

  it("counts calls per endpoint with the most in flight and the most per rate window", async () => {
    // Two calls in flight for certain: the first one's body is held back until the second is answered.
    const url = new URL(`${sim.url}${DETAIL}?access_token=${token}`);
    const held = httpRequest(url, { method: "POST", headers: { "content-type": "application/json" } });
    const heldReply = once(held, "response");
    held.write('{"after_sale_order_id":');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(codeOf(await detail(sim, token, id)), 0);
    held.end(`"${id}"}`);
    const [res] = await heldReply;
    res.resume();
    await Promise.all(Array.from({ length: 6 }, () => detail(sim, token, id)));
    const s = sim.stats();
    assert.equal(s.endpoints.wechat_channels_detail.calls, 8);
    assert.ok(s.endpoints.wechat_channels_detail.maxInFlight >= 2);
    assert.ok(s.endpoints.wechat_channels_detail.maxInWindow >= 6, `${s.endpoints.wechat_channels_detail.maxInWindow}`);
    assert.equal(s.endpoints.wechat_channels_list.calls, 0);
    assert.equal(s.dataCalls.wechat_channels, 8);
    assert.equal(s.dataCalls.wechat_channels_detail, 8);
    assert.equal(s.maxRate.wechat_channels, s.endpoints.wechat_channels_detail.maxInWindow);
    assert.equal(s.rateWindowMs, 1000);
    assert.equal(s.okCalls.wechat_channels, 8);
  });

  it("is deterministic for a seed", async () => {
    const a = await startSimulator({ seed: 99, wechatChannels: { aftersales: 20 } });
    const b = await startSimulator({ seed: 99, wechatChannels: { aftersales: 20 } });
    const c = await startSimulator({ seed: 100, wechatChannels: { aftersales: 20 } });
    try {
      assert.deepEqual(a.truth("wechat_channels", {}), b.truth("wechat_channels", {}));
      assert.notDeepEqual(a.truth("wechat_channels", {}), c.truth("wechat_channels", {}));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

// ---------------------------------------------------------------- pushes (§10)

describe("Channels pushes", () => {
  let sim;
  let receiver;
  let received;
  let replyStatus;
  before(async () => {
    sim = await startSimulator({ seed: 4, wechatOrders: 0, records: 0, wechatChannels: { aftersales: 20, pushRetryDelaysMs: [0, 50] } });
    receiver = createServer(async (req, res) => {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const url = new URL(req.url, "http://x");
      received.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body: Buffer.concat(chunks).toString() });
      const status = replyStatus.length > 0 ? replyStatus.shift() : 200;
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(req.method === "GET" ? (url.searchParams.get("echostr") ?? "") : "success");
    });
    receiver.listen(0, "127.0.0.1");
    await once(receiver, "listening");
  });
  after(async () => {
    await sim.close();
    receiver.close();
  });
  beforeEach(() => {
    sim.reset({ tokens: true });
    received = [];
    replyStatus = [];
  });
  const hookUrl = () => `http://127.0.0.1:${receiver.address().port}/v1/webhooks/wechat_channels`;

  /** What a receiver must do (§10.3, §10.4): check msg_signature, decrypt, check the appid. */
  function open({ query, body }) {
    const envelope = typeof body === "string" ? JSON.parse(body) : body;
    assert.equal(wechatSignature(CH.push_token, query.timestamp, query.nonce, envelope.Encrypt), query.msg_signature, "msg_signature");
    const opened = decryptPush({ encrypt: envelope.Encrypt, encodingAESKey: CH.encoding_aes_key });
    assert.equal(opened.appid, CH.appid);
    return JSON.parse(opened.message);
  }

  it("builds a channels_ec_aftersale_update push as WeChat sends it (§10.3, §10.8)", async () => {
    const record = sim.truth("wechat_channels", {})[3];
    const push = (await control(sim, "wechat_channels/push", { after_sale_order_id: record.after_sale_order_id })).json;
    assert.deepEqual(Object.keys(push.query), ["signature", "timestamp", "nonce", "openid", "encrypt_type", "msg_signature"]);
    assert.equal(push.query.encrypt_type, "aes");
    assert.equal(push.query.signature, wechatSignature(CH.push_token, push.query.timestamp, push.query.nonce));
    assert.ok(Math.abs(Number(push.query.timestamp) - Date.now() / 1000) < 5);
    assert.deepEqual(Object.keys(push.body), ["ToUserName", "Encrypt"]);
    assert.equal(push.body.ToUserName, CH.user_name);
    const message = open(push);
    assert.equal(push.message, JSON.stringify(message));
    assert.deepEqual(message, {
      ToUserName: CH.user_name,
      FromUserName: CH.push_openid,
      CreateTime: Number(push.query.timestamp),
      MsgType: "event",
      Event: "channels_ec_aftersale_update",
      finder_shop_aftersale_status_update: { status: record.status, after_sale_order_id: record.after_sale_order_id, order_id: record.order_id, wxa_vip_discounted_price: record.details.wxa_vip_discounted_price },
    });
    assert.equal(push.query.openid, CH.push_openid);
    sim.setFaults({ wechatChannels: { vipDiscount: "top" } });
    const top = open((await control(sim, "wechat_channels/push", { after_sale_order_id: record.after_sale_order_id, status: "MERCHANT_REFUND_SUCCESS" })).json);
    assert.equal(top.finder_shop_aftersale_status_update.status, "MERCHANT_REFUND_SUCCESS");
    assert.ok("wxa_vip_discounted_price" in top && !("wxa_vip_discounted_price" in top.finder_shop_aftersale_status_update));
  });

  it("seals a given message with given random bytes exactly like the official vector", async () => {
    const message = '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}';
    const push = (await control(sim, "wechat_channels/push", { message, random: "a8eedb185eb2fecf", appid: "wxba5fad812f8e6fb9", token: "AAAAA", encoding_aes_key: "A".repeat(43), timestamp: 1714112445, nonce: 415670741 })).json;
    assert.equal(push.body.Encrypt.slice(0, 20), "+qdx1OKCy+5JPCBFWw70");
    assert.equal(push.query.msg_signature, "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3");
    assert.equal(push.query.signature, "6c5c811b55cc85e0e1b54100749188c20beb3f5d");
  });

  it("tampered, stale and foreign pushes fail where a receiver checks", async () => {
    const build = async (o) => (await control(sim, "wechat_channels/push", o)).json;
    const badSignature = await build({ tamper: "msg_signature" });
    assert.throws(() => open(badSignature), /msg_signature/);
    const badEncrypt = await build({ tamper: "encrypt" });
    assert.throws(() => open(badEncrypt), /msg_signature/);
    const resealed = await build({ tamper: "ciphertext" });
    assert.equal(wechatSignature(CH.push_token, resealed.query.timestamp, resealed.query.nonce, resealed.body.Encrypt), resealed.query.msg_signature, "signed after tampering");
    assert.throws(() => open(resealed));
    const foreign = await build({ appid: "wx_some_other_shop" });
    assert.throws(() => open(foreign), /wx_some_other_shop/);
    assert.equal(decryptPush({ encrypt: foreign.body.Encrypt, encodingAESKey: CH.encoding_aes_key }).appid, "wx_some_other_shop");
    const stale = await build({ stale: true });
    assert.ok(Date.now() / 1000 - Number(stale.query.timestamp) >= 600 - 5);
    open(stale); // valid in itself: only its age gives it away
    assert.equal((await control(sim, "wechat_channels/push", { tamper: "everything" })).status, 400);
    assert.equal((await control(sim, "wechat_channels/push", { after_sale_order_id: "1" })).status, 400);
  });

  it("POSTs a push to a URL and sends the URL check (§10.2) by GET", async () => {
    const delivered = (await control(sim, "wechat_channels/push", { url: hookUrl() })).json;
    assert.equal(delivered.delivered.status, 200);
    assert.equal(delivered.delivered.body, "success");
    assert.equal(received.length, 1);
    assert.equal(received[0].method, "POST");
    assert.equal(received[0].path, "/v1/webhooks/wechat_channels");
    assert.deepEqual(received[0].query, delivered.query);
    assert.equal(received[0].body, delivered.bodyText);
    open(received[0]);
    const check = (await control(sim, "wechat_channels/verify", { url: hookUrl(), echostr: "4375120948345356249" })).json;
    assert.equal(check.delivered.echoed, true);
    assert.equal(received[1].method, "GET");
    assert.equal(received[1].query.signature, wechatSignature(CH.push_token, received[1].query.timestamp, received[1].query.nonce));
    assert.deepEqual(Object.keys(received[1].query), ["signature", "timestamp", "nonce", "echostr"]);
    const bad = (await control(sim, "wechat_channels/verify", { tamper: true })).json;
    assert.notEqual(bad.query.signature, wechatSignature(CH.push_token, bad.query.timestamp, bad.query.nonce));
    assert.equal((await control(sim, "wechat_channels/push", { url: "http://example.com/hook" })).status, 400, "loopback only");
  });

  it("announces transitions to a push target, retrying on HTTP failure", async () => {
    assert.deepEqual((await control(sim, "wechat_channels/push_target", { url: hookUrl() })).json, { url: hookUrl() });
    const record = sim.truth("wechat_channels", {}).find((r) => r.status === "MERCHANT_PROCESSING");
    replyStatus = [503];
    const moved = (await control(sim, "wechat_channels/transition", { after_sale_order_id: record.after_sale_order_id })).json.after_sale_order;
    assert.notEqual(moved.status, record.status);
    assert.deepEqual(sim.truth("wechat_channels", { after_sale_order_id: record.after_sale_order_id }), [moved]);
    for (let i = 0; i < 100 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(received.length, 2, "one failure, one retry");
    const message = open(received[1]);
    assert.equal(message.finder_shop_aftersale_status_update.status, moved.status);
    assert.equal(message.finder_shop_aftersale_status_update.after_sale_order_id, record.after_sale_order_id);
    assert.deepEqual(sim.stats().channels.pushes.map((p) => p.status), [503, 200]);
    await control(sim, "wechat_channels/delete", { after_sale_order_id: record.after_sale_order_id });
    assert.deepEqual(sim.truth("wechat_channels", { after_sale_order_id: record.after_sale_order_id }), []);
    assert.equal((await control(sim, "wechat_channels/transition", { after_sale_order_id: record.after_sale_order_id })).status, 400);
  });
});
