// The Lingxing OpenAPI signature, written from UPSTREAMS.md alone (never from the project's core):
//   1. every query and body parameter plus access_token, app_key and timestamp, but not sign;
//   2. drop keys whose value is the empty string (and JavaScript's `undefined`, which is no JSON
//      value: a body written with JSON.stringify does not carry it); `null` takes part, written
//      `key=null` (the official guide: "value为null会参与生成签名");
//   3. sort keys by byte order; write `key=value` joined by `&`, where arrays and objects are
//      compact JSON with object keys sorted, booleans are true/false, nothing is URL-encoded;
//   4. MD5 of the UTF-8 string as upper-case hex;
//   5. AES-128-ECB with PKCS#5/7 padding, key = the appId's 16 bytes; standard Base64.
import { createCipheriv, createHash } from "node:crypto";

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

/** Compact JSON with object keys sorted by byte order at every depth. */
export function canonicalJson(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort(byteOrder);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function renderValue(value) {
  if (value === null) return "null";
  if (typeof value === "string") return value;
  if (typeof value === "object") return canonicalJson(value);
  return String(value); // numbers, bigints, booleans
}

/** The `k=v&k=v` string that is hashed. */
export function canonicalString(params) {
  return Object.keys(params)
    .filter((k) => k !== "sign" && params[k] !== undefined && params[k] !== "")
    .sort(byteOrder)
    .map((k) => `${k}=${renderValue(params[k])}`)
    .join("&");
}

export function md5Upper(text) {
  return createHash("md5").update(text, "utf8").digest("hex").toUpperCase();
}

function aesKey(appId) {
  const key = Buffer.from(String(appId), "utf8");
  if (key.length !== 16) {
    throw new Error(`Lingxing appId must be exactly 16 bytes to serve as the AES-128 key (got ${key.length})`);
  }
  return key;
}

/** The Base64 sign (not URL-encoded) of `params` for `appId`. */
export function signLingxing(params, appId) {
  const cipher = createCipheriv("aes-128-ecb", aesKey(appId), null); // PKCS#7 padding is Node's default
  const digest = md5Upper(canonicalString(params));
  return Buffer.concat([cipher.update(digest, "utf8"), cipher.final()]).toString("base64");
}

/** True when `sign` (already URL-decoded) is the sign of `params` for `appId`. */
export function verifyLingxingSign(params, sign, appId) {
  return typeof sign === "string" && sign.length > 0 && signLingxing(params, appId) === sign;
}
