// WeChat (api.weixin.qq.com): tokens, the transaction component's after-sales of one order
// (wechat_shop, seed 000) and the Mini Store order detail (wechat_store, seed 002).
// Every answer is HTTP 200 with errcode/errmsg, as WeChat does.
import { randomBytes } from "node:crypto";
import { parseJsonPreservingBigInts, readBody, sendJson, stringifyJson } from "./util.mjs";

const TOKEN_TTL_MS = 7200 * 1000;
const WRONG_PARAMETER = 9401020;

const ERRORS = {
  invalidToken: { errcode: 40001, errmsg: "invalid credential, access_token is invalid or not latest" },
  expiredToken: { errcode: 42001, errmsg: "access_token expired" },
  perMinuteLimit: { errcode: 45011, errmsg: "api minute-quota reach limit  mustslower  retry next minute" },
  busy: { errcode: -1, errmsg: "system error" },
  badJson: { errcode: 47001, errmsg: "data format error" },
  requirePost: { errcode: 43002, errmsg: "require POST method" },
  requireGet: { errcode: 43001, errmsg: "require GET method" },
};
const wrongParameter = (why) => ({ errcode: WRONG_PARAMETER, errmsg: `wrong parameter: ${why}` });

/** order_id is a JSON number (seeds 000 and 002); 19-digit ones arrive as BigInts. */
function asOrderId(value) {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return null;
}

export function indexOrders(orders) {
  const store = { orders: [], byId: new Map(), byOutId: new Map() };
  addOrders(store, orders);
  return store;
}

function addOrders(store, orders) {
  for (const order of orders) {
    store.orders.push(order);
    store.byId.set(order.orderId, order);
    store.byOutId.set(order.outOrderId, order);
  }
}

export function createWechat(sim) {
  const credentials = sim.options.credentials.wechat;
  const tokens = () => sim.state.tokens.wechat;
  const store = () => sim.state.data.wechat;

  function fail(res, error) {
    sendJson(res, error);
  }

  /** Issues a token of `kind` ("classic" | "stable"); the previous one of that kind stops working. */
  function issue(kind) {
    const t = tokens();
    if (t.latest[kind]) t.byToken.delete(t.latest[kind]); // unknown from now on: 40001 "not latest"
    const token = randomBytes(48).toString("base64url");
    t.byToken.set(token, { kind, expiresAt: sim.now() + TOKEN_TTL_MS, uses: 0 });
    t.latest[kind] = token;
    return token;
  }

  function usable(record) {
    const maxUses = sim.tokenMaxUses("wechat");
    return sim.now() < record.expiresAt && !(maxUses !== null && record.uses >= maxUses);
  }

  /** Checks appid/secret/grant_type; returns an error object or null. */
  function credentialError({ grant_type, appid, secret }) {
    if (grant_type !== "client_credential") return { errcode: 40002, errmsg: "invalid grant_type" };
    if (!appid) return { errcode: 41002, errmsg: "appid missing" };
    if (appid !== credentials.appid) return { errcode: 40013, errmsg: "invalid appid" };
    if (!secret) return { errcode: 41004, errmsg: "appsecret missing" };
    if (secret !== credentials.secret) return { errcode: 40125, errmsg: "invalid appsecret" };
    return null;
  }

  async function classicToken(ctx) {
    if (ctx.method !== "GET") return fail(ctx.res, ERRORS.requireGet);
    const error = credentialError(Object.fromEntries(ctx.url.searchParams));
    if (error) {
      sim.count("authErrors", "wechat");
      return fail(ctx.res, error);
    }
    sim.count("tokenFetches", "wechat");
    sendJson(ctx.res, { access_token: issue("classic"), expires_in: TOKEN_TTL_MS / 1000 });
  }

  async function stableToken(ctx) {
    if (ctx.method !== "POST") return fail(ctx.res, ERRORS.requirePost);
    let body;
    try {
      body = JSON.parse(ctx.bodyText ?? (await readBody(ctx.req))); // the token router may have read it
    } catch {
      return fail(ctx.res, ERRORS.badJson);
    }
    const error = credentialError(body ?? {});
    if (error) {
      sim.count("authErrors", "wechat");
      return fail(ctx.res, error);
    }
    const t = tokens();
    const current = t.latest.stable && t.byToken.get(t.latest.stable);
    let token = t.latest.stable;
    if (body.force_refresh === true || !current || !usable(current)) token = issue("stable");
    sim.count("tokenFetches", "wechat");
    const expiresIn = Math.floor((t.byToken.get(token).expiresAt - sim.now()) / 1000);
    sendJson(ctx.res, { access_token: token, expires_in: expiresIn });
  }

  /**
   * What every data call goes through: method, injected faults, token, per-minute limit, body.
   * Returns { body, token } or null when it has already answered.
   */
  async function admit(ctx) {
    const reject = (error) => {
      fail(ctx.res, error);
      return null;
    };
    if (ctx.method !== "POST") return reject(ERRORS.requirePost);
    if (ctx.fault?.kind === "throttleBurst") {
      sim.count("throttled", "wechat");
      return reject(ERRORS.perMinuteLimit);
    }
    if (ctx.fault?.kind === "busy") {
      sim.count("busy", "wechat");
      return reject(ERRORS.busy);
    }
    const record = tokens().byToken.get(ctx.url.searchParams.get("access_token") ?? "");
    if (!record || !usable(record)) {
      sim.count("authErrors", "wechat");
      return reject(record ? ERRORS.expiredToken : ERRORS.invalidToken);
    }
    const { limit, windowMs } = sim.state.faults.wechatRateLimit;
    if (!sim.state.windows.wechatCalls.tryHit(sim.now(), limit, windowMs)) {
      sim.count("throttled", "wechat");
      return reject(ERRORS.perMinuteLimit);
    }
    let body;
    try {
      body = parseJsonPreservingBigInts(await readBody(ctx.req));
    } catch {
      return reject(ERRORS.badJson);
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) return reject(ERRORS.badJson);
    return { body, token: record };
  }

  function succeed(ctx, token, payload) {
    token.uses += 1;
    sim.count("okCalls", "wechat");
    sendJson(ctx.res, stringifyJson(payload));
  }

  async function aftersaleGet(ctx) {
    const admitted = await admit(ctx);
    if (!admitted) return;
    const { order_id, out_order_id, openid } = admitted.body;
    if (typeof openid !== "string" || openid === "") return fail(ctx.res, wrongParameter("openid is required"));
    let order;
    if (order_id !== undefined) {
      const id = asOrderId(order_id);
      if (id === null) return fail(ctx.res, wrongParameter("order_id must be a number"));
      order = store().byId.get(id);
      if (order && out_order_id !== undefined && out_order_id !== order.outOrderId) order = undefined;
    } else if (typeof out_order_id === "string" && out_order_id !== "") {
      order = store().byOutId.get(out_order_id);
    } else {
      return fail(ctx.res, wrongParameter("order_id or out_order_id is required"));
    }
    if (!order) return fail(ctx.res, wrongParameter("order does not exist"));
    if (order.openid !== openid) return fail(ctx.res, wrongParameter("openid does not match the order"));
    succeed(ctx, admitted.token, { errcode: 0, errmsg: "ok", [order.aftersaleListKey]: order.aftersaleRecords });
  }

  async function orderGet(ctx) {
    const admitted = await admit(ctx);
    if (!admitted) return;
    const id = asOrderId(admitted.body.order_id);
    if (id === null) return fail(ctx.res, wrongParameter("order_id must be a number"));
    const order = store().byId.get(id);
    if (!order) return fail(ctx.res, wrongParameter("order does not exist"));
    succeed(ctx, admitted.token, { errcode: 0, errmsg: "ok", order: order.order });
  }

  function findOrder(query) {
    if (query.order_id !== undefined && query.order_id !== "") {
      try {
        return store().byId.get(BigInt(query.order_id));
      } catch {
        return undefined;
      }
    }
    return query.out_order_id ? store().byOutId.get(String(query.out_order_id)) : undefined;
  }

  // wx.login() codes (the mini program's side, which tests play): each names one buyer, works
  // once and for five minutes (WeChat's documents: "code 有效期为 5 分钟", "只能使用一次").
  const LOGIN_CODE_TTL_MS = 5 * 60 * 1000;
  const loginCodes = new Map();

  /** `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code`. */
  function jscode2session(ctx) {
    if (ctx.method !== "GET") return fail(ctx.res, ERRORS.requireGet);
    const q = Object.fromEntries(ctx.url.searchParams);
    if (q.grant_type !== "authorization_code") return fail(ctx.res, { errcode: 40002, errmsg: "invalid grant_type" });
    if (!q.appid) return fail(ctx.res, { errcode: 41002, errmsg: "appid missing" });
    if (q.appid !== credentials.appid) return fail(ctx.res, { errcode: 40013, errmsg: "invalid appid" });
    if (!q.secret) return fail(ctx.res, { errcode: 41004, errmsg: "appsecret missing" });
    if (q.secret !== credentials.secret) {
      sim.count("authErrors", "wechat");
      return fail(ctx.res, { errcode: 40125, errmsg: "invalid appsecret" });
    }
    if (!q.js_code) return fail(ctx.res, { errcode: 41008, errmsg: "missing code" });
    const issued = loginCodes.get(q.js_code);
    if (!issued || sim.now() > issued.expiresAt) return fail(ctx.res, { errcode: 40029, errmsg: "invalid code" });
    if (issued.used) return fail(ctx.res, { errcode: 40163, errmsg: "code been used" });
    issued.used = true;
    sim.count("logins", "wechat");
    sendJson(ctx.res, { openid: issued.openid, session_key: randomBytes(16).toString("base64") });
  }

  return {
    classicToken,
    stableToken,
    /** What wx.login() gives a mini program for buyer `openid`: a code for jscode2session. */
    issueLoginCode(openid) {
      const code = randomBytes(24).toString("base64url");
      loginCodes.set(code, { openid, expiresAt: sim.now() + LOGIN_CODE_TTL_MS, used: false });
      return code;
    },
    routes: [
      { path: "/sns/jscode2session", handler: jscode2session },
      { path: "/cgi-bin/token", handler: classicToken },
      { path: "/cgi-bin/stable_token", handler: stableToken },
      { path: "/shop/aftersale/get", endpoint: "wechat_shop", handler: aftersaleGet },
      { path: "/product/order/get", endpoint: "wechat_store", handler: orderGet },
    ],

    /** wechat_shop: the after-sale records of one order; wechat_store: [the order document]. */
    truth(platform, query) {
      const order = findOrder(query);
      if (!order) return [];
      return structuredClone(platform === "wechat_shop" ? order.aftersaleRecords : [order.order]);
    },

    /** Every order, with its ids as strings (19-digit order ids do not fit a JS number). */
    orders() {
      return store().orders.map((o) => ({
        order_id: o.orderId.toString(),
        out_order_id: o.outOrderId,
        openid: o.openid,
        aftersale_ids: [...o.aftersaleIds],
        status: o.order.status,
        aftersale_list_key: o.aftersaleListKey,
      }));
    },

    add(n) {
      const generated = Array.from({ length: n }, () => sim.state.data.generators.wechat.next());
      addOrders(store(), generated);
      return generated.map((o) => structuredClone(o.order));
    },
  };
}
