// Sizes of what ships: the npm module's two entries — `aftersale` (the wasm of www/pkg, its glue
// and the client) and `aftersale/client` (www/js/client.js, raw and minified by esbuild as a
// storefront's bundle carries it) — and the Worker's wasm + JS (worker/build),
// raw and `gzip -9`; and where the bytes go, from `twiggy top` on builds that keep their names
// (the same cargo output through `wasm-bindgen --keep-debug` and `wasm-opt -Oz -g`, so the code
// is laid out as shipped; the name section itself is left out of every share).
//
//   node bench/size.mjs --out FILE [--named-module WASM] [--named-worker WASM] [--twiggy BIN]
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { args, log, REPO_ROOT, writeJson } from "./lib.mjs";

const say = log("size");
const opt = args();
if (!opt.out) {
  console.error("usage: node bench/size.mjs --out FILE [--named-module WASM] [--named-worker WASM] [--twiggy BIN]");
  process.exit(2);
}

function sizes(path) {
  const raw = statSync(path).size;
  let gzip;
  try {
    gzip = execFileSync("gzip", ["-9", "-c", path], { maxBuffer: 1 << 30 }).length;
  } catch {
    gzip = gzipSync(readFileSync(path), { level: 9 }).length;
  }
  return { path: path.startsWith(REPO_ROOT) ? path.slice(REPO_ROOT.length + 1) : path, raw, gzip };
}

// --skip-module / --skip-worker: that build failed, so its files on disk are stale.
const files = {
  ...(opt["skip-module"] ? {} : {
    module_wasm: join(REPO_ROOT, "www/pkg/aftersale_wasm_bg.wasm"),
    module_glue_js: join(REPO_ROOT, "www/pkg/aftersale_wasm.js"),
  }),
  ...(opt["skip-worker"] ? {} : {
    worker_wasm: join(REPO_ROOT, "worker/build/index_bg.wasm"),
    worker_js: join(REPO_ROOT, "worker/build/index.js"),
  }),
};
/** Bytes of the custom "name" section (function names), which only debugging needs. */
function nameSectionBytes(path) {
  const b = readFileSync(path);
  let i = 8;
  const leb = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const byte = b[i++];
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
      shift += 7;
    }
  };
  let bytes = 0;
  while (i < b.length) {
    const start = i;
    const id = b[i++];
    const size = leb();
    const end = i + size;
    if (id === 0) {
      const len = leb();
      if (b.toString("utf8", i, i + len) === "name") bytes += end - start;
    }
    i = end;
  }
  return bytes;
}

const out = { files: {} };
// `aftersale/client`: one file; what a bundle carries of it is its minified text.
const clientJs = join(REPO_ROOT, "www/js/client.js");
if (existsSync(clientJs)) {
  files.client_js = clientJs;
  try {
    const esbuild = await import(join(REPO_ROOT, "node_modules/esbuild/lib/main.js"));
    const min = esbuild.transformSync(readFileSync(clientJs, "utf8"), { minify: true, format: "esm" }).code;
    out.client_minified = { raw: Buffer.byteLength(min), gzip: gzipSync(min, { level: 9 }).length };
  } catch (e) {
    say(`esbuild: ${e.message}`);
  }
}
for (const [k, p] of Object.entries(files)) {
  if (existsSync(p)) {
    out.files[k] = sizes(p);
    if (p.endsWith(".wasm")) out.files[k].name_section = nameSectionBytes(p);
  }
  else say(`missing ${p}`);
}
// `aftersale` as a browser downloads it: the wasm, its glue, the client, the entry and api.js.
if (out.files.module_wasm && out.files.module_glue_js && out.files.client_js) {
  const extra = ["www/js/browser.js", "www/js/api.js"].map((f) => sizes(join(REPO_ROOT, f)));
  const parts = [out.files.module_wasm, out.files.module_glue_js, out.files.client_js, ...extra];
  out.full_entry = { raw: parts.reduce((a, p) => a + p.raw, 0), gzip: parts.reduce((a, p) => a + p.gzip, 0) };
}
if (out.files.worker_wasm && out.files.worker_js) {
  out.worker_total = {
    raw: out.files.worker_wasm.raw + out.files.worker_js.raw,
    gzip: out.files.worker_wasm.gzip + out.files.worker_js.gzip,
  };
}

// ---------------------------------------------------------------- attribution

/** Drops rustc's crate disambiguators (`core[c5930c85a12de822]::fmt`) and symbol hashes. */
function clean(name) {
  return name.replace(/\[[0-9a-f]{16}\]/g, "").replace(/::h[0-9a-f]{16}$/, "");
}

/** The path an item belongs to: `<T as Trait>::f` → T's path when it has one, else Trait's. */
function ownerPath(name) {
  let n = name;
  if (n.startsWith("<")) {
    let depth = 0;
    let asAt = -1;
    for (let i = 0; i < n.length; i++) {
      const c = n[i];
      if (c === "<") depth++;
      else if (c === ">") depth--;
      if (depth === 1 && n.startsWith(" as ", i)) {
        asAt = i;
        break;
      }
    }
    if (asAt > 0) {
      const self = n.slice(1, asAt).replace(/^(&|\*const |\*mut |mut |\[|\(|dyn )+/, "");
      const trait = n.slice(asAt + 4);
      n = /^[A-Za-z_][A-Za-z0-9_]*::/.test(self) ? self : trait;
    } else {
      n = n.slice(1);
    }
  }
  return n;
}

const CRYPTO = /^(aes|md5|md_5|sha2|hmac|digest|base64|block_buffer|cipher|crypto_common|subtle|generic_array)::/;

function category(rawName) {
  const name = clean(rawName);
  if (/names?" subsection|^custom section 'name'/.test(name)) return null; // the name section: not shipped
  if (/^data segment|^data\[/.test(name)) return "data (strings, tables)";
  // wasm-opt inlines each exported function's body into its wasm-bindgen shim.
  if (/shim$/.test(name)) return "export shims (wasm-bindgen; export bodies inlined)";
  if (/^__wbindgen|^__wbg_|wasm_bindgen|^__externref/.test(name)) return "wasm-bindgen runtime";
  if (/^(__rustc|__[a-z]+[0-9]*[a-z]*[0-9]*$|mem(cpy|set|move|cmp)$|f(max|min)f?$)/.test(name)) return "compiler_builtins/libm";
  if (/^(type|table|elem|global|memory|import|export|start)\b|section headers|magic bytes|^custom section/.test(name)) return "wasm structure (types, imports, exports)";
  const path = ownerPath(name);
  const segs = path.split("::");
  const crate = segs[0].replace(/^[^A-Za-z_]+/, "");
  // Inherent impls on primitives: `<char>::escape_debug_ext`, `<u64>::_fmt`.
  if (/^(char|str|bool|[iu](8|16|32|64|128|size)|f(32|64))>?$/.test(crate)) return "core (primitive impls)";
  switch (crate) {
    case "aftersale":
      return segs.length > 2 ? `aftersale::${segs[1]}` : "aftersale (crate root: normalize, parse_page)";
    case "aftersale_wasm":
      return segs.length > 2 ? `aftersale_wasm::${segs[1]}` : "aftersale_wasm (exports)";
    case "aftersale_worker":
      return segs.length > 2 ? `aftersale_worker::${segs[1]}` : "aftersale_worker (entry)";
    case "serde_json":
      return "serde_json";
    case "serde":
    case "serde_core":
      return "serde";
    case "core":
      if (segs[1] === "fmt" || /core::fmt/.test(path)) return "core::fmt";
      if (segs[1] === "str" || segs[1] === "unicode" || segs[1] === "char") return "core::str/unicode";
      return `core::${segs[1] ?? "?"}`;
    case "alloc":
      return "alloc";
    case "std":
      return "std";
    case "dlmalloc":
      return "dlmalloc (allocator)";
    case "js_sys":
      // The async handlers (routes, the Durable Object) are inlined into the closures that poll them.
      if (/^js_sys::futures::future_to_promise/.test(path)) return "async bodies inlined into js_sys::futures closures";
      return "js_sys/web_sys/futures";
    case "web_sys":
    case "wasm_bindgen_futures":
      return "js_sys/web_sys/futures";
    case "gloo_net":
    case "gloo_utils":
      return "gloo_net";
    case "worker":
    case "worker_sys":
      return "worker (workers-rs)";
    case "futures_util":
    case "futures_core":
    case "futures_channel":
      return "futures";
    case "compiler_builtins":
      return "compiler_builtins";
    default:
      if (CRYPTO.test(`${crate}::`)) return "crypto (aes, md5, sha2, hmac, base64)";
      if (/^(func|code)\[?\d/.test(name)) return "unnamed functions";
      return crate ? crate : "other";
  }
}

function twiggy(bin, wasm, label) {
  if (!bin || !wasm || !existsSync(wasm)) return { error: `${label}: no named build or no twiggy` };
  let items;
  try {
    items = JSON.parse(execFileSync(bin, ["top", "--format", "json", wasm], { maxBuffer: 1 << 28 }).toString());
  } catch (e) {
    return { error: `${label}: twiggy failed: ${e.message.split("\n")[0]}` };
  }
  const shipped = items.filter((i) => category(i.name) !== null);
  const total = shipped.reduce((s, i) => s + i.shallow_size, 0);
  const byCategory = new Map();
  for (const i of shipped) {
    const c = category(i.name);
    byCategory.set(c, (byCategory.get(c) ?? 0) + i.shallow_size);
  }
  const named = statSync(wasm).size;
  return {
    named_wasm: wasm.startsWith(REPO_ROOT) ? wasm.slice(REPO_ROOT.length + 1) : wasm,
    named_wasm_bytes: named,
    total_without_names: total,
    top: shipped.slice(0, 15).map((i) => ({ name: clean(i.name), bytes: i.shallow_size, percent: (100 * i.shallow_size) / total })),
    by_crate: [...byCategory.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, bytes]) => ({ name, bytes, percent: (100 * bytes) / total })),
  };
}

out.twiggy_version = (() => {
  try {
    return opt.twiggy ? execFileSync(opt.twiggy, ["--version"]).toString().trim() : null;
  } catch {
    return null;
  }
})();
out.module = opt["skip-module"] ? { error: "the module's build failed" } : twiggy(opt.twiggy, opt["named-module"], "module");
// The Worker's shipped wasm may keep its names (then it is its own named build).
const workerNamed = opt["named-worker"] ?? (out.files.worker_wasm?.name_section > 0 ? files.worker_wasm : undefined);
out.worker = opt["skip-worker"] ? { error: "the Worker's build failed" } : twiggy(opt.twiggy, workerNamed, "worker");
for (const [k, v] of Object.entries(out.files)) say(`${k}: ${v.raw} bytes, ${v.gzip} gzip -9`);
if (out.client_minified) say(`aftersale/client minified: ${out.client_minified.raw} bytes, ${out.client_minified.gzip} gzip -9`);
if (out.full_entry) say(`aftersale (wasm + glue + client + entry files): ${out.full_entry.raw} bytes, ${out.full_entry.gzip} gzip -9`);
for (const which of ["module", "worker"]) {
  const t = out[which];
  if (t.error) say(t.error);
  else say(`${which} by crate: ${t.by_crate.slice(0, 8).map((c) => `${c.name} ${(c.bytes / 1024).toFixed(1)} KB`).join(", ")}`);
}
writeJson(opt.out, out);
