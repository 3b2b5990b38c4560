// Browser (and bundler) entry: fetches the wasm beside this file and instantiates it before any
// export can be used, so callers never call an init function.
import init from "./aftersale_wasm.js";

await init({ module_or_path: new URL("./aftersale_wasm_bg.wasm", import.meta.url) });

export * from "./api.js";
