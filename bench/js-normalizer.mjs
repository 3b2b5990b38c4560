// A plain-JavaScript normalizer, written for the benchmark from SPEC.md §2 and the seed
// documents: what a competent JS developer would write instead of using the wasm module.
// JSON.parse, map each record into the model, JSON.stringify. It does the same checking the
// model's values need (times are validated, Lingxing amounts are split, their currency resolved
// from the symbol and the marketplace, rounded half-even to minor units; unknown kinds and
// missing ids are errors) but none of the core's extra tolerance: keys are read as documented,
// folded only where the seeds spell them wrongly (WeChat's "aftersale_Infos ", "product_Infos "),
// and documentation-style JSON is not repaired. bench/node-normalize.mjs checks that its output is
// identical to the wasm module's on every benchmark input before it times anything.

export class NormalizeError extends Error {
  constructor(message) {
    super(message);
    this.name = "NormalizeError";
  }
}

const fail = (platform, index, field, value, why) => {
  throw new NormalizeError(`${platform} record ${index}: ${field} ${JSON.stringify(value)}: ${why}`);
};

// ---------------------------------------------------------------- shared conversions

/** Non-blank text (ids may come as numbers), else null. */
function text(v) {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v.trim() === "" ? null : v;
  if (typeof v === "number" && Number.isInteger(v)) return String(v);
  throw new NormalizeError(`expected a string or an integer, got ${JSON.stringify(v)}`);
}

/** An integer given as a number or a string of digits, else null. */
function int(v) {
  if (v === undefined || v === null) return null;
  const n = typeof v === "string" ? Number(v.trim()) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new NormalizeError(`expected an integer, got ${JSON.stringify(v)}`);
  return n;
}

const SHARED_STATUS = {
  0: ["pending", false],
  1: ["cancelled", false],
  2: ["processing", false],
  3: ["pending", true],
  4: ["rejected", false],
  5: ["rejected", false],
  6: ["awaiting_buyer_return", false],
  7: ["closed", false],
  8: ["awaiting_merchant_receipt", false],
  11: ["refunding", false],
  12: ["refunding", true],
  13: ["completed", false],
  14: ["completed", false],
  15: ["completed", false],
  16: ["awaiting_merchant_shipment", false],
  17: ["awaiting_buyer_receipt", false],
  18: ["rejected", false],
  19: ["awaiting_merchant_receipt", false],
};
const UNKNOWN_STATUS = ["unknown", false];

const pad2 = (n) => (n < 10 ? `0${n}` : `${n}`);

/** Fen (integer) as Money; a negative amount is refused. */
function fen(v, platform, index, field) {
  const n = int(v);
  if (n === null) return null;
  if (n < 0) fail(platform, index, field, v, "a negative amount");
  return { currency: "CNY", minor: n, decimal: `${Math.floor(n / 100)}.${pad2(n % 100)}` };
}

function count(v, platform, index, field) {
  const n = int(v);
  if (n !== null && n < 0) fail(platform, index, field, v, "a negative count");
  return n;
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** "YYYY-MM-DD hh:mm:ss" as RFC 3339 with `offset` ("" when the zone is unknown); zero dates are null. */
function localTime(v, offset, platform, index, field) {
  if (v === undefined || v === null) return null;
  const s = String(v).trim();
  if (s === "" || s.startsWith("0000-00-00") || s.startsWith("-0001-11-30")) return null;
  const m = TIME.exec(s);
  if (m === null) fail(platform, index, field, v, "not a time of the form YYYY-MM-DD hh:mm:ss");
  const y = +m[1];
  const mo = +m[2];
  const d = +m[3];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const dim = mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1];
  if (mo < 1 || mo > 12 || d < 1 || d > dim || (m[4] !== undefined && (+m[4] > 23 || +m[5] > 59 || +m[6] > 59))) {
    fail(platform, index, field, v, "not a valid time");
  }
  return `${s.slice(0, 10)}T${m[4] === undefined ? "00:00:00" : s.slice(11, 19)}${offset}`;
}

/** 退款 refund, 退货 return and refund, 换货 exchange (as type names or tags). */
function kindFromChinese(name) {
  const n = name.trim();
  if (n.includes("换货")) return "exchange";
  if (n.includes("退货")) return "return_refund";
  if (n.includes("退款")) return "refund";
  return null;
}

const KIND_BY_CODE = { 1: "refund", 2: "return_refund", 3: "exchange" };

// ---------------------------------------------------------------- xiaoe (seed 001)

function xiaoeKind(rec, index) {
  const t = int(rec.sale_type);
  if (KIND_BY_CODE[t]) return KIND_BY_CODE[t];
  if (typeof rec.sale_type_name === "string") {
    const k = kindFromChinese(rec.sale_type_name);
    if (k) return k;
  }
  const state = int(rec.state);
  if (state !== null && state >= 15 && state <= 19) return "exchange";
  return fail("xiaoe", index, "sale_type", rec.sale_type ?? rec.sale_type_name ?? "", "unknown after-sale type");
}

function xiaoeRecord(rec, index) {
  const aftersaleId = text(rec.aftersale_id);
  if (aftersaleId === null) fail("xiaoe", index, "aftersale_id", "", "missing");
  const kind = xiaoeKind(rec, index);
  const state = int(rec.state);
  const [status, overdue] = state === null ? UNKNOWN_STATUS : (SHARED_STATUS[state] ?? UNKNOWN_STATUS);
  const goods = rec.goods_list ?? [];
  const single = goods.length === 1;
  const items = goods.map((g) => ({
    product_id: text(g.resource_id ?? g.goods_id),
    sku_id: text(g.sku_id) ?? (single ? text(rec.sku_id) : null),
    name: text(g.goods_name),
    quantity: count(g.buy_num, "xiaoe", index, "goods_list.buy_num"),
    unit_price: fen(g.goods_price, "xiaoe", index, "goods_list.goods_price"),
    image_url: text(g.img_url),
    sku_info: text(g.sku_info),
  }));
  if (items.length === 0 && rec.goods_name != null) {
    items.push({
      product_id: null,
      sku_id: text(rec.sku_id),
      name: text(rec.goods_name),
      quantity: null,
      unit_price: null,
      image_url: text(rec.img_url),
      sku_info: text(rec.sku_info),
    });
  }
  return {
    id: `xiaoe:${aftersaleId}`,
    platform: "xiaoe",
    aftersale_id: aftersaleId,
    order_id: text(rec.order_id),
    out_order_id: text(rec.out_order_id),
    kind,
    status,
    overdue,
    status_raw: state,
    refund: fen(rec.refund_money, "xiaoe", index, "refund_money"),
    requested: fen(rec.apply_refund_money, "xiaoe", index, "apply_refund_money"),
    items,
    reason: text(rec.reason),
    buyer_note: text(rec.remark),
    merchant_note: text(rec.merchant_remark),
    buyer: { openid: null, user_id: text(rec.user_id ?? rec.order_user_id), nickname: text(rec.nick_name) },
    return_logistics: null,
    exchange_order_id: null,
    created_at: localTime(rec.created_at, "+08:00", "xiaoe", index, "created_at"),
    updated_at: localTime(rec.updated_at, "+08:00", "xiaoe", index, "updated_at"),
    refunded_at: localTime(rec.refund_time, "+08:00", "xiaoe", index, "refund_time"),
  };
}

function xiaoe(body) {
  if (body.code !== 0 && body.code !== "0") throw new NormalizeError(`xiaoe error ${body.code}: ${body.msg}`);
  return (body.data?.list ?? []).map(xiaoeRecord);
}

// ---------------------------------------------------------------- lingxing (seed 003)

const CURRENCY_EXPONENT = { JPY: 0 };
const DOLLARS = ["USD", "CAD", "MXN", "AUD", "SGD"];
const SYMBOLS = {
  $: DOLLARS, "＄": DOLLARS, US$: ["USD"], C$: ["CAD"], CA$: ["CAD"], MX$: ["MXN"], A$: ["AUD"], AU$: ["AUD"],
  S$: ["SGD"], SG$: ["SGD"], R$: ["BRL"], "£": ["GBP"], "￡": ["GBP"], "€": ["EUR"], "¥": ["JPY", "CNY"],
  "￥": ["JPY", "CNY"], "₹": ["INR"], Rs: ["INR"], "Rs.": ["INR"], kr: ["SEK"], SEK: ["SEK"], zł: ["PLN"],
  "₺": ["TRY"], TL: ["TRY"], "E£": ["EGP"], R: ["ZAR"], "د.إ": ["AED"], "﷼": ["SAR"],
};
const CODES = new Set(["CNY", "USD", "CAD", "MXN", "BRL", "GBP", "EUR", "SEK", "PLN", "TRY", "JPY", "AUD", "SGD", "INR", "AED", "SAR", "EGP", "ZAR"]);
// Marketplace → [currency, site zone]. Site times (after_time) are the marketplace's local time
// (README, "Lingxing's two clocks"); the Central European ones share one clock, named Europe/Paris.
const CE = "Europe/Paris";
const MARKETS = {
  US: ["USD", "America/Los_Angeles"], CA: ["CAD", "America/Los_Angeles"], MX: ["MXN", "America/Los_Angeles"],
  BR: ["BRL", "America/Sao_Paulo"], UK: ["GBP", "Europe/London"], DE: ["EUR", CE], FR: ["EUR", CE], IT: ["EUR", CE],
  ES: ["EUR", CE], NL: ["EUR", CE], BE: ["EUR", CE], SE: ["SEK", CE], PL: ["PLN", CE], IE: ["EUR", "Europe/Dublin"],
  TR: ["TRY", "Europe/Istanbul"], JP: ["JPY", "Asia/Tokyo"], AU: ["AUD", "Australia/Sydney"], SG: ["SGD", "Asia/Singapore"],
  IN: ["INR", "Asia/Kolkata"], AE: ["AED", "Asia/Dubai"], SA: ["SAR", "Asia/Riyadh"], EG: ["EGP", "Africa/Cairo"],
  ZA: ["ZAR", "Africa/Johannesburg"],
};
const MARKET_NAMES = [
  ["美国", "US"], ["加拿大", "CA"], ["墨西哥", "MX"], ["巴西", "BR"], ["英国", "UK"], ["德国", "DE"], ["法国", "FR"],
  ["意大利", "IT"], ["西班牙", "ES"], ["荷兰", "NL"], ["比利时", "BE"], ["瑞典", "SE"], ["波兰", "PL"], ["爱尔兰", "IE"],
  ["土耳其", "TR"], ["日本", "JP"], ["澳大利亚", "AU"], ["新加坡", "SG"], ["印度", "IN"], ["阿联酋", "AE"], ["沙特", "SA"],
  ["埃及", "EG"], ["南非", "ZA"], ["澳洲", "AU"],
];
const marketCache = new Map();

/**
 * `seller_country` ("8p-US 美国") → `{currency, zone}`: each null when no marketplace is named or
 * the named ones disagree on it (names anywhere, codes as whole tokens, GB = UK).
 */
function marketplace(country) {
  if (typeof country !== "string") return { currency: null, zone: null };
  let c = marketCache.get(country);
  if (c !== undefined) return c;
  const named = [];
  for (const [name, code] of MARKET_NAMES) if (country.includes(name)) named.push(code);
  for (const token of country.split(/[^A-Za-z0-9]+/)) {
    const code = token.toUpperCase() === "GB" ? "UK" : token.toUpperCase();
    if (MARKETS[code]) named.push(code);
  }
  const agreed = (i) => (named.length > 0 && named.every((code) => MARKETS[code][i] === MARKETS[named[0]][i]) ? MARKETS[named[0]][i] : null);
  c = { currency: agreed(0), zone: agreed(1) };
  marketCache.set(country, c);
  return c;
}

const zoneFormats = new Map();
/** UTC offset in minutes of `zone` at an instant (ms), from Intl's wall clock read back as UTC. */
function zoneOffsetAt(zone, ms) {
  let f = zoneFormats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    zoneFormats.set(zone, f);
  }
  const p = {};
  for (const part of f.formatToParts(ms)) p[part.type] = +part.value;
  return Math.round((Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000) / 60000);
}
const offsetCache = new Map();
/**
 * The offset text of a local time "YYYY-MM-DDThh:mm:ss" in `zone`: in a daylight-saving gap or
 * overlap, the offset in force before the change. Every change is on the hour, so the local hour
 * decides it and is the cache key.
 */
function siteOffset(zone, local) {
  const key = `${zone} ${local.slice(0, 13)}`;
  let text = offsetCache.get(key);
  if (text !== undefined) return text;
  const asUtc = Date.parse(`${local.slice(0, 13)}:00:00Z`);
  const before = zoneOffsetAt(zone, asUtc - 864e5);
  const after = zoneOffsetAt(zone, asUtc + 864e5);
  const fits = (o) => zoneOffsetAt(zone, asUtc - o * 60000) === o;
  const minutes = before !== after && fits(after) && !fits(before) ? after : before;
  const a = Math.abs(minutes);
  text = `${minutes < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
  offsetCache.set(key, text);
  return text;
}

const AMOUNT = /^([-+]?)\s*([^\d.,+-]*?)\s*([-+]?)\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+)\s*([^\d\s.,+-]*)$/;

/** `"-$4.700"` → `{currency, minor (half-even), decimal: "4.700"}`, the refund being >= 0. */
function refundMoney(amount, fallbackSymbol, market, index) {
  const m = AMOUNT.exec(amount.trim());
  if (m === null || (m[2] && m[5])) fail("lingxing", index, "item_list.refund_amount", amount, "not a decimal amount");
  let digits = m[4].replaceAll(",", "");
  if (digits.startsWith(".")) digits = `0${digits}`;
  const symbol = m[2] || m[5] || fallbackSymbol || "";
  let currency;
  if (symbol === "") currency = market;
  else {
    const candidates = SYMBOLS[symbol] ?? (CODES.has(symbol.toUpperCase()) ? [symbol.toUpperCase()] : null);
    if (candidates === null) currency = null;
    else if (market !== null) {
      if (!candidates.includes(market)) fail("lingxing", index, "item_list.refund_amount", amount, "currency does not match the marketplace");
      currency = market;
    } else currency = candidates.length === 1 ? candidates[0] : null;
  }
  if (!currency) fail("lingxing", index, "item_list.refund_amount", amount, "currency cannot be known");
  const exp = CURRENCY_EXPONENT[currency] ?? 2;
  const dot = digits.indexOf(".");
  const int = dot < 0 ? digits : digits.slice(0, dot);
  const frac = dot < 0 ? "" : digits.slice(dot + 1);
  let minor = Number(int + frac.slice(0, exp).padEnd(exp, "0"));
  if (frac.length > exp) {
    const first = frac.charCodeAt(exp) - 48;
    const restNonZero = /[1-9]/.test(frac.slice(exp + 1));
    if (first > 5 || (first === 5 && (restNonZero || minor % 2 === 1))) minor += 1;
  }
  if (!Number.isSafeInteger(minor)) fail("lingxing", index, "item_list.refund_amount", amount, "amount too large");
  return { currency, minor, decimal: digits };
}

function lingxingStatus(kind, returnStatus, refunded) {
  const s = returnStatus.trim();
  if (s === "") return kind === "refund" && refunded ? "completed" : "unknown";
  switch (s.toLowerCase()) {
    case "pending": case "requested": case "pendingapproval": case "pending approval": return "pending";
    case "approved": case "authorized": case "authorised": return "awaiting_buyer_return";
    case "in transit": case "intransit": case "shipped": return "awaiting_merchant_receipt";
    case "received": case "unit returned to inventory": case "returned": return "refunding";
    case "completed": case "complete": case "closed-completed": case "refunded": case "reimbursed": return "completed";
    case "rejected": case "denied": case "declined": return "rejected";
    case "cancelled": case "canceled": return "cancelled";
    case "closed": return "closed";
    default: return "unknown";
  }
}

function lingxingRecord(rec, index, out) {
  const orderId = text(rec.amazon_order_id);
  const { currency: market, zone } = marketplace(rec.seller_country);
  const lines = rec.item_list ?? [];
  if (lines.length === 0) fail("lingxing", index, "item_list", [], "an after-sale record with no lines");
  for (const line of lines) {
    const key = text(line.item_identifier) ?? text(line.md5_v2) ?? text(line.md5_new) ?? text(line.md5);
    if (key === null) fail("lingxing", index, "item_list.item_identifier", "", "missing, and so are md5_v2, md5_new and md5");
    const afterType = text(line.after_type);
    if (afterType === null) fail("lingxing", index, "item_list.after_type", "", "missing");
    const kind = KIND_BY_CODE[afterType.trim()] ?? kindFromChinese(afterType);
    if (kind === null) fail("lingxing", index, "item_list.after_type", afterType, "unknown after-sale type");
    const amount = text(line.refund_amount);
    const refund =
      amount === null
        ? null
        : refundMoney(amount, text(line.refund_currency_icon) ?? text(rec.total_refund_amount_currency_code), market, index);
    const statusRaw = line.return_status == null ? "" : String(line.return_status);
    // Site time on the marketplace's clock; Lingxing's own update time is Beijing time.
    const local = localTime(line.after_time, "", "lingxing", index, "item_list.after_time");
    const afterTime = local !== null && zone !== null ? `${local}${siteOffset(zone, local)}` : local;
    const carrier = text(line.carriers);
    const waybill = text(line.waybill_number);
    out.push({
      id: `lingxing:${key}`,
      platform: "lingxing",
      aftersale_id: key,
      order_id: orderId,
      out_order_id: null,
      kind,
      status: lingxingStatus(kind, statusRaw, refund !== null && refund.minor > 0),
      overdue: false,
      status_raw: statusRaw,
      refund,
      requested: null,
      items: [
        {
          // A line may leave asin/msku empty where its record has them (seed 003's second line).
          product_id: text(line.asin) ?? text(rec.asin),
          sku_id: text(line.msku) ?? text(rec.msku) ?? text(line.local_sku),
          name: text(line.item_name),
          quantity: count(line.after_quantity, "lingxing", index, "item_list.after_quantity"),
          unit_price: null,
          image_url: text(line.small_image_url),
          sku_info: null,
        },
      ],
      reason: text(line.after_reason),
      buyer_note: text(line.buyers_note),
      merchant_note: null,
      buyer: { openid: null, user_id: null, nickname: null },
      return_logistics: carrier !== null || waybill !== null ? { carrier, waybill_id: waybill } : null,
      exchange_order_id: text(line.exchange_order_number),
      created_at: afterTime,
      updated_at: localTime(line.data_update_time, "+08:00", "lingxing", index, "item_list.data_update_time"),
      refunded_at: kind === "refund" && refund !== null ? afterTime : null,
    });
  }
}

function lingxing(body) {
  const code = String(body.code ?? "").trim();
  if (code !== "0" && code !== "200") throw new NormalizeError(`lingxing error ${body.code}: ${body.message ?? body.msg}`);
  const out = [];
  (body.data ?? []).forEach((rec, i) => lingxingRecord(rec, i, out));
  return out;
}

// ---------------------------------------------------------------- wechat_shop (seed 000)

/** A member by its documented name, else by the seed's misspelling (padded, capitalized). */
function member(obj, name) {
  const v = obj[name];
  if (v !== undefined) return v;
  for (const k in obj) if (k.trim().toLowerCase() === name) return obj[k];
  return undefined;
}

function wechatShopRecord(rec, index) {
  const orderId = text(rec.order_id);
  const outOrderId = text(rec.out_order_id);
  let aftersaleId = text(rec.aftersale_id) ?? text(rec.out_aftersale_id);
  if (aftersaleId === null) {
    const order = orderId ?? outOrderId;
    if (order === null) fail("wechat_shop", index, "aftersale_id", "", "missing, and so are out_aftersale_id, order_id and out_order_id");
    aftersaleId = `${order}#${index + 1}`;
  }
  const kind = KIND_BY_CODE[int(rec.type)];
  if (!kind) fail("wechat_shop", index, "type", rec.type ?? "", "unknown after-sale type");
  const code = int(rec.status);
  const [status, overdue] = code === null ? UNKNOWN_STATUS : (SHARED_STATUS[code] ?? UNKNOWN_STATUS);
  const products = member(rec, "product_infos") ?? [];
  return {
    id: `wechat_shop:${aftersaleId}`,
    platform: "wechat_shop",
    aftersale_id: aftersaleId,
    order_id: orderId,
    out_order_id: outOrderId,
    kind,
    status,
    overdue,
    status_raw: code,
    refund: fen(rec.refund, "wechat_shop", index, "refund"),
    requested: fen(rec.orderamt, "wechat_shop", index, "orderamt"),
    items: products.map((p) => ({
      product_id: text(p.out_product_id ?? p.product_id),
      sku_id: text(p.out_sku_id ?? p.sku_id),
      name: null,
      quantity: count(p.product_cnt, "wechat_shop", index, "product_infos.product_cnt"),
      unit_price: null,
      image_url: null,
      sku_info: null,
    })),
    reason: text(rec.refund_reason),
    buyer_note: null,
    merchant_note: null,
    buyer: { openid: text(rec.openid), user_id: null, nickname: null },
    return_logistics: null,
    exchange_order_id: null,
    created_at: localTime(rec.create_time ?? rec.craete_time, "+08:00", "wechat_shop", index, "create_time"),
    updated_at: localTime(rec.update_time, "+08:00", "wechat_shop", index, "update_time"),
    refunded_at: null,
  };
}

function wechatShop(body) {
  const code = int(member(body, "errcode"));
  if (code !== null && code !== 0) throw new NormalizeError(`wechat error ${code}: ${member(body, "errmsg")}`);
  return (member(body, "aftersale_infos") ?? []).map(wechatShopRecord);
}

// ---------------------------------------------------------------- entry points

const BY_PLATFORM = { xiaoe, lingxing, wechat_shop: wechatShop };

/** The upstream body text → AfterSale objects. */
export function normalizeJs(platform, text) {
  const f = BY_PLATFORM[platform];
  if (!f) throw new NormalizeError(`unknown platform ${platform}`);
  return f(JSON.parse(text));
}

/** The upstream body text → the JSON array text of AfterSale. */
export function normalizeJsonJs(platform, text) {
  return JSON.stringify(normalizeJs(platform, text));
}
