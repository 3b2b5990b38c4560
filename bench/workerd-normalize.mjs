// A bench-only Worker (never deployed): normalizes the POSTed page `k` times with the npm
// module's wasm (impl=wasm) or with the plain-JS normalizer (impl=js), so that bench/worker-cpu.mjs
// can measure the CPU of one normalization in workerd as (CPU at k) - (CPU at k=0), per call.
import { initSync, normalizeJson } from "./aftersale_wasm.js";
import wasmModule from "./aftersale_wasm_bg.wasm";
import { normalizeJsonJs } from "./js-normalizer.mjs";

initSync({ module: wasmModule });

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const k = Number(url.searchParams.get("k") ?? "0");
    const platform = url.searchParams.get("platform") ?? "xiaoe";
    const normalize = url.searchParams.get("impl") === "js" ? normalizeJsonJs : normalizeJson;
    const body = await request.text();
    let bytes = 0;
    for (let i = 0; i < k; i++) bytes += normalize(platform, body).length;
    return new Response(JSON.stringify({ k, bytes }), { headers: { "content-type": "application/json" } });
  },
};
