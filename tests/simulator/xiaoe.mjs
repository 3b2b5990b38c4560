// Xiaoe-tech (api.xiaoe-tech.com): the token and the after-sales list of seed 001.
// Every answer is HTTP 200 with `code`/`msg`.
import { randomBytes } from "node:crypto";
import { addDays, formatChinaTime, parseDate, xiaoeSalesState } from "./data.mjs";
import { ControlError, isInt, readBody, sendJson } from "./util.mjs";

const TOKEN_TTL_MS = 7200 * 1000;
const OLD_TOKEN_GRACE_MS = 5 * 60 * 1000; // a new token lets the previous ones live 5 more minutes
const MAX_PAGE_SIZE = 100;
const DATE_TYPES = new Set(["created_at", "updated_at", "refund_time", "apply_time"]);
const SALES_STATES = new Set([-1, 1, 2, 3, 6]);
const INVALID_PARAMETER = 2002;

const ERRORS = {
  tokenMissing: { code: 2007, msg: "access_token 缺失" },
  tokenExpired: { code: 2008, msg: "access_token 已过期或不存在" },
  tokenQuota: { code: 2053, msg: "获取 access_token 次数已达上限" },
  rateLimited: { code: 2054, msg: "接口调用频率超限，请稍后再试" },
  wrongMethod: { code: 2055, msg: "请求方法错误" },
};
const invalid = (msg) => ({ code: INVALID_PARAMETER, msg: `参数错误: ${msg}` });

const entryJson = (entry) => (entry.json ??= JSON.stringify(entry.wire));

/**
 * Filters and sorts the dataset for a query: newest first by the date_type field, ties by
 * aftersale_id ascending. Results are cached per query until the dataset changes.
 */
function select(store, query) {
  const key = JSON.stringify(query);
  let hit = store.cache.get(key);
  if (hit) return hit;
  const { from, toInclusive, dateType, salesState, orderId, aftersaleId, nickName } = query;
  hit = store.entries.filter((e) => {
    const time = e.times[dateType];
    if (time === null) return false;
    const day = time.slice(0, 10);
    if (day < from || day > toInclusive) return false;
    if (salesState !== undefined && salesState !== -1 && xiaoeSalesState(e.wire.state) !== salesState) return false;
    if (orderId !== undefined && e.wire.order_id !== orderId) return false;
    if (aftersaleId !== undefined && e.wire.aftersale_id !== aftersaleId) return false;
    if (nickName !== undefined && e.wire.nick_name !== nickName) return false;
    return true;
  });
  hit.sort((a, b) => {
    const ta = a.times[dateType];
    const tb = b.times[dateType];
    if (ta !== tb) return ta > tb ? -1 : 1;
    return a.wire.aftersale_id < b.wire.aftersale_id ? -1 : a.wire.aftersale_id > b.wire.aftersale_id ? 1 : 0;
  });
  if (store.cache.size > 256) store.cache.clear();
  store.cache.set(key, hit);
  return hit;
}

/** Optional string filters: absent or "" means no filter. */
function optionalString(body, name) {
  const v = body[name];
  if (v === undefined || v === null || v === "") return { value: undefined };
  return typeof v === "string" ? { value: v } : { error: `${name} 必须是字符串` };
}

/** The list request's filters, or { error }. */
function parseFilters(body) {
  const query = {};
  const dateType = body.date_type ?? "created_at";
  if (!DATE_TYPES.has(dateType)) return { error: `date_type 取值无效: ${JSON.stringify(body.date_type)}` };
  query.dateType = dateType;
  if (body.sales_state !== undefined && body.sales_state !== null) {
    if (!SALES_STATES.has(body.sales_state)) return { error: `sales_state 取值无效: ${JSON.stringify(body.sales_state)}` };
    query.salesState = body.sales_state;
  }
  for (const [name, field] of [["order_id", "orderId"], ["aftersale_id", "aftersaleId"], ["nick_name", "nickName"]]) {
    const { value, error } = optionalString(body, name);
    if (error) return { error };
    if (value !== undefined) query[field] = value;
  }
  return { query };
}

export function createXiaoe(sim) {
  const credentials = sim.options.credentials.xiaoe;
  const tokens = () => sim.state.tokens.xiaoe;
  const store = () => sim.state.data.xiaoe;
  const fail = (res, error) => sendJson(res, error);

  function usable(record) {
    const maxUses = sim.tokenMaxUses("xiaoe");
    return sim.now() < record.expiresAt && !(maxUses !== null && record.uses >= maxUses);
  }

  async function token(ctx) {
    if (ctx.method !== "GET") return fail(ctx.res, ERRORS.wrongMethod);
    const p = Object.fromEntries(ctx.url.searchParams);
    let error = null;
    if (p.grant_type !== "client_credential") error = invalid("grant_type 必须为 client_credential");
    else if (!p.app_id || !p.client_id || !p.secret_key) error = invalid("缺少 app_id、client_id 或 secret_key");
    else if (p.app_id !== credentials.app_id || p.client_id !== credentials.client_id || p.secret_key !== credentials.secret_key) {
      error = invalid("app_id、client_id 或 secret_key 不正确");
    }
    if (error) {
      sim.count("authErrors", "xiaoe");
      return fail(ctx.res, error);
    }
    const { limit, windowMs } = sim.options.xiaoeTokenLimit;
    if (!sim.state.windows.xiaoeTokenCalls.tryHit(sim.now(), limit, windowMs)) {
      sim.count("throttled", "xiaoe");
      return fail(ctx.res, ERRORS.tokenQuota);
    }
    const now = sim.now();
    for (const [value, record] of tokens()) {
      if (record.expiresAt <= now - 86400_000) tokens().delete(value); // long dead: forget it
      else record.expiresAt = Math.min(record.expiresAt, now + OLD_TOKEN_GRACE_MS);
    }
    const accessToken = randomBytes(16).toString("hex");
    tokens().set(accessToken, { expiresAt: now + TOKEN_TTL_MS, uses: 0 });
    sim.count("tokenFetches", "xiaoe");
    sendJson(ctx.res, { code: 0, msg: "ok", data: { access_token: accessToken, expires_in: TOKEN_TTL_MS / 1000 } });
  }

  async function list(ctx) {
    const { res } = ctx;
    if (ctx.method !== "POST") return fail(res, ERRORS.wrongMethod);
    if (ctx.fault?.kind === "throttleBurst") {
      sim.count("throttled", "xiaoe");
      return fail(res, ERRORS.rateLimited);
    }
    let body;
    try {
      body = JSON.parse(await readBody(ctx.req));
    } catch {
      return fail(res, invalid("请求体不是合法的 JSON"));
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) return fail(res, invalid("请求体必须是 JSON 对象"));
    if (typeof body.access_token !== "string" || body.access_token === "") {
      sim.count("authErrors", "xiaoe");
      return fail(res, ERRORS.tokenMissing);
    }
    const record = tokens().get(body.access_token);
    if (!record || !usable(record)) {
      sim.count("authErrors", "xiaoe");
      return fail(res, ERRORS.tokenExpired);
    }
    const { limit, windowMs } = sim.state.faults.xiaoeRateLimit;
    if (!sim.state.windows.xiaoeCalls.tryHit(sim.now(), limit, windowMs)) {
      sim.count("throttled", "xiaoe");
      return fail(res, ERRORS.rateLimited);
    }

    const { page_size: pageSize, page_index: pageIndex } = body;
    if (!isInt(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) return fail(res, invalid(`page_size 必须是 1 到 ${MAX_PAGE_SIZE} 之间的整数`));
    if (!isInt(pageIndex) || pageIndex < 1) return fail(res, invalid("page_index 必须是从 1 开始的整数"));
    const range = typeof body.created_at === "string" ? body.created_at.split("||") : [];
    const [from, toInclusive] = range;
    if (range.length !== 2 || parseDate(from) === null || parseDate(toInclusive) === null) {
      return fail(res, invalid('created_at 格式应为 "YYYY-MM-DD||YYYY-MM-DD"'));
    }
    const days = parseDate(toInclusive) - parseDate(from) + 1; // both days included
    if (days < 1) return fail(res, invalid("created_at 起始日期晚于结束日期"));
    if (days > sim.options.xiaoeMaxWindowDays) return fail(res, invalid(`created_at 时间跨度不能超过 ${sim.options.xiaoeMaxWindowDays} 天`));
    const { query, error } = parseFilters(body);
    if (error) return fail(res, invalid(error));
    Object.assign(query, { from, toInclusive });

    grow(query);
    const all = select(store(), query);
    const page = all.slice((pageIndex - 1) * pageSize, pageIndex * pageSize);
    record.uses += 1;
    sim.count("okCalls", "xiaoe");
    sendJson(res, `{"code":0,"msg":"操作成功","data":{"list":[${page.map(entryJson).join(",")}],"row_count":${all.length}}}`);
  }

  /** growAfterCalls: new records at the front of this query's order. */
  function grow(query) {
    const add = sim.growthDue("xiaoe");
    for (let i = 0; i < add; i++) {
      store().entries.push(sim.state.data.generators.xiaoe.grown({ ...query, lastDay: query.toInclusive }));
    }
    if (add > 0) store().cache.clear();
  }

  return {
    routes: [
      { path: "/token", handler: token },
      { path: "/xe.ecommerce.after_sale.list/1.0.0", endpoint: "xiaoe", handler: list },
    ],

    /**
     * The records a query yields, in the API's order, across any window length. `from`/`to` are a
     * half-open range of dates (as the proxy takes them); `created_at: "a||b"` (inclusive) works too;
     * neither means every record. Other keys: date_type, sales_state, order_id, aftersale_id, nick_name.
     */
    truth(q) {
      let from = "1000-01-01";
      let toInclusive = "9999-12-31";
      if (typeof q.created_at === "string" && q.created_at.includes("||")) [from, toInclusive] = q.created_at.split("||");
      if (q.from) from = q.from;
      if (q.to) toInclusive = parseDate(q.to) === null ? q.to : addDays(q.to, -1);
      if (parseDate(from) === null || parseDate(toInclusive) === null) throw new Error("from/to must be YYYY-MM-DD dates");
      const salesState = q.sales_state === undefined || q.sales_state === "" ? undefined : Number(q.sales_state);
      const { query, error } = parseFilters({ ...q, sales_state: salesState, date_type: q.date_type || undefined });
      if (error) throw new Error(error);
      return select(store(), { ...query, from, toInclusive }).map((e) => structuredClone(e.wire));
    },

    /** `n` more records; with `at.update_time` (unix seconds), records updated then. */
    add(n, at) {
      const generator = sim.state.data.generators.xiaoe;
      const generated = Array.from({ length: n }, () => (at?.update_time === undefined ? generator.next() : generator.recent(at.update_time)));
      store().entries.push(...generated);
      store().cache.clear();
      return generated.map((e) => structuredClone(e.wire));
    },
    /** Moves a record on: its new `state`, updated at `update_time` (unix seconds). */
    touch(aftersaleId, { state, update_time }) {
      const entry = store().entries.find((e) => e.wire.aftersale_id === aftersaleId);
      if (!entry) throw new ControlError(`no xiaoe after-sale ${aftersaleId}`);
      entry.wire.state = state;
      entry.wire.updated_at = entry.times.updated_at = formatChinaTime(update_time);
      delete entry.json; // its answer text is kept per record
      store().cache.clear();
      return structuredClone(entry.wire);
    },
  };
}
