// Compiled with `tsc --strict --noEmit` against the installed package: the declarations must
// describe every export and the whole model precisely (the @ts-expect-error lines prove that
// wrong uses are rejected, so nothing is `any`).
import * as clientEntry from "aftersale/client";
import {
  Client,
  isAftersaleError,
  KINDS,
  PLATFORMS,
  STATUSES,
  normalize,
  normalizeJson,
  normalizeOrder,
  signLingxing,
  type AfterSale,
  type AftersaleError,
  type Buyer,
  type ErrorCode,
  type Item,
  type Kind,
  type ListQuery,
  type Money,
  type Order,
  type Page,
  type Platform,
  type Progress,
  type Status,
} from "aftersale";

const platform: Platform = "xiaoe";
const channels: Platform = "wechat_channels";
const platforms: readonly Platform[] = PLATFORMS;
const statuses: readonly Status[] = STATUSES;
const kinds: readonly Kind[] = KINDS;
console.log(channels, platforms.length, statuses.length, kinds.length);
// The client entry on its own: the same Client and guard, the same model types.
const small: clientEntry.Client = new clientEntry.Client({ endpoint: "https://proxy.example" });
const samePlatforms: readonly clientEntry.Platform[] = clientEntry.PLATFORMS;
console.log(small, samePlatforms, clientEntry.isAftersaleError(null), clientEntry.KINDS, clientEntry.STATUSES);
// @ts-expect-error the client entry has no normalizers
clientEntry.normalize;
const records: AfterSale[] = normalize(platform, "{}");
const text: string = normalizeJson("lingxing", "{}", { includeRaw: true });
const order: Order = normalizeOrder("{}");
const sign: string = signLingxing({ access_token: "t", app_key: "ak_0123456789abc", timestamp: 1, ids: ["a"], nested: { b: true } }, "ak_0123456789abc");

const first: AfterSale | undefined = records[0];
if (first) {
  const status: Status = first.status;
  const kind: Kind = first.kind;
  const refund: Money | null = first.refund;
  const minor: number | undefined = refund?.minor;
  const item: Item | undefined = first.items[0];
  const buyer: Buyer = first.buyer;
  const raw: number | string | null = first.status_raw;
  const created: string | null = first.created_at;
  console.log(status, kind, minor, item?.quantity, buyer.openid, raw, created, first.overdue === true);
  // @ts-expect-error status is a union of strings, not a number
  const wrong: number = first.status;
  // @ts-expect-error refund may be null
  console.log(first.refund.minor, wrong);
}
console.log(order.aftersale_ids.join(","), order.price.order_price?.decimal, order.items[0]?.on_aftersale_quantity, text, sign);

// @ts-expect-error not a platform
normalize("amazon", "{}");
// @ts-expect-error text must be a string
normalize("xiaoe", 42);

async function main(signal: AbortSignal): Promise<void> {
  const client = new Client({ endpoint: "https://proxy.example", apiKey: "k", maxRetries: 2 });
  const query: ListQuery = { platform: "lingxing", from: "2023-01-01", to: "2023-02-01", status: ["completed", "refunding"], signal };
  const page: Page = await client.list({ ...query, limit: 20, dateField: "updated" });
  const next: string | null = page.next_cursor;
  const onProgress = (p: Progress): void => console.log(p.fetched, p.total ?? "?");
  for await (const record of client.iterate({ ...query, onProgress })) {
    const id: string = record.id;
    console.log(id, next);
  }
  for await (const record of client.export({ ...query, onProgress })) {
    const exported: AfterSale = record;
    console.log(exported.id);
  }
  const o: Order = await client.order("123", { platform: "wechat_store" });
  const list: AfterSale[] = await client.orderAfterSales("123", { openid: "o" });
  await client.orderAfterSales("123", { outOrderId: "x", platform: "wechat_shop" });
  // @ts-expect-error openid or outOrderId is required
  await client.orderAfterSales("123", { platform: "wechat_shop" });
  // @ts-expect-error "done" is not a Status
  await client.list({ ...query, status: ["done"] });
  // @ts-expect-error dateField is created, updated or refunded
  await client.list({ ...query, dateField: "paid" });
  // @ts-expect-error endpoint is required
  new Client({ apiKey: "k" });
  console.log(o.id, list.length);
}

function report(e: unknown): ErrorCode | undefined {
  if (isAftersaleError(e)) {
    const err: AftersaleError = e;
    console.log(err.message, err.status, err.upstream?.code, err.retryAfter);
    return err.code;
  }
  return undefined;
}

void main(new AbortController().signal).catch(report);
