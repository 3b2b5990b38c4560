// Tests of the upstream simulator itself: `node --test tests/simulator/`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { after, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { XIAOE_KINDS, addDays } from "./data.mjs";
import { canonicalString, md5Upper, signLingxing } from "./lingxing-sign.mjs";
import { DEFAULT_CREDENTIALS, startSimulator } from "./simulator.mjs";
import { parseJsonPreservingBigInts, stringifyJson } from "./util.mjs";

const WX = DEFAULT_CREDENTIALS.wechat;
const XE = DEFAULT_CREDENTIALS.xiaoe;
const LX = DEFAULT_CREDENTIALS.lingxing;
const LIST_PATH = "/erp/sc/routing/amzod/order/afterSaleList";
const XIAOE_LIST_PATH = "/xe.ecommerce.after_sale.list/1.0.0";

// ---------------------------------------------------------------- clients

async function request(url, { method = "GET", body, headers = {} } = {}) {
  const res = await fetch(url, { method, body, headers });
  const text = await res.text();
  let json = null;
  try {
    json = parseJsonPreservingBigInts(text);
  } catch {
    // not JSON: server error pages
  }
  return { status: res.status, text, json, contentType: res.headers.get("content-type") };
}
const postJson = (url, value) => request(url, { method: "POST", body: typeof value === "string" ? value : stringifyJson(value), headers: { "content-type": "application/json" } });

const wechatClassicToken = async (sim, creds = WX) =>
  (await request(`${sim.url}/cgi-bin/token?grant_type=client_credential&appid=${creds.appid}&secret=${creds.secret}`)).json;
const wechatStableToken = async (sim, forceRefresh = false) =>
  (await postJson(`${sim.url}/cgi-bin/stable_token`, { grant_type: "client_credential", appid: WX.appid, secret: WX.secret, force_refresh: forceRefresh })).json;
const wechatCall = (sim, path, token, body) => postJson(`${sim.url}${path}?access_token=${encodeURIComponent(token)}`, body);

const xiaoeToken = async (sim) =>
  (await request(`${sim.url}/token?app_id=${XE.app_id}&client_id=${XE.client_id}&secret_key=${XE.secret_key}&grant_type=client_credential`)).json;
const xiaoeList = (sim, token, body) => postJson(`${sim.url}${XIAOE_LIST_PATH}`, { access_token: token, ...body });

async function lingxingToken(sim) {
  const form = new URLSearchParams({ appId: LX.appId, appSecret: LX.appSecret });
  return (await request(`${sim.url}/api/auth-server/oauth/access-token`, { method: "POST", body: form.toString(), headers: { "content-type": "application/x-www-form-urlencoded" } })).json;
}
async function lingxingRefresh(sim, refreshToken) {
  const form = new URLSearchParams({ appId: LX.appId, refreshToken });
  return (await request(`${sim.url}/api/auth-server/oauth/refresh`, { method: "POST", body: form.toString(), headers: { "content-type": "application/x-www-form-urlencoded" } })).json;
}
/** A signed afterSaleList call; `tweak` may alter the query after signing. */
function lingxingList(sim, accessToken, body, { timestamp = Math.floor(sim.simulator.now() / 1000), appKey = LX.appId, tweak } = {}) {
  const common = { access_token: accessToken, app_key: appKey, timestamp: String(timestamp) };
  const query = { ...common, sign: signLingxing({ ...common, ...body }, LX.appId) };
  tweak?.(query);
  return postJson(`${sim.url}${LIST_PATH}?${new URLSearchParams(query)}`, body);
}

/** Walks every page of a Xiaoe query and returns the records in order. */
async function walkXiaoe(sim, token, body, pageSize) {
  const out = [];
  for (let page = 1; ; page++) {
    const { json } = await xiaoeList(sim, token, { ...body, page_size: pageSize, page_index: page });
    assert.equal(json.code, 0, JSON.stringify(json));
    out.push(...json.data.list);
    if (json.data.list.length < pageSize) return { records: out, rowCount: json.data.row_count };
  }
}

async function walkLingxing(sim, token, body, length) {
  const out = [];
  for (let offset = 0; ; offset += length) {
    const { json } = await lingxingList(sim, token, { ...body, offset, length });
    assert.equal(json.code, 0, JSON.stringify(json));
    out.push(...json.data);
    if (offset + length >= json.total) return { records: out, total: json.total };
  }
}

const lineKeys = (records) => records.flatMap((r) => r.item_list.map((l) => l.md5_v2));

// ---------------------------------------------------------------- signing

describe("Lingxing signature", () => {
  const example = {
    access_token: "59cf5437-669b-49f5-83c4-3cc1d1404680",
    app_key: "ak_0123456789abc",
    timestamp: 1639734344,
    sid: "6,7,19",
    start_date: "2022-02-01",
    end_date: "2022-03-01",
    date_type: 1,
    after_type: "1,2",
    offset: 0,
    length: 1000,
    amazon_order_id_list: ["113-9870855-8214638"],
  };

  it("reproduces the worked example of UPSTREAMS.md", () => {
    assert.equal(md5Upper(canonicalString(example)), "4C51EDFC0746A09949502E0BB02608F5");
    assert.equal(signLingxing(example, "ak_0123456789abc"), "Lu9igwedngYKitw7EtBiuCJJIFXl7gQlJE0o1ZFCXqdIwVhSPzVcd0sPeLkAl3rO");
  });

  it("drops empty strings, undefined and sign; signs null as key=null; sorts nested object keys, renders booleans", () => {
    const text = canonicalString({ b: "", a: null, u: undefined, sign: "x", z: true, obj: { y: 1, n: null, x: [2, { d: 1, c: "é" }] } });
    assert.equal(text, 'a=null&obj={"n":null,"x":[2,{"c":"é","d":1}],"y":1}&z=true');
  });

  it("still gives the vectors that tests/signing.rs checks the core against", async () => {
    const { vectors } = JSON.parse(await readFile(new URL("./lingxing-sign.vectors.json", import.meta.url), "utf8"));
    assert.ok(vectors.some((v) => Object.values(v.params).includes(null)));
    for (const v of vectors) {
      assert.equal(canonicalString(v.params), v.string, v.what);
      assert.equal(md5Upper(v.string), v.md5, v.what);
      assert.equal(signLingxing(v.params, v.app_id), v.sign, v.what);
    }
  });

  it("refuses an appId that is not 16 bytes", () => {
    assert.throws(() => signLingxing({ a: 1 }, "short"), /16 bytes/);
  });
});

// ---------------------------------------------------------------- wechat

describe("WeChat", () => {
  let sim;
  before(async () => {
    sim = await startSimulator({ seed: 7 });
  });
  after(() => sim.close());
  beforeEach(() => sim.reset({ tokens: true }));

  it("issues classic tokens and a new one invalidates the previous", async () => {
    const first = await wechatClassicToken(sim);
    assert.equal(first.expires_in, 7200);
    const order = sim.orders().find((o) => o.aftersale_ids.length > 0);
    const body = `{"order_id":${order.order_id},"openid":"${order.openid}"}`;
    assert.equal((await wechatCall(sim, "/shop/aftersale/get", first.access_token, body)).json.errcode, 0);
    const second = await wechatClassicToken(sim);
    assert.notEqual(second.access_token, first.access_token);
    assert.deepEqual((await wechatCall(sim, "/shop/aftersale/get", first.access_token, body)).json, {
      errcode: 40001,
      errmsg: "invalid credential, access_token is invalid or not latest",
    });
    assert.equal((await wechatCall(sim, "/shop/aftersale/get", second.access_token, body)).json.errcode, 0);
    assert.equal(sim.stats().tokenFetches.wechat, 2);
  });

  it("stable tokens: the same one until force_refresh; independent of classic ones", async () => {
    const a = await wechatStableToken(sim);
    const classic = await wechatClassicToken(sim);
    const b = await wechatStableToken(sim);
    assert.equal(b.access_token, a.access_token);
    assert.ok(b.expires_in <= 7200 && b.expires_in > 7000);
    const c = await wechatStableToken(sim, true);
    assert.notEqual(c.access_token, a.access_token);
    const { order_id, openid } = sim.orders()[0];
    const body = `{"order_id":${order_id},"openid":"${openid}"}`;
    assert.equal((await wechatCall(sim, "/product/order/get", a.access_token, body)).json.errcode, 40001);
    assert.equal((await wechatCall(sim, "/product/order/get", c.access_token, body)).json.errcode, 0);
    assert.equal((await wechatCall(sim, "/product/order/get", classic.access_token, body)).json.errcode, 0);
  });

  it("rejects wrong credentials and expires tokens on the simulated clock", async () => {
    assert.equal((await wechatClassicToken(sim, { appid: "nope", secret: WX.secret })).errcode, 40013);
    assert.equal((await wechatClassicToken(sim, { appid: WX.appid, secret: "nope" })).errcode, 40125);
    assert.equal(sim.stats().authErrors.wechat, 2);
    const { access_token } = await wechatClassicToken(sim);
    sim.advance(7200 * 1000);
    const { order_id } = sim.orders()[0];
    const reply = await wechatCall(sim, "/product/order/get", access_token, `{"order_id":${order_id}}`);
    assert.equal(reply.json.errcode, 42001);
    assert.equal((await wechatCall(sim, "/product/order/get", "", `{"order_id":${order_id}}`)).json.errcode, 40001);
  });

  it("/shop/aftersale/get answers seed 000's shape and checks openid and the order", async () => {
    const { access_token } = await wechatClassicToken(sim);
    const orders = sim.orders();
    const keys = new Set();
    for (const order of orders) {
      const reply = await wechatCall(sim, "/shop/aftersale/get", access_token, `{"order_id":${order.order_id},"openid":"${order.openid}"}`);
      assert.equal(reply.json.errcode, 0);
      assert.equal(reply.json.errmsg, "ok");
      const listKey = Object.keys(reply.json).find((k) => k.trim().toLowerCase() === "aftersale_infos");
      keys.add(listKey);
      assert.deepEqual(reply.json[listKey], sim.truth("wechat_shop", { order_id: order.order_id }));
      assert.deepEqual(reply.json[listKey].map((r) => r.aftersale_id), order.aftersale_ids);
      for (const record of reply.json[listKey]) {
        assert.match(record.create_time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        assert.ok([1, 2, 3].includes(record.type));
        assert.ok(record.status >= 0 && record.status <= 14);
        assert.equal(typeof record.aftersale_id, "string");
        assert.equal(record.openid, order.openid);
      }
      const byOut = await wechatCall(sim, "/shop/aftersale/get", access_token, { out_order_id: order.out_order_id, openid: order.openid });
      assert.equal(byOut.text, reply.text);
    }
    assert.deepEqual([...keys].sort(), ["aftersale_Infos ", "aftersale_infos"]);

    const order = orders[1];
    const expectWrong = async (body) => assert.equal((await wechatCall(sim, "/shop/aftersale/get", access_token, body)).json.errcode, 9401020);
    await expectWrong(`{"order_id":${order.order_id}}`);
    await expectWrong(`{"order_id":${order.order_id},"openid":"someone-else"}`);
    await expectWrong(`{"order_id":1,"openid":"${order.openid}"}`);
    await expectWrong(`{"order_id":"${order.order_id}","openid":"${order.openid}"}`);
  });

  it("keeps 19-digit order ids exact on the wire", async () => {
    const { access_token } = await wechatClassicToken(sim);
    const order = sim.orders()[4];
    assert.match(order.order_id, /^\d{19}$/);
    const reply = await wechatCall(sim, "/product/order/get", access_token, `{"order_id":${order.order_id}}`);
    assert.ok(reply.text.includes(`"order_id":${order.order_id},`), "order_id is a bare, exact number");
    assert.equal(reply.json.order.order_id, BigInt(order.order_id));
  });

  it("/product/order/get answers seed 002's shape, with and without its typos", async () => {
    const { access_token } = await wechatClassicToken(sim);
    const seen = new Set();
    const statuses = new Set();
    for (const order of sim.orders()) {
      const reply = await wechatCall(sim, "/product/order/get", access_token, `{"order_id":${order.order_id}}`);
      assert.equal(reply.json.errcode, 0);
      const doc = reply.json.order;
      assert.equal(reply.text, stringifyJson({ errcode: 0, errmsg: "ok", order: sim.truth("wechat_store", { order_id: order.order_id })[0] }));
      statuses.add(doc.status);
      for (const key of ["craete_time", "create_time", "order_detail ", "order_detail", "aftersale_detail ", "aftersale_detail"]) if (key in doc) seen.add(key);
      const detail = doc["order_detail"] ?? doc["order_detail "];
      const products = detail.product_infos ?? detail["product_Infos "];
      assert.ok(products.length >= 1);
      for (const p of products) assert.equal(typeof p.sale_price, "number");
      const address = detail.delivery_info.address_info;
      assert.ok(("user_name" in address && "tel_number" in address) || ("user_Name " in address && "Tel_number" in address));
      if (doc.status === 100) assert.match(detail.delivery_info.ship_done_time, /^\d{10}$/);
      const aftersales = doc.aftersale_detail ?? doc["aftersale_detail "];
      assert.deepEqual(aftersales.aftersale_order_list.map((a) => String(a.aftersale_order_id)), order.aftersale_ids);
    }
    assert.equal(seen.size, 6, `both spellings of every typo'd key occur: ${[...seen]}`);
    assert.deepEqual([...statuses].sort((a, b) => a - b), [10, 15, 16, 17, 20, 21, 30, 100, 200, 250]);
  });

  it("typoKeys: true and false force one spelling", async () => {
    for (const typoKeys of [true, false]) {
      const other = await startSimulator({ typoKeys, wechatOrders: 8 });
      try {
        const { access_token } = await wechatClassicToken(other);
        for (const order of other.orders()) {
          const reply = await wechatCall(other, "/shop/aftersale/get", access_token, `{"order_id":${order.order_id},"openid":"${order.openid}"}`);
          assert.equal("aftersale_Infos " in reply.json, typoKeys);
          const doc = (await wechatCall(other, "/product/order/get", access_token, `{"order_id":${order.order_id}}`)).json.order;
          assert.equal("craete_time" in doc, typoKeys);
          assert.equal("order_detail " in doc, typoKeys);
        }
      } finally {
        await other.close();
      }
    }
  });

  it("per-minute limit answers 45011", async () => {
    sim.setFaults({ wechatRateLimit: { limit: 3, windowMs: 60_000 } });
    const { access_token } = await wechatClassicToken(sim);
    const body = `{"order_id":${sim.orders()[0].order_id}}`;
    for (let i = 0; i < 3; i++) assert.equal((await wechatCall(sim, "/product/order/get", access_token, body)).json.errcode, 0);
    assert.equal((await wechatCall(sim, "/product/order/get", access_token, body)).json.errcode, 45011);
    sim.advance(60_000);
    assert.equal((await wechatCall(sim, "/product/order/get", access_token, body)).json.errcode, 0);
    assert.equal(sim.stats().throttled.wechat, 1);
  });
});

// ---------------------------------------------------------------- xiaoe

describe("Xiaoe", () => {
  let sim;
  before(async () => {
    sim = await startSimulator({ seed: 11, records: 400 });
  });
  after(() => sim.close());
  beforeEach(() => sim.reset({ tokens: true }));

  it("a new token leaves the old one 5 minutes of life", async () => {
    const first = (await xiaoeToken(sim)).data.access_token;
    const body = { page_size: 5, page_index: 1, created_at: "2023-01-01||2023-01-31" };
    const second = await xiaoeToken(sim);
    assert.deepEqual(Object.keys(second.data), ["access_token", "expires_in"]);
    assert.equal((await xiaoeList(sim, first, body)).json.code, 0);
    sim.advance(5 * 60 * 1000);
    assert.equal((await xiaoeList(sim, first, body)).json.code, 2008);
    assert.equal((await xiaoeList(sim, second.data.access_token, body)).json.code, 0);
    assert.equal((await xiaoeList(sim, "", body)).json.code, 2007);
    sim.advance(7200 * 1000);
    assert.equal((await xiaoeList(sim, second.data.access_token, body)).json.code, 2008);
    assert.equal(sim.stats().authErrors.xiaoe, 3);
  });

  it("more than 100 token calls in 10 minutes answer 2053", async () => {
    for (let i = 0; i < 100; i++) assert.equal((await xiaoeToken(sim)).code, 0);
    assert.equal((await xiaoeToken(sim)).code, 2053);
    sim.advance(10 * 60 * 1000);
    assert.equal((await xiaoeToken(sim)).code, 0);
  });

  it("walking every page returns the truth exactly once, for every date_type", async () => {
    const token = (await xiaoeToken(sim)).data.access_token;
    for (const dateType of ["created_at", "updated_at", "refund_time", "apply_time"]) {
      const seen = [];
      // Consecutive inclusive windows of at most 31 days spanning the whole dataset.
      for (let from = "2022-12-01"; from < "2023-08-31"; from = addDays(from, 31)) {
        const to = addDays(from, 30);
        const truth = sim.truth("xiaoe", { from, to: addDays(to, 1), date_type: dateType });
        const { records, rowCount } = await walkXiaoe(sim, token, { created_at: `${from}||${to}`, date_type: dateType }, 7);
        assert.equal(rowCount, truth.length);
        assert.deepEqual(records, truth);
        seen.push(...records.map((r) => r.aftersale_id));
      }
      const all = sim.truth("xiaoe", { date_type: dateType });
      assert.equal(new Set(seen).size, seen.length, "no record twice");
      assert.deepEqual(new Set(seen), new Set(all.map((r) => r.aftersale_id)));
      if (dateType !== "refund_time") assert.equal(seen.length, 400);
      else assert.ok(seen.length > 0 && seen.length < 400);
    }
  });

  it("sorts newest first by the date_type field and filters by sales_state", async () => {
    const token = (await xiaoeToken(sim)).data.access_token;
    const { json } = await xiaoeList(sim, token, { page_size: 100, page_index: 1, created_at: "2023-03-01||2023-03-31", date_type: "updated_at" });
    const times = json.data.list.map((r) => r.updated_at);
    assert.deepEqual(times, [...times].sort().reverse());
    const done = await walkXiaoe(sim, token, { created_at: "2023-03-01||2023-03-31", sales_state: 2 }, 50);
    assert.ok(done.records.length > 0);
    for (const r of done.records) assert.ok([13, 14, 15].includes(r.state) && r.state_str === "售后成功");
    assert.deepEqual(done.records, sim.truth("xiaoe", { from: "2023-03-01", to: "2023-04-01", sales_state: "2" }));
  });

  it("validates page_size, page_index, the window and date_type", async () => {
    const token = (await xiaoeToken(sim)).data.access_token;
    const ok = { page_size: 10, page_index: 1, created_at: "2023-01-01||2023-01-31" };
    assert.equal((await xiaoeList(sim, token, ok)).json.code, 0);
    for (const bad of [
      { page_size: 0 },
      { page_size: 101 },
      { page_size: "10" },
      { page_index: 0 },
      { created_at: "2023-01-01||2023-02-01" }, // 32 days
      { created_at: "2023-02-01||2023-01-01" },
      { created_at: "2023-01-01" },
      { date_type: "paid_at" },
      { sales_state: 9 },
    ]) {
      const reply = (await xiaoeList(sim, token, { ...ok, ...bad })).json;
      assert.equal(reply.code, 2002, JSON.stringify(bad));
      assert.ok(reply.msg.length > 0);
    }
    assert.equal((await request(`${sim.url}${XIAOE_LIST_PATH}`)).json.code, 2055);
  });

  it("answers in seed 001's envelope with its record fields", async () => {
    const token = (await xiaoeToken(sim)).data.access_token;
    const { json } = await xiaoeList(sim, token, { page_size: 3, page_index: 1, created_at: "2023-02-01||2023-02-28" });
    assert.deepEqual(Object.keys(json), ["code", "msg", "data"]);
    assert.equal(json.msg, "操作成功");
    assert.deepEqual(Object.keys(json.data), ["list", "row_count"]);
    for (const r of json.data.list) {
      assert.match(r.aftersale_id, /^A\d{10}_[0-9a-f]{13}_\d{8}$/);
      for (const key of ["actual_fee", "apply_refund_money", "refund_money", "original_price"]) assert.ok(Number.isInteger(r[key]));
      assert.ok(Array.isArray(r.goods_list) && r.goods_list.length > 0);
    }
  });
});

// ---------------------------------------------------------------- lingxing

describe("Lingxing", () => {
  let sim;
  before(async () => {
    sim = await startSimulator({ seed: 5, records: 350 });
  });
  after(() => sim.close());
  beforeEach(() => sim.reset({ tokens: true }));

  it("issues token pairs from urlencoded, multipart and query-string forms; rejects bad credentials", async () => {
    const pair = await lingxingToken(sim);
    assert.equal(pair.code, "200");
    assert.equal(pair.msg, "OK");
    assert.equal(pair.data.expires_in, 7199);
    assert.ok(pair.data.access_token && pair.data.refresh_token);
    const form = new FormData();
    form.set("appId", LX.appId);
    form.set("appSecret", LX.appSecret);
    const multipart = await fetch(`${sim.url}/api/auth-server/oauth/access-token`, { method: "POST", body: form });
    assert.equal((await multipart.json()).code, "200");
    const query = await request(`${sim.url}/api/auth-server/oauth/access-token?appId=${LX.appId}&appSecret=${LX.appSecret}`, { method: "POST" });
    assert.equal(query.json.code, "200");
    const badSecret = await request(`${sim.url}/api/auth-server/oauth/access-token?appId=${LX.appId}&appSecret=nope`, { method: "POST" });
    assert.equal(badSecret.json.code, "2001002");
    const badApp = await request(`${sim.url}/api/auth-server/oauth/access-token?appId=nope&appSecret=${LX.appSecret}`, { method: "POST" });
    assert.equal(badApp.json.code, "2001001");
    assert.equal(sim.stats().tokenFetches.lingxing, 3);
  });

  it("a refresh token works once and lives 2 hours", async () => {
    const pair = (await lingxingToken(sim)).data;
    const refreshed = await lingxingRefresh(sim, pair.refresh_token);
    assert.equal(refreshed.code, "200");
    assert.notEqual(refreshed.data.access_token, pair.access_token);
    assert.equal((await lingxingRefresh(sim, pair.refresh_token)).code, "2001009");
    sim.advance(2 * 3600 * 1000);
    assert.equal((await lingxingRefresh(sim, refreshed.data.refresh_token)).code, "2001008");
    assert.equal(sim.stats().refreshes.lingxing, 1);
    const body = { start_date: "2023-01-01", end_date: "2023-02-01" };
    assert.equal((await lingxingList(sim, refreshed.data.access_token, body)).json.code, 2001003, "the access token expired too");
  });

  it("walking offset/length returns the truth exactly once, for every date_type", async () => {
    const token = (await lingxingToken(sim)).data.access_token;
    for (const dateType of [1, 2, 3]) {
      const keys = [];
      // Consecutive months from 2022-10 (purchases precede after-sales) to 2023-09.
      const months = Array.from({ length: 13 }, (_, i) => new Date(Date.UTC(2022, 9 + i, 1)).toISOString().slice(0, 10));
      for (let m = 0; m + 1 < months.length; m++) {
        const [start, end] = [months[m], months[m + 1]];
        const body = { start_date: start, end_date: end, date_type: dateType };
        const { records, total } = await walkLingxing(sim, token, body, 9);
        const truth = sim.truth("lingxing", { from: start, to: end, date_type: dateType });
        assert.equal(total, truth.length);
        assert.deepEqual(records, truth);
        keys.push(...lineKeys(records));
      }
      const everyLine = lineKeys(sim.truth("lingxing", {}));
      assert.equal(new Set(keys).size, keys.length);
      assert.deepEqual(new Set(keys), new Set(everyLine), `date_type ${dateType} covers every line`);
    }
  });

  it("answers seed 003's envelope and record quirks", async () => {
    const token = (await lingxingToken(sim)).data.access_token;
    const { json } = await lingxingList(sim, token, { start_date: "2023-01-01", end_date: "2023-07-01", offset: 0, length: 5000 });
    assert.deepEqual(Object.keys(json), ["code", "message", "error_details", "request_id", "response_time", "data", "total"]);
    assert.equal(json.code, 0);
    assert.equal(json.message, "success");
    assert.equal(json.data.length, 350);
    const ids = json.data.map((r) => r.id);
    assert.ok(new Set(ids).size < ids.length, "record ids repeat");
    const lines = json.data.flatMap((r) => r.item_list);
    const identifiers = lines.filter((l) => "item_identifier" in l).map((l) => l.item_identifier);
    assert.equal(new Set(identifiers).size, identifiers.length);
    assert.ok(identifiers.length < lines.length, "some lines carry only md5_v2");
    assert.ok(json.data.every((r) => r.item_list.length >= 1 && r.item_list.length <= 3));
    assert.ok(json.data.every((r) => "total_refund_amount__number" in r));
    assert.deepEqual(new Set(json.data.map((r) => r.seller_country)), new Set(["8p-US 美国", "UK 英国", "DE 德国", "FR 法国"]));
    const amounts = lines.map((l) => l.refund_amount);
    assert.ok(amounts.includes(""));
    assert.ok(amounts.every((a) => a === "" || /^-[$£€]\d+\.\d{2,6}$/.test(a)));
    assert.ok(amounts.some((a) => /\.\d{6}$/.test(a)));
    const filtered = await lingxingList(sim, token, { start_date: "2023-01-01", end_date: "2023-07-01", sid: "102,103", after_type: "3", length: 5000 });
    assert.ok(filtered.json.data.length > 0);
    for (const r of filtered.json.data) assert.ok([102, 103].includes(r.sid) && r.after_type_tag.includes("换货"));
  });

  it("rejects bad signs, stale timestamps, missing parameters and mismatched tokens", async () => {
    const token = (await lingxingToken(sim)).data.access_token;
    const body = { start_date: "2023-01-01", end_date: "2023-02-01", offset: 0, length: 10 };
    const code = async (options, b = body) => (await lingxingList(sim, token, b, options)).json.code;
    assert.equal(await code({}), 0);
    assert.equal(await code({ tweak: (q) => (q.sign = signLingxing({ ...q, length: 11 }, LX.appId)) }), 2001006);
    // A null in the body takes part in the sign (key=null): signed without it, the call is refused.
    const withNull = { ...body, sid: null };
    assert.equal(await code({}, withNull), 0);
    assert.equal(await code({ tweak: (q) => (q.sign = signLingxing({ ...q, ...body }, LX.appId)) }, withNull), 2001006);
    // A sign whose Base64 holds '+' must be URL-encoded: sent raw, '+' arrives as a space.
    const rawPlus = async () => {
      for (let ts = Math.floor(sim.simulator.now() / 1000); ; ts--) {
        const common = { access_token: token, app_key: LX.appId, timestamp: String(ts) };
        const sign = signLingxing({ ...common, ...body }, LX.appId);
        if (!sign.includes("+")) continue;
        const raw = `${sim.url}${LIST_PATH}?${new URLSearchParams(common)}&sign=${sign}`;
        return (await postJson(raw, body)).json.code;
      }
    };
    assert.equal(await rawPlus(), 2001006);
    assert.equal(await code({ timestamp: Math.floor(sim.simulator.now() / 1000) - 121 }), 2001007);
    assert.equal(await code({ tweak: (q) => delete q.sign }), 3001001);
    assert.equal(await code({ appKey: "ak_someoneelse01" }), 2001005);
    assert.equal((await lingxingList(sim, "not-a-token", body)).json.code, 2001003);
    assert.equal(sim.stats().rejectedSigns, 4);
    assert.equal(await code({}, { ...body, length: 5001 }), 102);
    assert.equal(await code({}, { start_date: "2023-01-01" }), 102);
  });

  it("serves one request per appId and URL at a time", async () => {
    sim.setFaults({ lingxingLatencyMs: 150 });
    const token = (await lingxingToken(sim)).data.access_token;
    const body = { start_date: "2023-01-01", end_date: "2023-02-01" };
    const replies = await Promise.all([lingxingList(sim, token, body), lingxingList(sim, token, body), lingxingList(sim, token, body)]);
    const codes = replies.map((r) => r.json.code).sort();
    assert.deepEqual(codes, [0, 3001008, 3001008]);
    const stats = sim.stats();
    assert.equal(stats.concurrentRejections, 2);
    assert.equal(stats.throttled.lingxing, 2);
    assert.equal((await lingxingList(sim, token, body)).json.code, 0, "free again once answered");
  });
});

// ---------------------------------------------------------------- faults

describe("faults", () => {
  let sim;
  let tokens;
  const wechatBody = () => `{"order_id":${sim.orders()[0].order_id}}`;
  const xiaoeBody = { page_size: 10, page_index: 1, created_at: "2023-01-01||2023-01-31" };
  const lingxingBody = { start_date: "2023-01-01", end_date: "2023-02-01", offset: 0, length: 10 };
  const call = {
    wechat: () => wechatCall(sim, "/product/order/get", tokens.wechat, wechatBody()),
    xiaoe: () => xiaoeList(sim, tokens.xiaoe, xiaoeBody),
    lingxing: () => lingxingList(sim, tokens.lingxing, lingxingBody),
  };
  const codeOf = (reply) => reply.json?.errcode ?? reply.json?.code;

  before(async () => {
    sim = await startSimulator({ seed: 3 });
  });
  after(() => sim.close());
  beforeEach(async () => {
    sim.reset({ tokens: true });
    tokens = {
      wechat: (await wechatClassicToken(sim)).access_token,
      xiaoe: (await xiaoeToken(sim)).data.access_token,
      lingxing: (await lingxingToken(sim)).data.access_token,
    };
  });

  it("tokenMaxUses expires a token after N successful uses", async () => {
    sim.setFaults({ tokenMaxUses: { wechat: 2, xiaoe: 2, lingxing: 2 } });
    const expired = { wechat: 42001, xiaoe: 2008, lingxing: 2001003 };
    for (const platform of ["wechat", "xiaoe", "lingxing"]) {
      assert.equal(codeOf(await call[platform]()), 0);
      assert.equal(codeOf(await call[platform]()), 0);
      assert.equal(codeOf(await call[platform]()), expired[platform], platform);
    }
    assert.deepEqual(sim.stats().authErrors, { wechat: 1, xiaoe: 1, lingxing: 1, wechat_channels: 0 });
  });

  it("throttleBurst answers each upstream's rate-limit error", async () => {
    const limited = { wechat: 45011, xiaoe: 2054, lingxing: 3001008 };
    for (const platform of ["wechat", "xiaoe", "lingxing"]) {
      sim.setFaults({ throttleBurst: { platform, count: 2 } });
      assert.equal(codeOf(await call[platform]()), limited[platform]);
      assert.equal(codeOf(await call[platform]()), limited[platform]);
      assert.equal(codeOf(await call[platform]()), 0);
    }
    assert.deepEqual(sim.stats().throttled, { wechat: 2, xiaoe: 2, lingxing: 2, wechat_channels: 0 });
  });

  it("serverErrors answer an HTTP status with an HTML body", async () => {
    sim.setFaults({ serverErrors: [{ platform: "xiaoe", count: 1, status: 502 }, { platform: "lingxing", count: 1, status: 503 }, { platform: "wechat_store", count: 1, status: 500 }] });
    for (const [platform, status] of [["xiaoe", 502], ["lingxing", 503], ["wechat", 500]]) {
      const reply = await call[platform]();
      assert.equal(reply.status, status);
      assert.match(reply.contentType, /text\/html/);
      assert.equal(reply.json, null);
      assert.equal(codeOf(await call[platform]()), 0);
    }
    assert.deepEqual(sim.stats().serverErrors, { wechat: 1, xiaoe: 1, lingxing: 1, wechat_channels: 0 });
  });

  it("busy answers WeChat's -1", async () => {
    sim.setFaults({ busy: { platform: "wechat", count: 1 } });
    assert.deepEqual((await call.wechat()).json, { errcode: -1, errmsg: "system error" });
    assert.equal(codeOf(await call.wechat()), 0);
    assert.equal(sim.stats().busy.wechat, 1);
    assert.throws(() => sim.setFaults({ busy: { platform: "xiaoe", count: 1 } }), /platform/);
  });

  it("xiaoeRateLimit enforces a sliding window and answers 2054", async () => {
    sim.setFaults({ xiaoeRateLimit: { limit: 3, windowMs: 6000 } });
    for (let i = 0; i < 3; i++) assert.equal(codeOf(await call.xiaoe()), 0);
    assert.equal(codeOf(await call.xiaoe()), 2054);
    sim.advance(6000);
    assert.equal(codeOf(await call.xiaoe()), 0);
    assert.equal(sim.stats().throttled.xiaoe, 1);
  });

  it("growAfterCalls inserts records at the front of Xiaoe's order mid-walk", async () => {
    const body = { created_at: "2023-02-01||2023-02-28", date_type: "updated_at" };
    const before = sim.truth("xiaoe", { created_at: body.created_at, date_type: "updated_at" });
    sim.setFaults({ growAfterCalls: { platform: "xiaoe", afterCalls: 1, add: 3 } });
    const page1 = (await xiaoeList(sim, tokens.xiaoe, { ...body, page_size: 5, page_index: 1 })).json.data;
    const page2 = (await xiaoeList(sim, tokens.xiaoe, { ...body, page_size: 5, page_index: 2 })).json.data;
    assert.equal(page1.row_count, before.length);
    assert.equal(page2.row_count, before.length + 3);
    const after = sim.truth("xiaoe", { created_at: body.created_at, date_type: "updated_at" });
    assert.deepEqual(after.slice(3), before);
    assert.deepEqual(page2.list, after.slice(5, 10), "the old records shifted by three");
    assert.ok(after.slice(0, 3).every((r) => r.updated_at.startsWith("2023-02-28 23:")));
  });

  it("growAfterCalls inserts records at the front of Lingxing's order mid-walk", async () => {
    const before = sim.truth("lingxing", { from: "2023-01-01", to: "2023-02-01" });
    sim.setFaults({ growAfterCalls: { platform: "lingxing", afterCalls: 1, add: 2 } });
    const first = (await lingxingList(sim, tokens.lingxing, { ...lingxingBody, length: 4 })).json;
    const second = (await lingxingList(sim, tokens.lingxing, { ...lingxingBody, offset: 4, length: 4 })).json;
    assert.equal(first.total, before.length);
    assert.equal(second.total, before.length + 2);
    const after = sim.truth("lingxing", { from: "2023-01-01", to: "2023-02-01" });
    assert.deepEqual(after.slice(2), before);
    assert.deepEqual(second.data, after.slice(4, 8));
  });

  it("rejects unknown faults without applying any part", async () => {
    assert.throws(() => sim.setFaults({ lingxingLatencyMs: 5, bogus: 1 }), /unknown fault/);
    assert.equal(sim.state.faults.lingxingLatencyMs, 0);
  });
});

// ---------------------------------------------------------------- control API and data

describe("control API and dataset", () => {
  let sim;
  before(async () => {
    sim = await startSimulator({ seed: 9, records: 120 });
  });
  after(() => sim.close());

  it("serves stats, faults, truth, orders, clock, records and reset over HTTP", async () => {
    const faults = await postJson(`${sim.url}/__sim/faults`, { throttleBurst: { platform: "xiaoe", count: 4 } });
    assert.equal(faults.json.throttleBurst.xiaoe.remaining, 4);
    assert.equal((await postJson(`${sim.url}/__sim/faults`, { nope: 1 })).status, 400);
    const clock = (await request(`${sim.url}/__sim/clock`)).json;
    const advanced = (await postJson(`${sim.url}/__sim/advance`, { ms: 60_000 })).json;
    assert.ok(advanced.now - clock.now >= 60_000);
    const truth = (await request(`${sim.url}/__sim/truth?platform=xiaoe&from=2023-01-01&to=2023-02-01&date_type=created_at`)).json;
    assert.equal(truth.count, sim.truth("xiaoe", { from: "2023-01-01", to: "2023-02-01" }).length);
    assert.deepEqual(truth.records, sim.truth("xiaoe", { from: "2023-01-01", to: "2023-02-01" }));
    const lx = (await request(`${sim.url}/__sim/truth?platform=lingxing&from=2023-01-01&to=2023-03-01&date_type=3`)).json;
    assert.deepEqual(lx.records, sim.truth("lingxing", { from: "2023-01-01", to: "2023-03-01", date_type: 3 }));
    assert.equal((await request(`${sim.url}/__sim/truth?platform=nope`)).status, 400);
    const orders = (await request(`${sim.url}/__sim/orders`)).json.orders;
    assert.equal(orders.length, 50);
    const store = (await request(`${sim.url}/__sim/truth?platform=wechat_store&order_id=${orders[0].order_id}`)).json;
    assert.equal(String(store.records[0].order_id), orders[0].order_id);
    const added = (await postJson(`${sim.url}/__sim/records`, { platform: "lingxing", n: 5 })).json;
    assert.equal(added.added, 5);
    assert.equal(sim.truth("lingxing", {}).length, 125);
    const stats = (await request(`${sim.url}/__sim/stats`)).json;
    for (const key of ["tokenFetches", "refreshes", "dataCalls", "rejectedSigns", "throttled", "serverErrors", "concurrentRejections", "authErrors"]) assert.ok(key in stats, key);
    assert.deepEqual((await postJson(`${sim.url}/__sim/reset`, {})).json, { ok: true });
    assert.equal(sim.truth("lingxing", {}).length, 120);
    assert.deepEqual(sim.state.faults.throttleBurst, {});
    assert.equal(sim.state.clockOffsetMs, 0);
    const config = (await request(`${sim.url}/__sim/config`)).json;
    assert.equal(config.credentials.lingxing.appId, "ak_simulator0001");
    assert.equal((await request(`${sim.url}/nowhere`)).status, 404);
  });

  it("is deterministic for a seed and differs across seeds", async () => {
    const a = await startSimulator({ seed: 42, records: 60, wechatOrders: 10 });
    const b = await startSimulator({ seed: 42, records: 60, wechatOrders: 10 });
    const c = await startSimulator({ seed: 43, records: 60, wechatOrders: 10 });
    try {
      for (const platform of ["xiaoe", "lingxing"]) {
        assert.deepEqual(a.truth(platform, {}), b.truth(platform, {}));
        assert.notDeepEqual(a.truth(platform, {}), c.truth(platform, {}));
      }
      assert.deepEqual(a.orders(), b.orders());
      assert.deepEqual(a.addRecords("xiaoe", 3), b.addRecords("xiaoe", 3));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it("covers every Xiaoe kind and state, with exchange states only on exchanges", () => {
    const records = sim.truth("xiaoe", {});
    const pairs = new Set(records.map((r) => `${r.sale_type_name}/${r.state}`));
    for (const kind of XIAOE_KINDS) for (const state of kind.states) assert.ok(pairs.has(`${kind.name}/${state}`), `${kind.name}/${state}`);
    for (const r of records) {
      if (r.state >= 15) assert.equal(r.sale_type_name, "换货");
      if ("sale_type" in r) assert.equal(r.sale_type_name, XIAOE_KINDS[r.sale_type - 1].name);
    }
    assert.ok(records.some((r) => !("sale_type" in r)), "some records carry only sale_type_name");
    assert.ok(records.every((r) => r.created_at >= "2023-01-01" && r.created_at < "2023-07-01"));
  });

  it("covers every WeChat after-sale type and status", () => {
    const records = sim.orders().flatMap((o) => sim.truth("wechat_shop", { order_id: o.order_id }));
    const pairs = new Set(records.map((r) => `${r.type}/${r.status}`));
    for (const type of [1, 2, 3]) for (const status of [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14]) assert.ok(pairs.has(`${type}/${status}`), `${type}/${status}`);
  });
});

// ---------------------------------------------------------------- cli

describe("cli", () => {
  it("prints one JSON line, serves, and stops on SIGTERM", async () => {
    const cli = fileURLToPath(new URL("./cli.mjs", import.meta.url));
    const child = spawn(process.execPath, [cli, "--port", "0", "--records", "20", "--seed", "abc"], { stdio: ["ignore", "pipe", "pipe"] });
    const lines = [];
    const reader = createInterface({ input: child.stdout });
    reader.on("line", (line) => lines.push(line));
    const [firstLine] = await once(reader, "line");
    const { url } = JSON.parse(firstLine);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const truth = await (await fetch(`${url}/__sim/truth?platform=xiaoe`)).json();
    assert.equal(truth.count, 20);
    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    assert.equal(code, 0);
    assert.deepEqual(lines, [firstLine]);
  });
});

describe("xiaoe: records updated now, for incremental sync", () => {
  let sim;
  before(async () => {
    sim = await startSimulator({ seed: 3, records: 20 });
  });
  after(() => sim.close());

  it("adds records updated at a given time and moves a record on", () => {
    const at = Date.UTC(2026, 0, 15, 4, 0, 0) / 1000; // 12:00 in China
    const [added] = sim.addRecords("xiaoe", 1, { update_time: at });
    assert.equal(added.updated_at, "2026-01-15 12:00:00");
    assert.ok(added.created_at <= added.updated_at);
    const listed = sim.truth("xiaoe", { from: "2026-01-15", to: "2026-01-16", date_type: "updated_at" });
    assert.deepEqual(listed.map((w) => w.aftersale_id), [added.aftersale_id]);
    const old = sim.truth("xiaoe", { from: "2023-01-01", to: "2023-07-01", date_type: "updated_at" })[0];
    const moved = sim.touchXiaoe(old.aftersale_id, { state: 13, update_time: at + 60 });
    assert.equal(moved.state, 13);
    assert.equal(moved.updated_at, "2026-01-15 12:01:00");
    const now = sim.truth("xiaoe", { from: "2026-01-15", to: "2026-01-16", date_type: "updated_at" });
    assert.deepEqual(now.map((w) => w.aftersale_id), [old.aftersale_id, added.aftersale_id]);
    assert.throws(() => sim.touchXiaoe("A-none", { state: 1, update_time: at }), /no xiaoe after-sale/);
    assert.throws(() => sim.addRecords("xiaoe", 1, { create_time: at }), /update_time only/);
  });
});

// ---------------------------------------------------------------- wechat sign-in

describe("wechat jscode2session", () => {
  let sim;
  before(async () => {
    sim = await startSimulator({ records: 10, wechatOrders: 5 });
  });
  after(() => sim.close());
  const login = (q) => request(`${sim.url}/sns/jscode2session?${new URLSearchParams({ appid: WX.appid, secret: WX.secret, grant_type: "authorization_code", ...q })}`);

  it("a code gives its buyer's openid once, and only with the app's credentials", async () => {
    const openid = sim.orders()[0].openid;
    const code = sim.simulator.upstreams.wechat.issueLoginCode(openid);
    assert.equal((await login({ js_code: code, secret: "wrong" })).json.errcode, 40125);
    const first = await login({ js_code: code });
    assert.equal(first.json.openid, openid, first.text);
    assert.equal(typeof first.json.session_key, "string");
    assert.equal((await login({ js_code: code })).json.errcode, 40163, "a code works once");
    assert.equal((await login({ js_code: "made-up" })).json.errcode, 40029);
    assert.equal((await login({})).json.errcode, 41008);
    assert.equal((await login({ js_code: code, grant_type: "client_credential" })).json.errcode, 40002);
    const post = await request(`${sim.url}/sns/jscode2session?appid=${WX.appid}`, { method: "POST", body: "{}" });
    assert.equal(post.json.errcode, 43001);
  });
});
