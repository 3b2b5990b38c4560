// What the proxy should answer, computed from the simulator's raw upstream records with a small
// mapping of our own, written from SPEC.md §2 and UPSTREAMS.md: independent of the project's core.

/** SPEC §2: WeChat transaction component and Xiaoe status codes → [status, overdue]. */
export const STATUS_TABLE = {
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
export const STATUSES = new Set([
  "pending", "processing", "awaiting_buyer_return", "awaiting_merchant_receipt", "refunding",
  "awaiting_merchant_shipment", "awaiting_buyer_receipt", "completed", "rejected", "cancelled", "closed", "unknown",
]);
export const ORDER_STATUS = { 10: "unpaid", 15: "paid", 16: "paid", 17: "paid", 20: "awaiting_shipment", 21: "partially_shipped", 30: "shipped", 100: "completed", 200: "cancelled", 250: "cancelled" };

const statusOf = (code) => STATUS_TABLE[code] ?? ["unknown", false];
const KIND_BY_CODE = { 1: "refund", 2: "return_refund", 3: "exchange" };
const XIAOE_KIND_BY_NAME = { 退款: "refund", 退货退款: "return_refund", 换货: "exchange" };
const LINGXING_KIND = { 退款: "refund", 退货: "return_refund", 换货: "exchange" };
const CURRENCY_BY_SYMBOL = { $: "USD", "£": "GBP", "€": "EUR" };

/** "2023-01-14 10:00:00" China time → "2023-01-14T10:00:00+08:00". */
export const chinaTime = (text) => `${text.replace(" ", "T")}+08:00`;
/** A time whose zone cannot be known keeps its local value, with no offset. */
export const localTime = (text) => text.replace(" ", "T");

/**
 * Lingxing's site time (UPSTREAMS.md): each marketplace's own clock, as an IANA zone for `Intl`
 * (README's table: Amazon's zone per marketplace, Pacific for all of North America).
 */
const SITE_ZONES = {
  US: "America/Los_Angeles", CA: "America/Los_Angeles", MX: "America/Los_Angeles", BR: "America/Sao_Paulo",
  UK: "Europe/London", GB: "Europe/London", IE: "Europe/Dublin", DE: "Europe/Berlin", FR: "Europe/Paris",
  IT: "Europe/Rome", ES: "Europe/Madrid", NL: "Europe/Amsterdam", BE: "Europe/Brussels", SE: "Europe/Stockholm",
  PL: "Europe/Warsaw", TR: "Europe/Istanbul", JP: "Asia/Tokyo", AU: "Australia/Sydney", SG: "Asia/Singapore",
  IN: "Asia/Kolkata", AE: "Asia/Dubai", SA: "Asia/Riyadh", EG: "Africa/Cairo", ZA: "Africa/Johannesburg",
};
const SITE_NAMES = {
  美国: "US", 加拿大: "CA", 墨西哥: "MX", 巴西: "BR", 英国: "UK", 爱尔兰: "IE", 德国: "DE", 法国: "FR", 意大利: "IT",
  西班牙: "ES", 荷兰: "NL", 比利时: "BE", 瑞典: "SE", 波兰: "PL", 土耳其: "TR", 日本: "JP", 澳大利亚: "AU", 澳洲: "AU",
  新加坡: "SG", 印度: "IN", 阿联酋: "AE", 沙特: "SA", 埃及: "EG", 南非: "ZA",
};

/** The site zone named by `seller_country` ("8p-US 美国"), or null when none or two disagreeing. */
export function siteZone(sellerCountry) {
  const codes = new Set();
  for (const [name, code] of Object.entries(SITE_NAMES)) if (sellerCountry?.includes(name)) codes.add(code);
  for (const token of String(sellerCountry ?? "").split(/[^A-Za-z0-9]+/)) if (SITE_ZONES[token.toUpperCase()]) codes.add(token.toUpperCase());
  const zones = new Set([...codes].map((c) => SITE_ZONES[c]));
  // Different IANA names with the same clock (Berlin, Paris) agree; compare their offsets over a year.
  const clocks = new Set([...zones].map((z) => [0, 91, 182, 273, 300].map((d) => offsetMinutes(z, Date.UTC(2024, 0, 1) + d * 864e5)).join()));
  return clocks.size === 1 ? [...zones][0] : null;
}

const wallFormats = new Map();
function wallClock(zone, ms) {
  let f = wallFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    wallFormats.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}
/** The zone's UTC offset at an instant, in minutes: the wall clock read back as if it were UTC. */
function offsetMinutes(zone, ms) {
  const wall = wallClock(zone, ms);
  return Math.round((Date.parse(`${wall.replace(" ", "T")}Z`) - Math.floor(ms / 1000) * 1000) / 60000);
}
const formatOffset = (m) => `${m < 0 ? "-" : "+"}${String(Math.floor(Math.abs(m) / 60)).padStart(2, "0")}:${String(Math.abs(m) % 60).padStart(2, "0")}`;

/**
 * A site time "2024-03-10 02:30:00" read on `zone`'s clock. Of the instants whose wall clock shows
 * it, the earliest (an overlap's first reading); when none does (a gap skipped it), the offset the
 * zone had a day before. Unknown zone: no offset.
 */
export function siteTime(text, zone) {
  if (!zone) return localTime(text);
  const asUtc = Date.parse(`${text.replace(" ", "T")}Z`);
  const offsets = new Set([offsetMinutes(zone, asUtc - 864e5), offsetMinutes(zone, asUtc + 864e5)]);
  const readings = [...offsets].map((o) => asUtc - o * 60000).filter((ms) => wallClock(zone, ms) === text).sort((a, b) => a - b);
  const offset = readings.length > 0 ? (asUtc - readings[0]) / 60000 : offsetMinutes(zone, asUtc - 864e5);
  return `${localTime(text)}${formatOffset(offset)}`;
}

/** Fen → Money. */
export function fen(minor) {
  const abs = Math.abs(minor);
  return { currency: "CNY", minor, decimal: `${minor < 0 ? "-" : ""}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}` };
}

/** "1.23456" → minor units with `exponent` digits, rounded half-even (as SPEC §2 says). */
export function halfEven(digits, exponent = 2) {
  const [int, frac = ""] = digits.split(".");
  const kept = BigInt(int + frac.slice(0, exponent).padEnd(exponent, "0"));
  const rest = frac.slice(exponent);
  let up = false;
  if (/[1-9]/.test(rest)) {
    const first = rest[0];
    const tail = rest.slice(1);
    if (first > "5" || (first === "5" && /[1-9]/.test(tail))) up = true;
    else if (first === "5") up = kept % 2n === 1n; // exactly half: to even
  }
  return Number(kept + (up ? 1n : 0n));
}

/** Lingxing "-$4.700" → { currency: "USD", minor: 470, decimal: "4.700" } (refunds are positive). */
export function lingxingRefund(text) {
  if (text === "" || text === null || text === undefined) return null;
  const m = /^-?([$£€])(\d+(?:\.\d+)?)$/.exec(text);
  if (!m) throw new Error(`unexpected Lingxing amount ${JSON.stringify(text)}`);
  return { currency: CURRENCY_BY_SYMBOL[m[1]], minor: halfEven(m[2]), decimal: m[2] };
}

/** The fields every test checks, from one Xiaoe wire record. */
export function expectXiaoe(wire) {
  const [status, overdue] = statusOf(wire.state);
  const kind = wire.sale_type !== undefined ? KIND_BY_CODE[wire.sale_type] : XIAOE_KIND_BY_NAME[wire.sale_type_name];
  return {
    id: `xiaoe:${wire.aftersale_id}`,
    platform: "xiaoe",
    aftersale_id: wire.aftersale_id,
    order_id: wire.order_id,
    kind,
    status,
    overdue,
    status_raw: wire.state,
    refund: fen(wire.refund_money),
    requested: fen(wire.apply_refund_money),
    created_at: chinaTime(wire.created_at),
    updated_at: chinaTime(wire.updated_at),
    items: wire.goods_list.map((g) => ({ name: g.goods_name, quantity: g.buy_num })),
  };
}

/** One expected AfterSale per line of a Lingxing wire record. */
export function expectLingxing(wire) {
  const zone = siteZone(wire.seller_country);
  return wire.item_list.map((line) => {
    const key = line.item_identifier || line.md5_v2;
    return {
      id: `lingxing:${key}`,
      platform: "lingxing",
      aftersale_id: key,
      order_id: wire.amazon_order_id,
      kind: LINGXING_KIND[line.after_type],
      refund: lingxingRefund(line.refund_amount),
      created_at: siteTime(line.after_time, zone),
      updated_at: chinaTime(line.data_update_time),
    };
  });
}

/** One WeChat transaction-component after-sale record (seed 000). */
export function expectWechatShop(wire) {
  const [status, overdue] = statusOf(wire.status);
  const created = wire.create_time ?? wire.craete_time;
  return {
    id: `wechat_shop:${wire.aftersale_id}`,
    platform: "wechat_shop",
    aftersale_id: wire.aftersale_id,
    out_order_id: wire.out_order_id,
    kind: KIND_BY_CODE[wire.type],
    status,
    overdue,
    status_raw: wire.status,
    refund: fen(wire.refund),
    created_at: chinaTime(created),
  };
}

/** The fields of a normalized record that `expected` names, for a deep comparison. */
export function pick(actual, expected) {
  const out = {};
  for (const key of Object.keys(expected)) {
    if (key === "items") {
      out.items = Array.isArray(actual.items) ? actual.items.map((i) => ({ name: i?.name, quantity: i?.quantity })) : actual.items;
    } else if ((key === "refund" || key === "requested") && actual[key] && typeof actual[key] === "object") {
      const { currency, minor, decimal } = actual[key];
      out[key] = { currency, minor, decimal };
    } else {
      out[key] = actual[key];
    }
  }
  return out;
}

/** Normalized status → the codes it covers (Xiaoe). */
export const xiaoeMatchesStatus = (wire, statuses) => statuses.includes(statusOf(wire.state)[0]);
export const xiaoeKind = (wire) => expectXiaoe(wire).kind;
