// The merchant console: plain DOM on top of the npm module's client entry (`aftersale/client`,
// plain JavaScript: the console normalizes nothing itself, so it loads no wasm), which
// scripts/build-console.sh copies beside this file as aftersale/. Every call to the proxy goes
// through the package's `Client` (paging, retries, error shape); the other requests are the
// unauthenticated GET /healthz that says which proxy this is and, in sandbox mode,
// GET /v1/sandbox/orders for the sandbox's date range and example orders. "All platforms" (the
// first view) reads the proxy's mirror: its list, its summary (the chart) and its sync status,
// with a "Sync now" that runs POST /v1/sync until the mirror is caught up. The page never touches
// a record with innerHTML: everything the proxy returns is set as text.
import { Client, isAftersaleError } from "./aftersale/client.js";
import { daysOf, drawStackedBars } from "./chart.js";

// ---------------------------------------------------------------------------------------- constants

const PAGE_SIZE = 50;
const EXPORT_PAGE_SIZE = 100;
/** A page may be empty while more follow (SPEC §3); keep reading up to this many for one view. */
const MAX_EMPTY_HOPS = 10;
const KEY_STORAGE = "aftersale.console.apiKey";
const DATE_PLATFORMS = new Set(["xiaoe", "lingxing", "wechat_channels"]);

const STATUSES = [
  ["pending", "Pending"],
  ["processing", "Processing"],
  ["awaiting_buyer_return", "Awaiting buyer's return"],
  ["awaiting_merchant_receipt", "Awaiting your receipt"],
  ["refunding", "Refunding"],
  ["awaiting_merchant_shipment", "Awaiting your shipment"],
  ["awaiting_buyer_receipt", "Awaiting buyer's receipt"],
  ["completed", "Completed"],
  ["rejected", "Rejected"],
  ["cancelled", "Cancelled"],
  ["closed", "Closed"],
  ["unknown", "Unknown"],
];
const STATUS_LABEL = Object.fromEntries(STATUSES);
const STATUS_ORDER = Object.fromEntries(STATUSES.map(([s], i) => [s, i]));
const ORDER_STATUS_LABEL = {
  unpaid: "Unpaid",
  paid: "Paid",
  awaiting_shipment: "Awaiting shipment",
  partially_shipped: "Partially shipped",
  shipped: "Shipped",
  completed: "Completed",
  cancelled: "Cancelled",
  unknown: "Unknown",
};
const KIND_LABEL = { refund: "Refund only", return_refund: "Return & refund", exchange: "Exchange" };
const PLATFORM_LABEL = {
  xiaoe: "Xiaoe",
  lingxing: "Lingxing",
  wechat_channels: "WeChat Channels",
  wechat_shop: "WeChat Shop",
  wechat_store: "WeChat Store",
};
const DATE_FIELD_LABEL = { created: "Applied", updated: "Updated", refunded: "Refunded" };
const TIME_FIELD = { created: "created_at", updated: "updated_at", refunded: "refunded_at" };
/** Minor-unit digits of the currencies the core knows (src/money.rs); others ask Intl. */
const EXPONENT = { JPY: 0 };
/** Mirror platforms in the order the console shows them (their colors: `.p-<platform>` in console.css). */
const MIRROR_PLATFORMS = Object.keys(PLATFORM_LABEL);
/** The mirror's default range: the last 30 days (China time). */
const MIRROR_DAYS = 30;
/** "Sync now" stops after this many POST /v1/sync invocations even if not done (the cron goes on). */
const MAX_SYNC_RUNS = 60;
const UPSTREAM_SECRETS = {
  xiaoe: "XIAOE_APP_ID, XIAOE_CLIENT_ID and XIAOE_SECRET_KEY",
  lingxing: "LINGXING_APP_ID and LINGXING_APP_SECRET",
  wechat_channels: "WECHAT_CHANNELS_APPID and WECHAT_CHANNELS_SECRET",
  wechat_shop: "WECHAT_APPID and WECHAT_SECRET",
  wechat_store: "WECHAT_APPID and WECHAT_SECRET",
};

// ---------------------------------------------------------------------------------------- DOM helpers

const $ = (id) => document.getElementById(id);

/** `h("td", { class: "num" }, "text", node, ...)`: an element with attributes and children. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const none = (text = "—") => h("span", { class: "none" }, text);

const els = {
  env: $("env"),
  apiKey: $("api-key"),
  keyShow: $("key-show"),
  keyForget: $("key-forget"),
  listForm: $("list-form"),
  from: $("from"),
  until: $("until"),
  dateField: $("date-field"),
  status: $("status"),
  kind: $("kind"),
  q: $("q"),
  mirrorPlatforms: $("mirror-platforms"),
  rangeHelp: $("range-help"),
  orderForm: $("order-form"),
  orderId: $("order-id"),
  outOrderId: $("out-order-id"),
  openid: $("openid"),
  orderHelp: $("order-help"),
  orderExample: $("order-example"),
  fillExample: $("fill-example"),
  error: $("error"),
  results: $("results"),
  title: $("results-title"),
  scope: $("results-scope"),
  exportBtn: $("export"),
  exportPanel: $("export-panel"),
  exportProgress: $("export-progress"),
  exportText: $("export-text"),
  exportCancel: $("export-cancel"),
  exportDone: $("export-done"),
  summary: $("summary"),
  summaryScope: $("summary-scope"),
  summaryList: $("summary-list"),
  orderCard: $("order-card"),
  table: $("table"),
  colTime: $("col-time"),
  colPlatform: $("col-platform"),
  syncedAt: $("synced-at"),
  overview: $("overview"),
  chartScope: $("chart-scope"),
  chartCurrency: $("chart-currency"),
  chartLegend: $("chart-legend"),
  chartCount: $("chart-count"),
  chartRefund: $("chart-refund"),
  chartRefundCaption: $("chart-refund-caption"),
  chartEmpty: $("chart-empty"),
  syncScope: $("sync-scope"),
  syncNow: $("sync-now"),
  syncProgress: $("sync-progress"),
  syncBar: $("sync-bar"),
  syncStop: $("sync-stop"),
  syncText: $("sync-text"),
  syncList: $("sync-list"),
  rows: $("rows"),
  empty: $("empty"),
  loadMore: $("load-more"),
  loadAll: $("load-all"),
  detail: $("detail"),
  detailKicker: $("detail-kicker"),
  detailTitle: $("detail-title"),
  detailBody: $("detail-body"),
  detailClose: $("detail-close"),
};

// ---------------------------------------------------------------------------------------- formatting

/** Minor-unit digits of a currency: the core's table first, then the browser's ISO 4217 data. */
function exponentOf(currency) {
  if (currency in EXPONENT) return EXPONENT[currency];
  try {
    const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    EXPONENT[currency] = digits;
    return digits;
  } catch {
    return 2;
  }
}

/** `123456, "CNY"` → `"1,234.56"`: exact (string arithmetic), grouped, the currency's digits. */
function formatMinor(minor, currency) {
  const exp = exponentOf(currency);
  const negative = minor < 0;
  let digits = String(Math.abs(Math.trunc(minor)));
  let frac = "";
  if (exp > 0) {
    digits = digits.padStart(exp + 1, "0");
    frac = "." + digits.slice(-exp);
    digits = digits.slice(0, -exp);
  }
  return (negative ? "−" : "") + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + frac;
}

function moneyEl(money, { cls = "" } = {}) {
  if (!money) return none();
  return h(
    "span",
    { class: `money ${money.minor === 0 ? "zero" : ""} ${cls}`, title: `${money.currency} ${money.decimal} (as given)` },
    h("span", { class: "cur" }, money.currency),
    h("span", { class: "amt" }, formatMinor(money.minor, money.currency)),
  );
}

/** `"2025-11-30T23:28:02+08:00"` → `{ date: "2025-11-30", time: "23:28", zone: "+08:00" }`, as given. */
function splitTime(ts) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(ts ?? "");
  return m ? { date: m[1], time: m[2], seconds: m[3] ?? "", zone: m[4] ?? "" } : null;
}

function timeEl(ts) {
  const t = splitTime(ts);
  if (!t) return ts ? h("span", { class: "time" }, ts) : none();
  return h("span", { class: "time", title: ts }, t.date, h("span", { class: "t" }, t.time));
}

function fullTime(ts) {
  const t = splitTime(ts);
  if (!t) return ts ?? null;
  return `${t.date} ${t.time}${t.seconds} ${t.zone ? `(UTC${t.zone === "Z" ? "" : t.zone})` : "(no zone given)"}`;
}

function statusBadge(status, overdue = false) {
  const badge = h("span", { class: `badge s-${status}` }, STATUS_LABEL[status] ?? status);
  return overdue ? [badge, h("span", { class: "tag overdue", title: "The platform says you are overdue" }, "Overdue")] : [badge];
}

function orderStatusBadge(status) {
  return h("span", { class: `badge o-${status}` }, ORDER_STATUS_LABEL[status] ?? status);
}

const plural = (n, one, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

function itemsText(items) {
  return (items ?? []).map((i) => `${i.name ?? i.product_id ?? "item"} ×${i.quantity ?? "?"}`).join("; ");
}

function buyerText(buyer) {
  return buyer?.nickname || buyer?.user_id || buyer?.openid || "";
}

// ---------------------------------------------------------------------------------------- dates

const DAY_MS = 86_400_000;
const isDate = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s ?? "") && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));
function addDays(day, n) {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}
/** Today in China time, the calendar the proxy's dates are in. */
function chinaToday() {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------- state

const state = {
  health: null,
  /** In sandbox mode, what GET /v1/sandbox/orders answered: { range: {from, to}, orders: [...] }. */
  sandbox: null,
  /** Why the last loadSandbox() gave nothing. */
  sandboxError: null,
  platform: "all",
  /**
   * The query on screen: { platform, from, to, dateField, status[], kind[] } (to: exclusive); a
   * mirror query also has mirror: true, platforms[] (empty: all) and q.
   */
  query: null,
  /** What the table shows: "list" (by date), "shop" (wechat_shop lookup), "store" (wechat_store order). */
  mode: "list",
  records: [],
  byId: new Map(),
  nextCursor: null,
  total: null,
  /** Bumped by every new view; an answer for an older view is dropped. */
  generation: 0,
  listAbort: null,
  loadingAll: false,
  exportAbort: null,
  exportUrl: null,
  order: null,
  clientKey: undefined,
  client: null,
  retryTimer: null,
  /** The last load of this view failed: its numbers are not the range's. */
  failed: false,
  /** A mirror page's `synced_at`: per platform, the watermark of its last sync. */
  syncedAt: null,
  /** GET /v1/summary for the mirror view's range, and the range it is for. */
  summary: null,
  summaryFor: null,
  /** GET /v1/sync/status's platforms; null until read. */
  syncStatus: null,
  syncAbort: null,
  overviewGeneration: 0,
};

const isMirror = () => state.mode === "list" && state.query?.mirror === true;

function client() {
  const key = els.apiKey.value.trim();
  if (state.client === null || state.clientKey !== key) {
    state.client = new Client(key ? { endpoint: location.origin, apiKey: key } : { endpoint: location.origin });
    state.clientKey = key;
  }
  return state.client;
}

const isAbort = (e) => e?.name === "AbortError" || e?.name === "TimeoutError";

// ---------------------------------------------------------------------------------------- errors

function hintFor(error) {
  const platform = error.upstream?.platform ?? state.platform;
  switch (error.code) {
    case "unauthorized":
      return els.apiKey.value.trim()
        ? "The proxy refused this API key: check it against the Worker's CLIENT_KEYS."
        : "Enter an API key (one of the Worker's CLIENT_KEYS) in the API key field at the top.";
    case "forbidden_origin":
      return "Open the console from the Worker's own address, or add this page's origin to the Worker's ALLOWED_ORIGINS.";
    case "invalid_request":
      if (/not configured/.test(error.message)) return "Set the named variables on the Worker (wrangler secret put …), then try again.";
      if (error.status === undefined) return "Check the form: the message names the field at fault.";
      return "Check the query: the message names the parameter at fault.";
    case "not_found":
      return state.platform === "wechat_shop"
        ? "Check the order id and the buyer's openid: WeChat finds an order only with its own buyer."
        : "Check the order id.";
    case "rate_limited":
      return null; // the countdown says it
    case "upstream_auth":
      return `Check the Worker's upstream credentials for ${PLATFORM_LABEL[platform] ?? platform} (${UPSTREAM_SECRETS[platform] ?? "its secrets"}).`;
    case "upstream_error":
      return "The platform answered with an error (below). Check the query against its rules, or retry later.";
    case "upstream_unavailable":
      return "The platform or the proxy did not answer. Check the connection and try again in a moment.";
    case "internal":
      return "The proxy failed unexpectedly. Try again; if it persists, check the Worker's logs.";
    default:
      return null;
  }
}

function showError(error, context) {
  clearInterval(state.retryTimer);
  const known = isAftersaleError(error);
  const code = known ? error.code : "unexpected";
  const title = known ? (error.status ? `HTTP ${error.status}` : "Not sent") : "Unexpected error";
  const hint = known ? hintFor(error) : "Reload the page; if it persists, this is a bug in the console.";
  const hintEl = h("p", { class: "alert-hint" }, hint);
  if (known && error.code === "rate_limited") {
    let left = Math.max(1, Math.ceil(Number(error.retryAfter) || 60));
    const tick = () => {
      hintEl.textContent = left > 0 ? `Rate limited: wait ${left} s, then try again.` : "You can try again now.";
      if (left-- <= 0) clearInterval(state.retryTimer);
    };
    tick();
    state.retryTimer = setInterval(tick, 1000);
  }
  const upstream = known && error.upstream
    ? h("p", { class: "alert-upstream" }, `Upstream ${PLATFORM_LABEL[error.upstream.platform] ?? error.upstream.platform} said: `,
        h("code", {}, error.upstream.code), ` ${error.upstream.message}`)
    : null;
  els.error.replaceChildren();
  append(els.error, [
    alertIcon(),
    h("p", { class: "alert-title" }, h("code", {}, code), `${context} failed · ${title}`),
    h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: clearError }, "Dismiss"),
    h("p", { class: "alert-message" }, known ? error.message : String(error?.message ?? error)),
    hintEl,
    upstream,
  ]);
  els.error.dataset.code = code;
  els.error.hidden = false;
  if (!known) console.error(error);
}

function clearError() {
  clearInterval(state.retryTimer);
  els.error.hidden = true;
  els.error.replaceChildren();
  delete els.error.dataset.code;
}

function alertIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 20 20");
  svg.setAttribute("class", "alert-icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M10 2.5 18 17H2L10 2.5Zm0 5v4.5m0 2.5v.5");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.7");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

// ---------------------------------------------------------------------------------------- proxy health

async function checkHealth() {
  try {
    const res = await fetch("/healthz", { headers: { accept: "application/json" } });
    const body = await res.json();
    state.health = body;
    const pills = [];
    if (body.sandbox) {
      pills.push(h("span", { class: "pill sandbox", title: "Every platform is served by the Worker's built-in deterministic simulator" }, "Sandbox"));
    } else {
      pills.push(h("span", { class: "pill live" }, "Live upstreams"));
    }
    els.env.replaceChildren(...pills, h("span", {}, `proxy ${location.host} · v${body.version}`));
  } catch {
    state.health = null;
    els.env.replaceChildren(h("span", { class: "pill down" }, "Proxy unreachable"), h("span", {}, location.host));
  }
}

/**
 * The sandbox's date range (it ends today) and example WeChat orders, from the proxy itself, so
 * the page never carries a copy. Sends the API key when one is set (the route needs it when the
 * proxy has CLIENT_KEYS). Returns null, keeping the reason, when the proxy does not give them.
 */
async function loadSandbox() {
  const key = els.apiKey.value.trim();
  try {
    const res = await fetch("/v1/sandbox/orders", {
      headers: { accept: "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    });
    const body = await res.json();
    if (!res.ok) throw Object.assign(new Error(body?.error?.message ?? `HTTP ${res.status}`), { name: "AftersaleError", code: body?.error?.code ?? "internal", status: res.status, upstream: null });
    if (!isDate(body?.range?.from) || !isDate(body?.range?.to) || !Array.isArray(body.orders)) throw new Error("GET /v1/sandbox/orders answered an unexpected shape");
    state.sandbox = body;
    state.sandboxError = null;
  } catch (e) {
    state.sandbox = null;
    state.sandboxError = e;
  }
  return state.sandbox;
}

// ---------------------------------------------------------------------------------------- the form

function selectedPlatform() {
  return document.querySelector('input[name="platform"]:checked')?.value ?? "xiaoe";
}

function setPlatform(platform) {
  const input = document.querySelector(`input[name="platform"][value="${platform}"]`);
  if (input) input.checked = true;
  state.platform = platform;
  const byDate = DATE_PLATFORMS.has(platform) || platform === "all";
  els.listForm.hidden = !byDate;
  els.orderForm.hidden = byDate;
  for (const el of els.listForm.querySelectorAll('[data-for="all"]')) el.hidden = platform !== "all";
  els.overview.hidden = platform !== "all";
  for (const el of els.orderForm.querySelectorAll('[data-for="wechat_shop"]')) el.hidden = platform !== "wechat_shop";
  els.orderId.required = platform === "wechat_store";
  els.orderHelp.textContent =
    platform === "wechat_shop"
      ? "WeChat's transaction component lists after-sales per order and buyer: give the order id (or your own order id) and the buyer's openid."
      : platform === "wechat_store"
        ? "The WeChat Mini Store order, with its items, payment, delivery and after-sale ids."
        : "";
  els.orderExample.hidden = !(state.health?.sandbox && !byDate);
}

function readListForm() {
  const from = els.from.value;
  const until = els.until.value;
  for (const [input, ok] of [[els.from, isDate(from)], [els.until, isDate(until)]]) {
    input.setAttribute("aria-invalid", String(!ok));
  }
  if (!isDate(from) || !isDate(until)) {
    throw Object.assign(new Error("Enter both dates of the range (YYYY-MM-DD)."), { name: "AftersaleError", code: "invalid_request", upstream: null });
  }
  if (until < from) {
    els.until.setAttribute("aria-invalid", "true");
    throw Object.assign(new Error(`"To" (${until}) is before "From" (${from}).`), { name: "AftersaleError", code: "invalid_request", upstream: null });
  }
  const query = {
    platform: selectedPlatform(),
    from,
    to: addDays(until, 1), // the proxy's range is half-open; the form's "To" day is included
    dateField: els.dateField.value,
    status: els.status.value ? els.status.value.split(",") : [],
    kind: els.kind.value ? els.kind.value.split(",") : [],
  };
  if (query.platform !== "all") return query;
  const ticked = checkedPlatforms();
  if (ticked.length === 0) {
    throw Object.assign(new Error("Tick at least one platform under Platforms."), { name: "AftersaleError", code: "invalid_request", upstream: null });
  }
  return { ...query, mirror: true, platforms: ticked.length === MIRROR_PLATFORMS.length ? [] : ticked, q: els.q.value.trim() };
}

function checkedPlatforms() {
  return [...els.mirrorPlatforms.querySelectorAll("input:checked")].map((i) => i.value);
}

/** The `platform` of a mirror query: "all", or the ticked platforms. */
const mirrorPlatform = (q) => (q.platforms.length ? q.platforms : "all");

/** The `Client.list`/`iterate` query of a view (without paging options). */
function apiQuery(q) {
  if (q.mirror) {
    // One platform would be read live without `source`; the mirror's default date is
    // `updated`, the form's `created`: always say both.
    const out = { platform: mirrorPlatform(q), source: "mirror", from: q.from, to: q.to, dateField: q.dateField };
    if (q.status.length) out.status = q.status;
    if (q.kind.length) out.kind = q.kind;
    if (q.q) out.q = q.q;
    return out;
  }
  const out = { platform: q.platform, from: q.from, to: q.to };
  if (q.dateField && q.dateField !== "created") out.dateField = q.dateField;
  if (q.status.length) out.status = q.status;
  if (q.kind.length) out.kind = q.kind;
  return out;
}

/** Keeps the view in the address bar (never the API key), so a reload or a link shows it again. */
function syncUrl() {
  const p = new URLSearchParams();
  p.set("platform", state.platform);
  if ((DATE_PLATFORMS.has(state.platform) || state.platform === "all") && state.query) {
    if (state.query.mirror) {
      if (state.query.platforms.length) p.set("platforms", state.query.platforms.join(","));
      if (state.query.q) p.set("q", state.query.q);
    }
    p.set("from", state.query.from);
    p.set("to", state.query.to);
    if (state.query.dateField !== "created") p.set("date_field", state.query.dateField);
    if (state.query.status.length) p.set("status", state.query.status.join(","));
    if (state.query.kind.length) p.set("kind", state.query.kind.join(","));
  } else {
    for (const [k, el] of [["order_id", els.orderId], ["out_order_id", els.outOrderId], ["openid", els.openid]]) {
      if (el.value.trim() && !(k !== "order_id" && state.platform === "wechat_store")) p.set(k, el.value.trim());
    }
  }
  history.replaceState(null, "", `${location.pathname}?${p}`);
}

function selectValue(select, value) {
  if ([...select.options].some((o) => o.value === value)) select.value = value;
}

function restoreFromUrl() {
  const p = new URLSearchParams(location.search);
  const platform = PLATFORM_LABEL[p.get("platform")] ? p.get("platform") : "all";
  let from = p.get("from");
  let to = p.get("to");
  if (!isDate(from) || !isDate(to) || to <= from) {
    if (platform === "all") {
      to = addDays(chinaToday(), 1);
      from = addDays(to, -MIRROR_DAYS);
    } else if (state.sandbox) {
      ({ from, to } = state.sandbox.range);
    } else {
      to = addDays(chinaToday(), 1);
      from = addDays(to, -30);
    }
  }
  els.from.value = from;
  els.until.value = addDays(to, -1);
  selectValue(els.dateField, p.get("date_field") ?? "created");
  selectValue(els.status, p.get("status") ?? "");
  selectValue(els.kind, p.get("kind") ?? "");
  els.orderId.value = p.get("order_id") ?? "";
  els.outOrderId.value = p.get("out_order_id") ?? "";
  els.openid.value = p.get("openid") ?? "";
  els.q.value = p.get("q") ?? "";
  const only = (p.get("platforms") ?? "").split(",").filter((x) => MIRROR_PLATFORMS.includes(x));
  for (const box of els.mirrorPlatforms.querySelectorAll("input")) box.checked = only.length === 0 || only.includes(box.value);
  els.rangeHelp.textContent = platform === "all"
    ? "Dates are China time. The mirror holds what its sync has brought in: see Mirror sync below."
    : state.sandbox
    ? `Sandbox data lies between ${state.sandbox.range.from} and ${addDays(state.sandbox.range.to, -1)} (China time). A range is at most 366 days.`
    : "Dates are China time. A range is at most 366 days.";
  setPlatform(platform);
  return platform;
}

// ---------------------------------------------------------------------------------------- listing

function resetView(mode) {
  state.generation += 1;
  state.listAbort?.abort();
  state.listAbort = new AbortController();
  state.mode = mode;
  state.records = [];
  state.byId = new Map();
  state.nextCursor = null;
  state.total = null;
  state.order = null;
  state.loadingAll = false;
  state.failed = false;
  state.syncedAt = null;
  if (!state.exportAbort) els.exportPanel.hidden = true; // the last export's note belongs to the last view
  clearError();
  return { generation: state.generation, signal: state.listAbort.signal };
}

function addRecords(records) {
  let added = 0;
  for (const r of records) {
    if (state.byId.has(r.id)) continue;
    state.byId.set(r.id, r);
    state.records.push(r);
    added += 1;
  }
  return added;
}

async function runList() {
  let query;
  try {
    query = readListForm();
  } catch (e) {
    showError(e, "Listing");
    return;
  }
  const view = resetView("list");
  state.query = query;
  syncUrl();
  renderAll({ loading: true });
  // The chart and the sync panel load beside the list, each showing its own errors.
  const overview = query.mirror ? loadOverview(query) : null;
  try {
    await fetchPages(view, { all: false });
  } catch (e) {
    if (view.generation !== state.generation || isAbort(e)) return;
    state.failed = true;
    showError(e, query.mirror ? "Listing the mirror" : "Listing");
  }
  if (view.generation === state.generation) renderAll();
  await overview;
}

/** Reads the next page(s) of the view: one non-empty page, or every page when `all`. */
async function fetchPages(view, { all }) {
  let empty = 0;
  do {
    const page = await client().list({
      ...apiQuery(state.query),
      limit: PAGE_SIZE,
      // The mirror keeps normalized records only (and refuses include_raw).
      ...(state.query.mirror ? {} : { includeRaw: true }),
      ...(state.nextCursor ? { cursor: state.nextCursor } : {}),
      signal: view.signal,
    });
    if (view.generation !== state.generation) return;
    const added = addRecords(page.data);
    state.nextCursor = page.next_cursor;
    if (page.total !== null && page.total !== undefined) state.total = page.total;
    if (page.synced_at) state.syncedAt = page.synced_at;
    empty = added === 0 ? empty + 1 : 0;
    if (all) renderAll({ loadingMore: true });
  } while (state.nextCursor && (all ? state.loadingAll : empty > 0 && empty < MAX_EMPTY_HOPS));
}

async function loadMore(all) {
  if (!state.nextCursor || state.mode !== "list") return;
  const view = { generation: state.generation, signal: state.listAbort.signal };
  state.loadingAll = all;
  renderAll({ loadingMore: true });
  try {
    await fetchPages(view, { all });
  } catch (e) {
    if (view.generation !== state.generation || isAbort(e)) return;
    showError(e, "Loading more");
  } finally {
    if (view.generation === state.generation) {
      state.loadingAll = false;
      renderAll();
    }
  }
}

// ---------------------------------------------------------------------------------------- the mirror: chart and sync

/** The chart's and the sync panel's data for a mirror query; each panel shows its own errors. */
async function loadOverview(query) {
  const generation = ++state.overviewGeneration;
  await Promise.all([loadSummary(query, generation), loadSyncStatus()]);
}

async function loadSummary(query, generation = state.overviewGeneration) {
  const panel = $("chart-panel");
  panel.setAttribute("aria-busy", "true");
  const range = { from: query.from, to: query.to, platform: mirrorPlatform(query), dateField: query.dateField };
  try {
    const summary = await client().summary(range);
    if (generation !== state.overviewGeneration) return;
    state.summary = summary;
    state.summaryFor = range;
    renderChart();
  } catch (e) {
    if (generation !== state.overviewGeneration || isAbort(e)) return;
    state.summary = null;
    renderChart(e);
  } finally {
    if (generation === state.overviewGeneration) panel.setAttribute("aria-busy", "false");
  }
}

/**
 * The summary's `by_day_platform` as chart series: per platform, after-sales per day (all
 * currencies together: counts add up) and refunds per day in each currency apart.
 */
function chartSeries(rows) {
  const byPlatform = new Map();
  const currencies = new Map(); // currency → after-sales with a refund in it
  for (const row of rows ?? []) {
    let p = byPlatform.get(row.platform);
    if (!p) byPlatform.set(row.platform, (p = { count: new Map(), refund: new Map(), total: 0, refunds: new Map() }));
    p.count.set(row.day, (p.count.get(row.day) ?? 0) + row.count);
    p.total += row.count;
    if (row.refund) {
      const { currency, minor } = row.refund;
      if (!p.refund.has(currency)) p.refund.set(currency, new Map());
      p.refund.get(currency).set(row.day, (p.refund.get(currency).get(row.day) ?? 0) + minor);
      p.refunds.set(currency, (p.refunds.get(currency) ?? 0) + minor);
      currencies.set(currency, (currencies.get(currency) ?? 0) + row.count);
    }
  }
  const platforms = [...byPlatform.keys()].sort((a, b) => platformOrder(a) - platformOrder(b));
  return { byPlatform, platforms, currencies: [...currencies].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c]) => c) };
}

function renderChart(error) {
  const summary = state.summary;
  const range = state.summaryFor;
  if (error || !summary || !range) {
    els.chartLegend.replaceChildren();
    els.chartCount.replaceChildren();
    els.chartRefund.replaceChildren();
    els.chartCurrency.replaceChildren();
    els.chartScope.textContent = "";
    els.chartEmpty.hidden = false;
    els.chartEmpty.className = "empty chart-error";
    els.chartEmpty.textContent = error
      ? `The chart's summary failed: ${error.message}. ${isAftersaleError(error) ? hintFor(error) ?? "" : "Reload the page."}`
      : "";
    return;
  }
  const { byPlatform, platforms, currencies } = chartSeries(summary.by_day_platform);
  const previous = els.chartCurrency.value;
  els.chartCurrency.replaceChildren(...currencies.map((c) => h("option", { value: c }, c)));
  els.chartCurrency.value = currencies.includes(previous) ? previous : currencies[0] ?? "";
  els.chartCurrency.disabled = currencies.length < 2;
  const currency = els.chartCurrency.value;
  const days = daysOf(range.from, range.to);
  const total = platforms.reduce((n, p) => n + byPlatform.get(p).total, 0);
  els.chartScope.textContent = `${plural(total, "after-sale")} · ${range.from} – ${addDays(range.to, -1)} · by ${DATE_FIELD_LABEL[range.dateField].toLowerCase()} date`;
  els.chartLegend.replaceChildren(...platforms.map((p) => {
    const s = byPlatform.get(p);
    return h("li", { dataset: { platform: p, count: s.total } },
      h("span", { class: `swatch p-${p}` }),
      h("b", {}, PLATFORM_LABEL[p] ?? p), ` ${s.total.toLocaleString("en")}`,
      currency && s.refunds.has(currency) ? h("span", { class: "muted" }, ` · ${currency} ${formatMinor(s.refunds.get(currency), currency)}`) : null);
  }));
  els.chartEmpty.className = "empty";
  els.chartEmpty.hidden = total > 0;
  els.chartEmpty.textContent = chartEmptyText();
  const width = (box) => Math.max(200, Math.floor(box.clientWidth || box.parentElement.clientWidth || 600));
  const name = (p) => PLATFORM_LABEL[p] ?? p;
  drawStackedBars(els.chartCount, {
    days,
    width: width(els.chartCount),
    label: `After-sales per day by platform, ${range.from} to ${addDays(range.to, -1)}`,
    series: platforms.map((p) => ({ key: p, label: name(p), cls: `p-${p}`, values: byPlatform.get(p).count })),
    tick: (v) => v.toLocaleString("en"),
    title: (d, s, v) => `${d} · ${s.label}: ${plural(v, "after-sale")}`,
  });
  els.chartRefundCaption.textContent = currency ? `Refunds in ${currency}` : "Refunds";
  if (!currency) {
    els.chartRefund.replaceChildren(h("p", { class: "note" }, "No refund amounts in this range."));
    return;
  }
  const unit = 10 ** exponentOf(currency);
  drawStackedBars(els.chartRefund, {
    days,
    unit,
    width: width(els.chartRefund),
    label: `Refunds in ${currency} per day by platform`,
    series: platforms
      .filter((p) => byPlatform.get(p).refund.has(currency))
      .map((p) => ({ key: p, label: name(p), cls: `p-${p}`, values: byPlatform.get(p).refund.get(currency) })),
    tick: (v) => formatMinor(v, currency).replace(/\.0+$/, ""),
    title: (d, s, v) => `${d} · ${s.label}: ${currency} ${formatMinor(v, currency)}`,
  });
  els.chartRefund.dataset.currency = currency;
}

function chartEmptyText() {
  return mirrorIsEmpty()
    ? "Nothing to chart: the mirror is empty. Press Sync now to fill it."
    : "No after-sales in the mirror in this range. Widen the range, or press Sync now to bring in the latest.";
}

/** The notes of an empty table and chart depend on the sync status, which may arrive after them. */
function renderEmptyNotes() {
  if (isMirror()) els.empty.textContent = emptyText();
  if (state.summary && !els.chartEmpty.classList.contains("chart-error")) els.chartEmpty.textContent = chartEmptyText();
}

/** True once the sync status says no platform has a row (a fresh database: press Sync now). */
function mirrorIsEmpty() {
  const status = state.syncStatus;
  return status !== null && Object.values(status).every((s) => !s.rows);
}

async function loadSyncStatus() {
  const panel = $("sync-panel");
  panel.setAttribute("aria-busy", "true");
  try {
    state.syncStatus = await client().syncStatus();
    renderSync();
    renderEmptyNotes();
  } catch (e) {
    if (isAbort(e)) return;
    renderSync(e);
  } finally {
    panel.setAttribute("aria-busy", "false");
  }
}

/** `742` → `"12 min"`: how far behind, roughly. */
function lagText(s) {
  if (s === null || s === undefined) return null;
  if (s < 90) return `${Math.max(0, Math.round(s))} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function syncState(s) {
  if (s.in_progress) return ["running", "Catching up"];
  if (s.last_error) return ["error", "Error"];
  if (!s.last_run) return ["never", "Never synced"];
  return ["ok", "Synced"];
}

function renderSync(error) {
  if (error) {
    els.syncScope.textContent = "";
    els.syncList.replaceChildren(h("li", { class: "sync-error", dataset: { state: "error" } },
      h("p", {}, h("code", {}, isAftersaleError(error) ? error.code : "unexpected"), ` Reading the sync status failed: ${error.message}`),
      h("p", { class: "alert-hint" }, (isAftersaleError(error) && hintFor(error)) || "Reload the page; check the Worker's D1 binding (DB) and its migrations.")));
    return;
  }
  const entries = Object.entries(state.syncStatus ?? {}).sort(([a], [b]) => platformOrder(a) - platformOrder(b));
  const rows = entries.reduce((n, [, s]) => n + (s.rows ?? 0), 0);
  els.syncScope.textContent = entries.length
    ? `${plural(entries.length, "platform")} · ${plural(rows, "row")} in the mirror`
    : "No platform is synced: the proxy has none configured with a list by date.";
  els.syncList.replaceChildren(...entries.map(([platform, s]) => {
    const [st, label] = syncState(s);
    return h("li", {
      class: `sync-item st-${st}`,
      dataset: {
        platform,
        state: st,
        rows: s.rows ?? 0,
        watermark: s.watermark ?? "",
        lastRun: s.last_run ?? "",
        lagS: s.lag_s ?? "",
        inProgress: String(Boolean(s.in_progress)),
        error: s.last_error ?? "",
      },
    },
      h("div", { class: "sync-top" },
        h("span", { class: `swatch p-${platform}` }),
        h("b", {}, PLATFORM_LABEL[platform] ?? platform),
        h("span", { class: `badge sync-badge st-${st}` }, label)),
      facts([
        ["Last sync", s.last_run ? h("span", { title: s.last_run }, shortTime(s.last_run)) : null],
        ["Synced to", s.watermark ? h("span", { title: s.watermark }, shortTime(s.watermark)) : null],
        ["Lag", lagText(s.lag_s)],
        ["Rows", (s.rows ?? 0).toLocaleString("en")],
      ]),
      s.last_error ? h("p", { class: "sync-last-error" }, h("b", {}, "Last error: "), s.last_error) : null,
    );
  }));
}

/**
 * "Sync now": POST /v1/sync until it answers `done` (each invocation stops within the proxy's
 * budget and the next goes on), refreshing the status after each; then the list and the chart.
 * Stops when a run makes no progress (every platform left failed or busy) and says why.
 */
async function runSync() {
  if (state.syncAbort) return;
  const controller = new AbortController();
  state.syncAbort = controller;
  els.syncNow.disabled = true;
  els.syncNow.textContent = "Syncing…";
  els.syncProgress.hidden = false;
  els.syncProgress.dataset.state = "running";
  els.syncStop.hidden = false;
  els.syncStop.disabled = false;
  els.syncBar.removeAttribute("value");
  const records = new Map();
  let runs = 0;
  let outcome = "stopped";
  let last = null;
  const say = (text) => {
    els.syncText.textContent = text;
  };
  say("Starting…");
  try {
    while (runs < MAX_SYNC_RUNS) {
      const answer = await client().sync({ signal: controller.signal });
      runs += 1;
      last = answer;
      const entries = Object.entries(answer.platforms);
      let moved = false;
      for (const [p, r] of entries) {
        records.set(p, (records.get(p) ?? 0) + (r.records ?? 0));
        if (r.pages > 0) moved = true;
      }
      const caught = entries.filter(([, r]) => r.caught_up).length;
      els.syncBar.max = Math.max(entries.length, 1);
      els.syncBar.value = caught;
      const got = [...records.values()].reduce((a, b) => a + b, 0);
      say(`Run ${runs}: ${caught} of ${plural(entries.length, "platform")} caught up · ${plural(got, "record")} read`);
      await loadSyncStatus();
      if (answer.done) {
        outcome = "done";
        break;
      }
      if (!moved && entries.every(([, r]) => r.busy)) {
        await sleepMs(2000, controller.signal); // another run holds the leases: wait for it
      } else if (!moved) {
        outcome = "stuck";
        break;
      }
    }
  } catch (e) {
    if (isAbort(e) || controller.signal.aborted) outcome = "cancelled";
    else {
      outcome = "failed";
      showError(e, "Sync");
    }
  } finally {
    state.syncAbort = null;
    els.syncNow.disabled = false;
    els.syncNow.textContent = "Sync now";
    els.syncStop.hidden = true;
  }
  const got = [...records.values()].reduce((a, b) => a + b, 0);
  const failedOnes = Object.entries(last?.platforms ?? {}).filter(([, r]) => r.error).map(([p, r]) => `${PLATFORM_LABEL[p] ?? p}: ${r.error}`);
  const texts = {
    done: `Sync finished: every platform caught up (${plural(got, "record")} read in ${plural(runs, "run")}).`,
    stopped: `Stopped after ${plural(runs, "run")} (${plural(got, "record")} read): not caught up yet. Press Sync now again, or let the cron go on.`,
    stuck: `Sync made no progress: ${failedOnes.join("; ") || "no platform moved"}. Check the platform's credentials, then press Sync now again.`,
    cancelled: `Sync stopped after ${plural(runs, "run")} (${plural(got, "record")} read); the next run goes on from there.`,
    failed: "Sync failed: see the error above.",
  };
  say(texts[outcome]);
  els.syncProgress.dataset.state = outcome;
  els.syncProgress.dataset.runs = String(runs);
  els.syncProgress.dataset.records = String(got);
  if (outcome === "done") els.syncBar.value = els.syncBar.max;
  await loadSyncStatus();
  if (isMirror()) await runList(); // what the sync brought in
}

function sleepMs(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

// ---------------------------------------------------------------------------------------- order lookups

/** Calls `call(withRaw)` asking for raw records; falls back when this package has no such option. */
async function withRawIfSupported(call) {
  try {
    return { value: await call(true), raw: true };
  } catch (e) {
    if (isAftersaleError(e) && e.code === "invalid_request" && e.status === undefined && /includeRaw/.test(e.message)) {
      return { value: await call(false), raw: false };
    }
    throw e;
  }
}

async function runOrderLookup() {
  const platform = state.platform;
  const orderId = els.orderId.value.trim();
  const outOrderId = els.outOrderId.value.trim();
  const openid = els.openid.value.trim();
  els.orderId.setAttribute("aria-invalid", "false");
  els.openid.setAttribute("aria-invalid", "false");
  const formError = (input, message) => {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    showError(Object.assign(new Error(message), { name: "AftersaleError", code: "invalid_request", upstream: null }), "Lookup");
  };
  if (platform === "wechat_store" && !orderId) return formError(els.orderId, "Enter the order id.");
  if (platform === "wechat_shop") {
    if (!orderId && !outOrderId) return formError(els.orderId, "Enter the order id, or your own order id (out_order_id).");
    if (!openid) return formError(els.openid, "Enter the buyer's openid: WeChat looks after-sales up per buyer.");
  }
  const view = resetView(platform === "wechat_shop" ? "shop" : "store");
  state.query = null;
  syncUrl();
  renderAll({ loading: true });
  try {
    if (platform === "wechat_shop") {
      const options = { openid, ...(outOrderId ? { outOrderId } : {}), signal: view.signal };
      const { value } = await withRawIfSupported((raw) =>
        client().orderAfterSales(orderId || "-", raw ? { ...options, includeRaw: true } : options),
      );
      if (view.generation !== state.generation) return;
      addRecords(value);
    } else {
      const options = { signal: view.signal };
      const { value } = await withRawIfSupported((raw) => client().order(orderId, raw ? { ...options, includeRaw: true } : options));
      if (view.generation !== state.generation) return;
      state.order = value;
    }
  } catch (e) {
    if (view.generation !== state.generation || isAbort(e)) return;
    state.failed = true;
    showError(e, "Lookup");
  }
  if (view.generation === state.generation) renderAll();
}

// ---------------------------------------------------------------------------------------- rendering

function renderAll({ loading = false, loadingMore = false } = {}) {
  renderHead(loading);
  renderSummary();
  renderOrderCard();
  renderRows(loading);
  const listing = state.mode === "list";
  els.loadMore.hidden = !(listing && state.nextCursor) || loading;
  els.loadAll.hidden = els.loadMore.hidden;
  els.loadMore.disabled = loadingMore;
  els.loadMore.textContent = loadingMore && !state.loadingAll ? "Loading…" : "Load more";
  els.loadAll.textContent = state.loadingAll ? `Stop (${plural(state.records.length, "loaded", "loaded")})` : "Load all";
  els.loadAll.disabled = loadingMore && !state.loadingAll;
  els.exportBtn.disabled = state.exportAbort !== null || loading || state.mode === "store" || (state.mode !== "list" && state.records.length === 0);
  els.table.setAttribute("aria-busy", String(loading || loadingMore));
}

function renderHead(loading) {
  const q = state.query;
  if (state.mode === "list" && q) {
    const where = q.mirror
      ? q.platforms.length ? q.platforms.map((x) => PLATFORM_LABEL[x]).join(" + ") : "All platforms"
      : PLATFORM_LABEL[q.platform];
    const parts = [where, `${q.from} – ${addDays(q.to, -1)}`];
    if (q.dateField !== "created") parts.push(`by ${DATE_FIELD_LABEL[q.dateField].toLowerCase()} date`);
    if (q.status.length) parts.push(q.status.length === 1 ? STATUS_LABEL[q.status[0]] : els.status.selectedOptions[0]?.textContent);
    if (q.kind.length) parts.push(KIND_LABEL[q.kind[0]]);
    if (q.q) parts.push(`“${q.q}”`);
    els.title.textContent = `After-sales · ${parts.join(" · ")}`;
  } else if (state.mode === "shop") {
    els.title.textContent = `After-sales of WeChat order ${els.orderId.value.trim() || els.outOrderId.value.trim()}`;
  } else if (state.mode === "store") {
    els.title.textContent = `WeChat Store order ${els.orderId.value.trim()}`;
  }
  let scope = "";
  const n = state.records.length;
  if (loading) scope = "Loading…";
  else if (state.failed && n === 0) scope = "Nothing loaded: see the error above.";
  else if (state.mode === "list") {
    if (!state.nextCursor) scope = `${plural(n, "after-sale")} in this range`;
    else if (state.total !== null) scope = `${n.toLocaleString("en")} of ${plural(state.total, "after-sale")} loaded`;
    else scope = `${plural(n, "after-sale")} loaded · more in this range`;
  } else if (state.mode === "shop") scope = `${plural(n, "after-sale")} on this order`;
  els.scope.textContent = scope;
  els.colTime.textContent = DATE_FIELD_LABEL[state.query?.dateField ?? "created"];
  renderSyncedAt();
}

/** A mirror page's `synced_at`: how far each platform's rows are up to date. */
function renderSyncedAt() {
  const synced = isMirror() ? state.syncedAt : null;
  els.syncedAt.hidden = !synced;
  if (!synced) return;
  const entries = Object.entries(synced).sort(([a], [b]) => platformOrder(a) - platformOrder(b));
  els.syncedAt.replaceChildren(
    "Synced to: ",
    ...entries.flatMap(([platform, at], i) => [
      i ? " · " : "",
      h("span", { dataset: { platform, synced: at ?? "" }, title: at ?? "never synced" },
        `${PLATFORM_LABEL[platform] ?? platform} `, at ? shortTime(at) : none("never")),
    ]),
  );
}

const platformOrder = (p) => (MIRROR_PLATFORMS.includes(p) ? MIRROR_PLATFORMS.indexOf(p) : 99);

/** `"2026-12-01T17:32:05+08:00"` → `"12-01 17:32"`, as given. */
function shortTime(ts) {
  const t = splitTime(ts);
  return t ? `${t.date.slice(5)} ${t.time}` : ts;
}

function summarize(records) {
  const rows = new Map();
  const currencies = new Set();
  const total = { count: 0, sums: new Map() };
  for (const r of records) {
    let row = rows.get(r.status);
    if (!row) rows.set(r.status, (row = { count: 0, sums: new Map(), overdue: 0 }));
    row.count += 1;
    total.count += 1;
    if (r.overdue) row.overdue += 1;
    if (r.refund) {
      currencies.add(r.refund.currency);
      for (const target of [row, total]) target.sums.set(r.refund.currency, (target.sums.get(r.refund.currency) ?? 0) + r.refund.minor);
    }
  }
  const ordered = [...rows].sort(([a], [b]) => (STATUS_ORDER[a] ?? 99) - (STATUS_ORDER[b] ?? 99));
  return { rows: ordered, currencies: [...currencies].sort(), total };
}

function renderSummary() {
  // The mirror view has its chart (the database's numbers) instead of a summary of loaded rows.
  if (state.records.length === 0 || state.mode === "store" || isMirror()) {
    els.summary.hidden = true;
    return;
  }
  const { rows, currencies, total } = summarize(state.records);
  const complete = state.mode !== "list" || !state.nextCursor;
  els.summaryScope.replaceChildren(
    complete
      ? `Count and refund total per status, all ${plural(total.count, "after-sale")}`
      : `Count and refund total per status, of the ${plural(total.count, "loaded after-sale")} only. `,
    complete ? "" : h("button", { type: "button", class: "btn-link", onclick: () => els.loadAll.click() }, "Load all"),
    complete ? "" : " for the whole range.",
  );
  const tile = (label, row, status) =>
    h("li", { class: `tile ${status ? "" : "tile-total"}`, dataset: status ? { status } : { status: "all" } },
      h("div", { class: "tile-top" }, label),
      h("div", { class: "tile-body" },
        h("span", { class: "tile-count", "data-count": row.count, title: "After-sales" }, row.count.toLocaleString("en")),
        h("div", { class: "tile-money", title: "Refund total" },
          currencies.filter((c) => row.sums.has(c)).map((c) =>
            h("div", { class: `money ${row.sums.get(c) === 0 ? "zero" : ""}`, dataset: { currency: c, minor: row.sums.get(c) } },
              h("span", { class: "cur" }, c), h("span", { class: "amt" }, formatMinor(row.sums.get(c), c)))),
          row.sums.size === 0 ? none("no amount") : null,
        ),
      ),
      row.overdue ? h("div", { class: "tile-note" }, `${row.overdue.toLocaleString("en")} overdue`) : null,
    );
  els.summaryList.replaceChildren(
    tile(h("span", { class: "tile-label" }, "All statuses"), total, null),
    ...rows.map(([status, row]) => tile(statusBadge(status), row, status)),
  );
  els.summary.hidden = false;
}

function renderRows(loading) {
  const timeField = TIME_FIELD[state.query?.dateField ?? "created"];
  const mirror = isMirror();
  els.colPlatform.hidden = !mirror;
  if (loading) {
    els.rows.replaceChildren(h("tr", { class: "loading" }, h("td", { colspan: mirror ? 8 : 7 }, "Loading after-sales…")));
    els.empty.hidden = true;
    els.table.hidden = state.mode === "store";
    return;
  }
  const rows = state.records.map((r) =>
    h("tr", { tabindex: 0, dataset: { id: r.id, status: r.status, kind: r.kind }, "aria-label": `${KIND_LABEL[r.kind]} ${r.aftersale_id}, ${STATUS_LABEL[r.status] ?? r.status}: open details` },
      h("td", { class: "c-time" }, timeEl(r[timeField] ?? r.created_at)),
      mirror ? h("td", { class: "c-platform", "data-label": "Platform" }, h("span", { class: `tag plat p-${r.platform}` }, PLATFORM_LABEL[r.platform] ?? r.platform)) : null,
      h("td", { class: "c-order order-cell", "data-label": "Order" },
        r.order_id ? h("span", { class: "order-id", title: r.order_id }, r.order_id) : none(),
        r.out_order_id ? h("span", { class: "sub", title: `Your order id: ${r.out_order_id}` }, r.out_order_id) : null,
      ),
      h("td", { class: "c-kind", "data-label": "Kind" }, KIND_LABEL[r.kind] ?? r.kind),
      h("td", { class: "c-status" }, statusBadge(r.status, r.overdue)),
      h("td", { class: "c-refund num" },
        moneyEl(r.refund),
        r.requested && r.refund && r.requested.minor !== r.refund.minor
          ? h("span", { class: "sub", title: "What the buyer asked for" }, `requested ${formatMinor(r.requested.minor, r.requested.currency)}`)
          : null,
      ),
      h("td", { class: "c-items items-cell" }, itemsCell(r.items)),
      h("td", { class: "c-buyer buyer-cell", "data-label": "Buyer", title: buyerText(r.buyer) }, buyerText(r.buyer) || none()),
    ),
  );
  els.rows.replaceChildren(...rows);
  const empty = state.records.length === 0 && state.mode !== "store";
  els.empty.hidden = !empty || !els.error.hidden;
  els.empty.textContent = emptyText();
  els.table.hidden = state.mode === "store" || empty;
}

function emptyText() {
  if (isMirror()) {
    return mirrorIsEmpty()
      ? "The mirror is empty: press Sync now (Mirror sync, above) to bring in every platform's after-sales."
      : "No after-sales in the mirror match these filters. Widen the range or the filters, or press Sync now to bring in the latest.";
  }
  return state.mode === "list" ? "No after-sales match these filters in this range." : "No after-sales on this order.";
}

function itemsCell(items) {
  if (!items?.length) return none();
  const [first, ...rest] = items;
  return [
    h("span", { class: "name", title: itemsText(items) },
      first.name ?? first.product_id ?? "item",
      " ", h("span", { class: "qty" }, `×${first.quantity ?? "?"}`)),
    rest.length ? h("span", { class: "sub" }, `+ ${plural(rest.length, "more item")}`) : null,
  ];
}

function renderOrderCard() {
  const o = state.order;
  if (state.mode !== "store" || !o) {
    els.orderCard.hidden = true;
    els.orderCard.replaceChildren();
    return;
  }
  const openid = o.buyer?.openid;
  els.orderCard.replaceChildren(
    h("div", { class: "row" },
      orderStatusBadge(o.status),
      h("span", { class: "mono" }, o.order_id),
      o.out_order_id ? h("span", { class: "muted" }, `your id ${o.out_order_id}`) : null,
      h("span", { class: "muted" }, `placed ${fullTime(o.created_at) ?? "—"}`),
    ),
    h("div", { class: "amounts" },
      amountBox("Order total", o.price?.order_price),
      amountBox("Products", o.price?.product_price),
      amountBox("Freight", o.price?.freight),
    ),
    itemsTable(o.items, true),
    h("div", { class: "row" },
      h("span", {}, o.aftersale_ids?.length ? `After-sales: ${o.aftersale_ids.join(", ")}` : "No after-sales on this order."),
    ),
    h("div", { class: "row" },
      h("button", { type: "button", class: "btn", onclick: () => openDetail(o, "order") }, "Full record and raw order"),
      openid && o.aftersale_ids?.length
        ? h("button", {
            type: "button",
            class: "btn",
            onclick: () => {
              els.openid.value = openid;
              setPlatform("wechat_shop");
              runOrderLookup();
            },
          }, "Show its after-sales (WeChat Shop)")
        : null,
    ),
  );
  els.orderCard.hidden = false;
}

function amountBox(label, money) {
  return h("div", { class: "amount" },
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, money ? moneyEl(money) : none()),
    money ? h("div", { class: "exact" }, `${money.currency} ${money.decimal} · ${money.minor} minor`) : null,
  );
}

function itemsTable(items, orderItems = false) {
  if (!items?.length) return h("p", { class: "note" }, "No items.");
  return h("div", { class: "table-scroll" }, h("table", { class: "items" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Item"),
      h("th", { scope: "col", class: "num" }, "Qty"),
      h("th", { scope: "col", class: "num" }, "Unit price"),
      orderItems ? h("th", { scope: "col", class: "num", title: "In after-sale / finished after-sale" }, "After-sale") : null,
    )),
    h("tbody", {}, items.map((i) => h("tr", {},
      h("td", {},
        h("div", {}, i.name ?? none()),
        h("div", { class: "sub" }, [i.sku_info, i.product_id && `product ${i.product_id}`, i.sku_id && `sku ${i.sku_id}`].filter(Boolean).join(" · ")),
      ),
      h("td", { class: "num" }, i.quantity ?? "—"),
      h("td", { class: "num" }, moneyEl(i.unit_price)),
      orderItems ? h("td", { class: "num" }, `${i.on_aftersale_quantity ?? 0} / ${i.finished_aftersale_quantity ?? 0}`) : null,
    ))),
  ));
}

// ---------------------------------------------------------------------------------------- detail panel

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null || v === "" ? none() : v)]));
}

function jsonBlock(value, label) {
  const text = JSON.stringify(value, null, 2);
  const pre = h("pre", { class: "json", tabindex: 0, "aria-label": label }, text);
  const copy = h("button", {
    type: "button",
    class: "btn btn-ghost btn-sm",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Copy failed";
      }
      setTimeout(() => (copy.textContent = "Copy JSON"), 1500);
    },
  }, "Copy JSON");
  return { pre, copy };
}

function openDetail(record, kind = "aftersale") {
  const body = [];
  if (kind === "aftersale") {
    const r = record;
    els.detailKicker.replaceChildren(
      h("span", {}, `${PLATFORM_LABEL[r.platform] ?? r.platform} · ${KIND_LABEL[r.kind] ?? r.kind}`),
      ...statusBadge(r.status, r.overdue),
    );
    els.detailTitle.textContent = r.aftersale_id;
    body.push(
      h("section", {}, h("h3", {}, "Amounts"), h("div", { class: "amounts" }, amountBox("Refund", r.refund), amountBox("Requested", r.requested))),
      h("section", {}, h("h3", {}, "After-sale"), facts([
        ["Id", h("span", { class: "mono" }, r.id)],
        ["Status", [...statusBadge(r.status, r.overdue), h("span", { class: "muted" }, `  upstream status ${JSON.stringify(r.status_raw)}`)]],
        ["Order", r.order_id && h("span", { class: "mono" }, r.order_id)],
        ["Your order id", r.out_order_id && h("span", { class: "mono" }, r.out_order_id)],
        ["Exchange order", r.exchange_order_id],
        ["Reason", r.reason],
        ["Buyer's note", r.buyer_note],
        ["Your note", r.merchant_note],
      ])),
      h("section", {}, h("h3", {}, "Times"), facts([
        ["Applied", fullTime(r.created_at)],
        ["Updated", fullTime(r.updated_at)],
        ["Refunded", fullTime(r.refunded_at)],
      ])),
      h("section", {}, h("h3", {}, "Buyer and return"), facts([
        ["Nickname", r.buyer?.nickname],
        ["User id", r.buyer?.user_id && h("span", { class: "mono" }, r.buyer.user_id)],
        ["Openid", r.buyer?.openid && h("span", { class: "mono" }, r.buyer.openid)],
        ["Return carrier", r.return_logistics?.carrier ?? null],
        ["Return waybill", r.return_logistics?.waybill_id ? h("span", { class: "mono" }, r.return_logistics.waybill_id) : null],
      ])),
      h("section", {}, h("h3", {}, `Items (${r.items?.length ?? 0})`), itemsTable(r.items)),
    );
  } else {
    const o = record;
    els.detailKicker.replaceChildren(h("span", {}, "WeChat Store order"), orderStatusBadge(o.status));
    els.detailTitle.textContent = o.order_id;
    body.push(
      h("section", {}, h("h3", {}, "Order"), facts([
        ["Id", h("span", { class: "mono" }, o.id)],
        ["Status", [orderStatusBadge(o.status), h("span", { class: "muted" }, `  upstream status ${JSON.stringify(o.status_raw)}`)]],
        ["Your order id", o.out_order_id],
        ["Placed", fullTime(o.created_at)],
        ["Updated", fullTime(o.updated_at)],
        ["Paid", fullTime(o.payment?.paid_at ?? null)],
        ["Payment", o.payment?.method ?? null],
        ["Transaction", o.payment?.transaction_id ?? null],
        ["Delivery", [o.delivery?.method, o.delivery?.carrier, o.delivery?.waybill_id].filter(Boolean).join(" · ") || null],
        ["After-sales", o.aftersale_ids?.join(", ") || null],
      ])),
      h("section", {}, h("h3", {}, `Items (${o.items?.length ?? 0})`), itemsTable(o.items, true)),
    );
  }
  const { raw, ...normalized } = record;
  if (raw !== undefined) {
    const block = jsonBlock(raw, "Raw upstream record");
    body.push(h("section", { class: "raw", "aria-labelledby": "raw-title" },
      h("h3", { id: "raw-title" }, "Raw upstream record", block.copy), block.pre));
  } else {
    body.push(h("section", { class: "raw" }, h("h3", {}, "Raw upstream record"),
      h("p", { class: "note" }, isMirror()
        ? "The mirror keeps the normalized record only: the platform's own view (above) shows its raw record."
        : "Not available for this lookup: this version of the aftersale package cannot ask the proxy for it here.")));
  }
  const full = jsonBlock(normalized, "Normalized record");
  body.push(h("section", {}, h("details", { class: "full" }, h("summary", {}, "Normalized record (JSON)"), full.pre, full.copy)));
  els.detailBody.replaceChildren(...body);
  els.detailBody.scrollTop = 0;
  if (!els.detail.open) els.detail.showModal();
  els.detailClose.focus();
}

// ---------------------------------------------------------------------------------------- CSV export

const CSV_COLUMNS = [
  ["id", (r) => r.id],
  ["platform", (r) => r.platform],
  ["aftersale_id", (r) => r.aftersale_id],
  ["order_id", (r) => r.order_id],
  ["out_order_id", (r) => r.out_order_id],
  ["kind", (r) => r.kind],
  ["status", (r) => r.status],
  ["overdue", (r) => (r.overdue ? "true" : "false")],
  ["status_raw", (r) => (r.status_raw === null || r.status_raw === undefined ? null : String(r.status_raw))],
  ["refund_currency", (r) => r.refund?.currency],
  ["refund_amount", (r) => r.refund?.decimal, "number"],
  ["refund_minor", (r) => r.refund?.minor, "number"],
  ["requested_currency", (r) => r.requested?.currency],
  ["requested_amount", (r) => r.requested?.decimal, "number"],
  ["requested_minor", (r) => r.requested?.minor, "number"],
  ["item_count", (r) => (r.items ?? []).reduce((n, i) => n + (i.quantity ?? 0), 0), "number"],
  ["items", (r) => itemsText(r.items)],
  ["reason", (r) => r.reason],
  ["buyer_note", (r) => r.buyer_note],
  ["merchant_note", (r) => r.merchant_note],
  ["buyer_nickname", (r) => r.buyer?.nickname],
  ["buyer_user_id", (r) => r.buyer?.user_id],
  ["buyer_openid", (r) => r.buyer?.openid],
  ["return_carrier", (r) => r.return_logistics?.carrier],
  ["return_waybill_id", (r) => r.return_logistics?.waybill_id],
  ["exchange_order_id", (r) => r.exchange_order_id],
  ["created_at", (r) => r.created_at],
  ["updated_at", (r) => r.updated_at],
  ["refunded_at", (r) => r.refunded_at],
];

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote, line break or edge space. Text
 * that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`.
 */
function csvField(value, type) {
  if (value === null || value === undefined) return "";
  let s = String(value);
  if (type !== "number" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const csvRow = (r) => CSV_COLUMNS.map(([, get, type]) => csvField(get(r), type)).join(",");
const CSV_HEADER = CSV_COLUMNS.map(([name]) => name).join(",");

function csvName() {
  const q = state.query;
  if (state.mode !== "list" || !q) {
    return `aftersales_${state.platform}_order_${(els.orderId.value.trim() || els.outOrderId.value.trim()).replace(/[^\w.-]+/g, "_")}.csv`;
  }
  const where = q.mirror ? (q.platforms.length ? q.platforms.join("+") : "all") : q.platform;
  const parts = ["aftersales", where, q.from, addDays(q.to, -1)];
  if (q.dateField !== "created") parts.push(q.dateField);
  if (q.status.length) parts.push(q.status.length === 1 ? q.status[0] : `${q.status.length}-statuses`);
  if (q.kind.length) parts.push(q.kind.join("+"));
  if (q.q) parts.push(q.q.replace(/[^\w.-]+/g, "-").slice(0, 40));
  return `${parts.join("_")}.csv`;
}

function saveCsv(lines, count) {
  // UTF-8 with a BOM, CRLF line ends: what Excel needs to read Chinese text and rows right.
  const blob = new Blob(["\uFEFF", lines.join("\r\n"), "\r\n"], { type: "text/csv;charset=utf-8" });
  if (state.exportUrl) URL.revokeObjectURL(state.exportUrl);
  state.exportUrl = URL.createObjectURL(blob);
  const name = csvName();
  const link = h("a", { href: state.exportUrl, download: name }, name);
  link.dataset.rows = String(count);
  document.body.append(link);
  link.click();
  link.remove();
  els.exportDone.className = "export-done ok";
  els.exportDone.replaceChildren(
    h("strong", {}, "Saved. "),
    `Exported ${plural(count, "after-sale")} to `,
    h("a", { href: state.exportUrl, download: name, id: "export-link", dataset: { rows: String(count) } }, name),
    ` (${(blob.size / 1024).toFixed(blob.size < 10240 ? 1 : 0)} KB).`,
  );
  els.exportDone.hidden = false;
}

function setProgress(fetched, total) {
  if (total === null || total === undefined) {
    els.exportProgress.removeAttribute("value");
    els.exportProgress.removeAttribute("max");
    els.exportText.textContent = `Fetched ${fetched.toLocaleString("en")} · total unknown`;
  } else {
    els.exportProgress.max = Math.max(total, 1);
    els.exportProgress.value = Math.min(fetched, total);
    els.exportText.textContent = `Fetched ${fetched.toLocaleString("en")} of ${total.toLocaleString("en")}`;
  }
  els.exportProgress.setAttribute("aria-valuetext", els.exportText.textContent);
}

async function runExport() {
  if (state.exportAbort) return;
  clearError();
  els.exportPanel.hidden = false;
  els.exportDone.hidden = true;
  if (state.mode !== "list") {
    // An order lookup is already whole: export what is on screen.
    saveCsv([CSV_HEADER, ...state.records.map(csvRow)], state.records.length);
    els.exportPanel.querySelector(".export-row").hidden = true;
    return;
  }
  const query = state.query;
  const controller = new AbortController();
  state.exportAbort = controller;
  els.exportPanel.querySelector(".export-row").hidden = false;
  els.exportCancel.hidden = false;
  els.exportCancel.disabled = false;
  els.exportBtn.disabled = true;
  setProgress(0, null);
  els.exportText.textContent = "Starting…";
  const lines = [CSV_HEADER];
  let count = 0;
  try {
    const records = client().iterate({
      ...apiQuery(query),
      limit: EXPORT_PAGE_SIZE,
      signal: controller.signal,
      onProgress: ({ fetched, total }) => setProgress(fetched, total),
    });
    for await (const record of records) {
      lines.push(csvRow(record));
      count += 1;
    }
    setProgress(count, count);
    saveCsv(lines, count);
  } catch (e) {
    if (isAbort(e) || controller.signal.aborted) {
      els.exportDone.className = "export-done";
      els.exportDone.textContent = `Export cancelled after ${plural(count, "after-sale")}; no file was saved.`;
      els.exportDone.hidden = false;
    } else {
      showError(e, "Export");
      els.exportDone.className = "export-done";
      els.exportDone.textContent = `Export stopped after ${plural(count, "after-sale")}; no file was saved.`;
      els.exportDone.hidden = false;
    }
  } finally {
    state.exportAbort = null;
    els.exportCancel.hidden = true;
    renderAll();
    els.exportBtn.focus();
  }
}

// ---------------------------------------------------------------------------------------- events

function wire() {
  els.status.querySelector("#status-options").append(...STATUSES.map(([v, label]) => h("option", { value: v }, label)));
  els.mirrorPlatforms.append(...MIRROR_PLATFORMS.map((p) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: p, checked: true }),
      h("span", { class: `swatch p-${p}` }), PLATFORM_LABEL[p])));
  els.mirrorPlatforms.addEventListener("change", () => runList());
  els.chartCurrency.addEventListener("change", () => renderChart());
  els.syncNow.addEventListener("click", runSync);
  els.syncStop.addEventListener("click", () => {
    els.syncStop.disabled = true;
    els.syncText.textContent = "Stopping after the run in flight…";
    state.syncAbort?.abort();
  });
  // The chart is drawn at its box's width: redraw when that changes.
  let lastWidth = 0;
  new ResizeObserver(([entry]) => {
    const width = Math.round(entry.contentRect.width);
    if (width !== lastWidth && state.summary && !els.overview.hidden) {
      lastWidth = width;
      renderChart();
    }
  }).observe(els.chartCount);

  els.apiKey.value = localStorage.getItem(KEY_STORAGE) ?? "";
  els.apiKey.addEventListener("input", () => {
    const key = els.apiKey.value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  });
  els.apiKey.addEventListener("change", () => {
    if (els.error.dataset.code === "unauthorized") rerun();
  });
  els.keyShow.addEventListener("click", () => {
    const show = els.apiKey.type === "password";
    els.apiKey.type = show ? "text" : "password";
    els.keyShow.textContent = show ? "Hide" : "Show";
    els.keyShow.setAttribute("aria-pressed", String(show));
  });
  els.keyForget.addEventListener("click", () => {
    els.apiKey.value = "";
    localStorage.removeItem(KEY_STORAGE);
    els.apiKey.focus();
  });

  for (const radio of document.querySelectorAll('input[name="platform"]')) {
    radio.addEventListener("change", () => {
      setPlatform(radio.value);
      if (radio.value === "all" && state.query && !state.query.mirror) {
        // Back from a live view: the mirror's own default range.
        els.from.value = addDays(chinaToday(), 1 - MIRROR_DAYS);
        els.until.value = chinaToday();
      }
      if (DATE_PLATFORMS.has(radio.value) || radio.value === "all") runList();
      else {
        resetView(radio.value === "wechat_shop" ? "shop" : "store");
        syncUrl();
        renderAll();
        els.scope.textContent = "Look an order up above.";
      }
    });
  }
  els.listForm.addEventListener("submit", (e) => {
    e.preventDefault();
    runList();
  });
  for (const select of [els.dateField, els.status, els.kind]) select.addEventListener("change", () => runList());
  els.orderForm.addEventListener("submit", (e) => {
    e.preventDefault();
    runOrderLookup();
  });
  els.fillExample.addEventListener("click", async () => {
    const sandbox = state.sandbox ?? (await loadSandbox());
    // Orders with after-sales show something on both WeChat platforms.
    const examples = (sandbox?.orders ?? []).filter((o) => o.aftersales > 0);
    if (examples.length === 0) {
      showError(state.sandboxError ?? new Error("The sandbox listed no example orders."), "Loading the sandbox's example orders");
      return;
    }
    const example = examples[Math.floor(Math.random() * examples.length)];
    els.orderId.value = example.order_id;
    els.outOrderId.value = "";
    els.openid.value = example.openid;
    els.orderId.focus();
  });

  els.loadMore.addEventListener("click", () => loadMore(false));
  els.loadAll.addEventListener("click", () => {
    if (state.loadingAll) state.loadingAll = false; // the loop stops after the page in flight
    else loadMore(true);
  });

  const openRow = (tr) => {
    const record = state.byId.get(tr?.dataset.id);
    if (record) openDetail(record);
  };
  els.rows.addEventListener("click", (e) => {
    if (window.getSelection()?.toString()) return; // selecting text is not a click
    openRow(e.target.closest("tr[data-id]"));
  });
  els.rows.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target.matches("tr[data-id]")) {
      e.preventDefault();
      openRow(e.target);
    }
  });
  els.detailClose.addEventListener("click", () => els.detail.close());
  els.detail.addEventListener("click", (e) => {
    if (e.target === els.detail) els.detail.close(); // the backdrop
  });

  els.exportBtn.addEventListener("click", runExport);
  els.exportCancel.addEventListener("click", () => {
    els.exportCancel.disabled = true;
    els.exportText.textContent = "Cancelling…";
    state.exportAbort?.abort();
  });
}

function rerun() {
  if (DATE_PLATFORMS.has(state.platform) || state.platform === "all") runList();
  else if (els.orderId.value.trim() || els.outOrderId.value.trim()) runOrderLookup();
}

async function start() {
  wire();
  await checkHealth();
  if (state.health?.sandbox) await loadSandbox();
  const platform = restoreFromUrl();
  if (DATE_PLATFORMS.has(platform) || platform === "all") await runList();
  else if (els.orderId.value.trim() || els.outOrderId.value.trim()) await runOrderLookup();
  else {
    resetView(platform === "wechat_shop" ? "shop" : "store");
    renderAll();
    els.scope.textContent = "Look an order up above.";
  }
  document.documentElement.dataset.ready = "true";
}

start();
