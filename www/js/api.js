// The package's API over the wasm exports. The entries (node.js, browser.js) instantiate the
// wasm module first, then re-export this.
import { WasmClient, normalize, normalizeJson, normalizeOrder, signLingxing } from "./aftersale_wasm.js";

export { normalize, normalizeJson, normalizeOrder, signLingxing };

/** A client of the aftersale proxy (SPEC.md §3). */
export class Client {
  #raw;

  constructor(options) {
    this.#raw = new WasmClient(options);
  }

  list(query) {
    return this.#raw.list(query);
  }

  order(orderId, options) {
    return this.#raw.order(orderId, options);
  }

  orderAfterSales(orderId, options) {
    return this.#raw.orderAfterSales(orderId, options);
  }

  /**
   * Every record of the query, page after page. An async generator queues concurrent `next()`
   * calls and frees the page stream when the caller stops early.
   */
  async *iterate(query) {
    const pages = this.#raw.pages(query);
    try {
      for (let batch = await pages.next(); batch !== undefined; batch = await pages.next()) {
        yield* batch;
      }
    } finally {
      pages.free();
    }
  }
}

/** Whether `value` is an error this package threw (it has a `code` of SPEC.md §3). */
export function isAftersaleError(value) {
  return value instanceof Error && value.name === "AftersaleError" && typeof value.code === "string";
}
