// Deterministic upstream datasets, shaped after the seed documents (typos included).
// The same seed, record counts and date range always give the same data: every platform draws
// from its own PRNG stream, so growing one dataset never shifts another.
import { createHash } from "node:crypto";

export const DEFAULT_DATE_RANGE = Object.freeze({ from: "2023-01-01", to: "2023-07-01" }); // half-open

const HOUR = 3600;
const DAY = 86400;
export const CHINA_OFFSET = 8 * HOUR; // WeChat and Xiaoe speak China time (UTC+08:00)
// Generated times stay before 23:00 local, so records that must sort first (growAfterCalls) can
// always be placed after every existing one on the same day.
const LAST_BASE_SECOND_OF_DAY = 23 * HOUR - 1;
const GROWTH_FIRST_SECOND_OF_DAY = 23 * HOUR;

// ---------------------------------------------------------------- randomness

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the joined parts: turns any seed (number or string) plus a label into 32 bits. */
export function hashSeed(...parts) {
  let h = 0x811c9dc5;
  for (const ch of parts.join("|")) {
    h ^= ch.codePointAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  constructor(seed) {
    this.next = mulberry32(seed);
  }
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick(list) {
    return list[Math.floor(this.next() * list.length)];
  }
  chance(p) {
    return this.next() < p;
  }
  digits(n) {
    let s = String(this.int(1, 9));
    while (s.length < n) s += String(this.int(0, 9));
    return s;
  }
  chars(n, alphabet) {
    let s = "";
    while (s.length < n) s += alphabet[Math.floor(this.next() * alphabet.length)];
    return s;
  }
  hex(n) {
    return this.chars(n, "0123456789abcdef");
  }
}

export const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const UPPER_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const md5Hex = (text) => createHash("md5").update(text, "utf8").digest("hex");

// ---------------------------------------------------------------- time

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** "YYYY-MM-DD hh:mm:ss" of unix seconds shifted by `offsetSeconds`. */
export function formatTime(unixSeconds, offsetSeconds = 0) {
  const d = new Date((unixSeconds + offsetSeconds) * 1000);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  );
}

export const formatChinaTime = (unixSeconds) => formatTime(unixSeconds, CHINA_OFFSET);

const zoneFormats = new Map();
/** "YYYY-MM-DD hh:mm:ss" of unix seconds on the wall clock of an IANA zone (with its daylight saving). */
export function formatZoneTime(unixSeconds, zone) {
  let f = zoneFormats.get(zone);
  if (!f) {
    const fields = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" };
    f = new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", ...fields });
    zoneFormats.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(unixSeconds * 1000).map((part) => [part.type, part.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** Days since 1970-01-01 of a strict "YYYY-MM-DD" calendar date, or null. */
export function parseDate(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(typeof text === "string" ? text : "");
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const back = new Date(ms);
  if (back.getUTCFullYear() !== Number(m[1]) || back.getUTCMonth() !== Number(m[2]) - 1) return null;
  return ms / (DAY * 1000);
}

export function formatDate(daysSinceEpoch) {
  return formatTime(daysSinceEpoch * DAY).slice(0, 10);
}

export function addDays(dateText, n) {
  return formatDate(parseDate(dateText) + n);
}

/** Keeps a time before 23:00 local (see LAST_BASE_SECOND_OF_DAY). */
function beforeElevenPm(unixSeconds, offset) {
  const secondOfDay = (((unixSeconds + offset) % DAY) + DAY) % DAY;
  return secondOfDay > LAST_BASE_SECOND_OF_DAY ? unixSeconds - (secondOfDay - LAST_BASE_SECOND_OF_DAY) : unixSeconds;
}

/** A moment on a uniformly chosen day of the half-open range, between 08:00 and 22:59:59 local. */
export function randomMoment(rng, range, offset) {
  const first = parseDate(range.from);
  const day = rng.int(first, parseDate(range.to) - 1);
  return day * DAY - offset + rng.int(8 * HOUR, LAST_BASE_SECOND_OF_DAY);
}

const sortKeys = (object) => Object.fromEntries(Object.keys(object).sort().map((k) => [k, object[k]]));

// ---------------------------------------------------------------- xiaoe

export const XIAOE_KINDS = [
  { sale_type: 1, name: "退款", states: [0, 1, 2, 3, 4, 11, 12, 13] },
  { sale_type: 2, name: "退货退款", states: [0, 1, 2, 3, 5, 6, 7, 8, 11, 12, 14] },
  { sale_type: 3, name: "换货", states: [0, 1, 2, 3, 6, 8, 15, 16, 17, 18, 19] },
];

/** The `sales_state` filter groups of seed 001 ([1 待商家处理, 2 售后成功, 6 售后中, 3 已撤销]); null = none. */
export function xiaoeSalesState(state) {
  if (state === 0 || state === 3) return 1;
  if (state === 1) return 3;
  if (state === 13 || state === 14 || state === 15) return 2;
  if ([4, 5, 7, 18].includes(state)) return null; // rejected or closed: only in -1 (all)
  return 6;
}
const XIAOE_STATE_STR = { 1: "待商家处理", 2: "售后成功", 3: "已撤销", 6: "售后中" };
const XIAOE_FINAL_STATES = new Set([1, 4, 5, 7, 13, 14, 15, 18]);
const XIAOE_REFUNDED_STATES = new Set([13, 14]);
const XIAOE_STATE_REASON = {
  0: "",
  1: "买家主动撤销",
  2: "商家已受理",
  3: "商家逾期未处理",
  4: "商家拒绝退款",
  5: "商家拒绝退货退款",
  6: "商家同意退货",
  7: "买家逾期未退货",
  8: "买家已寄回商品",
  11: "商家同意退款",
  12: "商家逾期未退款",
  13: "商家主动发起售后",
  14: "退货退款完成",
  15: "换货完成",
  16: "商家已收货，待发出换货",
  17: "换货已发出",
  18: "商家拒绝换货",
  19: "商家已收到退回商品",
};
const XIAOE_GOODS = [
  { name: "HX付费图文关联作业", tag: "图文", resource: 1, price: 20 },
  { name: "晨读音频合辑", tag: "音频", resource: 2, price: 990 },
  { name: "零基础Python入门视频课", tag: "视频", resource: 3, price: 29900 },
  { name: "职场沟通课·专栏", tag: "专栏", resource: 6, price: 9900 },
  { name: "21天高效时间管理训练营", tag: "训练营", resource: 35, price: 19900 },
  { name: "小鹅通定制帆布包", tag: "实物商品", resource: 21, price: 5900, skus: ["颜色:米白", "颜色:墨绿"] },
  { name: "手账本套装（A5）", tag: "实物商品", resource: 21, price: 12800, skus: ["规格:单本", "规格:三本装"] },
  { name: "《认知觉醒》签名版", tag: "实物商品", resource: 21, price: 4580, skus: ["版本:平装", "版本:精装"] },
];
const XIAOE_PHYSICAL_GOODS = XIAOE_GOODS.filter((g) => g.skus);
const NICKNAMES = ["大肉丸", "小鹅🦢", "晨跑的猫", "Alice", "阿杰", "读书人", "云朵朵", "李老师", "momo", "风之子"];
const XIAOE_REASONS = ["", "不想要了", "拍错了", "质量问题", "七天无理由退货", "商品与描述不符", "课程内容不符合预期"];
const XIAOE_REMARKS = ["", "", "请尽快处理", "已联系客服", "包装破损"];
const XIAOE_MERCHANT_REMARKS = ["", "", "已核实", "同意售后", "补偿优惠券一张"];
const XIAOE_CDN = "https://commonresource-1252524126.cdn.xiaoeknow.com/image";

/**
 * Xiaoe after-sales (seed 001). Each entry is `{ wire, times }`: `wire` is the record exactly as
 * the API returns it; `times` holds the value of every `date_type` ("YYYY-MM-DD hh:mm:ss", China
 * time, or null). `refund_time` is not a field of the documented record, so it lives only there.
 */
export class XiaoeGenerator {
  constructor(seed, range = DEFAULT_DATE_RANGE) {
    this.rng = new Rng(hashSeed(seed, "xiaoe"));
    this.range = range;
    this.serial = 0;
    this.growthSerial = 0;
    this.ids = new Set();
    this.combos = XIAOE_KINDS.flatMap((kind) => kind.states.map((state) => ({ kind, state })));
  }

  /** The next record: the first ones walk every (sale_type, state) pair so all are present. */
  next() {
    const { rng } = this;
    const serial = this.serial;
    const combo =
      serial < this.combos.length
        ? this.combos[serial]
        : (() => {
            const r = rng.next();
            const kind = XIAOE_KINDS[r < 0.5 ? 0 : r < 0.85 ? 1 : 2];
            return { kind, state: rng.pick(kind.states) };
          })();
    const created = randomMoment(rng, this.range, CHINA_OFFSET);
    let updated = combo.state === 0 ? created : created + rng.int(600, 10 * DAY);
    updated = Math.max(created, beforeElevenPm(updated, CHINA_OFFSET));
    let refunded = null;
    if (XIAOE_REFUNDED_STATES.has(combo.state)) {
      refunded = Math.max(created, updated - rng.int(0, Math.min(2 * HOUR, updated - created)));
    }
    return this.build({ ...combo, created, updated, refunded });
  }

  /**
   * A record created shortly before and last updated at `time` (unix seconds), outside the
   * generated range: what an incremental sync by updated time must pick up next.
   */
  recent(time) {
    const { rng } = this;
    const kind = XIAOE_KINDS[rng.next() < 0.6 ? 0 : 1];
    const state = rng.pick(kind.states);
    const refunded = XIAOE_REFUNDED_STATES.has(state) ? time : null;
    return this.build({ kind, state, created: time - rng.int(60, HOUR), updated: time, refunded });
  }

  /**
   * A record that sorts before every other one in the queried range: on the range's last day,
   * after 23:00, later than any earlier growth record. It satisfies the query's filters where it can.
   */
  grown({ dateType, lastDay, salesState, orderId, nickName }) {
    const time = parseDate(lastDay) * DAY - CHINA_OFFSET + GROWTH_FIRST_SECOND_OF_DAY + (this.growthSerial++ % HOUR);
    let combo = { kind: XIAOE_KINDS[0], state: 13 };
    if (salesState !== undefined && salesState !== -1 && !(dateType === "refund_time" && salesState !== 2)) {
      combo = this.combos.find((c) => xiaoeSalesState(c.state) === salesState) ?? combo;
    }
    const refunded = XIAOE_REFUNDED_STATES.has(combo.state) ? time : null;
    return this.build({ ...combo, created: time, updated: time, refunded, orderId, nickName });
  }

  build({ kind, state, created, updated, refunded, orderId, nickName }) {
    const { rng } = this;
    const serial = this.serial++;
    const physicalOnly = kind.sale_type !== 1;
    const lines = [];
    for (let n = rng.int(1, 2); lines.length < n; ) {
      const goods = rng.pick(physicalOnly ? XIAOE_PHYSICAL_GOODS : XIAOE_GOODS);
      const sku = goods.skus ? rng.pick(goods.skus) : null;
      const line = {
        buy_num: rng.int(1, goods.skus ? 3 : 1),
        goods_name: goods.name,
        goods_price: goods.price,
        goods_tag: goods.tag,
        img_url: `${XIAOE_CDN}/${rng.hex(14)}.png`,
        single_type: goods.skus ? 1 : 0,
        sku_info: sku,
      };
      if (serial % 3 !== 0) line.resource_type = goods.resource; // documented, absent from the example
      lines.push(line);
    }
    const first = lines[0];
    const originalPrice = lines.reduce((sum, l) => sum + l.goods_price * l.buy_num, 0);
    const actualFee = rng.chance(0.06) ? 0 : originalPrice - Math.floor(originalPrice * rng.int(0, 20) / 100);
    let applyRefund = 0;
    if (kind.sale_type !== 3 && actualFee > 0) applyRefund = rng.chance(0.6) ? actualFee : rng.int(1, actualFee);
    const salesState = xiaoeSalesState(state);
    const wire = {
      actual_fee: actualFee,
      aftersale_id: this.aftersaleId(created),
      apply_refund_money: applyRefund,
      created_at: formatChinaTime(created),
      goods_list: lines,
      goods_name: first.goods_name,
      img_url: first.img_url,
      invalid_time: formatChinaTime(created + 7 * DAY),
      merchant_remark: rng.pick(XIAOE_MERCHANT_REMARKS),
      nick_name: nickName ?? `${rng.pick(NICKNAMES)}${rng.digits(4)}`,
      order_id: orderId ?? `o_${created - rng.int(HOUR, 20 * DAY)}_${rng.hex(13)}_${rng.digits(8)}`,
      original_price: originalPrice,
      reason: rng.pick(XIAOE_REASONS),
      refund_money: [11, 12, 13, 14].includes(state) ? applyRefund : 0,
      remark: rng.pick(XIAOE_REMARKS),
      resource_type_str: first.goods_tag,
      sale_type: kind.sale_type,
      sale_type_name: kind.name,
      ship_state_str: first.sku_info === null ? "无需发货" : rng.pick(["未发货", "已发货", "已签收"]),
      sku_info: first.sku_info ?? "--",
      state,
      state_invalid_time: XIAOE_FINAL_STATES.has(state) ? "-0001-11-30 00:00:00" : formatChinaTime(updated + 2 * DAY),
      state_reason: XIAOE_STATE_REASON[state],
      state_str: salesState === null ? "售后关闭" : XIAOE_STATE_STR[salesState],
      updated_at: formatChinaTime(updated),
      use_collection: 0,
      wx_avatar: `http://wechatavator-1252524126.file.myqcloud.com/appAKLWLitn7978/image/compress/u_${rng.hex(13)}.png`,
    };
    if (serial % 5 === 2) delete wire.sale_type; // as in the seed's example: only sale_type_name
    if (first.sku_info !== null && serial % 2 === 0) wire.sku_id = `SKU_${rng.hex(12)}`;
    const createdAt = wire.created_at;
    return {
      wire: sortKeys(wire), // the seed's record lists its keys alphabetically
      times: {
        created_at: createdAt,
        apply_time: createdAt, // the seed documents created_at itself as 售后单申请时间
        updated_at: wire.updated_at,
        refund_time: refunded === null ? null : formatChinaTime(refunded),
      },
    };
  }

  /** "A<unix seconds>_<uniqid hex>_<8 digits>", as in the seed (its hex starts with the seconds). */
  aftersaleId(created) {
    for (;;) {
      const id = `A${created}_${created.toString(16)}${this.rng.hex(5)}_${this.rng.digits(8)}`;
      if (!this.ids.has(id)) {
        this.ids.add(id);
        return id;
      }
    }
  }
}

// ---------------------------------------------------------------- lingxing

/**
 * `zone` is the shop's site time (UPSTREAMS.md): deal_time, after_time and purchase_time are
 * written on that clock; gmt_modified and data_update_time on Beijing time.
 */
export const LINGXING_SHOPS = [
  { sid: 101, seller_country: "8p-US 美国", symbol: "$", zone: "America/Los_Angeles", site: "https://www.amazon.com", prefixes: ["111", "112", "113", "114"] },
  { sid: 102, seller_country: "UK 英国", symbol: "£", zone: "Europe/London", site: "https://www.amazon.co.uk", prefixes: ["202", "203", "204", "205"] },
  { sid: 103, seller_country: "DE 德国", symbol: "€", zone: "Europe/Berlin", site: "https://www.amazon.de", prefixes: ["302", "303", "304", "305"] },
  { sid: 104, seller_country: "FR 法国", symbol: "€", zone: "Europe/Paris", site: "https://www.amazon.fr", prefixes: ["402", "403", "404", "405"] },
  { sid: 105, seller_country: "8p-US 美国", symbol: "$", zone: "America/Los_Angeles", site: "https://www.amazon.com", prefixes: ["111", "112", "113", "114"] },
];
const LINGXING_PRODUCTS = [
  { asin: "B09MT9BKAD", msku: "Pink_Head_Rope_12", item_name: "Love Pearl Bottom Hair Circle", local_sku: "auto010", local_name: "自动010" },
  { asin: "B0ABC50521", msku: "MSKU52FB8CE", item_name: "Kids Headphones, Volume Limited", local_sku: "SONY-KID-01", local_name: "[演示数据]Sony儿童耳机" },
  { asin: "B08XYZ1234", msku: "YOGA-MAT-6MM-BLUE", item_name: "Non-Slip Yoga Mat 6mm", local_sku: "YM-006-BL", local_name: "瑜伽垫6mm蓝色" },
  { asin: "B07QWERTY9", msku: "LED-STRIP-5M", item_name: "LED Strip Lights 5m RGB", local_sku: "LED-5M", local_name: "LED灯带5米" },
  { asin: "B0C1MUG042", msku: "MUG-CERAMIC-350", item_name: "Ceramic Coffee Mug 350ml „Morgen“", local_sku: "MUG-350", local_name: "陶瓷马克杯350ml" },
];
/** after_type codes of the request (1 退款, 2 退货, 3 换货) and the tags the records carry. */
export const LINGXING_AFTER_TYPES = { 1: "退款", 2: "退货", 3: "换货" };
const LINGXING_LINE_PATTERNS = [["退款"], ["退货"], ["换货"], ["退货", "退款"], ["退款", "退货", "换货"], ["换货", "退款"]];
const AMAZON_RETURN_REASONS = ["CR-ORDERED_WRONG_ITEM", "CR-DEFECTIVE", "CR-UNWANTED_ITEM", "CR-SWITCHEROO", "AMZ-PG-BAD-DESC", ""];
const CARRIERS = ["USPS", "UPS", "Royal Mail", "DHL", "La Poste", "Hermes"];

/** Signed money text: "-$4.700", "$0.300", "€12.345678"; units are 10^-decimals of the currency. */
function money(units, decimals, symbol, negative) {
  const scale = 10 ** decimals;
  const text = `${Math.floor(units / scale)}.${pad(units % scale, decimals)}`;
  return `${negative ? "-" : ""}${symbol}${text}`;
}

/** Splits `total` into `parts` positive integers. */
function split(rng, total, parts) {
  const out = [];
  let left = total;
  for (let i = parts - 1; i > 0 && left > i; i--) {
    const share = rng.int(1, left - i);
    out.push(share);
    left -= share;
  }
  out.push(left);
  return out;
}

/**
 * Lingxing Amazon after-sales (seed 003). Entries are `{ wire }`; the list keeps insertion order
 * (the API's order is the record position). `id` repeats on purpose; `item_identifier` and
 * `md5_v2` are unique per line; some records carry only md5_v2.
 */
export class LingxingGenerator {
  constructor(seed, range = DEFAULT_DATE_RANGE) {
    this.rng = new Rng(hashSeed(seed, "lingxing"));
    this.range = range;
    this.serial = 0;
    this.lineSerial = 0;
    this.lastIds = [];
    this.nextId = 30;
  }

  next() {
    const { rng } = this;
    const serial = this.serial;
    const shop = serial < LINGXING_SHOPS.length ? LINGXING_SHOPS[serial] : rng.pick(LINGXING_SHOPS);
    const pattern = serial < LINGXING_LINE_PATTERNS.length ? LINGXING_LINE_PATTERNS[serial] : this.randomPattern();
    const deal = randomMoment(rng, this.range, 0);
    return this.build({ shop, pattern, deal, purchaseGap: rng.int(0, 45) * DAY + rng.int(0, 20 * HOUR) });
  }

  /** A record dated inside [start, end) for every date_type, matching the query's filters. */
  grown({ endDate, sids, afterTypes, amazonOrderIds }) {
    const shop = LINGXING_SHOPS.find((s) => sids?.includes(s.sid)) ?? LINGXING_SHOPS[0];
    const pattern = afterTypes?.length ? afterTypes.map((code) => LINGXING_AFTER_TYPES[code]) : ["退款"];
    const deal = (parseDate(endDate) - 1) * DAY + 12 * HOUR;
    return this.build({ shop, pattern, deal, purchaseGap: 2 * HOUR, sameDay: true, orderId: amazonOrderIds?.[0] });
  }

  randomPattern() {
    const r = this.rng.next();
    if (r < 0.55) return ["退款"];
    if (r < 0.75) return ["退货"];
    if (r < 0.82) return ["换货"];
    return this.rng.pick(LINGXING_LINE_PATTERNS.slice(3));
  }

  amazonOrderId(shop) {
    return `${this.rng.pick(shop.prefixes)}-${this.rng.digits(7)}-${this.rng.digits(7)}`;
  }

  build({ shop, pattern, deal, purchaseGap, sameDay = false, orderId }) {
    const { rng } = this;
    const serial = this.serial++;
    const decimals = rng.pick([2, 3, 3, 3, 4, 6]);
    const scale = 10 ** (decimals - 2);
    const amount = (minCents, maxCents) => rng.int(minCents, maxCents) * scale + (rng.chance(0.3) ? rng.int(0, scale - 1) : 0);
    const purchase = deal - purchaseGap;
    const intervalDays = Math.floor(purchaseGap / DAY);
    const amazonOrderId = orderId ?? this.amazonOrderId(shop);
    const withIdentifier = serial % 8 !== 5;
    const product = rng.pick(LINGXING_PRODUCTS);
    let totalRefund = 0;
    let totalCost = 0;
    let hasRefund = false;
    let hasCost = false;
    const lines = pattern.map((afterType, index) => {
      const lineProduct = index === 0 ? product : rng.pick(LINGXING_PRODUCTS);
      const afterTime = index === 0 || sameDay ? deal : deal + rng.int(0, 2 * DAY);
      const updateTime = sameDay ? deal + HOUR : afterTime + rng.int(60, 2 * DAY);
      const refunds = afterType === "退款" || (afterType === "退货" && rng.chance(0.3));
      const lineSerial = this.lineSerial++;
      const identifier = `${amazonOrderId}-${lineProduct.msku}-${lineSerial.toString(36).padStart(6, "0")}`;
      const line = {
        small_image_url: `https://m.media-amazon.com/images/I/${rng.chars(11, ALNUM)}._SL75_.jpg`,
        item_name: lineProduct.item_name,
        local_sku: lineProduct.local_sku,
        local_name: lineProduct.local_name,
        asin: lineProduct.asin,
        asin_url: `${shop.site}/dp/${lineProduct.asin}`,
        msku: lineProduct.msku,
      };
      if (rng.chance(0.15)) {
        line.asin = ""; // as in the seed's second line
        line.asin_url = "";
      }
      if (rng.chance(0.3)) line.fid = rng.chars(13, UPPER_ALNUM);
      Object.assign(line, {
        after_type: afterType,
        after_time: formatZoneTime(afterTime, shop.zone),
        data_update_time: formatChinaTime(updateTime),
        after_interval: `${intervalDays}天`,
      });
      if (refunds) {
        const refund = amount(100, 8000);
        const details = split(rng, refund, rng.int(1, 3));
        const types = ["Principal", "ShippingCharge", "Goodwill", "Tax"];
        totalRefund += refund;
        hasRefund = true;
        line.refund_amount = money(refund, decimals, shop.symbol, true);
        line.refund_amount_details = details.map((part, i) => ({ type: types[i], amount: money(part, decimals, shop.symbol, true) }));
        if (rng.chance(0.7)) {
          const cost = amount(5, 300);
          const costTypes = ["Commission", "ShippingHB", "RefundCommission"];
          totalCost += cost;
          hasCost = true;
          line.refund_cost = money(cost, decimals, shop.symbol, false);
          line.refund_cost_details = split(rng, cost, rng.int(1, 2)).map((part, i) => ({ type: costTypes[i], amount: money(part, decimals, shop.symbol, false) }));
        } else {
          line.refund_cost = "";
        }
      } else {
        line.refund_amount = "";
        line.refund_cost = "";
        line.refund_currency_icon = "";
      }
      const isReturn = afterType === "退货";
      Object.assign(line, {
        after_quantity: rng.int(1, 3),
        after_reason: afterType === "换货" ? "CR-DEFECTIVE" : rng.pick(AMAZON_RETURN_REASONS),
        return_status: isReturn ? rng.pick(["Approved", "Closed", "Pending", "Unit returned to inventory"]) : "",
        inventory_attributes: isReturn ? rng.pick(["SELLABLE", "DEFECTIVE", ""]) : "",
        lpn_number: isReturn && rng.chance(0.5) ? `LPN${rng.chars(9, UPPER_ALNUM)}` : "",
        buyers_note: rng.pick(["", "", "自动化备注", "Wrong size", "Arrived damaged"]),
        rma_order_number: isReturn ? `D${rng.chars(7, ALNUM)}RMA` : "",
        carriers: isReturn ? rng.pick(CARRIERS) : "",
        waybill_number: isReturn ? rng.digits(22) : "",
        exchange_order_number: afterType === "换货" ? this.amazonOrderId(shop) : "",
        md5: md5Hex(`md5|${identifier}`),
        md5_new: md5Hex(`md5_new|${identifier}`),
      });
      if (withIdentifier) line.item_identifier = identifier;
      line.md5_v2 = md5Hex(`md5_v2|${identifier}`);
      if (rng.chance(0.5)) line.orderDateYear = new Date(purchase * 1000).getUTCFullYear();
      if (rng.chance(0.5)) line.row_index = index + 1;
      return line;
    });
    const orderTotalCents = rng.int(500, 30000);
    const symbol = shop.symbol;
    const wire = {
      id: this.recordId(),
      asin: product.asin,
      msku: product.msku,
      amazon_order_id: amazonOrderId,
      sid: shop.sid,
      purchase_time: formatZoneTime(purchase, shop.zone),
      deal_time: formatZoneTime(deal, shop.zone),
      gmt_modified: lines[0].data_update_time,
      correlation_id: rng.int(1, 5),
      interval_days: intervalDays,
      is_mcf_order: rng.pick([0, 1, 1, 1, 2]),
      seller_country: shop.seller_country,
      delivery_type: rng.pick(["FBA", "FBA", "FBM"]),
      order_total_amount: money(orderTotalCents, 2, symbol, false),
      order_total_amount_currency_code: symbol,
      order_total_amount_number: money(orderTotalCents, 2, "", false),
      total_refund_amount: hasRefund ? money(totalRefund, decimals, symbol, true) : "",
      total_refund_amount_currency_code: symbol,
      total_refund_amount__number: hasRefund ? money(totalRefund, decimals, "", true) : "", // sic: seed 003's key
      total_refund_cost: hasCost ? money(totalCost, decimals, symbol, false) : "",
      total_refund_cost_currency_code: symbol,
      total_refund_cost_number: hasCost ? money(totalCost, decimals, "", false) : "",
      after_type_tag: [...new Set(pattern)],
      item_list: lines,
    };
    return { wire };
  }

  /** Record ids are not unique upstream: about one record in five reuses a recent id. */
  recordId() {
    const id = this.lastIds.length > 0 && this.rng.chance(0.2) ? this.rng.pick(this.lastIds) : this.nextId++;
    this.lastIds.push(id);
    if (this.lastIds.length > 5) this.lastIds.shift();
    return id;
  }
}

// ---------------------------------------------------------------- wechat

export const WECHAT_ORDER_STATUSES = [10, 15, 16, 17, 20, 21, 30, 100, 200, 250];
export const WECHAT_AFTERSALE_STATUSES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14];
const WECHAT_IN_PROGRESS = new Set([0, 2, 3, 6, 8, 11, 12]);
const WECHAT_FINISHED = new Set([13, 14]);
const WECHAT_PRODUCTS = [
  { product_id: 234245, sku_id: 23424, title: "健身环大冒险", attrs: [["颜色", "红蓝主机"]], price: 2000 },
  { product_id: 310021, sku_id: 4410021, title: "无线蓝牙耳机 Pro", attrs: [["颜色", "白色"], ["版本", "降噪版"]], price: 39900 },
  { product_id: 310022, sku_id: 4410035, title: "保温杯 500ml", attrs: [["容量", "500ml"]], price: 8900 },
  { product_id: 310023, sku_id: 4410040, title: "纯棉T恤", attrs: [["尺码", "L"], ["颜色", "藏青"]], price: 9900 },
  { product_id: 310024, sku_id: 4410052, title: "有机绿茶 250g", attrs: [["规格", "罐装"]], price: 6800 },
  { product_id: 310025, sku_id: 4410063, title: "儿童绘本套装（10册）", attrs: [], price: 15800 },
];
const WECHAT_REFUND_REASONS = ["不想要了", "拍错/多拍", "商品质量问题", "少件/漏发", "七天无理由退货", ""];
const WECHAT_NOTES = ["", "", "Fat Shun Fung", "请周末送货", "不要放快递柜"];
const WECHAT_MERCHANT_NOTES = ["", "", "Insufficient stock, cancel", "已补发赠品", "VIP 客户"];

/**
 * Which typo'd keys an order's documents use. `policy` is the typoKeys option: true (always the
 * seeds' literal typos), false (never), or "alternate" (by the bits of the order's index, so
 * every combination occurs).
 */
export function wechatTypos(policy, index) {
  const bit = (n) => (policy === "alternate" ? ((index >> n) & 1) === 1 : policy === true);
  return {
    aftersaleInfos: bit(0), // "aftersale_Infos "
    aftersaleProductInfos: bit(1), // "product_Infos " in after-sale records
    craeteTime: bit(0), // "craete_time"
    orderDetail: bit(1), // "order_detail "
    orderProductInfos: bit(2), // "product_Infos " and "Title" in the order
    aftersaleDetail: bit(3), // "aftersale_detail "
    addressKeys: bit(4), // "user_Name " and "Tel_number"
  };
}

/**
 * WeChat orders: each has an openid, 0–3 after-sales (seed 000 shape) and the order document of
 * seed 002. order_id is a 19-digit number, as WeChat's are: a BigInt here, a bare number on the wire.
 */
export class WechatGenerator {
  constructor(seed, range = DEFAULT_DATE_RANGE, typoPolicy = "alternate") {
    this.rng = new Rng(hashSeed(seed, "wechat"));
    this.range = range;
    this.typoPolicy = typoPolicy;
    this.index = 0;
    this.aftersaleSerial = 0;
    this.comboSerial = 0;
    this.orderIds = new Set();
    this.combos = [1, 2, 3].flatMap((type) => WECHAT_AFTERSALE_STATUSES.map((status) => ({ type, status })));
  }

  next() {
    const { rng } = this;
    const index = this.index++;
    const status = index < WECHAT_ORDER_STATUSES.length ? WECHAT_ORDER_STATUSES[index] : rng.pick([20, 21, 30, 30, 100, 100, 100, 200, 15, 10]);
    let orderId;
    do orderId = BigInt(`37${rng.digits(17)}`);
    while (this.orderIds.has(orderId));
    this.orderIds.add(orderId);
    const outOrderId = `SIMO${String(index + 1).padStart(6, "0")}${rng.hex(6)}`;
    const openid = `o${rng.chars(27, ALNUM)}`;
    const created = randomMoment(rng, this.range, CHINA_OFFSET);
    const paid = status !== 10 && status !== 250;
    const payTime = created + rng.int(10, 600);
    const shipped = [21, 30, 100, 200].includes(status);
    const deliveryTime = payTime + rng.int(HOUR, 3 * DAY);
    const doneTime = deliveryTime + rng.int(DAY, 5 * DAY);

    const products = [];
    for (let n = rng.int(1, 3); products.length < n; ) {
      const p = rng.pick(WECHAT_PRODUCTS);
      if (!products.some((q) => q.product.product_id === p.product_id)) products.push({ product: p, count: rng.int(1, 5) });
    }
    const productPrice = products.reduce((s, { product, count }) => s + product.price * count, 0);
    const freight = rng.pick([0, 0, 500, 1000]);
    const discounted = rng.chance(0.3) ? Math.floor(productPrice * rng.int(5, 20) / 100) : 0;
    const orderPrice = productPrice + freight - discounted;

    const aftersaleCount = paid ? (status === 200 ? rng.int(1, 3) : rng.int(0, 3)) : 0;
    const aftersales = [];
    for (let a = 0; a < aftersaleCount; a++) {
      const serial = this.aftersaleSerial++;
      // Order status 200 means every item came back; the others walk every (type, status) pair first.
      const combo = status === 200 ? { type: rng.int(1, 2), status: rng.pick([13, 14]) } : this.nextCombo();
      const line = products[a % products.length];
      const count = rng.int(1, line.count);
      aftersales.push({
        ...combo,
        line,
        count,
        id: `40${String(serial).padStart(6, "0")}${rng.digits(8)}`,
        created: (shipped ? deliveryTime : payTime) + rng.int(HOUR, 3 * DAY),
        refund: combo.type === 3 ? 0 : Math.min(orderPrice, line.product.price * count),
      });
    }
    const lastEvent = Math.max(created, paid ? payTime : 0, shipped ? deliveryTime : 0, status === 100 ? doneTime : 0, ...aftersales.map((a) => a.created));
    const facts = { index, status, orderId, outOrderId, openid, created, updated: lastEvent, paid, payTime, shipped, deliveryTime, doneTime, products, productPrice, freight, discounted, orderPrice, aftersales };
    const typos = wechatTypos(this.typoPolicy, index);
    return {
      index,
      orderId,
      outOrderId,
      openid,
      aftersaleIds: aftersales.map((a) => a.id),
      aftersaleListKey: typos.aftersaleInfos ? "aftersale_Infos " : "aftersale_infos",
      aftersaleRecords: aftersales.map((a, i) => this.aftersaleRecord(facts, a, i, typos)),
      order: this.orderDocument(facts, typos),
    };
  }

  nextCombo() {
    const serial = this.comboSerial++;
    return serial < this.combos.length ? this.combos[serial] : { type: this.rng.int(1, 3), status: this.rng.pick(WECHAT_AFTERSALE_STATUSES) };
  }

  aftersaleRecord(facts, a, position, typos) {
    const { rng } = this;
    const record = {
      out_order_id: facts.outOrderId,
      openid: facts.openid,
      type: a.type,
      create_time: formatChinaTime(a.created),
      path: `/pages/order.html?out_order_id=${facts.outOrderId}`,
      status: a.status,
      refund: a.refund,
      [typos.aftersaleProductInfos ? "product_Infos " : "product_infos"]: [
        { out_product_id: String(a.line.product.product_id), out_sku_id: String(a.line.product.sku_id), product_cnt: a.count },
      ],
      aftersale_id: a.id,
    };
    // "out_aftersale_id ... with aftersale_id choose two": the merchant's own id is not always set.
    if ((facts.index + position) % 4 !== 3) record.out_aftersale_id = `sim_as_${a.id.slice(-8)}`;
    record.refund_reason = rng.pick(WECHAT_REFUND_REASONS);
    if (a.type !== 1) record.refund_address = "广东省广州市海珠区泰通路1号 陈先生 020-24534252";
    record.orderamt = facts.orderPrice;
    return record;
  }

  orderDocument(f, typos) {
    const { rng } = this;
    const productKey = typos.orderProductInfos ? "product_Infos " : "product_infos";
    const productInfos = f.products.map(({ product, count }) => {
      const of = (set) => f.aftersales.filter((a) => a.line.product === product && set.has(a.status)).reduce((s, a) => s + a.count, 0);
      return {
        product_id: product.product_id,
        sku_id: product.sku_id,
        sku_cnt: count,
        on_aftersale_sku_cnt: of(WECHAT_IN_PROGRESS),
        finish_aftersale_sku_cnt: of(WECHAT_FINISHED),
        [typos.orderProductInfos ? "Title" : "title"]: product.title,
        thumb_img: `https://mmecimage.cn/p/wx_sim/${product.product_id}_${rng.hex(8)}.jpg`,
        sku_attrs: product.attrs.map(([attr_key, attr_value]) => ({ attr_key, attr_value })),
        sale_price: product.price,
      };
    });
    const payInfo = { pay_method: "微信支付", prepay_id: `wx${rng.digits(20)}`, prepay_time: formatChinaTime(f.created + 5) };
    if (f.paid) Object.assign(payInfo, { transaction_id: `42000${rng.digits(23)}`, pay_time: formatChinaTime(f.payTime) });
    const deliveryInfo = { delivery_method: "express" };
    if (f.shipped) {
      deliveryInfo.delivery_time = formatChinaTime(f.deliveryTime);
      deliveryInfo.delivery_product_info = {
        waybill_id: rng.digits(13),
        delivery_id: rng.pick(["STO", "SF", "YTO", "ZTO", "YD", "JD"]),
        [productKey]: f.products.map(({ product, count }) => ({ product_id: product.product_id, sku_id: product.sku_id, product_cnt: count })),
      };
    }
    deliveryInfo.address_info = {
      [typos.addressKeys ? "user_Name " : "user_name"]: rng.pick(["陈先生", "李女士", "王小明", "Mr. Chen"]),
      postal_code: rng.digits(6),
      province_name: "广东省",
      city_name: "广州市",
      county_name: "海珠区",
      detail_info: `泰通路${rng.int(1, 200)}号`,
      national_code: "440105",
      [typos.addressKeys ? "Tel_number" : "tel_number"]: `1${rng.digits(10)}`,
    };
    deliveryInfo.express_fee = [{ shipping_method: "ShippingMethod_Express", distance: 0 }];
    deliveryInfo.offline_delivery_time = 0;
    deliveryInfo.offline_pickup_time = 0;
    if (f.status === 100) deliveryInfo.ship_done_time = String(f.doneTime); // unix seconds, as a string
    const inProgress = f.aftersales.filter((a) => WECHAT_IN_PROGRESS.has(a.status)).length;
    return {
      order_id: f.orderId,
      out_order_id: f.outOrderId,
      status: f.status,
      [typos.craeteTime ? "craete_time" : "create_time"]: formatChinaTime(f.created),
      update_time: formatChinaTime(f.updated),
      [typos.orderDetail ? "order_detail " : "order_detail"]: {
        [productKey]: productInfos,
        pay_info: payInfo,
        price_info: {
          product_price: f.productPrice,
          order_price: f.orderPrice,
          freight: f.freight,
          discounted_price: f.discounted,
          is_discounted: f.discounted > 0,
        },
        delivery_info: deliveryInfo,
      },
      [typos.aftersaleDetail ? "aftersale_detail " : "aftersale_detail"]: {
        aftersale_order_list: f.aftersales.map((a) => ({ aftersale_order_id: Number(a.id) })),
        on_aftersale_order_cnt: inProgress,
      },
      openid: f.openid,
      ext_info: { customer_notes: rng.pick(WECHAT_NOTES), merchant_notes: rng.pick(WECHAT_MERCHANT_NOTES) },
    };
  }
}

/** Generators and initial datasets for every platform. */
export function generateDataset({ seed = 1, records = 300, wechatOrders = 50, dateRange = DEFAULT_DATE_RANGE, typoKeys = "alternate" } = {}) {
  const generators = {
    wechat: new WechatGenerator(seed, dateRange, typoKeys),
    xiaoe: new XiaoeGenerator(seed, dateRange),
    lingxing: new LingxingGenerator(seed, dateRange),
  };
  const take = (generator, n) => Array.from({ length: n }, () => generator.next());
  return {
    generators,
    wechat: take(generators.wechat, wechatOrders),
    xiaoe: take(generators.xiaoe, records),
    lingxing: take(generators.lingxing, records),
  };
}
