// An HTTP server on loopback that impersonates the upstreams at once (their paths do not collide;
// the WeChat token paths are shared and routed by appid), plus a control API under /__sim/.
// Written from the seeds, UPSTREAMS.md and upstreams/wechat_channels.md only: it shares no code
// with the project's core, so the two cannot share a misreading.
import { createServer } from "node:http";
import { Buffer } from "node:buffer";
import { DEFAULT_DATE_RANGE, generateDataset, parseDate } from "./data.mjs";
import { createLingxing } from "./lingxing.mjs";
import { ControlError, RateMeter, SlidingWindow, readBody, sendJson, sendText, stringifyJson } from "./util.mjs";
import { createWechat, indexOrders } from "./wechat.mjs";
import {
  CHANNELS_DEFAULTS,
  CHANNELS_THROTTLE_ERRCODES,
  CHANNELS_TOKEN_ERRCODES,
  createChannelsData,
  createWechatChannels,
  emptyChannelsStats,
  emptyChannelsTokens,
  mergeChannelsConfig,
} from "./wechat_channels.mjs";
import { createXiaoe } from "./xiaoe.mjs";

export const DEFAULT_CREDENTIALS = Object.freeze({
  wechat: Object.freeze({ appid: "wx_sim_appid", secret: "wx_sim_secret" }),
  xiaoe: Object.freeze({ app_id: "app_sim_xiaoe", client_id: "xop_sim_client", secret_key: "xiaoe_sim_secret" }),
  lingxing: Object.freeze({ appId: "ak_simulator0001", appSecret: "lingxing_sim_secret" }),
  // The shop's own AppID/AppSecret (not the mini program's) and its push settings (§10.1).
  wechat_channels: Object.freeze({
    appid: "wx_sim_channels_appid",
    secret: "wx_sim_channels_secret",
    push_token: "sim_channels_push_token",
    encoding_aes_key: "SimChannelsEncodingAESKey0123456789abcdefgh", // 43 characters
    user_name: "gh_5ec0a1b2c3d4", // ToUserName of pushes
    push_openid: "o9AgO5SimChannelsPushOpenId0", // FromUserName of pushes
  }),
});

export const DEFAULT_OPTIONS = Object.freeze({
  host: "127.0.0.1",
  port: 0, // 0: any free port
  seed: 1,
  records: 300, // xiaoe and lingxing records each
  wechatOrders: 50,
  dateRange: DEFAULT_DATE_RANGE, // half-open; where generated records fall
  typoKeys: "alternate", // WeChat's typo'd keys: true = always, false = never, "alternate" = per order
  clockOffsetMs: 0,
  lingxingLatencyMs: 0,
  xiaoeRateLimit: { limit: 300, windowMs: 60_000 },
  wechatRateLimit: { limit: 600, windowMs: 60_000 },
  xiaoeTokenLimit: { limit: 100, windowMs: 600_000 },
  xiaoeMaxWindowDays: 31,
  lingxingSignMaxAgeSeconds: 120,
  wechatChannels: CHANNELS_DEFAULTS, // see wechat_channels.mjs and README.md
  rateWindowMs: 1000, // stats.endpoints[*].maxInWindow and stats.maxRate count calls per this much real time
});

const ACCOUNTS = ["wechat", "xiaoe", "lingxing", "wechat_channels"];
/** Data endpoints and the account (credentials, limits, stats) each belongs to. */
const ENDPOINT_ACCOUNT = {
  wechat_shop: "wechat",
  wechat_store: "wechat",
  xiaoe: "xiaoe",
  lingxing: "lingxing",
  wechat_channels_list: "wechat_channels",
  wechat_channels_detail: "wechat_channels",
};
const CHANNELS_TARGETS = new Set(["wechat_channels", "wechat_channels_list", "wechat_channels_detail"]);
const FAULT_TARGETS = new Set(["wechat", "wechat_shop", "wechat_store", "xiaoe", "lingxing", ...CHANNELS_TARGETS]);
const WECHAT_TARGETS = new Set(["wechat", "wechat_shop", "wechat_store", ...CHANNELS_TARGETS]);
const SERVER_ERROR_STATUSES = new Set([500, 502, 503]);
const COUNTED_FAULTS = ["serverErrors", "throttleBurst", "busy", "tokenExpiry"]; // in the order they take effect
const check = (ok, message) => {
  if (!ok) throw new ControlError(message);
};
const isCount = (v) => Number.isInteger(v) && v >= 0;
const isLimit = (v) => v && typeof v === "object" && Number.isInteger(v.limit) && v.limit >= 1 && Number.isFinite(v.windowMs) && v.windowMs > 0;

function resolveOptions(options = {}) {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const resolved = { ...DEFAULT_OPTIONS, ...given };
  resolved.credentials = Object.fromEntries(
    ACCOUNTS.map((a) => [a, { ...DEFAULT_CREDENTIALS[a], ...(options.credentials?.[a] ?? {}) }]),
  );
  check(Buffer.byteLength(resolved.credentials.lingxing.appId) === 16, "credentials.lingxing.appId must be exactly 16 bytes (it is the AES-128 key)");
  check(isCount(resolved.records) && isCount(resolved.wechatOrders), "records and wechatOrders must be integers >= 0");
  check(parseDate(resolved.dateRange.from) !== null && parseDate(resolved.dateRange.to) > parseDate(resolved.dateRange.from), "dateRange must be {from, to} dates, from < to");
  check(["alternate", true, false].includes(resolved.typoKeys), 'typoKeys must be true, false or "alternate"');
  for (const name of ["xiaoeRateLimit", "wechatRateLimit", "xiaoeTokenLimit"]) check(isLimit(resolved[name]), `${name} must be {limit, windowMs}`);
  resolved.wechatChannels = mergeChannelsConfig(CHANNELS_DEFAULTS, options.wechatChannels);
  const channels = resolved.credentials.wechat_channels;
  check(channels.appid !== resolved.credentials.wechat.appid, "credentials.wechat_channels.appid must differ from the mini program's (tokens are routed by appid)");
  check(/^[A-Za-z0-9+/]{43}$/.test(channels.encoding_aes_key), "credentials.wechat_channels.encoding_aes_key must be 43 Base64 characters");
  check(Number.isFinite(resolved.rateWindowMs) && resolved.rateWindowMs > 0, "rateWindowMs must be a number > 0");
  return resolved;
}

function emptyStats(rateWindowMs) {
  const perAccount = () => ({ wechat: 0, xiaoe: 0, lingxing: 0, wechat_channels: 0 });
  return {
    tokenFetches: perAccount(),
    refreshes: { lingxing: 0 },
    dataCalls: { wechat: 0, wechat_shop: 0, wechat_store: 0, xiaoe: 0, lingxing: 0, wechat_channels: 0, wechat_channels_list: 0, wechat_channels_detail: 0 },
    okCalls: perAccount(),
    rejectedSigns: 0,
    throttled: perAccount(),
    serverErrors: perAccount(),
    busy: { wechat: 0, wechat_channels: 0 },
    concurrentRejections: 0,
    authErrors: perAccount(),
    logins: { wechat: 0 }, // jscode2session sign-ins answered
    maxInFlight: perAccount(),
    // Per data endpoint: calls, most in flight at once, most started within rateWindowMs (real time).
    endpoints: Object.fromEntries(Object.keys(ENDPOINT_ACCOUNT).map((e) => [e, { calls: 0, maxInFlight: 0, maxInWindow: 0 }])),
    maxRate: perAccount(), // per account: most calls started within rateWindowMs
    rateWindowMs,
    channels: emptyChannelsStats(),
  };
}

function emptyTokens() {
  return {
    wechat: { byToken: new Map(), latest: { classic: null, stable: null } },
    xiaoe: new Map(),
    lingxing: { access: new Map(), refresh: new Map() },
    wechat_channels: emptyChannelsTokens(),
  };
}

const htmlErrorPage = (status) => {
  const reason = { 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable" }[status];
  return `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
};

/** Items of a fault that may be given as one object or a list of them. */
const asList = (value) => (Array.isArray(value) ? value : [value]);

export class Simulator {
  constructor(options) {
    this.options = resolveOptions(options);
    this.state = {
      tokens: emptyTokens(),
      inFlight: { wechat: 0, xiaoe: 0, lingxing: 0, wechat_channels: 0 },
      endpointInFlight: Object.fromEntries(Object.keys(ENDPOINT_ACCOUNT).map((e) => [e, 0])),
    };
    this.reset();
    this.upstreams = { wechat: createWechat(this), xiaoe: createXiaoe(this), lingxing: createLingxing(this), wechat_channels: createWechatChannels(this) };
    this.routes = new Map();
    for (const upstream of Object.values(this.upstreams)) for (const route of upstream.routes) this.routes.set(route.path, route);
    // The mini program and the Channels shop share WeChat's token paths: the appid decides (§2.1).
    this.routes.set("/cgi-bin/token", { handler: this.tokenRouter("classicToken") });
    this.routes.set("/cgi-bin/stable_token", { handler: this.tokenRouter("stableToken") });
    for (const [path, handler] of Object.entries(this.controlRoutes())) this.routes.set(path, { handler, control: true });
  }

  tokenRouter(kind) {
    return async (ctx) => {
      let appid = ctx.url.searchParams.get("appid");
      if (kind === "stableToken" && ctx.method === "POST") {
        ctx.bodyText = await readBody(ctx.req);
        try {
          appid = JSON.parse(ctx.bodyText)?.appid;
        } catch {
          appid = null; // the mini program's handler answers 47001
        }
      }
      const channels = appid === this.options.credentials.wechat_channels.appid;
      return this.upstreams[channels ? "wechat_channels" : "wechat"][kind](ctx);
    };
  }

  now() {
    return Date.now() + this.state.clockOffsetMs;
  }

  /** Restores data, faults, rate-limit windows, stats and clock; issued tokens survive unless `tokens`. */
  reset({ tokens = false } = {}) {
    const o = this.options;
    const dataset = generateDataset({ seed: o.seed, records: o.records, wechatOrders: o.wechatOrders, dateRange: o.dateRange, typoKeys: o.typoKeys });
    Object.assign(this.state, {
      clockOffsetMs: o.clockOffsetMs,
      data: {
        generators: dataset.generators,
        wechat: indexOrders(dataset.wechat),
        xiaoe: { entries: dataset.xiaoe, cache: new Map() },
        lingxing: { entries: dataset.lingxing, cache: new Map() },
        wechat_channels: createChannelsData(o.seed, o.dateRange, o.wechatChannels),
      },
      faults: {
        tokenMaxUses: { wechat: null, xiaoe: null, lingxing: null },
        throttleBurst: {},
        serverErrors: {},
        busy: {},
        growAfterCalls: {},
        lingxingLatencyMs: o.lingxingLatencyMs,
        xiaoeRateLimit: { ...o.xiaoeRateLimit },
        wechatRateLimit: { ...o.wechatRateLimit },
        tokenExpiry: {},
        wechatChannels: structuredClone(o.wechatChannels),
        channelsMutations: [],
      },
      windows: {
        wechatCalls: new SlidingWindow(),
        xiaoeCalls: new SlidingWindow(),
        xiaoeTokenCalls: new SlidingWindow(),
        channelsCalls: new SlidingWindow(),
        channelsDaily: {},
      },
      meters: Object.fromEntries([...Object.keys(ENDPOINT_ACCOUNT), ...ACCOUNTS].map((k) => [k, new RateMeter(o.rateWindowMs)])),
      stats: emptyStats(o.rateWindowMs),
      channelsListOk: 0,
      channelsPushTarget: null,
    });
    if (tokens) this.state.tokens = emptyTokens();
  }

  advance(ms) {
    check(Number.isFinite(ms), "advance needs a number of milliseconds");
    this.state.clockOffsetMs += ms;
    return this.clock();
  }

  clock() {
    return { now: this.now(), iso: new Date(this.now()).toISOString(), offsetMs: this.state.clockOffsetMs };
  }

  count(counter, key) {
    if (key === undefined) this.state.stats[counter] += 1;
    else this.state.stats[counter][key] += 1;
  }

  stats() {
    return structuredClone(this.state.stats);
  }

  tokenMaxUses(account) {
    return this.state.faults.tokenMaxUses[account];
  }

  /** Consumes and returns the injected fault for this data call, if one is pending. */
  takeInjectedFault(endpoint) {
    const targets = [endpoint, ENDPOINT_ACCOUNT[endpoint]];
    for (const kind of COUNTED_FAULTS) {
      for (const target of targets) {
        const pending = this.state.faults[kind][target];
        if (pending && pending.remaining > 0) {
          pending.remaining -= 1;
          return { kind, status: pending.status, errcode: pending.errcode };
        }
      }
    }
    return null;
  }

  /** Counts a valid list call; returns how many records growAfterCalls inserts now (usually 0). */
  growthDue(platform) {
    const growth = this.state.faults.growAfterCalls[platform];
    if (!growth) return 0;
    growth.calls += 1;
    if (growth.fired || growth.calls <= growth.afterCalls) return 0;
    growth.fired = true;
    return growth.add;
  }

  /** Merges `faults` into the current ones (see README.md); all-or-nothing. */
  setFaults(faults) {
    check(faults && typeof faults === "object" && !Array.isArray(faults), "faults must be a JSON object");
    const next = structuredClone(this.state.faults);
    const target = (platform, allowed = FAULT_TARGETS) => {
      check(allowed.has(platform), `platform must be one of ${[...allowed].join(", ")} (got ${JSON.stringify(platform)})`);
      return platform;
    };
    for (const [key, value] of Object.entries(faults)) {
      switch (key) {
        case "tokenMaxUses":
          check(value && typeof value === "object", "tokenMaxUses must be an object like {xiaoe: 5}");
          for (const [account, uses] of Object.entries(value)) {
            check(ACCOUNTS.includes(account), `tokenMaxUses: unknown platform ${account}`);
            check(uses === null || (Number.isInteger(uses) && uses >= 1), "tokenMaxUses values are integers >= 1 or null");
            next.tokenMaxUses[account] = uses;
          }
          break;
        case "throttleBurst":
        case "busy":
          for (const item of asList(value)) {
            check(isCount(item?.count), `${key}.count must be an integer >= 0`);
            const platform = target(item.platform, key === "busy" ? WECHAT_TARGETS : FAULT_TARGETS);
            const entry = { remaining: item.count };
            if (item.errcode !== undefined) {
              check(key === "throttleBurst" && CHANNELS_TARGETS.has(platform), "errcode is for throttleBurst on wechat_channels only");
              check(CHANNELS_THROTTLE_ERRCODES.has(item.errcode), `throttleBurst.errcode must be one of ${[...CHANNELS_THROTTLE_ERRCODES].join(", ")}`);
              entry.errcode = item.errcode;
            }
            next[key][platform] = entry;
          }
          break;
        case "tokenExpiry":
          for (const item of asList(value)) {
            check(isCount(item?.count), "tokenExpiry.count must be an integer >= 0");
            const errcode = item.errcode ?? 42001;
            check(CHANNELS_TOKEN_ERRCODES.has(errcode), `tokenExpiry.errcode must be one of ${[...CHANNELS_TOKEN_ERRCODES].join(", ")}`);
            next.tokenExpiry[target(item.platform, CHANNELS_TARGETS)] = { remaining: item.count, errcode };
          }
          break;
        case "wechatChannels":
          next.wechatChannels = mergeChannelsConfig(next.wechatChannels, value, { runtime: true });
          break;
        case "channelsMutations":
          next.channelsMutations = [];
          for (const item of asList(value)) {
            check(Number.isInteger(item?.afterListCalls) && item.afterListCalls >= 1, "channelsMutations.afterListCalls must be an integer >= 1");
            const counts = { add: item.add ?? 0, change: item.change ?? 0, remove: item.remove ?? 0 };
            check(Object.values(counts).every(isCount), "channelsMutations add/change/remove must be integers >= 0");
            next.channelsMutations.push({ afterListCalls: this.state.channelsListOk + item.afterListCalls, ...counts, fired: false });
          }
          break;
        case "serverErrors":
          for (const item of asList(value)) {
            const status = item?.status ?? 503;
            check(isCount(item?.count), "serverErrors.count must be an integer >= 0");
            check(SERVER_ERROR_STATUSES.has(status), "serverErrors.status must be 500, 502 or 503");
            next.serverErrors[target(item.platform)] = { remaining: item.count, status };
          }
          break;
        case "growAfterCalls":
          for (const item of asList(value)) {
            const platform = target(item?.platform, new Set(["xiaoe", "lingxing"]));
            check(isCount(item.afterCalls) && Number.isInteger(item.add) && item.add >= 1, "growAfterCalls needs afterCalls >= 0 and add >= 1");
            next.growAfterCalls[platform] = { afterCalls: item.afterCalls, add: item.add, calls: 0, fired: false };
          }
          break;
        case "lingxingLatencyMs":
          check(Number.isFinite(value) && value >= 0, "lingxingLatencyMs must be a number >= 0");
          next.lingxingLatencyMs = value;
          break;
        case "xiaoeRateLimit":
        case "wechatRateLimit":
          check(isLimit(value), `${key} must be {limit: integer >= 1, windowMs: number > 0}`);
          next[key] = { limit: value.limit, windowMs: value.windowMs };
          break;
        default:
          throw new ControlError(`unknown fault ${JSON.stringify(key)}`);
      }
    }
    this.state.faults = next;
    return structuredClone(next);
  }

  /** The raw upstream records a query should yield, in the upstream's order (see README.md). */
  truth(platform, query = {}) {
    switch (platform) {
      case "wechat_shop":
      case "wechat_store":
        return this.upstreams.wechat.truth(platform, query);
      case "xiaoe":
      case "lingxing":
        try {
          return this.upstreams[platform].truth(query);
        } catch (error) {
          throw new ControlError(error.message);
        }
      case "wechat_channels":
        return this.upstreams.wechat_channels.truth(query);
      default:
        throw new ControlError("platform must be wechat_shop, wechat_store, wechat_channels, xiaoe or lingxing");
    }
  }

  /** Appends `n` generated records (orders for wechat) and returns them. */
  addRecords(platform, n, at) {
    check(Number.isInteger(n) && n >= 0, "n must be an integer >= 0");
    const account = ENDPOINT_ACCOUNT[platform] ?? platform;
    check(ACCOUNTS.includes(account), "platform must be wechat, xiaoe, lingxing or wechat_channels");
    if (at !== undefined) {
      check(account === "wechat_channels" || account === "xiaoe", "at is for wechat_channels and xiaoe only");
      check(at && typeof at === "object" && Object.entries(at).every(([k, v]) => ["create_time", "update_time"].includes(k) && Number.isSafeInteger(v)), "at must be {create_time?, update_time?} in unix seconds");
      check(account !== "xiaoe" || (at.update_time !== undefined && at.create_time === undefined), "xiaoe takes at.update_time only");
    }
    return this.upstreams[account].add(n, at);
  }

  controlRoutes() {
    const json = async (req) => {
      const text = await readBody(req);
      try {
        return text.trim() === "" ? {} : JSON.parse(text);
      } catch {
        throw new ControlError("the body must be JSON");
      }
    };
    const post = (fn) => async (ctx) => {
      check(ctx.method === "POST", "use POST");
      return fn(await json(ctx.req), ctx);
    };
    return {
      "/__sim/stats": () => this.stats(),
      "/__sim/faults": async (ctx) => (ctx.method === "POST" ? this.setFaults(await json(ctx.req)) : structuredClone(this.state.faults)),
      "/__sim/reset": post((body) => {
        this.reset({ tokens: body.tokens === true });
        return { ok: true };
      }),
      "/__sim/advance": post((body) => this.advance(body.ms)),
      "/__sim/clock": () => this.clock(),
      "/__sim/truth": ({ url }) => {
        const { platform, ...query } = Object.fromEntries(url.searchParams);
        const records = this.truth(platform, query);
        return { platform, query, count: records.length, records };
      },
      "/__sim/orders": () => ({ orders: this.upstreams.wechat.orders() }),
      "/__sim/records": post((body) => {
        const records = this.addRecords(body.platform, body.n, body.at);
        return { platform: body.platform, added: records.length, records };
      }),
      "/__sim/config": () => ({ credentials: this.options.credentials, seed: this.options.seed, records: this.options.records, wechatOrders: this.options.wechatOrders, dateRange: this.options.dateRange, typoKeys: this.options.typoKeys, wechatChannels: this.state.faults.wechatChannels }),
      ...Object.fromEntries(
        Object.entries(this.upstreams.wechat_channels.control).map(([path, { method, fn }]) => [
          path,
          method === "GET" ? () => fn() : post((body) => fn(body)),
        ]),
      ),
    };
  }

  async handle(req, res) {
    const url = new URL(req.url, "http://simulator.invalid");
    const route = this.routes.get(url.pathname);
    if (!route) {
      req.resume();
      return sendText(res, 404, "404 Not Found");
    }
    const ctx = { req, res, url, method: req.method, fault: null };
    if (route.control) {
      try {
        sendJson(res, stringifyJson(await route.handler(ctx)));
      } catch (error) {
        if (!(error instanceof ControlError)) throw error;
        req.resume();
        sendJson(res, { error: error.message }, 400);
      }
      return;
    }
    if (!route.endpoint) return route.handler(ctx);

    const account = ENDPOINT_ACCOUNT[route.endpoint];
    const stats = this.state.stats;
    this.count("dataCalls", route.endpoint);
    if (route.endpoint !== account) this.count("dataCalls", account);
    const endpointStats = stats.endpoints[route.endpoint];
    endpointStats.calls += 1;
    const now = Date.now();
    endpointStats.maxInWindow = this.state.meters[route.endpoint].hit(now);
    stats.maxRate[account] = this.state.meters[account].hit(now);
    const inFlight = this.state.inFlight;
    const endpointInFlight = this.state.endpointInFlight;
    inFlight[account] += 1;
    endpointInFlight[route.endpoint] += 1;
    stats.maxInFlight[account] = Math.max(stats.maxInFlight[account], inFlight[account]);
    endpointStats.maxInFlight = Math.max(endpointStats.maxInFlight, endpointInFlight[route.endpoint]);
    try {
      ctx.fault = this.takeInjectedFault(route.endpoint);
      if (ctx.fault?.kind === "serverErrors") {
        this.count("serverErrors", account);
        if (route.readsBodyOnFault) await this.upstreams[account].logFaulted(ctx, ctx.fault.status);
        else req.resume();
        return sendText(res, ctx.fault.status, htmlErrorPage(ctx.fault.status), "text/html; charset=utf-8");
      }
      await route.handler(ctx);
    } finally {
      inFlight[account] -= 1;
      endpointInFlight[route.endpoint] -= 1;
    }
  }
}

/**
 * Starts the simulator on 127.0.0.1. Resolves to
 * { url, port, close(), state, setFaults(f), stats(), truth(platform, query), addRecords(platform, n),
 *   reset(opts), advance(ms), orders(), credentials, simulator }.
 */
export async function startSimulator(options = {}) {
  const simulator = new Simulator(options);
  const server = createServer((req, res) => {
    simulator.handle(req, res).catch((error) => {
      process.stderr.write(`simulator: ${req.method} ${req.url}: ${error.stack ?? error}\n`);
      if (!res.headersSent) sendText(res, error.status ?? 500, "simulator internal error");
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(simulator.options.port, simulator.options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address();
  let closing = null;
  return {
    url: `http://${simulator.options.host}:${port}`,
    port,
    state: simulator.state,
    credentials: simulator.options.credentials,
    simulator,
    setFaults: (faults) => simulator.setFaults(faults),
    stats: () => simulator.stats(),
    truth: (platform, query) => simulator.truth(platform, query),
    addRecords: (platform, n, at) => simulator.addRecords(platform, n, at),
    /** Moves a Xiaoe after-sale on: its new state, updated at `update_time` (unix seconds). */
    touchXiaoe: (aftersaleId, change) => simulator.upstreams.xiaoe.touch(aftersaleId, change),
    reset: (opts) => simulator.reset(opts),
    advance: (ms) => simulator.advance(ms),
    orders: () => simulator.upstreams.wechat.orders(),
    close() {
      simulator.upstreams.wechat_channels.close();
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
