// Types of `aftersale/client`: the normalized model of SPEC.md §2, the proxy's page and error
// shapes of §3 and the client of §5. `aftersale` (index.d.ts) re-exports all of it. Written by
// hand next to js/client.js; tests/node/package.test.mjs fails when a runtime export of either
// entry has no declaration here, or a declaration no export.

// ---------------------------------------------------------------- the normalized model

/** The five upstreams. */
export type Platform = "wechat_shop" | "wechat_store" | "xiaoe" | "lingxing" | "wechat_channels";

/** What the buyer asked for. */
export type Kind = "refund" | "return_refund" | "exchange";

/** Where an after-sale stands, in one vocabulary for every upstream. */
export type Status =
  | "pending"
  | "processing"
  | "awaiting_buyer_return"
  | "awaiting_merchant_receipt"
  | "refunding"
  | "awaiting_merchant_shipment"
  | "awaiting_buyer_receipt"
  | "completed"
  | "rejected"
  | "cancelled"
  | "closed"
  | "unknown";

/** Status of a WeChat Mini Store order. */
export type OrderStatus =
  | "unpaid"
  | "paid"
  | "awaiting_shipment"
  | "partially_shipped"
  | "shipped"
  | "completed"
  | "cancelled"
  | "unknown";

/**
 * RFC 3339 with an offset (`"2023-02-13T18:34:18+08:00"`; Lingxing's site times carry their
 * marketplace's offset, `"2023-02-16T23:50:50-08:00"`), or without one only where the zone cannot
 * be known (a Lingxing record of an unknown marketplace: `"2023-02-16T23:50:50"`).
 */
export type Timestamp = string;

/** An amount: ISO 4217 code, integer minor units (rounded half-even), and every digit as given. */
export interface Money {
  /** ISO 4217 code, e.g. `"CNY"`, `"USD"`. */
  currency: string;
  /** Minor units (fen, cents); a safe integer. */
  minor: number;
  /** The exact decimal, e.g. `"10.00"` or Lingxing's `"4.700000"`. */
  decimal: string;
}

export interface Item {
  product_id: string | null;
  sku_id: string | null;
  name: string | null;
  quantity: number | null;
  unit_price: Money | null;
  image_url: string | null;
  sku_info: string | null;
}

export interface Buyer {
  openid: string | null;
  user_id: string | null;
  nickname: string | null;
}

export interface ReturnLogistics {
  carrier: string | null;
  waybill_id: string | null;
}

/** One after-sale, normalized. */
export interface AfterSale {
  /** `platform + ":" + aftersale_id`: stable, unique across platforms. */
  id: string;
  platform: Platform;
  /** The upstream's after-sale id (for Lingxing the line's item_identifier or md5_v2). */
  aftersale_id: string;
  order_id: string | null;
  /** The merchant's own order id. */
  out_order_id: string | null;
  kind: Kind;
  status: Status;
  /** The upstream says the merchant is overdue (Xiaoe status codes 3 and 12; a WeChat Channels deadline passed). */
  overdue: boolean;
  /** The upstream's status exactly as given; null only when the record has none. */
  status_raw: number | string | null;
  /** What the buyer gets back (never negative). */
  refund: Money | null;
  /** What the buyer asked for. */
  requested: Money | null;
  items: Item[];
  reason: string | null;
  buyer_note: string | null;
  merchant_note: string | null;
  buyer: Buyer;
  return_logistics: ReturnLogistics | null;
  exchange_order_id: string | null;
  created_at: Timestamp | null;
  updated_at: Timestamp | null;
  refunded_at: Timestamp | null;
  /** The upstream record as it came: present only when asked for (`includeRaw`). */
  raw?: unknown;
}

export interface OrderItem extends Item {
  on_aftersale_quantity: number | null;
  finished_aftersale_quantity: number | null;
}

export interface OrderPrice {
  product_price: Money | null;
  order_price: Money | null;
  freight: Money | null;
  discounted_price: Money | null;
  is_discounted: boolean | null;
}

export interface Payment {
  method: string | null;
  prepay_id: string | null;
  transaction_id: string | null;
  prepaid_at: Timestamp | null;
  paid_at: Timestamp | null;
}

export interface ShippedItem {
  product_id: string | null;
  sku_id: string | null;
  quantity: number | null;
}

export interface Delivery {
  method: string | null;
  shipping_method: string | null;
  carrier: string | null;
  waybill_id: string | null;
  shipped_items: ShippedItem[];
  delivered_at: Timestamp | null;
  ship_done_at: Timestamp | null;
}

export interface Address {
  name: string | null;
  phone: string | null;
  postal_code: string | null;
  province: string | null;
  city: string | null;
  county: string | null;
  detail: string | null;
  national_code: string | null;
}

/** A WeChat Mini Store order with its after-sale references. */
export interface Order {
  /** `"wechat_store:" + order_id`. */
  id: string;
  platform: Platform;
  order_id: string;
  out_order_id: string | null;
  status: OrderStatus;
  status_raw: number | string | null;
  items: OrderItem[];
  price: OrderPrice;
  payment: Payment | null;
  delivery: Delivery | null;
  address: Address | null;
  /** The ids of the order's after-sales, for `Client.orderAfterSales` or the upstream. */
  aftersale_ids: string[];
  buyer: Buyer;
  buyer_note: string | null;
  merchant_note: string | null;
  created_at: Timestamp | null;
  updated_at: Timestamp | null;
  raw?: unknown;
}

// ---------------------------------------------------------------- errors

/** The error codes of the proxy's HTTP interface, shared by every error this package throws. */
export type ErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "forbidden"
  | "forbidden_origin"
  | "not_found"
  | "rate_limited"
  | "upstream_auth"
  | "upstream_error"
  | "upstream_unavailable"
  | "internal";

/** An upstream's own error, as the upstream gave it. */
export interface UpstreamErrorInfo {
  platform: Platform;
  /** The upstream's code as text (`"42001"`, `"2001003"`). */
  code: string;
  message: string;
}

/**
 * What every function of this package throws (or rejects with). Two exceptions: a call cancelled
 * through its `signal` rejects with the signal's reason, as `fetch` does, and what an
 * `onProgress` callback throws passes through unchanged.
 */
export interface AftersaleError extends Error {
  name: "AftersaleError";
  code: ErrorCode;
  /** The proxy's HTTP status, for errors the proxy answered. */
  status?: number;
  /** The upstream's own error, when the failure came from one; otherwise null. */
  upstream: UpstreamErrorInfo | null;
  /** Seconds the proxy asked to wait (`Retry-After`) when the client stopped retrying. */
  retryAfter?: number;
}

/** Whether `value` is an error thrown by this package. */
export function isAftersaleError(value: unknown): value is AftersaleError;

// ---------------------------------------------------------------- the proxy client

export interface ClientOptions {
  /** The proxy's base URL, e.g. `"https://proxy.example"` (routes are appended to it). */
  endpoint: string;
  /** Sent as `Authorization: Bearer <apiKey>`; leave out for a local sandbox proxy without keys. */
  apiKey?: string;
  /**
   * A buyer session (from `POST /v1/sessions` or `Client.signIn`), sent like a key: the client
   * then reads that buyer's records only (`myAfterSales`, `myOrder`). Not with `apiKey`.
   */
  session?: string;
  /** The `fetch` to send requests with; defaults to the global one. Called with a `Request`. */
  fetch?: (request: Request) => Promise<Response>;
  /** Retries of 429, 5xx and unreachable answers, honoring `Retry-After`. 0–10, default 3. */
  maxRetries?: number;
}

export type DateField = "created" | "updated" | "refunded";

export interface Progress {
  /** Records delivered so far (each counted once). */
  fetched: number;
  /** The proxy's count of records for the whole query, where the upstream gives one. */
  total: number | null;
}

/** `GET /v1/aftersales`. Dates are China-time days, the range half-open: [from, to). */
export interface ListQuery {
  /**
   * One platform (live from its upstream, or from the mirror with `source: "mirror"`), or
   * `"all"` / several (an array or a comma-separated string), which the proxy's mirror answers.
   */
  platform: Platform | "all" | readonly Platform[] | string;
  /** Where one platform's page comes from; several or `"all"` are always the mirror. */
  source?: "mirror" | "live";
  /** `YYYY-MM-DD`, included. Required for a live query; the mirror takes an open range. */
  from?: string;
  /** `YYYY-MM-DD`, excluded. Required for a live query. */
  to?: string;
  /** Mirror only: the buyer's openid. */
  openid?: string;
  /** Mirror only: searches order ids, the after-sale id and product names. */
  q?: string;
  /** Which time `from`/`to` filter on; the proxy's default is `created`. */
  dateField?: DateField;
  /** Only these statuses. */
  status?: Status | readonly Status[];
  /** Only these kinds. */
  kind?: Kind | readonly Kind[];
  orderId?: string;
  /** Records per page, 1–100 (the proxy's default is 50). */
  limit?: number;
  /** A `next_cursor` from a previous page of the same query. */
  cursor?: string;
  /** Attach each upstream record under `raw`. */
  includeRaw?: boolean;
  /** Cancels the call (and any wait between retries); it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** `iterate` and `export` only: called after every page or run; what it throws ends the iteration, unchanged. */
  onProgress?: (progress: Progress) => void;
}

/** One page of `GET /v1/aftersales`. */
export interface Page {
  data: AfterSale[];
  /** Pass as `cursor` for the next page; null after the last. */
  next_cursor: string | null;
  total: number | null;
  /** `"mirror"` on a page read from the mirror (the proxy's D1 copy). */
  source?: "mirror" | "live";
  /** A mirror page: per platform, the watermark of its last sync (null: never synced). */
  synced_at?: Record<string, Timestamp | null>;
}

export interface SignInOptions {
  endpoint: string;
  /** The code `wx.login()` gave. */
  code: string;
  /** Which sign-in (default `"wechat"`: `POST /v1/sessions/wechat`). */
  kind?: string;
  platform?: Platform;
  /** The session's lifetime in seconds, at most 3600. */
  ttlS?: number;
  fetch?: (request: Request) => Promise<Response>;
  signal?: AbortSignal;
}

export interface SignedIn {
  session: string;
  platform: Platform;
  openid?: string;
  user_id?: string;
  expires_in: number;
  expires_at: Timestamp;
}

export interface MyAfterSalesQuery {
  from?: string;
  to?: string;
  status?: Status | readonly Status[];
  kind?: Kind | readonly Kind[];
  orderId?: string;
  limit?: number;
  /** A `next_cursor` of a previous page: sent alone (it carries its query). */
  cursor?: string;
  signal?: AbortSignal;
}

/** One entry of the mirror's change feed: the record as it is now, with its place in the feed. */
export type Change = AfterSale & { seq: number; change: "created" | "updated" };

export interface ChangesOptions {
  /** The last `seq` already seen (0, the default: from the start). */
  after?: number;
  platform?: Platform | "all" | readonly Platform[] | string;
  /** Changes per request, 1–1000. */
  limit?: number;
  signal?: AbortSignal;
  /** Called after every page with how many changes arrived and the last `seq`. */
  onProgress?: (progress: { fetched: number; lastSeq: number }) => void;
}

export interface SummaryQuery {
  from: string;
  to: string;
  platform?: Platform | "all" | readonly Platform[] | string;
  dateField?: DateField;
  signal?: AbortSignal;
}

/** One group of the summary: its key (a platform, status, kind, currency or China-time day). */
export interface SummaryGroup {
  key: string | null;
  count: number;
  /** The refunds of the group in one currency (a group spanning several currencies has a row each). */
  refund: { currency: string; minor: number } | null;
}

export interface Summary {
  by_platform: SummaryGroup[];
  by_status: SummaryGroup[];
  by_kind: SummaryGroup[];
  by_currency: SummaryGroup[];
  by_day: SummaryGroup[];
  /** Per China-time day and platform (one row per currency, as in the other groups), oldest day first. */
  by_day_platform: SummaryDayPlatform[];
}

/** One day of one platform in the summary, in one refund currency. */
export interface SummaryDayPlatform {
  /** `YYYY-MM-DD`, China time. */
  day: string;
  platform: Platform;
  count: number;
  refund: { currency: string; minor: number } | null;
}

/** What one `POST /v1/sync` did for a platform. */
export interface SyncProgress {
  caught_up: boolean;
  pages: number;
  records: number;
  watermark: Timestamp | null;
  /** Another run holds this platform's lease: left alone this time. */
  busy: boolean;
  error: string | null;
}

export interface SyncResult {
  /** Every platform caught up: no need to call again now. */
  done: boolean;
  platforms: Record<string, SyncProgress>;
}

export interface SyncStatus {
  watermark: Timestamp | null;
  lag_s: number | null;
  last_run: Timestamp | null;
  in_progress: boolean;
  last_error: string | null;
  rows: number;
}

export interface OrderOptions {
  /** Default `"wechat_store"`, the platform the route serves. */
  platform?: Platform;
  /** Attach the upstream order as it came, under `raw`. */
  includeRaw?: boolean;
  signal?: AbortSignal;
}

export type OrderAfterSalesOptions = {
  /** Default `"wechat_shop"`, the platform the route serves. */
  platform?: Platform;
  /** Attach each upstream after-sale as it came, under `raw`. */
  includeRaw?: boolean;
  signal?: AbortSignal;
} & ({ openid: string; outOrderId?: string } | { openid?: string; outOrderId: string });

export class Client {
  /** @throws {AftersaleError} `invalid_request` for bad options. */
  constructor(options: ClientOptions);
  /** One page of after-sales. */
  list(query: ListQuery): Promise<Page>;
  /** Every after-sale of the query, following `next_cursor`; each record once, by `id`. */
  iterate(query: ListQuery): AsyncGenerator<AfterSale, void, undefined>;
  /**
   * `GET /v1/aftersales/export`: every after-sale of the query from the proxy's NDJSON stream,
   * following its continuation lines (`{"continue":"<cursor>"}`) until the last line
   * `{"done":true,"count":N}`. One request per run instead of one per page. `platform: "all"`,
   * several, or one with `source: "mirror"` export the proxy's mirror, ordered by `id`: each
   * row once even while a sync changes rows.
   */
  export(query: ListQuery): AsyncGenerator<AfterSale, void, undefined>;
  /** `GET /v1/orders/{orderId}`: a WeChat Mini Store order. */
  order(orderId: string | number | bigint, options?: OrderOptions): Promise<Order>;
  /** `GET /v1/orders/{orderId}/aftersales`: the after-sales of one WeChat transaction-component order. */
  orderAfterSales(orderId: string | number | bigint, options: OrderAfterSalesOptions): Promise<AfterSale[]>;
  /** Signs a mini program's buyer in with the code of `wx.login()`; no key needed. */
  static signIn(options: SignInOptions): Promise<SignedIn>;
  /** `GET /v1/me/aftersales`: the session's buyer's after-sales, newest first, one page. */
  myAfterSales(query?: MyAfterSalesQuery): Promise<Page>;
  /** One of the session buyer's orders: its after-sales, or (Mini Store) the order itself. */
  myOrder(orderId: string | number | bigint, options?: { outOrderId?: string; signal?: AbortSignal }): Promise<AfterSale[] | Order>;
  /** The session's platform and buyer as its token says (not verified here), or null. */
  readonly session: { platform: Platform; buyer: string; expiresAt: string | null } | null;
  /** `GET /v1/changes`: every change of the mirror after `after`, oldest first, each once. */
  changes(options?: ChangesOptions): AsyncGenerator<Change, void, undefined>;
  /** `GET /v1/summary`: counts and refund totals, computed in the mirror's database. */
  summary(query: SummaryQuery): Promise<Summary>;
  /** `GET /v1/sync/status`: the mirror's sync, per platform. */
  syncStatus(options?: { signal?: AbortSignal }): Promise<Record<string, SyncStatus>>;
  /** `POST /v1/sync`: one sync invocation, within the proxy's budget; call again until `done`. */
  sync(options?: { platform?: Platform; signal?: AbortSignal }): Promise<SyncResult>;
}

/** Platforms, statuses and kinds the client accepts, in SPEC.md §2's order. */
export const PLATFORMS: readonly Platform[];
export const STATUSES: readonly Status[];
export const KINDS: readonly Kind[];

