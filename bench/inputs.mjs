// Benchmark inputs: upstream list pages, generated deterministically (fixed seed) from the
// upstream simulator's record generators (tests/simulator/data.mjs, written from the seed
// documents only), so records have the seeds' shapes and realistic sizes (~1.2 KB Xiaoe,
// ~1.9 KB Lingxing with 1.24 after-sale lines per record, ~0.4 KB WeChat).
// Nothing here touches the Rust core or its sandbox.
//
//   import { page } from "./inputs.mjs";  page("xiaoe", 100) -> the body text
//   node bench/inputs.mjs DIR             writes DIR/<platform>-<n>.json for the Rust benches
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { LingxingGenerator, WechatGenerator, XiaoeGenerator } from "../tests/simulator/data.mjs";

export const SEED = 20260707;
export const PLATFORMS = ["xiaoe", "lingxing", "wechat_shop"];
export const SIZES = [100, 10_000];

const take = (gen, n) => Array.from({ length: n }, () => gen.next().wire);

/** The seed-001 envelope, as the simulator sends it. */
function xiaoePage(n) {
  const list = take(new XiaoeGenerator(SEED), n).map((r) => JSON.stringify(r));
  return `{"code":0,"msg":"操作成功","data":{"list":[${list.join(",")}],"row_count":${n}}}`;
}

/** The seed-003 envelope; `n` upstream records (each one Amazon order with 1–3 lines). */
function lingxingPage(n) {
  const data = take(new LingxingGenerator(SEED), n).map((r) => JSON.stringify(r));
  const head = JSON.stringify({
    code: 0,
    message: "success",
    error_details: [],
    request_id: "5D3B2A8E-0C6E-4F0F-9C53-3E1B2B6E9A41",
    response_time: "2023-07-01 12:00:00",
  }).slice(0, -1);
  return `${head},"data":[${data.join(",")}],"total":${n}}`;
}

/**
 * Seed 000's `{errcode, errmsg, aftersale_infos}` with `n` after-sales drawn from consecutive
 * orders (a real answer holds one order's few after-sales; this is a throughput figure). The
 * list key is the seed's typo `"aftersale_Infos "`; records alternate the other typos.
 */
function wechatShopPage(n) {
  const gen = new WechatGenerator(SEED, undefined, "alternate");
  const records = [];
  while (records.length < n) {
    for (const r of gen.next().aftersaleRecords) if (records.length < n) records.push(JSON.stringify(r));
  }
  return `{"errcode":0,"errmsg":"ok","aftersale_Infos ":[${records.join(",")}]}`;
}

const MAKERS = { xiaoe: xiaoePage, lingxing: lingxingPage, wechat_shop: wechatShopPage };
const cache = new Map();

/** The body of a list page of `n` upstream records of `platform` (memoized). */
export function page(platform, n) {
  const key = `${platform}-${n}`;
  if (!cache.has(key)) {
    const make = MAKERS[platform];
    if (!make) throw new Error(`no generator for ${platform}`);
    cache.set(key, make(n));
  }
  return cache.get(key);
}

export const fileName = (platform, n) => `${platform}-${n}.json`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error("usage: node bench/inputs.mjs DIR");
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  for (const p of PLATFORMS) {
    for (const n of SIZES) {
      const body = page(p, n);
      writeFileSync(join(dir, fileName(p, n)), body);
      console.error(`[inputs] ${fileName(p, n)}: ${Buffer.byteLength(body)} bytes`);
    }
  }
}
