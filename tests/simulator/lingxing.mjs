// Lingxing ERP (openapi.lingxing.com): the auth server (access and refresh tokens) and the signed
// Amazon after-sales list of seed 003. Every answer is HTTP 200 with a `code`.
import { randomUUID } from "node:crypto";
import { LINGXING_AFTER_TYPES, formatChinaTime, parseDate } from "./data.mjs";
import { verifyLingxingSign } from "./lingxing-sign.mjs";
import { isInt, readBody, sendJson, sendText, sleep } from "./util.mjs";

const ACCESS_TOKEN_TTL_S = 7199;
const REFRESH_TOKEN_TTL_MS = 2 * 3600 * 1000;
const DATE_FIELDS = { 1: "deal_time", 2: "purchase_time", 3: "gmt_modified" };
const DEFAULT_LENGTH = 1000;
const MAX_LENGTH = 5000; // a public client's cap; the documentation names none
const MAX_ORDER_IDS = 50;

const CODES = {
  missingCommon: [3001001, "缺少公共参数"],
  tokenMissingOrExpired: [2001003, "access token is missing or expired"],
  tokenMismatch: [2001005, "access token is not match app_key"],
  badSign: [2001006, "api sign error"],
  signExpired: [2001007, "api sign has expired"],
  throttled: [3001008, "requests too frequently, token bucket is empty"],
  invalidParameter: [102, "invalid parameter"],
};

const entryJson = (entry) => (entry.json ??= JSON.stringify(entry.wire));

/** Form fields from the query string and an urlencoded, multipart or JSON body (the body wins). */
async function readForm(ctx) {
  const fields = Object.fromEntries(ctx.url.searchParams);
  const text = await readBody(ctx.req);
  const type = ctx.req.headers["content-type"] ?? "";
  if (text === "") return fields;
  if (type.startsWith("multipart/form-data")) {
    const boundary = /boundary="?([^";]+)"?/.exec(type)?.[1];
    for (const part of boundary ? text.split(`--${boundary}`) : []) {
      const split = part.indexOf("\r\n\r\n");
      const name = /name="([^"]*)"/.exec(part.slice(0, split))?.[1];
      if (split >= 0 && name !== undefined) fields[name] = part.slice(split + 4).replace(/\r\n$/, "");
    }
  } else if (type.startsWith("application/json")) {
    try {
      Object.assign(fields, JSON.parse(text));
    } catch {
      // not JSON after all: the credentials are then missing, which is the answer
    }
  } else {
    Object.assign(fields, Object.fromEntries(new URLSearchParams(text)));
  }
  return fields;
}

/** A comma-separated list of integers ("6,7,19") or one integer; undefined when absent. */
function intList(value, name, allowed) {
  if (value === undefined || value === null || value === "") return { value: undefined };
  const parts = typeof value === "number" ? [String(value)] : typeof value === "string" ? value.split(",").map((s) => s.trim()) : null;
  if (!parts || parts.some((p) => !/^\d+$/.test(p) || (allowed && !allowed.has(Number(p))))) {
    return { error: `${name} must be comma-separated ${allowed ? [...allowed].join("/") : "integers"}` };
  }
  return { value: parts.map(Number) };
}

/** The list request's filters (everything but paging), or { error }. */
function parseFilters(body) {
  const { start_date: start, end_date: end } = body;
  if (parseDate(start) === null || parseDate(end) === null) return { error: "start_date and end_date are required, as Y-m-d" };
  if (start > end) return { error: "start_date must not be after end_date" };
  const dateType = body.date_type ?? 1;
  if (!DATE_FIELDS[dateType] || !isInt(dateType)) return { error: "date_type must be 1, 2 or 3" };
  const sids = intList(body.sid, "sid");
  const afterTypes = intList(body.after_type, "after_type", new Set([1, 2, 3]));
  if (sids.error || afterTypes.error) return { error: sids.error ?? afterTypes.error };
  let orderIds;
  if (body.amazon_order_id_list !== undefined && body.amazon_order_id_list !== null) {
    const list = body.amazon_order_id_list;
    if (!Array.isArray(list) || list.some((id) => typeof id !== "string")) return { error: "amazon_order_id_list must be an array of strings" };
    if (list.length > MAX_ORDER_IDS) return { error: `amazon_order_id_list holds at most ${MAX_ORDER_IDS} ids` };
    if (list.length > 0) orderIds = list;
  }
  return { query: { start, end, dateType, sids: sids.value, afterTypes: afterTypes.value, amazonOrderIds: orderIds } };
}

/** Records of the half-open date range that pass the filters, in record position order; cached. */
function select(store, query) {
  const key = JSON.stringify(query);
  let hit = store.cache.get(key);
  if (hit) return hit;
  const field = DATE_FIELDS[query.dateType];
  const tags = query.afterTypes?.map((code) => LINGXING_AFTER_TYPES[code]);
  hit = store.entries.filter(({ wire }) => {
    const day = wire[field].slice(0, 10);
    if (day < query.start || day >= query.end) return false;
    if (query.sids && !query.sids.includes(wire.sid)) return false;
    if (tags && !wire.after_type_tag.some((t) => tags.includes(t))) return false;
    if (query.amazonOrderIds && !query.amazonOrderIds.includes(wire.amazon_order_id)) return false;
    return true;
  });
  if (store.cache.size > 256) store.cache.clear();
  store.cache.set(key, hit);
  return hit;
}

export function createLingxing(sim) {
  const credentials = sim.options.credentials.lingxing;
  const tokens = () => sim.state.tokens.lingxing;
  const store = () => sim.state.data.lingxing;
  const inFlight = new Set(); // appId + path of requests being served: the token bucket holds one

  const authFail = (res, code, msg) => sendJson(res, { code, msg, data: null });

  /** The envelope of seed 003 without its `data` and `total`. */
  function envelopeHead(code, message) {
    return {
      code,
      message,
      error_details: code === 0 ? [] : [message],
      request_id: randomUUID().toUpperCase(),
      response_time: formatChinaTime(Math.floor(sim.now() / 1000)),
    };
  }
  function fail(res, [code, message], detail) {
    sendJson(res, { ...envelopeHead(code, detail ? `${message}: ${detail}` : message), data: [], total: 0 });
  }

  function issuePair(appId) {
    const now = sim.now();
    const pair = { access_token: randomUUID(), refresh_token: randomUUID(), expires_in: ACCESS_TOKEN_TTL_S };
    for (const [value, record] of tokens().access) if (record.expiresAt <= now - 86400_000) tokens().access.delete(value);
    for (const [value, record] of tokens().refresh) if (record.expiresAt <= now - 86400_000) tokens().refresh.delete(value);
    tokens().access.set(pair.access_token, { appId, expiresAt: now + ACCESS_TOKEN_TTL_S * 1000, uses: 0 });
    tokens().refresh.set(pair.refresh_token, { appId, expiresAt: now + REFRESH_TOKEN_TTL_MS, used: false });
    return pair;
  }

  async function accessToken(ctx) {
    if (ctx.method !== "POST") return sendText(ctx.res, 405, "Method Not Allowed");
    const { appId, appSecret } = await readForm(ctx);
    if (appId !== credentials.appId) {
      sim.count("authErrors", "lingxing");
      return authFail(ctx.res, "2001001", "appId不存在，请检查值有效性");
    }
    if (appSecret !== credentials.appSecret) {
      sim.count("authErrors", "lingxing");
      return authFail(ctx.res, "2001002", "appSecret不正确，请检查值有效性");
    }
    sim.count("tokenFetches", "lingxing");
    sendJson(ctx.res, { code: "200", msg: "OK", data: issuePair(appId) });
  }

  async function refresh(ctx) {
    if (ctx.method !== "POST") return sendText(ctx.res, 405, "Method Not Allowed");
    const { appId, refreshToken } = await readForm(ctx);
    if (appId !== credentials.appId) {
      sim.count("authErrors", "lingxing");
      return authFail(ctx.res, "2001001", "appId不存在，请检查值有效性");
    }
    const record = tokens().refresh.get(refreshToken ?? "");
    if (!record || record.used || record.appId !== appId) {
      sim.count("authErrors", "lingxing");
      return authFail(ctx.res, "2001009", "refresh token is invalid");
    }
    if (sim.now() >= record.expiresAt) {
      sim.count("authErrors", "lingxing");
      return authFail(ctx.res, "2001008", "refresh token is expired");
    }
    record.used = true; // single use
    sim.count("refreshes", "lingxing");
    sendJson(ctx.res, { code: "200", msg: "OK", data: issuePair(appId) });
  }

  function usable(record) {
    const maxUses = sim.tokenMaxUses("lingxing");
    return sim.now() < record.expiresAt && !(maxUses !== null && record.uses >= maxUses);
  }

  async function afterSaleList(ctx) {
    const { res, url } = ctx;
    if (ctx.method !== "POST") return sendText(res, 405, "Method Not Allowed");
    if (ctx.fault?.kind === "throttleBurst") {
      sim.count("throttled", "lingxing");
      return fail(res, CODES.throttled);
    }
    const text = await readBody(ctx.req);
    let body;
    try {
      body = text.trim() === "" ? {} : JSON.parse(text);
    } catch {
      return fail(res, CODES.invalidParameter, "the body is not JSON");
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) return fail(res, CODES.invalidParameter, "the body must be a JSON object");

    const query = Object.fromEntries(url.searchParams); // URL-decoded, as the gateway sees them
    const missing = ["access_token", "app_key", "timestamp", "sign"].filter((k) => !query[k]);
    if (missing.length > 0) return fail(res, CODES.missingCommon, missing.join(", "));
    const token = tokens().access.get(query.access_token);
    if (!token || !usable(token)) {
      sim.count("authErrors", "lingxing");
      return fail(res, CODES.tokenMissingOrExpired);
    }
    if (token.appId !== query.app_key) {
      sim.count("authErrors", "lingxing");
      return fail(res, CODES.tokenMismatch);
    }
    const age = Math.abs(sim.now() / 1000 - Number(query.timestamp));
    if (!/^\d{10}$/.test(query.timestamp) || age > sim.options.lingxingSignMaxAgeSeconds) {
      sim.count("rejectedSigns");
      return fail(res, CODES.signExpired);
    }
    const { sign, ...signedQuery } = query;
    if (!verifyLingxingSign({ ...signedQuery, ...body }, sign, token.appId)) {
      sim.count("rejectedSigns");
      return fail(res, CODES.badSign);
    }

    const bucket = `${token.appId} ${url.pathname}`;
    if (inFlight.has(bucket)) {
      sim.count("throttled", "lingxing");
      sim.count("concurrentRejections");
      return fail(res, CODES.throttled);
    }
    inFlight.add(bucket);
    try {
      const latency = sim.state.faults.lingxingLatencyMs;
      if (latency > 0) await sleep(latency);
      const { query: filters, error } = parseFilters(body);
      if (error) return fail(res, CODES.invalidParameter, error);
      const offset = body.offset ?? 0;
      const length = body.length ?? DEFAULT_LENGTH;
      if (!isInt(offset) || offset < 0) return fail(res, CODES.invalidParameter, "offset must be an integer >= 0");
      if (!isInt(length) || length < 1 || length > MAX_LENGTH) return fail(res, CODES.invalidParameter, `length must be an integer in 1..${MAX_LENGTH}`);

      grow(filters);
      const all = select(store(), filters);
      const page = all.slice(offset, offset + length);
      token.uses += 1;
      sim.count("okCalls", "lingxing");
      const head = JSON.stringify(envelopeHead(0, "success")).slice(0, -1); // open, to append data and total
      sendJson(res, `${head},"data":[${page.map(entryJson).join(",")}],"total":${all.length}}`);
    } finally {
      inFlight.delete(bucket);
    }
  }

  /** growAfterCalls: new records in the queried range, at the front of the record order. */
  function grow(filters) {
    const add = sim.growthDue("lingxing");
    if (add === 0 || filters.start >= filters.end) return;
    for (let i = 0; i < add; i++) {
      store().entries.unshift(sim.state.data.generators.lingxing.grown({ endDate: filters.end, ...filters }));
    }
    store().cache.clear();
  }

  return {
    routes: [
      { path: "/api/auth-server/oauth/access-token", handler: accessToken },
      { path: "/api/auth-server/oauth/refresh", handler: refresh },
      { path: "/erp/sc/routing/amzod/order/afterSaleList", endpoint: "lingxing", handler: afterSaleList },
    ],

    /**
     * The records a query yields, in the API's order. `from`/`to` (or start_date/end_date) are the
     * half-open date range; neither means every record. Also: date_type (1|2|3), sid, after_type,
     * amazon_order_id_list (array or comma-separated).
     */
    truth(q) {
      const ids = q.amazon_order_id_list;
      const body = {
        start_date: q.from ?? q.start_date ?? "1000-01-01",
        end_date: q.to ?? q.end_date ?? "9999-12-31",
        date_type: q.date_type === undefined || q.date_type === "" ? undefined : Number(q.date_type),
        sid: q.sid,
        after_type: q.after_type,
        amazon_order_id_list: typeof ids === "string" ? ids.split(",").filter(Boolean) : ids,
      };
      const { query, error } = parseFilters(body);
      if (error) throw new Error(error);
      return select(store(), query).map((e) => structuredClone(e.wire));
    },

    add(n) {
      const generated = Array.from({ length: n }, () => sim.state.data.generators.lingxing.next());
      store().entries.push(...generated);
      store().cache.clear();
      return generated.map((e) => structuredClone(e.wire));
    },
  };
}
