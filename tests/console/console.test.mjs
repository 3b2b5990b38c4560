// Browser test of the merchant console (www/console/), run by scripts/test-console.sh after it
// built the Worker and the console (scripts/build-worker.sh). Starts `wrangler dev` in sandbox mode
// with no CLIENT_KEYS (open access), drives Debian's Chromium through playwright-core, and checks
// what the page shows against what the proxy answers to the same queries over plain HTTP.
//
// Screenshots and wrangler's output go to test-output/console/ (git-ignored).
//   CONSOLE_START_TIMEOUT_MS  how long to wait for wrangler's first /healthz (default 300000)
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";
import { REPO_ROOT as ROOT, startWrangler } from "../support/wrangler.mjs";

const OUT = join(ROOT, "test-output", "console");
const START_TIMEOUT_MS = Number(process.env.CONSOLE_START_TIMEOUT_MS ?? 300_000);
// The same Chromium flags as the wasm tests' runner: one list, in www/webdriver.json.
const CHROMIUM_FLAGS = JSON.parse(readFileSync(join(ROOT, "www/webdriver.json"), "utf8"))["goog:chromeOptions"].args;
/** The sandbox's whole range, `{from, to}` (it ends today): read from the proxy once it serves. */
let WHOLE;
/** One Xiaoe window (≤ 31 days) at the end of the range: the proxy gives an exact `total` for it. */
let LAST_MONTH;
/** The sandbox's example WeChat orders, from the proxy. */
let ORDERS;
const PAGE_SIZE = 50; // the console's page size

let wrangler;
let browser;
let base;
const pageErrors = [];
const foreignRequests = [];

// ---------------------------------------------------------------------------------------- wrangler

/**
 * The Worker and the console as scripts/test-console.sh built them, frozen for this run (so an
 * edit elsewhere in the tree cannot rebuild and reload them mid-run), in sandbox mode.
 */
async function startWorker() {
  const worker = await startWrangler({ vars: { SANDBOX: "true" }, logFile: join(OUT, "wrangler.log"), startTimeoutMs: START_TIMEOUT_MS, stopGraceMs: 10_000 });
  const health = await fetch(`${worker.baseUrl}/healthz`).then((res) => res.json());
  if (health.sandbox !== true) {
    await worker.stop();
    assert.fail(`wrangler is not in sandbox mode: /healthz says ${JSON.stringify(health)}`);
  }
  return worker;
}

// ---------------------------------------------------------------------------------------- the API, directly

const qs = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();

async function api(path, params) {
  const res = await fetch(`${base}${path}?${qs(params)}`);
  const text = await res.text();
  assert.equal(res.status, 200, `${path}?${qs(params)} → ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** What the console shows first: pages until one has records (or the last), as the console reads them. */
async function firstView(params) {
  const records = [];
  let cursor = null;
  let total = null;
  for (let hops = 0; hops < 10; hops++) {
    const page = await api("/v1/aftersales", { ...params, limit: PAGE_SIZE, include_raw: "true", cursor });
    records.push(...page.data);
    total = page.total ?? total;
    cursor = page.next_cursor;
    if (records.length > 0 || cursor === null) break;
  }
  return { records, cursor, total };
}

/** The server-side export of a query: its records and its closing `{"done":true,"count":N}`. */
async function serverExport(params) {
  const res = await fetch(`${base}/v1/aftersales/export?${qs(params)}`);
  assert.equal(res.status, 200);
  const lines = (await res.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const done = lines.pop();
  assert.equal(done.done, true, `the export did not finish: ${JSON.stringify(done)}`);
  assert.equal(done.count, lines.length);
  return { records: lines, count: done.count };
}

// ---------------------------------------------------------------------------------------- CSV

/** RFC 4180 rows (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      // CRLF: the \n ends the row
    } else if (c === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  assert.equal(quoted, false, "the CSV ends inside a quoted field");
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------- the page

async function openConsole({ width = 1280, height = 900, path = "/" } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true, locale: "en-US" });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${e.name}: ${e.message}`));
  page.on("request", (r) => {
    if (!r.url().startsWith(`${base}/`) && !/^(data|blob):/.test(r.url())) foreignRequests.push(r.url());
  });
  await page.goto(`${base}${path}`);
  await page.waitForSelector("html[data-ready=true]", { timeout: 30_000 });
  await idle(page);
  return { page, context };
}

/** Waits until the table is not loading. Every control that loads sets aria-busy synchronously. */
async function idle(page) {
  await page.waitForFunction(() => document.getElementById("table").getAttribute("aria-busy") === "false", null, { timeout: 30_000 });
}

/** Clicks a platform's label (the radio itself is visually hidden inside it). */
async function choosePlatform(page, platform) {
  await page.click(`label:has(input[name="platform"][value="${platform}"])`);
  await idle(page);
}

/** `day` (YYYY-MM-DD) plus `n` days. */
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

async function setRange(page, { from, to }) {
  await page.fill("#from", from);
  await page.fill("#until", addDays(to, -1));
}

async function show(page) {
  await page.click("#list-submit");
  await idle(page);
}

const rowIds = (page) => page.$$eval("#rows tr[data-id]", (trs) => trs.map((tr) => tr.dataset.id));

async function summary(page) {
  return page.$$eval("#summary-list li", (lis) =>
    lis.map((li) => ({
      status: li.dataset.status,
      count: Number(li.querySelector("[data-count]").dataset.count),
      sums: Object.fromEntries([...li.querySelectorAll("[data-currency]")].map((m) => [m.dataset.currency, Number(m.dataset.minor)])),
    })),
  );
}

function expectedSummary(records) {
  const by = new Map();
  const add = (key, r) => {
    const s = by.get(key) ?? { status: key, count: 0, sums: {} };
    s.count += 1;
    if (r.refund) s.sums[r.refund.currency] = (s.sums[r.refund.currency] ?? 0) + r.refund.minor;
    by.set(key, s);
  };
  for (const r of records) {
    add("all", r);
    add(r.status, r);
  }
  return [...by.values()].sort((a, b) => a.status.localeCompare(b.status));
}

/** The page's `GET /v1/aftersales` requests (not the export route, not the assets). */
const isList = (url) => url.pathname === "/v1/aftersales";

async function exportCsv(page) {
  // Every text the progress line shows during the export.
  await page.evaluate(() => {
    window.__progress = [];
    const text = document.getElementById("export-text");
    const bar = document.getElementById("export-progress");
    new MutationObserver(() => window.__progress.push({ text: text.textContent, indeterminate: bar.matches(":indeterminate") }))
      .observe(text, { childList: true, characterData: true, subtree: true });
  });
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60_000 }), page.click("#export")]);
  const file = await download.path();
  const bytes = readFileSync(file);
  await page.waitForSelector("#export-done:not([hidden])");
  return { name: download.suggestedFilename(), bytes, progress: await page.evaluate(() => window.__progress) };
}

function checkCsv({ bytes }, expected, label) {
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], `${label}: no UTF-8 BOM`);
  const rows = parseCsv(bytes.subarray(3).toString("utf8"));
  const [header, ...data] = rows;
  assert.equal(header[0], "id");
  for (const name of ["status", "kind", "refund_currency", "refund_amount", "refund_minor", "items", "created_at"]) {
    assert.ok(header.includes(name), `${label}: no ${name} column in ${header.join(",")}`);
  }
  assert.ok(data.every((r) => r.length === header.length), `${label}: rows of different widths`);
  assert.equal(data.length, expected.length, `${label}: ${data.length} CSV rows, the proxy's export has ${expected.length}`);
  const col = (name) => header.indexOf(name);
  assert.deepEqual(new Set(data.map((r) => r[col("id")])), new Set(expected.map((r) => r.id)), `${label}: different ids`);
  const byId = new Map(expected.map((r) => [r.id, r]));
  for (const row of data) {
    const r = byId.get(row[col("id")]);
    assert.equal(row[col("status")], r.status);
    assert.equal(row[col("refund_currency")], r.refund?.currency ?? "");
    assert.equal(row[col("refund_amount")], r.refund?.decimal ?? "");
    assert.equal(row[col("refund_minor")], r.refund ? String(r.refund.minor) : "");
    assert.equal(row[col("created_at")], r.created_at ?? "");
  }
  return data;
}

// ---------------------------------------------------------------------------------------- the mirror

/** Waits until the chart and the sync panel are not loading (each sets aria-busy while it reads). */
async function overviewIdle(page) {
  await page.waitForFunction(() => ["chart-panel", "sync-panel"].every((id) => document.getElementById(id).getAttribute("aria-busy") === "false"), null, { timeout: 30_000 });
}

/** The mirror query the console's form shows (`to` exclusive), as the proxy's parameters. */
async function mirrorQuery(page) {
  const until = await page.inputValue("#until");
  const params = { platform: "all", from: await page.inputValue("#from"), to: addDays(until, 1), date_field: await page.inputValue("#date-field") };
  const platforms = await page.$$eval("#mirror-platforms input", (boxes) => boxes.filter((b) => b.checked).map((b) => b.value));
  if (platforms.length < 5) Object.assign(params, { platform: platforms.join(","), source: "mirror" });
  const q = (await page.inputValue("#q")).trim();
  if (q) params.q = q;
  const status = await page.inputValue("#status");
  if (status) params.status = status;
  const kind = await page.inputValue("#kind");
  if (kind) params.kind = kind;
  return params;
}

/** The bars a chart drew: `day|platform` → value. */
async function bars(page, box) {
  return Object.fromEntries(
    await page.$$eval(`${box} rect[data-day]`, (rects) => rects.map((r) => [`${r.dataset.day}|${r.dataset.platform}`, Number(r.dataset.value)])),
  );
}

/** What the chart should draw from a summary: counts per day and platform, refunds per currency apart. */
function expectedBars(summary) {
  const count = {};
  const refund = {};
  for (const row of summary.by_day_platform) {
    const key = `${row.day}|${row.platform}`;
    count[key] = (count[key] ?? 0) + row.count;
    if (row.refund) refund[row.refund.currency] ??= {};
    if (row.refund && row.refund.minor > 0) {
      refund[row.refund.currency][key] = (refund[row.refund.currency][key] ?? 0) + row.refund.minor;
    }
  }
  return { count, refund };
}

/** Keys sorted, so deepEqual reports a difference of content, not of order. */
const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

async function post(path) {
  const res = await fetch(`${base}${path}`, { method: "POST" });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${path} → ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Elements past the viewport's edges (what scrolls sideways), and the page's widths. */
function overflowOf(page) {
  return page.evaluate(() => ({
    viewport: window.innerWidth,
    html: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
    wide: [...document.querySelectorAll("body *")]
      .filter((el) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && (r.right > window.innerWidth + 0.5 || r.left < -0.5) && !el.closest(".table-scroll, pre, dialog:not([open]), .visually-hidden, thead");
      })
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className?.baseVal ?? el.className} ${Math.round(el.getBoundingClientRect().right)}`),
  }));
}

// ---------------------------------------------------------------------------------------- tests

before(async () => {
  wrangler = await startWorker();
  base = wrangler.baseUrl;
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
});

/** Reads the sandbox's range and orders as the console does (GET /v1/sandbox/orders), once. */
let sandboxRead;
function readSandbox() {
  sandboxRead ??= api("/v1/sandbox/orders", {}).then(({ range, orders }) => {
    WHOLE = range;
    LAST_MONTH = { from: addDays(range.to, -30), to: range.to };
    ORDERS = orders;
    assert.ok(ORDERS.some((o) => o.aftersales > 0), "the sandbox has no order with after-sales");
  });
  return sandboxRead;
}

after(async () => {
  await browser?.close().catch(() => {});
  await wrangler?.stop();
});

describe("All platforms (the mirror), the console's first view", () => {
  let page;
  let context;
  const syncPosts = [];

  before(async () => {
    await readSandbox();
    ({ page, context } = await openConsole());
    page.on("request", (r) => {
      if (r.method() === "POST" && new URL(r.url()).pathname === "/v1/sync") syncPosts.push(r.url());
    });
    await overviewIdle(page);
  });
  after(async () => {
    await context?.close();
  });

  it("opens on All platforms, with the sync panel showing each platform the proxy reports", async () => {
    assert.equal(await page.isChecked('input[name="platform"][value="all"]'), true, "All platforms is the first view");
    assert.equal(await page.isVisible("#overview"), true);
    assert.equal(await page.isVisible("#q"), true, "the mirror's search field");
    const status = (await api("/v1/sync/status", {})).platforms;
    assert.ok(Object.keys(status).length > 0, "the proxy reports no synced platform");
    const shown = await page.$$eval("#sync-list li[data-platform]", (lis) => lis.map((li) => ({ platform: li.dataset.platform, rows: Number(li.dataset.rows), watermark: li.dataset.watermark })));
    assert.deepEqual(
      shown.sort((a, b) => a.platform.localeCompare(b.platform)),
      Object.entries(status).map(([platform, s]) => ({ platform, rows: s.rows, watermark: s.watermark ?? "" })).sort((a, b) => a.platform.localeCompare(b.platform)),
    );
    // A fresh database (wrangler's state is new each run) is empty until something syncs it.
    if (Object.values(status).every((s) => s.rows === 0)) {
      assert.match(await page.innerText("#empty"), /mirror is empty: press Sync now/);
      assert.match(await page.innerText("#chart-empty"), /mirror is empty. Press Sync now/);
      assert.equal(await page.isHidden("#error"), true, "an empty mirror is no error");
    }
  });

  it("Sync now runs POST /v1/sync until done, shows its progress, and updates the panel", async () => {
    // The progress line's texts while it runs.
    await page.evaluate(() => {
      window.__sync = [];
      const text = document.getElementById("sync-text");
      new MutationObserver(() => window.__sync.push(text.textContent)).observe(text, { childList: true, characterData: true, subtree: true });
    });
    await page.click("#sync-now");
    await page.waitForFunction(() => document.getElementById("sync-progress").dataset.state !== "running", null, { timeout: 300_000 });
    await idle(page);
    await overviewIdle(page);
    assert.equal(await page.getAttribute("#sync-progress", "data-state"), "done", await page.innerText("#sync-progress"));
    assert.ok(syncPosts.length >= 1, "no POST /v1/sync was sent");
    assert.equal(Number(await page.getAttribute("#sync-progress", "data-runs")), syncPosts.length);
    const texts = await page.evaluate(() => window.__sync);
    assert.ok(texts.some((t) => /^Run 1: /.test(t)), `progress: ${JSON.stringify(texts)}`);
    assert.match(await page.innerText("#sync-text"), /every platform caught up/);
    // The panel shows what the proxy's status says now.
    const status = (await api("/v1/sync/status", {})).platforms;
    for (const [platform, s] of Object.entries(status)) {
      const li = page.locator(`#sync-list li[data-platform="${platform}"]`);
      assert.equal(Number(await li.getAttribute("data-rows")), s.rows, `${platform} rows`);
      assert.equal(await li.getAttribute("data-watermark"), s.watermark ?? "", `${platform} watermark`);
      assert.equal(await li.getAttribute("data-last-run"), s.last_run ?? "", `${platform} last run`);
      assert.equal(await li.getAttribute("data-in-progress"), String(s.in_progress), `${platform} in progress`);
      assert.equal(await li.getAttribute("data-error"), s.last_error ?? "", `${platform} last error`);
      assert.equal(await li.getAttribute("data-state"), s.last_error ? "error" : s.in_progress ? "running" : "ok");
      assert.ok(s.last_run, `${platform} never ran`);
    }
    assert.ok(Object.values(status).some((s) => s.rows > 0), "the sync brought in no rows");
    // Filled: the proxy says so too (a further run finds nothing left, or only what appeared since).
    for (let i = 0; !(await post("/v1/sync")).done; i++) assert.ok(i < 50, "POST /v1/sync never answered done");
  });

  it("lists every platform from the mirror: the proxy's first page, its total and synced_at", async () => {
    await page.click("#list-submit");
    await idle(page);
    const params = await mirrorQuery(page);
    const first = await api("/v1/aftersales", { ...params, limit: PAGE_SIZE });
    assert.equal(first.source, "mirror");
    assert.ok(first.data.length > 0, `the mirror has nothing for ${JSON.stringify(params)}`);
    assert.deepEqual(await rowIds(page), first.data.map((r) => r.id));
    // The platform column names each row's platform.
    const platforms = await page.$$eval("#rows tr[data-id]", (trs) => trs.map((tr) => tr.querySelector(".c-platform").textContent));
    const label = { xiaoe: "Xiaoe", lingxing: "Lingxing", wechat_channels: "WeChat Channels", wechat_shop: "WeChat Shop", wechat_store: "WeChat Store" };
    assert.deepEqual(platforms, first.data.map((r) => label[r.platform]));
    assert.equal(await page.isVisible("#col-platform"), true);
    // The exact total, as the proxy counts it.
    const scope = await page.innerText("#results-scope");
    if (first.next_cursor) assert.ok(scope.includes(`of ${first.total.toLocaleString("en")} after-sale`), scope);
    else assert.ok(scope.includes(`${first.total.toLocaleString("en")} after-sale`), scope);
    const synced = Object.fromEntries(await page.$$eval("#synced-at [data-platform]", (els) => els.map((e) => [e.dataset.platform, e.dataset.synced || null])));
    assert.deepEqual(synced, first.synced_at);
    assert.match(new URL(page.url()).search, /platform=all/, "the view is kept in the address bar");
  });

  it("Load more reads the next page by the mirror's keyset cursor", async () => {
    let params = await mirrorQuery(page);
    let first = await api("/v1/aftersales", { ...params, limit: PAGE_SIZE });
    if (!first.next_cursor) {
      // A short month: the whole synced range (the mirror takes an open range).
      await page.fill("#from", addDays(await page.inputValue("#until"), -180));
      await page.click("#list-submit");
      await idle(page);
      params = await mirrorQuery(page);
      first = await api("/v1/aftersales", { ...params, limit: PAGE_SIZE });
    }
    assert.ok(first.next_cursor, `the mirror holds ${first.total} after-sales: not enough for a second page`);
    const next = await api("/v1/aftersales", { ...params, limit: PAGE_SIZE, cursor: first.next_cursor });
    await page.click("#load-more");
    await idle(page);
    const ids = await rowIds(page);
    assert.deepEqual(ids, [...first.data, ...next.data].map((r) => r.id));
    assert.equal(await page.isVisible("#load-more"), next.next_cursor !== null);
  });

  it("filters by status, kind, search and platforms, as the proxy does", async () => {
    const check = async (label) => {
      await idle(page);
      const params = await mirrorQuery(page);
      const expected = await api("/v1/aftersales", { ...params, limit: PAGE_SIZE });
      assert.deepEqual(await rowIds(page), expected.data.map((r) => r.id), `${label}: ${JSON.stringify(params)}`);
      return expected;
    };
    await page.selectOption("#status", "completed");
    const completed = await check("status");
    assert.ok(completed.data.every((r) => r.status === "completed"));
    await page.selectOption("#status", "");
    await page.selectOption("#kind", "return_refund");
    const returns = await check("kind");
    assert.ok(returns.data.every((r) => r.kind === "return_refund"));
    await page.selectOption("#kind", "");
    // A product name the mirror holds, searched for.
    const some = (await api("/v1/aftersales", { ...(await mirrorQuery(page)), limit: 5 })).data.find((r) => r.items?.[0]?.name);
    assert.ok(some, "no record with an item name");
    const word = some.items[0].name.slice(0, 4);
    await page.fill("#q", word);
    await page.click("#list-submit");
    const found = await check("q");
    assert.ok(found.data.some((r) => r.id === some.id), `searching ${word} did not find ${some.id}`);
    assert.ok(found.total <= (await api("/v1/aftersales", { ...(await mirrorQuery(page)), q: undefined, limit: 1 })).total);
    await page.fill("#q", "");
    // One platform only: still the mirror.
    const status = (await api("/v1/sync/status", {})).platforms;
    const one = Object.keys(status).find((p) => status[p].rows > 0);
    for (const box of await page.$$("#mirror-platforms input")) {
      if ((await box.getAttribute("value")) !== one && (await box.isChecked())) await box.uncheck();
    }
    const only = await check("platforms");
    assert.ok(only.data.length > 0 && only.data.every((r) => r.platform === one), `platform ${one}`);
    assert.deepEqual(Object.keys(only.synced_at), [one]);
    for (const box of await page.$$("#mirror-platforms input")) if (!(await box.isChecked())) await box.check();
    await check("every platform again");
    // None ticked: the form says what to do, nothing is sent.
    const boxes = await page.$$("#mirror-platforms input");
    for (const box of boxes.slice(1)) await box.uncheck();
    await idle(page);
    await boxes[0].uncheck();
    await page.waitForSelector("#error:not([hidden])");
    assert.match(await page.innerText("#error"), /Tick at least one platform/);
    for (const box of boxes) await box.check();
    await idle(page);
    assert.equal(await page.isHidden("#error"), true);
  });

  it("charts after-sales and refunds per day by platform: the bars are the summary's by_day_platform", async () => {
    await overviewIdle(page);
    const params = await mirrorQuery(page);
    const summary = (await api("/v1/summary", { from: params.from, to: params.to, date_field: params.date_field })).data;
    assert.ok(Array.isArray(summary.by_day_platform) && summary.by_day_platform.length > 0, "no by_day_platform");
    // by_day_platform agrees with by_day and by_platform (the same rows, grouped otherwise).
    const total = (rows) => rows.reduce((n, r) => n + r.count, 0);
    assert.equal(total(summary.by_day_platform), total(summary.by_day));
    for (const p of summary.by_platform) {
      assert.equal(total(summary.by_day_platform.filter((r) => r.platform === p.key && r.refund?.currency === p.refund?.currency)), p.count);
    }
    const expected = expectedBars(summary);
    // One series per platform that has after-sales in the range.
    const series = await page.$$eval("#chart-count g.series", (gs) => gs.map((g) => g.dataset.series));
    assert.deepEqual(series.sort(), [...new Set(summary.by_day_platform.map((r) => r.platform))].sort());
    assert.ok(series.length >= 2, `one platform only in the chart: ${series}`);
    assert.deepEqual(sorted(await bars(page, "#chart-count")), sorted(expected.count), "after-sales per day and platform");
    // Each currency on its own: the selector offers every currency, each drawn apart.
    const currencies = await page.$$eval("#chart-currency option", (os) => os.map((o) => o.value));
    assert.deepEqual([...currencies].sort(), Object.keys(expected.refund).sort());
    assert.ok(currencies.length >= 2, `the sandbox's mirror has one currency only: ${currencies}`);
    for (const currency of currencies) {
      await page.selectOption("#chart-currency", currency);
      assert.equal(await page.getAttribute("#chart-refund", "data-currency"), currency);
      assert.deepEqual(sorted(await bars(page, "#chart-refund")), sorted(expected.refund[currency]), `refunds in ${currency}`);
      assert.match(await page.innerText("#chart-refund-caption"), new RegExp(currency));
    }
    // The legend's counts per platform.
    const legend = Object.fromEntries(await page.$$eval("#chart-legend li", (lis) => lis.map((li) => [li.dataset.platform, Number(li.dataset.count)])));
    const perPlatform = {};
    for (const r of summary.by_day_platform) perPlatform[r.platform] = (perPlatform[r.platform] ?? 0) + r.count;
    assert.deepEqual(legend, perPlatform);
    await page.selectOption("#chart-currency", currencies[0]);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, "console-mirror-1280.png"), fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 1400 } });
  });

  it("says what failed, and what to do, when the mirror cannot be read", async () => {
    await page.route((url) => url.pathname === "/v1/summary", (route) =>
      route.fulfill({
        status: 500,
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ error: { code: "internal", message: "D1 is not bound as DB", upstream: null } }),
      }),
    );
    try {
      await page.click("#list-submit");
      await idle(page);
      await overviewIdle(page);
      const text = await page.innerText("#chart-empty");
      assert.match(text, /summary failed: .*HTTP 500 \(internal\).*D1 is not bound as DB/);
      assert.match(text, /Try again/);
    } finally {
      await page.unrouteAll({ behavior: "ignoreErrors" });
    }
    await page.click("#list-submit");
    await overviewIdle(page);
    assert.equal(await page.isHidden("#chart-empty"), true);

    // A sync that makes no progress (a platform's credentials refused) stops and says so.
    const platform = Object.keys((await api("/v1/sync/status", {})).platforms)[0];
    await page.route((url) => url.pathname === "/v1/sync", (route) =>
      route.fulfill({
        status: 200,
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ done: false, platforms: { [platform]: { caught_up: false, pages: 0, records: 0, watermark: null, busy: false, error: "upstream_auth: refused the credentials" } } }),
      }),
    );
    try {
      await page.click("#sync-now");
      await page.waitForFunction(() => document.getElementById("sync-progress").dataset.state !== "running", null, { timeout: 30_000 });
      assert.equal(await page.getAttribute("#sync-progress", "data-state"), "stuck");
      const text = await page.innerText("#sync-text");
      assert.match(text, /no progress: .*upstream_auth: refused the credentials/, text);
      assert.match(text, /Check the platform's credentials, then press Sync now again/, text);
      assert.equal(await page.getAttribute("#sync-progress", "data-runs"), "1", "a run without progress is not repeated");
    } finally {
      await page.unrouteAll({ behavior: "ignoreErrors" });
    }
    await idle(page);
    await overviewIdle(page);
  });
});

describe("merchant console", () => {
  let page;
  let context;

  before(async () => {
    await readSandbox();
    ({ page, context } = await openConsole({ path: "/?platform=xiaoe" }));
  });
  after(async () => {
    await context?.close();
  });

  it("opens on the sandbox's range, as the proxy gives it", async () => {
    assert.equal(await page.inputValue("#from"), WHOLE.from);
    assert.equal(await page.inputValue("#until"), addDays(WHOLE.to, -1));
    assert.match(await page.innerText("#range-help"), new RegExp(`between ${WHOLE.from} and ${addDays(WHOLE.to, -1)}`));
  });

  it("serves the page and the npm module's files as static assets", async () => {
    for (const [path, type] of [
      ["/", /^text\/html/],
      ["/console.js", /javascript/],
      ["/console.css", /^text\/css/],
      ["/aftersale/client.js", /javascript/],
    ]) {
      const res = await fetch(`${base}${path}`);
      await res.arrayBuffer();
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", type, path);
    }
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200, "the Worker still answers its own routes");
    await res.arrayBuffer();
  });

  it("lists a Xiaoe range: the table shows the proxy's first page, with its summary", async () => {
    await choosePlatform(page, "xiaoe");
    await setRange(page, WHOLE);
    await page.selectOption("#status", "");
    await page.selectOption("#kind", "");
    await show(page);
    const expected = await firstView({ platform: "xiaoe", ...WHOLE });
    assert.ok(expected.records.length > 0, "the sandbox has no Xiaoe data in its range");
    assert.deepEqual(await rowIds(page), expected.records.map((r) => r.id));
    assert.deepEqual(
      (await summary(page)).sort((a, b) => a.status.localeCompare(b.status)),
      expectedSummary(expected.records),
      "summary: count and refund minor per status and currency",
    );
    // Each row shows the record's status, and its refund with the currency.
    const first = expected.records[0];
    const row = page.locator(`#rows tr[data-id="${first.id}"]`);
    assert.equal(await row.getAttribute("data-status"), first.status);
    if (first.refund) assert.match(await row.locator(".c-refund").innerText(), new RegExp(first.refund.currency));
    assert.equal(await page.isVisible("#load-more"), expected.cursor !== null);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, "console-1280.png") });
  });

  it("a status filter and a kind filter change the table accordingly", async () => {
    const before = await rowIds(page);
    await page.selectOption("#status", "completed");
    await idle(page);
    const completed = await firstView({ platform: "xiaoe", ...WHOLE, status: "completed" });
    assert.ok(completed.records.length > 0);
    assert.deepEqual(await rowIds(page), completed.records.map((r) => r.id));
    assert.notDeepEqual(await rowIds(page), before);
    const statuses = await page.$$eval("#rows tr[data-id]", (trs) => [...new Set(trs.map((tr) => tr.dataset.status))]);
    assert.deepEqual(statuses, ["completed"]);

    await page.selectOption("#status", "");
    await page.selectOption("#kind", "exchange");
    await idle(page);
    const exchanges = await firstView({ platform: "xiaoe", ...WHOLE, kind: "exchange" });
    assert.deepEqual(await rowIds(page), exchanges.records.map((r) => r.id));
    const kinds = await page.$$eval("#rows tr[data-id]", (trs) => [...new Set(trs.map((tr) => tr.dataset.kind))]);
    assert.deepEqual(kinds, ["exchange"]);
    assert.match(new URL(page.url()).search, /kind=exchange/, "the view is kept in the address bar");

    await page.selectOption("#kind", "");
    await idle(page);
    assert.deepEqual(await rowIds(page), before);
  });

  it("Load more appends the next page (next_cursor)", async () => {
    const first = await firstView({ platform: "xiaoe", ...WHOLE });
    assert.ok(first.cursor, "the whole range should take more than one page");
    const next = await api("/v1/aftersales", { platform: "xiaoe", ...WHOLE, limit: PAGE_SIZE, include_raw: "true", cursor: first.cursor });
    await page.click("#load-more");
    await idle(page);
    const ids = await rowIds(page);
    assert.deepEqual(ids.slice(0, first.records.length), first.records.map((r) => r.id));
    assert.deepEqual(ids.slice(first.records.length, first.records.length + next.data.length), next.data.map((r) => r.id));
  });

  it("a row opens the detail panel with the full record and its raw upstream record", async () => {
    const { records } = await firstView({ platform: "xiaoe", ...WHOLE });
    const record = records[1];
    await page.click(`#rows tr[data-id="${record.id}"]`);
    await page.waitForSelector("#detail[open]");
    assert.equal(await page.textContent("#detail-title"), record.aftersale_id);
    const raw = JSON.parse(await page.textContent("#detail .raw pre"));
    assert.deepEqual(raw, record.raw);
    assert.ok(raw && typeof raw === "object" && Object.keys(raw).length > 0, "the raw record is empty");
    const { raw: _, ...normalized } = record;
    assert.deepEqual(JSON.parse(await page.textContent("#detail details.full pre")), normalized);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "detail-close", "focus moves into the panel");
    await page.keyboard.press("Escape");
    await page.waitForFunction(() => !document.getElementById("detail").open);

    // Keyboard: a focused row opens with Enter.
    await page.focus(`#rows tr[data-id="${records[0].id}"]`);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#detail[open]");
    assert.equal(await page.textContent("#detail-title"), records[0].aftersale_id);
    await page.click("#detail-close");
    await page.waitForFunction(() => !document.getElementById("detail").open);
  });

  it("exports a range with a known total to CSV: one row per record, as many as the proxy's export", async () => {
    await setRange(page, LAST_MONTH);
    await show(page);
    const { total } = await firstView({ platform: "xiaoe", ...LAST_MONTH });
    assert.equal(typeof total, "number", "one Xiaoe window should have a total");
    const server = await serverExport({ platform: "xiaoe", ...LAST_MONTH });
    assert.equal(server.count, total);
    const csv = await exportCsv(page);
    assert.equal(csv.name, `aftersales_xiaoe_${LAST_MONTH.from}_${addDays(LAST_MONTH.to, -1)}.csv`);
    const rows = checkCsv(csv, server.records, "November");
    assert.equal(rows.length, total);
    assert.ok(csv.progress.some((p) => p.text === `Fetched ${total} of ${total}`), `progress: ${JSON.stringify(csv.progress)}`);
    assert.ok(csv.progress.every((p) => !/total unknown/.test(p.text) || p.indeterminate));
    assert.match(await page.textContent("#export-done"), new RegExp(`Exported ${total} after-sales`));
  });

  it("exports a range without a total (indeterminate progress) and a filtered range", async () => {
    await setRange(page, WHOLE);
    await show(page);
    const whole = await serverExport({ platform: "xiaoe", ...WHOLE });
    const { total } = await firstView({ platform: "xiaoe", ...WHOLE });
    const csv = await exportCsv(page);
    checkCsv(csv, whole.records, "whole range");
    if (total === null) {
      const unknown = csv.progress.filter((p) => /total unknown/.test(p.text));
      assert.ok(unknown.length > 0, `no "total unknown" progress: ${JSON.stringify(csv.progress)}`);
      assert.ok(unknown.every((p) => p.indeterminate), "the bar is indeterminate while the total is unknown");
    } else {
      assert.equal(whole.count, total);
    }

    await page.selectOption("#status", "pending,awaiting_merchant_receipt,awaiting_merchant_shipment");
    await idle(page);
    const filtered = await serverExport({ platform: "xiaoe", ...WHOLE, status: "pending,awaiting_merchant_receipt,awaiting_merchant_shipment" });
    assert.ok(filtered.count > 0 && filtered.count < whole.count);
    const csv2 = await exportCsv(page);
    checkCsv(csv2, filtered.records, "needs-action filter");
    await page.selectOption("#status", "");
    await idle(page);
  });

  it("Cancel stops an export: no file", async () => {
    // Slow every page down so there is time to cancel.
    await page.route(isList, async (route) => {
      await sleep(400);
      await route.continue().catch(() => {});
    });
    try {
      let downloads = 0;
      page.on("download", () => downloads++);
      await page.click("#export");
      await page.waitForFunction(() => /Fetched [1-9]/.test(document.getElementById("export-text").textContent), null, { timeout: 20_000 });
      await page.click("#export-cancel");
      await page.waitForFunction(() => /cancelled/.test(document.getElementById("export-done").textContent), null, { timeout: 20_000 });
      await sleep(500);
      assert.equal(downloads, 0);
      assert.equal(await page.isEnabled("#export"), true);
    } finally {
      await page.unrouteAll({ behavior: "ignoreErrors" });
    }
  });

  it("shows the proxy's errors with their code, message and what to do", async () => {
    const cases = [
      {
        status: 401,
        body: { code: "unauthorized", message: "missing `Authorization: Bearer <key>` header", upstream: null },
        hint: /Enter an API key/,
      },
      {
        status: 429,
        headers: { "retry-after": "120" },
        body: { code: "rate_limited", message: "too many requests", upstream: null },
        hint: /wait 1[12]\d s/,
      },
      {
        status: 502,
        body: { code: "upstream_auth", message: "xiaoe refused the credentials", upstream: { platform: "xiaoe", code: "2008", message: "token expired" } },
        hint: /check the Worker's upstream credentials/i,
        upstream: /2008.*token expired/,
      },
    ];
    for (const c of cases) {
      await page.route(isList, (route) =>
        route.fulfill({
          status: c.status,
          headers: { "content-type": "application/json; charset=utf-8", "access-control-expose-headers": "Retry-After", ...(c.headers ?? {}) },
          body: JSON.stringify({ error: c.body }),
        }),
      );
      await show(page);
      await page.waitForSelector("#error:not([hidden])");
      const text = await page.innerText("#error");
      assert.match(text, new RegExp(c.body.code), text);
      assert.match(text, new RegExp(c.body.message.replace(/[`<>]/g, ".")), text);
      assert.match(text, new RegExp(`HTTP ${c.status}`), text);
      assert.match(text, c.hint, text);
      if (c.upstream) assert.match(text, c.upstream, text);
      assert.match(await page.textContent("#results-scope"), /Nothing loaded/);
      await page.unrouteAll({ behavior: "ignoreErrors" });
    }
    // A bad range is the proxy's own invalid_request.
    await page.fill("#from", "2023-01-01");
    await show(page);
    await page.waitForSelector("#error:not([hidden])");
    assert.match(await page.innerText("#error"), /invalid_request[\s\S]*366/);
    await setRange(page, WHOLE);
    await show(page);
    assert.equal(await page.isHidden("#error"), true, "a successful listing clears the error");
  });

  it("keeps the API key in localStorage and sends it as a bearer token", async () => {
    await page.fill("#api-key", "console-test-key");
    const [request] = await Promise.all([page.waitForRequest((r) => r.url().includes("/v1/aftersales?")), page.click("#list-submit")]);
    await idle(page);
    assert.equal(request.headers().authorization, "Bearer console-test-key");
    await page.reload();
    await page.waitForSelector("html[data-ready=true]");
    await idle(page);
    assert.equal(await page.inputValue("#api-key"), "console-test-key");
    assert.equal(await page.getAttribute("#api-key", "type"), "password");
    await page.click("#key-forget");
    assert.equal(await page.evaluate(() => localStorage.getItem("aftersale.console.apiKey")), null);
    const [bare] = await Promise.all([page.waitForRequest((r) => r.url().includes("/v1/aftersales?")), page.click("#list-submit")]);
    await idle(page);
    assert.equal(bare.headers().authorization, undefined, "no key: no Authorization header (open sandbox)");
  });

  it("lists and exports Lingxing: several currencies, item names with commas", async () => {
    await choosePlatform(page, "lingxing");
    const expected = await firstView({ platform: "lingxing", ...WHOLE });
    assert.deepEqual(await rowIds(page), expected.records.map((r) => r.id));
    const shown = await summary(page);
    assert.deepEqual(shown.sort((a, b) => a.status.localeCompare(b.status)), expectedSummary(expected.records));
    assert.ok(Object.keys(shown.find((s) => s.status === "all").sums).length > 1, "the sandbox's Lingxing page has one currency only");
    const server = await serverExport({ platform: "lingxing", ...WHOLE });
    const rows = checkCsv(await exportCsv(page), server.records, "Lingxing");
    assert.ok(rows.some((r) => r.some((field) => field.includes(","))), "no field needed quoting");
    await choosePlatform(page, "xiaoe");
  });

  it("lists WeChat Channels by date once the proxy does, and shows the proxy's refusal until then", async () => {
    await choosePlatform(page, "wechat_channels");
    assert.equal(await page.isHidden("#list-form"), false, "WeChat Channels is listed by date");
    await setRange(page, WHOLE);
    await show(page);
    const res = await fetch(`${base}/v1/aftersales?${qs({ platform: "wechat_channels", ...WHOLE, limit: PAGE_SIZE })}`);
    const body = await res.json();
    if (res.status === 200) {
      const expected = await firstView({ platform: "wechat_channels", ...WHOLE });
      assert.deepEqual(await rowIds(page), expected.records.map((r) => r.id));
      assert.equal(await page.isHidden("#error"), true);
    } else {
      await page.waitForSelector("#error:not([hidden])");
      const text = await page.innerText("#error");
      assert.match(text, new RegExp(body.error.code), text);
      assert.match(text, new RegExp(`HTTP ${res.status}`), text);
      assert.match(text, /wechat_channels/, text);
    }
    await choosePlatform(page, "xiaoe");
  });

  it("looks up WeChat orders: a Mini Store order and its after-sales", async () => {
    await choosePlatform(page, "wechat_store");
    await page.click("#fill-example");
    const orderId = await page.inputValue("#order-id");
    const example = ORDERS.find((o) => o.order_id === orderId);
    assert.ok(example && example.aftersales > 0, `${orderId} is not one of the proxy's example orders with after-sales`);
    await page.click("#order-submit");
    await idle(page);
    const order = (await api(`/v1/orders/${orderId}`, { platform: "wechat_store" })).data;
    assert.match(await page.innerText("#order-card"), new RegExp(order.order_id));
    await page.click("text=Show its after-sales");
    await idle(page);
    const list = (await api(`/v1/orders/${orderId}/aftersales`, { platform: "wechat_shop", openid: order.buyer.openid })).data;
    assert.ok(list.length > 0);
    assert.deepEqual(await rowIds(page), list.map((r) => r.id));
    await choosePlatform(page, "xiaoe");
  });
});

describe("at phone width (390 px)", () => {
  let page;
  let context;

  before(async () => {
    await readSandbox();
    ({ page, context } = await openConsole({ width: 390, height: 844, path: `/?platform=xiaoe&from=${WHOLE.from}&to=${WHOLE.to}` }));
  });
  after(async () => {
    await context?.close();
  });

  const overflow = () => overflowOf(page);

  it("lays the page out without horizontal overflow; the table becomes cards", async () => {
    const ids = await rowIds(page);
    assert.ok(ids.length > 0);
    const o = await overflow();
    assert.ok(o.html <= o.viewport && o.body <= o.viewport, `horizontal overflow: ${JSON.stringify(o)}`);
    assert.deepEqual(o.wide, [], `elements past the right edge: ${JSON.stringify(o.wide)}`);
    assert.equal(await page.$eval("#rows tr[data-id]", (tr) => getComputedStyle(tr).display), "grid");
    await page.screenshot({ path: join(OUT, "console-390.png"), fullPage: true, clip: { x: 0, y: 0, width: 390, height: 2200 } });
  });

  it("shows All platforms, its chart and its sync panel without horizontal overflow", async () => {
    const mirror = await context.newPage();
    try {
      mirror.on("pageerror", (e) => pageErrors.push(`${e.name}: ${e.message}`));
      await mirror.goto(`${base}/`);
      await mirror.waitForSelector("html[data-ready=true]", { timeout: 30_000 });
      await idle(mirror);
      await overviewIdle(mirror);
      const o = await overflowOf(mirror);
      assert.ok(o.html <= o.viewport && o.body <= o.viewport, `horizontal overflow: ${JSON.stringify(o)}`);
      assert.deepEqual(o.wide, [], `elements past the right edge: ${JSON.stringify(o.wide)}`);
      const chart = await mirror.$eval("#chart-count svg", (svg) => svg.getBoundingClientRect().width);
      assert.ok(chart > 200 && chart <= 390, `the chart is ${chart} px wide`);
      assert.ok((await mirror.$$("#sync-list li[data-platform]")).length > 0);
      await mirror.screenshot({ path: join(OUT, "console-mirror-390.png"), fullPage: true, clip: { x: 0, y: 0, width: 390, height: 2400 } });
    } finally {
      await mirror.close();
    }
  });

  it("opens the detail panel full-width without overflow", async () => {
    await page.click("#rows tr[data-id] >> nth=0");
    await page.waitForSelector("#detail[open]");
    const box = await page.$eval("#detail", (d) => ({ width: d.getBoundingClientRect().width, scroll: d.scrollWidth, client: d.clientWidth }));
    assert.ok(box.width <= 390 && box.scroll <= box.client, JSON.stringify(box));
    const o = await overflow();
    assert.ok(o.html <= o.viewport, JSON.stringify(o));
    await page.screenshot({ path: join(OUT, "console-390-detail.png") });
    await page.keyboard.press("Escape");
  });
});

describe("the storefront example (/storefront.html)", () => {
  it("signs a sandbox buyer in and shows that buyer's after-sales of their order, with the session only", async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 700 }, locale: "en-US" });
    try {
      const page = await context.newPage();
      page.on("pageerror", (e) => pageErrors.push(`${e.name}: ${e.message}`));
      const authorizations = [];
      page.on("request", (r) => {
        if (r.url().includes("/v1/orders/")) authorizations.push(r.headers().authorization ?? "");
      });
      await page.goto(`${base}/storefront.html`);
      await page.click("#example");
      await page.waitForFunction(() => document.getElementById("order").value !== "", null, { timeout: 30_000 });
      const openid = await page.inputValue("#openid");
      await page.click("#go");
      await page.waitForFunction(() => /after-sale/.test(document.getElementById("status").textContent), null, { timeout: 30_000 });
      const rows = await page.$$eval("#mine tbody tr", (trs) => trs.map((tr) => ({ id: tr.dataset.id, openid: tr.dataset.openid })));
      assert.ok(rows.length > 0, await page.innerText("#status"));
      assert.ok(rows.every((r) => r.openid === openid), `records of other buyers: ${JSON.stringify(rows)}`);
      // The order route was called with the buyer's session (three parts), not a key.
      assert.ok(authorizations.length > 0 && authorizations.every((a) => /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(a)), JSON.stringify(authorizations));
      await page.screenshot({ path: join(OUT, "storefront.png") });
      // Another buyer's code signs in that buyer, who does not see this order's after-sales.
      await page.fill("#openid", "oSomebodyElse");
      await page.click("#go");
      await page.waitForFunction(() => /forbidden|after-sale|unauthorized|invalid/.test(document.getElementById("status").textContent), null, { timeout: 30_000 });
      const other = await page.$$eval("#mine tbody tr", (trs) => trs.length);
      assert.equal(other, 0, await page.innerText("#status"));
    } finally {
      await context.close();
    }
  });
});

describe("the page as a whole", () => {
  it("threw no script error and fetched nothing but its own origin", () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(foreignRequests, []);
  });
});
