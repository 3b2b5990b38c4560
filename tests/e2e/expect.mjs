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
/** A time whose zone the upstream does not fix keeps its local value, with no offset. */
export const localTime = (text) => text.replace(" ", "T");

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
  return wire.item_list.map((line) => {
    const key = line.item_identifier || line.md5_v2;
    return {
      id: `lingxing:${key}`,
      platform: "lingxing",
      aftersale_id: key,
      order_id: wire.amazon_order_id,
      kind: LINGXING_KIND[line.after_type],
      refund: lingxingRefund(line.refund_amount),
      created_at: localTime(line.after_time),
      updated_at: localTime(line.data_update_time),
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
