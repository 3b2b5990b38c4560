// The packed tarball as users get it: installed into a scratch project, imported in Node,
// bundled by esbuild and loaded unbundled in headless Chromium, and type-checked with tsc.
// Needs dist/aftersale-<version>.tgz (scripts/package.sh; AFTERSALE_TARBALL overrides) and
// the root node_modules (esbuild, playwright-core, typescript). Installs nothing from a registry.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

import { cases } from "../client/cases.mjs";
import { startFakeProxy } from "../fake-proxy.mjs";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const consumerDir = path.join(here, "../consumer");
const bin = (name) => path.join(root, "node_modules/.bin", name);

// The same Chromium flags as the wasm tests' runner: one list, in www/webdriver.json.
const CHROMIUM_FLAGS = JSON.parse(await readFile(path.join(root, "www/webdriver.json"), "utf8"))["goog:chromeOptions"].args;

const cargoToml = await readFile(path.join(root, "Cargo.toml"), "utf8");
const VERSION = cargoToml.match(/\[workspace\.package\][^[]*?\nversion\s*=\s*"([^"]+)"/)[1];
const TARBALL = process.env.AFTERSALE_TARBALL ?? path.join(root, `dist/aftersale-${VERSION}.tgz`);

const fixtures = {};
for (const name of ["wechat_shop", "wechat_store", "xiaoe", "lingxing"]) {
  fixtures[name] = await readFile(path.join(here, `../fixtures/${name}.json`), "utf8");
}

/** What `exercise()` must return in every environment. */
function expected() {
  const invalid = { name: "AftersaleError", code: "invalid_request", status: null, isError: true, guard: true };
  return {
    normalize: [
      ["wechat_shop:xxxxx#1 cancelled"],
      ["xiaoe:A1676284458_63ea122a379c4_84723683 completed"],
      ["lingxing:e3e9ca874381650df28121eb1c74d8a1 awaiting_buyer_return", "lingxing:a3f4403419630bb77076eac32bd6276c completed"],
    ],
    money: { currency: "USD", minor: 470, decimal: "4.700" },
    jsonMatches: true,
    raw: "售后成功",
    order: ["wechat_store:12123121332", "awaiting_shipment", ["1234"]],
    sign: "Lu9igwedngYKitw7EtBiuCJJIFXl7gQlJE0o1ZFCXqdIwVhSPzVcd0sPeLkAl3rO",
    errors: {
      platform: invalid,
      text: invalid,
      body: { ...invalid, code: "upstream_error" },
      appId: invalid,
      client: invalid,
    },
    page: { ids: ["xiaoe:A1", "xiaoe:A2", "xiaoe:A3"], total: 7, cursor: "string" },
    iterate: {
      ids: [1, 2, 3, 4, 5, 6, 7].map((n) => `xiaoe:A${n}`),
      progress: [
        { fetched: 3, total: 7 },
        { fetched: 5, total: 7 },
        { fetched: 7, total: 7 },
      ],
    },
    firstOnly: "xiaoe:A1",
    remoteOrder: "wechat_store:12123121332",
    orderAfterSales: ["32434234", "32434234"],
    unauthorized: { ...invalid, code: "unauthorized", status: 401 },
    retried: 7,
    aborted: { name: "AbortError", code: null, status: null, isError: true, guard: false },
    abortedQuickly: true,
  };
}

/** JSON round trip, so `undefined` codes compare as absent like they do out of a browser. */
const plain = (v) => JSON.parse(JSON.stringify(v, (_, x) => (x === undefined ? null : x)));

let scratch;
let proxy;
let server;
let browser;

/** Serves the scratch project (pages, exercise.mjs, node_modules/aftersale) on loopback. */
async function serveStatic(dir) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".wasm": "application/wasm" };
  const srv = http.createServer(async (req, res) => {
    const file = path.join(dir, decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (!file.startsWith(dir)) return res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return { srv, url: `http://127.0.0.1:${srv.address().port}` };
}

before(async () => {
  await readFile(TARBALL).catch(() => {
    throw new Error(`${TARBALL} is missing: run scripts/package.sh first`);
  });
  scratch = await mkdtemp(path.join(tmpdir(), "aftersale-consumer-"));
  await writeFile(path.join(scratch, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // A file tarball with no dependencies installs with the registry out of reach.
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error", TARBALL], { cwd: scratch });
  for (const f of ["exercise.mjs", "bundle-entry.mjs", "bundled.html", "plain.html", "client.html", "consumer.ts", "tsconfig.json"]) {
    await cp(path.join(consumerDir, f), path.join(scratch, f));
  }
  await cp(path.join(here, "../client/cases.mjs"), path.join(scratch, "client-cases.mjs"));
  proxy = await startFakeProxy();
  await writeFile(path.join(scratch, "input.json"), JSON.stringify({ proxyUrl: proxy.url, fixtures }));
  server = await serveStatic(scratch);
});

after(async () => {
  await browser?.close();
  server?.srv.closeAllConnections();
  await new Promise((resolve) => (server ? server.srv.close(resolve) : resolve()));
  await proxy?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test("the package manifest", async () => {
  const pkg = JSON.parse(await readFile(path.join(scratch, "node_modules/aftersale/package.json"), "utf8"));
  assert.equal(pkg.name, "aftersale");
  assert.equal(pkg.version, VERSION, "the version is the workspace's");
  assert.equal(pkg.type, "module");
  assert.ok(pkg.license);
  assert.equal(pkg.exports["."].types, "./index.d.ts");
  assert.equal(pkg.exports["."].node, "./node.js");
  assert.equal(pkg.exports["."].browser, "./browser.js");
  assert.deepEqual(pkg.exports["./client"], { types: "./client.d.ts", default: "./client.js" });
  assert.ok(Array.isArray(pkg.files) && Array.isArray(pkg.sideEffects));
  for (const f of pkg.files) await readFile(path.join(scratch, "node_modules/aftersale", f));
});

test("Node: import { ... } from \"aftersale\" works with no init call", async () => {
  const { exercise } = await import(pathToFileURL(path.join(scratch, "exercise.mjs")).href);
  assert.deepEqual(plain(await exercise({ proxyUrl: proxy.url, fixtures })), expected());
});

test("Node: iterate queues concurrent next() calls and errors carry the proxy's details", async () => {
  const { Client } = await import(pathToFileURL(path.join(scratch, "node_modules/aftersale/node.js")).href);
  const client = new Client({ endpoint: proxy.url, apiKey: "test-concurrent" });
  const it = client.iterate({ platform: "lingxing", from: "2023-01-14", to: "2023-02-13", limit: 2 });
  const all = await Promise.all(Array.from({ length: 8 }, () => it.next()));
  assert.deepEqual(all.map((r) => r.done), [false, false, false, false, false, false, false, true]);
  assert.equal(new Set(all.filter((r) => !r.done).map((r) => r.value.id)).size, 7);
  await assert.rejects(
    new Client({ endpoint: proxy.url, apiKey: `test-authfail-${Date.now()}` }).list({ platform: "xiaoe", from: "2023-01-14", to: "2023-02-13" }),
    (e) => e.code === "upstream_auth" && e.status === 502 && e.upstream.code === "2017",
  );
  const failing = client.iterate({ platform: "xiaoe", from: "2023-01-14", to: "not-a-date" });
  await assert.rejects(failing.next(), (e) => e.code === "invalid_request" && e.message.includes("query.to"));
});

/** The entries as a user imports them, from the scratch project (its package.json exports). */
async function importEntry(specifier) {
  const file = path.join(scratch, `entry-${specifier.replace(/\W+/g, "-")}.mjs`);
  await writeFile(file, `export * from ${JSON.stringify(specifier)};\n`);
  return import(pathToFileURL(file).href);
}

for (const specifier of ["aftersale/client", "aftersale"]) {
  test(`Node: the client through ${JSON.stringify(specifier)}`, async (t) => {
    const api = await importEntry(specifier);
    for (const [name, run] of cases(api, proxy.url)) await t.test(name, run);
  });
}

test("Node: aftersale/client imports on its own, without the wasm", async () => {
  // A fresh process: what `aftersale/client` loads is client.js alone (no import statements).
  const src = await readFile(path.join(scratch, "node_modules/aftersale/client.js"), "utf8");
  assert.doesNotMatch(src, /^\s*import\s/m, "client.js imports nothing");
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e",
    "const m = await import('aftersale/client'); console.log(JSON.stringify(Object.keys(m).sort()))"], { cwd: scratch });
  assert.deepEqual(JSON.parse(stdout), ["Client", "KINDS", "PLATFORMS", "STATUSES", "isAftersaleError"]);
  const full = await importEntry("aftersale");
  const client = await importEntry("aftersale/client");
  assert.equal(full.Client, client.Client, "one Client for both entries");
});

/** The value exports a .d.ts declares (functions, classes, consts), following `export *`. */
async function declaredValues(file) {
  const text = await readFile(file, "utf8");
  const names = new Set([...text.matchAll(/^export (?:declare )?(?:function|class|const|let) (\w+)/gm)].map((m) => m[1]));
  for (const m of text.matchAll(/^export \* from "(\.\/[^"]+)\.js";/gm)) {
    for (const n of await declaredValues(path.join(path.dirname(file), `${m[1]}.d.ts`))) names.add(n);
  }
  return names;
}

test("the .d.ts files declare exactly what each entry exports", async () => {
  const dir = path.join(scratch, "node_modules/aftersale");
  for (const [specifier, dts] of [["aftersale/client", "client.d.ts"], ["aftersale", "index.d.ts"]]) {
    const exported = Object.keys(await importEntry(specifier)).sort();
    const declared = [...(await declaredValues(path.join(dir, dts)))].sort();
    assert.deepEqual(declared, exported, `${dts} against the runtime exports of ${specifier}`);
  }
});

async function openPage(name, setup) {
  if (!browser) {
    const { chromium } = await import(pathToFileURL(path.join(root, "node_modules/playwright-core/index.mjs")).href);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
  }
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  setup?.(page);
  await page.goto(`${server.url}/${name}`);
  await page.waitForFunction(() => window.__result !== undefined || window.__error !== undefined, null, { timeout: 90_000 });
  const { result, error } = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
  await page.close();
  assert.equal(error, undefined, `${name} failed: ${error}\n${problems.join("\n")}`);
  return result;
}

test("browser: bundled by esbuild", async () => {
  const esbuild = await import(pathToFileURL(path.join(root, "node_modules/esbuild/lib/main.js")).href);
  await esbuild.build({
    absWorkingDir: scratch,
    entryPoints: ["bundle-entry.mjs"],
    bundle: true,
    format: "esm",
    platform: "browser",
    outfile: "web/bundle.js",
    logLevel: "error",
  });
  // esbuild leaves `new URL("…wasm", import.meta.url)` alone: the wasm goes beside the bundle.
  await mkdir(path.join(scratch, "web"), { recursive: true });
  await cp(path.join(scratch, "node_modules/aftersale/aftersale_wasm_bg.wasm"), path.join(scratch, "web/aftersale_wasm_bg.wasm"));
  const bundle = await readFile(path.join(scratch, "web/bundle.js"), "utf8");
  assert.ok(!bundle.includes("node:fs"), "the browser build must not pull in the Node entry");
  assert.deepEqual(plain(await openPage("bundled.html")), expected());
});

for (const entry of ["aftersale/client", "aftersale"]) {
  test(`browser: the client through ${JSON.stringify(entry)}, unbundled`, async () => {
    const wasm = [];
    const result = await openPage(`client.html?entry=${encodeURIComponent(entry)}`, (page) =>
      page.on("request", (r) => r.url().endsWith(".wasm") && wasm.push(r.url())));
    assert.deepEqual(result.failed, [], "every case passes in Chromium");
    assert.equal(result.passed.length, cases({}, "").length);
    if (entry === "aftersale/client") assert.deepEqual(wasm, [], "the client entry loads no wasm");
    else assert.equal(wasm.length, 1);
  });
}

test("browser: aftersale/client bundled by esbuild is small and has no wasm", async () => {
  const esbuild = await import(pathToFileURL(path.join(root, "node_modules/esbuild/lib/main.js")).href);
  await writeFile(path.join(scratch, "client-entry.mjs"), 'export { Client, isAftersaleError } from "aftersale/client";\n');
  const out = await esbuild.build({ absWorkingDir: scratch, entryPoints: ["client-entry.mjs"], bundle: true, minify: true, format: "esm", platform: "browser", write: false, logLevel: "error" });
  const code = out.outputFiles[0].text;
  assert.doesNotMatch(code, /wasm/i);
  const { gzipSync } = await import("node:zlib");
  const gz = gzipSync(code, { level: 9 }).length;
  assert.ok(gz < 40 * 1024, `aftersale/client is ${gz} bytes gzip, over the 40 KiB goal`);
});

test("browser: <script type=\"module\"> with the unbundled package files", async () => {
  assert.deepEqual(plain(await openPage("plain.html")), expected());
});

test("TypeScript: tsc --strict --noEmit on a consumer", async () => {
  try {
    await run(bin("tsc"), ["-p", path.join(scratch, "tsconfig.json")], { cwd: scratch });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});
