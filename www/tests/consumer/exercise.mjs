// Calls every export of the installed package the way a user would and returns what it saw, as
// plain JSON. Run in Node (imported from a scratch project), bundled by esbuild in Chromium, and
// unbundled in Chromium through an import map: the three must see the same thing.
import { Client, isAftersaleError, normalize, normalizeJson, normalizeOrder, signLingxing } from "aftersale";

const WORKED_EXAMPLE = {
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

function describeError(e) {
  const code = typeof e.code === "string" ? e.code : null; // DOMException has a numeric legacy code
  return { name: e.name, code, status: e.status ?? null, isError: e instanceof Error, guard: isAftersaleError(e) };
}

async function caught(fn) {
  try {
    await fn();
    return "no error";
  } catch (e) {
    return describeError(e);
  }
}

/** @param {{ proxyUrl: string, fixtures: Record<string, string> }} input */
export async function exercise({ proxyUrl, fixtures }) {
  const out = {};
  out.normalize = ["wechat_shop", "xiaoe", "lingxing"].map((p) => normalize(p, fixtures[p]).map((r) => `${r.id} ${r.status}`));
  out.money = normalize("lingxing", fixtures.lingxing).find((r) => r.kind === "refund").refund;
  out.jsonMatches = normalizeJson("xiaoe", fixtures.xiaoe) === JSON.stringify(normalize("xiaoe", fixtures.xiaoe));
  out.raw = normalize("xiaoe", fixtures.xiaoe, { includeRaw: true })[0].raw.state_str;
  const order = normalizeOrder(fixtures.wechat_store);
  out.order = [order.id, order.status, order.aftersale_ids];
  out.sign = signLingxing(WORKED_EXAMPLE, "ak_0123456789abc");
  out.errors = {
    platform: await caught(() => normalize("amazon", fixtures.xiaoe)),
    text: await caught(() => normalize("xiaoe", 42)),
    body: await caught(() => normalize("xiaoe", "{\"code\":0,\"data\":{\"list\":[")),
    appId: await caught(() => signLingxing(WORKED_EXAMPLE, "too-short")),
    client: await caught(() => new Client({ endpoint: "not a url" })),
  };

  const client = new Client({ endpoint: proxyUrl, apiKey: "test-consumer" });
  const query = { platform: "xiaoe", from: "2023-01-14", to: "2023-02-13" };
  const page = await client.list(query);
  out.page = { ids: page.data.map((r) => r.id), total: page.total, cursor: typeof page.next_cursor };
  const progress = [];
  const ids = [];
  for await (const record of client.iterate({ ...query, onProgress: (p) => progress.push(p) })) ids.push(record.id);
  out.iterate = { ids, progress };
  for await (const record of client.iterate(query)) {
    out.firstOnly = record.id;
    break;
  }
  out.remoteOrder = (await client.order("12123121332")).id;
  out.orderAfterSales = (await client.orderAfterSales("32434234", { openid: "oT" })).map((r) => r.order_id);
  out.unauthorized = await caught(() => new Client({ endpoint: proxyUrl, apiKey: "wrong" }).list(query));
  out.retried = (await new Client({ endpoint: proxyUrl, apiKey: `test-503-${Math.random()}` }).list(query)).total;

  const controller = new AbortController();
  const slow = new Client({ endpoint: proxyUrl, apiKey: `test-slow-${Math.random()}` });
  const started = Date.now();
  setTimeout(() => controller.abort(), 50);
  out.aborted = await caught(() => slow.list({ ...query, signal: controller.signal }));
  out.abortedQuickly = Date.now() - started < 5000;
  return out;
}
