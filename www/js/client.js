// `aftersale/client`: the client of the aftersale proxy (SPEC.md §3), in plain JavaScript.
//
// Why not wasm: a client that only calls the proxy needs validation, URLs, retries and JSON,
// which the host already has. Built as its own wasm (the crate without its parsers, opt-level
// "z", wasm-opt -Oz) it was 91 KiB gzip: serde_json, float formatting, js-sys futures and the
// glue. This file is a few KiB, loads without instantiating anything, and is the one `Client`
// of both entries (`aftersale` re-exports it), so there is one implementation to test.

/** Platforms, statuses and kinds of SPEC.md §2 (www/src/lib.rs's tests check them against the core). */
export const PLATFORMS = Object.freeze(["wechat_shop", "wechat_store", "xiaoe", "lingxing", "wechat_channels"]);
export const STATUSES = Object.freeze([
  "pending", "processing", "awaiting_buyer_return", "awaiting_merchant_receipt", "refunding",
  "awaiting_merchant_shipment", "awaiting_buyer_receipt", "completed", "rejected", "cancelled",
  "closed", "unknown",
]);
export const KINDS = Object.freeze(["refund", "return_refund", "exchange"]);
const DATE_FIELDS = ["created", "updated", "refunded"];
// The platform each order route serves when the caller names none: the first whose upstream
// serves the lookup, as the proxy has it (checked by www/src/lib.rs's tests).
const ORDER_PLATFORM = "wechat_store";
const ORDER_AFTERSALES_PLATFORM = "wechat_shop";

const DEFAULT_MAX_RETRIES = 3;
const MAX_MAX_RETRIES = 10;
const BASE_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 8000;
/** A `Retry-After` longer than this is surfaced as an error rather than slept through. */
const MAX_RETRY_AFTER_MS = 60_000;
const ERROR_CODES = new Set([
  "invalid_request", "unauthorized", "forbidden", "forbidden_origin", "not_found", "rate_limited",
  "upstream_auth", "upstream_error", "upstream_unavailable", "internal",
]);

/**
 * The one error this package throws: `code` of SPEC.md §3, and for proxy answers `status`. Not
 * exported: the wasm normalizers throw the same shape as a plain `Error`, so `isAftersaleError`
 * is the one test that holds for both.
 */
class AftersaleError extends Error {
  constructor(code, message, { status, upstream = null, retryAfter } = {}) {
    super(message);
    this.name = "AftersaleError";
    this.code = code;
    if (status !== undefined) this.status = status;
    this.upstream = upstream;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

/** Whether `value` is an error this package threw (it has a `code` of SPEC.md §3). */
export function isAftersaleError(value) {
  return value instanceof Error && value.name === "AftersaleError" && typeof value.code === "string";
}

const invalid = (message) => new AftersaleError("invalid_request", message);
const internal = (message) => new AftersaleError("internal", message);

function describe(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  const t = typeof v;
  return t === "object" || t === "undefined" ? t : `a ${t}`;
}

/**
 * The caller's options object, checked against the names it may carry (camelCase, with the
 * snake_case aliases the proxy uses) so a misspelt option is an error, not silently ignored.
 */
class Fields {
  static read(value, what, allowed) {
    if (value === undefined || value === null) return null;
    if (typeof value !== "object" || Array.isArray(value)) throw invalid(`${what} must be an object, got ${describe(value)}`);
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) throw invalid(`${what}.${key} is not an option here; expected one of: ${allowed.join(", ")}`);
    }
    return new Fields(value, what);
  }
  constructor(object, what) {
    this.object = object;
    this.what = what;
  }
  get(...keys) {
    for (const k of keys) {
      const v = this.object[k];
      if (v !== undefined && v !== null) return [v, `${this.what}.${k}`];
    }
    return [undefined, undefined];
  }
  string(...keys) {
    const [v, name] = this.get(...keys);
    if (v !== undefined && typeof v !== "string") throw invalid(`${name} must be a string, got ${describe(v)}`);
    return v;
  }
  bool(...keys) {
    const [v, name] = this.get(...keys);
    if (v !== undefined && typeof v !== "boolean") throw invalid(`${name} must be a boolean, got ${describe(v)}`);
    return v;
  }
  number(...keys) {
    const [v, name] = this.get(...keys);
    if (v !== undefined && typeof v !== "number") throw invalid(`${name} must be a number, got ${describe(v)}`);
    return v;
  }
  func(...keys) {
    const [v, name] = this.get(...keys);
    if (v !== undefined && typeof v !== "function") throw invalid(`${name} must be a function, got ${describe(v)}`);
    return v;
  }
  /** A comma-separated string or an array of strings. */
  strings(...keys) {
    const [v, name] = this.get(...keys);
    if (v === undefined) return [];
    let parts;
    if (typeof v === "string") parts = v.split(",").map((p) => p.trim());
    else if (Array.isArray(v)) {
      parts = v.map((item, i) => {
        if (typeof item !== "string") throw invalid(`${name}[${i}] must be a string, got ${describe(item)}`);
        return item;
      });
    } else throw invalid(`${name} must be a string or an array of strings, got ${describe(v)}`);
    return parts.filter((p) => p !== "");
  }
  signal() {
    const [v, name] = this.get("signal");
    if (v !== undefined && !(typeof AbortSignal !== "undefined" && v instanceof AbortSignal)) {
      throw invalid(`${name} must be an AbortSignal, got ${describe(v)}`);
    }
    return v;
  }
}

function platformArg(text, name) {
  if (typeof text !== "string") throw invalid(`${name} must be a string, got ${describe(text)}`);
  if (!PLATFORMS.includes(text)) throw invalid(`${name} ${JSON.stringify(text)} is not a platform; expected one of ${PLATFORMS.join(", ")}`);
  return text;
}

/** `YYYY-MM-DD` naming a real day. */
function isDate(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days[mo - 1];
}

function requiredDate(f, name) {
  const v = f.string(name);
  if (v === undefined) throw invalid(`query.${name} is required (YYYY-MM-DD, China time)`);
  if (!isDate(v)) throw invalid(`query.${name} ${JSON.stringify(v)} is not a date as YYYY-MM-DD`);
  return v;
}

const LIST_KEYS = [
  "platform", "from", "to", "dateField", "date_field", "status", "kind", "orderId", "order_id", "limit",
  "cursor", "includeRaw", "include_raw", "signal", "onProgress", "source", "openid", "q",
];

/**
 * `platform`: one id, `"all"`, or several (an array or a comma-separated string). Several, or
 * `"all"`, are read from the proxy's mirror; so is one with `source: "mirror"`.
 */
function platformsArg(f) {
  const [v, name] = f.get("platform");
  if (v === undefined) throw invalid(`query.platform is required (one of ${PLATFORMS.join(", ")}, "all", or a list)`);
  if (v === "all") return { platform: "all", several: true };
  const list = typeof v === "string" ? v.split(",").map((p) => p.trim()).filter((p) => p !== "") : v;
  if (!Array.isArray(list)) throw invalid(`${name} must be a platform, "all" or a list of platforms, got ${describe(v)}`);
  if (list.length === 0) throw invalid(`${name} names no platform`);
  list.forEach((p, i) => platformArg(p, list.length > 1 || Array.isArray(v) ? `${name}[${i}]` : name));
  return { platform: list.join(","), several: list.length > 1 };
}

/** A list query checked as far as it can be without the proxy: `{ params, signal, onProgress }`. */
function listQuery(value) {
  const f = Fields.read(value, "query", LIST_KEYS);
  if (!f) throw invalid("query is required: { platform, from, to, ... }");
  const { platform, several } = platformsArg(f);
  const source = f.string("source");
  if (source !== undefined && source !== "mirror" && source !== "live") throw invalid(`query.source ${JSON.stringify(source)} is not mirror or live`);
  if (several && source === "live") throw invalid("query.source live serves one platform: several, or all, come from the mirror");
  const mirror = several || source === "mirror";
  for (const key of ["openid", "q"]) {
    if (!mirror && f.get(key)[0] !== undefined) throw invalid(`query.${key} filters the mirror only: add source: "mirror"`);
  }
  // The mirror takes an open range; a live query needs both ends.
  const from = mirror && f.get("from")[0] === undefined ? undefined : requiredDate(f, "from");
  const to = mirror && f.get("to")[0] === undefined ? undefined : requiredDate(f, "to");
  if (from !== undefined && to !== undefined && from >= to) throw invalid(`query.from (${from}) must be before query.to (${to}): the range is half-open [from, to)`);
  const dateField = f.string("dateField", "date_field");
  if (dateField !== undefined && !DATE_FIELDS.includes(dateField)) {
    throw invalid(`query.dateField ${JSON.stringify(dateField)} is not one of ${DATE_FIELDS.join(", ")}`);
  }
  const status = f.strings("status");
  for (const s of status) {
    if (!STATUSES.includes(s)) throw invalid(`query.status ${JSON.stringify(s)} is not a status; expected some of ${STATUSES.join(", ")}`);
  }
  const kind = f.strings("kind");
  for (const k of kind) {
    if (!KINDS.includes(k)) throw invalid(`query.kind ${JSON.stringify(k)} is not a kind; expected some of ${KINDS.join(", ")}`);
  }
  const limit = f.number("limit");
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 100)) {
    throw invalid(`query.limit must be an integer from 1 to 100, got ${limit}`);
  }
  // In the order the proxy documents them; `cursor` is added per page.
  const params = [["platform", platform], ["source", source], ["from", from], ["to", to]];
  params.push(["openid", f.string("openid")], ["q", f.string("q")]);
  if (dateField !== undefined) params.push(["date_field", dateField]);
  if (status.length) params.push(["status", status.join(",")]);
  if (kind.length) params.push(["kind", kind.join(",")]);
  const orderId = f.string("orderId", "order_id");
  if (orderId !== undefined) params.push(["order_id", orderId]);
  if (limit !== undefined) params.push(["limit", String(limit)]);
  const includeRaw = f.bool("includeRaw", "include_raw") ?? false;
  return { params, cursor: f.string("cursor"), includeRaw, signal: f.signal(), onProgress: f.func("onProgress") };
}

/** RFC 3986 unreserved characters only (cursors carry `+/=`), as the core's encoder writes it. */
function percentEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function path(base, params) {
  const query = params.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${percentEncode(v)}`);
  return query.length ? `${base}?${query.join("&")}` : base;
}

function listPath(base, q, cursor) {
  return path(base, [...q.params, ["cursor", cursor ?? q.cursor], ["include_raw", q.includeRaw ? "true" : undefined]]);
}

/** An order id: a string, a bigint, or a safe integer (larger numbers have already lost digits). */
function orderIdArg(value) {
  if (typeof value === "string") {
    if (value === "") throw invalid("orderId must not be empty");
    return value;
  }
  if (typeof value === "bigint") return value.toString(10);
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return String(value);
    throw invalid(`orderId ${value} is not a safe integer: pass order ids as strings, large ones lose digits as numbers`);
  }
  throw invalid(`orderId must be a string, got ${describe(value)}`);
}

/** Whether sending the same request again may succeed: 429 and 5xx but an upstream credentials failure. */
function shouldRetry(status, code) {
  return status === 429 || (status >= 500 && status <= 599 && code !== "upstream_auth");
}

/** Capped exponential backoff with jitter in [0, 1): half to all of the doubled base. */
function backoffMs(retry, jitter) {
  const exp = Math.min(BASE_BACKOFF_MS * 2 ** Math.min(retry, 16), MAX_BACKOFF_MS);
  return exp * (0.5 + Math.min(Math.max(jitter, 0), 1) / 2);
}

/** `Retry-After` in milliseconds (delta-seconds or an HTTP date), or `undefined`. */
function retryAfterMs(value, nowMs) {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(at - nowMs, 0);
}

function codeForStatus(status) {
  if ([400, 405, 409, 413, 414, 422].includes(status)) return "invalid_request";
  return { 401: "unauthorized", 403: "forbidden_origin", 404: "not_found", 410: "not_found", 429: "rate_limited",
    502: "upstream_error", 503: "upstream_unavailable", 504: "upstream_unavailable" }[status] ?? "internal";
}

/** The error a non-2xx answer stands for; `route` has no query, so messages carry no cursor or host. */
function proxyError(route, status, body) {
  let detail;
  try {
    const e = JSON.parse(body)?.error;
    if (e && typeof e.code === "string" && typeof e.message === "string") detail = e;
  } catch {}
  const code = detail && ERROR_CODES.has(detail.code) ? detail.code : codeForStatus(status);
  let said = detail?.message;
  if (said === undefined) {
    const snippet = [...body.trim()].slice(0, 200).join("");
    said = snippet === "" ? "no error body" : `unexpected error body: ${snippet}`;
  }
  const upstream = detail?.upstream && typeof detail.upstream === "object" ? detail.upstream : null;
  return new AftersaleError(code, `proxy answered HTTP ${status} (${code}) to ${route}: ${said}`, { status, upstream });
}

function parseBody(route, body) {
  try {
    return JSON.parse(body);
  } catch (e) {
    throw internal(`proxy answered ${route} with a body that is not the expected JSON: ${e.message}`);
  }
}

function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A page of SPEC.md §3, its shape checked. */
function checkPage(route, body) {
  const page = parseBody(route, body);
  const bad = (what) => internal(`proxy answered ${route} with a body that is not the expected JSON: ${what}`);
  if (!isObject(page) || !Array.isArray(page.data)) throw bad("no `data` array");
  if (page.next_cursor !== undefined && page.next_cursor !== null && typeof page.next_cursor !== "string") throw bad("`next_cursor` is not a string");
  if (page.total !== undefined && page.total !== null && !Number.isInteger(page.total)) throw bad("`total` is not an integer");
  page.data.forEach((r, i) => {
    if (!isObject(r) || typeof r.id !== "string") throw internal(`proxy answered ${route} with record data[${i}] that has no string \`id\``);
  });
  const out = { data: page.data, next_cursor: page.next_cursor ?? null, total: page.total ?? null };
  // A mirror page says so, and when each platform was last synced.
  if (page.source !== undefined) out.source = page.source;
  if (isObject(page.synced_at)) out.synced_at = page.synced_at;
  return out;
}

function describeThrown(e) {
  if (!(e instanceof Error)) return String(e);
  return e.cause instanceof Error ? `${e.name}: ${e.message} (${e.cause.message})` : `${e.name}: ${e.message}`;
}

function aborted(signal) {
  if (signal?.aborted) throw signal.reason;
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms, signal) {
  aborted(signal);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(ms, 0));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A client of the aftersale proxy (SPEC.md §3). */
export class Client {
  #base;
  #apiKey;
  #fetch;
  #maxRetries;

  #session;

  constructor(options) {
    const f = Fields.read(options, "options", ["endpoint", "apiKey", "api_key", "session", "fetch", "maxRetries", "max_retries"]);
    if (!f) throw invalid("new Client(options): options.endpoint is required");
    const endpoint = f.string("endpoint");
    if (endpoint === undefined) throw invalid("options.endpoint is required: the proxy's base URL");
    let url;
    try {
      url = new URL(endpoint);
    } catch {
      throw invalid(`options.endpoint ${JSON.stringify(endpoint)} is not an absolute URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid(`options.endpoint ${JSON.stringify(endpoint)} must be an http(s) URL`);
    if (url.search !== "" || url.hash !== "" || /[?#]/.test(endpoint)) {
      throw invalid(`options.endpoint ${JSON.stringify(endpoint)} must not carry a query or fragment`);
    }
    const apiKey = f.string("apiKey", "api_key");
    // Anything else would make the Authorization header itself throw.
    if (apiKey !== undefined && (apiKey === "" || apiKey.trim() !== apiKey || !/^[\x20-\x7e]+$/.test(apiKey))) {
      throw invalid("options.apiKey must be non-empty printable ASCII without surrounding spaces");
    }
    const session = f.string("session");
    if (session !== undefined && apiKey !== undefined) throw invalid("options.apiKey and options.session exclude each other: a storefront sends its buyer's session, a server its key");
    if (session !== undefined && !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(session)) {
      throw invalid("options.session is not a session token (three Base64url parts, as POST /v1/sessions answers it)");
    }
    const maxRetries = f.number("maxRetries", "max_retries") ?? DEFAULT_MAX_RETRIES;
    if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > MAX_MAX_RETRIES) {
      throw invalid(`options.maxRetries must be an integer from 0 to ${MAX_MAX_RETRIES}, got ${maxRetries}`);
    }
    this.#base = endpoint.replace(/\/+$/, "");
    // A session is sent like a key (SPEC.md §10): the proxy tells them apart.
    this.#apiKey = apiKey ?? session;
    this.#session = session === undefined ? undefined : sessionClaims(session);
    this.#fetch = f.func("fetch");
    this.#maxRetries = maxRetries;
  }

  /** One page: `{ data, next_cursor, total }`. */
  async list(query) {
    const q = listQuery(query);
    const route = "GET /v1/aftersales";
    const body = await this.#get(route, listPath("/v1/aftersales", q), q.signal);
    return checkPage(route, body);
  }

  /**
   * Every record of the query, page after page, each once by `id` (a record that moves between
   * pages while the listing runs is seen once). A cursor given twice ends it with an error.
   */
  async *iterate(query) {
    const q = listQuery(query);
    const route = "GET /v1/aftersales";
    const seenIds = new Set();
    const seenCursors = new Set();
    let cursor;
    let fetched = 0;
    for (;;) {
      const page = checkPage(route, await this.#get(route, listPath("/v1/aftersales", q, cursor), q.signal));
      const fresh = page.data.filter((r) => !seenIds.has(r.id) && seenIds.add(r.id));
      fetched += fresh.length;
      const next = page.next_cursor;
      if (next !== null && seenCursors.has(next)) {
        throw internal(`proxy answered ${route} with a cursor it had already given (${fetched} records in): stopping rather than looping`);
      }
      if (next !== null) seenCursors.add(next);
      q.onProgress?.({ fetched, total: page.total });
      yield* fresh;
      if (next === null) return;
      cursor = next;
    }
  }

  /**
   * Every record of the query through the proxy's export stream (NDJSON). When a run ends with
   * `{"continue":"<cursor>"}` the same route is called again with that cursor, so the caller
   * sees one stream; the last line `{"done":true,"count":N}` is checked against what was read.
   */
  async *export(query) {
    const q = listQuery(query);
    const route = "GET /v1/aftersales/export";
    let cursor;
    let fetched = 0;
    const seenCursors = new Set();
    for (;;) {
      const response = await this.#send(route, listPath("/v1/aftersales/export", q, cursor), q.signal);
      const before = fetched;
      let end;
      for await (const line of lines(response, route, q.signal)) {
        if (end) throw internal(`proxy answered ${route} with a line after its last one`);
        let value;
        try {
          value = JSON.parse(line);
        } catch (e) {
          throw internal(`proxy answered ${route} with line ${fetched + 1} that is not JSON: ${e.message}`);
        }
        if (!isObject(value)) throw internal(`proxy answered ${route} with a line that is not an object`);
        if (typeof value.id === "string") {
          fetched++;
          yield value;
        } else if (value.done === true || typeof value.continue === "string") {
          end = value;
        } else if (isObject(value.error)) {
          // The stream broke off server-side after its 200: the proxy says why in its last line.
          const e = proxyError(route, 200, line);
          e.message = e.message.replace("HTTP 200", "HTTP 200, mid-stream");
          throw e;
        } else {
          throw internal(`proxy answered ${route} with a line that is neither a record nor its end`);
        }
      }
      if (!end) throw new AftersaleError("upstream_unavailable", `proxy's ${route} stream broke off after ${fetched} records, before its last line`);
      if (end.done) {
        q.onProgress?.({ fetched, total: fetched });
        // `count` is this run's or the whole export's: either must match what arrived.
        if (Number.isInteger(end.count) && end.count !== fetched && end.count !== fetched - before) {
          throw internal(`proxy's ${route} stream says it sent ${end.count} records, but ${fetched - before} arrived (${fetched} in all)`);
        }
        return;
      }
      if (seenCursors.has(end.continue)) throw internal(`proxy answered ${route} with a continuation it had already given: stopping rather than looping`);
      seenCursors.add(end.continue);
      q.onProgress?.({ fetched, total: null });
      cursor = end.continue;
    }
  }

  /**
   * Every change of the proxy's mirror after sequence `after` (0: from the start), oldest
   * first, each once: records with `seq` and `change` ("created" | "updated"). Resume with the
   * last `seq` seen to lose and repeat nothing.
   */
  async *changes(options) {
    const f = Fields.read(options ?? {}, "options", ["after", "platform", "limit", "signal", "onProgress"]);
    let after = f.number("after") ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) throw invalid(`options.after must be a sequence number (an integer ≥ 0), got ${after}`);
    const platform = f.get("platform")[0] === undefined ? undefined : platformsArg(f).platform;
    const limit = f.number("limit");
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) throw invalid(`options.limit must be an integer from 1 to 1000, got ${limit}`);
    const signal = f.signal();
    const onProgress = f.func("onProgress");
    const route = "GET /v1/changes";
    let fetched = 0;
    for (;;) {
      const p = path("/v1/changes", [["after", String(after)], ["platform", platform], ["limit", limit === undefined ? undefined : String(limit)]]);
      const page = parseBody(route, await this.#get(route, p, signal));
      if (!isObject(page) || !Array.isArray(page.data) || !Number.isSafeInteger(page.next_after) || typeof page.has_more !== "boolean") {
        throw internal(`proxy answered ${route} with a body that is not the expected JSON: { data, next_after, has_more }`);
      }
      for (const change of page.data) {
        if (!isObject(change) || !Number.isSafeInteger(change.seq) || change.seq <= after) {
          throw internal(`proxy answered ${route} with a change out of sequence (after ${after}): stopping rather than repeating`);
        }
        after = change.seq;
        fetched++;
        yield change;
      }
      onProgress?.({ fetched, lastSeq: after });
      if (!page.has_more) return;
      if (page.data.length === 0) throw internal(`proxy answered ${route} with has_more and no change: stopping rather than looping`);
    }
  }

  /** `GET /v1/summary`: counts and refund totals by platform, status, kind, currency and day. */
  async summary(query) {
    const f = Fields.read(query, "query", ["from", "to", "platform", "dateField", "date_field", "signal"]);
    if (!f) throw invalid("summary(query): query.from and query.to are required");
    const from = requiredDate(f, "from");
    const to = requiredDate(f, "to");
    if (from >= to) throw invalid(`query.from (${from}) must be before query.to (${to}): the range is half-open [from, to)`);
    const platform = f.get("platform")[0] === undefined ? undefined : platformsArg(f).platform;
    const dateField = f.string("dateField", "date_field");
    if (dateField !== undefined && !DATE_FIELDS.includes(dateField)) throw invalid(`query.dateField ${JSON.stringify(dateField)} is not one of ${DATE_FIELDS.join(", ")}`);
    const route = "GET /v1/summary";
    const p = path("/v1/summary", [["from", from], ["to", to], ["platform", platform], ["date_field", dateField]]);
    return dataMember(route, await this.#get(route, p, f.signal()));
  }

  /** `GET /v1/sync/status`: per platform, the mirror's watermark, lag, last run, last error, rows. */
  async syncStatus(options) {
    const f = Fields.read(options ?? {}, "options", ["signal"]);
    const route = "GET /v1/sync/status";
    const body = parseBody(route, await this.#get(route, "/v1/sync/status", f.signal()));
    if (!isObject(body) || !isObject(body.platforms)) throw internal(`proxy answered ${route} with no \`platforms\``);
    return body.platforms;
  }

  /**
   * `POST /v1/sync[?platform=P]`: one sync invocation (the proxy stops within its budget), then
   * `{ done, platforms: { P: { caught_up, pages, records, watermark, busy, error } } }`. Call
   * again until `done`.
   */
  async sync(options) {
    const f = Fields.read(options ?? {}, "options", ["platform", "signal"]);
    const platform = f.get("platform")[0] === undefined ? undefined : platformArg(f.get("platform")[0], "options.platform");
    const route = "POST /v1/sync";
    const p = path("/v1/sync", [["platform", platform]]);
    const body = parseBody(route, await this.#read(route, await this.#send(route, p, f.signal(), { method: "POST" }), f.signal()));
    if (!isObject(body) || typeof body.done !== "boolean" || !isObject(body.platforms)) throw internal(`proxy answered ${route} without \`done\` and \`platforms\``);
    return body;
  }

  /** `GET /v1/orders/{orderId}`: the `Order`. */
  async order(orderId, options) {
    const id = orderIdArg(orderId);
    const f = Fields.read(options, "options", ["platform", "includeRaw", "include_raw", "signal"]);
    const platform = f?.get("platform")[0] !== undefined ? platformArg(f.get("platform")[0], "options.platform") : ORDER_PLATFORM;
    const route = "GET /v1/orders/{order_id}";
    const p = path(`/v1/orders/${percentEncode(id)}`, [["platform", platform], ["include_raw", f?.bool("includeRaw", "include_raw") ? "true" : undefined]]);
    return dataMember(route, await this.#get(route, p, f?.signal()));
  }

  /** `GET /v1/orders/{orderId}/aftersales`: the order's `AfterSale` records. */
  async orderAfterSales(orderId, options) {
    const id = orderIdArg(orderId);
    const f = Fields.read(options, "options", ["platform", "openid", "outOrderId", "out_order_id", "includeRaw", "include_raw", "signal"]);
    if (!f) throw invalid("orderAfterSales(orderId, options): options.openid or options.outOrderId is required");
    const platform = f.get("platform")[0] !== undefined ? platformArg(f.get("platform")[0], "options.platform") : ORDER_AFTERSALES_PLATFORM;
    const openid = f.string("openid");
    const outOrderId = f.string("outOrderId", "out_order_id");
    if (openid === undefined && outOrderId === undefined) {
      throw invalid("orderAfterSales: options.openid (the buyer's openid) or options.outOrderId is required");
    }
    const route = "GET /v1/orders/{order_id}/aftersales";
    const p = path(`/v1/orders/${percentEncode(id)}/aftersales`, [
      ["platform", platform], ["openid", openid], ["out_order_id", outOrderId],
      ["include_raw", f.bool("includeRaw", "include_raw") ? "true" : undefined],
    ]);
    const data = dataMember(route, await this.#get(route, p, f.signal()));
    if (!Array.isArray(data)) throw internal(`proxy answered ${route} with \`data\` that is not an array`);
    return data;
  }

  /**
   * Signs a mini program's buyer in with the code of `wx.login()` (no key: a storefront has
   * none): `{ session, platform, openid, expires_in, expires_at }`. Pass `session` to a new
   * `Client({ endpoint, session })`.
   */
  static async signIn(options) {
    const f = Fields.read(options, "options", ["endpoint", "code", "platform", "ttlS", "ttl_s", "kind", "fetch", "signal"]);
    if (!f) throw invalid("Client.signIn(options): options.endpoint and options.code are required");
    const code = f.string("code");
    if (code === undefined || code === "") throw invalid("options.code is required: the code wx.login() gave");
    const kind = f.string("kind") ?? "wechat";
    if (!/^[a-z_]+$/.test(kind)) throw invalid(`options.kind ${JSON.stringify(kind)} is not a sign-in kind`);
    const platform = f.get("platform")[0] === undefined ? undefined : platformArg(f.get("platform")[0], "options.platform");
    const ttl = f.number("ttlS", "ttl_s");
    // No retry: a login code works once, and a retried request may have spent it.
    const client = new Client({ endpoint: f.string("endpoint"), fetch: f.func("fetch"), maxRetries: 0 });
    const route = `POST /v1/sessions/${kind}`;
    const body = JSON.stringify({ code, ...(platform ? { platform } : {}), ...(ttl === undefined ? {} : { ttl_s: ttl }) });
    const answer = parseBody(route, await client.#read(route, await client.#send(route, `/v1/sessions/${kind}`, f.signal(), { method: "POST", body })));
    if (!isObject(answer) || typeof answer.session !== "string") throw internal(`proxy answered ${route} without a session`);
    return answer;
  }

  /** The session's buyer's after-sales, newest first, one page: `{ data, next_cursor, total }`. */
  async myAfterSales(query) {
    this.#needSession("myAfterSales");
    const f = Fields.read(query ?? {}, "query", ["from", "to", "status", "kind", "orderId", "order_id", "limit", "cursor", "signal"]);
    const params = [];
    for (const name of ["from", "to"]) {
      const v = f.string(name);
      if (v !== undefined && !isDate(v)) throw invalid(`query.${name} ${JSON.stringify(v)} is not a date as YYYY-MM-DD`);
      params.push([name, v]);
    }
    const status = f.strings("status");
    for (const st of status) if (!STATUSES.includes(st)) throw invalid(`query.status ${JSON.stringify(st)} is not a status`);
    const kind = f.strings("kind");
    for (const k of kind) if (!KINDS.includes(k)) throw invalid(`query.kind ${JSON.stringify(k)} is not a kind`);
    if (status.length) params.push(["status", status.join(",")]);
    if (kind.length) params.push(["kind", kind.join(",")]);
    params.push(["order_id", f.string("orderId", "order_id")]);
    const limit = f.number("limit");
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 100)) throw invalid(`query.limit must be an integer from 1 to 100, got ${limit}`);
    params.push(["limit", limit === undefined ? undefined : String(limit)]);
    // A cursor goes alone: it carries the query it came with.
    const cursor = f.string("cursor");
    const route = "GET /v1/me/aftersales";
    const p = cursor === undefined ? path("/v1/me/aftersales", params) : path("/v1/me/aftersales", [["cursor", cursor]]);
    return checkPage(route, await this.#get(route, p, f.signal()));
  }

  /**
   * One of the session's buyer's orders on the session's platform: its after-sales (platforms
   * that look after-sales up by order) or the order itself (the Mini Store). The proxy takes the
   * buyer from the session.
   */
  async myOrder(orderId, options) {
    this.#needSession("myOrder");
    const id = orderIdArg(orderId);
    const f = Fields.read(options ?? {}, "options", ["outOrderId", "out_order_id", "signal"]);
    const platform = this.#session.platform;
    if (platform === ORDER_PLATFORM) {
      const route = "GET /v1/orders/{order_id}";
      return dataMember(route, await this.#get(route, path(`/v1/orders/${percentEncode(id)}`, [["platform", platform]]), f.signal()));
    }
    const route = "GET /v1/orders/{order_id}/aftersales";
    const p = path(`/v1/orders/${percentEncode(id)}/aftersales`, [["platform", platform], ["out_order_id", f.string("outOrderId", "out_order_id")]]);
    return dataMember(route, await this.#get(route, p, f.signal()));
  }

  /** The session's platform and buyer, as its token says (read, not verified: the proxy verifies). */
  get session() {
    return this.#session === undefined ? null : { ...this.#session };
  }

  #needSession(method) {
    if (this.#session === undefined) throw invalid(`${method} reads a buyer session's own records: create the Client with { endpoint, session }`);
  }

  /** The 2xx body's text. */
  async #read(route, response, signal) {
    try {
      return await response.text();
    } catch (e) {
      aborted(signal);
      throw new AftersaleError("upstream_unavailable", `the proxy's answer to ${route} broke off: ${describeThrown(e)}`);
    }
  }

  /** The 2xx body's text. */
  async #get(route, p, signal) {
    const response = await this.#send(route, p, signal);
    try {
      return await response.text();
    } catch (e) {
      aborted(signal);
      throw new AftersaleError("upstream_unavailable", `the proxy's answer to ${route} broke off: ${describeThrown(e)}`);
    }
  }

  /** `GET {endpoint}{p}` until a 2xx answer, retrying 429, 5xx and no answer up to `maxRetries`. */
  async #send(route, p, signal, { method = "GET", body } = {}) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    for (let retry = 0; ; retry++) {
      aborted(signal);
      let error;
      let wait;
      let response;
      try {
        const request = new Request(this.#base + p, { method, headers, body, signal });
        response = await (this.#fetch ?? globalThis.fetch)(request);
      } catch (e) {
        aborted(signal);
        if (typeof (this.#fetch ?? globalThis.fetch) !== "function") {
          throw internal("fetch could not be called (pass `fetch` in the Client options where there is no global one)");
        }
        error = new AftersaleError("upstream_unavailable",
          `could not reach the proxy for ${route} at ${this.#base}: ${describeThrown(e)} (network failure, or the proxy does not allow this origin)`);
        wait = backoffMs(retry, Math.random());
      }
      if (response !== undefined) {
        if (typeof response?.status !== "number" || typeof response.text !== "function") {
          throw internal(`fetch resolved with ${describe(response)}, not a Response`);
        }
        if (response.status >= 200 && response.status < 300) return response;
        let body;
        try {
          body = await response.text();
        } catch (e) {
          aborted(signal);
          body = "";
        }
        error = proxyError(route, response.status, body);
        if (!shouldRetry(response.status, error.code)) throw error;
        const header = response.headers?.get?.("retry-after");
        const asked = header == null ? undefined : retryAfterMs(header, Date.now());
        if (asked !== undefined) {
          error.retryAfter = Math.ceil(asked / 1000);
          if (asked > MAX_RETRY_AFTER_MS) {
            error.message += ` (not retried: Retry-After asks for ${error.retryAfter} s)`;
            throw error;
          }
        }
        wait = asked ?? backoffMs(retry, Math.random());
      }
      if (retry >= this.#maxRetries) {
        if (retry > 0) error.message += ` (gave up after ${retry + 1} attempts)`;
        throw error;
      }
      await sleep(wait, signal);
    }
  }
}

function dataMember(route, body) {
  const parsed = parseBody(route, body);
  if (!isObject(parsed) || !("data" in parsed)) throw internal(`proxy answered ${route} with a body that is not the expected JSON: no \`data\``);
  return parsed.data;
}

/**
 * What a session token says of itself (its payload, read without checking the signature: only
 * the proxy can, and it does on every request): the platform and the buyer.
 */
function sessionClaims(token) {
  let claims;
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
  } catch {
    throw invalid("options.session is not a session token: its payload is not Base64url JSON");
  }
  if (!isObject(claims) || !PLATFORMS.includes(claims.plt) || typeof claims.sub !== "string") {
    throw invalid("options.session is not a session of this proxy: no platform (plt) or buyer (sub)");
  }
  return { platform: claims.plt, buyer: claims.sub, expiresAt: Number.isInteger(claims.exp) ? new Date(claims.exp * 1000).toISOString() : null };
}

/** The non-empty lines of a streamed answer. */
async function* lines(response, route, signal) {
  const decoder = new TextDecoder();
  let rest = "";
  const split = function* (text) {
    rest += text;
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) yield line;
    }
  };
  try {
    if (response.body && typeof response.body.getReader === "function") {
      const reader = response.body.getReader();
      let finished = false;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          yield* split(decoder.decode(value, { stream: true }));
        }
        finished = true;
      } finally {
        // A caller that stops early closes the connection rather than leaving it to drain.
        if (!finished) reader.cancel().catch(() => {});
      }
      yield* split(decoder.decode());
    } else {
      yield* split(await response.text());
    }
  } catch (e) {
    aborted(signal);
    if (isAftersaleError(e)) throw e;
    throw new AftersaleError("upstream_unavailable", `the proxy's answer to ${route} broke off: ${describeThrown(e)}`);
  }
  if (rest.trim()) yield rest.trim();
}
