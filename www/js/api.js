// The `aftersale` entry's API: the wasm normalizers beside the one proxy client of
// `aftersale/client`. The entries (node.js, browser.js) instantiate the wasm module first, then
// re-export this.
export { normalize, normalizeJson, normalizeOrder, signLingxing } from "./aftersale_wasm.js";
export * from "./client.js";
