// Node normalization: the npm module (its Node entry, node.js, as packaged) against the plain-JS
// normalizer of js-normalizer.mjs, on the same page text, in one process.
//   string path:  normalizeJson(platform, text)  vs  JSON.stringify(normalizeJs(platform, text))
//   bytes path:   normalizeJson(platform, bytes) vs  the same JS on TextDecoder.decode(bytes)
//   objects path: normalize(platform, text)      vs  normalizeJs(platform, text)
// Outputs are checked identical first. Then rounds: each round runs every contender once
// (rotating the order), each run timing `reps` back-to-back calls after a forced GC; the figure
// is the median over rounds. Ratio = JS median / wasm median (> 1: wasm faster).
//
//   node --expose-gc bench/node-normalize.mjs --module DIR --out FILE [--quick]
// DIR holds the packaged module (node.js, api.js, client.js, aftersale_wasm.js, aftersale_wasm_bg.wasm).
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { page, PLATFORMS, SIZES } from "./inputs.mjs";
import { normalizeJs, normalizeJsonJs } from "./js-normalizer.mjs";
import { args, log, median, quantile, writeJson } from "./lib.mjs";

const say = log("node");
const opt = args();
if (!opt.module || !opt.out) {
  console.error("usage: node --expose-gc bench/node-normalize.mjs --module DIR --out FILE [--quick]");
  process.exit(2);
}
const gc = globalThis.gc ?? (() => {});
if (!globalThis.gc) say("warning: run with --expose-gc for steadier numbers");
const wasm = await import(pathToFileURL(join(resolve(opt.module), "node.js")).href);

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
let sink = 0;

/** Where two JSON array texts first differ: record index, field, both values. */
function firstDifference(a, b) {
  let A;
  let B;
  try {
    A = JSON.parse(a);
    B = JSON.parse(b);
  } catch (e) {
    return { what: `not JSON: ${e.message}` };
  }
  if (A.length !== B.length) return { what: `record counts differ: wasm ${A.length}, js ${B.length}` };
  for (let i = 0; i < A.length; i++) {
    const keysA = Object.keys(A[i]).join(",");
    const keysB = Object.keys(B[i]).join(",");
    if (keysA !== keysB) return { record: i, what: "key order", wasm: keysA, js: keysB };
    for (const k of Object.keys(A[i])) {
      const x = JSON.stringify(A[i][k]);
      const y = JSON.stringify(B[i][k]);
      if (x !== y) return { record: i, field: k, wasm: x, js: y };
    }
  }
  return { what: "same values, different text (escaping or number format)" };
}

function measure(platform, n) {
  const body = page(platform, n);
  const bytes = Buffer.byteLength(body);
  const result = { platform, records: n, input_bytes: bytes };
  let wasmJson;
  let jsJson;
  try {
    wasmJson = wasm.normalizeJson(platform, body);
  } catch (e) {
    return { ...result, error: `wasm normalizeJson threw: ${e.code ?? ""} ${e.message}` };
  }
  try {
    jsJson = normalizeJsonJs(platform, body);
  } catch (e) {
    return { ...result, error: `js normalizer threw: ${e.message}` };
  }
  if (wasmJson !== jsJson) return { ...result, error: "outputs differ", difference: firstDifference(wasmJson, jsJson) };
  if (JSON.stringify(wasm.normalize(platform, body)) !== jsJson) return { ...result, error: "wasm normalize() disagrees with normalizeJson()" };
  result.after_sales = JSON.parse(jsJson).length;
  result.output_bytes = Buffer.byteLength(jsJson);

  // A caller holding the body as bytes (fetch's arrayBuffer, a file): the wasm takes them as
  // they are; plain JS decodes them first, since JSON.parse needs a string.
  const bodyBytes = new TextEncoder().encode(body);
  const decoder = new TextDecoder();
  if (wasm.normalizeJson(platform, bodyBytes) !== jsJson) return { ...result, error: "wasm normalizeJson(bytes) disagrees with normalizeJson(text)" };
  const contenders = {
    wasm_json: () => wasm.normalizeJson(platform, body).length,
    wasm_json_bytes: () => wasm.normalizeJson(platform, bodyBytes).length,
    js_json_bytes: () => normalizeJsonJs(platform, decoder.decode(bodyBytes)).length,
    js_json: () => normalizeJsonJs(platform, body).length,
    wasm_objects: () => wasm.normalize(platform, body).length,
    js_objects: () => normalizeJs(platform, body).length,
    // Floors, for saying what bounds a ratio: JSON.parse of the input (every JS normalizer pays
    // it) and of the output (what normalize() pays on top of normalizeJson()).
    parse_input: () => (JSON.parse(body) ? 1 : 0),
    parse_output: () => JSON.parse(jsJson).length,
  };
  const names = Object.keys(contenders);
  // Calibrate reps so one sample takes >= ~20 ms (small pages), then warm up.
  const t0 = now();
  for (let i = 0; i < 5; i++) for (const name of names) sink += contenders[name]();
  const perCall = (now() - t0) / (5 * names.length);
  const reps = Math.max(1, Math.min(500, Math.ceil(20 / Math.max(perCall, 0.001))));
  const rounds = opt.quick ? 5 : n >= 10_000 ? 11 : 21;
  for (let w = 0; w < 2; w++) for (const name of names) for (let r = 0; r < reps; r++) sink += contenders[name]();
  const samples = Object.fromEntries(names.map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(round + j) % names.length];
      gc();
      const f = contenders[name];
      const start = now();
      for (let r = 0; r < reps; r++) sink += f();
      samples[name].push((now() - start) / reps);
    }
  }
  result.reps = reps;
  result.rounds = rounds;
  result.ms = {};
  for (const name of names) {
    result.ms[name] = {
      median: median(samples[name]),
      p25: quantile(samples[name], 0.25),
      p75: quantile(samples[name], 0.75),
    };
  }
  result.ratio_json = result.ms.js_json.median / result.ms.wasm_json.median;
  result.ratio_objects = result.ms.js_objects.median / result.ms.wasm_objects.median;
  result.ratio_json_bytes = result.ms.js_json_bytes.median / result.ms.wasm_json_bytes.median;
  // The objects path can be at most this much faster than plain JS even with a free normalizeJson.
  result.objects_ratio_bound = result.ms.js_objects.median / result.ms.parse_output.median;
  result.mb_per_s = Object.fromEntries(names.map((k) => [k, bytes / 1e6 / (result.ms[k].median / 1e3)]));
  return result;
}

const results = [];
for (const platform of PLATFORMS) {
  for (const n of SIZES) {
    const r = measure(platform, n);
    results.push(r);
    if (r.error) say(`${platform} ${n}: ${r.error} ${JSON.stringify(r.difference ?? "")}`);
    else {
      say(
        `${platform} ${n} (${(r.input_bytes / 1e6).toFixed(2)} MB): json wasm ${r.ms.wasm_json.median.toFixed(3)} ms, js ${r.ms.js_json.median.toFixed(3)} ms → ${r.ratio_json.toFixed(2)}×; ` +
          `objects wasm ${r.ms.wasm_objects.median.toFixed(3)} ms, js ${r.ms.js_objects.median.toFixed(3)} ms → ${r.ratio_objects.toFixed(2)}× ` +
          `(JSON.parse input ${r.ms.parse_input.median.toFixed(3)} ms, output ${r.ms.parse_output.median.toFixed(3)} ms); ` +
          `from bytes: wasm ${r.ms.wasm_json_bytes.median.toFixed(3)} ms, js (decode first) ${r.ms.js_json_bytes.median.toFixed(3)} ms → ${r.ratio_json_bytes.toFixed(2)}×`,
      );
    }
  }
}
writeJson(opt.out, { node: process.version, v8: process.versions.v8, results, sink: sink > 0 });
