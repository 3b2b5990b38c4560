// Node entry: reads the wasm beside this file and instantiates it at import time.
import { readFile } from "node:fs/promises";
import init from "./aftersale_wasm.js";

await init({ module_or_path: await readFile(new URL("./aftersale_wasm_bg.wasm", import.meta.url)) });

export * from "./api.js";
