// A scripted stand-in for the proxy's HTTP interface (SPEC.md §3), for the client tests.
// `node www/tests/fake-proxy.mjs` prints its URL on the first line of stdout and serves until
// SIGINT/SIGTERM; tests in Node import `startFakeProxy` instead.
//
// Behaviour is chosen by the API key, so concurrent tests never share state:
//   test-<anything>            valid key, normal answers
//   test-429-<id>              first request: 429 with `Retry-After: 1`, then normal
//   test-429date-<id>          first request: 429 with `Retry-After: <HTTP date 2 s ahead>`
//   test-429long-<id>          always 429 with `Retry-After: 3600`
//   test-503-<id>              first request: 503 without Retry-After, then normal
//   test-down-<id>             always 503
//   test-authfail-<id>         always 502 upstream_auth, with the upstream's own error
//   test-slow-<id>             answers after 10 s (for cancellation)
//   test-badjson-<id>          answers 200 with a body that is not JSON
//   test-exportcut-<id>        the export stream stops before its last line
//   anything else, or none     401 unauthorized
// `GET /v1/aftersales/export` answers NDJSON in runs of 3 records: each run but the last ends with
// a continuation line `{"continue":"<cursor>"}`, the last with `{"done":true,"count":<its records>}`;
// a mirror export (`platform=all`, several) takes its platforms in turn and needs no dates.
// `GET /__stats?key=K` (no auth) answers `{"requests": n}`: how many requests that key made.
import http from "node:http";
import { pathToFileURL } from "node:url";

const PLATFORMS = ["wechat_shop", "wechat_store", "xiaoe", "lingxing", "wechat_channels"];
const DEFAULT_LIMIT = 3;
const RECORD_COUNT = 7;

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, content-type",
  "access-control-allow-methods": "GET, OPTIONS",
  "access-control-expose-headers": "retry-after",
  "access-control-max-age": "600",
};

function money(minor) {
  return { currency: "CNY", minor, decimal: (minor / 100).toFixed(2) };
}

/** A complete AfterSale of SPEC.md §2, deterministic in `platform` and `n`. */
export function fakeRecord(platform, n, orderId = `o_${100 + n}`) {
  const day = String(1 + n).padStart(2, "0");
  return {
    id: `${platform}:A${n}`,
    platform,
    aftersale_id: `A${n}`,
    order_id: orderId,
    out_order_id: null,
    kind: n % 3 === 0 ? "return_refund" : "refund",
    status: n % 2 === 0 ? "completed" : "pending",
    overdue: false,
    status_raw: n % 2 === 0 ? 13 : 0,
    refund: money(100 * n),
    requested: money(100 * n),
    items: [
      { product_id: `p${n}`, sku_id: `s${n}`, name: `item ${n}`, quantity: 1, unit_price: money(100 * n), image_url: null, sku_info: null },
    ],
    reason: null,
    buyer_note: null,
    merchant_note: null,
    buyer: { openid: `openid-${n}`, user_id: null, nickname: null },
    return_logistics: null,
    exchange_order_id: null,
    created_at: `2023-02-${day}T10:00:00+08:00`,
    updated_at: `2023-02-${day}T11:00:00+08:00`,
    refunded_at: null,
  };
}

export function fakeOrder(orderId) {
  return {
    id: `wechat_store:${orderId}`,
    platform: "wechat_store",
    order_id: orderId,
    out_order_id: "faefawefweafawe",
    status: "awaiting_shipment",
    status_raw: 20,
    items: [
      {
        product_id: "234245", sku_id: "23424", name: "Fitness Ring", quantity: 10, unit_price: money(2000),
        image_url: null, sku_info: null, on_aftersale_quantity: 10, finished_aftersale_quantity: 0,
      },
    ],
    price: { product_price: money(20000), order_price: money(10500), freight: money(500), discounted_price: money(10000), is_discounted: true },
    payment: null,
    delivery: null,
    address: null,
    aftersale_ids: ["1234"],
    buyer: { openid: "xxxxx", user_id: null, nickname: null },
    buyer_note: null,
    merchant_note: null,
    created_at: "2020-03-25T13:05:25+08:00",
    updated_at: "2020-03-25T14:05:25+08:00",
  };
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const FILTERS = ["platform", "from", "to", "date_field", "status", "kind", "order_id", "limit", "include_raw"];

function send(res, status, body, headers = {}) {
  if (res.destroyed) return;
  res.writeHead(status, { ...CORS, "content-type": "application/json; charset=utf-8", ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

function fail(res, status, code, message, upstream = null, headers = {}) {
  send(res, status, { error: { code, message, upstream } }, headers);
}

/** Cursors carry the filters, as the real proxy's do, so a replay with other filters fails. */
function encodeCursor(offset, filters) {
  return Buffer.from(JSON.stringify({ offset, filters })).toString("base64");
}
function decodeCursor(text) {
  try {
    return JSON.parse(Buffer.from(text, "base64").toString("utf8"));
  } catch {
    return null;
  }
}

function listAftersales(url, res) {
  const q = url.searchParams;
  const platform = q.get("platform");
  if (!PLATFORMS.includes(platform)) return fail(res, 400, "invalid_request", `parameter \`platform\`: unknown platform ${JSON.stringify(platform)}`);
  for (const name of ["from", "to"]) {
    if (!DATE.test(q.get(name) ?? "")) return fail(res, 400, "invalid_request", `parameter \`${name}\`: expected YYYY-MM-DD`);
  }
  const filters = Object.fromEntries(FILTERS.filter((k) => q.has(k)).map((k) => [k, q.get(k)]));
  const limit = Number(q.get("limit") ?? DEFAULT_LIMIT);
  let offset = 0;
  if (q.has("cursor")) {
    const cursor = decodeCursor(q.get("cursor"));
    if (!cursor || JSON.stringify(cursor.filters) !== JSON.stringify(filters)) {
      return fail(res, 400, "invalid_request", "parameter `cursor`: it does not belong to this query");
    }
    offset = cursor.offset;
  }
  let all = Array.from({ length: RECORD_COUNT }, (_, i) => fakeRecord(platform, i + 1));
  if (q.has("status")) {
    const wanted = q.get("status").split(",");
    all = all.filter((r) => wanted.includes(r.status));
  }
  if (q.get("include_raw") === "true") all = all.map((r) => ({ ...r, raw: { fake: true } }));
  const data = all.slice(offset, offset + limit);
  const end = offset + limit >= all.length;
  // The next page starts one record early: a record that moved while listing, seen twice.
  const next_cursor = end ? null : encodeCursor(offset + limit - 1, filters);
  send(res, 200, { data, next_cursor, total: all.length });
}

/** A query the proxy's mirror answers: `source=mirror`, `platform=all` or several. */
const isMirrorQuery = (q) => q.get("source") === "mirror" || /^all$|,/.test(q.get("platform") ?? "");

/**
 * Lists the query (cursor checked); `null` once it has answered the error itself. A mirror
 * query's records take its platforms in turn (`all`: xiaoe, lingxing) and need no dates.
 */
function selectRecords(url, res) {
  const q = url.searchParams;
  const mirror = isMirrorQuery(q);
  const platforms = q.get("platform") === "all" ? ["xiaoe", "lingxing"] : (q.get("platform") ?? "").split(",");
  const unknown = platforms.find((p) => !PLATFORMS.includes(p));
  if (unknown !== undefined) return fail(res, 400, "invalid_request", `parameter \`platform\`: unknown platform ${JSON.stringify(unknown)}`), null;
  for (const name of ["from", "to"]) {
    if ((!mirror || q.has(name)) && !DATE.test(q.get(name) ?? "")) return fail(res, 400, "invalid_request", `parameter \`${name}\`: expected YYYY-MM-DD`), null;
  }
  const filters = Object.fromEntries(FILTERS.filter((k) => q.has(k)).map((k) => [k, q.get(k)]));
  let offset = 0;
  if (q.has("cursor")) {
    const cursor = decodeCursor(q.get("cursor"));
    if (!cursor || JSON.stringify(cursor.filters) !== JSON.stringify(filters)) {
      return fail(res, 400, "invalid_request", "parameter `cursor`: it does not belong to this query"), null;
    }
    offset = cursor.offset;
  }
  let all = Array.from({ length: RECORD_COUNT }, (_, i) => fakeRecord(platforms[i % platforms.length], i + 1));
  if (q.has("status")) {
    const wanted = q.get("status").split(",");
    all = all.filter((r) => wanted.includes(r.status));
  }
  return { all, offset, filters };
}

/** The export: one run of records per call, written line by line in small chunks. */
async function exportAftersales(url, res, scenario) {
  const selected = selectRecords(url, res);
  if (!selected) return;
  const { all, offset, filters } = selected;
  const run = all.slice(offset, offset + DEFAULT_LIMIT);
  const last = offset + DEFAULT_LIMIT >= all.length;
  res.writeHead(200, { ...CORS, "content-type": "application/x-ndjson" });
  const lines = run.map((r) => JSON.stringify(r));
  if (scenario !== "exportcut") {
    lines.push(JSON.stringify(last ? { done: true, count: run.length } : { continue: encodeCursor(offset + DEFAULT_LIMIT, filters) }));
  }
  const text = lines.map((l) => `${l}\n`).join("");
  // Chunks that split lines and characters, as a network does.
  for (let i = 0; i < text.length; i += 50) {
    if (res.destroyed) return;
    res.write(text.slice(i, i + 50));
    await new Promise((resolve) => setImmediate(resolve));
  }
  res.end();
}

/** The mirror's change feed over 7 fake records: `seq` 10, 20, ..., pages of `limit` (default 3). */
function changes(url, res) {
  const q = url.searchParams;
  const after = Number(q.get("after") ?? 0);
  const limit = Number(q.get("limit") ?? 3);
  if (!Number.isInteger(after) || after < 0) return fail(res, 400, "invalid_request", "parameter `after`: not a sequence number");
  const all = Array.from({ length: RECORD_COUNT }, (_, i) => ({ ...fakeRecord("xiaoe", i + 1), seq: 10 * (i + 1), change: i % 2 ? "updated" : "created" }));
  const rest = all.filter((c) => c.seq > after);
  const data = rest.slice(0, limit);
  send(res, 200, { data, next_after: data.at(-1)?.seq ?? after, has_more: rest.length > limit });
}

/** A fake session token: three Base64url parts, its payload naming platform and buyer. */
export function fakeSession(platform, buyer) {
  const part = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part({ plt: platform, sub: buyer, bid: "openid", exp: 4102444800 })}.c2ln`;
}

function route(url, res, scenario, session = false) {
  if (url.pathname === "/v1/me/aftersales") {
    if (url.searchParams.has("cursor") && [...url.searchParams.keys()].length > 1) return fail(res, 400, "invalid_request", "parameter `cursor`: send it alone");
    const data = url.searchParams.has("cursor") ? [fakeRecord("wechat_shop", 3)] : [fakeRecord("wechat_shop", 1), fakeRecord("wechat_shop", 2)];
    return send(res, 200, { data, next_cursor: url.searchParams.has("cursor") ? null : "page2", total: null });
  }
  if (url.pathname === "/v1/changes") return changes(url, res);
  if (url.pathname === "/v1/summary") {
    const q = url.searchParams;
    if (!q.get("from") || !q.get("to")) return fail(res, 400, "invalid_request", "parameter `from`: is required");
    const group = (key) => [{ key, count: RECORD_COUNT, refund: { currency: "CNY", minor: 2800 } }];
    return send(res, 200, { data: { by_platform: group(q.get("platform") ?? "xiaoe"), by_status: group("pending"), by_kind: group("refund"), by_currency: group("CNY"), by_day: group("2023-01-15") } });
  }
  if (url.pathname === "/v1/sync/status") {
    return send(res, 200, { platforms: { xiaoe: { watermark: "2023-02-13T10:00:00+08:00", lag_s: 60, last_run: "2023-02-13T10:00:00+08:00", in_progress: false, last_error: null, rows: RECORD_COUNT } } });
  }
  if (url.pathname === "/v1/aftersales" && isMirrorQuery(url.searchParams)) {
    const data = [fakeRecord("xiaoe", 1), fakeRecord("lingxing", 2)];
    return send(res, 200, { data, next_cursor: null, total: data.length, source: "mirror", synced_at: { xiaoe: "2023-02-13T10:00:00+08:00" }, query: url.search });
  }
  if (url.pathname === "/v1/aftersales/export") return exportAftersales(url, res, scenario);
  if (url.pathname === "/v1/aftersales") return listAftersales(url, res);
  const order = url.pathname.match(/^\/v1\/orders\/([^/]+)(\/aftersales)?$/);
  if (!order) return fail(res, 404, "not_found", `no route ${url.pathname}`);
  const orderId = decodeURIComponent(order[1]);
  const platform = url.searchParams.get("platform");
  if (orderId === "missing") return fail(res, 404, "not_found", `order ${orderId} not found`, { platform, code: "9401020", message: "order not found" });
  if (!order[2]) {
    if (platform !== "wechat_store") return fail(res, 400, "invalid_request", "parameter `platform`: orders are served for wechat_store");
    return send(res, 200, { data: fakeOrder(orderId) });
  }
  if (platform !== "wechat_shop") return fail(res, 400, "invalid_request", "parameter `platform`: order after-sales are served for wechat_shop");
  // A session names its buyer itself (the proxy takes it from the token).
  if (!session && !url.searchParams.get("openid") && !url.searchParams.get("out_order_id")) {
    return fail(res, 400, "invalid_request", "parameter `openid`: required (or out_order_id)");
  }
  return send(res, 200, { data: [fakeRecord("wechat_shop", 1, orderId), fakeRecord("wechat_shop", 2, orderId)] });
}

export async function startFakeProxy({ port = 0 } = {}) {
  const requests = new Map();
  const timers = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (req.method === "OPTIONS") {
      res.writeHead(204, CORS);
      return res.end();
    }
    if (url.pathname === "/__stats") {
      return send(res, 200, { requests: requests.get(url.searchParams.get("key")) ?? 0 });
    }
    if (url.pathname === "/healthz") return send(res, 200, { ok: true, version: "fake" });
    if (url.pathname === "/v1/sessions/wechat") {
      // A sign-in: no key; the code names the buyer (as the sandbox's do).
      if (req.method !== "POST") return fail(res, 405, "invalid_request", "POST only");
      let text = "";
      req.on("data", (c) => (text += c));
      req.on("end", () => {
        const body = JSON.parse(text || "{}");
        if (req.headers["content-type"] !== "application/json") return fail(res, 400, "invalid_request", "a JSON body");
        if (typeof body.code !== "string" || !body.code.startsWith("code-")) return fail(res, 400, "invalid_request", "parameter `code`: refused by the upstream");
        const openid = body.code.slice(5);
        send(res, 200, { session: fakeSession(body.platform ?? "wechat_shop", openid), platform: body.platform ?? "wechat_shop", openid, expires_in: 900, expires_at: "2100-01-01T00:00:00+08:00" });
      });
      return;
    }
    const key = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    const seen = (requests.get(key) ?? 0) + 1;
    requests.set(key, seen);
    const isSession = key.split(".").length === 3;
    if (!key.startsWith("test-") && !isSession) return fail(res, 401, "unauthorized", "missing or unknown API key");
    const scenario = isSession ? "ok" : key.split("-")[1];
    const first = seen === 1;
    if (scenario === "429" && first) return fail(res, 429, "rate_limited", "slow down", null, { "retry-after": "1" });
    if (scenario === "429date" && first) {
      const at = new Date(Date.now() + 2000).toUTCString();
      return fail(res, 429, "rate_limited", "slow down", null, { "retry-after": at });
    }
    if (scenario === "429long") return fail(res, 429, "rate_limited", "quota spent", null, { "retry-after": "3600" });
    if (scenario === "503" && first) return fail(res, 503, "upstream_unavailable", "upstream busy");
    if (scenario === "down") return fail(res, 503, "upstream_unavailable", "upstream busy");
    if (scenario === "authfail") {
      return fail(res, 502, "upstream_auth", "the upstream refused our credentials", { platform: "xiaoe", code: "2017", message: "no permission" });
    }
    if (scenario === "badjson") return send(res, 200, "<html>not json</html>");
    if (scenario === "slow") {
      const timer = setTimeout(() => {
        timers.delete(timer);
        route(url, res, scenario);
      }, 10_000);
      timers.add(timer);
      res.on("close", () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
      return;
    }
    return route(url, res, scenario, isSession);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    requests: (key) => requests.get(key) ?? 0,
    close: () =>
      new Promise((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const proxy = await startFakeProxy({ port: Number(process.env.PORT ?? 0) });
  console.log(proxy.url);
  const stop = () => proxy.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
