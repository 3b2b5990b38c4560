// Small HTTP and JSON helpers shared by the simulated upstreams.

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw Object.assign(new Error("request body too large"), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

// WeChat order ids are 19-digit numbers, beyond what a JS number holds exactly. Internally they
// are BigInts; on the wire they must stay bare numbers, so they travel through a marker string.
const BIGINT_MARK = "\u0001bigint:";
const MARKED_BIGINT = /"\\u0001bigint:(-?\d+)"/g;
const STRING_OR_LONG_INTEGER = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])(-?\d{16,})(?![\d.eE])/g;

/** JSON.stringify that writes BigInts as bare numbers. */
export function stringifyJson(value) {
  let sawBigInt = false;
  const text = JSON.stringify(value, (_key, v) => {
    if (typeof v !== "bigint") return v;
    sawBigInt = true;
    return BIGINT_MARK + v.toString();
  });
  return sawBigInt ? text.replace(MARKED_BIGINT, "$1") : text;
}

/** JSON.parse that reads integers of 16 or more digits as BigInts, so none loses precision. */
export function parseJsonPreservingBigInts(text) {
  const marked = text.replace(STRING_OR_LONG_INTEGER, (match, digits) =>
    digits === undefined ? match : `"\\u0001bigint:${digits}"`,
  );
  return JSON.parse(marked, (_key, v) => (typeof v === "string" && v.startsWith(BIGINT_MARK) ? BigInt(v.slice(BIGINT_MARK.length)) : v));
}

export function sendJson(res, value, status = 200) {
  const body = typeof value === "string" ? value : stringifyJson(value);
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export function sendText(res, status, text, contentType = "text/plain; charset=utf-8") {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A sliding-window counter on the simulator's clock. */
export class SlidingWindow {
  constructor() {
    this.hits = [];
  }
  /** Records a hit and returns true if fewer than `limit` hits fall in the last `windowMs`. */
  tryHit(now, limit, windowMs) {
    const cutoff = now - windowMs;
    let expired = 0;
    while (expired < this.hits.length && this.hits[expired] <= cutoff) expired++;
    if (expired > 0) this.hits.splice(0, expired);
    if (this.hits.length >= limit) return false;
    this.hits.push(now);
    return true;
  }
}

/** Integer check for JSON request fields that the seeds type as int. */
export const isInt = (v) => typeof v === "number" && Number.isInteger(v);

/** A control-API mistake: answered 400 {error} by the simulator, never a crash. */
export class ControlError extends Error {}

/** Calls per sliding window of real time (what a pacer controls), and the most seen at once. */
export class RateMeter {
  constructor(windowMs) {
    this.windowMs = windowMs;
    this.times = [];
    this.max = 0;
  }
  hit(now = Date.now()) {
    const cutoff = now - this.windowMs;
    let expired = 0;
    while (expired < this.times.length && this.times[expired] <= cutoff) expired++;
    if (expired > 0) this.times.splice(0, expired);
    this.times.push(now);
    this.max = Math.max(this.max, this.times.length);
    return this.max;
  }
}
