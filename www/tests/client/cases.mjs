// The proxy client's tests, written once for every place it runs: Node (node --test, through
// each entry of the installed package) and headless Chromium (a page that imports the entry
// unbundled). No Node APIs here. `cases(api, proxyUrl)` gives `[name, async fn]` pairs; `api` is
// what the entry exports. The fake proxy (tests/fake-proxy.mjs) picks its behaviour by API key.

class Failed extends Error {}

function ok(value, message) {
  if (!value) throw new Failed(message ?? "expected a truthy value");
}
function eq(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Failed(`${message ? `${message}: ` : ""}got ${a}, expected ${e}`);
}

async function rejects(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Failed("expected a rejection");
}
function throws(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Failed("expected an exception");
}

export function cases(api, proxyUrl) {
  const { Client, isAftersaleError, PLATFORMS } = api;
  const key = (scenario) => `test-${scenario}-${Math.floor(Math.random() * 1e12)}`;
  const client = (apiKey, extra = {}) => new Client({ endpoint: proxyUrl, apiKey, ...extra });
  const query = (extra = {}) => ({ platform: "xiaoe", from: "2023-01-14", to: "2023-02-13", ...extra });
  const requests = async (k) => (await (await fetch(`${proxyUrl}/__stats?key=${encodeURIComponent(k)}`)).json()).requests;
  const collect = async (iterable) => {
    const out = [];
    for await (const r of iterable) out.push(r);
    return out;
  };
  const expectError = (e, code) => {
    ok(e instanceof Error, `not an Error: ${e}`);
    ok(isAftersaleError(e), `not an AftersaleError: ${e?.name} ${e?.message}`);
    eq(e.code, code, e.message);
    return e.message;
  };
  const ids = (n) => Array.from({ length: n }, (_, i) => `xiaoe:A${i + 1}`);

  return [
    ["the mirror: all platforms, several, filters, and no dates needed", async () => {
      const c = client(key("ok"));
      const all = await c.list({ platform: "all", openid: "oX", q: "book" });
      eq(all.data.map((r) => r.id), ["xiaoe:A1", "lingxing:A2"]);
      eq(all.total, 2);
      const several = await c.list({ platform: ["xiaoe", "lingxing"] });
      eq(several.data.length, 2);
      const one = await c.list({ platform: "xiaoe", source: "mirror", from: "2023-01-01" });
      eq(one.data.length, 2);
      expectError(await rejects(c.list({ platform: "xiaoe", openid: "oX", from: "2023-01-01", to: "2023-02-01" })), "invalid_request");
      const e = await rejects(c.list({ platform: ["xiaoe", "nowhere"] }));
      ok(expectError(e, "invalid_request").includes("query.platform[1]"), e.message);
      expectError(await rejects(c.list({ platform: "all", source: "live" })), "invalid_request");
      expectError(await rejects(c.list({ platform: "xiaoe" })), "invalid_request"); // live needs its dates
    }],
    ["a storefront signs its buyer in and reads that buyer's records with the session", async () => {
      const signed = await Client.signIn({ endpoint: proxyUrl, code: "code-oBuyerA" });
      eq(signed.openid, "oBuyerA");
      const c = new Client({ endpoint: proxyUrl, session: signed.session });
      eq(c.session.platform, "wechat_shop");
      eq(c.session.buyer, "oBuyerA");
      const first = await c.myAfterSales({ limit: 2 });
      eq(first.data.map((r) => r.id), ["wechat_shop:A1", "wechat_shop:A2"]);
      const second = await c.myAfterSales({ cursor: first.next_cursor });
      eq(second.next_cursor, null);
      const order = await c.myOrder("123");
      eq(order.length, 2);
      expectError(await rejects(Client.signIn({ endpoint: proxyUrl, code: "made-up" })), "invalid_request");
      expectError(throws(() => new Client({ endpoint: proxyUrl, session: "not a token" })), "invalid_request");
      expectError(throws(() => new Client({ endpoint: proxyUrl, session: signed.session, apiKey: "k" })), "invalid_request");
      // A merchant client has no session to read with.
      expectError(await rejects(client(key("ok")).myAfterSales()), "invalid_request");
    }],
    ["changes: every change once, resumable from a sequence", async () => {
      const c = client(key("ok"));
      const seen = [];
      const all = await collect(c.changes({ onProgress: (p) => seen.push(p) }));
      eq(all.map((x) => x.seq), [10, 20, 30, 40, 50, 60, 70]);
      eq(all[1].change, "updated");
      eq(seen.at(-1), { fetched: 7, lastSeq: 70 });
      const resumed = await collect(c.changes({ after: 40, limit: 2 }));
      eq(resumed.map((x) => x.seq), [50, 60, 70]);
      expectError(await rejects(collect(c.changes({ after: -1 }))), "invalid_request");
    }],
    ["summary and sync status", async () => {
      const c = client(key("ok"));
      const s = await c.summary({ from: "2023-01-01", to: "2023-02-01", platform: "xiaoe" });
      eq(s.by_platform[0], { key: "xiaoe", count: 7, refund: { currency: "CNY", minor: 2800 } });
      expectError(await rejects(c.summary({ from: "2023-02-01", to: "2023-01-01" })), "invalid_request");
      const status = await c.syncStatus();
      eq(status.xiaoe.rows, 7);
    }],
    ["lists one page", async () => {
      const page = await client(key("ok")).list(query());
      eq(page.data.length, 3);
      eq(page.data[0].id, "xiaoe:A1");
      eq(page.total, 7);
      eq(typeof page.next_cursor, "string");
    }],

    ["iterate follows cursors, each record once, with progress", async () => {
      const progress = [];
      const seen = await collect(client(key("ok")).iterate(query({ status: ["pending", "completed"], onProgress: (p) => progress.push(p) })));
      eq(seen.map((r) => r.id), ids(7), "every record once, in order, though pages overlap");
      eq(progress, [{ fetched: 3, total: 7 }, { fetched: 5, total: 7 }, { fetched: 7, total: 7 }]);
    }],

    ["iterate refuses a cursor the proxy gives twice", async () => {
      // A proxy stuck on one cursor, through the `fetch` option (called with a Request).
      const urls = [];
      const fetchFn = async (request) => {
        ok(request instanceof Request, "fetch is called with a Request");
        urls.push(request.url);
        return new Response(JSON.stringify({ data: [{ id: `x:${urls.length}` }], next_cursor: "same", total: null }), { status: 200 });
      };
      const e = await rejects(collect(client(key("ok"), { fetch: fetchFn }).iterate(query())));
      ok(expectError(e, "internal").includes("already given"), e.message);
      eq(urls.length, 2);
      ok(urls[1].includes("cursor=same"), urls[1]);
    }],

    ["export follows continuation lines to the last line", async () => {
      const k = key("ok");
      const progress = [];
      const seen = await collect(client(k).export(query({ onProgress: (p) => progress.push(p) })));
      eq(seen.map((r) => r.id), ids(7), "every record once, nothing lost across runs");
      eq(await requests(k), 3, "one request per run: 3 + 3 + 1 records");
      eq(progress, [{ fetched: 3, total: null }, { fetched: 6, total: null }, { fetched: 7, total: 7 }]);
      const filtered = await collect(client(key("ok")).export(query({ status: "completed" })));
      ok(filtered.length > 0 && filtered.every((r) => r.status === "completed"), "filters go with every run");
    }],

    ["the export of a mirror query: all platforms or several, no dates, continuation lines followed", async () => {
      const k = key("ok");
      const all = await collect(client(k).export({ platform: "all", openid: "oX", q: "book" }));
      eq(all.map((r) => r.id), ["xiaoe:A1", "lingxing:A2", "xiaoe:A3", "lingxing:A4", "xiaoe:A5", "lingxing:A6", "xiaoe:A7"]);
      eq(await requests(k), 3, "one request per run, each with the query and its continuation");
      const several = await collect(client(key("ok")).export({ platform: ["lingxing", "xiaoe"], status: "completed" }));
      ok(several.length > 0 && several.every((r) => r.status === "completed"), "filters go with every run");
      const one = await collect(client(key("ok")).export({ platform: "xiaoe", source: "mirror" }));
      eq(one.map((r) => r.id), ids(7));
      expectError(await rejects(client(key("ok")).export({ platform: "all", source: "live" }).next()), "invalid_request");
    }],

    ["an export stream without its last line is an error, not a short result", async () => {
      const it = client(key("exportcut")).export(query());
      const got = [];
      const e = await rejects((async () => {
        for await (const r of it) got.push(r.id);
      })());
      ok(expectError(e, "upstream_unavailable").includes("broke off after 3 records"), e.message);
      eq(got, ids(3));
    }],

    ["an export line that is no record is internal", async () => {
      const body = `${JSON.stringify({ id: "x:1" })}\n{"what":1}\n`;
      const fetchFn = async () => new Response(body, { status: 200 });
      const e = await rejects(collect(client(key("ok"), { fetch: fetchFn }).export(query())));
      ok(expectError(e, "internal").includes("neither a record"), e.message);
      const counted = `${JSON.stringify({ id: "x:1" })}\n{"done":true,"count":2}\n`;
      const e2 = await rejects(collect(client(key("ok"), { fetch: async () => new Response(counted) }).export(query())));
      ok(expectError(e2, "internal").includes("says it sent 2"), e2.message);
    }],

    ["reads orders and their after-sales", async () => {
      const c = client(key("ok"));
      eq((await c.order("12123121332")).id, "wechat_store:12123121332");
      const list = await c.orderAfterSales(32434234, { openid: "oT" });
      eq(list.length, 2);
      eq(list[0].order_id, "32434234");
      const e = await rejects(c.order("missing"));
      expectError(e, "not_found");
      eq(e.status, 404);
      expectError(await rejects(c.orderAfterSales("1", {})), "invalid_request");
      ok(expectError(await rejects(c.order(32423523451235145)), "invalid_request").includes("safe integer"));
      eq((await c.order(12123121332n)).id, "wechat_store:12123121332");
      ok(expectError(await rejects(c.order("1", { platform: "taobao" })), "invalid_request").includes("options.platform"));
    }],

    ["waits Retry-After seconds on 429", async () => {
      const k = key("429");
      const start = Date.now();
      eq((await client(k).list(query())).total, 7);
      const waited = Date.now() - start;
      ok(waited >= 950, `waited only ${waited} ms for Retry-After: 1`);
      eq(await requests(k), 2);
    }],

    ["waits a Retry-After HTTP date on 429", async () => {
      const k = key("429date");
      const start = Date.now();
      await client(k).list(query());
      const waited = Date.now() - start;
      // The date has one-second resolution and points 2 s ahead: 1 to 2 s from now.
      ok(waited >= 900, `waited only ${waited} ms for a Retry-After date`);
      eq(await requests(k), 2);
    }],

    ["retries a 503, then succeeds", async () => {
      const k = key("503");
      await client(k).list(query());
      eq(await requests(k), 2);
    }],

    ["gives up after maxRetries", async () => {
      const k = key("down");
      const e = await rejects(client(k, { maxRetries: 2 }).list(query()));
      ok(expectError(e, "upstream_unavailable").includes("3 attempts"), e.message);
      eq(e.status, 503);
      eq(await requests(k), 3);
    }],

    ["surfaces 401 without retrying, never naming the key", async () => {
      const k = "wrong-key";
      const before = await requests(k);
      const e = await rejects(client(k).list(query()));
      const m = expectError(e, "unauthorized");
      ok(m.includes("401") && m.includes("GET /v1/aftersales"), m);
      ok(!m.includes(k), `messages never carry the key: ${m}`);
      eq(e.status, 401);
      eq(e.upstream, null);
      eq(await requests(k), before + 1);
    }],

    ["upstream_auth is not retried and keeps the upstream's error", async () => {
      const k = key("authfail");
      const e = await rejects(client(k).list(query()));
      expectError(e, "upstream_auth");
      eq(e.status, 502);
      eq(e.upstream, { platform: "xiaoe", code: "2017", message: "no permission" });
      eq(await requests(k), 1);
    }],

    ["a long Retry-After is surfaced, not slept", async () => {
      const k = key("429long");
      const e = await rejects(client(k).list(query()));
      expectError(e, "rate_limited");
      eq(e.retryAfter, 3600);
      eq(await requests(k), 1);
    }],

    ["abort rejects with the signal's reason", async () => {
      const controller = new AbortController();
      const pending = client(key("slow")).list(query({ signal: controller.signal }));
      const start = Date.now();
      setTimeout(() => controller.abort(), 100);
      const e = await rejects(pending);
      ok(Date.now() - start < 5000, "the slow page was not cut short");
      eq(e.name, "AbortError");
      ok(!isAftersaleError(e));
      const early = new AbortController();
      early.abort(new Error("mine"));
      eq((await rejects(client(key("ok")).list(query({ signal: early.signal })))).message, "mine");
    }],

    ["bad arguments are invalid_request, naming the option", async () => {
      ok(expectError(throws(() => new Client({ endpoint: "proxy.example" })), "invalid_request").includes("options.endpoint"));
      ok(expectError(throws(() => new Client({ endpoint: `${proxyUrl}?x=1` })), "invalid_request").includes("query or fragment"));
      ok(expectError(throws(() => new Client({ endpoint: proxyUrl, apikey: "x" })), "invalid_request").includes("options.apikey"));
      ok(expectError(throws(() => new Client({ endpoint: proxyUrl, apiKey: " k" })), "invalid_request").includes("options.apiKey"));
      ok(expectError(throws(() => new Client({ endpoint: proxyUrl, maxRetries: 11 })), "invalid_request").includes("options.maxRetries"));
      ok(expectError(throws(() => new Client({ endpoint: proxyUrl, fetch: "no" })), "invalid_request").includes("options.fetch"));
      ok(expectError(throws(() => new Client()), "invalid_request").includes("options.endpoint"));
      const c = client(key("ok"));
      ok(expectError(await rejects(c.list(query({ from: "2023-1-14" }))), "invalid_request").includes("query.from"));
      ok(expectError(await rejects(c.list(query({ from: "2023-02-30" }))), "invalid_request").includes("query.from"));
      ok(expectError(await rejects(c.list(query({ from: "2023-02-13" }))), "invalid_request").includes("half-open"));
      ok(expectError(await rejects(c.list(query({ platform: "taobao" }))), "invalid_request").includes("taobao"));
      ok(expectError(await rejects(c.list(query({ limit: 500 }))), "invalid_request").includes("query.limit"));
      ok(expectError(await rejects(c.list(query({ status: ["done"] }))), "invalid_request").includes("query.status"));
      ok(expectError(await rejects(c.list(query({ kind: 3 }))), "invalid_request").includes("query.kind"));
      ok(expectError(await rejects(c.list(query({ pageSize: 3 }))), "invalid_request").includes("query.pageSize"));
      ok(expectError(await rejects(c.list(query({ signal: {} }))), "invalid_request").includes("query.signal"));
      ok(expectError(await rejects(c.list()), "invalid_request").includes("query is required"));
      // Errors of `iterate` and `export` come with the first `next()`, as a rejection.
      ok(expectError(await rejects(c.iterate(query({ to: "x" })).next()), "invalid_request").includes("query.to"));
      ok(expectError(await rejects(c.export(query({ to: "x" })).next()), "invalid_request").includes("query.to"));
    }],

    ["the proxy's own 400 is passed on", async () => {
      // A cursor from another query: the proxy refuses it, naming the parameter.
      const e = await rejects(client(key("ok")).list(query({ cursor: "bm90IGEgY3Vyc29y" })));
      ok(expectError(e, "invalid_request").includes("cursor"), e.message);
      eq(e.status, 400);
    }],

    ["a body that is not JSON is internal", async () => {
      const e = await rejects(client(key("badjson")).list(query()));
      ok(expectError(e, "internal").includes("not the expected JSON"), e.message);
    }],

    ["an unreachable proxy is upstream_unavailable", async () => {
      // Port 9 (discard) is closed on loopback in these test environments.
      const e = await rejects(new Client({ endpoint: "http://127.0.0.1:9", apiKey: "k", maxRetries: 0 }).list(query()));
      ok(expectError(e, "upstream_unavailable").includes("could not reach the proxy"), e.message);
      const e2 = await rejects(client(key("ok"), { fetch: async () => "not a response" }).list(query()));
      ok(expectError(e2, "internal").includes("not a Response"), e2.message);
    }],

    ["wechat_channels is a platform of the client", async () => {
      ok(PLATFORMS.includes("wechat_channels"));
      const page = await client(key("ok")).list(query({ platform: "wechat_channels" }));
      ok(page.data.every((r) => r.platform === "wechat_channels"), JSON.stringify(page.data[0]));
    }],
  ];
}
