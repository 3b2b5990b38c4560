// Helpers shared by the benchmark scripts: statistics, arguments, output, and `wrangler dev` on a
// frozen copy of the built Worker (tests/support/wrangler.mjs), stopped with SIGINT.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { startWrangler as start } from "../tests/support/wrangler.mjs";

export { REPO_ROOT } from "../tests/support/wrangler.mjs";

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}

/** `--name value` and `--flag` arguments. */
export function args(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) out[a.slice(2)] = true;
    else out[a.slice(2)] = argv[++i];
  }
  return out;
}

export function writeJson(path, value) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

export const log = (tag) => (...parts) => console.error(`[${tag}]`, ...parts);

/**
 * tests/support/wrangler.mjs's startWrangler with the benchmarks' defaults: the log in
 * `logDir`/`name`.log, warnings only, and the wasm that keeps its names, so V8's profiler can say
 * which functions the time goes to (names do not change what runs). `logLevel: "log"` keeps the
 * Worker's own console lines (pagination reads its subrequest counts there). Other options pass through.
 */
export function startWrangler({ logDir, name = "wrangler", args = [], logLevel = "warn", ...options }) {
  return start({ logFile: join(logDir, `${name}.log`), namedWasm: true, args: ["--log-level", logLevel, ...args], ...options });
}
