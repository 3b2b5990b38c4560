// Types of `aftersale`: everything of `aftersale/client` (client.d.ts: the model, errors and the
// proxy client) plus the normalizers and the Lingxing sign, the wasm exports of www/src/lib.rs.
// tests/node/package.test.mjs fails when an export has no declaration, or a declaration no export.

export * from "./client.js";
import type { AfterSale, Order, Platform } from "./client.js";

// ---------------------------------------------------------------- normalization

export interface NormalizeOptions {
  /** Attach each upstream record, as it came, under `raw`. Default false. */
  includeRaw?: boolean;
}

/**
 * Normalizes an upstream list response body into after-sales. Pure but for the clock (WeChat
 * Channels' overdue flag compares its deadline with now): no network. `text` is the body as a
 * string or as its UTF-8 bytes (`new Uint8Array(await response.arrayBuffer())`), which saves
 * decoding it only to have it encoded again into wasm memory.
 * `wechat_store` answers with an order: use `normalizeOrder` for it.
 * @throws {AftersaleError} `invalid_request` for bad arguments, `upstream_error` for a body that
 *   cannot be read (the message says which field of which record), the upstream's own error
 *   (`upstream_auth`, `rate_limited`, ...) when the body is one.
 */
export function normalize(platform: Platform, text: string | Uint8Array, options?: NormalizeOptions): AfterSale[];

/** The same as `normalize`, as a JSON array string: the fastest path when the result is sent on. */
export function normalizeJson(platform: Platform, text: string | Uint8Array, options?: NormalizeOptions): string;

/** Normalizes a WeChat Mini Store order-details body (`/product/order/get`). */
export function normalizeOrder(text: string | Uint8Array, options?: NormalizeOptions): Order;

/** A JSON value that can be signed; `null` is a value (signed as `key=null`). */
export type SignJson = string | number | boolean | null | SignJson[] | { [key: string]: SignValue };
/** A member's value: `undefined` leaves the member out, as `JSON.stringify` leaves it out of the body. */
export type SignValue = SignJson | undefined;

/**
 * The Lingxing request sign (Base64, not URL-encoded). `params` holds every signed key:
 * `access_token`, `app_key`, `timestamp` and the request's own parameters. Empty strings and
 * `undefined` members are left out; `null` takes part as `key=null` (Lingxing signs nulls), so
 * never pass a `null` the body will not carry.
 * @throws {AftersaleError} `invalid_request` when `appId` is not 16 bytes, `params` is not an
 *   object, or a value cannot be signed (`NaN`, a function, a BigInt, `undefined` in an array).
 */
export function signLingxing(params: Record<string, SignValue>, appId: string): string;

