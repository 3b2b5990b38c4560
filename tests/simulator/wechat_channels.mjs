// WeChat Channels shop (微信小店, api.weixin.qq.com/channels/ec): the shop's own tokens, the
// after-sales list and detail, and the signed, encrypted pushes of channels_ec_aftersale_update.
// Written from ../shared/upstreams/wechat_channels.md only (section numbers below are its own);
// where that document marks a behaviour unknown [U], the choice here is a configurable default.
// Every API answer is HTTP 200 with errcode/errmsg, as WeChat does.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import { ALNUM, CHINA_OFFSET, Rng, hashSeed, parseDate, randomMoment } from "./data.mjs";
import { ControlError, readBody, sendJson } from "./util.mjs";

const HOUR = 3600;
const DAY = 86400;

// ---------------------------------------------------------------- configuration

/**
 * Behaviour where the facts document is silent or sources disagree (§12, §13). `aftersales`,
 * `types` and `extraStatuses` shape the generated data (options only); the rest can also be
 * changed at run time with the fault `{wechatChannels: {...}}`.
 */
export const CHANNELS_DEFAULTS = Object.freeze({
  aftersales: 300,
  types: Object.freeze(["REFUND", "RETURN", "EXCHANGE"]), // RESHIP is [U]: opt in
  extraStatuses: Object.freeze([]), // status strings beyond §5.5, to exercise "unknown"
  pageSize: 10, // [U] not documented, not settable
  maxWindowSeconds: 86400, // §4.1: end - begin <= 24 h
  windowEnd: "inclusive", // [U] "inclusive": begin <= t <= end; "exclusive": begin <= t < end
  lastPageNextKey: "cursor", // [U] on has_more:false: "cursor" (a key past the end), "empty" (""), "absent"
  notFoundErrcode: 10021050, // §12.4 [U]: 10021050 or 10020000
  deadline: "timestamp", // §13: "timestamp" (unix s), "remaining" (seconds left), "alternate" (by id parity)
  wrongSecretErrcode: 40001, // §12.1: 40001 (or 40125 [U])
  tokenTtlSeconds: 7200,
  tokenRotateSeconds: 300, // §2.3: a stable token is replaced in its last 5 minutes
  classicGraceSeconds: 300, // §2.2 [U]: a new classic token leaves the previous one 5 minutes
  forceRefreshMinGapSeconds: 30,
  forceRefreshPerDay: 20,
  forceRefreshTooSoon: "current", // §2.3 "otherwise no refresh": the current token; or an errcode to answer
  rateLimit: Object.freeze({ limit: 600, windowMs: 60_000 }), // [U] §9 publishes none; 45011 beyond
  dailyQuota: null, // {limit}: per endpoint per China day, 45009 beyond
  vipDiscount: "nested", // §13 wxa_vip_discounted_price in pushes: "nested", "top", "none"
  staleSeconds: 600, // how old `stale: true` makes a push's timestamp
  pushRetryDelaysMs: Object.freeze([0, 10_000, 60_000, 300_000]), // §10.5 [U]: first try, then retries
});
const DATA_KEYS = new Set(["aftersales", "types", "extraStatuses"]);
const ALL_TYPES = new Set(["REFUND", "RETURN", "EXCHANGE", "RESHIP"]);

const isInt = (v) => Number.isInteger(v);
const isCount = (v) => Number.isInteger(v) && v >= 0;
const fail = (message) => {
  throw new ControlError(`wechatChannels.${message}`);
};

/** Merges `given` into `base` after checking every key; throws a ControlError naming the bad one. */
export function mergeChannelsConfig(base, given, { runtime = false } = {}) {
  if (given === undefined) return structuredClone(base);
  if (!given || typeof given !== "object" || Array.isArray(given)) fail("config must be an object");
  const next = structuredClone(base);
  for (const [key, value] of Object.entries(given)) {
    if (!(key in CHANNELS_DEFAULTS)) fail(`${key} is not a setting`);
    if (runtime && DATA_KEYS.has(key)) fail(`${key} shapes the data: give it to startSimulator, not as a fault`);
    const ok = {
      aftersales: () => isCount(value),
      types: () => Array.isArray(value) && value.length > 0 && value.every((t) => ALL_TYPES.has(t)),
      extraStatuses: () => Array.isArray(value) && value.every((s) => typeof s === "string" && s !== ""),
      pageSize: () => isInt(value) && value >= 1,
      maxWindowSeconds: () => isInt(value) && value >= 1,
      windowEnd: () => ["inclusive", "exclusive"].includes(value),
      lastPageNextKey: () => ["cursor", "empty", "absent"].includes(value),
      notFoundErrcode: () => isInt(value) && value !== 0,
      deadline: () => ["timestamp", "remaining", "alternate"].includes(value),
      wrongSecretErrcode: () => isInt(value) && value !== 0,
      tokenTtlSeconds: () => isInt(value) && value >= 2,
      tokenRotateSeconds: () => isCount(value),
      classicGraceSeconds: () => isCount(value),
      forceRefreshMinGapSeconds: () => isCount(value),
      forceRefreshPerDay: () => isCount(value),
      forceRefreshTooSoon: () => value === "current" || (isInt(value) && value !== 0),
      rateLimit: () => value && isInt(value.limit) && value.limit >= 1 && Number.isFinite(value.windowMs) && value.windowMs > 0,
      dailyQuota: () => value === null || (value && isInt(value.limit) && value.limit >= 0),
      vipDiscount: () => ["nested", "top", "none"].includes(value),
      staleSeconds: () => isInt(value) && value >= 1,
      pushRetryDelaysMs: () => Array.isArray(value) && value.length >= 1 && value.every((ms) => Number.isFinite(ms) && ms >= 0),
    }[key]();
    if (!ok) fail(`${key}: ${JSON.stringify(value)} is not allowed (see README.md)`);
    next[key] = structuredClone(value);
  }
  return next;
}

// ---------------------------------------------------------------- push cryptography (§10)

/** §10.4 step 1: the 43-character EncodingAESKey plus "=" is the Base64 of the 32-byte AES key. */
export function aesKeyOf(encodingAESKey) {
  if (typeof encodingAESKey !== "string" || !/^[A-Za-z0-9+/]{43}$/.test(encodingAESKey)) {
    throw new Error("EncodingAESKey must be 43 Base64 characters");
  }
  return Buffer.from(`${encodingAESKey}=`, "base64"); // Node ignores the 2 spare bits of the 43rd char
}

/** hex(sha1(concat(sort(parts)))): msg_signature with Encrypt, the URL check's signature without (§10.2, §10.3). */
export function wechatSignature(...parts) {
  return createHash("sha1").update([...parts].map(String).sort().join("")).digest("hex");
}

const BLOCK = 32; // §10.4 step 4: PKCS#7 to 32-byte blocks, not AES's 16

/** §10.5: Base64(AES-256-CBC(key, IV = key[0:16], pkcs7_32(random16 ‖ uint32be(len) ‖ msg ‖ appid))). */
export function encryptPush({ message, appid, encodingAESKey, random = randomBytes(16) }) {
  const key = aesKeyOf(encodingAESKey);
  const rand = Buffer.isBuffer(random) ? random : Buffer.from(random, "latin1");
  if (rand.length !== 16) throw new Error("random must be 16 bytes");
  const msg = Buffer.from(message, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(msg.length);
  const plain = Buffer.concat([rand, length, msg, Buffer.from(appid, "utf8")]);
  const pad = BLOCK - (plain.length % BLOCK); // a whole block of 32 when already aligned
  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString("base64");
}

/** §10.4, strictly: returns {random, message, appid} or throws saying what is wrong. */
export function decryptPush({ encrypt, encodingAESKey }) {
  const key = aesKeyOf(encodingAESKey);
  const data = Buffer.from(String(encrypt), "base64");
  if (data.length === 0 || data.length % BLOCK !== 0) throw new Error(`ciphertext is ${data.length} bytes, not a multiple of ${BLOCK}`);
  const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16)).setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(data), decipher.final()]);
  const pad = plain[plain.length - 1];
  if (pad < 1 || pad > BLOCK || !plain.subarray(plain.length - pad).every((b) => b === pad)) throw new Error("bad PKCS#7 padding");
  const full = plain.subarray(0, plain.length - pad);
  if (full.length < 20) throw new Error("plaintext shorter than random16 + length");
  const length = full.readUInt32BE(16);
  if (20 + length > full.length) throw new Error(`message length ${length} runs past the plaintext`);
  return {
    random: full.subarray(0, 16),
    message: full.subarray(20, 20 + length).toString("utf8"),
    appid: full.subarray(20 + length).toString("utf8"),
  };
}

// ---------------------------------------------------------------- vocabulary (§5.5, §5.6, §5.7)

/** §5.5, in its order (1–23). */
export const CHANNELS_STATUSES = Object.freeze([
  "USER_CANCELD", "MERCHANT_PROCESSING", "MERCHANT_REJECT_REFUND", "MERCHANT_REJECT_RETURN", "USER_WAIT_RETURN",
  "RETURN_CLOSED", "MERCHANT_WAIT_RECEIPT", "MERCHANT_OVERDUE_REFUND", "MERCHANT_REFUND_SUCCESS", "MERCHANT_RETURN_SUCCESS",
  "PLATFORM_REFUNDING", "PLATFORM_REFUND_FAIL", "USER_WAIT_CONFIRM", "MERCHANT_REFUND_RETRY_FAIL", "MERCHANT_FAIL",
  "USER_WAIT_CONFIRM_UPDATE", "USER_WAIT_HANDLE_MERCHANT_AFTER_SALE", "WAIT_PACKAGE_INTERCEPT", "MERCHANT_REJECT_EXCHANGE",
  "MERCHANT_REJECT_RESHIP", "USER_WAIT_RECEIPT", "MERCHANT_EXCHANGE_SUCCESS", "PLATFORM_PROCESSING",
]);
const REFUND_ONLY = ["MERCHANT_PROCESSING", "USER_CANCELD", "MERCHANT_REJECT_REFUND", "PLATFORM_REFUNDING", "MERCHANT_REFUND_SUCCESS",
  "MERCHANT_OVERDUE_REFUND", "PLATFORM_REFUND_FAIL", "MERCHANT_REFUND_RETRY_FAIL", "MERCHANT_FAIL", "USER_WAIT_CONFIRM",
  "USER_WAIT_CONFIRM_UPDATE", "USER_WAIT_HANDLE_MERCHANT_AFTER_SALE", "WAIT_PACKAGE_INTERCEPT", "PLATFORM_PROCESSING"];
/** Which statuses each type goes through (the flows of §5.5). */
export const STATUSES_BY_TYPE = Object.freeze({
  REFUND: REFUND_ONLY,
  RETURN: [...REFUND_ONLY, "USER_WAIT_RETURN", "RETURN_CLOSED", "MERCHANT_WAIT_RECEIPT", "MERCHANT_REJECT_RETURN", "MERCHANT_RETURN_SUCCESS"],
  EXCHANGE: ["MERCHANT_PROCESSING", "USER_CANCELD", "USER_WAIT_RETURN", "MERCHANT_WAIT_RECEIPT", "MERCHANT_REJECT_EXCHANGE",
    "MERCHANT_REJECT_RESHIP", "USER_WAIT_RECEIPT", "MERCHANT_EXCHANGE_SUCCESS", "MERCHANT_FAIL", "USER_WAIT_CONFIRM_UPDATE"],
  RESHIP: ["MERCHANT_PROCESSING", "USER_CANCELD", "USER_WAIT_RECEIPT", "MERCHANT_FAIL"],
});
/** One step of the §5.5 flows, for changes made during a walk; absent: nothing follows. */
const NEXT_STATUS = {
  REFUND: { MERCHANT_PROCESSING: "PLATFORM_REFUNDING", PLATFORM_REFUNDING: "MERCHANT_REFUND_SUCCESS", PLATFORM_REFUND_FAIL: "PLATFORM_REFUNDING",
    MERCHANT_OVERDUE_REFUND: "PLATFORM_REFUNDING", USER_WAIT_CONFIRM: "PLATFORM_REFUNDING", USER_WAIT_CONFIRM_UPDATE: "MERCHANT_PROCESSING",
    USER_WAIT_HANDLE_MERCHANT_AFTER_SALE: "MERCHANT_PROCESSING", WAIT_PACKAGE_INTERCEPT: "PLATFORM_REFUNDING", PLATFORM_PROCESSING: "MERCHANT_PROCESSING" },
  RETURN: { MERCHANT_PROCESSING: "USER_WAIT_RETURN", USER_WAIT_RETURN: "MERCHANT_WAIT_RECEIPT", MERCHANT_WAIT_RECEIPT: "PLATFORM_REFUNDING",
    PLATFORM_REFUNDING: "MERCHANT_RETURN_SUCCESS", PLATFORM_REFUND_FAIL: "PLATFORM_REFUNDING", MERCHANT_OVERDUE_REFUND: "PLATFORM_REFUNDING",
    USER_WAIT_CONFIRM: "PLATFORM_REFUNDING", USER_WAIT_CONFIRM_UPDATE: "MERCHANT_PROCESSING", USER_WAIT_HANDLE_MERCHANT_AFTER_SALE: "MERCHANT_PROCESSING",
    WAIT_PACKAGE_INTERCEPT: "PLATFORM_REFUNDING", PLATFORM_PROCESSING: "MERCHANT_PROCESSING" },
  EXCHANGE: { MERCHANT_PROCESSING: "USER_WAIT_RETURN", USER_WAIT_RETURN: "MERCHANT_WAIT_RECEIPT", MERCHANT_WAIT_RECEIPT: "USER_WAIT_RECEIPT",
    USER_WAIT_RECEIPT: "MERCHANT_EXCHANGE_SUCCESS", USER_WAIT_CONFIRM_UPDATE: "MERCHANT_PROCESSING" },
  RESHIP: { MERCHANT_PROCESSING: "USER_WAIT_RECEIPT", USER_WAIT_RECEIPT: "MERCHANT_FAIL" },
};
const FINISHED = new Set(["USER_CANCELD", "RETURN_CLOSED", "MERCHANT_REFUND_SUCCESS", "MERCHANT_RETURN_SUCCESS", "MERCHANT_REFUND_RETRY_FAIL",
  "MERCHANT_FAIL", "MERCHANT_EXCHANGE_SUCCESS", "MERCHANT_REJECT_REFUND", "MERCHANT_REJECT_RETURN", "MERCHANT_REJECT_EXCHANGE", "MERCHANT_REJECT_RESHIP"]);
const REJECTED = new Set(["MERCHANT_REJECT_REFUND", "MERCHANT_REJECT_RETURN", "MERCHANT_REJECT_EXCHANGE", "MERCHANT_REJECT_RESHIP"]);
const REFUND_STARTED = new Set(["PLATFORM_REFUNDING", "MERCHANT_REFUND_SUCCESS", "MERCHANT_RETURN_SUCCESS", "PLATFORM_REFUND_FAIL", "MERCHANT_REFUND_RETRY_FAIL"]);
const GOODS_SENT_BACK = new Set(["MERCHANT_WAIT_RECEIPT", "MERCHANT_RETURN_SUCCESS", "USER_WAIT_RECEIPT", "MERCHANT_EXCHANGE_SUCCESS", "MERCHANT_REJECT_RESHIP", "MERCHANT_REJECT_EXCHANGE"]);
const RETURN_REFUND_AFTER_RECEIPT = new Set(["PLATFORM_REFUNDING", "PLATFORM_REFUND_FAIL", "MERCHANT_OVERDUE_REFUND", "MERCHANT_REFUND_RETRY_FAIL"]);
const REPLACEMENT_SENT = new Set(["USER_WAIT_RECEIPT", "MERCHANT_EXCHANGE_SUCCESS"]);
/** §5.3: `deadline` exists only while the merchant must review or receive; how long each lasts is [U]. */
const DEADLINE_SECONDS = { MERCHANT_PROCESSING: 2 * DAY, MERCHANT_WAIT_RECEIPT: 7 * DAY };

const LEGACY_REASONS = [["INCORRECT_SELECTION", "拍错/多拍"], ["NO_LONGER_WANT", "不想要了"], ["NO_EXPRESS_INFO", "无快递信息"], ["EMPTY_PACKAGE", "包裹为空"],
  ["REJECT_RECEIVE_PACKAGE", "已拒签包裹"], ["NOT_DELIVERED_TOO_LONG", "快递长时间未送达"], ["NOT_MATCH_PRODUCT_DESC", "与商品描述不符"], ["QUALITY_ISSUE", "质量问题"],
  ["SEND_WRONG_GOODS", "卖家发错货"], ["THREE_NO_PRODUCT", "三无产品"], ["FAKE_PRODUCT", "假冒产品"], ["OTHERS", "其它"]];
const CODED_REASONS = [["10000000", "不想要了"], ["10000001", "缺货"], ["10000002", "拍错/多拍"], ["10000004", "地址/电话等信息填写错误"], ["10000005", "少件/漏发"],
  ["10000006", "卖家发错货"], ["10000007", "未收到商品"], ["10000008", "其他"], ["10000011", "与商品描述不符"], ["10000014", "双方协商一致退款"],
  ["10000015", "快递长时间未送达"], ["10000019", "7天无理由"], ["10000021", "质量问题"], ["10000040", "包装/商品破损/污渍/裂痕/变形"], ["10000043", "颜色/图案/款式与商品描述不符"]];
const PRODUCTS = [
  { title: "无线蓝牙耳机 Pro", price: 39900, skus: ["白色", "黑色"] },
  { title: "保温杯 500ml", price: 8900, skus: ["雾蓝", "米白"] },
  { title: "纯棉T恤", price: 9900, skus: ["L 藏青", "XL 藏青", "L 白"] },
  { title: "有机绿茶 250g", price: 6800, skus: ["罐装"] },
  { title: "儿童绘本套装（10册）", price: 15800, skus: ["套装"] },
  { title: "跑步鞋", price: 45900, skus: ["40", "41", "42", "43"] },
].map((p, i) => ({ ...p, productId: String(10000000800 + i * 137), skuIds: p.skus.map((_, j) => String(2300000000 + i * 1000 + j * 7)) }));
const CARRIERS = [["SF", "顺丰速运"], ["YTO", "圆通速递"], ["ZTO", "中通快递"], ["YD", "韵达速递"], ["JD", "京东物流"], ["OTHER", "其他"]];
const DESCS = ["", "尺码不合适", "收到的颜色不对", "外包装破损", "不想要了，请尽快处理", "商品有划痕，见图"];
const REJECT_TEXTS = ["商品已拆封影响二次销售", "退回商品与原商品不符", "超过售后期限", "买家未提供凭证"];

/** A 19-digit id above 2^53, as the decimal string WeChat sends (§0). */
const bigId = (rng, prefix) => `${prefix}${rng.digits(19 - prefix.length)}`;

/**
 * Deterministic Channels after-sales. Each record keeps its facts; `render` builds the wire
 * object of §5.3 from them, so a record that changes status stays self-consistent.
 */
export class ChannelsGenerator {
  constructor(seed, range, config) {
    this.rng = new Rng(hashSeed(seed, "wechat_channels"));
    this.range = range;
    this.types = config.types;
    this.extraStatuses = config.extraStatuses;
    this.ids = new Set();
    this.lastId = null;
    this.serial = 0;
    this.combos = this.types.flatMap((type) => [...STATUSES_BY_TYPE[type], ...this.extraStatuses].map((status) => ({ type, status })));
    const first = parseDate(range.from);
    const days = parseDate(range.to) - first;
    // A few busy days put many after-sales in one 24 h window, so windows need several pages.
    this.busyDays = [0.2, 0.5, 0.8].map((f) => first + Math.min(days - 1, Math.floor(days * f)));
  }

  newId() {
    let id;
    // One id in eight is its predecessor + 1: the two are one float apart only beyond 2^53's precision.
    if (this.lastId !== null && this.rng.chance(0.125)) id = (BigInt(this.lastId) + 1n).toString();
    else id = bigId(this.rng, "19");
    while (this.ids.has(id)) id = bigId(this.rng, "19");
    this.ids.add(id);
    this.lastId = id;
    return id;
  }

  /** A creation time: mostly uniform, some on busy days, some exactly at China midnight. */
  createTime() {
    const { rng } = this;
    const r = rng.next();
    if (r < 0.15) return rng.pick(this.busyDays) * DAY - CHINA_OFFSET + rng.int(10 * HOUR, 14 * HOUR);
    if (r < 0.2) return rng.int(parseDate(this.range.from), parseDate(this.range.to) - 1) * DAY - CHINA_OFFSET;
    return randomMoment(rng, this.range, CHINA_OFFSET);
  }

  /**
   * The next record. `at` may force times: {create_time, update_time} (unix seconds). A given
   * `status`/`type` overrides the walk through every (type, status) pair.
   */
  next({ at = {}, status, type } = {}) {
    const { rng } = this;
    const serial = this.serial++;
    const combo = serial < this.combos.length ? this.combos[serial] : { type: rng.pick(this.types), status: null };
    const kind = type ?? combo.type;
    const state = status ?? combo.status ?? rng.pick(STATUSES_BY_TYPE[kind]);
    const created = at.create_time ?? (at.update_time !== undefined ? at.update_time - rng.int(0, 2 * DAY) : this.createTime());
    let updated = at.update_time;
    if (updated === undefined) {
      updated = state === "MERCHANT_PROCESSING" && rng.chance(0.5) ? created : created + rng.int(60, 5 * DAY);
      const midnight = Math.ceil((created + CHINA_OFFSET) / DAY) * DAY - CHINA_OFFSET;
      if (rng.chance(0.05) && midnight >= created) updated = midnight; // on a window boundary
    }
    const product = rng.pick(PRODUCTS);
    const skuIndex = rng.int(0, product.skus.length - 1);
    const count = rng.int(1, 3);
    const [reason, reasonText] = rng.chance(0.4) ? rng.pick(LEGACY_REASONS) : rng.pick(CODED_REASONS);
    const carrier = rng.pick(CARRIERS);
    const exchangeCarrier = rng.pick(CARRIERS);
    const facts = {
      id: this.newId(),
      orderId: bigId(rng, "37"),
      openid: `o${rng.chars(27, ALNUM)}`,
      unionid: rng.chance(0.5) ? `o${rng.chars(27, ALNUM)}` : null,
      type: kind,
      subType: kind === "REFUND" && rng.chance(0.1) ? "REFUND_PRICE_DIFF" : "DEFAULT",
      status: state,
      created,
      updated: Math.max(created, updated),
      product: {
        product_id: product.productId,
        sku_id: product.skuIds[skuIndex],
        count,
        ...(rng.chance(0.6) ? { sku_code: `SKU-${product.productId.slice(-4)}-${skuIndex}` } : {}),
        ...(kind === "REFUND" && rng.chance(0.3) ? { fast_refund: rng.chance(0.5) } : {}),
        ...(rng.chance(0.1) ? { gift_product_list: [{ product_id: PRODUCTS[0].productId, sku_id: PRODUCTS[0].skuIds[0], count: 1, sku_code: "GIFT-1" }] } : {}),
      },
      amount: kind === "EXCHANGE" || kind === "RESHIP" ? 0 : product.price * count - (rng.chance(0.2) ? rng.int(1, 999) : 0),
      reason,
      reasonText,
      desc: rng.pick(DESCS),
      receiveProduct: kind !== "REFUND" || rng.chance(0.3),
      mediaIds: Array.from({ length: rng.int(0, 2) }, () => `MEDIA_${rng.chars(24, ALNUM)}`),
      legacyProveImgs: rng.chance(0.1), // the 2022 name of media_id_list
      mediaInfos: rng.chance(0.2),
      telNumber: created < Date.UTC(2025, 3, 14) / 1000 ? "" : null, // field retired 2025-04-14
      vipDiscount: rng.chance(0.2) ? rng.int(1, 500) : 0,
      returnShip: { waybill_id: rng.digits(13), delivery_id: carrier[0], delivery_name: carrier[1], return_type: rng.pick([1, 1, 2]) },
      refundReason: rng.int(1, 11),
      rejectText: rng.pick(REJECT_TEXTS),
      complaintId: rng.chance(0.05) ? bigId(rng, "21") : null,
      virtualTel: rng.chance(0.15) ? { virtual_tel_number: `170${rng.digits(8)}-${rng.digits(4)}`, virtual_tel_expire_time: updated + 7 * DAY } : null,
      compensation: rng.chance(0.05) ? rng.int(100, 2000) : null,
      needOfflineRefund: rng.chance(0.5),
      fastExchange: rng.chance(0.2),
      exchange: kind === "EXCHANGE" ? {
        newSku: product.skuIds[(skuIndex + 1) % product.skuIds.length],
        ship: { waybill_id: rng.digits(12), delivery_id: exchangeCarrier[0], delivery_name: exchangeCarrier[1] },
        address: { user_name: `${rng.pick(["陈", "李", "王", "张"])}**`, postal_code: rng.digits(6), province_name: "广东省", city_name: "广州市",
          county_name: "海珠区", detail_info: "泰通路**号", national_code: "440105", tel_number: `1${rng.digits(2)}****${rng.digits(4)}`, house_number: "" },
      } : null,
      merchantUpdate: { merchant_update_type: rng.pick([1, 2, 3]), update_reason_type: rng.pick([6, 7]), merchant_update_desc: "已与买家协商，改为部分退款",
        old_after_sale_type: kind === "RETURN" ? 2 : 1, new_after_sale_type: 1 },
    };
    facts.merchantUpdate.old_after_sale_amount = facts.amount;
    facts.merchantUpdate.new_after_sale_amount = Math.floor(facts.amount / 2);
    facts.merchantUpdate.media_ids = [];
    return facts;
  }
}

/** The deadline as a unix timestamp, or null where §5.3 has none. */
export const deadlineAt = (facts) => (facts.status in DEADLINE_SECONDS ? facts.updated + DEADLINE_SECONDS[facts.status] : null);

/** The `after_sale_order` of §5.3/§5.8 for a record at `nowSeconds` (the remaining-seconds reading needs a now). */
export function renderAfterSale(f, { deadline = "timestamp", nowSeconds }) {
  const s = f.status;
  const sentBack = GOODS_SENT_BACK.has(s) || (f.type === "RETURN" && RETURN_REFUND_AFTER_RECEIPT.has(s));
  const details = { desc: f.desc, receive_product: f.receiveProduct, cancel_time: s === "USER_CANCELD" ? f.updated : 0, media_id_list: [...f.mediaIds] };
  if (f.legacyProveImgs) details.prove_imgs = [...f.mediaIds];
  if (f.mediaInfos) details.media_infos = f.mediaIds.map((id) => ({ media_type: 1, picture_media_id: id, video_media_id: "", video_play_length: 0 }));
  if (f.telNumber !== null) details.tel_number = f.telNumber;
  details.wxa_vip_discounted_price = f.vipDiscount;
  const refundInfo = { amount: f.amount };
  if (REFUND_STARTED.has(s)) Object.assign(refundInfo, { refund_reason: f.refundReason, platform_discount_return_amount: 0 });
  const wire = {
    after_sale_order_id: f.id,
    status: s,
    openid: f.openid,
    ...(f.unionid ? { unionid: f.unionid } : {}),
    order_id: f.orderId,
    product_info: structuredClone(f.product),
    details,
    refund_info: refundInfo,
    return_info: sentBack ? { ...f.returnShip } : { waybill_id: "", delivery_id: "", delivery_name: "" },
    merchant_upload_info: { reject_reason: REJECTED.has(s) ? f.rejectText : "", refund_certificates: [] },
    create_time: f.created,
    update_time: f.updated,
  };
  if (FINISHED.has(s)) wire.complete_time = f.updated;
  Object.assign(wire, { reason: f.reason, reason_text: f.reasonText });
  if (REFUND_STARTED.has(s)) wire.refund_resp = s === "PLATFORM_REFUND_FAIL" ? { code: "REFUND_FAIL", ret: 1, message: "退款失败" } : { code: "", ret: 0, message: "" };
  Object.assign(wire, { type: f.type, sub_type: f.subType });
  if (f.complaintId) wire.complaint_id = f.complaintId;
  const due = deadlineAt(f);
  if (due !== null) {
    const remaining = deadline === "remaining" || (deadline === "alternate" && BigInt(f.id) % 2n === 1n);
    wire.deadline = remaining ? Math.max(0, due - nowSeconds) : due;
  }
  if (f.exchange) {
    wire.exchange_product_info = {
      product_id: f.product.product_id, old_sku_id: f.product.sku_id, new_sku_id: f.exchange.newSku, product_cnt: f.product.count,
      old_sku_price: 0, new_sku_price: 0, old_sku_code: f.product.sku_code ?? "", new_sku_code: "",
    };
    if (REPLACEMENT_SENT.has(s)) wire.exchange_delivery_info = { ...f.exchange.ship, address_info: { ...f.exchange.address } };
    wire.exchange_info = { fast_exchange_info: { fast_exchange: f.fastExchange } };
  }
  if (f.virtualTel) wire.virtual_tel_num_info = { ...f.virtualTel };
  if (f.compensation !== null) wire.compensation_liability_amount = f.compensation;
  if (s === "USER_WAIT_CONFIRM_UPDATE") wire.merchant_update_detail = structuredClone(f.merchantUpdate);
  if (s === "PLATFORM_REFUND_FAIL") wire.need_offline_refund = f.needOfflineRefund;
  wire.gen_scene = 0;
  return wire;
}

// ---------------------------------------------------------------- the upstream

const rid = () => `${randomBytes(4).toString("hex")}-${randomBytes(4).toString("hex")}-${randomBytes(4).toString("hex")}`;
/** §0: error messages end with " rid: …". */
const err = (errcode, errmsg) => ({ errcode, errmsg: `${errmsg} rid: ${rid()}` });
const E = {
  invalidToken: () => err(40001, "invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r"),
  invalidAccessToken: () => err(40014, "invalid access_token"),
  tokenMissing: () => err(41001, "access_token missing"),
  expiredToken: () => err(42001, "access_token expired"),
  requirePost: () => err(43002, "require POST method"),
  requireGet: () => err(43001, "require GET method"),
  emptyBody: () => err(44002, "empty post data"),
  badJson: (why) => err(47001, `data format error${why ? `: ${why}` : ""}`),
  minuteQuota: () => err(45011, "api minute-quota reach limit  mustslower  retry next minute"),
  dailyQuota: () => err(45009, "reach max api daily quota limit"),
  frequency: () => err(30000, "Frequence limit overflow"),
  busy: () => err(-1, "system error"),
  window: () => err(10020004, "非法的时间区间，不得大于24小时"),
};
const TOKEN_ERRORS = { 42001: E.expiredToken, 40001: E.invalidToken, 40014: E.invalidAccessToken };
const THROTTLE_ERRORS = { 45011: E.minuteQuota, 45009: E.dailyQuota, 30000: E.frequency };
export const CHANNELS_TOKEN_ERRCODES = new Set(Object.keys(TOKEN_ERRORS).map(Number));
export const CHANNELS_THROTTLE_ERRCODES = new Set(Object.keys(THROTTLE_ERRORS).map(Number));

const LIST_PATH = "/channels/ec/aftersale/getaftersalelist";
const DETAIL_PATH = "/channels/ec/aftersale/getaftersaleorder";
const chinaDay = (ms) => Math.floor((ms / 1000 + CHINA_OFFSET) / DAY);
const compareKeys = (a, b) => (a.t !== b.t ? a.t - b.t : a.id === b.id ? 0 : BigInt(a.id) < BigInt(b.id) ? -1 : 1);

export function emptyChannelsTokens() {
  return { byToken: new Map(), latest: { classic: null, stable: null }, force: { lastAt: null, day: null, count: 0 } };
}

export function emptyChannelsStats() {
  return {
    tokenCalls: { classic: 0, stable: 0 },
    forceRefreshes: 0,
    forceRefreshIgnored: 0, // within the 30 s gap: the current token came back
    forceRefreshRefused: 0, // an error was answered (daily limit, or forceRefreshTooSoon as an errcode)
    listCalls: 0,
    detailCalls: 0,
    notFound: 0,
    windows: [], // every list call's body: {at, field, begin, end, span, next_key, errcode}
    maxWindowSeconds: 0,
    windowsOver24h: 0,
    mutations: [], // what channelsMutations did: {afterListCalls, added, changed, removed}
    pushes: [], // deliveries: {at, kind, url, status, attempt, error}
  };
}

/** The simulator's Channels store: records by id, plus the generator for new ones. */
export function createChannelsData(seed, range, config) {
  const generator = new ChannelsGenerator(seed, range, config);
  const records = new Map();
  for (let i = 0; i < config.aftersales; i++) {
    const f = generator.next();
    records.set(f.id, f);
  }
  return { generator, records, deleted: new Set() };
}

export function createWechatChannels(sim) {
  const creds = sim.options.credentials.wechat_channels;
  const tokens = () => sim.state.tokens.wechat_channels;
  const data = () => sim.state.data.wechat_channels;
  const config = () => sim.state.faults.wechatChannels;
  const stats = () => sim.state.stats.channels;
  const nowS = () => Math.floor(sim.now() / 1000);
  const render = (f) => renderAfterSale(f, { deadline: config().deadline, nowSeconds: nowS() });
  const pending = new Set(); // push retry timers, cleared on close
  const answer = (res, body) => sendJson(res, body);

  // ---------------------------------------------------------------- tokens (§2)

  function issue(kind) {
    const t = tokens();
    const token = randomBytes(64).toString("base64url").slice(0, 86); // WeChat tokens are long: reserve ≥512 chars (§2.3)
    t.byToken.set(token, { kind, expiresAt: sim.now() + config().tokenTtlSeconds * 1000, uses: 0 });
    t.latest[kind] = token;
    return token;
  }

  function usable(record) {
    const maxUses = sim.tokenMaxUses("wechat_channels");
    return !record.dead && sim.now() < record.expiresAt && !(maxUses !== null && record.uses >= maxUses);
  }

  function credentialError({ grant_type, appid, secret }) {
    if (grant_type !== "client_credential") return err(40002, "invalid grant_type");
    if (!appid) return err(41002, "appid missing");
    if (appid !== creds.appid) return err(40013, "invalid appid");
    if (!secret) return err(41004, "appsecret missing");
    if (secret !== creds.secret) {
      const code = config().wrongSecretErrcode;
      return code === 40001 ? E.invalidToken() : err(code, "invalid appsecret");
    }
    return null;
  }

  const msLeft = (token) => tokens().byToken.get(token).expiresAt - sim.now();
  const secondsLeft = (token) => Math.ceil(msLeft(token) / 1000); // a fresh token says 7200, not 7199

  /** GET /cgi-bin/token for the shop's appid: a fresh token each time; the previous keeps classicGraceSeconds. */
  async function classicToken(ctx) {
    stats().tokenCalls.classic += 1;
    if (ctx.method !== "GET") return answer(ctx.res, E.requireGet());
    const error = credentialError(Object.fromEntries(ctx.url.searchParams));
    if (error) {
      sim.count("authErrors", "wechat_channels");
      return answer(ctx.res, error);
    }
    const t = tokens();
    const previous = t.latest.classic && t.byToken.get(t.latest.classic);
    if (previous) previous.expiresAt = Math.min(previous.expiresAt, sim.now() + config().classicGraceSeconds * 1000);
    const token = issue("classic");
    sim.count("tokenFetches", "wechat_channels");
    answer(ctx.res, { access_token: token, expires_in: secondsLeft(token) });
  }

  /** POST /cgi-bin/stable_token for the shop's appid (§2.3). `ctx.bodyText` was read by the router. */
  async function stableToken(ctx) {
    stats().tokenCalls.stable += 1;
    if (ctx.method !== "POST") return answer(ctx.res, E.requirePost());
    if (ctx.bodyText.trim() === "") return answer(ctx.res, E.emptyBody());
    let body;
    try {
      body = JSON.parse(ctx.bodyText);
    } catch {
      return answer(ctx.res, E.badJson());
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) return answer(ctx.res, E.badJson());
    const error = credentialError(body);
    if (error) {
      sim.count("authErrors", "wechat_channels");
      return answer(ctx.res, error);
    }
    if (body.force_refresh !== undefined && typeof body.force_refresh !== "boolean") return answer(ctx.res, E.badJson("force_refresh must be a boolean"));
    const t = tokens();
    const cfg = config();
    const current = t.latest.stable && t.byToken.get(t.latest.stable);
    let token = current && usable(current) ? t.latest.stable : null;
    if (body.force_refresh === true) {
      const day = chinaDay(sim.now());
      if (t.force.day !== day) Object.assign(t.force, { day, count: 0 });
      const tooSoon = t.force.lastAt !== null && sim.now() - t.force.lastAt < cfg.forceRefreshMinGapSeconds * 1000;
      if (t.force.count >= cfg.forceRefreshPerDay) {
        stats().forceRefreshRefused += 1;
        return answer(ctx.res, E.dailyQuota());
      }
      if (tooSoon && cfg.forceRefreshTooSoon !== "current") {
        stats().forceRefreshRefused += 1;
        const code = cfg.forceRefreshTooSoon;
        return answer(ctx.res, (THROTTLE_ERRORS[code] ?? (() => err(code, "force refresh too frequent")))());
      }
      if (tooSoon) {
        stats().forceRefreshIgnored += 1; // "otherwise no refresh"
      } else {
        if (current) current.dead = true; // invalidated at once: 40001 from now on
        token = null;
        t.force.count += 1;
        t.force.lastAt = sim.now();
        stats().forceRefreshes += 1;
      }
    }
    // Normal mode: the same token until its last tokenRotateSeconds, then a new one; the old one
    // keeps the rest of its life (both valid during the overlap).
    const rotate = Math.min(cfg.tokenRotateSeconds, Math.floor(cfg.tokenTtlSeconds / 2));
    if (token === null || msLeft(token) < rotate * 1000) token = issue("stable");
    sim.count("tokenFetches", "wechat_channels");
    answer(ctx.res, { access_token: token, expires_in: secondsLeft(token) });
  }

  // ---------------------------------------------------------------- data calls

  /**
   * Method, injected faults, token, per-minute and daily limits, body. Returns {body, token} or
   * null once it has answered; `outcome.errcode` says what was answered.
   */
  function admit(ctx, text, endpointName, outcome) {
    const reject = (error) => {
      outcome.errcode = error.errcode;
      answer(ctx.res, error);
      return null;
    };
    if (ctx.method !== "POST") return reject(E.requirePost());
    const fault = ctx.fault;
    if (fault?.kind === "throttleBurst") {
      sim.count("throttled", "wechat_channels");
      return reject(THROTTLE_ERRORS[fault.errcode ?? 45011]());
    }
    if (fault?.kind === "busy") {
      sim.count("busy", "wechat_channels");
      return reject(E.busy());
    }
    const presented = ctx.url.searchParams.get("access_token");
    if (presented === null || presented === "") {
      sim.count("authErrors", "wechat_channels");
      return reject(E.tokenMissing());
    }
    const record = tokens().byToken.get(presented);
    if (fault?.kind === "tokenExpiry" && record) {
      // The token dies now, as if WeChat had expired or revoked it: a new fetch gets another.
      record.dead = true;
      sim.count("authErrors", "wechat_channels");
      return reject(TOKEN_ERRORS[fault.errcode ?? 42001]());
    }
    if (!record || !usable(record)) {
      sim.count("authErrors", "wechat_channels");
      const expired = record && !record.dead;
      return reject(expired ? E.expiredToken() : E.invalidToken());
    }
    const { limit, windowMs } = config().rateLimit;
    if (!sim.state.windows.channelsCalls.tryHit(sim.now(), limit, windowMs)) {
      sim.count("throttled", "wechat_channels");
      return reject(E.minuteQuota());
    }
    const quota = config().dailyQuota;
    if (quota) {
      const q = (sim.state.windows.channelsDaily[endpointName] ??= { day: null, used: 0 });
      const day = chinaDay(sim.now());
      if (q.day !== day) Object.assign(q, { day, used: 0 });
      if (q.used >= quota.limit) {
        sim.count("throttled", "wechat_channels");
        return reject(E.dailyQuota());
      }
      q.used += 1;
    }
    if (text.trim() === "") return reject(E.emptyBody());
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      return reject(E.badJson());
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) return reject(E.badJson("the body must be a JSON object"));
    return { body, token: record, reject };
  }

  function succeed(ctx, token, payload, outcome) {
    token.uses += 1;
    outcome.errcode = 0;
    sim.count("okCalls", "wechat_channels");
    answer(ctx.res, payload);
  }

  // ---------------------------------------------------------------- list (§4)

  const KEY_MAC_LENGTH = 12;
  const keyMac = (payload) => createHmac("sha256", `channels-next-key|${sim.options.seed}`).update(payload).digest("base64url").slice(0, KEY_MAC_LENGTH);
  /** Opaque next_key: the window and the last (time, id) served, with a MAC so edits are caught. */
  function encodeKey(query, cursor) {
    const payload = Buffer.from(JSON.stringify({ f: query.field, b: query.begin, e: query.end, t: cursor.t, i: cursor.id })).toString("base64url");
    return `${payload}.${keyMac(payload)}`;
  }
  function decodeKey(text) {
    const [payload, mac] = text.split(".");
    if (!payload || mac !== keyMac(payload)) return null;
    try {
      const k = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
      return { field: k.f, begin: k.b, end: k.e, t: k.t, id: k.i };
    } catch {
      return null;
    }
  }

  const FIELDS = { create: ["begin_create_time", "end_create_time"], update: ["begin_update_time", "end_update_time"] };
  const timeOf = (f, field) => (field === "create" ? f.created : f.updated);

  /** The window a list body asks for, or {error}. */
  function parseWindow(body) {
    const present = (name) => body[name] !== undefined && body[name] !== null;
    const pairs = Object.entries(FIELDS).filter(([, names]) => names.some(present));
    if (pairs.length === 0) return { error: E.badJson("begin_create_time/end_create_time or begin_update_time/end_update_time is required") };
    if (pairs.length === 2) return { error: E.badJson("send either the create_time pair or the update_time pair, not both") };
    const [field, [beginName, endName]] = pairs[0];
    for (const name of [beginName, endName]) {
      if (!present(name)) return { error: E.badJson(`${name} is missing (the pair goes together)`) };
      if (!Number.isSafeInteger(body[name]) || body[name] < 0) return { error: E.badJson(`${name} must be unix seconds (a non-negative integer)`) };
    }
    const begin = body[beginName];
    const end = body[endName];
    if (end < begin || end - begin > config().maxWindowSeconds) return { error: E.window(), field, begin, end };
    if (body.next_key !== undefined && typeof body.next_key !== "string") return { error: E.badJson("next_key must be a string"), field, begin, end };
    return { field, begin, end, nextKey: body.next_key || null };
  }

  const inWindow = (t, q) => t >= q.begin && (config().windowEnd === "inclusive" ? t <= q.end : t < q.end);
  const lastSecond = (q) => (config().windowEnd === "inclusive" ? q.end : q.end - 1);

  /** Every live record in the window, in the list's order: ascending by the field's time, then id. */
  function selectWindow(q) {
    const hits = [];
    for (const f of data().records.values()) {
      const t = timeOf(f, q.field);
      if (inWindow(t, q)) hits.push({ t, id: f.id, f });
    }
    return hits.sort(compareKeys);
  }

  async function list(ctx) {
    const text = ctx.method === "POST" ? await readBody(ctx.req) : (ctx.req.resume(), "");
    const outcome = { errcode: null };
    let window = null;
    try {
      window = serveList(ctx, text, outcome);
    } finally {
      logWindow(text, window, outcome.errcode);
    }
  }

  function logWindow(text, window, errcode) {
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      // logged with nulls
    }
    const b = body && typeof body === "object" ? body : {};
    const field = "begin_update_time" in b || "end_update_time" in b ? "update" : "begin_create_time" in b || "end_create_time" in b ? "create" : null;
    const [beginName, endName] = field ? FIELDS[field] : [];
    const begin = field ? (b[beginName] ?? null) : null;
    const end = field ? (b[endName] ?? null) : null;
    const span = typeof begin === "number" && typeof end === "number" ? end - begin : null;
    const entry = { at: sim.now(), field, begin, end, span, next_key: typeof b.next_key === "string" ? b.next_key : null, errcode, ids: window?.ids ?? null };
    if ("begin_create_time" in b && "begin_update_time" in b) entry.both = true;
    const s = stats();
    s.windows.push(entry);
    if (span !== null) s.maxWindowSeconds = Math.max(s.maxWindowSeconds, span);
    if (span !== null && span > 86400) s.windowsOver24h += 1;
  }

  function serveList(ctx, text, outcome) {
    stats().listCalls += 1;
    const admitted = admit(ctx, text, "getaftersalelist", outcome);
    if (!admitted) return null;
    const q = parseWindow(admitted.body);
    if (q.error) return void admitted.reject(q.error);
    let after = null;
    if (q.nextKey !== null) {
      const k = decodeKey(q.nextKey);
      if (!k) return void admitted.reject(E.badJson("next_key is not one this API issued"));
      if (k.field !== q.field || k.begin !== q.begin || k.end !== q.end) return void admitted.reject(E.badJson("next_key belongs to another time window"));
      after = { t: k.t, id: k.id };
    }
    const all = selectWindow(q);
    const rest = after ? all.filter((h) => compareKeys(h, after) > 0) : all;
    const page = rest.slice(0, config().pageSize);
    const hasMore = rest.length > page.length;
    const payload = { errcode: 0, errmsg: "ok", after_sale_order_id_list: page.map((h) => h.id), has_more: hasMore };
    const last = page.at(-1) ?? after;
    if (hasMore) payload.next_key = encodeKey(q, last);
    else if (config().lastPageNextKey === "cursor") payload.next_key = encodeKey(q, { t: lastSecond(q) + 1, id: "0" }); // past the end: an empty page
    else if (config().lastPageNextKey === "empty") payload.next_key = "";
    succeed(ctx, admitted.token, payload, outcome);
    mutateAfter(q, page, hasMore, last);
    return { ids: page.length };
  }

  // ---------------------------------------------------------------- mutations during a walk

  /**
   * channelsMutations: right after the N-th successful list call has been answered, change the
   * store so that a correct walker (dedupe by id, keep the detail it fetched last, skip ids whose
   * detail is gone, drop details whose time left the window) still ends equal to the truth:
   *  - remove: the last ids of that page are deleted (their detail is now "not found");
   *  - change: its first ids advance one status step; by update time their update_time moves
   *    ahead of the cursor in this window (listed again later) or, on a last page, into the next
   *    24 h; by create time only update_time grows;
   *  - add: new records whose time of the walk's field lies ahead of the cursor in this window,
   *    or in the next 24 h when the page was the window's last.
   */
  function mutateAfter(q, page, hasMore, last) {
    const s = stats();
    const calls = (sim.state.channelsListOk = (sim.state.channelsListOk ?? 0) + 1);
    for (const m of sim.state.faults.channelsMutations) {
      if (m.fired || m.afterListCalls !== calls) continue;
      m.fired = true;
      const rng = data().generator.rng;
      const lastS = lastSecond(q);
      const cursorT = last ? last.t : q.begin - 1;
      const aheadTime = () => (hasMore && cursorT < lastS ? rng.int(cursorT + 1, lastS) : rng.int(lastS + 1, lastS + DAY));
      const removed = page.slice(Math.max(0, page.length - m.remove)).map((h) => h.id);
      for (const id of removed) deleteRecord(id);
      const changed = page.filter((h) => !removed.includes(h.id)).slice(0, m.change).map((h) => h.id);
      for (const id of changed) {
        const f = data().records.get(id);
        const time = q.field === "update" ? aheadTime() : Math.max(f.updated, f.created) + rng.int(60, HOUR);
        transition(f, { update_time: Math.max(time, f.updated) });
      }
      const added = [];
      for (let i = 0; i < m.add; i++) {
        const t = aheadTime();
        const f = data().generator.next({ at: q.field === "create" ? { create_time: t, update_time: t + rng.int(0, HOUR) } : { update_time: t } });
        data().records.set(f.id, f);
        added.push(f.id);
        announce(f);
      }
      s.mutations.push({ afterListCalls: m.afterListCalls, field: q.field, begin: q.begin, end: q.end, removed, changed, added });
    }
  }

  function deleteRecord(id) {
    const existed = data().records.delete(id);
    if (existed) data().deleted.add(id);
    return existed;
  }

  /** One step along §5.5 (or to `status`), update_time to `update_time` (default: now, never backwards). */
  function transition(f, { status, update_time } = {}) {
    const next = status ?? NEXT_STATUS[f.type]?.[f.status];
    if (next) f.status = next;
    else if (!f.complaintId) f.complaintId = bigId(data().generator.rng, "21"); // terminal: a dispute opens instead
    f.updated = Math.max(f.created, update_time ?? Math.max(f.updated + 1, nowS()));
    if (f.virtualTel) f.virtualTel.virtual_tel_expire_time = f.updated + 7 * DAY;
    announce(f);
    return f;
  }

  // ---------------------------------------------------------------- detail (§5)

  async function detail(ctx) {
    const text = ctx.method === "POST" ? await readBody(ctx.req) : (ctx.req.resume(), "");
    stats().detailCalls += 1;
    const outcome = { errcode: null };
    const admitted = admit(ctx, text, "getaftersaleorder", outcome);
    if (!admitted) return;
    const id = admitted.body.after_sale_order_id;
    if (id === undefined || id === null || id === "") return admitted.reject(E.badJson("after_sale_order_id is required"));
    if (typeof id !== "string") return admitted.reject(E.badJson("after_sale_order_id must be a string"));
    const f = data().records.get(id);
    if (!f) {
      stats().notFound += 1;
      return admitted.reject(err(config().notFoundErrcode, "售后单不存在"));
    }
    succeed(ctx, admitted.token, { errcode: 0, errmsg: "ok", after_sale_order: render(f) }, outcome);
  }

  // ---------------------------------------------------------------- pushes (§10)

  /** The §10.8 message for a record (or the given fields). */
  function eventMessage(f, { status, createTime, vipDiscount = config().vipDiscount } = {}) {
    const update = { status: status ?? f.status, after_sale_order_id: f.id, order_id: f.orderId };
    const message = { ToUserName: creds.user_name, FromUserName: creds.push_openid, CreateTime: createTime, MsgType: "event", Event: "channels_ec_aftersale_update", finder_shop_aftersale_status_update: update };
    if (vipDiscount === "nested") update.wxa_vip_discounted_price = f.vipDiscount;
    if (vipDiscount === "top") message.wxa_vip_discounted_price = f.vipDiscount;
    return message;
  }

  /**
   * Builds a push exactly as WeChat sends it (§10.3, §10.5). Options: after_sale_order_id (default:
   * the first record), status, message (object or string: sent instead), timestamp, nonce, stale,
   * appid / token / encoding_aes_key (override what is used to seal it), random (16 bytes as a
   * latin1 string), tamper: "msg_signature" | "encrypt" (changed after signing) | "ciphertext"
   * (changed, then signed again: the signature holds, decryption fails).
   */
  function buildPush(o = {}) {
    if (o.tamper !== undefined && !["msg_signature", "encrypt", "ciphertext"].includes(o.tamper)) throw new ControlError('tamper must be "msg_signature", "encrypt" or "ciphertext"');
    const token = o.token ?? creds.push_token;
    const key = o.encoding_aes_key ?? creds.encoding_aes_key;
    const appid = o.appid ?? creds.appid;
    const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000) - (o.stale ? config().staleSeconds : 0));
    const nonce = String(o.nonce ?? randomBytes(5).readUIntBE(0, 5) % 10_000_000_000);
    let message = o.message;
    if (message === undefined) {
      const id = o.after_sale_order_id ?? data().records.keys().next().value;
      const f = data().records.get(id);
      if (!f) throw new ControlError(`after_sale_order_id ${JSON.stringify(id)} is not in the store`);
      message = eventMessage(f, { status: o.status, createTime: Number(timestamp) });
    }
    const messageText = typeof message === "string" ? message : JSON.stringify(message);
    let encrypt;
    try {
      const random = o.random === undefined ? undefined : Buffer.from(o.random, "latin1");
      encrypt = encryptPush({ message: messageText, appid, encodingAESKey: key, random });
    } catch (error) {
      throw new ControlError(error.message);
    }
    const flip = (b64) => {
      const bytes = Buffer.from(b64, "base64");
      bytes[bytes.length - 1] ^= 0x01;
      return bytes.toString("base64");
    };
    if (o.tamper === "ciphertext") encrypt = flip(encrypt);
    let msgSignature = wechatSignature(token, timestamp, nonce, encrypt);
    if (o.tamper === "encrypt") encrypt = flip(encrypt);
    if (o.tamper === "msg_signature") msgSignature = (msgSignature[0] === "0" ? "1" : "0") + msgSignature.slice(1);
    const fromUser = typeof message === "object" && message.FromUserName ? message.FromUserName : creds.push_openid;
    const query = { signature: wechatSignature(token, timestamp, nonce), timestamp, nonce, openid: fromUser, encrypt_type: "aes", msg_signature: msgSignature };
    const body = { ToUserName: creds.user_name, Encrypt: encrypt };
    return { query, search: `?${new URLSearchParams(query)}`, body, bodyText: JSON.stringify(body), message: messageText };
  }

  /** The URL check of §10.2: GET ?signature&timestamp&nonce&echostr, answered with echostr. */
  function buildVerify(o = {}) {
    const token = o.token ?? creds.push_token;
    const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000) - (o.stale ? config().staleSeconds : 0));
    const nonce = String(o.nonce ?? randomBytes(4).readUInt32BE(0));
    const echostr = String(o.echostr ?? randomBytes(8).readBigUInt64BE(0));
    let signature = wechatSignature(token, timestamp, nonce);
    if (o.tamper) signature = (signature[0] === "0" ? "1" : "0") + signature.slice(1);
    const query = { signature, timestamp, nonce, echostr };
    return { query, search: `?${new URLSearchParams(query)}` };
  }

  const withSearch = (url, search) => (url.includes("?") ? `${url}&${search.slice(1)}` : `${url}${search}`);
  function checkUrl(url) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      throw new ControlError("url must be an absolute http URL");
    }
    if (parsed.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname)) throw new ControlError("url must be http on loopback (tests stay on 127.0.0.1)");
    return url;
  }

  async function deliver(kind, url, push, attempt = 0) {
    const started = Date.now();
    const entry = { at: started, kind, url, attempt, status: null, body: null, error: null };
    try {
      const res = await fetch(withSearch(url, push.search), {
        method: kind === "verify" ? "GET" : "POST",
        headers: kind === "verify" ? {} : { "content-type": "application/json" },
        body: kind === "verify" ? undefined : push.bodyText,
        signal: AbortSignal.timeout(5000), // §10.5: WeChat waits 5 s
      });
      entry.status = res.status;
      entry.body = await res.text();
    } catch (error) {
      entry.error = String(error.message ?? error);
    }
    entry.ms = Date.now() - started;
    stats().pushes.push(entry);
    return entry;
  }

  /** Automatic pushes (§12.5): every transition is announced to the push target, if one is set. */
  function announce(f) {
    const url = sim.state.channelsPushTarget;
    if (!url) return;
    const push = buildPush({ after_sale_order_id: f.id });
    const delays = config().pushRetryDelaysMs;
    const attempt = (n) => {
      const timer = setTimeout(async () => {
        pending.delete(timer);
        const entry = await deliver("push", url, push, n);
        // §10.5: retried on HTTP failure or timeout only, not on the reply text.
        if ((entry.status === null || entry.status >= 500 || entry.status === 408) && n + 1 < delays.length && sim.state.channelsPushTarget === url) attempt(n + 1);
      }, delays[n]);
      pending.add(timer);
    };
    attempt(0);
  }

  // ---------------------------------------------------------------- control

  /** Query of the truth: from/to (China dates, half-open) or begin/end (unix s, half-open); date_field created|updated. */
  function truth(q = {}) {
    if (q.after_sale_order_id !== undefined) {
      const f = data().records.get(String(q.after_sale_order_id));
      return f ? [render(f)] : [];
    }
    const fieldName = q.date_field ?? q.date_type ?? "created";
    const field = { created: "create", create: "create", create_time: "create", updated: "update", update: "update", update_time: "update" }[fieldName];
    if (!field) throw new ControlError("date_field must be created or updated");
    const bound = (name, date, fallback) => {
      if (q[name] !== undefined && q[name] !== "") {
        const n = Number(q[name]);
        if (!Number.isSafeInteger(n)) throw new ControlError(`${name} must be unix seconds`);
        return n;
      }
      if (q[date] !== undefined && q[date] !== "") {
        const day = parseDate(q[date]);
        if (day === null) throw new ControlError(`${date} must be a YYYY-MM-DD date`);
        return day * DAY - CHINA_OFFSET;
      }
      return fallback;
    };
    const begin = bound("begin", "from", -Infinity);
    const end = bound("end", "to", Infinity);
    const hits = [];
    for (const f of data().records.values()) {
      const t = timeOf(f, field);
      if (t >= begin && t < end) hits.push({ t, id: f.id, f });
    }
    return hits.sort(compareKeys).map((h) => render(h.f));
  }

  const findRecord = (id) => {
    const f = data().records.get(String(id));
    if (!f) throw new ControlError(`after_sale_order_id ${JSON.stringify(id)} is not in the store`);
    return f;
  };

  const control = {
    "/__sim/wechat_channels/push": {
      method: "POST",
      async fn(body) {
        const push = buildPush(body);
        if (body.url === undefined) return push;
        return { ...push, delivered: await deliver("push", checkUrl(body.url), push) };
      },
    },
    "/__sim/wechat_channels/verify": {
      method: "POST",
      async fn(body) {
        const check = buildVerify(body);
        if (body.url === undefined) return check;
        const delivered = await deliver("verify", checkUrl(body.url), check);
        return { ...check, delivered: { ...delivered, echoed: delivered.body === check.query.echostr } };
      },
    },
    "/__sim/wechat_channels/push_target": {
      method: "POST",
      fn(body) {
        sim.state.channelsPushTarget = body.url === null || body.url === undefined ? null : checkUrl(body.url);
        return { url: sim.state.channelsPushTarget };
      },
    },
    "/__sim/wechat_channels/transition": {
      method: "POST",
      fn(body) {
        const f = findRecord(body.after_sale_order_id);
        if (body.status !== undefined && typeof body.status !== "string") throw new ControlError("status must be a string");
        if (body.update_time !== undefined && !Number.isSafeInteger(body.update_time)) throw new ControlError("update_time must be unix seconds");
        return { after_sale_order: render(transition(f, body)) };
      },
    },
    "/__sim/wechat_channels/delete": {
      method: "POST",
      fn(body) {
        findRecord(body.after_sale_order_id);
        deleteRecord(String(body.after_sale_order_id));
        return { deleted: String(body.after_sale_order_id) };
      },
    },
    "/__sim/wechat_channels/windows": {
      method: "GET",
      fn() {
        const s = stats();
        return { windows: structuredClone(s.windows), maxWindowSeconds: s.maxWindowSeconds, windowsOver24h: s.windowsOver24h };
      },
    },
  };

  return {
    routes: [
      { path: LIST_PATH, endpoint: "wechat_channels_list", handler: list, readsBodyOnFault: true },
      { path: DETAIL_PATH, endpoint: "wechat_channels_detail", handler: detail },
    ],
    classicToken,
    stableToken,
    control,
    truth,
    /** Logs the window of a list call that an injected 5xx answered before the handler ran. */
    async logFaulted(ctx, status) {
      logWindow(await readBody(ctx.req), null, `http ${status}`);
    },
    add(n, at) {
      const added = [];
      for (let i = 0; i < n; i++) {
        const f = data().generator.next({ at });
        data().records.set(f.id, f);
        added.push(render(f));
        announce(f);
      }
      return added;
    },
    close() {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
    },
  };
}
